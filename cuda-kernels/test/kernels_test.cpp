// Correctness tests of the forward kernels on the emulated device, against plain double-precision C++ references.
// The kernels are reached as the Java backend reaches them: the emulated driver (libcuda.so.1, dlopen'ed), kernels
// looked up by name with cuModuleGetFunction, parameters packed as cuLaunchKernel's void** array. Every test runs
// under three warp schedules (in order, reversed, a seeded permutation; attention and sampling under the first and
// the last): a missing barrier changes the result.
//
// Usage: kernels_test <libcuda.so.1> [--fatbin kernels.fatbin] [--bench] [filter]
//   filter: run only tests whose name contains it. On a real GPU pass the driver (libcuda.so.1) and the fatbin:
//   the emulation's hooks (schedules) are then absent and every test runs once; --bench times gemv against the
//   device's copy bandwidth and decode attention (meaningless on the emulated device).
//
// Tolerances (per output element; `scale` is the magnitude the element is made of, stated per test):
//   f32 outputs          |got − ref| <= 2e-5·scale (1e-6 where the kernel does a handful of f32 operations)
//   bf16 / f16 outputs   |got − ref| <= ½ ulp of the output type at |ref| + the f32 tolerance
//   exact                conversions, gathers, argmax, cache writes, sampled tokens
#include "harness.h"

// ---------------------------------------------------------------- embedding

static void test_embedding() {
    const int V = 50, H = 65, n = 7;
    std::vector<int> ids = {3, 0, 49, 3, 17, 1, 48};
    std::vector<float> table = randv((size_t)V * H, -4, 4);
    for (DT t : {DT::F32, DT::BF16, DT::F16}) {
        std::vector<float> rounded;
        auto raw = narrow(t, table, &rounded);
        dptr dt = up(raw), di = up(ids), dout = dalloc((size_t)n * H * 4);
        std::string k = std::string("embedding_") + dtname(t);
        launch(k.c_str(), {3}, 64, P(dout), P(dt), P(di), n, H);
        auto out = down<float>(dout, (size_t)n * H);
        int bad = 0;
        for (int r = 0; r < n; r++)
            for (int c = 0; c < H; c++) bad += out[(size_t)r * H + c] != rounded[(size_t)ids[r] * H + c];
        CHECK(bad == 0, "%s: %d elements differ", dtname(t), bad);
        free_all();
    }
}

// ---------------------------------------------------------------- rmsnorm

