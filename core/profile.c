// core/profile.c — the per-model profiler (accounting rules in profile.h), its ranking, the
// table and the run-file record / read-back.
#include "profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "h5.h"
#include "kv.h"
#include "kv_paged.h"
#include "model.h"

static const char *const op_names[QINS_PROF_OP_COUNT] = {
    "q", "k", "v", "o", "gate", "up", "down", "output", "attention", "kv_view", "kv_append",
    "norm", "rope", "embed", "act", "other"};
static const char *const phase_names[QINS_PROF_PHASE_COUNT] = {"prompt", "decode"};

const char *qins_prof_op_name(enum qins_prof_op op) {
    return (unsigned)op < QINS_PROF_OP_COUNT ? op_names[op] : "?";
}
const char *qins_prof_phase_name(enum qins_prof_phase ph) {
    return (unsigned)ph < QINS_PROF_PHASE_COUNT ? phase_names[ph] : "?";
}

void qins_profile_reset(struct qins_profile *p) { memset(p, 0, sizeof *p); }

void qins_profile_attach(struct qins_model *m, struct qins_profile *p) { m->profile = p; }

// ---------------------------------------------------------------------------------------------
// hooks

static double paged_decode_s(const struct qins_kv_store *kv) {
    struct qins_kv_paged_stats st;
    return qins_kv_paged_stats(kv, &st) ? st.decode_seconds : 0.0;
}

double qins_profile_clock_ns(void) {
    enum { READS = 1000, BATCHES = 5 };
    double best = -1;
    for (int b = 0; b < BATCHES; b++) {
        volatile uint64_t sink = 0;
        const uint64_t t0 = qins_profile_now_ns();
        for (int i = 0; i < READS; i++) sink += qins_profile_now_ns();
        const double per = (double)(qins_profile_now_ns() - t0) / READS;
        if (best < 0 || per < best) best = per;
        (void)sink;
    }
    return best;
}

uint64_t qins_profile_forward_begin(struct qins_profile *p, const struct qins_kv_store *kv, int n_tok) {
    p->phase = n_tok > 1 ? QINS_PROF_PROMPT : QINS_PROF_DECODE;
    p->timed_ns = 0;
    p->kv_read_mark = kv->bytes_read;
    p->kv_write_mark = kv->bytes_written;
    p->kv_decode_mark_s = paged_decode_s(kv);
    p->tokens[p->phase] += (uint64_t)n_tok;
    // the clock last, so the stats read above is not charged to the forward
    p->t_forward = qins_profile_now_ns();
    return p->t_forward;
}

void qins_profile_forward_end(struct qins_profile *p, const struct qins_kv_store *kv, uint64_t t0) {
    const uint64_t total = qins_profile_now_ns() - t0;
    const int ph = p->phase;
    p->forward_ns[ph] += total;
    p->forward_calls[ph]++;
    struct qins_prof_cell *o = &p->op[ph][QINS_PROF_OTHER];
    // every op's end is read before this end, so timed_ns <= total; the guard is for a clock
    // that misbehaves, which must not wrap an unsigned counter
    o->ns += total > p->timed_ns ? total - p->timed_ns : 0;
    o->calls++;
    const double dec = paged_decode_s(kv) - p->kv_decode_mark_s;
    if (dec > 0) p->kv_page_decode_ns[ph] += (uint64_t)llround(dec * 1e9);
}

void qins_profile_add(struct qins_profile *p, enum qins_prof_op op, uint64_t t0, uint64_t bytes, uint64_t flops) {
    const uint64_t dt = qins_profile_now_ns() - t0;
    struct qins_prof_cell *c = &p->op[p->phase][op];
    c->ns += dt;
    c->calls++;
    c->bytes += bytes;
    c->flops += flops;
    p->timed_ns += dt;
}

void qins_profile_linear(struct qins_profile *p, const struct qins_linear *lin, int n_tok, uint64_t t0) {
    enum qins_prof_op op;
    switch (lin->site) {
    case QINS_SITE_Q: op = QINS_PROF_Q; break;
    case QINS_SITE_K: op = QINS_PROF_K; break;
    case QINS_SITE_V: op = QINS_PROF_V; break;
    case QINS_SITE_O: op = QINS_PROF_O; break;
    case QINS_SITE_GATE: op = QINS_PROF_GATE; break;
    case QINS_SITE_UP: op = QINS_PROF_UP; break;
    case QINS_SITE_DOWN: op = QINS_PROF_DOWN; break;
    case QINS_SITE_LOGITS: op = QINS_PROF_OUTPUT; break;
    default: op = QINS_PROF_OTHER; break; // a slot at a site no kind names: kept, not lost
    }
    qins_profile_add(p, op, t0, lin->w_stored_bytes, 2ull * (uint64_t)lin->n_out * (uint64_t)lin->n_in * (uint64_t)n_tok);
}

