package io.rationale.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * {@code POST /v1/completions}, as OpenAI's (legacy) completions API defines it. Unknown fields are ignored, as
 * OpenAI-compatible servers do, so clients that send extra parameters keep working.
 *
 * @param model            the model's id
 * @param prompt           a string, a list of strings, a list of token ids, or a list of token-id lists (one choice
 *                         per prompt)
 * @param maxTokens        tokens to generate (OpenAI's default 16; 0 with {@code echo} scores the prompt only)
 * @param temperature      sampling temperature (default 1; 0 is greedy)
 * @param topP             nucleus mass (default 1)
 * @param n                choices per prompt (1–64; choice j samples with seed + j)
 * @param stream           send the completion as server-sent events while it is generated ({@code data: <chunk>}
 *                         lines, each chunk shaped like the whole answer with the new text; {@code data: [DONE]} last)
 * @param streamOptions    with {@code stream}: {@code {"include_usage": true}} adds a last chunk with the token
 *                         counts and no choices
 * @param logprobs         report the log-probabilities of this many most likely tokens at each position, plus the
 *                         chosen token's (0: only the chosen token's)
 * @param echo             return the prompt with the completion (and, with {@code logprobs}, the prompt tokens'
 *                         log-probabilities; the first is null)
 * @param stop             a string or up to 64 strings that end generation (not included in the text)
 * @param seed             sampling seed
 * @param bestOf           candidates per choice (only 1)
 * @param presencePenalty  (only 0)
 * @param frequencyPenalty (only 0)
 * @param logitBias        (only empty)
 * @param suffix           (not supported)
 * @param user             ignored
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CompletionRequest(String model, JsonNode prompt, Integer maxTokens, Double temperature, Double topP, Integer n,
                                Boolean stream, StreamOptions streamOptions, Integer logprobs, Boolean echo, JsonNode stop, Long seed, Integer bestOf,
                                Double presencePenalty, Double frequencyPenalty, JsonNode logitBias, String suffix, String user) {

    /** A request with the fields a client usually sets. */
    public static CompletionRequest of(String model, JsonNode prompt, Integer maxTokens, Double temperature, Integer logprobs,
                                       Boolean echo, JsonNode stop, Long seed) {
        return new CompletionRequest(model, prompt, maxTokens, temperature, null, null, null, null, logprobs, echo, stop, seed, null,
                null, null, null, null, null);
    }

    /** {@code stream_options}. @param includeUsage end the stream with a chunk of token counts */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record StreamOptions(Boolean includeUsage) {}
}
