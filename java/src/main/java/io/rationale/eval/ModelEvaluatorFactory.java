package io.rationale.eval;

import io.rationale.dataset.Dataset;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Path;

/**
 * The default {@link EvaluatorFactory}: {@code new io.rationale.eval.ModelEvaluator(Path modelDir, Dataset dataset,
 * EvalOptions options)}, looked up reflectively so the runner builds before the evaluation core is in the tree.
 * Without that class (or that constructor) {@link #open} fails with one line saying so.
 */
public final class ModelEvaluatorFactory implements EvaluatorFactory {
    static final String CLASS_NAME = "io.rationale.eval.ModelEvaluator";

    /** Whether the evaluation core is in this build. */
    public static boolean available() {
        try {
            constructor();
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    @Override
    public Evaluator open(Path modelDir, Dataset dataset, EvalOptions options) {
        Constructor<?> c = constructor();
        try {
            return (Evaluator) c.newInstance(modelDir, dataset, options);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            if (cause instanceof Error err) throw err;
            throw new IllegalStateException(cause.getMessage() == null ? cause.toString() : cause.getMessage(), cause);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot create " + CLASS_NAME + ": " + e, e);
        }
    }

    private static Constructor<?> constructor() {
        Class<?> cls;
        try {
            cls = Class.forName(CLASS_NAME);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("the evaluation core (" + CLASS_NAME + ") is not in this build; "
                    + "'rationale demo' runs the engine without it");
        }
        if (!Evaluator.class.isAssignableFrom(cls)) throw new IllegalStateException(CLASS_NAME + " does not implement Evaluator");
        try {
            return cls.getConstructor(Path.class, Dataset.class, EvalOptions.class);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(CLASS_NAME + " has no public constructor (Path, Dataset, EvalOptions)");
        }
    }
}
