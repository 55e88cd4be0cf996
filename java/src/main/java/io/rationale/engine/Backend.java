package io.rationale.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Runs a {@link Model} forward: the seam where backends plug in (CPU now, CUDA later).
 *
 * <p>The one primitive is {@link #forward(List, List, LogitsMode, Activations)}: a batch of sequences, each with
 * its new tokens and its KV cache. A backend packs all new tokens into one {@code [tokens, hidden]} matrix for the
 * projections (no padding), runs attention per sequence at its own positions (cache length + index), appends
 * keys and values to each cache and returns the requested logits. Prefill is a call with many tokens, decode a call
 * with one token per sequence. The other methods are conveniences over it.
 */
public interface Backend extends AutoCloseable {

    Model model();

    /** An empty KV cache for this model. */
    default KvCache newCache() { return new KvCache(model().config()); }

    /**
     * Runs each sequence's new tokens after what its cache holds and appends them to the cache.
     *
     * @param tokens  per sequence, its new token ids (at least one each)
     * @param caches  per sequence, its cache (distinct objects); null, or null entries, for throwaway caches
     * @param mode    which positions get logits
     * @param record  null, or an {@link Activations} to fill for a backward pass
     * @return logits, sequence by sequence in batch order
     */
    Logits forward(List<int[]> tokens, List<KvCache> caches, LogitsMode mode, Activations record);

    /** One sequence: runs {@code tokens} after what {@code cache} holds (null: a fresh throwaway cache). */
    default Logits forward(int[] tokens, KvCache cache, LogitsMode mode) {
        return forward(List.of(tokens), Arrays.asList(cache), mode, null);
    }

    /** Whole sequences from position 0, without caches. */
    default Logits forward(List<int[]> sequences, LogitsMode mode) {
        return forward(sequences, null, mode, null);
    }

    /**
     * Last-position logits of continuations of one cached sequence. Continuation i is {@code rests.get(i)} run after
     * the first {@code prefixLengths[i]} positions of {@code base} (a {@link KvCache#forkPrefix} each: full blocks
     * shared, {@code base} unchanged), so a prefix is computed once for all of them. Continuations are packed in
     * order into batched forwards of at most {@code maxTokens} new tokens (at least one continuation each); a
     * batch's forks are dropped after it.
     *
     * @param prefixLengths per continuation, how many of base's positions precede it; null for all of them
     * @param lastLogits    receives each continuation's index and last logits, in order
     * @return the forward passes run
     */
    default int forwardContinuations(KvCache base, int[] prefixLengths, List<int[]> rests, int maxTokens,
                                     java.util.function.ObjIntConsumer<float[]> lastLogits) {
        if (maxTokens < 1) throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
        if (prefixLengths != null && prefixLengths.length != rests.size())
            throw new IllegalArgumentException(rests.size() + " continuations but " + prefixLengths.length + " prefix lengths");
        int forwards = 0;
        for (int i = 0; i < rests.size(); ) {
            int j = i, tokens = 0;
            while (j < rests.size() && (j == i || tokens + rests.get(j).length <= maxTokens)) tokens += rests.get(j++).length;
            List<KvCache> caches = new ArrayList<>(j - i);
            for (int c = i; c < j; c++) caches.add(base.forkPrefix(prefixLengths == null ? base.length() : prefixLengths[c]));
            Logits l = forward(rests.subList(i, j), caches, LogitsMode.LAST, null);
            forwards++;
            for (int c = i; c < j; c++) lastLogits.accept(l.last(c - i), c);
            i = j;
        }
        return forwards;
    }

    /**
     * Hugging Face style padded batch: {@code ids[b][t]} with {@code attentionMask[b][t]} (1 = token, 0 = padding;
     * left or right padding, or any gaps). Masked tokens are dropped and each row is packed, so the positions of
     * the kept tokens are the cumulative sum of the mask minus one (what HF generate uses with left padding).
     *
     * @return {@code [B][T][vocab]} logits; rows at masked positions are all zero
     */
    default float[][][] forwardPadded(int[][] ids, int[][] attentionMask) {
        List<int[]> packed = Padding.pack(ids, attentionMask);
        Logits l = forward(packed, LogitsMode.ALL);
        float[][][] out = new float[ids.length][][];
        for (int b = 0; b < ids.length; b++) {
            out[b] = new float[ids[b].length][];
            int row = 0;
            for (int t = 0; t < ids[b].length; t++)
                out[b][t] = attentionMask[b][t] != 0 ? l.row(b, row++) : new float[l.vocabSize()];
        }
        return out;
    }

    /** Like {@link #forwardPadded} but only the logits of each row's last unmasked token: {@code [B][vocab]}. */
    default float[][] lastLogitsPadded(int[][] ids, int[][] attentionMask) {
        Logits l = forward(Padding.pack(ids, attentionMask), LogitsMode.LAST);
        float[][] out = new float[ids.length][];
        for (int b = 0; b < ids.length; b++) out[b] = l.last(b);
        return out;
    }

    /**
     * Forward from given input embeddings instead of token ids: each sequence runs from position 0 with a fresh
     * throwaway cache, exactly as {@link #forward(List, List, LogitsMode, Activations)} would after the embedding
     * lookup (so the token rows of {@code embed_tokens} give the same logits as the ids).
     *
     * @param embeddings per sequence, {@code [len*hidden]} row-major (len at least 1)
     * @param mode       which positions get logits
     * @param record     null, or an {@link Activations} to fill for {@link #backward} ({@link Activations#tokens} stays null)
     */
    Logits forwardEmbeddings(List<float[]> embeddings, LogitsMode mode, Activations record);

    /**
     * One backward pass over a recorded forward: for every sequence s, d targets.get(s) / d input embeddings of s,
     * with {@code mode}'s rule modifications, as {@code [len_s*hidden]}. The target is read at the last position of
     * each sequence. Sequences are independent, so all of them go through ONE pass over the packed batch.
     *
     * <p>The record must come from {@link #forward} or {@link #forwardEmbeddings} of the same batch with
     * {@link LogitsMode#LAST} or {@link LogitsMode#ALL}, every sequence starting at position 0 (fresh caches). The
     * record is only read: several targets on one input are several calls on the same record.
     * Token relevance is then {@code Σ_d e·g} with e = {@link Activations#embeddings}.
     *
     * @param targets one per sequence
     * @return per sequence, its gradient (or modified gradient) with respect to its input embeddings
     */
    float[][] backward(Activations record, List<Target> targets, RuleMode mode);

    /** Releases threads and device memory (not the model). */
    @Override
    void close();

    /** Packing of padded batches. */
    final class Padding {
        private Padding() {}

        /** The unmasked tokens of each row, in order. */
        public static List<int[]> pack(int[][] ids, int[][] mask) {
            if (ids.length != mask.length) throw new IllegalArgumentException("ids has " + ids.length + " rows, attention mask " + mask.length);
            List<int[]> out = new ArrayList<>(ids.length);
            for (int b = 0; b < ids.length; b++) {
                if (ids[b].length != mask[b].length)
                    throw new IllegalArgumentException("row " + b + ": ids has " + ids[b].length + " columns, attention mask " + mask[b].length);
                int n = 0;
                for (int m : mask[b]) if (m != 0) n++;
                if (n == 0) throw new IllegalArgumentException("row " + b + " has no unmasked token");
                int[] row = new int[n];
                int i = 0;
                for (int t = 0; t < ids[b].length; t++) if (mask[b][t] != 0) row[i++] = ids[b][t];
                out.add(row);
            }
            return out;
        }

        /** HF position ids for a padded batch: cumsum(mask) − 1, and 1 at masked positions (as HF fills them). */
        public static int[][] positionIds(int[][] mask) {
            int[][] pos = new int[mask.length][];
            for (int b = 0; b < mask.length; b++) {
                pos[b] = new int[mask[b].length];
                int sum = 0;
                for (int t = 0; t < mask[b].length; t++) {
                    sum += mask[b][t] != 0 ? 1 : 0;
                    pos[b][t] = mask[b][t] != 0 ? sum - 1 : 1;
                }
            }
            return pos;
        }
    }
}