static void test_rmsnorm() {
    for (int dim : {64, 65, 200}) {
        for (int n : {1, 7}) {
            const int xrows = n + 3;
            const float eps = 1e-5f;
            std::vector<float> x = randv((size_t)xrows * dim, -3, 3), w = randv(dim, 0.5f, 1.5f);
            for (bool gather : {false, true}) {
                std::vector<int> rows(n);
                for (int r = 0; r < n; r++) rows[r] = gather ? (r * 3 + 2) % xrows : r;
                for (DT t : {DT::F32, DT::BF16, DT::F16}) {
                    dptr dx = up(x), dw = up(w), drows = gather ? up(rows) : NUL, dinv = dalloc(n * 4);
                    dptr dy = dalloc((size_t)n * dim * dtsize(t));
                    std::string k = std::string("rmsnorm_") + dtname(t);
                    launch(k.c_str(), {2}, 64, P(dy), P(dx), P(dw), P(drows), P(dinv), n, dim, eps);
                    auto raw = down<uint8_t>(dy, (size_t)n * dim * dtsize(t));
                    auto inv = down<float>(dinv, n);
                    int bad = 0;
                    for (int r = 0; r < n; r++) {
                        const float* xr = &x[(size_t)rows[r] * dim];
                        double ss = 0;
                        for (int i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
                        double rinv = 1.0 / std::sqrt(ss / dim + eps);
                        CHECK(std::fabs(inv[r] - rinv) <= 1e-6 * rinv, "dim %d row %d inv %g vs %g", dim, r, inv[r], rinv);
                        for (int i = 0; i < dim; i++) {
                            double ref = w[i] * (xr[i] * rinv), got = widen(t, raw, (size_t)r * dim + i);
                            double tol = 1e-6 * std::fabs(ref) + 1e-6 * 1.5 + half_ulp(t, ref);
                            bad += !(std::fabs(got - ref) <= tol);
                        }
                    }
                    CHECK(bad == 0, "dim %d n %d gather %d %s: %d elements off", dim, n, gather, dtname(t), bad);
                    free_all();
                }
            }
        }
    }
}

// ---------------------------------------------------------------- rope

static void test_rope() {
    struct C { int heads, kv, hd; };
    for (C c : {C{4, 2, 8}, C{3, 1, 10}, C{2, 2, 64}, C{4, 1, 128}}) {
        const int n = 7, Q = c.heads * c.hd, K = c.kv * c.hd, ld = Q + 2 * K + 3, half = c.hd / 2;
        std::vector<float> qkv = randv((size_t)n * ld, -2, 2), cs(n * half), sn(n * half);
        for (int t = 0; t < n; t++)
            for (int i = 0; i < half; i++) {
                double a = (t * 5 + 3) * std::pow(10000.0, -2.0 * i / c.hd);
                cs[t * half + i] = (float)std::cos(a);
                sn[t * half + i] = (float)std::sin(a);
            }
        dptr d = up(qkv), dc = up(cs), ds = up(sn);
        launch("rope", {3}, 64, P(d), P(d + (dptr)Q * 4), P(dc), P(ds), n, c.heads, c.kv, c.hd, ld);
        auto out = down<float>(d, qkv.size());
        int bad = 0;
        for (int t = 0; t < n; t++) {
            for (int col = 0; col < ld; col++) {
                double ref = qkv[(size_t)t * ld + col];
                if (col < Q + K) {
                    int h = col / c.hd, i = col % c.hd, base = t * ld + h * c.hd;
                    int j = i % half;
                    double cc = cs[t * half + j], ss = sn[t * half + j];
                    double x1 = qkv[base + j], x2 = qkv[base + j + half];
                    ref = i < half ? x1 * cc - x2 * ss : x2 * cc + x1 * ss;
                }
                bad += !(std::fabs(out[(size_t)t * ld + col] - ref) <= 1e-6 * 4);
            }
        }
        CHECK(bad == 0, "heads %d kv %d hd %d: %d elements off (v columns and padding untouched)", c.heads, c.kv, c.hd, bad);
        free_all();
    }
}

// ---------------------------------------------------------------- paged KV cache (shared by kv_append and attention)

// Blocks of 64 positions, each one allocation covering `layers` layers; the tests use the last layer.
struct Cache {
    int layers = 2, kvh, hd;
    long long layer_stride, k_off, v_off;        // floats
    std::vector<dptr> blocks;                    // device allocations
    std::vector<std::vector<float>> host;        // their host copies
    std::vector<int> seq_table;                  // per sequence: start in block_ptrs
    std::vector<unsigned long long> block_ptrs;  // all tables, concatenated
    std::vector<std::vector<int>> tables;        // per sequence: indices into blocks

    Cache(int kvh_, int hd_) : kvh(kvh_), hd(hd_) {
        layer_stride = 2LL * kvh * 64 * hd;
        k_off = (layers - 1) * layer_stride;
        v_off = k_off + (long long)kvh * 64 * hd;
    }
    long long floats() const { return layers * layer_stride; }
    int new_block() {
        blocks.push_back(dalloc(floats() * 4));
        host.emplace_back(floats(), std::numeric_limits<float>::quiet_NaN());   // never-written memory reads NaN
        return (int)blocks.size() - 1;
    }
    // A table of ceil(ctx / 64) blocks, the first `shared.size()` taken from another sequence.
    void add_seq(int ctx, const std::vector<int>& shared = {}) {
        std::vector<int> t = shared;
        while ((int)t.size() * 64 < ctx) t.push_back(new_block());
        seq_table.push_back((int)block_ptrs.size());
        for (int b : t) block_ptrs.push_back(blocks[b]);
        tables.push_back(t);
    }
    float* at(int s, long long off, int g, int p) {
        return &host[tables[s][p / 64]][off + ((long long)g * 64 + p % 64) * hd];
    }
    // Random keys and values at positions [0, ctx) of sequence s (shared blocks get the same data twice: fine).
    void fill(int s, int ctx, float scale) {
        for (int p = 0; p < ctx; p++)
            for (int g = 0; g < kvh; g++)
                for (int d = 0; d < hd; d++) {
                    at(s, k_off, g, p)[d] = urand(-scale, scale);
                    at(s, v_off, g, p)[d] = urand(-1, 1);
                }
    }
    void upload() { for (size_t b = 0; b < blocks.size(); b++) put(blocks[b], host[b]); }
    void download_into(std::vector<std::vector<float>>& out) {
        out.clear();
        for (size_t b = 0; b < blocks.size(); b++) out.push_back(down<float>(blocks[b], floats()));
    }
};

static void test_kv_append() {
    const int kvh = 2, hd = 10, Q = 4 * hd, K = kvh * hd, ld = Q + 2 * K;
    Cache c(kvh, hd);
    // seq 0: cached 64 (block 0 shared with seq 1), 70 new; seq 1: cached 64, 1 new; seq 2: cached 3, 5 new
    int cached[] = {64, 64, 3}, nnew[] = {70, 1, 5};
    c.add_seq(cached[0] + nnew[0]);
    c.add_seq(cached[1] + nnew[1], {c.tables[0][0]});
    c.add_seq(cached[2] + nnew[2]);
    for (int s = 0; s < 3; s++) c.fill(s, cached[s], 1);
    c.upload();
    std::vector<int> tok_seq, tok_pos;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < nnew[s]; i++) { tok_seq.push_back(s); tok_pos.push_back(cached[s] + i); }
    const int n = (int)tok_seq.size();
    std::vector<float> qkv = randv((size_t)n * ld);
    dptr dq = up(qkv), dts = up(tok_seq), dtp = up(tok_pos), dbp = up(c.block_ptrs), dst = up(c.seq_table);
    launch("kv_append", {5}, 64, P(dq + (dptr)Q * 4), P(dq + (dptr)(Q + K) * 4), ld, P(dts), P(dtp), P(dbp), P(dst),
           c.k_off, c.v_off, n, kvh, hd);
    for (int t = 0; t < n; t++)
        for (int g = 0; g < kvh; g++)
            for (int d = 0; d < hd; d++) {
                c.at(tok_seq[t], c.k_off, g, tok_pos[t])[d] = qkv[(size_t)t * ld + Q + g * hd + d];
                c.at(tok_seq[t], c.v_off, g, tok_pos[t])[d] = qkv[(size_t)t * ld + Q + K + g * hd + d];
            }
    std::vector<std::vector<float>> got;
    c.download_into(got);
    int bad = 0;
    for (size_t b = 0; b < got.size(); b++)
        for (long long i = 0; i < c.floats(); i++) {
            float a = got[b][i], e = c.host[b][i];
            bad += !(a == e || (std::isnan(a) && std::isnan(e)));
        }
    CHECK(bad == 0, "%d cache floats differ (written rows, untouched rest, other layer)", bad);
    free_all();
}

// ---------------------------------------------------------------- attention

struct Seq { int cached, nnew; std::vector<int> share; int share_from = -1; };

struct Iv {
    int mode = 0, causal = 1;
    bool heads_mask = false, from = false;
};

struct AttnCase {
    const char* name;
    int heads, kvh, hd, window;
    std::vector<Seq> seqs;
    int paths = 1;                              // Paths: which kernels run it (decode kernels serve any batch)
};

struct AttnRef {
    std::vector<double> out;                    // [n, heads·hd]
    std::vector<double> scale;                  // [n, heads]: magnitude of the row's output
    std::vector<std::vector<double>> probs;     // per sequence [heads][new][ctx]
};

static bool visible(int j, int P, int W) { return j <= P && (W <= 0 || j > P - W); }

