package io.rationale.cli;

import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.engine.Backend;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Token;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * {@code bench}: a quick, self-contained timing of the CPU engine for users without JMH. Each measurement warms up
 * until its times settle ({@link Timing}: at least {@code --warmup} discarded runs, more until two consecutive runs
 * agree within 10%, at most {@code --max-warmup}), then makes {@code --repeat} timed runs, of which the median is
 * reported; with {@code --attribution} every method also runs once before any of them is timed, so no method is
 * timed cold:
 * <ul>
 *   <li>prefill of each {@code --prompt-tokens} length (fresh cache, logits of the last position): tokens/s;</li>
 *   <li>decode: {@code --decode-tokens} greedy steps after a prefilled context of {@code --decode-context} tokens
 *       (each run continues a fork of the same prefilled cache): seconds per token and tokens/s;</li>
 *   <li>with {@code --attribution}, on {@code --attribution-tokens} tokens through the {@link Attributor} (the path of
 *       {@code attribute}): the forward pass, input_x_gradient, saliency, attnlrp, integrated_gradients for each
 *       {@code --steps} k, and {@code all}; with the ratios the engine aims at: each gradient/LRP method at most 2.5×
 *       the forward, integrated gradients with k steps at most 0.8·k × input_x_gradient, and {@code all} running the
 *       forward once and one gradient backward for saliency and input_x_gradient.</li>
 * </ul>
 * Results are printed as they are measured ({@code --json}: progress on stderr, one JSON object on stdout at the end);
 * {@code --out FILE} rewrites that JSON object after every measurement, so an interrupted run keeps what it measured.
 * The JMH benchmarks in {@code benchmarks/} measure the same things with JMH's rigour and the Jlama peer. Subcommands:
 * {@link BenchMatrixCommand} ({@code bench matrix}: devices × operations × lengths × batches with a cost model and
 * calibrated peaks), {@link BenchCompareCommand} ({@code bench compare}: the JMH regression gate) and
 * {@link BenchMachineCommand} ({@code bench machine}).
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        subcommands = {BenchMatrixCommand.class, BenchCompareCommand.class, BenchMachineCommand.class},
        description = {"Time prefill, decode and (optionally) attribution methods on a model or a generated preset.",
                "Each measurement warms up until its times settle, then reports the median of --repeat runs; prints tokens/s "
                        + "and the attribution cost ratios.",
                "Subcommands: matrix (every operation over devices, lengths and batches, with FLOPs, bytes and %% of the "
                        + "calibrated peaks), compare (regression gate on two JMH result files), machine (this machine's facts)."})
public final class BenchCommand implements java.util.concurrent.Callable<Integer> {

    // optional for picocli, so that the subcommands (compare, machine) run without it; call() requires one
    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Source source;

    static final class Source {
        @Option(names = "--model", paramLabel = "DIR", description = "Checkpoint folder to time.")
        Path model;

        @Option(names = "--preset", paramLabel = "NAME",
                description = "Generate this weights-tools preset (seed 0) in a temporary folder and time it, e.g. tinyllama-1.1b (2.2 GB) or tiny.")
        String preset;
    }

    @Option(names = "--prompt-tokens", split = ",", defaultValue = "64,512", paramLabel = "N",
            description = "Prefill lengths (default: ${DEFAULT-VALUE}).")
    int[] promptTokens;

    @Option(names = "--decode-tokens", defaultValue = "32", paramLabel = "N", description = "Greedy decode steps per run; 0 skips decode (default: ${DEFAULT-VALUE}).")
    int decodeTokens;

    @Option(names = "--decode-context", defaultValue = "64", paramLabel = "N", description = "Prefilled context before decoding (default: ${DEFAULT-VALUE}).")
    int decodeContext;

    @Option(names = "--attribution", description = "Also time the attribution methods.")
    boolean attribution;

    @Option(names = "--attribution-tokens", defaultValue = "128", paramLabel = "N", description = "Input length for --attribution (default: ${DEFAULT-VALUE}).")
    int attributionTokens;

    @Option(names = "--steps", split = ",", defaultValue = "8,32", paramLabel = "K",
            description = "Integrated gradients steps to time; 'all' uses the largest (default: ${DEFAULT-VALUE}).")
    int[] steps;

    @Option(names = "--no-all", description = "With --attribution, skip '--method all' (it includes occlusion: one variant per word).")
    boolean noAll;

