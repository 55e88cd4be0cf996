// cuda_emu.h: runs unmodified CUDA kernel sources on the CPU.
//
//   g++ -std=c++20 -O2 -pthread -I/usr/local/cuda/include -include cuda-kernels/emu/cuda_emu.h -x c++ file.cu
//
// Model of execution (header-only; everything below is inline):
//  - A launch runs its blocks in parallel on a pool of OS threads (one per core, RATIONALE_EMU_THREADS to change);
//    each OS thread runs one block at a time.
//  - The threads of a block are fibers on that OS thread (own stacks, reused between blocks; 256 KiB each with a
//    guard page below, RATIONALE_EMU_STACK_KB to change). A fiber runs until it reaches a barrier or returns.
//  - __syncthreads(): barrier over the block's fibers; threads that have returned count as arrived.
//  - Warp intrinsics (__shfl_*_sync, __ballot_sync, __any_sync, __all_sync, __syncwarp, __reduce_*_sync): every lane
//    deposits its value, then waits at a barrier of its warp, then reads. A warp whose lanes wait in different
//    places (some in a shuffle, some in __syncthreads) is reported, not silently mis-paired. Full mask only.
//  - __shared__ is `static thread_local` (one copy per OS thread = per block in flight); dynamic shared memory
//    (EXTERN_SHARED in common.cuh) is a per-OS-thread buffer of the launch's size, filled with 0xFF bytes (a NaN
//    for floats) at the start of every block, with an inaccessible page right after it.
//  - Schedule modes (cuemu::set_schedule, RATIONALE_EMU_SCHEDULE): between barriers the warps of a block, and the
//    lanes of each warp, run in order (0), reversed (1), or in a permutation seeded by the mode, the block and the
//    barrier round (2 and up). A kernel that lacks a barrier gives different results under different modes.
//  - A kernel fault the emulation detects (a mask other than the full one, divergent warp intrinsics, a deadlock,
//    __trap()) ends the launch with an error message (cuemu::last_error()); the process lives on.
//  - Kernels are registered by name (CUEMU_REGISTER_KERNEL) and launched from a `void**` parameter array unpacked
//    by the kernel's own C++ signature (what cuLaunchKernel gets), or typed with cuemu::launch(kernel, ...).
#ifndef CUEMU_H
#define CUEMU_H

#if defined(__CUDACC__)
#error "cuda_emu.h is the g++ emulation of CUDA; nvcc compiles the kernels natively (do not include it there)"
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__) && !defined(CUEMU_UCONTEXT)
#define CUEMU_UCONTEXT 1
#endif
#if defined(CUEMU_UCONTEXT)
#include <ucontext.h>
#endif

// The toolkit's host-side headers: dim3, uint3, float4, int4, make_float4, ..., __nv_bfloat16, __half and their
// conversions all compile with g++ (they need -I<cuda>/include). They are included before the macros below so
// that their own declarations stay untouched.
#if !__has_include(<vector_types.h>)
#error "cuda_emu.h: add -I<cuda>/include (the toolkit's headers) or, without a toolkit, -I<this dir>/fallback"
#endif
#include <vector_types.h>
#include <vector_functions.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define CUEMU_VERSION 1

// ---------------------------------------------------------------------------------------------------------------
// Qualifiers
// ---------------------------------------------------------------------------------------------------------------
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __managed__
#undef __launch_bounds__
#undef __forceinline__
#undef __noinline__
#undef __grid_constant__
#undef __align__
// Kernels are hidden: the emulated driver finds them through its registry, and they never clash with other libraries.
#define __global__ __attribute__((visibility("hidden")))
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __grid_constant__
#define __shared__ static thread_local
#define __launch_bounds__(...)
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))

namespace cuemu {

// ---------------------------------------------------------------------------------------------------------------
// Configuration and errors
// ---------------------------------------------------------------------------------------------------------------
namespace detail {
inline long env_long(const char* name, long fallback) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == 0) return fallback;
    char* end = nullptr;
    long r = std::strtol(v, &end, 0);
    if (end == v || *end != 0) {
        std::fprintf(stderr, "cuemu: ignoring %s=%s (not an integer)\n", name, v);
        return fallback;
    }
    return r;
}
inline std::atomic<int>& schedule_mode() {
    static std::atomic<int> mode{(int)env_long("RATIONALE_EMU_SCHEDULE", 0)};
    return mode;
}
inline std::mutex& error_mutex() { static std::mutex m; return m; }
inline std::string& last_error_text() { static std::string s; return s; }
}  // namespace detail

// Order in which warps and lanes run between barriers: 0 in order, 1 reversed, n >= 2 a permutation seeded by n.
inline void set_schedule(int mode) { detail::schedule_mode().store(mode < 0 ? 0 : mode); }
inline int schedule() { return detail::schedule_mode().load(); }

// The message of the last failed launch ("" if none failed yet).
inline std::string last_error() {
    std::lock_guard<std::mutex> g(detail::error_mutex());
    return detail::last_error_text();
}

