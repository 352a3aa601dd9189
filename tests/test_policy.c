// tests/test_policy.c — the per-tensor compression policy: budget and cold rules on synthetic
// measurements, the budget accounting across tensors, the JSON round trip and bad files/configs.
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "helpers/test_io.h"
#include "helpers/synth_runs.h"
#include "policy.h"

TestSuite(policy, .init = test_log_capture);

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

#define NONE QINS_POLICY_CODING_NONE
#define PACK QINS_POLICY_CODING_BITPACK
#define HUFF QINS_POLICY_CODING_HUFFMAN
#define RLE QINS_POLICY_CODING_RLE_HUFFMAN

// An 8-bit weight of n elements: bit-pack n bytes at 40 GB/s, Huffman saving `huff_saving` at
// huff_gbps, RLE+Huffman not measured; FP32 size as none.
static struct qins_policy_tensor weight(const char *name, uint64_t n, double reads, double huff_saving,
                                        double huff_gbps) {
    struct qins_policy_tensor t = {.cls = QINS_POLICY_CLASS_WEIGHT, .n_elements = n, .bits = 8,
                                   .reads_per_token = reads};
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.codec, sizeof t.codec, "qins8");
    t.bytes[NONE] = n * 4;
    t.bytes[PACK] = n;
    t.bytes[HUFF] = (uint64_t)((double)n * (1 - huff_saving));
    t.decode_gbps[PACK] = 40;
    t.decode_gbps[HUFF] = huff_gbps;
    return t;
}

static struct qins_policy_config config(double step_s) {
    struct qins_policy_config c;
    qins_policy_config_default(&c);
    c.step_s = step_s;
    return c;
}