    @Option(names = "--repeat", defaultValue = "3", paramLabel = "N", description = "Timed runs per measurement; the median is reported (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "N",
            description = "Fewest discarded runs before the timed ones; more run until two in a row agree within 10%%; 0: no warm-up at all (cold times) (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--max-warmup", defaultValue = "20", paramLabel = "N",
            description = "Most discarded runs per measurement; a measurement whose times never settled says so (default: ${DEFAULT-VALUE}).")
    int maxWarmup;

    @Option(names = "--threads", paramLabel = "N", description = "CPU engine threads (default: all available processors).")
    Integer threads;

    @picocli.CommandLine.Mixin
    DeviceOption device;

    @picocli.CommandLine.Mixin
    AdapterOption adapter;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;


    @Option(names = "--json", description = "Print one JSON object at the end (progress goes to stderr).")
    boolean json;

    @Option(names = "--out", paramLabel = "FILE", description = "Rewrite the JSON results to FILE after every measurement.")
    Path out;

    /** Per-invocation attribution cost targets (see the class comment). */
    public static final double MAX_METHOD_OVER_FORWARD = 2.5, MAX_IG_OVER_K_IXG = 0.8;

    private final Map<String, Object> results = new LinkedHashMap<>();
    private PrintStream progress;
    private Timing timing;

    @Override
    public Integer call() throws IOException {
        if (source == null)
            throw Usage.error(spec, "Missing required argument (specify one of these): (--model=DIR | --preset=NAME)");
        Usage.check(spec, this::validateArguments);   // the options alone: exit 2
        device.parse();
        var preset = source.preset == null ? null : Usage.check(spec, () -> Presets.get(source.preset));
        progress = json ? System.err : System.out;
        timing = new Timing(warmup, maxWarmup, repeat, System::nanoTime);
        if (source.model != null) {
            if (!Files.isDirectory(source.model)) throw new IllegalArgumentException(source.model + ": not a folder");
            checkLengths(ModelConfig.load(source.model).maxPositionEmbeddings());
            run(source.model);
            return 0;
        }
        // an unknown preset was a usage error above, naming the known ones
        checkLengths(preset.maxPositions);
        Path temporary = temporaryModelFolder();
        try {
            double mb = preset.parameterCount() * (double) preset.dtype.bytes / 1e6;
            System.err.printf("bench: writing the %s preset (seed 0, %s) to %s ...%n", source.preset,
                    mb >= 1000 ? String.format("%.1f GB", mb / 1000) : String.format("%.1f MB", mb), temporary);
            TinyModel.write(preset, 0, temporary, 0, Runtime.getRuntime().availableProcessors(), null);
            run(temporary);
            return 0;
        } finally {
            deleteTemporary(temporary);
        }
    }

    private void validateArguments() {
        if (promptTokens.length == 0) throw new IllegalArgumentException("--prompt-tokens is empty");
        for (int n : promptTokens) if (n < 1) throw new IllegalArgumentException("--prompt-tokens must all be >= 1, got " + n);
        if (decodeTokens < 0) throw new IllegalArgumentException("--decode-tokens must be >= 0, got " + decodeTokens);
        if (decodeContext < 1) throw new IllegalArgumentException("--decode-context must be >= 1, got " + decodeContext);
        if (attributionTokens < 1) throw new IllegalArgumentException("--attribution-tokens must be >= 1, got " + attributionTokens);
        if (steps.length == 0) throw new IllegalArgumentException("--steps is empty");
        for (int k : steps) if (k < 1 || k > 4096) throw new IllegalArgumentException("--steps must all be in [1, 4096], got " + k);
        if (repeat < 1) throw new IllegalArgumentException("--repeat must be >= 1, got " + repeat);
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        if (maxWarmup < warmup) throw new IllegalArgumentException("--max-warmup must be >= --warmup (" + warmup + "), got " + maxWarmup);
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
    }

    /** The lengths asked for against the model's max_position_embeddings (before anything is generated or loaded). */
    private void checkLengths(int max) {
        for (int n : promptTokens)
            if (n > max) throw new IllegalArgumentException("--prompt-tokens " + n + " exceeds the model's max_position_embeddings " + max);
        if (decodeTokens > 0 && decodeContext + decodeTokens > max)
            throw new IllegalArgumentException("--decode-context + --decode-tokens = " + (decodeContext + decodeTokens)
                    + " exceeds the model's max_position_embeddings " + max);
        if (attribution && attributionTokens > max)
            throw new IllegalArgumentException("--attribution-tokens " + attributionTokens + " exceeds the model's max_position_embeddings " + max);
    }

