// kernels/cpu/simd_end.h — ends the target region that simd_avx2.h or simd_avx512.h opened: the
// last include of such a file. No include guard: each of those files ends its own region.
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