// ---------------------------------------------------------------------------------------------------------------
// Fibers, blocks, warps
// ---------------------------------------------------------------------------------------------------------------
namespace detail {

enum class FiberState : unsigned char { Runnable, AtSync, AtWarp, Done };

struct Block;

struct Fiber {
    void* sp = nullptr;  // saved stack pointer (x86-64 switch)
#if defined(CUEMU_UCONTEXT)
    ucontext_t uc;
#endif
    char* mapping = nullptr;  // stack mapping, guard page at its low end
    size_t mapping_size = 0;
    uint3 tid{0, 0, 0};
    unsigned linear = 0, lane = 0, warp = 0;
    FiberState state = FiberState::Done;
    const char* waiting_in = nullptr;  // the intrinsic a fiber waits in (diagnostics)
    Block* blk = nullptr;
};

struct Warp {
    unsigned live = 0;          // lanes that exist and have not returned
    unsigned arrived = 0;       // lanes waiting at the warp barrier
    unsigned gen = 0;           // warp barriers passed
    unsigned participants[2] = {0, 0};  // lanes that took part in barrier gen (by parity)
    unsigned long long slot[2][32];     // values deposited for barrier gen (by parity)
    const char* op = nullptr;   // intrinsic of the lanes waiting now
    unsigned op_lane = 0;
};

struct Launch;

struct Block {
    uint3 blockIdx{0, 0, 0};
    dim3 blockDim, gridDim;
    unsigned char* dyn_smem = nullptr;
    const Launch* launch = nullptr;
    std::vector<Warp> warps;
    unsigned sync_gen = 0;
    int sync_acc[2] = {0, 0};
    int sync_arrived[2] = {0, 0};
    bool failed = false;
};

// A launch in flight: what every fiber calls, and the blocks still to run.
struct Launch {
    void (*invoke)(void* fn, void* const* params) = nullptr;
    void* fn = nullptr;
    void* const* params = nullptr;
    const char* name = "";
    dim3 grid, block;
    size_t shmem = 0;
    int schedule = 0;
    unsigned long long nblocks = 0;
    std::atomic<unsigned long long> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::string error;
};

inline thread_local Fiber* tl_fiber __attribute__((tls_model("initial-exec"))) = nullptr;

[[noreturn]] inline void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// ---- context switch -------------------------------------------------------------------------------------------
#if !defined(CUEMU_UCONTEXT)
extern "C" void cuemu_ctx_switch(void** save_sp, void* load_sp);
extern "C" void cuemu_fiber_entry();
// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores the stack pointer
// in *save_sp, loads load_sp and restores the same from there. One copy per program (COMDAT group).
asm(R"(
    .pushsection .text.cuemu_ctx_switch,"axG",@progbits,cuemu_ctx_switch,comdat
    .weak cuemu_ctx_switch
    .hidden cuemu_ctx_switch
    .type cuemu_ctx_switch,@function
    .p2align 4
cuemu_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cuemu_ctx_switch, .-cuemu_ctx_switch
    .popsection
    .pushsection .text.cuemu_fiber_entry,"axG",@progbits,cuemu_fiber_entry,comdat
    .weak cuemu_fiber_entry
    .hidden cuemu_fiber_entry
    .type cuemu_fiber_entry,@function
    .p2align 4
cuemu_fiber_entry:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size cuemu_fiber_entry, .-cuemu_fiber_entry
    .popsection
)");
#endif

inline void fiber_main(Fiber* f);

#if defined(CUEMU_UCONTEXT)
inline void fiber_main_uc(unsigned lo, unsigned hi) {
    fiber_main(reinterpret_cast<Fiber*>((uintptr_t)lo | ((uintptr_t)hi << 32)));
}
#endif

// One per OS thread that runs blocks: its fibers, the block it runs, its dynamic shared memory.
struct Worker {
    void* sched_sp = nullptr;
#if defined(CUEMU_UCONTEXT)
    ucontext_t sched_uc;
#endif
    std::vector<Fiber*> fibers;
    Block blk;
    unsigned char* smem_map = nullptr;  // dynamic shared memory + a guard page
    size_t smem_cap = 0;
    size_t stack_bytes = 0;
    std::vector<unsigned> order;

    Worker() {
        long kb = env_long("RATIONALE_EMU_STACK_KB", 256);
        if (kb < 64) kb = 64;
        stack_bytes = (size_t)kb * 1024;
    }
    ~Worker() {
        for (Fiber* f : fibers) {
            munmap(f->mapping, f->mapping_size);
            delete f;
        }
        if (smem_map != nullptr) munmap(smem_map, smem_cap + page());
    }
    static size_t page() { static size_t p = (size_t)sysconf(_SC_PAGESIZE); return p; }

    void reset_fiber(Fiber* f) {
        char* top = f->mapping + f->mapping_size;
#if !defined(CUEMU_UCONTEXT)
        uintptr_t a = ((uintptr_t)top - 16) & ~(uintptr_t)15;  // rsp after `ret` into the entry: 16-aligned
        void** s = reinterpret_cast<void**>(a);
        s[-1] = reinterpret_cast<void*>(&cuemu_fiber_entry);   // return address
        s[-2] = nullptr;                                      // rbp
        s[-3] = nullptr;                                      // rbx
        s[-4] = reinterpret_cast<void*>(f);                   // r12: argument
        s[-5] = reinterpret_cast<void*>(&fiber_main);         // r13: function
        s[-6] = nullptr;                                      // r14
        s[-7] = nullptr;                                      // r15
        unsigned csr = __builtin_ia32_stmxcsr();
        unsigned short cw;
        asm volatile("fnstcw %0" : "=m"(cw));
        uint64_t ctl = (uint64_t)csr | ((uint64_t)cw << 32);
        std::memcpy(&s[-8], &ctl, 8);
        f->sp = &s[-8];
#else
        getcontext(&f->uc);
        f->uc.uc_stack.ss_sp = f->mapping + page();
        f->uc.uc_stack.ss_size = f->mapping_size - page();
        f->uc.uc_link = nullptr;
        uintptr_t p = reinterpret_cast<uintptr_t>(f);
        makecontext(&f->uc, reinterpret_cast<void (*)()>(&fiber_main_uc), 2, (unsigned)(p & 0xffffffffu),
                    (unsigned)(p >> 32));
        (void)top;
#endif
        f->state = FiberState::Done;
    }

