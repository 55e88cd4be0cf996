package io.rationale.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Builds {@code cuLaunchKernel}'s {@code kernelParams}: one pointer per kernel parameter, each to a copy of the value.
 * Java types map to the kernel's C types as follows (the kernel conventions allow only these):
 * {@code Integer} to {@code int} / {@code unsigned int}, {@code Long} to {@code long long} /
 * {@code unsigned long long}, {@code Float} to {@code float}, {@code Double} to {@code double}, a
 * {@link CUdeviceptr} (such as a {@link DevicePointer}) to any device pointer. The caller must match the kernel's
 * signature: nothing checks it (the driver API has no parameter count).
 */
public final class KernelArgs {
    private KernelArgs() {}

    /** The parameter array for {@code args}; throws naming the argument that has no kernel type. */
    public static Pointer pack(Object... args) {
        Pointer[] p = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            p[i] = switch (a) {
                case null -> throw new IllegalArgumentException(
                        "kernel argument " + i + " is null (pass DevicePointer.NULL for a null device pointer)");
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                case Double v -> Pointer.to(new double[] {v});
                case CUdeviceptr v -> Pointer.to(v);
                default -> throw new IllegalArgumentException("kernel argument " + i + " is a "
                        + a.getClass().getName() + ": kernels take Integer, Long, Float, Double or a CUdeviceptr");
            };
        }
        return Pointer.to(p);
    }
}
