// tools/cli_profile.c — `qins profile`: where a prompt of --pp tokens and --tg decode steps spend
// their time, per op kind (core/profile.h), with the profile-guided selection at --coverage.
// --kv picks the KV store, --wcodec puts every slot's weight at rest in a codec (Pattern A).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "codec.h"
#include "kv_paged.h"
#include "matmul.h"
#include "model.h"
#include "paths.h"
#include "profile.h"
#include "slots.h"

int qins_cli_profile(int argc, char **argv) {
    static const char *const options[] = {"--model", "--pp", "--tg", "--reps", "--threads", "--kv", "--wcodec",
                                          "--wgran", "--coverage", NULL},
                             *const flags[] = {NULL};
    struct cli_args a = {"profile", argc, argv, options, flags, {0}, 0};
    if (cli_parse(&a) < 0) return 2;
    long pp, tg, reps, threads;
    struct qins_kv_spec spec;
    if (cli_int(&a, "--pp", 2, 1 << 16, 64, &pp) < 0 || cli_int(&a, "--tg", 0, 1 << 16, 32, &tg) < 0 ||
        cli_int(&a, "--reps", 1, 1000, 1, &reps) < 0 || cli_int(&a, "--threads", 1, 1024, 1, &threads) < 0 ||
        cli_kv_spec(&a, &spec) < 0)
        return 2;
    const double coverage = cli_opt(&a, "--coverage") ? atof(cli_opt(&a, "--coverage")) : 0.80;
    if (!(coverage > 0 && coverage <= 1)) {
        fprintf(stderr, "qins profile: --coverage must be in (0, 1]\n");
        return 2;
    }
    struct qins_codec_params wp;
    qins_codec_params_default(&wp);
    const char *wcodec = cli_opt(&a, "--wcodec"), *wgran = cli_opt(&a, "--wgran");
    if ((wcodec && qins_codec_parse(wcodec, &wp) < 0) || (wgran && qins_codec_parse_granularity(wgran, &wp) < 0)) {
        fprintf(stderr, "qins profile: bad --wcodec / --wgran\n");
        return 2;
    }
    const char *name = cli_opt(&a, "--model") ? cli_opt(&a, "--model") : a.positional[0];
    if (!name) {
        fprintf(stderr, "qins profile: no model given (--model FILE)\n");
        return 2;
    }
    qins_set_threads((int)threads);
    char path[1024];
    struct qins_model *m = NULL;
    if (qins_path_resolve(QINS_PATH_MODEL, name, path, sizeof path) < 0 || qins_model_load(path, &m) < 0) return 1;
    int rc = 1;
    struct qins_kv_store *kv = NULL;
    struct qins_state *s = NULL;
    int32_t *ids = malloc((size_t)pp * sizeof *ids);
    const int ctx = (int)(pp + tg);
    if (!ids) goto done;
    if (ctx > m->hp.n_ctx_train) {
        fprintf(stderr, "qins profile: %ld + %ld tokens exceed the model's context of %d\n", pp, tg, m->hp.n_ctx_train);
        goto done;
    }
    if (wcodec && qins_model_set_weight_codec(m, &wp, QINS_SLOT_MASK_ALL, true) < 0) goto done;
    if (qins_kv_store_create(&spec, m->hp.n_layer, ctx, m->hp.n_head_kv * m->hp.head_dim, &kv) < 0 ||
        qins_state_init(m, ctx, (int)pp, kv, &s) < 0)
        goto done;
    // token ids do not change the cost of a step; a fixed walk over the vocabulary
    for (long i = 0; i < pp; i++) ids[i] = (int32_t)(1 + (i * 7919) % (m->hp.n_vocab - 1));
    // one unprofiled pass first: page faults on the mmapped weights are not an op's cost
    if (qins_forward(m, s, ids, (int)pp, 0, false) < 0) goto done;
    struct qins_profile p;
    qins_profile_reset(&p);
    qins_profile_attach(m, &p);
    for (long r = 0; r < reps; r++) {
        qins_kv_clear(kv);
        if (qins_forward(m, s, ids, (int)pp, 0, false) < 0) goto done;
        for (long i = 0; i < tg; i++) {
            const int32_t t = ids[i % pp];
            if (qins_forward(m, s, &t, 1, (int)(pp + i), false) < 0) goto done;
        }
    }
    qins_profile_attach(m, NULL);
    char wname[32] = "stored";
    if (wcodec) qins_codec_name(&wp, wname, sizeof wname);
    printf("model %s: %d layers, E %d, F %d, V %d; weights %s (%.2f MB), kv %s; %ld threads, %s matmul kernels\n",
           path, m->hp.n_layer, m->hp.n_embd, m->hp.n_ff, m->hp.n_vocab, wname,
           qins_model_stored_weight_bytes(m) / 1e6, spec.name, threads, qins_isa_name(qins_matmul_isa()));
    printf("pp %ld, tg %ld, reps %ld\n", pp, tg, reps);
    cli_blas_print(5);
    printf("clock %.1f ns per read (the profiler reads it twice per op; each op's time holds one read)\n",
           qins_profile_clock_ns());
    qins_profile_print(&p, coverage, stdout);
    rc = 0;
done:
    if (m) qins_model_reset_slots(m);
    free(ids);
    qins_state_free(s);
    qins_kv_free(kv);
    qins_model_free(m);
    return rc;
}
