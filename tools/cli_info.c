// tools/cli_info.c — `qins info MODEL [--json]`: architecture, dimensions, tensors by type.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "gguf.h"
#include "model.h"
#include "paths.h"

int qins_cli_info(int argc, char **argv) {
    static const char *const options[] = {"--model", NULL}, *const flags[] = {"--json", NULL};
    struct cli_args a = {"info", argc, argv, options, flags, {0}, 0};
    if (cli_parse(&a) < 0) return 2;
    const char *name = cli_opt(&a, "--model") ? cli_opt(&a, "--model") : a.positional[0];
    char path[1024];
    struct qins_model *m;
    if (qins_model_path_resolve(name, path, sizeof path) < 0 || qins_model_load(path, &m) < 0) return 1;
    const struct qins_hparams *hp = &m->hp;
    int count[64] = {0}, other = 0;
    for (uint64_t i = 0; i < qins_gguf_n_tensors(m->gguf); i++) {
        int t = qins_gguf_tensor_at(m->gguf, i)->type;
        if (t >= 0 && t < 64) count[t]++;
        else other++;
    }
    const char *arch = hp->arch == QINS_ARCH_PHI3 ? "phi3" : "llama";
    size_t file_bytes = qins_gguf_file_size(m->gguf);
    if (cli_flag(&a, "--json")) {
        printf("{\"path\":\"%s\",\"architecture\":\"%s\",\"n_embd\":%d,\"n_layer\":%d,\"n_head\":%d,\"n_head_kv\":%d,"
               "\"head_dim\":%d,\"n_ff\":%d,\"n_vocab\":%d,\"context_length\":%d,\"n_rot\":%d,\"rope_base\":%g,"
               "\"rms_eps\":%g,\"sliding_window\":%d,\"file_bytes\":%zu,\"weight_bytes_f32\":%zu,\"tensors_by_type\":{",
               path, arch, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_ff, hp->n_vocab,
               hp->n_ctx_train, hp->n_rot, hp->rope_base, hp->rms_eps, hp->sliding_window, file_bytes,
               m->weight_bytes);
        int first = 1;
        for (int t = 0; t < 64; t++)
            if (count[t]) printf("%s\"%s\":%d", first ? "" : ",", qins_ggml_type_name(t), count[t]), first = 0;
        printf("}}\n");
    } else {
        printf("model        %s (GGUF v%u, %zu bytes)\n", path, qins_gguf_version(m->gguf), file_bytes);
        printf("architecture %s\n", arch);
        printf("dims         embd %d, layers %d, heads %d, kv heads %d, head dim %d, ffn %d, vocab %d\n", hp->n_embd,
               hp->n_layer, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_ff, hp->n_vocab);
        printf("context      %d (metadata), rope dims %d, base %g, rms eps %g%s\n", hp->n_ctx_train, hp->n_rot,
               hp->rope_base, hp->rms_eps, hp->rope_neox ? ", NEOX rope" : "");
        if (hp->sliding_window) printf("window       %d\n", hp->sliding_window);
        if (m->rope_short) printf("longrope     original context %d, attn factor %g\n", hp->n_ctx_orig, hp->rope_attn_factor);
        printf("tensors      %llu:", (unsigned long long)qins_gguf_n_tensors(m->gguf));
        for (int t = 0; t < 64; t++)
            if (count[t]) printf(" %s %d", qins_ggml_type_name(t), count[t]);
        printf("\nweights      %.2f MB as FP32 in the forward pass\n", m->weight_bytes / 1e6);
    }
    (void)other;
    qins_model_free(m);
    return 0;
}
