// Causal grouped-query attention over the paged KV cache, flash style (online softmax, no score matrix), f32.
// Semantics as cpu/Attention.java#forward: query head h reads KV head h / (heads / kv_heads); a query at position P
// sees keys j <= P, and with a sliding window W > 0 only j > P − W; scores (q·k)·scale with scale = 1/sqrt(hd) from
// the host; softmax; out = Σ p_j v_j. Plus the attention intervention (pre-softmax bias, post-softmax bias with or
// without renormalisation, causal or not, head mask, query threshold) and the recomputed probabilities (attn_probs).
//
// Work decomposition. A block (4 warps) owns ROWS query rows = (token, head) pairs of one KV head (the heads of a
// GQA group share every K/V tile the block loads) and walks the keys in tiles of 32 positions (half a cache block,
// contiguous in memory: [kvHead][64][hd]). Per tile: K (and V) to shared memory; lane j of a warp scores key j for
// the warp's rows (R = ROWS/4 rows per warp); online softmax per row; p to shared memory; then each lane
// accumulates hd/32 output dimensions (d = lane + 32·i) over the tile's keys. Template D (32, 64, 128, 256) is the
// largest head dim a kernel serves (any hd <= D works; hd % 4 == 0 takes 16-byte loads).
//   attn_prefill_*: grid (ceil(n·G / ROWS), kv_heads, splits): block x covers rows c in [x·ROWS, (x+1)·ROWS) of
//     the token-major (token, head-in-group) order (G = heads / kv_heads); a block whose rows span several
//     sequences runs one pass per sequence.
//   attn_decode_*:  grid (n, kv_heads · ceil(G / ROWS), splits): one token per block (any n; meant for one new
//     token per sequence), its group's heads as rows.
// splits > 1 (flash-decoding): split z takes the z-th share of the key tiles and writes unnormalised partials
// (part_o [splits][n][heads][hd], part_ml [splits][n][heads][2] = max, sum); attn_combine_* merges them.
#include "kutil.cuh"
#include <climits>

#define KV_BLOCK 64

