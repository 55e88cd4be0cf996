package io.rationale.eval;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * The random baseline: a random ranking of an example's words, seeded per example.
 *
 * <p>Seed of an example: {@code mix64(runSeed ^ fnv1a64(UTF-8 bytes of the example id))} with {@code mix64} the
 * SplitMix64 finaliser. It depends on the id, not on the position, so the same example gets the same baseline in
 * any subset or order of the dataset and on resume.
 *
 * <p>Ranking: the order in which a Fisher–Yates shuffle driven by {@code java.util.Random(seed)} picks the words
 * ({@code for i = 0..n-1: j = i + nextInt(n - i); swap(i, j)}; position i holds the i-th pick). Its first k words are
 * exactly {@link io.rationale.metrics.TopK#random}{@code (n, k, seed)}, for every k, so the sizes are nested. Soft
 * scores for AUPRC: {@code (n - rank) / n}.
 */
public final class RandomRationale {
    private RandomRationale() {}

    public static long seed(long runSeed, String exampleId) {
        long h = 0xcbf29ce484222325L;
        for (byte b : exampleId.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix64(runSeed ^ h);
    }

    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** All n words in pick order. */
    public static int[] ranking(int n, long seed) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        Random rng = new Random(seed);
        for (int i = 0; i < n; i++) {
            int j = i + rng.nextInt(n - i);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /** Scores {@code (n - rank) / n}: the first pick scores 1. */
    public static double[] scores(int[] ranking) {
        int n = ranking.length;
        double[] s = new double[n];
        for (int r = 0; r < n; r++) s[ranking[r]] = (double) (n - r) / n;
        return s;
    }
}
