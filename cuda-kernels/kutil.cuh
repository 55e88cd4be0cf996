// Helpers shared by the forward kernels: dtype conversion, warp and block reductions, vector loads.
// Device-side only; every kernel stays `extern "C" __global__` in its own file.
#pragma once
#include "common.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

// `#pragma unroll` for nvcc; GCC's own pragma for the emulated build (g++ -Wall warns about the CUDA one).
#if defined(__CUDACC__)
#define KU_UNROLL _Pragma("unroll")
#else
#define KU_UNROLL _Pragma("GCC unroll 16")
#endif

namespace ku {

constexpr unsigned FULL = 0xffffffffu;

// ---------------------------------------------------------------- dtypes

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }

// Round to nearest even (as __float2bfloat16 / __float2half_rn).
template <class T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }

// Two packed 16-bit values (little end first) of a 32-bit word, widened to f32.
__device__ __forceinline__ void unpack2(unsigned w, __nv_bfloat16*, float& a, float& b) {
    a = __uint_as_float(w << 16);
    b = __uint_as_float(w & 0xffff0000u);
}
__device__ __forceinline__ void unpack2(unsigned w, __half*, float& a, float& b) {
    __half_raw lo, hi;
    lo.x = (unsigned short)(w & 0xffffu);
    hi.x = (unsigned short)(w >> 16);
    a = __half2float(__half(lo));
    b = __half2float(__half(hi));
}

// 16 bytes of weights, streamed (read once: evict-first on the GPU).
__device__ __forceinline__ uint4 ld_stream16(const void* p) {
#ifdef __CUDA_ARCH__
    return __ldcs(reinterpret_cast<const uint4*>(p));
#else
    return *reinterpret_cast<const uint4*>(p);
#endif
}

// 16 bytes as 4 / 8 floats: the widened elements of one vector of T.
template <class T> struct Vec16;
template <> struct Vec16<float> {
    static constexpr int N = 4;
    __device__ __forceinline__ static void widen(uint4 u, float* f) {
        f[0] = __uint_as_float(u.x); f[1] = __uint_as_float(u.y);
        f[2] = __uint_as_float(u.z); f[3] = __uint_as_float(u.w);
    }
};
template <class H> struct Vec16Half {
    static constexpr int N = 8;
    __device__ __forceinline__ static void widen(uint4 u, float* f) {
        unpack2(u.x, (H*)nullptr, f[0], f[1]); unpack2(u.y, (H*)nullptr, f[2], f[3]);
        unpack2(u.z, (H*)nullptr, f[4], f[5]); unpack2(u.w, (H*)nullptr, f[6], f[7]);
    }
};
template <> struct Vec16<__nv_bfloat16> : Vec16Half<__nv_bfloat16> {};
template <> struct Vec16<__half> : Vec16Half<__half> {};

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// ---------------------------------------------------------------- reductions (full warps, warp size 32)

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL, v, o));
    return v;
}
__device__ __forceinline__ double shfl_xor_d(double v, int o) {
    long long b = __double_as_longlong(v);
    int lo = (int)(b & 0xffffffffll), hi = (int)(b >> 32);
    lo = __shfl_xor_sync(FULL, lo, o);
    hi = __shfl_xor_sync(FULL, hi, o);
    return __longlong_as_double(((long long)hi << 32) | (long long)(unsigned)lo);
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += shfl_xor_d(v, o);
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total. `red` is a
// shared array of at least 32 elements. Deterministic: a fixed tree for a fixed blockDim.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if constexpr (sizeof(T) == 8) v = warp_sum_d(v); else v = warp_sum(v);
    __syncthreads();                       // red may still be read by a previous call
    if (lane == 0) red[warp] = v;
    __syncthreads();
    T t = lane < nw ? red[lane] : T(0);
    if constexpr (sizeof(T) == 8) t = warp_sum_d(t); else t = warp_sum(t);
    return t;
}

__device__ __forceinline__ float block_max(float v, float* red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float t = lane < nw ? red[lane] : -INFINITY;
    return warp_max(t);
}

} // namespace ku
