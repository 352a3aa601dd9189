// tests/test_dataset.c — slices, story counting, prompt CSVs and derived prompts.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dataset.h"
#include "experiment.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "runfile.h"

static const char *TEXT = "Once upon a time, a cat sat.\nIt was happy.\n<|endoftext|>\n"
                          "Once upon a time, a dog ran.\n<|endoftext|>\n"
                          "Lily found a red ball in the park.\n<|endoftext|>\n"
                          "Tom and Sue went to the big lake.";

Test(dataset, slice_parse) {
    struct qins_slice s;
    cr_assert_eq(qins_slice_parse("bytes:0-100", &s), QINS_OK);
    cr_assert(s.unit == QINS_SLICE_BYTES && s.start == 0 && s.end == 100);
    cr_assert_eq(qins_slice_parse("stories:10-20", &s), QINS_OK);
    cr_assert(s.unit == QINS_SLICE_STORIES && s.start == 10 && s.end == 20);
    cr_assert_eq(qins_slice_parse("none", &s), QINS_OK);
    cr_assert_eq(s.unit, QINS_SLICE_NONE);
    const char *bad[] = {"bytes:5-5", "bytes:9-1", "stories:1", "lines:0-4", "bytes:-1-4", "bytes:0-4x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(qins_slice_parse(bad[i], &s), QINS_ERR_ARG, "%s", bad[i]);
}

Test(dataset, story_slices_resolve_to_story_boundaries) {
    size_t len = strlen(TEXT), b0, b1;
    cr_assert_eq(qins_story_count(TEXT, len), 4);
    struct qins_slice s = {QINS_SLICE_STORIES, 1, 3};
    cr_assert_eq(qins_slice_resolve(TEXT, len, &s, &b0, &b1), QINS_OK);
    cr_assert_eq(strncmp(TEXT + b0, "Once upon a time, a dog", 23), 0);
    cr_assert_eq(strncmp(TEXT + b1, "Tom and Sue", 11), 0);
    s.end = 4;
    cr_assert_eq(qins_slice_resolve(TEXT, len, &s, &b0, &b1), QINS_OK);
    cr_assert_eq(b1, len);
    s.end = 5;
    cr_assert_eq(qins_slice_resolve(TEXT, len, &s, &b0, &b1), QINS_ERR_RANGE);
    struct qins_slice bytes = {QINS_SLICE_BYTES, 3, 9};
    cr_assert_eq(qins_slice_resolve(TEXT, len, &bytes, &b0, &b1), QINS_OK);
    cr_assert(b0 == 3 && b1 == 9);
    bytes.end = len + 1;
    cr_assert_eq(qins_slice_resolve(TEXT, len, &bytes, &b0, &b1), QINS_ERR_RANGE);
}

Test(dataset, derive_deduplicates_openings) {
    struct qins_prompt_set p;
    cr_assert_eq(qins_prompts_derive(TEXT, strlen(TEXT), 3, 4, 50, &p), QINS_OK);
    cr_assert_eq(p.n, 3);
    cr_assert_str_eq(p.items[0].text, "Once upon a time,");
    cr_assert_str_eq(p.items[1].text, "Lily found a red", "story 1 repeats story 0's opening");
    cr_assert_str_eq(p.items[1].id, "s2");
    cr_assert_str_eq(p.items[2].text, "Tom and Sue went");
    cr_assert_eq(p.items[2].max_tokens, 50);
    qins_prompts_free(&p);
    cr_assert_eq(qins_prompts_derive(TEXT, strlen(TEXT), 4, 4, 50, &p), QINS_ERR_RANGE, "only 3 distinct");
    cr_assert_eq(qins_prompts_derive(TEXT, strlen(TEXT), 4, 6, 50, &p), QINS_OK, "6 words tell all 4 apart");
    qins_prompts_free(&p);
}

Test(dataset, csv_round_trip_with_quotes_commas_newlines) {
    char dir[512], path[700];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/p.csv", dir);
    struct qins_prompt items[] = {{"a", "plain", 10}, {"b", "with, comma", 20}, {"c", "say \"hi\"\nnext line", 0}};
    struct qins_prompt_set w = {.items = items, .n = 3};
    cr_assert_eq(qins_prompts_write_csv(&w, path), QINS_OK);
    struct qins_prompt_set r;
    cr_assert_eq(qins_prompts_load_csv(path, 99, &r), QINS_OK);
    cr_assert_eq(r.n, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(r.items[i].id, items[i].id);
        cr_assert_str_eq(r.items[i].text, items[i].text);
    }
    cr_assert_eq(r.items[1].max_tokens, 20);
    cr_assert_eq(r.items[2].max_tokens, 99, "0 means the config's tokens");
    char h[QINS_SHA256_HEX];
    cr_assert_eq(qins_sha256_file(path, h), QINS_OK);
    cr_assert_str_eq(r.sha256, h, "the CSV's hash is kept for the run record");
    qins_prompts_free(&r);
}

Test(dataset, csv_errors) {
    char dir[512], path[700];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    const char *bad[] = {"id,text,max_tokens\na,b,1\n", "id,prompt,max_tokens\na,b\n", "id,prompt,max_tokens\na,b,x\n",
                         "id,prompt,max_tokens\na,b,1\na,c,1\n", "id,prompt,max_tokens\n", "id,prompt,max_tokens\n\"a,b,1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "wb");
        fputs(bad[i], f);
        fclose(f);
        struct qins_prompt_set r;
        cr_assert_eq(qins_prompts_load_csv(path, 1, &r), QINS_ERR_FORMAT, "case %zu", i);
    }
}

static qins_config_t *config_with(const char *ini) {
    qins_config_t *c;
    const struct qins_cfg_key *const tables[] = {qins_exp_run_keys, NULL};
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_eq(qins_config_load_string(c, ini, "t.ini"), QINS_OK);
    return c;
}

Test(dataset, load_real_eval_text_and_slices) {
    char path[1200];
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", path, sizeof path) < 0) return;
    char ini[1400];
    snprintf(ini, sizeof ini, "[run]\neval_text = %s\neval_slice = stories:0-1000\ncalib_slice = stories:1000-1200\n"
             "prompts = derive:24\n", path);
    qins_config_t *c = config_with(ini);
    struct qins_dataset d;
    cr_assert_eq(qins_dataset_load(c, &d), QINS_OK);
    cr_assert_eq(d.len, 2097152);
    cr_assert_str_eq(d.sha256, "5352b299dcb1a32898b2d779b145b5a05f3e1265953fd21c264c9f9f9c9ae33d");
    cr_assert_eq(qins_story_count(d.text, d.len), 2317, "2316 separators, ends mid-story");
    cr_assert_eq(d.eval_b0, 0);
    cr_assert_eq(d.eval_b1, d.calib_b0, "adjacent, disjoint");
    cr_assert_eq(strncmp(d.text + d.eval_b1 - 14, "<|endoftext|>\n", 14), 0, "eval ends after a separator");
    struct qins_prompt_set p;
    cr_assert_eq(qins_prompts_from_config(c, &d, &p), QINS_OK);
    cr_assert_eq(p.n, 24);
    for (size_t i = 0; i < p.n; i++)
        for (size_t j = 0; j < i; j++) cr_assert_str_neq(p.items[i].text, p.items[j].text);
    cr_assert_str_eq(p.items[0].text, "One day, a little girl named");
    qins_prompts_free(&p);
    qins_dataset_free(&d);
    qins_config_free(c);
}

Test(dataset, overlapping_calibration_is_an_error) {
    char path[1200];
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", path, sizeof path) < 0) return;
    char ini[1400];
    snprintf(ini, sizeof ini, "[run]\neval_text = %s\neval_slice = stories:0-100\ncalib_slice = bytes:1000-2000\n", path);
    qins_config_t *c = config_with(ini);
    struct qins_dataset d;
    cr_assert_eq(qins_dataset_load(c, &d), QINS_ERR_ARG);
    cr_assert(strstr(qins_last_error(), "overlaps eval_slice"), "%s", qins_last_error());
    qins_config_free(c);
}

Test(dataset, shipped_prompt_csv_loads) {
    const char *src = getenv("QINS_SOURCE_DIR");
    cr_assert(src, "QINS_SOURCE_DIR must be set");
    char path[1024];
    snprintf(path, sizeof path, "%s/experiments/prompts-tinystories.csv", src);
    struct qins_prompt_set p;
    cr_assert_eq(qins_prompts_load_csv(path, 128, &p), QINS_OK);
    cr_assert_geq(p.n, 20);
    qins_prompts_free(&p);
}

Test(dataset, record_writes_slices_and_prompts) {
    char path[1200], dir[512];
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", path, sizeof path) < 0) return;
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    char ini[1400];
    snprintf(ini, sizeof ini, "[run]\neval_text = %s\nprompts = derive:5\n", path);
    qins_config_t *c = config_with(ini);
    struct qins_dataset d;
    struct qins_prompt_set p;
    cr_assert_eq(qins_dataset_load(c, &d), QINS_OK);
    cr_assert_eq(qins_prompts_from_config(c, &d, &p), QINS_OK);
    char *eff = qins_config_effective(c);
    struct qins_run_info info = {.phase = 0, .results_dir = dir, .config_text = eff, .eval_path = d.path,
                                 .eval_sha256 = d.sha256};
    qins_run_t *r;
    char final[1200];
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_dataset_record(r, &d, &p), QINS_OK);
    cr_assert_eq(qins_run_commit(r, final, sizeof final), QINS_OK);
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, final), QINS_OK);
    char **strs;
    size_t n;
    cr_assert_eq(qins_runfile_strings(f, "/generation/prompts", &strs, &n), QINS_OK);
    cr_assert_eq(n, 5);
    cr_assert_str_eq(strs[0], p.items[0].text);
    qins_strv_free(strs, n);
    char *s;
    cr_assert_eq(qins_runfile_attr_str(f, "/data", "calib_slice", &s), QINS_OK);
    cr_assert_str_eq(s, "stories:1000-1200");
    free(s);
    double b0;
    cr_assert_eq(qins_runfile_attr_double(f, "/data", "calib_bytes", &b0), QINS_OK);
    cr_assert_eq(b0, (double)d.calib_b0);
    cr_assert_str_eq(qins_runfile_meta(f)->eval_sha256, d.sha256);
    qins_runfile_close(f);
    free(eff);
    qins_prompts_free(&p);
    qins_dataset_free(&d);
    qins_config_free(c);
}
