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

// ---------------------------------------------------------------- backward

// dx (+)= the input gradient of rmsnorm (cpu/RmsNorm.java#backward) from dy, the forward input x and its inv:
//   plain:                       dx = (w⊙dy)·inv + x·c,  c = −Σ(w⊙dy⊙x)·inv³/dim   (inv depends on x)
//   constant_rms (the LRP modes, engine/LrpRules#constantRms): dx = (w⊙dy)·inv   (1/rms held constant)
// dx, dy, x [n, dim] f32; w [dim]; inv_rms [n] (what the forward wrote); accumulate: add into dx (a residual branch).
// grid (n) [rows grid-strided], block (multiple of 32, <= 1024; 256), dynamic shared memory 128 bytes.
extern "C" __global__ void rmsnorm_backward(float* dx, const float* dy, const float* x, const float* w, const float* inv_rms,
                                            int n, int dim, int constant_rms, int accumulate) {
    EXTERN_SHARED(float, red);                        // 32 floats
    for (int r = blockIdx.x; r < n; r += gridDim.x) {
        const float* xr = x + (long long)r * dim;
        const float* dyr = dy + (long long)r * dim;
        float* dxr = dx + (long long)r * dim;
        const float inv = inv_rms[r];
        float c = 0.f;
        if (!constant_rms) {
            float dot = 0.f;
            for (int i = threadIdx.x; i < dim; i += blockDim.x) dot = fmaf(w[i] * dyr[i], xr[i], dot);
            dot = ku::block_sum(dot, red);
            c = -dot * inv * inv * inv / (float)dim;
        }
        for (int i = threadIdx.x; i < dim; i += blockDim.x) {
            float g = w[i] * dyr[i] * inv;
            if (!constant_rms) g += xr[i] * c;
            dxr[i] = accumulate ? dxr[i] + g : g;
        }
    }
}
