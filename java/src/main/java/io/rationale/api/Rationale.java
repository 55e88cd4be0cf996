package io.rationale.api;

import io.rationale.attribution.Aggregate;
import io.rationale.attribution.AttributionBatch;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.attribution.TargetText;
import io.rationale.dataset.Annotations;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.Logits;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.eval.EvalOptions;
import io.rationale.eval.ExampleResult;
import io.rationale.eval.GivenRationales;
import io.rationale.eval.ModelEvaluator;
import io.rationale.tokenizer.TokenizerException;
import io.rationale.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * A loaded model, ready for logits, generation, attribution and flip evaluation: the stable Java API of
 * rationale-engine. Open it once and call it from any number of threads; close it (try-with-resources) to free the
 * backend, the weights and the tokenizer.
 *
 * <pre>{@code
 * try (Rationale r = Rationale.open(Path.of("models/stories260K-hf"))) {
 *     AttributionResult a = r.attribute(AttributionRequest.of("Once upon a time there was a", "input_x_gradient"));
 *     for (AttributionResult.WordScore w : a.words()) System.out.println(w.text() + " " + w.score());
 *     System.out.println(RationaleJson.write(a));          // exactly what `rationale attribute --json` prints
 * }
 * }</pre>
 *
 * <h2>Concurrency and batching</h2>
 * One engine thread runs every pass (a backend runs one pass at a time). Calls from several threads queue, and the
 * engine thread batches what can share a pass: concurrent {@link #logits} calls run as one packed forward, concurrent
 * {@link #attribute} calls that ask for the same batchable methods (saliency, input_x_gradient, attnlrp, cplrp,
 * attention, attention_rollout, random) as one recorded forward and one backward per rule
 * ({@link AttributionBatch}), and generations decode together, each new one joining the running batch at its next
 * step. Batched results equal one-by-one results within float rounding (the kernels sum in another order when more
 * rows are packed; logits agree within 1e-5 of the largest, attribution scores, which go through a backward pass,
 * within {@link #SCORE_TOLERANCE} of the largest score); ids, targets and generated tokens do not change. The {@code ...Async} methods return futures; cancelling one frees its work when the
 * engine thread reaches it (a pass already running finishes): a queued request is dropped, a generation stops at its
 * next step, and an attribution of many passes (integrated gradients' batches of steps, occlusion's batched variants,
 * several methods) at its next pass.
 *
 * <h2>Errors</h2>
 * {@link IllegalArgumentException}: a problem with the request (the message says which); {@link BusyException}: the
 * queue is full; {@link EngineException}: a failure inside the engine (the model stays usable);
 * {@link UnsupportedOperationException}: a method this device cannot run (gradients on CUDA);
 * {@link IllegalStateException}: the engine is shut down ({@link #close()}), or the JVM lacks the Vector API module
 * ({@code --add-modules=jdk.incubator.vector}; refused by {@link #open(Path)}).
 */
public final class Rationale implements AutoCloseable {
    /**
     * How far a batched attribution score may be from the same request's score alone, relative to the largest
     * |score| of the method: float32 sums in another order, through a forward and a backward pass (measured up to
     * 1.3e-5 on stories260K; the engine's forward-only packed-batch tests bound logits at 1e-5).
     */
    public static final double SCORE_TOLERANCE = 1e-4;

    /**
     * How a model is opened and served.
     *
     * @param device         where it runs ({@link Device#AUTO}: CUDA when available, else the CPU)
     * @param threads        CPU threads (0: all available processors)
     * @param batchWindow    how long a batch waits at most for requests a server has announced
     *                       ({@link #arriving()}), or for the last batch's callers to come back (for these, an
     *                       eighth of the last batch's pass when longer, at most 1 s); a lone caller never waits
     * @param maxConcurrent  requests the engine works on at once (one batch plus the generations in progress)
     * @param maxQueue       requests that may wait beyond those; more are refused with {@link BusyException}
     * @param maxInputTokens longest input in tokens (0: the model's context; never more than it): a longer prompt
     *                       is refused; {@link Rationale#complete} refuses a prompt plus max new tokens beyond it;
     *                       {@link Rationale#generate} stops when the prompt and its new tokens fill it
     *                       ({@code max_positions}; the last new token, never run, may be one more, as
     *                       {@code rationale generate} does at the model's context)
     * @param modelName      the model's name in results and in the service (null: the folder's name)
     */
    public record Config(Device device, int threads, Duration batchWindow, int maxConcurrent, int maxQueue, int maxInputTokens,
                         String modelName) {
        public Config {
            if (device == null) device = Device.AUTO;
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            if (batchWindow == null || batchWindow.isNegative()) throw new IllegalArgumentException("the batch window must be >= 0");
            if (maxConcurrent < 1) throw new IllegalArgumentException("max concurrent must be >= 1, got " + maxConcurrent);
            if (maxQueue < 0) throw new IllegalArgumentException("max queue must be >= 0, got " + maxQueue);
            if (maxInputTokens < 0) throw new IllegalArgumentException("max input tokens must be >= 0, got " + maxInputTokens);
        }

        /** Auto device, all threads, a 10 ms window, 16 concurrent, 256 queued, the model's context. */
        public static Config defaults() { return new Config(Device.AUTO, 0, Duration.ofMillis(10), 16, 256, 0, null); }

        public Config withDevice(Device d) { return new Config(d, threads, batchWindow, maxConcurrent, maxQueue, maxInputTokens, modelName); }

        public Config withThreads(int t) { return new Config(device, t, batchWindow, maxConcurrent, maxQueue, maxInputTokens, modelName); }

        public Config withBatchWindow(Duration w) { return new Config(device, threads, w, maxConcurrent, maxQueue, maxInputTokens, modelName); }

        public Config withMaxConcurrent(int n) { return new Config(device, threads, batchWindow, n, maxQueue, maxInputTokens, modelName); }

        public Config withMaxQueue(int n) { return new Config(device, threads, batchWindow, maxConcurrent, n, maxInputTokens, modelName); }

        public Config withMaxInputTokens(int n) { return new Config(device, threads, batchWindow, maxConcurrent, maxQueue, n, modelName); }

        public Config withModelName(String n) { return new Config(device, threads, batchWindow, maxConcurrent, maxQueue, maxInputTokens, n); }
    }

    private final Backend backend;
    private final Tokenizer tok;
    private final List<AutoCloseable> owned;
    private final String modelName, deviceLine;
    private final Config config;
    private final Scheduler scheduler;
    private final int context, maxInput;
    private final Map<String, ModelEvaluator> evaluators = new LinkedHashMap<>(16, 0.75f, true);

    private Rationale(Backend backend, Tokenizer tok, List<AutoCloseable> owned, String modelName, String deviceLine, Config config) {
        this.backend = backend;
        this.tok = tok;
        this.owned = owned;
        this.modelName = modelName;
        this.deviceLine = deviceLine;
        this.config = config;
        int ctx = backend.model().config().maxPositionEmbeddings();
        this.context = ctx > 0 ? ctx : Integer.MAX_VALUE;
        this.maxInput = config.maxInputTokens() > 0 ? Math.min(config.maxInputTokens(), context) : context;
        this.scheduler = new Scheduler(backend, config.batchWindow().toNanos(), config.maxConcurrent(), config.maxQueue());
    }

    /** {@link #open(Path, Config)} with {@link Config#defaults()}. */
    public static Rationale open(Path dir) { return open(dir, Config.defaults()); }

    /**
     * Loads a Hugging Face checkpoint folder (config.json, safetensors, tokenizer.json, tokenizer_config.json) and
     * opens it on {@code config.device()}.
     */
    public static Rationale open(Path dir, Config config) {
        return open(dir, config, io.rationale.lora.Adapters.NONE);
    }

    /**
     * {@link #open(Path, Config)} with LoRA adapters (Hugging Face PEFT folders) on top of the checkpoint, merged into
     * the weights or run beside them ({@link io.rationale.lora.Adapters}).
     */
    public static Rationale open(Path dir, Config config, io.rationale.lora.Adapters adapters) {
        checkVectorModule(ModuleLayer.boot());
        if (dir == null) throw new IllegalArgumentException("dir is null");
        if (config == null) throw new IllegalArgumentException("config is null");
        if (adapters == null) throw new IllegalArgumentException("adapters is null (io.rationale.lora.Adapters.NONE: none)");
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a folder");
        Tokenizer tok = Tokenizer.load(dir);
        Model model = null;
        Backend backend = null;
        try {
            model = adapters.load(dir);
            Backends.Opened opened = Backends.open(model, config.device(), config.threads());
            backend = opened.backend();
            String name = config.modelName() != null ? config.modelName() : dir.toAbsolutePath().normalize().getFileName().toString();
            return new Rationale(backend, tok, List.of(backend, model, tok), name, opened.describe(), config);
        } catch (RuntimeException | Error e) {
            if (backend != null) backend.close();
            if (model != null) model.close();
            tok.close();
            throw e;
        }
    }

    /**
     * A model the caller has opened (tests, embedding with an own backend): {@link #close()} stops the engine
     * thread but leaves backend and tokenizer open.
     */
    public static Rationale of(Backend backend, Tokenizer tok, Config config) {
        checkVectorModule(ModuleLayer.boot());
        if (backend == null) throw new IllegalArgumentException("backend is null");
        if (tok == null) throw new IllegalArgumentException("tok is null");
        if (config == null) throw new IllegalArgumentException("config is null");
        String name = config.modelName() != null ? config.modelName() : "model";
        return new Rationale(backend, tok, List.of(), name, "device: " + backend.device(), config);
    }

    /**
     * Refuses a JVM without the Vector API module (the CPU kernels need it): without this check the model opens and
     * its first call fails with {@code NoClassDefFoundError: jdk/incubator/vector/Vector}.
     *
     * @param layer the module layer to look in ({@link ModuleLayer#boot()})
     * @throws IllegalStateException when {@code jdk.incubator.vector} is not in it
     */
    static void checkVectorModule(ModuleLayer layer) {
        if (layer.findModule("jdk.incubator.vector").isEmpty())
            throw new IllegalStateException("the JVM lacks the Vector API module that rationale-engine needs: run java with"
                    + " --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED (as the rationale launcher does)");
    }

    // ------------------------------------------------------------------ facts

    /** The model's name (the folder's name unless configured). */
    public String modelName() { return modelName; }

    /** What runs the model, e.g. {@code cpu (2 threads)}. */
    public String device() { return backend.device(); }

    /** {@code device: ...} plus why {@code auto} skipped a GPU, as commands print it. */
    public String deviceDescription() { return deviceLine; }

    /** The model's context in tokens (its max_position_embeddings). */
    public int contextLength() { return context; }

    /**
     * The longest input accepted, in tokens: a prompt's limit, prompt plus max new tokens for {@link #complete}, the
     * positions a {@link #generate} fills before it stops with {@code max_positions}.
     */
    public int maxInputTokens() { return maxInput; }

    /**
     * The model's tokenizer (thread-safe).
     *
     * @throws IllegalStateException after {@link #close()} has freed it
     */
    public Tokenizer tokenizer() {
        if (released) throw new IllegalStateException("the engine is shut down");
        return tok;
    }

    /** Vocabulary size of the model. */
    public int vocabSize() { return backend.model().config().vocabSize(); }

    /** Token ids that end a generation: the config's EOS ids and the tokenizer's EOS. */
    public Set<Integer> stopTokens() {
        Set<Integer> s = new LinkedHashSet<>(backend.model().config().eosTokenIds());
        if (tok.eosId() >= 0) s.add(tok.eosId());
        return Set.copyOf(s);
    }

    /** Requests waiting, and requests the engine works on now. */
    public int[] load() { return scheduler.load(); }

    /**
     * What the engine thread has done: batched passes (logits, attribution, flip evaluation) and the requests they
     * served, generation steps (each one packed forward of every running generation) and generations admitted.
     */
    public long[] batchStats() { return scheduler.batchStats(); }

    /**
     * For servers: announces a request that is being read and will call this API soon; close the ticket when it
     * has called (or failed). A batch about to start waits (up to the batch window) for announced requests, so
     * that concurrent clients share one pass.
     */
    public AutoCloseable arriving() { return scheduler.arriving(); }

    // ------------------------------------------------------------------ tokens

    /**
     * The ids of an input, checked against the vocabulary and {@link #maxInputTokens()}.
     *
     * @throws IllegalArgumentException for an empty input, ids outside the vocabulary, chat messages without a chat
     *                                  template, or too many tokens
     * @throws IllegalStateException    after {@link #shutdown} or {@link #close()}
     */
    public int[] ids(Input in) {
        scheduler.checkOpen();
        if (in == null) throw new IllegalArgumentException("input is null");
        int[] ids;
        try {
            if (in.text() != null) ids = tok.encode(in.text()).ids();
            else if (in.ids() != null) ids = in.ids();
            else ids = tok.encodeChat(in.messages(), true).ids();
        } catch (TokenizerException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (ids.length == 0) throw new IllegalArgumentException("the input encodes to no tokens");
        int vocab = vocabSize();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException("input id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + vocab + ")");
        checkLength(ids.length, 0);
        return ids;
    }

    private void checkLength(int tokens, int room) {
        if ((long) tokens + room > maxInput) {
            String what = room > 0 ? tokens + " input tokens plus " + room + " to generate" : "the input of " + tokens + " tokens";
            throw new IllegalArgumentException(what + " exceed" + (room > 0 ? "" : "s") + " the limit of " + maxInput + " tokens"
                    + (maxInput == context ? " (the model's context)" : " (the model's context is " + context + ")"));
        }
    }

    /** Tokenizes a text (with the tokenizer's BOS/EOS rule when {@code addSpecialTokens}). */
    public int[] tokenize(String text, boolean addSpecialTokens) {
        scheduler.checkOpen();
        if (text == null) throw new IllegalArgumentException("no text to tokenize");
        return addSpecialTokens ? tok.encode(text).ids() : tok.encode(text, false, false).ids();
    }

    /** Decodes ids to text (special tokens included unless skipped). */
    public String detokenize(int[] ids, boolean skipSpecialTokens) {
        scheduler.checkOpen();
        if (ids == null) throw new IllegalArgumentException("ids is null");
        int vocab = tok.vocabSize();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the tokenizer's vocabulary [0, " + vocab + ")");
        return tok.decode(ids, skipSpecialTokens);
    }

    // ------------------------------------------------------------------ logits

    /** One forward pass: the last position's logits and the argmax at every position. */
    public LogitsResult logits(Input in) { return join(logitsAsync(in)); }

    /** {@link #logits} without waiting. */
    public CompletableFuture<LogitsResult> logitsAsync(Input in) {
        int[] ids = ids(in);
        String device = backend.device();
        return scheduler.submit(new Scheduler.ForwardJob<>(ids, (Logits l, int seq, double seconds) -> {
            int[] argmax = new int[ids.length];
            for (int p = 0; p < ids.length; p++) argmax[p] = l.argmax(seq, p);
            return new LogitsResult(ids, l.last(seq), argmax, argmax[ids.length - 1], seconds, device);
        }));
    }

    // ------------------------------------------------------------------ generation

    /**
     * A continuation, as {@code rationale generate} makes it: greedy when {@code sampling.temperature()} is 0, else
     * temperature and top-p with {@code sampling.seed()}; ends at the config's EOS ids ({@code stop_token}), after
     * {@code maxNewTokens} ({@code max_tokens}), or when the positions are full ({@code max_positions}: the prompt and
     * the new tokens but the last fill {@link #maxInputTokens()}, the model's context unless configured lower). The
     * prompt must fit; {@code maxNewTokens} may ask for more than the rest of the context.
     */
    public GenerationResult generate(Input in, int maxNewTokens, SamplingParams sampling) {
        return join(generateAsync(in, maxNewTokens, sampling));
    }

    /** {@link #generate} without waiting. */
    public CompletableFuture<GenerationResult> generateAsync(Input in, int maxNewTokens, SamplingParams sampling) {
        scheduler.checkOpen();
        if (in == null) throw new IllegalArgumentException("input is null");
        if (sampling == null) throw new IllegalArgumentException("sampling is null (SamplingParams.greedy(): greedy decoding)");
        if (maxNewTokens < 0) throw new IllegalArgumentException("max new tokens must be >= 0, got " + maxNewTokens);
        int[] prompt = ids(in);
        if (maxNewTokens == 0) {
            return CompletableFuture.completedFuture(new GenerationResult(prompt, "", prompt.length, 0, GenerationResult.MAX_TOKENS, 0, backend.device()));
        }
        Completion.Spec spec = new Completion.Spec(prompt, maxNewTokens, sampling, Set.copyOf(backend.model().config().eosTokenIds()),
                List.of(), false, 0, false);
        String device = backend.device();
        return linked(scheduler.submit(new GenerationJob(spec, null, tok, maxInput)), c -> {
            int[] all = new int[prompt.length + c.generated().length];
            System.arraycopy(prompt, 0, all, 0, prompt.length);
            System.arraycopy(c.generated(), 0, all, prompt.length, c.generated().length);
            return new GenerationResult(all, tok.decodeAfter(prompt, c.generated()), prompt.length, c.generated().length,
                    c.finishReason() == Completion.FinishReason.STOP_TOKEN ? GenerationResult.STOP_TOKEN
                            : c.generated().length < maxNewTokens ? GenerationResult.MAX_POSITIONS : GenerationResult.MAX_TOKENS,
                    c.seconds(), device);
        });
    }

    /** A completion with log-probabilities (the OpenAI-compatible endpoints' primitive). */
    public Completion complete(Completion.Spec spec) { return join(completeAsync(spec)); }

    /** {@link #complete} without waiting. */
    public CompletableFuture<Completion> completeAsync(Completion.Spec spec) { return completeAsync(spec, null); }

    /**
     * {@link #complete} without waiting, streaming: {@code listener} (null: none) sees each token as it is chosen
     * (see {@link Completion.Listener}); the future completes with the whole completion after the last one.
     */
    public CompletableFuture<Completion> completeAsync(Completion.Spec spec, Completion.Listener listener) {
        scheduler.checkOpen();
        if (spec == null) throw new IllegalArgumentException("spec is null");
        int vocab = vocabSize();
        int[] p = spec.prompt();
        for (int i = 0; i < p.length; i++)
            if (p[i] < 0 || p[i] >= vocab)
                throw new IllegalArgumentException("prompt id " + p[i] + " at position " + i + " is outside the vocabulary [0, " + vocab + ")");
        checkLength(p.length, spec.maxNewTokens());
        return scheduler.submit(new GenerationJob(spec, listener, tok));
    }

    // ------------------------------------------------------------------ attribution

    /** Attribution of one input (see {@link AttributionRequest}); the JSON of {@code rationale attribute --json}. */
    public AttributionResult attribute(AttributionRequest r) { return join(attributeAsync(r)); }

    /**
     * Several inputs at once: submitted together, so they share batched passes (each is announced as
     * {@linkplain #arriving() arriving} before the first is submitted, so that the first does not start a pass alone).
     */
    public List<AttributionResult> attribute(List<AttributionRequest> rs) {
        scheduler.checkOpen();
        if (rs == null) throw new IllegalArgumentException("requests is null");
        List<CompletableFuture<AttributionResult>> fs = new ArrayList<>(rs.size());
        List<Scheduler.Ticket> tickets = new ArrayList<>(rs.size());
        try {
            for (int i = 0; i < rs.size(); i++) tickets.add(scheduler.arriving());
            for (int i = 0; i < rs.size(); i++) {
                fs.add(attributeAsync(rs.get(i)));
                tickets.get(i).close();
            }
        } catch (RuntimeException e) {
            for (CompletableFuture<AttributionResult> f : fs) f.cancel(false);
            throw e;
        } finally {
            for (Scheduler.Ticket t : tickets) t.close();        // closing twice is harmless
        }
        List<AttributionResult> out = new ArrayList<>(fs.size());
        for (CompletableFuture<AttributionResult> f : fs) out.add(join(f));
        return out;
    }

    /** {@link #attribute(AttributionRequest)} without waiting. */
    public CompletableFuture<AttributionResult> attributeAsync(AttributionRequest r) {
        scheduler.checkOpen();
        Resolved x = resolve(r);
        String device = backend.device();
        CompletableFuture<AttributionSet> f;
        if (AttributionBatch.batchable(x.methods)) {
            AttributionBatch.Item item = new AttributionBatch.Item(x.in, x.target, x.methods, x.options);
            AttributionBatch.check(backend, item);
            f = scheduler.submit(new Scheduler.AttributionJob(item));
        } else {
            // integrated gradients, occlusion, pe_lrp: many passes in one job, stopped at the next when cancelled
            f = scheduler.submit(new Scheduler.SoloJob<AttributionSet>((b, cancelled) -> new Attributor(b, cancelled).run(x.in, x.target, x.methods, x.options)));
        }
        return linked(f, set -> AttributionResult.of(set, tok, device));
    }

    private record Resolved(AttributionInput in, TargetSpec target, List<Method> methods, Options options) {}

    private Resolved resolve(AttributionRequest r) {
        if (r == null) throw new IllegalArgumentException("no attribution request");
        if (r.methods() == null || r.methods().isEmpty()) throw new IllegalArgumentException("no attribution method given (valid: " + Method.validNames() + ")");
        LinkedHashSet<Method> methods = new LinkedHashSet<>();
        for (String m : r.methods()) {
            if (m == null) throw new IllegalArgumentException("methods: a method name is null");
            methods.addAll(Method.parse(m));
        }
        int vocab = vocabSize();
        boolean chat = Boolean.TRUE.equals(r.chat());
        if ((r.text() == null) == (r.ids() == null)) throw new IllegalArgumentException("give text or ids (exactly one)");
        if (r.ids() != null && (r.studyStart() != null || r.studyEnd() != null))
            throw new IllegalArgumentException("study_start/study_end need text, not ids");
        if (r.ids() != null && chat) throw new IllegalArgumentException("chat needs text, not ids");
        if (r.system() != null && !chat) throw new IllegalArgumentException("system needs chat");
        if (r.targetId() != null && r.targetText() != null) throw new IllegalArgumentException("give target_id or target_text, not both");
        if (r.foilId() != null && r.foilText() != null) throw new IllegalArgumentException("give foil_id or foil_text, not both");
        if (r.targetId() != null && r.targetId() < 0) throw new IllegalArgumentException("target id " + r.targetId() + " is outside the vocabulary (negative)");
        if (r.foilId() != null && r.foilId() < 0) throw new IllegalArgumentException("foil id " + r.foilId() + " is outside the vocabulary (negative)");
        if (r.baselineToken() != null && (r.baselineToken() < 0 || r.baselineToken() >= vocab))
            throw new IllegalArgumentException("baseline token " + r.baselineToken() + " is outside the vocabulary [0, " + vocab + ")");
        AttributionInput in;
        try {
            in = r.ids() != null ? AttributionInputs.forIds(tok, r.ids(), vocab)
                    : AttributionInputs.forText(tok, r.text(), chat, r.system(), r.studyStart(), r.studyEnd());
        } catch (TokenizerException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        checkLength(in.size(), 0);
        int target = r.targetId() != null ? r.targetId() : r.targetText() != null ? TargetText.singleToken(tok, r.targetText(), "target text") : TargetSpec.ARGMAX;
        int foil = r.foilId() != null ? r.foilId() : r.foilText() != null ? TargetText.singleToken(tok, r.foilText(), "foil text") : -1;
        TargetSpec.Kind kind = TargetSpec.Kind.parse(r.targetKind() == null ? "logit" : r.targetKind());
        TargetSpec spec = foil >= 0 ? new TargetSpec(TargetSpec.Kind.CONTRAST, target, foil) : new TargetSpec(kind, target, -1);
        spec.checkVocabulary(vocab);
        Options o = Options.defaults();
        if (r.steps() != null) o = o.withSteps(r.steps());
        if (r.igRule() != null) o = o.withIgRule(Options.IgRule.parse(r.igRule()));
        if (r.baselineToken() != null) o = o.withBaselineToken(r.baselineToken());
        if (r.igKeepSpecial() != null) o = o.withInterpolateSpecial(!r.igKeepSpecial());
        if (r.aggregate() != null) o = o.withAggregate(Aggregate.parse(r.aggregate()));
        if (r.seed() != null) o = o.withSeed(r.seed());
        List<Method> ms = List.copyOf(methods);
        if (!backend.supportsBackward())
            for (Method m : ms)
                if (m.needsBackward())
                    throw new UnsupportedOperationException(m.cliName() + " needs a backward pass, which the " + backend.device()
                            + " backend does not have yet; serve the model with --device cpu");
        return new Resolved(in, spec, ms, o);
    }

    // ------------------------------------------------------------------ flip evaluation

    /**
     * Classifies one example and tests its rationales by masking (see {@link FlipRequest}); the result has the shape
     * of one line of {@code eval}'s examples.jsonl.
     */
    public ExampleResult flipEvaluation(FlipRequest r) { return join(flipEvaluationAsync(r)); }

    /** {@link #flipEvaluation} without waiting. */
    public CompletableFuture<ExampleResult> flipEvaluationAsync(FlipRequest r) {
        scheduler.checkOpen();
        if (r == null) throw new IllegalArgumentException("no flip-evaluation request");
        if (r.labels() == null || r.labels().size() < 2)
            throw new IllegalArgumentException("labels: a label set needs at least two labels (masking a rationale can flip one label to another), got "
                    + (r.labels() == null ? "none" : r.labels()));
        if (hasNull(r.labels())) throw new IllegalArgumentException("labels: a label is null");
        if (r.rationale() != null && hasNull(r.rationale())) throw new IllegalArgumentException("rationale: a word index is null");
        if (r.methods() != null && hasNull(r.methods())) throw new IllegalArgumentException("methods: a method name is null");
        if (r.fields() == null || r.fields().isEmpty()) throw new IllegalArgumentException("fields: no text fields");
        boolean methodsGiven = r.methods() != null && !r.methods().isEmpty();
        boolean given = r.rationales() != null && !r.rationales().isEmpty();
        if (!methodsGiven && !given) throw new IllegalArgumentException("give methods to compute, rationales to test, or both");
        List<TextField> fields = new ArrayList<>();
        for (FlipRequest.Field f : r.fields()) {
            if (f == null || f.name() == null || f.text() == null) throw new IllegalArgumentException("fields: each field needs a name and a text");
            fields.add(TextField.of(f.name(), f.text()));
        }
        String gold = r.label() != null ? r.label() : r.labels().getFirst();
        Annotations human = Annotations.none();
        if (r.rationale() != null) {
            List<SortedSet<Integer>> perField = new ArrayList<>();
            int off = 0;
            for (TextField f : fields) {
                TreeSet<Integer> s = new TreeSet<>();
                for (int w : r.rationale()) if (w >= off && w < off + f.wordCount()) s.add(w - off);
                perField.add(s);
                off += f.wordCount();
            }
            for (int w : r.rationale()) if (w < 0 || w >= off) throw new IllegalArgumentException("rationale: word " + w + " is outside the example's " + off + " words");
            human = new Annotations(List.of("request"), List.of(perField));
        }
        Example ex = new Example(r.id() == null ? "request" : r.id(), fields, gold, r.labels(), null, human, Map.of());
        List<String> methods = methodsGiven ? r.methods() : List.of("random");
        EvalOptions options = new EvalOptions(List.copyOf(methods), r.k() == null ? "human" : r.k(), r.mask() == null ? "delete" : r.mask(),
                "majority", 0, r.seed() == null ? 0 : r.seed(), r.igSteps() == null ? 32 : r.igSteps());
        ModelEvaluator ev = evaluator(r.kind() == null ? "generic" : r.kind(), ex, options);
        List<GivenRationales.Given> list = new ArrayList<>();
        if (given) {
            for (FlipRequest.Given g : r.rationales()) {
                if (g == null || g.ranking() == null) throw new IllegalArgumentException("rationales: each needs a method name and a ranking");
                if (hasNull(g.ranking())) throw new IllegalArgumentException("rationales: a ranking holds a null word index");
                list.add(new GivenRationales.Given(g.method(), g.ranking().stream().mapToInt(Integer::intValue).toArray(), g.k()));
            }
        }
        boolean keepGold = r.label() != null;
        return scheduler.submit(new Scheduler.SoloJob<ExampleResult>((b, cancelled) -> {
            ExampleResult computed = methodsGiven ? ev.evaluate(0, ex, cancelled) : null;
            if (computed != null && computed.skipped() != null) throw new IllegalArgumentException(computed.skipped());
            ExampleResult out = given ? GivenRationales.evaluate(b, ev, options, 0, ex, list, computed) : computed;
            return keepGold ? out : new ExampleResult(out.index(), out.id(), out.skipped(), out.words(), null, out.predicted(),
                    out.labelProbs(), out.human(), out.methods(), out.seconds(), out.attributionTarget(), out.flipPath());
        }));
    }

    /** Whether a list holds null ({@code List.of(...).contains(null)} throws). */
    private static boolean hasNull(List<?> list) {
        for (Object o : list) if (o == null) return true;
        return false;
    }

    /** An evaluator per prompt template, labels, fields and options (label-word resolution is not free). */
    private ModelEvaluator evaluator(String kind, Example ex, EvalOptions options) {
        String key = kind + "\u0000" + ex.labels() + "\u0000" + ex.fields().stream().map(TextField::name).toList() + "\u0000" + options;
        synchronized (evaluators) {
            ModelEvaluator ev = evaluators.get(key);
            if (ev == null) {
                ev = new ModelEvaluator(backend, tok, kind, ex.labels(), List.of(ex), options, ModelEvaluator.Settings.defaults());
                evaluators.put(key, ev);
                if (evaluators.size() > 16) evaluators.remove(evaluators.keySet().iterator().next());
            }
            return ev;
        }
    }

    /** {@code source.thenApply(fn)} whose cancellation cancels {@code source} (so the engine drops the job). */
    private static <S, R> CompletableFuture<R> linked(CompletableFuture<S> source, java.util.function.Function<S, R> fn) {
        CompletableFuture<R> out = source.thenApply(fn);
        out.whenComplete((r, e) -> {
            if (out.isCancelled()) source.cancel(false);
        });
        return out;
    }

    // ------------------------------------------------------------------ datasets

    /** Loads a dataset as {@code eval --dataset} does ({@code KIND:PATH}, docs/datasets.md). */
    public static Dataset loadDataset(String spec) { return DatasetLoader.load(spec); }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Waits for a future of this API, unwrapping its failure: {@link IllegalArgumentException},
     * {@link UnsupportedOperationException}, {@link BusyException} and {@link EngineException} come out as they are.
     */
    public static <T> T join(CompletableFuture<T> f) {
        if (f == null) throw new IllegalArgumentException("the future is null");
        try {
            return f.get();
        } catch (InterruptedException e) {
            f.cancel(false);
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted");
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) throw re;
            if (c instanceof Error er) throw er;
            throw new EngineException("engine failure: " + Scheduler.message(c), c);
        }
    }

    /**
     * Stops taking requests, finishes those already taken (waiting up to {@code timeout}), then frees the backend,
     * weights and tokenizer it opened.
     *
     * @return whether every request finished in time
     */
    public boolean shutdown(Duration timeout) {
        if (timeout == null) throw new IllegalArgumentException("timeout is null");
        boolean done = scheduler.shutdown(true, Math.max(1, timeout.toMillis()));
        if (done) releaseOwned();
        return done;
    }

    /** {@link #shutdown} with 30 s. */
    @Override
    public void close() {
        if (!shutdown(Duration.ofSeconds(30))) {
            scheduler.shutdown(false, 5_000);
            releaseOwned();
        }
    }

    private volatile boolean released;

    private synchronized void releaseOwned() {
        if (released) return;
        released = true;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + c + ": " + e.getMessage(), e);
            }
        }
    }
}
