// Self-test of the emulated driver (libcuda.so.1) and cuBLAS stand-in (libcublas-emu.so), loaded with dlopen as
// JCuda's native would bind them. Usage: driver_selftest <libcuda.so.1> <libcublas-emu.so> <jcuda-driver-symbols.txt>
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

static int failures = 0;
#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            std::printf(__VA_ARGS__);                                     \
            std::printf("\n");                                            \
        }                                                                 \
    } while (0)

typedef unsigned long long dptr;
static void* lib;
static void* blas;
template <class F>
static F sym(void* h, const char* name) {
    void* p = dlsym(h, name);
    if (p == nullptr) {
        std::printf("FAIL: %s not exported\n", name);
        std::exit(1);
    }
    return reinterpret_cast<F>(p);
}
#define FN(h, name, ...) auto name = sym<int (*)(__VA_ARGS__)>(h, #name)

static float bf16(float f) {  // round to nearest even, as a float
    unsigned u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1);
    u &= 0xffff0000u;
    std::memcpy(&f, &u, 4);
    return f;
}

static void test_exports(const char* list) {
    std::ifstream in(list);
    std::string name;
    int n = 0, missing = 0;
    while (in >> name) {
        n++;
        if (dlsym(lib, name.c_str()) == nullptr) {
            missing++;
            std::printf("FAIL: %s not exported\n", name.c_str());
        }
    }
    CHECK(n == 312 && missing == 0, "%d names, %d missing", n, missing);
}

