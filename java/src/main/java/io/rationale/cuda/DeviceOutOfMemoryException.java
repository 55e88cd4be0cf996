package io.rationale.cuda;

import jcuda.CudaException;

/** A device allocation failed with {@code CUDA_ERROR_OUT_OF_MEMORY}; says how much was asked and how much is free. */
public class DeviceOutOfMemoryException extends CudaException {
    private final long requested, free, total;

    public DeviceOutOfMemoryException(String device, long requested, long free, long total) {
        super("CUDA_ERROR_OUT_OF_MEMORY: " + device + " cannot allocate " + bytes(requested) + ": " + bytes(free)
                + " free of " + bytes(total));
        this.requested = requested;
        this.free = free;
        this.total = total;
    }

    public long requested() { return requested; }
    public long free() { return free; }
    public long total() { return total; }

    static String bytes(long n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
        return u == 0 ? n + " bytes" : String.format(java.util.Locale.ROOT, "%.1f %s (%d bytes)", v, units[u], n);
    }
}
