package io.rationale.engine;

import java.util.Arrays;
import java.util.List;

/**
 * A bias on attention over chosen key positions, at chosen layers (and optionally heads): the hook of the
 * Faithfulness Serum (attribution-guided attention steering) and of its relatives (PASTA, InstABoost). Applied by a
 * forward pass through {@link ForwardOptions#intervention()}; every backend implements it the same way.
 *
 * <p>For a query row of sequence s at position P ≥ {@code biases(s).fromQuery()}, in a chosen layer and head, with
 * {@code b_j} the bias of key position j (0 for keys not listed):
 * <ul>
 * <li>{@link Site#PRE_SOFTMAX}: {@code p = softmax(q·k_j/√d + b_j)} over the keys the query may see; the rest of
 *     attention is unchanged.</li>
 * <li>{@link Site#POST_SOFTMAX}: {@code out = Σ_j (p_j + b_j)·v_j} with p the plain softmax, rows NOT renormalised
 *     (they sum to {@code 1 + Σ b_j}) — the operator the Faithfulness Serum authors released. With {@code causal}
 *     the bias goes only to keys the query may see (j ≤ P, inside a sliding window); without it to every listed key
 *     that exists in the sequence's context of this forward (cached + new positions), as the authors' code does in a
 *     prefill, where rows before the end of the span also get weight on later span keys.</li>
 * <li>{@link Site#POST_SOFTMAX_RENORM}: the same weights {@code p_j + b_j} divided by their sum
 *     {@code S = 1 + Σ b_j} (over the keys the bias reaches, by the same {@code causal} rule), so every steered row
 *     sums to 1: {@code out = (Σ_j p_j·v_j + Σ_j b_j·v_j) / S}. A bias whose negative values sum to −1 or less could
 *     make S ≤ 0 and is refused.</li>
 * </ul>
 * Listed positions beyond the context of a forward are ignored (they have no key yet).
 *
 * @param site   where the bias is added
 * @param layers the decoder layers it applies to (0-based, distinct, at least one)
 * @param heads  the query heads it applies to, or null for all
 * @param causal only keys the query may see (always true for {@link Site#PRE_SOFTMAX})
 * @param biases one per sequence of the forward, or a single one for every sequence; null entries for none
 */
public record AttentionIntervention(Site site, int[] layers, int[] heads, boolean causal, List<KeyBias> biases) {

    /** Where the bias is added. */
    public enum Site {
        PRE_SOFTMAX, POST_SOFTMAX, POST_SOFTMAX_RENORM;

        /** Whether the bias is added to the probabilities (after the softmax). */
        public boolean post() { return this != PRE_SOFTMAX; }
    }

    /**
     * One sequence's bias: {@code values[i]} at key position {@code positions[i]} (distinct, ≥ 0), for query rows at
     * positions ≥ {@code fromQuery} (0: every row).
     */
    public record KeyBias(int[] positions, float[] values, int fromQuery) {
        public KeyBias {
            if (positions == null || values == null) throw new IllegalArgumentException("key bias: positions and values are required");
            if (positions.length != values.length)
                throw new IllegalArgumentException("key bias: " + positions.length + " positions but " + values.length + " values");
            if (fromQuery < 0) throw new IllegalArgumentException("key bias: query threshold " + fromQuery + " is negative");
            positions = positions.clone();
            values = values.clone();
            int[] sorted = positions.clone();
            Arrays.sort(sorted);
            for (int i = 0; i < sorted.length; i++) {
                if (sorted[i] < 0) throw new IllegalArgumentException("key bias: position " + sorted[i] + " is negative");
                if (i > 0 && sorted[i] == sorted[i - 1]) throw new IllegalArgumentException("key bias: position " + sorted[i] + " is listed twice");
            }
            for (float v : values) if (!Float.isFinite(v)) throw new IllegalArgumentException("key bias: value " + v + " is not finite");
        }

