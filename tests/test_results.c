// tests/test_results.c — run file write -> read round trip of every field, atomic completion,
// interrupted runs (SIGKILL and SIGINT mid-write), listing, and h5dump readability.
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "helpers/synth_runs.h"
#include "runfile.h"
#include "sha256.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

Test(results, round_trip_every_field) {
    char dir[512], model[600], eval[600], final[1200];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(model, sizeof model, "%s/model.gguf", dir);
    snprintf(eval, sizeof eval, "%s/eval.txt", dir);
    write_file(model, "not really a model");
    write_file(eval, "abc");
    char *argv[] = {"qins-phase1", "--config", "x.ini"};
    const char *config = "[run]\ntokens = 100\n";
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = config,
                                 .config_source = "[run]\ntokens=100\n", .config_path = "x.ini",
                                 .model_path = model, .eval_path = eval, .threads = 3, .forced = true,
                                 .tag = "full", .argc = 3, .argv = argv};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    char run_id[96];
    snprintf(run_id, sizeof run_id, "%s", qins_run_id(r));
    cr_assert_eq(qins_run_metric(r, "qins8/token_match", 0.995, "fraction"), QINS_OK);
    cr_assert_eq(qins_run_metric(r, "ppl", 3.25, "ppl"), QINS_OK);
    cr_assert_eq(qins_run_metric(r, "qins8/decode_s", NAN, "s"), QINS_OK);
    cr_assert_eq(qins_run_metric(r, "qins8/token_match", 1, "fraction"), QINS_ERR_STATE, "metric written twice");
    cr_assert_eq(qins_run_metric(r, "bad name!", 1, ""), QINS_ERR_ARG);
    cr_assert_eq(qins_run_key_metrics(r, "qins8/token_match,ppl"), QINS_OK);
    int32_t tokens[2][3] = {{1, 2, 3}, {4, 5, 6}};
    float nll[4] = {1.5f, 2.5f, -1.0f, 0.0f};
    double lat[3] = {1e-3, 2e-3, 3e-3};
    int64_t big[2] = {1LL << 40, -7};
    uint8_t codes[5] = {0, 1, 127, 128, 255};
    cr_assert_eq(qins_run_array(r, "/generation/qins8/tokens", QINS_DT_I32, tokens, 2, 3), QINS_OK);
    cr_assert_eq(qins_run_array(r, "/perplexity/qins8/nll", QINS_DT_F32, nll, 4, 0), QINS_OK);
    cr_assert_eq(qins_run_array(r, "/latency/qins8/decode_s", QINS_DT_F64, lat, 3, 0), QINS_OK);
    cr_assert_eq(qins_run_array(r, "/phase1/big", QINS_DT_I64, big, 2, 0), QINS_OK);
    cr_assert_eq(qins_run_array(r, "/entropy/k/codes", QINS_DT_U8, codes, 5, 0), QINS_OK);
    cr_assert_eq(qins_run_array(r, "/generation/qins8/tokens", QINS_DT_I32, tokens, 2, 3), QINS_ERR_STATE);
    const char *prompts[] = {"Once upon a time", "Lily, \"the\" girl", ""};
    cr_assert_eq(qins_run_strings(r, "/generation/prompts", prompts, 3), QINS_OK);
    cr_assert_eq(qins_run_attr_str(r, "/generation/qins8", "codec", "qins k=8"), QINS_OK);
    cr_assert_eq(qins_run_attr_double(r, "/entropy/k", "entropy", 6.5), QINS_OK);
    cr_assert_eq(qins_run_attr_int(r, "/memory", "kv_bytes", 123456789012LL), QINS_OK);
    int64_t range[2] = {10, 20};
    cr_assert_eq(qins_run_attr_int_array(r, "/data", "eval_bytes", range, 2), QINS_OK);
    double px[3] = {4, 6, 8}, py[6] = {0.9, 0.95, 0.99, 0.8, 0.85, 0.9};
    const char *series[] = {"qins", "int"};
    struct qins_plot p = {.name = "match_vs_bits", .kind = QINS_PLOT_LINES, .title = "Token match",
                          .xlabel = "bits", .ylabel = "match", .n = 3, .x = px, .n_series = 2, .y = py,
                          .series = series, .logy = true};
    cr_assert_eq(qins_run_plot(r, &p), QINS_OK);
    cr_assert_eq(qins_run_plot(r, &p), QINS_ERR_STATE);
    cr_assert_eq(qins_run_commit(r, final, sizeof final), QINS_OK);
    cr_assert(strstr(final, "/phase1/"), "%s", final);
    cr_assert(strstr(final, run_id), "%s", final);

    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, final), QINS_OK);
    const struct qins_run_meta *m = qins_runfile_meta(f);
    cr_assert_eq(m->phase, 1);
    cr_assert_str_eq(m->run_id, run_id);
    cr_assert(m->forced);
    cr_assert_eq(m->threads, 3);
    cr_assert_str_eq(m->tag, "full");
    char h[QINS_SHA256_HEX];
    qins_sha256_hex(config, strlen(config), h);
    cr_assert_str_eq(m->config_hash, h);
    cr_assert_eq(strncmp(run_id + 17, h, 8), 0, "run id = timestamp + short config hash: %s", run_id);
    qins_sha256_hex("abc", 3, h);
    cr_assert_str_eq(m->eval_sha256, h);
    cr_assert_str_eq(m->model_path, model);
    cr_assert_eq(strlen(m->model_sha256), 64);
    cr_assert_neq(m->git_commit[0], 0);
    cr_assert(!strcmp(m->git_dirty, "clean") || !strcmp(m->git_dirty, "dirty") || !strcmp(m->git_dirty, "unknown"));
    cr_assert_eq(strlen(m->start_time), 20, "%s", m->start_time);
    cr_assert_eq(strlen(m->end_time), 20, "%s", m->end_time);
    char *s;
    cr_assert_eq(qins_runfile_attr_str(f, "/", "config", &s), QINS_OK);
    cr_assert_str_eq(s, config);
    free(s);
    cr_assert_eq(qins_runfile_attr_str(f, "/", "config_source", &s), QINS_OK);
    cr_assert_str_eq(s, "[run]\ntokens=100\n");
    free(s);
    cr_assert_eq(qins_runfile_attr_str(f, "/", "command", &s), QINS_OK);
    cr_assert_str_eq(s, "qins-phase1 --config x.ini");
    free(s);
    cr_assert_eq(qins_runfile_attr_str(f, "/", "key_metrics", &s), QINS_OK);
    cr_assert_str_eq(s, "qins8/token_match,ppl");
    free(s);
    double v;
    char unit[32];
    cr_assert_eq(qins_runfile_metric(f, "qins8/token_match", &v, unit, sizeof unit), QINS_OK);
    cr_assert_eq(v, 0.995);
    cr_assert_str_eq(unit, "fraction");
    cr_assert_eq(qins_runfile_metric(f, "qins8/decode_s", &v, unit, sizeof unit), QINS_OK);
    cr_assert(isnan(v));
    cr_assert_eq(qins_runfile_metric(f, "qins6/token_match", &v, NULL, 0), QINS_ERR_RANGE);
    cr_assert_eq(qins_runfile_metric(f, "qins8", &v, NULL, 0), QINS_ERR_RANGE, "a group is not a metric");
    char **names;
    size_t n;
    cr_assert_eq(qins_runfile_metric_names(f, &names, &n), QINS_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "ppl");
    cr_assert_str_eq(names[1], "qins8/decode_s");
    cr_assert_str_eq(names[2], "qins8/token_match");
    qins_strv_free(names, n);
    void *data;
    size_t rows, cols;
    cr_assert_eq(qins_runfile_read(f, "/generation/qins8/tokens", QINS_DT_I32, &data, &rows, &cols), QINS_OK);
    cr_assert(rows == 2 && cols == 3);
    cr_assert_eq(memcmp(data, tokens, sizeof tokens), 0);
    free(data);
    cr_assert_eq(qins_runfile_read(f, "/perplexity/qins8/nll", QINS_DT_F64, &data, &rows, &cols), QINS_OK);
    cr_assert(rows == 4 && cols == 1);
    cr_assert_eq(((double *)data)[1], 2.5, "float stored, converted on read");
    free(data);
    cr_assert_eq(qins_runfile_read(f, "/latency/qins8/decode_s", QINS_DT_F64, &data, &rows, &cols), QINS_OK);
    cr_assert_eq(memcmp(data, lat, sizeof lat), 0);
    free(data);
    cr_assert_eq(qins_runfile_read(f, "/phase1/big", QINS_DT_I64, &data, &rows, &cols), QINS_OK);
    cr_assert_eq(memcmp(data, big, sizeof big), 0);
    free(data);
    cr_assert_eq(qins_runfile_read(f, "/entropy/k/codes", QINS_DT_U8, &data, &rows, &cols), QINS_OK);
    cr_assert_eq(memcmp(data, codes, sizeof codes), 0);
    free(data);
    cr_assert_eq(qins_runfile_read(f, "/metrics/ppl", QINS_DT_F64, &data, &rows, &cols), QINS_OK, "scalar");
    cr_assert(rows == 1 && cols == 1 && ((double *)data)[0] == 3.25);
    free(data);
    cr_assert_eq(qins_runfile_read(f, "/nothing", QINS_DT_F64, &data, &rows, &cols), QINS_ERR_RANGE);
    char **strs;
    cr_assert_eq(qins_runfile_strings(f, "/generation/prompts", &strs, &n), QINS_OK);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < 3; i++) cr_assert_str_eq(strs[i], prompts[i]);
    qins_strv_free(strs, n);
    cr_assert_eq(qins_runfile_attr_str(f, "/generation/qins8", "codec", &s), QINS_OK);
    cr_assert_str_eq(s, "qins k=8");
    free(s);
    cr_assert_eq(qins_runfile_attr_double(f, "/entropy/k", "entropy", &v), QINS_OK);
    cr_assert_eq(v, 6.5);
    cr_assert_eq(qins_runfile_attr_double(f, "/memory", "kv_bytes", &v), QINS_OK);
    cr_assert_eq(v, 123456789012.0);
    cr_assert_eq(qins_runfile_attr_double(f, "/data", "eval_bytes", &v), QINS_OK);
    cr_assert_eq(v, 10);
    // the plot group
    cr_assert_eq(qins_runfile_children(f, "/plots", &names, &n), QINS_OK);
    cr_assert(n == 1 && !strcmp(names[0], "match_vs_bits"));
    qins_strv_free(names, n);
    cr_assert_eq(qins_runfile_attr_str(f, "/plots/match_vs_bits", "kind", &s), QINS_OK);
    cr_assert_str_eq(s, "lines");
    free(s);
    cr_assert_eq(qins_runfile_attr_double(f, "/plots/match_vs_bits", "logy", &v), QINS_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(qins_runfile_read(f, "/plots/match_vs_bits/y", QINS_DT_F64, &data, &rows, &cols), QINS_OK);
    cr_assert(rows == 2 && cols == 3 && ((double *)data)[3] == 0.8);
    free(data);
    cr_assert_eq(qins_runfile_strings(f, "/plots/match_vs_bits/series", &strs, &n), QINS_OK);
    cr_assert(n == 2 && !strcmp(strs[1], "int"));
    qins_strv_free(strs, n);
    qins_runfile_close(f);
}

