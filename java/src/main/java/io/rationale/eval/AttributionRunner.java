package io.rationale.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * {@code attribute --dataset}: the attributions of every selected example of a dataset into a results folder,
 * example by example, resumably, with the machinery of {@link EvalRunner}:
 *
 * <pre>
 * OUT/run.json            the run ({@link RunManifest}, as eval writes it: model, dataset, options with the methods,
 *                         fingerprints, started/resumed); a resume must be the same run
 * OUT/attributions.jsonl  one line per example × method ({@link ExampleAttribution#lines()}), a {@link ResultLog}
 *                         keyed by (index, method): appended and fsynced line by line, a partial last line cut off
 *                         at open, locked while open
 * </pre>
 *
 * <p>What is attributed is what {@code eval} attributes ({@link ModelEvaluator#attribute}): the example's classification
 * prompt, the text under study = its fields, the target = the eval's ({@code --target}, by default the logit of the
 * predicted label's best token), so the word scores are the ones eval ranks. Examples are chosen as eval chooses them
 * ({@code --select}, {@code --limit}, {@link Selection}). An example whose lines are all there is not attributed again;
 * one cut short by a kill is attributed again and only its missing lines are appended, so no line is lost or repeated.
 * With {@link EvalRunner.Distributed} the pending examples run elsewhere (a Spark job, {@code --spark}); their lines
 * are checked and appended here the same way.
 */
public final class AttributionRunner {
    public static final String ATTRIBUTIONS = "attributions.jsonl";

    /** Key of a line: example index, then method name. */
    public record Key(int index, String method) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int c = Integer.compare(index, o.index);
            return c != 0 ? c : method.compareTo(o.method);
        }

        static Key of(JsonNode line) {
            JsonNode i = line.get("index"), m = line.get("method");
            if (i == null || !i.isInt() || m == null || !m.isTextual()) throw new IllegalArgumentException("a line without index or method");
            return new Key(i.asInt(), m.asText());
        }
    }

    /**
     * What a run did.
     *
     * @param resumed   examples complete from earlier sessions
     * @param attributed examples attributed in this session
     * @param skipped   of all selected examples done, those skipped (their lines say why)
     * @param lines     lines in attributions.jsonl for the selected examples
     * @param truncated bytes of a partial last line cut off at the start
     */
    public record Outcome(Path out, int selected, int resumed, int attributed, int skipped, int lines, long truncated) {}

    private final EvalRunner.Config config;
    private final EvaluatorFactory factory;
    private final Progress progress;
    private final Clock clock;
    private EvalRunner.Distributed distributed;

    /**
     * @param config the run as eval's ({@link EvalRunner.Config}): its options' methods are the attribution methods;
     *               {@code summaryEvery} is not used
     */
    public AttributionRunner(EvalRunner.Config config, EvaluatorFactory factory, Progress progress) {
        this.config = config;
        this.factory = factory;
        this.progress = progress == null ? Progress.NONE : progress;
        this.clock = Clock.systemUTC();
    }

    /** Sends the pending examples to {@code d} ({@link EvalRunner.Distributed#attribute}) instead of attributing them here. */
    public AttributionRunner distributed(EvalRunner.Distributed d) {
        this.distributed = d;
        return this;
    }

    public Outcome run() throws IOException {
        EvalRunner checks = new EvalRunner(config, factory, progress);
        Dataset dataset = DatasetLoader.load(config.dataset());
        Path out = config.out();
        if (Files.exists(out) && !Files.isDirectory(out))
            throw new EvalRunner.EvalException(out + ": exists and is not a folder (--out names the results folder)");
        if (Files.exists(out.resolve(EvalRunner.EXAMPLES)))
            throw new EvalRunner.EvalException(out + " holds an evaluation (" + EvalRunner.EXAMPLES + "); choose another --out for attributions");
        Instant now = clock.instant();
        List<Integer> order = Selection.order(dataset.examples(), config.select(), config.options().seed());
        RunManifest requested = RunManifest.create(config.model(), config.dataset(), dataset, config.options(), config.limit(), config.select(), now)
                .withAdapters(config.adapters());
        List<Integer> chosen = List.copyOf(order.subList(0, requested.selected()));
        checks.checkAgainstDataset(dataset, chosen);
        boolean fresh = config.restart() || !Files.exists(out.resolve(EvalRunner.RUN_JSON));
        RunManifest manifest = fresh ? checks.checkFresh(out, requested, ATTRIBUTIONS) : checks.checkResume(out, requested, dataset, now);
        Evaluator evaluator = fresh ? checks.open(dataset) : null;   // the model, methods and label words are checked now
        try {
            Files.createDirectories(out);
            if (config.restart()) for (String f : List.of(EvalRunner.RUN_JSON, ATTRIBUTIONS)) Files.deleteIfExists(out.resolve(f));
            manifest.write(out.resolve(EvalRunner.RUN_JSON));
            try (ResultLog<Key, ObjectNode> log = ResultLog.open(out.resolve(ATTRIBUTIONS), ObjectNode.class, ExamplesLog.MAPPER,
                    Key::of, "attribute")) {
                List<Example> examples = dataset.examples();
                for (Key k : log.done().keySet()) {
                    String id = log.done().get(k).path("id").asText();
                    if (k.index() < 0 || k.index() >= examples.size() || !examples.get(k.index()).id().equals(id))
                        throw new IllegalStateException(out.resolve(ATTRIBUTIONS) + ": example " + k.index() + " is '" + id
                                + "' there but not in the dataset at that index; use --restart to start over");
                }
                if (log.truncatedBytes() > 0) progress.message("resume: cut off a partial last line of " + ATTRIBUTIONS + " (" + log.truncatedBytes() + " bytes)");
                if (log.duplicates() > 0) progress.message("resume: ignored " + log.duplicates() + " repeated lines in " + ATTRIBUTIONS);
                List<String> methods = methodNames(config.options());
                List<Integer> pending = chosen.stream().filter(i -> !complete(log, i, methods)).toList();
                int resumed = chosen.size() - pending.size();
                if (resumed > 0) progress.message("resume: " + resumed + " of " + chosen.size() + " examples already done in " + out);
                int[] added = {0};
                if (!pending.isEmpty()) {
                    progress.start(chosen.size(), resumed);
                    Set<Integer> open = new HashSet<>(pending);
                    Consumer<List<ObjectNode>> sink = lines -> {
                        if (lines.isEmpty()) throw new IllegalStateException("an example came back without lines");
                        int i = lines.getFirst().path("index").asInt(-1);
                        if (!open.remove(i)) throw new IllegalStateException("example " + i + " came back "
                                + (pending.contains(i) ? "twice" : "without being asked for"));
                        Example ex = examples.get(i);
                        Set<String> got = new LinkedHashSet<>();
                        for (ObjectNode l : lines) {
                            Key k = Key.of(l);
                            if (k.index() != i || !ex.id().equals(l.path("id").asText()))
                                throw new IllegalStateException("a line of example " + k.index() + " ('" + l.path("id").asText() + "') among those of example "
                                        + i + " ('" + ex.id() + "' in the dataset)");
                            if (!got.add(k.method())) throw new IllegalStateException("example " + i + " has two lines for " + k.method());
                            if (!log.isDone(k)) log.append(l);   // written before a kill: kept, not repeated
                        }
                        if (!got.equals(new LinkedHashSet<>(methods)))
                            throw new IllegalStateException("example " + i + " came back with methods " + got + ", not " + methods);
                        added[0]++;
                        JsonNode first = lines.getFirst();
                        progress.example(resumed + added[0], chosen.size(), ex.id(), seconds(first), first.has("skipped") ? first.get("skipped").asText() : null);
                    };
                    try {
                        if (evaluator == null) evaluator = checks.open(dataset);
                        if (distributed != null) distributed.attribute(new EvalRunner.Job(config, dataset, manifest, pending), sink);
                        else for (int i : pending) sink.accept(attributeExample(evaluator, i, examples.get(i), config.onError(), methods).lines());
                    } finally {
                        progress.finish();
                    }
                    if (!open.isEmpty()) {
                        throw new EvalRunner.EvalException(open.size() + " of " + pending.size() + " examples came back without attributions (first: "
                                + open.stream().sorted().findFirst().orElseThrow() + "); the lines so far are kept, run the same command again to resume");
                    }
                }
                int lines = 0, skipped = 0;
                for (int i : chosen) {
                    for (String m : methods) {
                        ObjectNode l = log.done().get(new Key(i, m));
                        lines++;
                        if (l.has("skipped") && m.equals(methods.getFirst())) skipped++;
                    }
                }
                return new Outcome(out, chosen.size(), resumed, added[0], skipped, lines, log.truncatedBytes());
            }
        } finally {
            if (evaluator != null) evaluator.close();
        }
    }

    /** The attribution methods of a run's options, canonical names in order (the lines' {@code method}). */
    static List<String> methodNames(EvalOptions options) {
        List<String> out = new ArrayList<>();
        for (String n : EvalOptions.canonical(options.methods())) if (!EvalOptions.PROMPTING.contains(n)) out.add(n);
        return out;
    }

    private static boolean complete(ResultLog<Key, ObjectNode> log, int i, List<String> methods) {
        for (String m : methods) if (!log.isDone(new Key(i, m))) return false;
        return true;
    }

    private static double seconds(JsonNode line) {
        JsonNode s = line.get("seconds");
        return s == null ? 0 : s.asDouble();
    }

    /**
     * One example, the way every run attributes it (the local loop and each Spark task): the evaluator's attributions,
     * checked to be that example's; an exception stops the run ({@link EvalRunner.OnError#STOP}, an
     * {@link EvalRunner.EvalException}) or becomes a skipped example ({@link EvalRunner.OnError#SKIP}).
     *
     * @param methods the run's attribution methods (the lines of a skipped example name them)
     */
    public static ExampleAttribution attributeExample(Evaluator evaluator, int i, Example ex, EvalRunner.OnError onError, List<String> methods) {
        ExampleAttribution a;
        try {
            a = evaluator.attribute(i, ex);
        } catch (RuntimeException e) {
            if (onError == EvalRunner.OnError.STOP) {
                throw new EvalRunner.EvalException("example " + i + " (" + ex.id() + "): " + (e.getMessage() == null ? e.toString() : e.getMessage())
                        + "; the lines so far are kept (the same command resumes at this example; with --on-error skip it records"
                        + " the example as skipped and goes on)", e);
            }
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return new ExampleAttribution(i, ex.id(), "error: " + msg.replace('\n', ' '), null, methods, null, 0);
        }
        if (a == null) throw new IllegalStateException("the evaluator returned no attributions for example " + i + " (" + ex.id() + ")");
        if (a.index() != i || !ex.id().equals(a.id()))
            throw new IllegalStateException("the evaluator returned the attributions of example " + a.index() + " (" + a.id() + ") for example " + i + " (" + ex.id() + ")");
        return a;
    }

    /** {@link #attributeExample(Evaluator, int, Example, EvalRunner.OnError, List)} with the methods of {@code options}. */
    public static ExampleAttribution attributeExample(Evaluator evaluator, int i, Example ex, EvalRunner.OnError onError, EvalOptions options) {
        return attributeExample(evaluator, i, ex, onError, methodNames(options));
    }
}
