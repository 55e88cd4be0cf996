// Rotary position embedding, HF rotate-half (cpu/Rope.java#apply), in place on the q and k slices of the fused
// qkv buffer: for each head and i < hd/2, (x[i], x[i+hd/2]) <- (x[i]·c − x[i+hd/2]·s, x[i+hd/2]·c + x[i]·s) with
// c = cos[t, i], s = sin[t, i] from host tables [n, hd/2]. Products and sums rounded separately (no FMA) as in Java.
// The backward (cpu/Rope.java#applyInverse, every rule mode: cos and sin are constants) is the inverse rotation,
// (d1, d2) <- (d1·c + d2·s, d2·c − d1·s): this kernel with the table −sin (bit for bit: x·(−s) = −(x·s)).
#include "kutil.cuh"

__device__ __forceinline__ float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

// q: [n, ld] with heads·hd rotated columns; k: [n, ld] with kv_heads·hd rotated columns (or null, kv_heads 0).
// grid (n) [rows grid-strided], block (multiple of 32; 128).
extern "C" __global__ void rope(float* q, float* k, const float* cos_t, const float* sin_t, int n, int heads,
                                int kv_heads, int hd, int ld) {
    int half = hd >> 1, per_row = (heads + (k ? kv_heads : 0)) * half;
    for (int t = blockIdx.x; t < n; t += gridDim.x) {
        const float* ct = cos_t + (long long)t * half;
        const float* st = sin_t + (long long)t * half;
        for (int e = threadIdx.x; e < per_row; e += blockDim.x) {
            int h = e / half, i = e - h * half;
            float* x = h < heads ? q + (long long)t * ld + h * hd : k + (long long)t * ld + (h - heads) * hd;
            float c = ct[i], s = st[i];
            float x1 = x[i], x2 = x[i + half];
            x[i] = mul_rn(x1, c) - mul_rn(x2, s);
            x[i + half] = mul_rn(x2, c) + mul_rn(x1, s);
        }
    }
}
