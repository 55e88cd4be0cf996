// Correctness tests of the backward kernels (and the device-side attribution and flip-evaluation kernels) on the
// emulated device, against plain double-precision C++ references, through the emulated driver as the Java backend
// reaches them (see harness.h). Every test runs under three warp schedules (in order, reversed, a seeded permutation): a missing
// barrier changes the result.
//
// Usage: backward_test <libcuda.so.1> [--fatbin kernels.fatbin] [filter]
//
// Tolerances (per output element; `mag` is the sum of the magnitudes of the terms the element is made of, stated
// per test): f32 outputs |got − ref| <= 2e-5·mag (the kernels accumulate at most a few hundred f32 terms, each
// rounding ≤ 2⁻²⁴ relative); exact: the IG interpolation and accumulation (the host's double arithmetic), the
// one-hot seeds, the inverse RoPE's relation to the forward kernel.
#include "harness.h"

static double rel_tol = 2e-5;

// ---------------------------------------------------------------- attention backward

namespace {
struct AttnCase {
    int heads, kv, hd, window;
    std::vector<int> lens;
    float qk_scale, v_scale;
    int stop_qk;
};
int variant(int hd) { return hd <= 32 ? 32 : hd <= 64 ? 64 : hd <= 128 ? 128 : 256; }
unsigned bwd_smem(int D) { return D == 32 ? 27264 : D == 64 ? 43648 : D == 128 ? 76416 : 68928; }
int bwd_tile(int D) { return D >= 256 ? 16 : 32; }
}  // namespace

