// driver.cpp: the emulated CUDA device, as a CUDA driver library (libcuda.so.1) that JCuda's native binds to.
//
// Host memory stands in for device memory (device pointers are host addresses); kernels are the `.cu` files compiled
// with g++ through cuda_emu.h and found by name in the registry; everything runs synchronously on the calling thread
// (streams and events exist, but work is done when enqueued). Every `cu*` name JCuda imports is exported: what is
// not implemented here is a generated stub (stubs.gen.cpp, from jcuda-driver-symbols.txt) that returns
// CUDA_ERROR_NOT_SUPPORTED and records its name. CUDA 13's cuda.h is deliberately not included: its macros rename
// functions (cuCtxCreate -> cuCtxCreate_v4, ...), and JCuda 12.6 imports the names declared below.
//
// Test controls (exported, for Java FFM or C): cuemu_set_schedule, cuemu_set_memory_limit, cuemu_live_bytes, ...
// Environment: RATIONALE_EMU_DEVICE_MEMORY (bytes, suffix k/m/g allowed; default half the machine's memory),
// RATIONALE_EMU_SCHEDULE, RATIONALE_EMU_THREADS, RATIONALE_EMU_STACK_KB (see cuda_emu.h), RATIONALE_EMU_POISON=0
// (do not fill new device allocations with 0xFF bytes).
#include "cuda_emu.h"

#include <map>
#include <set>
#include <unordered_map>

#define CUAPI extern "C" __attribute__((visibility("default")))

// ---- the driver API's types, as far as used here -------------------------------------------------------------------
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
typedef CUctx_st* CUcontext;
typedef CUmod_st* CUmodule;
typedef CUfunc_st* CUfunction;
typedef CUstream_st* CUstream;
typedef CUevent_st* CUevent;
typedef void (*CUhostFn)(void* userData);
typedef void (*CUstreamCallback)(CUstream hStream, CUresult status, void* userData);
struct EmuUuid { char bytes[16]; };  // CUuuid (named apart from driver_types.h's)
struct CUdevprop {
    int maxThreadsPerBlock, maxThreadsDim[3], maxGridSize[3], sharedMemPerBlock, totalConstantMemory, SIMDWidth, memPitch,
        regsPerBlock, clockRate, textureAlign;
};

enum : int {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_FILE_NOT_FOUND = 301,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_UNKNOWN = 999,
};

