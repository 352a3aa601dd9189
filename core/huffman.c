// core/huffman.c — canonical length-limited Huffman, RLE tokens, table-driven decoding.
#include "huffman.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

// ---- code lengths
struct fs {
    uint64_t f;
    uint32_t s;
};

static int cmp_fs(const void *a, const void *b) {
    const struct fs *x = a, *y = b;
    if (x->f != y->f) return x->f < y->f ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

int qins_huffman_lengths(const uint64_t *hist, size_t nsym, int max_len, uint8_t *lens) {
    QINS_CHECK(max_len >= 1 && max_len <= QINS_HUFF_MAX_LEN, QINS_ERR_ARG, "max length %d", max_len);
    memset(lens, 0, nsym);
    size_t m = 0;
    for (size_t i = 0; i < nsym; i++) m += hist[i] != 0;
    if (m == 0) return QINS_OK;
    QINS_CHECK(m <= ((size_t)1 << max_len), QINS_ERR_RANGE, "%zu symbols cannot fit %d-bit codes", m, max_len);
    struct fs *leaf = malloc(m * sizeof *leaf);
    uint64_t *w = malloc(2 * m * sizeof *w);
    uint32_t *parent = malloc(2 * m * sizeof *parent), *depth = malloc(2 * m * sizeof *depth);
    if (!leaf || !w || !parent || !depth) {
        free(leaf), free(w), free(parent), free(depth);
        QINS_CHECK(0, QINS_ERR_NOMEM, "no memory for %zu symbols", m);
    }
    for (size_t i = 0, j = 0; i < nsym; i++)
        if (hist[i]) leaf[j++] = (struct fs){hist[i], (uint32_t)i};
    qsort(leaf, m, sizeof *leaf, cmp_fs); // ascending frequency
    if (m == 1) {
        lens[leaf[0].s] = 1;
        goto done;
    }
    // Two-queue Huffman: leaves 0..m-1 (sorted), internal nodes m..2m-2 created in order.
    for (size_t i = 0; i < m; i++) w[i] = leaf[i].f;
    size_t li = 0, ii = m, next = m;
    for (; next < 2 * m - 1; next++) {
        size_t pick[2];
        for (int t = 0; t < 2; t++) {
            if (li < m && (ii >= next || w[li] <= w[ii])) pick[t] = li++;
            else pick[t] = ii++;
        }
        w[next] = w[pick[0]] + w[pick[1]];
        parent[pick[0]] = parent[pick[1]] = (uint32_t)next;
    }
    depth[2 * m - 2] = 0;
    for (size_t i = 2 * m - 2; i-- > 0;) depth[i] = depth[parent[i]] + 1;
    // Count lengths, clamp to max_len, then repair the Kraft sum by lengthening the longest codes
    // shorter than max_len (zlib/miniz-style), and hand the lengths out by frequency.
    uint32_t count[64] = {0};
    for (size_t i = 0; i < m; i++) count[depth[i] > (uint32_t)max_len ? (uint32_t)max_len : depth[i]]++;
    uint64_t kraft = 0, full = 1ull << max_len;
    for (int l = 1; l <= max_len; l++) kraft += (uint64_t)count[l] << (max_len - l);
    while (kraft > full) {
        int l = max_len - 1;
        while (count[l] == 0) l--;
        count[l]--;
        count[l + 1]++;
        kraft -= 1ull << (max_len - l - 1);
    }
    // Most frequent symbols (end of the ascending list) get the shortest lengths.
    size_t idx = m;
    for (int l = 1; l <= max_len; l++)
        for (uint32_t c = 0; c < count[l]; c++) lens[leaf[--idx].s] = (uint8_t)l;
done:
    free(leaf), free(w), free(parent), free(depth);
    return QINS_OK;
}

// Canonical codes, bit-reversed for the LSB-first stream. Returns the longest length.
static int canonical_codes(const uint8_t *lens, size_t nsym, uint16_t *codes) {
    uint32_t count[QINS_HUFF_MAX_LEN + 1] = {0}, next[QINS_HUFF_MAX_LEN + 2] = {0};
    int maxl = 0;
    for (size_t i = 0; i < nsym; i++) {
        count[lens[i]]++;
        if (lens[i] > maxl) maxl = lens[i];
    }
    count[0] = 0;
    uint32_t code = 0;
    for (int l = 1; l <= QINS_HUFF_MAX_LEN; l++) {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    for (size_t i = 0; i < nsym; i++) {
        int l = lens[i];
        if (!l) continue;
        uint32_t c = next[l]++, r = 0;
        for (int b = 0; b < l; b++) r |= ((c >> b) & 1u) << (l - 1 - b);
        codes[i] = (uint16_t)r;
    }
    return maxl;
}

// ---- RLE tokenisation: calls emit(token, extra, extra_bits) for every token.
static int floor_log2(uint32_t v) { return 31 - __builtin_clz(v); }

#define RLE_MAX_RUN ((1u << QINS_HUFF_RUN_TOKENS) - 1)

struct bw {
    uint8_t *out;
    size_t o;
    uint64_t acc;
    int nbits;
    uint64_t total;
};

static inline void bw_put(struct bw *b, uint32_t bits, int len) {
    b->total += (uint64_t)len;
    if (!b->out) return;
    b->acc |= (uint64_t)bits << b->nbits;
    b->nbits += len;
    if (b->nbits >= 32) {
        uint32_t v = (uint32_t)b->acc;
        memcpy(b->out + b->o, &v, 4);
        b->o += 4;
        b->acc >>= 32;
        b->nbits -= 32;
    }
}

static void bw_flush(struct bw *b) {
    if (!b->out) return;
    while (b->nbits > 0) {
        b->out[b->o++] = (uint8_t)b->acc;
        b->acc >>= 8;
        b->nbits -= 8;
    }
}

// Walks the token stream; with lens/codes NULL it counts tokens into hist, else writes them.
static void tokens(const uint16_t *sym, size_t n, size_t nsym, int rle, uint64_t *hist, const uint8_t *lens,
                   const uint16_t *codes, struct bw *b) {
    for (size_t i = 0; i < n;) {
        uint32_t s = sym[i];
        size_t r = 1;
        if (rle)
            while (i + r < n && sym[i + r] == s) r++;
        if (hist) hist[s]++;
        else bw_put(b, codes[s], lens[s]);
        for (size_t rem = r - 1; rem > 0;) {
            uint32_t len = rem > RLE_MAX_RUN ? RLE_MAX_RUN : (uint32_t)rem;
            int c = floor_log2(len);
            size_t t = nsym + (size_t)c;
            if (hist) {
                hist[t]++;
            } else {
                bw_put(b, codes[t], lens[t]);
                if (c) bw_put(b, len - (1u << c), c);
            }
            rem -= len;
        }
        i += r;
    }
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int qins_huffman_encode(const uint16_t *sym, size_t n, size_t nsym, int rle, uint8_t *out, size_t cap,
                        size_t *out_len) {
    QINS_CHECK(nsym >= 1 && nsym <= QINS_HUFF_MAX_SYMBOLS, QINS_ERR_ARG, "alphabet of %zu symbols", nsym);
    QINS_CHECK(sym || n == 0, QINS_ERR_ARG, "null symbols");
    for (size_t i = 0; i < n; i++)
        QINS_CHECK(sym[i] < nsym, QINS_ERR_RANGE, "symbol %u at %zu outside alphabet %zu", sym[i], i, nsym);
    size_t na = nsym + (rle ? QINS_HUFF_RUN_TOKENS : 0);
    uint64_t *hist = calloc(na, sizeof *hist);
    uint8_t *lens = malloc(na);
    uint16_t *codes = calloc(na, sizeof *codes);
    int rc = QINS_ERR_NOMEM;
    if (!hist || !lens || !codes) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "no memory for %zu symbols", na);
        goto done;
    }
    tokens(sym, n, nsym, rle, hist, NULL, NULL, NULL);
    rc = qins_huffman_lengths(hist, na, QINS_HUFF_MAX_LEN, lens);
    if (rc < 0) goto done;
    int maxl = canonical_codes(lens, na, codes);
    // Size: header + nibble table + payload bits (codes + RLE extra bits).
    uint64_t bits = 0;
    for (size_t s = 0; s < na; s++) {
        bits += hist[s] * lens[s];
        if (s >= nsym) bits += hist[s] * (uint64_t)(s - nsym);
    }
    size_t table = (na + 1) / 2, total = QINS_HUFF_HEADER_BYTES + table + (size_t)((bits + 7) / 8);
    *out_len = total;
    rc = QINS_OK;
    if (!out) goto done;
    if (cap < total) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "huffman output buffer %zu < %zu bytes", cap, total);
        rc = QINS_ERR_RANGE;
        goto done;
    }
    out[0] = rle ? 'R' : 'H';
    out[1] = (uint8_t)maxl;
    put_u32(out + 2, (uint32_t)nsym);
    put_u64(out + 6, (uint64_t)n);
    put_u64(out + 14, bits);
    uint8_t *t = out + QINS_HUFF_HEADER_BYTES;
    memset(t, 0, table);
    for (size_t s = 0; s < na; s++) t[s / 2] |= (uint8_t)(lens[s] << (4 * (s & 1)));
    // The bit writer stores 4 bytes at a time; payload bytes are exactly ceil(bits/8).
    struct bw b = {.out = t + table};
    tokens(sym, n, nsym, rle, NULL, lens, codes, &b);
    bw_flush(&b);
