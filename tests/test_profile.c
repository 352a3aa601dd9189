// tests/test_profile.c — the profiler (core/profile.h) on stories260K: calls, bytes and FLOPs by
// the header's rules, per-op times summing to the forward time, the ranking and the selection,
// detaching, greedy ids unchanged, a paged store's page-decode split, the run-file round trip.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "eval.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "kv_paged.h"
#include "model.h"
#include "profile.h"
#include "results.h"
#include "runfile.h"

static const int32_t PROMPT[16] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 268, 269, 270};

struct rig {
    struct qins_model *m;
    struct qins_kv_store *kv;
    struct qins_state *s;
};

static void rig_open(struct rig *r, const char *kv_spec, int ctx) {
    char path[1200];
    cr_assert_eq(test_model_path("stories260K.gguf", path, sizeof path), 0, "stories260K.gguf is required");
    cr_assert_eq(qins_model_load(path, &r->m), 0);
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse(kv_spec, &spec), 0, "%s", kv_spec);
    cr_assert_eq(qins_kv_store_create(&spec, r->m->hp.n_layer, ctx, r->m->hp.n_head_kv * r->m->hp.head_dim, &r->kv), 0);
    cr_assert_eq(qins_state_init(r->m, ctx, ctx, r->kv, &r->s), 0);
}

static void rig_close(struct rig *r) {
    qins_state_free(r->s);
    qins_kv_free(r->kv);
    qins_model_free(r->m);
}

// The prompt (n_prompt tokens, cycling PROMPT) as one batch, then n_dec single-token steps.
static void run_steps(struct rig *r, int n_prompt, int n_dec) {
    int32_t ids[256];
    for (int i = 0; i < n_prompt; i++) ids[i] = PROMPT[i % 16];
    cr_assert_eq(qins_forward(r->m, r->s, ids, n_prompt, 0, false), 0);
    for (int i = 0; i < n_dec; i++) {
        const int32_t t = (int32_t)(1 + (i * 37) % (r->m->hp.n_vocab - 1));
        cr_assert_eq(qins_forward(r->m, r->s, &t, 1, n_prompt + i, false), 0);
    }
}

static uint64_t slot_bytes_per_forward(struct qins_model *m) {
    uint64_t b = m->output.w_stored_bytes;
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) b += qins_model_slot(m, l, i)->w_stored_bytes;
    return b;
}

