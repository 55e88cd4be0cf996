package io.rationale.serum;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.attribution.Method;
import io.rationale.dataset.MultipleChoice;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.Model;
import io.rationale.eval.EvalRunner;
import io.rationale.eval.Progress;
import io.rationale.eval.ResultLog;
import io.rationale.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Runs the hint-counterfactual evaluation into a results folder, case by case, resumably (the eval harness's way:
 * {@link ResultLog} for the lines, the same folder checks and atomic summary writes).
 *
 * <pre>
 * OUT/run.json       what the run is ({@link SerumManifest})
 * OUT/cases.jsonl    one {@link CaseResult} per line, appended and fsynced as each finishes
 * OUT/summary.json   the aggregate ({@link SerumSummary}); also summary.csv; refreshed every N cases and at the end
 * OUT/report.html    the self-contained report ({@link SerumReport})
 * </pre>
 * Resume: the same command continues a killed run; lines on disk are not redone (a case whose explanation settings
 * were partly written is evaluated again — greedy, so identically — and only its missing settings are written); a
 * different model, question file, judge or option is refused unless {@code restart}.
 */
public final class SerumRunner {
    public static final String RUN_JSON = "run.json", CASES = "cases.jsonl", SUMMARY_JSON = "summary.json", SUMMARY_CSV = "summary.csv",
            REPORT = "report.html";
    static final List<String> OWN_FILES = List.of(RUN_JSON, CASES, SUMMARY_JSON, SUMMARY_CSV, REPORT);
    static final int SUMMARY_SECONDS = 120;

    /** Reads and writes case lines. */
    public static final ObjectMapper LINES = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * @param hintOverrides the user's hint texts (null: the defaults); their file's content is in {@code options}
     */
    public record Config(Path model, String questions, SerumOptions options, Map<HintType, Hints.Spec> hintOverrides, Integer limit, Path out,
                         boolean restart, int summaryEvery, EvalRunner.OnError onError, Device device, int threads,
                         io.rationale.lora.Adapters adapters) {
        /** Without adapters. */
        public Config(Path model, String questions, SerumOptions options, Map<HintType, Hints.Spec> hintOverrides, Integer limit, Path out,
                      boolean restart, int summaryEvery, EvalRunner.OnError onError, Device device, int threads) {
            this(model, questions, options, hintOverrides, limit, out, restart, summaryEvery, onError, device, threads, null);
        }

        public Config {
            if (adapters == null) adapters = io.rationale.lora.Adapters.NONE;
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(questions, "questions");
            Objects.requireNonNull(options, "options");
            Objects.requireNonNull(out, "out");
            if (limit != null && limit < 0) throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
            if (summaryEvery < 0) throw new IllegalArgumentException("--summary-every must be >= 0, got " + summaryEvery);
            if (onError == null) onError = EvalRunner.OnError.STOP;
            if (device == null) device = Device.AUTO;
        }
    }

    /** What a run did: lines found from earlier sessions, lines written now, bytes of a partial line cut off. */
    public record Outcome(Path out, Map<String, Object> summary, int resumed, int written, long truncated) {
        public Path report() { return out.resolve(REPORT); }
    }

    private final Config config;
    private final Progress progress;
    private final Clock clock;

    public SerumRunner(Config config, Progress progress) {
        this.config = config;
        this.progress = progress == null ? Progress.NONE : progress;
        this.clock = Clock.systemUTC();
    }

    public Outcome run() throws IOException {
        SerumOptions o = config.options();
        List<MultipleChoice.Question> questions = MultipleChoice.load(config.questions());
        List<HintType> hintTypes = o.hints().stream().map(HintType::parse).toList();
        Hints hints = new Hints(config.hintOverrides(), o.seed());
        Method method = Method.parse(o.method()).get(0);
        Path out = config.out();
        Instant now = clock.instant();
        int selected = config.limit() == null ? questions.size() : Math.min(config.limit(), questions.size());

        try (Model model = config.adapters().load(config.model()); Tokenizer tok = Tokenizer.load(config.model());
             Backend backend = Backends.open(model, config.device(), config.threads()).backend()) {
            boolean lens = o.settings().stream().anyMatch(s -> s.layers() instanceof LayerChoice.LogitLens);
            try (SerumBackends.Lease relevance = SerumBackends.forMethod(backend, method, lens);
                 Judge judge = Judge.open(o, config.model(), model, tok, backend, config.device(), config.threads())) {
                SerumEvaluator evaluator = new SerumEvaluator(backend, relevance.backend(), tok, o, hints, judge == null ? null : judge.judge);
                SerumManifest requested = SerumManifest.create(config.model(), config.questions(), o, questions.size(), config.limit(),
                        backend.device(), relevance.own() ? relevance.backend().device() : "the generation backend", now)
                        .withAdapters(config.adapters());
                prepareFolder(out);                              // after every check: a refused run leaves the folder alone (or absent)
                SerumManifest manifest = checkRun(out, requested, now);
                Files.createDirectories(out);
                manifest.write(out.resolve(RUN_JSON));
                Map<String, Object> runMap = SerumManifest.MAPPER.convertValue(manifest, new TypeReference<>() {});
                if (relevance.own())
                    progress.message("relevance (" + method.cliName() + ") runs on " + relevance.backend().device() + ": " + backend.device() + " has no backward pass");
                return loop(out, questions, selected, hintTypes, evaluator, runMap);
            }
        }
    }

