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
 * @param stopReason   {@code stop_token} or {@code max_tokens}
 * @param seconds      wall time of the generation
 * @param device       what ran it
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"ids", "text", "prompt_tokens", "new_tokens", "stop_reason", "seconds", "device"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record GenerationResult(int[] ids, String text, int promptTokens, int newTokens, String stopReason, double seconds,
                               String device) {
    /** {@link #stopReason()} when a stop token ended generation. */
    public static final String STOP_TOKEN = "stop_token";
    /** {@link #stopReason()} when the token budget ended generation. */
    public static final String MAX_TOKENS = "max_tokens";
}