static void attn_reference(const AttnCase& ac, Cache& c, const std::vector<float>& qkv, int ldq,
                           const std::vector<int>& tok_seq, const std::vector<int>& tok_pos, const std::vector<int>& ctxs,
                           const std::vector<int>& seq_start, float scale, int mode, int causal,
                           const std::vector<int>& iv_start, const std::vector<int>& iv_pos, const std::vector<float>& iv_bias,
                           const std::vector<int>& iv_heads, const std::vector<int>& iv_from, AttnRef& R) {
    const int n = (int)tok_seq.size(), H = ac.heads, hd = ac.hd, G = ac.heads / ac.kvh;
    R.out.assign((size_t)n * H * hd, 0.0);
    R.scale.assign((size_t)n * H, 0.0);
    R.probs.assign(ac.seqs.size(), {});
    for (size_t s = 0; s < ac.seqs.size(); s++) R.probs[s].assign((size_t)H * ac.seqs[s].nnew * ctxs[s], 0.0);
    for (int t = 0; t < n; t++) {
        const int s = tok_seq[t], P = tok_pos[t], ctx = ctxs[s], i = t - seq_start[s];
        for (int h = 0; h < H; h++) {
            const int g = h / G;
            bool applies = mode != 0 && iv_start[s] < iv_start[s + 1] && (iv_heads.empty() || iv_heads[h]) &&
                           (iv_from.empty() || P >= iv_from[s]);
            std::vector<double> bias(ctx, 0.0);
            std::vector<char> listed(ctx, 0);
            if (applies)
                for (int e = iv_start[s]; e < iv_start[s + 1]; e++)
                    if (iv_pos[e] >= 0 && iv_pos[e] < ctx) { bias[iv_pos[e]] += iv_bias[e]; listed[iv_pos[e]] = 1; }
            std::vector<double> sc(ctx, -INFINITY);
            double mx = -INFINITY;
            for (int j = 0; j < ctx; j++) {
                bool vis = visible(j, P, ac.window);
                bool in = vis || (mode == 1 && listed[j] && !causal);
                if (!in) continue;
                double dot = 0;
                for (int d = 0; d < hd; d++) dot += (double)qkv[(size_t)t * ldq + h * hd + d] * c.at(s, c.k_off, g, j)[d];
                double v = dot * scale;
                if (mode == 1 && listed[j] && (vis || !causal)) v += bias[j];
                sc[j] = v;
                mx = std::max(mx, v);
            }
            double sum = 0;
            for (int j = 0; j < ctx; j++) if (sc[j] != -INFINITY) sum += std::exp(sc[j] - mx);
            double* o = &R.out[((size_t)t * H + h) * hd];
            double vmax = 0, extra = 0, rowsum = 1;          // mode 3: the weights p_j + b_j divided by 1 + Σ b_j
            if (mode == 3)
                for (int j = 0; j < ctx; j++)
                    if (listed[j] && (visible(j, P, ac.window) || !causal)) rowsum += bias[j];
            for (int j = 0; j < ctx; j++) {
                double p = sc[j] == -INFINITY ? 0.0 : std::exp(sc[j] - mx) / sum;
                R.probs[s][((size_t)h * ac.seqs[s].nnew + i) * ctx + j] = p;
                double w = p;
                if ((mode == 2 || mode == 3) && listed[j] && (visible(j, P, ac.window) || !causal)) {
                    w += bias[j];
                    extra += std::fabs(bias[j]);
                }
                w /= rowsum;
                if (w == 0) continue;
                for (int d = 0; d < hd; d++) {
                    double v = c.at(s, c.v_off, g, j)[d];
                    o[d] += w * v;
                    vmax = std::max(vmax, std::fabs(v));
                }
            }
            R.scale[(size_t)t * H + h] = std::max(vmax, 1e-3) * (1.0 + extra) / rowsum;
        }
    }
}

static double attn_worst_f32 = 0, attn_worst_probs = 0;   // observed errors (relative to scale / absolute)

static int dmax_for(int hd) { return hd <= 32 ? 32 : hd <= 64 ? 64 : hd <= 128 ? 128 : 256; }

// Runs one attention case through every path (prefill / decode kernels, splits, output dtypes, probabilities).
enum Paths { PREFILL = 1, DECODE = 2, ALL = 3, IV = 4 };

