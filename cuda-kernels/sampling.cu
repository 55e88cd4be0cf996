// Token choice per row of logits [rows, V] f32: argmax (lowest id on ties) and temperature + top-p sampling that
// reproduces engine/Sampler.java#sample for a uniform draw u in [0, 1) made on the host:
//   M = max logit; p_t = exp((l_t − M) / T) in double; total = Σ p_t;
//   order = tokens by decreasing p, ties by lower id;
//   keep = the shortest prefix of order whose running mass (summed in order) reaches topP·total (at least one
//          token; if rounding keeps the mass below the target, every token, the p = 0 ones included);
//   the token where u·mass, minus the running sum in order, first drops below zero (else the last kept token).
//
// No sort of the vocabulary: one block per row finds each crossing point of a running sum (first the nucleus
// boundary, then the sampled token) by a histogram of the probability mass over x = (M − l)/T (deterministic
// integer atomics: counts and 2^-40 fixed-point masses), refined on the bins that can hold the crossing until at
// most 2048 candidates remain; the candidates are sorted in shared memory (p desc, id asc) and one thread walks
// them with the exact double arithmetic of the Java loop, starting from the mass of every token before them.
//
// Where the result can differ from the host (boundary cases only, at the level of double rounding):
//   - total and the mass of the tokens before the candidate window are tree sums (fixed order, deterministic), not
//     Java's left-to-right sums, so a running mass within ~1e-16·V relative of topP·total, or u·mass within that
//     of a running sum, may fall on the other side;
//   - on a GPU, exp is CUDA's double exp (<= 1 ulp), not Java's Math.exp (the emulated device uses the C library
//     exp, like the test's port); equal p from distinct logits (e.g. underflow to 0) are ordered by id as in Java
//     only within the candidate window, otherwise by x.
#include "kutil.cuh"
#include <climits>

namespace samp {

constexpr int NB = 512;           // histogram bins
constexpr int CAP = 2048;         // candidates sorted in shared memory
constexpr int MAXLEV = 8;         // histogram levels (the first over all tokens, then refinements)

struct Smem {                            // dynamic shared memory of sample_rows: SAMPLE_SMEM bytes
    unsigned cnt[2][NB];                 // [0]: the first level (kept for the second search), [1]: refinements
    unsigned long long mass[2][NB];
    double cp[CAP];
    int cid[CAP];
    double red_d[32];
    float red_f[32];
    int red_i[32];
    // the window chain: level k keeps tokens whose bin (x − x0[k])·sc[k] lies in [lo[k], hi[k]]
    double x0[MAXLEV], sc[MAXLEV];
    int lo[MAXLEV], hi[MAXLEV];
    int levels;
    int ncand;
    int status;                          // from thread 0: 0 candidates ready, 1 refine, 2 ties, 3 no crossing
    double xmin, xmax;
    // search result (thread 0)
    int found, res_id, certain;
    long long tie_k;
    double res_p, res_acc;
};

constexpr int SAMPLE_SMEM = 37640;
static_assert(sizeof(Smem) == SAMPLE_SMEM, "sample_rows shared memory size is part of the kernel contract");

struct Row {
    const float* l;
    int V;
    double M, T;
};

__device__ __forceinline__ double arg_of(const Row& r, int t) { return ((double)r.l[t] - r.M) / r.T; }

__device__ __forceinline__ int bin_of(double x, double x0, double sc) {
    double b = (x - x0) * sc;
    return !(b > 0.0) ? 0 : b >= (double)(NB - 1) ? NB - 1 : (int)b;   // NaN (0·inf) -> 0
}

// −1: before the window (larger p), 0: inside, 1: after; over the first `levels` levels of the chain.
__device__ __forceinline__ int classify(const Smem& sm, double x, int levels) {
    for (int k = 0; k < levels; k++) {
        int b = bin_of(x, sm.x0[k], sm.sc[k]);
        if (b < sm.lo[k]) return -1;
        if (b > sm.hi[k]) return 1;
    }
    return 0;
}

__device__ __forceinline__ bool before(double pa, int ia, double pb, int ib) {
    return pa > pb || (pa == pb && ia < ib);
}

// Histogram slot h over the tokens inside levels [0, levels) with bin function (x0, sc) of level `levels`.
__device__ void build_hist(Smem& sm, const Row& r, int h, int levels, double x0, double sc, double fix, bool minmax) {
    for (int b = threadIdx.x; b < NB; b += blockDim.x) { sm.cnt[h][b] = 0; sm.mass[h][b] = 0; }
    __syncthreads();
    double lo = INFINITY, hi = -INFINITY;
    for (int t = threadIdx.x; t < r.V; t += blockDim.x) {
        double a = arg_of(r, t), p = exp(a);
        if (p == 0.0) continue;
        double x = -a;
        if (classify(sm, x, levels) != 0) continue;
        int b = bin_of(x, x0, sc);
        atomicAdd(&sm.cnt[h][b], 1u);
        atomicAdd(&sm.mass[h][b], (unsigned long long)(p * fix));
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    if (minmax) {
        // min / max of x inside the window, through the float-free path: two block reductions of −x and x
        double m1 = -lo, m2 = hi;
        for (int o = 16; o > 0; o >>= 1) {
            m1 = fmax(m1, ku::shfl_xor_d(m1, o));
            m2 = fmax(m2, ku::shfl_xor_d(m2, o));
        }
        __syncthreads();
        if ((threadIdx.x & 31) == 0) { sm.red_d[threadIdx.x >> 5] = m1; sm.cp[threadIdx.x >> 5] = m2; }
        __syncthreads();
        if (threadIdx.x == 0) {
            double a1 = -INFINITY, a2 = -INFINITY;
            for (int w = 0; w < (int)(blockDim.x >> 5); w++) { a1 = fmax(a1, sm.red_d[w]); a2 = fmax(a2, sm.cp[w]); }
            sm.xmin = -a1;
            sm.xmax = a2;
        }
    }
    __syncthreads();
}

// Bitonic sort of sm.cp / sm.cid [0, n) by (p desc, id asc).
__device__ void sort_candidates(Smem& sm, int n) {
    int np = 1;
    while (np < n) np <<= 1;
    for (int i = n + threadIdx.x; i < np; i += blockDim.x) { sm.cp[i] = -1.0; sm.cid[i] = INT_MAX; }
    __syncthreads();
    for (int k = 2; k <= np; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < np; i += blockDim.x) {
                int ixj = i ^ j;
                if (ixj <= i) continue;
                bool asc = (i & k) == 0;           // "ascending" = in sampling order
                double pi = sm.cp[i], pj = sm.cp[ixj];
                int ii = sm.cid[i], ij = sm.cid[ixj];
                if (before(pj, ij, pi, ii) == asc) {
                    sm.cp[i] = pj; sm.cp[ixj] = pi;
                    sm.cid[i] = ij; sm.cid[ixj] = ii;
                }
            }
            __syncthreads();
        }
    }
}

