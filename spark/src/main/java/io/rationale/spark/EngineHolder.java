package io.rationale.spark;

import io.rationale.dataset.Example;
import io.rationale.eval.Evaluator;
import io.rationale.eval.ExampleResult;

import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The evaluators of this JVM, opened lazily on first use and kept for the JVM's life: every Spark task of an
 * executor (and, in local mode, the driver's own checks) shares one model load per {@link Key}. The engine's
 * evaluator is not thread-safe, so the tasks that share one take turns example by example; the engine itself uses
 * every core of the executor for each example (docs/spark.md: one task per executor JVM, or per GPU). The evaluators
 * stay open until the JVM ends (an executor's life, or the command's).
 */
public final class EngineHolder {
    /**
     * What an evaluator is opened from: the model folder, the dataset spec (the few-shot pool and label set come from
     * it), the options as JSON, the adapters and the evaluator's settings (in words), and the device.
     */
    public record Key(String model, String dataset, String options, String variant, String device) implements java.io.Serializable {
        public Key {
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(dataset, "dataset");
            Objects.requireNonNull(options, "options");
            Objects.requireNonNull(variant, "variant");
            Objects.requireNonNull(device, "device");
        }
    }

    private static final Map<Key, Shared> OPEN = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    private EngineHolder() {}

    /** The JVM's evaluator for {@code key}, opened with {@code open} the first time (once, whatever the threads). */
    public static Shared get(Key key, Supplier<Evaluator> open) {
        return OPEN.computeIfAbsent(key, k -> {
            Evaluator e = open.get();
            if (e == null) throw new IllegalStateException("no evaluator opened for " + k);
            LOADS.incrementAndGet();
            return new Shared(e);
        });
    }

    /** Closes and forgets every evaluator of this JVM (tests: a count of loads that does not depend on test order). */
    static void closeAll() {
        for (var it = OPEN.values().iterator(); it.hasNext(); ) {
            it.next().evaluator.close();
            it.remove();
        }
    }

    /** Evaluators opened in this JVM so far (the tests' count of model loads). */
    public static int loads() { return LOADS.get(); }

    /**
     * One evaluator shared by the threads of a JVM: each {@link #evaluate} (and {@link #attribute}) holds it alone; {@link #close} leaves it
     * open for the next task.
     */
    public static final class Shared implements Evaluator {
        private final Evaluator evaluator;

        Shared(Evaluator evaluator) { this.evaluator = evaluator; }

        @Override
        public synchronized ExampleResult evaluate(int index, Example example) { return evaluator.evaluate(index, example); }

        @Override
        public synchronized io.rationale.eval.ExampleAttribution attribute(int index, Example example) { return evaluator.attribute(index, example); }

        @Override
        public String device() { return evaluator.device(); }

        @Override
        public synchronized Map<String, Object> resolved() { return evaluator.resolved(); }

        /** Does nothing: the evaluator stays open for the JVM's next task. */
        @Override
        public void close() {}
    }
}
