package io.rationale.metrics;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Attribution rationales: the top-k words by score.
 * <ul>
 *   <li>Order ({@link #ranking}): higher score first; equal scores (compared with {@code ==}, so
 *       {@code -0.0 == 0.0}) by LOWER word index first. NaN scores are rejected.</li>
 *   <li>k = the human rationale's size ({@link #likeHuman}, the default of ERASER and ferret), or a fraction
 *       of the words ({@link #kForFraction}): {@code k = round_half_up(fraction · n)} computed in decimal (so
 *       {@code 0.05 · 10 = 0.5 → 1}, {@code 0.25 · 10 = 2.5 → 3}), at least 1 when {@code fraction > 0} and
 *       {@code n > 0}, at most n.</li>
 *   <li>k larger than the number of words selects all of them; k = 0 selects none.</li>
 * </ul>
 */
public final class TopK {
    private TopK() {}

    /** Word indices from best to worst. */
    public static int[] ranking(double[] scores) {
        List<Integer> idx = new ArrayList<>(scores.length);
        for (int i = 0; i < scores.length; i++) {
            if (Double.isNaN(scores[i])) throw new IllegalArgumentException("NaN score at word " + i);
            idx.add(i);
        }
        idx.sort((a, b) -> {
            double x = scores[a], y = scores[b];
            if (x > y) return -1;
            if (x < y) return 1;
            return Integer.compare(a, b);
        });
        int[] out = new int[idx.size()];
        for (int i = 0; i < out.length; i++) out[i] = idx.get(i);
        return out;
    }

    /** The {@code k} best words (all when {@code k >= scores.length}). */
    public static SortedSet<Integer> top(double[] scores, int k) {
        if (k < 0) throw new IllegalArgumentException("negative k " + k);
        int[] r = ranking(scores);
        TreeSet<Integer> out = new TreeSet<>();
        for (int i = 0; i < Math.min(k, r.length); i++) out.add(r[i]);
        return Collections.unmodifiableSortedSet(out);
    }

    /** The top-k with k = the human rationale's size. */
    public static SortedSet<Integer> likeHuman(double[] scores, Set<Integer> human) {
        return top(scores, human.size());
    }

    /** The top-k with k = {@link #kForFraction(int, double)}. */
    public static SortedSet<Integer> topFraction(double[] scores, double fraction) {
        return top(scores, kForFraction(scores.length, fraction));
    }

    /** {@code round_half_up(fraction · n)} in decimal, at least 1 when fraction &gt; 0 and n &gt; 0, at most n. */
    public static int kForFraction(int n, double fraction) {
        if (n < 0) throw new IllegalArgumentException("negative word count " + n);
        if (!(fraction >= 0 && fraction <= 1)) throw new IllegalArgumentException("fraction " + fraction + " outside [0, 1]");
        if (n == 0 || fraction == 0) return 0;
        int k = new BigDecimal(Double.toString(fraction)).multiply(BigDecimal.valueOf(n))
                .setScale(0, RoundingMode.HALF_UP).intValueExact();
        return Math.min(n, Math.max(1, k));
    }

    /**
     * A random rationale of {@code k} of {@code n} words (the baseline every method is compared with): a partial
     * Fisher–Yates shuffle driven by {@code java.util.Random(seed)}, so the same seed gives the same words on
     * every JVM.
     */
    public static SortedSet<Integer> random(int n, int k, long seed) {
        if (k < 0 || n < 0) throw new IllegalArgumentException("negative n or k");
        int m = Math.min(k, n);
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        Random rng = new Random(seed);
        TreeSet<Integer> out = new TreeSet<>();
        for (int i = 0; i < m; i++) {
            int j = i + rng.nextInt(n - i);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
            out.add(a[i]);
        }
        return Collections.unmodifiableSortedSet(out);
    }
}
