package io.rationale.attribution;

import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.cpu.Activations;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The methods that need no backward pass: attention, attention rollout, occlusion, random; targets. */
class ForwardMethodsTest {
    static Model model;
    static Tokenizer tok;
    static Backend backend;
    static Attributor attributor;
    static final String TEXT = "The quick brown fox, jumps over the lazy dog's tail!";

    static Fixtures.Engine engine;

    @BeforeAll
    static void load() {
        engine = Fixtures.Engine.open(Fixtures.tiny());
        model = engine.model();
        tok = engine.tok();
        backend = engine.backend();
        attributor = engine.attributor();
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    static AttributionInput input() { return AttributionInput.of(tok.encode(TEXT)); }

    /** Head-mean attention of the last position in one layer, in double from the recorded q and k. */
    static double[] referenceRow(Activations.Layer l, ModelConfig c, int t) {
        int hd = c.headDim(), group = c.numHeads() / c.numKvHeads();
        double[] out = new double[t];
        int i = t - 1;
        for (int h = 0; h < c.numHeads(); h++) {
            int g = h / group;
            double[] s = new double[t];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j <= i; j++) {
                double dot = 0;
                for (int d = 0; d < hd; d++) dot += (double) l.q[i * c.qDim() + h * hd + d] * l.k[j * c.kvDim() + g * hd + d];
                s[j] = dot / Math.sqrt(hd);
                max = Math.max(max, s[j]);
            }
            double z = 0;
            for (int j = 0; j <= i; j++) z += Math.exp(s[j] - max);
            for (int j = 0; j <= i; j++) out[j] += Math.exp(s[j] - max) / z / c.numHeads();
        }
        return out;
    }