// Fallbacks when a walk never crosses (Java returns order[keep − 1]).
struct Ends {
    int zero_last;                           // highest id with p == 0, or −1
    int pos_last;                            // the last token with p > 0 in sampling order
};

// Finds where the running sum of p in sampling order crosses X.
//   keep search (strict = false): the first token whose running mass is >= X; sm.res_acc = that mass, sm.res_p
//   its p. Not found (sm.found = 0): the mass never reaches X, sm.res_acc = the mass of every token.
//   sample search (strict = true): r = X − running mass; the first token where r < 0; a token after the nucleus
//   boundary (bid, bp) (bid >= 0) returns the boundary itself, and so does a walk that never crosses (or, when
//   the nucleus is everything, the last token in order: Ends).
// Window search per level: thread 0 scans the histogram; [lo, hi] are the bins that can hold the crossing given
// the fixed-point bounds (each token's mass is truncated by less than one unit).
__device__ void search(Smem& sm, const Row& r, double X, bool strict, double total, double fix, int bid, double bp,
                       double sc0, Ends ends) {
    const int tid = threadIdx.x;
    const double delta = 1e-13 * total;      // covers the double rounding of this kernel's own sums
    int levels = 0, h = 0;
    double hx0 = 0.0, hsc = sc0;
    unsigned long long above_fx = 0, above_cnt = 0;      // thread 0 only
    for (;;) {
        if (tid == 0) {
            unsigned long long cf = above_fx, cc = above_cnt;
            int lo = -1, hi = -1;
            for (int b = 0; b < NB; b++) {
                cf += sm.mass[h][b];
                cc += sm.cnt[h][b];
                if (lo < 0 && (double)(cf + cc) / fix >= X - delta) lo = b;
                if (hi < 0 && (double)cf / fix >= X + delta) { hi = b; break; }
            }
            sm.certain = hi >= 0;
            if (hi < 0) hi = NB - 1;
            unsigned long long count = 0, wfx = 0;
            if (lo >= 0)
                for (int b = lo; b <= hi; b++) { count += sm.cnt[h][b]; wfx += sm.mass[h][b]; }
            sm.x0[levels] = hx0;
            sm.sc[levels] = hsc;
            sm.lo[levels] = lo < 0 ? 0 : lo;
            sm.hi[levels] = hi;
            int st;
            if (lo < 0) st = 3;                                  // the sum never reaches X
            else if (count <= (unsigned long long)CAP) st = 0;  // candidates fit
            else if (hsc == 0.0 || (levels > 0 && sm.xmin == sm.xmax)   // one value of p: ties in id order
                     || (levels > 0 && lo == 0 && hi == NB - 1)   // no progress: the crossing is not resolvable
                     || levels + 1 >= MAXLEV
                     || (double)(wfx + count) / fix <= 4 * delta) // mass below resolution (approximate)
                st = 2;
            else st = 1;
            if (st == 1) {
                for (int b = 0; b < lo; b++) { above_fx += sm.mass[h][b]; above_cnt += sm.cnt[h][b]; }
                double nx0 = hx0 + (double)lo / hsc, x1 = hx0 + (double)(hi + 1) / hsc;
                sm.x0[levels + 1] = nx0;
                sm.sc[levels + 1] = x1 > nx0 ? (double)NB / (x1 - nx0) : 0.0;
            }
            sm.status = st;
        }
        __syncthreads();
        levels++;
        if (sm.status != 1) break;
        hx0 = sm.x0[levels];
        hsc = sm.sc[levels];
        h = 1;
        build_hist(sm, r, 1, levels, hx0, hsc, fix, true);
    }
    const int st = sm.status;
    const bool certain = sm.certain;

    auto fallback = [&]() { return bid >= 0 ? bid : ends.zero_last >= 0 ? ends.zero_last : ends.pos_last; };

    if (st == 3) {
        if (tid == 0) {
            sm.found = strict ? 1 : 0;
            sm.res_id = strict ? fallback() : -1;
            sm.res_acc = total;
            sm.res_p = 0.0;
        }
        __syncthreads();
        return;
    }

    // the mass before the window (tree sum), and the window's tokens as candidates
    if (tid == 0) sm.ncand = 0;
    __syncthreads();
    double above = 0.0;
    unsigned wcnt = 0;
    double wp = 0.0;
    for (int t = tid; t < r.V; t += blockDim.x) {
        double a = arg_of(r, t), p = exp(a);
        if (p == 0.0) continue;
        int c = classify(sm, -a, levels);
        if (c < 0) above += p;
        else if (c == 0) {
            if (st == 0) {
                int slot = atomicAdd(&sm.ncand, 1);
                sm.cp[slot] = p;
                sm.cid[slot] = t;
            } else {
                wcnt++;
                wp = fmax(wp, p);
            }
        }
    }
    above = ku::block_sum(above, sm.red_d);

    if (st == 0) {
        int n = sm.ncand;
        sort_candidates(sm, n);
        if (tid == 0) {
            int found = 0, id = -1;
            double acc = above, rem = X - above, pp = 0.0;
            for (int i = 0; i < n; i++) {
                double p = sm.cp[i];
                int t = sm.cid[i];
                if (strict) {
                    if (bid >= 0 && before(bp, bid, p, t)) { found = 1; id = bid; pp = bp; break; }
                    rem -= p;
                    if (rem < 0) { found = 1; id = t; pp = p; break; }
                } else {
                    acc += p;
                    if (acc >= X) { found = 1; id = t; pp = p; break; }
                }
                id = t;
                pp = p;
            }
            if (!found) {
                if (certain && n > 0) found = 1;     // rounding beyond the bound: the window's last token
                else if (strict) { found = 1; id = fallback(); pp = 0.0; }
            }
            sm.found = found;
            sm.res_id = id;
            sm.res_p = pp;
            sm.res_acc = acc;
        }
        __syncthreads();
        return;
    }

    // st == 2: more than CAP tokens in the window, all with one p (or a mass below resolution, taken as ties at
    // the window's largest p): walked in id order. Thread 0 counts how many the walk takes; the block then finds
    // that token by an exclusive prefix of per-thread counts over contiguous id ranges.
    wcnt = (unsigned)ku::block_sum((double)wcnt, sm.red_d);
    for (int o = 16; o > 0; o >>= 1) wp = fmax(wp, ku::shfl_xor_d(wp, o));
    __syncthreads();
    if ((tid & 31) == 0) sm.cp[tid >> 5] = wp;
    __syncthreads();
    if (tid == 0) {
        double p = 0.0;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++) p = fmax(p, sm.cp[w]);
        long long k = -1;
        double acc = above, rem = X - above;
        for (unsigned i = 0; i < wcnt; i++) {
            if (strict) { rem -= p; if (rem < 0) { k = i; break; } }
            else { acc += p; if (acc >= X) { k = i; break; } }
        }
        if (k < 0 && certain) k = (long long)wcnt - 1;
        sm.tie_k = k;
        sm.res_p = p;
        sm.res_acc = acc;
        sm.found = k >= 0 || strict;
        sm.res_id = k >= 0 ? -1 : strict ? fallback() : -1;
    }
    __syncthreads();
    const long long k = sm.tie_k;
    if (k < 0) return;
    int chunk = (r.V + blockDim.x - 1) / blockDim.x, t0 = min(r.V, tid * chunk), t1 = min(r.V, t0 + chunk);
    int mine = 0;
    for (int t = t0; t < t1; t++) {
        double a = arg_of(r, t);
        if (exp(a) != 0.0 && classify(sm, -a, levels) == 0) mine++;
    }
    __syncthreads();
    sm.cid[tid] = mine;
    __syncthreads();
    if (tid == 0) {
        int run = 0;
        for (int i = 0; i < (int)blockDim.x; i++) { int c = sm.cid[i]; sm.cid[i] = run; run += c; }
    }
    __syncthreads();
    const long long first = sm.cid[tid];
    if (k >= first && k < first + mine) {
        long long want = k - first;
        for (int t = t0; t < t1; t++) {
            double a = arg_of(r, t);
            if (exp(a) != 0.0 && classify(sm, -a, levels) == 0 && want-- == 0) {
                int id = t;
                if (strict && bid >= 0 && before(bp, bid, sm.res_p, id)) id = bid;
                sm.res_id = id;
                break;
            }
        }
    }
    __syncthreads();
}

} // namespace samp