static size_t count_h5(const char *dir, size_t *accepted) {
    char sub[700];
    snprintf(sub, sizeof sub, "%s/phase2", dir);
    DIR *d = opendir(sub);
    size_t n = 0;
    *accepted = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.')) continue;
        n++;
        char p[1500];
        snprintf(p, sizeof p, "%s/%s", sub, e->d_name);
        qins_runfile_t *f;
        if (qins_runfile_open(&f, p) == QINS_OK) {
            (*accepted)++;
            qins_runfile_close(f);
        }
    }
    closedir(d);
    return n;
}

// Child: starts a run, writes some metrics, tells the parent, then waits to be killed.
static void child_run(const char *dir, int fd) {
    struct qins_run_info info = {.phase = 2, .results_dir = dir, .config_text = "[run]\n", .threads = 1};
    qins_run_t *r;
    if (qins_run_begin(&r, &info) != QINS_OK) _exit(3);
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof name, "v/m%d", i);
        qins_run_metric(r, name, i, "count");
    }
    if (write(fd, "x", 1) != 1) _exit(4);
    for (;;) pause();
}

static void interrupt_mid_run(int sig, size_t expect_files) {
    char dir[512];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_run(dir, fds[1]);
    }
    close(fds[1]);
    char c;
    cr_assert_eq(read(fds[0], &c, 1), 1, "child did not start its run");
    size_t accepted;
    cr_assert_eq(count_h5(dir, &accepted), 1, "a temp file exists while the run is open");
    cr_assert_eq(accepted, 0, "an open run is not accepted as complete");
    kill(pid, sig);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig, "child ended by the signal");
    cr_assert_eq(count_h5(dir, &accepted), expect_files, "files left after signal %d", sig);
    cr_assert_eq(accepted, 0, "no complete-looking run file after an interrupted run");
    struct qins_run_meta *runs;
    size_t n, incomplete;
    cr_assert_eq(qins_results_list(dir, -1, &runs, &n, &incomplete), QINS_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(incomplete, expect_files);
    free(runs);
}

