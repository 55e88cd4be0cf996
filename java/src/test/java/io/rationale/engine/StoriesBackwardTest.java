package io.rationale.engine;

import io.rationale.weights.Checkpoint;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The backward pass on the real stories260K checkpoint, prompt [1, 403, 407, 261, 378], target = its greedy next
 * token 432, on every backend that has a backward pass ({@link TestBackends}).
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
    static final Map<String, Backend> BACKENDS = new LinkedHashMap<>();

    static List<String> devices() { return TestBackends.devices(); }

    @BeforeAll
    static void load() {
        model = Model.load(StoriesReferenceTest.DIR);
        for (String d : devices()) BACKENDS.put(d, TestBackends.open(model, d));
    }

    @AfterAll
    static void close() {
        BACKENDS.values().forEach(Backend::close);
        model.close();
    }

    static Backend withBackward(String device) {
        Backend b = BACKENDS.get(device);
        assumeTrue(b.supportsBackward(), device + " has no backward pass yet");
        return b;
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

    @ParameterizedTest
    @MethodSource("devices")
    void attnLrpRelevanceDoesNotDependOnTheBatch(String device) {
        Backend backend = withBackward(device);
        int H = model.config().hiddenSize();
        ForwardRecord alone = backend.newRecord(false);
        Logits l = backend.forward(List.of(PROMPT), null, LogitsMode.LAST, alone);
        assertEquals(NEXT, l.argmax(0, 0));
        float[] g = backend.backward(alone, List.of(new Target.Logit(NEXT)), RuleMode.ATTNLRP)[0];
        float[] rAlone = relevance(alone.embeddings(0), g, H);

        int[] before = {1, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130}, after = {1, 7, 8};
        ForwardRecord packed = backend.newRecord(true, true);
        backend.forward(List.of(before, PROMPT, after), null, LogitsMode.ALL, packed);
        float[][] gs = backend.backward(packed, List.of(new Target.LogProb(5), new Target.Logit(NEXT), new Target.Contrast(9, 10)), RuleMode.ATTNLRP);
        float[] e = packed.embeddings(1);
        float[] rPacked = relevance(e, gs[1], H);

        float max = 0;
        for (float x : rAlone) max = Math.max(max, Math.abs(x));
        assertTrue(max > 0);
        for (int t = 0; t < PROMPT.length; t++) {
            assertTrue(Float.isFinite(rAlone[t]) && rAlone[t] != 0, "relevance of token " + t);
            assertEquals(rAlone[t], rPacked[t], 1e-5 * max, "token " + t + " alone vs packed");
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void gradientAgreesWithTheDoubleReference(String device) {
        Backend backend = withBackward(device);
        var c = model.config();
        int H = c.hiddenSize();
        Map<String, Tensor> w = new LinkedHashMap<>();
        try (Checkpoint ckpt = Checkpoint.open(StoriesReferenceTest.DIR)) {
            for (String name : c.expectedTensors().keySet()) w.put(name, ckpt.tensor(name));
            ForwardRecord rec = backend.newRecord(false);
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
            float[] emb = rec.embeddings(0);
            for (int i = 0; i < g.length; i++) ixg += (double) emb[i] * g[i];
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
