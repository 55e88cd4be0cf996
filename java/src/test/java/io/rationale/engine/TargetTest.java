package io.rationale.engine;

import io.rationale.cpu.LinearBackward;
import io.rationale.cpu.Parallel;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Targets and the LM-head step of the backward pass. {@link Target#gradient} against central differences of
 * {@link Target#value} on f32 logits with step 2⁻¹⁰ (exact in f32 for |logit| < 8192; truncation error below 1e-6):
 * every entry within 1e-5. The LM head's input gradient ({@code dlogits·W} through {@link LinearBackward}) against
 * central differences (double, step 1e-5) of the target's value of {@code W·x}: within 1e-4·max|g| + 1e-6.
 */
class TargetTest {
    static List<Target> targets() {
        return List.of(new Target.Logit(3), new Target.LogProb(3), new Target.LogProb(17), new Target.Contrast(3, 17));
    }

    @Test
    void gradientsAreTheDerivativesOfTheValues() {
        Random r = new Random(1);
        float[] l = new float[50];
        for (int i = 0; i < l.length; i++) l[i] = (float) (3 * r.nextGaussian());
        float h = 0x1p-10f;
        for (Target t : targets()) {
            float[] g = t.gradient(l);
            for (int i = 0; i < l.length; i++) {
                float li = l[i];
                l[i] = li + h;
                double up = t.value(l);
                l[i] = li - h;
                double down = t.value(l);
                l[i] = li;
                assertEquals((up - down) / (2 * h), g[i], 1e-5, t + " logit " + i);
            }
        }
        // the values themselves
        double lse = 0;
        for (float x : l) lse += Math.exp(x);
        assertEquals(l[3] - Math.log(lse), new Target.LogProb(3).value(l), 1e-9);
        assertEquals((double) l[3] - l[17], new Target.Contrast(3, 17).value(l), 0);
        assertEquals(l[3], new Target.Logit(3).value(l), 0);
        double sum = 0;
        for (float x : new Target.LogProb(5).gradient(l)) sum += x;
        assertEquals(0, sum, 1e-6, "one-hot minus softmax sums to zero");
        for (float x : new Target.Contrast(4, 4).gradient(l)) assertEquals(0f, x);
    }

    @Test
    void idsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new Target.Logit(-1));
        assertThrows(IllegalArgumentException.class, () -> new Target.Contrast(1, -2));
        assertThrows(IllegalArgumentException.class, () -> new Target.LogProb(10).gradient(new float[10]));
        assertThrows(IllegalArgumentException.class, () -> new Target.Contrast(1, 10).value(new float[10]));
        assertEquals(RuleMode.ATTNLRP, RuleMode.parse("AttnLRP"));
        assertEquals("cplrp", RuleMode.CPLRP.cliName());
        assertThrows(IllegalArgumentException.class, () -> RuleMode.parse("lrp"));
    }

    @Test
    void lmHeadBackwardMatchesFiniteDifferences() {
        Random r = new Random(2);
        int vocab = 50, hidden = 24;
        double[] w = new double[vocab * hidden];
        for (int i = 0; i < w.length; i++) w[i] = r.nextGaussian() / Math.sqrt(hidden);
        Tensor head = TestModels.tensor("lm_head", DType.F32, new long[]{vocab, hidden}, w, false);
        double[] x = new double[hidden];
        for (int i = 0; i < hidden; i++) x[i] = (float) (2 * r.nextGaussian());
        try (Parallel par = new Parallel(2)) {
            for (Target t : targets()) {
                float[] logits = new float[vocab];
                for (int v = 0; v < vocab; v++) logits[v] = (float) dot(w, v, hidden, x);
                float[] dx = new float[hidden];
                LinearBackward.inputGrad(par, dx, 1, hidden, false, new LinearBackward.Term(head, t.gradient(logits)));
                double max = 0;
                for (float d : dx) max = Math.max(max, Math.abs(d));
                for (int i = 0; i < hidden; i++) {
                    double xi = x[i];
                    x[i] = xi + 1e-5;
                    double up = BackwardTest.value(t, logitsOf(w, vocab, hidden, x));
                    x[i] = xi - 1e-5;
                    double down = BackwardTest.value(t, logitsOf(w, vocab, hidden, x));
                    x[i] = xi;
                    double fd = (up - down) / 2e-5;
                    int idx = i;
                    double m = max;
                    assertTrue(Math.abs(fd - dx[i]) <= 1e-4 * m + 1e-6, () -> t + ": d/dx[" + idx + "] " + dx[idx] + " vs FD " + fd + " (max " + m + ")");
                }
            }
        }
    }

    static double dot(double[] w, int row, int hidden, double[] x) {
        double s = 0;
        for (int i = 0; i < hidden; i++) s += (float) w[row * hidden + i] * x[i];
        return s;
    }

    static double[] logitsOf(double[] w, int vocab, int hidden, double[] x) {
        double[] l = new double[vocab];
        for (int v = 0; v < vocab; v++) l[v] = dot(w, v, hidden, x);
        return l;
    }
}
