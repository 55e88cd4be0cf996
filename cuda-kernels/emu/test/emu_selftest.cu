// Self-tests of the CPU emulation (cuda_emu.h); test-only kernels. Built and run by `make -C cuda-kernels check`:
//   g++ -std=c++20 -include emu/cuda_emu.h -x c++ emu/test/emu_selftest.cu ../selftest.cu
#include "../../common.cuh"

#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

static int failures = 0;
#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            std::printf(__VA_ARGS__);                                            \
            std::printf("\n");                                                   \
        }                                                                        \
    } while (0)

// ---- kernels under test -----------------------------------------------------------------------------------------

// Block sum where the second round of shuffles runs in warp 0 only (the divergent case HIP-CPU gets wrong).
extern "C" __global__ void t_block_sum(const float* x, float* out) {
    const float v = x[blockIdx.x * blockDim.x + threadIdx.x];
    const float s = block_reduce_sum(v);
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;  // every thread must see the sum
}

// Warp w reads what warp w-1 wrote: correct only with the barrier.
extern "C" __global__ void t_neighbour_synced(const int* x, int* out) {
    EXTERN_SHARED(int, s);
    const int t = threadIdx.x;
    s[t] = x[t];
    __syncthreads();
    out[t] = t >= 32 ? s[t - 32] : -7;
}
extern "C" __global__ void t_neighbour_missing_sync(const int* x, int* out) {
    EXTERN_SHARED(int, s);
    const int t = threadIdx.x;
    s[t] = x[t];
    // __syncthreads() deliberately missing
    out[t] = t >= 32 ? s[t - 32] : -7;
}
// Same with static shared memory, values unique to the launch (so stale data from an earlier one never matches).
extern "C" __global__ void t_static_missing_sync(int seed, int* out) {
    __shared__ int s[256];
    const int t = threadIdx.x;
    s[t] = seed * 1000 + t;
    out[t] = t >= 32 ? s[t - 32] : -7;
}

// Atomics from many blocks.
extern "C" __global__ void t_atomics(int* icount, unsigned* ucount, unsigned long long* ullcount, float* fsum,
                                     double* dsum, int* imax, int* imin, int* cas_sum, int* exch) {
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(icount, 1);
    atomicAdd(ucount, 2u);
    atomicAdd(ullcount, 3ull);
    atomicAdd(fsum, 1.0f);
    atomicAdd(dsum, 0.5);
    atomicMax(imax, g);
    atomicMin(imin, -g);
    int old = *cas_sum, assumed;
    do {  // CAS loop: *cas_sum += g
        assumed = old;
        old = atomicCAS(cas_sum, assumed, assumed + g);
    } while (old != assumed);
    atomicExch(exch, 42);
}

// Dynamic shared memory of any size: fill, barrier, read back another thread's part.
extern "C" __global__ void t_dynamic_shared(int words_per_thread, int* out) {
    EXTERN_SHARED(int, s);
    const int t = threadIdx.x, n = blockDim.x;
    for (int k = 0; k < words_per_thread; k++) s[t * words_per_thread + k] = blockIdx.x * 100000 + t * 100 + k;
    __syncthreads();
    const int u = (t + 1) % n;
    int sum = 0;
    for (int k = 0; k < words_per_thread; k++) sum += s[u * words_per_thread + k];
    out[blockIdx.x * n + t] = sum;
}

// Parameter unpacking by signature.
extern "C" __global__ void t_params(char c, short sh, int i, unsigned u, long long ll, unsigned long long ull, float f,
                                    double d, const float* p, int* out_i, double* out_d) {
    if (threadIdx.x != 0) return;
    out_i[0] = c;
    out_i[1] = sh;
    out_i[2] = i;
    out_i[3] = (int)u;
    out_i[4] = (int)(ll >> 40);
    out_i[5] = (int)(ull >> 40);
    out_d[0] = f;
    out_d[1] = d;
    out_d[2] = p[1];
}

// Every shuffle flavour and width, every vote; one result row per lane.
extern "C" __global__ void t_warp_ops(int* out, int delta, int width) {
    const int t = threadIdx.x, lane = t & 31;
    int* o = out + t * 8;
    o[0] = __shfl_sync(FULL_MASK, t * 10, (lane + delta) & 31, width);
    o[1] = __shfl_up_sync(FULL_MASK, t * 10, delta, width);
    o[2] = __shfl_down_sync(FULL_MASK, t * 10, delta, width);
    o[3] = __shfl_xor_sync(FULL_MASK, t * 10, delta, width);
    o[4] = (int)__ballot_sync(FULL_MASK, (lane % 3) == 0);
    o[5] = __any_sync(FULL_MASK, lane == delta);
    o[6] = __all_sync(FULL_MASK, lane < 32 - delta);
    o[7] = (int)__shfl_sync(FULL_MASK, (double)t + 0.25, 31 - lane) * 4 +
           (int)(__shfl_sync(FULL_MASK, ((long long)t << 33) | 1, 0) >> 33) * 1000;
}

