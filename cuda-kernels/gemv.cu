// Decode matmul for a few rows: y[m, out] = x[m, in] · W[out, in]ᵀ (+ bias), W in f32 / bf16 / f16, x and y in f32.
// Memory-bound: every weight row is read once (16-byte streaming loads) for all m rows of x.
//
// A block of 128 threads (4 warps) computes R consecutive output rows; its threads split the input dimension
// (thread t reads 16-byte vectors t, t+128, ... of each of the R weight rows, so a warp reads 512 contiguous bytes
// per row and instruction). Each thread keeps R·M partial sums; a butterfly reduction leaves each lane with
// R·M/32 of them (R·M/32 + 31 shuffles instead of 5·R·M), then the 4 warps are summed through shared memory.
// M (compile time) is the largest m a kernel serves: gemv_<dtype>_m{1,2,4,8}; m <= M at run time.
#include "kutil.cuh"

namespace gemvk {

constexpr int GEMV_THREADS = 128;
constexpr int GEMV_WARPS = GEMV_THREADS / 32;

// Butterfly sum of CNT values per lane over the warp; see gemv_reduce for where the totals end up.
template <int CNT, int OFF>
struct Bfly {
    __device__ __forceinline__ static void run(float* v, int lane) {
        if constexpr (OFF > 0) {
            if constexpr (CNT > 1) {
                constexpr int H = CNT / 2;
                bool up = (lane & OFF) != 0;
KU_UNROLL
                for (int i = 0; i < H; i++) {
                    float send = up ? v[i] : v[i + H];
                    float keep = up ? v[i + H] : v[i];
                    v[i] = keep + __shfl_xor_sync(ku::FULL, send, OFF);
                }
                Bfly<H, OFF / 2>::run(v, lane);
            } else {
                v[0] += __shfl_xor_sync(ku::FULL, v[0], OFF);
                Bfly<1, OFF / 2>::run(v, lane);
            }
        }
    }
};

template <int V> struct Log2 { static constexpr int value = V <= 1 ? 0 : 1 + Log2<V / 2>::value; };
template <> struct Log2<1> { static constexpr int value = 0; };

// Sums v[NV] over the block; thread t < NV gets the total of index t (others: unspecified).
template <int NV>
__device__ __forceinline__ float gemv_reduce(float* v, float (*red)[NV]) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    Bfly<NV, 16>::run(v, lane);
    if constexpr (NV <= 32) {
        constexpr int SH = 5 - Log2<NV>::value;             // lanes l>>SH hold index l>>SH
        if ((lane & ((1 << SH) - 1)) == 0) red[warp][lane >> SH] = v[0];
    } else {
        constexpr int PER = NV / 32;                  // lane l holds indices PER·l + i
KU_UNROLL
        for (int i = 0; i < PER; i++) red[warp][PER * lane + i] = v[i];
    }
    __syncthreads();
    float s = 0.f;
    if (threadIdx.x < NV) {
KU_UNROLL
        for (int w = 0; w < GEMV_WARPS; w++) s += red[w][threadIdx.x];
    }
    return s;
}

