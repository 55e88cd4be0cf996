package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * KV cache and batching, on every backend ({@link TestBackends}): incremental decoding, forked prefixes, packed
 * batches of different lengths and HF-style padded batches all give the logits of one plain prefill of each
 * sequence. Different batch shapes take different f32 summation orders, so logits agree to
 * {@link #tolerance} × max(1, largest |logit|) rather than bit for bit: 1e-5 on the CPU; on the CUDA backend a
 * prefill rounds GEMM inputs to the weights' dtype (bf16 here) while a decode of a few rows keeps them in f32, so
 * there the bf16 model agrees to its {@link TestBackends#logitTolerance} and the f32 one to 1e-5.
 */
class KvCacheAndBatchTest {
    static ModelConfig config;
    static final java.util.Map<String, Backend> BACKENDS = new java.util.LinkedHashMap<>(), WINDOWED = new java.util.LinkedHashMap<>();
    static final Random RND = new Random(11);

    static List<String> devices() { return TestBackends.devices(); }

    static double tolerance(String device, Backend b) {
        return device.equals("cpu") || b.model().weightDtype() == DType.F32 ? 1e-5 : TestBackends.logitTolerance(device, b.model().weightDtype());
    }

    @BeforeAll
    static void setUp() {
        config = TestModels.config("""
                {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":100,"num_hidden_layers":2,
                 "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":57,"rms_norm_eps":1e-5,
                 "rope_theta":10000.0,"tie_word_embeddings":false}""");
        Model bf16 = Model.of(config, TestModels.random(config, DType.BF16, 5, false));
        ModelConfig wc = TestModels.config("""
                {"architectures":["MistralForCausalLM"],"hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,
                 "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":41,"rms_norm_eps":1e-5,
                 "rope_theta":10000.0,"sliding_window":7,"tie_word_embeddings":false}""");
        Model f32 = Model.of(wc, TestModels.random(wc, DType.F32, 6, false));
        for (String d : devices()) {
            BACKENDS.put(d, TestBackends.open(bf16, d));
            WINDOWED.put(d, TestBackends.open(f32, d));
        }
    }

    @AfterAll
    static void tearDown() {
        BACKENDS.values().forEach(Backend::close);
        WINDOWED.values().forEach(Backend::close);
    }

    static int[] tokens(int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = RND.nextInt(vocab);
        return t;
    }

    static void assertClose(float[] expected, float[] got, double tol, String what) {
        assertEquals(expected.length, got.length, what);
        double scale = 1;
        for (float e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++)
            assertTrue(Math.abs(expected[i] - got[i]) <= tol * scale, what + ": logit " + i + " " + got[i] + " vs " + expected[i]);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void decodingTokenByTokenEqualsOnePrefill(String device) {
        Backend backend = BACKENDS.get(device), windowed = WINDOWED.get(device);
        for (Backend b : List.of(backend, windowed)) {
            double tol = tolerance(device, b);
            int vocab = b.model().config().vocabSize();
            int[] seq = tokens(150, vocab);                         // crosses two cache blocks
            Logits full = b.forward(seq, null, LogitsMode.ALL);
            KvCache cache = b.newCache();
            Logits part = b.forward(Arrays.copyOf(seq, 30), cache, LogitsMode.ALL);
            for (int t = 0; t < 30; t++) assertClose(full.row(0, t), part.row(0, t), tol, "prefill position " + t);
            assertEquals(30, cache.length());
            for (int t = 30; t < seq.length; t++) {
                Logits step = b.forward(new int[]{seq[t]}, cache, LogitsMode.LAST);
                assertClose(full.row(0, t), step.last(0), tol, "decode position " + t);
            }
            assertEquals(seq.length, cache.length());
            // a second chunk of several tokens after a cache (prefill continuation) also agrees
            KvCache c2 = b.newCache();
            b.forward(Arrays.copyOf(seq, 100), c2, LogitsMode.NONE);
            Logits rest = b.forward(Arrays.copyOfRange(seq, 100, 150), c2, LogitsMode.ALL);
            for (int t = 100; t < 150; t++) assertClose(full.row(0, t), rest.row(0, t - 100), tol, "chunked position " + t);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void forkedPrefixServesSeveralContinuationsWithoutInterference(String device) {
        Backend backend = BACKENDS.get(device);
        double tol = tolerance(device, backend);
        int[] prompt = tokens(80, config.vocabSize());
        KvCache shared = backend.newCache();
        backend.forward(prompt, shared, LogitsMode.NONE);
        float before = shared.key(1, 70, 1, 3);
        for (int cut : new int[]{64, 70, 80}) {
            int[] tail = tokens(9, config.vocabSize());
            KvCache fork = shared.forkPrefix(cut);
            Logits got = backend.forward(tail, fork, LogitsMode.ALL);
            int[] whole = new int[cut + tail.length];
            System.arraycopy(prompt, 0, whole, 0, cut);
            System.arraycopy(tail, 0, whole, cut, tail.length);
            Logits expected = backend.forward(whole, null, LogitsMode.ALL);
            for (int t = 0; t < tail.length; t++) assertClose(expected.row(0, cut + t), got.row(0, t), tol, "cut " + cut + " +" + t);
            assertEquals(cut + tail.length, fork.length());
        }
        assertEquals(80, shared.length());
        assertEquals(before, shared.key(1, 70, 1, 3), "forks must not write into the shared cache");
        // truncating and continuing the original also matches a fresh run
        int[] tail = tokens(5, config.vocabSize());
        shared.truncate(66);
        Logits got = backend.forward(tail, shared, LogitsMode.LAST);
        int[] whole = Arrays.copyOf(prompt, 71);
        System.arraycopy(tail, 0, whole, 66, 5);
        assertClose(backend.forward(whole, null, LogitsMode.LAST).last(0), got.last(0), tol, "after truncate");
    }

    @ParameterizedTest
    @MethodSource("devices")
    void batchOfDifferentLengthsEqualsEachSequenceAlone(String device) {
        Backend backend = BACKENDS.get(device);
        double tol = tolerance(device, backend);
        int[] lengths = {5, 70, 1, 13, 64};
        List<int[]> seqs = new ArrayList<>();
        for (int n : lengths) seqs.add(tokens(n, config.vocabSize()));
        Logits all = backend.forward(seqs, LogitsMode.ALL);
        Logits last = backend.forward(seqs, LogitsMode.LAST);
        for (int s = 0; s < seqs.size(); s++) {
            Logits alone = backend.forward(seqs.get(s), null, LogitsMode.ALL);
            assertEquals(lengths[s], all.rows(s));
            for (int t = 0; t < lengths[s]; t++) assertClose(alone.row(0, t), all.row(s, t), tol, "sequence " + s + " position " + t);
            assertClose(alone.last(0), last.last(s), tol, "sequence " + s + " last");
        }
        // batched decode with caches of different lengths
        List<KvCache> caches = new ArrayList<>();
        for (int[] s : seqs) {
            KvCache c = backend.newCache();
            backend.forward(s, c, LogitsMode.NONE);
            caches.add(c);
        }
        List<int[]> next = new ArrayList<>();
        for (int s = 0; s < seqs.size(); s++) next.add(new int[]{s + 1});
        Logits step = backend.forward(next, caches, LogitsMode.LAST, null);
        for (int s = 0; s < seqs.size(); s++) {
            int[] whole = Arrays.copyOf(seqs.get(s), lengths[s] + 1);
            whole[lengths[s]] = s + 1;
            assertClose(backend.forward(whole, null, LogitsMode.LAST).last(0), step.last(s), tol, "batched decode " + s);
        }
    }

    /**
     * Decoding after a long context (600 positions, ten blocks: the CUDA backend splits the keys of a decode step
     * over several blocks there, flash-decoding) gives the logits of one prefill; two sequences decode together.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void decodingAfterALongContextEqualsOnePrefill(String device) {
        Backend b = WINDOWED.get(device);
        double tol = tolerance(device, b);
        int vocab = b.model().config().vocabSize();
        int[] seq = tokens(603, vocab), other = tokens(420, vocab);
        Logits full = b.forward(seq, null, LogitsMode.ALL), fullOther = b.forward(other, null, LogitsMode.ALL);
        try (KvCache c = b.newCache(); KvCache d = b.newCache()) {
            b.forward(Arrays.copyOf(seq, 600), c, LogitsMode.NONE);
            b.forward(Arrays.copyOf(other, 417), d, LogitsMode.NONE);
            for (int t = 0; t < 3; t++) {
                Logits step = b.forward(List.of(new int[]{seq[600 + t]}, new int[]{other[417 + t]}), List.of(c, d), LogitsMode.LAST, null);
                assertClose(full.row(0, 600 + t), step.last(0), tol, "long decode position " + (600 + t));
                assertClose(fullOther.row(0, 417 + t), step.last(1), tol, "second sequence position " + (417 + t));
            }
        }
    }

    /**
     * Without a record, LAST and NONE run the last layer's queries, attention, o_proj and MLP on each sequence's last
     * row only (keys and values on all): logits and caches must equal those of ALL, which runs every row; after
     * cached prefixes (positions past + i), in a batch, with and without a sliding window.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void lastAndNoneSkipTheLastLayersOtherRowsButGiveTheLogitsAndCachesOfAll(String device) {
        Backend backend = BACKENDS.get(device), windowed = WINDOWED.get(device);
        for (Backend b : List.of(backend, windowed)) {
            double tol = tolerance(device, b);
            ModelConfig c = b.model().config();
            int[] prefixLengths = {0, 20, 67}, restLengths = {9, 1, 30};
            List<int[]> rests = new ArrayList<>();
            List<KvCache> forAll = new ArrayList<>(), forLast = new ArrayList<>(), forNone = new ArrayList<>();
            for (int s = 0; s < prefixLengths.length; s++) {
                KvCache base = b.newCache();
                if (prefixLengths[s] > 0) b.forward(tokens(prefixLengths[s], c.vocabSize()), base, LogitsMode.ALL);
                forAll.add(base.fork());
                forLast.add(base.fork());
                forNone.add(base.fork());
                rests.add(tokens(restLengths[s], c.vocabSize()));
            }
            Logits all = b.forward(rests, forAll, LogitsMode.ALL, null);
            Logits last = b.forward(rests, forLast, LogitsMode.LAST, null);
            b.forward(rests, forNone, LogitsMode.NONE, null);
            int top = c.numLayers() - 1;
            for (int s = 0; s < rests.size(); s++) {
                assertClose(all.last(s), last.last(s), tol, "sequence " + s + " last logits");
                int len = prefixLengths[s] + restLengths[s];
                assertEquals(len, forLast.get(s).length());
                assertEquals(len, forNone.get(s).length());
                for (int pos = 0; pos < len; pos++)
                    for (int h = 0; h < c.numKvHeads(); h++)
                        for (int d = 0; d < c.headDim(); d++) {
                            float k = forAll.get(s).key(top, pos, h, d), v = forAll.get(s).value(top, pos, h, d);
                            assertEquals(k, forLast.get(s).key(top, pos, h, d), 1e-6 * Math.max(1, Math.abs(k)));
                            assertEquals(k, forNone.get(s).key(top, pos, h, d), 1e-6 * Math.max(1, Math.abs(k)));
                            assertEquals(v, forNone.get(s).value(top, pos, h, d), 1e-6 * Math.max(1, Math.abs(v)));
                        }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void paddedBatchEqualsUnpadded(String device) {
        Backend backend = BACKENDS.get(device);
        double tol = tolerance(device, backend);
        int[][] real = {tokens(9, config.vocabSize()), tokens(4, config.vocabSize()), tokens(12, config.vocabSize())};
        int width = 12;
        for (boolean left : new boolean[]{true, false}) {
            int[][] ids = new int[3][width], mask = new int[3][width];
            for (int b = 0; b < 3; b++) {
                int pad = width - real[b].length;
                Arrays.fill(ids[b], 3);                             // padding id: any valid token
                for (int i = 0; i < real[b].length; i++) {
                    ids[b][left ? pad + i : i] = real[b][i];
                    mask[b][left ? pad + i : i] = 1;
                }
            }
            float[][][] padded = backend.forwardPadded(ids, mask);
            float[][] lastPadded = backend.lastLogitsPadded(ids, mask);
            for (int b = 0; b < 3; b++) {
                Logits alone = backend.forward(real[b], null, LogitsMode.ALL);
                int pad = width - real[b].length;
                for (int i = 0; i < real[b].length; i++)
                    assertClose(alone.row(0, i), padded[b][left ? pad + i : i], tol, (left ? "left" : "right") + " row " + b + " token " + i);
                for (int t = 0; t < width; t++)
                    if (mask[b][t] == 0) assertArrayEquals(new float[config.vocabSize()], padded[b][t], "masked positions are zero");
                assertClose(alone.last(0), lastPadded[b], tol, (left ? "left" : "right") + " last of row " + b);
            }
        }
    }

    @Test
    void positionIdsFollowHuggingFace() {
        assertArrayEquals(new int[][]{{1, 1, 0, 1, 2}, {0, 1, 2, 1, 1}},
                Backend.Padding.positionIds(new int[][]{{0, 0, 1, 1, 1}, {1, 1, 1, 0, 0}}));
    }

    @ParameterizedTest
    @MethodSource("devices")
    void badInputsAreRejected(String device) {
        Backend backend = BACKENDS.get(device);
        assertThrows(IllegalArgumentException.class, () -> backend.forward(new int[]{config.vocabSize()}, null, LogitsMode.LAST));
        assertThrows(IllegalArgumentException.class, () -> backend.forward(new int[0], null, LogitsMode.LAST));
        KvCache c = backend.newCache();
        assertThrows(IllegalArgumentException.class,
                () -> backend.forward(List.of(new int[]{1}, new int[]{2}), List.of(c, c), LogitsMode.LAST, null));
        assertThrows(IllegalArgumentException.class, () -> backend.lastLogitsPadded(new int[][]{{1, 2}}, new int[][]{{0, 0}}));
    }
}