extern "C" __global__ void t_syncthreads_count(int* out) {
    const int t = threadIdx.x;
    out[t * 3 + 0] = __syncthreads_count(t % 4 == 0);
    out[t * 3 + 1] = __syncthreads_and(t < 1000);
    out[t * 3 + 2] = __syncthreads_or(t == 5);
}

// Thread and block indices in 3-D.
extern "C" __global__ void t_indices(int* out) {
    const int bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const int tx = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const int nthreads = blockDim.x * blockDim.y * blockDim.z;
    out[bx * nthreads + tx] = bx * 1000 + tx;
}

// Faults the emulation reports: a partial mask, a warp split between a shuffle and __syncthreads.
extern "C" __global__ void t_partial_mask(float* out) { out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1.0f, 0); }
extern "C" __global__ void t_divergent_warp(float* out) {
    if (threadIdx.x < 16) out[threadIdx.x] = __shfl_xor_sync(FULL_MASK, 1.0f, 1);
    else __syncthreads();
}
extern "C" __global__ void t_early_exit_sync(int* out) {
    EXTERN_SHARED(int, s);
    if (threadIdx.x >= 40) return;  // exited threads count as arrived
    s[threadIdx.x] = threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[39 - threadIdx.x];
}
// bf16 / f16 conversions and vector types.
extern "C" __global__ void t_types(float* out) {
    const __nv_bfloat16 b = __float2bfloat16(1.00390625f);  // rounds to 1 (bf16 has 8 mantissa bits)
    const __half h = __float2half(0.1f);
    const __nv_bfloat162 b2 = __floats2bfloat162_rn(2.5f, -3.0f);
    const float4 f4 = make_float4(1.f, 2.f, 3.f, 4.f);
    const int4 i4 = make_int4(5, 6, 7, 8);
    out[0] = __bfloat162float(b);
    out[1] = __half2float(h);
    out[2] = __low2float(b2) + __high2float(b2);
    out[3] = f4.x + f4.y + f4.z + f4.w + (float)(i4.x + i4.w);
    out[4] = rsqrtf(4.0f) + __expf(0.0f) + __logf(1.0f) + __fdividef(1.0f, 4.0f) + __frcp_rn(2.0f) +
             fmaf(2.0f, 3.0f, 1.0f) + __fmaf_rn(1.0f, 1.0f, 1.0f);
    out[5] = __int_as_float(__float_as_int(1.5f)) + (float)__longlong_as_double(__double_as_longlong(2.25)) +
             __ldg(&out[1]) * 0.0f + (float)min(3, 4) + max(1.0f, 2.0f);
}

CUEMU_REGISTER_KERNEL(t_params)

// ---- the tests -------------------------------------------------------------------------------------------------

static void test_block_sum_divergent() {
    for (int block : {32, 64, 256, 1024}) {
        const int grid = 5;
        std::vector<float> x(block * grid), out(block * grid, 0.0f);
        for (size_t i = 0; i < x.size(); i++) x[i] = (float)((i * 7919) % 97) - 48.0f;  // integers: exact sums
        for (int mode : {0, 1, 2, 77}) {
            cuemu::set_schedule(mode);
            CHECK(cuemu::launch(t_block_sum, dim3(grid), dim3(block), 0, x.data(), out.data()), "%s",
                  cuemu::last_error().c_str());
            for (int b = 0; b < grid; b++) {
                double truth = 0;
                for (int t = 0; t < block; t++) truth += x[b * block + t];
                for (int t = 0; t < block; t++)
                    CHECK(out[b * block + t] == (float)truth, "block %d sum %g thread %d got %g (mode %d)", block, truth,
                          t, out[b * block + t], mode);
            }
        }
    }
    cuemu::set_schedule(0);
}

