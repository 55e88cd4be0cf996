// Integrated gradients on the device (attribution/Attributor#integratedGradients): the interpolated inputs of a
// batch of steps and the weighted sum of their gradients, in the host's arithmetic (so that the device's sums equal
// the CPU backend's for equal gradients).
#include "kutil.cuh"

// Double operations without contraction into an FMA (Java rounds each one).
__device__ __forceinline__ double ig_mul(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}
__device__ __forceinline__ double ig_add(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
}

// x_s = (float)(b + alpha[s]·(float)(e − b)) for each step s of the batch and each of len elements: as Java's
// (float) (b[j] + a * (e[j] - b[j])) (the difference in float, the rest in double).
// x [steps][len] f32; e, b [len]; alpha [steps] (this batch's). grid (ceil(len / 256) capped, steps) [grid-strided], block (256).
extern "C" __global__ void ig_interpolate(float* x, const float* e, const float* b, const double* alpha, int steps, long long len) {
    for (int s = blockIdx.y; s < steps; s += gridDim.y) {
        const double a = alpha[s];
        float* xs = x + (long long)s * len;
        for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < len; j += (long long)gridDim.x * blockDim.x) {
            const float d = e[j] - b[j];
            xs[j] = (float)ig_add((double)b[j], ig_mul(a, (double)d));
        }
    }
}

// acc[j] += w_s·g_s[j] for the steps s of the batch in order (double; each product and sum rounded, as the host's
// avg[j] += w * gs[j]). acc [len] f64; g [steps][ldg] f32 (step s's gradient at g + s·ldg); weight [steps].
// grid (ceil(len / 256) capped) [grid-strided], block (256).
extern "C" __global__ void ig_accumulate(double* acc, const float* g, long long ldg, const double* weight, int steps, long long len) {
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < len; j += (long long)gridDim.x * blockDim.x) {
        double a = acc[j];
        for (int s = 0; s < steps; s++) a = ig_add(a, ig_mul(weight[s], (double)g[(long long)s * ldg + j]));
        acc[j] = a;
    }
}

// The reduction over the hidden dimension of a backward pass's result, per token of [n, hidden] rows:
// out[t][0] = Σ_d e·g (input × gradient; with the LRP rules, the token relevance), out[t][1] = sqrt(Σ_d g²) (saliency),
// in double. The host (Attributor) sums left to right; here each thread sums a strided part and a tree adds them: the
// two differ by a few double ulps. out [n][2] f64; e, g [n, hidden] f32.
// grid (n) [rows grid-strided], block (multiple of 32, <= 1024), dynamic shared memory 256 bytes.
extern "C" __global__ void token_scores(double* out, const float* e, const float* g, int n, int hidden) {
    EXTERN_SHARED(double, ts_red);                    // 32 doubles
    for (int t = blockIdx.x; t < n; t += gridDim.x) {
        const float* er = e + (long long)t * hidden;
        const float* gr = g + (long long)t * hidden;
        double dot = 0.0, sq = 0.0;
        for (int d = threadIdx.x; d < hidden; d += blockDim.x) {
            const double gd = gr[d];
            dot += (double)er[d] * gd;
            sq += gd * gd;
        }
        dot = ku::block_sum(dot, ts_red);
        sq = ku::block_sum(sq, ts_red);
        if (threadIdx.x == 0) {
            out[2LL * t] = dot;
            out[2LL * t + 1] = sqrt(sq);
        }
    }
}