// out[r] = argmax of row r (lowest id on ties). logits [rows, ld]. grid (rows), block (multiple of 32; 256),
// dynamic shared memory 256 bytes.
extern "C" __global__ void argmax_rows(int* out, const float* logits, long long ld, int rows, int V) {
    EXTERN_SHARED(float, rv);                         // 32 floats, then 32 ints
    int* ri = reinterpret_cast<int*>(rv + 32);
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* l = logits + (long long)row * ld;
        float best = -INFINITY;
        int bi = INT_MAX;
        for (int t = threadIdx.x; t < V; t += blockDim.x)
            if (bi == INT_MAX || l[t] > best) { best = l[t]; bi = t; }
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(ku::FULL, best, o);
            int oi = __shfl_xor_sync(ku::FULL, bi, o);
            if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
        }
        __syncthreads();
        if ((threadIdx.x & 31) == 0) { rv[threadIdx.x >> 5] = best; ri[threadIdx.x >> 5] = bi; }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < (int)(blockDim.x >> 5); w++)
                if (rv[w] > best || (rv[w] == best && ri[w] < bi)) { best = rv[w]; bi = ri[w]; }
            out[row] = bi == INT_MAX ? 0 : bi;
        }
    }
}

// out[r] = the token Sampler.sample would draw from row r with temperature[r], top_p[r] and the uniform draw
// u[r] (rows with temperature 0: argmax). logits [rows, ld] f32; u, temperature, top_p: [rows] double.
// grid (rows) [grid-strided], block (multiple of 32, <= 512; 512 on a GPU); dynamic shared memory 37640 bytes.
namespace samp {
__device__ void sample_rows_impl(int* out, const float* logits, long long ld, int rows, int V, const double* u,
                                 const double* temperature, const double* top_p) {
    EXTERN_SHARED(unsigned char, smem_raw);
    Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
    const int tid = threadIdx.x;
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* l = logits + (long long)row * ld;
        // pass 1: max (with its lowest index) and min
        float best = -INFINITY, mn = INFINITY;
        int bi = INT_MAX;
        for (int t = tid; t < V; t += blockDim.x) {
            float v = l[t];
            if (bi == INT_MAX || v > best) { best = v; bi = t; }
            mn = fminf(mn, v);
        }
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(ku::FULL, best, o);
            int oi = __shfl_xor_sync(ku::FULL, bi, o);
            if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
            mn = fminf(mn, __shfl_xor_sync(ku::FULL, mn, o));
        }
        __syncthreads();
        if ((tid & 31) == 0) { sm.red_f[tid >> 5] = best; sm.red_i[tid >> 5] = bi; sm.cp[tid >> 5] = mn; }
        __syncthreads();
        if (tid == 0) {
            double m2 = sm.cp[0];
            for (int w = 1; w < (int)(blockDim.x >> 5); w++) {
                if (sm.red_f[w] > best || (sm.red_f[w] == best && sm.red_i[w] < bi)) { best = sm.red_f[w]; bi = sm.red_i[w]; }
                m2 = fmin(m2, sm.cp[w]);
            }
            sm.red_f[0] = best;
            sm.red_i[0] = bi;
            sm.xmin = m2;
        }
        __syncthreads();
        best = sm.red_f[0];
        bi = sm.red_i[0];
        const double lmin = sm.xmin;
        const double T = temperature[row];
        if (T == 0.0) {
            if (tid == 0) out[row] = bi;
            __syncthreads();
            continue;
        }
        Row r{l, V, (double)best, T};

