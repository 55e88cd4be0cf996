package io.rationale.cpu;

import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** What the CPU forward pass records for a backward pass is consistent with the forward itself. */
class ActivationsTest {
    @Test
    void recordedActivationsReproduceTheForward() {
        ModelConfig c = io.rationale.engine.TestModels.config("""
                {"architectures":["MistralForCausalLM"],"hidden_size":32,"intermediate_size":40,"num_hidden_layers":2,
                 "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":30,"rms_norm_eps":1e-5,
                 "rope_theta":10000.0,"sliding_window":6,"tie_word_embeddings":false}""");
        try (CpuBackend b = new CpuBackend(Model.of(c, io.rationale.engine.TestModels.random(c, DType.F32, 4, false)), 2)) {
            KvCache cache = b.newCache();
            b.forward(new int[]{1, 2, 3}, cache, LogitsMode.NONE);
            Activations rec = new Activations(true);
            List<int[]> toks = List.of(new int[]{4, 5, 6, 7, 8, 9, 10, 11, 12}, new int[]{7, 8});
            Logits logits = b.forward(toks, java.util.Arrays.asList(cache, null), LogitsMode.LAST, rec);
            int n = 11, hd = c.headDim();
            assertArrayEquals(new int[]{0, 9, 11}, rec.seqStart);
            assertArrayEquals(new int[]{3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1}, rec.positions);
            assertEquals(2, rec.layers.size());
            assertArrayEquals(rec.embeddings, rec.layers.get(0).input);
            Activations.Layer l1 = rec.layers.get(1);
            // probabilities: rows sum to 1, zero outside the causal window, softmax of the recorded queries against the cached keys
            float[] p = l1.attnProbs[0];
            int ctx = 12;
            assertEquals(c.numHeads() * 9 * ctx, p.length);
            for (int h = 0; h < c.numHeads(); h++)
                for (int i = 0; i < 9; i++) {
                    int pos = 3 + i;
                    double sum = 0;
                    for (int j = 0; j < ctx; j++) {
                        float pj = p[(h * 9 + i) * ctx + j];
                        if (j > pos || j <= pos - 6) assertEquals(0f, pj, "masked " + h + "," + i + "," + j);
                        sum += pj;
                    }
                    assertEquals(1.0, sum, 1e-5);
                    int g = h / (c.numHeads() / c.numKvHeads());
                    double[] sc = new double[ctx];
                    double max = Double.NEGATIVE_INFINITY, z = 0;
                    for (int j = Math.max(0, pos - 5); j <= pos; j++) {
                        for (int d = 0; d < hd; d++) sc[j] += (double) l1.q[i * c.qDim() + h * hd + d] * cache.key(1, j, g, d);
                        sc[j] /= Math.sqrt(hd);
                        max = Math.max(max, sc[j]);
                    }
                    for (int j = Math.max(0, pos - 5); j <= pos; j++) z += Math.exp(sc[j] - max);
                    for (int j = Math.max(0, pos - 5); j <= pos; j++) assertEquals(Math.exp(sc[j] - max) / z, p[(h * 9 + i) * ctx + j], 1e-5);
                }
            // the keys recorded for the new tokens are the ones in the cache
            assertEquals(l1.k[2 * c.kvDim() + hd + 5], cache.key(1, 5, 1, 5));
            // the final norm input of the last row of each sequence gives its logits through norm and head
            assertEquals(2, rec.logitRows.length);
            assertArrayEquals(new int[]{8, 10}, rec.logitRows);
            assertEquals(2, logits.numSequences());
            assertEquals(n * c.intermediateSize(), l1.gate.length);
            assertNull(new Activations(false).embeddings);
        }
    }
}
