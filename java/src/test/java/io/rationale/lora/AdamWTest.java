package io.rationale.lora;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link AdamW} against the update written out by hand: step 1 from zero moments moves each weight by
 * {@code −lr·g/(|g| + ε)} after the decay {@code p·(1 − lr·λ)} (bias correction makes m̂ = g, v̂ = g²); step 2 with
 * the moments of step 1, in double; the clipping factor scales g before everything. Tolerance: float rounding of
 * the stored values (1e-6 relative).
 */
class AdamWTest {
    @Test
    void firstAndSecondStepsAsWrittenOut() {
        double lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        AdamW opt = new AdamW(b1, b2, eps, wd);
        float[] p = {1f, -2f, 0.5f, 0f}, g1 = {0.3f, -0.02f, 0f, 4f}, g2 = {-0.1f, -0.02f, 1e-3f, 2f};
        float[] m = new float[4], v = new float[4];
        double[] want = new double[4], mw = new double[4], vw = new double[4];
        for (int i = 0; i < 4; i++) {
            want[i] = p[i] * (1 - lr * wd) - lr * g1[i] / (Math.abs(g1[i]) + eps);
            mw[i] = (1 - b1) * g1[i];
            vw[i] = (1 - b2) * g1[i] * g1[i];
        }
        opt.update(p, g1, m, v, 1, lr, 1);
        for (int i = 0; i < 4; i++) {
            assertEquals(want[i], p[i], 1e-6 * Math.max(1, Math.abs(want[i])), "step 1, weight " + i);
            assertEquals(mw[i], m[i], 1e-6 * Math.abs(mw[i]) + 1e-12);
            assertEquals(vw[i], v[i], 1e-6 * Math.abs(vw[i]) + 1e-15);
        }
        double c1 = 1 - b1 * b1, c2 = 1 - b2 * b2;
        for (int i = 0; i < 4; i++) {
            double gi = 0.5 * g2[i];                     // clipping factor 0.5
            double mi = b1 * m[i] + (1 - b1) * gi, vi = b2 * v[i] + (1 - b2) * gi * gi;
            want[i] = p[i] * (1 - lr * wd) - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
        }
        opt.update(p, g2, m, v, 2, lr, 0.5);
        for (int i = 0; i < 4; i++) assertEquals(want[i], p[i], 1e-6 * Math.max(1, Math.abs(want[i])), "step 2, weight " + i);
    }

    @Test
    void refusesBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> new AdamW(1, 0.999, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> new AdamW(0.9, 0.999, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> AdamW.withWeightDecay(-1));
        assertThrows(IllegalArgumentException.class, () -> AdamW.withWeightDecay(0).update(new float[1], new float[1], new float[1], new float[1], 0, 0.1, 1));
    }
}