namespace {

// ---- error names and descriptions ----------------------------------------------------------------------------------
struct ErrorText { int code; const char* name; const char* text; };
const ErrorText kErrors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error (cuInit not called)"},
    {4, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {5, "CUDA_ERROR_PROFILER_DISABLED", "profiler disabled"},
    {6, "CUDA_ERROR_PROFILER_NOT_INITIALIZED", "profiler not initialized"},
    {7, "CUDA_ERROR_PROFILER_ALREADY_STARTED", "profiler already started"},
    {8, "CUDA_ERROR_PROFILER_ALREADY_STOPPED", "profiler already stopped"},
    {34, "CUDA_ERROR_STUB_LIBRARY", "stub library"},
    {36, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", "call requires a newer driver"},
    {46, "CUDA_ERROR_DEVICE_UNAVAILABLE", "device unavailable"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {102, "CUDA_ERROR_DEVICE_NOT_LICENSED", "device not licensed"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {202, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT", "context already current"},
    {205, "CUDA_ERROR_MAP_FAILED", "mapping of buffer object failed"},
    {206, "CUDA_ERROR_UNMAP_FAILED", "unmapping of buffer object failed"},
    {207, "CUDA_ERROR_ARRAY_IS_MAPPED", "array is mapped"},
    {208, "CUDA_ERROR_ALREADY_MAPPED", "resource already mapped"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {210, "CUDA_ERROR_ALREADY_ACQUIRED", "resource already acquired"},
    {211, "CUDA_ERROR_NOT_MAPPED", "resource not mapped"},
    {212, "CUDA_ERROR_NOT_MAPPED_AS_ARRAY", "resource not mapped as array"},
    {213, "CUDA_ERROR_NOT_MAPPED_AS_POINTER", "resource not mapped as pointer"},
    {214, "CUDA_ERROR_ECC_UNCORRECTABLE", "uncorrectable ECC error encountered"},
    {215, "CUDA_ERROR_UNSUPPORTED_LIMIT", "limit is not supported on this architecture"},
    {216, "CUDA_ERROR_CONTEXT_ALREADY_IN_USE", "exclusive-thread device already in use"},
    {217, "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED", "peer access is not supported between these two devices"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {219, "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT", "invalid OpenGL or DirectX context"},
    {220, "CUDA_ERROR_NVLINK_UNCORRECTABLE", "uncorrectable NVLink error detected"},
    {221, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND", "PTX JIT compiler library not found"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain"},
    {223, "CUDA_ERROR_JIT_COMPILATION_DISABLED", "PTX JIT compilation disabled"},
    {224, "CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY", "unsupported execution affinity"},
    {225, "CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC", "device-side synchronization is not supported"},
    {226, "CUDA_ERROR_CONTAINED", "contained error"},
    {300, "CUDA_ERROR_INVALID_SOURCE", "device kernel image is invalid"},
    {301, "CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
    {302, "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND", "shared object symbol not found"},
    {303, "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", "shared object initialization failed"},
    {304, "CUDA_ERROR_OPERATING_SYSTEM", "OS call failed or operation not supported on this OS"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
    {402, "CUDA_ERROR_LOSSY_QUERY", "attempted introspection would be semantically lossy"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {702, "CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated"},
    {703, "CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING", "launch uses incompatible texturing mode"},
    {704, "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED", "peer access is already enabled"},
    {705, "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED", "peer access has not been enabled"},
    {708, "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE", "cannot set while device is active in this process"},
    {709, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {710, "CUDA_ERROR_ASSERT", "device-side assert triggered"},
    {711, "CUDA_ERROR_TOO_MANY_PEERS", "peer mapping resources exhausted"},
    {712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "part or all of the requested memory range is already mapped"},
    {713, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", "pointer does not correspond to a registered memory region"},
    {714, "CUDA_ERROR_HARDWARE_STACK_ERROR", "hardware stack error"},
    {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"},
    {716, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address"},
    {717, "CUDA_ERROR_INVALID_ADDRESS_SPACE", "operation not supported on global/shared address space"},
    {718, "CUDA_ERROR_INVALID_PC", "invalid program counter"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {720, "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", "too many blocks in cooperative launch"},
    {721, "CUDA_ERROR_TENSOR_MEMORY_LEAK", "tensor memory not completely freed"},
    {800, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {802, "CUDA_ERROR_SYSTEM_NOT_READY", "system not yet initialized"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward compatibility was attempted on non supported HW"},
    {805, "CUDA_ERROR_MPS_CONNECTION_FAILED", "MPS client failed to connect to the MPS control daemon or the MPS server"},
    {806, "CUDA_ERROR_MPS_RPC_FAILURE", "the remote procedural call between the MPS server and the MPS client failed"},
    {807, "CUDA_ERROR_MPS_SERVER_NOT_READY", "MPS server is not ready"},
    {808, "CUDA_ERROR_MPS_MAX_CLIENTS_REACHED", "the maximum number of MPS clients has been reached"},
    {809, "CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED", "the maximum number of MPS connections has been reached"},
    {810, "CUDA_ERROR_MPS_CLIENT_TERMINATED", "the MPS client has been terminated by the server"},
    {811, "CUDA_ERROR_CDP_NOT_SUPPORTED", "CUDA dynamic parallelism is not supported"},
    {812, "CUDA_ERROR_CDP_VERSION_MISMATCH", "CUDA dynamic parallelism version mismatch"},
    {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
    {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
    {902, "CUDA_ERROR_STREAM_CAPTURE_MERGE", "operation would result in a merge of separate capture sequences"},
    {903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", "capture was not ended in the same stream as it began"},
    {904, "CUDA_ERROR_STREAM_CAPTURE_UNJOINED", "capturing stream has unjoined work"},
    {905, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION", "dependency created on uncaptured work in another stream"},
    {906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", "operation would make the legacy stream depend on a capturing blocking stream"},
    {907, "CUDA_ERROR_CAPTURED_EVENT", "operation not permitted on an event last recorded in a capturing stream"},
    {908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", "attempt to terminate a thread-local capture sequence from another thread"},
    {909, "CUDA_ERROR_TIMEOUT", "wait operation timed out"},
    {910, "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE", "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update"},
    {911, "CUDA_ERROR_EXTERNAL_DEVICE", "an async error has occurred in an external entity outside of CUDA"},
    {912, "CUDA_ERROR_INVALID_CLUSTER_SIZE", "a kernel launch error has occurred due to cluster misconfiguration"},
    {913, "CUDA_ERROR_FUNCTION_NOT_LOADED", "the function handle is not loaded"},
    {914, "CUDA_ERROR_INVALID_RESOURCE_TYPE", "invalid resource type"},
    {915, "CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION", "invalid resource configuration"},
    {916, "CUDA_ERROR_KEY_ROTATION", "key rotation error"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};
const ErrorText* find_error(int code) {
    for (const ErrorText& e : kErrors)
        if (e.code == code) return &e;
    return nullptr;
}

// ---- driver state --------------------------------------------------------------------------------------------------
constexpr int kMaxSharedPerBlock = 49152;        // default dynamic shared memory limit per launch (48 KiB)
constexpr int kMaxSharedPerBlockOptin = 232448;  // with cuFuncSetAttribute (227 KiB)
const char kDeviceName[] = "Rationale cuda-emu (CPU emulation of an sm_90 device)";

enum class MemKind { Device, Host, Registered };
struct Alloc {
    size_t size;
    MemKind kind;
    CUctx_st* ctx;
    unsigned long long id;
};

}  // namespace

struct CUctx_st {
    unsigned long long id;
    bool primary;
    bool active;
    unsigned flags;
};
struct CUmod_st {
    CUctx_st* ctx;
    std::map<std::string, CUfunc_st*> functions;
};
struct CUfunc_st {
    const cuemu::KernelInfo* kernel;
    CUmod_st* module;
    int max_dynamic_shared;
    int carveout;
};
struct CUstream_st {
    CUctx_st* ctx;
    unsigned flags;
    int priority;
    unsigned long long id;
};
struct CUevent_st {
    CUctx_st* ctx;
    unsigned flags;
    bool recorded;
    std::chrono::steady_clock::time_point time;
};

namespace {

struct State {
    std::mutex mu;
    bool initialized = false;
    size_t limit = 0;      // the emulated device's total memory
    bool limit_set = false;  // by cuemu_set_memory_limit (else cuInit reads the environment)
    size_t used = 0;       // device bytes allocated
    bool poison = true;
    std::map<uintptr_t, Alloc> allocs;  // every tracked range: device, pinned host, registered host
    std::set<CUctx_st*> contexts;        // live (incl. the primary one while retained)
    std::set<CUmod_st*> modules;
    std::set<CUfunc_st*> functions;
    std::set<CUstream_st*> streams;
    std::set<CUevent_st*> events;
    CUctx_st primary{1, true, false, 0};
    int primary_refs = 0;
    unsigned long long next_id = 2;
    std::atomic<const char*> last_unsupported{nullptr};
    std::set<std::string> reported;
    std::string last_error;
};

State& st() {
    static State* s = new State();  // never destroyed: JVM threads may call in during exit
    return *s;
}

thread_local std::vector<CUctx_st*> tl_ctx_stack;
thread_local std::string tl_text;  // backs strings returned to callers (cuGetErrorString, cuemu_last_error)

size_t parse_size(const char* v, size_t fallback) {
    if (v == nullptr || *v == 0) return fallback;
    char* end = nullptr;
    unsigned long long n = std::strtoull(v, &end, 10);
    if (end == v) goto bad;
    switch (*end) {
        case 'k': case 'K': n <<= 10; end++; break;
        case 'm': case 'M': n <<= 20; end++; break;
        case 'g': case 'G': n <<= 30; end++; break;
        default: break;
    }
    if (*end == 'b' || *end == 'B') end++;
    if (*end != 0 || n == 0) goto bad;
    return (size_t)n;
bad:
    std::fprintf(stderr, "cuemu: ignoring RATIONALE_EMU_DEVICE_MEMORY=%s (expected bytes, e.g. 4294967296 or 4g)\n", v);
    return fallback;
}

size_t default_limit() {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t half = pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 2 : (size_t)8 << 30;
    return parse_size(std::getenv("RATIONALE_EMU_DEVICE_MEMORY"), half);
}

void set_error(const std::string& msg) {
    std::lock_guard<std::mutex> g(st().mu);
    st().last_error = msg;
}
void set_error_locked(const std::string& msg) { st().last_error = msg; }

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

CUctx_st* current_ctx() { return tl_ctx_stack.empty() ? nullptr : tl_ctx_stack.back(); }

// Common preconditions: cuInit called; a live context current (when needed).
CUresult check_init() { return st().initialized ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED; }
CUresult check_ctx() {
    if (!st().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    CUctx_st* c = current_ctx();
    if (c == nullptr || !c->active) return CUDA_ERROR_INVALID_CONTEXT;
    return CUDA_SUCCESS;
}
#define CHECK_INIT()                       \
    do {                                   \
        CUresult r_ = check_init();        \
        if (r_ != CUDA_SUCCESS) return r_; \
    } while (0)
#define CHECK_CTX()                        \
    do {                                   \
        CUresult r_ = check_ctx();         \
        if (r_ != CUDA_SUCCESS) return r_; \
    } while (0)

bool valid_stream(CUstream s) {
    if (s == nullptr || s == reinterpret_cast<CUstream>(1) || s == reinterpret_cast<CUstream>(2)) return true;
    std::lock_guard<std::mutex> g(st().mu);
    return st().streams.count(s) != 0;
}

// The tracked range that contains [p, p + n), or nullptr. Caller holds the mutex.
const Alloc* find_range_locked(uintptr_t p, size_t n, uintptr_t* base) {
    auto& a = st().allocs;
    auto it = a.upper_bound(p);
    if (it == a.begin()) return nullptr;
    --it;
    if (p - it->first > it->second.size || n > it->second.size - (p - it->first)) return nullptr;
    if (p - it->first == it->second.size && n > 0) return nullptr;
    if (base) *base = it->first;
    return &it->second;
}

// Device-side range check for copies and sets.
CUresult check_device_range(const char* fn, const char* what, CUdeviceptr p, size_t n) {
    if (n == 0) return CUDA_SUCCESS;
    std::lock_guard<std::mutex> g(st().mu);
    if (find_range_locked((uintptr_t)p, n, nullptr) == nullptr) {
        set_error_locked(fmt("%s: %s 0x%llx .. +%zu bytes is not inside any allocation of the emulated device", fn,
                             what, p, n));
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

// Frees everything a context owns (context destroyed, primary context released to 0 or reset).
void release_context_locked(CUctx_st* c) {
    State& s = st();
    for (auto it = s.allocs.begin(); it != s.allocs.end();) {
        if (it->second.ctx == c && it->second.kind != MemKind::Registered) {
            if (it->second.kind == MemKind::Device) s.used -= it->second.size;
            std::free(reinterpret_cast<void*>(it->first));
            it = s.allocs.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = s.modules.begin(); it != s.modules.end();) {
        if ((*it)->ctx == c) {
            for (auto& kv : (*it)->functions) {
                s.functions.erase(kv.second);
                delete kv.second;
            }
            delete *it;
            it = s.modules.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = s.streams.begin(); it != s.streams.end();) {
        if ((*it)->ctx == c) { delete *it; it = s.streams.erase(it); } else { ++it; }
    }
    for (auto it = s.events.begin(); it != s.events.end();) {
        if ((*it)->ctx == c) { delete *it; it = s.events.erase(it); } else { ++it; }
    }
}

CUresult alloc_device(const char* fn, CUdeviceptr* dptr, size_t bytesize, MemKind kind, void** host_out) {
    if (bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
    State& s = st();
    size_t rounded = (bytesize + 255) / 256 * 256;
    if (rounded < bytesize) return CUDA_ERROR_OUT_OF_MEMORY;
    std::unique_lock<std::mutex> g(s.mu);
    if (kind == MemKind::Device && (rounded > s.limit || s.used > s.limit - rounded)) {
        set_error_locked(fmt("%s: out of memory: %zu bytes asked, %zu free of %zu (emulated device memory; "
                             "RATIONALE_EMU_DEVICE_MEMORY or cuemu_set_memory_limit change it)",
                             fn, bytesize, s.limit - std::min(s.used, s.limit), s.limit));
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    void* p = std::aligned_alloc(256, rounded);
    if (p == nullptr) {
        set_error_locked(fmt("%s: the host could not provide %zu bytes", fn, rounded));
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    s.allocs[(uintptr_t)p] = Alloc{bytesize, kind, current_ctx(), s.next_id++};
    if (kind == MemKind::Device) s.used += bytesize;
    bool poison = s.poison && kind == MemKind::Device;
    g.unlock();
    if (poison) std::memset(p, 0xff, bytesize);  // like the GPU's: nothing is zero unless written
    if (dptr) *dptr = (CUdeviceptr)(uintptr_t)p;
    if (host_out) *host_out = p;
    return CUDA_SUCCESS;
}

CUresult free_tracked(const char* fn, uintptr_t p, bool host) {
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    auto it = s.allocs.find(p);
    bool ok = it != s.allocs.end() && (host ? it->second.kind == MemKind::Host : it->second.kind == MemKind::Device);
    if (!ok) {
        set_error_locked(fmt("%s: 0x%llx is not the start of a live %s allocation", fn, (unsigned long long)p,
                             host ? "pinned host" : "device"));
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (!host) s.used -= it->second.size;
    std::free(reinterpret_cast<void*>(p));
    s.allocs.erase(it);
    return CUDA_SUCCESS;
}

int device_attribute(int attrib, bool* known) {
    *known = true;
    switch (attrib) {
        case 1: return 1024;                       // MAX_THREADS_PER_BLOCK
        case 2: return 1024;                       // MAX_BLOCK_DIM_X
        case 3: return 1024;                       // MAX_BLOCK_DIM_Y
        case 4: return 64;                         // MAX_BLOCK_DIM_Z
        case 5: return 2147483647;                 // MAX_GRID_DIM_X
        case 6: return 65535;                      // MAX_GRID_DIM_Y
        case 7: return 65535;                      // MAX_GRID_DIM_Z
        case 8: return kMaxSharedPerBlock;         // MAX_SHARED_MEMORY_PER_BLOCK
        case 9: return 65536;                      // TOTAL_CONSTANT_MEMORY
        case 10: return 32;                        // WARP_SIZE
        case 11: return 2147483647;                // MAX_PITCH
        case 12: return 65536;                     // MAX_REGISTERS_PER_BLOCK
        case 13: return 1980000;                   // CLOCK_RATE (kHz)
        case 14: return 512;                       // TEXTURE_ALIGNMENT
        case 15: return 1;                         // GPU_OVERLAP
        case 16: return 132;                       // MULTIPROCESSOR_COUNT
        case 17: return 0;                         // KERNEL_EXEC_TIMEOUT
        case 18: return 0;                         // INTEGRATED
        case 19: return 1;                         // CAN_MAP_HOST_MEMORY
        case 20: return 0;                         // COMPUTE_MODE (default)
        case 30: return 512;                       // SURFACE_ALIGNMENT
        case 31: return 1;                         // CONCURRENT_KERNELS
        case 32: return 0;                         // ECC_ENABLED
        case 33: return 0;                         // PCI_BUS_ID
        case 34: return 0;                         // PCI_DEVICE_ID
        case 35: return 0;                         // TCC_DRIVER
        case 36: return 2619000;                   // MEMORY_CLOCK_RATE (kHz)
        case 37: return 5120;                      // GLOBAL_MEMORY_BUS_WIDTH
        case 38: return 50 * 1024 * 1024;          // L2_CACHE_SIZE
        case 39: return 2048;                      // MAX_THREADS_PER_MULTIPROCESSOR
        case 40: return 2;                         // ASYNC_ENGINE_COUNT
        case 41: return 1;                         // UNIFIED_ADDRESSING
        case 50: return 0;                         // PCI_DOMAIN_ID
        case 51: return 32;                        // TEXTURE_PITCH_ALIGNMENT
        case 75: return 9;                         // COMPUTE_CAPABILITY_MAJOR
        case 76: return 0;                         // COMPUTE_CAPABILITY_MINOR
        case 78: return 1;                         // STREAM_PRIORITIES_SUPPORTED
        case 79: return 1;                         // GLOBAL_L1_CACHE_SUPPORTED
        case 80: return 1;                         // LOCAL_L1_CACHE_SUPPORTED
        case 81: return 233472;                    // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR (228 KiB)
        case 82: return 65536;                     // MAX_REGISTERS_PER_MULTIPROCESSOR
        case 83: return 1;                         // MANAGED_MEMORY
        case 84: return 0;                         // MULTI_GPU_BOARD
        case 85: return 0;                         // MULTI_GPU_BOARD_GROUP_ID
        case 86: return 0;                         // HOST_NATIVE_ATOMIC_SUPPORTED
        case 87: return 2;                         // SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO
        case 88: return 0;                         // PAGEABLE_MEMORY_ACCESS
        case 89: return 1;                         // CONCURRENT_MANAGED_ACCESS
        case 90: return 1;                         // COMPUTE_PREEMPTION_SUPPORTED
        case 91: return 1;                         // CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM
        case 95: return 1;                         // COOPERATIVE_LAUNCH
        case 96: return 0;                         // COOPERATIVE_MULTI_DEVICE_LAUNCH
        case 97: return kMaxSharedPerBlockOptin;   // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
        case 99: return 1;                         // HOST_REGISTER_SUPPORTED
        case 106: return 32;                       // MAX_BLOCKS_PER_MULTIPROCESSOR
        case 108: return 30 * 1024 * 1024;         // MAX_PERSISTING_L2_CACHE_SIZE
        case 109: return 134213632;                // MAX_ACCESS_POLICY_WINDOW_SIZE
        case 111: return 1024;                     // RESERVED_SHARED_MEMORY_PER_BLOCK
        case 115: return 1;                        // MEMORY_POOLS_SUPPORTED
        case 120: return 1;                        // CLUSTER_LAUNCH
        default: break;
    }
    *known = attrib >= 1 && attrib <= 147;  // a real attribute this device reports as 0
    return 0;
}

CUresult get_function(CUfunction f) {
    std::lock_guard<std::mutex> g(st().mu);
    return st().functions.count(f) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult launch(const char* fn, CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                unsigned bz, unsigned shmem, CUstream stream, void** kernelParams, void** extra) {
    CHECK_CTX();
    if (get_function(f) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_HANDLE;
    if (!valid_stream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    const cuemu::KernelInfo& k = *f->kernel;
    std::string bad = cuemu::check_config(dim3(gx, gy, gz), dim3(bx, by, bz), shmem, (size_t)f->max_dynamic_shared);
    if (!bad.empty()) {
        if (shmem > (unsigned)f->max_dynamic_shared && shmem <= (unsigned)kMaxSharedPerBlockOptin)
            bad += " (raise it with cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES))";
        set_error(fmt("%s(%s): %s", fn, k.name, bad.c_str()));
        return CUDA_ERROR_INVALID_VALUE;
    }
    std::vector<void*> unpacked;
    void* const* params = kernelParams;
    if (kernelParams == nullptr && extra != nullptr) {
        // extra = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END}
        char* buf = nullptr;
        size_t size = 0;
        bool have_size = false;
        for (int i = 0; extra[i] != nullptr; i += 2) {
            uintptr_t key = (uintptr_t)extra[i];
            if (key == 1) buf = static_cast<char*>(extra[i + 1]);
            else if (key == 2) { size = *static_cast<size_t*>(extra[i + 1]); have_size = true; }
            else { set_error(fmt("%s(%s): unknown key %lu in extra", fn, k.name, (unsigned long)key)); return CUDA_ERROR_INVALID_VALUE; }
        }
        size_t off = 0;
        for (int i = 0; i < k.nparams; i++) {
            off = (off + k.aligns[i] - 1) / k.aligns[i] * k.aligns[i];
            unpacked.push_back(buf + off);
            off += k.sizes[i];
        }
        if (k.nparams > 0 && (buf == nullptr || !have_size || off > size)) {
            set_error(fmt("%s(%s): the extra parameter buffer holds %zu bytes, the kernel's parameters need %zu", fn,
                          k.name, size, off));
            return CUDA_ERROR_INVALID_VALUE;
        }
        params = unpacked.data();
    } else if (kernelParams == nullptr && k.nparams > 0) {
        set_error(fmt("%s(%s): no kernelParams for a kernel with %d parameters", fn, k.name, k.nparams));
        return CUDA_ERROR_INVALID_VALUE;
    } else if (kernelParams != nullptr && extra != nullptr) {
        set_error(fmt("%s(%s): both kernelParams and extra given", fn, k.name));
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (!cuemu::launch_raw(k, dim3(gx, gy, gz), dim3(bx, by, bz), shmem, params)) {
        std::string e = cuemu::last_error();
        std::fprintf(stderr, "cuemu: %s failed: %s\n", fn, e.c_str());
        set_error(fmt("%s: %s", fn, e.c_str()));
        return CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_SUCCESS;
}

}  // namespace

// Called by every generated stub.
extern "C" __attribute__((visibility("hidden"))) CUresult cuemu_unsupported(const char* name) {
    State& s = st();
    s.last_unsupported.store(name);
    std::lock_guard<std::mutex> g(s.mu);
    s.last_error = std::string(name) + " is not implemented by the emulated CUDA device (CUDA_ERROR_NOT_SUPPORTED)";
    if (s.reported.insert(name).second) std::fprintf(stderr, "cuemu: %s\n", s.last_error.c_str());
    return CUDA_ERROR_NOT_SUPPORTED;
}

// =====================================================================================================================
// Initialization, version, errors
// =====================================================================================================================
CUAPI CUresult cuInit(unsigned int flags) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.initialized) {
        if (!s.limit_set) s.limit = default_limit();
        const char* p = std::getenv("RATIONALE_EMU_POISON");
        s.poison = !(p != nullptr && std::strcmp(p, "0") == 0);
        s.initialized = true;
    }
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDriverGetVersion(int* version) {
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *version = 12060;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuGetErrorName(CUresult error, const char** pStr) {
    if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const ErrorText* e = find_error(error);
    *pStr = e ? e->name : nullptr;
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUAPI CUresult cuGetErrorString(CUresult error, const char** pStr) {
    if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const ErrorText* e = find_error(error);
    if (e == nullptr) {
        *pStr = nullptr;
        return CUDA_ERROR_INVALID_VALUE;
    }
    *pStr = e->text;
    const char* unsupported = st().last_unsupported.load();
    if (error == CUDA_ERROR_NOT_SUPPORTED && unsupported != nullptr) {
        tl_text = std::string("operation not supported: ") + unsupported + " is not implemented by the emulated CUDA device";
        *pStr = tl_text.c_str();
    } else if (error == CUDA_ERROR_LAUNCH_FAILED || error == CUDA_ERROR_OUT_OF_MEMORY) {
        std::lock_guard<std::mutex> g(st().mu);
        if (!st().last_error.empty()) {
            tl_text = std::string(e->text) + ": " + st().last_error;
            *pStr = tl_text.c_str();
        }
    }
    return CUDA_SUCCESS;
}

// =====================================================================================================================
// Devices
// =====================================================================================================================
CUAPI CUresult cuDeviceGetCount(int* count) {
    CHECK_INIT();
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    CHECK_INIT();
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
    CHECK_INIT();
    if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, (size_t)len, "%s", kDeviceName);
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceGetUuid(EmuUuid* uuid, CUdevice dev) {
    CHECK_INIT();
    if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    static const char id[16] = {'r', 'a', 't', 'i', 'o', 'n', 'a', 'l', 'e', '-', 'c', 'u', 'e', 'm', 'u', '0'};
    std::memcpy(uuid->bytes, id, 16);
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
    CHECK_INIT();
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> g(st().mu);
    *bytes = st().limit;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceGetAttribute(int* pi, int attrib, CUdevice dev) {
    CHECK_INIT();
    if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    bool known;
    int v = device_attribute(attrib, &known);
    if (!known) return CUDA_ERROR_INVALID_VALUE;
    *pi = v;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice dev) {
    CHECK_INIT();
    if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *major = 9;
    *minor = 0;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceGetProperties(CUdevprop* p, CUdevice dev) {
    CHECK_INIT();
    if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *p = CUdevprop{1024, {1024, 1024, 64}, {2147483647, 65535, 65535}, kMaxSharedPerBlock, 65536, 32, 2147483647,
                   65536, 1980000, 512};
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceGetPCIBusId(char* pciBusId, int len, CUdevice dev) {
    CHECK_INIT();
    if (pciBusId == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(pciBusId, (size_t)len, "0000:00:00.0");
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDeviceCanAccessPeer(int* canAccessPeer, CUdevice dev, CUdevice peer) {
    CHECK_INIT();
    if (canAccessPeer == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0 || peer != 0) return CUDA_ERROR_INVALID_DEVICE;
    *canAccessPeer = 0;
    return CUDA_SUCCESS;
}

// =====================================================================================================================
// Contexts
// =====================================================================================================================
CUAPI CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
    CHECK_INIT();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    s.primary_refs++;
    s.primary.active = true;
    s.contexts.insert(&s.primary);
    *pctx = &s.primary;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    CHECK_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    if (s.primary_refs == 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (--s.primary_refs == 0) {
        release_context_locked(&s.primary);
        s.primary.active = false;
        s.contexts.erase(&s.primary);
    }
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
    CHECK_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    release_context_locked(&s.primary);
    s.primary_refs = 0;
    s.primary.active = false;
    s.contexts.erase(&s.primary);
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
    CHECK_INIT();
    if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> g(st().mu);
    *flags = st().primary.flags;
    *active = st().primary.active ? 1 : 0;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
    CHECK_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> g(st().mu);
    st().primary.flags = flags;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
    CHECK_INIT();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    State& s = st();
    CUctx_st* c;
    {
        std::lock_guard<std::mutex> g(s.mu);
        c = new CUctx_st{s.next_id++, false, true, flags};
        s.contexts.insert(c);
    }
    tl_ctx_stack.push_back(c);
    *pctx = c;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxDestroy_v2(CUcontext ctx) {
    CHECK_INIT();
    State& s = st();
    {
        std::lock_guard<std::mutex> g(s.mu);
        if (ctx == nullptr || ctx->primary || s.contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
        release_context_locked(ctx);
        s.contexts.erase(ctx);
        ctx->active = false;  // kept allocated: stale thread-local stacks may still point at it
    }
    for (auto& c : tl_ctx_stack)
        if (c == ctx) c = nullptr;
    tl_ctx_stack.erase(std::remove(tl_ctx_stack.begin(), tl_ctx_stack.end(), nullptr), tl_ctx_stack.end());
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxSetCurrent(CUcontext ctx) {
    CHECK_INIT();
    if (ctx != nullptr) {
        std::lock_guard<std::mutex> g(st().mu);
        if (st().contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
    }
    if (ctx == nullptr) {
        if (!tl_ctx_stack.empty()) tl_ctx_stack.pop_back();
    } else if (tl_ctx_stack.empty()) {
        tl_ctx_stack.push_back(ctx);
    } else {
        tl_ctx_stack.back() = ctx;
    }
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxGetCurrent(CUcontext* pctx) {
    CHECK_INIT();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *pctx = current_ctx();
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
    CHECK_INIT();
    {
        std::lock_guard<std::mutex> g(st().mu);
        if (ctx == nullptr || st().contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
    }
    tl_ctx_stack.push_back(ctx);
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
    CHECK_INIT();
    if (tl_ctx_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
    if (pctx) *pctx = tl_ctx_stack.back();
    tl_ctx_stack.pop_back();
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxGetDevice(CUdevice* device) {
    CHECK_CTX();
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *device = 0;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxGetFlags(unsigned int* flags) {
    CHECK_CTX();
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *flags = current_ctx()->flags;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxGetId(CUcontext ctx, unsigned long long* id) {
    CHECK_INIT();
    if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ctx == nullptr) ctx = current_ctx();
    std::lock_guard<std::mutex> g(st().mu);
    if (ctx == nullptr || st().contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
    *id = ctx->id;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
    CHECK_INIT();
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ctx == nullptr) ctx = current_ctx();
    std::lock_guard<std::mutex> g(st().mu);
    if (ctx == nullptr || st().contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
    *version = 3020;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxSynchronize() {
    CHECK_CTX();
    return CUDA_SUCCESS;  // all work is done when enqueued
}

CUAPI CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
    CHECK_CTX();
    if (least) *least = 0;
    if (greatest) *greatest = -5;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuCtxGetLimit(size_t* value, int limit) {
    CHECK_CTX();
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    switch (limit) {
        case 0: *value = 1024; return CUDA_SUCCESS;            // STACK_SIZE
        case 1: *value = 1 << 20; return CUDA_SUCCESS;         // PRINTF_FIFO_SIZE
        case 2: *value = 8 << 20; return CUDA_SUCCESS;         // MALLOC_HEAP_SIZE
        default: return CUDA_ERROR_INVALID_VALUE;
    }
}

CUAPI CUresult cuCtxSetLimit(int limit, size_t value) {
    CHECK_CTX();
    (void)value;
    return limit >= 0 && limit <= 2 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUAPI CUresult cuCtxGetCacheConfig(int* config) {
    CHECK_CTX();
    if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *config = 0;
    return CUDA_SUCCESS;
}
CUAPI CUresult cuCtxSetCacheConfig(int) { CHECK_CTX(); return CUDA_SUCCESS; }
CUAPI CUresult cuCtxGetSharedMemConfig(int* config) {
    CHECK_CTX();
    if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *config = 1;  // four-byte banks
    return CUDA_SUCCESS;
}
CUAPI CUresult cuCtxSetSharedMemConfig(int) { CHECK_CTX(); return CUDA_SUCCESS; }

// =====================================================================================================================
// Modules and functions
// =====================================================================================================================
static CUresult new_module(CUmodule* module, const void* image) {
    CHECK_CTX();
    if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    CUmod_st* m = new CUmod_st{current_ctx(), {}};
    st().modules.insert(m);
    *module = m;
    return CUDA_SUCCESS;
}

// Any image is accepted: kernel names resolve against the kernels compiled into this library.
CUAPI CUresult cuModuleLoadData(CUmodule* module, const void* image) { return new_module(module, image); }
CUAPI CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int, int*, void**) {
    return new_module(module, image);
}
CUAPI CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fatCubin) { return new_module(module, fatCubin); }
CUAPI CUresult cuModuleLoad(CUmodule* module, const char* fname) {
    CHECK_CTX();
    if (fname == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (access(fname, R_OK) != 0) {
        set_error(fmt("cuModuleLoad: cannot read %s", fname));
        return CUDA_ERROR_FILE_NOT_FOUND;
    }
    return new_module(module, fname);
}

CUAPI CUresult cuModuleUnload(CUmodule hmod) {
    CHECK_INIT();
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    if (s.modules.count(hmod) == 0) return CUDA_ERROR_INVALID_HANDLE;
    for (auto& kv : hmod->functions) {
        s.functions.erase(kv.second);
        delete kv.second;
    }
    s.modules.erase(hmod);
    delete hmod;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
    CHECK_CTX();
    if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    if (s.modules.count(hmod) == 0) return CUDA_ERROR_INVALID_HANDLE;
    auto it = hmod->functions.find(name);
    if (it != hmod->functions.end()) {
        *hfunc = it->second;
        return CUDA_SUCCESS;
    }
    const cuemu::KernelInfo* k = cuemu::find_kernel(name);
    if (k == nullptr) {
        set_error_locked(fmt("cuModuleGetFunction: no kernel named %s in the emulated device (%zu kernels compiled in)",
                             name, cuemu::registry().size()));
        return CUDA_ERROR_NOT_FOUND;
    }
    CUfunc_st* f = new CUfunc_st{k, hmod, kMaxSharedPerBlock, -1};
    hmod->functions[name] = f;
    s.functions.insert(f);
    *hfunc = f;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuModuleGetLoadingMode(int* mode) {
    CHECK_INIT();
    if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *mode = 1;  // CU_MODULE_EAGER_LOADING
    return CUDA_SUCCESS;
}

CUAPI CUresult cuFuncGetModule(CUmodule* hmod, CUfunction hfunc) {
    CHECK_INIT();
    if (hmod == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (get_function(hfunc) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_HANDLE;
    *hmod = hfunc->module;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuFuncGetAttribute(int* pi, int attrib, CUfunction hfunc) {
    CHECK_INIT();
    if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (get_function(hfunc) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_HANDLE;
    switch (attrib) {
        case 0: *pi = 1024; break;                        // MAX_THREADS_PER_BLOCK
        case 1: *pi = 0; break;                           // SHARED_SIZE_BYTES (static; not known here)
        case 2: *pi = 0; break;                           // CONST_SIZE_BYTES
        case 3: *pi = 0; break;                           // LOCAL_SIZE_BYTES
        case 4: *pi = 32; break;                          // NUM_REGS (nominal)
        case 5: *pi = 90; break;                          // PTX_VERSION
        case 6: *pi = 90; break;                          // BINARY_VERSION
        case 7: *pi = 0; break;                           // CACHE_MODE_CA
        case 8: *pi = hfunc->max_dynamic_shared; break;   // MAX_DYNAMIC_SHARED_SIZE_BYTES
        case 9: *pi = hfunc->carveout; break;             // PREFERRED_SHARED_MEMORY_CARVEOUT
        case 10: case 11: case 12: case 13: case 14: case 15: *pi = 0; break;  // cluster attributes
        default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUAPI CUresult cuFuncSetAttribute(CUfunction hfunc, int attrib, int value) {
    CHECK_INIT();
    if (get_function(hfunc) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_HANDLE;
    switch (attrib) {
        case 8:  // MAX_DYNAMIC_SHARED_SIZE_BYTES
            if (value < 0 || value > kMaxSharedPerBlockOptin) {
                set_error(fmt("cuFuncSetAttribute(%s): %d bytes of dynamic shared memory exceed the opt-in limit %d",
                              hfunc->kernel->name, value, kMaxSharedPerBlockOptin));
                return CUDA_ERROR_INVALID_VALUE;
            }
            hfunc->max_dynamic_shared = value;
            return CUDA_SUCCESS;
        case 9:  // PREFERRED_SHARED_MEMORY_CARVEOUT
            if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
            hfunc->carveout = value;
            return CUDA_SUCCESS;
        default:
            return CUDA_ERROR_INVALID_VALUE;
    }
}

CUAPI CUresult cuFuncSetCacheConfig(CUfunction hfunc, int) {
    CHECK_INIT();
    return get_function(hfunc);
}
CUAPI CUresult cuFuncSetSharedMemConfig(CUfunction hfunc, int) {
    CHECK_INIT();
    return get_function(hfunc);
}

CUAPI CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                              unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                              unsigned int sharedMemBytes, CUstream hStream, void** kernelParams, void** extra) {
    return launch("cuLaunchKernel", f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes,
                  hStream, kernelParams, extra);
}

CUAPI CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, CUfunction func, int blockSize,
                                                           size_t dynamicSMemSize) {
    CHECK_INIT();
    if (numBlocks == nullptr || blockSize <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (get_function(func) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_HANDLE;
    int by_threads = 2048 / blockSize;
    int by_smem = dynamicSMemSize > 0 ? (int)(233472 / (dynamicSMemSize + 1024)) : 32;
    *numBlocks = std::max(0, std::min({by_threads, by_smem, 32}));
    return CUDA_SUCCESS;
}

// =====================================================================================================================
// Memory
// =====================================================================================================================
CUAPI CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
    CHECK_CTX();
    if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return alloc_device("cuMemAlloc_v2", dptr, bytesize, MemKind::Device, nullptr);
}

CUAPI CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int) {
    CHECK_CTX();
    if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return alloc_device("cuMemAllocManaged", dptr, bytesize, MemKind::Device, nullptr);
}

CUAPI CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
    CHECK_CTX();
    if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_stream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    return alloc_device("cuMemAllocAsync", dptr, bytesize, MemKind::Device, nullptr);
}

CUAPI CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t widthBytes, size_t height,
                                  unsigned int elementSize) {
    CHECK_CTX();
    if (dptr == nullptr || pitch == nullptr || widthBytes == 0 || height == 0 ||
        (elementSize != 4 && elementSize != 8 && elementSize != 16))
        return CUDA_ERROR_INVALID_VALUE;
    size_t p = (widthBytes + 511) / 512 * 512;
    CUresult r = alloc_device("cuMemAllocPitch_v2", dptr, p * height, MemKind::Device, nullptr);
    if (r == CUDA_SUCCESS) *pitch = p;
    return r;
}

CUAPI CUresult cuMemFree_v2(CUdeviceptr dptr) {
    CHECK_CTX();
    if (dptr == 0) return CUDA_SUCCESS;
    return free_tracked("cuMemFree_v2", (uintptr_t)dptr, false);
}

CUAPI CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
    CHECK_CTX();
    if (!valid_stream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    if (dptr == 0) return CUDA_SUCCESS;
    return free_tracked("cuMemFreeAsync", (uintptr_t)dptr, false);
}

CUAPI CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    CHECK_CTX();
    if (free_bytes == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    *total = st().limit;
    *free_bytes = st().limit - std::min(st().used, st().limit);
    return CUDA_SUCCESS;
}

CUAPI CUresult cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr) {
    CHECK_CTX();
    std::lock_guard<std::mutex> g(st().mu);
    uintptr_t base;
    const Alloc* a = find_range_locked((uintptr_t)dptr, 1, &base);
    if (a == nullptr || a->kind != MemKind::Device) return CUDA_ERROR_NOT_FOUND;
    if (pbase) *pbase = (CUdeviceptr)base;
    if (psize) *psize = a->size;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
    CHECK_CTX();
    if (pp == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return alloc_device("cuMemAllocHost_v2", nullptr, bytesize, MemKind::Host, pp);
}

CUAPI CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int flags) {
    CHECK_CTX();
    if (pp == nullptr || (flags & ~0x7u) != 0) return CUDA_ERROR_INVALID_VALUE;
    return alloc_device("cuMemHostAlloc", nullptr, bytesize, MemKind::Host, pp);
}

CUAPI CUresult cuMemFreeHost(void* p) {
    CHECK_CTX();
    return free_tracked("cuMemFreeHost", (uintptr_t)p, true);
}

CUAPI CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int flags) {
    CHECK_CTX();
    if (pdptr == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    const Alloc* a = find_range_locked((uintptr_t)p, 1, nullptr);
    if (a == nullptr || a->kind == MemKind::Device) return CUDA_ERROR_INVALID_VALUE;
    *pdptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuMemHostGetFlags(unsigned int* flags, void* p) {
    CHECK_CTX();
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    const Alloc* a = find_range_locked((uintptr_t)p, 1, nullptr);
    if (a == nullptr || a->kind != MemKind::Host) return CUDA_ERROR_INVALID_VALUE;
    *flags = 0;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuMemHostRegister_v2(void* p, size_t bytesize, unsigned int) {
    CHECK_CTX();
    if (p == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    if (find_range_locked((uintptr_t)p, 1, nullptr) != nullptr) return 712;  // HOST_MEMORY_ALREADY_REGISTERED
    s.allocs[(uintptr_t)p] = Alloc{bytesize, MemKind::Registered, current_ctx(), s.next_id++};
    return CUDA_SUCCESS;
}

CUAPI CUresult cuMemHostUnregister(void* p) {
    CHECK_CTX();
    State& s = st();
    std::lock_guard<std::mutex> g(s.mu);
    auto it = s.allocs.find((uintptr_t)p);
    if (it == s.allocs.end() || it->second.kind != MemKind::Registered) return 713;  // HOST_MEMORY_NOT_REGISTERED
    s.allocs.erase(it);
    return CUDA_SUCCESS;
}

CUAPI CUresult cuPointerGetAttribute(void* data, int attribute, CUdeviceptr ptr) {
    CHECK_INIT();
    if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    uintptr_t base;
    const Alloc* a = find_range_locked((uintptr_t)ptr, 1, &base);
    if (a == nullptr) return CUDA_ERROR_INVALID_VALUE;
    switch (attribute) {
        case 1: *static_cast<CUcontext*>(data) = a->ctx; return CUDA_SUCCESS;                      // CONTEXT
        case 2: *static_cast<unsigned*>(data) = a->kind == MemKind::Device ? 2 : 1; return CUDA_SUCCESS;  // MEMORY_TYPE
        case 3: *static_cast<CUdeviceptr*>(data) = ptr; return CUDA_SUCCESS;                       // DEVICE_POINTER
        case 4:                                                                                     // HOST_POINTER
            if (a->kind == MemKind::Device) return CUDA_ERROR_INVALID_VALUE;
            *static_cast<void**>(data) = reinterpret_cast<void*>((uintptr_t)ptr);
            return CUDA_SUCCESS;
        case 7: *static_cast<unsigned long long*>(data) = a->id; return CUDA_SUCCESS;              // BUFFER_ID
        case 8: *static_cast<unsigned*>(data) = 0; return CUDA_SUCCESS;                            // IS_MANAGED
        case 9: *static_cast<int*>(data) = 0; return CUDA_SUCCESS;                                 // DEVICE_ORDINAL
        case 11: *static_cast<CUdeviceptr*>(data) = (CUdeviceptr)base; return CUDA_SUCCESS;        // RANGE_START_ADDR
        case 12: *static_cast<size_t*>(data) = a->size; return CUDA_SUCCESS;                       // RANGE_SIZE
        default: break;
    }
    return CUDA_ERROR_INVALID_VALUE;
}

// ---- copies and sets (synchronous; the Async forms too) -----------------------------------------------------------
static CUresult copy(const char* fn, void* dst, const void* src, size_t n, bool dst_dev, bool src_dev, CUstream s) {
    CHECK_CTX();
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    if (n == 0) return CUDA_SUCCESS;
    if (dst == nullptr || src == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dst_dev) {
        CUresult r = check_device_range(fn, "destination", (CUdeviceptr)(uintptr_t)dst, n);
        if (r != CUDA_SUCCESS) return r;
    }
    if (src_dev) {
        CUresult r = check_device_range(fn, "source", (CUdeviceptr)(uintptr_t)src, n);
        if (r != CUDA_SUCCESS) return r;
    }
    std::memmove(dst, src, n);
    return CUDA_SUCCESS;
}
#define DP(x) reinterpret_cast<void*>((uintptr_t)(x))

CUAPI CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    return copy("cuMemcpyHtoD_v2", DP(dst), src, n, true, false, nullptr);
}
CUAPI CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    return copy("cuMemcpyDtoH_v2", dst, DP(src), n, false, true, nullptr);
}
CUAPI CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    return copy("cuMemcpyDtoD_v2", DP(dst), DP(src), n, true, true, nullptr);
}
CUAPI CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
    return copy("cuMemcpyHtoDAsync_v2", DP(dst), src, n, true, false, s);
}
CUAPI CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream s) {
    return copy("cuMemcpyDtoHAsync_v2", dst, DP(src), n, false, true, s);
}
CUAPI CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    return copy("cuMemcpyDtoDAsync_v2", DP(dst), DP(src), n, true, true, s);
}
// Unified addressing: either side may be host or device memory.
CUAPI CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    return copy("cuMemcpy", DP(dst), DP(src), n, false, false, nullptr);
}
CUAPI CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    return copy("cuMemcpyAsync", DP(dst), DP(src), n, false, false, s);
}

template <class T>
static CUresult set(const char* fn, CUdeviceptr dst, T value, size_t count, CUstream s) {
    CHECK_CTX();
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    if (count == 0) return CUDA_SUCCESS;
    if (dst % sizeof(T) != 0) {
        set_error(fmt("%s: 0x%llx is not %zu-byte aligned", fn, dst, sizeof(T)));
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (count > SIZE_MAX / sizeof(T)) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = check_device_range(fn, "destination", dst, count * sizeof(T));
    if (r != CUDA_SUCCESS) return r;
    T* p = reinterpret_cast<T*>((uintptr_t)dst);
    if (sizeof(T) == 1) std::memset(p, (int)value, count);
    else std::fill(p, p + count, value);
    return CUDA_SUCCESS;
}
CUAPI CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return set("cuMemsetD8_v2", d, v, n, nullptr); }
CUAPI CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) { return set("cuMemsetD16_v2", d, v, n, nullptr); }
CUAPI CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) { return set("cuMemsetD32_v2", d, v, n, nullptr); }
CUAPI CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
    return set("cuMemsetD8Async", d, v, n, s);
}
CUAPI CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) {
    return set("cuMemsetD16Async", d, v, n, s);
}
CUAPI CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) {
    return set("cuMemsetD32Async", d, v, n, s);
}

// =====================================================================================================================
// Streams and events (work is done when enqueued, so every stream is always idle)
// =====================================================================================================================
static CUresult new_stream(CUstream* ph, unsigned flags, int priority) {
    CHECK_CTX();
    if (ph == nullptr || (flags & ~1u) != 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    CUstream_st* s = new CUstream_st{current_ctx(), flags, std::max(-5, std::min(0, priority)), st().next_id++};
    st().streams.insert(s);
    *ph = s;
    return CUDA_SUCCESS;
}
CUAPI CUresult cuStreamCreate(CUstream* ph, unsigned int flags) { return new_stream(ph, flags, 0); }
CUAPI CUresult cuStreamCreateWithPriority(CUstream* ph, unsigned int flags, int priority) {
    return new_stream(ph, flags, priority);
}

static CUresult live_stream(CUstream s) {
    if (s == nullptr || s == reinterpret_cast<CUstream>(1) || s == reinterpret_cast<CUstream>(2)) return CUDA_SUCCESS;
    std::lock_guard<std::mutex> g(st().mu);
    return st().streams.count(s) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUAPI CUresult cuStreamDestroy_v2(CUstream s) {
    CHECK_CTX();
    std::lock_guard<std::mutex> g(st().mu);
    if (s == nullptr || st().streams.erase(s) == 0) return CUDA_ERROR_INVALID_HANDLE;
    delete s;
    return CUDA_SUCCESS;
}
CUAPI CUresult cuStreamSynchronize(CUstream s) { CHECK_CTX(); return live_stream(s); }
CUAPI CUresult cuStreamQuery(CUstream s) { CHECK_CTX(); return live_stream(s); }
CUAPI CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int) {
    CHECK_CTX();
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    std::lock_guard<std::mutex> g(st().mu);
    return st().events.count(e) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
CUAPI CUresult cuStreamGetFlags(CUstream s, unsigned int* flags) {
    CHECK_CTX();
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    *flags = (uintptr_t)s > 2 ? s->flags : 0;
    return CUDA_SUCCESS;
}
CUAPI CUresult cuStreamGetPriority(CUstream s, int* priority) {
    CHECK_CTX();
    if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    *priority = (uintptr_t)s > 2 ? s->priority : 0;
    return CUDA_SUCCESS;
}
CUAPI CUresult cuStreamGetId(CUstream s, unsigned long long* id) {
    CHECK_CTX();
    if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    *id = (uintptr_t)s > 2 ? s->id : (unsigned long long)(uintptr_t)s;
    return CUDA_SUCCESS;
}
CUAPI CUresult cuStreamGetCtx(CUstream s, CUcontext* pctx) {
    CHECK_CTX();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    *pctx = (uintptr_t)s > 2 ? s->ctx : current_ctx();
    return CUDA_SUCCESS;
}
CUAPI CUresult cuStreamIsCapturing(CUstream s, int* status) {
    CHECK_CTX();
    if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *status = 0;  // CU_STREAM_CAPTURE_STATUS_NONE
    return live_stream(s);
}
CUAPI CUresult cuLaunchHostFunc(CUstream s, CUhostFn fn, void* userData) {
    CHECK_CTX();
    if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    fn(userData);
    return CUDA_SUCCESS;
}
CUAPI CUresult cuStreamAddCallback(CUstream s, CUstreamCallback cb, void* userData, unsigned int flags) {
    CHECK_CTX();
    if (cb == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    cb(s, CUDA_SUCCESS, userData);
    return CUDA_SUCCESS;
}

CUAPI CUresult cuEventCreate(CUevent* ph, unsigned int flags) {
    CHECK_CTX();
    if (ph == nullptr || (flags & ~0x7u) != 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    CUevent_st* e = new CUevent_st{current_ctx(), flags, false, {}};
    st().events.insert(e);
    *ph = e;
    return CUDA_SUCCESS;
}
static CUresult record(CUevent e, CUstream s) {
    CHECK_CTX();
    CUresult r = live_stream(s);
    if (r != CUDA_SUCCESS) return r;
    std::lock_guard<std::mutex> g(st().mu);
    if (st().events.count(e) == 0) return CUDA_ERROR_INVALID_HANDLE;
    e->recorded = true;
    e->time = std::chrono::steady_clock::now();
    return CUDA_SUCCESS;
}
CUAPI CUresult cuEventRecord(CUevent e, CUstream s) { return record(e, s); }
CUAPI CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int) { return record(e, s); }
CUAPI CUresult cuEventSynchronize(CUevent e) {
    CHECK_CTX();
    std::lock_guard<std::mutex> g(st().mu);
    return st().events.count(e) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
CUAPI CUresult cuEventQuery(CUevent e) {
    CHECK_CTX();
    std::lock_guard<std::mutex> g(st().mu);
    return st().events.count(e) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
CUAPI CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
    CHECK_CTX();
    if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(st().mu);
    if (st().events.count(start) == 0 || st().events.count(end) == 0) return CUDA_ERROR_INVALID_HANDLE;
    if ((start->flags & 2) || (end->flags & 2)) return CUDA_ERROR_INVALID_HANDLE;  // CU_EVENT_DISABLE_TIMING
    if (!start->recorded || !end->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = (float)std::chrono::duration<double, std::milli>(end->time - start->time).count();
    return CUDA_SUCCESS;
}
CUAPI CUresult cuEventDestroy_v2(CUevent e) {
    CHECK_CTX();
    std::lock_guard<std::mutex> g(st().mu);
    if (st().events.erase(e) == 0) return CUDA_ERROR_INVALID_HANDLE;
    delete e;
    return CUDA_SUCCESS;
}

CUAPI CUresult cuProfilerStart() { CHECK_CTX(); return CUDA_SUCCESS; }
CUAPI CUresult cuProfilerStop() { CHECK_CTX(); return CUDA_SUCCESS; }

// =====================================================================================================================
// Controls for tests (not CUDA API)
// =====================================================================================================================
CUAPI int cuemu_is_emulated() { return 1; }
CUAPI void cuemu_set_schedule(int mode) { cuemu::set_schedule(mode); }
CUAPI int cuemu_get_schedule() { return cuemu::schedule(); }
CUAPI int cuemu_threads() { return cuemu::threads(); }
// Sets the emulated device's total memory; allocations past it fail with CUDA_ERROR_OUT_OF_MEMORY.
CUAPI void cuemu_set_memory_limit(size_t bytes) {
    std::lock_guard<std::mutex> g(st().mu);
    st().limit = bytes;
    st().limit_set = true;
}
CUAPI size_t cuemu_memory_limit() {
    std::lock_guard<std::mutex> g(st().mu);
    return st().limit;
}
CUAPI size_t cuemu_live_bytes() {
    std::lock_guard<std::mutex> g(st().mu);
    return st().used;
}
CUAPI size_t cuemu_live_allocations() {
    std::lock_guard<std::mutex> g(st().mu);
    size_t n = 0;
    for (auto& kv : st().allocs) n += kv.second.kind == MemKind::Device;
    return n;
}
// Name of the last driver function called that the emulation does not implement (NULL if none).
CUAPI const char* cuemu_last_unsupported() { return st().last_unsupported.load(); }
// The last detailed error message (launch failures, out of memory, bad ranges); "" if none. Valid until the next
// call on this thread.
CUAPI const char* cuemu_last_error() {
    std::lock_guard<std::mutex> g(st().mu);
    tl_text = st().last_error;
    return tl_text.c_str();
}
CUAPI int cuemu_kernel_count() { return (int)cuemu::registry().size(); }
CUAPI const char* cuemu_kernel_name(int i) {
    return i >= 0 && i < (int)cuemu::registry().size() ? cuemu::registry()[(size_t)i].name : nullptr;
}
