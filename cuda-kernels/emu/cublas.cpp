// cublas.cpp: CPU stand-in for the cuBLAS entry points the CUDA backend uses (libcublas-emu.so), for the emulated
// device, where device pointers are host addresses.
//
// Same names, signatures, enum values and column-major semantics as cuBLAS (cublas_api.h, library_types.h):
//   C = alpha * op(A) * op(B) + beta * C,  op(A) m x k, op(B) k x n, C m x n, all column-major with leading
//   dimensions lda, ldb, ldc; op(X) = X for CUBLAS_OP_N, X^T for CUBLAS_OP_T (and CUBLAS_OP_C: real types).
// Types: A and B both CUDA_R_32F, CUDA_R_16F or CUDA_R_16BF; C CUDA_R_32F, or the type of A and B;
// computeType CUBLAS_COMPUTE_32F (or its _PEDANTIC / _FAST_* variants, all computed the same way here); alpha and
// beta are host floats (the default pointer mode). Products are accumulated in f32. When beta == 0, C is not read
// (BLAS semantics: NaN in C does not propagate). Anything else: CUBLAS_STATUS_NOT_SUPPORTED.
//
// Work is split in tiles of C run in parallel on the emulation's thread pool (cuda_emu.h), one block per tile; the
// operands are converted to f32 rows contiguous in k, and each 4 x 4 block of C is computed as 16 dot products with
// 8 partial sums each (a fixed order, so results do not depend on the thread count).
#include "cuda_emu.h"

#include <set>

#define CUBLASAPI extern "C" __attribute__((visibility("default")))

typedef int cublasStatus_t;
struct cublasContext;
typedef cublasContext* cublasHandle_t;