Test(results, sigkill_mid_run_leaves_only_an_incomplete_temp_file) { interrupt_mid_run(SIGKILL, 1); }
Test(results, sigint_mid_run_removes_the_temp_file) { interrupt_mid_run(SIGINT, 0); }
Test(results, sigterm_mid_run_removes_the_temp_file) { interrupt_mid_run(SIGTERM, 0); }

Test(results, renamed_temp_file_is_still_not_complete) {
    char dir[512];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_run_info info = {.phase = 3, .results_dir = dir, .config_text = "[run]\n"};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    qins_run_metric(r, "x", 1, "");
    char tmp[1300], fake[1300];
    snprintf(tmp, sizeof tmp, "%s/phase3/.%s.h5.tmp", dir, qins_run_id(r));
    snprintf(fake, sizeof fake, "%s/phase3/copied.h5", dir);
    cr_assert_eq(access(tmp, F_OK), 0, "temp file named .<id>.h5.tmp: %s", tmp);
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", tmp, fake);
    cr_assert_eq(system(cmd), 0);
    qins_runfile_t *f;
    cr_assert_neq(qins_runfile_open(&f, fake), QINS_OK, "complete = 0 (and the file still open) until commit");
    qins_run_abort(r);
    cr_assert_neq(access(tmp, F_OK), 0, "abort removes the temp file");
}

