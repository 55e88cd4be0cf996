package io.rationale.cpu;

/**
 * Rotary position embedding in the Hugging Face rotate-half convention: for each head and i < dim/2,
 * {@code (x[i], x[i+dim/2]) ← (x[i]·cos − x[i+dim/2]·sin, x[i+dim/2]·cos + x[i]·sin)}; the cos and sin tables of
 * each token come from {@link io.rationale.engine.RopeTables} (the same tables on every backend).
 */
public final class Rope {
    private Rope() {}

    /** Rotates every head of x ({@code [tokens, heads·dim]}) in place. */
    public static void apply(float[] x, int tokens, int heads, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float c = cos[t * half + i], s = sin[t * half + i];
                    float x1 = x[o + i], x2 = x[o + i + half];
                    x[o + i] = x1 * c - x2 * s;
                    x[o + i + half] = x2 * c + x1 * s;
                }
            }
        }
    }

    /**
     * Backward of {@link #apply} (every rule mode: cos and sin are constants): the inverse rotation,
     * {@code (d1, d2) ← (d1·cos + d2·sin, d2·cos − d1·sin)}, in place on a gradient {@code [tokens, heads·dim]}.
     */
    public static void applyInverse(float[] dx, int tokens, int heads, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float c = cos[t * half + i], s = sin[t * half + i];
                    float d1 = dx[o + i], d2 = dx[o + i + half];
                    dx[o + i] = d1 * c + d2 * s;
                    dx[o + i + half] = d2 * c - d1 * s;
                }
            }
        }
    }

    /**
     * Backward of {@link #apply} under a rule mode's {@link io.rationale.engine.LrpRules#ropeProductShare}: the
     * inverse rotation times {@code share} (1: cos and sin are constants; 1/2: PE-LRP's uniform rule at the products
     * {@code x·cos} and {@code rot(x)·sin}, which halves the gradient into x).
     */
    public static void backward(float share, float[] dx, int tokens, int heads, int headDim, float[] cos, float[] sin) {
        applyInverse(dx, tokens, heads, headDim, cos, sin);
        if (share != 1f) for (int i = 0, n = tokens * heads * headDim; i < n; i++) dx[i] *= share;
    }

    /**
     * The relevance of the position factors under the uniform rule (PE-LRP), added per token: for
     * {@code x' = x·cos + rot(x)·sin} with x' recorded ({@code rotated}) and its incoming (modified) gradient dx',
     * {@code rCos[t] += share · Σ_heads Σ_d cos[t,d]·x[t,d]·dx'[t,d]} and
     * {@code rSin[t] += share · Σ_heads Σ_d sin[t,d]·rot(x)[t,d]·dx'[t,d]} (cos and sin in the full-width
     * {@code cat(table, table)} layout; x recovered from x' by the inverse rotation). Sums in double.
     */
    public static void positionalRelevance(float share, float[] rotated, float[] dRotated, int tokens, int heads, int headDim,
                                           float[] cos, float[] sin, double[] rCos, double[] rSin) {
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            double sc = 0, ss = 0;
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    double c = cos[t * half + i], s = sin[t * half + i];
                    double y1 = rotated[o + i], y2 = rotated[o + i + half];
                    double x1 = y1 * c + y2 * s, x2 = y2 * c - y1 * s;          // x = R⁻¹ x'
                    double d1 = dRotated[o + i], d2 = dRotated[o + i + half];
                    sc += c * (x1 * d1 + x2 * d2);
                    ss += s * (-x2 * d1 + x1 * d2);                             // rot(x) = (−x2, x1)
                }
            }
            rCos[t] += share * sc;
            rSin[t] += share * ss;
        }
    }
}
