package io.rationale.eval;

import io.rationale.dataset.Example;

/**
 * Evaluates one example end to end: classify by label words, build every requested rationale (attribution
 * methods, prompting methods, the random baseline), score alignment with the human rationale and faithfulness by
 * masking. The runner calls it example by example and writes each result as it comes.
 */
public interface Evaluator extends AutoCloseable {
    ExampleResult evaluate(int index, Example example);

    /** What runs the model, in words, for the run's summary (null when not a model, e.g. a test's fake). */
    default String device() { return null; }

    /** Settings the evaluator resolved for the run (e.g. the integrated-gradients baseline's token), for the summary. */
    default java.util.Map<String, Object> resolved() { return java.util.Map.of(); }

    /**
     * The attributions the evaluation computes for one example, without scoring them ({@code attribute --dataset}):
     * {@link ModelEvaluator#attribute}. Evaluators without a model on this machine do not attribute.
     */
    default ExampleAttribution attribute(int index, Example example) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not attribute examples");
    }

    @Override
    void close();
}
