// tools/cli_tokenize.c — `qins tokenize`: text -> token ids with a model's SPM vocab.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "common.h"
#include "gguf.h"
#include "json_out.h"
#include "paths.h"
#include "tokenizer.h"

static void usage(FILE *f) {
    fprintf(f, "usage: qins tokenize --model M (--text-file F | --text T) [--no-bos] [--json] [--pieces]\n"
               "                     [--parse-special]\n"
               "  BOS is added when the vocab says so (add_bos_token, default true) unless --no-bos.\n"
               "  --json prints one object {\"ids\":[...]} (plus \"pieces\" with --pieces); otherwise ids\n"
               "  space-separated, or one 'id -> piece' line each with --pieces. --parse-special turns\n"
               "  control-token texts such as <s> into their ids (llama-tokenize's default).\n");
}

int qins_cli_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *text_file = NULL;
    bool no_bos = false, json = false, pieces = false, parse_special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-bos")) no_bos = true;
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--pieces")) pieces = true;
        else if (!strcmp(a, "--parse-special")) parse_special = true;
        else if (i + 1 < argc && !strcmp(a, "--model")) model = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--text")) text = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--text-file")) text_file = argv[++i];
        else {
            fprintf(stderr, "qins tokenize: unknown option or missing value '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model || (!text == !text_file)) {
        fprintf(stderr, "qins tokenize: need --model and exactly one of --text / --text-file\n");
        usage(stderr);
        return 2;
    }
    char *owned = NULL;
    size_t len;
    if (text_file) {
        // An empty file is valid input here (llama.cpp's vectors include empty strings): it
        // tokenizes to BOS alone, or to nothing with --no-bos.
        long file_len;
        if (!(owned = cli_read_file("tokenize", text_file, &file_len))) return 1;
        len = (size_t)file_len;
        text = owned;
    } else {
        len = strlen(text);
    }
    char path[4096];
    qins_gguf_t *g = NULL;
    struct qins_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 1; // the core has printed the error line when a call below fails
    if (qins_path_resolve(QINS_PATH_MODEL, model, path, sizeof path) < 0 || qins_gguf_open(path, &g) < 0 ||
        qins_tokenizer_init_gguf(g, &tok) < 0)
        goto done;
    unsigned flags = (!no_bos && qins_tokenizer_add_bos(tok) ? QINS_TOK_ADD_BOS : 0) |
                     (parse_special ? QINS_TOK_PARSE_SPECIAL : 0);
    if (qins_tokenizer_encode_ex(tok, text, len, flags, &ids, &n) < 0) goto done;
    if (json) {
        struct qins_json j;
        qins_json_init(&j, stdout);
        qins_json_object_begin(&j);
        qins_json_key(&j, "ids");
        qins_json_array_begin(&j);
        for (size_t i = 0; i < n; i++) qins_json_int(&j, ids[i]);
        qins_json_array_end(&j);
        if (pieces) {
            qins_json_key(&j, "pieces");
            qins_json_array_begin(&j);
            for (size_t i = 0; i < n; i++) {
                const char *p;
                size_t pn;
                qins_tokenizer_piece(tok, ids[i], &p, &pn);
                qins_json_str_n(&j, p, pn);
            }
            qins_json_array_end(&j);
        }
        qins_json_object_end(&j);
        if (qins_json_end(&j) < 0) goto done;
    } else if (pieces) {
        for (size_t i = 0; i < n; i++) {
            const char *p;
            size_t pn;
            qins_tokenizer_piece(tok, ids[i], &p, &pn);
            printf("%6d -> '%.*s'\n", (int)ids[i], (int)pn, p);
        }
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        printf("\n");
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "qins tokenize: writing the output failed\n");
        goto done;
    }
    rc = 0;
done:
    free(ids);
    qins_tokenizer_free(tok);
    qins_gguf_free(g);
    free(owned);
    return rc;
}
