package io.rationale.service;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.api.AttributionRequest;
import io.rationale.api.AttributionResult;
import io.rationale.api.BusyException;
import io.rationale.api.Completion;
import io.rationale.api.EngineException;
import io.rationale.api.FlipRequest;
import io.rationale.api.GenerationResult;
import io.rationale.api.Input;
import io.rationale.api.LogitsResult;
import io.rationale.api.Rationale;
import io.rationale.api.RationaleJson;
import io.rationale.engine.SamplingParams;
import io.rationale.eval.ExampleResult;
import io.rationale.openai.ChatChunk;
import io.rationale.openai.ChatRequest;
import io.rationale.openai.ChatResponse;
import io.rationale.openai.CompletionRequest;
import io.rationale.openai.CompletionResponse;
import io.rationale.openai.ErrorResponse;
import io.rationale.openai.ModelList;
import io.rationale.tokenizer.ChatMessage;
import io.rationale.tokenizer.ChatTemplate;
import io.rationale.tokenizer.TextDeltas;
import io.rationale.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The service's endpoints over one {@link Rationale}: OpenAI-compatible ({@code /v1/completions},
 * {@code /v1/chat/completions}, {@code /v1/models}), tokenizer ({@code /tokenize}, {@code /detokenize},
 * {@code /tokenizer_info}, as vLLM and lm-evaluation-harness's remote tokenizer name them), native with the
 * command line's JSON ({@code /v1/attributions}, {@code /v1/flip-evaluation}, {@code /v1/logits},
 * {@code /v1/generate}) and {@code /health}. The same routes serve HTTP ({@link HttpServer}) and JSON lines
 * ({@link StdioServer}). Every error is {@code {"error": {"message", "type", "param", "code"}}} with a 4xx/5xx
 * status; docs/service.md lists them.
 */
public final class Service implements HttpServer.Handler {

    /**
     * @param token       bearer token every request must carry (null: none)
     * @param maxLogprobs most alternatives a request may ask for per token
     */
    public record Settings(String token, int maxLogprobs) {
        public static Settings defaults() { return new Settings(null, 20); }
    }

    private record Route(String method, Endpoint endpoint, boolean engine) {}

    @FunctionalInterface
    private interface Endpoint {
        Object answer(Call call) throws Exception;
    }

    /** One request being answered: its body, its arrival ticket, its connection. */
    private static final class Call {
        final HttpServer.Request request;
        final HttpServer.Exchange exchange;
        final AutoCloseable ticket;

        Call(HttpServer.Request request, HttpServer.Exchange exchange, AutoCloseable ticket) {
            this.request = request;
            this.exchange = exchange;
            this.ticket = ticket;
        }

        /** The JSON body (an object). */
        JsonNode body() {
            if (request.body().length == 0) throw ApiError.badRequest("the request has no body (a JSON object is expected)");
            JsonNode n;
            try {
                n = RationaleJson.MAPPER.readTree(request.body());
            } catch (JsonProcessingException e) {
                throw ApiError.badRequest("malformed JSON: " + describe(e));
            } catch (java.io.IOException e) {
                throw ApiError.badRequest("malformed JSON: " + e.getMessage());
            }
            if (n == null || !n.isObject()) throw ApiError.badRequest("the body must be a JSON object");
            return n;
        }

        /** Submitted: the engine may start the batch without waiting for this request any longer. */
        void submitted() {
            try {
                ticket.close();
            } catch (Exception ignored) {
                // a ticket's close does not fail
            }
        }

        /** Waits for the futures; a disconnect cancels them all. */
        <T> List<T> await(List<CompletableFuture<T>> fs) {
            submitted();
            exchange.onDisconnect(() -> fs.forEach(f -> f.cancel(true)));
            List<T> out = new ArrayList<>(fs.size());
            for (CompletableFuture<T> f : fs) out.add(Rationale.join(f));
            return out;
        }

        <T> T await(CompletableFuture<T> f) { return await(List.of(f)).getFirst(); }
    }

    private static final AutoCloseable NO_TICKET = () -> { };

    private final Rationale api;
    private final Settings settings;
    private final Map<String, Route> routes = new LinkedHashMap<>();
    private final long created = System.currentTimeMillis() / 1000;
    private final AtomicLong counter = new AtomicLong();

    public Service(Rationale api, Settings settings) {
        this.api = api;
        this.settings = settings;
        routes.put("/health", new Route("GET", this::health, false));
        routes.put("/v1/models", new Route("GET", c -> models(), false));
        routes.put("/tokenizer_info", new Route("GET", c -> tokenizerInfo(), false));
        routes.put("/tokenize", new Route("POST", this::tokenize, false));
        routes.put("/detokenize", new Route("POST", this::detokenize, false));
        routes.put("/v1/completions", new Route("POST", this::completions, true));
        routes.put("/v1/chat/completions", new Route("POST", this::chat, true));
        routes.put("/v1/attributions", new Route("POST", this::attributions, true));
        routes.put("/v1/flip-evaluation", new Route("POST", this::flipEvaluation, true));
        routes.put("/v1/logits", new Route("POST", this::logits, true));
        routes.put("/v1/generate", new Route("POST", this::generate, true));
    }

    public Rationale api() { return api; }

    /** The paths served. */
    public List<String> paths() { return List.copyOf(routes.keySet()); }

    @Override
    public HttpServer.Response handle(HttpServer.Request req, HttpServer.Exchange exchange) {
        if (settings.token() != null && !authorized(req)) {
            close(exchange.arrival());
            return error(401, "missing or wrong bearer token: send the header 'Authorization: Bearer <token>' (the token of --token-file)")
                    .withHeader("WWW-Authenticate", "Bearer");
        }
        Route route = routes.get(req.path());
        if (route == null) {
            close(exchange.arrival());
            return error(404, "unknown endpoint " + req.method() + " " + req.path() + " (endpoints: " + String.join(", ", routes.keySet()) + ")");
        }
        if (!route.method().equals(req.method()) && !(req.method().equals("HEAD") && route.method().equals("GET"))) {
            close(exchange.arrival());
            return error(405, req.path() + " takes " + route.method() + ", not " + req.method()).withHeader("Allow", route.method());
        }
        // the engine counts a request from its first byte (the HTTP server's arrival ticket): a batch about to start
        // waits for it; a request that runs no pass lets go at once
        AutoCloseable ticket = exchange.arrival();
        if (!route.engine()) close(ticket);
        Call call = new Call(req, exchange, route.engine() ? ticket : NO_TICKET);
        try {
            Object answer = route.endpoint().answer(call);
            if (answer instanceof Events events)
                return HttpServer.Response.streamed(200, "text/event-stream", events).withHeader("Cache-Control", "no-cache");
            return HttpServer.Response.json(200, RationaleJson.write(answer));
        } catch (Exception e) {
            return failure(e);
        } finally {
            call.submitted();
        }
    }