Test(profile, calls_bytes_and_flops_follow_the_model) {
    struct rig r;
    rig_open(&r, "fp32", 64);
    struct qins_profile p;
    qins_profile_reset(&p);
    qins_profile_attach(r.m, &p);
    const int NP = 16, ND = 4;
    run_steps(&r, NP, ND);
    const struct qins_hparams *hp = &r.m->hp;
    const uint64_t L = (uint64_t)hp->n_layer, E = (uint64_t)hp->n_embd, kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    const int ph_calls[2] = {1, ND};
    cr_assert_eq(p.forward_calls[QINS_PROF_PROMPT], 1);
    cr_assert_eq(p.tokens[QINS_PROF_PROMPT], (uint64_t)NP);
    cr_assert_eq(p.forward_calls[QINS_PROF_DECODE], (uint64_t)ND);
    cr_assert_eq(p.tokens[QINS_PROF_DECODE], (uint64_t)ND);
    for (int ph = 0; ph < 2; ph++) {
        const uint64_t c = (uint64_t)ph_calls[ph];
        for (int op = QINS_PROF_Q; op <= QINS_PROF_DOWN; op++)
            cr_assert_eq(p.op[ph][op].calls, L * c, "%s %s calls", qins_prof_phase_name(ph), qins_prof_op_name(op));
        cr_assert_eq(p.op[ph][QINS_PROF_OUTPUT].calls, c);
        cr_assert_eq(p.op[ph][QINS_PROF_ATTN].calls, L * c);
        cr_assert_eq(p.op[ph][QINS_PROF_KV_VIEW].calls, L * c);
        cr_assert_eq(p.op[ph][QINS_PROF_KV_APPEND].calls, L * c);
        cr_assert_eq(p.op[ph][QINS_PROF_ROPE].calls, L * c);
        cr_assert_eq(p.op[ph][QINS_PROF_NORM].calls, (2 * L + 1) * c);
        cr_assert_eq(p.op[ph][QINS_PROF_ACT].calls, 3 * L * c);
        cr_assert_eq(p.op[ph][QINS_PROF_EMBED].calls, c);
        cr_assert_eq(p.op[ph][QINS_PROF_OTHER].calls, c);
        // weights: every slot's stored bytes once per forward call, whatever its batch
        uint64_t slot_b = 0;
        for (int op = QINS_PROF_Q; op <= QINS_PROF_OUTPUT; op++) slot_b += p.op[ph][op].bytes;
        cr_assert_eq(slot_b, slot_bytes_per_forward(r.m) * c, "%s weight bytes", qins_prof_phase_name(ph));
        const uint64_t T = ph == QINS_PROF_PROMPT ? (uint64_t)NP : (uint64_t)ND;
        const struct qins_linear *q0 = &r.m->layers[0].wq, *d0 = &r.m->layers[0].wdown;
        cr_assert_eq(p.op[ph][QINS_PROF_Q].flops, L * 2 * (uint64_t)q0->n_out * q0->n_in * T);
        cr_assert_eq(p.op[ph][QINS_PROF_DOWN].flops, L * 2 * (uint64_t)d0->n_out * d0->n_in * T);
        cr_assert_eq(p.op[ph][QINS_PROF_EMBED].bytes, T * r.m->embd.row_bytes);
    }
    // attention: 4·H·D per attended position; prompt token t attends t+1, decode step i NP+i+1
    const uint64_t hd4 = 4ull * hp->n_head * hp->head_dim;
    cr_assert_eq(p.op[QINS_PROF_PROMPT][QINS_PROF_ATTN].flops, L * hd4 * (uint64_t)(NP * (NP + 1) / 2));
    uint64_t att_dec = 0, view_dec = 0;
    for (int i = 0; i < ND; i++) att_dec += (uint64_t)(NP + i + 1);
    for (int i = 0; i < ND; i++) view_dec += 2 * (uint64_t)(NP + i + 1) * kvd * 4;
    cr_assert_eq(p.op[QINS_PROF_DECODE][QINS_PROF_ATTN].flops, L * hd4 * att_dec);
    cr_assert_eq(p.op[QINS_PROF_DECODE][QINS_PROF_ATTN].bytes, L * view_dec, "FP32 rows streamed");
    cr_assert_eq(p.op[QINS_PROF_DECODE][QINS_PROF_KV_VIEW].bytes, L * view_dec, "the FP32 store counts the same rows");
    cr_assert_eq(p.op[QINS_PROF_PROMPT][QINS_PROF_KV_APPEND].bytes, r.kv->bytes_written * NP / (NP + ND));
    cr_assert_eq(p.op[QINS_PROF_PROMPT][QINS_PROF_NORM].flops, 4 * E * ((2 * L) * NP + 1), "the output norm: 1 row");
    cr_assert_eq(p.kv_page_decode_ns[QINS_PROF_DECODE], 0, "a plain store decodes no pages");
    rig_close(&r);
}