    @Test
    void attentionIsTheLastLayersHeadMeanRowRecomputedFromQueriesAndKeys() {
        AttributionInput in = input();
        Attribution a = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.ATTENTION, Options.defaults());
        Activations rec = (Activations) backend.newRecord(false);
        backend.forward(List.of(in.ids()), null, LogitsMode.LAST, rec);
        double[] ref = referenceRow(rec.layers.getLast(), model.config(), in.size());
        assertArrayEquals(ref, a.scores(), 1e-5);
        assertEquals(1.0, Attributor.sum(a.scores()), 1e-5);
        assertEquals(in.size(), a.scores().length);
    }

    @Test
    void rolloutOfTheModelMatchesRolloutOfTheRecomputedAttention() {
        AttributionInput in = input();
        Attribution a = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.ATTENTION_ROLLOUT, Options.defaults());
        Activations rec = (Activations) backend.newRecord(false);
        backend.forward(List.of(in.ids()), null, LogitsMode.LAST, rec);
        ModelConfig c = model.config();
        int t = in.size();
        List<double[][]> maps = new ArrayList<>();
        for (Activations.Layer l : rec.layers) {
            double[][] m = new double[t][];
            for (int i = 0; i < t; i++) {          // reference rows for every query position i: truncate to i+1 tokens
                Activations.Layer cut = new Activations.Layer();
                cut.q = java.util.Arrays.copyOfRange(l.q, 0, (i + 1) * c.qDim());
                cut.k = l.k;
                double[] row = referenceRow(cut, c, i + 1);
                m[i] = java.util.Arrays.copyOf(row, t);
            }
            maps.add(m);
        }
        assertArrayEquals(AttentionMaps.rollout(maps), a.scores(), 1e-5);
        assertEquals(1.0, Attributor.sum(a.scores()), 1e-6);
    }

    @Test
    void rolloutByHand() {
        // Â1 = [[1,0,0],[.25,.75,0],[.1,.15,.75]], Â2 = [[1,0,0],[.45,.55,0],[.05,.05,.9]];
        // last row of Â2·Â1 = [.05,.05,.9]·Â1 = [.05 + .0125 + .09, .0375 + .135, .675]
        double[][] a1 = {{1, 0, 0}, {0.5, 0.5, 0}, {0.2, 0.3, 0.5}};
        double[][] a2 = {{1, 0, 0}, {0.9, 0.1, 0}, {0.1, 0.1, 0.8}};
        assertArrayEquals(new double[]{0.1525, 0.1725, 0.675}, AttentionMaps.rollout(List.of(a1, a2)), 1e-12);
        // the other order would give [.205, .12, .675]
        assertArrayEquals(new double[]{0.205, 0.12, 0.675}, AttentionMaps.rollout(List.of(a2, a1)), 1e-12);
        // rows are renormalised: a row summing to 2 gives Â = [[1, 0], [1/3, 2/3]]
        assertArrayEquals(new double[]{1.0 / 3, 2.0 / 3}, AttentionMaps.rollout(List.<double[][]>of(new double[][]{{2, 0}, {1, 1}})), 1e-12);
    }

    /** With BOS (every variant keeps a cached prefix) and without (dropping the first word leaves none). */
    @Test
    void occlusionEqualsOneByOneForwardsOfTheReducedInputs() {
        occlusionEqualsOneByOne(input(), true);
        occlusionEqualsOneByOne(AttributionInput.of(tok.encode(TEXT, false, false)), false);
    }

    private void occlusionEqualsOneByOne(AttributionInput in, boolean bos) {
        TargetSpec target = TargetSpec.logProb(tok.encode(" x", false, false).ids()[0]);
        Attribution a = attributor.attribute(in, target, Method.OCCLUSION, Options.defaults());
        int[] ids = in.ids();
        double fx = target.value(backend.forward(ids, null, LogitsMode.LAST).last(0));
        assertEquals(fx, a.target().value(), 1e-6);
        assertEquals(in.words().size(), a.words().size());
        for (int k = 0; k < in.words().size(); k++) {
            List<Integer> kept = new ArrayList<>();
            int[] drop = in.wordTokens(k);
            for (int i = 0; i < ids.length; i++) {
                boolean d = false;
                for (int x : drop) d |= x == i;
                if (!d) kept.add(ids[i]);
            }
            int[] reduced = kept.stream().mapToInt(Integer::intValue).toArray();
            double expected = fx - target.value(backend.forward(reduced, null, LogitsMode.LAST).last(0));
            assertEquals(expected, a.words().get(k).score(), 1e-4, "word " + k + " " + in.words().get(k).text());
            for (int t : drop) assertEquals(a.words().get(k).score(), a.scores()[t], 0);
        }
        if (bos) assertEquals(0.0, a.scores()[0]);              // BOS: in no word
        assertEquals(1, a.extras().get("batches"));
        // prefix reuse: the variants run fewer tokens than whole reduced inputs would (at most t − 1 each)
        int full = 0;
        for (int k = 0; k < in.words().size(); k++) full += ids.length - in.wordTokens(k).length;
        assertTrue((Integer) a.extras().get("variant_tokens") < full / 2 + in.words().size(), a.extras() + " vs " + full);
        // chunked batches give the same scores
        Attribution chunked = attributor.attribute(in, target, Method.OCCLUSION, Options.defaults().withMaxForwardTokens(20));
        assertTrue((Integer) chunked.extras().get("batches") > 2);
        assertArrayEquals(a.wordScores(), chunked.wordScores(), 1e-4);
    }

    @Test
    void occlusionOfTheOnlyWordIsUndefined() {
        AttributionInput in = AttributionInput.of(tok.encode("hello", false, false));
        Attribution a = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.OCCLUSION, Options.defaults());
        assertTrue(Double.isNaN(a.words().getFirst().score()));
        assertEquals(List.of(0), a.extras().get("undefined_words"));
    }

    @Test
    void randomIsSeededUniform() {
        AttributionInput in = input();
        Attribution a = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.RANDOM, Options.defaults().withSeed(5));
        Attribution b = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.RANDOM, Options.defaults().withSeed(5));
        Attribution c = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.RANDOM, Options.defaults().withSeed(6));
        assertArrayEquals(a.scores(), b.scores(), 0);
        assertNotEquals(a.scores()[1], c.scores()[1]);
        for (double s : a.scores()) assertTrue(s >= 0 && s < 1);
        assertEquals(5L, a.extras().get("seed"));
        assertArrayEquals(in.aggregate(a.scores(), Aggregate.SUM), a.wordScores(), 0);
        Attribution m = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.RANDOM, Options.defaults().withSeed(5).withAggregate(Aggregate.MAX_ABS));
        assertArrayEquals(in.aggregate(a.scores(), Aggregate.MAX_ABS), m.wordScores(), 0);
    }

    @Test
    void targets() {
        AttributionInput in = input();
        float[] last = backend.forward(in.ids(), null, LogitsMode.LAST).last(0);
        Attribution a = attributor.attribute(in, TargetSpec.argmaxLogit(), Method.RANDOM, Options.defaults());
        int argmax = 0;
        for (int i = 1; i < last.length; i++) if (last[i] > last[argmax]) argmax = i;
        assertEquals(argmax, a.target().tokenId());
        assertTrue(a.target().argmax());
        assertEquals(last[argmax], a.target().logit(), 1e-6);
        Attribution lp = attributor.attribute(in, TargetSpec.logProb(7), Method.RANDOM, Options.defaults());
        double z = 0;   // log-sum-exp written out here, independently of the code under test
        for (float v : last) z += Math.exp(v);
        assertEquals(last[7] - Math.log(z), lp.target().value(), 1e-5);
        assertEquals(last[7], lp.target().logit(), 1e-6);
        Attribution con = attributor.attribute(in, TargetSpec.contrast(7, 9), Method.RANDOM, Options.defaults());
        assertEquals(last[7] - last[9], con.target().value(), 1e-6);
        var err = assertThrows(IllegalArgumentException.class,
                () -> attributor.attribute(in, TargetSpec.logit(512), Method.RANDOM, Options.defaults()));
        assertEquals("target id 512 is outside the vocabulary [0, 512)", err.getMessage());
        assertThrows(IllegalArgumentException.class, () -> attributor.attribute(in, TargetSpec.contrast(3, 600), Method.RANDOM, Options.defaults()));
        // --target-text: "in" and " in" are both one token of the byte-level tokenizer; the word-initial one wins
        assertEquals(1, tok.encode("in", false, false).size());
        assertEquals(1, tok.encode(" in", false, false).size());
        assertEquals(" in", tok.displayText(TargetText.singleToken(tok, "in", "target text")));
        assertEquals("x", tok.displayText(TargetText.singleToken(tok, "x", "target text")));
        var notOne = assertThrows(IllegalArgumentException.class, () -> TargetText.singleToken(tok, "xqzjvw", "target text"));
        assertTrue(notOne.getMessage().startsWith("target text 'xqzjvw' is not one token: 'xqzjvw' → ["), notOne.getMessage());
        try (Tokenizer stories = Tokenizer.load(Fixtures.STORIES)) {
            assertEquals("▁lo", stories.piece(TargetText.singleToken(stories, "lo", "t")));   // metaspace: "lo" is already word-initial
        }
    }
}
