package io.rationale.bench;

import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.cli.BenchCommand;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
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

import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The cost of attribution, per input, on the CPU (TinyLlama shape by default, {@code tokens} = 128), every method
 * through the {@link Attributor} exactly as {@code rationale attribute} runs it (one recorded forward, then the
 * backward passes), target = the logit of the argmax at the last position. Scores are MILLISECONDS per input.
 * <ul>
 *   <li>{@link #forward}: the plain inference forward of the input (LAST logits, no record): the unit of the
 *       targets below; {@link #forwardRecorded}: the same forward keeping the activations a backward pass needs;</li>
 *   <li>{@link #inputXGradient}, {@link #saliency}, {@link #attnlrp}: target each ≤ 2.5 × {@link #forward};</li>
 *   <li>{@link #integratedGradients8}, {@link #integratedGradients32}: k interpolation steps batched as the
 *       Attributor batches them (one recorded forwardEmbeddings of the k+1 sequences and one backward, layers
 *       recomputed when the record would not fit half the free heap): target ≤ 0.8·k × {@link #inputXGradient};</li>
 *   <li>{@link #gradientMethods}: saliency + input_x_gradient + attnlrp in one run (one forward, one shared gradient
 *       backward, one AttnLRP backward);</li>
 *   <li>{@link #occlusion}, with its peer {@link #occlusionWholeVariants} (whole variants from position 0, as before
 *       prefix reuse);</li>
 *   <li>{@link #all}: {@code --method all} (k = 32; includes occlusion, one variant per word, and cplrp). The shared
 *       steps of the last run are printed at the end of the trial ("forward" used by every method,
 *       "gradient_backward" by saliency and input_x_gradient).</li>
 * </ul>
 * The input is {@link BenchCommand#attributionInput}: English text through the model's tokenizer, cut to
 * {@code tokens} tokens (so occlusion has words as with {@code attribute --text}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 10)
@Measurement(iterations = 5, time = 10)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx20g"})
@State(Scope.Benchmark)
public class AttributionBench {
    @Param({"128"})
    public int tokens;

    BenchModel folder;
    Model model;
    Backend backend;
    Attributor attributor;
    AttributionInput input;
    int[] ids;
    final TargetSpec target = TargetSpec.argmaxLogit();
    final Options options = Options.defaults();
    volatile AttributionSet lastSet;
    volatile Attribution lastIg;

    @Setup(Level.Trial)
    public void setup() {
        folder = BenchModel.fromProperties();
        model = Model.load(folder.dir());
        backend = BenchModel.open(model);
        attributor = new Attributor(backend);
        Tokenizer tok = Files.isRegularFile(folder.dir().resolve(Tokenizer.FILE_NAME)) ? Tokenizer.load(folder.dir()) : null;
        try {
            input = BenchCommand.attributionInput(tok, model.config().vocabSize(), tokens);
        } finally {
            if (tok != null) tok.close();
        }
        ids = input.ids();
        System.err.printf("bench: rationale on %s, %s weights, model %s; input %d tokens, %d words; max heap %.1f GB%n",
                backend.device(), model.weightDtype(), folder.description(), input.size(), input.words().size(),
                Runtime.getRuntime().maxMemory() / 1e9);
    }

    @TearDown(Level.Trial)
    public void close() {
        if (lastIg != null) System.err.printf("bench: integrated_gradients k=%s: %s batch(es), recompute %s%n",
                lastIg.extras().get("steps"), lastIg.extras().get("batches"), lastIg.extras().get("recompute"));
        if (lastSet != null) {
            System.err.printf("bench: last run of %s methods:%n", lastSet.methods().size());
            for (AttributionSet.SharedStep s : lastSet.shared())
                System.err.printf("bench:   shared %s (%.3f s) used by %s%n", s.name(), s.seconds(), s.usedBy().stream().map(Method::cliName).toList());
        }
        backend.close();
        model.close();
        folder.close();
    }

    /** {@code --method occlusion}: the input's forward keeps its KV cache, each variant runs from its removed word on. */
    @Benchmark
    public Attribution occlusion() {
        return attributor.attribute(input, target, Method.OCCLUSION, options);
    }

    /**
     * The peer of {@link #occlusion} in the same run: what occlusion did before prefix reuse, the input's forward
     * and then every whole leave-one-word-out variant from position 0, packed into batched forwards of at most
     * {@link Options#maxForwardTokens()} tokens. Returns the summed last logits of the target token.
     */
    @Benchmark
    public double occlusionWholeVariants() {
        int t = backend.forward(List.of(ids), null, LogitsMode.LAST, null).argmax(0, 0);
        List<int[]> variants = new java.util.ArrayList<>();
        for (int k = 0; k < input.words().size(); k++) {
            boolean[] drop = new boolean[ids.length];
            for (int i : input.wordTokens(k)) drop[i] = true;
            int[] v = new int[ids.length];
            int n = 0;
            for (int i = 0; i < ids.length; i++) if (!drop[i]) v[n++] = ids[i];
            if (n > 0) variants.add(java.util.Arrays.copyOf(v, n));
        }
        double sum = 0;
        for (int from = 0; from < variants.size(); ) {
            int to = from, tok = 0;
            while (to < variants.size() && (to == from || tok + variants.get(to).length <= options.maxForwardTokens())) tok += variants.get(to++).length;
            Logits l = backend.forward(variants.subList(from, to), LogitsMode.LAST);
            for (int s = 0; s < to - from; s++) sum += l.last(s)[t];
            from = to;
        }
        return sum;
    }

    @Benchmark
    public Logits forward() {
        return backend.forward(List.of(ids), null, LogitsMode.LAST, null);
    }

    @Benchmark
    public ForwardRecord forwardRecorded() {
        ForwardRecord rec = backend.newRecord(false);
        backend.forward(List.of(ids), null, LogitsMode.LAST, rec);
        return rec;
    }

    @Benchmark
    public Attribution inputXGradient() {
        return attributor.attribute(input, target, Method.INPUT_X_GRADIENT, options);
    }

    @Benchmark
    public Attribution saliency() {
        return attributor.attribute(input, target, Method.SALIENCY, options);
    }

    @Benchmark
    public Attribution attnlrp() {
        return attributor.attribute(input, target, Method.ATTNLRP, options);
    }

    @Benchmark
    public Attribution integratedGradients8() {
        return lastIg = attributor.attribute(input, target, Method.INTEGRATED_GRADIENTS, options.withSteps(8));
    }

    @Benchmark
    public Attribution integratedGradients32() {
        return lastIg = attributor.attribute(input, target, Method.INTEGRATED_GRADIENTS, options.withSteps(32));
    }

    @Benchmark
    public AttributionSet gradientMethods() {
        return lastSet = attributor.run(input, target, List.of(Method.SALIENCY, Method.INPUT_X_GRADIENT, Method.ATTNLRP), options);
    }

    @Benchmark
    public AttributionSet all() {
        return lastSet = attributor.run(input, target, Method.parse("all"), options);
    }
}
