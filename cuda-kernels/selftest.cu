// Self-test kernels of the CUDA backend: run on a real GPU and on the emulated device, compared by the tests.
#include "kutil.cuh"

// out[r] = sum of row r of x [rows, n]; one block per row (blockDim.x a multiple of 32): a block reduction with
// warp shuffles in two rounds (the second in warp 0 only).
extern "C" __global__ void selftest_row_sum_f32(const float* __restrict__ x, float* __restrict__ out, int n) {
    const float* row = x + (size_t)blockIdx.x * n;
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += row[i];
    const float s = block_reduce_sum(acc);
    if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// Same over bf16 rows (f32 accumulation).
extern "C" __global__ void selftest_row_sum_bf16(const __nv_bfloat16* __restrict__ x, float* __restrict__ out, int n) {
    const __nv_bfloat16* row = x + (size_t)blockIdx.x * n;
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += ku::to_f32(row[i]);
    const float s = block_reduce_sum(acc);
    if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// y = reverse of x within each block's segment of blockDim.x elements, through dynamic shared memory
// (sharedMemBytes = blockDim.x * 4).
extern "C" __global__ void selftest_reverse_f32(const float* __restrict__ x, float* __restrict__ y, int n) {
    EXTERN_SHARED(float, tile);
    const int base = blockIdx.x * blockDim.x, i = base + threadIdx.x;
    tile[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    const int j = base + (blockDim.x - 1 - threadIdx.x);
    if (j < n) y[j] = tile[threadIdx.x];
}

// Writes its scalar parameters back (parameter passing check): out_f[0..2] = f, (float)d, (float)l;
// out_i[0..2] = i, (int)u, (int)(l >> 32).
extern "C" __global__ void selftest_params(float* out_f, int i, float f, double d, long long l, unsigned int u,
                                           int* out_i) {
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        out_f[0] = f;
        out_f[1] = (float)d;
        out_f[2] = (float)l;
        out_i[0] = i;
        out_i[1] = (int)u;
        out_i[2] = (int)(l >> 32);
    }
}