static void test_attention_backward() {
    std::vector<AttnCase> cases = {
        {4, 2, 8, 0, {5, 40, 33}, 1.f, 1.f, 0},        // GQA 2, D32, sequences across tiles
        {4, 2, 8, 0, {5, 40, 33}, 0.25f, 0.5f, 0},     // AttnLRP scales
        {4, 2, 8, 0, {5, 40, 33}, 1.f, 1.f, 1},        // CP-LRP: no gradient through the scores
        {3, 1, 12, 3, {9, 70}, 1.f, 1.f, 0},           // MQA, hd 12, sliding window 3
        {2, 2, 6, 20, {66}, 1.f, 1.f, 0},              // hd 6 (not a multiple of 4), window over tiles
        {4, 1, 64, 0, {35, 1}, 1.f, 1.f, 0},           // D64, a one-token sequence
        {2, 1, 100, 0, {37}, 0.25f, 0.5f, 0},          // D128 with hd 100
        {2, 2, 128, 5, {34}, 1.f, 1.f, 0},             // D128, window
        {2, 1, 256, 0, {20, 17}, 1.f, 1.f, 0},         // D256 (tiles of 16)
        {2, 1, 256, 0, {20}, 1.f, 1.f, 1},
    };
    for (const AttnCase& c : cases) {
        const int H = c.heads, KV = c.kv, hd = c.hd, G = H / KV, Q = H * hd, K = KV * hd, ld = Q + 2 * K + 2, ldo = Q + 3;
        const int S = (int)c.lens.size(), D = variant(hd), BT = bwd_tile(D);
        std::vector<int> seq_start{0};
        for (int l : c.lens) seq_start.push_back(seq_start.back() + l);
        const int n = seq_start.back();
        const float scale = (float)(1.0 / std::sqrt((double)hd));
        std::vector<float> qkv = randv((size_t)n * ld, -1.5f, 1.5f), dout = randv((size_t)n * ldo, -1, 1);
        // the forward and backward in double
        std::vector<double> O((size_t)n * Q, 0.0), dq((size_t)n * Q, 0.0), dk((size_t)n * K, 0.0), dv((size_t)n * K, 0.0);
        std::vector<double> mq((size_t)n * Q, 0.0), mk((size_t)n * K, 0.0), mv((size_t)n * K, 0.0);   // magnitudes
        std::vector<float> stats((size_t)n * H * 2), Of((size_t)n * ldo, 0.f);
        std::vector<double> delta_ref((size_t)n * H);
        auto qv = [&](int t, int h, int d) { return (double)qkv[(size_t)t * ld + h * hd + d]; };
        auto kvv = [&](int t, int g, int d) { return (double)qkv[(size_t)t * ld + Q + g * hd + d]; };
        auto vv = [&](int t, int g, int d) { return (double)qkv[(size_t)t * ld + Q + K + g * hd + d]; };
        auto dov = [&](int t, int h, int d) { return (double)dout[(size_t)t * ldo + h * hd + d]; };
        for (int s = 0; s < S; s++) {
            const int s0 = seq_start[s], len = c.lens[s];
            for (int h = 0; h < H; h++) {
                const int g = h / G;
                for (int i = 0; i < len; i++) {
                    const int t = s0 + i;
                    std::vector<double> sc(len, -INFINITY), p(len, 0.0), dp(len, 0.0);
                    double mx = -INFINITY;
                    for (int j = 0; j <= i; j++) {
                        if (c.window > 0 && j <= i - c.window) continue;
                        double a = 0;
                        for (int d = 0; d < hd; d++) a += qv(t, h, d) * kvv(s0 + j, g, d);
                        sc[j] = a * scale;
                        mx = std::max(mx, sc[j]);
                    }
                    double L = 0;
                    for (int j = 0; j < len; j++) if (sc[j] != -INFINITY) L += std::exp(sc[j] - mx);
                    stats[((size_t)t * H + h) * 2] = (float)mx;
                    stats[((size_t)t * H + h) * 2 + 1] = (float)L;
                    double delta = 0, dmag = 0;
                    for (int d = 0; d < hd; d++) {
                        double o = 0;
                        for (int j = 0; j < len; j++) if (sc[j] != -INFINITY) o += std::exp(sc[j] - mx) / L * vv(s0 + j, g, d);
                        O[(size_t)t * Q + h * hd + d] = o;
                        Of[(size_t)t * ldo + h * hd + d] = (float)o;
                        delta += (double)(float)o * dov(t, h, d);
                        dmag += std::fabs(o * dov(t, h, d));
                    }
                    delta_ref[(size_t)t * H + h] = delta;
                    for (int j = 0; j < len; j++) {
                        if (sc[j] == -INFINITY) continue;
                        p[j] = std::exp(sc[j] - mx) / L;
                        double a = 0, amag = 0;
                        for (int d = 0; d < hd; d++) {
                            a += dov(t, h, d) * vv(s0 + j, g, d);
                            amag += std::fabs(dov(t, h, d) * vv(s0 + j, g, d));
                        }
                        dp[j] = a;
                        const double ds = p[j] * (a - delta) * scale, dsmag = p[j] * (amag + dmag + std::fabs(a - delta)) * scale;
                        for (int d = 0; d < hd; d++) {
                            dv[(size_t)(s0 + j) * K + g * hd + d] += p[j] * dov(t, h, d);
                            mv[(size_t)(s0 + j) * K + g * hd + d] += p[j] * std::fabs(dov(t, h, d));
                            dk[(size_t)(s0 + j) * K + g * hd + d] += ds * qv(t, h, d);
                            mk[(size_t)(s0 + j) * K + g * hd + d] += dsmag * std::fabs(qv(t, h, d));
                            dq[(size_t)t * Q + h * hd + d] += ds * kvv(s0 + j, g, d);
                            mq[(size_t)t * Q + h * hd + d] += dsmag * std::fabs(kvv(s0 + j, g, d));
                        }
                    }
                }
            }
        }
        // tiles: BT-aligned within each sequence
        std::vector<int> tiles;
        for (int s = 0; s < S; s++)
            for (int p = 0; p < c.lens[s]; p += BT) { tiles.push_back(seq_start[s] + p); tiles.push_back(s); }
        const int T = (int)tiles.size() / 2;
        const int ldd = Q + 2 * K + 1;
        dptr dqkv = up(qkv), ddo = up(dout), dO = up(Of), dst = up(stats), dtl = up(tiles), dss = up(seq_start);
        dptr ddelta = dalloc((size_t)n * H * 4);
        std::vector<float> nanv((size_t)n * ldd, std::numeric_limits<float>::quiet_NaN());
        dptr dgrad = up(nanv);
        launch_smem("attn_bwd_delta", {2}, 128, 0, P(ddelta), P(dO), ldo, P(ddo), ldo, n, H, hd);
        auto delta = down<float>(ddelta, (size_t)n * H);
        int bad = 0;
        for (int i = 0; i < n * H; i++) {
            double ref = delta_ref[i];
            if (!(std::fabs(delta[i] - ref) <= 1e-5 * (1 + std::fabs(ref)))) bad++;
        }
        CHECK(bad == 0, "attn_bwd_delta hd %d: %d rows off", hd, bad);
        std::string kd = "attn_bwd_dkdv_d" + std::to_string(D), kq = "attn_bwd_dq_d" + std::to_string(D);
        dptr gq = dgrad, gk = dgrad + (dptr)Q * 4, gv = dgrad + (dptr)(Q + K) * 4;
        dptr q = dqkv, k = dqkv + (dptr)Q * 4, v = dqkv + (dptr)(Q + K) * 4;
        launch_smem(kd.c_str(), {(unsigned)T, (unsigned)KV}, 128, bwd_smem(D), P(gq), P(gk), P(gv), ldd, P(q), P(k), P(v), ld,
                    P(ddo), ldo, P(dst), P(ddelta), P(dtl), P(dss), H, KV, hd, c.window, scale, c.qk_scale, c.v_scale, c.stop_qk,
                    (dptr)0, (dptr)0, 0LL, 0LL, (dptr)0);   // no cached prefix
        launch_smem(kq.c_str(), {(unsigned)T, (unsigned)H}, 128, bwd_smem(D), P(gq), P(gk), P(gv), ldd, P(q), P(k), P(v), ld,
                    P(ddo), ldo, P(dst), P(ddelta), P(dtl), P(dss), H, KV, hd, c.window, scale, c.qk_scale, c.v_scale, c.stop_qk,
                    (dptr)0, (dptr)0, 0LL, 0LL, (dptr)0);   // no cached prefix
        auto got = down<float>(dgrad, (size_t)n * ldd);
        int badq = 0, badk = 0, badv = 0, pad = 0;
        double worst = 0;
        for (int t = 0; t < n; t++) {
            for (int e = 0; e < Q; e++) {
                double ref = c.stop_qk ? 0.0 : dq[(size_t)t * Q + e] * c.qk_scale, tol = rel_tol * mq[(size_t)t * Q + e] + 1e-7;
                double err = std::fabs(got[(size_t)t * ldd + e] - ref);
                badq += !(err <= tol);
                worst = std::max(worst, err / tol);
            }
            for (int e = 0; e < K; e++) {
                double rk = c.stop_qk ? 0.0 : dk[(size_t)t * K + e] * c.qk_scale, tk = rel_tol * mk[(size_t)t * K + e] + 1e-7;
                double rv = dv[(size_t)t * K + e] * c.v_scale, tv = rel_tol * mv[(size_t)t * K + e] + 1e-7;
                double ek = std::fabs(got[(size_t)t * ldd + Q + e] - rk), ev = std::fabs(got[(size_t)t * ldd + Q + K + e] - rv);
                badk += !(ek <= tk);
                badv += !(ev <= tv);
                worst = std::max(worst, std::max(ek / tk, ev / tv));
            }
            pad += !std::isnan(got[(size_t)t * ldd + Q + 2 * K]);
        }
        CHECK(badq == 0 && badk == 0 && badv == 0 && pad == 0,
              "heads %d/%d hd %d window %d rules %g/%g/%d: dq %d, dk %d, dv %d elements off, %d padding written (worst err/tol %.3g)",
              H, KV, hd, c.window, c.qk_scale, c.v_scale, c.stop_qk, badq, badk, badv, pad, worst);
        free_all();
    }
}

