package io.rationale.engine;

import io.rationale.cpu.CpuBackend;
import io.rationale.weights.Checkpoint;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The backward pass on the real stories260K checkpoint, prompt [1, 403, 407, 261, 378], target = its greedy next
 * token 432.
 * <ul>
 * <li>AttnLRP token relevance {@code R_i = Σ_d e·g̃} does not depend on batch composition: the prompt alone and packed
 *     between sequences of other lengths (with other targets, recompute record) agree within 1e-5·max|R|.</li>
 * <li>GRADIENT sanity against {@link ReferenceLlama} in double on the same weights: 40 coordinates by central
 *     differences (step 1e-5) within 1e-3·max|g| + 1e-5, and {@code Σ_i e_i·g_i} (input × gradient summed) equals the
 *     directional derivative {@code d f(α·e)/dα} at α = 1 within 1e-4·(1 + |value|). No conservation is asserted for
 *     LRP (softmax absorbs relevance).</li>
 * </ul>
 */
class StoriesBackwardTest {
    static final int[] PROMPT = {1, 403, 407, 261, 378};
    static final int NEXT = 432;
    static Model model;
    static CpuBackend backend;

    @BeforeAll
    static void load() {
        model = Model.load(StoriesReferenceTest.DIR);
        backend = new CpuBackend(model, 2);
    }

    @AfterAll
    static void close() {
        backend.close();
        model.close();
    }

    static float[] relevance(float[] e, float[] g, int hidden) {
        float[] r = new float[e.length / hidden];
        for (int t = 0; t < r.length; t++) {
            float s = 0;
            for (int d = 0; d < hidden; d++) s += e[t * hidden + d] * g[t * hidden + d];
            r[t] = s;
        }
        return r;
    }

    @Test
    void attnLrpRelevanceDoesNotDependOnTheBatch() {
        int H = model.config().hiddenSize();
        Activations alone = new Activations(false);
        Logits l = backend.forward(List.of(PROMPT), null, LogitsMode.LAST, alone);
        assertEquals(NEXT, l.argmax(0, 0));
        float[] g = backend.backward(alone, List.of(new Target.Logit(NEXT)), RuleMode.ATTNLRP)[0];
        float[] rAlone = relevance(alone.embeddings, g, H);

        int[] before = {1, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130}, after = {1, 7, 8};
        Activations packed = new Activations(true, true);
        backend.forward(List.of(before, PROMPT, after), null, LogitsMode.ALL, packed);
        float[][] gs = backend.backward(packed, List.of(new Target.LogProb(5), new Target.Logit(NEXT), new Target.Contrast(9, 10)), RuleMode.ATTNLRP);
        float[] e = java.util.Arrays.copyOfRange(packed.embeddings, before.length * H, (before.length + PROMPT.length) * H);
        float[] rPacked = relevance(e, gs[1], H);

        float max = 0;
        for (float x : rAlone) max = Math.max(max, Math.abs(x));
        assertTrue(max > 0);
        for (int t = 0; t < PROMPT.length; t++) {
            assertTrue(Float.isFinite(rAlone[t]) && rAlone[t] != 0, "relevance of token " + t);
            assertEquals(rAlone[t], rPacked[t], 1e-5 * max, "token " + t + " alone vs packed");
        }
    }

    @Test
    void gradientAgreesWithTheDoubleReference() {
        var c = model.config();
        int H = c.hiddenSize();
        Map<String, Tensor> w = new LinkedHashMap<>();
        try (Checkpoint ckpt = Checkpoint.open(StoriesReferenceTest.DIR)) {
            for (String name : c.expectedTensors().keySet()) w.put(name, ckpt.tensor(name));
            Activations rec = new Activations(false);
            backend.forward(List.of(PROMPT), null, LogitsMode.LAST, rec);
            Target t = new Target.Logit(NEXT);
            float[] g = backend.backward(rec, List.of(t), RuleMode.GRADIENT)[0];
            ReferenceLlama ref = new ReferenceLlama(c, w);
            double[][] e = ref.embed(PROMPT);
            Function<double[][], double[]> f = ref.surrogate(e, RuleMode.GRADIENT);
            double max = 0;
            for (float x : g) max = Math.max(max, Math.abs(x));
            double tol = 1e-3 * max + 1e-5;
            java.util.Random r = new java.util.Random(1);
            for (int k = 0; k < 40; k++) {
                int tk = k % PROMPT.length, d = r.nextInt(H);
                double e0 = e[tk][d];
                e[tk][d] = e0 + 1e-5;
                double up = f.apply(e)[NEXT];
                e[tk][d] = e0 - 1e-5;
                double down = f.apply(e)[NEXT];
                e[tk][d] = e0;
                double fd = (up - down) / 2e-5;
                assertEquals(fd, g[tk * H + d], tol, "d logit / d e[" + tk + "][" + d + "]");
            }
            // Σ e·g = d f(α e)/dα at α = 1
            double ixg = 0;
            for (int i = 0; i < g.length; i++) ixg += (double) rec.embeddings[i] * g[i];
            double a = 1e-5;
            double fUp = f.apply(scale(e, 1 + a))[NEXT], fDown = f.apply(scale(e, 1 - a))[NEXT];
            double value = f.apply(e)[NEXT];
            assertEquals((fUp - fDown) / (2 * a), ixg, 1e-4 * (1 + Math.abs(value)), "input × gradient summed");
        }
    }

    static double[][] scale(double[][] e, double a) {
        double[][] out = new double[e.length][];
        for (int t = 0; t < e.length; t++) {
            out[t] = e[t].clone();
            for (int d = 0; d < out[t].length; d++) out[t][d] *= a;
        }
        return out;
    }
}
