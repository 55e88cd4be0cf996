package io.rationale.tools;

/**
 * The values of one tensor, produced on demand in row-major order so that a writer can stream a
 * tensor of any size chunk by chunk. Implementations must be safe to call from several threads at
 * once for disjoint ranges, and must give the same values for the same range every time.
 */
@FunctionalInterface
public interface TensorData {
    /**
     * Fills {@code dst[0..len)} with the tensor's elements {@code [start, start + len)}.
     *
     * @param start index of the first element, in row-major order
     * @param dst   destination, at least {@code len} long
     * @param len   number of elements
     */
    void fill(long start, float[] dst, int len);
}