// ---------------------------------------------------------------- rmsnorm backward

static void test_rmsnorm_backward() {
    for (int dim : {64, 65, 300}) {
        const int n = 5;
        std::vector<float> x = randv((size_t)n * dim, -3, 3), w = randv(dim, 0.5f, 1.5f), dy = randv((size_t)n * dim, -1, 1);
        std::vector<float> inv(n), dx0 = randv((size_t)n * dim, -1, 1);
        for (int r = 0; r < n; r++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double)x[(size_t)r * dim + i] * x[(size_t)r * dim + i];
            inv[r] = (float)(1.0 / std::sqrt(ss / dim + 1e-5));
        }
        for (int constant : {0, 1})
            for (int acc : {0, 1}) {
                dptr ddx = up(dx0), ddy = up(dy), dxx = up(x), dw = up(w), dinv = up(inv);
                launch_smem("rmsnorm_backward", {2}, 64, 128, P(ddx), P(ddy), P(dxx), P(dw), P(dinv), n, dim, constant, acc);
                auto got = down<float>(ddx, (size_t)n * dim);
                int bad = 0;
                for (int r = 0; r < n; r++) {
                    double iv = inv[r], dot = 0, dmag = 0;
                    for (int i = 0; i < dim; i++) {
                        double a = (double)w[i] * dy[(size_t)r * dim + i] * x[(size_t)r * dim + i];
                        dot += a;
                        dmag += std::fabs(a);
                    }
                    for (int i = 0; i < dim; i++) {
                        size_t e = (size_t)r * dim + i;
                        double g = (double)w[i] * dy[e] * iv, mag = std::fabs(g);
                        if (!constant) {
                            g -= x[e] * dot * iv * iv * iv / dim;
                            mag += std::fabs(x[e]) * dmag * iv * iv * iv / dim;
                        }
                        double ref = acc ? dx0[e] + g : g;
                        bad += !(std::fabs(got[e] - ref) <= rel_tol * (mag + (acc ? std::fabs(dx0[e]) : 0)) + 1e-7);
                    }
                }
                CHECK(bad == 0, "dim %d constant %d accumulate %d: %d elements off", dim, constant, acc, bad);
                free_all();
            }
    }
}