    /** The error answer for a failure: the status says whose fault it is. */
    static HttpServer.Response failure(Exception e) {
        return switch (e) {
            case ApiError a -> HttpServer.Response.json(a.status, RationaleJson.write(ErrorResponse.of(a.status, a.type, a.getMessage(), a.param)));
            case BusyException b -> error(503, "server busy: " + b.getMessage()).withHeader("Retry-After", "1");
            case EngineException x -> error(500, x.getMessage());
            case IllegalArgumentException x -> error(400, oneLine(x.getMessage()));
            case UnsupportedOperationException x -> error(400, oneLine(x.getMessage()));
            case CancellationException x -> error(499, "the request was cancelled (the client disconnected)");
            default -> error(500, "internal error: " + oneLine(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        };
    }

    /**
     * A streamed answer: JSON events as they are made, sent over HTTP as server-sent events ({@code data: <json>}
     * and a blank line each, {@code data: [DONE]} last) and over JSON lines as one line each ({@link StdioServer}).
     * A failure after the first event is sent as an event {@code {"error": {...}}} (the status line has gone out).
     */
    static final class Events implements HttpServer.Streamer {
        /** Takes the events. */
        @FunctionalInterface
        interface Sink {
            void event(Object json) throws java.io.IOException;
        }

        /** Makes the events. */
        @FunctionalInterface
        interface Source {
            void run(Sink sink) throws java.io.IOException;
        }

        private final Source source;
        private final Runnable cancel;

        Events(Source source, Runnable cancel) {
            this.source = source;
            this.cancel = cancel;
        }

        /** Runs the source; a failure of its work becomes an error event, and the work still going is cancelled. */
        void run(Sink sink) throws java.io.IOException {
            try {
                source.run(sink);
            } catch (java.io.IOException e) {
                cancel.run();
                throw e;
            } catch (RuntimeException e) {
                cancel.run();
                sink.event(RationaleJson.MAPPER.readTree(failure(e).body()));
            }
        }

        @Override
        public void write(HttpServer.Pieces out) throws java.io.IOException {
            run(e -> out.send(("data: " + RationaleJson.write(e) + "\n\n").getBytes(StandardCharsets.UTF_8)));
            out.send("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * The tokens of a streamed request's completions, handed from the engine's thread to the request's in the order
     * they were made: per choice its prompt's log-probabilities (echo), its tokens, then its end.
     */
    private static final class Feed {
        sealed interface Event permits PromptEvent, TokenEvent, DoneEvent {
            int choice();
        }

        record PromptEvent(int choice, List<Completion.TokenLogprob> logprobs) implements Event {}

        record TokenEvent(int choice, int id, Completion.TokenLogprob logprob) implements Event {}

        /** The choice's completion is done (or failed, or was cancelled): {@link Rationale#join} tells which. */
        record DoneEvent(int choice, CompletableFuture<Completion> future) implements Event {}

        private final java.util.concurrent.LinkedBlockingQueue<Event> queue = new java.util.concurrent.LinkedBlockingQueue<>();
        private final List<CompletableFuture<Completion>> futures = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final boolean[] done;
        private int open;

        Feed(int choices) {
            done = new boolean[choices];
            open = choices;
        }

        int choices() { return done.length; }

        Completion.Listener listener(int choice) {
            return new Completion.Listener() {
                @Override
                public void prompt(List<Completion.TokenLogprob> logprobs) { queue.add(new PromptEvent(choice, logprobs)); }

                @Override
                public void token(int id, Completion.TokenLogprob logprob) { queue.add(new TokenEvent(choice, id, logprob)); }
            };
        }

        void add(int choice, CompletableFuture<Completion> f) {
            futures.add(f);
            f.whenComplete((x, e) -> queue.add(new DoneEvent(choice, f)));
        }

        /** The next event, or null when every choice is done. Events of a choice after its end are dropped. */
        Event next() throws java.io.InterruptedIOException {
            while (open > 0) {
                Event e;
                try {
                    e = queue.take();
                } catch (InterruptedException x) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while streaming");
                }
                if (done[e.choice()]) continue;
                if (e instanceof DoneEvent) {
                    done[e.choice()] = true;
                    open--;
                }
                return e;
            }
            return null;
        }

        void cancel() { futures.forEach(f -> f.cancel(true)); }
    }

    private static void close(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // tickets do not fail
        }
    }

    /** An error response in OpenAI's shape. */
    public static HttpServer.Response error(int status, String message) {
        return HttpServer.Response.json(status, RationaleJson.write(ErrorResponse.of(status, ApiError.type(status), message)));
    }

    private boolean authorized(HttpServer.Request req) {
        String h = req.header("authorization");
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
        byte[] given = h.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, settings.token().getBytes(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------ small endpoints

    private Object health(Call c) {
        int[] load = api.load();
        long[] b = api.batchStats();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", "ok");
        m.put("model", api.modelName());
        m.put("device", api.device());
        m.put("queued", load[0]);
        m.put("working", load[1]);
        m.put("batches", b[0]);
        m.put("batched_requests", b[1]);
        m.put("decode_steps", b[2]);
        m.put("generations", b[3]);
        return m;
    }

    private ModelList models() {
        return new ModelList("list", List.of(new ModelList.Model(api.modelName(), "model", created, "rationale-engine", api.contextLength())));
    }

    private Object tokenizerInfo() {
        Tokenizer tok = api.tokenizer();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("eos_token", tok.eosId() >= 0 ? tok.piece(tok.eosId()) : null);
        m.put("bos_token", tok.bosId() >= 0 ? tok.piece(tok.bosId()) : null);
        m.put("pad_token", tok.padId() >= 0 ? tok.piece(tok.padId()) : null);
        m.put("add_bos_token", tok.addsBos());
        m.put("chat_template", tok.chatTemplate().map(ChatTemplate::template).orElse(null));
        m.put("model_max_length", api.contextLength());
        m.put("vocab_size", tok.vocabSize());
        return m;
    }

    private Object tokenize(Call c) {
        JsonNode b = c.body();
        boolean special = !b.has("add_special_tokens") || bool(b, "add_special_tokens");
        int[] ids;
        if (b.has("messages")) {
            boolean generationPrompt = !b.has("add_generation_prompt") || bool(b, "add_generation_prompt");
            try {
                ids = api.tokenizer().encodeChat(messages(b.get("messages")), generationPrompt).ids();
            } catch (io.rationale.tokenizer.TokenizerException e) {
                throw ApiError.badRequest(e.getMessage());
            }
        }
        else {
            JsonNode p = b.has("prompt") ? b.get("prompt") : b.get("text");
            if (p == null || !p.isTextual()) throw ApiError.badRequest("give 'prompt' (a string) or 'messages'");
            ids = api.tokenize(p.asText(), special);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", ids.length);
        m.put("max_model_len", api.contextLength());
        m.put("tokens", ids);
        return m;
    }

    private Object detokenize(Call c) {
        JsonNode t = c.body().get("tokens");
        int[] ids = intArray(t, "tokens");
        return Map.of("prompt", api.detokenize(ids, false));
    }

    // ------------------------------------------------------------------ native endpoints

    /** {@code /v1/logits}: {@code text}, {@code ids} or {@code messages} → the JSON of {@code logits --json}. */
    private LogitsResult logits(Call c) {
        JsonNode b = c.body();
        known(b, "/v1/logits", "text", "ids", "messages", "chat", "system");
        return c.await(api.logitsAsync(input(b)));
    }

    /** {@code /v1/generate}: the options of {@code generate} → the JSON of {@code generate --json}. */
    private GenerationResult generate(Call c) {
        JsonNode b = c.body();
        known(b, "/v1/generate", "text", "ids", "messages", "chat", "system", "max_new_tokens", "temperature", "top_p", "seed");
        int max = b.has("max_new_tokens") ? intValue(b.get("max_new_tokens"), "max_new_tokens") : 64;
        SamplingParams s = new SamplingParams(num(b, "temperature", 0), num(b, "top_p", 1), b.has("seed") ? longValue(b.get("seed"), "seed") : 0);
        return c.await(api.generateAsync(input(b), max, s));
    }

    /**
     * {@code /v1/attributions}: one input (the fields of {@link AttributionRequest}) → one object, the JSON of
     * {@code attribute --json}; or {@code inputs}: a list of texts or objects with per-input fields (they override the
     * top-level ones) → {@code {"results": [...]}}, one per input in order.
     */
    private Object attributions(Call c) {
        JsonNode b = c.body();
        if (!b.has("inputs")) {
            AttributionRequest r = parse(b, AttributionRequest.class);
            return c.await(api.attributeAsync(r));
        }
        JsonNode inputs = b.get("inputs");
        if (!inputs.isArray() || inputs.isEmpty()) throw ApiError.badField("inputs", "inputs must be a non-empty list");
        for (String own : List.of("text", "ids"))
            if (b.has(own)) throw ApiError.badRequest("with inputs, each input gives its " + own + " (a top-level " + own + " would be ignored)");
        ObjectNode common = ((ObjectNode) b).deepCopy();
        common.remove("inputs");
        List<CompletableFuture<AttributionResult>> fs = new ArrayList<>();
        try {
            int i = 0;
            for (JsonNode item : inputs) {
                ObjectNode one = common.deepCopy();
                one.remove(List.of("text", "ids"));
                if (item.isTextual()) one.put("text", item.asText());
                else if (item.isObject()) one.setAll((ObjectNode) item);
                else throw ApiError.badRequest("inputs[" + i + "] must be a text or an object");
                try {
                    fs.add(api.attributeAsync(parse(one, AttributionRequest.class)));
                } catch (IllegalArgumentException | ApiError e) {
                    throw ApiError.badRequest("inputs[" + i + "]: " + e.getMessage());
                }
                i++;
            }
        } catch (RuntimeException e) {
            fs.forEach(f -> f.cancel(true));
            throw e;
        }
        return Map.of("results", c.await(fs));
    }

    /** {@code /v1/flip-evaluation}: a {@link FlipRequest} → one line of eval's examples.jsonl. */
    private ExampleResult flipEvaluation(Call c) {
        return c.await(api.flipEvaluationAsync(parse(c.body(), FlipRequest.class)));
    }

    private Input input(JsonNode b) {
        int given = (b.has("text") ? 1 : 0) + (b.has("ids") ? 1 : 0) + (b.has("messages") ? 1 : 0);
        if (given != 1) throw ApiError.badRequest("give exactly one of text, ids or messages");
        if ((b.has("chat") || b.has("system")) && !b.has("text")) throw ApiError.badRequest("chat and system go with text");
        if (b.has("ids")) return Input.ids(intArray(b.get("ids"), "ids"));
        if (b.has("messages")) return Input.messages(messages(b.get("messages")));
        JsonNode t = b.get("text");
        if (!t.isTextual()) throw ApiError.badField("text", "text must be a string");
        boolean chat = bool(b, "chat");
        JsonNode system = b.get("system");
        if (system != null && !system.isNull() && !system.isTextual()) throw ApiError.badField("system", "field 'system' must be a string, got " + RationaleJson.write(system));
        if (system != null && !system.isNull() && !chat) throw ApiError.badField("system", "system needs chat: true (a system message goes into the chat template)");
        if (chat) return Input.chat(t.asText(), system == null || system.isNull() ? null : system.asText());
        return Input.text(t.asText());
    }

    // ------------------------------------------------------------------ OpenAI completions

    private Object completions(Call c) {
        JsonNode body = c.body();
        CompletionRequest r = parse(body, CompletionRequest.class);
        samplingExtensions(body);
        checkModel(r.model());
        boolean stream = Boolean.TRUE.equals(r.stream());
        boolean usageChunk = includeUsage(stream, r.streamOptions());
        int n = choices(r.n());
        if (r.bestOf() != null && r.bestOf() != 1) throw ApiError.badField("best_of", "best_of must be 1, got " + r.bestOf());
        if (r.suffix() != null) throw ApiError.badField("suffix", "suffix is not supported");
        zero(r.presencePenalty(), "presence_penalty");
        zero(r.frequencyPenalty(), "frequency_penalty");
        if (r.logitBias() != null && !r.logitBias().isNull() && !r.logitBias().isEmpty()) throw ApiError.badField("logit_bias", "logit_bias is not supported");
        if (r.prompt() == null || r.prompt().isNull()) throw ApiError.badField("prompt", "prompt is missing");
        int maxTokens = r.maxTokens() == null ? 16 : r.maxTokens();
        if (maxTokens < 0) throw ApiError.badField("max_tokens", "max_tokens must be >= 0, got " + maxTokens);
        Integer lp = r.logprobs();
        if (lp != null && (lp < 0 || lp > settings.maxLogprobs()))
            throw ApiError.badField("logprobs", "logprobs must be in [0, " + settings.maxLogprobs() + "], got " + lp);
        boolean echo = Boolean.TRUE.equals(r.echo());
        SamplingParams sampling = sampling(r.temperature(), r.topP(), r.seed());
        List<String> stops = stops(r.stop());
        List<Prompt> given = prompts(r.prompt());
        List<Prompt> prompts = new ArrayList<>();             // per choice: n choices per prompt, prompt-major
        List<int[]> promptIds = new ArrayList<>();
        for (int i = 0; i < given.size(); i++) {
            Prompt p = given.get(i);
            int[] ids;
            try {
                ids = p.ids != null ? p.ids : promptIds(p.text);
            } catch (IllegalArgumentException e) {
                throw ApiError.badRequest((given.size() > 1 ? "prompt " + i + ": " : "") + e.getMessage());
            }
            for (int j = 0; j < n; j++) {
                prompts.add(p);
                promptIds.add(ids);
            }
        }
        Feed feed = stream ? new Feed(prompts.size()) : null;
        List<CompletableFuture<Completion>> fs = submit(prompts.size(), feed, k -> new Completion.Spec(promptIds.get(k), maxTokens,
                sample(sampling, k % n), api.stopTokens(), stops, lp != null, lp == null ? 0 : lp, echo && lp != null),
                k -> given.size() > 1 ? "prompt " + k / n + ": " : "");
        String id = "cmpl-" + counter.incrementAndGet();
        long created = now();
        Tokenizer tok = api.tokenizer();
        if (feed != null) return streamCompletions(c, feed, prompts, promptIds, n, stops, echo, lp != null, usageChunk, id, created);
        List<Completion> done = c.await(fs);
        List<CompletionResponse.Choice> choices = new ArrayList<>();
        int promptTokens = 0, completionTokens = 0;
        for (int i = 0; i < done.size(); i++) {
            Completion x = done.get(i);
            Prompt p = prompts.get(i);
            if (i % n == 0) promptTokens += x.prompt().length;   // a prompt counts once, however many choices it has
            completionTokens += x.generated().length;
            String text = generatedText(x);
            if (echo) text = promptText(p, x.prompt()) + text;
            CompletionResponse.Logprobs logprobs = null;
            if (lp != null) {
                LogprobLists l = new LogprobLists(tok, x.prompt(), echo ? promptText(p, x.prompt()) : null);
                if (echo) l.prompt(x.promptLogprobs());
                for (Completion.TokenLogprob t : x.logprobs()) l.add(t.id(), t);
                logprobs = l.take();
            }
            choices.add(new CompletionResponse.Choice(text, i, logprobs, finish(x)));
        }
        return new CompletionResponse(id, "text_completion", created, api.modelName(), choices,
                new CompletionResponse.Usage(promptTokens, completionTokens, promptTokens + completionTokens));
    }

    /**
     * A streamed completion: per choice, with {@code echo} the prompt first, then each token's new text (with
     * {@code logprobs}, one chunk per token with its log-probabilities, else a chunk per piece of text), then the
     * rest of the text with the finish reason; the chunks' texts add up to the unstreamed answer's text.
     */
    private Events streamCompletions(Call c, Feed feed, List<Prompt> prompts, List<int[]> promptIds, int perPrompt, List<String> stops,
                                     boolean echo, boolean logprobs, boolean usageChunk, String id, long created) {
        c.submitted();
        c.exchange.onDisconnect(feed::cancel);
        Tokenizer tok = api.tokenizer();
        int n = prompts.size();
        return new Events(out -> {
            TextDeltas[] text = new TextDeltas[n];
            LogprobLists[] lists = new LogprobLists[n];
            int promptTokens = 0, completionTokens = 0;
            for (int i = 0; i < n; i++) {
                text[i] = new TextDeltas(tok, promptIds.get(i), stops);
                lists[i] = new LogprobLists(tok, promptIds.get(i), echo ? promptText(prompts.get(i), promptIds.get(i)) : null);
            }
            if (echo && !logprobs)
                for (int i = 0; i < n; i++)
                    out.event(completionChunk(id, created, new CompletionResponse.Choice(promptText(prompts.get(i), promptIds.get(i)), i, null, null)));
            for (Feed.Event e; (e = feed.next()) != null; ) {
                int i = e.choice();
                switch (e) {
                    case Feed.PromptEvent pe -> {
                        lists[i].prompt(pe.logprobs());
                        out.event(completionChunk(id, created, new CompletionResponse.Choice(promptText(prompts.get(i), promptIds.get(i)), i,
                                lists[i].take(), null)));
                    }
                    case Feed.TokenEvent te -> {
                        String delta = text[i].add(te.id());
                        if (logprobs) {
                            lists[i].add(te.id(), te.logprob());
                            out.event(completionChunk(id, created, new CompletionResponse.Choice(delta, i, lists[i].take(), null)));
                        } else if (!delta.isEmpty()) {
                            out.event(completionChunk(id, created, new CompletionResponse.Choice(delta, i, null, null)));
                        }
                    }
                    case Feed.DoneEvent de -> {
                        Completion x = Rationale.join(de.future());
                        if (i % perPrompt == 0) promptTokens += x.prompt().length;
                        completionTokens += x.generated().length;
                        out.event(completionChunk(id, created, new CompletionResponse.Choice(text[i].finish(generatedText(x)), i, null, finish(x))));
                    }
                }
            }
            if (usageChunk)
                out.event(new CompletionResponse(id, "text_completion", created, api.modelName(), List.of(),
                        new CompletionResponse.Usage(promptTokens, completionTokens, promptTokens + completionTokens)));
        }, feed::cancel);
    }

    /**
     * Submits choice k = 0 … n−1's completion ({@code spec}), each with its feed's listener when streaming; a spec
     * the engine refuses is a 400 ({@code where}: which prompt), and one refused cancels those already submitted.
     */
    private List<CompletableFuture<Completion>> submit(int n, Feed feed, java.util.function.IntFunction<Completion.Spec> spec,
                                                       java.util.function.IntFunction<String> where) {
        List<CompletableFuture<Completion>> fs = new ArrayList<>(n);
        try {
            for (int k = 0; k < n; k++) {
                try {
                    fs.add(api.completeAsync(spec.apply(k), feed == null ? null : feed.listener(k)));
                } catch (IllegalArgumentException e) {
                    throw ApiError.badRequest(where.apply(k) + e.getMessage());
                }
                if (feed != null) feed.add(k, fs.getLast());
            }
        } catch (RuntimeException e) {
            fs.forEach(f -> f.cancel(true));
            throw e;
        }
        return fs;
    }

    private CompletionResponse completionChunk(String id, long created, CompletionResponse.Choice choice) {
        return new CompletionResponse(id, "text_completion", created, api.modelName(), List.of(choice), null);
    }

    private static boolean includeUsage(boolean stream, CompletionRequest.StreamOptions o) {
        if (o == null) return false;
        if (!stream) throw ApiError.badField("stream_options", "stream_options needs stream: true");
        return Boolean.TRUE.equals(o.includeUsage());
    }

    /** A text prompt's ids; an empty prompt is the tokenizer's BOS alone (a document's start), as OpenAI takes it. */
    private int[] promptIds(String text) {
        if (!text.isEmpty()) return api.ids(Input.text(text));
        int[] ids = api.tokenize("", true);
        if (ids.length == 0) throw new IllegalArgumentException("the prompt is empty, and this tokenizer adds no BOS token to begin from");
        return ids;
    }

    /** A prompt's text as {@code echo} returns it: as given, or the ids decoded (special tokens skipped). */
    private String promptText(Prompt p, int[] ids) {
        return p.text != null ? p.text : api.tokenizer().decode(ids, true);
    }

    /**
     * A choice's {@code logprobs} lists, token by token. {@code text_offset} is where each token begins in the
     * choice's {@code text}, as OpenAI defines it ({@code text[text_offset[i]:]} starts with token i's text; a
     * special token and a character's leading bytes begin where the next character does): with {@code echo} the
     * text is the prompt's text and then the completion's, else the completion's alone.
     */
    private static final class LogprobLists {
        private final Tokenizer tok;
        private final int[] prompt;
        private final String echoed;                 // the prompt's text with echo, else null
        private int[] seen;                          // the tokens so far (the prompt's first): offsets read them
        private int n;
        private int offset;
        private List<String> tokens = new ArrayList<>();
        private List<Double> tokenLogprobs = new ArrayList<>();
        private List<Map<String, Double>> top = new ArrayList<>();
        private List<Integer> offsets = new ArrayList<>();

        LogprobLists(Tokenizer tok, int[] prompt, String echoed) {
            this.tok = tok;
            this.prompt = prompt;
            this.echoed = echoed;
            this.seen = echoed != null ? new int[prompt.length + 16] : java.util.Arrays.copyOf(prompt, prompt.length + 16);
            this.n = echoed != null ? 0 : prompt.length;
        }

        /** Token {@code id} with its log-probability (null: none, the first prompt token). */
        void add(int id, Completion.TokenLogprob l) {
            tokens.add(tok.displayText(id));
            tokenLogprobs.add(l == null ? null : l.logprob());
            top.add(l == null ? null : topMap(l, tok));
            offsets.add(offset);
            if (n == seen.length) seen = java.util.Arrays.copyOf(seen, 2 * n);
            seen[n++] = id;
            offset += tok.growth(seen, n - 1);
        }

        /** The echoed prompt's tokens; the completion's offsets then count from the end of the prompt's text. */
        void prompt(List<Completion.TokenLogprob> logprobs) {
            for (int t = 0; t < prompt.length; t++) add(prompt[t], logprobs.get(t));
            offset = echoed.length();
        }

        /** The lists of the tokens added since the last take. */
        CompletionResponse.Logprobs take() {
            CompletionResponse.Logprobs l = new CompletionResponse.Logprobs(tokens, tokenLogprobs, top, offsets);
            tokens = new ArrayList<>();
            tokenLogprobs = new ArrayList<>();
            top = new ArrayList<>();
            offsets = new ArrayList<>();
            return l;
        }
    }

    /** A prompt as text or ids. */
    private record Prompt(String text, int[] ids) {}

    private static List<Prompt> prompts(JsonNode p) {
        if (p.isTextual()) return List.of(new Prompt(p.asText(), null));
        if (!p.isArray() || p.isEmpty()) throw ApiError.badField("prompt", "prompt must be a string, a list of strings, a list of token ids or a list of token-id lists");
        if (p.get(0).isInt()) return List.of(new Prompt(null, intArray(p, "prompt")));
        List<Prompt> out = new ArrayList<>();
        for (int i = 0; i < p.size(); i++) {
            JsonNode x = p.get(i);
            if (x.isTextual()) out.add(new Prompt(x.asText(), null));
            else if (x.isArray()) out.add(new Prompt(null, intArray(x, "prompt[" + i + "]")));
            else throw ApiError.badRequest("prompt[" + i + "] must be a string or a list of token ids");
        }
        return out;
    }

    private String generatedText(Completion x) {
        if (x.stopText() != null) return x.stopText();
        int[] g = x.generated();
        if (x.finishReason() == Completion.FinishReason.STOP_TOKEN) g = java.util.Arrays.copyOf(g, g.length - 1);
        return api.tokenizer().decodeAfter(x.prompt(), g);
    }

    private static String finish(Completion x) {
        return x.finishReason() == Completion.FinishReason.LENGTH ? "length" : "stop";
    }

    /** The alternatives, plus the chosen token (OpenAI returns up to logprobs + 1 entries). */
    private static Map<String, Double> topMap(Completion.TokenLogprob l, Tokenizer tok) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int k = 0; k < l.topIds().length; k++) m.putIfAbsent(tok.displayText(l.topIds()[k]), l.topLogprobs()[k]);
        m.putIfAbsent(tok.displayText(l.id()), l.logprob());
        return m;
    }

    // ------------------------------------------------------------------ OpenAI chat

    private Object chat(Call c) {
        JsonNode body = c.body();
        ChatRequest r = parse(body, ChatRequest.class);
        samplingExtensions(body);
        checkModel(r.model());
        boolean stream = Boolean.TRUE.equals(r.stream());
        boolean usageChunk = includeUsage(stream, r.streamOptions());
        int n = choices(r.n());
        zero(r.presencePenalty(), "presence_penalty");
        zero(r.frequencyPenalty(), "frequency_penalty");
        if (r.logitBias() != null && !r.logitBias().isNull() && !r.logitBias().isEmpty()) throw ApiError.badField("logit_bias", "logit_bias is not supported");
        if (r.tools() != null && !r.tools().isNull() && !r.tools().isEmpty())
            throw ApiError.badField("tools", "tools (function calling) are not supported");
        if (r.toolChoice() != null && !r.toolChoice().isNull() && !List.of("none", "auto").contains(r.toolChoice().asText()))
            throw ApiError.badField("tool_choice", "tool_choice " + r.toolChoice() + " is not supported (no tools)");
        if (r.responseFormat() != null && !r.responseFormat().isNull() && !"text".equals(r.responseFormat().path("type").asText()))
            throw ApiError.badField("response_format", "response_format " + r.responseFormat() + " is not supported (only {\"type\": \"text\"})");
        if (r.messages() == null || r.messages().isEmpty()) throw ApiError.badField("messages", "messages is missing or empty");
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < r.messages().size(); i++) {
            ChatRequest.Message m = r.messages().get(i);
            if (m == null || m.role() == null) throw ApiError.badRequest("messages[" + i + "] has no role");
            messages.add(new ChatMessage(m.role(), content(m.content(), i)));
        }
        if (api.tokenizer().chatTemplate().isEmpty())
            throw ApiError.badRequest("this model's tokenizer has no chat template (tokenizer_config.json has no chat_template); use /v1/completions");
        int[] ids = api.ids(Input.messages(messages));
        Integer mt = r.maxCompletionTokens() != null ? r.maxCompletionTokens() : r.maxTokens();
        int max = mt != null ? mt : Math.max(0, api.maxInputTokens() - ids.length);
        if (max < 0) throw ApiError.badField("max_tokens", "max_tokens must be >= 0, got " + max);
        boolean logprobs = Boolean.TRUE.equals(r.logprobs());
        int top = r.topLogprobs() == null ? 0 : r.topLogprobs();
        if (top < 0 || top > settings.maxLogprobs()) throw ApiError.badField("top_logprobs", "top_logprobs must be in [0, " + settings.maxLogprobs() + "], got " + top);
        if (r.topLogprobs() != null && !logprobs) throw ApiError.badField("top_logprobs", "top_logprobs needs logprobs: true");
        List<String> stops = stops(r.stop());
        SamplingParams sampling = sampling(r.temperature(), r.topP(), r.seed());
        String id = "chatcmpl-" + counter.incrementAndGet();
        long created = now();
        Feed feed = stream ? new Feed(n) : null;
        List<CompletableFuture<Completion>> fs = submit(n, feed,
                j -> new Completion.Spec(ids, max, sample(sampling, j), api.stopTokens(), stops, logprobs, top, false), j -> "");
        if (feed != null) return streamChat(c, feed, ids, stops, logprobs, usageChunk, id, created);
        List<ChatResponse.Choice> choices = new ArrayList<>();
        int generated = 0;
        for (Completion x : c.await(fs)) {
            ChatResponse.Logprobs lps = null;
            if (logprobs) {
                List<ChatResponse.TokenLogprob> content = new ArrayList<>();
                for (Completion.TokenLogprob l : x.logprobs()) content.add(chatLogprob(l));
                lps = new ChatResponse.Logprobs(content);
            }
            choices.add(new ChatResponse.Choice(choices.size(), new ChatResponse.AssistantMessage("assistant", generatedText(x)), lps, finish(x)));
            generated += x.generated().length;
        }
        return new ChatResponse(id, "chat.completion", created, api.modelName(), choices,
                new CompletionResponse.Usage(ids.length, generated, ids.length + generated));
    }

    /**
     * A streamed chat answer: a first chunk with the role, then each token's new text (with {@code logprobs}, one
     * chunk per token with its log-probability), the rest of the text, and a last chunk with an empty delta and the
     * finish reason; the contents add up to the unstreamed answer's.
     */
    private Events streamChat(Call c, Feed feed, int[] prompt, List<String> stops, boolean logprobs, boolean usageChunk, String id, long created) {
        c.submitted();
        c.exchange.onDisconnect(feed::cancel);
        int n = feed.choices();
        return new Events(out -> {
            TextDeltas[] text = new TextDeltas[n];
            int generated = 0;
            for (int j = 0; j < n; j++) {
                text[j] = new TextDeltas(api.tokenizer(), prompt, stops);
                out.event(chatChunk(id, created, j, new ChatChunk.Delta("assistant", ""), null, null));
            }
            for (Feed.Event e; (e = feed.next()) != null; ) {
                int j = e.choice();
                switch (e) {
                    case Feed.PromptEvent pe -> { }
                    case Feed.TokenEvent te -> {
                        String delta = text[j].add(te.id());
                        if (logprobs)
                            out.event(chatChunk(id, created, j, new ChatChunk.Delta(null, delta), new ChatResponse.Logprobs(List.of(chatLogprob(te.logprob()))), null));
                        else if (!delta.isEmpty())
                            out.event(chatChunk(id, created, j, new ChatChunk.Delta(null, delta), null, null));
                    }
                    case Feed.DoneEvent de -> {
                        Completion x = Rationale.join(de.future());
                        generated += x.generated().length;
                        String rest = text[j].finish(generatedText(x));
                        if (!rest.isEmpty()) out.event(chatChunk(id, created, j, new ChatChunk.Delta(null, rest), null, null));
                        out.event(chatChunk(id, created, j, new ChatChunk.Delta(null, null), null, finish(x)));
                    }
                }
            }
            if (usageChunk)
                out.event(new ChatChunk(id, "chat.completion.chunk", created, api.modelName(), List.of(),
                        new CompletionResponse.Usage(prompt.length, generated, prompt.length + generated)));
        }, feed::cancel);
    }

    private ChatChunk chatChunk(String id, long created, int choice, ChatChunk.Delta delta, ChatResponse.Logprobs logprobs, String finish) {
        return new ChatChunk(id, "chat.completion.chunk", created, api.modelName(), List.of(new ChatChunk.Choice(choice, delta, logprobs, finish)), null);
    }

    /** A generated token's log-probability and alternatives, as chat answers give them. */
    private ChatResponse.TokenLogprob chatLogprob(Completion.TokenLogprob l) {
        Tokenizer tok = api.tokenizer();
        List<ChatResponse.TopLogprob> alts = new ArrayList<>();
        for (int k = 0; k < l.topIds().length; k++) {
            String t = tok.displayText(l.topIds()[k]);
            alts.add(new ChatResponse.TopLogprob(t, l.topLogprobs()[k], bytes(tok.tokenBytes(l.topIds()[k]))));
        }
        String t = tok.displayText(l.id());
        return new ChatResponse.TokenLogprob(t, l.logprob(), bytes(tok.tokenBytes(l.id())), alts);
    }

    private static int[] bytes(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] & 0xff;
        return out;
    }

    private static String content(JsonNode c, int i) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.asText();
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual())
                    throw ApiError.badRequest("messages[" + i + "].content: only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw ApiError.badRequest("messages[" + i + "].content must be a string or a list of text parts");
    }

    private static List<ChatMessage> messages(JsonNode m) {
        if (m == null || !m.isArray() || m.isEmpty()) throw ApiError.badField("messages", "messages must be a non-empty list");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode x = m.get(i);
            if (!x.isObject() || !x.path("role").isTextual()) throw ApiError.badRequest("messages[" + i + "] needs a role and a content");
            out.add(new ChatMessage(x.get("role").asText(), content(x.get("content"), i)));
        }
        return out;
    }