Test(profile, op_times_sum_to_the_measured_forward_time) {
    struct rig r;
    rig_open(&r, "fp32", 128);
    struct qins_profile p;
    qins_profile_reset(&p);
    qins_profile_attach(r.m, &p);
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = PROMPT[i % 16];
    uint64_t outer[2] = {0, 0};
    for (int rep = 0; rep < 3; rep++) {
        uint64_t t0 = qins_profile_now_ns();
        cr_assert_eq(qins_forward(r.m, r.s, ids, 64, 0, false), 0);
        outer[QINS_PROF_PROMPT] += qins_profile_now_ns() - t0;
        for (int i = 0; i < 32; i++) {
            t0 = qins_profile_now_ns();
            cr_assert_eq(qins_forward(r.m, r.s, &ids[i], 1, 64 + i, false), 0);
            outer[QINS_PROF_DECODE] += qins_profile_now_ns() - t0;
        }
        qins_kv_clear(r.kv);
    }
    for (int ph = 0; ph < 2; ph++) {
        uint64_t sum = 0, timed = 0;
        for (int op = 0; op < QINS_PROF_OP_COUNT; op++) sum += p.op[ph][op].ns;
        timed = sum - p.op[ph][QINS_PROF_OTHER].ns;
        cr_assert_eq(sum, p.forward_ns[ph], "%s: the kinds sum to the forward time", qins_prof_phase_name(ph));
        // the forward time is what a caller measures around qins_forward, less the call itself
        // and its argument checks (a tolerance for a machine shared with other work)
        cr_assert_leq(p.forward_ns[ph], outer[ph]);
        cr_assert_geq((double)p.forward_ns[ph], 0.9 * (double)outer[ph], "%s: %llu ns inside of %llu",
                      qins_prof_phase_name(ph), (unsigned long long)p.forward_ns[ph], (unsigned long long)outer[ph]);
        // `other` is bookkeeping and clock reads, not a hidden op
        cr_assert_geq((double)timed, 0.5 * (double)sum, "%s: timed ops %llu of %llu ns", qins_prof_phase_name(ph),
                      (unsigned long long)timed, (unsigned long long)sum);
        struct qins_profile_row rows[QINS_PROF_PHASE_COUNT * QINS_PROF_OP_COUNT];
        cr_assert_eq(qins_profile_rows(&p, rows), (size_t)(QINS_PROF_PHASE_COUNT * QINS_PROF_OP_COUNT));
        double share = 0;
        for (int op = 0; op < QINS_PROF_OP_COUNT; op++) share += rows[ph * QINS_PROF_OP_COUNT + op].share;
        cr_assert_float_eq(share, 1.0, 1e-9, "%s shares", qins_prof_phase_name(ph));
    }
    rig_close(&r);
}

Test(profile, ranking_selects_the_candidates_covering_the_target) {
    struct rig r;
    rig_open(&r, "fp32", 128);
    struct qins_profile p;
    qins_profile_reset(&p);
    qins_profile_attach(r.m, &p);
    run_steps(&r, 64, 32);
    for (int ph = 0; ph < 2; ph++) {
        struct qins_profile_rank k;
        cr_assert_eq(qins_profile_rank(&p, ph, 0.80, &k), 0);
        cr_assert_geq(k.coverage, 0.80, "%s coverage %g", qins_prof_phase_name(ph), k.coverage);
        cr_assert_gt(k.n_selected, 0);
        for (int i = 1; i < QINS_PROF_OP_COUNT; i++) cr_assert_geq(k.e[i - 1].time_s, k.e[i].time_s, "rank order");
        double without_last = 0;
        for (int i = 0; i < k.n_selected; i++) {
            cr_assert_neq(k.selected[i], QINS_PROF_OTHER, "other is never a candidate");
            if (i + 1 < k.n_selected) without_last += (double)p.op[ph][k.selected[i]].ns / (double)p.forward_ns[ph];
        }
        cr_assert_lt(without_last, 0.80, "the smallest set: one fewer falls short");
    }
    struct qins_profile_rank k;
    cr_assert_eq(qins_profile_rank(&p, QINS_PROF_DECODE, 0, &k), QINS_ERR_ARG);
    qins_profile_reset(&p);
    cr_assert_eq(qins_profile_rank(&p, QINS_PROF_DECODE, 0.8, &k), QINS_ERR_STATE, "nothing profiled");
    rig_close(&r);
}

