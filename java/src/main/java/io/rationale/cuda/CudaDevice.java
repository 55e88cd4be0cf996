package io.rationale.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One CUDA device as the backend uses it: its primary context, one stream, the kernel module, device memory and
 * copies, events for timing, and what to record about it (name, compute capability, driver version).
 *
 * <p>The module is the fatbin built by nvcc ({@code io/rationale/cuda/kernels.fatbin} in the jar) on the real driver;
 * the emulated driver accepts any image and finds the kernels compiled into it. Kernels are looked up by name once.
 * Launches go to this device's stream; the synchronous copies wait for it (the stream is a blocking one), so a copy
 * back after a launch sees the launch's results. Every method makes the context current on the calling thread first.
 */
public final class CudaDevice implements AutoCloseable {
    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    private static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    private static final int DEFAULT_SHARED_LIMIT = 48 * 1024;
    private static final String FATBIN = "kernels.fatbin";
    private static final ThreadLocal<CUcontext> CURRENT = new ThreadLocal<>();

    /** Free and total device memory in bytes. */
    public record MemoryInfo(long free, long total) {}

    /** A compute capability such as 9.0. */
    public record ComputeCapability(int major, int minor) {
        @Override public String toString() { return major + "." + minor; }
    }

    private final CudaDriver.Kind driver;
    private final int ordinal;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final Stream stream = new Stream();
    private final CUmodule module = new CUmodule();
    private final Map<String, CUfunction> functions = new ConcurrentHashMap<>();
    private final Map<CUfunction, Integer> sharedLimits = new ConcurrentHashMap<>();
    private final String name;
    private boolean closed;

    /** JCuda's stream with its raw handle visible (for cuBLAS). */
    private static final class Stream extends CUstream {
        long handle() { return getNativePointer(); }
    }

    private CudaDevice(CudaDriver.Kind driver, int ordinal) {
        this.driver = driver;
        this.ordinal = ordinal;
        int[] count = new int[1];
        JCudaDriver.cuDeviceGetCount(count);
        if (ordinal < 0 || ordinal >= count[0])
            throw new IllegalArgumentException("CUDA device " + ordinal + " does not exist: " + count[0] + " device(s)");
        JCudaDriver.cuDeviceGet(device, ordinal);
        byte[] n = new byte[256];
        JCudaDriver.cuDeviceGetName(n, n.length, device);
        this.name = CudaDriver.cString(n);
        JCudaDriver.cuDevicePrimaryCtxRetain(context, device);
        boolean ok = false;
        try {
            makeCurrent();
            JCudaDriver.cuStreamCreate(stream, 0);
            JCudaDriver.cuModuleLoadData(module, moduleImage(driver));
            ok = true;
        } finally {
            if (!ok) JCudaDriver.cuDevicePrimaryCtxRelease(device);
        }
    }

    /**
     * Opens device {@code ordinal} of the given driver, binding this JVM to it if it is not yet bound.
     *
     * @throws CudaUnavailableException no usable device (one line saying why)
     */
    public static CudaDevice open(CudaDriver.Kind driver, int ordinal) {
        CudaDriver.bind(driver);
        return new CudaDevice(driver, ordinal);
    }

    /** The emulated device (for tests and {@code --device cuda-emu}). */
    public static CudaDevice openEmulated() { return open(CudaDriver.Kind.EMULATED, 0); }

