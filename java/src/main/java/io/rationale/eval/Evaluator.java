package io.rationale.eval;

import io.rationale.dataset.Example;

/**
 * Evaluates one example end to end: classify by label words, build every requested rationale (attribution
 * methods, prompting methods, the random baseline), score alignment with the human rationale and faithfulness by
 * masking. The runner calls it example by example and writes each result as it comes.
 */
public interface Evaluator extends AutoCloseable {
    ExampleResult evaluate(int index, Example example);

    @Override
    void close();
}
