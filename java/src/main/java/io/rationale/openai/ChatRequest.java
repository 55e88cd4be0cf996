package io.rationale.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * {@code POST /v1/chat/completions}, as OpenAI's chat completions API defines it (unknown fields ignored).
 *
 * @param model               the model's id
 * @param messages            the conversation; {@code content} a string or a list of {@code {"type": "text", "text"}}
 *                            parts
 * @param maxTokens           tokens to generate (default: until a stop token or the context ends)
 * @param maxCompletionTokens the newer name of {@code max_tokens} (wins when both are given)
 * @param temperature         default 1; 0 is greedy
 * @param topP                default 1
 * @param n                   choices (1–64; choice j samples with seed + j)
 * @param stream              send the answer as server-sent events while it is generated
 *                            ({@code chat.completion.chunk} objects with a {@code delta}; {@code data: [DONE]} last)
 * @param streamOptions       with {@code stream}: {@code {"include_usage": true}} adds a last chunk with the token counts
 * @param stop                a string or up to 64 strings
 * @param seed                sampling seed
 * @param logprobs            report the chosen tokens' log-probabilities
 * @param topLogprobs         with {@code logprobs}: this many most likely alternatives per token (0–20)
 * @param frequencyPenalty    (only 0)
 * @param presencePenalty     (only 0)
 * @param logitBias           (only empty)
 * @param tools               (function calling is not supported: only none or empty)
 * @param toolChoice          (only {@code none} or {@code auto} without tools)
 * @param responseFormat      (only {@code {"type": "text"}})
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ChatRequest(String model, List<Message> messages, Integer maxTokens, Integer maxCompletionTokens, Double temperature,
                          Double topP, Integer n, Boolean stream, CompletionRequest.StreamOptions streamOptions, JsonNode stop, Long seed, Boolean logprobs, Integer topLogprobs,
                          Double frequencyPenalty, Double presencePenalty, JsonNode logitBias, JsonNode tools, JsonNode toolChoice,
                          JsonNode responseFormat) {

    /** One message; {@code content} is a string or a list of text parts. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Message(String role, JsonNode content) {}

    /** A request with the fields a client usually sets. */
    public static ChatRequest of(String model, List<Message> messages, Integer maxTokens, Double temperature, Boolean logprobs,
                                 Integer topLogprobs, JsonNode stop, Long seed) {
        return new ChatRequest(model, messages, maxTokens, null, temperature, null, null, null, null, stop, seed, logprobs, topLogprobs,
                null, null, null, null, null, null);
    }
}
