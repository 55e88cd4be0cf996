package io.rationale.tools;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Deterministic random tensor values. Each tensor is cut into fixed blocks of {@value #BLOCK}
 * elements; block {@code b} of tensor {@code name} draws from a {@link SplittableRandom} seeded
 * from (seed, a 64-bit hash of name, b). Values thus depend only on the seed, the tensor's name
 * and the element index: tensors and chunks can be generated in parallel, in any order, and a
 * tensor's values do not change when other tensors are added or removed.
 *
 * <p>Values are uniform on {@code [mean - std*sqrt(3), mean + std*sqrt(3)]} (so their standard
 * deviation is {@code std}); uniform draws are several times cheaper than Gaussian ones, which
 * matters for 8B-parameter shapes.
 */
public final class RandomTensors {
    /** Elements per independently seeded block. Part of the output format: do not change. */
    public static final int BLOCK = 1 << 16;

    private RandomTensors() {
    }

    /** Uniform values with the given mean and standard deviation. */
    public static TensorData uniform(long seed, String name, float mean, float std) {
        final long base = mix64(seed ^ mix64(fnv1a64(name)));
        final float half = (float) (std * Math.sqrt(3.0));
        return (start, dst, len) -> {
            long pos = start;
            long end = start + len;
            int o = 0;
            while (pos < end) {
                long block = pos / BLOCK;
                long blockStart = block * BLOCK;
                SplittableRandom r = new SplittableRandom(mix64(base + (block + 1) * 0x9E3779B97F4A7C15L));
                for (long k = blockStart; k < pos; k++) {
                    r.nextInt();
                }
                long stop = Math.min(end, blockStart + BLOCK);
                while (pos < stop) {
                    float u = (r.nextInt() >>> 8) * 0x1.0p-24f;
                    dst[o++] = mean + half * (2f * u - 1f);
                    pos++;
                }
            }
        };
    }

    /** 64-bit FNV-1a hash of the UTF-8 bytes of {@code s}. */
    public static long fnv1a64(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** The SplitMix64 finaliser. */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
