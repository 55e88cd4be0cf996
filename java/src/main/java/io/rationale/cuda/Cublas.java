package io.rationale.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * cuBLAS through Java FFM (java.lang.foreign): a handle on a {@link CudaDevice}'s stream, {@code cublasGemmEx},
 * {@code cublasGemmStridedBatchedEx}, and the row-major product the engine needs, {@link #matmulTransposed}.
 *
 * <p><b>Why FFM and not JCublas.</b> JCublas 12.6 (the last on Maven Central) links {@code libcublas.so.12} and its
 * versioned symbols, so it does not load where only CUDA 13 is installed, whose cuBLAS is {@code libcublas.so.13}
 * only. The five entry points used here have kept their names and C signatures, so FFM binds whichever library is
 * present: {@code libcublas.so.13}, then {@code libcublas.so.12}, or a path given by the system property
 * {@code rationale.cublas} or the environment variable {@code RATIONALE_CUBLAS}. On the emulated device it binds the
 * CPU stand-in {@code libcublas-emu.so}. Device pointers pass as raw addresses ({@link DevicePointer#address()}),
 * the stream as JCuda's raw handle ({@link CudaDevice#streamHandle()}).
 *
 * <p>Enum values used (cublas_api.h, library_types.h): {@code CUBLAS_OP_N = 0}, {@code CUBLAS_OP_T = 1},
 * {@code CUBLAS_COMPUTE_32F = 68}, {@code CUBLAS_GEMM_DEFAULT = -1}, {@code CUBLAS_DEFAULT_MATH = 0}; data types in
 * {@link DataType}. Scalars alpha and beta are host floats (the default pointer mode).
 */
public final class Cublas implements AutoCloseable {
    public static final int OP_N = 0, OP_T = 1;
    static final int COMPUTE_32F = 68, GEMM_DEFAULT = -1, DEFAULT_MATH = 0;

    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout P = ValueLayout.ADDRESS;

    private final CudaDevice device;
    private final String library;
    private final MethodHandle destroy, gemmEx, gemmStridedBatchedEx;
    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment alpha, beta;
    private boolean closed;

    private Cublas(CudaDevice device, String library, SymbolLookup lib) {
        this.device = device;
        this.library = library;
        Linker linker = Linker.nativeLinker();
        MethodHandle create = linker.downcallHandle(lib.findOrThrow("cublasCreate_v2"), FunctionDescriptor.of(I, P));
        this.destroy = linker.downcallHandle(lib.findOrThrow("cublasDestroy_v2"), FunctionDescriptor.of(I, P));
        MethodHandle setStream = linker.downcallHandle(lib.findOrThrow("cublasSetStream_v2"), FunctionDescriptor.of(I, P, P));
        MethodHandle setMathMode = linker.downcallHandle(lib.findOrThrow("cublasSetMathMode"), FunctionDescriptor.of(I, P, I));
        this.gemmEx = linker.downcallHandle(lib.findOrThrow("cublasGemmEx"),
                FunctionDescriptor.of(I, P, I, I, I, I, I, P, P, I, I, P, I, I, P, P, I, I, I, I));
        this.gemmStridedBatchedEx = linker.downcallHandle(lib.findOrThrow("cublasGemmStridedBatchedEx"),
                FunctionDescriptor.of(I, P, I, I, I, I, I, P, P, I, I, L, P, I, I, L, P, P, I, I, L, I, I, I));
        this.alpha = arena.allocate(ValueLayout.JAVA_FLOAT);
        this.beta = arena.allocate(ValueLayout.JAVA_FLOAT);
        device.makeCurrent();
        MemorySegment out = arena.allocate(P);
        check("cublasCreate_v2", invokeInt(create, out), "");
        this.handle = out.get(P, 0);
        check("cublasSetStream_v2", invokeInt(setStream, handle, MemorySegment.ofAddress(device.streamHandle())), "");
        check("cublasSetMathMode", invokeInt(setMathMode, handle, DEFAULT_MATH), "");
    }

    /**
     * cuBLAS for {@code device}: the CPU stand-in on the emulated device, the system's cuBLAS 13 or 12 otherwise.
     *
     * @throws CudaUnavailableException no cuBLAS library found (the message lists what was tried)
     */
    public static Cublas open(CudaDevice device) {
        List<String> tried = new ArrayList<>();
        List<String> candidates = new ArrayList<>();
        if (device.isEmulated()) {
            candidates.add(EmulatedDevice.cublasLibrary().toString());
        } else {
            String override = System.getProperty("rationale.cublas", System.getenv("RATIONALE_CUBLAS"));
            if (override != null && !override.isBlank()) candidates.add(override);
            candidates.add("libcublas.so.13");
            candidates.add("libcublas.so.12");
        }
        for (String c : candidates) {
            try {
                SymbolLookup lib = c.contains("/")
                        ? SymbolLookup.libraryLookup(Path.of(c), Arena.global())
                        : SymbolLookup.libraryLookup(c, Arena.global());
                return new Cublas(device, c, lib);
            } catch (IllegalArgumentException e) {
                tried.add(c + (c.contains("/") && !Files.exists(Path.of(c)) ? " (no such file)" : " (" + e.getMessage() + ")"));
            }
        }
        throw new CudaUnavailableException("no cuBLAS library: tried " + String.join(", ", tried)
                + "; set RATIONALE_CUBLAS or -Drationale.cublas to the path of libcublas.so.13");
    }

    /** The library bound (a path or a soname). */
    public String library() { return library; }

    /**
     * {@code C = alpha · op(A) · op(B) + beta · C} in cuBLAS's column-major convention ({@code cublasGemmEx}):
     * {@code op(A)} is m × k, {@code op(B)} k × n, C m × n; {@code transa}/{@code transb} are {@link #OP_N} or
     * {@link #OP_T}; f32 accumulation ({@code CUBLAS_COMPUTE_32F}). A and B must have the same type.
     */
    public synchronized void gemmEx(int transa, int transb, int m, int n, int k, float alpha, DevicePointer a,
                                    DataType aType, int lda, DevicePointer b, DataType bType, int ldb, float beta,
                                    DevicePointer c, DataType cType, int ldc) {
        open();
        this.alpha.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        this.beta.set(ValueLayout.JAVA_FLOAT, 0, beta);
        device.makeCurrent();
        int status;
        try {
            status = (int) gemmEx.invokeExact(handle, transa, transb, m, n, k, this.alpha, seg(a), aType.cudaValue,
                    lda, seg(b), bType.cudaValue, ldb, this.beta, seg(c), cType.cudaValue, ldc, COMPUTE_32F, GEMM_DEFAULT);
        } catch (Throwable t) {
            throw new IllegalStateException("cublasGemmEx: " + t, t);
        }
        check("cublasGemmEx", status, describe(transa, transb, m, n, k, aType, lda, bType, ldb, cType, ldc, 1));
    }

    /** {@link #gemmEx} over {@code batch} matrices at element strides {@code strideA}, {@code strideB}, {@code strideC}. */
    public synchronized void gemmStridedBatchedEx(int transa, int transb, int m, int n, int k, float alpha,
                                                  DevicePointer a, DataType aType, int lda, long strideA,
                                                  DevicePointer b, DataType bType, int ldb, long strideB, float beta,
                                                  DevicePointer c, DataType cType, int ldc, long strideC, int batch) {
        open();
        this.alpha.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        this.beta.set(ValueLayout.JAVA_FLOAT, 0, beta);
        device.makeCurrent();
        int status;
        try {
            status = (int) gemmStridedBatchedEx.invokeExact(handle, transa, transb, m, n, k, this.alpha, seg(a),
                    aType.cudaValue, lda, strideA, seg(b), bType.cudaValue, ldb, strideB, this.beta, seg(c),
                    cType.cudaValue, ldc, strideC, batch, COMPUTE_32F, GEMM_DEFAULT);
        } catch (Throwable t) {
            throw new IllegalStateException("cublasGemmStridedBatchedEx: " + t, t);
        }
        check("cublasGemmStridedBatchedEx", status,
                describe(transa, transb, m, n, k, aType, lda, bType, ldb, cType, ldc, batch));
    }

    /**
     * Row-major {@code Y[rows, out] = X[rows, in] · W[out, in]ᵀ} (weights as stored in safetensors, {@code [out, in]}),
     * X and W of {@code type}, Y f32.
     *
     * <p>Mapping to column-major cuBLAS: a row-major {@code [r, c]} matrix is a column-major {@code c × r} one with
     * leading dimension c. So Y is the column-major {@code out × rows} matrix {@code Yᵀ = W · Xᵀ}; W's memory is the
     * column-major {@code in × out} matrix {@code Wᵀ} (ld = in), hence {@code op(A) = T}; X's memory is the
     * column-major {@code in × rows} matrix {@code Xᵀ} (ld = in), hence {@code op(B) = N}:
     * {@code gemmEx(T, N, m = out, n = rows, k = in, A = W, lda = in, B = X, ldb = in, C = Y, ldc = out)}.
     */
    public void matmulTransposed(DevicePointer y, DevicePointer x, DevicePointer w, DataType type, int rows, int in,
                                 int out) {
        if (rows <= 0 || in <= 0 || out <= 0)
            throw new IllegalArgumentException("matmulTransposed: rows, in, out must be positive: " + rows + ", " + in + ", " + out);
        gemmEx(OP_T, OP_N, out, rows, in, 1.0f, w, type, in, x, type, in, 0.0f, y, DataType.F32, out);
    }

    /**
     * Row-major {@code dX[rows, in] (+)= dY[rows, out] · W[out, in]}: the input gradient of {@link #matmulTransposed}
     * (dY and W of {@code type}, dX f32; {@code accumulate}: beta = 1).
     *
     * <p>Mapping: dX is the column-major {@code in × rows} matrix {@code dXᵀ = Wᵀ · dYᵀ}; W's memory is the column-major
     * {@code in × out} matrix {@code Wᵀ} (ld = in), op N; dY's memory the column-major {@code out × rows} matrix
     * {@code dYᵀ} (ld = out), op N: {@code gemmEx(N, N, m = in, n = rows, k = out, A = W, lda = in, B = dY, ldb = out,
     * C = dX, ldc = in)}.
     */
    public void matmulBackward(DevicePointer dx, DevicePointer dy, DevicePointer w, DataType type, int rows, int in, int out,
                               boolean accumulate) {
        if (rows <= 0 || in <= 0 || out <= 0)
            throw new IllegalArgumentException("matmulBackward: rows, in, out must be positive: " + rows + ", " + in + ", " + out);
        gemmEx(OP_N, OP_N, in, rows, out, 1.0f, w, type, in, dy, type, out, accumulate ? 1.0f : 0.0f, dx, DataType.F32, in);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            device.makeCurrent();
            check("cublasDestroy_v2", invokeInt(destroy, handle), "");
        } finally {
            arena.close();
        }
    }

    private void open() {
        if (closed) throw new IllegalStateException("cuBLAS handle is closed");
    }

    private static MemorySegment seg(DevicePointer p) { return MemorySegment.ofAddress(p.address()); }

    private static int invokeInt(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void check(String call, int status, String detail) {
        if (status != 0) throw new CublasException(call, status, detail);
    }

    private static String describe(int ta, int tb, int m, int n, int k, DataType at, int lda, DataType bt, int ldb,
                                   DataType ct, int ldc, int batch) {
        return "op(A)=" + (ta == OP_N ? "N" : "T") + " op(B)=" + (tb == OP_N ? "N" : "T") + " m=" + m + " n=" + n
                + " k=" + k + " A " + at + " lda=" + lda + ", B " + bt + " ldb=" + ldb + ", C " + ct + " ldc=" + ldc
                + (batch != 1 ? " batch=" + batch : "");
    }
}
