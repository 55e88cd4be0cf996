package io.rationale.cli;

import io.rationale.dataset.Aggregation;
import io.rationale.eval.DistributedEval;
import io.rationale.eval.EvalOptions;
import io.rationale.eval.EvalRunner;
import io.rationale.eval.EvaluatorFactory;
import io.rationale.eval.ModelEvaluator;
import io.rationale.eval.ProgressPrinter;
import io.rationale.eval.RemoteEvaluator;
import io.rationale.eval.RunManifest;
import io.rationale.eval.Selection;
import io.rationale.eval.Summary;
import io.rationale.metrics.Masking;
import io.rationale.openai.OpenAiClient;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code eval}: evaluates rationale methods on a dataset into a results folder ({@link EvalRunner}): run.json,
 * examples.jsonl (resumable), summary.json, summary.csv, report.html. The options map one to one onto
 * {@link EvalOptions}. {@code --builtin} is the embedded default (the main job): the tiny generated model and six
 * built-in NLI examples with human rationales.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Evaluate rationale methods (human alignment and faithfulness) on a dataset; resumable.",
                "Writes OUT/run.json, OUT/examples.jsonl, OUT/summary.json, OUT/summary.csv and OUT/report.html; "
                        + "the last line printed is the report's path."})
public final class EvalCommand implements Callable<Integer> {
    /** Methods of the embedded default. */
    static final List<String> BUILTIN_METHODS = List.of("input_x_gradient", "attention", "prompt_guided");
    static final String BUILTIN_OUT = "rationale-demo-results";
    static final String BUILTIN_RESOURCE = "/io/rationale/eval/builtin-examples.jsonl";
    static final String BUILTIN_DATASET_FILE = "builtin-examples.jsonl";
    static final String BUILTIN_MODEL_DIR = "tiny-model";

    /** Where evaluators come from; tests swap in a fake (null: the core's ModelEvaluator on {@code --device}). */
    static volatile EvaluatorFactory evaluatorFactory;

    @picocli.CommandLine.Mixin
    DeviceOption device;

    @picocli.CommandLine.Mixin
    AdapterOption adapter;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Model folder (config.json, safetensors, tokenizer), or openai:URL[#MODEL] "
            + "for a model behind an OpenAI-compatible endpoint (prompting methods only; API key from $" + OpenAiClient.API_KEY_VARIABLE + ").")
    String model;

    @Option(names = "--remote-api", defaultValue = "chat", paramLabel = "chat|completions",
            description = "With --model openai:...: send the prompts as chat messages (default) or as one completion prompt.")
    String remoteApi;

    @Option(names = "--remote-concurrency", defaultValue = "8", paramLabel = "N",
            description = "With --model openai:...: requests in flight at once for the masked variants (default: ${DEFAULT-VALUE}).")
    int remoteConcurrency;

    @Option(names = "--dataset", paramLabel = "KIND:PATH", description = "Dataset, e.g. esnli:path.csv, medicalbios:path.jsonl, jsonl:path (see docs/datasets.md).")
    String dataset;

    @Option(names = "--methods", paramLabel = "LIST", split = ",", description = "Comma-separated rationale methods: "
            + "saliency, input_x_gradient, integrated_gradients, attnlrp, cplrp, pe_lrp, attention, attention_rollout, occlusion (attribution), "
            + "prompt_guided, prompt_unbound (prompting), or all (every attribution method); the random baseline is always added.")
    List<String> methods;

    @Option(names = "--out", paramLabel = "DIR", description = "Results folder (created; an existing one is resumed).")
    Path out;

    @Option(names = "--limit", paramLabel = "N", description = "Evaluate N examples only, chosen by --select.")
    Integer limit;

    @Option(names = "--select", defaultValue = "stratified", paramLabel = "stratified|shuffle|first",
            description = "Which examples --limit takes, and the order they run in: stratified (default: by gold label, in the dataset's "
                    + "proportions), shuffle (seeded by --seed) or first (file order).")
    String select;

    @Option(names = "--k", defaultValue = "human", paramLabel = "human|FRACTION",
            description = "Rationale size: the human rationale's length (default) or a fraction in (0, 1] of the words.")
    String k;

