package io.rationale.eval;

import io.rationale.engine.Device;

import java.util.ServiceLoader;

/**
 * An evaluation whose examples run on a cluster ({@code eval --spark MASTER}): the runner ({@link EvalRunner})
 * hands it the pending examples ({@link EvalRunner.Distributed}) and opens its own evaluator through
 * {@link #factory()}. The rationale-spark module provides the one implementation through {@link ServiceLoader}, so
 * the engine's jar knows nothing of Spark; {@link #open} says so in one line when that module is not on the
 * classpath.
 */
public interface DistributedEval extends EvalRunner.Distributed, AutoCloseable {
    /**
     * The evaluators of this process, with {@code adapters} on the model (the run's {@link EvalRunner.Config#adapters()}),
     * shared with the tasks that run in it (one model load per JVM).
     */
    EvaluatorFactory factory(io.rationale.lora.Adapters adapters);

    /** Ends the session (stops the Spark context it started). */
    @Override
    void close();

    /** Opens sessions ({@code META-INF/services/io.rationale.eval.DistributedEval$Provider}). */
    interface Provider {
        /**
         * @param master the cluster's master URL ({@code local[2]}, {@code spark://host:7077}, {@code yarn},
         *               {@code k8s://...})
         * @param device the device of a task the cluster assigns no GPU to, and of this process's evaluator
         * @param partitions tasks to split the pending examples into (null: the cluster's default parallelism)
         * @param settings the evaluator's settings, on every machine (e.g. {@code --no-prefix-cache})
         */
        DistributedEval open(String master, Device device, Integer partitions, ModelEvaluator.Settings settings);
    }

    /** The provider on the classpath, opened; a one-line {@link EvalRunner.EvalException} when there is none. */
    static DistributedEval open(String master, Device device, Integer partitions, ModelEvaluator.Settings settings) {
        Provider p = ServiceLoader.load(Provider.class).findFirst().orElseThrow(() -> new EvalRunner.EvalException(
                "--spark " + master + ": the Spark module (rationale-spark) is not on the classpath; run through ./rationale, which builds "
                        + "spark/ and adds it with Spark when --spark is given (docs/spark.md), or spark-submit with its jar"));
        return p.open(master, device, partitions, settings);
    }
}
