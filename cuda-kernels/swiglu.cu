// SwiGLU activation (cpu/Mlp.java#swiglu): act = silu(gate) · up, silu(z) = z / (1 + exp(−z)), from the fused
// gate|up GEMM output (gate columns [0, I), up [I, 2I)); optional f32 biases (mlp_bias) added first.
#include "kutil.cuh"

template <class OutT>
__device__ void swiglu_impl(OutT* __restrict__ act, int lda, const float* __restrict__ gu, int ldg,
                            const float* __restrict__ bias_gate, const float* __restrict__ bias_up, int n, int inter) {
    for (int r = blockIdx.y; r < n; r += gridDim.y) {
        const float* g = gu + (long long)r * ldg;
        OutT* a = act + (long long)r * lda;
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < inter; c += gridDim.x * blockDim.x) {
            float z = g[c], u = g[inter + c];
            if (bias_gate) z += bias_gate[c];
            if (bias_up) u += bias_up[c];
            a[c] = ku::from_f32<OutT>(z / (1.f + expf(-z)) * u);
        }
    }
}

// act [n, lda] (I columns written); gu [n, ldg] (2I columns); biases null or [I].
// grid (ceil(I / 256), min(n, 65535)), block (256) [both grid-strided].
extern "C" __global__ void swiglu_f32(float* act, int lda, const float* gu, int ldg, const float* bias_gate,
                                      const float* bias_up, int n, int inter) {
    swiglu_impl(act, lda, gu, ldg, bias_gate, bias_up, n, inter);
}
extern "C" __global__ void swiglu_bf16(__nv_bfloat16* act, int lda, const float* gu, int ldg, const float* bias_gate,
                                       const float* bias_up, int n, int inter) {
    swiglu_impl(act, lda, gu, ldg, bias_gate, bias_up, n, inter);
}
extern "C" __global__ void swiglu_f16(__half* act, int lda, const float* gu, int ldg, const float* bias_gate,
                                      const float* bias_up, int n, int inter) {
    swiglu_impl(act, lda, gu, ldg, bias_gate, bias_up, n, inter);
}