    void ensure_fibers(size_t n) {
        while (fibers.size() < n) {
            Fiber* f = new Fiber();
            size_t size = stack_bytes + page();
            void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                           -1, 0);
            if (m == MAP_FAILED) {
                std::fprintf(stderr, "cuemu: cannot map a fiber stack of %zu bytes\n", size);
                std::abort();
            }
            mprotect(m, page(), PROT_NONE);
            f->mapping = static_cast<char*>(m);
            f->mapping_size = size;
            reset_fiber(f);
            fibers.push_back(f);
        }
    }

    unsigned char* dynamic_smem(size_t bytes) {
        size_t need = (bytes + page() - 1) / page() * page();
        if (need < 256 * 1024) need = 256 * 1024;
        if (need > smem_cap) {
            if (smem_map != nullptr) munmap(smem_map, smem_cap + page());
            void* m = mmap(nullptr, need + page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) {
                std::fprintf(stderr, "cuemu: cannot map %zu bytes of shared memory\n", need);
                std::abort();
            }
            smem_map = static_cast<unsigned char*>(m);
            smem_cap = need;
            mprotect(smem_map + smem_cap, page(), PROT_NONE);
        }
        size_t rounded = (bytes + 127) / 128 * 128;  // ends at the guard page (up to 127 bytes of slack)
        return smem_map + smem_cap - rounded;
    }

    void resume(Fiber* f) {
        tl_fiber = f;
#if !defined(CUEMU_UCONTEXT)
        cuemu_ctx_switch(&sched_sp, f->sp);
#else
        swapcontext(&sched_uc, &f->uc);
#endif
        tl_fiber = nullptr;
    }
};

inline thread_local Worker* tl_worker = nullptr;

inline Worker& worker() {
    static thread_local std::unique_ptr<Worker> w;
    if (!w) {
        w.reset(new Worker());
        tl_worker = w.get();
    }
    return *w;
}

// From a fiber back to its scheduler.
inline void yield(Fiber* f) {
    Worker* w = tl_worker;
#if !defined(CUEMU_UCONTEXT)
    cuemu_ctx_switch(&f->sp, w->sched_sp);
#else
    swapcontext(&f->uc, &w->sched_uc);
#endif
}

inline void fiber_main(Fiber* f) {
    for (;;) {
        const Launch* L = f->blk->launch;
        L->invoke(L->fn, L->params);
        Warp& w = f->blk->warps[f->warp];
        w.live &= ~(1u << f->lane);
        f->state = FiberState::Done;
        yield(f);
    }
}

inline Fiber* current_fiber(const char* what) {
    Fiber* f = tl_fiber;
    if (f == nullptr) {
        std::fprintf(stderr, "cuemu: %s called outside a kernel\n", what);
        std::abort();
    }
    return f;
}

inline void fail(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    Fiber* f = tl_fiber;
    if (f == nullptr) {
        std::fprintf(stderr, "cuemu: %s\n", buf);
        std::abort();
    }
    Block* b = f->blk;
    Launch* L = const_cast<Launch*>(b->launch);
    {
        std::lock_guard<std::mutex> g(L->mu);
        if (L->error.empty()) {
            char where[256];
            std::snprintf(where, sizeof where, "kernel %s, block (%u,%u,%u), thread (%u,%u,%u): ", L->name,
                          b->blockIdx.x, b->blockIdx.y, b->blockIdx.z, f->tid.x, f->tid.y, f->tid.z);
            L->error = std::string(where) + buf;
        }
    }
    L->failed.store(true);
    b->failed = true;
    yield(f);  // never resumed: the scheduler resets this fiber's stack
    std::abort();
}

