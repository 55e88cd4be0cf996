package io.rationale.bench;

import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.eval.EvalOptions;
import io.rationale.eval.ExampleResult;
import io.rationale.eval.FewShot;
import io.rationale.eval.ModelEvaluator;
import io.rationale.eval.Prompt;
import io.rationale.tokenizer.Tokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Attribution in the eval after the prompt prefix's cache (issue 14: "attribution over a cached prompt prefix"):
 * few-shot MedicalBios prompts built exactly as {@code rationale eval} builds them ({@link ModelEvaluator#prompts},
 * {@link FewShot} with seed 0), the eval's gradient and LRP methods (saliency, input_x_gradient, attnlrp, cplrp) run
 * by the {@link Attributor} on each example's prompt, target the argmax logit, {@code prefix} = false: the whole
 * prompt recorded (as before, {@code --no-prefix-cache}), true: after the prompt prefix's cache (the eval prefills it
 * for its label scores anyway, so its prefill is not timed). Scores are MILLISECONDS per example
 * ({@link #attribution}); {@link #evalExample}: the eval's whole per-example work ({@link ModelEvaluator#evaluate}:
 * label scores, attribution, flip evaluation of every method and the random baseline).
 *
 * <p>Properties (besides {@link BenchModel}'s): {@code bench.dataset} the MedicalBios jsonl
 * (default {@code ../shared/data/datasets/medicalbios/standard_biosbias_rationales.jsonl}), {@code bench.shots}
 * (default 3), {@code bench.examples} (default 6: the first that fit the model's positions).
 *
 * <p>{@link #main} runs the two settings interleaved instead (per example A then B, then B then A, several rounds)
 * and prints per-example medians: on a machine shared with other jobs the JMH runs of the two settings are minutes
 * apart, the interleaved ones seconds apart.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 10)
@Measurement(iterations = 5, time = 10)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
@State(Scope.Benchmark)
public class PrefixAttributionBench {
    static final List<Method> METHODS = List.of(Method.SALIENCY, Method.INPUT_X_GRADIENT, Method.ATTNLRP, Method.CPLRP);

    @Param({"false", "true"})
    public boolean prefix;

    Fixture fx;

    @Setup(Level.Trial)
    public void setup() { fx = Fixture.open(); }

    @TearDown(Level.Trial)
    public void close() { fx.close(); }

    int next;

    /** The four methods on one example (the examples in turn), ms per example. */
    @Benchmark
    public AttributionSet attribution() { return fx.attribute(next++ % fx.inputs.size(), prefix); }

    /** The eval's whole per-example work (the examples in turn), ms per example. */
    @Benchmark
    public ExampleResult evalExample() {
        int i = next++ % fx.examples.size();
        return fx.evaluate(i, prefix);
    }

    /** Model, dataset, the examples' prompts and prefix caches, an attributor and the two evaluators. */
    static final class Fixture implements AutoCloseable {
        final BenchModel folder;
        final Model model;
        final Backend backend;
        final Tokenizer tok;
        final Attributor attributor;
        final ModelEvaluator withPrefix, whole;
        final List<Example> examples = new ArrayList<>();
        final List<AttributionInput> inputs = new ArrayList<>();
        final List<KvCache> prefixes = new ArrayList<>();
        final int shots;
        final Options options = Options.defaults();

        private Fixture() {
            folder = BenchModel.fromProperties();
            model = Model.load(folder.dir());
            backend = BenchModel.open(model);
            tok = Tokenizer.load(folder.dir());
            attributor = new Attributor(backend);
            shots = Integer.getInteger("bench.shots", 3);
            int want = Integer.getInteger("bench.examples", 6);
            Dataset d = DatasetLoader.load("medicalbios", Path.of(System.getProperty("bench.dataset",
                    "../shared/data/datasets/medicalbios/standard_biosbias_rationales.jsonl")));
            EvalOptions o = new EvalOptions(METHODS.stream().map(Method::cliName).toList(), "human", "delete", "majority", shots, 0, 8);
            ModelEvaluator.Settings s = ModelEvaluator.Settings.defaults();
            withPrefix = new ModelEvaluator(backend, tok, d.kind(), d.labels(), d.examples(), o, s.withPrefixCache(true));
            whole = new ModelEvaluator(backend, tok, d.kind(), d.labels(), d.examples(), o, s.withPrefixCache(false));
            FewShot fewShot = new FewShot(d.examples(), shots, 0);
            int max = model.config().maxPositionEmbeddings();
            for (Example ex : d.examples()) {
                if (examples.size() == want) break;
                Prompt p = withPrefix.prompts().layout(ex, fewShot.demosFor(ex)).classify(ex.fields().stream().map(TextField::text).toList());
                if (max > 0 && p.length() > max) continue;
                examples.add(ex);
                inputs.add(AttributionInput.of(p.text(), p.tokens(), p.studyStart(), p.studyEnd()));
                KvCache c = backend.newCache();
                backend.forward(List.of(p.prefixIds()), List.of(c), ForwardOptions.of(LogitsMode.NONE));
                prefixes.add(c);
            }
            if (examples.isEmpty()) throw new IllegalStateException("no " + shots + "-shot prompt fits the model's " + max + " positions");
            System.err.printf("bench: %s on %s; %d examples, %d-shot prompts of %s tokens (prefix %s)%n", folder.description(), backend.device(),
                    examples.size(), shots, inputs.stream().map(AttributionInput::size).toList(),
                    prefixes.stream().map(KvCache::length).toList());
        }

        static Fixture open() { return new Fixture(); }

        AttributionSet attribute(int i, boolean prefix) {
            return attributor.run(inputs.get(i), TargetSpec.argmaxLogit(), METHODS, options, prefix ? prefixes.get(i) : null);
        }

        ExampleResult evaluate(int i, boolean prefix) { return (prefix ? withPrefix : whole).evaluate(i, examples.get(i)); }

        @Override
        public void close() {
            prefixes.forEach(KvCache::close);
            withPrefix.close();
            whole.close();
            tok.close();
            backend.close();
            model.close();
            folder.close();
        }
    }

    /**
     * The interleaved comparison: {@code rounds} (default 5, {@code bench.rounds}) rounds after one warm-up round; in
     * each, per example, the whole-prompt and the prefix attribution back to back (order alternating), then the same
     * for the eval's whole example. Prints per-example medians, the ratio of medians and the largest score difference
     * between the two settings.
     */
    public static void main(String[] args) {
        int rounds = Integer.getInteger("bench.rounds", 5);
        try (Fixture fx = Fixture.open()) {
            int n = fx.examples.size();
            double[][][] attr = new double[2][n][rounds], eval = new double[2][n][rounds];
            double maxRel = 0;
            for (int r = -1; r < rounds; r++) {
                for (int i = 0; i < n; i++) {
                    AttributionSet[] sets = new AttributionSet[2];
                    for (int k = 0; k < 2; k++) {
                        int mode = (r + i + k) % 2 == 0 ? 0 : 1;       // alternate which setting goes first
                        long t0 = System.nanoTime();
                        sets[mode] = fx.attribute(i, mode == 1);
                        if (r >= 0) attr[mode][i][r] = (System.nanoTime() - t0) / 1e6;
                    }
                    maxRel = Math.max(maxRel, maxRelativeDifference(sets[0], sets[1], fx.inputs.get(i)));
                    for (int k = 0; k < 2; k++) {
                        int mode = (r + i + k) % 2 == 0 ? 0 : 1;
                        long t0 = System.nanoTime();
                        fx.evaluate(i, mode == 1);
                        if (r >= 0) eval[mode][i][r] = (System.nanoTime() - t0) / 1e6;
                    }
                }
                System.err.printf("bench: round %d of %d done%n", r + 1, rounds);
            }
            System.out.printf("| example | prompt tokens | prefix | attribution whole (ms) | after prefix (ms) | speedup | eval example whole (ms) | after prefix (ms) | speedup |%n");
            System.out.printf("|---|---|---|---|---|---|---|---|---|%n");
            double[] ra = new double[n], re = new double[n];
            for (int i = 0; i < n; i++) {
                double a0 = median(attr[0][i]), a1 = median(attr[1][i]), e0 = median(eval[0][i]), e1 = median(eval[1][i]);
                ra[i] = a0 / a1;
                re[i] = e0 / e1;
                System.out.printf("| %s | %d | %d | %.1f | %.1f | %.2f× | %.1f | %.1f | %.2f× |%n", fx.examples.get(i).id(), fx.inputs.get(i).size(),
                        fx.prefixes.get(i).length(), a0, a1, ra[i], e0, e1, re[i]);
            }
            System.out.printf("%nmedian per-example speedup: attribution %.2f×, eval example %.2f× (%d examples × %d interleaved rounds, medians per example)%n",
                    median(ra), median(re), n, rounds);
            System.out.printf("largest |score difference| / max |score| between the settings, study tokens, all methods: %.2e%n", maxRel);
        }
    }

    /** The largest difference of the two sets' token scores after the prefix cut, relative to each method's largest |score|. */
    static double maxRelativeDifference(AttributionSet a, AttributionSet b, AttributionInput in) {
        double worst = 0;
        for (Method m : METHODS) {
            double[] x = a.get(m).scores(), y = b.get(m).scores();
            double max = 0, diff = 0;
            for (int t = 0; t < x.length; t++) {
                if (!in.inStudy(t)) continue;
                max = Math.max(max, Math.abs(x[t]));
                diff = Math.max(diff, Math.abs(x[t] - y[t]));
            }
            worst = Math.max(worst, max == 0 ? diff : diff / max);
        }
        return worst;
    }

    static double median(double[] v) { return io.rationale.perf.Quantiles.median(v); }
}
