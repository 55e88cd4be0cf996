package io.rationale.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * The emulated CUDA device's libraries and its test controls.
 *
 * <p>The build ({@code make -C cuda-kernels}) puts {@code libcuda.so.1} and {@code libcublas-emu.so} under the
 * resource folder {@code io/rationale/cuda/emu/}: used in place when the classes are a folder, extracted to a private
 * temporary folder (owner-only, deleted on exit) when they are in a jar. The controls call the emulated driver's
 * {@code cuemu_*} functions through FFM; they need this JVM bound to it ({@link CudaDriver#bind}).
 */
public final class EmulatedDevice {
    private static final String RESOURCE_DIR = "emu/";
    private static final String DRIVER = "libcuda.so.1";
    private static final String CUBLAS = "libcublas-emu.so";
    private static Path directory;
    private static SymbolLookup lookup;

    private EmulatedDevice() {}

    /** The emulated {@code libcuda.so.1}. */
    public static Path driverLibrary() { return directory().resolve(DRIVER); }

    /** The cuBLAS stand-in. */
    public static Path cublasLibrary() { return directory().resolve(CUBLAS); }

    private static synchronized Path directory() {
        if (directory != null) return directory;
        URL driver = EmulatedDevice.class.getResource(RESOURCE_DIR + DRIVER);
        URL cublas = EmulatedDevice.class.getResource(RESOURCE_DIR + CUBLAS);
        if (driver == null || cublas == null)
            throw new CudaUnavailableException("the emulated CUDA device is not in this build (io/rationale/cuda/"
                    + RESOURCE_DIR + DRIVER + " missing: build with `make -C cuda-kernels` or Maven)");
        try {
            if (driver.getProtocol().equals("file")) {
                directory = Path.of(driver.toURI()).getParent();
            } else {
                Path dir = Files.createTempDirectory("rationale-cuda-emu-",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                dir.toFile().deleteOnExit();
                for (String name : new String[] {DRIVER, CUBLAS}) {
                    Path file = dir.resolve(name);
                    try (InputStream in = EmulatedDevice.class.getResourceAsStream(RESOURCE_DIR + name)) {
                        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                    }
                    file.toFile().deleteOnExit();
                }
                directory = dir;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the emulated CUDA libraries: " + e.getMessage(), e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        return directory;
    }

    // ---- controls -------------------------------------------------------------------------------------------------

    /**
     * Sets the order in which warps and lanes run between barriers: 0 in order, 1 reversed, n >= 2 a permutation
     * seeded by n. A kernel that lacks a {@code __syncthreads} gives different results under different modes.
     */
    public static void setSchedule(int mode) {
        if (mode < 0) throw new IllegalArgumentException("schedule mode must be >= 0: " + mode);
        call("cuemu_set_schedule", FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT), mode);
    }

    /** The current schedule mode. */
    public static int schedule() {
        return (int) call("cuemu_get_schedule", FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }

    /** Sets the emulated device's total memory; allocations past it fail with {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public static void setMemoryLimit(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("memory limit must be >= 0: " + bytes);
        call("cuemu_set_memory_limit", FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG), bytes);
    }

    /** The emulated device's total memory. */
    public static long memoryLimit() {
        return (long) call("cuemu_memory_limit", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
    }

    /** Bytes of device memory allocated now. */
    public static long liveBytes() {
        return (long) call("cuemu_live_bytes", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
    }

    /** Device allocations alive now. */
    public static long liveAllocations() {
        return (long) call("cuemu_live_allocations", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
    }

    /** OS threads that run blocks. */
    public static int threads() {
        return (int) call("cuemu_threads", FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }

    /** The last driver function called that the emulation does not implement. */
    public static Optional<String> lastUnsupported() {
        MemorySegment s = (MemorySegment) call("cuemu_last_unsupported", FunctionDescriptor.of(ValueLayout.ADDRESS));
        return s.equals(MemorySegment.NULL) ? Optional.empty() : Optional.of(s.reinterpret(1024).getString(0));
    }

    /** The last detailed error (launch failure, out of memory, bad copy range); empty if none. */
    public static String lastError() {
        MemorySegment s = (MemorySegment) call("cuemu_last_error", FunctionDescriptor.of(ValueLayout.ADDRESS));
        return s.equals(MemorySegment.NULL) ? "" : s.reinterpret(4096).getString(0);
    }

    private static Object call(String name, FunctionDescriptor fd, Object... args) {
        MethodHandle h = Linker.nativeLinker().downcallHandle(controls().findOrThrow(name), fd);
        try {
            return h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(name + ": " + t, t);
        }
    }

    private static synchronized SymbolLookup controls() {
        if (CudaDriver.bound() != CudaDriver.Kind.EMULATED)
            throw new IllegalStateException("the emulated device's controls need this JVM bound to it (bound: "
                    + CudaDriver.bound() + ")");
        if (lookup == null) lookup = SymbolLookup.libraryLookup(driverLibrary(), Arena.global());
        return lookup;
    }
}
