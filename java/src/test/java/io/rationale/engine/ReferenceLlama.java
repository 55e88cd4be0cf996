package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.Tensor;

import java.util.Map;

/**
 * An independent, deliberately naive reference for the engine's tests: the Hugging Face Llama / Mistral / Qwen2
 * modeling equations written out as plain double-precision loops over the same weights (read element by element
 * through {@link Tensor#get}). It shares no code with the engine. Positions are 0..T−1.
 */
final class ReferenceLlama {
    private final ModelConfig c;
    private final Map<String, Tensor> w;

    ReferenceLlama(ModelConfig c, Map<String, Tensor> weights) {
        this.c = c;
        this.w = weights;
    }

    /** Logits for every position of {@code tokens}: {@code [T][vocab]}. */
    double[][] logits(int[] tokens) {
        int T = tokens.length, H = c.hiddenSize();
        double[][] h = new double[T][H];
        Tensor emb = w.get("model.embed_tokens.weight");
        for (int t = 0; t < T; t++) for (int i = 0; i < H; i++) h[t][i] = emb.get((long) tokens[t] * H + i);

        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            // self-attention block
            double[][] x = rmsNorm(h, p + "input_layernorm.weight");
            double[][] q = linear(x, p + "self_attn.q_proj", c.qkvBias());
            double[][] k = linear(x, p + "self_attn.k_proj", c.qkvBias());
            double[][] v = linear(x, p + "self_attn.v_proj", c.qkvBias());
            rotary(q, c.numHeads());
            rotary(k, c.numKvHeads());
            double[][] a = attention(q, k, v);
            double[][] o = linear(a, p + "self_attn.o_proj", c.oBias());
            for (int t = 0; t < T; t++) for (int i = 0; i < H; i++) h[t][i] += o[t][i];
            // MLP block
            x = rmsNorm(h, p + "post_attention_layernorm.weight");
            double[][] g = linear(x, p + "mlp.gate_proj", c.mlpBias());
            double[][] u = linear(x, p + "mlp.up_proj", c.mlpBias());
            for (int t = 0; t < T; t++)
                for (int i = 0; i < g[t].length; i++) g[t][i] = g[t][i] / (1 + Math.exp(-g[t][i])) * u[t][i];
            double[][] d = linear(g, p + "mlp.down_proj", c.mlpBias());
            for (int t = 0; t < T; t++) for (int i = 0; i < H; i++) h[t][i] += d[t][i];
        }
        double[][] x = rmsNorm(h, "model.norm.weight");
        Tensor head = c.tieWordEmbeddings() ? emb : w.get("lm_head.weight");
        double[][] out = new double[T][c.vocabSize()];
        for (int t = 0; t < T; t++)
            for (int r = 0; r < c.vocabSize(); r++) {
                double s = 0;
                for (int i = 0; i < H; i++) s += head.get((long) r * H + i) * x[t][i];
                out[t][r] = s;
            }
        return out;
    }

    /** x · 1/sqrt(mean(x²) + eps) · weight, row by row. */
    private double[][] rmsNorm(double[][] h, String weight) {
        Tensor g = w.get(weight);
        double[][] out = new double[h.length][h[0].length];
        for (int t = 0; t < h.length; t++) {
            double ms = 0;
            for (double e : h[t]) ms += e * e;
            ms /= h[t].length;
            double inv = 1 / Math.sqrt(ms + c.rmsNormEps());
            for (int i = 0; i < h[t].length; i++) out[t][i] = g.get(i) * (h[t][i] * inv);
        }
        return out;
    }

    /** x · Wᵀ (+ b) with W stored [out, in]. */
    private double[][] linear(double[][] x, String prefix, boolean bias) {
        Tensor W = w.get(prefix + ".weight");
        Tensor b = bias ? w.get(prefix + ".bias") : null;
        int out = (int) W.shape()[0], in = (int) W.shape()[1];
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++)
            for (int r = 0; r < out; r++) {
                double s = b == null ? 0 : b.get(r);
                for (int i = 0; i < in; i++) s += W.get((long) r * in + i) * x[t][i];
                y[t][r] = s;
            }
        return y;
    }

    /** HF apply_rotary_pos_emb: x·cos + rotate_half(x)·sin with cos/sin = cat(freqs, freqs), freqs = pos·inv_freq. */
    private void rotary(double[][] x, int heads) {
        int hd = c.headDim(), half = hd / 2;
        double[] invFreq = new double[half];
        for (int i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(c.ropeTheta(), (double) (2 * i) / hd);
        ModelConfig.RopeScaling rs = c.ropeScaling();
        if (rs != null && rs.type().equals("linear")) {
            for (int i = 0; i < half; i++) invFreq[i] = invFreq[i] / rs.factor();
        } else if (rs != null && rs.type().equals("llama3")) {
            // transformers _compute_llama3_parameters
            double lowWavelen = rs.originalMaxPositionEmbeddings() / rs.lowFreqFactor();
            double highWavelen = rs.originalMaxPositionEmbeddings() / rs.highFreqFactor();
            for (int i = 0; i < half; i++) {
                double wavelen = 2 * Math.PI / invFreq[i];
                double llama = wavelen > lowWavelen ? invFreq[i] / rs.factor() : invFreq[i];
                double smooth = (rs.originalMaxPositionEmbeddings() / wavelen - rs.lowFreqFactor()) / (rs.highFreqFactor() - rs.lowFreqFactor());
                double smoothed = (1 - smooth) * llama / rs.factor() + smooth * llama;
                boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
                invFreq[i] = medium ? smoothed : llama;
            }
        }
        for (int t = 0; t < x.length; t++) {
            double[] cos = new double[hd], sin = new double[hd];
            for (int i = 0; i < hd; i++) {
                double f = t * invFreq[i % half];
                cos[i] = Math.cos(f);
                sin[i] = Math.sin(f);
            }
            for (int h = 0; h < heads; h++) {
                double[] v = new double[hd];
                System.arraycopy(x[t], h * hd, v, 0, hd);
                for (int i = 0; i < hd; i++) {
                    double rot = i < half ? -v[i + half] : v[i - half];
                    x[t][h * hd + i] = v[i] * cos[i] + rot * sin[i];
                }
            }
        }
    }

    /** Eager attention with repeat_kv, causal mask and, if configured, the sliding window (kv > q − window). */
    private double[][] attention(double[][] q, double[][] k, double[][] v) {
        int T = q.length, hd = c.headDim(), nRep = c.numHeads() / c.numKvHeads();
        double[][] out = new double[T][c.numHeads() * hd];
        for (int h = 0; h < c.numHeads(); h++) {
            int kv = h / nRep;
            for (int i = 0; i < T; i++) {
                double[] s = new double[T];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < T; j++) {
                    boolean visible = j <= i && (c.slidingWindow() == 0 || j > i - c.slidingWindow());
                    if (!visible) {
                        s[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int d = 0; d < hd; d++) dot += q[i][h * hd + d] * k[j][kv * hd + d];
                    s[j] = dot / Math.sqrt(hd);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < T; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                for (int j = 0; j < T; j++)
                    for (int d = 0; d < hd; d++) out[i][h * hd + d] += s[j] / sum * v[j][kv * hd + d];
            }
        }
        return out;
    }
}
