package io.rationale.bench;

import io.rationale.engine.Backend;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;

import java.nio.file.Path;

/**
 * One engine on the benchmark model and the inference workloads it is timed on, the same code for every harness
 * ({@link EngineBench} in JMH, {@link PeerRun} interleaved in one JVM):
 * <ul>
 *   <li>{@link #prefill}: a prompt from position 0 into an empty cache, then the final norm, the LM head and the
 *       argmax of the last position (what a generation computes before its first new token). rationale:
 *       {@code backend.forward(ids, newCache, LAST)}; Jlama: {@code batchForward} then {@code sample} of the last
 *       row ({@link JlamaPeer#prefill}).</li>
 *   <li>{@link #prepareDecode} once: a context prefilled; then per timed invocation {@link #resetDecode} (not
 *       timed: rationale cuts the cache back to the context, Jlama's KV buffer is addressed by position so its steps
 *       simply rewrite the same positions) and {@link #decode}: greedy steps (forward of one token, LM head, argmax,
 *       fed back) after the context.</li>
 * </ul>
 */
public interface BenchEngine extends AutoCloseable {
    /** rationale's engine name, as {@code EngineBench}'s {@code engine} parameter spells it. */
    String RATIONALE = "rationale";

    /** The engine's name: {@code rationale}, {@code jlama}, {@code jlama-f32}. */
    String name();

    /** One line of the settings in effect (device, dtypes, threads). */
    String settings();

    /** Prefill of {@code ids} from position 0; returns the argmax after the prompt. */
    int prefill(int[] ids);

    /** Prefills the decode context once; later {@link #decode} calls continue after it. */
    void prepareDecode(int[] context);

    /** Back to the prefilled context (before every timed decode invocation, not timed). */
    void resetDecode();

    /** {@code steps} greedy steps after the context; returns the last token. */
    int decode(int steps);

    @Override
    void close();

    /** Opens {@code engine} ({@code rationale} or a {@link JlamaPeer.Variant#paramName()}) on {@code dir} with {@code threads} threads. */
    static BenchEngine open(String engine, Path dir, int threads) {
        if (engine.equals(RATIONALE)) return new Rationale(dir, threads);
        return new Jlama(JlamaPeer.load(dir, JlamaPeer.Variant.ofParam(engine), threads));
    }

    /** rationale's backend ({@link BenchModel#open(Model, int)}: {@code -Drationale.device}, default the CPU). */
    final class Rationale implements BenchEngine {
        private final Model model;
        private final Backend backend;
        private final int threads;
        private KvCache cache;
        private int contextLength, first;

        Rationale(Path dir, int threads) {
            this.model = Model.load(dir);
            this.backend = BenchModel.open(model, threads);
            this.threads = threads;
        }

        @Override public String name() { return RATIONALE; }

        @Override
        public String settings() {
            return String.format("rationale on %s, %s weights (threads: %d)", backend.device(), model.weightDtype(), threads);
        }

        @Override
        public int prefill(int[] ids) {
            try (KvCache c = backend.newCache()) {
                return backend.forward(ids, c, LogitsMode.LAST).argmax(0, 0);
            }
        }

        @Override
        public void prepareDecode(int[] context) {
            if (cache != null) cache.close();
            cache = backend.newCache();
            contextLength = context.length;
            first = backend.forward(context, cache, LogitsMode.LAST).argmax(0, 0);
        }

        @Override
        public void resetDecode() { cache.truncate(contextLength); }

        @Override
        public int decode(int steps) {
            int tok = first;
            for (int s = 0; s < steps; s++) tok = backend.forward(new int[]{tok}, cache, LogitsMode.LAST).argmax(0, 0);
            return tok;
        }

        @Override
        public void close() {
            if (cache != null) cache.close();
            backend.close();
            model.close();
        }
    }

    /** Jlama through {@link JlamaPeer}. */
    final class Jlama implements BenchEngine {
        private final JlamaPeer peer;
        private int contextLength, first;

        Jlama(JlamaPeer peer) { this.peer = peer; }

        @Override public String name() { return peer.variant().paramName(); }

        @Override public String settings() { return peer.settings(); }

        @Override public int prefill(int[] ids) { return peer.prefill(ids); }

        @Override
        public void prepareDecode(int[] context) {
            contextLength = context.length;
            first = peer.prefill(context);
        }

        /** Nothing to do: the steps rewrite positions context.. of the KV buffer in place. */
        @Override public void resetDecode() {}

        @Override
        public int decode(int steps) {
            int tok = first;
            for (int s = 0; s < steps; s++) tok = peer.decode(tok, contextLength + s);
            return tok;
        }

        @Override public void close() { peer.close(); }
    }

    /** The vocabulary size of the model in {@code dir} (for the random prompts). */
    static int vocab(Path dir) { return ModelConfig.load(dir).vocabSize(); }
}
