// core/cfg_check.h — config value checks (qins_cfg_check_fn) that run a core parser quietly, so
// the parser's own error line becomes the config's one message naming the key. Owns nothing.
// Errors: each check returns 0 when the value parses, else 1 with the parser's reason in why.
#pragma once
#include <stddef.h>

// A KV store spec (core/kv_paged.h) or "none". Returns 0 or 1.
int qins_cfg_check_kv_or_none(const char *value, char *why, size_t cap);
// A weight codec (core/codec.h, e.g. qins8, int8, fp16). Returns 0 or 1.
int qins_cfg_check_codec(const char *value, char *why, size_t cap);
