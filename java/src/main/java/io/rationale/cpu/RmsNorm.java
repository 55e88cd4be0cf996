package io.rationale.cpu;

import jdk.incubator.vector.FloatVector;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/** RMSNorm as in Hugging Face LlamaRMSNorm, in f32: {@code y = w · (x · 1/sqrt(mean(x²) + eps))}. */
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
}