// ---- permutations for the schedule modes ----------------------------------------------------------------------
inline unsigned long long mix(unsigned long long x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
inline void order(std::vector<unsigned>& out, unsigned n, int mode, unsigned long long seed) {
    out.resize(n);
    for (unsigned i = 0; i < n; i++) out[i] = i;
    if (mode == 1) {
        std::reverse(out.begin(), out.end());
    } else if (mode >= 2) {
        unsigned long long s = mix(seed ^ mix((unsigned long long)mode));
        for (unsigned i = n; i > 1; i--) {
            s = mix(s);
            std::swap(out[i - 1], out[s % i]);
        }
    }
}

inline const char* state_name(FiberState s) {
    switch (s) {
        case FiberState::AtSync: return "__syncthreads";
        case FiberState::Done: return "(returned)";
        case FiberState::Runnable: return "(running)";
        default: return "a warp intrinsic";
    }
}

// Runs the lanes of one warp until each waits at __syncthreads or has returned; releases warp barriers.
inline void run_warp(Worker& w, Block& b, unsigned wi, unsigned nthreads, unsigned round) {
    Warp& wp = b.warps[wi];
    unsigned first = wi * 32, count = std::min(32u, nthreads - first);
    static thread_local std::vector<unsigned> lanes;
    unsigned pass = 0;
    for (;;) {
        order(lanes, count, b.launch->schedule,
              ((unsigned long long)round << 40) ^ ((unsigned long long)wi << 20) ^ pass ^ 0x5bd1e995ull * (b.blockIdx.x + 1) ^
                  ((unsigned long long)b.blockIdx.y << 50) ^ ((unsigned long long)b.blockIdx.z << 58));
        pass++;
        for (unsigned l : lanes) {
            Fiber* f = w.fibers[first + l];
            if (f->state == FiberState::Runnable) {
                w.resume(f);
                if (b.failed) return;
            }
        }
        if (wp.arrived == 0) return;  // every lane waits at __syncthreads or has returned
        if (wp.arrived == wp.live) {  // warp barrier complete: exited lanes count as arrived
            wp.participants[wp.gen & 1] = wp.arrived;
            wp.gen++;
            wp.arrived = 0;
            wp.op = nullptr;
            for (unsigned l = 0; l < count; l++) {
                Fiber* f = w.fibers[first + l];
                if (f->state == FiberState::AtWarp) f->state = FiberState::Runnable;
            }
            continue;
        }
        // Some lanes wait in a warp intrinsic, the others at __syncthreads: the warp diverged.
        unsigned other = 0;
        for (unsigned l = 0; l < count; l++)
            if ((wp.live >> l & 1) && !(wp.arrived >> l & 1)) { other = l; break; }
        Fiber* o = w.fibers[first + other];
        char msg[512];
        std::snprintf(msg, sizeof msg,
                      "warp %u diverged: lanes 0x%08x wait in %s while lane %u waits in %s (full-mask warp "
                      "intrinsics need all 32 lanes)",
                      wi, wp.arrived, wp.op ? wp.op : "?", other, state_name(o->state));
        Launch* L = const_cast<Launch*>(b.launch);
        {
            std::lock_guard<std::mutex> g(L->mu);
            if (L->error.empty()) {
                char where[160];
                std::snprintf(where, sizeof where, "kernel %s, block (%u,%u,%u): ", L->name, b.blockIdx.x,
                              b.blockIdx.y, b.blockIdx.z);
                L->error = std::string(where) + msg;
            }
        }
        L->failed.store(true);
        b.failed = true;
        return;
    }
}

// Runs one block to completion (or failure) on this OS thread.
inline void run_block(Worker& w, Launch& L, unsigned long long linear) {
    Block& b = w.blk;
    b.launch = &L;
    b.gridDim = L.grid;
    b.blockDim = L.block;
    b.blockIdx.x = (unsigned)(linear % L.grid.x);
    b.blockIdx.y = (unsigned)(linear / L.grid.x % L.grid.y);
    b.blockIdx.z = (unsigned)(linear / ((unsigned long long)L.grid.x * L.grid.y));
    b.failed = false;
    b.sync_gen = 0;
    b.sync_acc[0] = b.sync_acc[1] = 0;
    b.sync_arrived[0] = b.sync_arrived[1] = 0;
    unsigned n = L.block.x * L.block.y * L.block.z;
    unsigned nw = (n + 31) / 32;
    w.ensure_fibers(n);
    b.warps.assign(nw, Warp());
    for (unsigned i = 0; i < n; i++) {
        Fiber* f = w.fibers[i];
        f->blk = &b;
        f->linear = i;
        f->lane = i & 31;
        f->warp = i >> 5;
        f->tid.x = i % L.block.x;
        f->tid.y = i / L.block.x % L.block.y;
        f->tid.z = i / (L.block.x * L.block.y);
        f->state = FiberState::Runnable;
        b.warps[i >> 5].live |= 1u << (i & 31);
    }
    b.dyn_smem = w.dynamic_smem(L.shmem);
    std::memset(b.dyn_smem, 0xff, L.shmem);
    static thread_local std::vector<unsigned> warp_order;
    for (unsigned round = 0;; round++) {
        order(warp_order, nw, L.schedule, mix(linear * 0x100000001b3ull + round));
        for (unsigned wi : warp_order) {
            run_warp(w, b, wi, n, round);
            if (b.failed) break;
        }
        if (b.failed) break;
        bool waiting = false;
        for (unsigned i = 0; i < n; i++) {
            Fiber* f = w.fibers[i];
            if (f->state == FiberState::AtSync) { f->state = FiberState::Runnable; waiting = true; }
        }
        if (!waiting) break;
        b.sync_gen++;
        b.sync_acc[b.sync_gen & 1] = 0;
        b.sync_arrived[b.sync_gen & 1] = 0;
    }
    if (b.failed) {
        // Abandon the fibers' half-run stacks: each starts afresh next time.
        for (unsigned i = 0; i < n; i++) w.reset_fiber(w.fibers[i]);
    }
}

inline void run_blocks(Launch& L) {
    Worker& w = worker();
    for (;;) {
        if (L.failed.load(std::memory_order_relaxed)) return;
        unsigned long long i = L.next.fetch_add(1);
        if (i >= L.nblocks) return;
        run_block(w, L, i);
    }
}

// The pool of OS threads that run blocks; it lives as long as the process (never torn down).
class Pool {
public:
    static Pool& get() {
        static Pool* p = new Pool();
        return *p;
    }
    int threads() const { return nthreads_; }

    void run(Launch& L) {
        std::lock_guard<std::mutex> serial(launch_mu_);
        start();
        unsigned long long want = std::min<unsigned long long>(L.nblocks, (unsigned long long)nthreads_);
        {
            std::lock_guard<std::mutex> g(mu_);
            cur_ = &L;
            wanted_ = (int)want;
            active_ = (int)want;
            epoch_++;
        }
        cv_work_.notify_all();
        std::unique_lock<std::mutex> lk(mu_);
        cv_done_.wait(lk, [&] { return active_ == 0; });
        cur_ = nullptr;
    }

private:
    Pool() {
        long n = env_long("RATIONALE_EMU_THREADS", 0);
        if (n <= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (long)std::thread::hardware_concurrency();
        }
        if (n <= 0) n = 1;
        if (n > 256) n = 256;
        nthreads_ = (int)n;
    }
    void start() {
        if (started_) return;
        started_ = true;
        for (int i = 0; i < nthreads_; i++) std::thread([this, i] { loop(i); }).detach();
    }
    void loop(int index) {
        unsigned long long seen = 0;
        for (;;) {
            Launch* L;
            {
                std::unique_lock<std::mutex> lk(mu_);
                cv_work_.wait(lk, [&] { return epoch_ != seen; });
                seen = epoch_;
                if (index >= wanted_) continue;
                L = cur_;
            }
            run_blocks(*L);
            std::lock_guard<std::mutex> g(mu_);
            if (--active_ == 0) cv_done_.notify_all();
        }
    }
    int nthreads_ = 1;
    bool started_ = false;
    std::mutex launch_mu_, mu_;
    std::condition_variable cv_work_, cv_done_;
    Launch* cur_ = nullptr;
    int wanted_ = 0, active_ = 0;
    unsigned long long epoch_ = 0;
};

// ---- warp barrier ---------------------------------------------------------------------------------------------
inline void check_mask(const char* op, unsigned mask) {
    if (mask != 0xffffffffu)
        fail("%s with mask 0x%08x: the emulation supports the full mask 0xffffffff only", op, mask);
}

// Deposit-then-wait: returns the parity of the barrier passed (index into Warp::slot / participants).
inline unsigned warp_arrive(Fiber* f, const char* op) {
    Warp& w = f->blk->warps[f->warp];
    unsigned g = w.gen & 1;
    if (w.arrived == 0) {
        w.op = op;
        w.op_lane = f->lane;
    } else if (w.op != op && std::strcmp(w.op, op) != 0) {
        fail("warp %u diverged: lane %u is in %s while lane %u is in %s", f->warp, f->lane, op, w.op_lane, w.op);
    }
    w.arrived |= 1u << f->lane;
    f->state = FiberState::AtWarp;
    f->waiting_in = op;
    yield(f);
    return g;
}

template <class T>
inline unsigned long long to_bits(T v) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "warp shuffles move values of up to 8 bytes");
    unsigned long long b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T>
