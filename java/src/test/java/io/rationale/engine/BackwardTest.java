package io.rationale.engine;

import io.rationale.cpu.Activations;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The whole backward pass on small random models, on every backend that has one ({@link TestBackends}; a backend
 * without a backward pass reports these tests as skipped).
 * <ul>
 * <li>Against central finite differences (double, step 1e-5) of {@link ReferenceLlama}: for GRADIENT the model
 *     itself, for ATTNLRP and CPLRP its rule surrogate (the rules' constants frozen at the input, gradient scalings
 *     as mixtures, see {@link ReferenceLlama#surrogate}), for every target kind, on a subset of coordinates (every
 *     token, 6 dimensions each, plus the whole last token). Tolerance: every coordinate within
 *     1e-3·max|g| + 1e-5 of the FD value, max over the engine's whole gradient.</li>
 * <li>Every backend against the CPU engine on the same models, inputs and rule modes ({@link #everyBackendEqualsTheCpu}).</li>
 * <li>Batches: the packed backward equals per-sequence backward passes (within 1e-5·max|g|: the matmul kernels
 *     differ with the token count); LAST and ALL records give the same gradient (same bound); recompute and full
 *     records give the same gradients, and forwardEmbeddings with the token embeddings the same logits and gradients
 *     as forward with the ids, within 1e-6·max|value| (the computations are the same, but the Vector API's EXP and
 *     lane reductions may round differently before and after the JIT compiles them, so two identical calls are
 *     bitwise equal only once warm); backward leaves the record untouched.</li>
 * </ul>
 */
class BackwardTest {
    static final String GQA_LLAMA3 = """
            {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":72,"num_hidden_layers":2,
             "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":41,"rms_norm_eps":1e-5,
             "rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,
             "high_freq_factor":4.0,"original_max_position_embeddings":256},"tie_word_embeddings":false}""";
    static final String QWEN2_WINDOW = """
            {"architectures":["Qwen2ForCausalLM"],"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":37,"rms_norm_eps":1e-6,
             "rope_theta":1000000.0,"use_sliding_window":true,"sliding_window":3,"max_window_layers":0,"tie_word_embeddings":false}""";
    static final String MQA_BIASES = """
            {"architectures":["LlamaForCausalLM"],"hidden_size":40,"intermediate_size":36,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":1,"head_dim":12,"vocab_size":30,"rms_norm_eps":1e-6,
             "rope_theta":10000.0,"attention_bias":true,"mlp_bias":true,"tie_word_embeddings":true}""";

    record Case(String name, String json, DType dt, int tokens) {
        @Override
        public String toString() { return name; }
    }

    static final List<Case> MODELS = List.of(
            new Case("Llama GQA 6/2, llama3 rope, untied, f32, 9 tokens", GQA_LLAMA3, DType.F32, 9),
            new Case("Qwen2 qkv biases, sliding window 3, f32, 7 tokens", QWEN2_WINDOW, DType.F32, 7),
            new Case("Llama MQA, head_dim 12, attention+mlp biases, tied, bf16, 6 tokens", MQA_BIASES, DType.BF16, 6));

    static Stream<Arguments> fdCases() {
        List<Arguments> out = new ArrayList<>();
        for (String device : TestBackends.devices())
            for (Case m : MODELS)
                for (RuleMode mode : RuleMode.values())
                    for (String target : List.of("logit", "logprob", "contrast"))
                        out.add(Arguments.of(device, m, mode, target));
        return out.stream();
    }

    static Stream<Arguments> devicesAndModes() {
        return TestBackends.devices().stream().flatMap(d -> Stream.of(RuleMode.values()).map(m -> Arguments.of(d, m)));
    }

    static List<String> devices() { return TestBackends.devices(); }

    /** Opens {@code device} for the model, skipping the test where that backend has no backward pass. */
    static Backend openWithBackward(Model model, String device) {
        Backend b = TestBackends.open(model, device);
        if (!b.supportsBackward()) {
            b.close();
            assumeTrue(false, device + " has no backward pass yet");
        }
        return b;
    }

    static Target target(String kind, float[] lastLogits) {
        int best = 0, second = -1;
        for (int i = 1; i < lastLogits.length; i++) if (lastLogits[i] > lastLogits[best]) best = i;
        for (int i = 0; i < lastLogits.length; i++) if (i != best && (second < 0 || lastLogits[i] > lastLogits[second])) second = i;
        return switch (kind) {
            case "logit" -> new Target.Logit(best);
            case "logprob" -> new Target.LogProb(second);
            default -> new Target.Contrast(best, second);
        };
    }

    static int[] ids(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
        return ids;
    }

    @ParameterizedTest(name = "{0}: {1}, {2}, {3}")
    @MethodSource("fdCases")
    void backwardMatchesFiniteDifferences(String device, Case m, RuleMode mode, String kind) {
        ModelConfig c = TestModels.config(m.json);
        Map<String, Tensor> w = TestModels.random(c, m.dt, 7, false);
        int[] ids = ids(m.tokens, c.vocabSize(), 3);
        int H = c.hiddenSize(), T = m.tokens;
        try (Backend b = openWithBackward(Model.of(c, w), device)) {
            ForwardRecord rec = b.newRecord(false);
            b.forward(List.of(ids), null, LogitsMode.LAST, rec);
            Target target = target(kind, rec.lastLogits(0));
            float[] g = b.backward(rec, List.of(target), mode)[0];

            ReferenceLlama ref = new ReferenceLlama(c, w);
            double[][] e = ref.embed(ids);
            Function<double[][], double[]> f = ref.surrogate(e, mode);
            double max = 0;
            for (float x : g) max = Math.max(max, Math.abs(x));
            assertTrue(max > 0, "gradient is all zero");
            double tol = 1e-3 * max + 1e-5;
            Random r = new Random(5);
            List<int[]> coords = new ArrayList<>();
            for (int t = 0; t < T; t++) for (int k = 0; k < 6; k++) coords.add(new int[]{t, r.nextInt(H)});
            for (int d = 0; d < H; d++) coords.add(new int[]{T - 1, d});
            double h = 1e-5;
            for (int[] tc : coords) {
                int t = tc[0], d = tc[1];
                double e0 = e[t][d];
                e[t][d] = e0 + h;
                double up = value(target, f.apply(e));
                e[t][d] = e0 - h;
                double down = value(target, f.apply(e));
                e[t][d] = e0;
                double fd = (up - down) / (2 * h), got = g[t * H + d];
                assertTrue(Math.abs(got - fd) <= tol, () -> m + " " + mode + " " + target + ": d/d e[" + t + "][" + d + "] is " + got
                        + ", finite differences " + fd + " (tolerance " + tol + ")");
            }
        }
    }

    /** The target's value from double logits (as Target does from floats, without rounding them). */
    static double value(Target t, double[] l) {
        return switch (t) {
            case Target.Logit x -> l[x.tokenId()];
            case Target.Contrast x -> l[x.tokenId()] - l[x.foilId()];
            case Target.LogProb x -> {
                double max = Double.NEGATIVE_INFINITY, s = 0;
                for (double v : l) max = Math.max(max, v);
                for (double v : l) s += Math.exp(v - max);
                yield l[x.tokenId()] - max - Math.log(s);
            }
        };
    }

    /**
     * Every backend against the CPU engine on the same model and input, every rule mode, a packed batch of three
     * sequences (one over 8 tokens, so the device's wide-pass path runs too): the gradient (or modified gradient) of
     * the input embeddings within 1e-4·max|g| for f32 weights (measured on the emulated device: 8.3e-7) and 3e-2·max|g|
     * for bf16 (the device rounds a wide GEMM's input to bf16 as PyTorch does, the CPU stays f32; measured 8.3e-3).
     */
    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("devicesAndModes")
    void everyBackendEqualsTheCpu(String device, RuleMode mode) {
        for (Case m : MODELS) {
            ModelConfig c = TestModels.config(m.json);
            Model model = Model.of(c, TestModels.random(c, m.dt, 12, false));
            List<int[]> seqs = List.of(ids(m.tokens, c.vocabSize(), 21), ids(13, c.vocabSize(), 22), ids(2, c.vocabSize(), 23));
            List<Target> targets = List.of(new Target.Logit(1), new Target.LogProb(2), new Target.Contrast(3, 4));
            float[][] want, got;
            try (Backend cpu = TestBackends.open(model, "cpu")) {
                ForwardRecord r = cpu.newRecord(false);
                cpu.forward(seqs, null, LogitsMode.LAST, r);
                want = cpu.backward(r, targets, mode);
            }
            try (Backend b = openWithBackward(model, device)) {
                ForwardRecord r = b.newRecord(false);
                b.forward(seqs, null, LogitsMode.LAST, r);
                got = b.backward(r, targets, mode);
                r.close();
            }
            double worst = 0;
            for (int s = 0; s < seqs.size(); s++) {
                assertNear(want[s], got[s], m.dt == DType.F32 ? 1e-4 : 3e-2, device + " " + m + " " + mode + " sequence " + s);
                float max = maxAbs(want[s]);
                for (int i = 0; i < want[s].length; i++) worst = Math.max(worst, Math.abs(want[s][i] - got[s][i]) / max);
            }
            System.out.printf("[backward vs cpu] %s %s %s: worst |diff| %.2g of max|g|%n", device, m, mode, worst);
        }
    }

    // ---------------------------------------------------------------- batches, records, embeddings

    static float maxAbs(float[] a) {
        float m = 0;
        for (float x : a) m = Math.max(m, Math.abs(x));
        return m;
    }

    static void assertNear(float[] want, float[] got, double rel, String what) {
        assertEquals(want.length, got.length, what + ": length");
        double tol = rel * maxAbs(want);
        for (int i = 0; i < want.length; i++) {
            int idx = i;
            assertTrue(Math.abs(want[i] - got[i]) <= tol, () -> what + ": element " + idx + " is " + got[idx] + ", expected " + want[idx]);
        }
    }

    @ParameterizedTest
    @MethodSource("devicesAndModes")
    void packedBatchEqualsOneSequenceAtATime(String device, RuleMode mode) {
        for (String json : List.of(GQA_LLAMA3, QWEN2_WINDOW)) {
            ModelConfig c = TestModels.config(json);
            try (Backend b = openWithBackward(Model.of(c, TestModels.random(c, DType.F32, 8, false)), device)) {
                List<int[]> seqs = List.of(ids(5, c.vocabSize(), 1), ids(11, c.vocabSize(), 2), ids(3, c.vocabSize(), 3));
                ForwardRecord batch = b.newRecord(false);
                b.forward(seqs, null, LogitsMode.LAST, batch);
                List<Target> targets = List.of(new Target.Logit(1), new Target.LogProb(2), new Target.Contrast(3, 4));
                float[][] packed = b.backward(batch, targets, mode);
                ForwardRecord all = b.newRecord(false);
                b.forward(seqs, null, LogitsMode.ALL, all);
                float[][] fromAll = b.backward(all, targets, mode);
                for (int s = 0; s < seqs.size(); s++) {
                    ForwardRecord one = b.newRecord(false);
                    b.forward(List.of(seqs.get(s)), null, LogitsMode.LAST, one);
                    float[] alone = b.backward(one, List.of(targets.get(s)), mode)[0];
                    assertEquals(seqs.get(s).length * c.hiddenSize(), packed[s].length);
                    assertNear(alone, packed[s], 1e-5, mode + " sequence " + s + " packed vs alone");
                    assertNear(packed[s], fromAll[s], 1e-5, mode + " sequence " + s + " LAST vs ALL record");
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devicesAndModes")
    void recomputeGivesBitwiseTheSameGradientsAndTheStatedMemory(String device, RuleMode mode) {
        ModelConfig c = TestModels.config(GQA_LLAMA3);
        try (Backend b = openWithBackward(Model.of(c, TestModels.random(c, DType.BF16, 9, false)), device)) {
            List<int[]> seqs = List.of(ids(70, c.vocabSize(), 4), ids(6, c.vocabSize(), 5));   // 70: two KV blocks
            List<Target> targets = List.of(new Target.LogProb(3), new Target.Logit(7));
            for (LogitsMode lm : List.of(LogitsMode.LAST, LogitsMode.ALL)) {
                ForwardRecord full = b.newRecord(true, false), light = b.newRecord(true, true);
                Logits l1 = b.forward(seqs, null, lm, full);
                Logits l2 = b.forward(seqs, null, lm, light);
                assertNear(l1.data(), l2.data(), 1e-6, "logits");
                float[][] g1 = b.backward(full, targets, mode), g2 = b.backward(light, targets, mode);
                for (int s = 0; s < seqs.size(); s++) assertNear(g1[s], g2[s], 1e-6, mode + " " + lm + " sequence " + s);

                if (!device.equals("cpu")) continue;         // the sizes below are the CPU record's layout
                int n = 76, S = 2, L = c.numLayers(), H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize();
                int r = lm == LogitsMode.LAST ? S : n;
                long ints = 4L * (2 * n + S + 1 + r);             // seqStart, positions, tokens, logitRows
                long probs = 4L * L * c.numHeads() * (70L * 70 + 6 * 6);
                long common = 4L * (r * (H + 1) + (long) n * c.headDim() + (long) S * c.vocabSize()) + probs + ints;
                assertEquals(4L * L * n * (2L * H + Q + 2 * K + 2 * I + 2) + common, full.bytes(), "full record bytes");
                assertEquals(4L * L * n * H + common, light.bytes(), "recompute record bytes");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void forwardFromEmbeddingsEqualsForwardFromIds(String device) {
        ModelConfig c = TestModels.config(QWEN2_WINDOW);
        Map<String, Tensor> w = TestModels.random(c, DType.BF16, 10, false);
        try (Backend b = TestBackends.open(Model.of(c, w), device)) {
            List<int[]> seqs = List.of(ids(9, c.vocabSize(), 6), ids(4, c.vocabSize(), 7));
            List<float[]> emb = new ArrayList<>();
            Tensor table = b.model().embedTokens();
            for (int[] s : seqs) {
                float[] e = new float[s.length * c.hiddenSize()];
                for (int t = 0; t < s.length; t++) table.toFloat((long) s[t] * c.hiddenSize(), e, t * c.hiddenSize(), c.hiddenSize());
                emb.add(e);
            }
            for (LogitsMode lm : LogitsMode.values()) {
                ForwardRecord r1 = b.newRecord(false), r2 = b.newRecord(false);
                Logits a = b.forward(seqs, null, lm, r1), e = b.forwardEmbeddings(emb, lm, r2);
                assertNear(a.data(), e.data(), 1e-6, lm.toString());
                for (int s = 0; s < 2; s++) assertArrayEquals(r1.embeddings(s), r2.embeddings(s));
                assertArrayEquals(emb.get(1), r2.embeddings(1));
                if (lm == LogitsMode.NONE || !b.supportsBackward()) continue;
                List<Target> t = List.of(new Target.Logit(0), new Target.Contrast(1, 2));
                float[][] g1 = b.backward(r1, t, RuleMode.ATTNLRP), g2 = b.backward(r2, t, RuleMode.ATTNLRP);
                for (int s = 0; s < 2; s++) assertNear(g1[s], g2[s], 1e-6, "gradient from embeddings, sequence " + s);
            }
            assertThrows(IllegalArgumentException.class, () -> b.forwardEmbeddings(List.of(new float[c.hiddenSize() + 1]), LogitsMode.LAST, null));
            assertThrows(IllegalArgumentException.class, () -> b.forwardEmbeddings(List.of(new float[0]), LogitsMode.LAST, null));
        }
    }

    /** On the CPU, whose record's arrays the fingerprint reads. */
    @Test
    void backwardLeavesTheRecordUntouchedAndRefusesWhatItCannotDo() {
        ModelConfig c = TestModels.config(GQA_LLAMA3);
        try (Backend b = TestBackends.open(Model.of(c, TestModels.random(c, DType.F32, 11, false)), "cpu")) {
            for (boolean recompute : new boolean[]{false, true}) {
                Activations rec = (Activations) b.newRecord(false, recompute);
                b.forward(List.of(ids(10, c.vocabSize(), 8)), null, LogitsMode.LAST, rec);
                long before = fingerprint(rec);
                float[] first = b.backward(rec, List.of(new Target.Logit(5)), RuleMode.GRADIENT)[0];
                b.backward(rec, List.of(new Target.LogProb(6)), RuleMode.ATTNLRP);
                b.backward(rec, List.of(new Target.Contrast(6, 7)), RuleMode.CPLRP);
                assertEquals(before, fingerprint(rec), "record changed");
                assertNear(first, b.backward(rec, List.of(new Target.Logit(5)), RuleMode.GRADIENT)[0], 1e-6, "second call");
                assertThrows(IllegalArgumentException.class, () -> b.backward(rec, List.of(), RuleMode.GRADIENT));
                assertThrows(IllegalArgumentException.class, () -> b.backward(rec, List.of(new Target.Logit(c.vocabSize())), RuleMode.GRADIENT));
            }
            ForwardRecord none = b.newRecord(false);
            b.forward(List.of(ids(4, c.vocabSize(), 9)), null, LogitsMode.NONE, none);
            assertThrows(IllegalArgumentException.class, () -> b.backward(none, List.of(new Target.Logit(0)), RuleMode.GRADIENT));
            KvCache cache = b.newCache();
            b.forward(new int[]{1, 2}, cache, LogitsMode.NONE);
            ForwardRecord cached = b.newRecord(false);
            b.forward(List.of(new int[]{3, 4}), Arrays.asList(cache), LogitsMode.LAST, cached);
            // a record after a cached prefix is read (its rows only; equality with the whole record: PrefixRecordTest)
            assertEquals(2, cached.prefixLength(0));
            assertEquals(2 * c.hiddenSize(), b.backward(cached, List.of(new Target.Logit(0)), RuleMode.GRADIENT)[0].length);
        }
    }

    /** A hash of every array of the record. */
    static long fingerprint(Activations r) {
        long h = Arrays.hashCode(r.seqStart) * 31L + Arrays.hashCode(r.positions);
        h = h * 31 + Arrays.hashCode(r.tokens) + 7L * Arrays.hashCode(r.embeddings);
        h = h * 31 + Arrays.hashCode(r.finalNormInput) + Arrays.hashCode(r.finalInvRms) + Arrays.hashCode(r.logitRows);
        for (float[] l : r.lastLogits) h = h * 31 + Arrays.hashCode(l);
        for (Activations.Layer l : r.layers) {
            for (float[] a : new float[][]{l.input, l.attnInvRms, l.q, l.k, l.v, l.ropeCos, l.ropeSin, l.mid, l.mlpInvRms, l.gate, l.up})
                h = h * 31 + Arrays.hashCode(a);
        }
        return h;
    }
}