static void test_driver() {
    FN(lib, cuInit, unsigned);
    FN(lib, cuDeviceGetCount, int*);
    FN(lib, cuDeviceGet, int*, int);
    FN(lib, cuDeviceGetAttribute, int*, int, int);
    FN(lib, cuDeviceGetName, char*, int, int);
    FN(lib, cuDevicePrimaryCtxRetain, void**, int);
    FN(lib, cuDevicePrimaryCtxRelease_v2, int);
    FN(lib, cuCtxSetCurrent, void*);
    FN(lib, cuMemAlloc_v2, dptr*, size_t);
    FN(lib, cuMemFree_v2, dptr);
    FN(lib, cuMemGetInfo_v2, size_t*, size_t*);
    FN(lib, cuMemcpyHtoD_v2, dptr, const void*, size_t);
    FN(lib, cuMemcpyDtoH_v2, void*, dptr, size_t);
    FN(lib, cuMemsetD32_v2, dptr, unsigned, size_t);
    FN(lib, cuModuleLoadData, void**, const void*);
    FN(lib, cuModuleGetFunction, void**, void*, const char*);
    FN(lib, cuFuncSetAttribute, void*, int, int);
    FN(lib, cuLaunchKernel, void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*,
       void**, void**);
    FN(lib, cuGetErrorString, int, const char**);
    FN(lib, cuGetErrorName, int, const char**);
    FN(lib, cuArrayCreate_v2, void*, void*);
    FN(lib, cuEventCreate, void**, unsigned);
    FN(lib, cuEventRecord, void*, void*);
    FN(lib, cuEventElapsedTime, float*, void*, void*);
    FN(lib, cuStreamCreate, void**, unsigned);
    auto set_limit = sym<void (*)(size_t)>(lib, "cuemu_set_memory_limit");
    auto live_bytes = sym<size_t (*)()>(lib, "cuemu_live_bytes");
    auto last_unsupported = sym<const char* (*)()>(lib, "cuemu_last_unsupported");
    auto last_error = sym<const char* (*)()>(lib, "cuemu_last_error");

    int count = -1;
    CHECK(cuDeviceGetCount(&count) == 3, "before cuInit: CUDA_ERROR_NOT_INITIALIZED");
    CHECK(cuInit(0) == 0 && cuDeviceGetCount(&count) == 0 && count == 1, "count %d", count);
    int dev = -1, v = 0;
    CHECK(cuDeviceGet(&dev, 0) == 0 && dev == 0, "device");
    CHECK(cuDeviceGet(&dev, 1) == 101, "device 1: CUDA_ERROR_INVALID_DEVICE");
    CHECK(cuDeviceGetAttribute(&v, 10, 0) == 0 && v == 32, "warp size %d", v);
    CHECK(cuDeviceGetAttribute(&v, 1, 0) == 0 && v == 1024, "max threads %d", v);
    CHECK(cuDeviceGetAttribute(&v, 75, 0) == 0 && v == 9, "cc major %d", v);
    CHECK(cuDeviceGetAttribute(&v, 97, 0) == 0 && v == 232448, "optin %d", v);
    CHECK(cuDeviceGetAttribute(&v, 8, 0) == 0 && v == 49152, "shared per block %d", v);
    char name[128];
    CHECK(cuDeviceGetName(name, sizeof name, 0) == 0 && std::strstr(name, "emu") != nullptr, "%s", name);

    dptr d = 0;
    CHECK(cuMemAlloc_v2(&d, 64) == 201, "no context: CUDA_ERROR_INVALID_CONTEXT");
    void* ctx = nullptr;
    CHECK(cuDevicePrimaryCtxRetain(&ctx, 0) == 0 && ctx != nullptr, "retain");
    CHECK(cuCtxSetCurrent(ctx) == 0, "set current");

    // A kernel of selftest.cu end to end: row sums.
    const int rows = 7, n = 1000;
    std::vector<float> x(rows * n), sums(rows, -1.0f);
    for (int i = 0; i < rows * n; i++) x[i] = (float)((i * 37) % 19) - 9.0f;
    dptr dx = 0, dout = 0;
    CHECK(cuMemAlloc_v2(&dx, x.size() * 4) == 0 && cuMemAlloc_v2(&dout, rows * 4) == 0, "alloc");
    CHECK(live_bytes() == x.size() * 4 + rows * 4, "live bytes %zu", live_bytes());
    CHECK(cuMemcpyHtoD_v2(dx, x.data(), x.size() * 4) == 0, "HtoD");
    void* mod = nullptr;
    void* fn = nullptr;
    const char image[] = "any image";
    CHECK(cuModuleLoadData(&mod, image) == 0, "module");
    CHECK(cuModuleGetFunction(&fn, mod, "no_such_kernel") == 500, "unknown kernel: CUDA_ERROR_NOT_FOUND");
    CHECK(cuModuleGetFunction(&fn, mod, "selftest_row_sum_f32") == 0, "function");
    int nn = n;
    void* params[] = {&dx, &dout, &nn};
    CHECK(cuLaunchKernel(fn, rows, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr) == 0, "launch: %s", last_error());
    CHECK(cuMemcpyDtoH_v2(sums.data(), dout, rows * 4) == 0, "DtoH");
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += x[r * n + i];
        CHECK(sums[r] == (float)s, "row %d: %g != %g", r, sums[r], s);
    }
    CHECK(cuLaunchKernel(fn, rows, 1, 1, 2048, 1, 1, 0, nullptr, params, nullptr) == 1, "2048 threads refused");
    CHECK(std::strstr(last_error(), "1024") != nullptr, "%s", last_error());
    CHECK(cuLaunchKernel(fn, rows, 1, 1, 256, 1, 1, 0, nullptr, nullptr, nullptr) == 1, "no params refused");

    // Dynamic shared memory past 48 KiB needs the opt-in attribute.
    void* rev = nullptr;
    CHECK(cuModuleGetFunction(&rev, mod, "selftest_reverse_f32") == 0, "reverse");
    dptr dy = 0;
    CHECK(cuMemAlloc_v2(&dy, x.size() * 4) == 0, "alloc y");
    int total = 1024 * 3;
    void* rparams[] = {&dx, &dy, &total};
    CHECK(cuLaunchKernel(rev, 3, 1, 1, 1024, 1, 1, 65536, nullptr, rparams, nullptr) == 1, "64 KiB without opt-in");
    CHECK(cuFuncSetAttribute(rev, 8, 65536) == 0, "opt in");
    CHECK(cuFuncSetAttribute(rev, 8, 300000) == 1, "past the opt-in limit");
    CHECK(cuLaunchKernel(rev, 3, 1, 1, 1024, 1, 1, 65536, nullptr, rparams, nullptr) == 0, "%s", last_error());
    std::vector<float> y(total);
    CHECK(cuMemcpyDtoH_v2(y.data(), dy, total * 4) == 0, "DtoH");
    for (int i = 0; i < total; i++) {
        int b = i / 1024, t = i % 1024;
        CHECK(y[b * 1024 + 1023 - t] == x[i], "reverse %d", i);
    }

    // Parameters through `extra` (a packed buffer).
    void* pf = nullptr;
    CHECK(cuModuleGetFunction(&pf, mod, "selftest_params") == 0, "params kernel");
    dptr of = 0, oi = 0;
    CHECK(cuMemAlloc_v2(&of, 16) == 0 && cuMemAlloc_v2(&oi, 16) == 0, "alloc");
    struct alignas(8) {
        dptr out_f;
        int i;
        float f;
        double d;
        long long l;
        unsigned u;
        int pad;
        dptr out_i;
    } buf = {of, -42, 2.5f, -3.25, (5ll << 32) + 7, 99u, 0, oi};
    size_t bufsize = sizeof buf;
    void* extra[] = {(void*)1, &buf, (void*)2, &bufsize, nullptr};
    CHECK(cuLaunchKernel(pf, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, extra) == 0, "%s", last_error());
    float fo[3];
    int io[3];
    cuMemcpyDtoH_v2(fo, of, 12);
    cuMemcpyDtoH_v2(io, oi, 12);
    CHECK(fo[0] == 2.5f && fo[1] == -3.25f && fo[2] == (float)((5ll << 32) + 7), "floats %g %g %g", fo[0], fo[1], fo[2]);
    CHECK(io[0] == -42 && io[1] == 99 && io[2] == 5, "ints %d %d %d", io[0], io[1], io[2]);

    // Ranges are checked.
    CHECK(cuMemcpyHtoD_v2(dout + 4 * rows - 4, x.data(), 8) == 1, "copy past the end");
    CHECK(cuMemsetD32_v2(dout, 7u, rows) == 0, "memset");
    CHECK(cuMemFree_v2(dout + 4) == 1, "free of an interior pointer");

    // The memory cap.
    size_t free_b = 0, total_b = 0;
    set_limit(1 << 20);
    CHECK(cuMemGetInfo_v2(&free_b, &total_b) == 0 && total_b == (1u << 20) && free_b == total_b - live_bytes(),
          "info %zu %zu", free_b, total_b);
    dptr big = 0;
    CHECK(cuMemAlloc_v2(&big, 2 << 20) == 2, "past the cap: CUDA_ERROR_OUT_OF_MEMORY");
    CHECK(std::strstr(last_error(), "2097152 bytes asked") != nullptr, "%s", last_error());
    const char* s = nullptr;
    CHECK(cuGetErrorString(2, &s) == 0 && std::strstr(s, "out of memory") != nullptr, "%s", s);
    CHECK(cuMemAlloc_v2(&big, 512 << 10) == 0 && cuMemFree_v2(big) == 0, "under the cap");
    set_limit((size_t)1 << 32);

    // An unimplemented call.
    CHECK(cuArrayCreate_v2(nullptr, nullptr) == 801, "stub: CUDA_ERROR_NOT_SUPPORTED");
    CHECK(last_unsupported() != nullptr && std::strcmp(last_unsupported(), "cuArrayCreate_v2") == 0, "last unsupported");
    CHECK(cuGetErrorString(801, &s) == 0 && std::strstr(s, "cuArrayCreate_v2") != nullptr, "%s", s);
    CHECK(cuGetErrorName(801, &s) == 0 && std::strcmp(s, "CUDA_ERROR_NOT_SUPPORTED") == 0, "%s", s);
    CHECK(cuGetErrorName(12345, &s) == 1, "unknown code");

    // Events.
    void *e0 = nullptr, *e1 = nullptr, *stream = nullptr;
    float ms = -1;
    CHECK(cuStreamCreate(&stream, 0) == 0 && cuEventCreate(&e0, 0) == 0 && cuEventCreate(&e1, 0) == 0, "events");
    CHECK(cuEventRecord(e0, stream) == 0 && cuEventRecord(e1, stream) == 0 && cuEventElapsedTime(&ms, e0, e1) == 0 &&
              ms >= 0.0f,
          "elapsed %g", ms);

    // Releasing the primary context frees what it owns.
    CHECK(cuDevicePrimaryCtxRelease_v2(0) == 0 && live_bytes() == 0, "live bytes after release %zu", live_bytes());
    CHECK(cuMemAlloc_v2(&d, 64) == 201, "released context is not usable");
}

