package io.rationale.serum;

import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The serum's small parts: normalisations, layer choices, the steering → intervention mapping, relevance files, the logit-lens rule. */
class SteeringPartsTest {
    static final Path STORIES = Path.of(System.getProperty("rationale.shared", "../../shared")).resolve("data/models/stories260K-hf");

    @Test
    void normalisationsOnHandComputedValues() {
        double[] r = {2, -4, 1, 0.5};
        assertArrayEquals(new double[]{0.5, -1, 0.25, 0.125}, Normalization.MAX_ABS.apply(r), 1e-15);
        assertArrayEquals(new double[]{2 / 7.5, -4 / 7.5, 1 / 7.5, 0.5 / 7.5}, Normalization.L1.apply(r), 1e-15);
        assertArrayEquals(new double[]{1, 0, 5 / 6.0, 4.5 / 6}, Normalization.MIN_MAX.apply(r), 1e-15);
        assertArrayEquals(r, Normalization.NONE.apply(r), 0);
        for (Normalization n : Normalization.values()) assertArrayEquals(new double[3], n == Normalization.NONE ? new double[3] : n.apply(new double[]{0, 0, 0}), 0);
        assertArrayEquals(new double[2], Normalization.MIN_MAX.apply(new double[]{3, 3}), 0, "constant span");
        assertEquals(Normalization.L1, Normalization.parse("L1"));
        assertEquals(Normalization.MAX_ABS, Normalization.parse("max-abs"));
        assertThrows(IllegalArgumentException.class, () -> Normalization.parse("softmax"));
        assertThrows(IllegalArgumentException.class, () -> Normalization.MAX_ABS.apply(new double[]{1, Double.NaN}));
    }