    private void run(Path dir) {
        try (Model model = adapter.load(dir);
             Backend backend = device.open(model, threads == null ? 0 : threads).backend()) {
            ModelConfig c = model.config();
            checkLengths(c.maxPositionEmbeddings());

            Map<String, Object> m = new LinkedHashMap<>();
            m.put("dir", dir.toString());
            if (source.preset != null) m.put("preset", source.preset);
            m.put("architecture", c.architecture());
            m.put("weights", model.weightDtype().toString());
            m.put("layers", c.numLayers());
            m.put("hidden", c.hiddenSize());
            m.put("intermediate", c.intermediateSize());
            m.put("vocab", c.vocabSize());
            results.put("model", m);
            if (attribution && !backend.supportsBackward())
                throw new IllegalArgumentException("--attribution times backward passes, which the " + backend.device()
                        + " backend does not have yet; run it with --device cpu");
            results.put("device", backend.device());
            results.put("warmup", "at least " + warmup + ", until two runs in a row agree within " + Math.round(100 * Timing.SETTLED)
                    + "%, at most " + maxWarmup + " (each measurement's warmup_runs and settled say what happened)");
            results.put("repeat", repeat);
            results.put("java", System.getProperty("java.vm.name") + " " + Runtime.version());
            results.put("processors", Runtime.getRuntime().availableProcessors());
            progress.printf("model %s: %s %s, %d layers, hidden %d, vocab %d; %s; median of %d after warming up until the times settle%n",
                    source.preset != null ? source.preset + " preset" : dir, c.architecture(), model.weightDtype(), c.numLayers(),
                    c.hiddenSize(), c.vocabSize(), backend.device(), repeat);
            save();

            List<Map<String, Object>> prefill = new ArrayList<>();
            results.put("prefill", prefill);
            for (int n : promptTokens) {
                int[] ids = randomIds(n, c.vocabSize(), 42);
                Timing.Stat s = timing.time(backend::newCache, cache -> backend.forward(ids, cache, LogitsMode.LAST));
                Map<String, Object> r = s.json();
                r.put("tokens", n);
                r.put("tokens_per_s", n / s.median());
                prefill.add(r);
                progress.printf("prefill %5d tokens   %9.4f s   %9.2f tokens/s   %s%n", n, s.median(), n / s.median(), s.range());
                save();
            }

            if (decodeTokens > 0) {
                int[] context = randomIds(decodeContext, c.vocabSize(), 42);
                KvCache cache = backend.newCache();
                int first = backend.forward(context, cache, LogitsMode.LAST).argmax(0, 0);
                Timing.Stat s = timing.time(cache::fork, fork -> {
                    int tok = first;
                    for (int i = 0; i < decodeTokens; i++) tok = backend.forward(new int[]{tok}, fork, LogitsMode.LAST).argmax(0, 0);
                    return tok;
                });
                cache.close();
                double perToken = s.median() / decodeTokens;
                Map<String, Object> r = s.json();
                r.put("context", decodeContext);
                r.put("tokens", decodeTokens);
                r.put("seconds_per_token", perToken);
                r.put("tokens_per_s", 1 / perToken);
                results.put("decode", r);
                progress.printf("decode  %5d tokens after %d   %9.4f s/token   %9.2f tokens/s   %s%n", decodeTokens, decodeContext,
                        perToken, 1 / perToken, s.range(decodeTokens));
                save();
            }

            if (attribution) attribution(backend, dir, c);
            if (json) System.out.println(Json.write(results));
        }
    }