void qins_profile_attention(struct qins_profile *p, const struct qins_hparams *hp, int n_tok, int pos0,
                            double elem_bytes, uint64_t t0) {
    const int W = hp->sliding_window;
    uint64_t n_att = 0;
    for (int t = 0; t < n_tok; t++) {
        const int pos = pos0 + t, j0 = W > 0 && pos - W + 1 > 0 ? pos - W + 1 : 0;
        n_att += (uint64_t)(pos - j0 + 1);
    }
    const int first = W > 0 && pos0 - W + 1 > 0 ? pos0 - W + 1 : 0;
    const uint64_t rows = (uint64_t)(pos0 + n_tok - first), kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    qins_profile_add(p, QINS_PROF_ATTN, t0, (uint64_t)((double)(rows * 2 * kv_dim) * elem_bytes + 0.5),
                     4ull * (uint64_t)hp->n_head * (uint64_t)hp->head_dim * n_att);
}

void qins_profile_kv(struct qins_profile *p, enum qins_prof_op op, const struct qins_kv_store *kv, uint64_t t0) {
    uint64_t bytes = 0;
    if (op == QINS_PROF_KV_VIEW) bytes = kv->bytes_read - p->kv_read_mark, p->kv_read_mark = kv->bytes_read;
    else bytes = kv->bytes_written - p->kv_write_mark, p->kv_write_mark = kv->bytes_written;
    qins_profile_add(p, op, t0, bytes, 0);
}

// ---------------------------------------------------------------------------------------------
// reading

size_t qins_profile_rows(const struct qins_profile *p, struct qins_profile_row *out) {
    size_t n = 0;
    for (int ph = 0; ph < QINS_PROF_PHASE_COUNT; ph++)
        for (int op = 0; op < QINS_PROF_OP_COUNT; op++) {
            const struct qins_prof_cell *c = &p->op[ph][op];
            out[n++] = (struct qins_profile_row){
                .phase = (enum qins_prof_phase)ph, .op = (enum qins_prof_op)op, .time_s = c->ns * 1e-9,
                .share = p->forward_ns[ph] ? (double)c->ns / (double)p->forward_ns[ph] : 0.0,
                .calls = c->calls, .bytes = c->bytes, .flops = c->flops};
        }
    return n;
}

