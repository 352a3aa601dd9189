// kernels/cpu_features.h — what this x86 CPU and its OS support: CPUID leaves 0/1/7 and the brand
// string, each vector extension counted only when XGETBV says the OS saves its registers.
// Owns: the one place CPUID/XGETBV are read (half.c's F16C path, core/blas.c's core check).
// Does not own: any decision made from them. Cannot fail: a non-x86 build reports nothing.
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct qins_cpu_features {
    char vendor[16];        // "GenuineIntel", "AuthenticAMD", "" when unknown
    char model[64];         // brand string, leading/trailing spaces trimmed ("" when absent)
    bool avx, avx2, fma, f16c;                      // usable: OS saves YMM state
    bool avx512f, avx512bw, avx512vl, avx512_bf16;  // usable: OS saves opmask + ZMM state
    bool avx512vbmi;                                // byte permutes (the fused 8-bit LUT read)
    bool avx512vnni;                                // int8 dot products (the integer Q8_0 GEMV)
};

// Fills *f from CPUID/XGETBV (read once, cached; thread-safe after the first call). Returns nothing.
void qins_cpu_features_get(struct qins_cpu_features *f);
// Writes the usable features as "avx avx2 fma f16c avx512f ..." into out. Returns out.
char *qins_cpu_features_str(const struct qins_cpu_features *f, char *out, size_t cap);
// The vector level the SIMD kernels (kernels/matmul.h, kernels/attn.h) can use here: 2 = AVX-512
// F/BW/VL with AVX2+FMA+F16C, 1 = AVX2+FMA+F16C, 0 = neither (scalar). Cached like the features.
int qins_cpu_simd_level(void);
