package io.rationale.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * One forward pass: what {@code rationale logits --json} prints, {@link Rationale#logits} returns and the service's
 * {@code /v1/logits} answers.
 *
 * @param ids               the input ids (BOS included when the tokenizer adds it)
 * @param logitsLast        all vocabulary logits at the last position
 * @param argmaxPerPosition the argmax at every position (lowest id on ties)
 * @param argmaxLast        the argmax at the last position
 * @param seconds           wall time of the forward pass (in a batch: of the batch's pass)
 * @param device            what ran it ({@code cpu (2 threads)}, ...)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"ids", "logits_last", "argmax_per_position", "argmax_last", "seconds", "device"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LogitsResult(int[] ids, float[] logitsLast, int[] argmaxPerPosition, int argmaxLast, double seconds, String device) {}
