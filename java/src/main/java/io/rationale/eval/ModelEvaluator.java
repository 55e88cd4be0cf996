package io.rationale.eval;

import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.dataset.Aggregation;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.dataset.Word;
import io.rationale.engine.Backend;
import io.rationale.engine.Generator;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.KvCache;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.metrics.Alignment;
import io.rationale.metrics.AveragePrecision;
import io.rationale.metrics.IouF1;
import io.rationale.metrics.Masking;
import io.rationale.metrics.Prf;
import io.rationale.metrics.TopK;
import io.rationale.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The evaluator on a model: classifies each example by label words, builds every requested rationale, and scores
 * its human alignment and its faithfulness.
 *
 * <h2>Per example</h2>
 * <ol>
 *   <li><b>Prompt</b> ({@link PromptBuilder}): the dataset kind's {@link TaskTemplate}, the label words
 *       ({@link LabelWords}, resolved once for the whole run), {@code shots} demonstrations ({@link FewShot}); the
 *       chat template when the tokenizer has one, a plain completion prompt otherwise.</li>
 *   <li><b>Prediction</b>: the prompt prefix is prefilled once into a KV cache (kept for the next examples while
 *       it stays the same, {@link Settings#prefixCache}) and the rest run after it;
 *       predicted = argmax over the label words' logits at the last position, label probabilities = softmax over
 *       those logits only ({@link LabelWords}).</li>
 *   <li><b>k</b> ({@link KSelection}): the human rationale's size (default), else 10% of the words; or a fixed
 *       fraction.</li>
 *   <li><b>Attribution rationales</b> ({@link Attributor}, all requested methods in one run, sharing its forward
 *       and gradient): the explained scalar ({@code EvalOptions.target}, recorded per example as
 *       {@link ExampleResult#attributionTarget()}) is by default ({@code auto}) the LOGIT of the predicted label's best
 *       token (the variant that gave its label logit), and on an example with a foil (contrastive MedicalBios) the
 *       contrast logit(gold label's best token) − logit(foil's best token): why the label and not the foil, the
 *       question its human rationale answers; {@code predicted} and {@code contrast} force one. Integrated
 *       gradients use {@code EvalOptions.igBaseline} (default: the BOS token's embedding at every position) and
 *       record their completeness error. Token scores become word scores by the attribution package's rule (a token counts for
 *       each word its span overlaps; sum), with the text under study = the first field's start to the last field's
 *       end; template text between fields (e.g. "Hypothesis:") and outside is in no example word. Ranking:
 *       {@link TopK#ranking} of the SIGNED word scores (higher = more important, lower index first on ties; a NaN
 *       score ranks last); rationale = the top k. The attribution runs after the prompt prefix's cache (the one the
 *       label scores used): on a backend that records after a prefix only the rows from the first example token on
 *       are recorded and back-propagated, the prefix's keys and values held constant, which gives the same word
 *       scores ({@link Settings#prefixCache}; {@code --no-prefix-cache} records the whole prompt; see
 *       {@link Attributor} for which methods use it: integrated gradients keeps interpolating the whole prompt).</li>
 *   <li><b>Prompting rationales</b>: {@code prompt_guided} asks for the k most important words,
 *       {@code prompt_unbound} for a free explanation, both after the model's own predicted word
 *       ({@link PromptBuilder.Layout#guided}); greedy generation after a fork of the same prefix cache, at most
 *       {@code guidedBaseTokens + guidedTokensPerWord·k} (default 16 + 4k) or {@code unboundMaxTokens} (default
 *       64) new tokens, stopping at an EOS token (config and tokenizer) and, for base prompts, at any token
 *       containing a line break. The answer (special tokens skipped, trimmed) is parsed by
 *       {@link AnswerParser}; ranking = the matched words in order of mention, k = their number; an answer with
 *       nothing parseable has an empty rationale.</li>
 *   <li><b>Random baseline</b> {@code random}, always run (the attribution method {@code random} is never run:
 *       the name means the baseline): {@link RandomRationale} ranking at the same k.</li>
 *   <li><b>Alignment</b>, when the example has a human rationale: word P/R/F1 ({@link Alignment#wordPrf}, NaN
 *       when both sets are empty); ERASER IOU counts summed over the example's fields (one IOU instance per
 *       field, spans never cross fields); AUPRC of the soft word scores ({@link AveragePrecision}; NaN for
 *       prompting methods and when the human rationale is empty).</li>
 *   <li><b>Faithfulness</b>: {@link FlipEvaluation} on every method at once, on ALL examples, reusing the prefix
 *       cache.</li>
 * </ol>
 * Problems with one example (prompt longer than the model's positions, a chat template that alters contents, a
 * label set that differs from the run's) return a result with {@code skipped} = the reason; configuration problems
 * (unknown method, colliding label words, bad k or mask) throw from the constructor.
 *
 * <h2>Timing</h2>
 * {@link ExampleResult.MethodResult#seconds()}: attribution methods: the method's own work plus the shared steps
 * it reads (the recorded forward, the gradient backward), i.e. about what it would cost alone; prompting methods:
 * their generation; the baseline: drawing the ranking.
 *
 * <p>Not thread-safe.
 */
public final class ModelEvaluator implements Evaluator {
    /** Prompting method names. */
    public static final String PROMPT_GUIDED = "prompt_guided", PROMPT_UNBOUND = "prompt_unbound";
    /** The random baseline's name. */
    public static final String RANDOM = "random";
    /** Fewest new tokens a prompting prompt must leave room for, or the example is skipped. */
    public static final int MIN_GENERATION_ROOM = 8;

    /**
     * Engine settings (not part of {@link EvalOptions}).
     *
     * @param maxBatchTokens      rest tokens per batched flip forward ({@link FlipEvaluation}); 0: the backend's
     * @param guidedBaseTokens    prompt_guided budget: this many new tokens ...
     * @param guidedTokensPerWord ... plus this many per requested word
     * @param unboundMaxTokens    prompt_unbound budget
     * @param prefixCache         the prompt prefix (instructions, demonstrations) is prefilled once and kept for the
     *                            next examples while it stays the same, and attribution runs after it: only the rows
     *                            from the first example token on are recorded and back-propagated
     *                            ({@link Attributor#run(AttributionInput, TargetSpec, List, Options, KvCache)}); the
     *                            same results; false ({@code --no-prefix-cache}): each example prefills its prefix
     *                            and attribution records the whole prompt
     */
    public record Settings(int maxBatchTokens, int guidedBaseTokens, int guidedTokensPerWord, int unboundMaxTokens, boolean prefixCache) {
        public Settings(int maxBatchTokens, int guidedBaseTokens, int guidedTokensPerWord, int unboundMaxTokens) {
            this(maxBatchTokens, guidedBaseTokens, guidedTokensPerWord, unboundMaxTokens, true);
        }

        public static Settings defaults() { return new Settings(0, 16, 4, 64); }

        public Settings withPrefixCache(boolean on) {
            return new Settings(maxBatchTokens, guidedBaseTokens, guidedTokensPerWord, unboundMaxTokens, on);
        }
    }

    private final Backend backend;
    private final Tokenizer tok;
    private final AutoCloseable[] owned;
    private final EvalOptions options;
    private final Settings settings;
    private final TaskTemplate template;
    private final LabelWords labelWords;
    private final PromptBuilder prompts;
    private final FewShot fewShot;
    private final KSelection kSelection;
    private final Aggregation aggregation;
    private final FlipEvaluation flip;
    private final List<Method> attributionMethods;
    private final List<String> promptingMethods;
    private final Attributor attributor;
    private java.util.function.BooleanSupplier cancelled;   // during evaluate(index, example, cancelled), else null
    private final Options attributionOptions;
    private final Set<Integer> stopTokens;
    private final String device;
    private final String target;
    private final int igBaselineToken;
    private final String igBaselineDescription;
    private KvCache sharedPrefix;          // the last prompt prefix prefilled (Settings.prefixCache), and its ids
    private int[] sharedPrefixIds;

    /** {@link #open(Path, Dataset, EvalOptions, Device)} on the default device ({@link Device#AUTO}). */
    public static ModelEvaluator open(Path modelDir, Dataset dataset, EvalOptions options) {
        return open(modelDir, dataset, options, Device.AUTO);
    }

    /**
     * Loads the model folder (weights, tokenizer) and opens it on {@code device}; {@link #device()} says which device
     * runs it (the runner reports it with the results). Closes them on {@link #close()}.
     */
    public static ModelEvaluator open(Path modelDir, Dataset dataset, EvalOptions options, Device device) {
        return open(modelDir, dataset, options, device, io.rationale.lora.Adapters.NONE);
    }

    /** {@link #open(Path, Dataset, EvalOptions, Device)} with LoRA adapters on top of the model ({@code --adapter}). */
    public static ModelEvaluator open(Path modelDir, Dataset dataset, EvalOptions options, Device device, io.rationale.lora.Adapters adapters) {
        return open(modelDir, dataset, options, device, adapters, Settings.defaults());
    }

    /** {@link #open(Path, Dataset, EvalOptions, Device, io.rationale.lora.Adapters)} with engine settings. */
    public static ModelEvaluator open(Path modelDir, Dataset dataset, EvalOptions options, Device device, io.rationale.lora.Adapters adapters,
                                      Settings settings) {
        if (!java.nio.file.Files.isDirectory(modelDir)) throw new IllegalArgumentException(modelDir + ": not a folder (--model)");
        Tokenizer tok = Tokenizer.load(modelDir);
        Model model = null;
        Backend backend = null;
        try {
            model = adapters.load(modelDir);
            Backends.Opened opened = Backends.open(model, device);
            backend = opened.backend();
            return new ModelEvaluator(backend, tok, dataset.kind(), dataset.labels(), dataset.examples(), options, settings,
                    new AutoCloseable[]{backend, model, tok}, opened.describe().substring("device: ".length()));
        } catch (RuntimeException e) {
            if (backend != null) backend.close();
            if (model != null) model.close();
            tok.close();
            throw e;
        }
    }

    /** On a backend and tokenizer the caller owns (not closed here). */
    public ModelEvaluator(Backend backend, Tokenizer tok, Dataset dataset, EvalOptions options) {
        this(backend, tok, dataset.kind(), dataset.labels(), dataset.examples(), options, Settings.defaults());
    }

    /**
     * @param kind   the dataset kind ({@link io.rationale.dataset.DatasetLoader#KINDS}): picks the template
     * @param labels the label set, in order
     * @param pool   the dataset's examples: the few-shot pool (may be empty with 0 shots)
     */
    public ModelEvaluator(Backend backend, Tokenizer tok, String kind, List<String> labels, List<Example> pool,
                          EvalOptions options, Settings settings) {
        this(backend, tok, kind, labels, pool, options, settings, new AutoCloseable[0], backend.device());
    }

    private ModelEvaluator(Backend backend, Tokenizer tok, String kind, List<String> labels, List<Example> pool,
                           EvalOptions options, Settings settings, AutoCloseable[] owned, String device) {
        this.device = device;
        this.backend = backend;
        this.tok = tok;
        this.owned = owned;
        this.options = options;
        this.settings = settings;
        List<String> fieldNames = pool.isEmpty() ? List.of() : pool.get(0).fields().stream().map(TextField::name).toList();
        this.template = TaskTemplate.forDataset(kind, labels, fieldNames);
        this.labelWords = LabelWords.resolve(tok, labels, template.labelWordCandidates());
        for (int id : labelWords.allTokenIds())
            if (id >= backend.model().config().vocabSize())
                throw new IllegalArgumentException("label token id " + id + " is outside the model's vocabulary");
        this.prompts = PromptBuilder.forTokenizer(tok, template, labelWords);
        this.fewShot = new FewShot(pool, options.shots(), options.seed());
        this.kSelection = KSelection.parse(options.k());
        this.aggregation = Aggregation.parse(options.annotators() == null ? "majority" : options.annotators());
        this.flip = new FlipEvaluation(backend, labelWords, parseMask(options.mask()), settings.maxBatchTokens());
        LinkedHashSet<Method> attr = new LinkedHashSet<>();
        LinkedHashSet<String> prompting = new LinkedHashSet<>();
        for (String n : EvalOptions.canonical(options.methods())) {
            if (EvalOptions.PROMPTING.contains(n)) prompting.add(n);
            else attr.addAll(Method.parse(n));
        }
        this.attributionMethods = List.copyOf(attr);
        this.promptingMethods = List.copyOf(prompting);
        this.attributor = new Attributor(backend);
        this.target = EvalOptions.checkTarget(options.targetOrLegacy());
        String baseline = EvalOptions.checkIgBaseline(options.igBaselineOrLegacy());
        this.igBaselineToken = igBaselineToken(baseline, tok, backend.model().config().vocabSize());
        this.igBaselineDescription = igBaselineToken < 0 ? "zero embedding"
                : "token " + igBaselineToken + " " + tok.displayText(igBaselineToken).strip() + " at every position"
                + (baseline.startsWith("token:") ? "" : " (" + baseline + ")");
        this.attributionOptions = Options.defaults().withSteps(options.igSteps()).withSeed(options.seed()).withBaselineToken(igBaselineToken);
        Set<Integer> stops = new LinkedHashSet<>(backend.model().config().eosTokenIds());
        if (tok.eosId() >= 0) stops.add(tok.eosId());
        if (!prompts.chat()) stops.addAll(lineBreakTokens(tok));
        this.stopTokens = Set.copyOf(stops);
    }

    /**
     * The token whose embedding is integrated gradients' baseline at every position, or -1 for the zero embedding.
     * {@code bos}, {@code eos}, {@code unk}, {@code pad}: the tokenizer's token of that role; {@code bos} falls back
     * to EOS when the tokenizer has no BOS token (Qwen2). See docs/eval.md for why {@code bos} is the default.
     *
     * @throws IllegalArgumentException when the tokenizer has no such token or the id is outside the vocabulary
     */
    static int igBaselineToken(String baseline, Tokenizer tok, int vocabSize) {
        int id = switch (baseline) {
            case "zero" -> -1;
            case "bos" -> tok.bosId() >= 0 ? tok.bosId() : tok.eosId();
            case "eos" -> tok.eosId();
            case "unk" -> tok.unkId();
            case "pad" -> tok.padId();
            default -> Integer.parseInt(baseline.substring("token:".length()));
        };
        if (!baseline.equals("zero") && id < 0)
            throw new IllegalArgumentException("--ig-baseline " + baseline + ": the tokenizer (" + tok.file() + ") has no "
                    + (baseline.equals("bos") ? "BOS or EOS" : baseline.toUpperCase(java.util.Locale.ROOT)) + " token; use token:N or zero");
        if (id >= vocabSize) throw new IllegalArgumentException("--ig-baseline " + baseline + ": token " + id + " is outside the vocabulary [0, " + vocabSize + ")");
        return id;
    }

    @Override
    public String device() { return device; }

    @Override
    public Map<String, Object> resolved() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("label_words", labelWords.wordMap());
        if (attributionMethods.contains(Method.INTEGRATED_GRADIENTS)) {
            m.put("ig_baseline", igBaselineDescription);
            m.put("ig_steps", attributionOptions.steps());
        }
        return m;
    }

    /** {@code delete} or {@code replace:TOKEN}. */
    public static Masking.Mode parseMask(String s) {
        if (s == null || s.equals("delete")) return Masking.DELETE;
        if (s.startsWith("replace:")) return new Masking.Replacement(s.substring("replace:".length()));
        throw new IllegalArgumentException("mask must be 'delete' or 'replace:TOKEN', got '" + s + "'");
    }

    private static Set<Integer> lineBreakTokens(Tokenizer tok) {
        Set<Integer> out = new LinkedHashSet<>();
        for (int id = 0; id < tok.vocabSize(); id++) {
            try {
                String d = tok.displayText(id);
                if (d.indexOf('\n') >= 0 || d.indexOf('\r') >= 0) out.add(id);
            } catch (RuntimeException e) {
                // a hole in the vocabulary
            }
        }
        return out;
    }

    public TaskTemplate template() { return template; }

    /** The label words chosen for the run (report them beside the results). */
    public LabelWords labelWords() { return labelWords; }

    /** Whether prompts go through the chat template. */
    public boolean chat() { return prompts.chat(); }

    public PromptBuilder prompts() { return prompts; }

    /** The method names of a result, in order: attribution methods, prompting methods, {@code random}. */
    public List<String> methodNames() {
        List<String> out = new ArrayList<>();
        for (Method m : attributionMethods) out.add(m.cliName());
        out.addAll(promptingMethods);
        out.add(RANDOM);
        return out;
    }

    /**
     * {@link #evaluate(int, Example)} that stops its attribution methods at their next pass, and its prompting methods'
     * generations at their next token, once {@code cancelled} answers true (a service request whose client left, {@link Attributor#Attributor(Backend, java.util.function.BooleanSupplier)}):
     * the example then comes back skipped. Calls take turns, as every call of an evaluator.
     */
    public ExampleResult evaluate(int index, Example example, java.util.function.BooleanSupplier cancelled) {
        this.cancelled = cancelled;
        try {
            return evaluate(index, example);
        } finally {
            this.cancelled = null;
        }
    }

    /** A listener that stops a generation at its next token once {@code cancelled} answers true. */
    private static io.rationale.engine.Generator.TokenListener stopWhenCancelled(java.util.function.BooleanSupplier cancelled) {
        return (sequence, token) -> {
            if (cancelled.getAsBoolean()) throw new java.util.concurrent.CancellationException("cancelled");
        };
    }

    @Override
    public ExampleResult evaluate(int index, Example example) {
        long t0 = System.nanoTime();
        List<ExampleResult.WordRef> words = wordRefs(example);
        try {
            return run(index, example, words, t0);
        } catch (RuntimeException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return skipped(index, example, words, msg.replace('\n', ' '), t0);
        }
    }

    private ExampleResult skipped(int index, Example e, List<ExampleResult.WordRef> words, String reason, long t0) {
        return new ExampleResult(index, e.id(), reason, words, e.label(), null, null, null, null, secondsSince(t0));
    }

    /**
     * What {@link #evaluate} and {@link #attribute} check and build before the model runs: the classification prompt
     * and whether the attribution methods explain the contrast, or why the example is skipped ({@code skip} not null).
     */
    private record Prepared(String skip, boolean contrast, PromptBuilder.Layout layout, List<String> fields, Prompt cls) {
        static Prepared skip(String reason) { return new Prepared(reason, false, null, null, null); }
    }

    private Prepared prepare(Example ex) {
        if (!new java.util.HashSet<>(ex.labels()).equals(new java.util.HashSet<>(labelWords.labels())))   // same labels, any order
            return Prepared.skip("label set " + ex.labels() + " differs from the run's " + labelWords.labels());
        boolean contrast = !attributionMethods.isEmpty() && (target.equals("contrast") || (target.equals("auto") && ex.foil() != null));
        if (contrast && ex.foil() == null) return Prepared.skip("no foil to contrast with (--target contrast)");
        int max = backend.model().config().maxPositionEmbeddings();
        PromptBuilder.Layout layout = prompts.layout(ex, fewShot.demosFor(ex));
        List<String> fields = ex.fields().stream().map(TextField::text).toList();
        Prompt cls = layout.classify(fields);
        if (max > 0 && cls.length() > max) return Prepared.skip("prompt has " + cls.length() + " tokens, the model has " + max + " positions");
        return new Prepared(null, contrast, layout, fields, cls);
    }

    /** A cache holding the classification prompt's prefix: a fork of the shared one, or a prefill of its own. */
    private KvCache prefixOf(Prompt cls) {
        return settings.prefixCache() ? sharedPrefix(cls.prefixIds()) : flip.prefill(cls.prefixIds());
    }

    private ExampleResult run(int index, Example ex, List<ExampleResult.WordRef> words, long t0) {
        Prepared prep = prepare(ex);
        if (prep.skip() != null) return skipped(index, ex, words, prep.skip(), t0);
        boolean contrast = prep.contrast();
        PromptBuilder.Layout layout = prep.layout();
        List<String> fields = prep.fields();
        Prompt cls = prep.cls();
        int max = backend.model().config().maxPositionEmbeddings();
        Optional<SortedSet<Integer>> human = ex.rationaleAllFields(aggregation);
        int n = ex.totalWords();
        int k = kSelection.k(n, human);

        try (KvCache prefix = prefixOf(cls)) {
            LabelWords.Scores orig = flip.score(prefix, List.of(cls.restIds())).get(0);
            String predicted = labelWords.labels().get(orig.predicted());
            String predictedWord = labelWords.word(predicted);

            // prompting prompts must fit with room to answer
            Map<String, Prompt> promptingPrompts = new LinkedHashMap<>();
            Map<String, Integer> budgets = new HashMap<>();
            for (String m : promptingMethods) {
                Prompt p = m.equals(PROMPT_GUIDED) ? layout.guided(fields, predictedWord, k) : layout.unbound(fields, predictedWord);
                int budget = m.equals(PROMPT_GUIDED) ? settings.guidedBaseTokens() + settings.guidedTokensPerWord() * k : settings.unboundMaxTokens();
                if (max > 0) {
                    int room = max - p.length();
                    if (room < MIN_GENERATION_ROOM)
                        return skipped(index, ex, words, m + " prompt has " + p.length() + " tokens, leaving " + Math.max(0, room)
                                + " of the model's " + max + " positions to answer", t0);
                    budget = Math.min(budget, room);
                }
                promptingPrompts.put(m, p);
                budgets.put(m, budget);
            }

            List<FlipEvaluation.Ranked> ranked = new ArrayList<>();
            Map<String, double[]> softScores = new HashMap<>();
            Map<String, Object[]> extras = new HashMap<>();     // raw, unparsed
            Map<String, Double> seconds = new HashMap<>();

            // attribution
            ExampleResult.AttributionTarget explained = null;
            Map<String, Double> completeness = new HashMap<>();
            if (!attributionMethods.isEmpty()) {
                Explained e = explain(ex, orig, contrast);
                explained = e.target();
                AttributionSet set = attributeClassification(cls, e.spec(), prefix);
                for (Method m : attributionMethods) {
                    Attribution a = set.get(m);
                    double[] s = wordScores(ex, cls, a);
                    double[] forRanking = s.clone();
                    for (int i = 0; i < forRanking.length; i++) if (Double.isNaN(forRanking[i])) forRanking[i] = Double.NEGATIVE_INFINITY;
                    int[] ranking = TopK.ranking(forRanking);
                    ranked.add(new FlipEvaluation.Ranked(m.cliName(), ranking, Math.min(k, n), true));
                    softScores.put(m.cliName(), s);
                    double sec = a.seconds();
                    for (AttributionSet.SharedStep st : set.shared()) if (st.usedBy().contains(m)) sec += st.seconds();
                    seconds.put(m.cliName(), sec);
                    if (a.extras().get("completeness_error") instanceof Double ce) completeness.put(m.cliName(), ce);
                }
            }

            // prompting
            Generator gen = new Generator(backend);
            List<String> inputWords = words.stream().map(ExampleResult.WordRef::text).toList();
            for (String m : promptingMethods) {
                long g0 = System.nanoTime();
                Prompt p = promptingPrompts.get(m);
                Generator.Result r;
                try (KvCache cache = Arrays.equals(p.prefixIds(), cls.prefixIds()) ? prefix.fork() : flip.prefill(p.prefixIds())) {
                    r = gen.generateBatch(List.of(p.restIds()), List.of(cache), budgets.get(m), SamplingParams.greedy(), stopTokens, null,
                            cancelled == null ? null : stopWhenCancelled(cancelled)).get(0);
                }
                int[] out = r.tokens();
                if (r.stopReason() == Generator.StopReason.STOP_TOKEN) out = Arrays.copyOf(out, out.length - 1);
                String raw = tok.decode(out, true).strip();
                AnswerParser.Parsed parsed = AnswerParser.parse(raw, inputWords);
                ranked.add(new FlipEvaluation.Ranked(m, parsed.ranking(), parsed.ranking().length, false));
                extras.put(m, new Object[]{raw, parsed.unparsed()});
                seconds.put(m, secondsSince(g0));
            }

            // random baseline
            long r0 = System.nanoTime();
            int[] randomRanking = RandomRationale.ranking(n, RandomRationale.seed(options.seed(), ex.id()));
            ranked.add(new FlipEvaluation.Ranked(RANDOM, randomRanking, Math.min(k, n), true));
            softScores.put(RANDOM, RandomRationale.scores(randomRanking));
            seconds.put(RANDOM, secondsSince(r0));

            FlipEvaluation.Outcome outcome = flip.evaluate(ex, layout, ranked, FlipEvaluation.Strategy.PREFIX_BATCHED, prefix, orig);

            Map<String, ExampleResult.MethodResult> methods = new LinkedHashMap<>();
            for (FlipEvaluation.Ranked r : ranked) {
                int[] rationale = sortedTop(r.ranking(), r.k());
                double[] scores = softScores.get(r.method());
                ExampleResult.Alignment al = human.isPresent() ? alignment(ex, rationale, human.get(), scores) : null;
                Object[] x = extras.get(r.method());
                @SuppressWarnings("unchecked")
                List<String> unparsed = x == null ? null : (List<String>) x[1];
                methods.put(r.method(), new ExampleResult.MethodResult(scores, r.ranking(), r.k(), rationale, x == null ? null : (String) x[0],
                        unparsed, al, outcome.faithfulness().get(r.method()), seconds.get(r.method()), completeness.get(r.method())));
            }
            Map<String, Double> probs = new LinkedHashMap<>();
            for (int i = 0; i < labelWords.size(); i++) probs.put(labelWords.labels().get(i), orig.probs()[i]);
            List<Integer> humanList = human.map(h -> List.copyOf(new ArrayList<>(h))).orElse(null);
            return new ExampleResult(index, ex.id(), null, words, ex.label(), predicted, probs, humanList, methods, secondsSince(t0), explained, outcome.path());
        }
    }

    /** The scalar the attribution methods explain on one example, and how the results record it. */
    private record Explained(TargetSpec spec, ExampleResult.AttributionTarget target) {}

    /**
     * The explained scalar ({@code EvalOptions.target}): the contrast logit(gold's best token) − logit(foil's best token),
     * or the logit of the predicted label's best token.
     */
    private Explained explain(Example ex, LabelWords.Scores orig, boolean contrast) {
        if (contrast) {
            int gold = labelWords.indexOf(ex.label()), foil = labelWords.indexOf(ex.foil());
            return new Explained(TargetSpec.contrast(orig.bestTokens()[gold], orig.bestTokens()[foil]),
                    new ExampleResult.AttributionTarget(ExampleResult.AttributionTarget.CONTRAST, ex.label(), ex.foil()));
        }
        return new Explained(TargetSpec.logit(orig.predictedToken()),
                new ExampleResult.AttributionTarget(ExampleResult.AttributionTarget.PREDICTED, labelWords.labels().get(orig.predicted()), null));
    }

    /** Every attribution method on the classification prompt, the text under study = the example's fields. */
    private AttributionSet attributeClassification(Prompt cls, TargetSpec spec, KvCache prefix) {
        AttributionInput in = AttributionInput.of(cls.text(), cls.tokens(), cls.studyStart(), cls.studyEnd());
        Attributor a = cancelled == null ? attributor : new Attributor(backend, cancelled);
        return a.run(in, spec, attributionMethods, attributionOptions, settings.prefixCache() ? prefix : null);
    }

    /**
     * The attributions {@link #evaluate} computes for an example, alone ({@code attribute --dataset}): the same
     * classification prompt and prediction (through the same prefix cache), the same explained scalar
     * ({@link ExampleResult#attributionTarget()}), the same attribution methods and options, run together by
     * {@link Attributor}; each method's result in the {@code attribute --json} shape, its words those of the text under
     * study (the example's fields as they stand in the prompt). No prompting methods, baseline, alignment or
     * faithfulness. An example {@link #evaluate} would skip (label set, missing foil, prompt too long, an error inside)
     * is skipped with the same reason.
     *
     * @throws IllegalStateException when the run has no attribution method
     */
    @Override
    public ExampleAttribution attribute(int index, Example ex) {
        if (attributionMethods.isEmpty()) throw new IllegalStateException("no attribution method to run (prompting methods and the random baseline attribute nothing)");
        long t0 = System.nanoTime();
        List<String> names = attributionMethods.stream().map(Method::cliName).toList();
        try {
            Prepared prep = prepare(ex);
            if (prep.skip() != null) return new ExampleAttribution(index, ex.id(), prep.skip(), null, names, null, secondsSince(t0));
            try (KvCache prefix = prefixOf(prep.cls())) {
                LabelWords.Scores orig = flip.score(prefix, List.of(prep.cls().restIds())).get(0);
                Explained e = explain(ex, orig, prep.contrast());
                AttributionSet set = attributeClassification(prep.cls(), e.spec(), prefix);
                List<io.rationale.api.AttributionResult> results = new ArrayList<>();
                for (Method m : attributionMethods) {
                    AttributionSet one = new AttributionSet(set.input(), set.target(), Map.of(m, set.get(m)),
                            set.shared().stream().filter(st -> st.usedBy().contains(m)).toList(), set.seconds());
                    results.add(onFieldWords(io.rationale.api.AttributionResult.of(one, tok, backend.device()), ex, prep.cls()));
                }
                return new ExampleAttribution(index, ex.id(), null, e.target(), names, results, secondsSince(t0));
            }
        } catch (RuntimeException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return new ExampleAttribution(index, ex.id(), msg.replace('\n', ' '), null, names, null, secondsSince(t0));
        }
    }

    /**
     * A cache holding the prompt prefix {@code ids}: a fork of the one kept from an earlier example when the ids are the
     * same (few-shot prompts share their instructions and demonstrations), else a new prefill, kept for the next.
     */
    private KvCache sharedPrefix(int[] ids) {
        if (sharedPrefix == null || !Arrays.equals(ids, sharedPrefixIds)) {
            if (sharedPrefix != null) sharedPrefix.close();
            sharedPrefix = null;
            sharedPrefix = flip.prefill(ids);
            sharedPrefixIds = ids.clone();
        }
        return sharedPrefix.fork();
    }

    /** The example's words, global order, with spans within their field. */
    static List<ExampleResult.WordRef> wordRefs(Example ex) {
        List<ExampleResult.WordRef> out = new ArrayList<>(ex.totalWords());
        for (TextField f : ex.fields()) for (Word w : f.words()) out.add(new ExampleResult.WordRef(f.name(), w.text(), w.start(), w.end()));
        return out;
    }

    /**
     * A one-method result whose words are the example's words, as eval indexes them (and as a human rationale does):
     * word g is the g-th word over the fields in order, scored as the study word with its char span; study words that
     * are template text between fields ({@code Hypothesis:}) are left out, and the tokens' word indices follow.
     */
    static io.rationale.api.AttributionResult onFieldWords(io.rationale.api.AttributionResult r, Example ex, Prompt p) {
        List<io.rationale.api.AttributionResult.WordScore> study = exampleWords(ex, p, r.words(), w -> w.start(), w -> w.end());
        List<io.rationale.api.AttributionResult.WordScore> words = new ArrayList<>(study.size());
        Map<Integer, Integer> global = new HashMap<>();                       // study word index → example word index
        for (var s : study) {
            global.put(s.index(), words.size());
            words.add(new io.rationale.api.AttributionResult.WordScore(words.size(), s.text(), s.start(), s.end(), s.score(), s.tokens()));
        }
        List<io.rationale.api.AttributionResult.TokenInfo> tokens = new ArrayList<>(r.tokens().size());
        for (var t : r.tokens()) {
            int[] ws = Arrays.stream(t.words()).filter(global::containsKey).map(global::get).toArray();
            tokens.add(new io.rationale.api.AttributionResult.TokenInfo(t.index(), t.id(), t.piece(), t.text(), t.start(), t.end(), t.special(),
                    t.inStudy(), ws));
        }
        io.rationale.api.AttributionResult out = r.withWords(tokens, words);
        if (!r.method().equals(Method.OCCLUSION.cliName())) return out;
        // occlusion scores words directly and gives each token its word's score: a token of a dropped template word is
        // now in no word and gets 0, as every token in no word does
        int[][] tokenWords = new int[tokens.size()][];
        for (int i = 0; i < tokenWords.length; i++) tokenWords[i] = tokens.get(i).words();
        double[] wordScores = new double[words.size()];
        for (int w = 0; w < wordScores.length; w++) wordScores[w] = words.get(w).score() == null ? Double.NaN : words.get(w).score();
        double[] scores = io.rationale.attribution.Attributor.occlusionTokenScores(tokenWords, wordScores);
        return out.withScores(scores);
    }

    /**
     * The attribution's word scores moved onto the example's global words: the attribution's study words are the
     * whitespace-delimited words of the study range, so each field word is the study word with the same char span;
     * study words that are template text (titles between fields) are dropped.
     */
    static double[] wordScores(Example ex, Prompt p, Attribution a) {
        List<Attribution.WordScore> ws = exampleWords(ex, p, a.words(), Attribution.WordScore::start, Attribution.WordScore::end);
        double[] out = new double[ws.size()];
        for (int g = 0; g < out.length; g++) out[g] = ws.get(g).score();
        return out;
    }

    /**
     * For each of the example's words, over its fields in order, the study word with the same char span in the
     * prompt {@code p} (the study words are the whitespace-delimited words of the study range, which also hold the
     * template's text between fields).
     */
    static <W> List<W> exampleWords(Example ex, Prompt p, List<W> study, java.util.function.ToIntFunction<W> start,
                                    java.util.function.ToIntFunction<W> end) {
        Map<Long, W> bySpan = new HashMap<>();
        for (W w : study) bySpan.put(((long) start.applyAsInt(w) << 32) | end.applyAsInt(w), w);
        List<W> out = new ArrayList<>(ex.totalWords());
        for (int f = 0; f < ex.fields().size(); f++) {
            int off = p.fieldRanges().get(f)[0];
            for (Word w : ex.fields().get(f).words()) {
                W s = bySpan.get(((long) (off + w.start()) << 32) | (off + w.end()));
                if (s == null) throw new IllegalStateException("attribution has no score for word " + out.size() + " '" + w.text() + "'");
                out.add(s);
            }
        }
        return out;
    }

    private static int[] sortedTop(int[] ranking, int k) {
        int[] r = Arrays.copyOf(ranking, Math.min(k, ranking.length));
        Arrays.sort(r);
        return r;
    }

    /** Word P/R/F1, IOU counts summed over fields, AUPRC (NaN without scores or positives). */
    static ExampleResult.Alignment alignment(Example ex, int[] rationale, Set<Integer> human, double[] scores) {
        Set<Integer> pred = new TreeSet<>();
        for (int w : rationale) pred.add(w);
        Prf prf = Alignment.wordPrf(pred, human);
        int tp = 0, ps = 0, hs = 0;
        int[][] byField = new int[ex.fields().size()][];
        for (int f = 0; f < ex.fields().size(); f++) {
            int off = ex.wordOffset(f), cnt = ex.fields().get(f).wordCount();
            Set<Integer> lp = new TreeSet<>(), lh = new TreeSet<>();
            for (int w : pred) if (w >= off && w < off + cnt) lp.add(w - off);
            for (int w : human) if (w >= off && w < off + cnt) lh.add(w - off);
            IouF1.Instance i = IouF1.instance(lp, lh);
            byField[f] = new int[]{i.truePositives(), i.predictedSpans(), i.humanSpans()};
            tp += i.truePositives();
            ps += i.predictedSpans();
            hs += i.humanSpans();
        }
        double auprc = Double.NaN;
        if (scores != null) {
            double[] s = scores.clone();
            for (int i = 0; i < s.length; i++) if (Double.isNaN(s[i])) s[i] = Double.NEGATIVE_INFINITY;
            auprc = AveragePrecision.of(s, human);
        }
        return new ExampleResult.Alignment(prf.precision(), prf.recall(), prf.f1(), tp, ps, hs, auprc, byField);
    }

    private static double secondsSince(long t0) { return (System.nanoTime() - t0) / 1e9; }

    @Override
    public void close() {
        if (sharedPrefix != null) sharedPrefix.close();
        sharedPrefix = null;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + c + ": " + e.getMessage(), e);
            }
        }
    }
}
