package io.rationale.cuda;

import jcuda.driver.CUdeviceptr;

/**
 * A device address that JCuda accepts as a {@link CUdeviceptr} and that FFM calls (cuBLAS) take as a raw
 * {@link #address()}. {@code new DevicePointer()} is what {@code cuMemAlloc} fills; {@link #of(long)} wraps a raw
 * address (as JCuda does, a null native pointer plus the address as byte offset).
 */
public final class DevicePointer extends CUdeviceptr {
    /** The null device pointer, for kernel arguments that may be null. */
    public static final DevicePointer NULL = of(0);

    /** An empty pointer for {@code cuMemAlloc} to fill. */
    public DevicePointer() { super(); }

    private DevicePointer(CUdeviceptr base, long byteOffset) { super(base, byteOffset); }

    /** Wraps a raw device address. */
    public static DevicePointer of(long address) { return new DevicePointer(new CUdeviceptr(), address); }

    /** The device address. */
    public long address() { return getNativePointer() + getByteOffset(); }

    /** This address plus {@code bytes}. */
    public DevicePointer plus(long bytes) { return of(address() + bytes); }

    @Override public String toString() { return "DevicePointer[0x" + Long.toHexString(address()) + "]"; }
}