    @Test
    void layerChoicesParseAndCheck() {
        assertArrayEquals(new int[]{17, 18, 19}, ((LayerChoice.Fixed) LayerChoice.parse("19, 17,18")).layers());
        assertArrayEquals(new int[]{4, 5, 6}, LayerChoice.parse("window:4:3").fixedLayers(8));
        assertEquals(new LayerChoice.LogitLens(150, 3), LayerChoice.parse("logit-lens"));
        assertEquals(new LayerChoice.LogitLens(20, 2), LayerChoice.parse("logit-lens:20:2"));
        assertNull(LayerChoice.parse("logit-lens").fixedLayers(8));
        assertEquals("window:4:3", LayerChoice.parse("window:4:3").spec());
        assertEquals("1,3", LayerChoice.parse("3,1").spec());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LayerChoice.parse("window:6:3").fixedLayers(8));
        assertTrue(e.getMessage().contains("layer 8") && e.getMessage().contains("window:6:3"), e.getMessage());
        for (String bad : List.of("", "a,b", "1,1", "-1", "window:3", "window:1:0", "logit-lens:0:3"))
            assertThrows(IllegalArgumentException.class, () -> LayerChoice.parse(bad), bad);
    }

    @Test
    void steeringBecomesTheEnginesIntervention() {
        double[] w = {1, -0.5, 0.25};
        for (Operator op : Operator.values())
            for (Rows rows : Rows.values()) {
                AttentionIntervention iv = new Steering(0.1, new int[]{2, 5}, 4, 7, w, op, rows).intervention();
                assertEquals(op.site(), iv.site());
                assertArrayEquals(new int[]{2, 5}, iv.layers());
                assertNull(iv.heads(), "every head");
                AttentionIntervention.KeyBias kb = iv.biases().get(0);
                assertArrayEquals(new int[]{4, 5, 6}, kb.positions());
                assertArrayEquals(new float[]{0.1f, -0.05f, 0.025f}, kb.values(), 1e-7f);
                assertEquals(rows == Rows.CAUSAL ? 7 : 0, kb.fromQuery(), op + " " + rows);
                assertEquals(rows == Rows.CAUSAL || op == Operator.PRE, iv.causal(), op + " " + rows);
            }
        assertThrows(IllegalArgumentException.class, () -> new Steering(-1, new int[]{0}, 0, 1, new double[1], null, null));
        assertThrows(IllegalArgumentException.class, () -> new Steering(1, new int[]{0}, 0, 2, new double[1], null, null));
        assertThrows(IllegalArgumentException.class, () -> new Steering(1, new int[]{0}, 3, 3, new double[0], null, null));
        assertThrows(IllegalArgumentException.class, () -> new Steering(1, new int[]{9}, 0, 1, new double[1], null, null).check(8, 5));
        assertThrows(IllegalArgumentException.class, () -> new Steering(1, new int[]{1}, 0, 6, new double[6], null, null).check(8, 5));
        assertArrayEquals(new int[]{3, 9}, Steering.parseSpan("3:9"));
        for (String bad : List.of("3", "9:3", "3:3", "-1:2", "a:b", "1:2:3"))
            assertThrows(IllegalArgumentException.class, () -> Steering.parseSpan(bad), bad);
        assertEquals(Operator.POST_RENORM, Operator.parse("post_renorm"));
        assertEquals(Rows.CAUSAL, Rows.parse("causal-safe"));
        assertThrows(IllegalArgumentException.class, () -> Operator.parse("add"));
    }

    @Test
    void relevanceFilesInBothSpellings(@TempDir Path tmp) throws Exception {
        Path json = tmp.resolve("r.json"), plain = tmp.resolve("r.txt");
        Files.writeString(json, "[0.5, -1e-1, 2]\n");
        Files.writeString(plain, "0.5\n-0.1  2\n");
        assertArrayEquals(new double[]{0.5, -0.1, 2}, RelevanceFile.read(json, 3, "1:4"), 0);
        assertArrayEquals(new double[]{0.5, -0.1, 2}, RelevanceFile.read(plain, 3, "1:4"), 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RelevanceFile.read(json, 4, "1:5"));
        assertTrue(e.getMessage().startsWith(json + ": 3 relevance values, but the span 1:5 has 4 tokens"), e.getMessage());
        Files.writeString(plain, "1, x, 3");
        e = assertThrows(IllegalArgumentException.class, () -> RelevanceFile.read(plain, 3, "0:3"));
        assertTrue(e.getMessage().contains("value 2 'x'"), e.getMessage());
        Files.writeString(plain, "1 NaN 3");
        assertThrows(IllegalArgumentException.class, () -> RelevanceFile.read(plain, 3, "0:3"));
        assertThrows(java.io.UncheckedIOException.class, () -> RelevanceFile.read(tmp.resolve("missing"), 3, "0:3"));
    }

    @Test
    void logitLensRuleFromRanks() {
        // h_0..h_5 of a 5-layer model: first below 150 at h_3 (output of layer 2) -> layers 2, 3, 4
        assertArrayEquals(new int[]{2, 3, 4}, LogitLensRule.layers(new int[]{400, 300, 151, 149, 3, 1}, 150, 3, 5));
        assertArrayEquals(new int[]{3, 4}, LogitLensRule.layers(new int[]{400, 300, 200, 160, 149, 1}, 150, 3, 5), "clipped at the top");
        assertArrayEquals(new int[]{0, 1}, LogitLensRule.layers(new int[]{5, 1, 1, 1, 1, 1}, 150, 2, 5), "already at the embeddings");
        assertArrayEquals(new int[]{4}, LogitLensRule.layers(new int[]{900, 900, 900, 900, 900, 900}, 150, 3, 5), "never: from the last layer");
    }

    /**
     * On stories260K: the lens at h_L (final norm + LM head of the last layer's output) is the model's own logits, so
     * the argmax ranks 1 there and the rank of every token there equals its rank in the backend's logits; earlier
     * hidden states rank it differently.
     */
    @Test
    void logitLensAtTheLastLayerIsTheModelsOwnRanking() {
        try (Model m = Model.load(STORIES); Backend b = Backends.open(m, Device.CPU, 2).backend()) {
            int[] ids = {1, 403, 407, 261, 378, 29892, 727};
            ids = java.util.Arrays.stream(ids).filter(x -> x < m.config().vocabSize()).toArray();
            for (boolean recompute : new boolean[]{false, true}) {
                ForwardRecord rec = b.newRecord(false, recompute);
                float[] logits = b.forward(List.of(ids), null, LogitsMode.LAST, rec).last(0);
                int argmax = 0, other = 7;
                for (int i = 1; i < logits.length; i++) if (logits[i] > logits[argmax]) argmax = i;
                int[] ranks = LogitLensRule.ranks(m, rec, ids.length - 1, argmax);
                assertEquals(m.numLayers() + 1, ranks.length);
                assertEquals(1, ranks[m.numLayers()], "the argmax ranks 1 at h_L");
                int want = 1;
                for (float x : logits) if (x > logits[other]) want++;
                assertEquals(want, LogitLensRule.ranks(m, rec, ids.length - 1, other)[m.numLayers()], "token 7's rank at h_L");
                boolean differs = false;
                for (int l = 0; l < m.numLayers(); l++) differs |= ranks[l] != 1;
                assertTrue(differs, "earlier layers rank the argmax differently: " + java.util.Arrays.toString(ranks));
                int last = ids.length - 1;
                assertFalse(rec.residual(0, 0, 0).length == 0);
                assertArrayEquals(rec.embeddings(0), concat(rec, last + 1, m.config().hiddenSize()), 0f, "h_0 is the embeddings");
                assertThrows(IllegalArgumentException.class, () -> rec.residual(m.numLayers(), 0, 0), "no final-norm row without logits");
            }
        }
    }

    static float[] concat(ForwardRecord rec, int n, int h) {
        float[] out = new float[n * h];
        for (int t = 0; t < n; t++) System.arraycopy(rec.residual(0, 0, t), 0, out, t * h, h);
        return out;
    }
}
