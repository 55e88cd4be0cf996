package io.rationale.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * The answer of {@code POST /v1/chat/completions}.
 *
 * @param id      {@code chatcmpl-...}
 * @param object  {@code chat.completion}
 * @param created Unix seconds
 * @param model   the model's id
 * @param choices one
 * @param usage   token counts
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonPropertyOrder({"id", "object", "created", "model", "choices", "usage"})
public record ChatResponse(String id, String object, long created, String model, List<Choice> choices, CompletionResponse.Usage usage) {

    /**
     * The assistant's answer.
     *
     * @param index        0
     * @param message      {@code {"role": "assistant", "content": ...}}
     * @param logprobs     with {@code logprobs}: {@code {"content": [...]}}; else null
     * @param finishReason {@code stop} or {@code length}
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"index", "message", "logprobs", "finish_reason"})
    public record Choice(int index, AssistantMessage message, Logprobs logprobs, String finishReason) {}

    /** The answer's message. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"role", "content"})
    public record AssistantMessage(String role, String content) {}

    /** Per generated token. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Logprobs(List<TokenLogprob> content) {}

    /**
     * One generated token.
     *
     * @param token       its text
     * @param logprob     its log-probability
     * @param bytes       its UTF-8 bytes
     * @param topLogprobs the most likely alternatives (each without its own alternatives)
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"token", "logprob", "bytes", "top_logprobs"})
    public record TokenLogprob(String token, double logprob, int[] bytes, List<TopLogprob> topLogprobs) {}

    /** An alternative token. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"token", "logprob", "bytes"})
    public record TopLogprob(String token, double logprob, int[] bytes) {}
}