static void test_missing_syncthreads() {
    const int n = 256;
    std::vector<int> x(n), a(n), b(n), c(n), d(n);
    for (int i = 0; i < n; i++) x[i] = 3 * i + 1;
    cuemu::set_schedule(0);
    CHECK(cuemu::launch(t_neighbour_synced, dim3(1), dim3(n), n * 4, x.data(), a.data()), "%s", cuemu::last_error().c_str());
    cuemu::set_schedule(1);
    CHECK(cuemu::launch(t_neighbour_synced, dim3(1), dim3(n), n * 4, x.data(), b.data()), "%s", cuemu::last_error().c_str());
    CHECK(a == b, "the correct kernel must give the same result under schedules 0 and 1");
    for (int t = 32; t < n; t++) CHECK(a[t] == x[t - 32], "t=%d", t);
    cuemu::set_schedule(0);
    CHECK(cuemu::launch(t_neighbour_missing_sync, dim3(1), dim3(n), n * 4, x.data(), c.data()), "%s", cuemu::last_error().c_str());
    cuemu::set_schedule(1);
    CHECK(cuemu::launch(t_neighbour_missing_sync, dim3(1), dim3(n), n * 4, x.data(), d.data()), "%s", cuemu::last_error().c_str());
    CHECK(c != d, "the kernel without __syncthreads must give different results under schedules 0 and 1");
    CHECK(c == a, "in order, the missing barrier passes by luck");
    for (int mode = 2; mode < 6; mode++) {
        cuemu::set_schedule(mode);
        CHECK(cuemu::launch(t_neighbour_missing_sync, dim3(1), dim3(n), n * 4, x.data(), d.data()), "%s", cuemu::last_error().c_str());
        CHECK(c != d, "a permutation (mode %d) must expose the missing barrier too", mode);
        CHECK(cuemu::launch(t_neighbour_synced, dim3(1), dim3(n), n * 4, x.data(), b.data()), "%s", cuemu::last_error().c_str());
        CHECK(a == b, "mode %d: the correct kernel", mode);
    }
    static int seed = 1;
    cuemu::set_schedule(1);
    CHECK(cuemu::launch(t_static_missing_sync, dim3(1), dim3(n), 0, ++seed, d.data()), "%s", cuemu::last_error().c_str());
    bool differs = false;
    for (int t = 32; t < n; t++) differs |= d[t] != seed * 1000 + t - 32;
    CHECK(differs, "static shared memory: reversed order must expose the missing barrier");
    cuemu::set_schedule(0);
    CHECK(cuemu::launch(t_static_missing_sync, dim3(1), dim3(n), 0, ++seed, d.data()), "%s", cuemu::last_error().c_str());
    for (int t = 32; t < n; t++) CHECK(d[t] == seed * 1000 + t - 32, "in order t=%d", t);
}

static void test_atomics() {
    int icount = 0, imax = -1, imin = 1, cas_sum = 0, exch = 0;
    unsigned ucount = 0;
    unsigned long long ullcount = 0;
    float fsum = 0;
    double dsum = 0;
    const int grid = 300, block = 128, n = grid * block;
    for (int mode : {0, 3}) {
        icount = 0, imax = -1, imin = 1, cas_sum = 0, exch = 0, ucount = 0, ullcount = 0, fsum = 0, dsum = 0;
        cuemu::set_schedule(mode);
        CHECK(cuemu::launch(t_atomics, dim3(grid), dim3(block), 0, &icount, &ucount, &ullcount, &fsum, &dsum, &imax,
                            &imin, &cas_sum, &exch),
              "%s", cuemu::last_error().c_str());
        CHECK(icount == n, "%d", icount);
        CHECK(ucount == 2u * n, "%u", ucount);
        CHECK(ullcount == 3ull * n, "%llu", ullcount);
        CHECK(fsum == (float)n, "%g", fsum);
        CHECK(dsum == 0.5 * n, "%g", dsum);
        CHECK(imax == n - 1, "%d", imax);
        CHECK(imin == -(n - 1), "%d", imin);
        CHECK(cas_sum == (int)((long long)n * (n - 1) / 2), "%d", cas_sum);
        CHECK(exch == 42, "%d", exch);
    }
    cuemu::set_schedule(0);
    CHECK(cuemu::threads() >= 1, "pool threads");
}