template <class T, int M>
__device__ void gemv_impl(float* __restrict__ y, int ldy, const float* __restrict__ x, int ldx,
                          const T* __restrict__ W, const float* __restrict__ bias, int m, int out, int in) {
    constexpr int R = M >= 8 ? 4 : 8;                 // output rows per block
    constexpr int NV = R * M;
    constexpr int VEC = ku::Vec16<T>::N;              // elements per 16-byte vector
    EXTERN_SHARED(float, red_raw);                    // GEMV_WARPS·NV floats (<= 512 bytes)
    auto red = reinterpret_cast<float (*)[NV]>(red_raw);

    int row0 = blockIdx.x * R;
    float acc[NV];
KU_UNROLL
    for (int i = 0; i < NV; i++) acc[i] = 0.f;
    const T* wr[R];
KU_UNROLL
    for (int r = 0; r < R; r++) wr[r] = W + (long long)min(row0 + r, out - 1) * in;   // tail rows: reloads, discarded

    bool vec = in % VEC == 0 && ldx % 4 == 0 && ku::aligned16(W) && ku::aligned16(x);
    if (vec) {
        int nvec = in / VEC;
        for (int v = threadIdx.x; v < nvec; v += GEMV_THREADS) {
            uint4 raw[R];
KU_UNROLL
            for (int r = 0; r < R; r++) raw[r] = ku::ld_stream16(wr[r] + (long long)v * VEC);
            float xv[M][VEC];
KU_UNROLL
            for (int mi = 0; mi < M; mi++) {
KU_UNROLL
                for (int e = 0; e < VEC; e += 4) {
                    float4 f = mi < m ? *reinterpret_cast<const float4*>(x + (long long)mi * ldx + (long long)v * VEC + e)
                                      : make_float4(0.f, 0.f, 0.f, 0.f);
                    xv[mi][e] = f.x; xv[mi][e + 1] = f.y; xv[mi][e + 2] = f.z; xv[mi][e + 3] = f.w;
                }
            }
KU_UNROLL
            for (int r = 0; r < R; r++) {
                float wf[VEC];
                ku::Vec16<T>::widen(raw[r], wf);
KU_UNROLL
                for (int mi = 0; mi < M; mi++) {
KU_UNROLL
                    for (int e = 0; e < VEC; e++) acc[r * M + mi] = fmaf(wf[e], xv[mi][e], acc[r * M + mi]);
                }
            }
        }
    } else {
        // any size / alignment: one element per thread and step, still coalesced along each row
        for (int k = threadIdx.x; k < in; k += GEMV_THREADS) {
            float xv[M];
KU_UNROLL
            for (int mi = 0; mi < M; mi++) xv[mi] = mi < m ? x[(long long)mi * ldx + k] : 0.f;
KU_UNROLL
            for (int r = 0; r < R; r++) {
                float w = ku::to_f32(wr[r][k]);
KU_UNROLL
                for (int mi = 0; mi < M; mi++) acc[r * M + mi] = fmaf(w, xv[mi], acc[r * M + mi]);
            }
        }
    }

    float s = gemv_reduce<NV>(acc, red);
    if (threadIdx.x < NV) {
        int r = threadIdx.x / M, mi = threadIdx.x % M, row = row0 + r;
        if (row < out && mi < m) y[(long long)mi * ldy + row] = s + (bias ? bias[row] : 0.f);
    }
}

} // namespace gemvk

