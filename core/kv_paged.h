// core/kv_paged.h — the paged codec KV store (Pattern A for the cache) and the `--kv` spec.
// Owns: pages of P tokens per layer for K and V, each encoded with its own codec once full;
// the page being filled stays FP32; view() decodes pages into a per-store FP32 scratch (one
// layer at a time), exact byte accounting, page-decode timing. Does not own: the codecs
// (core/codec.h) or attention. Errors: negative qins_status values with a log line.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "kv.h"
#include "page.h"

#define QINS_KV_MAX_LAYERS 256

// Every full page is a compact KV page of core/page.h: QINS_PAGE_KV_HEADER_BYTES (codec, bits,
// granularity, scale mode, tokens, payload size, CRC-32C) right before its payload. Each read
// (view, qins_kv_paged_page) verifies it: a corrupt page is QINS_ERR_FORMAT, never decoded.
//
// Fused (option `fused`): the store also offers view_coded (core/kv.h), so attention reads the
// pages through kernels/attn_coded.h without decoding them; each such read verifies every page
// as view() does (header, CRC-32C, scales finite). `fused=once` verifies each page at its first
// read only: a page is written once, when it fills, and nothing writes it again until clear(),
// so a later check can only find a stray write of this process, not a framing or encoder fault;
// what it saves is reading every page a second time (for the CRC) on every step. Layers whose
// codecs the kernels do not take (float formats, QINS-log, per-channel scales, K and V pages of
// different lengths) are read through view() as without the option.

struct qins_kv_spec {
    char name[64];                    // as given ("qins8", "int6", "fp16", …)
    int plain;                        // 1: plain FP32 or FP16 store (no pages); 0: paged codec store
    struct qins_codec_params k, v;    // codecs for K and V (paged stores)
    int page_tokens;                  // tokens per page (> 0), or 0 to derive it from page_bytes
    int page_bytes;                   // code bytes per page when page_tokens == 0
    // per-layer override: layers listed keep `override` (e.g. fp16) for K and V
    int n_override;
    int override_layers[QINS_KV_MAX_LAYERS];
    struct qins_codec_params override;
    int fused;                        // 0: view() only; 1: view_coded too, pages verified on every
                                      // read; 2: view_coded, each page verified at its first read
};

// Parses "fp32", "fp16", or a codec name with options separated by ':' — e.g.
// "qins8:alpha=2:gran=group32:page=16:scale=rms:kcodec=int8:keep=0,-1:keep_codec=fp16".
// Options: alpha, gran (tensor|page|row|token|column|channel|groupG), page (tokens),
// page_bytes, scale (absmax|rms), kcodec / vcodec (a different codec for K or V), keep
// (comma-separated layers, negative counts from the end), keep_codec, and `fused` (bare, or
// fused=once). Returns 0 or QINS_ERR_ARG.
int qins_kv_spec_parse(const char *text, struct qins_kv_spec *out);

// Creates the store a spec names for n_layer layers of n_ctx positions and kv_dim values.
// Returns 0 or < 0 (bad spec for these dims: page smaller than one token, k out of range, …).
int qins_kv_store_create(const struct qins_kv_spec *spec, int n_layer, int n_ctx, int kv_dim,
                         struct qins_kv_store **out);

// Paged-store figures (all zero for the plain stores).
struct qins_kv_paged_stats {
    int page_tokens;              // tokens per page (layer 0's K)
    size_t page_code_bytes;       // encoded bytes of one full page (layer 0's K, header included)
    uint64_t pages_encoded, pages_decoded;
    uint64_t pages_fused;         // pages read by view_coded (not decoded)
    double encode_seconds, decode_seconds; // time spent in page encode / decode
};
// Returns 1 and fills *out when s is a paged store, else 0.
int qins_kv_paged_stats(const struct qins_kv_store *s, struct qins_kv_paged_stats *out);
// Verifies full page `page` of layer's K (which = 0) or V (which = 1), points *payload at its
// encoded bytes (no header, which sits right before them; *len bytes) and copies that stream's
// codec into *p: for code histograms of real pages. Valid until the store is next changed.
// Returns 0, QINS_ERR_RANGE (not a paged store, no such layer or page) or QINS_ERR_FORMAT
// (the page fails its check).
int qins_kv_paged_page(const struct qins_kv_store *s, int layer, int which, int page, const uint8_t **payload,
                       size_t *len, struct qins_codec_params *p);
// Stored bytes of one layer (pages with headers + the FP32 page being filled), K and V apart.
// Works for every store kind. Returns 0 or QINS_ERR_RANGE.
int qins_kv_layer_bytes(const struct qins_kv_store *s, int layer, size_t *k_bytes, size_t *v_bytes);
// Bytes a full cache of n_pos positions takes under spec (pages full, the remainder in an FP32
// page), computed from dimensions alone: the long-context projection. Returns 0 or < 0.
int qins_kv_projected_bytes(const struct qins_kv_spec *spec, int n_layer, int kv_dim, int64_t n_pos,
                            double *bytes);
