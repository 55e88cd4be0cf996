package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A record that starts after a cached prefix ({@link Backend#supportsPrefixRecord}): the backward's rows equal the
 * same rows of the whole sequence's record, on every backend that supports it (the others must say they do not).
 * Expected values come from the independent path, the full record's backward from position 0. Cases: every rule
 * mode, full and checkpointed records, {@link LogitsMode#LAST} (the last layer's reduced record) and ALL, a prefix of
 * 70 positions (one full cache block shared by the fork, one partly filled copied), a packed batch mixing a sequence
 * after a prefix with one from position 0; models: stories260K, a GQA 6/2 llama3-RoPE model, a Qwen2 model with a
 * sliding window of 8 (the window crosses the prefix boundary) and attention biases. PE-LRP's positional relevance
 * rows are compared too. Tolerance: every value within 1e-5·max|full row value| (the two forwards run the same
 * kernels on different row counts, so sums may round differently; measured differences are ~1e-7 relative).
 */
class PrefixRecordTest {
    static final String QWEN2_WINDOW8 = """
            {"architectures":["Qwen2ForCausalLM"],"hidden_size":32,"intermediate_size":64,"num_hidden_layers":3,
             "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":37,"rms_norm_eps":1e-6,
             "rope_theta":1000000.0,"use_sliding_window":true,"sliding_window":8,"max_window_layers":0,
             "tie_word_embeddings":false}""";
    static final double TOL = 1e-5;
    static final int PREFIX = 70, REST = 11;

    static final Map<String, Model> MODELS = new LinkedHashMap<>();

    @BeforeAll
    static void models() {
        MODELS.put("stories260K", Model.load(StoriesReferenceTest.DIR));
        ModelConfig gqa = TestModels.config(BackwardTest.GQA_LLAMA3);
        MODELS.put("gqa-llama3", Model.of(gqa, TestModels.random(gqa, DType.F32, 31, false)));
        ModelConfig win = TestModels.config(QWEN2_WINDOW8);
        MODELS.put("qwen2-window8", Model.of(win, TestModels.random(win, DType.F32, 32, false)));
    }

    @AfterAll
    static void close() { MODELS.values().forEach(Model::close); }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String device : TestBackends.devices())
            for (String model : List.of("stories260K", "gqa-llama3", "qwen2-window8"))
                for (RuleMode mode : RuleMode.values())
                    out.add(Arguments.of(device, model, mode));
        return out.stream();
    }

    static int[] ids(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = 1 + r.nextInt(vocab - 1);
        return out;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void prefixRecordRowsEqualTheFullRecordRows(String device, String modelName, RuleMode mode) {
        Model model = MODELS.get(modelName);
        int V = model.config().vocabSize(), H = model.config().hiddenSize();
        int[] a = ids(PREFIX + REST, V, 7), b = ids(23, V, 8);      // a: after a prefix; b: from position 0 in the same batch
        int[] prefix = Arrays.copyOf(a, PREFIX), rest = Arrays.copyOfRange(a, PREFIX, a.length);
        try (Backend be = TestBackends.open(model, device)) {
            assumeTrue(be.supportsBackward(), device + " has no backward pass");
            assumeTrue(be.supportsPrefixRecord(), device + " does not record after a cached prefix (callers record the whole sequence)");
            for (boolean recompute : new boolean[]{false, true})
                for (LogitsMode logits : List.of(LogitsMode.LAST, LogitsMode.ALL)) {
                    String what = mode + (recompute ? " checkpointed" : " full") + " " + logits;
                    // the independent path: each sequence's own whole record
                    float[] fa, fb;
                    Target ta, tb;
                    PositionalBackward pa = null;
                    try (ForwardRecord r = be.newRecord(false, recompute)) {
                        be.forward(List.of(a), null, logits, r);
                        ta = new Target.LogProb(argmax(r.lastLogits(0)));
                        fa = be.backward(r, List.of(ta), mode)[0];
                        if (mode.rules().positionalRelevance() && be.supportsPositionalRelevance())
                            pa = be.backwardWithPositions(r, List.of(ta), mode);
                    }
                    try (ForwardRecord r = be.newRecord(false, recompute)) {
                        be.forward(List.of(b), null, logits, r);
                        tb = new Target.Logit(argmax(r.lastLogits(0)));
                        fb = be.backward(r, List.of(tb), mode)[0];
                    }
                    // the prefix path: a's prefix prefilled once, its fork run with the rest, packed with b
                    try (KvCache cache = be.newCache(); ForwardRecord r = be.newRecord(false, recompute)) {
                        be.forward(List.of(prefix), List.of(cache), ForwardOptions.of(LogitsMode.NONE));
                        KvCache fork = cache.fork();
                        be.forward(List.of(rest, b), Arrays.asList(fork, null), logits, r);
                        assertEquals(PREFIX, r.prefixLength(0), what);
                        assertEquals(0, r.prefixLength(1), what);
                        assertEquals(REST, r.sequenceLength(0), what);
                        float[][] g = be.backward(r, List.of(ta, tb), mode);
                        assertEquals(REST * H, g[0].length, what);
                        assertClose(Arrays.copyOfRange(fa, PREFIX * H, fa.length), g[0], what + " rows after the prefix");
                        assertClose(fb, g[1], what + " sequence from position 0 in the same batch");
                        // the record's embeddings are those of the rows it ran: input × gradient needs nothing else
                        float[] full = new float[0];
                        try (ForwardRecord r2 = be.newRecord(false)) {
                            be.forward(List.of(a), null, LogitsMode.LAST, r2);
                            full = r2.embeddings(0);
                        }
                        assertClose(Arrays.copyOfRange(full, PREFIX * H, full.length), r.embeddings(0), what + " embeddings");
                        if (pa != null) {
                            PositionalBackward pp = be.backwardWithPositions(r, List.of(ta, tb), mode);
                            for (int l = 0; l < model.numLayers(); l++) {
                                double[] fc = Arrays.copyOfRange(pa.cos()[0][l], PREFIX, PREFIX + REST);
                                double[] fs = Arrays.copyOfRange(pa.sin()[0][l], PREFIX, PREFIX + REST);
                                assertClose(fc, pp.cos()[0][l], what + " positional cos, layer " + l);
                                assertClose(fs, pp.sin()[0][l], what + " positional sin, layer " + l);
                            }
                        }
                        fork.close();
                    }
                }
        }
    }

    @Test
    void backendsWithoutPrefixRecordsRefuseThemInsteadOfMisreading() {
        Model model = MODELS.get("gqa-llama3");
        int[] a = ids(PREFIX + REST, model.config().vocabSize(), 9);
        for (String device : TestBackends.devices())
            try (Backend be = TestBackends.open(model, device)) {
                if (device.equals("cpu")) assertTrue(be.supportsPrefixRecord(), "the CPU backend records after a cached prefix");
                if (be.supportsPrefixRecord() || !be.supportsBackward()) continue;
                try (KvCache cache = be.newCache(); ForwardRecord r = be.newRecord(false)) {
                    be.forward(List.of(Arrays.copyOf(a, PREFIX)), List.of(cache), ForwardOptions.of(LogitsMode.NONE));
                    be.forward(List.of(Arrays.copyOfRange(a, PREFIX, a.length)), List.of(cache), LogitsMode.LAST, r);
                    assertThrows(IllegalArgumentException.class, () -> be.backward(r, List.of(new Target.Logit(0)), RuleMode.GRADIENT), device);
                }
            }
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double max = 0, diff = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i]));
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(max > 0, what + ": all zero");
        assertTrue(diff <= TOL * max, what + ": max |diff| " + diff + " > " + TOL + " · " + max);
    }

    static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double max = 0, diff = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i]));
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(diff <= TOL * Math.max(max, 1e-30), what + ": max |diff| " + diff + " > " + TOL + " · " + max);
    }
}