static void test_dynamic_shared() {
    for (int words : {1, 8, 56}) {  // up to 56*1024*4 = 229376 bytes (under the 227 KiB opt-in limit)
        const int block = 1024, grid = 3;
        std::vector<int> out(block * grid, 0);
        size_t bytes = (size_t)words * block * 4;
        CHECK(cuemu::launch(t_dynamic_shared, dim3(grid), dim3(block), bytes, words, out.data()), "%s",
              cuemu::last_error().c_str());
        for (int b = 0; b < grid; b++)
            for (int t = 0; t < block; t++) {
                int u = (t + 1) % block, expect = 0;
                for (int k = 0; k < words; k++) expect += b * 100000 + u * 100 + k;
                CHECK(out[b * block + t] == expect, "words %d block %d thread %d: %d != %d", words, b, t,
                      out[b * block + t], expect);
            }
    }
    std::vector<int> out(64);
    CHECK(!cuemu::launch(t_dynamic_shared, dim3(1), dim3(64), cuemu::kMaxDynamicShared + 4, 1, out.data()),
          "more than the opt-in limit must be refused");
    CHECK(cuemu::last_error().find("dynamic shared memory") != std::string::npos, "%s", cuemu::last_error().c_str());
    // Threads that exited count as arrived at __syncthreads.
    std::vector<int> o(40, -1);
    CHECK(cuemu::launch(t_early_exit_sync, dim3(1), dim3(64), 64 * 4, o.data()), "%s", cuemu::last_error().c_str());
    for (int t = 0; t < 40; t++) CHECK(o[t] == 39 - t, "t=%d", t);
}

static void test_params() {
    const cuemu::KernelInfo* k = cuemu::find_kernel("t_params");
    CHECK(k != nullptr, "t_params registered");
    if (k == nullptr) return;
    CHECK(k->nparams == 11, "%d", k->nparams);
    CHECK(k->sizes[0] == 1 && k->sizes[1] == 2 && k->sizes[4] == 8 && k->sizes[7] == 8 && k->sizes[8] == 8, "sizes");
    char c = -5;
    short sh = -300;
    int i = 123456;
    unsigned u = 4000000000u;
    long long ll = -(7ll << 40);
    unsigned long long ull = 9ull << 40;
    float f = 1.5f;
    double d = 1e300;
    float pdata[2] = {0.f, -2.75f};
    const float* p = pdata;
    int out_i[6] = {};
    double out_d[3] = {};
    int* pi = out_i;
    double* pd = out_d;
    void* params[] = {&c, &sh, &i, &u, &ll, &ull, &f, &d, &p, &pi, &pd};
    CHECK(cuemu::launch_raw(*k, dim3(1), dim3(32), 0, params), "%s", cuemu::last_error().c_str());
    CHECK(out_i[0] == -5 && out_i[1] == -300 && out_i[2] == 123456 && out_i[3] == (int)4000000000u, "ints %d %d %d %d",
          out_i[0], out_i[1], out_i[2], out_i[3]);
    CHECK(out_i[4] == -7 && out_i[5] == 9, "64-bit %d %d", out_i[4], out_i[5]);
    CHECK(out_d[0] == 1.5 && out_d[1] == 1e300 && out_d[2] == -2.75, "floats %g %g %g", out_d[0], out_d[1], out_d[2]);
}

static int ref_shfl(int mode, int lane, int b, int width, bool& ok) {
    int c = ((32 - width) << 8) | (mode == 1 ? 0 : 0x1f);
    int seg = (c >> 8) & 31, cval = c & 31, maxL = (lane & seg) | (cval & ~seg), minL = lane & seg, j;
    switch (mode) {
        case 1: j = lane - b; ok = j >= maxL; break;
        case 2: j = lane + b; ok = j <= maxL; break;
        case 3: j = lane ^ b; ok = j <= maxL; break;
        default: j = minL | (b & ~seg); ok = j <= maxL; break;
    }
    return ok ? j : lane;
}