static void gemm_ref(int ta, int tb, int m, int n, int k, float alpha, const std::vector<float>& A, int lda,
                     const std::vector<float>& B, int ldb, float beta, std::vector<double>& C, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double a = ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda];
                double b = tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb];
                s += a * b;
            }
            C[i + (size_t)j * ldc] = alpha * s + (beta != 0 ? beta * C[i + (size_t)j * ldc] : 0.0);
        }
}

static void test_cublas() {
    FN(blas, cublasCreate_v2, void**);
    FN(blas, cublasDestroy_v2, void*);
    FN(blas, cublasSetMathMode, void*, int);
    FN(blas, cublasGemmEx, void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
       const void*, void*, int, int, int, int);
    FN(blas, cublasGemmStridedBatchedEx, void*, int, int, int, int, int, const void*, const void*, int, int, long long,
       const void*, int, int, long long, const void*, void*, int, int, long long, int, int, int);
    void* h = nullptr;
    CHECK(cublasCreate_v2(&h) == 0 && cublasSetMathMode(h, 0) == 0, "create");
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> U(-1, 1);
    struct Shape { int m, n, k, ta, tb; };
    for (Shape sh : {Shape{1, 1, 1, 0, 0}, Shape{5, 3, 7, 1, 0}, Shape{70, 33, 129, 1, 0}, Shape{64, 64, 64, 0, 1},
                     Shape{17, 130, 40, 1, 1}, Shape{3, 200, 300, 0, 0}})
        for (int type : {0, 14}) {
            int lda = (sh.ta ? sh.k : sh.m) + 3, ldb = (sh.tb ? sh.n : sh.k) + 1, ldc = sh.m + 2;
            size_t na = (size_t)lda * (sh.ta ? sh.m : sh.k), nb = (size_t)ldb * (sh.tb ? sh.k : sh.n);
            std::vector<float> A(na), B(nb);
            for (auto& a : A) a = type == 14 ? bf16(U(rng)) : U(rng);
            for (auto& b : B) b = type == 14 ? bf16(U(rng)) : U(rng);
            std::vector<unsigned short> A16(na), B16(nb);
            for (size_t i = 0; i < na; i++) { unsigned u; std::memcpy(&u, &A[i], 4); A16[i] = (unsigned short)(u >> 16); }
            for (size_t i = 0; i < nb; i++) { unsigned u; std::memcpy(&u, &B[i], 4); B16[i] = (unsigned short)(u >> 16); }
            for (float beta : {0.0f, 0.5f}) {
                std::vector<float> C((size_t)ldc * sh.n);
                std::vector<double> R(C.size());
                for (size_t i = 0; i < C.size(); i++) C[i] = R[i] = beta == 0 ? NAN : U(rng);
                float alpha = 1.25f;
                gemm_ref(sh.ta, sh.tb, sh.m, sh.n, sh.k, alpha, A, lda, B, ldb, beta, R, ldc);
                const void* pa = type == 14 ? (const void*)A16.data() : (const void*)A.data();
                const void* pb = type == 14 ? (const void*)B16.data() : (const void*)B.data();
                int st = cublasGemmEx(h, sh.ta, sh.tb, sh.m, sh.n, sh.k, &alpha, pa, type, lda, pb, type, ldb, &beta,
                                      C.data(), 0, ldc, 68, -1);
                CHECK(st == 0, "status %d", st);
                double worst = 0;
                for (int j = 0; j < sh.n; j++)
                    for (int i = 0; i < sh.m; i++) {
                        double r = R[i + (size_t)j * ldc], c = C[i + (size_t)j * ldc];
                        worst = std::max(worst, std::fabs(c - r) / (1e-30 + std::sqrt((double)sh.k)));
                        if (!(std::fabs(c - r) <= 2e-6 * sh.k + 1e-6)) worst = 1e9;
                    }
                CHECK(worst < 1e6, "gemm m%d n%d k%d ta%d tb%d type %d beta %g", sh.m, sh.n, sh.k, sh.ta, sh.tb, type,
                      beta);
                // ldc padding untouched when beta == 0 (NaN stays only there)
                if (beta == 0) CHECK(std::isnan(C[sh.m]) || sh.n == 0, "padding written");
            }
        }
    // Strided batched: 3 independent products.
    int m = 9, n = 5, k = 11, batch = 3;
    std::vector<float> A(m * k * batch), B(k * n * batch), C(m * n * batch, 0);
    for (auto& a : A) a = U(rng);
    for (auto& b : B) b = U(rng);
    float one = 1, zero = 0;
    CHECK(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &one, A.data(), 0, m, m * k, B.data(), 0, k, k * n, &zero,
                                     C.data(), 0, m, m * n, batch, 68, -1) == 0,
          "batched");
    for (int b = 0; b < batch; b++) {
        std::vector<float> Ab(A.begin() + b * m * k, A.begin() + (b + 1) * m * k),
            Bb(B.begin() + b * k * n, B.begin() + (b + 1) * k * n);
        std::vector<double> R(m * n, 0);
        gemm_ref(0, 0, m, n, k, 1, Ab, m, Bb, k, 0, R, m);
        for (int i = 0; i < m * n; i++) CHECK(std::fabs(C[b * m * n + i] - R[i]) < 1e-5, "batch %d %d", b, i);
    }
    CHECK(cublasGemmEx(h, 0, 0, m, n, k, &one, A.data(), 0, m, B.data(), 14, k, &zero, C.data(), 0, m, 68, -1) == 15,
          "mixed A/B types: CUBLAS_STATUS_NOT_SUPPORTED");
    CHECK(cublasGemmEx(h, 0, 0, m, n, k, &one, A.data(), 0, m - 1, B.data(), 0, k, &zero, C.data(), 0, m, 68, -1) == 7,
          "lda < m: CUBLAS_STATUS_INVALID_VALUE");
    CHECK(cublasGemmEx(h, 0, 0, m, n, k, &one, A.data(), 0, m, B.data(), 0, k, &zero, C.data(), 0, m, 70, -1) == 15,
          "compute 64F: CUBLAS_STATUS_NOT_SUPPORTED");
    CHECK(cublasDestroy_v2(h) == 0 && cublasDestroy_v2(h) == 1, "destroy twice");
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: driver_selftest libcuda.so.1 libcublas-emu.so jcuda-driver-symbols.txt\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    blas = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr || blas == nullptr) {
        std::printf("FAIL: dlopen: %s\n", dlerror());
        return 1;
    }
    test_exports(argv[3]);
    test_driver();
    test_cublas();
    if (failures) {
        std::printf("driver self-test: %d FAILED\n", failures);
        return 1;
    }
    std::printf("driver self-test: all passed\n");
    return 0;
}