    private void attribution(Backend backend, Path dir, ModelConfig c) {
        Tokenizer tok = null;
        try {
            if (Files.isRegularFile(dir.resolve(Tokenizer.FILE_NAME))) tok = Tokenizer.load(dir);
        } catch (RuntimeException e) {
            System.err.println("bench: tokenizer not usable (" + Errors.oneLine(e) + "): random ids without words");
        }
        try {
            AttributionInput in = attributionInput(tok, c.vocabSize(), attributionTokens);
            Attributor attributor = new Attributor(backend);
            Options o = Options.defaults();
            TargetSpec target = TargetSpec.argmaxLogit();
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("tokens", in.size());
            a.put("words", in.words().size());
            a.put("input", in.hasText() ? "deterministic English text through the model's tokenizer" : "random ids (no tokenizer)");
            a.put("target", "argmax logit at the last position");
            List<Map<String, Object>> methods = new ArrayList<>();
            a.put("methods", methods);
            results.put("attribution", a);
            progress.printf("attribution on %d tokens (%d words), argmax logit target:%n", in.size(), in.words().size());

            int[] ids = in.ids();
            // every method once before any is timed: none is timed while the kernels it shares are still compiling
            List<Runnable> all = new ArrayList<>();
            all.add(() -> backend.forward(List.of(ids), null, LogitsMode.LAST, null));
            for (Method m : List.of(Method.INPUT_X_GRADIENT, Method.SALIENCY, Method.ATTNLRP))
                all.add(() -> attributor.attribute(in, target, m, o));
            all.add(() -> attributor.attribute(in, target, Method.INTEGRATED_GRADIENTS, o.withSteps(Arrays.stream(steps).min().orElseThrow())));
            progress.printf("  warming up every method once ...%n");
            timing.warmAll(all);
            Timing.Stat fwd = timing.time(() -> null, x -> backend.forward(List.of(ids), null, LogitsMode.LAST, null));
            methods.add(method("forward", null, fwd, fwd.median(), null, null));
            progress.printf("  %-28s %9.4f s%n", "forward", fwd.median());
            save();

            double ixg = 0;
            for (Method m : List.of(Method.INPUT_X_GRADIENT, Method.SALIENCY, Method.ATTNLRP)) {
                Timing.Stat s = timing.time(() -> null, x -> attributor.attribute(in, target, m, o));
                if (m == Method.INPUT_X_GRADIENT) ixg = s.median();
                double ratio = s.median() / fwd.median();
                methods.add(method(m.cliName(), null, s, fwd.median(), ratio, ratio <= MAX_METHOD_OVER_FORWARD));
                progress.printf("  %-28s %9.4f s   %6.2fx forward          (target <= %.1fx: %s)%n", m.cliName(), s.median(), ratio,
                        MAX_METHOD_OVER_FORWARD, ratio <= MAX_METHOD_OVER_FORWARD ? "ok" : "MISSED");
                save();
            }
            int maxK = Arrays.stream(steps).max().orElseThrow();
            for (int k : steps) {
                Options ok = o.withSteps(k);
                Map<String, Object> extras = new LinkedHashMap<>();
                Timing.Stat s = timing.time(() -> null, x -> {
                    var r = attributor.attribute(in, target, Method.INTEGRATED_GRADIENTS, ok);
                    extras.put("batches", r.extras().get("batches"));
                    extras.put("recompute", r.extras().get("recompute"));
                    return r;
                });
                double ratio = s.median() / (k * ixg);
                Map<String, Object> r = method("integrated_gradients", k, s, fwd.median(), s.median() / fwd.median(), null);
                r.put("over_k_input_x_gradient", ratio);
                r.put("meets_target", ratio <= MAX_IG_OVER_K_IXG);
                r.putAll(extras);
                methods.add(r);
                progress.printf("  %-28s %9.4f s   %6.3f x k*input_x_gradient (target <= %.1f: %s; %s batch(es)%s)%n",
                        "integrated_gradients k=" + k, s.median(), ratio, MAX_IG_OVER_K_IXG, ratio <= MAX_IG_OVER_K_IXG ? "ok" : "MISSED",
                        extras.get("batches"), Boolean.TRUE.equals(extras.get("recompute")) ? ", recomputed layers" : "");
                save();
            }
            if (!noAll) {
                Options oAll = o.withSteps(maxK);
                AttributionSet[] last = new AttributionSet[1];
                Timing.Stat s = timing.time(() -> null, x -> last[0] = attributor.run(in, target, Method.parse("all"), oAll));
                Map<String, Object> r = method("all", maxK, s, fwd.median(), s.median() / fwd.median(), null);
                List<Map<String, Object>> shared = new ArrayList<>();
                for (AttributionSet.SharedStep st : last[0].shared()) {
                    Map<String, Object> sm = new LinkedHashMap<>();
                    sm.put("name", st.name());
                    sm.put("seconds", st.seconds());
                    sm.put("used_by", st.usedBy().stream().map(Method::cliName).toList());
                    shared.add(sm);
                }
                r.put("shared", shared);
                boolean forwardOnce = last[0].shared().stream().anyMatch(st -> st.name().equals("forward") && st.usedBy().size() == Method.values().length);
                boolean gradientShared = last[0].shared().stream().anyMatch(st -> st.name().equals("gradient_backward")
                        && st.usedBy().containsAll(List.of(Method.SALIENCY, Method.INPUT_X_GRADIENT)));
                r.put("forward_once", forwardOnce);
                r.put("gradient_backward_shared", gradientShared);
                methods.add(r);
                progress.printf("  %-28s %9.4f s   %6.2fx forward          (forward once: %s; one gradient backward for saliency+input_x_gradient: %s)%n",
                        "all (k=" + maxK + ")", s.median(), s.median() / fwd.median(), forwardOnce ? "yes" : "NO", gradientShared ? "yes" : "NO");
                save();
            }
        } finally {
            if (tok != null) tok.close();
        }
    }

