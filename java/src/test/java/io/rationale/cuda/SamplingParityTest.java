package io.rationale.cuda;

import io.rationale.engine.Sampler;
import io.rationale.engine.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * {@code sampling.cu} against {@link Sampler}: {@code argmax_rows} against {@link Sampler#argmax}, and
 * {@code sample_rows} against {@link Sampler#sample(float[], SamplingParams, double)} with the same uniform draw,
 * over rows of logits of stride ld > V, per-row temperatures (0 included: argmax) and top-p values.
 *
 * <p>Tolerance: none; the tokens must be equal. The kernel reproduces the Java walk in double, and can differ only
 * where rounding decides (a running mass within ~1e-16·V relative of topP·total or of u·mass, the kernel summing
 * in a tree and Java left to right): with random draws and logits that has probability ~1e-13 per row, so any
 * difference here is a bug. The rows include ties (logits on a 0.25 grid: equal probabilities, lower id first),
 * −∞ logits (probability 0), temperatures that underflow most probabilities to 0, and vocabularies from 10 to
 * 32,000 (the histogram refinement), and the largest draw, 1 − 2⁻⁵³, on a row with top_p 0.9 (the nucleus' last
 * token; with top_p 1 that draw would fall in a tail whose mass is below double rounding, where the README says
 * the kernel is approximate). Measured: every token equal.
 */
class SamplingParityTest extends ParityFixture {

    /** Row r of kind r % 4: gaussian, a 0.25 grid (ties), wide with −∞ entries, a flat plateau with one peak. */
    static float[] logits(Random r, int rows, int vocab, int ld) {
        float[] l = new float[rows * ld];
        for (int i = 0; i < rows; i++)
            for (int t = 0; t < ld; t++) {
                float v = switch (i % 4) {
                    case 0 -> (float) (r.nextGaussian() * 3);
                    case 1 -> Math.round(r.nextGaussian() * 8) / 4f;
                    case 2 -> r.nextInt(10) == 0 ? Float.NEGATIVE_INFINITY : (float) (r.nextGaussian() * 10);
                    default -> t == vocab / 3 ? 5f : 1f;
                };
                l[i * ld + t] = t < vocab ? v : Float.NaN;       // the padding must not be read
            }
        return l;
    }

    @Test
    void argmaxIsTheSamplersArgmax() {
        Random r = new Random(10);
        for (int vocab : new int[] {1, 10, 1000, 32000}) {
            int rows = 8, ld = vocab + 5;
            float[] l = logits(r, rows, vocab, ld);
            l[ld + vocab - 1] = 100f;                       // row 1: the max at the last id
            l[2 * ld + vocab / 2] = 1000f;                  // row 2: a tie of two maxima, lowest id wins
            l[2 * ld + vocab - 1] = 1000f;
            for (int t = 0; t < vocab; t++) l[3 * ld + t] = -7f;   // row 3: all equal: id 0
            for (int t = 0; t < vocab; t++) l[7 * ld + t] = Float.NEGATIVE_INFINITY;  // row 7: all −∞: id 0
            int[] want = new int[rows];
            for (int i = 0; i < rows; i++) want[i] = Sampler.argmax(java.util.Arrays.copyOfRange(l, i * ld, i * ld + vocab));
            Parity.Errors err = report.errors("argmax_rows");
            try (Parity.Buffers b = new Parity.Buffers(dev)) {
                DevicePointer dl = b.of(l);
                Parity.acrossSchedules(dev, new int[] {0, 1, 7}, "argmax V=" + vocab, mode -> {
                    DevicePointer out = b.nan(4L * rows);
                    kernels.argmax(out, dl, ld, rows, vocab);
                    int[] got = b.ints(out, rows);
                    for (int i = 0; i < rows; i++) err.exact(got[i], want[i], "V=" + vocab + " schedule " + mode + " row " + i);
                    return got;
                });
            }
        }
    }

    @Test
    void sampledTokensAreTheSamplersTokens() {
        Random r = new Random(11);
        double[] temperatures = {1.0, 0.7, 0, 1.5, 0.004, 1.0, 0.3, 2.0};
        double[] topPs = {1.0, 0.9, 1.0, 0.5, 0.95, 0.05, 0.999, 0.3};
        for (int vocab : new int[] {10, 1000, 32000}) {
            int rows = 8, ld = vocab + 3;
            float[] l = logits(r, rows, vocab, ld);
            double[] u = new double[rows], temp = new double[rows], topP = new double[rows];
            for (int draw = 0; draw < 2; draw++) {
                int[] want = new int[rows];
                for (int i = 0; i < rows; i++) {
                    u[i] = i == 6 && draw == 1 ? Math.nextDown(1.0) : r.nextDouble();   // the largest draw: the nucleus' last token (top_p 0.9)
                    temp[i] = temperatures[(i + draw) % rows];
                    topP[i] = topPs[(i + 3 * draw) % rows];
                    want[i] = Sampler.sample(java.util.Arrays.copyOfRange(l, i * ld, i * ld + vocab), new SamplingParams(temp[i], topP[i], 0), u[i]);
                }
                String what = "sample_rows V=" + vocab + " draw " + draw;
                Parity.Errors err = report.errors("sample_rows");
                try (Parity.Buffers b = new Parity.Buffers(dev)) {
                    DevicePointer dl = b.of(l), du = b.of(u), dt = b.of(temp), dp = b.of(topP);
                    Parity.acrossSchedules(dev, new int[] {0, 7}, what, mode -> {
                        DevicePointer out = b.nan(4L * rows);
                        kernels.sample(out, dl, ld, rows, vocab, du, dt, dp);
                        int[] got = b.ints(out, rows);
                        for (int i = 0; i < rows; i++)
                            err.exact(got[i], want[i], what + " schedule " + mode + " row " + i + " (T " + temp[i] + ", top_p " + topP[i] + ", u " + u[i] + ")");
                        return got;
                    });
                }
            }
        }
    }
}