namespace attn {

constexpr int BK = 32;           // keys per tile
constexpr int AW = 4;            // warps per block
constexpr int AT = AW * 32;      // threads per block

template <int D> struct Cfg {
    static constexpr int ROWS = D >= 256 ? 8 : 16;   // query rows per block (shared memory stays < 48 KiB)
    static constexpr int R = ROWS / AW;               // rows per warp
    static constexpr int LDK = D + 4;                 // K/V tile row stride: 16-byte rows, no bank conflicts
    static constexpr bool SHARED_KV = D >= 256;       // V reuses the K buffer
    static constexpr int DPL = D / 32;                // output dims per lane
};

template <int D> struct Smem {
    float q[Cfg<D>::ROWS][D];
    float k[BK][Cfg<D>::LDK];
    float v[Cfg<D>::SHARED_KV ? 1 : BK][Cfg<D>::LDK];
    float p[Cfg<D>::ROWS][BK];
    float kbias[BK];
    int klisted[BK];
    int slot_tok[Cfg<D>::ROWS], slot_head[Cfg<D>::ROWS], slot_pos[Cfg<D>::ROWS], slot_iv[Cfg<D>::ROWS];
};
// Dynamic shared memory of attn_prefill_d<D>_* / attn_decode_d<D>_* (the launch's sharedMemBytes): the contract.
static_assert(sizeof(Smem<32>) == 13824 && sizeof(Smem<64>) == 24064 && sizeof(Smem<128>) == 44544
              && sizeof(Smem<256>) == 43920, "attention shared memory sizes are part of the kernel contract");

struct Args {
    void* out; int ldo;
    const float* q; int ldq;
    const unsigned long long* block_ptrs; const int* seq_table; long long k_off, v_off;
    const int* tok_seq; const int* tok_pos; const int* seq_ctx;
    int n, heads, kv_heads, hd, window; float scale;
    int splits; float* part_o; float* part_ml; float* stats;
    int iv_mode, iv_causal; const int* iv_start; const int* iv_pos; const float* iv_bias; const int* iv_heads;
    const int* iv_from;
};

// Row p of sequence s, KV head g, in the layer part at `off` (k_off or v_off), from the paged cache that a's
// block_ptrs, seq_table and hd describe (the forward's Args, or the backward's for a cached prefix).
template <class A>
__device__ __forceinline__ const float* kv_row(const A& a, int s, long long off, int g, int p) {
    const float* base = reinterpret_cast<const float*>(a.block_ptrs[a.seq_table[s] + p / KV_BLOCK]);
    return base + off + ((long long)g * KV_BLOCK + (p % KV_BLOCK)) * a.hd;
}

__device__ __forceinline__ bool visible(int j, int P, int W) { return j <= P && (W <= 0 || j > P - W); }

// Does the intervention touch query row (sequence s, head h, position P)?
__device__ __forceinline__ bool iv_row(const Args& a, int s, int h, int P) {
    return a.iv_mode != 0 && a.iv_start[s] < a.iv_start[s + 1] && (!a.iv_heads || a.iv_heads[h] != 0)
           && (!a.iv_from || P >= a.iv_from[s]);
}

// Keys (or values) of positions [p0, p0 + BK) into dst; rows from nvalid on, and columns [hd, hd4), are zero.
template <int D>
__device__ __forceinline__ void load_tile(float (*dst)[Cfg<D>::LDK], const Args& a, int s, long long off, int g, int p0,
                                          int nvalid) {
    const int hd = a.hd, hd4 = (hd + 3) & ~3;
    const float* src = kv_row(a, s, off, g, p0);       // nvalid rows, contiguous
    if ((hd & 3) == 0 && ku::aligned16(src)) {
        int q4 = hd >> 2, total = nvalid * q4;
        for (int e = threadIdx.x; e < total; e += AT) {
            int r = e / q4, c = e - r * q4;
            *reinterpret_cast<float4*>(&dst[r][c * 4]) = reinterpret_cast<const float4*>(src)[e];
        }
    } else {
        int total = nvalid * hd4;
        for (int e = threadIdx.x; e < total; e += AT) {
            int r = e / hd4, c = e - r * hd4;
            dst[r][c] = c < hd ? src[(long long)r * hd + c] : 0.f;
        }
    }
    for (int e = threadIdx.x; e < (BK - nvalid) * hd4; e += AT) {
        int r = nvalid + e / hd4, c = e % hd4;
        dst[r][c] = 0.f;
    }
}

template <class OutT>
__device__ __forceinline__ void store_out(const Args& a, int tok, int h, int d, float v) {
    reinterpret_cast<OutT*>(a.out)[(long long)tok * a.ldo + (long long)h * a.hd + d] = ku::from_f32<OutT>(v);
}

// One pass: the active slots of sm (all of sequence s, KV head g), split z of the key tiles.
template <int D, class OutT>
__device__ void attn_pass(const Args& a, Smem<D>& sm, int s, int g, int z) {
    using C = Cfg<D>;
    constexpr int R = C::R, DPL = C::DPL, ROWS = C::ROWS;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int hd = a.hd, hd4 = (hd + 3) & ~3, W = a.window, ctx = a.seq_ctx[s];

    int lo = INT_MAX, hi = 0;
    bool any_iv = false;
    for (int r = 0; r < ROWS; r++) {
        if (sm.slot_tok[r] < 0) continue;
        int P = sm.slot_pos[r];
        lo = min(lo, W > 0 ? max(0, P - W + 1) : 0);
        hi = max(hi, P + 1);
        any_iv |= sm.slot_iv[r] != 0;
    }
    if (hi == 0) return;                                  // no active row (uniform)

    for (int e = tid; e < ROWS * D; e += AT) {
        int r = e / D, d = e - r * D, tok = sm.slot_tok[r];
        sm.q[r][d] = tok >= 0 && d < hd ? a.q[(long long)tok * a.ldq + (long long)sm.slot_head[r] * hd + d] : 0.f;
    }

    int t0 = lo / BK, t1 = (hi - 1) / BK, per = (t1 - t0 + a.splits) / a.splits;
    int ta = t0 + z * per, tb = min(t1, ta + per - 1);

    float m[R], l[R], o[R][DPL];
    int P[R];
    bool act[R], ivr[R];
KU_UNROLL
    for (int i = 0; i < R; i++) {
        int slot = warp + AW * i;
        act[i] = sm.slot_tok[slot] >= 0;
        P[i] = sm.slot_pos[slot];
        ivr[i] = act[i] && sm.slot_iv[slot] != 0;
        m[i] = -INFINITY;
        l[i] = 0.f;
KU_UNROLL
        for (int dd = 0; dd < DPL; dd++) o[i][dd] = 0.f;
    }
    const bool bias_tiles = a.iv_mode == 1 && any_iv;
    const int e0 = bias_tiles ? a.iv_start[s] : 0, e1 = bias_tiles ? a.iv_start[s + 1] : 0;

    for (int t = ta; t <= tb; t++) {
        const int p0 = t * BK, nvalid = min(BK, ctx - p0);
        __syncthreads();                                  // the previous tile is consumed; q is written
        load_tile<D>(sm.k, a, s, a.k_off, g, p0, nvalid);
        if constexpr (!C::SHARED_KV) load_tile<D>(sm.v, a, s, a.v_off, g, p0, nvalid);
        if (bias_tiles && tid < BK) {
            float b = 0.f;
            int listed = 0;
            for (int e = e0; e < e1; e++)
                if (a.iv_pos[e] == p0 + tid) { b += a.iv_bias[e]; listed = 1; }
            sm.kbias[tid] = b;
            sm.klisted[tid] = listed;
        }
        __syncthreads();

        float sc[R];
KU_UNROLL
        for (int i = 0; i < R; i++) sc[i] = 0.f;
        for (int d = 0; d < hd4; d += 4) {
            float4 kk = *reinterpret_cast<const float4*>(&sm.k[lane][d]);
KU_UNROLL
            for (int i = 0; i < R; i++) {
                float4 qq = *reinterpret_cast<const float4*>(&sm.q[warp + AW * i][d]);
                sc[i] = fmaf(qq.x, kk.x, sc[i]);
                sc[i] = fmaf(qq.y, kk.y, sc[i]);
                sc[i] = fmaf(qq.z, kk.z, sc[i]);
                sc[i] = fmaf(qq.w, kk.w, sc[i]);
            }
        }
        const int kp = p0 + lane;
KU_UNROLL
        for (int i = 0; i < R; i++) {
            float sv = -INFINITY;
            if (act[i] && visible(kp, P[i], W)) {
                sv = sc[i] * a.scale;
                if (bias_tiles && ivr[i] && sm.klisted[lane]) sv += sm.kbias[lane];
            }
            float mn = fmaxf(m[i], ku::warp_max(sv));
            float alpha = mn == -INFINITY ? 1.f : expf(m[i] - mn);
            float pv = sv == -INFINITY ? 0.f : expf(sv - mn);
            l[i] = l[i] * alpha + pv;
            m[i] = mn;
KU_UNROLL
            for (int dd = 0; dd < DPL; dd++) o[i][dd] *= alpha;
            sm.p[warp + AW * i][lane] = pv;
        }
        if constexpr (C::SHARED_KV) {
            __syncthreads();                              // every warp is done with K
            load_tile<D>(sm.k, a, s, a.v_off, g, p0, nvalid);
            __syncthreads();
        } else {
            __syncwarp();                                 // p rows are private to the warp
        }
        float (*vt)[C::LDK] = C::SHARED_KV ? sm.k : sm.v;
        for (int k = 0; k < BK; k += 4) {
            float4 pp[R];
KU_UNROLL
            for (int i = 0; i < R; i++) pp[i] = *reinterpret_cast<const float4*>(&sm.p[warp + AW * i][k]);
KU_UNROLL
            for (int dd = 0; dd < DPL; dd++) {
                int d = lane + 32 * dd;
                float v0 = vt[k][d], v1 = vt[k + 1][d], v2 = vt[k + 2][d], v3 = vt[k + 3][d];
KU_UNROLL
                for (int i = 0; i < R; i++) {
                    o[i][dd] = fmaf(pp[i].x, v0, o[i][dd]);
                    o[i][dd] = fmaf(pp[i].y, v1, o[i][dd]);
                    o[i][dd] = fmaf(pp[i].z, v2, o[i][dd]);
                    o[i][dd] = fmaf(pp[i].w, v3, o[i][dd]);
                }
            }
        }
    }

KU_UNROLL
    for (int i = 0; i < R; i++) l[i] = ku::warp_sum(l[i]);

    // Pre-softmax bias with iv_causal == 0: listed keys the row may not see join its softmax (split 0 only).
    if (a.iv_mode == 1 && a.iv_causal == 0 && z == 0 && any_iv) {
        const int f0 = a.iv_start[s], f1 = a.iv_start[s + 1];
KU_UNROLL
        for (int i = 0; i < R; i++) {
            if (!ivr[i]) continue;
            const float* qr = sm.q[warp + AW * i];
            for (int e = f0; e < f1; e++) {
                int j = a.iv_pos[e];
                if (j < 0 || j >= ctx || visible(j, P[i], W)) continue;
                const float* kr = kv_row(a, s, a.k_off, g, j);
                const float* vr = kv_row(a, s, a.v_off, g, j);
                float part = 0.f;
KU_UNROLL
                for (int dd = 0; dd < DPL; dd++) {
                    int d = lane + 32 * dd;
                    if (d < hd) part = fmaf(qr[d], kr[d], part);
                }
                float sv = ku::warp_sum(part) * a.scale + a.iv_bias[e];
                float mn = fmaxf(m[i], sv);
                float alpha = mn == -INFINITY ? 1.f : expf(m[i] - mn);
                float pv = sv == -INFINITY ? 0.f : expf(sv - mn);
                l[i] = l[i] * alpha + pv;
                m[i] = mn;
KU_UNROLL
                for (int dd = 0; dd < DPL; dd++) {
                    int d = lane + 32 * dd;
                    o[i][dd] = o[i][dd] * alpha + (d < hd ? pv * vr[d] : 0.f);
                }
            }
        }
    }

KU_UNROLL
    for (int i = 0; i < R; i++) {
        if (!act[i]) continue;
        const int slot = warp + AW * i, tok = sm.slot_tok[slot], h = sm.slot_head[slot];
        const long long row = (long long)tok * a.heads + h;
        if (a.splits == 1) {
            float res[DPL];
KU_UNROLL
            for (int dd = 0; dd < DPL; dd++) res[dd] = o[i][dd] / l[i];
            if ((a.iv_mode == 2 || a.iv_mode == 3) && ivr[i]) {   // post-softmax bias: out += Σ b_j v_j
                float bsum = 0.f;
                for (int e = a.iv_start[s]; e < a.iv_start[s + 1]; e++) {
                    int j = a.iv_pos[e];
                    if (j < 0 || j >= ctx || (a.iv_causal && !visible(j, P[i], W))) continue;
                    const float* vr = kv_row(a, s, a.v_off, g, j);
                    float b = a.iv_bias[e];
                    bsum += b;
KU_UNROLL
                    for (int dd = 0; dd < DPL; dd++) {
                        int d = lane + 32 * dd;
                        if (d < hd) res[dd] = fmaf(b, vr[d], res[dd]);
                    }
                }
                if (a.iv_mode == 3) {                       // renormalised: the row's weights sum to 1 again
                    const float inv = 1.f / (1.f + bsum);
KU_UNROLL
                    for (int dd = 0; dd < DPL; dd++) res[dd] *= inv;
                }
            }
KU_UNROLL
            for (int dd = 0; dd < DPL; dd++) {
                int d = lane + 32 * dd;
                if (d < hd) store_out<OutT>(a, tok, h, d, res[dd]);
            }
            if (a.stats && lane == 0) {
                a.stats[row * 2] = m[i];
                a.stats[row * 2 + 1] = l[i];
            }
        } else {
            const long long prow = (long long)z * a.n * a.heads + row;
KU_UNROLL
            for (int dd = 0; dd < DPL; dd++) {
                int d = lane + 32 * dd;
                if (d < hd) a.part_o[prow * hd + d] = o[i][dd];
            }
            if (lane == 0) {
                a.part_ml[prow * 2] = m[i];
                a.part_ml[prow * 2 + 1] = l[i];
            }
        }
    }
}

template <int D, class OutT>
__device__ void attn_prefill(const Args& a) {
    using C = Cfg<D>;
    EXTERN_SHARED(unsigned char, smem_raw);
    Smem<D>& sm = *reinterpret_cast<Smem<D>*>(smem_raw);
    const int G = a.heads / a.kv_heads, g = blockIdx.y, z = blockIdx.z;
    const long long c0 = (long long)blockIdx.x * C::ROWS, cn = (long long)a.n * G;
    if (c0 >= cn) return;
    const int tfirst = (int)(c0 / G), tlast = (int)((min(c0 + C::ROWS, cn) - 1) / G);
    for (int t = tfirst; t <= tlast;) {
        const int s = a.tok_seq[t];
        int te = t;
        while (te < tlast && a.tok_seq[te + 1] == s) te++;
        __syncthreads();                                  // the previous pass is done with sm
        if (threadIdx.x < C::ROWS) {
            long long c = c0 + threadIdx.x;
            int tok = (int)(c / G), h = g * G + (int)(c % G);
            bool on = c < cn && tok >= t && tok <= te;
            sm.slot_tok[threadIdx.x] = on ? tok : -1;
            sm.slot_head[threadIdx.x] = h;
            sm.slot_pos[threadIdx.x] = on ? a.tok_pos[tok] : 0;
            sm.slot_iv[threadIdx.x] = on && iv_row(a, s, h, a.tok_pos[tok]);
        }
        __syncthreads();
        attn_pass<D, OutT>(a, sm, s, g, z);
        t = te + 1;
    }
}

template <int D, class OutT>
__device__ void attn_decode(const Args& a) {
    using C = Cfg<D>;
    EXTERN_SHARED(unsigned char, smem_raw);
    Smem<D>& sm = *reinterpret_cast<Smem<D>*>(smem_raw);
    const int G = a.heads / a.kv_heads, nch = (G + C::ROWS - 1) / C::ROWS;
    const int t = blockIdx.x, g = blockIdx.y / nch, hc = blockIdx.y % nch, z = blockIdx.z;
    const int s = a.tok_seq[t];
    if (threadIdx.x < C::ROWS) {
        int i = hc * C::ROWS + threadIdx.x, h = g * G + i;
        bool on = i < G;
        sm.slot_tok[threadIdx.x] = on ? t : -1;
        sm.slot_head[threadIdx.x] = h;
        sm.slot_pos[threadIdx.x] = a.tok_pos[t];
        sm.slot_iv[threadIdx.x] = on && iv_row(a, s, h, a.tok_pos[t]);
    }
    __syncthreads();
    attn_pass<D, OutT>(a, sm, s, g, z);
}

} // namespace attn