    // ------------------------------------------------------------------ helpers

    private void checkModel(String model) {
        if (model != null && !model.equals(api.modelName()))
            throw ApiError.notFound("model '" + model + "' is not served here (this server serves '" + api.modelName() + "')");
    }

    /**
     * Most stop strings a request may give. OpenAI allows 4; lm-evaluation-harness's local-completions sends a task's
     * stop sequences plus the EOS text uncut (often 5), and vLLM takes any number.
     */
    static final int MAX_STOPS = 64;

    /** Most choices ({@code n}) a request may ask for per prompt. */
    static final int MAX_CHOICES = 64;

    private static int choices(Integer n) {
        if (n == null) return 1;
        if (n < 1 || n > MAX_CHOICES) throw ApiError.badField("n", "n must be in [1, " + MAX_CHOICES + "], got " + n);
        return n;
    }

    /** Choice {@code j}'s sampling: the request's, its seed advanced by j (so n sampled choices differ). */
    private static SamplingParams sample(SamplingParams s, int j) {
        return new SamplingParams(s.temperature(), s.topP(), s.seed() + j);
    }

    /**
     * The sampling parameters that OpenAI-compatible servers such as vLLM add to OpenAI's (and lm-evaluation-harness
     * passes through from {@code gen_kwargs}), each with the value that leaves sampling as it is. Unknown fields are
     * ignored, but these would change what is sampled: any other value is refused rather than silently not applied.
     */
    private static final Map<String, List<Double>> NEUTRAL_SAMPLING = Map.of(
            "top_k", List.of(-1.0, 0.0), "min_p", List.of(0.0), "repetition_penalty", List.of(1.0), "min_tokens", List.of(0.0));