enum : int {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16,
};
enum : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum : int { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
enum : int {
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    CUBLAS_COMPUTE_32F_FAST_16F = 74,
    CUBLAS_COMPUTE_32F_FAST_16BF = 75,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
};

struct cublasContext {
    void* stream = nullptr;  // a CUstream / cudaStream_t
    int math_mode = 0;
};

namespace {

std::mutex g_mu;
std::set<cublasHandle_t>& handles() {
    static std::set<cublasHandle_t>* s = new std::set<cublasHandle_t>();
    return *s;
}
bool live(cublasHandle_t h) {
    std::lock_guard<std::mutex> g(g_mu);
    return handles().count(h) != 0;
}

inline float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline uint16_t f32_to_bf16(float f) {  // round to nearest even; NaN stays NaN
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
inline float f16_to_f32(uint16_t b) {
    _Float16 h;
    std::memcpy(&h, &b, 2);
    return (float)h;
}
inline uint16_t f32_to_f16(float f) {
    _Float16 h = (_Float16)f;
    uint16_t b;
    std::memcpy(&b, &h, 2);
    return b;
}

inline float load(const void* base, int type, size_t index) {
    switch (type) {
        case CUDA_R_32F: return static_cast<const float*>(base)[index];
        case CUDA_R_16BF: return bf16_to_f32(static_cast<const uint16_t*>(base)[index]);
        default: return f16_to_f32(static_cast<const uint16_t*>(base)[index]);
    }
}

struct Gemm {
    int transa, transb, m, n, k;
    float alpha, beta;
    const void* A;
    int Atype;
    long long lda, strideA;
    const void* B;
    int Btype;
    long long ldb, strideB;
    void* C;
    int Ctype;
    long long ldc, strideC;
    int batch;
    int tiles_m, tiles_n;  // tiles per matrix
};

constexpr int TM = 64;   // rows of C per tile
constexpr int TN = 64;   // columns of C per tile
constexpr int V = 8;     // partial sums per dot product

// Row r of op(X) for X = A (rows of C) or row c of op(B)^T (columns of C), as f32 contiguous in k.
void pack_rows(float* out, const void* X, int type, long long ld, bool transposed, int first, int count, int k,
               int kpad) {
    for (int r = 0; r < count; r++) {
        float* o = out + (size_t)r * kpad;
        const long long row = first + r;
        if (transposed) {  // element (row, p) at X[p + row * ld]: contiguous
            for (int p = 0; p < k; p++) o[p] = load(X, type, (size_t)(p + row * ld));
        } else {           // element (row, p) at X[row + p * ld]
            for (int p = 0; p < k; p++) o[p] = load(X, type, (size_t)(row + (long long)p * ld));
        }
        for (int p = k; p < kpad; p++) o[p] = 0.0f;
    }
}

typedef float vf __attribute__((vector_size(V * sizeof(float))));

// 4 x 4 dot products of rows a[0..3] and b[0..3] (kpad a multiple of V).
__attribute__((target_clones("avx2", "default"))) void dot4x4(const float* a, const float* b, int kpad, float* out,
                                                              int lda_pack) {
    vf acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = vf{};
    for (int p = 0; p < kpad; p += V) {
        vf av[4], bv[4];
        for (int i = 0; i < 4; i++) std::memcpy(&av[i], a + (size_t)i * lda_pack + p, sizeof(vf));
        for (int j = 0; j < 4; j++) std::memcpy(&bv[j], b + (size_t)j * lda_pack + p, sizeof(vf));
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float s = 0.0f;
            for (int l = 0; l < V; l++) s += acc[i][j][l];
            out[i * 4 + j] = s;
        }
}

void store(const Gemm& g, void* Cb, int i, int j, float dot) {
    size_t idx = (size_t)i + (size_t)j * (size_t)g.ldc;
    float v = g.alpha * dot;
    if (g.beta != 0.0f) v += g.beta * load(Cb, g.Ctype, idx);
    switch (g.Ctype) {
        case CUDA_R_32F: static_cast<float*>(Cb)[idx] = v; break;
        case CUDA_R_16BF: static_cast<uint16_t*>(Cb)[idx] = f32_to_bf16(v); break;
        default: static_cast<uint16_t*>(Cb)[idx] = f32_to_f16(v); break;
    }
}

// One tile of one matrix of the batch (a "block" of the emulation's pool).
void tile(const Gemm* gp) {
    const Gemm& g = *gp;
    const long long t = blockIdx.x;
    const int per = g.tiles_m * g.tiles_n;
    const int b = (int)(t / per), tm = (int)(t % per) / g.tiles_n, tn = (int)(t % per) % g.tiles_n;
    const int i0 = tm * TM, j0 = tn * TN;
    const int mi = std::min(TM, g.m - i0), nj = std::min(TN, g.n - j0);
    const int kpad = (g.k + V - 1) / V * V;
    const size_t esA = g.Atype == CUDA_R_32F ? 4 : 2, esB = g.Btype == CUDA_R_32F ? 4 : 2,
                 esC = g.Ctype == CUDA_R_32F ? 4 : 2;
    const char* Ab = static_cast<const char*>(g.A) + (size_t)b * (size_t)g.strideA * esA;
    const char* Bb = static_cast<const char*>(g.B) + (size_t)b * (size_t)g.strideB * esB;
    char* Cb = static_cast<char*>(g.C) + (size_t)b * (size_t)g.strideC * esC;

    thread_local std::vector<float> apack, bpack;
    const int mi4 = (mi + 3) / 4 * 4, nj4 = (nj + 3) / 4 * 4;
    apack.assign((size_t)mi4 * kpad, 0.0f);
    bpack.assign((size_t)nj4 * kpad, 0.0f);
    // op(A) row i: transa N -> A[i + p*lda] (strided), T -> A[p + i*lda] (contiguous)
    pack_rows(apack.data(), Ab, g.Atype, g.lda, g.transa != CUBLAS_OP_N, i0, mi, g.k, kpad);
    // op(B) column j as a row: transb N -> B[p + j*ldb] (contiguous), T -> B[j + p*ldb] (strided)
    pack_rows(bpack.data(), Bb, g.Btype, g.ldb, g.transb == CUBLAS_OP_N, j0, nj, g.k, kpad);
    float out[16];
    for (int jj = 0; jj < nj; jj += 4)
        for (int ii = 0; ii < mi; ii += 4) {
            dot4x4(apack.data() + (size_t)ii * kpad, bpack.data() + (size_t)jj * kpad, kpad, out, kpad);
            for (int i = 0; i < 4 && ii + i < mi; i++)
                for (int j = 0; j < 4 && jj + j < nj; j++) store(g, Cb, i0 + ii + i, j0 + jj + j, out[i * 4 + j]);
        }
}

// beta * C (or 0 when beta == 0) for k == 0 or alpha == 0.
void scale_only(const Gemm& g) {
    const size_t esC = g.Ctype == CUDA_R_32F ? 4 : 2;
    for (int b = 0; b < g.batch; b++) {
        char* Cb = static_cast<char*>(g.C) + (size_t)b * (size_t)g.strideC * esC;
        for (int j = 0; j < g.n; j++)
            for (int i = 0; i < g.m; i++) store(g, Cb, i, j, 0.0f);
    }
}

bool supported(int Atype, int Btype, int Ctype, int computeType) {
    if (computeType != CUBLAS_COMPUTE_32F && computeType != CUBLAS_COMPUTE_32F_PEDANTIC &&
        computeType != CUBLAS_COMPUTE_32F_FAST_16F && computeType != CUBLAS_COMPUTE_32F_FAST_16BF &&
        computeType != CUBLAS_COMPUTE_32F_FAST_TF32)
        return false;
    if (Atype != Btype) return false;
    if (Atype == CUDA_R_32F) return Ctype == CUDA_R_32F;
    if (Atype == CUDA_R_16F || Atype == CUDA_R_16BF) return Ctype == CUDA_R_32F || Ctype == Atype;
    return false;
}

cublasStatus_t gemm(cublasHandle_t handle, int transa, int transb, int m, int n, int k, const void* alpha,
                    const void* A, int Atype, int lda, long long strideA, const void* B, int Btype, int ldb,
                    long long strideB, const void* beta, void* C, int Ctype, int ldc, long long strideC, int batch,
                    int computeType, int algo) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (transa < 0 || transa > 2 || transb < 0 || transb > 2 || m < 0 || n < 0 || k < 0 || batch < 0 ||
        alpha == nullptr || beta == nullptr)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!(algo >= -1 && algo <= 23) && !(algo >= 99 && algo <= 115)) return CUBLAS_STATUS_INVALID_VALUE;
    if (lda < std::max(1, transa == CUBLAS_OP_N ? m : k) || ldb < std::max(1, transb == CUBLAS_OP_N ? k : n) ||
        ldc < std::max(1, m))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!supported(Atype, Btype, Ctype, computeType)) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
    Gemm g{transa, transb, m, n, k, *static_cast<const float*>(alpha), *static_cast<const float*>(beta),
           A, Atype, lda, strideA, B, Btype, ldb, strideB, C, Ctype, ldc, strideC, batch,
           (m + TM - 1) / TM, (n + TN - 1) / TN};
    if (C == nullptr || (k > 0 && g.alpha != 0.0f && (A == nullptr || B == nullptr))) return CUBLAS_STATUS_INVALID_VALUE;
    if (k == 0 || g.alpha == 0.0f) {
        scale_only(g);
        return CUBLAS_STATUS_SUCCESS;
    }
    unsigned long long tiles = (unsigned long long)g.tiles_m * g.tiles_n * (unsigned long long)batch;
    if (tiles > 2147483647ull) return CUBLAS_STATUS_NOT_SUPPORTED;
    const Gemm* gp = &g;
    if (!cuemu::launch(tile, dim3((unsigned)tiles), dim3(1), 0, gp)) {
        std::fprintf(stderr, "cublas-emu: %s\n", cuemu::last_error().c_str());
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

CUBLASAPI cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
    if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    cublasHandle_t h = new cublasContext();
    std::lock_guard<std::mutex> g(g_mu);
    handles().insert(h);
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLASAPI cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    std::lock_guard<std::mutex> g(g_mu);
    if (handles().erase(handle) == 0) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLASAPI cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *version = 130000;  // the cuBLAS of CUDA 13.0, which this stands in for
    return CUBLAS_STATUS_SUCCESS;
}

CUBLASAPI cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, void* stream) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;  // work is synchronous: the stream only is remembered
    return CUBLAS_STATUS_SUCCESS;
}

