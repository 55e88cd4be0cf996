package io.rationale.cli;

import io.rationale.attribution.Method;
import io.rationale.dataset.MultipleChoice;
import io.rationale.eval.EvalRunner;
import io.rationale.eval.ProgressPrinter;
import io.rationale.serum.HintType;
import io.rationale.serum.Hints;
import io.rationale.serum.Normalization;
import io.rationale.serum.Operator;
import io.rationale.serum.Rows;
import io.rationale.serum.SerumOptions;
import io.rationale.serum.SerumPrompts;
import io.rationale.serum.SerumRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code serum}: the Faithfulness Serum's hint-counterfactual evaluation ({@link SerumRunner}; docs/serum.md): per
 * question and hint type, the answers without and with the hint; for the cases where the hint flips the answer to the
 * hinted option, the explanation without and with attribution-guided steering, judged; resumable results folder.
 */
@Command(name = "serum", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Hint-counterfactual faithfulness of explanations, without and with the Faithfulness Serum (attribution-guided attention steering); resumable.",
                "Writes OUT/run.json, OUT/cases.jsonl, OUT/summary.json, OUT/summary.csv and OUT/report.html; the last line printed is the report's path."})
public final class SerumCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOption device;

    @Mixin
    AdapterOption adapter;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model folder (config.json, safetensors, tokenizer).")
    Path model;

    @Option(names = "--questions", required = true, paramLabel = "KIND:PATH", description = "mmlu:FILE_OR_FOLDER (MMLU CSVs) or jsonl:FILE (see docs/serum.md).")
    String questions;

    @Option(names = "--hints", defaultValue = "all", paramLabel = "LIST", description = "Hint types: sycophancy, metadata, grader_hack, unethical, or all (default).")
    String hints;

    @Option(names = "--alpha", required = true, paramLabel = "A", description = "Steering strength; several comma-separated for a sweep (e.g. 0.06,0.08,0.1).")
    String alpha;

    @Option(names = "--layers", required = true, paramLabel = "L", description = "Steered layers: 17,18,19 | window:START:COUNT | logit-lens[:RANK:COUNT]; several separated by ';' for a sweep.")
    String layers;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Results folder (created; an existing one is resumed).")
    Path out;

    @Option(names = "--judge-model", paramLabel = "DIR", description = "LLM judge checkpoint folder (any local model; the evaluated one is allowed). Without it only the keyword judges run.")
    Path judgeModel;

    @Option(names = "--limit", paramLabel = "N", description = "The first N questions only.")
    Integer limit;

    @Option(names = "--method", defaultValue = "pe_lrp", paramLabel = "M", description = "Relevance method (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--normalization", defaultValue = "max_abs", paramLabel = "N", description = "max_abs (default), l1, min_max or none.")
    String normalization;

    @Option(names = "--operator", defaultValue = "post", paramLabel = "OP", description = "post (default: the authors', no renormalisation), post-renorm or pre.")
    String operator;

    @Option(names = "--rows", defaultValue = "all", paramLabel = "R", description = "all (default: the authors') or causal (only rows after the question span).")
    String rows;

    @Option(names = "--explain", defaultValue = "general", paramLabel = "V", description = "Explanation question: general (default) or specific.")
    String explain;

    @Option(names = "--keep", defaultValue = "flipped", paramLabel = "K", description = "Explain the cases the hint flips (default) or all cases.")
    String keep;

    @Option(names = "--hint-templates", paramLabel = "FILE", description = "JSON with the user's hint template, judge description and keywords per hint type.")
    Path hintTemplates;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the hinted-option draw and of sampled explanations (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--answer-tokens", defaultValue = "64", paramLabel = "N", description = "Most tokens of an answer (default: ${DEFAULT-VALUE}).")
    int answerTokens;

    @Option(names = "--explanation-tokens", defaultValue = "400", paramLabel = "N", description = "Most tokens of an explanation (default: ${DEFAULT-VALUE}, as the authors).")
    int explanationTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T", description = "Explanations: 0 = greedy (default), > 0 samples (the same seed without and with the serum).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", paramLabel = "P", description = "Explanations: nucleus mass when sampling (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--judge-tokens", defaultValue = "64", paramLabel = "N", description = "Most tokens of the LLM judge's reply (default: ${DEFAULT-VALUE}).")
    int judgeTokens;

    @Option(names = "--restart", description = "Discard the results already in --out instead of resuming them.")
    boolean restart;

    @Option(names = "--summary-every", defaultValue = "10", paramLabel = "N", description = "Refresh summary and report every N cases (0: at the end; default: ${DEFAULT-VALUE}).")
    int summaryEvery;

    @Option(names = "--progress", defaultValue = "auto", paramLabel = "auto|bar|lines|none", description = "Progress on stderr (default: ${DEFAULT-VALUE}).")
    String progress;

    @Option(names = "--on-error", defaultValue = "stop", paramLabel = "stop|skip", description = "A failing case stops the run (resumable; default) or is recorded as an error.")
    String onError;

    @Override
    public Integer call() throws IOException {
        // every option on its own, before any file is read or written: a bad one is a usage error (exit 2)
        if (limit != null && limit < 1) throw Usage.error(spec, "--limit must be >= 1, got " + limit);
        if (summaryEvery < 0) throw Usage.error(spec, "--summary-every must be >= 0, got " + summaryEvery);
        Usage.check(spec, () -> Usage.named("--questions", () -> MultipleChoice.kind(questions)));
        SerumOptions checked = Usage.check(spec, () -> {
            List<Method> m = Usage.named("--method", () -> Method.parse(method));
            if (m.size() != 1) throw new IllegalArgumentException("--method takes one attribution method, not all");
            return new SerumOptions(Usage.named("--hints", () -> HintType.parseList(hints)).stream().map(HintType::cliName).toList(),
                    SerumOptions.parseAlphas(alpha), Usage.named("--layers", () -> SerumOptions.parseLayers(layers)), m.get(0).cliName(),
                    Usage.named("--normalization", () -> Normalization.parse(normalization)).cliName(),
                    Usage.named("--operator", () -> Operator.parse(operator)).cliName(), Usage.named("--rows", () -> Rows.parse(rows)).cliName(),
                    SerumPrompts.Explain.parse(explain).cliName(), keep.toLowerCase(Locale.ROOT), seed, answerTokens, explanationTokens, temperature,
                    topP, judgeModel == null ? null : judgeModel.toAbsolutePath().normalize().toString(), judgeTokens, null);
        });
        EvalRunner.OnError errors = Usage.onError(spec, onError);
        ProgressPrinter.Mode progressMode = Usage.check(spec, () -> ProgressPrinter.mode(progress));
        var d = device.parse();
        var adapters = adapter.parse();
        // then the files (exit 1)
        if (!Files.isDirectory(model)) throw new IllegalArgumentException("--model " + model + ": not a folder");
        SerumOptions o = checked;
        Map<HintType, Hints.Spec> overrides = null;
        if (hintTemplates != null) {
            overrides = Hints.readOverrides(hintTemplates);
            o = checked.withHintTemplates(Files.readString(hintTemplates, StandardCharsets.UTF_8));
        }
        ProgressPrinter printer = new ProgressPrinter(System.err, progressMode);
        SerumRunner.Config config = new SerumRunner.Config(model, questions, o, overrides, limit, out, restart, summaryEvery, errors, d, 0, adapters);
        SerumRunner.Outcome r = new SerumRunner(config, printer).run();
        print(r);
        return 0;
    }

    @SuppressWarnings("unchecked")
    private static void print(SerumRunner.Outcome r) {
        Map<String, Object> s = r.summary();
        Map<String, Object> c = (Map<String, Object>) s.get("counts");
        System.out.printf(Locale.ROOT, "results: %s (%s of %s cases done; %d lines now, %d resumed)%n", r.out().toAbsolutePath().normalize(),
                c.get("cases_done"), c.get("cases_expected"), r.written(), r.resumed());
        System.out.printf(Locale.ROOT, "%-12s %-28s %6s %8s %9s  %-15s %-15s %-15s%n", "hint", "setting", "tried", "flipped", "explained",
                "keyword w/o→w", "corrected w/o→w", "llm w/o→w");
        for (Object go : (List<Object>) s.get("groups")) {
            Map<String, Object> g = (Map<String, Object>) go;
            for (Object so : (List<Object>) g.get("settings")) {
                Map<String, Object> st = (Map<String, Object>) so;
                Map<String, Object> j = (Map<String, Object>) st.get("judges");
                System.out.printf(Locale.ROOT, "%-12s %-28s %6s %8s %9s  %-15s %-15s %-15s%n", g.get("hint"), "α " + st.get("alpha") + " " + st.get("layers"),
                        g.get("tried"), g.get("flipped"), st.get("explained"), rates(j.get("keyword")), rates(j.get("keyword_corrected")), rates(j.get("llm")));
            }
        }
        System.out.println("summary: " + r.out().resolve(SerumRunner.SUMMARY_JSON).toAbsolutePath().normalize() + ", " + SerumRunner.SUMMARY_CSV);
        System.out.println(r.report().toAbsolutePath().normalize());
    }

    @SuppressWarnings("unchecked")
    private static String rates(Object j) {
        if (j == null) return "-";
        Map<String, Object> m = (Map<String, Object>) j;
        Object a = ((Map<String, Object>) m.get("without")).get("mean"), b = ((Map<String, Object>) m.get("with")).get("mean");
        return String.format(Locale.ROOT, "%.2f→%.2f", ((Number) a).doubleValue(), ((Number) b).doubleValue());
    }
}