inline T from_bits(unsigned long long b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

enum class Shfl { Idx, Up, Down, Bfly };

// PTX shfl.sync: c packs the segment mask (bits 12:8) and the clamp (bits 4:0), as the CUDA headers build it.
template <class T>
inline T shfl(const char* op, unsigned mask, T v, Shfl mode, int b, int width) {
    check_mask(op, mask);
    if (width < 1 || width > 32 || (width & (width - 1)) != 0) fail("%s: width %d is not a power of 2 in 1..32", op, width);
    Fiber* f = current_fiber(op);
    Warp& w = f->blk->warps[f->warp];
    w.slot[w.gen & 1][f->lane] = to_bits(v);
    unsigned g = warp_arrive(f, op);
    int lane = (int)f->lane;
    int c = ((32 - width) << 8) | (mode == Shfl::Up ? 0 : 0x1f);
    int segmask = (c >> 8) & 0x1f, cval = c & 0x1f, bval = b & 0x1f;
    int maxLane = (lane & segmask) | (cval & ~segmask);
    int minLane = lane & segmask;
    int j;
    bool ok;
    switch (mode) {
        case Shfl::Up: j = lane - bval; ok = j >= maxLane; break;
        case Shfl::Down: j = lane + bval; ok = j <= maxLane; break;
        case Shfl::Bfly: j = lane ^ bval; ok = j <= maxLane; break;
        default: j = minLane | (bval & ~segmask); ok = j <= maxLane; break;
    }
    if (!ok || j < 0 || j > 31 || !(w.participants[g] >> j & 1)) j = lane;  // no source: own value
    return from_bits<T>(w.slot[g][j]);
}

inline unsigned vote(const char* op, unsigned mask, int pred) {
    check_mask(op, mask);
    Fiber* f = current_fiber(op);
    Warp& w = f->blk->warps[f->warp];
    w.slot[w.gen & 1][f->lane] = pred != 0;
    unsigned g = warp_arrive(f, op);
    unsigned r = 0;
    for (unsigned l = 0; l < 32; l++)
        if ((w.participants[g] >> l & 1) && w.slot[g][l]) r |= 1u << l;
    return r;
}

template <class T, class F>
inline T warp_reduce(const char* op, unsigned mask, T v, F combine) {
    check_mask(op, mask);
    Fiber* f = current_fiber(op);
    Warp& w = f->blk->warps[f->warp];
    w.slot[w.gen & 1][f->lane] = to_bits(v);
    unsigned g = warp_arrive(f, op);
    bool any = false;
    T r{};
    for (unsigned l = 0; l < 32; l++) {
        if (!(w.participants[g] >> l & 1)) continue;
        T x = from_bits<T>(w.slot[g][l]);
        r = any ? combine(r, x) : x;
        any = true;
    }
    return r;
}

// Block barrier; returns {threads whose predicate was true, threads that arrived}.
inline std::pair<int, int> block_sync(const char* op, int pred) {
    Fiber* f = current_fiber(op);
    Block& b = *f->blk;
    unsigned g = b.sync_gen & 1;
    b.sync_acc[g] += pred != 0;
    b.sync_arrived[g] += 1;
    f->state = FiberState::AtSync;
    f->waiting_in = op;
    yield(f);
    return {b.sync_acc[g], b.sync_arrived[g]};
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------
// Kernel registry and launches
// ---------------------------------------------------------------------------------------------------------------
constexpr size_t kMaxDynamicShared = 232448;  // 227 KiB: the sm_90 opt-in limit

struct KernelInfo {
    const char* name;
    void* fn;
    void (*invoke)(void* fn, void* const* params);
    int nparams;
    const unsigned short* sizes;   // per parameter
    const unsigned short* aligns;  // per parameter
};

namespace detail {
template <class T>
inline T load_param(const void* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}
template <class... A, size_t... I>
inline void invoke_unpacked(void (*f)(A...), void* const* params, std::index_sequence<I...>) {
    f(load_param<std::remove_cv_t<A>>(params[I])...);
}
template <class... A>
inline void invoke_entry(void* fn, void* const* params) {
    invoke_unpacked(reinterpret_cast<void (*)(A...)>(fn), params, std::index_sequence_for<A...>{});
}
template <class... A>
struct ParamLayout {
    static constexpr unsigned short sizes[sizeof...(A) + 1] = {(unsigned short)sizeof(A)..., 0};
    static constexpr unsigned short aligns[sizeof...(A) + 1] = {(unsigned short)alignof(A)..., 0};
};
inline std::vector<KernelInfo>& registry_vector() {
    static std::vector<KernelInfo> v;
    return v;
}
}  // namespace detail

template <class... A>
inline KernelInfo kernel_info(const char* name, void (*f)(A...)) {
    static_assert((std::is_trivially_copyable_v<A> && ...), "kernel parameters must be trivially copyable");
    return KernelInfo{name, reinterpret_cast<void*>(f), &detail::invoke_entry<A...>, (int)sizeof...(A),
                      detail::ParamLayout<A...>::sizes, detail::ParamLayout<A...>::aligns};
}

struct Registrar {
    explicit Registrar(const KernelInfo& k) { detail::registry_vector().push_back(k); }
};

// Every kernel registered in this program (or shared library), in registration order.
inline const std::vector<KernelInfo>& registry() { return detail::registry_vector(); }
inline const KernelInfo* find_kernel(const char* name) {
    for (const KernelInfo& k : detail::registry_vector())
        if (std::strcmp(k.name, name) == 0) return &k;
    return nullptr;
}

inline int threads() { return detail::Pool::get().threads(); }

// Checks a launch configuration; "" if valid, else what is wrong.
inline std::string check_config(dim3 grid, dim3 block, size_t shmem, size_t max_shmem = kMaxDynamicShared) {
    char buf[256];
    if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0)
        std::snprintf(buf, sizeof buf, "grid (%u,%u,%u) and block (%u,%u,%u) must have no zero dimension", grid.x,
                      grid.y, grid.z, block.x, block.y, block.z);
    else if (block.x > 1024 || block.y > 1024 || block.z > 64 ||
             (unsigned long long)block.x * block.y * block.z > 1024)
        std::snprintf(buf, sizeof buf, "block (%u,%u,%u) exceeds 1024 threads (x, y <= 1024, z <= 64)", block.x,
                      block.y, block.z);
    else if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
        std::snprintf(buf, sizeof buf, "grid (%u,%u,%u) exceeds (2147483647, 65535, 65535)", grid.x, grid.y, grid.z);
    else if (shmem > max_shmem)
        std::snprintf(buf, sizeof buf, "%zu bytes of dynamic shared memory exceed the limit of %zu", shmem, max_shmem);
    else
        return "";
    return buf;
}

// Runs a kernel from its cuLaunchKernel-style parameter array; synchronous. Returns true on success; on failure
// (bad configuration, or a fault the emulation detected) last_error() says why.
inline bool launch_raw(const KernelInfo& k, dim3 grid, dim3 block, size_t shmem, void* const* params) {
    std::string bad = check_config(grid, block, shmem);
    if (!bad.empty()) {
        std::lock_guard<std::mutex> g(detail::error_mutex());
        detail::last_error_text() = std::string("kernel ") + k.name + ": " + bad;
        return false;
    }
    detail::Launch L;
    L.invoke = k.invoke;
    L.fn = k.fn;
    L.params = params;
    L.name = k.name;
    L.grid = grid;
    L.block = block;
    L.shmem = shmem;
    L.schedule = schedule();
    L.nblocks = (unsigned long long)grid.x * grid.y * grid.z;
    detail::Pool::get().run(L);
    if (L.failed.load()) {
        std::lock_guard<std::mutex> g(detail::error_mutex());
        detail::last_error_text() = L.error;
        return false;
    }
    return true;
}

// Typed launch for C++ tests: cuemu::launch(kernel, grid, block, shmem, args...), the emulation's <<<...>>>.
template <class... A, class... B>
inline bool launch(void (*kernel)(A...), dim3 grid, dim3 block, size_t shmem, B... args) {
    static_assert(sizeof...(A) == sizeof...(B), "cuemu::launch: wrong number of kernel arguments");
    std::tuple<std::remove_cv_t<A>...> values{static_cast<std::remove_cv_t<A>>(args)...};
    void* params[sizeof...(A) + 1];
    std::apply([&](auto&... v) {
        int i = 0;
        ((params[i++] = static_cast<void*>(&v)), ...);
    }, values);
    KernelInfo k = kernel_info("(direct launch)", kernel);
    return launch_raw(k, grid, block, shmem, params);
}

// The current block's dynamic shared memory (EXTERN_SHARED).
inline void* dynamic_shared_memory() { return detail::current_fiber("dynamic shared memory")->blk->dyn_smem; }

}  // namespace cuemu

