// tools/cli_report.c — `qins report`: plots + static HTML over results/.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static int usage(void) {
    fprintf(stderr, "usage: qins report [--results DIR] [--out DIR] [--plots DIR] [--runs K]\n"
                    "  Writes DIR/report/index.html (default ./results/report) with gate tables, the newest\n"
                    "  K runs' key metrics per phase, and every /plots group of each phase's newest run.\n");
    return 2;
}

int qins_cli_report(int argc, char **argv) {
    struct qins_report_opts o = {.results_dir = "results", .runs_per_phase = 3};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--results")) o.results_dir = argv[++i];
        else if (!strcmp(argv[i], "--out")) o.out_dir = argv[++i];
        else if (!strcmp(argv[i], "--plots")) o.plots_dir = argv[++i];
        else if (!strcmp(argv[i], "--runs")) o.runs_per_phase = atoi(argv[++i]);
        else return usage();
    }
    struct qins_report_stats s;
    if (qins_report_build(&o, &s) < 0) return 1;
    printf("wrote %s: %zu phase(s), %zu run(s), %zu gate table(s), %zu figure(s)%s\n", s.index_path, s.phases, s.runs,
           s.gates, s.figures, s.have_gnuplot ? "" : " (gnuplot not found: CSV only)");
    if (s.figures_failed) printf("%zu figure(s) could not be drawn (see the page and gnuplot.log)\n", s.figures_failed);
    return s.figures_failed ? 1 : 0;
}
