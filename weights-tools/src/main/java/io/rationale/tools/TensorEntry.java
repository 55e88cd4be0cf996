package io.rationale.tools;

import java.util.Arrays;

/**
 * One tensor to write: its name, element type, shape and a source of values.
 *
 * @param name  tensor name as it appears in the safetensors header
 * @param dtype element type on disk
 * @param shape dimensions, outermost first (PyTorch order, e.g. [out, in] for a Linear weight)
 * @param data  the values, as float32, converted to {@code dtype} when written
 */
public record TensorEntry(String name, DType dtype, long[] shape, TensorData data) {

    public TensorEntry {
        if (name == null || name.isEmpty()) {
            throw new ToolException("tensor with an empty name");
        }
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new ToolException("tensor " + name + ": negative dimension in " + Arrays.toString(shape));
            }
        }
    }

    /** Builds an entry from int dimensions. */
    public static TensorEntry of(String name, DType dtype, TensorData data, int... dims) {
        long[] shape = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            shape[i] = dims[i];
        }
        return new TensorEntry(name, dtype, shape, data);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes this tensor takes in a safetensors file. */
    public long byteSize() {
        return Math.multiplyExact(numel(), (long) dtype.bytes);
    }
}