// ---------------------------------------------------------------- swiglu backward

static void test_swiglu_backward() {
    const int n = 6, I = 300, ldg = 2 * I + 5, lda = I + 3, ldd = 2 * I + 7;
    std::vector<float> gu = randv((size_t)n * ldg, -6, 6), dact = randv((size_t)n * lda, -1, 1), bg = randv(I, -1, 1), bu = randv(I, -1, 1);
    gu[3] = 0.f;                                          // g = 0: the identity rule's ε
    struct R { float share; int identity, stop; };
    for (R rule : {R{1.f, 0, 0}, R{0.5f, 1, 0}, R{1.f, 0, 1}})
        for (bool bias : {false, true}) {
            std::vector<float> nanv((size_t)n * ldd, std::numeric_limits<float>::quiet_NaN());
            dptr out = up(nanv), da = up(dact), dg = up(gu), dbg = bias ? up(bg) : NUL, dbu = bias ? up(bu) : NUL;
            launch_smem("swiglu_backward", {2, 4}, 128, 0, P(out), ldd, P(da), lda, P(dg), ldg, P(dbg), P(dbu), n, I, rule.share,
                        rule.identity, rule.stop);
            auto got = down<float>(out, (size_t)n * ldd);
            int bad = 0;
            for (int r = 0; r < n; r++)
                for (int c = 0; c < I; c++) {
                    double z = gu[(size_t)r * ldg + c] + (bias ? bg[c] : 0.f), u = gu[(size_t)r * ldg + I + c] + (bias ? bu[c] : 0.f);
                    double d = (double)dact[(size_t)r * lda + c] * rule.share, sig = 1 / (1 + std::exp(-z)), silu = z * sig;
                    double rg = rule.stop ? 0.0 : d * u * (rule.identity ? silu / (z + 1e-10) : sig * (1 + z * (1 - sig)));
                    double ru = d * silu;
                    double eg = std::fabs(got[(size_t)r * ldd + c] - rg), eu = std::fabs(got[(size_t)r * ldd + I + c] - ru);
                    // z = 0 with the identity rule: silu(0)/1e-10 = 0 in both (0/ε); elsewhere a few roundings of exp
                    bad += !(eg <= 1e-5 * std::fabs(rg) + 1e-7) + !(eu <= 1e-5 * std::fabs(ru) + 1e-7);
                }
            int pad = 0;
            for (int r = 0; r < n; r++) for (int c = 2 * I; c < ldd; c++) pad += !std::isnan(got[(size_t)r * ldd + c]);
            CHECK(bad == 0 && pad == 0, "share %g identity %d stop %d bias %d: %d off, %d padding written", rule.share, rule.identity,
                  rule.stop, bias, bad, pad);
            free_all();
        }
}

// ---------------------------------------------------------------- gemv_t (linear backward, a few rows)

