package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * PE-LRP's positional relevance ({@link Backend#backwardWithPositions}) on whole small models, on every backend that
 * has it (the others must refuse with an {@link UnsupportedOperationException}):
 * <ul>
 * <li>each layer's and token's cos and sin relevance against central finite differences (double, step 1e-5) of
 *     {@link ReferenceLlama#positionSurrogate} by a scaling of that cos (sin) row — the relevance of a factor is
 *     {@code factor · ∂f̃/∂factor}, summed over the row; tolerance 1e-3·max|R| + 1e-6 (the gradients at the
 *     embeddings are checked the same way by {@code BackwardTest} for {@link RuleMode#PE_LRP});</li>
 * <li>conservation on a one-layer model without biases: PE-LRP moves relevance from the token path into the
 *     position factors without creating or losing any, so Σ token relevance + Σ signed positional relevance equals
 *     AttnLRP's Σ token relevance (every other rule is the same, and q, k's projections and the norm's identity rule
 *     conserve exactly); tolerance 1e-4 of Σ|R| (f32 sums);</li>
 * <li>a packed batch equals each sequence alone (1e-5 of the largest value).</li>
 * </ul>
 */
class PeLrpTest {
    static final String ONE_LAYER = """
            {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":64,"num_hidden_layers":1,
             "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":43,"rms_norm_eps":1e-5,
             "rope_theta":10000.0,"tie_word_embeddings":false}""";

    static Stream<Arguments> fdCases() {
        List<Arguments> out = new ArrayList<>();
        for (String d : TestBackends.devices())
            for (String json : List.of(BackwardTest.GQA_LLAMA3, BackwardTest.QWEN2_WINDOW))
                for (boolean recompute : new boolean[]{false, true}) out.add(Arguments.of(d, json, recompute));
        return out.stream();
    }

    static List<String> devices() { return TestBackends.devices(); }

    static Backend openWithPositions(Model m, String device) {
        Backend b = TestBackends.open(m, device);
        if (!b.supportsPositionalRelevance()) {
            ForwardRecord rec = b.newRecord(false);
            b.forward(List.of(new int[]{1, 2, 3}), null, LogitsMode.LAST, rec);
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> b.backwardWithPositions(rec, List.of(new Target.Logit(0)), RuleMode.PE_LRP));
            assertTrue(e.getMessage().contains("pe_lrp") && e.getMessage().contains("--device cpu"), e.getMessage());
            b.close();
            assumeTrue(false, device + " has no positional relevance (it refuses with one line)");
        }
        return b;
    }

    @ParameterizedTest(name = "{0}: {1}, recompute {2}")
    @MethodSource("fdCases")
    void positionalRelevanceMatchesFiniteDifferencesOfTheSurrogate(String device, String json, boolean recompute) {
        ModelConfig c = TestModels.config(json);
        Map<String, Tensor> w = TestModels.random(c, DType.F32, 31, false);
        int[] ids = BackwardTest.ids(7, c.vocabSize(), 13);
        int T = ids.length, L = c.numLayers();
        try (Backend b = openWithPositions(Model.of(c, w), device)) {
            ForwardRecord rec = b.newRecord(false, recompute);
            b.forward(List.of(ids), null, LogitsMode.LAST, rec);
            Target target = BackwardTest.target("logit", rec.lastLogits(0));
            PositionalBackward pb = b.backwardWithPositions(rec, List.of(target), RuleMode.PE_LRP);
            assertEquals(L, pb.cos()[0].length);
            // the gradients are those of the plain backward in the same mode
            BackwardTest.assertNear(b.backward(rec, List.of(target), RuleMode.PE_LRP)[0], pb.gradients()[0], 1e-6, "gradients");

            ReferenceLlama ref = new ReferenceLlama(c, w);
            BiFunction<double[][], double[][], double[]> f = ref.positionSurrogate(ref.embed(ids), RuleMode.PE_LRP);
            double max = 0;
            for (int l = 0; l < L; l++) for (int t = 0; t < T; t++) max = Math.max(max, Math.max(Math.abs(pb.cos()[0][l][t]), Math.abs(pb.sin()[0][l][t])));
            assertTrue(max > 1e-3, "positional relevance is all (nearly) zero: " + max);
            double tol = 1e-3 * max + 1e-6, h = 1e-5;
            for (int which = 0; which < 2; which++)
                for (int l = 0; l < L; l++)
                    for (int t = 0; t < T; t++) {
                        double[][] cs = ones(L, T), ss = ones(L, T), scaled = which == 0 ? cs : ss;
                        scaled[l][t] = 1 + h;
                        double up = BackwardTest.value(target, f.apply(cs, ss));
                        scaled[l][t] = 1 - h;
                        double down = BackwardTest.value(target, f.apply(cs, ss));
                        double fd = (up - down) / (2 * h), got = (which == 0 ? pb.cos() : pb.sin())[0][l][t];
                        String what = (which == 0 ? "cos" : "sin") + " layer " + l + " token " + t;
                        assertTrue(Math.abs(got - fd) <= tol, () -> what + ": " + got + ", finite differences " + fd + " (tolerance " + tol + ")");
                    }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void oneLayerModelConservesWhatAttnLrpSendsIntoQAndK(String device) {
        ModelConfig c = TestModels.config(ONE_LAYER);
        try (Backend b = openWithPositions(Model.of(c, TestModels.random(c, DType.F32, 32, false)), device)) {
            for (LogitsMode lm : List.of(LogitsMode.LAST, LogitsMode.ALL)) {
                int[] ids = BackwardTest.ids(12, c.vocabSize(), 14);
                ForwardRecord rec = b.newRecord(false);
                b.forward(List.of(ids), null, lm, rec);
                Target t = new Target.Logit(3);
                float[] e = rec.embeddings(0);
                double attn = 0, abs = 0;
                float[] ga = b.backward(rec, List.of(t), RuleMode.ATTNLRP)[0];
                for (int i = 0; i < e.length; i++) {
                    attn += (double) e[i] * ga[i];
                    abs += Math.abs((double) e[i] * ga[i]);
                }
                PositionalBackward pb = b.backwardWithPositions(rec, List.of(t), RuleMode.PE_LRP);
                double tok = 0, pos = 0, posAbs = 0;
                for (int i = 0; i < e.length; i++) tok += (double) e[i] * pb.gradients()[0][i];
                for (int k = 0; k < ids.length; k++) {
                    pos += pb.cos()[0][0][k] + pb.sin()[0][0][k];
                    posAbs += Math.abs(pb.cos()[0][0][k]) + Math.abs(pb.sin()[0][0][k]);
                }
                assertTrue(posAbs > 1e-3 * abs, lm + ": the positions get next to nothing (" + posAbs + " of " + abs + ")");
                assertTrue(Math.abs(tok - attn) > 1e-3 * abs, lm + ": the token relevance did not change");
                assertEquals(attn, tok + pos, 1e-4 * abs, lm + ": Σ token + Σ positional (PE-LRP) against Σ token (AttnLRP)");
                double[] scores = pb.positionalScores(0);
                for (int k = 0; k < ids.length; k++)
                    assertEquals(Math.abs(pb.cos()[0][0][k]) + Math.abs(pb.sin()[0][0][k]), scores[k], 1e-12, "positional score " + k);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void packedBatchEqualsEachSequenceAloneAndOtherModesAreRefused(String device) {
        ModelConfig c = TestModels.config(BackwardTest.GQA_LLAMA3);
        try (Backend b = openWithPositions(Model.of(c, TestModels.random(c, DType.F32, 33, false)), device)) {
            List<int[]> seqs = List.of(BackwardTest.ids(5, c.vocabSize(), 1), BackwardTest.ids(9, c.vocabSize(), 2));
            List<Target> targets = List.of(new Target.Logit(1), new Target.Logit(2));
            ForwardRecord batch = b.newRecord(false);
            b.forward(seqs, null, LogitsMode.LAST, batch);
            PositionalBackward all = b.backwardWithPositions(batch, targets, RuleMode.PE_LRP);
            for (int s = 0; s < seqs.size(); s++) {
                ForwardRecord one = b.newRecord(false);
                b.forward(List.of(seqs.get(s)), null, LogitsMode.LAST, one);
                PositionalBackward alone = b.backwardWithPositions(one, List.of(targets.get(s)), RuleMode.PE_LRP);
                for (int l = 0; l < c.numLayers(); l++) {
                    assertEquals(seqs.get(s).length, all.cos()[s][l].length);
                    assertNearD(alone.cos()[0][l], all.cos()[s][l], "cos, sequence " + s + " layer " + l);
                    assertNearD(alone.sin()[0][l], all.sin()[s][l], "sin, sequence " + s + " layer " + l);
                }
            }
            for (RuleMode m : List.of(RuleMode.GRADIENT, RuleMode.ATTNLRP, RuleMode.CPLRP)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.backwardWithPositions(batch, targets, m));
                assertTrue(e.getMessage().contains(m.cliName()), e.getMessage());
            }
        }
    }

    static void assertNearD(double[] want, double[] got, String what) {
        double max = 0;
        for (double v : want) max = Math.max(max, Math.abs(v));
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 * max + 1e-12, what + " token " + i);
    }

    static double[][] ones(int a, int b) {
        double[][] o = new double[a][b];
        for (double[] r : o) java.util.Arrays.fill(r, 1);
        return o;
    }
}