#define CUEMU_CONCAT2(a, b) a##b
#define CUEMU_CONCAT(a, b) CUEMU_CONCAT2(a, b)
// Registers an extern "C" kernel under its name (the build generates these lines from the .cu files).
#define CUEMU_REGISTER_KERNEL(name) \
    static ::cuemu::Registrar CUEMU_CONCAT(cuemu_registrar_, name){::cuemu::kernel_info(#name, &name)};

// ---------------------------------------------------------------------------------------------------------------
// Built-in variables
// ---------------------------------------------------------------------------------------------------------------
#define threadIdx (static_cast<const uint3&>(::cuemu::detail::current_fiber("threadIdx")->tid))
#define blockIdx (static_cast<const uint3&>(::cuemu::detail::current_fiber("blockIdx")->blk->blockIdx))
#define blockDim (static_cast<const dim3&>(::cuemu::detail::current_fiber("blockDim")->blk->blockDim))
#define gridDim (static_cast<const dim3&>(::cuemu::detail::current_fiber("gridDim")->blk->gridDim))
inline constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------------------------------
// Synchronization
// ---------------------------------------------------------------------------------------------------------------
inline void __syncthreads() { ::cuemu::detail::block_sync("__syncthreads", 0); }
inline int __syncthreads_count(int pred) { return ::cuemu::detail::block_sync("__syncthreads_count", pred).first; }
inline int __syncthreads_and(int pred) {
    auto r = ::cuemu::detail::block_sync("__syncthreads_and", pred);
    return r.first == r.second ? 1 : 0;
}
inline int __syncthreads_or(int pred) { return ::cuemu::detail::block_sync("__syncthreads_or", pred).first != 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    ::cuemu::detail::check_mask("__syncwarp", mask);
    ::cuemu::detail::warp_arrive(::cuemu::detail::current_fiber("__syncwarp"), "__syncwarp");
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
[[noreturn]] inline void __trap() { ::cuemu::detail::fail("__trap() called"); }
inline unsigned __activemask() {
    ::cuemu::detail::Fiber* f = ::cuemu::detail::current_fiber("__activemask");
    return f->blk->warps[f->warp].live;
}
inline long long clock64() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
inline void __nanosleep(unsigned) {}

// ---------------------------------------------------------------------------------------------------------------
// Warp intrinsics (full mask only)
// ---------------------------------------------------------------------------------------------------------------
template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32) {
    return ::cuemu::detail::shfl("__shfl_sync", mask, var, ::cuemu::detail::Shfl::Idx, srcLane, width);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    return ::cuemu::detail::shfl("__shfl_up_sync", mask, var, ::cuemu::detail::Shfl::Up, (int)delta, width);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    return ::cuemu::detail::shfl("__shfl_down_sync", mask, var, ::cuemu::detail::Shfl::Down, (int)delta, width);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32) {
    return ::cuemu::detail::shfl("__shfl_xor_sync", mask, var, ::cuemu::detail::Shfl::Bfly, laneMask, width);
}
inline unsigned __ballot_sync(unsigned mask, int pred) { return ::cuemu::detail::vote("__ballot_sync", mask, pred); }
inline int __any_sync(unsigned mask, int pred) { return ::cuemu::detail::vote("__any_sync", mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) {
    ::cuemu::detail::Fiber* f = ::cuemu::detail::current_fiber("__all_sync");
    ::cuemu::detail::Warp& w = f->blk->warps[f->warp];
    unsigned g = w.gen & 1;
    unsigned r = ::cuemu::detail::vote("__all_sync", mask, pred);
    return r == w.participants[g];
}
inline unsigned __reduce_add_sync(unsigned mask, unsigned v) {
    return ::cuemu::detail::warp_reduce("__reduce_add_sync", mask, v, [](unsigned a, unsigned b) { return a + b; });
}
inline int __reduce_add_sync(unsigned mask, int v) {
    return (int)__reduce_add_sync(mask, (unsigned)v);
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v) {
    return ::cuemu::detail::warp_reduce("__reduce_min_sync", mask, v, [](unsigned a, unsigned b) { return a < b ? a : b; });
}
inline int __reduce_min_sync(unsigned mask, int v) {
    return ::cuemu::detail::warp_reduce("__reduce_min_sync", mask, v, [](int a, int b) { return a < b ? a : b; });
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) {
    return ::cuemu::detail::warp_reduce("__reduce_max_sync", mask, v, [](unsigned a, unsigned b) { return a > b ? a : b; });
}
inline int __reduce_max_sync(unsigned mask, int v) {
    return ::cuemu::detail::warp_reduce("__reduce_max_sync", mask, v, [](int a, int b) { return a > b ? a : b; });
}

// ---------------------------------------------------------------------------------------------------------------
// Atomics (real atomics: blocks run in parallel). Each returns the old value.
// ---------------------------------------------------------------------------------------------------------------
#define CUEMU_ATOMIC_REF(T, p) std::atomic_ref<T>(*(p))
inline float atomicAdd(float* p, float v) { return CUEMU_ATOMIC_REF(float, p).fetch_add(v); }
inline double atomicAdd(double* p, double v) { return CUEMU_ATOMIC_REF(double, p).fetch_add(v); }
inline int atomicAdd(int* p, int v) { return CUEMU_ATOMIC_REF(int, p).fetch_add(v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return CUEMU_ATOMIC_REF(unsigned, p).fetch_add(v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    return CUEMU_ATOMIC_REF(unsigned long long, p).fetch_add(v);
}
inline int atomicSub(int* p, int v) { return CUEMU_ATOMIC_REF(int, p).fetch_sub(v); }
inline unsigned atomicSub(unsigned* p, unsigned v) { return CUEMU_ATOMIC_REF(unsigned, p).fetch_sub(v); }
template <class T>
inline T cuemu_atomic_update(T* p, T v, bool take_max) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while ((take_max ? v > old : v < old) && !a.compare_exchange_weak(old, v)) {
    }
    return old;
}
inline int atomicMax(int* p, int v) { return cuemu_atomic_update(p, v, true); }
inline int atomicMin(int* p, int v) { return cuemu_atomic_update(p, v, false); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return cuemu_atomic_update(p, v, true); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return cuemu_atomic_update(p, v, false); }
inline long long atomicMax(long long* p, long long v) { return cuemu_atomic_update(p, v, true); }
inline long long atomicMin(long long* p, long long v) { return cuemu_atomic_update(p, v, false); }
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) { return cuemu_atomic_update(p, v, true); }
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) { return cuemu_atomic_update(p, v, false); }
template <class T>
inline T cuemu_atomic_cas(T* p, T compare, T val) {
    T expected = compare;
    std::atomic_ref<T>(*p).compare_exchange_strong(expected, val);
    return expected;  // the old value whether or not the swap happened
}
inline int atomicCAS(int* p, int c, int v) { return cuemu_atomic_cas(p, c, v); }
inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return cuemu_atomic_cas(p, c, v); }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) {
    return cuemu_atomic_cas(p, c, v);
}
inline unsigned short atomicCAS(unsigned short* p, unsigned short c, unsigned short v) { return cuemu_atomic_cas(p, c, v); }
inline int atomicExch(int* p, int v) { return CUEMU_ATOMIC_REF(int, p).exchange(v); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return CUEMU_ATOMIC_REF(unsigned, p).exchange(v); }
inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) {
    return CUEMU_ATOMIC_REF(unsigned long long, p).exchange(v);
}
inline float atomicExch(float* p, float v) { return CUEMU_ATOMIC_REF(float, p).exchange(v); }
inline int atomicAnd(int* p, int v) { return CUEMU_ATOMIC_REF(int, p).fetch_and(v); }
inline unsigned atomicAnd(unsigned* p, unsigned v) { return CUEMU_ATOMIC_REF(unsigned, p).fetch_and(v); }
inline int atomicOr(int* p, int v) { return CUEMU_ATOMIC_REF(int, p).fetch_or(v); }
inline unsigned atomicOr(unsigned* p, unsigned v) { return CUEMU_ATOMIC_REF(unsigned, p).fetch_or(v); }
inline int atomicXor(int* p, int v) { return CUEMU_ATOMIC_REF(int, p).fetch_xor(v); }
inline unsigned atomicXor(unsigned* p, unsigned v) { return CUEMU_ATOMIC_REF(unsigned, p).fetch_xor(v); }
inline unsigned atomicInc(unsigned* p, unsigned limit) {  // ((old >= limit) ? 0 : old + 1)
    std::atomic_ref<unsigned> a(*p);
    unsigned old = a.load();
    while (!a.compare_exchange_weak(old, old >= limit ? 0u : old + 1)) {
    }
    return old;
}