    private static void samplingExtensions(JsonNode body) {
        for (Map.Entry<String, List<Double>> e : NEUTRAL_SAMPLING.entrySet()) {
            JsonNode v = body.get(e.getKey());
            if (v == null || v.isNull()) continue;
            if (!v.isNumber() || !e.getValue().contains(v.asDouble()))
                throw ApiError.badField(e.getKey(), e.getKey() + " is not supported (only " + neutral(e.getValue()) + " or absent), got "
                        + RationaleJson.write(v));
        }
    }

    private static String neutral(List<Double> values) {
        List<String> out = new ArrayList<>();
        for (double d : values) out.add(d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d));
        return String.join(" or ", out);
    }

    private static void zero(Double v, String name) {
        if (v != null && v != 0) throw ApiError.badField(name, name + " is not supported (only 0)");
    }

    /** OpenAI's sampling defaults; without a seed a fresh one, so that repeated requests sample afresh as OpenAI's do. */
    private static SamplingParams sampling(Double temperature, Double topP, Long seed) {
        return new SamplingParams(temperature == null ? 1.0 : temperature, topP == null ? 1.0 : topP,
                seed == null ? java.util.concurrent.ThreadLocalRandom.current().nextLong() : seed);
    }

    private static List<String> stops(JsonNode stop) {
        if (stop == null || stop.isNull()) return List.of();
        List<String> out = new ArrayList<>();
        if (stop.isTextual()) out.add(stop.asText());
        else if (stop.isArray()) for (JsonNode s : stop) {
            if (!s.isTextual()) throw ApiError.badField("stop", "stop must be a string or a list of strings");
            out.add(s.asText());
        }
        else throw ApiError.badField("stop", "stop must be a string or a list of strings");
        if (out.size() > MAX_STOPS) throw ApiError.badField("stop", "stop takes at most " + MAX_STOPS + " strings, got " + out.size());
        out.removeIf(String::isEmpty);
        return out;
    }

    private static double num(JsonNode b, String name, double dflt) {
        if (!b.has(name) || b.get(name).isNull()) return dflt;
        if (!b.get(name).isNumber()) throw ApiError.badRequest(name + " must be a number");
        return b.get(name).asDouble();
    }

    private static long longValue(JsonNode n, String name) {
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw ApiError.badField(name, "field '" + name + "' must be an integer, got " + RationaleJson.write(n));
        return n.asLong();
    }

    private static boolean bool(JsonNode b, String name) {
        JsonNode n = b.get(name);
        if (n == null || n.isNull()) return false;
        if (!n.isBoolean()) throw ApiError.badField(name, "field '" + name + "' must be true or false, got " + RationaleJson.write(n));
        return n.asBoolean();
    }

    private static int intValue(JsonNode n, String name) {
        long v = longValue(n, name);
        if (v != (int) v) throw ApiError.badField(name, "field '" + name + "' is out of range, got " + v);
        return (int) v;
    }

    private static int[] intArray(JsonNode n, String name) {
        if (n == null || !n.isArray()) throw ApiError.badRequest(name + " must be a list of token ids");
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode x = n.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToInt()) throw ApiError.badRequest(name + "[" + i + "] is not a token id");
            out[i] = x.asInt();
        }
        return out;
    }

    private static void known(JsonNode b, String where, String... names) {
        List<String> ok = List.of(names);
        for (var it = b.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!ok.contains(f)) throw ApiError.badRequest("unknown field '" + f + "' for " + where + " (known: " + String.join(", ", ok) + ")");
        }
    }

    /**
     * The mapper requests are read with: {@link RationaleJson#MAPPER}, but a number must be a JSON number of the
     * field's kind (not {@code "5"} for 5, not 5.5 for an integer), a boolean a JSON boolean and a string a JSON
     * string (not 5 for "5"), as OpenAI's API checks them.
     */
    private static final com.fasterxml.jackson.databind.ObjectMapper STRICT = strict();

    private static com.fasterxml.jackson.databind.ObjectMapper strict() {
        var m = RationaleJson.MAPPER.copy().disable(com.fasterxml.jackson.databind.DeserializationFeature.ACCEPT_FLOAT_AS_INT);
        for (var t : List.of(com.fasterxml.jackson.databind.type.LogicalType.Integer, com.fasterxml.jackson.databind.type.LogicalType.Float,
                com.fasterxml.jackson.databind.type.LogicalType.Boolean))
            m.coercionConfigFor(t).setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.String,
                    com.fasterxml.jackson.databind.cfg.CoercionAction.Fail);
        m.coercionConfigFor(com.fasterxml.jackson.databind.type.LogicalType.Boolean)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail);
        for (var shape : List.of(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer, com.fasterxml.jackson.databind.cfg.CoercionInputShape.Float,
                com.fasterxml.jackson.databind.cfg.CoercionInputShape.Boolean))
            m.coercionConfigFor(com.fasterxml.jackson.databind.type.LogicalType.Textual).setCoercion(shape, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail);
        return m;
    }

    private static <T> T parse(JsonNode n, Class<T> type) {
        try {
            return STRICT.treeToValue(n, type);
        } catch (JsonProcessingException e) {
            throw ApiError.badField(field(e), describe(e, n));
        }
    }

    /** One line for a JSON problem: the field and what is wrong, or where the syntax breaks. */
    static String describe(JsonProcessingException e) { return describe(e, null); }

    /** {@link #describe(JsonProcessingException)}, quoting the wrong value from {@code root}, the request read. */
    static String describe(JsonProcessingException e, JsonNode root) {
        if (e instanceof UnrecognizedPropertyException u) {
            List<String> known = new ArrayList<>();
            if (u.getKnownPropertyIds() != null) for (Object o : u.getKnownPropertyIds()) known.add(String.valueOf(o));
            java.util.Collections.sort(known);
            return "unknown field '" + u.getPropertyName() + "'" + (known.isEmpty() ? "" : " (known: " + String.join(", ", known) + ")");
        }
        if (e instanceof InvalidFormatException f && kind(f.getTargetType()) == null)
            return "field '" + path(f) + "': " + oneLine(f.getOriginalMessage());
        if (e instanceof MismatchedInputException m && !m.getPath().isEmpty()) {
            String want = kind(m.getTargetType());
            JsonNode got = root == null ? null : root.at(pointer(m));
            if (want != null && got != null && !got.isMissingNode()) {
                String value = RationaleJson.write(got);
                return "field '" + path(m) + "' must be " + want + ", got " + (value.length() > 40 ? value.substring(0, 40) + "…" : value);
            }
            return "field '" + path(m) + "' has the wrong type (" + oneLine(m.getOriginalMessage()) + ")";
        }
        if (e instanceof com.fasterxml.jackson.databind.JsonMappingException j && !j.getPath().isEmpty())
            return "field '" + path(j) + "': " + oneLine(j.getOriginalMessage());
        JsonLocation loc = e.getLocation();
        String where = loc == null || loc.getLineNr() < 0 ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
        return oneLine(e.getOriginalMessage()) + where;
    }

    /** What a request field of this type takes, in words; null for types without a short name. */
    private static String kind(Class<?> c) {
        if (c == null) return null;
        if (c == Integer.class || c == int.class || c == Long.class || c == long.class || c == Short.class || c == short.class) return "an integer";
        if (c == Double.class || c == double.class || c == Float.class || c == float.class) return "a number";
        if (c == Boolean.class || c == boolean.class) return "true or false";
        if (c == String.class) return "a string";
        if (java.util.Collection.class.isAssignableFrom(c) || c.isArray()) return "a list";
        return null;
    }

    /** The field a JSON problem is about ({@code messages[0].role}), or null. */
    private static String field(JsonProcessingException e) {
        if (e instanceof UnrecognizedPropertyException u) return u.getPropertyName();
        if (e instanceof com.fasterxml.jackson.databind.JsonMappingException m && !m.getPath().isEmpty()) return path(m);
        return null;
    }

    /** The JSON pointer of a mapping problem's field. */
    private static String pointer(com.fasterxml.jackson.databind.JsonMappingException m) {
        StringBuilder sb = new StringBuilder();
        for (var r : m.getPath())
            sb.append('/').append(r.getFieldName() != null ? r.getFieldName().replace("~", "~0").replace("/", "~1") : String.valueOf(r.getIndex()));
        return sb.toString();
    }

    private static String path(com.fasterxml.jackson.databind.JsonMappingException m) {
        StringBuilder sb = new StringBuilder();
        for (var r : m.getPath()) {
            if (r.getFieldName() != null) sb.append(sb.isEmpty() ? "" : ".").append(r.getFieldName());
            else sb.append('[').append(r.getIndex()).append(']');
        }
        return sb.toString();
    }

    static String oneLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        // Jackson's "[Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 29]"
        return (nl < 0 ? s : s.substring(0, nl)).replace('\r', ' ').replaceAll("\\[Source: [^;]*; ", "[");
    }

    private static long now() { return System.currentTimeMillis() / 1000; }
}
