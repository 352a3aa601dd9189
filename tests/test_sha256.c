// tests/test_sha256.c — FIPS 180-4 test vectors, streaming, and the shared data file's hash.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "helpers/shared_paths.h"
#include "sha256.h"

Test(sha256, known_vectors) {
    char hex[QINS_SHA256_HEX];
    qins_sha256_hex("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    qins_sha256_hex("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    qins_sha256_hex(m448, strlen(m448), hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                       "mnopqrstnopqrstu";
    qins_sha256_hex(m896, strlen(m896), hex);
    cr_assert_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, million_a_streamed_in_odd_pieces) {
    struct qins_sha256 s;
    qins_sha256_init(&s);
    char buf[997];
    memset(buf, 'a', sizeof buf);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof buf ? left : (left % 7) + 1 + (left % 500);
        if (n > left) n = left;
        qins_sha256_update(&s, buf, n);
        left -= n;
    }
    uint8_t d[32];
    qins_sha256_final(&s, d);
    char hex[65];
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, boundary_lengths_match_one_shot) {
    // 55, 56, 63, 64, 65 bytes sit on the padding boundaries: streamed byte by byte == one shot.
    char data[130];
    for (int i = 0; i < 130; i++) data[i] = (char)(i * 7 + 3);
    size_t lens[] = {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char a[QINS_SHA256_HEX], b[QINS_SHA256_HEX];
        qins_sha256_hex(data, lens[k], a);
        struct qins_sha256 s;
        qins_sha256_init(&s);
        for (size_t i = 0; i < lens[k]; i++) qins_sha256_update(&s, data + i, 1);
        uint8_t d[32];
        qins_sha256_final(&s, d);
        for (int i = 0; i < 32; i++) sprintf(b + 2 * i, "%02x", d[i]);
        cr_assert_str_eq(a, b, "length %zu", lens[k]);
    }
}

Test(sha256, file_matches_published_hash_of_eval_text) {
    char path[1200], hex[QINS_SHA256_HEX];
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", path, sizeof path) < 0) return;
    cr_assert_eq(qins_sha256_file(path, hex), QINS_OK);
    // From shared/data/README.md.
    cr_assert_str_eq(hex, "5352b299dcb1a32898b2d779b145b5a05f3e1265953fd21c264c9f9f9c9ae33d");
    cr_assert_eq(qins_sha256_file("/nonexistent/file", hex), QINS_ERR_IO);
}