static void run_attention(const AttnCase& ac, const Iv& iv, uint64_t seed, int which) {
    rng.seed(seed);
    const int H = ac.heads, hd = ac.hd, kvh = ac.kvh, G = H / kvh, Q = H * hd, K = kvh * hd, ldq = Q + 2 * K;
    const int S = (int)ac.seqs.size();
    Cache c(kvh, hd);
    std::vector<int> ctxs, tok_seq, tok_pos, seq_start{0};
    for (int s = 0; s < S; s++) {
        const Seq& q = ac.seqs[s];
        std::vector<int> shared;
        for (int b = 0; b < (int)q.share.size(); b++) shared.push_back(c.tables[q.share_from][q.share[b]]);
        ctxs.push_back(q.cached + q.nnew);
        c.add_seq(ctxs.back(), shared);
        for (int i = 0; i < q.nnew; i++) { tok_seq.push_back(s); tok_pos.push_back(q.cached + i); }
        seq_start.push_back(seq_start.back() + q.nnew);
    }
    // data: shared blocks are filled by their first owner only
    for (int s = 0; s < S; s++) {
        int from = (int)ac.seqs[s].share.size() * 64;
        for (int p = from; p < ctxs[s]; p++)
            for (int g = 0; g < kvh; g++)
                for (int d = 0; d < hd; d++) {
                    c.at(s, c.k_off, g, p)[d] = urand(-1.5f, 1.5f);
                    c.at(s, c.v_off, g, p)[d] = urand(-1, 1);
                }
    }
    c.upload();
    const int n = (int)tok_seq.size();
    std::vector<float> qkv = randv((size_t)n * ldq, -1.5f, 1.5f);
    const float scale = (float)(1.0 / std::sqrt((double)hd));

    // intervention: per sequence a few distinct positions (cached, new, future, beyond the context)
    std::vector<int> iv_start{0}, iv_pos, iv_heads, iv_from;
    std::vector<float> iv_bias;
    for (int s = 0; s < S; s++) {
        if (iv.mode != 0 && s != 1) {                        // sequence 1 (if any) has an empty list
            std::vector<int> cand;
            for (int p = 0; p < ctxs[s] + 3; p++) cand.push_back(p);
            std::shuffle(cand.begin(), cand.end(), rng);
            int cnt = std::min((int)cand.size(), 2 + (int)(rng() % 9));
            for (int e = 0; e < cnt; e++) {
                iv_pos.push_back(cand[e]);
                float b = urand(-3, 3);
                if (iv.mode == 1 && e == 0 && cand[e] >= 1) b = -INFINITY;   // masking a key (never a row's only one)
                if (iv.mode == 3) b = urand(-1, 3) * 0.05f;   // 1 + Σ b stays >= 0.5 (at most 10 entries)
                iv_bias.push_back(iv.mode == 2 ? b * 0.2f : b);
            }
        }
        iv_start.push_back((int)iv_pos.size());
        if (iv.from) iv_from.push_back(ac.seqs[s].cached + ac.seqs[s].nnew / 2);
    }
    if (iv.heads_mask) for (int h = 0; h < H; h++) iv_heads.push_back(h % 3 != 1);

    AttnRef R;
    attn_reference(ac, c, qkv, ldq, tok_seq, tok_pos, ctxs, seq_start, scale, iv.mode, iv.causal, iv_start, iv_pos,
                   iv_bias, iv_heads, iv_from, R);

    dptr dq = up(qkv), dbp = up(c.block_ptrs), dst = up(c.seq_table), dts = up(tok_seq), dtp = up(tok_pos);
    dptr dctx = up(ctxs), dss = up(seq_start);
    dptr divs = iv.mode ? up(iv_start) : NUL, divp = iv.mode && !iv_pos.empty() ? up(iv_pos) : NUL;
    dptr divb = iv.mode && !iv_bias.empty() ? up(iv_bias) : NUL;
    dptr divh = iv_heads.empty() ? NUL : up(iv_heads), divf = iv_from.empty() ? NUL : up(iv_from);
    const int maxsplit = 3;
    dptr dpo = dalloc((size_t)maxsplit * n * H * hd * 4), dpml = dalloc((size_t)maxsplit * n * H * 2 * 4);
    dptr dstats = dalloc((size_t)n * H * 2 * 4);
    std::vector<long long> poff;
    long long ptotal = 0;
    for (int s = 0; s < S; s++) { poff.push_back(ptotal); ptotal += (long long)H * ac.seqs[s].nnew * ctxs[s]; }
    dptr dpoff = up(poff), dprobs = dalloc((size_t)ptotal * 4);

    const int D = dmax_for(hd), ROWS = D >= 256 ? 8 : 16;
    struct Path { bool decode; int splits; DT out; bool probs; };
    std::vector<Path> paths;
    if (which & PREFILL) paths.insert(paths.end(), {{false, 1, DT::F32, true}, {false, 3, DT::F32, true}, {false, 1, DT::BF16, false}});
    if (which & DECODE) paths.insert(paths.end(), {{true, 1, DT::F32, true}, {true, 2, DT::F32, true}, {true, 2, DT::F16, false}});
    if (which & IV) paths = {{false, 1, DT::F32, true}, {false, 2, DT::F32, false}, {true, 2, DT::F16, true}};
    for (const Path& pa : paths) {
        dptr dout = dalloc((size_t)n * Q * dtsize(pa.out));
        std::string kname = std::string("attn_") + (pa.decode ? "decode" : "prefill") + "_d" + std::to_string(D) + "_" + out_suffix(pa.out);
        Dim grid = pa.decode ? Dim{(unsigned)n, (unsigned)(kvh * ((G + ROWS - 1) / ROWS)), (unsigned)pa.splits}
                             : Dim{(unsigned)((n * G + ROWS - 1) / ROWS), (unsigned)kvh, (unsigned)pa.splits};
        dptr dstat = pa.probs ? dstats : NUL;
        bool ok = launch(kname.c_str(), grid, 128, P(dout), Q, P(dq), ldq, P(dbp), P(dst), c.k_off, c.v_off, P(dts), P(dtp),
                         P(dctx), n, H, kvh, hd, ac.window, scale, pa.splits, P(dpo), P(dpml), P(pa.splits == 1 ? dstat : NUL),
                         iv.mode, iv.causal, P(divs), P(divp), P(divb), P(divh), P(divf));
        if (ok && pa.splits > 1) {
            std::string cname = std::string("attn_combine_") + out_suffix(pa.out);
            ok = launch(cname.c_str(), Dim{(unsigned)n, (unsigned)H}, 64, P(dout), Q, P(dq), ldq, P(dbp), P(dst), c.k_off,
                        c.v_off, P(dts), P(dtp), P(dctx), n, H, kvh, hd, ac.window, scale, pa.splits, P(dpo), P(dpml),
                        P(dstat), iv.mode, iv.causal, P(divs), P(divp), P(divb), P(divh), P(divf));
        }
        if (!ok) continue;
        auto raw = down<uint8_t>(dout, (size_t)n * Q * dtsize(pa.out));
        int bad = 0;
        double worst = 0;
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < hd; d++) {
                    size_t idx = ((size_t)t * H + h) * hd + d;
                    double ref = R.out[idx], got = widen(pa.out, raw, idx);
                    double tol = 2e-5 * R.scale[(size_t)t * H + h] + half_ulp(pa.out, ref);
                    double err = std::fabs(got - ref);
                    if (!(err <= tol)) {
                        if (bad < 3) std::printf("    t %d h %d d %d: got %.8g ref %.8g\n", t, h, d, got, ref);
                        bad++;
                    }
                    if (err / R.scale[(size_t)t * H + h] > worst) worst = err / R.scale[(size_t)t * H + h];
                }
        if (pa.out == DT::F32) attn_worst_f32 = std::max(attn_worst_f32, worst);
        CHECK(bad == 0, "%s %s splits %d: %d of %d outputs off (worst %.2e of scale)", ac.name, kname.c_str(),
              pa.splits, bad, n * Q, worst);
        if (pa.probs) {
            ok = launch_smem("attn_probs", Dim{(unsigned)n, (unsigned)H}, 64, smem_for("attn_probs", hd), P(dprobs), P(dpoff), P(dss), P(dq), ldq, P(dbp),
                        P(dst), c.k_off, P(dts), P(dtp), P(dctx), P(dstats), n, H, kvh, hd, ac.window, scale, iv.mode,
                        iv.causal, P(divs), P(divp), P(divb), P(divh), P(divf));
            if (!ok) continue;
            auto pr = down<float>(dprobs, (size_t)ptotal);
            int pbad = 0, zbad = 0;
            for (int s = 0; s < S; s++)
                for (size_t e = 0; e < R.probs[s].size(); e++) {
                    double ref = R.probs[s][e], got = pr[poff[s] + e];
                    if (ref == 0.0) zbad += got != 0.0f;
                    else pbad += !(std::fabs(got - ref) <= 2e-6 + 2e-5 * ref);
                    attn_worst_probs = std::max(attn_worst_probs, std::fabs(got - ref));
                }
            CHECK(pbad == 0 && zbad == 0, "%s probs after %s splits %d: %d off, %d masked entries not 0", ac.name,
                  kname.c_str(), pa.splits, pbad, zbad);
        }
    }
    free_all();
}

static std::vector<AttnCase> attention_cases() {
    std::vector<AttnCase> v;
    // mixed prefill: fresh, cached prefix sharing a block, a lone decode row, a long cached one, block edges
    std::vector<Seq> mixed = {{0, 7, {}}, {64, 65, {}}, {5, 1, {}}, {130, 33, {0}, 1}};
    v.push_back({"mixed hd64 G4", 4, 1, 64, 0, mixed, ALL});
    v.push_back({"mixed hd64 G1", 2, 2, 64, 0, mixed});
    v.push_back({"mixed hd8 G2 (stories260K)", 4, 2, 8, 0, mixed});
    v.push_back({"mixed hd10 G2 (not a multiple of 4)", 4, 2, 10, 0, mixed});
    v.push_back({"mixed hd128 G4 window 40", 4, 1, 128, 40, mixed});
    v.push_back({"mixed hd16 G2 window 1", 4, 2, 16, 1, mixed});
    v.push_back({"mixed hd256 G2", 4, 2, 256, 0, {{0, 7, {}}, {64, 9, {}}, {3, 1, {}}}});
    v.push_back({"mixed hd32 G20 (MQA: two row chunks per group in decode)", 20, 1, 32, 0, {{0, 5, {}}, {70, 3, {}}}, ALL});
    v.push_back({"mixed hd256 G10 (two row chunks of 8)", 10, 1, 256, 0, {{0, 3, {}}, {33, 2, {}}}, ALL});
    // prefill of n = 200 tokens, no cache; n = 1
    v.push_back({"prefill n200 hd64 G2", 2, 1, 64, 0, {{0, 200, {}}}});
    v.push_back({"prefill n200 hd32 G4 window 50", 4, 1, 32, 50, {{0, 200, {}}}});
    v.push_back({"single token", 2, 1, 64, 0, {{0, 1, {}}}, ALL});
    // decode: one new token per sequence, long and short contexts, shared prefixes
    std::vector<Seq> dec = {{0, 1, {}}, {63, 1, {}}, {64, 1, {}}, {300, 1, {}}, {200, 1, {0, 1}, 3}, {777, 1, {}}};
    v.push_back({"decode hd128 G4", 8, 2, 128, 0, dec, ALL});
    v.push_back({"decode hd64 G2 window 100", 4, 2, 64, 100, dec, ALL});
    v.push_back({"decode hd8 G2", 8, 4, 8, 0, dec, ALL});
    v.push_back({"decode hd256 G1", 2, 2, 256, 0, {{0, 1, {}}, {90, 1, {}}, {200, 1, {}}}, ALL});
    return v;
}

