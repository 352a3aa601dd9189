// tools/qins.c — the `qins` front-end: dispatches to one subcommand (tools/cli_*.c).
#include <stdio.h>
#include <string.h>

#include "blas.h"
#include "cli.h"

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct cli_command commands[] = {
    {"info", qins_cli_info, "[MODEL] [--json]: BLAS core and CPU; architecture, dimensions, tensors by type"},
    {"tokenize", qins_cli_tokenize, "--model M (--text-file F | --text T) [--no-bos] [--json] [--pieces]"},
    {"generate", qins_cli_generate, "(--model M | --config PROD.ini) --prompt P --tokens N [--kv SPEC] [--json]"},
    {"perplexity", qins_cli_perplexity, "(--model M | --config PROD.ini) --text-file F --ctx N [--chunks K] [--json]"},
    {"bench", qins_cli_bench,
     "--model M [--threads 1,2] [--weights stored|f32] [--kv fp32|fp16] [--depth 512,2048]: pp/tg tok/s vs sgemm and read GB/s, RSS"},
    {"profile", qins_cli_profile,
     "--model M [--pp 64] [--tg 32] [--threads 1] [--kv SPEC] [--wcodec qins8 [--wgran row]]: time per op kind, selection"},
    {"sgemm", qins_cli_sgemm, "M N K THREADS: one OpenBLAS sgemm probe with the loaded core (prints core, GFLOP/s)"},
    {"write-gguf", qins_cli_write_gguf, "--shape phi3.5-mini|tiny-llama|tiny-phi3 --out F [--type f32|f16|bf16|q8_0] [--layers N] [--vocab V|fake]: random model"},
    {"prompts", qins_cli_prompts, "--from TEXT [--slice S] [--n 24] [--words 6] --out F.csv: derive a prompt set"},
    {"config", qins_cli_config, "[FILE.ini]: documented defaults of [run]/[codec], or a file's effective config"},
    {"runs", qins_cli_runs, "[--results DIR] [--phase N]: list recorded runs with key metrics and gate status"},
    {"report", qins_cli_report, "[--results DIR] [--plots DIR]: render plots and results/report/index.html"},
    {"run-all", qins_cli_run_all,
     "[--force] [--from N] [--to N] [--set [P:]S.K=V]...: phases 0..6 in order, each gate after its phase; stops at a NO-GO"},
    {"reproduce", qins_cli_reproduce,
     "OLD.h5 [--against NEW.h5] [--allow-metric-diff GLOB]...: re-run the config (or take NEW), compare"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: qins COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nA model given as a bare file name is looked up in $QINS_MODELS, then ./models/.\n");
}

int main(int argc, char **argv) {
    if (qins_blas_select(argc, argv) < 0) return 1; // a wrong OpenBLAS core: re-exec once with the right one
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qins: unknown command '%s' (try qins --help)\n", argv[1]);
    return 2;
}