    private Outcome loop(Path out, List<MultipleChoice.Question> questions, int selected, List<HintType> hintTypes, SerumEvaluator ev,
                         Map<String, Object> runMap) throws IOException {
        List<SerumOptions.Setting> settings = ev.settings();
        List<String> hintNames = hintTypes.stream().map(HintType::cliName).toList();
        try (ResultLog<CaseResult.Key, CaseResult> log = ResultLog.open(out.resolve(CASES), CaseResult.class, LINES, CaseResult::key, "serum")) {
            for (CaseResult r : log.done().values()) {
                if (r.questionIndex() < 0 || r.questionIndex() >= questions.size() || !questions.get(r.questionIndex()).id().equals(r.questionId()))
                    throw new EvalRunner.EvalException(out.resolve(CASES) + ": question " + r.questionIndex() + " is '" + r.questionId()
                            + "' there but not in the questions; use --restart to start over");
            }
            long truncated = log.truncatedBytes();
            if (truncated > 0) progress.message("resume: cut off a partial last line of " + CASES + " (" + truncated + " bytes)");
            int resumed = log.done().size(), written = 0;
            int total = selected * hintTypes.size(), done = 0;
            for (int q = 0; q < selected; q++) for (HintType t : hintTypes) if (todo(log, q, t, settings).isEmpty()) done++;
            if (done > 0) progress.message("resume: " + done + " of " + total + " cases already done in " + out);
            if (done < total) {
                progress.start(total, done);
                int sinceSummary = 0;
                long lastSummary = System.nanoTime();
                try {
                    for (int q = 0; q < selected; q++) {
                        MultipleChoice.Question question = questions.get(q);
                        List<HintType> open = new ArrayList<>();
                        for (HintType t : hintTypes) if (!todo(log, q, t, settings).isEmpty()) open.add(t);
                        if (open.isEmpty()) continue;
                        SerumEvaluator.Answer unhinted = null;
                        for (HintType t : open) {
                            long t0 = System.nanoTime();
                            Set<Integer> todo = todo(log, q, t, settings);
                            int before = log.done().size();
                            String skipped = null;
                            try {
                                if (unhinted == null) unhinted = ev.answer(question, null);
                                ev.evaluate(q, question, t, unhinted, todo, log::append);
                            } catch (RuntimeException e) {
                                String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().replace('\n', ' ');
                                if (config.onError() == EvalRunner.OnError.STOP)
                                    throw new EvalRunner.EvalException("question " + q + " (" + question.id() + "), hint " + t.cliName() + ": " + msg
                                            + "; the results so far are kept (the same command resumes at this case; with --on-error skip it records"
                                            + " the case as an error and goes on)", e);
                                skipped = "error: " + msg;
                                if (!log.isDone(new CaseResult.Key(q, t.cliName(), -1))) log.append(errorLine(q, question, t, skipped));
                            }
                            if (skipped == null && log.done().size() > before) {   // a case the evaluator skipped: its reason on the progress line
                                CaseResult line = log.done().get(new CaseResult.Key(q, t.cliName(), -1));
                                if (line != null) skipped = line.skipped();
                            }
                            written += log.done().size() - before;
                            done++;
                            sinceSummary++;
                            progress.example(done, total, question.id() + "/" + t.cliName(), (System.nanoTime() - t0) / 1e9, skipped);
                            boolean due = config.summaryEvery() > 0 && sinceSummary >= config.summaryEvery();
                            if ((due || System.nanoTime() - lastSummary > SUMMARY_SECONDS * 1_000_000_000L) && done < total) {
                                writeOutputs(out, log, settings, hintNames, selected, runMap);
                                sinceSummary = 0;
                                lastSummary = System.nanoTime();
                            }
                        }
                    }
                } catch (RuntimeException | Error e) {
                    try {
                        if (!log.done().isEmpty()) writeOutputs(out, log, settings, hintNames, selected, runMap);
                    } catch (RuntimeException | IOException second) {
                        e.addSuppressed(second);
                    }
                    throw e;
                } finally {
                    progress.finish();
                }
            }
            Map<String, Object> summary = writeOutputs(out, log, settings, hintNames, selected, runMap);
            return new Outcome(out, summary, resumed, written, truncated);
        }
    }