        /** The same bias value {@code value} on every position of [from, to). */
        public static KeyBias uniform(int from, int to, float value, int fromQuery) {
            int[] p = new int[Math.max(0, to - from)];
            float[] v = new float[p.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = from + i;
                v[i] = value;
            }
            return new KeyBias(p, v, fromQuery);
        }

        @Override public int[] positions() { return positions.clone(); }

        @Override public float[] values() { return values.clone(); }

        /** Bias per position over [0, length): zero where none is listed (positions ≥ length dropped). */
        public float[] dense(int length) {
            float[] d = new float[length];
            for (int i = 0; i < positions.length; i++) if (positions[i] < length) d[positions[i]] = values[i];
            return d;
        }
    }

    public AttentionIntervention {
        if (site == null) throw new IllegalArgumentException("attention intervention: no site");
        if (layers == null || layers.length == 0) throw new IllegalArgumentException("attention intervention: no layers");
        if (biases == null || biases.isEmpty()) throw new IllegalArgumentException("attention intervention: no key biases");
        if (site == Site.PRE_SOFTMAX && !causal)
            throw new IllegalArgumentException("attention intervention: a pre-softmax bias can only reach keys the query sees (causal)");
        layers = distinct(layers, "layer");
        heads = heads == null ? null : distinct(heads, "head");
        biases = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(biases));
        if (site == Site.POST_SOFTMAX_RENORM)
            for (int s = 0; s < biases.size(); s++) {
                KeyBias kb = biases.get(s);
                if (kb == null) continue;
                double negative = 0;
                for (float v : kb.values) negative += Math.min(0, v);
                if (!(1 + negative > 0))
                    throw new IllegalArgumentException("attention intervention: post-softmax renormalisation divides a row by 1 + its biases, but the"
                            + " negative biases of sequence " + s + " sum to " + (float) negative + ", so a row could sum to 0 or less");
            }
    }

    private static int[] distinct(int[] xs, String what) {
        int[] s = xs.clone();
        Arrays.sort(s);
        for (int i = 0; i < s.length; i++) {
            if (s[i] < 0) throw new IllegalArgumentException("attention intervention: " + what + " " + s[i] + " is negative");
            if (i > 0 && s[i] == s[i - 1]) throw new IllegalArgumentException("attention intervention: " + what + " " + s[i] + " is listed twice");
        }
        return s;
    }

    @Override public int[] layers() { return layers.clone(); }

    @Override public int[] heads() { return heads == null ? null : heads.clone(); }

    /** Whether layer {@code l} is steered. */
    public boolean atLayer(int l) { return Arrays.binarySearch(layers, l) >= 0; }

    /** Whether head {@code h} is steered (in a steered layer). */
    public boolean atHead(int h) { return heads == null || Arrays.binarySearch(heads, h) >= 0; }

    /** Sequence {@code s}'s bias in a forward of {@code sequences} sequences (null: none). */
    public KeyBias bias(int s, int sequences) {
        if (biases.size() == 1) return biases.get(0);
        if (biases.size() != sequences)
            throw new IllegalArgumentException("attention intervention: " + biases.size() + " key biases for " + sequences + " sequences");
        return biases.get(s);
    }

    /** Checks the layers and heads against a model. */
    public void check(io.rationale.model.ModelConfig c, int sequences) {
        if (layers[layers.length - 1] >= c.numLayers())
            throw new IllegalArgumentException("attention intervention: layer " + layers[layers.length - 1] + " outside [0, " + c.numLayers() + ")");
        if (heads != null && heads[heads.length - 1] >= c.numHeads())
            throw new IllegalArgumentException("attention intervention: head " + heads[heads.length - 1] + " outside [0, " + c.numHeads() + ")");
        if (biases.size() != 1 && biases.size() != sequences)
            throw new IllegalArgumentException("attention intervention: " + biases.size() + " key biases for " + sequences + " sequences");
    }
}