// Acceptance: a hot tensor whose Huffman saving costs more decode time than the budget keeps bit-pack.
Test(policy, hot_tensor_over_budget_keeps_bitpack) {
    // 4M elements read once per token: bit-pack decodes 16 MB in 0.4 ms, Huffman (4 GB/s) in 4 ms;
    // +3.6 ms on a 10 ms step is 36 % against the 2 % budget.
    struct qins_policy_tensor t = weight("blk.0.ffn_down", 4u << 20, 1.0, 0.30, 4.0);
    struct qins_policy_config c = config(0.010);
    struct qins_policy p;
    cr_assert_eq(qins_policy_decide(&c, &t, 1, "r1", &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, PACK, "reason: %s", p.e[0].reason);
    cr_assert_not(p.e[0].cold);
    cr_assert_str_eq(p.e[0].reason, "hot: huffman would add 37.7 % > budget 2 %");
    cr_assert_eq(p.added_s, 0);
    cr_assert_eq(p.bytes_after, t.bytes[PACK]);
    qins_policy_free(&p);
    // The same tensor with a budget that covers it takes Huffman: the rule, not a constant, decided.
    c.budget_frac = 0.5;
    cr_assert_eq(qins_policy_decide(&c, &t, 1, "r1", &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, HUFF, "reason: %s", p.e[0].reason);
    cr_assert_str_eq(p.e[0].reason, "hot: huffman saves 30.0 %, adds 37.7 % of the step");
    cr_assert_float_eq(p.overhead_frac, 0.3774873, 1e-6);
    qins_policy_free(&p);
}

// Acceptance: a cold tensor (the embedding: one row of 32000 per token) takes Huffman beside a hot
// tensor that cannot; an RLE+Huffman-friendly cold tensor takes RLE+Huffman.
Test(policy, cold_tensor_takes_huffman) {
    struct qins_policy_tensor t[3];
    t[0] = weight("blk.0.attn_q", 4u << 20, 1.0, 0.30, 4.0);
    t[1] = weight("token_embd", 32000u * 256, 1.0 / 32000, 0.31, 4.0);
    t[1].cls = QINS_POLICY_CLASS_EMBEDDING;
    t[1].bytes[RLE] = t[1].bytes[HUFF] + 100; // RLE larger: Huffman stays the smallest
    t[1].decode_gbps[RLE] = 3;
    t[2] = weight("kv.blk.0.v", 1u << 20, 0.005, 0.10, 4.0); // 0.5 % of the hottest: cold
    t[2].cls = QINS_POLICY_CLASS_KV_V;
    t[2].bytes[RLE] = (1u << 20) / 2;
    t[2].decode_gbps[RLE] = 2;
    struct qins_policy_config c = config(0.010);
    struct qins_policy p;
    cr_assert_eq(qins_policy_decide(&c, t, 3, "r2", &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, PACK, "%s", p.e[0].reason);
    cr_assert_eq(p.e[1].coding, HUFF, "%s", p.e[1].reason);
    cr_assert(p.e[1].cold);
    cr_assert_str_eq(p.e[1].reason, "cold: huffman saves 31.0 %");
    cr_assert_eq(p.e[2].coding, RLE, "%s", p.e[2].reason);
    cr_assert(p.e[2].cold);
    cr_assert_str_eq(p.e[2].reason, "cold: rle_huffman saves 50.0 %");
    cr_assert_eq(p.n_cold, 2);
    cr_assert_float_eq(p.cold_below, 0.01, 1e-15);
    // Cold time is counted at its frequency: tiny, but not zero.
    cr_assert(p.added_s > 0 && p.overhead_frac < 0.002, "added %g s, overhead %g", p.added_s, p.overhead_frac);
    cr_assert_float_eq(p.added_s, p.e[1].added_s + p.e[2].added_s, 1e-18);
    // Totals: FP32/FP16 bytes over the chosen sizes.
    uint64_t n = t[0].n_elements + t[1].n_elements + t[2].n_elements;
    uint64_t after = t[0].bytes[PACK] + t[1].bytes[HUFF] + t[2].bytes[RLE];
    cr_assert_eq(p.bytes_fp32, 4 * n);
    cr_assert_eq(p.bytes_fp16, 2 * n);
    cr_assert_eq(p.bytes_base, n);
    cr_assert_eq(p.bytes_after, after);
    cr_assert_float_eq(p.ratio_fp32, 4.0 * n / after, 1e-12);
    cr_assert_float_eq(p.ratio_fp16, 2.0 * n / after, 1e-12);
    qins_policy_free(&p);
    // Raising the embedding's frequency to the hot tensor's makes it hot and over budget.
    t[1].reads_per_token = 1.0;
    cr_assert_eq(qins_policy_decide(&c, t, 3, "r2", &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[1].coding, PACK, "%s", p.e[1].reason);
    cr_assert_not(p.e[1].cold);
    cr_assert(strncmp(p.e[1].reason, "hot: huffman would add", 22) == 0, "%s", p.e[1].reason);
    qins_policy_free(&p);
}

// The budget is shared: each hot Huffman tensor adds 100 us to a 12.5 ms step (0.8 %); two fit in
// the 2 % budget (250 us), a third does not.
Test(policy, budget_is_shared_across_tensors) {
    struct qins_policy_tensor t[3];
    // 1M elements once per token: bit-pack 4 MB / 40 GB/s = 100 us, Huffman at 20 GB/s = 200 us.
    t[0] = weight("blk.0.attn_k", 1u << 20, 1.0, 0.30, 20.0);
    t[1] = weight("blk.1.attn_k", 1u << 20, 1.0, 0.30, 20.0);
    t[2] = weight("blk.2.attn_k", 1u << 20, 1.0, 0.25, 20.0); // smaller saving: last in the greedy order
    double dt = (double)(1u << 20) * 4 / 20e9 - (double)(1u << 20) * 4 / 40e9;
    struct qins_policy_config c = config(0.0125);
    struct qins_policy p;
    cr_assert_eq(qins_policy_decide(&c, t, 2, "r3", &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, HUFF, "%s", p.e[0].reason);
    cr_assert_eq(p.e[1].coding, HUFF, "%s", p.e[1].reason);
    cr_assert_float_eq(p.added_s, 2 * dt, 1e-15);
    cr_assert_float_eq(p.overhead_frac, 2 * dt / 0.0125, 1e-12);
    qins_policy_free(&p);
    cr_assert_eq(qins_policy_decide(&c, t, 3, "r3", &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, HUFF, "%s", p.e[0].reason);
    cr_assert_eq(p.e[1].coding, HUFF, "%s", p.e[1].reason);
    cr_assert_eq(p.e[2].coding, PACK, "the third hot Huffman tensor flips: %s", p.e[2].reason);
    cr_assert_str_eq(p.e[2].reason, "hot: huffman would add 0.8 % > 0.3 % left of budget 2 %");
    cr_assert_float_eq(p.added_s, 2 * dt, 1e-15, "the budget holds");
    cr_assert(p.overhead_frac <= c.budget_frac);
    qins_policy_free(&p);
    // Order of the table does not pick the winner: the larger saving per second does.
    struct qins_policy_tensor r[3] = {t[2], t[1], t[0]};
    cr_assert_eq(qins_policy_decide(&c, r, 3, "r3", &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, PACK, "%s", p.e[0].reason);
    cr_assert_eq(p.e[1].coding, HUFF);
    cr_assert_eq(p.e[2].coding, HUFF);
    qins_policy_free(&p);
}

Test(policy, small_saving_and_no_codes_keep_their_coding) {
    struct qins_policy_tensor t[2];
    t[0] = weight("blk.0.attn_o", 1u << 10, 1.0, 0.03, 40.0); // free, but saves 3 % < 5 %
    memset(&t[1], 0, sizeof t[1]);
    snprintf(t[1].name, sizeof t[1].name, "blk.0.attn_norm");
    snprintf(t[1].codec, sizeof t[1].codec, "fp32");
    t[1].cls = QINS_POLICY_CLASS_WEIGHT;
    t[1].n_elements = 64;
    t[1].bytes[NONE] = 256;
    t[1].reads_per_token = 1;
    struct qins_policy_config c = config(0.01);
    struct qins_policy p;
    cr_assert_eq(qins_policy_decide(&c, t, 2, NULL, &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, PACK);
    cr_assert_str_eq(p.e[0].reason, "no saving: huffman saves 3.0 % < 5 %");
    cr_assert_eq(p.e[1].coding, NONE);
    cr_assert_str_eq(p.e[1].reason, "no saving");
    qins_policy_free(&p);
    c.min_saving = 0.01;
    cr_assert_eq(qins_policy_decide(&c, t, 2, NULL, &p), QINS_OK, "%s", test_log);
    cr_assert_eq(p.e[0].coding, HUFF, "%s", p.e[0].reason);
    qins_policy_free(&p);
}

Test(policy, bad_inputs_and_configs_are_one_line_errors) {
    struct qins_policy_tensor t[2] = {weight("a", 100, 1, 0.3, 4), weight("b", 100, 1, 0.3, 4)};
    struct qins_policy_config c = config(0.01);
    struct qins_policy p;
    // Each case edits a fresh copy; checked in turn.
    for (int k = 0; k < 7; k++) {
        struct qins_policy_tensor x[2] = {t[0], t[1]};
        struct qins_policy_config y = c;
        const char *msg = NULL;
        size_t n = 2;
        switch (k) {
        case 0: x[1].decode_gbps[HUFF] = 0, msg = "tensor 1 ('b'): huffman has a size but decode_gbps.huffman is 0"; break;
        case 1: snprintf(x[1].name, sizeof x[1].name, "a"), msg = "tensor name 'a' appears twice"; break;
        case 2: x[0].reads_per_token = -1, msg = "tensor 0 ('a'): reads_per_token -1"; break;
        case 3: y.budget_frac = 1.5, msg = "policy config: budget_frac 1.5 is not in [0, 1]"; break;
        case 4: y.step_s = 0, msg = "policy config: step_s 0 is not a positive time"; break;
        case 5: x[0].bytes[PACK] = 0, x[0].bytes[NONE] = 0, msg = "neither bitpack nor none"; break;
        case 6: n = 0, msg = "policy: no tensors"; break;
        }
        test_log[0] = 0;
        cr_assert_eq(qins_policy_decide(&y, x, n, "r", &p), QINS_ERR_ARG, "case %d", k);
        cr_assert(strstr(test_log, msg), "case %d: expected '%s' in:\n%s", k, msg, test_log);
        cr_assert_eq(count_lines(test_log), 1, "case %d: one line:\n%s", k, test_log);
        cr_assert_eq(p.n, 0, "case %d: out left empty", k);
        cr_assert_null(p.e);
        qins_policy_free(&p);
    }
}

Test(policy, config_keys_read_and_reject) {
    const struct qins_cfg_key *const tables[] = {qins_policy_cfg_keys, NULL};
    qins_config_t *cfg;
    cr_assert_eq(qins_config_new(&cfg, tables), QINS_OK, "%s", test_log);
    struct qins_policy_config c;
    cr_assert_eq(qins_policy_config_from(cfg, 0.02, &c), QINS_OK, "%s", test_log);
    cr_assert_float_eq(c.budget_frac, 0.02, 0, "the plan's 2 % is the default");
    cr_assert_float_eq(c.cold_frac, 0.01, 0);
    cr_assert_float_eq(c.min_saving, 0.05, 0);
    cr_assert_float_eq(c.step_s, 0.02, 0);
    cr_assert_eq(qins_config_load_string(cfg, "[policy]\nbudget = 0.05\ncold_fraction = 0.001\n", "p.ini"), QINS_OK);
    cr_assert_eq(qins_policy_config_from(cfg, 0.02, &c), QINS_OK);
    cr_assert_float_eq(c.budget_frac, 0.05, 0);
    cr_assert_float_eq(c.cold_frac, 0.001, 0);
    test_log[0] = 0;
    cr_assert_eq(qins_config_load_string(cfg, "[policy]\nbudget = 2\n", "p.ini"), QINS_ERR_RANGE);
    cr_assert(strstr(test_log, "p.ini:2: [policy] budget"), "%s", test_log);
    cr_assert_eq(count_lines(test_log), 1, "%s", test_log);
    test_log[0] = 0;
    cr_assert_eq(qins_policy_config_from(cfg, -1, &c), QINS_ERR_ARG, "a negative measured step");
    cr_assert_eq(count_lines(test_log), 1, "%s", test_log);
    qins_config_free(cfg);
}

// --- JSON

static struct qins_policy sample(void) {
    struct qins_policy_tensor t[4];
    t[0] = weight("blk.0.attn_q", 4u << 20, 1.0, 0.30, 4.0);
    t[1] = weight("token_embd", 32000u * 256, 1.0 / 32000, 0.31, 4.0);
    t[1].cls = QINS_POLICY_CLASS_EMBEDDING;
    t[2] = weight("kv.blk.0.k", 1u << 20, 0.005, 0.10, 4.0);
    t[2].cls = QINS_POLICY_CLASS_KV_K;
    t[2].bytes[RLE] = 1u << 19;
    t[2].decode_gbps[RLE] = 2.5;
    t[3] = weight("output", 300u * 64, 1.0, 0.01, 40.0);
    t[3].cls = QINS_POLICY_CLASS_OUTPUT;
    t[3].reads_per_token = 0.3333333333333333; // a value that needs 16+ digits
    struct qins_policy_config c = config(0.0123456789);
    struct qins_policy p;
    cr_assert_eq(qins_policy_decide(&c, t, 4, "20250101-abcdef", &p), QINS_OK, "%s", test_log);
    return p;
}

static void assert_policy_eq(const struct qins_policy *a, const struct qins_policy *b) {
    cr_assert_eq(a->version, b->version);
    cr_assert_str_eq(a->run_id, b->run_id);
    cr_assert(memcmp(&a->cfg, &b->cfg, sizeof a->cfg) == 0, "config");
    cr_assert_eq(a->n, b->n);
    cr_assert_eq(a->cold_below, b->cold_below);
    cr_assert_eq(a->n_cold, b->n_cold);
    cr_assert_eq(a->bytes_fp32, b->bytes_fp32);
    cr_assert_eq(a->bytes_fp16, b->bytes_fp16);
    cr_assert_eq(a->bytes_base, b->bytes_base);
    cr_assert_eq(a->bytes_after, b->bytes_after);
    cr_assert_eq(a->ratio_fp32, b->ratio_fp32);
    cr_assert_eq(a->ratio_fp16, b->ratio_fp16);
    cr_assert_eq(a->added_s, b->added_s);
    cr_assert_eq(a->overhead_frac, b->overhead_frac);
    for (size_t i = 0; i < a->n; i++) {
        const struct qins_policy_entry *x = &a->e[i], *y = &b->e[i];
        cr_assert_str_eq(x->t.name, y->t.name);
        cr_assert_str_eq(x->t.codec, y->t.codec);
        cr_assert_eq(x->t.cls, y->t.cls, "%zu", i);
        cr_assert_eq(x->t.n_elements, y->t.n_elements);
        cr_assert_eq(x->t.bits, y->t.bits);
        cr_assert_eq(x->t.reads_per_token, y->t.reads_per_token, "%zu: doubles round-trip exactly", i);
        for (int c = 0; c < QINS_POLICY_CODING_COUNT; c++) {
            cr_assert_eq(x->t.bytes[c], y->t.bytes[c]);
            cr_assert_eq(x->t.decode_gbps[c], y->t.decode_gbps[c]);
        }
        cr_assert_eq(x->coding, y->coding, "%zu", i);
        cr_assert_eq(x->cold, y->cold);
        cr_assert_eq(x->added_s, y->added_s);
        cr_assert_eq(x->saving_frac, y->saving_frac);
        cr_assert_str_eq(x->reason, y->reason);
    }
}

Test(policy, json_round_trip) {
    char dir[512], path[700];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    cr_assert_eq(qins_policy_path(dir, "20250101-abcdef", path, sizeof path), QINS_OK);
    cr_assert(strstr(path, "/phase3/20250101-abcdef.policy.json"), "%s", path);
    struct qins_policy p = sample(), q;
    cr_assert(p.e[1].coding == HUFF && p.e[2].coding == RLE && p.e[0].coding == PACK, "a mix of codings");
    cr_assert_eq(qins_policy_write_json(&p, path), QINS_OK, "%s", test_log); // makes phase3/
    cr_assert_eq(qins_policy_read_json(path, &q), QINS_OK, "%s", test_log);
    assert_policy_eq(&p, &q);
    // Only the final file is left (the temp file was renamed).
    char sub[600];
    snprintf(sub, sizeof sub, "%s/phase3", dir);
    DIR *d = opendir(sub);
    cr_assert_not_null(d);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.') {
            files++;
            cr_assert_str_eq(de->d_name, "20250101-abcdef.policy.json");
        }
    closedir(d);
    cr_assert_eq(files, 1);
    // Overwriting works and stays readable.
    cr_assert_eq(qins_policy_write_json(&q, path), QINS_OK, "%s", test_log);
    qins_policy_free(&q);
    cr_assert_eq(qins_policy_read_json(path, &q), QINS_OK, "%s", test_log);
    assert_policy_eq(&p, &q);
    qins_policy_free(&q);
    qins_policy_free(&p);
    qins_policy_free(&p); // twice: emptied, a no-op
    qins_policy_free(NULL);
}

static void write_text(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(s, 1, n, f), n);
    fclose(f);
}

static cJSON *tensor1(cJSON *doc) { return cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tensors"), 1); }

Test(policy, bad_json_is_a_one_line_error) {
    char dir[512], good[700], bad[700];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(good, sizeof good, "%s/good.policy.json", dir);
    snprintf(bad, sizeof bad, "%s/bad.policy.json", dir);
    struct qins_policy p = sample(), q;
    cr_assert_eq(qins_policy_write_json(&p, good), QINS_OK, "%s", test_log);
    qins_policy_free(&p);
    char *text = test_read_file(good, NULL);
    cr_assert(strstr(text, "\"version\":\t1"), "a version field:\n%.200s", text);
    enum { N = 11 };
    for (int k = 0; k < N; k++) {
        int want = QINS_ERR_FORMAT;
        const char *msg = NULL;
        const char *path = bad;
        if (k == 0) { // truncated
            write_text(bad, text, strlen(text) / 2);
            msg = "not valid JSON";
        } else if (k == 1) {
            snprintf(bad, sizeof bad, "%s/missing.policy.json", dir);
            want = QINS_ERR_IO, msg = "cannot open";
        } else {
            snprintf(bad, sizeof bad, "%s/bad.policy.json", dir);
            cJSON *doc = cJSON_Parse(text), *t1 = tensor1(doc);
            cr_assert_not_null(t1);
            switch (k) {
            case 2: // wrong type
                cJSON_ReplaceItemInObject(t1, "bits", cJSON_CreateString("8"));
                msg = "key 'tensors[1].bits': expected a number";
                break;
            case 3:
                cJSON_ReplaceItemInObject(t1, "coding", cJSON_CreateString("zstd"));
                msg = "key 'tensors[1].coding': unknown coding 'zstd'";
                break;
            case 4: // negative size
                cJSON_ReplaceItemInObject(cJSON_GetObjectItem(t1, "bytes"), "huffman", cJSON_CreateNumber(-5));
                msg = "key 'tensors[1].bytes.huffman': -5 is not a non-negative integer";
                break;
            case 5: // missing key
                cJSON_DeleteItemFromObject(t1, "reads_per_token");
                msg = "key 'tensors[1].reads_per_token': missing";
                break;
            case 6:
                cJSON_ReplaceItemInObject(doc, "version", cJSON_CreateNumber(2));
                msg = "key 'version': 2, this build reads version 1";
                break;
            case 7:
                cJSON_ReplaceItemInObject(t1, "class", cJSON_CreateString("bias"));
                msg = "key 'tensors[1].class': unknown class 'bias'";
                break;
            case 8: // totals edited by hand
                cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "totals"), "bytes_after", cJSON_CreateNumber(1));
                msg = "key 'totals.bytes_after': does not match the tensors";
                break;
            case 9: // the chosen coding was never measured
                cJSON_ReplaceItemInObject(cJSON_GetObjectItem(t1, "bytes"), "huffman", cJSON_CreateNumber(0));
                msg = "key 'tensors[1].coding': 'huffman' has no measured size";
                break;
            case 10:
                cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "config"), "budget_frac", cJSON_CreateNumber(3));
                msg = "key 'config.budget_frac': 3 is out of range [0, 1]";
                break;
            }
            char *s = cJSON_Print(doc);
            write_text(bad, s, strlen(s));
            free(s);
            cJSON_Delete(doc);
        }
        test_log[0] = 0;
        memset(&q, 0x5a, sizeof q);
        int st = qins_policy_read_json(path, &q);
        cr_assert_eq(st, want, "case %d: status %d, log %s", k, st, test_log);
        cr_assert(strstr(test_log, msg), "case %d: expected '%s' in:\n%s", k, msg, test_log);
        cr_assert(strstr(test_log, path), "case %d: the message names the file:\n%s", k, test_log);
        cr_assert_eq(count_lines(test_log), 1, "case %d: one line:\n%s", k, test_log);
        cr_assert_eq(q.n, 0, "case %d: out left empty", k);
        cr_assert_null(q.e);
        qins_policy_free(&q);
    }
    free(text);
    // The good file still reads.
    cr_assert_eq(qins_policy_read_json(good, &q), QINS_OK, "%s", test_log);
    qins_policy_free(&q);
}