static void test_attention() {
    uint64_t seed = 100;
    const char* only = std::getenv("KT_CASE");
    for (const AttnCase& ac : attention_cases()) {
        seed++;
        if (only && !std::strstr(ac.name, only)) continue;
        auto a = std::chrono::steady_clock::now();
        run_attention(ac, Iv{}, seed, ac.paths);
        if (std::getenv("KT_VERBOSE"))
            std::printf("  %-50s %.2f s\n", ac.name, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    // interventions: every mode, causal or not, head mask and query threshold, on prefill (cached prefix, shared
    // block), a window, and decode rows
    if (only) return;
    std::vector<AttnCase> ivcases = {
        {"iv mixed hd16 G2", 4, 2, 16, 0, {{0, 7, {}}, {64, 20, {}}, {5, 1, {}}, {70, 9, {0}, 1}}},
        {"iv mixed hd8 G4 window 6", 4, 1, 8, 6, {{0, 12, {}}, {40, 9, {}}, {3, 1, {}}}},
        {"iv decode hd32 G2", 4, 2, 32, 0, {{0, 1, {}}, {63, 1, {}}, {100, 1, {}}, {130, 1, {0}, 2}}}};
    for (const AttnCase& ac : ivcases) {
        auto a = std::chrono::steady_clock::now();
        for (int mode : {1, 2, 3})
            for (int causal : {1, 0}) {
                run_attention(ac, Iv{mode, causal, false, false}, seed++, IV);
                run_attention(ac, Iv{mode, causal, true, true}, seed++, IV);
            }
        if (std::getenv("KT_VERBOSE"))
            std::printf("  %-50s %.2f s\n", ac.name, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    std::printf("  attention: worst f32 output error %.2e of the row's scale, worst probability error %.2e\n",
                attn_worst_f32, attn_worst_probs);
}

// ---------------------------------------------------------------- swiglu and element-wise

static void test_swiglu() {
    for (int I : {1, 172, 300}) {
        const int n = 7, ldg = 2 * I + 5, lda = I + 1;
        std::vector<float> gu = randv((size_t)n * ldg, -6, 6), bg = randv(I), bu = randv(I);
        for (bool bias : {false, true})
            for (DT t : {DT::F32, DT::BF16, DT::F16}) {
                dptr dg = up(gu), dbg = bias ? up(bg) : NUL, dbu = bias ? up(bu) : NUL;
                dptr da = dalloc((size_t)n * lda * dtsize(t));
                std::string k = std::string("swiglu_") + dtname(t);
                launch(k.c_str(), Dim{(unsigned)((I + 63) / 64), 3}, 64, P(da), lda, P(dg), ldg, P(dbg), P(dbu), n, I);
                auto raw = down<uint8_t>(da, (size_t)n * lda * dtsize(t));
                int bad = 0;
                for (int r = 0; r < n; r++)
                    for (int c = 0; c < I; c++) {
                        double z = gu[(size_t)r * ldg + c] + (bias ? (double)bg[c] : 0.0);
                        double u = gu[(size_t)r * ldg + I + c] + (bias ? (double)bu[c] : 0.0);
                        double ref = z / (1 + std::exp(-z)) * u, got = widen(t, raw, (size_t)r * lda + c);
                        bad += !(std::fabs(got - ref) <= 1e-6 * (std::fabs(z * u) + 1e-3) + half_ulp(t, ref));
                    }
                CHECK(bad == 0, "I %d bias %d %s: %d elements off", I, bias, dtname(t), bad);
                free_all();
            }
    }
}

static void test_elementwise() {
    const int rows = 7, cols = 65, ldx = 70, ldy = 66;
    std::vector<float> x = randv((size_t)rows * ldx), y = randv((size_t)rows * ldy), b = randv(cols);
    for (bool bias : {false, true}) {
        dptr dx = up(x), dy = up(y), db = bias ? up(b) : NUL;
        launch("residual_add", Dim{1, 3}, 64, P(dx), ldx, P(dy), ldy, P(db), rows, cols);
        auto out = down<float>(dx, x.size());
        int bad = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < ldx; c++) {
                float e = c < cols ? x[r * ldx + c] + (y[r * ldy + c] + (bias ? b[c] : 0.f)) : x[r * ldx + c];
                bad += out[r * ldx + c] != e;
            }
        CHECK(bad == 0, "residual_add bias %d: %d differ", bias, bad);
        free_all();
    }
    {
        dptr dy = up(y), db = up(b);
        launch("bias_add", Dim{2, 2}, 32, P(dy), ldy, P(db), rows, cols);
        auto out = down<float>(dy, y.size());
        int bad = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < ldy; c++) bad += out[r * ldy + c] != (c < cols ? y[r * ldy + c] + b[c] : y[r * ldy + c]);
        CHECK(bad == 0, "bias_add: %d differ", bad);
        free_all();
    }
    {
        // conversion: random values, exact ties between two bf16 / f16 values, overflow, subnormals, signed zeros
        std::vector<float> v = randv((size_t)rows * ldx, -100, 100);
        uint32_t ties[] = {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x3f800001u, 0x7f7fffffu, 0x00000001u, 0x80000000u,
                           0x477ff000u, 0x477fe000u, 0x387fc000u, 0x33000000u, 0x3f801000u, 0x3f803000u};
        for (size_t i = 0; i < sizeof ties / 4; i++) std::memcpy(&v[i], &ties[i], 4);
        for (DT t : {DT::BF16, DT::F16}) {
            dptr dv = up(v), dout = dalloc((size_t)rows * cols * 2);
            std::string k = std::string("convert_") + dtname(t);
            launch(k.c_str(), Dim{1, 2}, 64, P(dout), cols, P(dv), ldx, rows, cols);
            auto out = down<uint16_t>(dout, (size_t)rows * cols);
            int bad = 0;
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) {
                    float f = v[r * ldx + c];
                    bad += out[r * cols + c] != (t == DT::BF16 ? f2bf(f) : f2h(f));
                }
            CHECK(bad == 0, "convert %s: %d differ from round-to-nearest-even", dtname(t), bad);
            free_all();
        }
    }
    {
        std::vector<int> idx = {6, 0, 3, 3};
        const int m = (int)idx.size();
        dptr dx = up(x), dout = dalloc((size_t)m * ldy * 4);
        launch("gather_rows", Dim{1, 2}, 64, P(dout), ldy, P(dx), ldx, P(up(idx)), m, cols);
        auto g = down<float>(dout, (size_t)m * ldy);
        int bad = 0;
        for (int r = 0; r < m; r++)
            for (int c = 0; c < cols; c++) bad += g[r * ldy + c] != x[idx[r] * ldx + c];
        CHECK(bad == 0, "gather_rows: %d differ", bad);
        std::vector<int> sidx = {5, 1, 2};
        dptr dy = up(y), dx2 = up(x);
        launch("scatter_rows", Dim{1, 1}, 64, P(dx2), ldx, P(dy), ldy, P(up(sidx)), 3, cols);
        auto sres = down<float>(dx2, x.size());
        bad = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < ldx; c++) {
                float e = x[r * ldx + c];
                for (int k = 0; k < 3; k++) if (sidx[k] == r && c < cols) e = y[k * ldy + c];
                bad += sres[r * ldx + c] != e;
            }
        CHECK(bad == 0, "scatter_rows: %d differ", bad);
        free_all();
    }
}