    private static Map<String, Object> method(String name, Integer k, Timing.Stat s, double forward, Double ratio, Boolean meets) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("method", name);
        if (k != null) r.put("steps", k);
        r.putAll(s.json());
        if (ratio != null && !name.equals("forward")) r.put("over_forward", ratio);
        if (meets != null) r.put("meets_target", meets);
        return r;
    }

    private void save() {
        if (out == null) return;
        try {
            BenchMatrixCommand.write(out, Json.write(results) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": cannot write results: " + e.getMessage(), e);
        }
    }

    private static final java.util.Map<Path, Thread> CLEANUPS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * A new temporary folder for a generated preset, deleted by {@link #deleteTemporary} and also when the JVM is
     * stopped (SIGINT, SIGTERM) before that: an interrupted run must not leave the model (gigabytes at real shapes)
     * behind in the temporary directory.
     */
    static Path temporaryModelFolder() throws IOException {
        Path dir = Files.createTempDirectory("rationale-bench-");
        Thread hook = new Thread(() -> deleteTree(dir), "rationale-bench-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        CLEANUPS.put(dir, hook);
        return dir;
    }

    /** Deletes a folder of {@link #temporaryModelFolder} now (during shutdown its hook does). */
    static void deleteTemporary(Path dir) {
        Thread hook = CLEANUPS.remove(dir);
        if (hook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                return;
            }
        }
        deleteTree(dir);
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (java.nio.file.NoSuchFileException gone) {
            // deleted meanwhile
        } catch (IOException e) {
            System.err.println("bench: could not delete " + dir + ": " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- inputs (shared with the JMH benchmarks)

    /** Deterministic token ids in [0, vocab): what both the command and the JMH benchmarks prefill. */
    public static int[] randomIds(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
        return ids;
    }

    /** English prose, repeated as needed: the attribution benchmark input. */
    static final String TEXT = "The committee met on a cold morning to decide whether the old bridge over the river should be "
            + "repaired or replaced. Engineers reported that the steel beams were rusted but still sound, while the "
            + "concrete piers had cracked after years of floods. Residents argued that a new bridge would take three "
            + "years to build and cut the town in half, so most of them asked for repairs. In the end the committee "
            + "voted to repair the bridge this summer and to study a replacement later, because the cost was lower and "
            + "the work could start at once. ";

    /**
     * The attribution input of {@code n} tokens: {@link #TEXT} (repeated) through the tokenizer, cut after n tokens,
     * with words as {@code attribute --text} would have them; without a usable tokenizer (null, or ids beyond the
     * model's vocabulary) random ids without words.
     */
    public static AttributionInput attributionInput(Tokenizer tok, int vocab, int n) {
        if (tok != null) {
            StringBuilder text = new StringBuilder(TEXT);
            Encoding e = tok.encode(text.toString());
            while (e.size() < n && text.length() < 1_000_000) {
                text.append(TEXT);
                e = tok.encode(text.toString());
            }
            if (e.size() >= n) {
                List<Token> tokens = e.tokens().subList(0, n);
                boolean inVocab = tokens.stream().allMatch(t -> t.id() < vocab);
                int end = 0;
                for (Token t : tokens) end = Math.max(end, t.end());
                if (inVocab) return AttributionInput.of(e.text().substring(0, end), tokens, 0, end);
            }
        }
        return AttributionInput.ofIds(randomIds(n, vocab, 7), null);
    }
}