// ---------------------------------------------------------------------------------------------------------------
// Math and bit intrinsics. The fast-math ones are exact here (the GPU's are approximations).
// glibc declares __expf & co. itself, hence macros for those names.
// ---------------------------------------------------------------------------------------------------------------
namespace cuemu::math {
inline float expf_(float x) { return std::exp(x); }
inline float logf_(float x) { return std::log(x); }
inline float log2f_(float x) { return std::log2(x); }
inline float log10f_(float x) { return std::log10(x); }
inline float powf_(float x, float y) { return std::pow(x, y); }
inline float sinf_(float x) { return std::sin(x); }
inline float cosf_(float x) { return std::cos(x); }
inline float tanf_(float x) { return std::tan(x); }
inline float exp10f_(float x) { return std::pow(10.0f, x); }
inline void sincosf_(float x, float* s, float* c) { *s = std::sin(x); *c = std::cos(x); }
}  // namespace cuemu::math
#define __expf(x) ::cuemu::math::expf_(x)
#define __logf(x) ::cuemu::math::logf_(x)
#define __log2f(x) ::cuemu::math::log2f_(x)
#define __log10f(x) ::cuemu::math::log10f_(x)
#define __powf(x, y) ::cuemu::math::powf_(x, y)
#define __sinf(x) ::cuemu::math::sinf_(x)
#define __cosf(x) ::cuemu::math::cosf_(x)
#define __tanf(x) ::cuemu::math::tanf_(x)
#define __exp10f(x) ::cuemu::math::exp10f_(x)
#define __sincosf(x, s, c) ::cuemu::math::sincosf_(x, s, c)

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }  // NaN -> 0
inline int __float_as_int(float x) { int r; std::memcpy(&r, &x, 4); return r; }
inline float __int_as_float(int x) { float r; std::memcpy(&r, &x, 4); return r; }
inline unsigned __float_as_uint(float x) { unsigned r; std::memcpy(&r, &x, 4); return r; }
inline float __uint_as_float(unsigned x) { float r; std::memcpy(&r, &x, 4); return r; }
inline long long __double_as_longlong(double x) { long long r; std::memcpy(&r, &x, 8); return r; }
inline double __longlong_as_double(long long x) { double r; std::memcpy(&r, &x, 8); return r; }
inline int __float2int_rn(float x) { return (int)std::nearbyint(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)std::floor(x); }
inline int __float2int_ru(float x) { return (int)std::ceil(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)std::nearbyint(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
template <class T>
inline T __ldg(const T* p) { return *p; }
template <class T>
inline T __ldcg(const T* p) { return *p; }
template <class T>
inline T __ldcs(const T* p) { return *p; }
template <class T>
inline void __stcg(T* p, T v) { *p = v; }
template <class T>
inline void __stcs(T* p, T v) { *p = v; }

// min/max: the overload set of CUDA's math_functions.hpp.
#define CUEMU_MINMAX(R, A, B)                                 \
    inline R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; } \
    inline R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
CUEMU_MINMAX(int, int, int)
CUEMU_MINMAX(unsigned, unsigned, unsigned)
CUEMU_MINMAX(unsigned, int, unsigned)
CUEMU_MINMAX(unsigned, unsigned, int)
CUEMU_MINMAX(long, long, long)
CUEMU_MINMAX(unsigned long, unsigned long, unsigned long)
CUEMU_MINMAX(unsigned long, long, unsigned long)
CUEMU_MINMAX(unsigned long, unsigned long, long)
CUEMU_MINMAX(long long, long long, long long)
CUEMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
CUEMU_MINMAX(unsigned long long, long long, unsigned long long)
CUEMU_MINMAX(unsigned long long, unsigned long long, long long)
#undef CUEMU_MINMAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline double min(float a, double b) { return std::fmin((double)a, b); }
inline double max(float a, double b) { return std::fmax((double)a, b); }
inline double min(double a, float b) { return std::fmin(a, (double)b); }
inline double max(double a, float b) { return std::fmax(a, (double)b); }

#endif  // CUEMU_H
