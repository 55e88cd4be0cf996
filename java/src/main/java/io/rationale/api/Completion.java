package io.rationale.api;

import io.rationale.engine.SamplingParams;

import java.util.List;
import java.util.Set;

/**
 * A completion of a token prompt, with log-probabilities: what the OpenAI-compatible endpoints are built on
 * ({@link Rationale#complete}). Token ids only; the caller turns them into text.
 *
 * @param prompt         the prompt ids
 * @param promptLogprobs with {@link Spec#promptLogprobs()}: per prompt position, the log-probability of that token
 *                       given the ones before it (null at position 0, which nothing predicts); else null
 * @param generated      the new tokens (a stop token that ended generation included)
 * @param logprobs       with {@link Spec#logprobs()}: per new token its log-probability and the top alternatives; else null
 * @param finishReason   why generation ended
 * @param stopText       with {@link FinishReason#STOP_STRING}: the generated text cut before the stop string; else null
 * @param seconds        wall time from the prompt's pass to the last token
 */
public record Completion(int[] prompt, List<TokenLogprob> promptLogprobs, int[] generated, List<TokenLogprob> logprobs,
                         FinishReason finishReason, String stopText, double seconds) {

    /** Why a completion ended. */
    public enum FinishReason {
        /** A stop token (EOS) was generated. */
        STOP_TOKEN,
        /** The generated text contains a stop string. */
        STOP_STRING,
        /** The token budget is used up (or it was 0). */
        LENGTH
    }

    /**
     * A token's log-probability, {@code log softmax(logits)[id]} in double as the engine's
     * {@link io.rationale.engine.Target.LogProb} computes it, and the most likely tokens at that position.
     *
     * @param id          the token
     * @param logprob     its log-probability
     * @param topIds      the most likely tokens, highest first (lower id first on ties)
     * @param topLogprobs their log-probabilities
     */
    public record TokenLogprob(int id, double logprob, int[] topIds, double[] topLogprobs) {}

    /**
     * Sees a completion's tokens as they are chosen ({@link Rationale#completeAsync(Spec, Listener)}; streaming). It
     * is called on the engine's thread between steps, so it must return at once (hand the tokens on, to a queue say);
     * an exception from it fails the completion. The completion's future completes after the last token.
     */
    public interface Listener {
        /**
         * With {@link Spec#promptLogprobs()}: the prompt's log-probabilities, as {@link Completion#promptLogprobs()}
         * will hold them, once, before the first token.
         */
        default void prompt(List<TokenLogprob> promptLogprobs) { }

        /**
         * A new token (a stop token that ends generation included).
         *
         * @param logprob with {@link Spec#logprobs()}: its log-probability and alternatives, as in
         *                {@link Completion#logprobs()}; else null
         */
        void token(int id, TokenLogprob logprob);
    }

    /**
     * What to complete.
     *
     * @param prompt         prompt ids (at least one)
     * @param maxNewTokens   tokens to generate at most (0: only score the prompt)
     * @param sampling       greedy, or temperature / top-p with a seed
     * @param stopTokens     token ids that end generation ({@code Set.of()}: none)
     * @param stopStrings    texts that end generation (checked on the decoded new tokens; {@code List.of()}: none)
     * @param logprobs       report each new token's log-probability
     * @param topLogprobs    how many alternatives to report with each log-probability
     * @param promptLogprobs report the prompt tokens' log-probabilities (echo)
     */
    public record Spec(int[] prompt, int maxNewTokens, SamplingParams sampling, Set<Integer> stopTokens, List<String> stopStrings,
                       boolean logprobs, int topLogprobs, boolean promptLogprobs) {
        public Spec {
            if (prompt == null || prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
            if (maxNewTokens < 0) throw new IllegalArgumentException("max tokens must be >= 0, got " + maxNewTokens);
            if (sampling == null) throw new IllegalArgumentException("sampling is null (SamplingParams.greedy(): greedy decoding)");
            if (stopTokens == null) throw new IllegalArgumentException("stopTokens is null (Set.of(): none)");
            if (stopStrings == null) throw new IllegalArgumentException("stopStrings is null (List.of(): none)");
            if (topLogprobs < 0) throw new IllegalArgumentException("top logprobs must be >= 0, got " + topLogprobs);
            for (Integer t : stopTokens) if (t == null) throw new IllegalArgumentException("stopTokens: a stop token is null");
            for (String s : stopStrings) {
                if (s == null) throw new IllegalArgumentException("stopStrings: a stop string is null");
                if (s.isEmpty()) throw new IllegalArgumentException("a stop string is empty");
            }
            prompt = prompt.clone();
            stopTokens = Set.copyOf(stopTokens);
            stopStrings = List.copyOf(stopStrings);
        }
    }
}
