package io.rationale.eval;

import com.fasterxml.jackson.core.type.TypeReference;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import io.rationale.dataset.Aggregation;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Runs an evaluation into a results folder, example by example, resumably.
 *
 * <pre>
 * OUT/run.json        what the run is (model, dataset, options, fingerprints, started/resumed)  {@link RunManifest}
 * OUT/examples.jsonl  one {@link ExampleResult} per line, appended and fsynced per example        {@link ExamplesLog}
 * OUT/summary.json    the aggregate ({@link Summary}); also summary.csv; refreshed every N examples and at the end
 * OUT/report.html     the self-contained report ({@link ReportHtml}), refreshed with the summary
 * </pre>
 *
 * <p>Resume: when OUT/run.json exists, the requested run must be the same (model folder and config.json hash,
 * dataset spec and file hash, options; the limit may change), else the run stops with the differences unless
 * {@code restart} discards the old results. Examples already in examples.jsonl are not evaluated again; a partial
 * last line (a kill during a write) is cut off. Each example's result is on disk before the next one starts.
 *
 * <p>The dataset is loaded first: a file whose format is not recognised stops the run at once
 * ({@link io.rationale.dataset.DatasetException}); entries the loader skips, and examples the evaluator skips
 * ({@link ExampleResult#skipped()}), are counted with their reasons in the summary and the run goes on. An
 * exception from the evaluator stops the run ({@link OnError#STOP}: the results so far stay and a restart
 * retries that example) or is recorded as a skip ({@link OnError#SKIP}: {@code error: <message>}).
 */
public final class EvalRunner {
    public static final String RUN_JSON = "run.json", EXAMPLES = "examples.jsonl", SUMMARY_JSON = "summary.json",
            SUMMARY_CSV = "summary.csv", REPORT = "report.html";
    /** Files a restart deletes (nothing else in the folder is touched). */
    static final List<String> OWN_FILES = List.of(RUN_JSON, EXAMPLES, SUMMARY_JSON, SUMMARY_CSV, REPORT);

    public enum OnError { STOP, SKIP }

    /**
     * @param model        model folder (given to the evaluator factory and fingerprinted)
     * @param dataset      {@code KIND:PATH}
     * @param limit        evaluate the first {@code limit} examples only (null: all)
     * @param out          results folder (created)
     * @param restart      discard the folder's earlier results instead of resuming
     * @param summaryEvery refresh summary and report every this many examples (also at least every
     *                     {@link #SUMMARY_SECONDS} s); 0 = only at the end
     * @param remoteModel  a model behind an API ({@link RemoteEvaluator.Spec#id()}), recorded in run.json instead of
     *                     a folder (then {@code model} is null); null for a model folder
     * @param adapters     LoRA adapters on top of the model folder, recorded in run.json (the evaluator factory loads
     *                     them); {@link io.rationale.lora.Adapters#NONE} for none
     */
    public record Config(Path model, String dataset, EvalOptions options, Integer limit, Path out, boolean restart,
                         int summaryEvery, OnError onError, Selection.Mode select, String remoteModel,
                         io.rationale.lora.Adapters adapters) {
        public Config {
            if (adapters == null) adapters = io.rationale.lora.Adapters.NONE;
            if (remoteModel != null && !adapters.isEmpty()) throw new IllegalArgumentException("--adapter needs a model folder, not a remote model");
            if (remoteModel == null) Objects.requireNonNull(model, "model");
            Objects.requireNonNull(dataset, "dataset");
            Objects.requireNonNull(options, "options");
            Objects.requireNonNull(out, "out");
            if (limit != null && limit < 0) throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
            if (summaryEvery < 0) throw new IllegalArgumentException("--summary-every must be >= 0, got " + summaryEvery);
            if (onError == null) onError = OnError.STOP;
            if (select == null) select = Selection.Mode.FIRST;
        }

        /** No adapters. */
        public Config(Path model, String dataset, EvalOptions options, Integer limit, Path out, boolean restart,
                      int summaryEvery, OnError onError, Selection.Mode select, String remoteModel) {
            this(model, dataset, options, limit, out, restart, summaryEvery, onError, select, remoteModel, null);
        }

        /** A model folder, examples in file order ({@link Selection.Mode#FIRST}). */
        public Config(Path model, String dataset, EvalOptions options, Integer limit, Path out, boolean restart,
                      int summaryEvery, OnError onError) {
            this(model, dataset, options, limit, out, restart, summaryEvery, onError, Selection.Mode.FIRST, null);
        }

        /** A model folder. */
        public Config(Path model, String dataset, EvalOptions options, Integer limit, Path out, boolean restart,
                      int summaryEvery, OnError onError, Selection.Mode select) {
            this(model, dataset, options, limit, out, restart, summaryEvery, onError, select, null);
        }

        public static Config of(Path model, String dataset, EvalOptions options, Path out) {
            return new Config(model, dataset, options, null, out, false, 10, OnError.STOP);
        }

        public Config withLimit(Integer newLimit) {
            return new Config(model, dataset, options, newLimit, out, restart, summaryEvery, onError, select, remoteModel, adapters);
        }

        public Config withSelect(Selection.Mode mode) {
            return new Config(model, dataset, options, limit, out, restart, summaryEvery, onError, mode, remoteModel, adapters);
        }
    }

    /**
     * What a run did.
     *
     * @param resumed   results found from earlier sessions
     * @param evaluated results added in this session
     * @param truncated bytes of a partial last line cut off at the start
     */
    public record Outcome(Path out, Summary summary, int resumed, int evaluated, long truncated) {
        public Path report() { return out.resolve(REPORT); }
    }

    static final int SUMMARY_SECONDS = 120;

    private final Config config;
    private final EvaluatorFactory factory;
    private final Progress progress;
    private final Clock clock;
    private Distributed distributed;

    /**
     * Evaluates a run's pending examples somewhere else than the runner's own loop: a Spark job (the rationale-spark
     * module, {@code eval --spark}). The runner does everything else as for a local run: the dataset, run.json and
     * resume checks, opening the evaluator once on this machine (the model, methods and label words are checked
     * before any work is sent out), the checks of every result against the dataset, examples.jsonl, and the summary
     * and report from examples.jsonl ({@link #writeOutputs}): one code path for both.
     */
    public interface Distributed {
        /**
         * Evaluates {@code job.pending()} with {@link #evaluateExample} on each and hands each result to {@code sink}
         * (any order, each index once). Results handed over before a failure are kept in examples.jsonl, so the same
         * command resumes after them.
         */
        void evaluate(Job job, java.util.function.Consumer<ExampleResult> sink) throws IOException;

        /** What ran the examples, in words, for the summary (null: the evaluator this runner opened). */
        default String device() { return null; }

        /**
         * {@code attribute --dataset} ({@link AttributionRunner}): runs {@link AttributionRunner#attributeExample} on
         * each of {@code job.pending()} and hands each example's {@code attributions.jsonl} lines to {@code sink}
         * together (any order, each index once). As for {@link #evaluate}, lines handed over before a failure are kept.
         */
        default void attribute(Job job, java.util.function.Consumer<List<com.fasterxml.jackson.databind.node.ObjectNode>> sink) throws IOException {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " does not run attributions");
        }
    }

    /**
     * The examples a {@link Distributed} evaluation is asked for.
     *
     * @param config   the run (model folder, dataset spec, options, results folder, error handling)
     * @param dataset  the dataset as this runner loaded it
     * @param manifest the run's run.json (its {@code started} time names the run across resumes)
     * @param pending  dataset indices still to evaluate, in the run's order
     */
    public record Job(Config config, Dataset dataset, RunManifest manifest, List<Integer> pending) {}

    /** Sends the pending examples to {@code d} instead of evaluating them here (null: here). */
    public EvalRunner distributed(Distributed d) {
        this.distributed = d;
        return this;
    }

    public EvalRunner(Config config, EvaluatorFactory factory, Progress progress) {
        this(config, factory, progress, Clock.systemUTC());
    }

    EvalRunner(Config config, EvaluatorFactory factory, Progress progress, Clock clock) {
        this.config = config;
        this.factory = factory;
        this.progress = progress == null ? Progress.NONE : progress;
        this.clock = clock;
    }

    public Outcome run() throws IOException {
        // everything is checked before anything is created: a failed start leaves no folder behind to refuse the
        // corrected command as "a different run"
        Dataset dataset = DatasetLoader.load(config.dataset());
        Path out = config.out();
        if (Files.exists(out) && !Files.isDirectory(out))
            throw new EvalException(out + ": exists and is not a folder (--out names the results folder)");
        Instant now = clock.instant();
        List<Integer> order = Selection.order(dataset.examples(), config.select(), config.options().seed());
        RunManifest requested = config.remoteModel() != null
                ? RunManifest.createRemote(config.remoteModel(), config.dataset(), dataset, config.options(), config.limit(), config.select(), now)
                : RunManifest.create(config.model(), config.dataset(), dataset, config.options(), config.limit(), config.select(), now)
                        .withAdapters(config.adapters());
        int selected = requested.selected();
        List<Integer> chosen = List.copyOf(order.subList(0, selected));
        checkAgainstDataset(dataset, chosen);
        boolean fresh = config.restart() || !Files.exists(out.resolve(RUN_JSON));
        RunManifest manifest = fresh ? checkFresh(out, requested) : checkResume(out, requested, dataset, now);
        Evaluator evaluator = fresh ? open(dataset) : null;   // a new run: the model, methods and label words are checked now
        try {
            Files.createDirectories(out);
            if (config.restart()) for (String f : OWN_FILES) Files.deleteIfExists(out.resolve(f));
            manifest.write(out.resolve(RUN_JSON));
            return run(dataset, out, manifest, chosen, evaluator);
        } finally {
            if (evaluator != null) evaluator.close();
        }
    }

    private Outcome run(Dataset dataset, Path out, RunManifest manifest, List<Integer> chosen, Evaluator opened) throws IOException {
        int selected = chosen.size();
        List<Example> examples = dataset.examples();
        Evaluator[] evaluator = {opened};
        Map<String, Object> selection = new LinkedHashMap<>();
        selection.put("mode", config.select().cliName());
        selection.put("seed", config.options().seed());
        selection.put("limit", config.limit());
        selection.put("selected", selected);
        selection.put("of", dataset.size());
        selection.put("description", Selection.describe(config.select(), config.options().seed(), selected, dataset.size(), config.limit()));
        java.util.function.Supplier<Summary.Context> ctx = () -> new Summary.Context(
                RunManifest.MAPPER.convertValue(manifest, new TypeReference<Map<String, Object>>() {}),
                labelOrder(dataset), config.options().methods(), dataset.size(), selected, dataset.skipReasons(),
                new java.util.HashSet<>(chosen), selection, config.options().hasAttribution() ? config.options().targetOrLegacy() : null,
                distributed != null && distributed.device() != null ? distributed.device() : evaluator[0] == null ? null : evaluator[0].device(),
                evaluator[0] == null ? Map.of() : evaluator[0].resolved());
        int resumed, evaluated = 0;
        long truncated;
        try (ExamplesLog log = ExamplesLog.open(out.resolve(EXAMPLES))) {
            truncated = log.truncatedBytes();
            for (ExampleResult r : log.done().values()) {
                if (r.index() < 0 || r.index() >= examples.size() || !examples.get(r.index()).id().equals(r.id())) {
                    throw new IllegalStateException(out.resolve(EXAMPLES) + ": example " + r.index() + " is '" + r.id()
                            + "' there but " + (r.index() >= 0 && r.index() < examples.size() ? "'" + examples.get(r.index()).id() + "'" : "absent")
                            + " in the dataset; use --restart to start over");
                }
            }
            resumed = (int) chosen.stream().filter(log::isDone).count();
            if (truncated > 0) progress.message("resume: cut off a partial last line of " + EXAMPLES + " (" + truncated + " bytes)");
            if (log.duplicates() > 0) progress.message("resume: ignored " + log.duplicates() + " repeated example lines in " + EXAMPLES);
            if (!dataset.skipped().isEmpty()) {
                progress.message("dataset: " + dataset.skipped().size() + " entries skipped while loading: " + reasons(dataset));
            }
            if (resumed > 0) progress.message("resume: " + resumed + " of " + selected + " examples already done in " + out);

            if (resumed < selected) {
                progress.start(selected, resumed);
                try {
                    if (evaluator[0] == null) evaluator[0] = open(dataset);
                    if (distributed != null) {
                        evaluated = runDistributed(dataset, manifest, chosen, log, resumed);
                    } else {
                        int done = resumed, sinceSummary = 0;
                        long lastSummary = System.nanoTime();
                        for (int i : chosen) {
                            if (log.isDone(i)) continue;
                            Example ex = examples.get(i);
                            long t0 = System.nanoTime();
                            ExampleResult r = evaluate(evaluator[0], i, ex);
                            log.append(r);
                            done++;
                            evaluated++;
                            sinceSummary++;
                            progress.example(done, selected, ex.id(), (System.nanoTime() - t0) / 1e9, r.skipped());
                            boolean due = config.summaryEvery() > 0 && sinceSummary >= config.summaryEvery();
                            if ((due || System.nanoTime() - lastSummary > SUMMARY_SECONDS * 1_000_000_000L) && done < selected) {
                                writeOutputs(out, ctx.get(), log);
                                sinceSummary = 0;
                                lastSummary = System.nanoTime();
                            }
                        }
                    }
                } catch (RuntimeException | Error e) {
                    try {
                        if (!log.done().isEmpty()) writeOutputs(out, ctx.get(), log);
                    } catch (RuntimeException | IOException second) {
                        e.addSuppressed(second);
                    }
                    throw e;
                } finally {
                    progress.finish();
                    if (evaluator[0] != null && evaluator[0] != opened) evaluator[0].close();
                }
            }
            Summary summary = writeOutputs(out, ctx.get(), log);
            if (summary.labels().bias().flagged()) progress.message(summary.labels().bias().warning());
            return new Outcome(out, summary, resumed, evaluated, truncated);
        }
    }

    /**
     * Checks the options that depend on the dataset, before anything is written: an annotator the selected examples
     * do not have (alignment would be silently undefined), {@code --target contrast} on examples without a foil.
     */
    void checkAgainstDataset(Dataset dataset, List<Integer> chosen) {
        EvalOptions o = config.options();
        String how = o.annotators() == null ? "majority" : o.annotators();
        Aggregation agg = Aggregation.parse(how);
        if (how.startsWith("annotator:") || how.startsWith("index:")) {
            boolean any = false;
            java.util.TreeSet<String> known = new java.util.TreeSet<>();
            int most = 0;
            for (int i : chosen) {
                Example e = dataset.examples().get(i);
                known.addAll(e.annotations().annotators());
                most = Math.max(most, e.annotations().count());
                if (e.fields().isEmpty() || e.annotations().aggregate(0, agg).isPresent()) any = true;
            }
            if (!any) {
                String what = how.startsWith("annotator:")
                        ? "no selected example of " + dataset.path() + " has annotator '" + how.substring("annotator:".length()) + "'"
                        + (known.isEmpty() ? " (the dataset has no human rationales)" : " (annotators: " + abbreviate(known) + ")")
                        : "no selected example of " + dataset.path() + " has an annotator at index " + how.substring("index:".length())
                        + (most == 0 ? " (the dataset has no human rationales)" : " (at most " + most + " annotators per example: index:0 to index:" + (most - 1) + ")");
                throw new EvalException("--annotators " + how + ": " + what);
            }
        }
        if (o.hasAttribution() && "contrast".equals(o.targetOrLegacy())) {
            boolean foil = false;
            for (int i : chosen) foil |= dataset.examples().get(i).foil() != null;
            if (!foil) throw new EvalException("--target contrast: no selected example of " + dataset.path()
                    + " has a foil (medicalbios-contrastive, or jsonl with \"foil\"); use --target predicted");
        }
    }

    private static String abbreviate(java.util.SortedSet<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= 8 ? String.join(", ", l) : String.join(", ", l.subList(0, 8)) + ", ... (" + l.size() + " in all)";
    }

    /** A new run (or a restart) into {@code out}: only an orphaned examples.jsonl stops it. */
    private RunManifest checkFresh(Path out, RunManifest requested) throws IOException {
        return checkFresh(out, requested, EXAMPLES);
    }

    /** A new run (or a restart) into {@code out}: only an orphaned results file ({@code results}) stops it. */
    RunManifest checkFresh(Path out, RunManifest requested, String results) throws IOException {
        if (!config.restart() && Files.exists(out.resolve(results)) && Files.size(out.resolve(results)) > 0) {
            throw new EvalException(out.resolve(results) + " exists without run.json, so it cannot be checked against this run; "
                    + "use --restart to discard it or choose another --out");
        }
        return requested;
    }

    /** Resuming: the folder's run.json must describe the same run. */
    RunManifest checkResume(Path out, RunManifest requested, Dataset dataset, Instant now) {
        RunManifest existing = RunManifest.read(out.resolve(RUN_JSON));
        boolean foils = dataset.examples().stream().anyMatch(e -> e.foil() != null);
        List<String> diff = existing.differences(requested, foils);
        if (!diff.isEmpty()) {
            throw new EvalException(out + " holds a different run (" + String.join("; ", diff)
                    + "); use --restart to discard its results or choose another --out");
        }
        return existing.resumedAt(now, requested.limit(), requested.selected());
    }

    Evaluator open(Dataset dataset) {
        try {
            Evaluator e = factory.open(config.model(), dataset, config.options());
            if (e == null) throw new IllegalStateException("the evaluator factory returned null");
            return e;
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
    }

    /**
     * The pending examples through {@link #distributed}: each result is checked (asked for, not seen before, the
     * dataset's id at its index) and appended to examples.jsonl as it arrives; an example without a result stops
     * the run (resumable).
     *
     * @return the results added
     */
    private int runDistributed(Dataset dataset, RunManifest manifest, List<Integer> chosen, ExamplesLog log, int resumed) throws IOException {
        List<Example> examples = dataset.examples();
        List<Integer> pending = chosen.stream().filter(i -> !log.isDone(i)).toList();
        java.util.Set<Integer> open = new java.util.HashSet<>(pending);
        int[] added = {0};
        distributed.evaluate(new Job(config, dataset, manifest, pending), r -> {
            if (r == null) throw new IllegalStateException("the distributed evaluation returned a null result");
            if (!open.remove(r.index())) {
                throw new IllegalStateException("the distributed evaluation returned example " + r.index() + " (" + r.id() + ") "
                        + (pending.contains(r.index()) ? "twice" : "which was not asked for"));
            }
            Example ex = examples.get(r.index());
            if (!ex.id().equals(r.id())) {
                throw new IllegalStateException("the distributed evaluation returned '" + r.id() + "' for example " + r.index()
                        + " ('" + ex.id() + "' in the dataset)");
            }
            log.append(r);
            added[0]++;
            progress.example(resumed + added[0], chosen.size(), r.id(), r.seconds(), r.skipped());
        });
        if (!open.isEmpty()) {
            throw new EvalException(open.size() + " of " + pending.size() + " examples came back without a result (first: "
                    + open.stream().sorted().findFirst().orElseThrow() + "); the results so far are kept, run the same command again to resume");
        }
        return added[0];
    }

    private ExampleResult evaluate(Evaluator evaluator, int i, Example ex) {
        return evaluateExample(evaluator, i, ex, config.onError());
    }

    /**
     * One example, the way every run evaluates it (the local loop and each Spark task): the evaluator's result,
     * checked to be that example's; an exception stops the run ({@link OnError#STOP}, an {@link EvalException}) or
     * becomes a skipped result ({@link OnError#SKIP}).
     */
    public static ExampleResult evaluateExample(Evaluator evaluator, int i, Example ex, OnError onError) {
        ExampleResult r;
        try {
            r = evaluator.evaluate(i, ex);
        } catch (RuntimeException e) {
            if (onError == OnError.STOP) {
                throw new EvalException("example " + i + " (" + ex.id() + "): " + (e.getMessage() == null ? e.toString() : e.getMessage())
                        + "; the results so far are kept (the same command resumes at this example; with --on-error skip it records"
                        + " the example as skipped and goes on)", e);
            }
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return new ExampleResult(i, ex.id(), "error: " + msg.replace('\n', ' '), null, ex.label(), null, null, null, null, 0);
        }
        if (r == null) throw new IllegalStateException("the evaluator returned no result for example " + i + " (" + ex.id() + ")");
        if (r.index() != i || !ex.id().equals(r.id())) {
            throw new IllegalStateException("the evaluator returned the result of example " + r.index() + " (" + r.id() + ") for example "
                    + i + " (" + ex.id() + ")");
        }
        return r;
    }

    /** Aggregates what is done and writes summary.json, summary.csv and report.html. */
    private Summary writeOutputs(Path out, Summary.Context ctx, ExamplesLog log) throws IOException {
        List<ExampleResult> results = new ArrayList<>();
        for (ExampleResult r : log.done().values()) if (ctx.isSelected(r.index())) results.add(r);
        Summary s = Summary.of(ctx, results, clock.instant().toString());
        SummaryWriter.write(s, out);
        ReportHtml.write(s, results, out.resolve(REPORT));
        return s;
    }

    /** The examples' own label order when they all share it (the jsonl file set is sorted), else the dataset's. */
    static List<String> labelOrder(Dataset d) {
        if (d.examples().isEmpty()) return d.labels();
        List<String> first = d.examples().get(0).labels();
        for (Example e : d.examples()) if (!e.labels().equals(first)) return d.labels();
        return first;
    }

    /** Each skip reason with its count and where it first occurred (the file and line or record). */
    static String reasons(Dataset d) {
        Map<String, String> first = new LinkedHashMap<>();
        for (io.rationale.dataset.Skipped k : d.skipped()) first.putIfAbsent(k.reason(), k.where());
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, Integer> e : d.skipReasons().entrySet()) {
            String where = first.get(e.getKey());
            parts.add(e.getValue() + "× " + e.getKey() + (where == null ? "" : " (" + (e.getValue() == 1 ? "at " : "first at ") + where + ")"));
        }
        return String.join("; ", parts);
    }

    /** A run that cannot go on, with a one-line message for the user. */
    public static final class EvalException extends RuntimeException {
        public EvalException(String message) { super(message); }

        public EvalException(String message, Throwable cause) { super(message, cause); }
    }

}