// ---------------------------------------------------------------- gemv

static void test_gemv() {
    struct C { int out, in; };
    for (C c : {C{1, 64}, C{7, 172}, C{65, 1024}, C{33, 520}, C{5, 70}}) {   // 172, 70: scalar paths
        for (DT t : {DT::F32, DT::BF16, DT::F16}) {
            std::vector<float> W = randv((size_t)c.out * c.in), Wr, bias = randv(c.out);
            auto raw = narrow(t, W, &Wr);
            for (int m : {1, 2, 3, 5, 8}) {
                const int M = m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8, R = M >= 8 ? 4 : 8;
                const int ldx = c.in + 4, ldy = c.out + 3;
                std::vector<float> x = randv((size_t)m * ldx, -2, 2);
                for (bool withb : {false, true}) {
                    if (withb && m != 3) continue;
                    dptr dw = up(raw), dx = up(x), db = withb ? up(bias) : NUL, dy = dalloc((size_t)m * ldy * 4);
                    std::string k = std::string("gemv_") + dtname(t) + "_m" + std::to_string(M);
                    launch(k.c_str(), Dim{(unsigned)((c.out + R - 1) / R)}, 128, P(dy), ldy, P(dx), ldx, P(dw), P(db), m,
                           c.out, c.in);
                    auto y = down<float>(dy, (size_t)m * ldy);
                    int bad = 0;
                    for (int i = 0; i < m; i++)
                        for (int o = 0; o < c.out; o++) {
                            double ref = withb ? bias[o] : 0.0, mag = 0;
                            for (int j = 0; j < c.in; j++) {
                                ref += (double)Wr[(size_t)o * c.in + j] * x[(size_t)i * ldx + j];
                                mag += std::fabs((double)Wr[(size_t)o * c.in + j] * x[(size_t)i * ldx + j]);
                            }
                            bad += !(std::fabs(y[(size_t)i * ldy + o] - ref) <= 2e-6 * mag + 1e-6);
                        }
                    CHECK(bad == 0, "%s out %d in %d m %d bias %d: %d off", k.c_str(), c.out, c.in, m, withb, bad);
                    free_all();
                }
            }
        }
    }
}

// ---------------------------------------------------------------- sampling

// C++ port of engine/Sampler.java#sample, given the uniform draw u.
static int sampler_ref(const float* l, int V, double T, double topP, double u) {
    if (T == 0) {
        int best = 0;
        for (int t = 1; t < V; t++) if (l[t] > l[best]) best = t;
        return best;
    }
    double max = -INFINITY;
    for (int t = 0; t < V; t++) max = std::max(max, (double)l[t]);
    std::vector<double> p(V);
    double total = 0;
    for (int t = 0; t < V; t++) {
        p[t] = std::exp(((double)l[t] - max) / T);
        total += p[t];
    }
    std::vector<int> order(V);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] != p[b] ? p[a] > p[b] : a < b; });
    int keep = 0;
    double mass = 0;
    while (keep < V && (keep == 0 || mass < topP * total)) mass += p[order[keep++]];
    double uu = u * mass;
    for (int i = 0; i < keep; i++) {
        uu -= p[order[i]];
        if (uu < 0) return order[i];
    }
    return order[keep - 1];
}

static void test_argmax() {
    const int rows = 6;
    for (int V : {1, 7, 1000, 5000}) {
        std::vector<float> l = randv((size_t)rows * V, -5, 5);
        std::vector<int> expect(rows);
        for (int r = 0; r < rows; r++) {
            float* row = &l[(size_t)r * V];
            if (r % 2 == 1 && V > 3) {                      // ties: the maximum at several ids
                float mx = 6.f;
                for (int k = 0; k < 4; k++) row[(k * 7919 + r * 131) % V] = mx;
            }
            if (r == 4) std::fill(row, row + V, 0.5f);      // all equal
            int best = 0;
            for (int t = 1; t < V; t++) if (row[t] > row[best]) best = t;
            expect[r] = best;
        }
        dptr dl = up(l), dout = dalloc(rows * 4);
        launch("argmax_rows", Dim{(unsigned)rows}, 96, P(dout), P(dl), (long long)V, rows, V);
        auto got = down<int>(dout, rows);
        for (int r = 0; r < rows; r++) CHECK(got[r] == expect[r], "V %d row %d: %d, expected %d", V, r, got[r], expect[r]);
        // sample_rows with temperature 0 is the same argmax
        std::vector<double> u(rows, 0.5), T(rows, 0.0), tp(rows, 1.0);
        dptr du = up(u), dT = up(T), dtp = up(tp), dout2 = dalloc(rows * 4);
        launch("sample_rows", Dim{(unsigned)rows}, 64, P(dout2), P(dl), (long long)V, rows, V, P(du), P(dT), P(dtp));
        auto got2 = down<int>(dout2, rows);
        for (int r = 0; r < rows; r++) CHECK(got2[r] == expect[r], "T=0 V %d row %d: %d, expected %d", V, r, got2[r], expect[r]);
        free_all();
    }
}