// Parameters of attn_prefill_* and attn_decode_*:
//   out [n, ldo] (heads·hd columns; f32, bf16 or f16 by suffix; not written when splits > 1)
//   q [n, ldq] f32 after RoPE (head h at column h·hd); block_ptrs, seq_table: block tables; k_off, v_off: this
//   layer's key / value offsets in floats from a block's base; tok_seq, tok_pos [n]; seq_ctx [S] (cached + new, the
//   new keys already appended); window: sliding window (<= 0: none); scale: score scale (1/sqrt(hd));
//   splits >= 1 (grid.z); part_o, part_ml: partials when splits > 1; stats: null or [n, heads, 2] (row max, row
//   sum of exp(s − max)) for attn_probs, written here when splits == 1, else by attn_combine_*;
//   iv_mode 0 none, 1 pre-softmax, 2 post-softmax (rows sum to 1 + Σ b), 3 post-softmax renormalised (the row,
//   bias included, divided by 1 + Σ b over the keys it reaches); iv_causal 1: only keys the row may see, 0: any key < seq_ctx;
//   iv_start [S+1] ranges into iv_pos / iv_bias (positions distinct within a sequence); iv_heads null or [heads]
//   0/1; iv_from null or [S] (rows at positions >= iv_from[s]). The iv pointers may be null when iv_mode is 0.
// block (128); dynamic shared memory sizeof(Smem<D>): 13824, 24064, 44544, 43920 bytes for D = 32, 64, 128, 256.
#define ATTN_PARAMS                                                                                              \
    void *out, int ldo, const float *q, int ldq, const unsigned long long *block_ptrs, const int *seq_table,     \
        long long k_off, long long v_off, const int *tok_seq, const int *tok_pos, const int *seq_ctx, int n,     \
        int heads, int kv_heads, int hd, int window, float scale, int splits, float *part_o, float *part_ml,     \
        float *stats, int iv_mode, int iv_causal, const int *iv_start, const int *iv_pos, const float *iv_bias,  \
        const int *iv_heads, const int *iv_from
