package io.rationale.cpu;

import io.rationale.engine.Lora;
import jdk.incubator.vector.FloatVector;

import java.util.List;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * The low-rank branch of an unmerged LoRA module beside a projection ({@link Lora}): forward
 * {@code y += scale·(x·Aᵀ)·Bᵀ}, its input gradient {@code dx += scale·(dy·B)·A}, and the gradients of its weights
 * {@code dB += scale·dyᵀ·u}, {@code dA += scale·vᵀ·x} with {@code u = x·Aᵀ}, {@code v = dy·B} (all {@code [n, rank]}).
 * A is {@code [rank, in]}, B {@code [out, rank]}, x {@code [n, in]}, y and dy {@code [n, out]}, all f32 row-major.
 * The branch is linear, so every rule mode takes its plain gradient (as {@link LinearBackward} does for W).
 * Work is split by rows of the output (tokens, or rows of dB, or column blocks of dA), so every value is summed
 * by one task in a fixed order: results do not depend on the thread count.
 */
final class LoraBranch {
    private LoraBranch() {}

    /** Tokens per task. */
    private static final int ROWS = 16;
    /** Columns of dA per task. */
    private static final int COLS = 256;

    /** {@code y += Σ_m scale_m·(x·A_mᵀ)·B_mᵀ} for n rows. */
    static void forward(Parallel par, List<Lora.Module> mods, float[] x, int n, float[] y) {
        for (Lora.Module m : mods) {
            int r = m.rank(), in = m.in(), out = m.out();
            float[] a = m.a(), b = m.b();
            float s = m.scale();
            par.forEach((n + ROWS - 1) / ROWS, task -> {
                float[] u = new float[r];
                for (int t = task * ROWS, end = Math.min(n, t + ROWS); t < end; t++) {
                    for (int k = 0; k < r; k++) u[k] = s * Vec.dot(x, t * in, a, k * in, in);
                    int yo = t * out;
                    for (int o = 0; o < out; o++) {
                        float acc = 0;
                        for (int k = 0; k < r; k++) acc = Math.fma(u[k], b[o * r + k], acc);
                        y[yo + o] += acc;
                    }
                }
            });
        }
    }

    /** {@code dx += Σ_m scale_m·(dy·B_m)·A_m} for n rows (dx {@code [n, in]}). */
    static void inputGrad(Parallel par, List<Lora.Module> mods, float[] dy, int n, float[] dx) {
        for (Lora.Module m : mods) {
            int r = m.rank(), in = m.in(), out = m.out();
            float[] a = m.a(), b = m.b();
            float s = m.scale();
            par.forEach((n + ROWS - 1) / ROWS, task -> {
                float[] v = new float[r];
                for (int t = task * ROWS, end = Math.min(n, t + ROWS); t < end; t++) {
                    dyB(dy, t * out, out, b, r, v);
                    for (int k = 0; k < r; k++) axpy(s * v[k], a, k * in, dx, t * in, in);
                }
            });
        }
    }

    /**
     * Adds the gradients of every module's A and B into {@code g}: {@code dB[o][k] += scale·Σ_t dy[t][o]·u[t][k]},
     * {@code dA[k][i] += scale·Σ_t v[t][k]·x[t][i]}, sums over the n tokens in order.
     */
    static void weightGrad(Parallel par, List<Lora.Module> mods, float[] x, float[] dy, int n, Lora.Gradients g) {
        for (Lora.Module m : mods) {
            int r = m.rank(), in = m.in(), out = m.out();
            float[] a = m.a(), b = m.b(), ga = g.a(m), gb = g.b(m);
            float s = m.scale();
            float[] u = new float[n * r], v = new float[n * r];
            par.forEach((n + ROWS - 1) / ROWS, task -> {
                for (int t = task * ROWS, end = Math.min(n, t + ROWS); t < end; t++) {
                    for (int k = 0; k < r; k++) u[t * r + k] = Vec.dot(x, t * in, a, k * in, in);
                    float[] vt = new float[r];
                    dyB(dy, t * out, out, b, r, vt);
                    System.arraycopy(vt, 0, v, t * r, r);
                }
            });
            par.forEach((out + ROWS - 1) / ROWS, task -> {           // dB, rows of B
                float[] acc = new float[r];
                for (int o = task * ROWS, end = Math.min(out, o + ROWS); o < end; o++) {
                    java.util.Arrays.fill(acc, 0f);
                    for (int t = 0; t < n; t++) {
                        float d = dy[t * out + o];
                        if (d == 0f) continue;
                        for (int k = 0; k < r; k++) acc[k] = Math.fma(d, u[t * r + k], acc[k]);
                    }
                    for (int k = 0; k < r; k++) gb[o * r + k] += s * acc[k];
                }
            });
            int blocks = (in + COLS - 1) / COLS;
            par.forEach(r * blocks, task -> {                      // dA, column blocks of each row of A
                int k = task / blocks, i0 = (task % blocks) * COLS, w = Math.min(COLS, in - i0);
                float[] acc = new float[w];
                for (int t = 0; t < n; t++) {
                    float vk = v[t * r + k];
                    if (vk != 0f) axpy(vk, x, t * in + i0, acc, 0, w);
                }
                for (int i = 0; i < w; i++) ga[k * in + i0 + i] += s * acc[i];
            });
        }
    }

    /** {@code v[k] = Σ_o dy[off + o]·B[o][k]}, o in order. */
    private static void dyB(float[] dy, int off, int out, float[] b, int r, float[] v) {
        java.util.Arrays.fill(v, 0f);
        for (int o = 0; o < out; o++) {
            float d = dy[off + o];
            if (d == 0f) continue;
            for (int k = 0; k < r; k++) v[k] = Math.fma(d, b[o * r + k], v[k]);
        }
    }

    /** {@code y[yo..yo+n) += alpha·x[xo..xo+n)}. */
    private static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector av = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (; i <= n - L; i += L)
            FloatVector.fromArray(F, x, xo + i).fma(av, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = Math.fma(alpha, x[xo + i], y[yo + i]);
    }
}