    /** The lines case (q, t) still needs: none when done; −1 and every setting when nothing is on disk; else the missing settings. */
    static Set<Integer> todo(ResultLog<CaseResult.Key, CaseResult> log, int q, HintType t, List<SerumOptions.Setting> settings) {
        Set<Integer> out = new LinkedHashSet<>();
        if (log.isDone(new CaseResult.Key(q, t.cliName(), -1))) return out;
        boolean any = false;
        for (SerumOptions.Setting s : settings) {
            if (log.isDone(new CaseResult.Key(q, t.cliName(), s.index()))) any = true;
            else out.add(s.index());
        }
        if (!any) out.add(-1);
        return out;
    }

    private static CaseResult errorLine(int q, MultipleChoice.Question question, HintType t, String skipped) {
        return new CaseResult(q, question.id(), question.subject(), t.cliName(), -1, null, null, question.options().size(),
                question.answer() < 0 ? null : MultipleChoice.Question.letter(question.answer()), null, null, null, null, null, false, false,
                skipped, null, null, null, null, null, null, null, null, null, null, null, null, null, null, 0, 0, null, null, null, null,
                null, null, null, null, null, null, null, null, null, null, null, null, 0);
    }

    private Map<String, Object> writeOutputs(Path out, ResultLog<CaseResult.Key, CaseResult> log, List<SerumOptions.Setting> settings,
                                             List<String> hints, int selected, Map<String, Object> runMap) throws IOException {
        List<CaseResult> lines = log.done().values().stream().filter(r -> r.questionIndex() < selected).toList();
        Map<String, Object> s = SerumSummary.of(runMap, lines, settings, hints, selected, clock.instant().toString());
        SerumSummary.write(s, out);
        SerumReport.write(s, lines, out.resolve(REPORT));
        return s;
    }

    private void prepareFolder(Path out) throws IOException {
        if (config.restart()) {
            for (String f : OWN_FILES) Files.deleteIfExists(out.resolve(f));
            return;
        }
        if (!Files.exists(out.resolve(RUN_JSON)) && Files.exists(out.resolve(CASES)) && Files.size(out.resolve(CASES)) > 0)
            throw new EvalRunner.EvalException(out.resolve(CASES) + " exists without run.json, so it cannot be checked against this run; "
                    + "use --restart to discard it or choose another --out");
    }

    private static SerumManifest checkRun(Path out, SerumManifest requested, Instant now) {
        Path runJson = out.resolve(RUN_JSON);
        if (!Files.exists(runJson)) return requested;
        SerumManifest existing = SerumManifest.read(runJson);
        List<String> diff = existing.differences(requested);
        if (!diff.isEmpty())
            throw new EvalRunner.EvalException(out + " holds a different serum run (" + String.join("; ", diff)
                    + "); use --restart to discard its results or choose another --out");
        return existing.resumedAt(now, requested.limit(), requested.selected(), requested.device(), requested.relevanceDevice());
    }

    /** The LLM judge and what it owns (its model, tokenizer and backend unless it is the evaluated model itself). */
    static final class Judge implements AutoCloseable {
        final LlmJudge judge;
        private final List<AutoCloseable> owned;

        private Judge(LlmJudge judge, List<AutoCloseable> owned) {
            this.judge = judge;
            this.owned = owned;
        }

        static Judge open(SerumOptions o, Path modelDir, Model model, Tokenizer tok, Backend backend, Device device, int threads) {
            if (o.judgeModel() == null) return null;
            Path dir = Path.of(o.judgeModel());
            if (dir.toAbsolutePath().normalize().equals(modelDir.toAbsolutePath().normalize()))
                return new Judge(new LlmJudge(backend, tok, o.judgeTokens()), List.of());
            if (!Files.isDirectory(dir)) throw new IllegalArgumentException("--judge-model " + dir + ": not a folder");
            Model m = Model.load(dir);
            List<AutoCloseable> owned = new ArrayList<>(List.of(m));
            try {
                Tokenizer t = Tokenizer.load(dir);
                owned.add(0, t);
                Backend b = Backends.open(m, device, threads).backend();
                owned.add(0, b);
                return new Judge(new LlmJudge(b, t, o.judgeTokens()), owned);
            } catch (RuntimeException e) {
                for (AutoCloseable c : owned) {
                    try {
                        c.close();
                    } catch (Exception ignored) {
                        // closing after a failure
                    }
                }
                throw e;
            }
        }

        @Override
        public void close() {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing the judge: " + e.getMessage(), e);
                }
            }
        }
    }
}