#define ATTN_ARGS                                                                                                \
    attn::Args{out, ldo, q, ldq, block_ptrs, seq_table, k_off, v_off, tok_seq, tok_pos, seq_ctx, n, heads, kv_heads,   \
         hd, window, scale, splits, part_o, part_ml, stats, iv_mode, iv_causal, iv_start, iv_pos, iv_bias,       \
         iv_heads, iv_from}
// Register caps (ptxas, sm_90): 128 per thread (4 blocks per SM) where that does not spill; 168 (3 blocks) for D = 128.
// One line per kernel: the emulation's registry scans for `extern "C" __global__ void NAME(`.
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d32_f32(ATTN_PARAMS) { attn::attn_prefill<32, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d32_f32(ATTN_PARAMS) { attn::attn_decode<32, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d32_bf16(ATTN_PARAMS) { attn::attn_prefill<32, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d32_bf16(ATTN_PARAMS) { attn::attn_decode<32, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d32_f16(ATTN_PARAMS) { attn::attn_prefill<32, __half>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d32_f16(ATTN_PARAMS) { attn::attn_decode<32, __half>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d64_f32(ATTN_PARAMS) { attn::attn_prefill<64, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d64_f32(ATTN_PARAMS) { attn::attn_decode<64, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d64_bf16(ATTN_PARAMS) { attn::attn_prefill<64, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d64_bf16(ATTN_PARAMS) { attn::attn_decode<64, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d64_f16(ATTN_PARAMS) { attn::attn_prefill<64, __half>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d64_f16(ATTN_PARAMS) { attn::attn_decode<64, __half>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 3) attn_prefill_d128_f32(ATTN_PARAMS) { attn::attn_prefill<128, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 3) attn_decode_d128_f32(ATTN_PARAMS) { attn::attn_decode<128, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 3) attn_prefill_d128_bf16(ATTN_PARAMS) { attn::attn_prefill<128, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 3) attn_decode_d128_bf16(ATTN_PARAMS) { attn::attn_decode<128, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 3) attn_prefill_d128_f16(ATTN_PARAMS) { attn::attn_prefill<128, __half>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 3) attn_decode_d128_f16(ATTN_PARAMS) { attn::attn_decode<128, __half>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d256_f32(ATTN_PARAMS) { attn::attn_prefill<256, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d256_f32(ATTN_PARAMS) { attn::attn_decode<256, float>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d256_bf16(ATTN_PARAMS) { attn::attn_prefill<256, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d256_bf16(ATTN_PARAMS) { attn::attn_decode<256, __nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_prefill_d256_f16(ATTN_PARAMS) { attn::attn_prefill<256, __half>(ATTN_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 4) attn_decode_d256_f16(ATTN_PARAMS) { attn::attn_decode<256, __half>(ATTN_ARGS); }

// ---------------------------------------------------------------- split combine

namespace attn {
template <class OutT>
__device__ void attn_combine(const Args& a) {
    const int t = blockIdx.x, h = blockIdx.y, hd = a.hd;
    const int s = a.tok_seq[t], P = a.tok_pos[t], ctx = a.seq_ctx[s], g = h / (a.heads / a.kv_heads);
    const long long row = (long long)t * a.heads + h, zs = (long long)a.n * a.heads;
    float M = -INFINITY;
    for (int z = 0; z < a.splits; z++) M = fmaxf(M, a.part_ml[(z * zs + row) * 2]);
    float L = 0.f;
    for (int z = 0; z < a.splits; z++) {
        float mz = a.part_ml[(z * zs + row) * 2];
        if (mz != -INFINITY) L += a.part_ml[(z * zs + row) * 2 + 1] * expf(mz - M);
    }
    const bool post = (a.iv_mode == 2 || a.iv_mode == 3) && iv_row(a, s, h, P);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float acc = 0.f;
        for (int z = 0; z < a.splits; z++) {
            float mz = a.part_ml[(z * zs + row) * 2];
            if (mz != -INFINITY) acc += a.part_o[(z * zs + row) * hd + d] * expf(mz - M);
        }
        float res = acc / L;
        if (post) {
            float bsum = 0.f;
            for (int e = a.iv_start[s]; e < a.iv_start[s + 1]; e++) {
                int j = a.iv_pos[e];
                if (j < 0 || j >= ctx || (a.iv_causal && !visible(j, P, a.window))) continue;
                res = fmaf(a.iv_bias[e], kv_row(a, s, a.v_off, g, j)[d], res);
                bsum += a.iv_bias[e];
            }
            if (a.iv_mode == 3) res *= 1.f / (1.f + bsum);
        }
        store_out<OutT>(a, t, h, d, res);
    }
    if (a.stats && threadIdx.x == 0) {
        a.stats[row * 2] = M;
        a.stats[row * 2 + 1] = L;
    }
}
} // namespace attn

// Merges the splits of attn_prefill_* / attn_decode_* (same parameters; q, k_off, scale unused).
// grid (n, heads), block (any multiple of 32; 64); no shared memory.
extern "C" __global__ void attn_combine_f32(ATTN_PARAMS) { attn::attn_combine<float>(ATTN_ARGS); }
extern "C" __global__ void attn_combine_bf16(ATTN_PARAMS) { attn::attn_combine<__nv_bfloat16>(ATTN_ARGS); }
extern "C" __global__ void attn_combine_f16(ATTN_PARAMS) { attn::attn_combine<__half>(ATTN_ARGS); }

// ---------------------------------------------------------------- probabilities

// The softmax probabilities of every new query row over its sequence's context, recomputed from q, the cached keys
// and the row statistics (stats [n, heads, 2] from the attention call of the same layer): per sequence s, a
// [heads][new_s][ctx_s] f32 block at probs + probs_off[s] (new_s = seq_start[s+1] − seq_start[s], row t of the
// batch is query index t − seq_start[s]); zeros where the key is masked. With iv_mode 1 the probabilities include
// the pre-softmax bias (and, with iv_causal 0, the listed keys the row may not otherwise see); with iv_mode 2 and 3
// they are the plain softmax (the post-softmax bias is not a probability). grid (n, heads), block (multiple of 32; 128),
// dynamic shared memory hd·4 bytes.
extern "C" __global__ void attn_probs(float* probs, const long long* probs_off, const int* seq_start, const float* q,
                                      int ldq, const unsigned long long* block_ptrs, const int* seq_table,
                                      long long k_off, const int* tok_seq, const int* tok_pos, const int* seq_ctx,
                                      const float* stats, int n, int heads, int kv_heads, int hd, int window,
                                      float scale, int iv_mode, int iv_causal, const int* iv_start, const int* iv_pos,
                                      const float* iv_bias, const int* iv_heads, const int* iv_from) {
    EXTERN_SHARED(float, qs);                             // hd floats
    attn::Args a{nullptr, 0, q, ldq, block_ptrs, seq_table, k_off, 0, tok_seq, tok_pos, seq_ctx, n, heads, kv_heads, hd,
           window, scale, 1, nullptr, nullptr, nullptr, iv_mode, iv_causal, iv_start, iv_pos, iv_bias, iv_heads,
           iv_from};
    const int t = blockIdx.x, h = blockIdx.y, s = tok_seq[t], P = tok_pos[t], ctx = seq_ctx[s];
    const int g = h / (heads / kv_heads), nnew = seq_start[s + 1] - seq_start[s], i = t - seq_start[s];
    const float M = stats[((long long)t * heads + h) * 2], L = stats[((long long)t * heads + h) * 2 + 1];
    float* prow = probs + probs_off[s] + ((long long)h * nnew + i) * ctx;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) qs[d] = q[(long long)t * ldq + (long long)h * hd + d];
    __syncthreads();
    auto score = [&](int j) {
        const float* kr = attn::kv_row(a, s, k_off, g, j);
        float acc = 0.f;
        for (int d = 0; d < hd; d++) acc = fmaf(qs[d], kr[d], acc);
        return acc * scale;
    };
    for (int j = threadIdx.x; j < ctx; j += blockDim.x)
        prow[j] = attn::visible(j, P, window) ? expf(score(j) - M) / L : 0.f;
    if (iv_mode == 1 && attn::iv_row(a, s, h, P)) {
        __syncthreads();                                  // the unbiased values above are written
        for (int e = iv_start[s] + threadIdx.x; e < iv_start[s + 1]; e += blockDim.x) {
            int j = iv_pos[e];
            if (j < 0 || j >= ctx || (iv_causal && !attn::visible(j, P, window))) continue;
            prow[j] = expf(score(j) + iv_bias[e] - M) / L;
        }
    }
}

// ---------------------------------------------------------------- backward (flash style)
//
// The gradient of one layer's attention over the recorded rows of each sequence (a recorded forward, from position 0
// or after a cached prefix: below), as cpu/Attention.java#backward: from dO [n, heads·hd] to dq [n, heads·hd] and
// dk, dv [n, kv_heads·hd] (q and k after RoPE, as the forward read them), each scaled by the rules of engine/LrpRules
// passed in (qk_scale on dq and dk, v_scale on dv, stop_qk: no gradient through the scores, dq = dk = 0). No T×T
// matrix: per tile the probabilities are recomputed from q, k and the forward's row statistics (stats [n, heads, 2]
// = row max M, row sum L, as attn_probs: p = exp(s·scale − M)/L with the forward's score order), and with
// dp_j = dO·v_j and Delta = rowsum(O∘dO) (attn_bwd_delta, once per row):
//   ds_j = p_j·(dp_j − Delta)·scale,   dv_j += p_j·dO,   dk_j += ds_j·q,   dq += ds_j·k.
//   attn_bwd_dkdv_d<D>: grid (tiles, kv_heads): a block owns the BT keys of one tile of one sequence and KV head (K
//     and V resident in shared memory) and walks every query tile that sees them, for every query head of the group
//     (GQA: the group's heads add into the same dk, dv registers; no two blocks write one place, no atomics).
//   attn_bwd_dq_d<D>:   grid (tiles, heads): a block owns the BT queries of one tile and one head (q and dO resident)
//     and walks the key tiles they see.
// Tiles never cross sequences: tiles [T][2] = (first packed token, sequence), BT-aligned within each sequence
// (token t of sequence s is row t − seq_start[s]); BT = 32 (16 for D = 256). The causal mask and the sliding
// window are those of the forward (visible()); the intervention is not differentiated (records never carry one).
// After a cached prefix (past, per sequence; NULL or 0: a sequence recorded from position 0), row i of sequence s
// sits at position past[s] + i and its queries also saw the prefix's keys and values, which are constants here:
// attn_bwd_dq walks key tiles over the whole context (positions from 0, BT-aligned), reading positions < past[s]
// from the prefix's paged cache (block_ptrs, seq_table, k_off, v_off: the forward's layout, see kv_row) and the
// others from the recorded rows; attn_bwd_dkdv computes dk, dv for the recorded keys only (the queries that see
// them are all recorded rows, and visibility depends only on position differences, so it needs no past).
namespace attnb {

constexpr int BTH = 128;                              // threads per block

template <int D> struct Cfg {
    static constexpr int BT = D >= 256 ? 16 : 32;     // rows of every tile: the keys (dk/dv) or queries (dq) of a block
    static constexpr int LD = D + 4;                  // tile row stride
    static constexpr int TPR = BTH / BT;              // threads per accumulated row
    static constexpr int DPT = D / TPR;               // accumulated dimensions per thread
    static constexpr int PPT = BT * BT / BTH;         // (query, key) pairs scored per thread
};

template <int D> struct Smem {
    float res0[Cfg<D>::BT][Cfg<D>::LD];               // resident: K (dk/dv) or q (dq)
    float res1[Cfg<D>::BT][Cfg<D>::LD];               // resident: V or dO
    float str0[Cfg<D>::BT][Cfg<D>::LD];               // streamed: q or K
    float str1[Cfg<D>::BT][Cfg<D>::LD];               // streamed: dO or V
    float p[Cfg<D>::BT][Cfg<D>::BT + 1];              // [query][key] probabilities
    float ds[Cfg<D>::BT][Cfg<D>::BT + 1];             // [query][key] score gradients (times scale)
    float m[Cfg<D>::BT], l[Cfg<D>::BT], delta[Cfg<D>::BT];   // per query row of the current query tile
};
// Dynamic shared memory of attn_bwd_dkdv_d<D> and attn_bwd_dq_d<D> (the launch's sharedMemBytes): the contract.
static_assert(sizeof(Smem<32>) == 27264 && sizeof(Smem<64>) == 43648 && sizeof(Smem<128>) == 76416
              && sizeof(Smem<256>) == 68928, "attention backward shared memory sizes are part of the kernel contract");

struct Args {
    float* dq; float* dk; float* dv; int ldd;
    const float* q; const float* k; const float* v; int ldqkv;
    const float* dout; int lddo;
    const float* stats; const float* delta;
    const int* tiles; const int* seq_start;
    int heads, kv_heads, hd, window; float scale, qk_scale, v_scale; int stop_qk;
    const unsigned long long* block_ptrs; const int* seq_table; long long k_off, v_off; const int* past;
};

// Rows of context positions [p0, p0 + cnt) of sequence s (first recorded row s0, past positions before it), KV head
// g, into dst: positions < past from the prefix's cache blocks (layer part at off), the others from the recorded
// rows of src (row stride ld, columns [g·hd, g·hd + hd)); the rest of the BT × D tile is zero.
template <int D>
__device__ __forceinline__ void load_ctx_rows(float (*dst)[Cfg<D>::LD], const Args& a, int s, long long off, const float* src,
                                              int ld, int s0, int past, int p0, int cnt, int g) {
    const int hd = a.hd;
    for (int e = threadIdx.x; e < Cfg<D>::BT * D; e += BTH) {
        int r = e / D, c = e - r * D, p = p0 + r;
        float x = 0.f;
        if (r < cnt && c < hd) {
            if (p < past) {
                x = attn::kv_row(a, s, off, g, p)[c];
            } else {
                x = src[(long long)(s0 + p - past) * ld + (long long)g * hd + c];
            }
        }
        dst[r][c] = x;
    }
}

// Rows [t0, t0 + cnt) of src (row stride ld), columns [col, col + hd), into dst; the rest of the BT × D tile is zero.
template <int D>
__device__ __forceinline__ void load_rows(float (*dst)[Cfg<D>::LD], const float* src, int ld, int t0, int cnt, int col, int hd) {
    for (int e = threadIdx.x; e < Cfg<D>::BT * D; e += BTH) {
        int r = e / D, c = e - r * D;
        dst[r][c] = r < cnt && c < hd ? src[(long long)(t0 + r) * ld + col + c] : 0.f;
    }
}

// Row statistics of the query tile (tokens t0 .. t0 + cnt − 1, head h) into sm.m, sm.l, sm.delta; padding rows 0, 1, 0.
template <int D>
__device__ __forceinline__ void load_row_stats(Smem<D>& sm, const Args& a, int t0, int cnt, int h) {
    for (int r = threadIdx.x; r < Cfg<D>::BT; r += BTH) {
        long long row = (long long)(t0 + r) * a.heads + h;
        sm.m[r] = r < cnt ? a.stats[row * 2] : 0.f;
        sm.l[r] = r < cnt ? a.stats[row * 2 + 1] : 1.f;
        sm.delta[r] = r < cnt ? a.delta[row] : 0.f;
    }
}

// p and ds of every (query i, key j) pair of a query tile (rows qt, dO rows ot; positions qp0 + i, i < qn) and a key
// tile (rows kt, values vt; positions kp0 + j, j < kn). Scores in the forward's order (fmaf over d, 4 at a time).
template <int D>
__device__ __forceinline__ void tile_p_ds(Smem<D>& sm, const float (*qt)[Cfg<D>::LD], const float (*kt)[Cfg<D>::LD],
                                          const float (*ot)[Cfg<D>::LD], const float (*vt)[Cfg<D>::LD], int qp0, int qn,
                                          int kp0, int kn, const Args& a) {
    using C = Cfg<D>;
    const int j = threadIdx.x % C::BT, i0 = threadIdx.x / C::BT, hd4 = (a.hd + 3) & ~3;
KU_UNROLL
    for (int r = 0; r < C::PPT; r++) {
        const int i = i0 + (BTH / C::BT) * r;
        float s = 0.f, dp = 0.f;
        for (int d = 0; d < hd4; d += 4) {
            float4 kk = *reinterpret_cast<const float4*>(&kt[j][d]);
            float4 qq = *reinterpret_cast<const float4*>(&qt[i][d]);
            s = fmaf(qq.x, kk.x, s);
            s = fmaf(qq.y, kk.y, s);
            s = fmaf(qq.z, kk.z, s);
            s = fmaf(qq.w, kk.w, s);
            float4 vv = *reinterpret_cast<const float4*>(&vt[j][d]);
            float4 oo = *reinterpret_cast<const float4*>(&ot[i][d]);
            dp = fmaf(oo.x, vv.x, dp);
            dp = fmaf(oo.y, vv.y, dp);
            dp = fmaf(oo.z, vv.z, dp);
            dp = fmaf(oo.w, vv.w, dp);
        }
        float p = 0.f, g = 0.f;
        if (i < qn && j < kn && attn::visible(kp0 + j, qp0 + i, a.window)) {
            p = expf(s * a.scale - sm.m[i]) / sm.l[i];
            g = p * (dp - sm.delta[i]) * a.scale;
        }
        sm.p[i][j] = p;
        sm.ds[i][j] = g;
    }
}

template <int D>
__device__ void attn_bwd_dkdv(const Args& a) {
    using C = Cfg<D>;
    EXTERN_SHARED(unsigned char, smem_raw);
    Smem<D>& sm = *reinterpret_cast<Smem<D>*>(smem_raw);
    const int G = a.heads / a.kv_heads, g = blockIdx.y, hd = a.hd, W = a.window;
    const int t0 = a.tiles[2 * blockIdx.x], s = a.tiles[2 * blockIdx.x + 1];
    const int s0 = a.seq_start[s], len = a.seq_start[s + 1] - s0;
    const int kp0 = t0 - s0, kn = min(C::BT, len - kp0);
    const int jr = threadIdx.x / C::TPR, sub = threadIdx.x % C::TPR;
    const bool scores = a.stop_qk == 0;
    float dk[C::DPT], dv[C::DPT];
KU_UNROLL
    for (int x = 0; x < C::DPT; x++) dk[x] = dv[x] = 0.f;
    load_rows<D>(sm.res0, a.k, a.ldqkv, t0, kn, g * hd, hd);
    load_rows<D>(sm.res1, a.v, a.ldqkv, t0, kn, g * hd, hd);
    int qlast = len - 1;                                  // the last query that sees one of these keys
    if (W > 0) qlast = min(qlast, kp0 + kn - 1 + W - 1);
    for (int hh = 0; hh < G; hh++) {
        const int h = g * G + hh;
        for (int qp0 = kp0; qp0 <= qlast; qp0 += C::BT) {
            const int qn = min(C::BT, len - qp0);
            __syncthreads();                              // the previous query tile is consumed
            load_rows<D>(sm.str0, a.q, a.ldqkv, s0 + qp0, qn, h * hd, hd);
            load_rows<D>(sm.str1, a.dout, a.lddo, s0 + qp0, qn, h * hd, hd);
            load_row_stats<D>(sm, a, s0 + qp0, qn, h);
            __syncthreads();
            tile_p_ds<D>(sm, sm.str0, sm.res0, sm.str1, sm.res1, qp0, qn, kp0, kn, a);
            __syncthreads();
            for (int i = 0; i < qn; i++) {
                const float p = sm.p[i][jr], gs = sm.ds[i][jr];
KU_UNROLL
                for (int x = 0; x < C::DPT; x++) {
                    const int d = sub + C::TPR * x;
                    dv[x] = fmaf(p, sm.str1[i][d], dv[x]);
                    if (scores) dk[x] = fmaf(gs, sm.str0[i][d], dk[x]);
                }
            }
        }
    }
    if (jr < kn) {
        const long long row = (long long)(t0 + jr) * a.ldd + (long long)g * hd;
KU_UNROLL
        for (int x = 0; x < C::DPT; x++) {
            const int d = sub + C::TPR * x;
            if (d < hd) {
                a.dk[row + d] = scores ? dk[x] * a.qk_scale : 0.f;
                a.dv[row + d] = dv[x] * a.v_scale;
            }
        }
    }
}

template <int D>
__device__ void attn_bwd_dq(const Args& a) {
    using C = Cfg<D>;
    EXTERN_SHARED(unsigned char, smem_raw);
    Smem<D>& sm = *reinterpret_cast<Smem<D>*>(smem_raw);
    const int G = a.heads / a.kv_heads, h = blockIdx.y, g = h / G, hd = a.hd, W = a.window;
    const int t0 = a.tiles[2 * blockIdx.x], s = a.tiles[2 * blockIdx.x + 1];
    const int s0 = a.seq_start[s], len = a.seq_start[s + 1] - s0;
    const int past = a.past ? a.past[s] : 0;             // cached positions before the sequence's rows
    const int qp0 = past + t0 - s0, qn = min(C::BT, len - (t0 - s0));   // qp0: the first query's position
    const int ir = threadIdx.x / C::TPR, sub = threadIdx.x % C::TPR;
    float dq[C::DPT];
KU_UNROLL
    for (int x = 0; x < C::DPT; x++) dq[x] = 0.f;
    if (a.stop_qk == 0) {
        load_rows<D>(sm.res0, a.q, a.ldqkv, t0, qn, h * hd, hd);
        load_rows<D>(sm.res1, a.dout, a.lddo, t0, qn, h * hd, hd);
        load_row_stats<D>(sm, a, t0, qn, h);
        const int kfirst = (W > 0 ? max(0, qp0 - W + 1) : 0) / C::BT * C::BT, klast = qp0 + qn - 1;
        for (int kp0 = kfirst; kp0 <= klast; kp0 += C::BT) {
            const int kn = min(C::BT, past + len - kp0);
            __syncthreads();                              // the previous key tile is consumed (and the resident rows written)
            if (kp0 < past) {                             // the tile holds prefix keys: constants from the cache
                load_ctx_rows<D>(sm.str0, a, s, a.k_off, a.k, a.ldqkv, s0, past, kp0, kn, g);
                load_ctx_rows<D>(sm.str1, a, s, a.v_off, a.v, a.ldqkv, s0, past, kp0, kn, g);
            } else {
                load_rows<D>(sm.str0, a.k, a.ldqkv, s0 + kp0 - past, kn, g * hd, hd);
                load_rows<D>(sm.str1, a.v, a.ldqkv, s0 + kp0 - past, kn, g * hd, hd);
            }
            __syncthreads();
            tile_p_ds<D>(sm, sm.res0, sm.str0, sm.res1, sm.str1, qp0, qn, kp0, kn, a);
            __syncthreads();
            for (int j = 0; j < kn; j++) {
                const float gs = sm.ds[ir][j];
KU_UNROLL
                for (int x = 0; x < C::DPT; x++) dq[x] = fmaf(gs, sm.str0[j][sub + C::TPR * x], dq[x]);
            }
        }
    }
    if (ir < qn) {
        const long long row = (long long)(t0 + ir) * a.ldd + (long long)h * hd;
KU_UNROLL
        for (int x = 0; x < C::DPT; x++) {
            const int d = sub + C::TPR * x;
            if (d < hd) a.dq[row + d] = a.stop_qk ? 0.f : dq[x] * a.qk_scale;
        }
    }
}

} // namespace attnb

// Delta = rowsum(O∘dO) per (token, head): delta [n, heads]; o [n, ldo] f32 (the forward's attention output), dout
// [n, lddo]. grid (n) [rows grid-strided], block (multiple of 32; 128), no shared memory.
extern "C" __global__ void attn_bwd_delta(float* delta, const float* o, int ldo, const float* dout, int lddo, int n,
                                          int heads, int hd) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int t = blockIdx.x; t < n; t += gridDim.x) {
        for (int h = warp; h < heads; h += nw) {
            const float* orow = o + (long long)t * ldo + (long long)h * hd;
            const float* drow = dout + (long long)t * lddo + (long long)h * hd;
            float acc = 0.f;
            for (int d = lane; d < hd; d += 32) acc = fmaf(orow[d], drow[d], acc);
            acc = ku::warp_sum(acc);
            if (lane == 0) delta[(long long)t * heads + h] = acc;
        }
    }
}

// Parameters of attn_bwd_dkdv_d<D> and attn_bwd_dq_d<D>:
//   dq, dk, dv [n, ldd] outputs (head h of dq at column h·hd, KV head g of dk/dv at g·hd; dkdv writes dk and dv, dq
//   writes dq); q, k, v [n, ldqkv] f32 after RoPE (the forward's fused qkv rows: q, k = q + Q, v = q + Q + K);
//   dout [n, lddo]; stats [n, heads, 2] from the forward's attention call; delta [n, heads] (attn_bwd_delta);
//   tiles [T][2], seq_start [S+1]; window (<= 0: none); scale 1/sqrt(hd); qk_scale, v_scale, stop_qk: the rules;
//   past [S] (NULL: every sequence from position 0) and, where some past[s] > 0, the prefix caches' block_ptrs,
//   seq_table [S] (first block of each sequence), k_off, v_off (floats, the layer's keys and values in a block; as
//   the forward's attention call; only attn_bwd_dq reads them).
// grid (T, kv_heads) for dkdv, (T, heads) for dq; block (128); dynamic shared memory sizeof(attnb::Smem<D>):
// 27264, 43648, 76416, 68928 bytes for D = 32, 64, 128, 256 (the last two above 48 KiB: opt in).
#define ATTNB_PARAMS                                                                                             \
    float *dq, float *dk, float *dv, int ldd, const float *q, const float *k, const float *v, int ldqkv,         \
        const float *dout, int lddo, const float *stats, const float *delta, const int *tiles,                   \
        const int *seq_start, int heads, int kv_heads, int hd, int window, float scale, float qk_scale,          \
        float v_scale, int stop_qk, const unsigned long long *block_ptrs, const int *seq_table, long long k_off,  \
        long long v_off, const int *past
#define ATTNB_ARGS                                                                                               \
    attnb::Args{dq, dk, dv, ldd, q, k, v, ldqkv, dout, lddo, stats, delta, tiles, seq_start, heads, kv_heads, hd, \
                window, scale, qk_scale, v_scale, stop_qk, block_ptrs, seq_table, k_off, v_off, past}
// Register caps (ptxas, sm_90): (128, 2) leaves up to 255 registers (used: 128–164, no spills); with (128) alone
// ptxas spilled a few bytes in d32 and d64.
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dkdv_d32(ATTNB_PARAMS) { attnb::attn_bwd_dkdv<32>(ATTNB_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dkdv_d64(ATTNB_PARAMS) { attnb::attn_bwd_dkdv<64>(ATTNB_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dkdv_d128(ATTNB_PARAMS) { attnb::attn_bwd_dkdv<128>(ATTNB_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dkdv_d256(ATTNB_PARAMS) { attnb::attn_bwd_dkdv<256>(ATTNB_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dq_d32(ATTNB_PARAMS) { attnb::attn_bwd_dq<32>(ATTNB_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dq_d64(ATTNB_PARAMS) { attnb::attn_bwd_dq<64>(ATTNB_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dq_d128(ATTNB_PARAMS) { attnb::attn_bwd_dq<128>(ATTNB_ARGS); }
extern "C" __global__ void __launch_bounds__(128, 2) attn_bwd_dq_d256(ATTNB_PARAMS) { attnb::attn_bwd_dq<256>(ATTNB_ARGS); }
