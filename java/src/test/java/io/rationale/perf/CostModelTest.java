package io.rationale.perf;

import io.rationale.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link CostModel}'s FLOP counts against independent counts: a naive reference forward (plain loops in double over
 * random weights, GQA, causal softmax attention, optional sliding window, SwiGLU MLP, LM head) that counts every
 * multiply-add it does, and hand-derived numbers for a one-layer model. Equality is exact (integer counts).
 */
class CostModelTest {

    static ModelConfig config(int hidden, int inter, int layers, int heads, int kvHeads, int headDim, int vocab, int window) {
        return new ModelConfig("LlamaForCausalLM", hidden, inter, layers, heads, kvHeads, headDim, vocab, 1e-5f, 10000, null,
                false, false, false, false, 2048, window, 1, List.of(2));
    }

    /** A naive forward that counts its multiply-adds. */
    static final class CountingForward {
        final ModelConfig c;
        final double[][][] wq, wk, wv, wo, wg, wu, wd;
        final double[][] emb, head;
        long macs;
        // per layer, cached keys and values: [layer][position][kvHead*headDim]
        final java.util.List<java.util.List<double[]>> keys = new java.util.ArrayList<>(), values = new java.util.ArrayList<>();

        CountingForward(ModelConfig c, long seed) {
            this.c = c;
            SplittableRandom r = new SplittableRandom(seed);
            int h = c.hiddenSize(), q = c.qDim(), kv = c.kvDim(), in = c.intermediateSize(), L = c.numLayers();
            wq = rnd(r, L, q, h); wk = rnd(r, L, kv, h); wv = rnd(r, L, kv, h); wo = rnd(r, L, h, q);
            wg = rnd(r, L, in, h); wu = rnd(r, L, in, h); wd = rnd(r, L, h, in);
            emb = rnd(r, 1, c.vocabSize(), h)[0];
            head = rnd(r, 1, c.vocabSize(), h)[0];
            for (int l = 0; l < L; l++) {
                keys.add(new java.util.ArrayList<>());
                values.add(new java.util.ArrayList<>());
            }
        }

        static double[][][] rnd(SplittableRandom r, int a, int b, int cc) {
            double[][][] x = new double[a][b][cc];
            for (double[][] m : x) for (double[] row : m) for (int i = 0; i < cc; i++) row[i] = r.nextDouble(-0.1, 0.1);
            return x;
        }

        double[] matvec(double[][] w, double[] x) {
            double[] y = new double[w.length];
            for (int o = 0; o < w.length; o++) {
                double s = 0;
                for (int i = 0; i < x.length; i++) {
                    s += w[o][i] * x[i];
                    macs++;
                }
                y[o] = s;
            }
            return y;
        }

