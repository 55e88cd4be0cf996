// Helpers shared by the kernel files. Compiles under nvcc and under the CPU emulation (emu/cuda_emu.h).
#pragma once

#include <cuda_fp16.h>
#include <cuda_bf16.h>

// Dynamic shared memory (the launch's sharedMemBytes), at function scope:
//   EXTERN_SHARED(float, smem);   smem[i] = ...
// nvcc: `extern __shared__ float smem[]` (16-byte aligned); the emulation cannot redefine that declaration, so there
// it is a pointer to the block's dynamic shared memory.
#if defined(CUEMU_H)
#define EXTERN_SHARED(type, name) type* const name = reinterpret_cast<type*>(::cuemu::dynamic_shared_memory())
#else
#define EXTERN_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

#define FULL_MASK 0xffffffffu

// Sum / max over the 32 lanes of a warp; every lane gets the result. All 32 lanes must call it.
__device__ __forceinline__ float warp_reduce_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(FULL_MASK, v, offset);
    return v;
}
__device__ __forceinline__ float warp_reduce_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, offset));
    return v;
}

// Sum / max over a 1-D block (blockDim.x a multiple of 32, at most 1024); every thread gets the result. Every thread
// of the block must call it (it contains __syncthreads). Consecutive calls are safe without an extra barrier.
__device__ __forceinline__ float block_reduce_sum(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_reduce_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float x = lane < (int)(blockDim.x >> 5) ? partial[lane] : 0.0f;
        x = warp_reduce_sum(x);
        if (lane == 0) total = x;
    }
    __syncthreads();
    return total;
}
__device__ __forceinline__ float block_reduce_max(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_reduce_max(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float x = lane < (int)(blockDim.x >> 5) ? partial[lane] : -INFINITY;
        x = warp_reduce_max(x);
        if (lane == 0) total = x;
    }
    __syncthreads();
    return total;
}

// Loads and stores by weight dtype, f32 arithmetic.
__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
template <class T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