static void test_gemv_t() {
    struct C { int m, out, in; };
    for (C c : {C{1, 50, 40}, C{3, 300, 129}, C{8, 129, 260}, C{5, 7, 1}})
        for (DT t : {DT::F32, DT::BF16, DT::F16})
            for (int acc : {0, 1}) {
                const int ldy = c.out + 2, ldx = c.in + 3;
                std::vector<float> W = randv((size_t)c.out * c.in, -1, 1), dy = randv((size_t)c.m * ldy, -2, 2), dx0 = randv((size_t)c.m * ldx);
                std::vector<float> Wr;
                auto raw = narrow(t, W, &Wr);
                dptr dW = up(raw), ddy = up(dy), ddx = up(dx0);
                std::string k = std::string("gemv_t_") + dtname(t);
                launch_smem(k.c_str(), {(unsigned)((c.in + 127) / 128)}, 128, 4096, P(ddx), ldx, P(ddy), ldy, P(dW), c.m, c.out, c.in, acc);
                auto got = down<float>(ddx, (size_t)c.m * ldx);
                int bad = 0, pad = 0;
                for (int i = 0; i < c.m; i++) {
                    for (int col = 0; col < c.in; col++) {
                        double ref = acc ? dx0[(size_t)i * ldx + col] : 0.0, mag = std::fabs(ref);
                        for (int o = 0; o < c.out; o++) {
                            double a = (double)dy[(size_t)i * ldy + o] * Wr[(size_t)o * c.in + col];
                            ref += a;
                            mag += std::fabs(a);
                        }
                        bad += !(std::fabs(got[(size_t)i * ldx + col] - ref) <= rel_tol * mag + 1e-7);
                    }
                    for (int col = c.in; col < ldx; col++) pad += got[(size_t)i * ldx + col] != dx0[(size_t)i * ldx + col];
                }
                CHECK(bad == 0 && pad == 0, "m %d out %d in %d %s acc %d: %d off, %d padding written", c.m, c.out, c.in, dtname(t), acc,
                      bad, pad);
                free_all();
            }
}

// ---------------------------------------------------------------- target_grad

static void test_target_grad() {
    const int rows = 4, V = 1000;
    const long long ldl = V + 3, ldd = V + 1;
    std::vector<float> logits = randv((size_t)rows * ldl, -8, 8);
    std::vector<int> kind = {1, 0, 2, 2}, token = {7, 999, 3, 5}, foil = {0, 0, 4, 5};
    std::vector<float> nanv((size_t)rows * ldd, std::numeric_limits<float>::quiet_NaN());
    dptr dl = up(logits), dk = up(kind), dt = up(token), df = up(foil), dg = up(nanv);
    launch_smem("target_grad", {2}, 256, 256, P(dg), ldd, P(dl), ldl, P(dk), P(dt), P(df), rows, V);
    auto got = down<float>(dg, (size_t)rows * ldd);
    int bad = 0;
    for (int r = 0; r < rows; r++) {
        const float* l = &logits[(size_t)r * ldl];
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < V; i++) mx = std::max(mx, (double)l[i]);
        for (int i = 0; i < V; i++) s += std::exp(l[i] - mx);
        double lse = mx + std::log(s);
        for (int i = 0; i < V; i++) {
            float ref;
            if (kind[r] == 1) ref = i == token[r] ? (float)(1 - std::exp(l[i] - lse)) : (float)-std::exp(l[i] - lse);
            else ref = (i == token[r] ? 1.f : 0.f) - (kind[r] == 2 && i == foil[r] ? 1.f : 0.f);
            float g = got[(size_t)r * ldd + i];
            // one-hot seeds exact; log-probability: the float rounding of a double value (an ulp either way)
            bad += kind[r] == 1 ? !(std::fabs(g - ref) <= 1.2e-7 * std::fabs(ref) + 1e-30) : g != ref;
        }
        bad += !std::isnan(got[(size_t)r * ldd + V]);
    }
    CHECK(bad == 0, "%d elements off", bad);
    free_all();
}

// ---------------------------------------------------------------- integrated gradients on the device