// y [m, ldy] f32; x [m, ldx] f32; W [out, in] row-major; bias null or [out] f32; m <= M (the kernel's suffix).
// grid (ceil(out / R)) with R = 8 for m1/m2/m4 and R = 4 for m8; block (128); dynamic shared memory 512 bytes.
extern "C" __global__ void __launch_bounds__(128) gemv_f32_m1(float* y, int ldy, const float* x, int ldx, const float* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<float, 1>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_f32_m2(float* y, int ldy, const float* x, int ldx, const float* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<float, 2>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_f32_m4(float* y, int ldy, const float* x, int ldx, const float* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<float, 4>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_f32_m8(float* y, int ldy, const float* x, int ldx, const float* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<float, 8>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_bf16_m1(float* y, int ldy, const float* x, int ldx, const __nv_bfloat16* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__nv_bfloat16, 1>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_bf16_m2(float* y, int ldy, const float* x, int ldx, const __nv_bfloat16* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__nv_bfloat16, 2>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_bf16_m4(float* y, int ldy, const float* x, int ldx, const __nv_bfloat16* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__nv_bfloat16, 4>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_bf16_m8(float* y, int ldy, const float* x, int ldx, const __nv_bfloat16* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__nv_bfloat16, 8>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_f16_m1(float* y, int ldy, const float* x, int ldx, const __half* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__half, 1>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_f16_m2(float* y, int ldy, const float* x, int ldx, const __half* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__half, 2>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_f16_m4(float* y, int ldy, const float* x, int ldx, const __half* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__half, 4>(y, ldy, x, ldx, W, bias, m, out, in); }
extern "C" __global__ void __launch_bounds__(128) gemv_f16_m8(float* y, int ldy, const float* x, int ldx, const __half* W, const float* bias, int m, int out, int in) { gemvk::gemv_impl<__half, 8>(y, ldy, x, ldx, W, bias, m, out, in); }

// ---------------------------------------------------------------- backward: dx = dy·W for a few rows

// The input gradient of y = x·Wᵀ (cpu/LinearBackward.java) for m <= 8 rows, all in f32 (the backward's counterpart
// of gemv: a pass of at most 8 rows keeps its activations in f32, wider ones go through cuBLAS with the gradient
// rounded to the weights' dtype): dx[m, in] (+)= dy[m, out] · W[out, in]. A block of 128 threads owns 128 input
// columns (thread = column, so each weight row segment is one coalesced read) and walks every output row, with dy
// staged through shared memory 128 rows at a time; each thread keeps m sums, accumulated in output-row order.
namespace gemvk {
constexpr int GT_COLS = 128;
constexpr int GT_M = 8;

template <class T>
__device__ void gemv_t_impl(float* __restrict__ dx, int ldx, const float* __restrict__ dy, int ldy, const T* __restrict__ W,
                            int m, int out, int in, int accumulate) {
    EXTERN_SHARED(float, sdy);                        // [GT_M][GT_COLS] floats (4 KiB)
    const int c = blockIdx.x * GT_COLS + threadIdx.x;
    float acc[GT_M];
KU_UNROLL
    for (int i = 0; i < GT_M; i++) acc[i] = 0.f;
    for (int o0 = 0; o0 < out; o0 += GT_COLS) {
        const int cnt = min(GT_COLS, out - o0);
        __syncthreads();                              // the previous chunk is consumed
        for (int e = threadIdx.x; e < GT_M * GT_COLS; e += blockDim.x) {
            int mi = e / GT_COLS, o = e - mi * GT_COLS;
            sdy[e] = mi < m && o < cnt ? dy[(long long)mi * ldy + o0 + o] : 0.f;
        }
        __syncthreads();
        if (c < in) {
            const T* wc = W + (long long)o0 * in + c;
            for (int o = 0; o < cnt; o++) {
                const float w = ku::to_f32(wc[(long long)o * in]);
KU_UNROLL
                for (int i = 0; i < GT_M; i++) acc[i] = fmaf(sdy[i * GT_COLS + o], w, acc[i]);
            }
        }
    }
    if (c < in)
        for (int i = 0; i < m; i++) {
            float* p = dx + (long long)i * ldx + c;
            *p = accumulate ? *p + acc[i] : acc[i];
        }
}
} // namespace gemvk

// dx [m, ldx] f32; dy [m, ldy] f32; W [out, in] row-major (f32 / bf16 / f16 by suffix); m <= 8; accumulate: add into dx.
// grid (ceil(in / 128)), block (128); dynamic shared memory 4096 bytes.
extern "C" __global__ void __launch_bounds__(128) gemv_t_f32(float* dx, int ldx, const float* dy, int ldy, const float* W, int m, int out, int in, int accumulate) { gemvk::gemv_t_impl<float>(dx, ldx, dy, ldy, W, m, out, in, accumulate); }
extern "C" __global__ void __launch_bounds__(128) gemv_t_bf16(float* dx, int ldx, const float* dy, int ldy, const __nv_bfloat16* W, int m, int out, int in, int accumulate) { gemvk::gemv_t_impl<__nv_bfloat16>(dx, ldx, dy, ldy, W, m, out, in, accumulate); }
extern "C" __global__ void __launch_bounds__(128) gemv_t_f16(float* dx, int ldx, const float* dy, int ldy, const __half* W, int m, int out, int in, int accumulate) { gemvk::gemv_t_impl<__half>(dx, ldx, dy, ldy, W, m, out, in, accumulate); }
