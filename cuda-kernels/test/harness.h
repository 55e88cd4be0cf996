// The test harness of the kernel tests (kernels_test.cpp, backward_test.cpp): the driver reached as the Java backend
// reaches it (dlopen'ed libcuda.so.1, kernels by name, cuLaunchKernel's void** parameters), device buffers, the CHECK
// macro, random data and bf16/f16 rounding independent of the CUDA headers.
#pragma once
#pragma GCC diagnostic ignored "-Wunused-function"   // each test program uses part of it
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

typedef unsigned long long dptr;

// ---------------------------------------------------------------- harness

static int failures = 0;
static int checks = 0;
static std::string current;
#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        checks++;                                                                     \
        if (!(cond)) {                                                                \
            if (++failures <= 60) {                                                   \
                std::printf("FAIL [%s] %s:%d: %s: ", current.c_str(), __FILE__, __LINE__, #cond); \
                std::printf(__VA_ARGS__);                                             \
                std::printf("\n");                                                    \
            }                                                                         \
        }                                                                             \
    } while (0)

namespace drv {
int (*cuInit)(unsigned);
int (*cuDevicePrimaryCtxRetain)(void**, int);
int (*cuCtxSetCurrent)(void*);
int (*cuMemAlloc_v2)(dptr*, size_t);
int (*cuMemFree_v2)(dptr);
int (*cuMemcpyHtoD_v2)(dptr, const void*, size_t);
int (*cuMemcpyDtoH_v2)(void*, dptr, size_t);
int (*cuModuleLoadData)(void**, const void*);
int (*cuModuleGetFunction)(void**, void*, const char*);
int (*cuLaunchKernel)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**, void**);
int (*cuCtxSynchronize)();
int (*cuGetErrorString)(int, const char**);
int (*cuDeviceGetAttribute)(int*, int, int);
int (*cuMemcpyDtoD_v2)(dptr, dptr, size_t);
int (*cuEventCreate)(void**, unsigned);
int (*cuEventRecord)(void*, void*);
int (*cuEventSynchronize)(void*);
int (*cuEventElapsedTime)(float*, void*, void*);
int (*cuFuncSetAttribute)(void*, int, int);
void (*cuemu_set_schedule)(int);            // emulation only (null on a real driver)
const char* (*cuemu_last_error)();          // emulation only
void* module;
}  // namespace drv

static const char* last_error(int rc) {
    if (drv::cuemu_last_error) return drv::cuemu_last_error();
    const char* s = nullptr;
    drv::cuGetErrorString(rc, &s);
    return s ? s : "?";
}

template <class F>
static void bind(void* lib, F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(lib, name));
    if (!f) {
        std::printf("FAIL: %s not exported\n", name);
        std::exit(2);
    }
}

static void init(const char* path, const char* fatbin) {
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        std::printf("FAIL: dlopen %s: %s\n", path, dlerror());
        std::exit(2);
    }
    using namespace drv;
#define B(n) bind(lib, n, #n)
    B(cuInit); B(cuDevicePrimaryCtxRetain); B(cuCtxSetCurrent); B(cuMemAlloc_v2); B(cuMemFree_v2);
    B(cuMemcpyHtoD_v2); B(cuMemcpyDtoH_v2); B(cuModuleLoadData); B(cuModuleGetFunction); B(cuLaunchKernel);
    B(cuCtxSynchronize); B(cuGetErrorString); B(cuDeviceGetAttribute); B(cuMemcpyDtoD_v2); B(cuEventCreate);
    B(cuEventRecord); B(cuEventSynchronize); B(cuEventElapsedTime); B(cuFuncSetAttribute);
#undef B
    cuemu_set_schedule = reinterpret_cast<void (*)(int)>(dlsym(lib, "cuemu_set_schedule"));
    cuemu_last_error = reinterpret_cast<const char* (*)()>(dlsym(lib, "cuemu_last_error"));
    std::vector<char> image(8, 0);
    if (fatbin) {
        FILE* f = std::fopen(fatbin, "rb");
        if (!f) { std::printf("FAIL: cannot read %s\n", fatbin); std::exit(2); }
        std::fseek(f, 0, SEEK_END);
        image.resize(std::ftell(f));
        std::fseek(f, 0, SEEK_SET);
        if (std::fread(image.data(), 1, image.size(), f) != image.size()) { std::printf("FAIL: short read\n"); std::exit(2); }
        std::fclose(f);
    }
    void* ctx = nullptr;
    int rc = cuInit(0);
    if (!rc) rc = cuDevicePrimaryCtxRetain(&ctx, 0);
    if (!rc) rc = cuCtxSetCurrent(ctx);
    if (!rc) rc = cuModuleLoadData(&module, image.data());
    if (rc) {
        std::printf("FAIL: driver init / module load: %d %s\n", rc, last_error(rc));
        std::exit(2);
    }
}

