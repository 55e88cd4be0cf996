package io.rationale.bench;

import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.serum.Operator;
import io.rationale.serum.Rows;
import io.rationale.serum.Steering;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The Faithfulness Serum's speed target: steered decoding costs at most 1.1× plain decoding per token on the CPU.
 * One JMH run decodes the same way plain and steered, on the same model ({@link BenchModel}: by default a
 * TinyLlama-1.1B-shaped bf16 model), so the scores sit side by side. Score: TOKENS PER SECOND.
 *
 * <p>{@link #decode}: {@value #STEPS} greedy steps (forward of one token over the KV cache, LM head, argmax, feed back)
 * after a prompt of {@value #PROMPT} tokens; the cache is cut back to the prompt before every invocation. The
 * {@code mode}: {@code plain} (no intervention) or a steering operator ({@code post}, {@code post-renorm},
 * {@code pre}) with the serum's setting: a question span of {@value #SPAN} tokens (positions 8..8+SPAN, signed
 * weights in [−1, 1]), α = 0.06, three middle layers, rows {@code all} (for the post-softmax operators every row
 * reaches every span key: the costlier mode). The prompt is prefilled with the same intervention (as in a steered
 * explanation), once per trial.
 *
 * <p>{@link #interleaved} is the same comparison made robust to a busy machine: each invocation alternates one plain
 * and one steered decode step ({@value #STEPS} of each, two caches of the same prompt) and adds their wall times to
 * the auxiliary counters {@code plainMs} and {@code steeredMs} (JMH prints them as secondary results, per iteration);
 * background load hits both alike, so {@code steeredMs / plainMs} is the cost factor per token. Its {@code mode} is
 * the operator.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 3, time = 10)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx20g"})
public class SteeringBench {
    /** Prompt tokens before decoding. */
    public static final int PROMPT = 160;
    /** Span tokens steered. */
    public static final int SPAN = 100;
    /** Decode steps per invocation. */
    public static final int STEPS = 16;

    @State(Scope.Benchmark)
    public static class Run {
        @Param({"plain", "post", "post-renorm", "pre"})
        public String mode;

        BenchModel folder;
        Model model;
        Backend backend;
        AttentionIntervention iv;
        KvCache cache;
        int first;

        @Setup(Level.Trial)
        public void load() {
            folder = BenchModel.fromProperties();
            model = Model.load(folder.dir());
            backend = BenchModel.open(model);
            iv = mode.equals("plain") ? null : intervention(mode, model.numLayers());
            prefill();
            System.err.printf("bench: %s, %s, %d layers, model %s%n", mode, backend.device(), model.numLayers(), folder.description());
        }

        /** The serum's setting: α 0.06, signed weights on a SPAN-token span, three middle layers, rows all. */
        static AttentionIntervention intervention(String mode, int layers) {
            int mid = Math.max(0, layers / 2 - 1);
            double[] w = new double[SPAN];
            SplittableRandom r = new SplittableRandom(3);
            for (int i = 0; i < SPAN; i++) w[i] = r.nextDouble() * 1.2 - 0.2;
            w[0] = 1;
            int[] l = java.util.Arrays.stream(new int[]{mid, Math.min(layers - 1, mid + 1), Math.min(layers - 1, mid + 2)}).distinct().toArray();
            return new Steering(0.06, l, 8, 8 + SPAN, w, Operator.parse(mode), Rows.ALL).intervention();
        }

        /** The prompt into a new cache, with the intervention; {@link #first} the token after it. */
        void prefill() {
            int[] prompt = BenchModel.tokens(PROMPT, model.config().vocabSize(), 42);
            cache = backend.newCache();
            first = backend.forward(List.of(prompt), List.of(cache), ForwardOptions.of(LogitsMode.LAST).withIntervention(iv)).argmax(0, 0);
        }

        @Setup(Level.Invocation)
        public void reset() { cache.truncate(PROMPT); }

        @TearDown(Level.Trial)
        public void close() {
            cache.close();
            backend.close();
            model.close();
            folder.close();
        }
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    public int decode(Run r) {
        int tok = r.first;
        ForwardOptions o = ForwardOptions.of(LogitsMode.LAST).withIntervention(r.iv);
        for (int s = 0; s < STEPS; s++) tok = r.backend.forward(List.of(new int[]{tok}), List.of(r.cache), o).argmax(0, 0);
        return tok;
    }

    /** Two caches of the prompt: plain and steered with operator {@code mode}. */
    @State(Scope.Benchmark)
    public static class Pair {
        @Param({"post", "post-renorm", "pre"})
        public String mode;

        Run plain = new Run(), steered = new Run();

        @Setup(Level.Trial)
        public void load() {
            plain.mode = "plain";
            plain.load();
            steered.mode = mode;
            steered.folder = plain.folder;
            steered.model = plain.model;
            steered.backend = plain.backend;
            steered.iv = Run.intervention(mode, plain.model.numLayers());
            steered.prefill();
        }

        @Setup(Level.Invocation)
        public void reset() {
            plain.reset();
            steered.reset();
        }

        @TearDown(Level.Trial)
        public void close() {
            steered.cache.close();
            plain.close();
        }
    }

    /** Wall time of the plain and of the steered steps, summed per iteration. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Split {
        public double plainMs, steeredMs;

        @Setup(Level.Iteration)
        public void clear() {
            plainMs = 0;
            steeredMs = 0;
        }
    }

    @Benchmark
    @OperationsPerInvocation(2 * STEPS)
    public int interleaved(Pair p, Split split) {
        int a = p.plain.first, b = p.steered.first;
        ForwardOptions plain = ForwardOptions.of(LogitsMode.LAST), steered = ForwardOptions.of(LogitsMode.LAST).withIntervention(p.steered.iv);
        for (int s = 0; s < STEPS; s++) {
            long t0 = System.nanoTime();
            a = p.plain.backend.forward(List.of(new int[]{a}), List.of(p.plain.cache), plain).argmax(0, 0);
            long t1 = System.nanoTime();
            b = p.steered.backend.forward(List.of(new int[]{b}), List.of(p.steered.cache), steered).argmax(0, 0);
            long t2 = System.nanoTime();
            split.plainMs += (t1 - t0) / 1e6;
            split.steeredMs += (t2 - t1) / 1e6;
        }
        return a + b;
    }
}
