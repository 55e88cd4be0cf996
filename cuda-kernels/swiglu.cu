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

// ---------------------------------------------------------------- backward

// The backward of act = silu(g)·u (cpu/Mlp.java#swigluBackward) with the rules of engine/LrpRules: with m = share
// (gateProductShare: 1, or ½ AttnLRP's uniform rule) and d = m·dact,
//   du = d·silu(g),   dg = d·u·s(g),  s(g) = σ(g)·(1 + g·(1 − σ(g))) (plain) or silu(g)/(g + 1e-10) (silu_identity),
//   and dg = 0 with stop_gate (CP-LRP). g = gate + bias_gate, u = up + bias_up as in the forward.
// dgu [n, ldd]: dg in columns [0, I), du in [I, 2I) (the fused gate|up layout, one GEMM back to the input);
// dact [n, lda]; gu [n, ldg] (the forward's gate|up GEMM output); biases null or [I].
// grid (ceil(I / 256), min(n, 65535)), block (256) [both grid-strided].
extern "C" __global__ void swiglu_backward(float* dgu, int ldd, const float* dact, int lda, const float* gu, int ldg,
                                           const float* bias_gate, const float* bias_up, int n, int inter, float share,
                                           int silu_identity, int stop_gate) {
    for (int r = blockIdx.y; r < n; r += gridDim.y) {
        const float* g = gu + (long long)r * ldg;
        const float* da = dact + (long long)r * lda;
        float* out = dgu + (long long)r * ldd;
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < inter; c += gridDim.x * blockDim.x) {
            float z = g[c], u = g[inter + c];
            if (bias_gate) z += bias_gate[c];
            if (bias_up) u += bias_up[c];
            float d = da[c] * share, sig = 1.f / (1.f + expf(-z)), silu = z * sig;
            out[c] = stop_gate ? 0.f : d * u * (silu_identity ? silu / (z + 1e-10f) : sig * (1.f + z * (1.f - sig)));
            out[inter + c] = d * silu;
        }
    }
}