static void test_warp_ops() {
    const int block = 64;
    for (int width : {32, 16, 8, 4, 2, 1})
        for (int delta : {0, 1, 3, 5, 16, 31}) {
            std::vector<int> out(block * 8, 0);
            cuemu::set_schedule(delta % 3);
            CHECK(cuemu::launch(t_warp_ops, dim3(1), dim3(block), 0, out.data(), delta, width), "%s",
                  cuemu::last_error().c_str());
            for (int t = 0; t < block; t++) {
                int lane = t & 31, base = t - lane;
                bool ok;
                int* o = &out[t * 8];
                int src_idx = ref_shfl(0, lane, (lane + delta) & 31, width, ok);
                CHECK(o[0] == (base + src_idx) * 10, "shfl w%d d%d t%d: %d", width, delta, t, o[0]);
                CHECK(o[1] == (base + ref_shfl(1, lane, delta, width, ok)) * 10, "up w%d d%d t%d: %d", width, delta, t, o[1]);
                CHECK(o[2] == (base + ref_shfl(2, lane, delta, width, ok)) * 10, "down w%d d%d t%d: %d", width, delta, t, o[2]);
                CHECK(o[3] == (base + ref_shfl(3, lane, delta, width, ok)) * 10, "xor w%d d%d t%d: %d", width, delta, t, o[3]);
                unsigned ballot = 0;
                for (int l = 0; l < 32; l++) if (l % 3 == 0) ballot |= 1u << l;
                CHECK((unsigned)o[4] == ballot, "ballot");
                CHECK(o[5] == 1, "any");
                CHECK(o[6] == (delta == 0 ? 1 : 0), "all d%d: %d", delta, o[6]);
                CHECK(o[7] == (base + 31 - lane) * 4 + base * 1000, "64-bit shuffles t%d: %d", t, o[7]);
            }
        }
    cuemu::set_schedule(0);
    std::vector<int> sc(256 * 3);
    CHECK(cuemu::launch(t_syncthreads_count, dim3(1), dim3(256), 0, sc.data()), "%s", cuemu::last_error().c_str());
    for (int t = 0; t < 256; t++) CHECK(sc[t * 3] == 64 && sc[t * 3 + 1] == 1 && sc[t * 3 + 2] == 1, "t%d", t);
}

static void test_indices() {
    dim3 grid(3, 2, 2), block(4, 8, 2);
    int nb = 12, nt = 64;
    std::vector<int> out(nb * nt, -1);
    CHECK(cuemu::launch(t_indices, grid, block, 0, out.data()), "%s", cuemu::last_error().c_str());
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < nt; t++) CHECK(out[b * nt + t] == b * 1000 + t, "b%d t%d", b, t);
    CHECK(!cuemu::launch(t_indices, dim3(1), dim3(1025), 0, out.data()), "1025 threads must be refused");
    CHECK(!cuemu::launch(t_indices, dim3(1), dim3(1, 1, 65), 0, out.data()), "block z 65 must be refused");
    CHECK(!cuemu::launch(t_indices, dim3(0), dim3(1), 0, out.data()), "empty grid must be refused");
}

static void test_faults() {
    std::vector<float> out(64);
    CHECK(!cuemu::launch(t_partial_mask, dim3(4), dim3(64), 0, out.data()), "a partial mask must fail the launch");
    CHECK(cuemu::last_error().find("__shfl_sync") != std::string::npos &&
              cuemu::last_error().find("0x0000ffff") != std::string::npos,
          "message names the intrinsic and mask: %s", cuemu::last_error().c_str());
    CHECK(!cuemu::launch(t_divergent_warp, dim3(2), dim3(64), 0, out.data()), "divergent warp must fail the launch");
    CHECK(cuemu::last_error().find("diverged") != std::string::npos, "%s", cuemu::last_error().c_str());
    // The emulation lives on: a correct launch afterwards.
    test_block_sum_divergent();
}

static void test_types() {
    std::vector<float> out(8, 0);
    CHECK(cuemu::launch(t_types, dim3(1), dim3(1), 0, out.data()), "%s", cuemu::last_error().c_str());
    CHECK(out[0] == 1.0f, "%g", out[0]);
    CHECK(std::fabs(out[1] - 0.0999755859375f) < 1e-7, "%g", out[1]);
    CHECK(out[2] == -0.5f, "%g", out[2]);
    CHECK(out[3] == 23.0f, "%g", out[3]);
    CHECK(out[4] == 0.5f + 1 + 0 + 0.25f + 0.5f + 7 + 2, "%g", out[4]);
    CHECK(out[5] == 1.5f + 2.25f + 3 + 2, "%g", out[5]);
}

int main() {
    std::printf("cuemu self-test: %d pool threads, %s context switch\n", cuemu::threads(),
#if defined(CUEMU_UCONTEXT)
                "ucontext"
#else
                "x86-64"
#endif
    );
    auto t0 = std::chrono::steady_clock::now();
    test_block_sum_divergent();
    test_missing_syncthreads();
    test_atomics();
    test_dynamic_shared();
    test_params();
    test_warp_ops();
    test_indices();
    test_types();
    test_faults();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (failures) {
        std::printf("cuemu self-test: %d FAILED (%.0f ms)\n", failures, ms);
        return 1;
    }
    std::printf("cuemu self-test: all passed (%.0f ms)\n", ms);
    return 0;
}