static void test_ig() {
    const int steps = 5;
    const long long len = 1000;
    std::vector<float> e = randv(len, -2, 2), b = randv(len, -1, 1);
    for (int i = 0; i < 10; i++) b[i] = 0.f;
    std::vector<double> alpha = {0.01, 0.2, 0.5, 0.7311, 0.999}, weight = {0.1, 0.25, 0.3, 0.2, 0.15};
    dptr dx = dalloc((size_t)steps * len * 4), de = up(e), db = up(b), da = up(alpha);
    launch_smem("ig_interpolate", {2, 3}, 256, 0, P(dx), P(de), P(db), P(da), steps, len);
    auto x = down<float>(dx, (size_t)steps * len);
    int bad = 0;
    for (int s = 0; s < steps; s++)
        for (long long j = 0; j < len; j++) {
            volatile float d = e[j] - b[j];                  // Java: (float)(b + a * (e - b)), e − b in float
            float ref = (float)((double)b[j] + alpha[s] * (double)d);
            bad += x[(size_t)s * len + j] != ref;
        }
    CHECK(bad == 0, "ig_interpolate: %d elements differ", bad);
    const long long ldg = len + 7;
    std::vector<float> g = randv((size_t)steps * ldg, -3, 3);
    std::vector<double> acc0(len);
    for (auto& a : acc0) a = urand(-1, 1);
    dptr dg = up(g), dw = up(weight), dacc = up(acc0);
    launch_smem("ig_accumulate", {3}, 256, 0, P(dacc), P(dg), ldg, P(dw), steps, len);
    auto acc = down<double>(dacc, len);
    bad = 0;
    for (long long j = 0; j < len; j++) {
        volatile double a = acc0[j];
        for (int s = 0; s < steps; s++) {
            volatile double prod = weight[s] * (double)g[(size_t)s * ldg + j];
            a = a + prod;
        }
        bad += acc[j] != a;
    }
    CHECK(bad == 0, "ig_accumulate: %d elements differ from the host's double sums", bad);
    free_all();
}

// ---------------------------------------------------------------- token scores (the reduction over the hidden dimension)

static void test_token_scores() {
    for (int hidden : {64, 300, 4096}) {
        const int n = 9;
        std::vector<float> e = randv((size_t)n * hidden, -2, 2), g = randv((size_t)n * hidden, -1e-3f, 1e-3f);
        dptr de = up(e), dg = up(g), dout = dalloc((size_t)n * 16);
        launch_smem("token_scores", {4}, hidden >= 1024 ? 256 : 64, 256, P(dout), P(de), P(dg), n, hidden);
        auto got = down<double>(dout, (size_t)n * 2);
        int bad = 0;
        for (int t = 0; t < n; t++) {
            double dot = 0, sq = 0, mag = 0;
            for (int d = 0; d < hidden; d++) {
                double a = (double)e[(size_t)t * hidden + d] * g[(size_t)t * hidden + d];
                dot += a;
                mag += std::fabs(a);
                sq += (double)g[(size_t)t * hidden + d] * g[(size_t)t * hidden + d];
            }
            // double sums in another order: a few ulps of the magnitudes
            bad += !(std::fabs(got[2 * t] - dot) <= 1e-14 * mag) + !(std::fabs(got[2 * t + 1] - std::sqrt(sq)) <= 1e-14 * std::sqrt(sq));
        }
        CHECK(bad == 0, "hidden %d: %d values off", hidden, bad);
        free_all();
    }
}

// ---------------------------------------------------------------- RoPE backward: the forward kernel with −sin

static void test_rope_inverse() {
    const int n = 5, heads = 4, kv = 2, hd = 16, half = hd / 2, Q = heads * hd, K = kv * hd, ld = Q + 2 * K;
    std::vector<float> d = randv((size_t)n * ld, -2, 2), cs(n * half), sn(n * half), nsn(n * half);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < half; i++) {
            double a = (t * 3 + 1) * std::pow(10000.0, -2.0 * i / hd);
            cs[t * half + i] = (float)std::cos(a);
            sn[t * half + i] = (float)std::sin(a);
            nsn[t * half + i] = -sn[t * half + i];
        }
    dptr dd = up(d), dc = up(cs), ds = up(nsn);
    launch_smem("rope", {2}, 128, 0, P(dd), P(dd + (dptr)Q * 4), P(dc), P(ds), n, heads, kv, hd, ld);
    auto got = down<float>(dd, d.size());
    int bad = 0;
    for (int t = 0; t < n; t++)
        for (int col = 0; col < ld; col++) {
            float ref = d[(size_t)t * ld + col];
            if (col < Q + K) {
                int base = t * ld + (col / hd) * hd, i = col % hd, j = i % half;
                float c = cs[t * half + j], s = sn[t * half + j], d1 = d[base + j], d2 = d[base + j + half];
                volatile float a = d1 * c, b = d2 * s, e = d2 * c, f = d1 * s;   // cpu/Rope.java#applyInverse, each op rounded
                ref = i < half ? a + b : e - f;
            }
            bad += got[(size_t)t * ld + col] != ref;
        }
    CHECK(bad == 0, "%d elements differ from the CPU's inverse rotation", bad);
    free_all();
}

