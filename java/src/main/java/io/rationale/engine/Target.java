package io.rationale.engine;

/**
 * A scalar to explain, read at the LAST position of a sequence: {@link Backend#backward} seeds its pass with
 * {@link #gradient} of that position's logits. Values and gradients are computed in double from the f32 logits.
 */
public sealed interface Target {

    /** The logit of {@code tokenId}. Gradient: one-hot. */
    record Logit(int tokenId) implements Target {
        public Logit {
            checkId(tokenId, "token");
        }

        @Override
        public double value(float[] l) { return l[check(tokenId, l)]; }

        @Override
        public float[] gradient(float[] l) {
            float[] g = new float[l.length];
            g[check(tokenId, l)] = 1;
            return g;
        }
    }

    /** {@code log softmax(logits)[tokenId]}. Gradient: one-hot − softmax. */
    record LogProb(int tokenId) implements Target {
        public LogProb {
            checkId(tokenId, "token");
        }

        @Override
        public double value(float[] l) { return l[check(tokenId, l)] - logSumExp(l); }

        @Override
        public float[] gradient(float[] l) {
            check(tokenId, l);
            double lse = logSumExp(l);
            float[] g = new float[l.length];
            for (int i = 0; i < l.length; i++) g[i] = (float) -Math.exp(l[i] - lse);
            g[tokenId] = (float) (1 - Math.exp(l[tokenId] - lse));
            return g;
        }
    }

    /** {@code logit(tokenId) − logit(foilId)}. Gradient: one-hot(token) − one-hot(foil) (zero when they are equal). */
    record Contrast(int tokenId, int foilId) implements Target {
        public Contrast {
            checkId(tokenId, "token");
            checkId(foilId, "foil");
        }

        @Override
        public double value(float[] l) { return (double) l[check(tokenId, l)] - l[check(foilId, l)]; }

        @Override
        public float[] gradient(float[] l) {
            float[] g = new float[l.length];
            g[check(tokenId, l)] += 1;
            g[check(foilId, l)] -= 1;
            return g;
        }
    }

    /** The scalar from the last position's logits ({@code [vocab]}). */
    double value(float[] lastLogits);

    /** d {@link #value} / d logits, {@code [vocab]}: the seed of a backward pass. */
    float[] gradient(float[] lastLogits);

    private static void checkId(int id, String what) {
        if (id < 0) throw new IllegalArgumentException(what + " id " + id + " is negative");
    }

    private static int check(int id, float[] logits) {
        if (id >= logits.length) throw new IllegalArgumentException("token id " + id + " outside [0, " + logits.length + ")");
        return id;
    }

    /** log Σ exp(l), in double. */
    static double logSumExp(float[] l) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : l) max = Math.max(max, x);
        double s = 0;
        for (float x : l) s += Math.exp(x - max);
        return max + Math.log(s);
    }
}
