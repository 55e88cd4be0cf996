package io.rationale.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * One server-sent event of a streamed {@code POST /v1/chat/completions}: the first carries the role, the next ones
 * the new text, the last of a choice an empty delta and the finish reason; with {@code include_usage} a last chunk
 * has no choices and the token counts.
 *
 * @param id      {@code chatcmpl-...}, the same in every chunk of a stream
 * @param object  {@code chat.completion.chunk}
 * @param created Unix seconds, the same in every chunk
 * @param model   the model's id
 * @param choices the choice this chunk adds to (none in the usage chunk)
 * @param usage   the token counts in the usage chunk, else null
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonPropertyOrder({"id", "object", "created", "model", "choices", "usage"})
public record ChatChunk(String id, String object, long created, String model, List<Choice> choices, CompletionResponse.Usage usage) {

    /**
     * @param index        0
     * @param delta        what this chunk adds
     * @param logprobs     with {@code logprobs}: the chunk's token; else null
     * @param finishReason in a choice's last chunk {@code stop} or {@code length}, else null
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"index", "delta", "logprobs", "finish_reason"})
    public record Choice(int index, Delta delta, ChatResponse.Logprobs logprobs, String finishReason) {}

    /** The role (first chunk) and new text; absent fields are left out ({@code {}} in the last chunk). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"role", "content"})
    public record Delta(String role, String content) {}
}
