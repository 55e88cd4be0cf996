package io.rationale.attribution;

import java.util.Locale;

/**
 * Settings of the {@link Attributor}; {@link #defaults()} gives the documented defaults, the {@code with...}
 * methods change one setting.
 *
 * @param steps            integrated gradients: interpolation steps k (default 32)
 * @param igRule           integrated gradients: where the steps lie and how they are weighted (default
 *                         {@link IgRule#GAUSS_LEGENDRE}, as Captum)
 * @param baselineToken    integrated gradients: -1 for the zero embedding (default), else the token whose
 *                         embedding is the baseline at every interpolated position
 * @param interpolateSpecial integrated gradients: whether special tokens (BOS, template specials) are interpolated
 *                         like every other position (default true); false keeps them at their real embedding in
 *                         every step (so their score is exactly 0 and f(baseline) keeps the real BOS)
 * @param aggregate        token scores to word scores (default {@link Aggregate#SUM})
 * @param seed             random method: its seed (default 0)
 * @param maxBatchTokens   integrated gradients: packed tokens per recorded forward+backward batch; 0 (default)
 *                         chooses from the model size and the free heap
 * @param maxForwardTokens occlusion: packed tokens per batched forward (default 16384)
 */
public record Options(int steps, IgRule igRule, int baselineToken, boolean interpolateSpecial, Aggregate aggregate,
                      long seed, int maxBatchTokens, int maxForwardTokens) {

    /** Where integrated gradients evaluates the gradient on the path b + α(e − b), α ∈ [0, 1]. */
    public enum IgRule {
        /** Gauss–Legendre nodes and weights mapped to [0, 1] (Captum's default {@code gausslegendre}). */
        GAUSS_LEGENDRE,
        /** Riemann midpoint: α_s = (s + ½)/k, weights 1/k. */
        MIDPOINT;

        public String cliName() { return name().toLowerCase(Locale.ROOT).replace('_', '-'); }

        public static IgRule parse(String s) {
            String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
            for (IgRule r : values()) if (r.cliName().equals(n)) return r;
            throw new IllegalArgumentException("unknown integration rule '" + s + "' (valid: gauss-legendre, midpoint)");
        }

        /** {@code {alphas, weights}} for k steps; the weights sum to 1. */
        public double[][] nodes(int k) {
            return this == MIDPOINT ? Quadrature.midpoint(k) : Quadrature.gaussLegendre01(k);
        }
    }

    public Options {
        if (steps < 1 || steps > 4096) throw new IllegalArgumentException("steps (integrated gradients) must be in [1, 4096], got " + steps);
        if (igRule == null || aggregate == null) throw new IllegalArgumentException("null option");
        if (baselineToken < -1) throw new IllegalArgumentException("baseline token " + baselineToken + " is negative");
        if (maxBatchTokens < 0) throw new IllegalArgumentException("max batch tokens must be >= 0, got " + maxBatchTokens);
        if (maxForwardTokens < 1) throw new IllegalArgumentException("max forward tokens must be >= 1, got " + maxForwardTokens);
    }

    public static Options defaults() {
        return new Options(32, IgRule.GAUSS_LEGENDRE, -1, true, Aggregate.SUM, 0, 0, 16384);
    }

    public Options withSteps(int k) { return new Options(k, igRule, baselineToken, interpolateSpecial, aggregate, seed, maxBatchTokens, maxForwardTokens); }

    public Options withIgRule(IgRule r) { return new Options(steps, r, baselineToken, interpolateSpecial, aggregate, seed, maxBatchTokens, maxForwardTokens); }

    public Options withBaselineToken(int id) { return new Options(steps, igRule, id, interpolateSpecial, aggregate, seed, maxBatchTokens, maxForwardTokens); }

    public Options withInterpolateSpecial(boolean b) { return new Options(steps, igRule, baselineToken, b, aggregate, seed, maxBatchTokens, maxForwardTokens); }

    public Options withAggregate(Aggregate a) { return new Options(steps, igRule, baselineToken, interpolateSpecial, a, seed, maxBatchTokens, maxForwardTokens); }

    public Options withSeed(long s) { return new Options(steps, igRule, baselineToken, interpolateSpecial, aggregate, s, maxBatchTokens, maxForwardTokens); }

    public Options withMaxBatchTokens(int n) { return new Options(steps, igRule, baselineToken, interpolateSpecial, aggregate, seed, n, maxForwardTokens); }

    public Options withMaxForwardTokens(int n) { return new Options(steps, igRule, baselineToken, interpolateSpecial, aggregate, seed, maxBatchTokens, n); }
}