Test(profile, selection_on_a_known_profile) {
    struct qins_profile p;
    qins_profile_reset(&p);
    const int D = QINS_PROF_DECODE;
    p.forward_calls[D] = 1, p.forward_ns[D] = 100;
    p.op[D][QINS_PROF_OTHER].ns = 40, p.op[D][QINS_PROF_ATTN].ns = 30, p.op[D][QINS_PROF_UP].ns = 20;
    p.op[D][QINS_PROF_GATE].ns = 5, p.op[D][QINS_PROF_Q].ns = 5;
    struct qins_profile_rank k;
    cr_assert_eq(qins_profile_rank(&p, D, 0.5, &k), 0);
    cr_assert_eq(k.e[0].op, QINS_PROF_OTHER);
    cr_assert_eq(k.e[3].op, QINS_PROF_Q, "ties keep enum order");
    cr_assert_eq(k.e[4].op, QINS_PROF_GATE);
    cr_assert_eq(k.n_selected, 2);
    cr_assert_eq(k.selected[0], QINS_PROF_ATTN);
    cr_assert_eq(k.selected[1], QINS_PROF_UP);
    cr_assert_float_eq(k.coverage, 0.5, 1e-12);
    cr_assert_eq(qins_profile_rank(&p, D, 0.8, &k), 0);
    cr_assert_eq(k.n_selected, 4, "every candidate with time");
    cr_assert_float_eq(k.coverage, 0.6, 1e-12, "short of the target: other holds the rest");
}

Test(profile, detaching_stops_the_counters) {
    struct rig r;
    rig_open(&r, "fp32", 64);
    struct qins_profile p, before;
    qins_profile_reset(&p);
    qins_profile_attach(r.m, &p);
    run_steps(&r, 8, 2);
    qins_profile_attach(r.m, NULL);
    cr_assert_null(r.m->profile);
    before = p;
    qins_kv_clear(r.kv);
    run_steps(&r, 8, 4);
    cr_assert_eq(memcmp(&before, &p, sizeof p), 0, "a detached profile does not move");
    rig_close(&r);
}

Test(profile, greedy_ids_and_logits_unchanged_by_profiling) {
    struct rig r;
    rig_open(&r, "fp32", 64);
    const int NG = 32, V = r.m->hp.n_vocab;
    int32_t plain[32], prof[32];
    float *lp = malloc((size_t)NG * V * sizeof(float)), *lq = malloc((size_t)NG * V * sizeof(float));
    int n1 = 0, n2 = 0;
    cr_assert_eq(qins_generate_greedy(r.m, r.s, PROMPT, 16, NG, -1, plain, lp, &n1), 0);
    struct qins_profile p;
    qins_profile_reset(&p);
    qins_profile_attach(r.m, &p);
    cr_assert_eq(qins_generate_greedy(r.m, r.s, PROMPT, 16, NG, -1, prof, lq, &n2), 0);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(plain, prof, (size_t)n1 * sizeof plain[0]), 0, "greedy ids");
    cr_assert_eq(memcmp(lp, lq, (size_t)n1 * V * sizeof(float)), 0, "logits bit for bit");
    cr_assert_gt(p.forward_calls[QINS_PROF_DECODE], 0);
    free(lp), free(lq);
    rig_close(&r);
}

Test(profile, paged_store_reports_its_page_decode_inside_kv_view) {
    struct rig r;
    rig_open(&r, "qins8:page=16", 128);
    struct qins_profile p;
    qins_profile_reset(&p);
    qins_profile_attach(r.m, &p);
    const uint64_t read0 = r.kv->bytes_read;
    run_steps(&r, 64, 8);
    struct qins_kv_paged_stats st;
    cr_assert_eq(qins_kv_paged_stats(r.kv, &st), 1);
    const struct qins_prof_cell *v = p.op[QINS_PROF_DECODE];
    cr_assert_gt(p.kv_page_decode_ns[QINS_PROF_DECODE], 0);
    cr_assert_leq(p.kv_page_decode_ns[QINS_PROF_DECODE], v[QINS_PROF_KV_VIEW].ns, "page decode is part of kv_view");
    cr_assert_eq(p.op[QINS_PROF_PROMPT][QINS_PROF_KV_VIEW].bytes + v[QINS_PROF_KV_VIEW].bytes, r.kv->bytes_read - read0,
                 "kv_view bytes are the store's stored bytes read");
    const double total_s = (p.kv_page_decode_ns[0] + p.kv_page_decode_ns[1]) * 1e-9;
    cr_assert_float_eq(total_s, st.decode_seconds, 1e-6 + 1e-6 * st.decode_seconds, "the store's own figure");
    rig_close(&r);
}

