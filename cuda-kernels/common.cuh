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

// Sum over the 32 lanes of a warp; every lane gets the result. All 32 lanes must call it.
__device__ __forceinline__ float warp_reduce_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(FULL_MASK, v, offset);
    return v;
}
// Sum over a 1-D block (blockDim.x a multiple of 32, at most 1024); every thread gets the result. Every thread of the
// block must call it (it contains __syncthreads). The second round runs in warp 0 only (the divergent-warp case the
// emulation's self-tests check). The forward kernels use kutil.cuh's reductions (dynamic shared memory, doubles).
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
