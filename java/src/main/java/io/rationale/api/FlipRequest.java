package io.rationale.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * One example to classify and whose rationales to test by masking ({@link Rationale#flipEvaluation}): the prompts,
 * label words, masking and metrics of {@code rationale eval} (docs/eval-core.md), for one example given in the
 * request. Rationales are computed by the listed {@code methods} (attribution and prompting methods, as
 * {@code eval --methods}; the random baseline is then added), given as rankings ({@code rationales}), or both.
 *
 * @param id         the example's id in the result (default {@code "request"})
 * @param kind       dataset kind: picks the prompt template ({@code esnli}, {@code fever}, {@code medicalbios}, or
 *                   anything else for the generic one; default generic)
 * @param labels     the label set, in order
 * @param fields     the texts under study, in prompt order
 * @param label      the gold label (optional; the result's {@code gold} is then the first label)
 * @param rationale  a human rationale: word indices over all fields in order (optional; enables alignment)
 * @param methods    rationale methods to compute (optional)
 * @param rationales rationales given as rankings (optional)
 * @param k          size of computed rationales: {@code human} (default) or a fraction in (0, 1]
 * @param mask       {@code delete} (default) or {@code replace:TOKEN}
 * @param seed       seed of the random baseline (default 0)
 * @param igSteps    integrated-gradients steps (default 32)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FlipRequest(String id, String kind, List<String> labels, List<Field> fields, String label, List<Integer> rationale,
                          List<String> methods, List<Given> rationales, String k, String mask, Long seed, Integer igSteps) {

    /** One text field. */
    public record Field(String name, String text) {}

    /**
     * A rationale computed elsewhere.
     *
     * @param method  its name in the result
     * @param ranking word indices over all fields, most important first
     * @param k       its main size (default: the whole ranking)
     */
    public record Given(String method, List<Integer> ranking, Integer k) {}
}
