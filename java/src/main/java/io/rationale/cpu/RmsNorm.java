package io.rationale.cpu;

import io.rationale.engine.RuleMode;
import jdk.incubator.vector.FloatVector;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * RMSNorm as in Hugging Face LlamaRMSNorm, in f32: {@code y = w · (x · 1/sqrt(mean(x²) + eps))}; its backward pass
 * (plain gradient) and the LRP identity rule (1/rms held constant), row by row.
 */
public final class RmsNorm {
    private RmsNorm() {}

    /**
     * Normalises each of {@code rows} rows of {@code x} ({@code [rows, dim]}) into {@code out}.
     *
     * @return 1/sqrt(mean(x²)+eps) of each row (what a backward pass needs beside x and w)
     */
    public static float[] forward(float[] x, int rows, int dim, float[] w, float eps, float[] out) {
        float[] invRms = new float[rows];
        for (int r = 0; r < rows; r++) {
            int o = r * dim;
            float ss = Vec.dot(x, o, x, o, dim);
            float inv = (float) (1.0 / Math.sqrt(ss / dim + (double) eps));
            invRms[r] = inv;
            int i = 0;
            for (; i <= dim - L; i += L) {
                FloatVector xn = FloatVector.fromArray(F, x, o + i).mul(inv);
                FloatVector.fromArray(F, w, i).mul(xn).intoArray(out, o + i);
            }
            for (; i < dim; i++) out[o + i] = w[i] * (x[o + i] * inv);
        }
        return invRms;
    }

    // ---------------------------------------------------------------- backward: dy → dx, per row, with inv = 1/rms

    /**
     * {@code dx (+)= d/dx} for {@code rows} rows: the plain gradient or, where {@link io.rationale.engine.LrpRules#constantRms}
     * says so (the LRP modes), the identity rule.
     *
     * @param x          the forward input {@code [rows, dim]}
     * @param invRms     what {@link #forward} returned for it
     * @param dy         gradient of the output {@code [rows, dim]}
     * @param accumulate add into dx (a residual branch) instead of overwriting it
     */
    public static void backward(RuleMode mode, float[] x, float[] invRms, int rows, int dim, float[] w, float[] dy,
                                float[] dx, boolean accumulate) {
        boolean constant = mode.rules().constantRms();
        for (int r = 0; r < rows; r++) {
            if (constant) constantRmsRow(invRms[r], r * dim, dim, w, dy, dx, accumulate);
            else gradientRow(x, invRms[r], r * dim, dim, w, dy, dx, accumulate);
        }
    }

    /** Plain gradient: {@code dx = inv·(w⊙dy) − x·inv³/dim·Σ(w⊙dy⊙x)} (inv depends on x). */
    static void gradientRow(float[] x, float inv, int o, int dim, float[] w, float[] dy, float[] dx, boolean acc) {
        FloatVector s = FloatVector.zero(F);
        int i = 0;
        for (; i <= dim - L; i += L)
            s = FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, dy, o + i)).fma(FloatVector.fromArray(F, x, o + i), s);
        float dot = Vec.sum(s);
        for (; i < dim; i++) dot = Math.fma(w[i] * dy[o + i], x[o + i], dot);
        float c = -dot * inv * inv * inv / dim;
        for (i = 0; i <= dim - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, dy, o + i)).mul(inv)
                    .add(FloatVector.fromArray(F, x, o + i).mul(c));
            if (acc) g = g.add(FloatVector.fromArray(F, dx, o + i));
            g.intoArray(dx, o + i);
        }
        for (; i < dim; i++) {
            float g = w[i] * dy[o + i] * inv + x[o + i] * c;
            dx[o + i] = acc ? dx[o + i] + g : g;
        }
    }

    /** AttnLRP / CP-LRP identity rule: 1/rms is a constant, only the scaling remains: {@code dx = inv·(w⊙dy)}. */
    static void constantRmsRow(float inv, int o, int dim, float[] w, float[] dy, float[] dx, boolean acc) {
        int i = 0;
        for (; i <= dim - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, dy, o + i)).mul(inv);
            if (acc) g = g.add(FloatVector.fromArray(F, dx, o + i));
            g.intoArray(dx, o + i);
        }
        for (; i < dim; i++) {
            float g = w[i] * dy[o + i] * inv;
            dx[o + i] = acc ? dx[o + i] + g : g;
        }
    }
}