Test(results, listing_is_newest_first_per_phase) {
    char dir[512];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct synth_metric m = {"a", 1, ""};
    char p1[1200], p2[1200], p3[1200];
    cr_assert_eq(synth_run(dir, 1, "", false, &m, 1, p1, sizeof p1), QINS_OK);
    cr_assert_eq(synth_run(dir, 1, "", false, &m, 1, p2, sizeof p2), QINS_OK);
    cr_assert_eq(synth_run(dir, 2, "", true, &m, 1, p3, sizeof p3), QINS_OK);
    char junk[700];
    snprintf(junk, sizeof junk, "%s/phase1/junk.h5", dir);
    write_file(junk, "not hdf5");
    struct qins_run_meta *runs;
    size_t n, incomplete;
    cr_assert_eq(qins_results_list(dir, 1, &runs, &n, &incomplete), QINS_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(incomplete, 1, "junk.h5 is counted, not listed");
    cr_assert_str_eq(runs[0].path, p2, "newest first, even within one second");
    cr_assert_str_eq(runs[1].path, p1);
    cr_assert_gt(runs[0].start_unix, 1.7e9);
    free(runs);
    cr_assert_eq(qins_results_list(dir, -1, &runs, &n, NULL), QINS_OK);
    cr_assert_eq(n, 3);
    free(runs);
    cr_assert_eq(qins_results_list("/nonexistent", -1, &runs, &n, NULL), QINS_OK);
    cr_assert_eq(n, 0);
}

Test(results, same_config_same_second_gets_distinct_ids) {
    char dir[512];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = "[run]\n"};
    qins_run_t *a, *b;
    cr_assert_eq(qins_run_begin(&a, &info), QINS_OK);
    cr_assert_eq(qins_run_begin(&b, &info), QINS_OK);
    cr_assert_str_neq(qins_run_id(a), qins_run_id(b));
    cr_assert_eq(qins_run_commit(a, NULL, 0), QINS_OK);
    cr_assert_eq(qins_run_commit(b, NULL, 0), QINS_OK);
}

Test(results, verify_inputs_detects_a_changed_model) {
    char dir[512], model[700];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(model, sizeof model, "%s/m.gguf", dir);
    write_file(model, "v1");
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = "[run]\n", .model_path = model};
    qins_run_t *r;
    char final[1200];
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_commit(r, final, sizeof final), QINS_OK);
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, final), QINS_OK);
    cr_assert_eq(qins_run_verify_inputs(f, NULL, NULL), QINS_OK);
    write_file(model, "v2");
    cr_assert_eq(qins_run_verify_inputs(f, NULL, NULL), QINS_ERR_STATE);
    cr_assert(strstr(qins_last_error(), "but the run recorded"), "%s", qins_last_error());
    qins_runfile_close(f);
}

Test(results, timing_units) {
    cr_assert(qins_unit_is_timing("s"));
    cr_assert(qins_unit_is_timing("tok/s"));
    cr_assert(qins_unit_is_timing("pct_time"));
    cr_assert_not(qins_unit_is_timing("fraction"));
    cr_assert_not(qins_unit_is_timing("pct"));
}

Test(results, h5dump_shows_config_and_metrics) {
    char dir[512], final[1200];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = "[run]\ntokens = 100\n"};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_metric(r, "qins8/token_match", 0.875, "fraction"), QINS_OK);
    cr_assert_eq(qins_run_commit(r, final, sizeof final), QINS_OK);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "h5dump '%s' 2>&1", final);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "h5dump (hdf5-tools) is needed");
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    cr_assert_eq(rc, 0, "h5dump failed (is hdf5-tools installed?):\n%s", out);
    cr_assert(strstr(out, "tokens = 100"), "config text visible:\n%s", out);
    cr_assert(strstr(out, "DATASET \"token_match\""), "metric visible:\n%s", out);
    cr_assert(strstr(out, "0.875"), "metric value visible:\n%s", out);
    cr_assert(strstr(out, "\"fraction\""), "unit visible:\n%s", out);
}
