package io.rationale.serum;

import io.rationale.engine.ForwardRecord;
import io.rationale.engine.Model;
import io.rationale.weights.Tensor;

/**
 * The logit-lens layer choice of the Faithfulness Serum code: read the hidden state at the position that predicts
 * the chosen answer letter through the LM head, layer by layer, and steer from the first layer whose output already
 * ranks the letter high.
 *
 * <p>Hidden states {@code h_0} (the input embeddings) … {@code h_L} (the last layer's output); {@code h_{l+1}} is the
 * output of decoder layer l. Each goes through the final RMSNorm and the LM head (the usual logit lens; the authors'
 * Llama code skips the final norm and their Qwen code applies it — with the norm, {@code h_L} gives the model's own
 * logits, so a greedily generated letter always ranks 1 there). Rank = 1 + the number of vocabulary entries with a
 * strictly larger logit. With {@code i*} the first index whose rank is below the threshold, steering takes
 * {@code count} layers from decoder layer {@code i* − 1} (the layer that produced {@code h_{i*}}; 0 when i* = 0),
 * clipped to the model's layers.
 */
public final class LogitLensRule {
    private LogitLensRule() {}

    /**
     * Ranks of {@code tokenId} at {@code h_0 … h_L} of recorded token {@code token} of sequence 0 (the record must end
     * at that token or have logits there, so that the final norm's input is kept).
     */
    public static int[] ranks(Model model, ForwardRecord rec, int token, int tokenId) {
        int layers = model.numLayers();
        int[] out = new int[layers + 1];
        for (int l = 0; l <= layers; l++) out[l] = rank(lensLogits(model, rec.residual(l, 0, token)), tokenId);
        return out;
    }

    /** The layers to steer from the ranks at h_0 … h_L (never empty: h_L ranks the argmax 1). */
    public static int[] layers(int[] ranks, int rankThreshold, int count, int numLayers) {
        int first = -1;
        for (int i = 0; i < ranks.length && first < 0; i++) if (ranks[i] < rankThreshold) first = i;
        if (first < 0) first = ranks.length - 1;          // never below the threshold: from the last layer
        int start = Math.max(0, first - 1), end = Math.min(numLayers, start + count);
        int[] l = new int[end - start];
        for (int i = 0; i < l.length; i++) l[i] = start + i;
        return l;
    }

    /** Final RMSNorm and LM head of one hidden state, in double: {@code [vocab]}. */
    static double[] lensLogits(Model model, float[] h) {
        int d = h.length;
        double ss = 0;
        for (float x : h) ss += (double) x * x;
        double inv = 1 / Math.sqrt(ss / d + model.config().rmsNormEps());
        float[] norm = model.finalNorm();
        double[] xn = new double[d];
        for (int i = 0; i < d; i++) xn[i] = h[i] * inv * norm[i];
        Tensor head = model.lmHead();
        int vocab = head.rows();
        double[] out = new double[vocab];
        float[] row = new float[d];
        for (int v = 0; v < vocab; v++) {
            head.toFloat((long) v * d, row, 0, d);
            double s = 0;
            for (int i = 0; i < d; i++) s += row[i] * xn[i];
            out[v] = s;
        }
        return out;
    }

    static int rank(double[] logits, int id) {
        int r = 1;
        for (double v : logits) if (v > logits[id]) r++;
        return r;
    }
}