// Device buffers (freed at the end of each test).
static std::vector<dptr> live;
static dptr dalloc(size_t bytes) {
    dptr d = 0;
    if (drv::cuMemAlloc_v2(&d, bytes ? bytes : 4)) {
        std::printf("FAIL: cuMemAlloc %zu\n", bytes);
        std::exit(2);
    }
    live.push_back(d);
    return d;
}
static void free_all() {
    for (dptr d : live) drv::cuMemFree_v2(d);
    live.clear();
}
template <class T>
static dptr up(const std::vector<T>& v) {
    dptr d = dalloc(v.size() * sizeof(T));
    if (!v.empty()) drv::cuMemcpyHtoD_v2(d, v.data(), v.size() * sizeof(T));
    return d;
}
template <class T>
static std::vector<T> down(dptr d, size_t n) {
    std::vector<T> v(n);
    if (n) drv::cuMemcpyDtoH_v2(v.data(), d, n * sizeof(T));
    return v;
}
template <class T>
static void put(dptr d, const std::vector<T>& v) { drv::cuMemcpyHtoD_v2(d, v.data(), v.size() * sizeof(T)); }

struct Dim { unsigned x = 1, y = 1, z = 1; };

// Launch by name; each argument must have the kernel parameter's exact type (dptr for pointers).
template <class... A>
static bool launch_smem(const char* name, Dim grid, unsigned block, unsigned smem, A... args) {
    void* f = nullptr;
    if (drv::cuModuleGetFunction(&f, drv::module, name)) {
        CHECK(false, "kernel %s not found", name);
        return false;
    }
    if (smem > 48 * 1024) drv::cuFuncSetAttribute(f, 8, (int)smem);   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: opt in
    void* params[] = {static_cast<void*>(&args)..., nullptr};
    int rc = drv::cuLaunchKernel(f, grid.x, grid.y, grid.z, block, 1, 1, smem, nullptr, params, nullptr);
    if (!rc && !drv::cuemu_set_schedule) rc = drv::cuCtxSynchronize();
    CHECK(rc == 0, "launch %s: %s", name, last_error(rc));
    return rc == 0;
}
// Dynamic shared memory each kernel needs (README: the kernel contract).
static unsigned smem_for(const std::string& k, int hd = 0) {
    if (k.rfind("rmsnorm", 0) == 0) return 128;
    if (k.rfind("gemv", 0) == 0) return 512;
    if (k.rfind("argmax_rows", 0) == 0) return 256;
    if (k.rfind("sample_rows", 0) == 0) return 37640;
    if (k.rfind("attn_probs", 0) == 0) return hd * 4;
    if (k.find("_d32_") != std::string::npos) return 13824;
    if (k.find("_d64_") != std::string::npos) return 24064;
    if (k.find("_d128_") != std::string::npos) return 44544;
    if (k.find("_d256_") != std::string::npos) return 43920;
    return 0;
}
template <class... A>
static bool launch(const char* name, Dim grid, unsigned block, A... args) {
    return launch_smem(name, grid, block, smem_for(name), args...);
}

static dptr P(dptr d) { return d; }
static const dptr NUL = 0;

// ---------------------------------------------------------------- numbers

static std::mt19937_64 rng(12345);
static float urand(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }
static std::vector<float> randv(size_t n, float lo = -1.f, float hi = 1.f) {
    std::vector<float> v(n);
    for (auto& x : v) x = urand(lo, hi);
    return v;
}

// bf16 / f16 as 16-bit patterns, rounded to nearest even (independent of the CUDA headers).
static uint16_t f2bf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
static float bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static uint16_t f2h(float f) {
    _Float16 h = (_Float16)f;
    uint16_t r;
    std::memcpy(&r, &h, 2);
    return r;
}
static float h2f(uint16_t b) {
    _Float16 h;
    std::memcpy(&h, &b, 2);
    return (float)h;
}

enum class DT { F32, BF16, F16 };
static const char* dtname(DT t) { return t == DT::F32 ? "f32" : t == DT::BF16 ? "bf16" : "f16"; }
static size_t dtsize(DT t) { return t == DT::F32 ? 4 : 2; }
// Widened value of element i of a buffer of type t.
static float widen(DT t, const std::vector<uint8_t>& raw, size_t i) {
    if (t == DT::F32) { float f; std::memcpy(&f, &raw[i * 4], 4); return f; }
    uint16_t h;
    std::memcpy(&h, &raw[i * 2], 2);
    return t == DT::BF16 ? bf2f(h) : h2f(h);
}
// Rounds floats to dtype t: returns the raw bytes and the rounded values.
static std::vector<uint8_t> narrow(DT t, const std::vector<float>& v, std::vector<float>* rounded = nullptr) {
    std::vector<uint8_t> raw(v.size() * dtsize(t));
    if (rounded) rounded->resize(v.size());
    for (size_t i = 0; i < v.size(); i++) {
        if (t == DT::F32) std::memcpy(&raw[i * 4], &v[i], 4);
        else {
            uint16_t h = t == DT::BF16 ? f2bf(v[i]) : f2h(v[i]);
            std::memcpy(&raw[i * 2], &h, 2);
        }
        if (rounded) (*rounded)[i] = widen(t, raw, i);
    }
    return raw;
}
// Half an ulp of type t at |x| (normal range; f16 subnormals: 2^-25).
static double half_ulp(DT t, double x) {
    if (t == DT::F32) return 0.0;
    x = std::fabs(x);
    int mant = t == DT::BF16 ? 7 : 10;
    if (x == 0.0) return t == DT::BF16 ? 1e-38 : std::ldexp(1.0, -25);
    int e = (int)std::floor(std::log2(x));
    if (t == DT::F16 && e < -14) e = -14;
    return std::ldexp(1.0, e - mant - 1);
}
static const char* out_suffix(DT t) { return dtname(t); }