    @Option(names = "--mask", defaultValue = "delete", paramLabel = "delete|replace:TOKEN", description = "Masking for the faithfulness tests (default: ${DEFAULT-VALUE}).")
    String mask;

    @Option(names = "--annotators", defaultValue = "majority", paramLabel = "majority|union|annotator:ID|index:N",
            description = "How several annotators' rationales become one (default: ${DEFAULT-VALUE}).")
    String annotators;

    @Option(names = "--shots", defaultValue = "0", paramLabel = "N", description = "Few-shot examples in the prompt (default: ${DEFAULT-VALUE}).")
    int shots;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the random baseline, few-shot draw, example selection and sampling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--ig-steps", defaultValue = "" + EvalOptions.DEFAULT_IG_STEPS, paramLabel = "N",
            description = "Integrated-gradients steps (default: ${DEFAULT-VALUE}).")
    int igSteps;

    @Option(names = "--ig-baseline", defaultValue = EvalOptions.DEFAULT_IG_BASELINE, paramLabel = "bos|eos|unk|pad|zero|token:N",
            description = "Integrated-gradients baseline: that token's embedding at every position, or the zero embedding "
                    + "(default: ${DEFAULT-VALUE}, EOS when the tokenizer has no BOS; docs/eval.md has the measurements).")
    String igBaseline;

    @Option(names = "--target", defaultValue = EvalOptions.DEFAULT_TARGET, paramLabel = "auto|predicted|contrast",
            description = "What attribution methods explain: auto (default: logit(gold) - logit(foil) on examples with a foil, "
                    + "e.g. medicalbios-contrastive, else the predicted label's logit), predicted, or contrast.")
    String target;

    @Option(names = "--restart", description = "Discard the results already in --out instead of resuming them.")
    boolean restart;

    @Option(names = "--summary-every", defaultValue = "10", paramLabel = "N",
            description = "Refresh summary and report every N examples (0: only at the end; default: ${DEFAULT-VALUE}).")
    int summaryEvery;

    @Option(names = "--progress", defaultValue = "auto", paramLabel = "auto|bar|lines|none",
            description = "Progress on stderr: a bar on a terminal, one line per example otherwise (default: ${DEFAULT-VALUE}).")
    String progress;

    @Option(names = "--on-error", defaultValue = "stop", paramLabel = "stop|skip",
            description = "An example whose evaluation fails stops the run (resumable; default) or is recorded as skipped.")
    String onError;

    @Option(names = "--no-prefix-cache", description = "Prefill each example's prompt prefix anew and attribute over the whole prompt, "
            + "instead of keeping the shared instructions and demonstrations cached and recording only the rows after them "
            + "(the same results, slower; a check of the default).")
    boolean noPrefixCache;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = "Run the examples as an Apache Spark job on MASTER (local[2], spark://HOST:PORT, yarn, k8s://...): the model "
                    + "is loaded once per executor JVM, on the GPU Spark assigns a task, else on --device; same results folder "
                    + "(docs/spark.md). Needs the spark module: ./rationale adds it.")
    String spark;

    @Option(names = "--spark-partitions", paramLabel = "N",
            description = "With --spark: split the pending examples into N tasks (default: Spark's default parallelism).")
    Integer sparkPartitions;

    @Option(names = "--builtin", description = "The embedded default: the tiny generated model (weights-tools preset tiny, seed 0) and "
            + "six built-in NLI examples with human rationales, into ./" + BUILTIN_OUT + " unless --out is given; always starts fresh.")
    boolean builtin;

    @Override
    public Integer call() throws IOException {
        boolean fresh = restart;
        boolean remote = RemoteEvaluator.Spec.isRemote(model);
        Path modelDir = model == null || remote ? null : Path.of(model), outDir = out;
        String datasetSpec = dataset;
        List<String> methodList = methods;
        if (builtin) {
            if (model != null || dataset != null) throw Usage.error(spec, "--builtin brings its own model and dataset; leave out --model and --dataset");
        } else {
            for (String[] o : new String[][]{{"--model", model == null ? null : "x"}, {"--dataset", dataset}, {"--methods", methods == null ? null : "x"}, {"--out", out == null ? null : "x"}}) {
                if (o[1] == null) throw Usage.error(spec, "Missing required option: '" + o[0] + "' (or --builtin for the embedded default)");
            }
        }
        if (methodList == null) methodList = BUILTIN_METHODS;
        // every option on its own, before any file is read or written: a bad one is a usage error (exit 2)
        List<String> canonical = methodList(methodList);
        EvalOptions options = Usage.check(spec, () -> new EvalOptions(canonical, checkK(k), checkMask(mask), checkAnnotators(annotators),
                shots, seed, igSteps, EvalOptions.checkIgBaseline(igBaseline), EvalOptions.checkTarget(target)));
        Selection.Mode selectMode = Usage.check(spec, () -> Selection.Mode.parse(select));
        if (dataset != null) Usage.check(spec, () -> io.rationale.dataset.DatasetLoader.spec(dataset));
        if (shots < 0) throw Usage.error(spec, "--shots must be >= 0, got " + shots);
        if (igSteps < 1 || igSteps > 4096) throw Usage.error(spec, "--ig-steps must be in [1, 4096], got " + igSteps);
        if (limit != null && limit < 1) throw Usage.error(spec, "--limit must be >= 1, got " + limit);
        if (summaryEvery < 0) throw Usage.error(spec, "--summary-every must be >= 0, got " + summaryEvery);
        if (sparkPartitions != null && spark == null) throw Usage.error(spec, "--spark-partitions goes with --spark");
        if (sparkPartitions != null && sparkPartitions < 1) throw Usage.error(spec, "--spark-partitions must be >= 1, got " + sparkPartitions);
        if (spark != null && remote) throw Usage.error(spec, "--spark runs a model folder on the cluster; a model behind an API (--model openai:...) is not one");
        RemoteEvaluator.Api api = Usage.check(spec, () -> RemoteEvaluator.Api.parse(remoteApi));
        RemoteEvaluator.Spec remoteParsed = null;
        if (remote) {   // what a remote model can run is known from the command line: attribution methods are usage errors
            Usage.check(spec, () -> RemoteEvaluator.checkMethods(options.methods()));
            if (remoteConcurrency < 1) throw Usage.error(spec, "--remote-concurrency must be >= 1, got " + remoteConcurrency);
            remoteParsed = Usage.check(spec, () -> RemoteEvaluator.Spec.parse(model, api));
        }
        EvalRunner.OnError errors = Usage.onError(spec, onError);
        ProgressPrinter.Mode progressMode = Usage.check(spec, () -> ProgressPrinter.mode(progress));
        var d = device.parse();
        io.rationale.lora.Adapters adapters = adapter.parse();
        if (!adapters.isEmpty() && (remote || builtin)) throw Usage.error(spec, "--adapter needs a model folder (--model DIR), not "
                + (builtin ? "--builtin" : "a remote model"));

        if (builtin) {
            outDir = out != null ? out : Path.of(BUILTIN_OUT);
            if (Files.exists(outDir) && !Files.isDirectory(outDir))
                throw new IllegalArgumentException(outDir + ": exists and is not a folder (--out names the results folder)");
            modelDir = outDir.resolve(BUILTIN_MODEL_DIR);
            Path data = outDir.resolve(BUILTIN_DATASET_FILE);
            datasetSpec = "jsonl:" + data;
            if (Files.exists(outDir.resolve(EvalRunner.RUN_JSON)) && !isBuiltinFolder(outDir, data) && !restart) {
                throw new IllegalArgumentException(outDir + " holds another evaluation; --builtin writes into a new folder or over an "
                        + "earlier built-in run (use --restart to discard it, or another --out)");
            }
            fresh = true;   // the built-in job always starts over
            Files.createDirectories(outDir);
            TinyModel.write(Presets.get("tiny"), 0, modelDir, 0, 1, null);
            try (InputStream in = EvalCommand.class.getResourceAsStream(BUILTIN_RESOURCE)) {
                if (in == null) throw new IllegalStateException("built-in examples missing from the jar: " + BUILTIN_RESOURCE);
                Files.copy(in, data, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        ProgressPrinter printer = new ProgressPrinter(System.err, progressMode);
        RemoteEvaluator.Spec remoteSpec = null;
        String apiKey = System.getenv(OpenAiClient.API_KEY_VARIABLE);
        if (remote) remoteSpec = RemoteEvaluator.resolve(remoteParsed, apiKey);
        EvalRunner.Config config = new EvalRunner.Config(modelDir, datasetSpec, options, limit, outDir, fresh, summaryEvery, errors, selectMode,
                remoteSpec == null ? null : remoteSpec.id(), adapters);
        if (builtin) System.out.println("model: weights-tools tiny preset, seed 0 (random weights) at " + modelDir.toAbsolutePath().normalize());
        EvaluatorFactory factory = evaluatorFactory;
        ModelEvaluator.Settings settings = ModelEvaluator.Settings.defaults().withPrefixCache(!noPrefixCache);
        if (factory == null && remoteSpec != null) {
            RemoteEvaluator.Spec rs = remoteSpec;
            factory = (m, ds, opts) -> RemoteEvaluator.open(rs, ds, opts, apiKey, remoteConcurrency);
        } else if (factory == null) {
            factory = (m, ds, opts) -> ModelEvaluator.open(m, ds, opts, d, adapters, settings);
        }
        EvalRunner.Outcome o;
        if (spark != null) {
            try (DistributedEval cluster = DistributedEval.open(spark, d, sparkPartitions, settings)) {
                o = new EvalRunner(config, evaluatorFactory != null ? evaluatorFactory : cluster.factory(adapters), printer).distributed(cluster).run();
            }
        } else {
            o = new EvalRunner(config, factory, printer).run();
        }
        print(o);
        Summary.Counts c = o.summary().counts();
        if (c.remaining() == 0 && c.selected() > 0 && c.evaluated() == 0) {
            // a run that evaluated nothing is a failure, whatever the reason; the results folder keeps the reasons
            List<String> why = new ArrayList<>();
            o.summary().skipped().evaluator().forEach((r, n) -> why.add(n + "× " + r));
            System.err.println("rationale: none of the " + c.selected() + " selected examples could be evaluated ("
                    + String.join("; ", why) + ")");
            return Usage.EXIT_FAILURE;
        }
        return 0;
    }

    /** Whether {@code out} holds nothing or an earlier built-in run (which the built-in job replaces). */
    private static boolean isBuiltinFolder(Path out, Path data) {
        Path runJson = out.resolve(EvalRunner.RUN_JSON);
        if (!Files.exists(runJson)) return false;
        try {
            return RunManifest.read(runJson).dataset().equals("jsonl:" + data.toAbsolutePath().normalize());
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The methods as the run records them: canonical names, {@code all} expanded ({@link EvalOptions#canonicalMethods}). */
    List<String> methodList(List<String> given) {
        return Usage.check(spec, () -> {
            try {
                return EvalOptions.canonicalMethods(given);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--methods: " + e.getMessage(), e);
            }
        });
    }

    static String checkK(String k) {
        if (k.equals("human")) return k;
        try {
            BigDecimal f = new BigDecimal(k.trim());
            if (f.signum() > 0 && f.compareTo(BigDecimal.ONE) <= 0) return f.stripTrailingZeros().toPlainString();
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("--k must be 'human' or a fraction in (0, 1], got '" + k + "'");
    }

    static String checkMask(String mask) {
        if (mask.equals("delete")) return mask;
        if (mask.startsWith("replace:")) {
            try {
                new Masking.Replacement(mask.substring("replace:".length()));
                return mask;
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--mask " + mask + ": " + e.getMessage());
            }
        }
        throw new IllegalArgumentException("--mask must be 'delete' or 'replace:TOKEN', got '" + mask + "'");
    }

    static String checkAnnotators(String a) {
        try {
            Aggregation.parse(a);
            return a;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--annotators: " + e.getMessage());
        }
    }

    private static void print(EvalRunner.Outcome o) {
        Summary s = o.summary();
        Summary.Counts c = s.counts();
        System.out.printf(Locale.ROOT, "results: %s (%d of %d examples done: %d now, %d resumed)%n",
                o.out().toAbsolutePath().normalize(), c.done(), c.selected(), o.evaluated(), o.resumed());
        if (s.device() != null) System.out.println("device: " + s.device());
        if (s.flipPaths() != null) System.out.println("flip evaluation: " + s.flipPaths().description());
        if (s.selection() != null && s.selection().get("description") != null) System.out.println("examples: " + s.selection().get("description"));
        if (s.attributionTarget() != null) System.out.println("target: " + s.attributionTarget().description());
        Summary.Labels l = s.labels();
        StringBuilder dist = new StringBuilder();
        for (Map.Entry<String, Double> e : l.predictedDistribution().entrySet()) {
            dist.append(dist.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(pct(e.getValue()))
                    .append(" (gold ").append(pct(l.goldDistribution().get(e.getKey()))).append(')');
        }
        System.out.printf(Locale.ROOT, "accuracy %s %s over %d examples; predicted: %s%n", num(l.accuracy()), ci(l.accuracyCi()),
                l.accuracyCi().n(), dist);
        int w = 8;
        for (String m : s.methods().keySet()) w = Math.max(w, m.length());
        System.out.printf(Locale.ROOT, "%-" + w + "s  %4s  %-24s  %-24s  %7s  %7s  %7s%n", "method", "n", "alignment F1 [95% CI]",
                "flip rate [95% CI]", "comp.", "suff.", "AUPRC");
        for (Map.Entry<String, Summary.MethodSummary> e : s.methods().entrySet()) {
            Summary.MethodSummary m = e.getValue();
            System.out.printf(Locale.ROOT, "%-" + w + "s  %4d  %-24s  %-24s  %7s  %7s  %7s%n", e.getKey(), m.examples(),
                    num(m.alignment().f1().mean()) + " " + ci(m.alignment().f1()), num(m.flipRate().mean()) + " " + ci(m.flipRate()),
                    num(m.comprehensiveness().mean()), num(m.sufficiency().mean()), num(m.auprc().mean()));
        }
        for (Map.Entry<String, Summary.MethodSummary> e : s.methods().entrySet()) {
            Summary.Completeness ce = e.getValue().completeness();
            if (ce == null) continue;
            System.out.printf(Locale.ROOT, "%s completeness error: mean %s, median %s, max %s; %d of %d examples above %.0f%%%s%n", e.getKey(),
                    pct(ce.error().mean()), pct(ce.median()), pct(ce.max()), ce.overWarning(), ce.error().n(), 100 * Summary.COMPLETENESS_WARNING,
                    ce.overWarning() > 0 ? " (more --ig-steps, or another --ig-baseline)" : "");
        }
        List<String> skips = new ArrayList<>();
        s.skipped().dataset().forEach((r, n) -> skips.add("loader: " + r + " ×" + n));
        s.skipped().evaluator().forEach((r, n) -> skips.add("evaluator: " + r + " ×" + n));
        System.out.println("skipped: " + c.datasetSkipped() + " while loading, " + c.evaluatorSkipped() + " by the evaluator"
                + (skips.isEmpty() ? "" : " (" + String.join("; ", skips) + ")"));
        System.out.println("summary: " + o.out().resolve(EvalRunner.SUMMARY_JSON).toAbsolutePath().normalize() + ", "
                + o.out().resolve(EvalRunner.SUMMARY_CSV).getFileName());
        System.out.println(o.report().toAbsolutePath().normalize());
    }

    private static String num(double v) {
        if (!Double.isFinite(v)) return "n/a";
        String out = String.format(Locale.ROOT, "%.3f", v);
        return out.equals("-0.000") ? "0.000" : out;
    }

    private static String ci(Summary.Stat s) {
        return Double.isFinite(s.lower()) ? String.format(Locale.ROOT, "[%.3f, %.3f]", s.lower(), s.upper()) : "";
    }

    private static String pct(Double v) {
        return v != null && Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : "n/a";
    }
}
