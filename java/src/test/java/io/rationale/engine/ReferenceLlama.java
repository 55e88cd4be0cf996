package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.Tensor;

import java.util.Map;

/**
 * An independent, deliberately naive reference for the engine's tests: the Hugging Face Llama / Mistral / Qwen2
 * modeling equations written out as plain double-precision loops over the same weights (read element by element
 * through {@link Tensor#get}). It shares no code with the engine. Positions are 0..T−1. Besides logits it gives
 * functions of the input embeddings for finite differences: the model itself and, for the LRP rule modes, a
 * surrogate whose gradient is the modified gradient ({@link #surrogate}).
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
        return logits(h);
    }

    /** Logits for every position from input embeddings {@code [T][hidden]} (not modified). */
    double[][] logits(double[][] embeddings) {
        mode = RuleMode.GRADIENT;
        frozen = null;
        return forward(embeddings, false);
    }

    /**
     * The input embeddings of {@code tokens}, {@code [T][hidden]}.
     */
    double[][] embed(int[] tokens) {
        int H = c.hiddenSize();
        Tensor emb = w.get("model.embed_tokens.weight");
        double[][] h = new double[tokens.length][H];
        for (int t = 0; t < tokens.length; t++) for (int i = 0; i < H; i++) h[t][i] = emb.get((long) tokens[t] * H + i);
        return h;
    }

    /**
     * A surrogate of the model whose plain gradient at {@code base} is {@code mode}'s modified gradient (LXT's
     * "input × modified gradient" written as a function): the quantities an LRP rule holds constant are frozen at
     * their values at {@code base}, and a rule that scales a gradient by 1/m mixes {@code z/m + (1 − 1/m)·z₀}:
     * <ul>
     * <li>RMSNorm (LRP modes): 1/rms frozen;</li>
     * <li>ATTNLRP: q, k after RoPE → {@code q/4 + 3q₀/4}, {@code k/4 + 3k₀/4}; v → {@code v/2 + v₀/2};
     *     silu(g) → {@code g·r₀} with {@code r₀ = silu(g₀)/(g₀ + 1e-10)} (identity rule); the product
     *     {@code a = s·u} → {@code s·u/2 + s₀u₀/2} (uniform rule);</li>
     * <li>CPLRP: q, k frozen (softmax weights constant); silu(gate) frozen;</li>
     * <li>PE_LRP: as ATTNLRP, and before that RoPE's output {@code q' = q·cos + rot(q)·sin} (and k') →
     *     {@code q'/2 + q'₀/2}: the uniform rule halves the gradient into both factors of each product.</li>
     * </ul>
     * For GRADIENT it is the model itself. The function maps embeddings to the last position's logits.
     */
    java.util.function.Function<double[][], double[]> surrogate(double[][] base, RuleMode m) {
        ReferenceLlama r = new ReferenceLlama(c, w);
        r.mode = m;
        r.frozen = new java.util.ArrayList<>();
        r.recording = true;
        r.forward(base, true);
        return e -> {
            r.recording = false;
            r.cursor = 0;
            double[][] out = r.forward(e, true);
            return out[out.length - 1];
        };
    }

    /**
     * {@link #surrogate} as a function of the position factors: per layer l and token t, RoPE's cos row of t is
     * multiplied by {@code cosScale[l][t]} and its sin row by {@code sinScale[l][t]} (1 at the base point). Its
     * derivative by {@code cosScale[l][t]} at 1 is {@code Σ_d cos[t,d]·∂f̃/∂cos[l,t,d]}: the relevance of that cos
     * row under the rule mode's surrogate. Maps (cosScale, sinScale) to the last position's logits.
     */
    java.util.function.BiFunction<double[][], double[][], double[]> positionSurrogate(double[][] base, RuleMode m) {
        ReferenceLlama r = new ReferenceLlama(c, w);
        r.mode = m;
        r.frozen = new java.util.ArrayList<>();
        r.recording = true;
        r.forward(base, true);
        return (cs, ss) -> {
            r.recording = false;
            r.cursor = 0;
            r.cosScale = cs;
            r.sinScale = ss;
            double[][] out = r.forward(base, true);
            r.cosScale = r.sinScale = null;
            return out[out.length - 1];
        };
    }

    private double[][] cosScale, sinScale;

    /**
     * An attention intervention for {@link #logits}, read from its definition in {@link AttentionIntervention}
     * (one sequence at positions 0..T−1, its context the whole sequence): written out with the full T×T scores.
     */
    AttentionIntervention intervention;

    private RuleMode mode = RuleMode.GRADIENT;
    private java.util.List<Object> frozen;   // values held constant, in the order the forward meets them
    private boolean recording;
    private int cursor;

    /** With a frozen list: at the base point records {@code value}, afterwards returns what was recorded there. */
    private double[][] freeze(double[][] value) {
        if (recording) {
            double[][] copy = new double[value.length][];
            for (int i = 0; i < value.length; i++) copy[i] = value[i].clone();
            frozen.add(copy);
            return copy;
        }
        return (double[][]) frozen.get(cursor++);
    }

    private double[][] forward(double[][] embeddings, boolean lastOnly) {
        int T = embeddings.length, H = c.hiddenSize();
        double[][] h = new double[T][];
        for (int t = 0; t < T; t++) h[t] = embeddings[t].clone();

        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            // self-attention block
            double[][] x = rmsNorm(h, p + "input_layernorm.weight");
            double[][] q = linear(x, p + "self_attn.q_proj", c.qkvBias());
            double[][] k = linear(x, p + "self_attn.k_proj", c.qkvBias());
            double[][] v = linear(x, p + "self_attn.v_proj", c.qkvBias());
            rotary(q, c.numHeads(), l);
            rotary(k, c.numKvHeads(), l);
            if (mode == RuleMode.PE_LRP) {
                q = mix(q, freeze(q), 2);
                k = mix(k, freeze(k), 2);
            }
            if (mode == RuleMode.ATTNLRP || mode == RuleMode.PE_LRP) {
                q = mix(q, freeze(q), 4);
                k = mix(k, freeze(k), 4);
                v = mix(v, freeze(v), 2);
            } else if (mode == RuleMode.CPLRP) {
                q = freeze(q);
                k = freeze(k);
            }
            double[][] a = attention(l, q, k, v);
            double[][] o = linear(a, p + "self_attn.o_proj", c.oBias());
            for (int t = 0; t < T; t++) for (int i = 0; i < H; i++) h[t][i] += o[t][i];
            // MLP block
            x = rmsNorm(h, p + "post_attention_layernorm.weight");
            double[][] g = linear(x, p + "mlp.gate_proj", c.mlpBias());
            double[][] u = linear(x, p + "mlp.up_proj", c.mlpBias());
            double[][] act = new double[T][g[0].length];
            switch (mode) {
                case GRADIENT -> {
                    for (int t = 0; t < T; t++)
                        for (int i = 0; i < g[t].length; i++) act[t][i] = g[t][i] / (1 + Math.exp(-g[t][i])) * u[t][i];
                }
                case ATTNLRP, PE_LRP -> {
                    double[][] ratio = new double[T][g[0].length];
                    for (int t = 0; t < T; t++)
                        for (int i = 0; i < g[t].length; i++) ratio[t][i] = g[t][i] / (1 + Math.exp(-g[t][i])) / (g[t][i] + 1e-10);
                    ratio = freeze(ratio);
                    double[][] prod = new double[T][g[0].length];
                    for (int t = 0; t < T; t++) for (int i = 0; i < g[t].length; i++) prod[t][i] = g[t][i] * ratio[t][i] * u[t][i];
                    act = mix(prod, freeze(prod), 2);
                }
                case CPLRP -> {
                    double[][] silu = new double[T][g[0].length];
                    for (int t = 0; t < T; t++) for (int i = 0; i < g[t].length; i++) silu[t][i] = g[t][i] / (1 + Math.exp(-g[t][i]));
                    silu = freeze(silu);
                    for (int t = 0; t < T; t++) for (int i = 0; i < g[t].length; i++) act[t][i] = silu[t][i] * u[t][i];
                }
            }
            double[][] d = linear(act, p + "mlp.down_proj", c.mlpBias());
            for (int t = 0; t < T; t++) for (int i = 0; i < H; i++) h[t][i] += d[t][i];
        }
        double[][] x = rmsNorm(h, "model.norm.weight");
        Tensor head = c.tieWordEmbeddings() ? w.get("model.embed_tokens.weight") : w.get("lm_head.weight");
        int from = lastOnly ? T - 1 : 0;
        double[][] out = new double[T - from][c.vocabSize()];
        for (int t = from; t < T; t++)
            for (int r = 0; r < c.vocabSize(); r++) {
                double s = 0;
                for (int i = 0; i < H; i++) s += head.get((long) r * H + i) * x[t][i];
                out[t - from][r] = s;
            }
        return out;
    }

    /** z/m + (1 − 1/m)·z₀: the value of z₀ at the base point, 1/m of the gradient of z. */
    private static double[][] mix(double[][] z, double[][] z0, int m) {
        double[][] out = new double[z.length][];
        for (int t = 0; t < z.length; t++) {
            out[t] = new double[z[t].length];
            for (int i = 0; i < z[t].length; i++) out[t][i] = z[t][i] / m + (1 - 1.0 / m) * z0[t][i];
        }
        return out;
    }

    /** x · 1/sqrt(mean(x²) + eps) · weight, row by row. */
    private double[][] rmsNorm(double[][] h, String weight) {
        Tensor g = w.get(weight);
        double[][] out = new double[h.length][1];
        for (int t = 0; t < h.length; t++) {
            double ms = 0;
            for (double e : h[t]) ms += e * e;
            ms /= h[t].length;
            out[t][0] = 1 / Math.sqrt(ms + c.rmsNormEps());
        }
        if (mode != RuleMode.GRADIENT) out = freeze(out);   // LRP: 1/rms is a constant (kept in column 0)
        double[][] y = new double[h.length][h[0].length];
        for (int t = 0; t < h.length; t++)
            for (int i = 0; i < h[t].length; i++) y[t][i] = g.get(i) * (h[t][i] * out[t][0]);
        return y;
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
    private void rotary(double[][] x, int heads, int layer) {
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
                cos[i] = Math.cos(f) * (cosScale == null ? 1 : cosScale[layer][t]);
                sin[i] = Math.sin(f) * (sinScale == null ? 1 : sinScale[layer][t]);
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

    /**
     * Eager attention with repeat_kv, causal mask and, if configured, the sliding window (kv > q − window); with an
     * {@link #intervention} at this layer and head, for query rows i ≥ its query threshold, the bias b_j of key j is
     * added to the score of every visible key (pre-softmax) or to the weight p_j of the value (post-softmax: of the
     * visible keys, or of every key of the sequence when not causal), without renormalising, or (renormalised) with
     * every weight of the row then divided by 1 + the sum of the biases it got.
     */
    private double[][] attention(int layer, double[][] q, double[][] k, double[][] v) {
        int T = q.length, hd = c.headDim(), nRep = c.numHeads() / c.numKvHeads();
        double[][] out = new double[T][c.numHeads() * hd];
        AttentionIntervention iv = intervention;
        double[] bias = new double[T];
        if (iv != null) {
            AttentionIntervention.KeyBias kb = iv.biases().get(0);
            int[] pos = kb.positions();
            float[] val = kb.values();
            for (int x = 0; x < pos.length; x++) if (pos[x] < T) bias[pos[x]] = val[x];
        }
        for (int h = 0; h < c.numHeads(); h++) {
            int kv = h / nRep;
            for (int i = 0; i < T; i++) {
                boolean steered = iv != null && iv.atLayer(layer) && iv.atHead(h) && i >= iv.biases().get(0).fromQuery();
                boolean pre = steered && iv.site() == AttentionIntervention.Site.PRE_SOFTMAX;
                boolean post = steered && iv.site() != AttentionIntervention.Site.PRE_SOFTMAX;
                boolean renorm = steered && iv.site() == AttentionIntervention.Site.POST_SOFTMAX_RENORM;
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
                    s[j] = dot / Math.sqrt(hd) + (pre ? bias[j] : 0);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < T; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                double rowSum = 1;            // renormalised: every weight divided by 1 + the biases the row gets
                for (int j = 0; j < T && renorm; j++) {
                    boolean visible = j <= i && (c.slidingWindow() == 0 || j > i - c.slidingWindow());
                    if (visible || !iv.causal()) rowSum += bias[j];
                }
                for (int j = 0; j < T; j++) {
                    boolean visible = j <= i && (c.slidingWindow() == 0 || j > i - c.slidingWindow());
                    double weight = (s[j] / sum + (post && (visible || !iv.causal()) ? bias[j] : 0)) / rowSum;
                    for (int d = 0; d < hd; d++) out[i][h * hd + d] += weight * v[j][kv * hd + d];
                }
            }
        }
        return out;
    }
}
