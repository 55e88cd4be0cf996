package io.rationale.engine;

import io.rationale.engine.AttentionIntervention.KeyBias;
import io.rationale.engine.AttentionIntervention.Site;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attention intervention of {@link ForwardOptions}, on every backend ({@link TestBackends}), against
 * {@link ReferenceLlama}'s independent reading of its definition (full T×T scores in double): pre-softmax, post-softmax
 * causal and post-softmax non-causal (the Faithfulness Serum authors' operator), with head subsets, query thresholds,
 * layer subsets, GQA and a sliding window. Tolerance: {@link TestBackends#logitTolerance} × max(1, largest |logit|).
 * Then properties of the engine alone: causal interventions give the same logits in a chunked prefill and in
 * decoding as in one forward, per-sequence biases in a batch equal one-by-one forwards, zero biases change nothing,
 * a bias that matters changes the logits, and bad interventions are refused.
 */
class AttentionInterventionTest {
    static final String GQA = """
            {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":64,"num_hidden_layers":3,
             "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":53,"rms_norm_eps":1e-5,
             "rope_theta":10000.0,"tie_word_embeddings":false}""";
    static final String WINDOW = """
            {"architectures":["MistralForCausalLM"],"hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":41,"rms_norm_eps":1e-5,
             "rope_theta":10000.0,"sliding_window":5,"tie_word_embeddings":false}""";

    record Case(String name, String json, AttentionIntervention iv, int tokens) {
        @Override
        public String toString() { return name; }
    }

    static KeyBias bias(int fromQuery, int... posThenValueTimes10) {
        int n = posThenValueTimes10.length / 2;
        int[] p = new int[n];
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            p[i] = posThenValueTimes10[2 * i];
            v[i] = posThenValueTimes10[2 * i + 1] / 10f;
        }
        return new KeyBias(p, v, fromQuery);
    }

    static final List<Case> CASES = List.of(
            new Case("pre-softmax, layer 1, all heads", GQA,
                    new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{1}, null, true, List.of(bias(0, 2, 15, 3, -20, 5, 7))), 12),
            new Case("post-softmax causal, heads 1 and 3, rows from 4, layers 0 and 2", GQA,
                    new AttentionIntervention(Site.POST_SOFTMAX, new int[]{0, 2}, new int[]{1, 3}, true, List.of(bias(4, 1, 3, 2, 2, 6, -1, 9, 4))), 12),
            new Case("post-softmax non-causal (the Serum operator in a prefill), every layer", GQA,
                    new AttentionIntervention(Site.POST_SOFTMAX, new int[]{0, 1, 2}, null, false, List.of(bias(0, 3, 2, 4, 2, 5, 2, 6, 2, 11, -3))), 12),
            new Case("post-softmax non-causal, sliding window 5: keys left of the window too", WINDOW,
                    new AttentionIntervention(Site.POST_SOFTMAX, new int[]{1}, null, false, List.of(bias(0, 0, 5, 1, 5, 8, -2))), 11),
            new Case("post-softmax renormalised causal, heads 0 and 4, rows from 3, layer 1", GQA,
                    new AttentionIntervention(Site.POST_SOFTMAX_RENORM, new int[]{1}, new int[]{0, 4}, true, List.of(bias(3, 2, 6, 3, 9, 5, -4, 8, 7))), 12),
            new Case("post-softmax renormalised non-causal, every layer", GQA,
                    new AttentionIntervention(Site.POST_SOFTMAX_RENORM, new int[]{0, 1, 2}, null, false, List.of(bias(0, 3, 4, 4, 4, 5, 4, 6, 4, 11, -3))), 12),
            new Case("post-softmax renormalised non-causal, sliding window 5", WINDOW,
                    new AttentionIntervention(Site.POST_SOFTMAX_RENORM, new int[]{0, 1}, null, false, List.of(bias(0, 0, 8, 1, 8, 8, -2))), 11),
            new Case("pre-softmax, sliding window 5, rows from 6", WINDOW,
                    new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{0, 1}, new int[]{2}, true, List.of(bias(6, 3, 30, 5, 20, 7, -10))), 11));

    static Stream<Arguments> referenceCases() {
        return TestBackends.devices().stream().flatMap(d -> CASES.stream().map(c -> Arguments.of(d, c)));
    }

    static List<String> devices() { return TestBackends.devices(); }

    static int[] ids(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
        return ids;
    }

    static void assertClose(double[] ref, float[] got, double tol, String what) {
        ReferenceComparisonTest.assertClose(ref, got, tol, what);
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("referenceCases")
    void logitsMatchTheReferenceReadingOfTheDefinition(String device, Case k) {
        ModelConfig c = TestModels.config(k.json);
        Map<String, Tensor> w = TestModels.random(c, DType.F32, 21, false);
        int[] ids = ids(k.tokens, c.vocabSize(), 4);
        ReferenceLlama ref = new ReferenceLlama(c, w);
        double[][] plain = ref.logits(ids);
        ref.intervention = k.iv;
        double[][] steered = ref.logits(ids);
        double tol = TestBackends.logitTolerance(device, DType.F32);
        try (Backend b = TestBackends.open(Model.of(c, w), device)) {
            Logits got = b.forward(List.of(ids), null, ForwardOptions.of(LogitsMode.ALL).withIntervention(k.iv));
            for (int t = 0; t < k.tokens; t++) assertClose(steered[t], got.row(0, t), tol, k + ", position " + t);
            // the intervention matters here: the steered reference is far from the plain one at the last position
            double moved = 0;
            for (int v = 0; v < c.vocabSize(); v++) moved = Math.max(moved, Math.abs(steered[k.tokens - 1][v] - plain[k.tokens - 1][v]));
            assertTrue(moved > 100 * tol, k + ": the bias moves the last logits by only " + moved);
            // LAST (the last layer on the last row only) agrees too
            float[] last = b.forward(List.of(ids), null, ForwardOptions.of(LogitsMode.LAST).withIntervention(k.iv)).last(0);
            assertClose(steered[k.tokens - 1], last, tol, k + ", LAST");
        }
    }

    /** Causal interventions see only keys up to each query: a prefill in two chunks and token-by-token decoding equal one forward. */
    @ParameterizedTest
    @MethodSource("devices")
    void causalInterventionsAreTheSameInChunksAndInDecoding(String device) {
        ModelConfig c = TestModels.config(GQA);
        Map<String, Tensor> w = TestModels.random(c, DType.F32, 22, false);
        int[] ids = ids(80, c.vocabSize(), 5);                   // crosses a 64-position cache block
        double tol = TestBackends.logitTolerance(device, DType.F32);
        try (Backend b = TestBackends.open(Model.of(c, w), device)) {
            for (Site site : Site.values()) {
                AttentionIntervention iv = new AttentionIntervention(site, new int[]{1, 2}, new int[]{0, 5}, true,
                        List.of(KeyBias.uniform(10, 30, site == Site.PRE_SOFTMAX ? 2f : 0.05f, 20)));   // renormalised: rows / (1 + up to 1)
                ForwardOptions all = ForwardOptions.of(LogitsMode.ALL).withIntervention(iv);
                Logits whole = b.forward(List.of(ids), null, all);
                try (KvCache cache = b.newCache()) {
                    Logits first = b.forward(List.of(Arrays.copyOf(ids, 25)), List.of(cache), all);
                    Logits second = b.forward(List.of(Arrays.copyOfRange(ids, 25, 70)), List.of(cache), all);
                    for (int t = 0; t < 25; t++) assertClose(toDouble(whole.row(0, t)), first.row(0, t), tol, site + " chunk 1, " + t);
                    for (int t = 25; t < 70; t++) assertClose(toDouble(whole.row(0, t)), second.row(0, t - 25), tol, site + " chunk 2, " + t);
                    for (int t = 70; t < 80; t++) {
                        float[] step = b.forward(List.of(new int[]{ids[t]}), List.of(cache), ForwardOptions.of(LogitsMode.LAST).withIntervention(iv)).last(0);
                        assertClose(toDouble(whole.row(0, t)), step, tol, site + " decode, " + t);
                    }
                }
            }
        }
    }

    /** Per-sequence biases (one sequence without any) in a batch equal each sequence run alone; zero biases are no intervention. */
    @ParameterizedTest
    @MethodSource("devices")
    void perSequenceBiasesInABatchEqualOneByOne(String device) {
        ModelConfig c = TestModels.config(WINDOW);
        Map<String, Tensor> w = TestModels.random(c, DType.F32, 23, false);
        double tol = TestBackends.logitTolerance(device, DType.F32);
        List<int[]> seqs = List.of(ids(9, c.vocabSize(), 1), ids(14, c.vocabSize(), 2), ids(6, c.vocabSize(), 3));
        List<KeyBias> biases = new ArrayList<>(Arrays.asList(bias(0, 1, 10, 4, -5), null, bias(2, 0, 3, 5, 8, 13, 4)));
        AttentionIntervention batch = new AttentionIntervention(Site.POST_SOFTMAX, new int[]{0, 1}, null, false, biases);
        try (Backend b = TestBackends.open(Model.of(c, w), device)) {
            Logits together = b.forward(seqs, null, ForwardOptions.of(LogitsMode.ALL).withIntervention(batch));
            for (int s = 0; s < seqs.size(); s++) {
                ForwardOptions alone = ForwardOptions.of(LogitsMode.ALL);
                if (biases.get(s) != null)
                    alone = alone.withIntervention(new AttentionIntervention(Site.POST_SOFTMAX, new int[]{0, 1}, null, false, List.of(biases.get(s))));
                Logits one = b.forward(List.of(seqs.get(s)), null, alone);
                for (int t = 0; t < seqs.get(s).length; t++)
                    assertClose(toDouble(one.row(0, t)), together.row(s, t), tol, "sequence " + s + " position " + t);
            }
            AttentionIntervention zero = new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{0, 1}, null, true,
                    List.of(KeyBias.uniform(0, 14, 0f, 0)));
            Logits plain = b.forward(seqs, null, ForwardOptions.of(LogitsMode.ALL));
            Logits zeroed = b.forward(seqs, null, ForwardOptions.of(LogitsMode.ALL).withIntervention(zero));
            for (int i = 0; i < plain.data().length; i++) assertEquals(plain.data()[i], zeroed.data()[i], 1e-6 * Math.max(1, Math.abs(plain.data()[i])));
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void steeredGenerationAppliesTheBiasAtEveryStep(String device) {
        ModelConfig c = TestModels.config(GQA);
        Map<String, Tensor> w = TestModels.random(c, DType.F32, 24, false);
        int[] prompt = ids(10, c.vocabSize(), 6);
        AttentionIntervention iv = new AttentionIntervention(Site.POST_SOFTMAX, new int[]{1, 2}, null, true, List.of(KeyBias.uniform(2, 6, 0.3f, 0)));
        try (Backend b = TestBackends.open(Model.of(c, w), device)) {
            Generator.Result steered = new Generator(b).generateBatch(List.of(prompt), List.of(b.newCache()), 8, SamplingParams.greedy(), java.util.Set.of(), iv).get(0);
            // each token is the argmax of a whole steered forward of everything before it
            int[] seq = prompt.clone();
            for (int t : steered.tokens()) {
                assertEquals(b.forward(List.of(seq), null, ForwardOptions.of(LogitsMode.LAST).withIntervention(iv)).argmax(0, 0), t);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = t;
            }
            steered.cache().close();
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void badInterventionsAreRefused(String device) {
        ModelConfig c = TestModels.config(WINDOW);
        try (Backend b = TestBackends.open(Model.of(c, TestModels.random(c, DType.F32, 25, false)), device)) {
            int[] ids = ids(5, c.vocabSize(), 7);
            KeyBias one = bias(0, 1, 10);
            assertThrows(IllegalArgumentException.class, () -> b.forward(List.of(ids), null, ForwardOptions.of(LogitsMode.LAST)
                    .withIntervention(new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{2}, null, true, List.of(one)))), "layer 2 of 2");
            assertThrows(IllegalArgumentException.class, () -> b.forward(List.of(ids), null, ForwardOptions.of(LogitsMode.LAST)
                    .withIntervention(new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{0}, new int[]{4}, true, List.of(one)))), "head 4 of 4");
            assertThrows(IllegalArgumentException.class, () -> b.forward(List.of(ids, ids), null, ForwardOptions.of(LogitsMode.LAST)
                    .withIntervention(new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{0}, null, true, List.of(one, one, one)))), "3 biases, 2 sequences");
            assertThrows(IllegalArgumentException.class, () -> ForwardOptions.of(LogitsMode.LAST).withRecord(b.newRecord(false))
                    .withIntervention(new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{0}, null, true, List.of(one))));
        }
        assertThrows(IllegalArgumentException.class, () -> new AttentionIntervention(Site.PRE_SOFTMAX, new int[]{0}, null, false, List.of(bias(0, 1, 1))));
        assertThrows(IllegalArgumentException.class, () -> new KeyBias(new int[]{3, 3}, new float[]{1, 2}, 0));
        assertThrows(IllegalArgumentException.class, () -> new KeyBias(new int[]{-1}, new float[]{1}, 0));
        assertThrows(IllegalArgumentException.class, () -> new KeyBias(new int[]{1}, new float[]{Float.NaN}, 0));
        assertThrows(IllegalArgumentException.class, () -> new AttentionIntervention(Site.POST_SOFTMAX, new int[]{1, 1}, null, true, List.of(bias(0, 1, 1))));
        // renormalisation divides by 1 + Σ b: negative biases summing to -1 or less are refused, -0.9 is fine
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AttentionIntervention(Site.POST_SOFTMAX_RENORM, new int[]{0}, null, true, List.of(bias(0, 1, -6, 2, -4, 3, 20))));
        assertTrue(e.getMessage().contains("sequence 0") && e.getMessage().contains("-1.0"), e.getMessage());
        new AttentionIntervention(Site.POST_SOFTMAX_RENORM, new int[]{0}, null, true, List.of(bias(0, 1, -6, 2, -3, 3, 20)));
    }
}
