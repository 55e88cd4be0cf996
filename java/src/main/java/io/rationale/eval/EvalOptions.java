package io.rationale.eval;

import java.util.List;

/**
 * What an evaluation run does; the command line's {@code eval} options map onto it one to one, and it is written
 * to the results folder ({@code run.json}) so a resumed run can check it continues the same evaluation.
 *
 * @param methods     rationale methods: attribution methods as the attribute command spells them, {@code prompt_guided},
 *                    {@code prompt_unbound}; the {@code random} baseline is always added
 * @param k           {@code human} (default: k = the human rationale's length, or 10% of words when there is none) or a
 *                    fraction in (0, 1] of the example's words
 * @param mask        {@code delete} (default) or {@code replace:TOKEN}
 * @param annotators  {@code majority} (default), {@code union}, {@code annotator:ID} or {@code index:N}
 * @param shots       few-shot examples in the prompt (0 = zero-shot)
 * @param seed        seed of the random baseline, the few-shot draw and sampling
 * @param igSteps     integrated-gradients steps
 */
public record EvalOptions(List<String> methods, String k, String mask, String annotators, int shots, long seed, int igSteps) {
    public static EvalOptions defaults(List<String> methods) {
        return new EvalOptions(List.copyOf(methods), "human", "delete", "majority", 0, 0, 32);
    }
}
