package io.rationale.attribution;

import java.util.List;
import java.util.Map;

/**
 * The result of one method on one input.
 *
 * @param method    the method
 * @param ids       input token ids
 * @param tokens    the input tokens with their spans, words and study flag
 * @param target    the explained scalar and its values at the input
 * @param scores    one score per input token, in input order (NaN only where a method leaves one undefined, see
 *                  {@link Method#OCCLUSION})
 * @param words     the words of the text under study with their scores
 * @param aggregate how token scores became word scores (not used by occlusion, which scores words directly)
 * @param seconds   wall time: of the whole call when it ran one method; in a multi-method run, of this method's own
 *                  work without the {@linkplain AttributionSet#shared() shared} steps
 * @param extras    method-specific values (integrated gradients: steps, rule, baseline, completeness_error, ...;
 *                  random: seed; occlusion: variants, batches; ...), insertion-ordered
 */
public record Attribution(Method method, int[] ids, List<TokenInfo> tokens, ResolvedTarget target, double[] scores,
                          List<WordScore> words, Aggregate aggregate, double seconds, Map<String, Object> extras) {

    /**
     * One input token.
     *
     * @param index   position in the input
     * @param id      token id
     * @param piece   vocabulary string ("" without a tokenizer)
     * @param text    the covered input text ({@code text.substring(start, end)} of the input)
     * @param start   first UTF-16 char (inclusive)
     * @param end     end char (exclusive); start == end for BOS/EOS
     * @param special whether it is a special token
     * @param inStudy whether it covers text under study (false: template or special token, excluded from words)
     * @param words   indices of the words it belongs to
     */
    public record TokenInfo(int index, int id, String piece, String text, int start, int end, boolean special,
                            boolean inStudy, int[] words) {}

    /**
     * One word of the text under study.
     *
     * @param index  word index
     * @param text   the word
     * @param start  first UTF-16 char in the input text
     * @param end    end char (exclusive)
     * @param score  aggregated score (occlusion: the leave-this-word-out score)
     * @param tokens indices of its tokens
     */
    public record WordScore(int index, String text, int start, int end, double score, int[] tokens) {}

    /**
     * The explained scalar.
     *
     * @param spec   the target with its token resolved
     * @param logit  the target token's logit at the last position
     * @param value  f: the logit, log-probability or logit difference, per {@code spec.kind()}
     * @param argmax whether the target token is the model's argmax at the last position, whether it was left to
     *               default or named by id or text (its logit is the highest; a token tied for the highest counts)
     */
    public record ResolvedTarget(TargetSpec spec, double logit, double value, boolean argmax) {
        public int tokenId() { return spec.tokenId(); }

        /** {@code target} at the last position's logits {@code last}, whose argmax is {@code argmax}: the default resolved to it. */
        public static ResolvedTarget of(TargetSpec target, float[] last, int argmax) {
            TargetSpec spec = target.isArgmax() ? target.withToken(argmax) : target;
            return new ResolvedTarget(spec, last[spec.tokenId()], spec.value(last), last[spec.tokenId()] >= last[argmax]);
        }
    }

    /** The word scores, in word order. */
    public double[] wordScores() {
        double[] out = new double[words.size()];
        for (int k = 0; k < out.length; k++) out[k] = words.get(k).score();
        return out;
    }
}
