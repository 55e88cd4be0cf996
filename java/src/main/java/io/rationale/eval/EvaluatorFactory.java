package io.rationale.eval;

import io.rationale.dataset.Dataset;

import java.nio.file.Path;

/**
 * Opens the {@link Evaluator} of a run: the seam between the runner ({@link EvalRunner}) and the evaluation core.
 * The command line uses {@code ModelEvaluator::open}; tests pass a fake.
 */
@FunctionalInterface
public interface EvaluatorFactory {
    /**
     * @param modelDir the model folder ({@code --model})
     * @param dataset  the loaded dataset (all of it; the runner asks for examples by index)
     * @param options  the run's options
     */
    Evaluator open(Path modelDir, Dataset dataset, EvalOptions options) throws Exception;
}
