// The seed of a backward pass at the LM head (engine/Target#gradient): d target / d logits of one row of f32
// logits per sequence (its last position), on the device, so that only the target's ids go up:
//   kind 0  Logit(token):          one-hot(token)
//   kind 1  LogProb(token):        one-hot(token) − softmax(logits): in double, lse = max + log Σ_i exp(l_i − max),
//                                  g_i = (float)(−exp(l_i − lse)), g_token = (float)(1 − exp(l_token − lse))
//   kind 2  Contrast(token, foil): one-hot(token) − one-hot(foil) (zero when they are equal)
// As the host computes it, except that Σ exp is a tree sum here (a left-to-right sum there): the two sums differ
// by a few double ulps, far below the float rounding of g.
#include "kutil.cuh"

// dlogits [rows, ldd] f32 (V columns written); logits [rows, ldl]; kind, token, foil [rows] (foil read for kind 2).
// grid (rows) [grid-strided], block (multiple of 32, <= 1024; 256), dynamic shared memory 256 bytes.
extern "C" __global__ void target_grad(float* dlogits, long long ldd, const float* logits, long long ldl, const int* kind,
                                       const int* token, const int* foil, int rows, int V) {
    EXTERN_SHARED(double, tg_red);                     // 32 doubles (also 32 floats for the max)
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* l = logits + (long long)r * ldl;
        float* g = dlogits + (long long)r * ldd;
        const int k = kind[r], tok = token[r];
        if (k == 1) {
            float mx = -INFINITY;
            for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, l[i]);
            mx = ku::block_max(mx, reinterpret_cast<float*>(tg_red));
            double s = 0.0;
            for (int i = threadIdx.x; i < V; i += blockDim.x) s += exp((double)l[i] - (double)mx);
            s = ku::block_sum(s, tg_red);
            const double lse = (double)mx + log(s);
            for (int i = threadIdx.x; i < V; i += blockDim.x) {
                double p = exp((double)l[i] - lse);
                g[i] = i == tok ? (float)(1.0 - p) : (float)-p;
            }
        } else {
            const int f = k == 2 ? foil[r] : -1;
            for (int i = threadIdx.x; i < V; i += blockDim.x) g[i] = (i == tok ? 1.f : 0.f) - (i == f ? 1.f : 0.f);
        }
    }
}