    private static byte[] moduleImage(CudaDriver.Kind driver) {
        if (driver == CudaDriver.Kind.EMULATED) return "cuda-emu: kernels are compiled into the driver".getBytes();
        try (InputStream in = CudaDevice.class.getResourceAsStream(FATBIN)) {
            if (in == null)
                throw new CudaUnavailableException("io/rationale/cuda/" + FATBIN
                        + " is not in this build (nvcc was not found when it was built)");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void makeCurrent() {
        if (closed) throw new IllegalStateException("CUDA device " + ordinal + " is closed");
        if (CURRENT.get() != context) {
            JCudaDriver.cuCtxSetCurrent(context);
            CURRENT.set(context);
        }
    }

    // ---- what to record ---------------------------------------------------------------------------------------------

    public CudaDriver.Kind driver() { return driver; }
    public int ordinal() { return ordinal; }
    public String name() { return name; }
    public boolean isEmulated() { return driver == CudaDriver.Kind.EMULATED; }

    public ComputeCapability computeCapability() {
        int[] major = new int[1], minor = new int[1];
        JCudaDriver.cuDeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
        JCudaDriver.cuDeviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
        return new ComputeCapability(major[0], minor[0]);
    }

    /** The driver's CUDA version as {@code cuDriverGetVersion} gives it (1000 × major + 10 × minor, e.g. 12060). */
    public int driverVersion() {
        int[] v = new int[1];
        JCudaDriver.cuDriverGetVersion(v);
        return v[0];
    }

    /** {@code cuDeviceGetAttribute}. */
    public int attribute(int attribute) {
        int[] v = new int[1];
        JCudaDriver.cuDeviceGetAttribute(v, attribute, device);
        return v[0];
    }

    public MemoryInfo memoryInfo() {
        makeCurrent();
        long[] free = new long[1], total = new long[1];
        JCudaDriver.cuMemGetInfo(free, total);
        return new MemoryInfo(free[0], total[0]);
    }

    // ---- context, stream ----------------------------------------------------------------------------------------------

    public CUcontext context() { return context; }
    public CUstream stream() { return stream; }
    /** The stream's raw {@code CUstream} handle (for cuBLAS through FFM). */
    public long streamHandle() { return stream.handle(); }

    /** Waits until the stream's work is done. */
    public void synchronize() {
        makeCurrent();
        JCudaDriver.cuStreamSynchronize(stream);
    }

    // ---- kernels ------------------------------------------------------------------------------------------------------

    /** The kernel {@code name} ({@code extern "C"} in cuda-kernels), looked up once. */
    public CUfunction function(String name) {
        CUfunction f = functions.get(name);
        if (f != null) return f;
        makeCurrent();
        f = new CUfunction();
        try {
            JCudaDriver.cuModuleGetFunction(f, module, name);
        } catch (CudaException e) {
            throw new IllegalArgumentException("no CUDA kernel named '" + name + "' in "
                    + (isEmulated() ? "the emulated device" : "kernels.fatbin") + ": " + e.getMessage(), e);
        }
        functions.put(name, f);
        return f;
    }

    /**
     * Launches kernel {@code name} on this device's stream. {@code args} follow the kernel's signature (see
     * {@link KernelArgs}). Dynamic shared memory above 48 KiB is opted into for the kernel first.
     */
    public void launch(String name, Dim3 grid, Dim3 block, int sharedBytes, Object... args) {
        if (sharedBytes < 0) throw new IllegalArgumentException("shared memory bytes < 0: " + sharedBytes);
        CUfunction f = function(name);
        Pointer params = KernelArgs.pack(args);
        if (sharedBytes > sharedLimits.getOrDefault(f, DEFAULT_SHARED_LIMIT)) {
            JCudaDriver.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes);
            sharedLimits.put(f, sharedBytes);
        }
        try {
            JCudaDriver.cuLaunchKernel(f, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(), sharedBytes,
                    stream, params, null);
        } catch (CudaException e) {
            String detail = isEmulated() ? ": " + EmulatedDevice.lastError() : "";
            throw new CudaException(e.getMessage() + " launching " + name + " grid " + grid + " block " + block
                    + " shared " + sharedBytes + detail, e);
        }
    }

    // ---- memory -------------------------------------------------------------------------------------------------------

    /** Allocates {@code bytes} of device memory. */
    public DevicePointer alloc(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("device allocation of " + bytes + " bytes");
        makeCurrent();
        DevicePointer p = new DevicePointer();
        try {
            JCudaDriver.cuMemAlloc(p, bytes);
        } catch (CudaException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("CUDA_ERROR_OUT_OF_MEMORY")) {
                MemoryInfo m = memoryInfo();
                throw new DeviceOutOfMemoryException("CUDA device " + ordinal + " (" + name + ")", bytes, m.free(), m.total());
            }
            throw e;
        }
        return p;
    }

    /** Frees memory from {@link #alloc}; null does nothing. */
    public void free(DevicePointer p) {
        if (p == null) return;
        makeCurrent();
        JCudaDriver.cuMemFree(p);
    }

    public void copyToDevice(DevicePointer dst, float[] src) { h2d(dst, Pointer.to(src), 4L * src.length); }
    public void copyToDevice(DevicePointer dst, int[] src) { h2d(dst, Pointer.to(src), 4L * src.length); }
    public void copyToDevice(DevicePointer dst, short[] src) { h2d(dst, Pointer.to(src), 2L * src.length); }
    public void copyToDevice(DevicePointer dst, byte[] src) { h2d(dst, Pointer.to(src), src.length); }
    public void copyToDevice(DevicePointer dst, double[] src) { h2d(dst, Pointer.to(src), 8L * src.length); }
    public void copyToHost(float[] dst, DevicePointer src) { d2h(Pointer.to(dst), src, 4L * dst.length); }
    public void copyToHost(int[] dst, DevicePointer src) { d2h(Pointer.to(dst), src, 4L * dst.length); }
    public void copyToHost(short[] dst, DevicePointer src) { d2h(Pointer.to(dst), src, 2L * dst.length); }
    public void copyToHost(byte[] dst, DevicePointer src) { d2h(Pointer.to(dst), src, dst.length); }
    public void copyToHost(double[] dst, DevicePointer src) { d2h(Pointer.to(dst), src, 8L * dst.length); }