Test(profile, record_and_read_back) {
    struct rig r;
    rig_open(&r, "fp32", 128);
    struct qins_profile p;
    qins_profile_reset(&p);
    qins_profile_attach(r.m, &p);
    run_steps(&r, 64, 8);
    qins_profile_attach(r.m, NULL);
    char dir[512], final[1200];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_run_info info = {.phase = 4, .results_dir = dir, .config_text = "[run]\n", .threads = 1};
    qins_run_t *run;
    cr_assert_eq(qins_run_begin(&run, &info), QINS_OK);
    cr_assert_eq(qins_profile_record(run, "/phase4/profile/fp32", &p, 0.8), 0);
    cr_assert_eq(qins_profile_record(run, "/phase4/profile/fp32", &p, 0.8), QINS_ERR_STATE, "recorded twice");
    cr_assert_eq(qins_run_commit(run, final, sizeof final), QINS_OK);

    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, final), QINS_OK);
    struct qins_profile back;
    cr_assert_eq(qins_profile_read(f, "/phase4/profile/fp32", &back), 0);
    for (int ph = 0; ph < 2; ph++) {
        cr_assert_eq(back.forward_ns[ph], p.forward_ns[ph]);
        cr_assert_eq(back.forward_calls[ph], p.forward_calls[ph]);
        cr_assert_eq(back.tokens[ph], p.tokens[ph]);
        for (int op = 0; op < QINS_PROF_OP_COUNT; op++)
            cr_assert_eq(memcmp(&back.op[ph][op], &p.op[ph][op], sizeof p.op[ph][op]), 0, "%s %s",
                         qins_prof_phase_name(ph), qins_prof_op_name(op));
        struct qins_profile_rank k;
        cr_assert_eq(qins_profile_rank(&p, ph, 0.8, &k), 0);
        char path[128], **sel;
        size_t n;
        snprintf(path, sizeof path, "/phase4/profile/fp32/selection/%s", qins_prof_phase_name(ph));
        cr_assert_eq(qins_runfile_strings(f, path, &sel, &n), QINS_OK);
        cr_assert_eq(n, (size_t)k.n_selected);
        for (size_t i = 0; i < n; i++) cr_assert_str_eq(sel[i], qins_prof_op_name(k.selected[i]));
        qins_strv_free(sel, n);
        double cov;
        cr_assert_eq(qins_runfile_attr_double(f, path, "coverage", &cov), QINS_OK);
        cr_assert_float_eq(cov, k.coverage, 1e-12);
        char *order;
        cr_assert_eq(qins_runfile_attr_str(f, path, "order", &order), QINS_OK);
        cr_assert_eq(strncmp(order, qins_prof_op_name(k.e[0].op), strlen(qins_prof_op_name(k.e[0].op))), 0, "%s", order);
        free(order);
    }
    double *share;
    size_t rows, cols;
    cr_assert_eq(qins_runfile_read(f, "/phase4/profile/fp32/share", QINS_DT_F64, (void **)&share, &rows, &cols), QINS_OK);
    cr_assert_eq(rows, (size_t)QINS_PROF_PHASE_COUNT);
    cr_assert_eq(cols, (size_t)QINS_PROF_OP_COUNT);
    free(share);
    cr_assert_neq(qins_profile_read(f, "/phase4/profile/none", &back), 0, "absent group");
    qins_runfile_close(f);
    rig_close(&r);
}