int qins_profile_rank(const struct qins_profile *p, enum qins_prof_phase ph, double target,
                      struct qins_profile_rank *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK((unsigned)ph < QINS_PROF_PHASE_COUNT, QINS_ERR_ARG, "profile: no phase %d", (int)ph);
    QINS_CHECK(target > 0 && target <= 1, QINS_ERR_ARG, "profile: coverage target %g outside (0, 1]", target);
    QINS_CHECK(p->forward_calls[ph] > 0 && p->forward_ns[ph] > 0, QINS_ERR_STATE,
               "profile: no %s forward call was profiled", phase_names[ph]);
    out->phase = ph;
    out->target = target;
    const double total = (double)p->forward_ns[ph];
    out->total_s = total * 1e-9;
    int order[QINS_PROF_OP_COUNT];
    for (int i = 0; i < QINS_PROF_OP_COUNT; i++) order[i] = i;
    // insertion sort, stable: ties keep enum order, so a ranking is reproducible
    for (int i = 1; i < QINS_PROF_OP_COUNT; i++)
        for (int j = i; j > 0 && p->op[ph][order[j]].ns > p->op[ph][order[j - 1]].ns; j--) {
            const int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    double covered = 0;
    for (int i = 0; i < QINS_PROF_OP_COUNT; i++) {
        const enum qins_prof_op op = (enum qins_prof_op)order[i];
        const double ns = (double)p->op[ph][op].ns;
        out->e[i].op = op, out->e[i].time_s = ns * 1e-9, out->e[i].share = ns / total;
        if (op == QINS_PROF_OTHER || covered >= target || ns <= 0) continue;
        out->selected[out->n_selected++] = op;
        covered += ns / total;
    }
    out->coverage = covered;
    return 0;
}

void qins_profile_print(const struct qins_profile *p, double target, FILE *out) {
    for (int ph = 0; ph < QINS_PROF_PHASE_COUNT; ph++) {
        if (!p->forward_calls[ph]) continue;
        const double fwd_s = p->forward_ns[ph] * 1e-9;
        uint64_t op_calls = 0;
        for (int op = 0; op < QINS_PROF_OTHER; op++) op_calls += p->op[ph][op].calls;
        fprintf(out, "%s: %llu forward calls, %llu tokens, %.3f ms (%.3f ms/call, %.0f clock reads/call)\n",
                phase_names[ph], (unsigned long long)p->forward_calls[ph], (unsigned long long)p->tokens[ph],
                fwd_s * 1e3, fwd_s * 1e3 / (double)p->forward_calls[ph],
                2.0 + 2.0 * (double)op_calls / (double)p->forward_calls[ph]);
        fprintf(out, "  %-10s %10s %7s %9s %11s %11s %8s %9s\n", "op", "ms", "share", "calls", "MB", "GFLOP", "GB/s",
                "GFLOP/s");
        for (int op = 0; op < QINS_PROF_OP_COUNT; op++) {
            const struct qins_prof_cell *c = &p->op[ph][op];
            const double s = c->ns * 1e-9;
            fprintf(out, "  %-10s %10.3f %6.1f%% %9llu %11.3f %11.4f %8.2f %9.2f\n", op_names[op], s * 1e3,
                    100.0 * s / fwd_s, (unsigned long long)c->calls, c->bytes / 1e6, c->flops / 1e9,
                    s > 0 ? c->bytes / s / 1e9 : 0.0, s > 0 ? c->flops / s / 1e9 : 0.0);
        }
        if (p->kv_page_decode_ns[ph])
            fprintf(out, "  (kv_view includes %.3f ms of page decode)\n", p->kv_page_decode_ns[ph] * 1e-6);
        struct qins_profile_rank r;
        if (qins_profile_rank(p, (enum qins_prof_phase)ph, target, &r) == 0) {
            fprintf(out, "  selection (>= %.0f%% of the time):", 100 * target);
            for (int i = 0; i < r.n_selected; i++) fprintf(out, " %s", op_names[r.selected[i]]);
            fprintf(out, " -> %.1f%%\n", 100 * r.coverage);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// run files

static int path_join(char *out, size_t cap, const char *group, const char *name) {
    const int n = snprintf(out, cap, "%s/%s", group, name);
    QINS_CHECK(n > 0 && (size_t)n < cap, QINS_ERR_ARG, "profile: group name too long: %s", group);
    return 0;
}

int qins_profile_record(qins_run_t *run, const char *group, const struct qins_profile *p, double target) {
    enum { NP = QINS_PROF_PHASE_COUNT, NO = QINS_PROF_OP_COUNT };
    double time_s[NP][NO], share[NP][NO], fwd_s[NP], dec_s[NP];
    int64_t calls[NP][NO], bytes[NP][NO], flops[NP][NO], fwd_calls[NP], tokens[NP];
    for (int ph = 0; ph < NP; ph++) {
        for (int op = 0; op < NO; op++) {
            const struct qins_prof_cell *c = &p->op[ph][op];
            time_s[ph][op] = c->ns * 1e-9;
            share[ph][op] = p->forward_ns[ph] ? (double)c->ns / (double)p->forward_ns[ph] : 0.0;
            calls[ph][op] = (int64_t)c->calls, bytes[ph][op] = (int64_t)c->bytes, flops[ph][op] = (int64_t)c->flops;
        }
        fwd_s[ph] = p->forward_ns[ph] * 1e-9, dec_s[ph] = p->kv_page_decode_ns[ph] * 1e-9;
        fwd_calls[ph] = (int64_t)p->forward_calls[ph], tokens[ph] = (int64_t)p->tokens[ph];
    }
    char path[512];
#define PUT(name, type, data, rows, cols)                                                          \
    do {                                                                                           \
        QINS_TRY(path_join(path, sizeof path, group, name));                                       \
        QINS_TRY(qins_run_array(run, path, type, data, rows, cols));                               \
    } while (0)
    QINS_TRY(path_join(path, sizeof path, group, "ops"));
    QINS_TRY(qins_run_strings(run, path, op_names, NO));
    QINS_TRY(path_join(path, sizeof path, group, "phases"));
    QINS_TRY(qins_run_strings(run, path, phase_names, NP));
    PUT("time_s", QINS_DT_F64, time_s, NP, NO);
    PUT("share", QINS_DT_F64, share, NP, NO);
    PUT("calls", QINS_DT_I64, calls, NP, NO);
    PUT("bytes", QINS_DT_I64, bytes, NP, NO);
    PUT("flops", QINS_DT_I64, flops, NP, NO);
    PUT("forward_s", QINS_DT_F64, fwd_s, NP, 0);
    PUT("kv_page_decode_s", QINS_DT_F64, dec_s, NP, 0);
    PUT("forward_calls", QINS_DT_I64, fwd_calls, NP, 0);
    PUT("tokens", QINS_DT_I64, tokens, NP, 0);
#undef PUT
    for (int ph = 0; ph < NP; ph++) {
        struct qins_profile_rank r;
        if (!p->forward_calls[ph] || !p->forward_ns[ph]) continue;
        QINS_TRY(qins_profile_rank(p, (enum qins_prof_phase)ph, target, &r));
        const char *sel[NO];
        char order[NO * 12] = "";
        for (int i = 0; i < r.n_selected; i++) sel[i] = op_names[r.selected[i]];
        for (int i = 0; i < NO; i++) {
            if (i) strcat(order, ",");
            strcat(order, op_names[r.e[i].op]);
        }
        char name[64];
        snprintf(name, sizeof name, "selection/%s", phase_names[ph]);
        QINS_TRY(path_join(path, sizeof path, group, name));
        if (r.n_selected) QINS_TRY(qins_run_strings(run, path, sel, (size_t)r.n_selected));
        QINS_TRY(qins_run_attr_double(run, path, "target", target));
        QINS_TRY(qins_run_attr_double(run, path, "coverage", r.coverage));
        QINS_TRY(qins_run_attr_str(run, path, "order", order));
    }
    return 0;
}

// Reads group/name as (rows, cols) of type `as` into dst (rows*cols elements).
static int read_exact(const qins_runfile_t *f, const char *group, const char *name, enum qins_dtype as, size_t rows,
                      size_t cols, void *dst) {
    char path[512];
    QINS_TRY(path_join(path, sizeof path, group, name));
    void *data;
    size_t r, c;
    QINS_TRY(qins_runfile_read(f, path, as, &data, &r, &c));
    const int ok = r == rows && c == cols;
    if (ok) memcpy(dst, data, rows * cols * qins_h5_dtype_size(as));
    free(data);
    QINS_CHECK(ok, QINS_ERR_FORMAT, "profile: %s is (%zu, %zu), expected (%zu, %zu)", path, r, c, rows, cols);
    return 0;
}

int qins_profile_read(const qins_runfile_t *f, const char *group, struct qins_profile *out) {
    enum { NP = QINS_PROF_PHASE_COUNT, NO = QINS_PROF_OP_COUNT };
    qins_profile_reset(out);
    char path[512];
    QINS_TRY(path_join(path, sizeof path, group, "ops"));
    char **names;
    size_t n;
    QINS_TRY(qins_runfile_strings(f, path, &names, &n));
    int same = n == NO;
    for (size_t i = 0; same && i < n; i++) same = !strcmp(names[i], op_names[i]);
    qins_strv_free(names, n);
    QINS_CHECK(same, QINS_ERR_FORMAT, "profile: %s does not list this build's %d op kinds in order", path, NO);
    double time_s[NP][NO], fwd_s[NP], dec_s[NP];
    int64_t calls[NP][NO], bytes[NP][NO], flops[NP][NO], fwd_calls[NP], tokens[NP];
    QINS_TRY(read_exact(f, group, "time_s", QINS_DT_F64, NP, NO, time_s));
    QINS_TRY(read_exact(f, group, "calls", QINS_DT_I64, NP, NO, calls));
    QINS_TRY(read_exact(f, group, "bytes", QINS_DT_I64, NP, NO, bytes));
    QINS_TRY(read_exact(f, group, "flops", QINS_DT_I64, NP, NO, flops));
    QINS_TRY(read_exact(f, group, "forward_s", QINS_DT_F64, NP, 1, fwd_s));
    QINS_TRY(read_exact(f, group, "kv_page_decode_s", QINS_DT_F64, NP, 1, dec_s));
    QINS_TRY(read_exact(f, group, "forward_calls", QINS_DT_I64, NP, 1, fwd_calls));
    QINS_TRY(read_exact(f, group, "tokens", QINS_DT_I64, NP, 1, tokens));
    for (int ph = 0; ph < NP; ph++) {
        for (int op = 0; op < NO; op++)
            out->op[ph][op] = (struct qins_prof_cell){(uint64_t)llround(time_s[ph][op] * 1e9), (uint64_t)calls[ph][op],
                                                      (uint64_t)bytes[ph][op], (uint64_t)flops[ph][op]};
        out->forward_ns[ph] = (uint64_t)llround(fwd_s[ph] * 1e9);
        out->kv_page_decode_ns[ph] = (uint64_t)llround(dec_s[ph] * 1e9);
        out->forward_calls[ph] = (uint64_t)fwd_calls[ph], out->tokens[ph] = (uint64_t)tokens[ph];
    }
    return 0;
}
