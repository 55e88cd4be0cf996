package io.rationale.cli;

import io.rationale.api.AttributionInputs;
import io.rationale.api.AttributionResult;
import io.rationale.api.RationaleJson;
import io.rationale.attribution.Aggregate;
import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.attribution.TargetText;
import io.rationale.engine.Backend;
import io.rationale.eval.AttributionRunner;
import io.rationale.eval.DistributedEval;
import io.rationale.eval.EvalOptions;
import io.rationale.eval.EvalRunner;
import io.rationale.eval.ModelEvaluator;
import io.rationale.eval.ProgressPrinter;
import io.rationale.eval.Selection;
import io.rationale.engine.Backends;
import io.rationale.engine.Model;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tokenizer.TokenizerException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code attribute}: which input tokens and words made the model produce the target at the last position.
 * Prints a table of words and scores, or with {@code --json} one JSON object: {@link AttributionResult}, the shape the
 * Java API and the service share ({@code target_text} and {@code foil_text} when the tokenizer is available).
 * With {@code --dataset}: every example of a dataset, as eval attributes it, into {@code --out/attributions.jsonl}
 * ({@link AttributionRunner}; {@code --spark} runs it as a Spark job).
 */
@Command(name = "attribute", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Attribute the model's next-token decision to the input tokens and words.")
public final class AttributeCommand implements Callable<Integer> {
    @Mixin
    ModelInput input;

    @Mixin
    DeviceOption device;

    @Mixin
    AdapterOption adapter;

    @Option(names = "--method", required = true, paramLabel = "M",
            description = "saliency, input_x_gradient, integrated_gradients, attnlrp, cplrp, pe_lrp, attention, attention_rollout, occlusion, random, or all; several comma-separated.")
    String method;

    @Option(names = "--target-id", paramLabel = "N", description = "Target token id (default: the model's argmax at the last position).")
    Integer targetId;

    @Option(names = "--target-text", paramLabel = "W", description = "Target as text; must be exactly one token (tried as given, with a leading space added, and without its leading whitespace).")
    String targetText;

    @Option(names = "--target-kind", defaultValue = "logit", paramLabel = "K", description = "logit (default) or logprob.")
    String targetKind;

    @Option(names = "--foil-id", paramLabel = "N", description = "Foil token id: explain logit(target) - logit(foil).")
    Integer foilId;

    @Option(names = "--foil-text", paramLabel = "W", description = "Foil as text; one token, tried like --target-text.")
    String foilText;

    @Option(names = "--aggregate", defaultValue = "sum", paramLabel = "A", description = "Token scores to word scores: sum (default) or max_abs.")
    String aggregate;

    @Option(names = "--steps", paramLabel = "K", description = "Integrated gradients steps (default: 32; with --dataset eval's " + EvalOptions.DEFAULT_IG_STEPS + ").")
    Integer steps;

    @Option(names = "--ig-rule", defaultValue = "gauss-legendre", paramLabel = "R", description = "Integrated gradients nodes: gauss-legendre (default, as Captum) or midpoint.")
    String igRule;

    @Option(names = "--baseline-token", paramLabel = "N", description = "Integrated gradients baseline: this token's embedding at every position (default: zero embedding, which converges badly on RMSNorm models; e.g. the <unk>/pad id is better; with --dataset eval's default, the BOS token).")
    Integer baselineToken;

    @Option(names = "--ig-keep-special", description = "Integrated gradients: keep special tokens (BOS) at their real embedding instead of interpolating them.")
    boolean igKeepSpecial;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random method (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--study-start", paramLabel = "C", description = "First char of the text under study in --text (with --chat: in the user text).")
    Integer studyStart;

    @Option(names = "--study-end", paramLabel = "C", description = "End char (exclusive) of the text under study.")
    Integer studyEnd;

    @Option(names = "--max-batch-tokens", defaultValue = "0", paramLabel = "N", description = "Integrated gradients: tokens per recorded batch (0 = from the heap size).")
    int maxBatchTokens;

    @Option(names = "--max-forward-tokens", defaultValue = "16384", paramLabel = "N", description = "Occlusion: tokens per batched forward (default: ${DEFAULT-VALUE}).")
    int maxForwardTokens;

    @Option(names = "--json", description = "Print one JSON object (method, ids, tokens, target_id, target_logit, scores, words, seconds, ...).")
    boolean json;

    @Option(names = "--dataset", paramLabel = "KIND:PATH",
            description = "Attribute every example of a dataset (as eval reads it: esnli:path.csv, medicalbios:path.jsonl, jsonl:path, ...) "
                    + "on eval's classification prompt, the text under study = the example, the target = eval's (--target); "
                    + "writes --out/attributions.jsonl (resumable) and run.json.")
    String dataset;

    @Option(names = "--out", paramLabel = "DIR", description = "With --dataset: the results folder (created; an existing one is resumed).")
    Path out;

    @Option(names = "--limit", paramLabel = "N", description = "With --dataset: N examples only, chosen by --select.")
    Integer limit;

    @Option(names = "--select", defaultValue = "stratified", paramLabel = "stratified|shuffle|first",
            description = "With --dataset: which examples --limit keeps, as eval (default: ${DEFAULT-VALUE}).")
    String select;

    @Option(names = "--target", defaultValue = EvalOptions.DEFAULT_TARGET, paramLabel = "auto|predicted|contrast",
            description = "With --dataset: the explained scalar, as eval: the predicted label's token logit, or gold-vs-foil contrast (auto: contrast on examples with a foil; default: ${DEFAULT-VALUE}).")
    String target;

    @Option(names = "--shots", defaultValue = "0", paramLabel = "N", description = "With --dataset: few-shot examples in the prompt, as eval (default: ${DEFAULT-VALUE}).")
    int shots;

    @Option(names = "--restart", description = "With --dataset: discard the attributions already in --out instead of resuming them.")
    boolean restart;

    @Option(names = "--on-error", defaultValue = "stop", paramLabel = "stop|skip", description = "With --dataset: an example that fails stops the run (resumable) or is recorded as skipped (default: ${DEFAULT-VALUE}).")
    String onError;

    @Option(names = "--progress", defaultValue = "auto", paramLabel = "auto|bar|lines|none", description = "With --dataset: progress on stderr (default: ${DEFAULT-VALUE}).")
    String progress;

    @Option(names = "--no-prefix-cache", description = "With --dataset: prefill each example's prompt prefix anew and attribute over the whole prompt, as eval's option.")
    boolean noPrefixCache;

    @Option(names = "--spark", paramLabel = "MASTER", description = "With --dataset: run the examples as an Apache Spark job (local[N], spark://HOST:PORT, yarn, k8s://...; docs/spark.md).")
    String spark;

    @Option(names = "--spark-partitions", paramLabel = "N", description = "With --spark: tasks to split the examples into (default: Spark's default parallelism).")
    Integer sparkPartitions;

    @Override
    public Integer call() throws java.io.IOException {
        if (dataset != null) return callDataset();
        for (String[] o : new String[][]{{"--out", out == null ? null : "x"}, {"--limit", limit == null ? null : "x"}, {"--spark", spark},
                {"--spark-partitions", sparkPartitions == null ? null : "x"}, {"--restart", restart ? "x" : null},
                {"--no-prefix-cache", noPrefixCache ? "x" : null}}) {
            if (o[1] != null) throw Usage.error(input.spec, o[0] + " goes with --dataset");
        }
        // the options alone: a usage error (exit 2) before any file is read
        input.checkUsage();
        device.parse();
        adapter.parse();
        boolean fromIds = input.source.ids != null;
        List<Method> methods = Usage.check(input.spec, () -> methods(method));
        if (steps != null && (steps < 1 || steps > 4096)) throw Usage.error(input.spec, "--steps must be in [1, 4096], got " + steps);
        Options options = Usage.check(input.spec, () -> Options.defaults().withSteps(steps == null ? 32 : steps).withIgRule(Options.IgRule.parse(igRule))
                .withBaselineToken(baselineToken == null ? -1 : baselineToken).withInterpolateSpecial(!igKeepSpecial)
                .withAggregate(Aggregate.parse(aggregate)).withSeed(seed).withMaxBatchTokens(maxBatchTokens)
                .withMaxForwardTokens(maxForwardTokens));
        TargetSpec.Kind kind = Usage.check(input.spec, () -> TargetSpec.Kind.parse(targetKind));
        Usage.check(input.spec, () -> {
            if (targetId != null && targetText != null) throw new IllegalArgumentException("give --target-id or --target-text, not both");
            if (foilId != null && foilText != null) throw new IllegalArgumentException("give --foil-id or --foil-text, not both");
            if (targetText != null && targetText.isEmpty()) throw new IllegalArgumentException("--target-text is empty");
            if (foilText != null && foilText.isEmpty()) throw new IllegalArgumentException("--foil-text is empty");
            if (baselineToken != null && baselineToken < 0) throw new IllegalArgumentException("--baseline-token " + baselineToken + " is negative");
            if (targetId != null && targetId < 0) throw new IllegalArgumentException("target id " + targetId + " is outside the vocabulary (negative)");
            if (foilId != null && foilId < 0) throw new IllegalArgumentException("foil id " + foilId + " is outside the vocabulary (negative)");
            if (targetId != null && targetId.equals(foilId))
                throw new IllegalArgumentException("--foil-id " + foilId + " is the target: logit(target) - logit(foil) would be 0 everywhere");
            if (fromIds && (studyStart != null || studyEnd != null)) throw new IllegalArgumentException("--study-start/--study-end need --text, not --ids");
            if (studyStart != null && studyStart < 0) throw new IllegalArgumentException("--study-start " + studyStart + " is negative");
            if (studyStart != null && studyEnd != null && studyEnd < studyStart)
                throw new IllegalArgumentException("--study-end " + studyEnd + " is before --study-start " + studyStart);
            if (fromIds && input.chat) throw new IllegalArgumentException("--chat needs --text, not --ids");
        });

        Path dir = input.modelDir();
        try (Model model = adapter.load(dir)) {
            Tokenizer tok = null;
            String noTokenizer = null;
            if (fromIds) {
                if (Files.isRegularFile(dir.resolve(Tokenizer.FILE_NAME))) {
                    try {
                        tok = Tokenizer.load(dir);
                    } catch (TokenizerException e) {
                        noTokenizer = e.getMessage();
                    }
                } else {
                    noTokenizer = dir.resolve(Tokenizer.FILE_NAME) + ": not found";
                }
            } else {
                tok = Tokenizer.load(dir);
            }
            Backends.Opened opened = device.open(model);
            try (Backend backend = opened.backend()) {
                int vocab = model.config().vocabSize();
                AttributionInput in = fromIds ? idsInput(tok, vocab) : textInput(tok);
                int target = targetId != null ? targetId
                        : targetText != null ? TargetText.singleToken(need(tok, noTokenizer, "--target-text"), targetText, "target text")
                        : TargetSpec.ARGMAX;
                int foil = foilId != null ? foilId
                        : foilText != null ? TargetText.singleToken(need(tok, noTokenizer, "--foil-text"), foilText, "foil text")
                        : -1;
                TargetSpec spec = foil >= 0 ? new TargetSpec(TargetSpec.Kind.CONTRAST, target, foil) : new TargetSpec(kind, target, -1);
                spec.checkVocabulary(vocab);
                if (baselineToken != null && baselineToken >= vocab)
                    throw new IllegalArgumentException("--baseline-token " + baselineToken + " is outside the vocabulary [0, " + vocab + ")");
                AttributionSet result = new Attributor(backend).run(in, spec, methods, options);
                if (json) {
                    System.out.println(RationaleJson.write(AttributionResult.of(result, tok, backend.device())));
                } else {
                    System.out.println(table(result, tok));
                    System.out.println(opened.describe());
                }
                return 0;
            } finally {
                if (tok != null) tok.close();
            }
        }
    }

    /** {@code --method}: one name, {@code all}, or several comma-separated (each once, in the order given). */
    static List<Method> methods(String given) {
        java.util.LinkedHashSet<Method> out = new java.util.LinkedHashSet<>();
        for (String part : given.split(",", -1)) out.addAll(Method.parse(part));
        return List.copyOf(out);
    }

    /**
     * {@code attribute --dataset}: {@link AttributionRunner} with eval's options (its prompt, target, integrated
     * gradients defaults), locally or as a Spark job ({@link DistributedEval}); the options of one input refused.
     */
    private Integer callDataset() throws java.io.IOException {
        if (input.source != null) throw Usage.error(input.spec, "--dataset attributes the dataset's examples; leave out --text/--ids");
        for (String[] o : new String[][]{{"--out", out == null ? null : "x"}}) {
            if (o[1] == null) throw Usage.error(input.spec, "Missing required option with --dataset: '" + o[0] + "'");
        }
        // options that choose the input, the target or how scores are computed one input at a time: eval's choices apply
        for (String[] o : new String[][]{{"--chat", input.chat ? "x" : null}, {"--system", input.system}, {"--target-id", targetId == null ? null : "x"},
                {"--target-text", targetText}, {"--foil-id", foilId == null ? null : "x"}, {"--foil-text", foilText},
                {"--target-kind", targetKind.equals("logit") ? null : "x"}, {"--aggregate", aggregate.equals("sum") ? null : "x"},
                {"--ig-rule", igRule.equals("gauss-legendre") ? null : "x"}, {"--ig-keep-special", igKeepSpecial ? "x" : null},
                {"--study-start", studyStart == null ? null : "x"}, {"--study-end", studyEnd == null ? null : "x"},
                {"--max-batch-tokens", maxBatchTokens == 0 ? null : "x"}, {"--max-forward-tokens", maxForwardTokens == 16384 ? null : "x"},
                {"--json", json ? "x" : null}}) {
            if (o[1] != null) throw Usage.error(input.spec, o[0] + " does not go with --dataset (the prompt, target and word scores are eval's; attributions.jsonl holds the JSON)");
        }
        Usage.check(input.spec, () -> io.rationale.dataset.DatasetLoader.spec(dataset));
        List<Method> ms = Usage.check(input.spec, () -> methods(method));
        if (ms.contains(Method.RANDOM) && !method.toLowerCase(java.util.Locale.ROOT).contains("all"))
            throw Usage.error(input.spec, "--method random: with --dataset, random is eval's baseline, not an attribution; leave it out");
        List<String> names = ms.stream().filter(m -> m != Method.RANDOM).map(Method::cliName).toList();
        int igSteps = steps == null ? EvalOptions.DEFAULT_IG_STEPS : steps;
        if (igSteps < 1 || igSteps > 4096) throw Usage.error(input.spec, "--steps must be in [1, 4096], got " + igSteps);
        if (baselineToken != null && baselineToken < 0) throw Usage.error(input.spec, "--baseline-token " + baselineToken + " is negative");
        if (shots < 0) throw Usage.error(input.spec, "--shots must be >= 0, got " + shots);
        if (limit != null && limit < 1) throw Usage.error(input.spec, "--limit must be >= 1, got " + limit);
        if (sparkPartitions != null && spark == null) throw Usage.error(input.spec, "--spark-partitions goes with --spark");
        if (sparkPartitions != null && sparkPartitions < 1) throw Usage.error(input.spec, "--spark-partitions must be >= 1, got " + sparkPartitions);
        EvalOptions options = Usage.check(input.spec, () -> new EvalOptions(names, "human", "delete", "majority", shots, seed, igSteps,
                EvalOptions.checkIgBaseline(baselineToken == null ? EvalOptions.DEFAULT_IG_BASELINE : "token:" + baselineToken), EvalOptions.checkTarget(target)));
        Selection.Mode selectMode = Usage.check(input.spec, () -> Selection.Mode.parse(select));
        EvalRunner.OnError errors = Usage.onError(input.spec, onError);
        ProgressPrinter.Mode progressMode = Usage.check(input.spec, () -> ProgressPrinter.mode(progress));
        var d = device.parse();
        io.rationale.lora.Adapters adapters = adapter.parse();
        EvalRunner.Config config = new EvalRunner.Config(input.model, dataset, options, limit, out, restart, 0, errors, selectMode, null, adapters);
        ModelEvaluator.Settings settings = ModelEvaluator.Settings.defaults().withPrefixCache(!noPrefixCache);
        ProgressPrinter printer = new ProgressPrinter(System.err, progressMode);
        AttributionRunner.Outcome o;
        if (spark != null) {
            try (DistributedEval cluster = DistributedEval.open(spark, d, sparkPartitions, settings)) {
                o = new AttributionRunner(config, cluster.factory(adapters), printer).distributed(cluster).run();
            }
        } else {
            o = new AttributionRunner(config, (m, ds, opts) -> ModelEvaluator.open(m, ds, opts, d, adapters, settings), printer).run();
        }
        System.out.printf(java.util.Locale.ROOT, "attributions: %s (%d of %d examples: %d now, %d resumed; %d skipped; %d lines)%n",
                o.out().resolve(AttributionRunner.ATTRIBUTIONS).toAbsolutePath().normalize(), o.resumed() + o.attributed(), o.selected(),
                o.attributed(), o.resumed(), o.skipped(), o.lines());
        if (o.selected() > 0 && o.skipped() == o.selected()) {
            System.err.println("rationale: none of the " + o.selected() + " selected examples could be attributed (attributions.jsonl says why)");
            return Usage.EXIT_FAILURE;
        }
        return 0;
    }

    private static Tokenizer need(Tokenizer tok, String why, String option) {
        if (tok == null) throw new IllegalArgumentException(option + " needs the model's tokenizer, which cannot be used with these --ids: " + why);
        return tok;
    }

    private AttributionInput idsInput(Tokenizer tok, int vocab) {
        return AttributionInputs.forIds(tok, input.source.ids, vocab);
    }

    private AttributionInput textInput(Tokenizer tok) {
        return AttributionInputs.forText(tok, input.source.text, input.chat, input.system, studyStart, studyEnd);
    }

    // ---------------------------------------------------------------- table

    private static void row(StringBuilder sb, String index, String label) {
        if (label.length() > 24) label = label.substring(0, 23) + "…";
        sb.append(String.format("%-5s %-24s", index, label));
    }

    /**
     * A token for the table, at most 24 chars: its text (its vocabulary piece when it covers no text) quoted, cut
     * to fit, then "(special)" for a special token; its id alone without a tokenizer.
     */
    static String tokenLabel(Attribution.TokenInfo t) {
        String shown = !t.text().isEmpty() ? t.text() : t.piece();
        if (shown.isEmpty()) return "id " + t.id();
        String suffix = t.special() ? " (special)" : "";
        String quoted = Summary.quote(shown);
        int room = 24 - suffix.length();
        if (quoted.length() > room) quoted = quoted.substring(0, room - 2) + "…'";
        return quoted + suffix;
    }

    private static final Map<Method, String> SHORT = Map.of(
            Method.SALIENCY, "saliency", Method.INPUT_X_GRADIENT, "ixg", Method.INTEGRATED_GRADIENTS, "ig",
            Method.ATTNLRP, "attnlrp", Method.CPLRP, "cplrp", Method.PE_LRP, "pe_lrp", Method.ATTENTION, "attention",
            Method.ATTENTION_ROLLOUT, "rollout", Method.OCCLUSION, "occlusion", Method.RANDOM, "random");

    static String table(AttributionSet r, Tokenizer tok) {
        StringBuilder sb = new StringBuilder();
        Attribution.ResolvedTarget t = r.target();
        String targetText = tok != null && t.tokenId() < tok.vocabSize() ? " " + Summary.quote(tok.displayText(t.tokenId())) : "";
        sb.append(String.format("target %d%s: %s %.4f%s%s%n", t.tokenId(), targetText, t.spec().kind().cliName(), t.value(),
                t.spec().kind() == TargetSpec.Kind.LOGIT ? "" : String.format(" (logit %.4f)", t.logit()), t.argmax() ? ", the argmax" : ""));
        if (t.spec().kind() == TargetSpec.Kind.CONTRAST) sb.append("foil ").append(t.spec().foilId()).append('\n');
        List<Attribution> as = List.copyOf(r.methods().values());
        boolean byWord = !r.input().words().isEmpty();
        sb.append(String.format("%-5s %-24s", "#", byWord ? "word" : "token"));
        for (Attribution a : as) sb.append(String.format(" %12s", SHORT.get(a.method())));
        sb.append('\n');
        int rows = byWord ? r.input().words().size() : r.input().size();
        Attribution first = as.get(0);
        for (int i = 0; i < rows; i++) {
            String label = byWord ? r.input().words().get(i).text() : tokenLabel(first.tokens().get(i));
            row(sb, String.valueOf(i), label);
            for (Attribution a : as) sb.append(String.format(" %12.5g", byWord ? a.words().get(i).score() : a.scores()[i]));
            sb.append('\n');
        }
        if (byWord) {   // tokens in no word (BOS, template text): their scores are in the JSON, so they are shown too
            boolean header = false;
            for (Attribution.TokenInfo tk : first.tokens()) {
                if (tk.words().length > 0) continue;
                if (!header) sb.append("tokens in no word:\n");
                header = true;
                row(sb, "t" + tk.index(), tokenLabel(tk));
                for (Attribution a : as) sb.append(String.format(" %12.5g", a.scores()[tk.index()]));
                sb.append('\n');
            }
        }
        for (Attribution a : as) {
            sb.append(String.format("%s: %.3f s", a.method().cliName(), a.seconds()));
            Object ce = a.extras().get("completeness_error");
            if (ce != null) sb.append(String.format(", %s steps, completeness error %.3g%%", a.extras().get("steps"), 100 * (Double) ce));
            sb.append('\n');
            if (a.extras().get("warning") != null) sb.append("warning: ").append(a.extras().get("warning")).append('\n');
        }
        if (as.size() > 1) {
            for (AttributionSet.SharedStep s : r.shared())
                sb.append(String.format("shared %s: %.3f s, used by %s%n", s.name(), s.seconds(), s.usedBy().stream().map(Method::cliName).toList()));
            sb.append(String.format("total: %.3f s", r.seconds()));
        }
        return sb.toString().stripTrailing();
    }
}
