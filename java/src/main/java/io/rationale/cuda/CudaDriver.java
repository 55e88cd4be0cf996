package io.rationale.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/**
 * Which CUDA driver this JVM uses: the real {@code libcuda.so.1} of an NVIDIA driver, or the emulated device's.
 *
 * <p>JCuda's native library ({@code libJCudaDriver}) names {@code libcuda.so.1} as a dependency and binds to the
 * first library of that name the process has loaded. For the emulated device, {@link #bind} therefore loads the
 * emulated {@code libcuda.so.1} with {@link System#load} before JCuda's first call; for the real driver, it first
 * probes the system's {@code libcuda.so.1} through FFM ({@code cuInit}, device count), so that a machine without a
 * driver or GPU is reported in one line ({@link CudaUnavailableException}) without JCuda ever loading. A JVM binds
 * once: asking for the other driver later is refused with an {@link IllegalStateException}.
 */
public final class CudaDriver {
    /** The two drivers. */
    public enum Kind {
        REAL("the real CUDA driver (libcuda.so.1 of the NVIDIA driver)"),
        EMULATED("the emulated CUDA device (cuda-kernels/emu)");

        private final String description;
        Kind(String description) { this.description = description; }
        @Override public String toString() { return description; }
    }

    /** Marker in the emulated device's name ({@code cuDeviceGetName}). */
    static final String EMULATED_NAME_MARKER = "cuda-emu";

    private static Kind bound;
    private static boolean realLibraryLoaded;

    private CudaDriver() {}

    /** The driver this JVM is bound to, or null before the first {@link #bind}. */
    public static synchronized Kind bound() { return bound; }

    /**
     * Binds this JVM to {@code kind} (nothing to do if already bound to it) and initializes it ({@code cuInit},
     * JCuda exceptions enabled).
     *
     * @throws CudaUnavailableException the driver cannot be used here (one line saying why)
     * @throws IllegalStateException    this JVM is already bound to the other driver
     */
    public static synchronized void bind(Kind kind) {
        if (kind == null) throw new IllegalArgumentException("driver kind is null");
        if (bound == kind) return;
        if (bound != null)
            throw new IllegalStateException("this JVM already uses " + bound + "; " + kind
                    + " needs a new JVM (JCuda binds one libcuda.so.1 per process)");
        if (kind == Kind.EMULATED) bindEmulated();
        else bindReal();
        bound = kind;
    }

    private static void bindEmulated() {
        if (realLibraryLoaded)
            throw new IllegalStateException("the real libcuda.so.1 was loaded in this JVM by an earlier attempt; "
                    + Kind.EMULATED + " needs a new JVM");
        String lib = EmulatedDevice.driverLibrary().toString();
        try {
            System.load(lib);
        } catch (UnsatisfiedLinkError e) {
            throw new CudaUnavailableException("the emulated CUDA driver " + lib + " cannot load: " + e.getMessage(), e);
        }
        initJCuda();
        JCudaDriver.cuInit(0);
        byte[] name = new byte[256];
        JCudaDriver.cuDeviceGetName(name, name.length, device0());
        String n = cString(name);
        if (!n.contains(EMULATED_NAME_MARKER))
            throw new IllegalStateException("JCuda bound to another libcuda.so.1 (device \"" + n
                    + "\") although the emulated one was loaded first; is LD_PRELOAD or LD_LIBRARY_PATH forcing a driver?");
    }

    private static void bindReal() {
        Linker linker = Linker.nativeLinker();
        SymbolLookup cuda;
        try {
            cuda = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        } catch (IllegalArgumentException e) {
            throw new CudaUnavailableException("no CUDA driver: libcuda.so.1 cannot be loaded (" + e.getMessage() + ")", e);
        }
        realLibraryLoaded = true;
        try {
            var cuInit = linker.downcallHandle(cuda.findOrThrow("cuInit"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            var getCount = linker.downcallHandle(cuda.findOrThrow("cuDeviceGetCount"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            var errorName = linker.downcallHandle(cuda.findOrThrow("cuGetErrorName"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            int r = (int) cuInit.invokeExact(0);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
                if (r != 0) {
                    String name = "error " + r;
                    if ((int) errorName.invokeExact(r, out) == 0)
                        name = out.get(ValueLayout.ADDRESS, 0).reinterpret(256).getString(0) + " (" + r + ")";
                    throw new CudaUnavailableException("the CUDA driver does not initialize: cuInit returned " + name);
                }
                MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
                r = (int) getCount.invokeExact(count);
                if (r != 0 || count.get(ValueLayout.JAVA_INT, 0) == 0)
                    throw new CudaUnavailableException("no CUDA device: the driver reports none");
            }
        } catch (CudaUnavailableException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaUnavailableException("the CUDA driver cannot be probed: " + t, t);
        }
        initJCuda();
        JCudaDriver.cuInit(0);
    }

    /** Loads JCuda's native library (its first use does) and enables exceptions. */
    private static void initJCuda() {
        try {
            JCudaDriver.setExceptionsEnabled(true);
        } catch (LinkageError e) {
            throw new CudaUnavailableException("JCuda's native library (libJCudaDriver) cannot load: " + e.getMessage(), e);
        }
    }

    private static CUdevice device0() {
        CUdevice d = new CUdevice();
        JCudaDriver.cuDeviceGet(d, 0);
        return d;
    }

    static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }
}
