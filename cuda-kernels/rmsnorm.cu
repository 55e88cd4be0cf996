// RMSNorm as HF LlamaRMSNorm (cpu/RmsNorm.java#forward): y = w · (x · inv), inv = 1/sqrt(mean(x²) + eps).
// ss (the sum of squares) is accumulated in f32; inv = (float)(1.0 / sqrt((double)(ss / dim) + (double)eps)), where
// ss / dim is a float division as in the Java code.
#include "kutil.cuh"

template <class OutT>
__device__ void rmsnorm_impl(OutT* __restrict__ y, const float* __restrict__ x, const float* __restrict__ w,
                             const int* __restrict__ rows, float* __restrict__ inv_rms, int n, int dim, float eps) {
    EXTERN_SHARED(float, red);                        // 32 floats
    for (int r = blockIdx.x; r < n; r += gridDim.x) {
        const float* xr = x + (long long)(rows ? rows[r] : r) * dim;
        float ss = 0.f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
        ss = ku::block_sum(ss, red);
        float inv = (float)(1.0 / sqrt((double)(ss / (float)dim) + (double)eps));
        if (inv_rms && threadIdx.x == 0) inv_rms[r] = inv;
        OutT* yr = y + (long long)r * dim;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = ku::from_f32<OutT>(w[i] * (xr[i] * inv));
    }
}

// y [n, dim] (f32 / bf16 / f16); x [*, dim] f32; w [dim] f32; rows: null, or row r of y reads row rows[r] of x;
// inv_rms: null or [n] f32. grid (n) [rows grid-strided], block (multiple of 32, <= 1024; 256),
// dynamic shared memory 128 bytes.
extern "C" __global__ void rmsnorm_f32(float* y, const float* x, const float* w, const int* rows, float* inv_rms,
                                       int n, int dim, float eps) {
    rmsnorm_impl(y, x, w, rows, inv_rms, n, dim, eps);
}
extern "C" __global__ void rmsnorm_bf16(__nv_bfloat16* y, const float* x, const float* w, const int* rows,
                                        float* inv_rms, int n, int dim, float eps) {
    rmsnorm_impl(y, x, w, rows, inv_rms, n, dim, eps);
}
extern "C" __global__ void rmsnorm_f16(__half* y, const float* x, const float* w, const int* rows, float* inv_rms,
                                       int n, int dim, float eps) {
    rmsnorm_impl(y, x, w, rows, inv_rms, n, dim, eps);
}
