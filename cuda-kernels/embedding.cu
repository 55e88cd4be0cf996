// Token embedding lookup: out[r, :] = table[ids[r], :] widened to f32 (cpu/Embedding.java).
#include "kutil.cuh"

template <class T>
__device__ void embedding_impl(float* __restrict__ out, const T* __restrict__ table, const int* __restrict__ ids,
                               int n, int hidden) {
    for (int r = blockIdx.x; r < n; r += gridDim.x) {
        const T* src = table + (long long)ids[r] * hidden;
        float* dst = out + (long long)r * hidden;
        for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = ku::to_f32(src[i]);
    }
}

// grid (n) [any, rows are grid-strided], block (any multiple of 32; 256)
extern "C" __global__ void embedding_f32(float* out, const float* table, const int* ids, int n, int hidden) {
    embedding_impl(out, table, ids, n, hidden);
}
extern "C" __global__ void embedding_bf16(float* out, const __nv_bfloat16* table, const int* ids, int n, int hidden) {
    embedding_impl(out, table, ids, n, hidden);
}
extern "C" __global__ void embedding_f16(float* out, const __half* table, const int* ids, int n, int hidden) {
    embedding_impl(out, table, ids, n, hidden);
}