done:
    free(hist), free(lens), free(codes);
    return rc;
}

int qins_huffman_info(const uint8_t *in, size_t in_len, struct qins_huffman_info *info) {
    QINS_CHECK(in && in_len >= QINS_HUFF_HEADER_BYTES, QINS_ERR_FORMAT, "huffman stream of %zu bytes is truncated",
               in_len);
    QINS_CHECK(in[0] == 'H' || in[0] == 'R', QINS_ERR_FORMAT, "bad huffman magic 0x%02x", in[0]);
    memset(info, 0, sizeof *info);
    info->rle = in[0] == 'R';
    info->max_len = in[1];
    info->nsym = (uint32_t)(in[2] | in[3] << 8 | in[4] << 16 | (uint32_t)in[5] << 24);
    info->n = get_u64(in + 6);
    info->payload_bits = get_u64(in + 14);
    QINS_CHECK(info->max_len <= QINS_HUFF_MAX_LEN, QINS_ERR_FORMAT, "code length %d > 15", info->max_len);
    QINS_CHECK(info->nsym >= 1 && info->nsym <= QINS_HUFF_MAX_SYMBOLS, QINS_ERR_FORMAT, "alphabet %u invalid",
               info->nsym);
    size_t na = info->nsym + (info->rle ? QINS_HUFF_RUN_TOKENS : 0);
    info->table_bytes = (na + 1) / 2;
    size_t rest = in_len - QINS_HUFF_HEADER_BYTES;
    QINS_CHECK(rest >= info->table_bytes, QINS_ERR_FORMAT, "huffman length table truncated");
    QINS_CHECK(info->payload_bits <= (uint64_t)(rest - info->table_bytes) * 8 &&
                   (info->payload_bits + 7) / 8 == (uint64_t)(rest - info->table_bytes),
               QINS_ERR_FORMAT, "huffman payload is %zu bytes, header says %llu bits", rest - info->table_bytes,
               (unsigned long long)info->payload_bits);
    info->total_bytes = in_len;
    return QINS_OK;
}

