package io.rationale.serum;

import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.engine.Backend;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * The relevance that steers: token relevance of a prompt for the model's next-token decision (the maximum logit at
 * its last position, as the authors' code takes it), from any attribution method of the engine (default
 * {@link Method#PE_LRP}), cut to the span [{@code start}, {@code end}) and normalised.
 *
 * @param method     the attribution method
 * @param targetId   the explained token (the argmax at the last position)
 * @param scores     every prompt token's score
 * @param raw        the span's scores
 * @param weights    the span's normalised scores
 */
public record SpanRelevance(Method method, Normalization normalization, int start, int end, int targetId, double[] scores,
                            double[] raw, double[] weights) {

    /**
     * Runs {@code method} on {@code input} (ids, tokens and texts of the whole prompt) on {@code backend}, which must
     * have what the method needs (a backward pass; positional relevance for pe_lrp).
     */
    public static SpanRelevance compute(Backend backend, AttributionInput input, int start, int end, Method method, Normalization norm, long seed) {
        if (end > input.size()) throw new IllegalArgumentException("span " + start + ":" + end + " ends after the prompt's " + input.size() + " tokens");
        Attribution a = new Attributor(backend).attribute(input, TargetSpec.argmaxLogit(), method, Options.defaults().withSeed(seed));
        return of(method, norm, start, end, a.target().tokenId(), a.scores());
    }

    /** From given token scores (e.g. a relevance file, then {@code scores} is the span itself and start 0 of it). */
    public static SpanRelevance of(Method method, Normalization norm, int start, int end, int targetId, double[] scores) {
        double[] raw = Arrays.copyOfRange(scores, start, end);
        return new SpanRelevance(method, norm, start, end, targetId, scores.clone(), raw, norm.apply(raw));
    }

    /** An attribution input for prompt ids (texts from the tokenizer when it has them). */
    public static AttributionInput input(int[] ids, Encoding encoding, Tokenizer tok) {
        return encoding != null ? AttributionInput.of(encoding) : AttributionInput.ofIds(ids, tok);
    }
}
