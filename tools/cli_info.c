// tools/cli_info.c — `qins info [MODEL] [--json]`: the BLAS library, its core and the CPU; with a
// model, its architecture, dimensions and tensors by type.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "gguf.h"
#include "json_out.h"
#include "model.h"
#include "paths.h"

int qins_cli_info(int argc, char **argv) {
    static const char *const options[] = {"--model", NULL}, *const flags[] = {"--json", NULL};
    struct cli_args a = {"info", argc, argv, options, flags, {0}, 0};
    if (cli_parse(&a) < 0) return 2;
    const char *name = cli_opt(&a, "--model") ? cli_opt(&a, "--model") : a.positional[0];
    if (!name) { // no model: the BLAS and CPU facts alone
        if (!cli_flag(&a, "--json")) {
            cli_blas_print(12);
            return 0;
        }
        struct qins_json j;
        qins_json_init(&j, stdout);
        qins_json_object_begin(&j);
        qins_json_key(&j, "blas"), cli_blas_json(&j);
        qins_json_object_end(&j);
        return qins_json_end(&j) < 0 ? 1 : 0;
    }
    char path[1024];
    struct qins_model *m;
    if (qins_path_resolve(QINS_PATH_MODEL, name, path, sizeof path) < 0 || qins_model_load(path, &m) < 0) return 1;
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
        struct qins_json j;
        qins_json_init(&j, stdout);
        qins_json_object_begin(&j);
        qins_json_key(&j, "path"), qins_json_str(&j, path);
        qins_json_key(&j, "architecture"), qins_json_str(&j, arch);
        const struct { const char *k; int v; } dims[] = {
            {"n_embd", hp->n_embd}, {"n_layer", hp->n_layer}, {"n_head", hp->n_head}, {"n_head_kv", hp->n_head_kv},
            {"head_dim", hp->head_dim}, {"n_ff", hp->n_ff}, {"n_vocab", hp->n_vocab},
            {"context_length", hp->n_ctx_train}, {"n_rot", hp->n_rot}, {"sliding_window", hp->sliding_window}};
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) qins_json_key(&j, dims[i].k), qins_json_int(&j, dims[i].v);
        qins_json_key(&j, "rope_base"), qins_json_double(&j, hp->rope_base);
        qins_json_key(&j, "rms_eps"), qins_json_double(&j, hp->rms_eps);
        qins_json_key(&j, "file_bytes"), qins_json_uint(&j, file_bytes);
        qins_json_key(&j, "weight_bytes_f32"), qins_json_uint(&j, m->weight_bytes);
        qins_json_key(&j, "weight_bytes_stored"), qins_json_uint(&j, m->weight_bytes_stored);
        qins_json_key(&j, "matmul_kernels"), qins_json_str(&j, qins_isa_name(qins_matmul_isa()));
        qins_json_key(&j, "blas"), cli_blas_json(&j);
        qins_json_key(&j, "tensors_by_type");
        qins_json_object_begin(&j);
        for (int t = 0; t < 64; t++)
            if (count[t]) qins_json_key(&j, qins_ggml_type_name(t)), qins_json_int(&j, count[t]);
        qins_json_object_end(&j);
        qins_json_object_end(&j);
        if (qins_json_end(&j) < 0) {
            qins_model_free(m);
            return 1;
        }
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
        printf("\nweights      %.2f MB read by the forward pass as stored (%.2f MB as FP32); %s matmul kernels\n",
               m->weight_bytes_stored / 1e6, m->weight_bytes / 1e6, qins_isa_name(qins_matmul_isa()));
        cli_blas_print(12);
    }
    (void)other;
    qins_model_free(m);
    return 0;
}
