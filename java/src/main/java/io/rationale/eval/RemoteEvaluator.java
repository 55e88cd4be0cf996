package io.rationale.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import io.rationale.attribution.Method;
import io.rationale.dataset.Aggregation;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.metrics.Masking;
import io.rationale.openai.ChatRequest;
import io.rationale.openai.ChatResponse;
import io.rationale.openai.CompletionRequest;
import io.rationale.openai.CompletionResponse;
import io.rationale.openai.OpenAiClient;
import io.rationale.tokenizer.ChatMessage;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@link Evaluator} of a model behind an OpenAI-compatible endpoint ({@code eval --model openai:URL[#MODEL]}):
 * the prompting methods ({@code prompt_guided}, {@code prompt_unbound}), label-word classification, and the random
 * baseline, with the prompts, parsing, masking and metrics of {@link ModelEvaluator}. Attribution methods need the
 * model's weights and are refused.
 *
 * <h2>Classification</h2>
 * The prompt of {@link PromptBuilder} (a completion prompt, or chat messages with {@link Api#CHAT}) is sent with
 * temperature 0 and log-probabilities asked for (5 alternatives for completions, 20 for chat). The label words are
 * the first candidate of each label ({@link TaskTemplate#labelWordCandidates()}; without the model's tokenizer no
 * collision check is possible). When the endpoint gives log-probabilities, each alternative at the answer's first
 * token votes for the label whose word it begins (its text lower-cased, stripped of surrounding non-letters; a token
 * that begins several labels' words votes for none): a label's score is its best alternative's log-probability, the
 * prediction the best label, the label probabilities the softmax over the labels found (the others 0). Otherwise
 * (no log-probabilities, or no alternative names a label) the answer text is parsed: its first word names the label
 * whose word it equals, or begins when cut off; the probabilities are then one-hot. An answer that names no label
 * counts as {@code (unparsed)}: the example is skipped when it is the unmasked prompt's answer; for a masked variant
 * it is a prediction other than every label (so it flips) with probability 0 for every label.
 *
 * <h2>Rationales and faithfulness</h2>
 * Prompting rationales: greedy answers (temperature 0) to {@link PromptBuilder}'s guided and unbound prompts, at
 * most 16 + 4k and 64 tokens, a completion prompt stopping at a line break; parsed by {@link AnswerParser}. The
 * random baseline is {@link RandomRationale} at k. Faithfulness re-queries the masked prompts (rationale removed,
 * rationale kept alone, and for the random baseline also the AOPC sizes), deduplicated, several at a time, and
 * computes flips, comprehensiveness and sufficiency exactly as {@link FlipEvaluation} does from their label
 * probabilities.
 */
public final class RemoteEvaluator implements Evaluator {
    /** Which endpoint the prompts go to. */
    public enum Api {
        /** {@code /v1/chat/completions} with the prompts as chat messages (chat models: GPT-4, ...). */
        CHAT,
        /** {@code /v1/completions} with the base-model prompt (base models, {@code serve} on a checkpoint without a chat template). */
        COMPLETIONS;

        public static Api parse(String s) {
            return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
                case "chat" -> CHAT;
                case "completions", "completion" -> COMPLETIONS;
                default -> throw new IllegalArgumentException("--remote-api must be chat or completions, got '" + s + "'");
            };
        }
    }

    /** What a masked answer naming no label is recorded as. */
    public static final String UNPARSED = "(unparsed)";
    static final int COMPLETION_ALTERNATIVES = 20, CHAT_ALTERNATIVES = 20, CLASSIFY_TOKENS = 4;

    /**
     * A remote model: {@code openai:URL[#MODEL]}.
     *
     * @param base  the API base ({@code .../v1})
     * @param model the model's id (null: the first of {@code GET /models})
     * @param api   the endpoint
     */
    public record Spec(java.net.URI base, String model, Api api) {
        /** Whether a {@code --model} value names a remote model. */
        public static boolean isRemote(String model) { return model != null && model.startsWith("openai:"); }

        /** Parses {@code openai:URL[#MODEL]}. */
        public static Spec parse(String s, Api api) {
            if (!isRemote(s)) throw new IllegalArgumentException("a remote model is written openai:URL[#MODEL], got '" + s + "'");
            String rest = s.substring("openai:".length());
            int hash = rest.lastIndexOf('#');
            String url = hash < 0 ? rest : rest.substring(0, hash), model = hash < 0 ? null : rest.substring(hash + 1);
            if (model != null && model.isBlank()) model = null;
            return new Spec(OpenAiClient.baseOf(url), model, api);
        }

        /** The run's model in run.json: {@code openai:BASE#MODEL (chat|completions)}. */
        public String id() { return "openai:" + base + "#" + model + " (" + api.name().toLowerCase(Locale.ROOT) + ")"; }
    }

    private final OpenAiClient client;
    private final Spec spec;
    private final EvalOptions options;
    private final ModelEvaluator.Settings settings;
    private final TaskTemplate template;
    private final List<String> labels;
    private final Map<String, String> wordOf;
    private final RemotePrompts prompts;
    private final FewShot fewShot;
    private final KSelection kSelection;
    private final Aggregation aggregation;
    private final Masking.Mode mask;
    private final List<String> promptingMethods;
    private final int concurrency;
    private final AtomicInteger fromLogprobs = new AtomicInteger(), fromAnswers = new AtomicInteger(), unparsed = new AtomicInteger();
    private volatile boolean logprobsRefused;

    /**
     * @param client      the endpoint
     * @param spec        the model (its {@code model} resolved)
     * @param concurrency requests in flight at once for the masked variants
     * @throws IllegalArgumentException for attribution methods, an unknown method, label words that are not distinct
     */
    public RemoteEvaluator(OpenAiClient client, Spec spec, String kind, List<String> labels, List<Example> pool, EvalOptions options,
                           int concurrency) {
        this.client = client;
        this.spec = spec;
        this.options = options;
        this.settings = ModelEvaluator.Settings.defaults();
        this.concurrency = Math.max(1, concurrency);
        List<String> fieldNames = pool.isEmpty() ? List.of() : pool.get(0).fields().stream().map(TextField::name).toList();
        this.template = TaskTemplate.forDataset(kind, labels, fieldNames);
        this.labels = List.copyOf(labels);
        Map<String, String> w = new LinkedHashMap<>();
        Set<String> seen = new LinkedHashSet<>();
        for (String l : labels) {
            List<String> c = template.labelWordCandidates().get(l);
            if (c == null || c.isEmpty()) throw new IllegalArgumentException("no label word for label '" + l + "'");
            String word = c.getFirst();
            if (!seen.add(word.toLowerCase(Locale.ROOT))) throw new IllegalArgumentException("two labels share the word '" + word + "'");
            w.put(l, word);
        }
        this.wordOf = Collections.unmodifiableMap(w);
        this.prompts = new RemotePrompts(template, labels.stream().map(wordOf::get).toList(), wordOf);
        this.fewShot = new FewShot(pool, options.shots(), options.seed());
        this.kSelection = KSelection.parse(options.k());
        this.aggregation = Aggregation.parse(options.annotators() == null ? "majority" : options.annotators());
        this.mask = ModelEvaluator.parseMask(options.mask());
        this.promptingMethods = checkMethods(options.methods());
    }

    /**
     * The prompting methods of a method list, in order (the random baseline is always added).
     *
     * @throws IllegalArgumentException for an attribution method (a remote model has no weights) or an unknown name
     */
    public static List<String> checkMethods(List<String> methods) {
        LinkedHashSet<String> prompting = new LinkedHashSet<>();
        List<String> refused = new ArrayList<>();
        for (String m : methods) {
            String n = m.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (n.equals(ModelEvaluator.PROMPT_GUIDED) || n.equals(ModelEvaluator.PROMPT_UNBOUND)) prompting.add(n);
            else if (!n.equals(ModelEvaluator.RANDOM)) {
                Method.parse(n);                   // an unknown name gets the usual message
                refused.add(n);
            }
        }
        if (!refused.isEmpty())
            throw new IllegalArgumentException("attribution methods need the model's weights, which an openai: model does not expose: "
                    + String.join(", ", refused) + " (with a remote model use prompt_guided, prompt_unbound; the random baseline is always added)");
        return List.copyOf(prompting);
    }

    /** The spec with its model named: the first of {@code GET /models} when it names none. */
    public static Spec resolve(Spec spec, String apiKey) {
        if (spec.model() != null) return spec;
        List<String> models = new OpenAiClient(spec.base(), apiKey, Duration.ofSeconds(60)).models();
        if (models.isEmpty()) throw new IllegalArgumentException(spec.base() + "/models lists no model; name one: openai:URL#MODEL");
        return new Spec(spec.base(), models.getFirst(), spec.api());
    }

    /**
     * Opens a remote model for a dataset: resolves the model id ({@code GET /models} when the spec has none) and
     * reads the API key from {@link OpenAiClient#API_KEY_VARIABLE}.
     */
    public static RemoteEvaluator open(Spec spec, Dataset dataset, EvalOptions options, String apiKey, int concurrency) {
        Spec resolved = resolve(spec, apiKey);
        OpenAiClient client = new OpenAiClient(resolved.base(), apiKey, Duration.ofMinutes(5));
        return new RemoteEvaluator(client, resolved, dataset.kind(), dataset.labels(), dataset.examples(), options, concurrency);
    }

    public Spec spec() { return spec; }

    /** Label → word. */
    public Map<String, String> labelWords() { return wordOf; }

    /** The method names of a result, in order: prompting methods, then {@code random}. */
    public List<String> methodNames() {
        List<String> out = new ArrayList<>(promptingMethods);
        out.add(ModelEvaluator.RANDOM);
        return out;
    }

    /** How classifications were read so far: {logprobs, parsed answers, answers naming no label}. */
    public int[] classificationCounts() { return new int[]{fromLogprobs.get(), fromAnswers.get(), unparsed.get()}; }

    // ------------------------------------------------------------------ one example

    @Override
    public ExampleResult evaluate(int index, Example ex) {
        long t0 = System.nanoTime();
        List<ExampleResult.WordRef> words = ModelEvaluator.wordRefs(ex);
        try {
            return run(index, ex, words, t0);
        } catch (RuntimeException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return skipped(index, ex, words, msg.replace('\n', ' '), t0);
        }
    }

    private ExampleResult skipped(int index, Example e, List<ExampleResult.WordRef> words, String reason, long t0) {
        return new ExampleResult(index, e.id(), reason, words, e.label(), null, null, null, null, secondsSince(t0));
    }

    /** The label scores of one answer: probabilities over the labels, the predicted label's index or -1. */
    record Scores(double[] probs, int predicted) {
        String label(List<String> labels) { return predicted < 0 ? UNPARSED : labels.get(predicted); }

        double p(int label) { return label < 0 ? 0 : probs[label]; }
    }

    private ExampleResult run(int index, Example ex, List<ExampleResult.WordRef> words, long t0) {
        if (!new java.util.HashSet<>(ex.labels()).equals(new java.util.HashSet<>(labels)))
            return skipped(index, ex, words, "label set " + ex.labels() + " differs from the run's " + labels, t0);
        Optional<SortedSet<Integer>> human = ex.rationaleAllFields(aggregation);
        int n = ex.totalWords();
        int k = kSelection.k(n, human);
        List<String> names = ex.fields().stream().map(TextField::name).toList();
        List<String> fields = ex.fields().stream().map(TextField::text).toList();
        String head = prompts.head(names, fewShot.demosFor(ex));
        Scores orig = classify(head, names, fields);
        if (orig.predicted() < 0) return skipped(index, ex, words, "the model's answer names no label", t0);
        String predicted = labels.get(orig.predicted());
        String predictedWord = wordOf.get(predicted);

        List<FlipEvaluation.Ranked> ranked = new ArrayList<>();
        Map<String, Object[]> extras = new HashMap<>();
        Map<String, Double> seconds = new HashMap<>();
        Map<String, double[]> softScores = new HashMap<>();
        List<String> inputWords = words.stream().map(ExampleResult.WordRef::text).toList();
        for (String m : promptingMethods) {
            long g0 = System.nanoTime();
            boolean guided = m.equals(ModelEvaluator.PROMPT_GUIDED);
            int budget = guided ? settings.guidedBaseTokens() + settings.guidedTokensPerWord() * k : settings.unboundMaxTokens();
            String raw = spec.api() == Api.CHAT
                    ? chat(guided ? prompts.guidedChat(head, names, fields, predictedWord, k) : prompts.unboundChat(head, names, fields, predictedWord),
                    budget, false).text
                    : complete(guided ? prompts.guided(head, names, fields, predictedWord, k) : prompts.unbound(head, names, fields, predictedWord),
                    budget, false).text;
            raw = raw.strip();
            AnswerParser.Parsed parsed = AnswerParser.parse(raw, inputWords);
            ranked.add(new FlipEvaluation.Ranked(m, parsed.ranking(), parsed.ranking().length, false));
            extras.put(m, new Object[]{raw, parsed.unparsed()});
            seconds.put(m, secondsSince(g0));
        }
        long r0 = System.nanoTime();
        int[] randomRanking = RandomRationale.ranking(n, RandomRationale.seed(options.seed(), ex.id()));
        ranked.add(new FlipEvaluation.Ranked(ModelEvaluator.RANDOM, randomRanking, Math.min(k, n), true));
        softScores.put(ModelEvaluator.RANDOM, RandomRationale.scores(randomRanking));
        seconds.put(ModelEvaluator.RANDOM, secondsSince(r0));

        Map<String, ExampleResult.Faithfulness> faithfulness = flip(ex, head, names, orig, ranked);

        Map<String, ExampleResult.MethodResult> methods = new LinkedHashMap<>();
        for (FlipEvaluation.Ranked r : ranked) {
            int[] rationale = java.util.Arrays.copyOf(r.ranking(), Math.min(r.k(), r.ranking().length));
            java.util.Arrays.sort(rationale);
            double[] scores = softScores.get(r.method());
            ExampleResult.Alignment al = human.isPresent() ? ModelEvaluator.alignment(ex, rationale, human.get(), scores) : null;
            Object[] x = extras.get(r.method());
            @SuppressWarnings("unchecked")
            List<String> unparsedWords = x == null ? null : (List<String>) x[1];
            methods.put(r.method(), new ExampleResult.MethodResult(scores, r.ranking(), r.k(), rationale, x == null ? null : (String) x[0],
                    unparsedWords, al, faithfulness.get(r.method()), seconds.get(r.method())));
        }
        Map<String, Double> probs = new LinkedHashMap<>();
        for (int i = 0; i < labels.size(); i++) probs.put(labels.get(i), orig.probs()[i]);
        List<Integer> humanList = human.map(h -> List.copyOf(new ArrayList<>(h))).orElse(null);
        return new ExampleResult(index, ex.id(), null, words, ex.label(), predicted, probs, humanList, methods, secondsSince(t0));
    }

    /** Every distinct masked variant of {@link FlipEvaluation.Plan} re-queried ({@code concurrency} at a time), then its metrics. */
    private Map<String, ExampleResult.Faithfulness> flip(Example ex, String head, List<String> names, Scores orig, List<FlipEvaluation.Ranked> methods) {
        FlipEvaluation.Plan plan = new FlipEvaluation.Plan(ex, methods, mask);
        List<Scores> scores = new ArrayList<>();
        scores.add(orig);
        scores.addAll(classifyAll(head, names, plan.fields.subList(1, plan.fields.size())));
        int y = orig.predicted();
        return FlipEvaluation.faithfulness(plan, methods, y, labels.get(y), new FlipEvaluation.VariantScores() {
            public String label(int v) { return scores.get(v).label(labels); }

            public double p(int v, int label) { return scores.get(v).p(label); }
        });
    }

    private List<Scores> classifyAll(String head, List<String> names, List<List<String>> variants) {
        Semaphore slots = new Semaphore(concurrency);
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Scores>> fs = new ArrayList<>();
            for (List<String> v : variants) {
                fs.add(ex.submit(() -> {
                    slots.acquire();
                    try {
                        return classify(head, names, v);
                    } finally {
                        slots.release();
                    }
                }));
            }
            List<Scores> out = new ArrayList<>(fs.size());
            for (Future<Scores> f : fs) {
                try {
                    out.add(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
            return out;
        }
    }

    // ------------------------------------------------------------------ asking the endpoint

    /** An answer: its text and, when the endpoint gave them, the alternatives at its first token. */
    private record Answer(String text, Map<String, Double> firstAlternatives) {}

    private Scores classify(String head, List<String> names, List<String> fields) {
        Answer a = spec.api() == Api.CHAT ? chat(prompts.classifyChat(head, names, fields), CLASSIFY_TOKENS, true)
                : complete(prompts.classify(head, names, fields), CLASSIFY_TOKENS, true);
        Scores s = fromAlternatives(a.firstAlternatives());
        if (s != null) {
            fromLogprobs.incrementAndGet();
            return s;
        }
        s = fromText(a.text());
        if (s.predicted() < 0) unparsed.incrementAndGet();
        else fromAnswers.incrementAndGet();
        return s;
    }

    /** Label scores from the first token's alternatives; null when none of them begins a label word. */
    Scores fromAlternatives(Map<String, Double> alternatives) {
        if (alternatives == null || alternatives.isEmpty()) return null;
        double[] best = new double[labels.size()];
        java.util.Arrays.fill(best, Double.NEGATIVE_INFINITY);
        boolean any = false;
        for (Map.Entry<String, Double> e : alternatives.entrySet()) {
            String t = core(e.getKey());
            if (t.isEmpty() || e.getValue() == null) continue;
            int match = -1, count = 0;
            for (int l = 0; l < labels.size(); l++) {
                if (wordOf.get(labels.get(l)).toLowerCase(Locale.ROOT).startsWith(t)) {
                    match = l;
                    count++;
                }
            }
            if (count == 1 && e.getValue() > best[match]) {
                best[match] = e.getValue();
                any = true;
            }
        }
        if (!any) return null;
        double[] p = LabelWords.softmax(best);
        int pred = 0;
        for (int l = 1; l < p.length; l++) if (best[l] > best[pred]) pred = l;
        return new Scores(p, pred);
    }

    /** Label scores from the answer text: its first word names a label (one-hot), or none (-1). */
    Scores fromText(String text) {
        double[] p = new double[labels.size()];
        String first = "";
        for (String w : (text == null ? "" : text).strip().split("\\s+")) {
            first = core(w);
            if (!first.isEmpty()) break;
        }
        int pred = -1;
        if (!first.isEmpty()) {
            for (int l = 0; l < labels.size() && pred < 0; l++) if (wordOf.get(labels.get(l)).equalsIgnoreCase(first)) pred = l;
            if (pred < 0) {
                int count = 0;
                for (int l = 0; l < labels.size(); l++) {
                    if (wordOf.get(labels.get(l)).toLowerCase(Locale.ROOT).startsWith(first)) {
                        pred = l;
                        count++;
                    }
                }
                if (count != 1) pred = -1;
            }
        }
        if (pred >= 0) p[pred] = 1;
        return new Scores(p, pred);
    }

    /** Lower case, without surrounding characters that are not letters or digits. */
    static String core(String s) {
        int a = 0, b = s.length();
        while (a < b && !Character.isLetterOrDigit(s.charAt(a))) a++;
        while (b > a && !Character.isLetterOrDigit(s.charAt(b - 1))) b--;
        return s.substring(a, b).toLowerCase(Locale.ROOT);
    }

    private Answer complete(String prompt, int maxTokens, boolean logprobs) {
        boolean ask = logprobs && !logprobsRefused;
        CompletionRequest r = CompletionRequest.of(spec.model(), TextNode.valueOf(prompt), maxTokens, 0.0, ask ? COMPLETION_ALTERNATIVES : null,
                null, JsonNodeFactory.instance.arrayNode().add("\n"), 0L);
        CompletionResponse resp;
        try {
            resp = client.completions(r);
        } catch (OpenAiClient.OpenAiException e) {
            if (ask && e.status == 400 && e.getMessage().toLowerCase(Locale.ROOT).contains("logprobs")) {
                logprobsRefused = true;
                return complete(prompt, maxTokens, false);
            }
            throw e;
        }
        if (resp.choices() == null || resp.choices().isEmpty()) throw new IllegalStateException(client.base() + ": an answer without choices");
        CompletionResponse.Choice c = resp.choices().getFirst();
        Map<String, Double> alts = null;
        if (c.logprobs() != null && c.logprobs().topLogprobs() != null && !c.logprobs().topLogprobs().isEmpty())
            alts = c.logprobs().topLogprobs().getFirst();
        return new Answer(c.text() == null ? "" : c.text(), alts);
    }

    private Answer chat(List<ChatMessage> messages, int maxTokens, boolean logprobs) {
        boolean ask = logprobs && !logprobsRefused;
        List<ChatRequest.Message> ms = new ArrayList<>();
        for (ChatMessage m : messages) ms.add(new ChatRequest.Message(m.role(), TextNode.valueOf(m.content())));
        ChatRequest r = ChatRequest.of(spec.model(), ms, maxTokens, 0.0, ask ? Boolean.TRUE : null, ask ? CHAT_ALTERNATIVES : null, null, 0L);
        ChatResponse resp;
        try {
            resp = client.chat(r);
        } catch (OpenAiClient.OpenAiException e) {
            if (ask && e.status == 400 && e.getMessage().toLowerCase(Locale.ROOT).contains("logprobs")) {
                logprobsRefused = true;
                return chat(messages, maxTokens, false);
            }
            throw e;
        }
        if (resp.choices() == null || resp.choices().isEmpty()) throw new IllegalStateException(client.base() + ": an answer without choices");
        ChatResponse.Choice c = resp.choices().getFirst();
        Map<String, Double> alts = null;
        if (c.logprobs() != null && c.logprobs().content() != null && !c.logprobs().content().isEmpty()) {
            ChatResponse.TokenLogprob first = c.logprobs().content().getFirst();
            alts = new LinkedHashMap<>();
            if (first.topLogprobs() != null) for (ChatResponse.TopLogprob t : first.topLogprobs()) alts.putIfAbsent(t.token(), t.logprob());
            alts.putIfAbsent(first.token(), first.logprob());
        }
        String text = c.message() == null || c.message().content() == null ? "" : c.message().content();
        return new Answer(text, alts);
    }

    private static double secondsSince(long t0) { return (System.nanoTime() - t0) / 1e9; }

    @Override
    public void close() {
        int[] c = classificationCounts();
        if (c[0] + c[1] + c[2] > 0)
            System.err.println("remote model " + spec.id() + ": " + c[0] + " classifications read from logprobs, " + c[1]
                    + " from the parsed answer, " + c[2] + " answers named no label");
    }
}