static void test_sampling() {
    struct C { int V, rows; unsigned block; const char* kind; };
    // kinds: "rand" uniform logits in [-8, 8]; "peaked": one high logit; "ties": many equal logits; "flat": all equal;
    // "int": integer logits (exact ties across bins); "cluster": 95% of the logits within 0.05 (histogram refinement); "plateau": 60% of the logits equal, below the
    // others (ties walked in id order after a refinement)
    std::vector<C> cases = {{1, 4, 64, "rand"},     {7, 100, 64, "rand"},   {300, 200, 64, "rand"},
                            {5000, 40, 128, "rand"}, {40000, 8, 256, "rand"}, {3000, 20, 64, "peaked"},
                            {6000, 16, 128, "ties"}, {5000, 12, 96, "flat"},  {4096, 24, 64, "int"},
                            {20000, 24, 128, "cluster"}, {6000, 24, 96, "plateau"}};
    uint64_t seed = 777;
    for (const C& c : cases) {
        rng.seed(seed++);
        std::vector<float> l((size_t)c.rows * c.V);
        std::vector<double> u(c.rows), T(c.rows), tp(c.rows);
        const double temps[] = {1.0, 0.7, 0.05, 2.5, 1e-3, 40.0};
        const double tops[] = {1.0, 0.9, 0.5, 0.95, 0.01, 0.999};
        for (int r = 0; r < c.rows; r++) {
            float* row = &l[(size_t)r * c.V];
            for (int t = 0; t < c.V; t++) {
                std::string k = c.kind;
                if (k == "rand") row[t] = urand(-8, 8);
                else if (k == "peaked") row[t] = t == (r * 37) % c.V ? 12.f : urand(-4, 4);
                else if (k == "ties") row[t] = t % 5 == 0 ? 3.f : urand(-6, 2.9f);
                else if (k == "flat") row[t] = 1.25f;
                else if (k == "plateau") row[t] = t % 5 < 3 ? 0.f : urand(0.1f, 2.f);   // 3600 tied below the top
                else if (k == "cluster") row[t] = t % 20 == 0 ? urand(-60, 0) : urand(0, 0.05f);   // refinement
                else row[t] = (float)(int)urand(-6, 6);
            }
            u[r] = std::uniform_real_distribution<double>(0, 1)(rng);
            T[r] = temps[(r + seed) % 6];
            tp[r] = tops[(r / 6 + r + seed) % 6];
        }
        if (c.rows > 2) u[1] = 0.0, u[2] = std::nextafter(1.0, 0.0);   // extreme draws
        dptr dl = up(l), du = up(u), dT = up(T), dtp = up(tp), dout = dalloc(c.rows * 4);
        launch("sample_rows", Dim{(unsigned)std::min(c.rows, 5)}, c.block, P(dout), P(dl), (long long)c.V, c.rows, c.V,
               P(du), P(dT), P(dtp));
        auto got = down<int>(dout, c.rows);
        int bad = 0;
        for (int r = 0; r < c.rows; r++) {
            int e = sampler_ref(&l[(size_t)r * c.V], c.V, T[r], tp[r], u[r]);
            if (got[r] != e && bad++ < 3)
                std::printf("    %s V %d row %d (T %g top_p %g u %.17g): %d, host %d\n", c.kind, c.V, r, T[r], tp[r], u[r],
                            got[r], e);
        }
        CHECK(bad == 0, "%s V %d: %d of %d rows differ from the host sampler", c.kind, c.V, bad, c.rows);
        free_all();
    }
}

// ---------------------------------------------------------------- benchmarks (real GPU)

static float time_ms(const std::function<void()>& fn, int reps) {
    void *a = nullptr, *b = nullptr;
    drv::cuEventCreate(&a, 0);
    drv::cuEventCreate(&b, 0);
    fn();                                                     // warm-up
    drv::cuCtxSynchronize();
    drv::cuEventRecord(a, nullptr);
    for (int i = 0; i < reps; i++) fn();
    drv::cuEventRecord(b, nullptr);
    drv::cuEventSynchronize(b);
    float ms = 0;
    drv::cuEventElapsedTime(&ms, a, b);
    return ms / reps;
}

template <class... A>
static void launch_async(const char* name, Dim grid, unsigned block, unsigned smem, A... args) {
    void* f = nullptr;
    drv::cuModuleGetFunction(&f, drv::module, name);
    void* params[] = {static_cast<void*>(&args)..., nullptr};
    int rc = drv::cuLaunchKernel(f, grid.x, grid.y, grid.z, block, 1, 1, smem, nullptr, params, nullptr);
    if (rc) { CHECK(false, "launch %s: %s", name, last_error(rc)); }
}