int qins_huffman_decode(const uint8_t *in, size_t in_len, uint16_t *out, size_t cap, size_t *n_out) {
    struct qins_huffman_info hi;
    QINS_TRY(qins_huffman_info(in, in_len, &hi));
    *n_out = 0;
    QINS_CHECK(hi.n <= cap, QINS_ERR_RANGE, "stream holds %llu symbols, buffer %zu", (unsigned long long)hi.n, cap);
    if (hi.n == 0) {
        QINS_CHECK(hi.payload_bits == 0, QINS_ERR_FORMAT, "empty stream with payload");
        return QINS_OK;
    }
    // Without runs every symbol takes >= 1 bit: bounds the work on a forged count.
    QINS_CHECK(hi.rle || hi.n <= hi.payload_bits, QINS_ERR_FORMAT, "%llu symbols cannot fit %llu bits",
               (unsigned long long)hi.n, (unsigned long long)hi.payload_bits);
    size_t na = hi.nsym + (hi.rle ? QINS_HUFF_RUN_TOKENS : 0);
    const uint8_t *tab = in + QINS_HUFF_HEADER_BYTES;
    uint8_t *lens = malloc(na);
    uint16_t *codes = malloc(na * sizeof *codes);
    uint32_t *dec = NULL;
    int rc = QINS_ERR_NOMEM;
    if (!lens || !codes) goto done;
    int T = 0;
    uint64_t kraft = 0;
    rc = QINS_ERR_FORMAT;
    for (size_t s = 0; s < na; s++) {
        lens[s] = (tab[s / 2] >> (4 * (s & 1))) & 15;
        if (lens[s] > T) T = lens[s];
        kraft += lens[s] ? 1ull << (QINS_HUFF_MAX_LEN - lens[s]) : 0;
    }
    if (T == 0 || T != hi.max_len || kraft > (1ull << QINS_HUFF_MAX_LEN)) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "huffman code lengths invalid (max %d, header %d%s)", T,
                          hi.max_len, kraft > (1ull << QINS_HUFF_MAX_LEN) ? ", over-subscribed" : "");
        goto done;
    }
    canonical_codes(lens, na, codes);
    rc = QINS_ERR_NOMEM;
    dec = calloc((size_t)1 << T, sizeof *dec); // entry: sym << 4 | len; 0 = no code (incomplete)
    if (!dec) goto done;
    for (size_t s = 0; s < na; s++) {
        int l = lens[s];
        if (!l) continue;
        for (uint32_t j = codes[s]; j < (1u << T); j += 1u << l) dec[j] = (uint32_t)s << 4 | (uint32_t)l;
    }
    const uint8_t *p = tab + hi.table_bytes;
    size_t plen = (size_t)((hi.payload_bits + 7) / 8), pos = 0, o = 0, n = (size_t)hi.n;
    uint64_t buf = 0, consumed = 0;
    int cnt = 0;
    uint32_t tmask = (1u << T) - 1;
    rc = QINS_ERR_FORMAT;
    if (!hi.rle) {
        // Fast path: branch-free refill (8-byte loads while 8 bytes remain), then up to
        // floor(56 / T) symbols per refill.
        int per = 56 / T;
        while (pos + 8 <= plen && o + (size_t)per <= n) {
            uint64_t v;
            memcpy(&v, p + pos, 8);
            buf |= v << cnt;
            pos += (size_t)((63 - cnt) >> 3);
            cnt |= 56;
            for (int t = 0; t < per; t++) {
                uint32_t e = dec[buf & tmask];
                if (!e) goto bad_code;
                int l = (int)(e & 15);
                out[o++] = (uint16_t)(e >> 4);
                buf >>= l;
                cnt -= l;
                consumed += (uint64_t)l;
            }
        }
    }
    // Careful path: byte refill, zero padding past the end, every length checked.
    while (o < n) {
        while (cnt <= 56 && pos < plen) {
            buf |= (uint64_t)p[pos++] << cnt;
            cnt += 8;
        }
        uint32_t e = dec[buf & tmask];
        if (!e) goto bad_code;
        int l = (int)(e & 15);
        if (consumed + (uint64_t)l > hi.payload_bits) goto truncated;
        buf >>= l;
        cnt -= l;
        consumed += (uint64_t)l;
        uint32_t s = e >> 4;
        if (s < hi.nsym) {
            out[o++] = (uint16_t)s;
            continue;
        }
        int c = (int)(s - hi.nsym);
        if (c) {
            while (cnt <= 56 && pos < plen) {
                buf |= (uint64_t)p[pos++] << cnt;
                cnt += 8;
            }
            if (consumed + (uint64_t)c > hi.payload_bits) goto truncated;
        }
        size_t run = ((size_t)1 << c) + (size_t)(buf & ((1ull << c) - 1));
        buf >>= c;
        cnt -= c;
        consumed += (uint64_t)c;
        if (o == 0 || run > n - o) {
            qins_log_error_at(__FILE__, __LINE__, __func__, "huffman run of %zu at symbol %zu is invalid", run, o);
            goto done;
        }
        uint16_t prev = out[o - 1];
        for (size_t r = 0; r < run; r++) out[o++] = prev;
    }
    if (consumed != hi.payload_bits) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "huffman stream used %llu of %llu bits",
                          (unsigned long long)consumed, (unsigned long long)hi.payload_bits);
        goto done;
    }
    *n_out = o;
    rc = QINS_OK;
    goto done;
bad_code:
    qins_log_error_at(__FILE__, __LINE__, __func__, "huffman stream: invalid code at symbol %zu", o);
    goto done;
truncated:
    qins_log_error_at(__FILE__, __LINE__, __func__, "huffman stream truncated at symbol %zu", o);
done:
    free(lens), free(codes), free(dec);
    return rc;
}
