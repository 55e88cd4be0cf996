package io.rationale.weights;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor in a memory-mapped checkpoint: no copy, any size (the segment is a slice of the mapped file).
 * Row-major, little-endian, Hugging Face layout ({@code [out, in]} for linear weights).
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data) {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Size of the data in bytes (numel × dtype size). */
    public long byteSize() { return data.byteSize(); }

    public int rows() { return (int) shape[0]; }

    public int cols() { return shape.length == 1 ? 1 : (int) (numel() / shape[0]); }

    /** Element i as f32. */
    public float get(long i) {
        return switch (dtype) {
            case F32 -> data.get(F32, i * 4);
            case BF16 -> DType.bf16ToFloat(data.get(I16, i * 2));
            case F16 -> DType.f16ToFloat(data.get(I16, i * 2));
        };
    }

    /** Copies n elements starting at element {@code from} into dst[dstOff..] as f32. */
    public void toFloat(long from, float[] dst, int dstOff, int n) {
        for (int j = 0; j < n; j++) dst[dstOff + j] = get(from + j);
    }

    /** The whole tensor as f32 (use only for small tensors: norms, biases, tiny models). */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) throw new WeightsException("tensor " + name + " has " + n + " elements: too many to copy into one array");
        float[] out = new float[(int) n];
        toFloat(0, out, 0, (int) n);
        return out;
    }

    @Override
    public String toString() { return name + " " + dtype + " " + Arrays.toString(shape); }
}