        // pass 2: total mass, the first histogram, the tokens that end the order (fallbacks)
        int vb = 0;
        while ((1ll << vb) <= (long long)V) vb++;
        const double fix = ldexp(1.0, 63 - vb);         // V·fix <= 2^63: the fixed-point sums cannot overflow
        double X1 = fmin((r.M - lmin) / T, 746.0);
        double sc0 = X1 > 0.0 ? (double)NB / X1 : 0.0;
        for (int b = tid; b < NB; b += blockDim.x) { sm.cnt[0][b] = 0; sm.mass[0][b] = 0; }
        __syncthreads();
        double total = 0.0, pmin = INFINITY;
        int zl = -1, pl = -1;
        for (int t = tid; t < V; t += blockDim.x) {
            double a = arg_of(r, t), p = exp(a);
            total += p;
            if (p == 0.0) { zl = t; continue; }
            if (p <= pmin) { pmin = p; pl = t; }          // smallest p, highest id among equals
            int b = bin_of(-a, 0.0, sc0);
            atomicAdd(&sm.cnt[0][b], 1u);
            atomicAdd(&sm.mass[0][b], (unsigned long long)(p * fix));
        }
        total = ku::block_sum(total, sm.red_d);
        for (int o = 16; o > 0; o >>= 1) {
            zl = max(zl, __shfl_xor_sync(ku::FULL, zl, o));
            double op = ku::shfl_xor_d(pmin, o);
            int ol = __shfl_xor_sync(ku::FULL, pl, o);
            if (op < pmin || (op == pmin && ol > pl)) { pmin = op; pl = ol; }
        }
        __syncthreads();
        if ((tid & 31) == 0) { sm.red_i[tid >> 5] = zl; sm.cid[tid >> 5] = pl; sm.cp[tid >> 5] = pmin; }
        __syncthreads();
        Ends ends{-1, -1};
        pmin = INFINITY;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++) {
            ends.zero_last = max(ends.zero_last, sm.red_i[w]);
            if (sm.cp[w] < pmin || (sm.cp[w] == pmin && sm.cid[w] > ends.pos_last)) { pmin = sm.cp[w]; ends.pos_last = sm.cid[w]; }
        }
        __syncthreads();

        // the nucleus boundary: the first running mass >= topP·total (top_p >= 1: every token, mass = total)
        int bid = -1;
        double bp = 0.0, mass = total;
        if (top_p[row] < 1.0) {
            search(sm, r, top_p[row] * total, false, total, fix, -1, 0.0, sc0, ends);
            bid = sm.found ? sm.res_id : -1;
            bp = sm.res_p;
            mass = sm.res_acc;
            __syncthreads();
        }
        // the draw, inside the nucleus
        search(sm, r, u[row] * mass, true, total, fix, bid, bp, sc0, ends);
        if (tid == 0) out[row] = sm.res_id;
        __syncthreads();
    }
}
} // namespace samp

extern "C" __global__ void __launch_bounds__(512, 1) sample_rows(int* out, const float* logits, long long ld, int rows, int V, const double* u,
                                       const double* temperature, const double* top_p) {
    samp::sample_rows_impl(out, logits, ld, rows, V, u, temperature, top_p);
}
