// tools/cli_prompts.c — `qins prompts`: derive a prompt CSV from story openings of a text.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "config.h"
#include "dataset.h"
#include "experiment.h"

static int usage(void) {
    fprintf(stderr, "usage: qins prompts --from TEXT [--slice stories:A-B|bytes:A-B] [--n 24] [--words 6] "
                    "[--tokens 128] --out FILE.csv\n");
    return 2;
}

int qins_cli_prompts(int argc, char **argv) {
    const char *from = NULL, *out = NULL, *slice = "stories:0-1000";
    long n = 24, words = 6, tokens = 128;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--from")) from = argv[++i];
        else if (!strcmp(argv[i], "--out")) out = argv[++i];
        else if (!strcmp(argv[i], "--slice")) slice = argv[++i];
        else if (!strcmp(argv[i], "--n")) n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--words")) words = atol(argv[++i]);
        else if (!strcmp(argv[i], "--tokens")) tokens = atol(argv[++i]);
        else return usage();
    }
    if (!from || !out || n < 1 || words < 1 || tokens < 1) return usage();
    // Go through the config so the slice and lookup rules are the ones phases use.
    qins_config_t *cfg;
    const struct qins_cfg_key *const tables[] = {qins_exp_run_keys, NULL};
    if (qins_config_new(&cfg, tables) < 0) return 1;
    char set[1200];
    int st = QINS_OK;
    snprintf(set, sizeof set, "run.eval_text=%s", from);
    if (st == QINS_OK) st = qins_config_set(cfg, set);
    snprintf(set, sizeof set, "run.eval_slice=%s", slice);
    if (st == QINS_OK) st = qins_config_set(cfg, set);
    if (st == QINS_OK) st = qins_config_set(cfg, "run.calib_slice=none");
    snprintf(set, sizeof set, "run.prompts=derive:%ld", n);
    if (st == QINS_OK) st = qins_config_set(cfg, set);
    snprintf(set, sizeof set, "run.prompt_words=%ld", words);
    if (st == QINS_OK) st = qins_config_set(cfg, set);
    snprintf(set, sizeof set, "run.tokens=%ld", tokens);
    if (st == QINS_OK) st = qins_config_set(cfg, set);
    struct qins_dataset d = {0};
    struct qins_prompt_set p = {0};
    if (st == QINS_OK) st = qins_dataset_load(cfg, &d);
    if (st == QINS_OK) st = qins_prompts_from_config(cfg, &d, &p);
    if (st == QINS_OK) st = qins_prompts_write_csv(&p, out);
    if (st == QINS_OK) printf("wrote %zu prompts to %s (%s)\n", p.n, out, p.source);
    qins_prompts_free(&p);
    qins_dataset_free(&d);
    qins_config_free(cfg);
    return st == QINS_OK ? 0 : 1;
}
