// core/report.h — the static HTML report: per phase, the newest runs' key metrics, the gate
// table, and every /plots/<name> group of the newest run rendered by gnuplot (plots/<kind>.gp).
// Owns: CSV export (libcsv), gnuplot drivers, index.html. Does not own: what is plotted (phases
// declare plots with qins_run_plot). Errors are negative qins_status values, logged; a figure
// gnuplot cannot draw is reported on the page and counted, not fatal.
#pragma once
#include <stddef.h>

struct qins_report_opts {
    const char *results_dir; // default "results"
    const char *out_dir;     // default <results_dir>/report
    const char *plots_dir;   // gnuplot scripts; default $QINS_PLOTS, ./plots, <source>/plots
    int runs_per_phase;      // newest runs shown per phase (default 3)
};

struct qins_report_stats {
    size_t phases, runs, figures, figures_failed, gates;
    int have_gnuplot;
    char index_path[1100];
};

// Builds <out_dir>/index.html with <out_dir>/phase<N>/<run-id>-<plot>.{csv,gp,png}.
// Returns QINS_OK (figures that failed are counted in stats) or QINS_ERR_IO.
int qins_report_build(const struct qins_report_opts *opts, struct qins_report_stats *stats);
