package io.rationale.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;
import java.util.Map;

/**
 * The answer of {@code POST /v1/completions}: one choice per prompt, in prompt order.
 *
 * @param id      {@code cmpl-...}
 * @param object  {@code text_completion}
 * @param created Unix seconds
 * @param model   the model's id
 * @param choices one per prompt
 * @param usage   token counts over all choices
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonPropertyOrder({"id", "object", "created", "model", "choices", "usage"})
public record CompletionResponse(String id, String object, long created, String model, List<Choice> choices, Usage usage) {

    /**
     * One completion.
     *
     * @param text         the generated text (with {@code echo}: the prompt's text first)
     * @param index        the prompt's index
     * @param logprobs     with {@code logprobs}: per token of {@code text}; else null
     * @param finishReason {@code stop} (a stop token or string) or {@code length}
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"text", "index", "logprobs", "finish_reason"})
    public record Choice(String text, int index, Logprobs logprobs, String finishReason) {}

    /**
     * Per-token log-probabilities, all lists in token order.
     *
     * @param tokens        each token's text
     * @param tokenLogprobs each token's log-probability (null for the first prompt token, which nothing predicts)
     * @param topLogprobs   the most likely tokens' texts and log-probabilities at each position, the chosen token's
     *                      included (null where the token logprob is null)
     * @param textOffset    each token's char offset in the concatenation of {@code tokens}
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"tokens", "token_logprobs", "top_logprobs", "text_offset"})
    public record Logprobs(List<String> tokens, List<Double> tokenLogprobs, List<Map<String, Double>> topLogprobs, List<Integer> textOffset) {}

    /** Token counts. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"prompt_tokens", "completion_tokens", "total_tokens"})
    public record Usage(int promptTokens, int completionTokens, int totalTokens) {}
}
