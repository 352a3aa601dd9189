// tools/cli_config.c — `qins config`: the documented defaults of the shared config sections,
// or the effective config of a file checked against them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "experiment.h"

int qins_cli_config(int argc, char **argv) {
    const struct qins_cfg_key *const tables[] = {qins_exp_run_keys, qins_exp_codec_keys, NULL};
    if (argc == 1) {
        qins_config_print_doc(stdout, tables);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: qins config [FILE.ini]\n  no FILE: print [run] and [codec] keys with defaults and "
                        "ranges; FILE: print its effective config\n  (phase sections are checked by the phase "
                        "binary: qins-phaseN --help-config)\n");
        return 2;
    }
    qins_config_t *c;
    if (qins_config_new(&c, tables) < 0) return 1;
    int st = qins_config_load_file(c, argv[1]);
    char *eff = st == 0 ? qins_config_effective(c) : NULL;
    if (eff) fputs(eff, stdout);
    free(eff);
    qins_config_free(c);
    return st == 0 ? 0 : 1;
}