        /**
         * Runs new tokens after what the caches hold; logits of the last one. Computes only what those logits and the
         * caches need: in the last layer, a row other than the last only adds its keys and values.
         */
        double[] forward(int[] tokens) {
            int hd = c.headDim(), group = c.numHeads() / c.numKvHeads();
            double[] x = null;
            for (int t = 0; t < tokens.length; t++) {
                x = emb[tokens[t]].clone();
                for (int l = 0; l < c.numLayers(); l++) {
                    double[] kv = matvec(wk[l], x), vv = matvec(wv[l], x);
                    keys.get(l).add(kv);
                    values.get(l).add(vv);
                    if (l == c.numLayers() - 1 && t < tokens.length - 1) break;   // nothing reads this row's output
                    double[] qv = matvec(wq[l], x);
                    int pos = keys.get(l).size() - 1;
                    int first = c.slidingWindow() > 0 ? Math.max(0, pos - c.slidingWindow() + 1) : 0;
                    double[] att = new double[c.qDim()];
                    for (int hh = 0; hh < c.numHeads(); hh++) {
                        int g = hh / group;
                        double[] sc = new double[pos + 1];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = first; j <= pos; j++) {
                            double s = 0;
                            for (int d = 0; d < hd; d++) {
                                s += qv[hh * hd + d] * keys.get(l).get(j)[g * hd + d];
                                macs++;
                            }
                            sc[j] = s / Math.sqrt(hd);
                            max = Math.max(max, sc[j]);
                        }
                        double z = 0;
                        for (int j = first; j <= pos; j++) z += sc[j] = Math.exp(sc[j] - max);
                        for (int j = first; j <= pos; j++)
                            for (int d = 0; d < hd; d++) {
                                att[hh * hd + d] += sc[j] / z * values.get(l).get(j)[g * hd + d];
                                macs++;
                            }
                    }
                    double[] o = matvec(wo[l], att);
                    for (int i = 0; i < x.length; i++) x[i] += o[i];
                    double[] gt = matvec(wg[l], x), up = matvec(wu[l], x);
                    for (int i = 0; i < gt.length; i++) gt[i] = gt[i] / (1 + Math.exp(-gt[i])) * up[i];
                    double[] down = matvec(wd[l], gt);
                    for (int i = 0; i < x.length; i++) x[i] += down[i];
                }
            }
            return matvec(head, x);
        }
    }

    @Test
    void forwardFlopsEqualANaiveForwardsMultiplyAdds() {
        ModelConfig c = config(32, 48, 2, 4, 2, 8, 50, 0);
        CostModel m = new CostModel(c, 4);
        CountingForward ref = new CountingForward(c, 1);
        ref.forward(new int[]{1, 5, 7, 9, 11, 3, 4, 8, 2, 6, 10, 12});
        assertEquals(2.0 * ref.macs, m.forward(1, 12).flops(), 0, "prefill of 12 tokens");
        // decode after it: one token at position 12, then one at 13
        long before = ref.macs;
        ref.forward(new int[]{13});
        ref.forward(new int[]{14});
        assertEquals(2.0 * (ref.macs - before) / 2, m.decodeStep(12, 1, 2).flops(), 0, "mean of two decode steps");
        // a continuation of 3 tokens after 12 cached ones (occlusion, flip)
        CountingForward ref2 = new CountingForward(c, 1);
        ref2.forward(new int[]{1, 5, 7, 9, 11, 3, 4, 8, 2, 6, 10, 12});
        before = ref2.macs;
        ref2.forward(new int[]{4, 4, 4});
        assertEquals(2.0 * (ref2.macs - before), m.forward(List.of(new CostModel.Seq(12, 3, 1))).flops(), 0);
    }

    @Test
    void slidingWindowLimitsTheKeys() {
        ModelConfig c = config(16, 24, 1, 2, 1, 8, 20, 4);
        CountingForward ref = new CountingForward(c, 2);
        ref.forward(new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        assertEquals(2.0 * ref.macs, new CostModel(c, 2).forward(1, 10).flops(), 0);
    }

    @Test
    void slidingWindowLimitsTheKeysRead() {
        // h = 4, q = kv = 4, 1 layer, window 2. One decode step after 10 cached positions reads the keys and values of
        // positions 9 and 10 only (the new row at 10 sees 9 and itself): 2 · (2·4·4) = 64 bytes, writes its own 32,
        // embedding row 16, weights (136 + 40) · 4 = 704: 816 bytes (counting all 11 positions would give 1,104).
        CostModel m = new CostModel(config(4, 6, 1, 1, 1, 4, 10, 2), 4);
        assertEquals(816, m.forward(List.of(new CostModel.Seq(10, 1, 1))).bytes(), 0);
        // 3 new rows at 10..12 see 9..12: 4 positions read, 3 written → 704 + 48 + 128 + 96 = 976
        assertEquals(976, m.forward(List.of(new CostModel.Seq(10, 3, 1))).bytes(), 0);
        // a prompt from position 0 shorter than the window: everything (as without one), the 944 of the test below
        assertEquals(944, new CostModel(config(4, 6, 1, 1, 1, 4, 10, 8), 4).forward(1, 3).bytes(), 0);
    }

    @Test
    void handDerivedOneLayerModel() {
        // h = 4, q = kv = 4 (1 head of dim 4), I = 6, V = 10, 1 layer (the last), 3 tokens from position 0, last-position
        // logits: k and v for 3 rows 3·2·4·4 = 96; q and o for the last row 2·4·4 = 32, its MLP 3·4·6 = 72; its attention
        // over 3 keys, two products of dim 4: 24; LM head 4·10 = 40. Sum 264 MACs = 528 FLOPs.
        ModelConfig c = config(4, 6, 1, 1, 1, 4, 10, 0);
        CostModel m = new CostModel(c, 4);
        assertEquals(528, m.forward(1, 3).flops(), 0);
        // backward (input gradients): k, v for 3 rows 96; q, o, MLP of the last row 104; attention 2·24; target row 4: 252 MACs
        assertEquals(504, m.backward(1, 3).flops(), 0);
        // bytes of that forward: weights (136 + 40 elements) · 4 + embeddings 3·4·4 + KV read 3 positions and written 3:
        // each 2·4·4 bytes per layer → 704 + 48 + 96 + 96 = 944
        assertEquals(944, m.forward(1, 3).bytes(), 0);
        // integrated gradients k = 2 in one batch: 2 forwards + 2 steps forward and backward
        assertEquals(2 * 528 + 2 * 528 + 2 * 504, m.integratedGradients(3, 2, 1).flops(), 0);
        // two layers: the first is whole (136 per row, attention 48; its backward the same and 2·48), the second as above:
        // forward 408 + 48 + 264 = 720 MACs, backward 408 + 96 + 252 = 756 MACs
        CostModel two = new CostModel(config(4, 6, 2, 1, 1, 4, 10, 0), 4);
        assertEquals(1440, two.forward(1, 3).flops(), 0);
        assertEquals(1512, two.backward(1, 3).flops(), 0);
    }
}