// ---------------------------------------------------------------- label logits (the flip evaluation's scores)

static void test_label_logits() {
    const int rows = 37, V = 500, labels = 4;
    const long long ld = V + 5;
    std::vector<float> logits = randv((size_t)rows * ld, -5, 5);
    std::vector<int> start = {0, 3, 4, 8, 10}, ids = {7, 100, 3, 499, 0, 1, 2, 5, 42, 43};
    for (int r = 0; r < rows; r++) {
        if (r % 3 == 0) logits[(size_t)r * ld + 100] = logits[(size_t)r * ld + 7];          // a tie inside a label: the first id wins
        if (r % 5 == 0) logits[(size_t)r * ld + 42] = logits[(size_t)r * ld + 499] = 9.f;  // a tie between labels: the first label
    }
    dptr dl = up(logits), ds = up(start), di = up(ids);
    dptr ol = dalloc((size_t)rows * labels * 4), ot = dalloc((size_t)rows * labels * 4), op = dalloc((size_t)rows * 4);
    launch_smem("label_logits", {1}, 128, 0, P(ol), P(ot), P(op), P(dl), ld, P(ds), P(di), rows, labels);
    auto gl = down<float>(ol, (size_t)rows * labels);
    auto gt = down<int>(ot, (size_t)rows * labels);
    auto gp = down<int>(op, rows);
    int bad = 0;
    for (int r = 0; r < rows; r++) {
        const float* l = &logits[(size_t)r * ld];
        int pred = 0;
        std::vector<float> lv(labels);
        for (int g = 0; g < labels; g++) {
            int b = ids[start[g]];
            for (int e = start[g]; e < start[g + 1]; e++) if (l[ids[e]] > l[b]) b = ids[e];
            lv[g] = l[b];
            bad += gt[(size_t)r * labels + g] != b || gl[(size_t)r * labels + g] != l[b];
            if (lv[g] > lv[pred]) pred = g;
        }
        bad += gp[r] != pred;
    }
    CHECK(bad == 0, "%d label values differ", bad);
    free_all();
}

// ---------------------------------------------------------------- main

int main(int argc, char** argv) {
    if (argc < 2) {
        std::printf("usage: %s <libcuda.so.1> [--fatbin kernels.fatbin] [filter]\n", argv[0]);
        return 2;
    }
    const char* fatbin = nullptr;
    const char* filter = "";
    for (int i = 2; i < argc; i++) {
        if (!std::strcmp(argv[i], "--fatbin") && i + 1 < argc) fatbin = argv[++i];
        else filter = argv[i];
    }
    init(argv[1], fatbin);
    struct T { const char* name; void (*fn)(); };
    T tests[] = {{"attention_backward", test_attention_backward}, {"rmsnorm_backward", test_rmsnorm_backward},
                 {"swiglu_backward", test_swiglu_backward}, {"gemv_t", test_gemv_t}, {"target_grad", test_target_grad},
                 {"ig", test_ig}, {"rope_inverse", test_rope_inverse}, {"label_logits", test_label_logits},
                 {"token_scores", test_token_scores}};
    auto t0 = std::chrono::steady_clock::now();
    for (int sched : {0, 1, 7}) {
        if (!drv::cuemu_set_schedule && sched != 0) break;        // a real GPU: one run
        if (drv::cuemu_set_schedule) drv::cuemu_set_schedule(sched);
        for (const T& t : tests) {
            if (!std::strstr(t.name, filter)) continue;
            current = std::string(t.name) + " schedule " + std::to_string(sched);
            auto a = std::chrono::steady_clock::now();
            int before = failures;
            t.fn();
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
            std::printf("%-20s schedule %d  %s  %.2f s\n", t.name, sched, failures == before ? "ok  " : "FAIL", s);
        }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("backward_test: %d checks, %d failures, %.1f s\n", checks, failures, s);
    return failures ? 1 : 0;
}