static void run_bench() {
    int sms = 0;
    drv::cuDeviceGetAttribute(&sms, 16, 0);
    const int sh = std::getenv("KT_BENCH_SMALL") ? 4 : 0;      // smoke run on the emulation: sizes / 16
    // copy bandwidth: device-to-device of 1 GiB (read + write)
    const size_t big = (size_t)1 << (30 - sh);
    dptr a = dalloc(big), b = dalloc(big);
    float ms = time_ms([&] { drv::cuMemcpyDtoD_v2(b, a, big); }, 10);
    double copy_gbs = 2.0 * big / (ms * 1e-3) / 1e9;
    std::printf("bench: %d SMs; cuMemcpyDtoD 1 GiB: %.3f ms, %.0f GB/s (read + write)\n", sms, ms, copy_gbs);
    free_all();
    // gemv: Llama-3-8B decode shapes in bf16 (fused qkv, o, fused gate|up, down, lm_head)
    struct G { const char* what; int out, in; };
    G shapes[] = {{"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate_up", 28672, 4096}, {"down", 4096, 14336}, {"lm_head", 128256, 4096}};
    for (const char* dt : {"bf16", "f32"}) {
        size_t es = std::strcmp(dt, "f32") ? 2 : 4;
        for (const G& g : shapes) {
            G gg = g;
            gg.out >>= sh;
            const G& g2 = gg;
            dptr W = dalloc((size_t)g2.out * g2.in * es), x = dalloc((size_t)8 * g2.in * 4), y = dalloc((size_t)8 * g2.out * 4);
            for (int m : {1, 2, 4, 8}) {
                int R = m >= 8 ? 4 : 8;
                std::string k = std::string("gemv_") + dt + "_m" + std::to_string(m);
                float t = time_ms([&] { launch_async(k.c_str(), Dim{(unsigned)((g2.out + R - 1) / R)}, 128, 512, y, g2.out, x,
                                                     g2.in, W, NUL, m, g2.out, g2.in); }, 20);
                double gbs = (double)g2.out * g2.in * es / (t * 1e-3) / 1e9;
                std::printf("bench: gemv %-4s %-8s %6d x %5d m %d: %8.1f us  %6.0f GB/s  %.2fx the weight read at copy bandwidth\n",
                            dt, g2.what, g2.out, g2.in, m, t * 1e3, gbs, copy_gbs / 2 / gbs);
            }
            free_all();
        }
    }
    // decode attention: batch B, context C, 32 heads, 8 KV heads, hd 128, f32 cache
    for (int B : {1, 8}) for (int C0 : {1024, 8192}) {
        const int C = C0 >> sh;
        const int H = 32, kvh = 8, hd = 128, Q = H * hd, ldq = Q + 2 * kvh * hd;
        Cache c(kvh, hd);
        c.layers = 1;
        c.layer_stride = 2LL * kvh * 64 * hd;
        c.k_off = 0;
        c.v_off = (long long)kvh * 64 * hd;
        std::vector<int> ctxs, ts, tp;
        std::vector<unsigned long long> bp;
        std::vector<int> st;
        for (int s = 0; s < B; s++) {
            st.push_back((int)bp.size());
            for (int k = 0; k < (C + 63) / 64; k++) bp.push_back(dalloc(c.floats() * 4));
            ctxs.push_back(C);
            ts.push_back(s);
            tp.push_back(C - 1);
        }
        int splits = std::max(1, std::min((C + 255) / 256, (2 * sms + B * kvh - 1) / (B * kvh)));
        dptr dq = dalloc((size_t)B * ldq * 4), dout = dalloc((size_t)B * Q * 4), dbp = up(bp), dst = up(st), dts = up(ts),
             dtp = up(tp), dctx = up(ctxs), dpo = dalloc((size_t)splits * B * H * hd * 4), dpml = dalloc((size_t)splits * B * H * 8);
        float t = time_ms([&] {
            launch_async("attn_decode_d128_f32", Dim{(unsigned)B, (unsigned)kvh, (unsigned)splits}, 128, 44544, dout, Q, dq, ldq,
                         dbp, dst, c.k_off, c.v_off, dts, dtp, dctx, B, H, kvh, hd, 0, 0.088f, splits, dpo, dpml, NUL, 0, 1, NUL,
                         NUL, NUL, NUL, NUL);
            if (splits > 1)
                launch_async("attn_combine_f32", Dim{(unsigned)B, (unsigned)H}, 64, 0, dout, Q, dq, ldq, dbp, dst, c.k_off,
                             c.v_off, dts, dtp, dctx, B, H, kvh, hd, 0, 0.088f, splits, dpo, dpml, NUL, 0, 1, NUL, NUL, NUL,
                             NUL, NUL);
        }, 20);
        double bytes = 2.0 * B * C * kvh * hd * 4;
        std::printf("bench: decode attention B %d ctx %d (32/8 heads, hd 128, splits %d): %8.1f us  %6.0f GB/s of K/V\n", B, C,
                    splits, t * 1e3, bytes / (t * 1e-3) / 1e9);
        free_all();
    }
    // prefill attention: one sequence of n tokens, 32/8 heads, hd 128
    for (int n0 : {512, 2048}) {
        const int n = n0 >> sh;
        const int H = 32, kvh = 8, hd = 128, G = H / kvh, Q = H * hd, ldq = Q + 2 * kvh * hd;
        Cache c(kvh, hd);
        std::vector<unsigned long long> bp;
        for (int k = 0; k < (n + 63) / 64; k++) bp.push_back(dalloc(c.floats() * 4));
        std::vector<int> st{0}, ctxs{n}, ts(n, 0), tp(n);
        std::iota(tp.begin(), tp.end(), 0);
        dptr dq = dalloc((size_t)n * ldq * 4), dout = dalloc((size_t)n * Q * 4), dbp = up(bp), dst = up(st), dts = up(ts),
             dtp = up(tp), dctx = up(ctxs);
        float t = time_ms([&] {
            launch_async("attn_prefill_d128_f32", Dim{(unsigned)((n * G + 15) / 16), (unsigned)kvh, 1}, 128, 44544, dout, Q, dq,
                         ldq, dbp, dst, c.k_off, c.v_off, dts, dtp, dctx, n, H, kvh, hd, 0, 0.088f, 1, NUL, NUL, NUL, 0, 1,
                         NUL, NUL, NUL, NUL, NUL);
        }, 5);
        double flops = 4.0 * H * hd * ((double)n * (n + 1) / 2);
        std::printf("bench: prefill attention n %d (32/8 heads, hd 128): %8.1f us  %.1f TFLOP/s (f32 SIMT)\n", n, t * 1e3,
                    flops / (t * 1e-3) / 1e12);
        free_all();
    }
}

// ---------------------------------------------------------------- main

int main(int argc, char** argv) {
    if (argc < 2) {
        std::printf("usage: %s <libcuda.so.1> [--fatbin kernels.fatbin] [--bench] [filter]\n", argv[0]);
        return 2;
    }
    const char* fatbin = nullptr;
    const char* filter = "";
    bool bench = false;
    for (int i = 2; i < argc; i++) {
        if (!std::strcmp(argv[i], "--fatbin") && i + 1 < argc) fatbin = argv[++i];
        else if (!std::strcmp(argv[i], "--bench")) bench = true;
        else filter = argv[i];
    }
    init(argv[1], fatbin);
    if (bench) {
        run_bench();
        return failures ? 1 : 0;
    }
    struct T { const char* name; void (*fn)(); bool heavy = false; };
    T tests[] = {{"embedding", test_embedding}, {"rmsnorm", test_rmsnorm},   {"rope", test_rope},
                 {"kv_append", test_kv_append}, {"attention", test_attention, true}, {"swiglu", test_swiglu},
                 {"elementwise", test_elementwise}, {"gemv", test_gemv},   {"argmax", test_argmax},
                 {"sampling", test_sampling, true}};
    auto t0 = std::chrono::steady_clock::now();
    for (int sched : {0, 1, 7}) {
        if (!drv::cuemu_set_schedule && sched != 0) break;        // a real GPU: one run
        if (drv::cuemu_set_schedule) drv::cuemu_set_schedule(sched);
        for (const T& t : tests) {
            if (!std::strstr(t.name, filter)) continue;
            if (t.heavy && sched == 1) continue;          // the expensive tests: two schedules (in order, permuted)
            current = std::string(t.name) + " schedule " + std::to_string(sched);
            auto a = std::chrono::steady_clock::now();
            int before = failures;
            t.fn();
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
            std::printf("%-12s schedule %d  %s  %.2f s\n", t.name, sched, failures == before ? "ok  " : "FAIL", s);
        }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("kernels_test: %d checks, %d failures, %.1f s\n", checks, failures, s);
    return failures ? 1 : 0;
}