CUBLASAPI cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, void** stream) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (stream == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

// cublasMath_t: DEFAULT 0, TENSOR_OP 1, PEDANTIC 2, TF32_TENSOR_OP 3, FP32_EMULATED_BF16X9 4,
// FP64_EMULATED_FIXEDPOINT 8, optionally | DISALLOW_REDUCED_PRECISION_REDUCTION 16. All compute the same here.
CUBLASAPI cublasStatus_t cublasSetMathMode(cublasHandle_t handle, int mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    int base = mode & ~16;
    if (base != 0 && base != 1 && base != 2 && base != 3 && base != 4 && base != 8) return CUBLAS_STATUS_INVALID_VALUE;
    handle->math_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLASAPI cublasStatus_t cublasGetMathMode(cublasHandle_t handle, int* mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->math_mode;
    return CUBLAS_STATUS_SUCCESS;
}

CUBLASAPI cublasStatus_t cublasGemmEx(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                      const void* alpha, const void* A, int Atype, int lda, const void* B, int Btype,
                                      int ldb, const void* beta, void* C, int Ctype, int ldc, int computeType,
                                      int algo) {
    return gemm(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C, Ctype, ldc, 0, 1,
                computeType, algo);
}

CUBLASAPI cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, int transa, int transb, int m, int n,
                                                    int k, const void* alpha, const void* A, int Atype, int lda,
                                                    long long strideA, const void* B, int Btype, int ldb,
                                                    long long strideB, const void* beta, void* C, int Ctype, int ldc,
                                                    long long strideC, int batchCount, int computeType, int algo) {
    return gemm(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype,
                ldc, strideC, batchCount, computeType, algo);
}

CUBLASAPI const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

CUBLASAPI int cublas_emu_is_emulated() { return 1; }
