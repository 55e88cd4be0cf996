package io.rationale.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * A generated continuation: what {@code rationale generate --json} prints and {@link Rationale#generate} returns.
 *
 * @param ids          prompt ids, then the generated ids (the stop token included when one ended generation)
 * @param text         the generated text (special tokens left out)
 * @param promptTokens prompt length
 * @param newTokens    generated tokens
 * @param stopReason   {@code stop_token}, {@code max_tokens}, or {@code max_positions} (the positions are full: the
 *                     model's context, or {@link Rationale#maxInputTokens()} when configured lower)
 * @param seconds      wall time of the generation
 * @param device       what ran it
 * @param steer          how the generation was steered (Faithfulness Serum, {@code docs/serum.md}); null: not steered
 * @param steerRelevance the normalised relevance used, one value per span token; null: not steered
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"ids", "text", "prompt_tokens", "new_tokens", "stop_reason", "seconds", "device", "steer", "steer_relevance"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record GenerationResult(int[] ids, String text, int promptTokens, int newTokens, String stopReason, double seconds,
                               String device, Steer steer, double[] steerRelevance) {

    /** An unsteered generation. */
    public GenerationResult(int[] ids, String text, int promptTokens, int newTokens, String stopReason, double seconds, String device) {
        this(ids, text, promptTokens, newTokens, stopReason, seconds, device, null, null);
    }

    /**
     * The steering of a generation: strength, layers, the prompt span {@code [start, end)}, operator, rows,
     * normalisation, and where the relevance came from (a file, or a method with its target and raw scores).
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Steer(double alpha, int[] layers, int[] span, String operator, String rows, String normalization,
                        String relevanceFile, String method, Integer targetId, double[] relevanceRaw, double relevanceSeconds) {}

    /** {@link #stopReason()} when a stop token ended generation. */
    public static final String STOP_TOKEN = "stop_token";
    /** {@link #stopReason()} when the token budget ended generation. */
    public static final String MAX_TOKENS = "max_tokens";
    /** {@link #stopReason()} when the positions were full (the last new token was not run). */
    public static final String MAX_POSITIONS = "max_positions";
}
