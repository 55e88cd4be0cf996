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
}