    /**
     * Copies all of {@code src} to the device. A native segment (memory-mapped weights, arena memory) is copied
     * straight from its address; a heap segment through byte arrays of at most 64 MiB.
     */
    public void copyToDevice(DevicePointer dst, MemorySegment src) {
        long n = src.byteSize();
        if (src.isNative()) {
            h2d(dst, HostPointer.of(src.address()), n);
            return;
        }
        for (long off = 0; off < n; off += heapChunk) {
            int len = (int) Math.min(heapChunk, n - off);
            byte[] b = src.asSlice(off, len).toArray(ValueLayout.JAVA_BYTE);
            h2d(dst.plus(off), Pointer.to(b), len);
        }
    }

    /** Copies device memory into all of {@code dst}. */
    public void copyToHost(MemorySegment dst, DevicePointer src) {
        long n = dst.byteSize();
        if (dst.isNative()) {
            d2h(HostPointer.of(dst.address()), src, n);
            return;
        }
        for (long off = 0; off < n; off += heapChunk) {
            int len = (int) Math.min(heapChunk, n - off);
            byte[] b = new byte[len];
            d2h(Pointer.to(b), src.plus(off), len);
            MemorySegment.copy(MemorySegment.ofArray(b), 0, dst, off, len);
        }
    }

    /** Device to device. */
    public void copy(DevicePointer dst, DevicePointer src, long bytes) {
        makeCurrent();
        JCudaDriver.cuMemcpyDtoD(dst, src, bytes);
    }

    /** Sets {@code bytes} bytes to {@code value}. */
    public void memset(DevicePointer dst, byte value, long bytes) {
        makeCurrent();
        JCudaDriver.cuMemsetD8(dst, value, bytes);
    }

    /** Largest byte array a heap segment is copied through (package-private: tests lower it). */
    static long heapChunk = 64L << 20;

    private void h2d(DevicePointer dst, Pointer src, long bytes) {
        if (bytes == 0) return;
        makeCurrent();
        JCudaDriver.cuMemcpyHtoD(dst, src, bytes);
    }

    private void d2h(Pointer dst, DevicePointer src, long bytes) {
        if (bytes == 0) return;
        makeCurrent();
        JCudaDriver.cuMemcpyDtoH(dst, src, bytes);
    }

    /** A host address for JCuda (native memory that JCuda does not own). */
    private static final class HostPointer extends Pointer {
        private HostPointer(Pointer base, long offset) { super(base, offset); }
        static HostPointer of(long address) { return new HostPointer(new Pointer(), address); }
    }

    // ---- events -------------------------------------------------------------------------------------------------------

    /** A new event recorded on the stream now. */
    public CUevent record() {
        makeCurrent();
        CUevent e = new CUevent();
        JCudaDriver.cuEventCreate(e, 0);
        JCudaDriver.cuEventRecord(e, stream);
        return e;
    }

    /** Milliseconds between two recorded events (waits for {@code end}). */
    public float elapsedMillis(CUevent start, CUevent end) {
        makeCurrent();
        JCudaDriver.cuEventSynchronize(end);
        float[] ms = new float[1];
        JCudaDriver.cuEventElapsedTime(ms, start, end);
        return ms[0];
    }

    public void destroy(CUevent e) {
        makeCurrent();
        JCudaDriver.cuEventDestroy(e);
    }

    // ---- lifetime -----------------------------------------------------------------------------------------------------

    /** Unloads the module, destroys the stream and releases the primary context (its memory is freed with it). */
    @Override
    public void close() {
        if (closed) return;
        makeCurrent();
        try {
            JCudaDriver.cuStreamSynchronize(stream);
            JCudaDriver.cuModuleUnload(module);
            JCudaDriver.cuStreamDestroy(stream);
        } finally {
            closed = true;
            CURRENT.remove();
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
        }
    }

    @Override
    public String toString() {
        return "CUDA device " + ordinal + " (" + name + ", " + driver.name().toLowerCase() + ")";
    }
}
