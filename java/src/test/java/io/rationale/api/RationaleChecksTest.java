package io.rationale.api;

import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.engine.Backend;
import io.rationale.engine.Device;
import io.rationale.engine.Generator;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.tokenizer.ChatMessage;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The API's checks at its boundary on stories260K: calls after close, system without chat, nulls, the context's end. */
class RationaleChecksTest {
    static Model model;
    static Tokenizer tok;
    static Backend backend;

    static io.rationale.attribution.Fixtures.Loaded loaded;

    @BeforeAll
    static void load() {
        loaded = io.rationale.attribution.Fixtures.Loaded.cpu(RationaleTest.STORIES);
        model = loaded.model();
        tok = loaded.tok();
        backend = loaded.backend();
    }

    @AfterAll
    static void close() { loaded.close(); }

    static Rationale api(Rationale.Config c) { return Rationale.of(backend, tok, c); }

    static Rationale api() { return api(Rationale.Config.defaults()); }

    static final SamplingParams GREEDY = SamplingParams.greedy();

    // ------------------------------------------------------------------ after close

    /** Every call that works on the model, in the form a caller makes it. */
    static Map<String, Executable> calls(Rationale r) {
        Map<String, Executable> m = new java.util.LinkedHashMap<>();
        m.put("ids(text)", () -> r.ids(Input.text("Once upon")));
        m.put("ids(ids)", () -> r.ids(Input.ids(1, 403)));
        m.put("tokenize", () -> r.tokenize("Once upon", true));
        m.put("detokenize", () -> r.detokenize(new int[]{1, 403}, true));
        m.put("tokenizer", r::tokenizer);
        m.put("logits", () -> r.logits(Input.text("Once upon")));
        m.put("logitsAsync", () -> r.logitsAsync(Input.ids(1, 403)));
        m.put("generate", () -> r.generate(Input.text("Once upon"), 3, GREEDY));
        m.put("generateAsync", () -> r.generateAsync(Input.ids(1, 403), 3, GREEDY));
        m.put("complete", () -> r.complete(new Completion.Spec(new int[]{1, 403}, 3, GREEDY, Set.of(), List.of(), false, 0, false)));
        m.put("attribute", () -> r.attribute(AttributionRequest.of("Once upon", "saliency")));
        m.put("attributeAsync", () -> r.attributeAsync(AttributionRequest.ofIds(new int[]{1, 403}, "saliency")));
        m.put("attribute(list)", () -> r.attribute(List.of(AttributionRequest.of("Once upon", "saliency"))));
        m.put("flipEvaluation", () -> r.flipEvaluation(new FlipRequest(null, null, List.of("yes", "no"),
                List.of(new FlipRequest.Field("text", "The cat sat")), null, null, List.of("random"), null, null, null, null, null)));
        return m;
    }

    static void assertShutDown(Map<String, Executable> calls) {
        for (Map.Entry<String, Executable> c : calls.entrySet()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, c.getValue(), c.getKey());
            assertEquals("the engine is shut down", e.getMessage(), c.getKey());
        }
    }

    @Test
    void everyCallAfterCloseIsRefusedTheSameWay() {
        Rationale r = api();
        for (Executable c : calls(r).values()) assertDoesNotThrow(c);     // each works while open
        r.close();
        assertShutDown(calls(r));
        assertEquals(512, r.contextLength(), "facts stay readable");
        // a model the API opened itself frees its tokenizer on close: the same message, not the native library's
        Rationale own = Rationale.open(RationaleTest.STORIES, Rationale.Config.defaults().withDevice(Device.CPU).withThreads(1));
        own.close();
        assertShutDown(calls(own));
    }

    @Test
    void afterShutdownNewCallsAreRefusedAndTheTokenizerServesTheDrain() {
        Rationale r = api();
        assertTrue(r.shutdown(Duration.ofSeconds(10)));
        Map<String, Executable> calls = calls(r);
        calls.remove("tokenizer");
        assertShutDown(calls);
    }

    // ------------------------------------------------------------------ system needs chat

    @Test
    void aSystemMessageWithoutChatIsRefused() {
        try (Rationale r = api()) {
            AttributionRequest base = AttributionRequest.of("Once upon", "saliency");
            for (AttributionRequest q : List.of(base.withSystem("Be brief."),
                    new AttributionRequest("Once upon", null, false, "Be brief.", null, null, List.of("saliency"), null, null, null,
                            null, null, null, null, null, null, null, null),
                    AttributionRequest.ofIds(new int[]{1, 403}, "saliency").withSystem("Be brief."))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.attribute(q));
                assertEquals("system needs chat", e.getMessage());
            }
            assertArrayEquals(tok.encode("Once upon").ids(), r.attribute(base).ids(), "without a system message it runs");
        }
    }

    @Test
    void theBuildersSetEveryOptionOfAttribute() {
        AttributionRequest q = AttributionRequest.of("Once upon", "saliency");
        assertEquals("Be brief.", q.withSystem("Be brief.").system());
        assertNull(q.withSystem("Be brief.").chat(), "withSystem leaves chat as it was");
        AttributionRequest chat = q.withChat(null).withSystem("Be brief.");
        assertEquals(Boolean.TRUE, chat.chat());
        assertEquals("Be brief.", chat.system());
        assertEquals("midpoint", q.withIgRule("midpoint").igRule());
        assertEquals(Boolean.TRUE, q.withIgKeepSpecial(true).igKeepSpecial());
        assertEquals(Boolean.FALSE, q.withIgKeepSpecial(false).igKeepSpecial());
        // and the engine reads them: integrated gradients as the Attributor computes it with those options
        String text = "Once upon a time there was a little girl";
        try (Rationale r = api()) {
            AttributionResult got = r.attribute(AttributionRequest.of(text, "integrated_gradients").withSteps(8)
                    .withIgRule("midpoint").withIgKeepSpecial(true));
            Options o = Options.defaults().withSteps(8);
            AttributionSet want = new Attributor(backend).run(AttributionInput.of(tok.encode(text)), TargetSpec.argmaxLogit(),
                    List.of(Method.INTEGRATED_GRADIENTS), o.withIgRule(Options.IgRule.MIDPOINT).withInterpolateSpecial(false));
            AttributionSet plain = new Attributor(backend).run(AttributionInput.of(tok.encode(text)), TargetSpec.argmaxLogit(),
                    List.of(Method.INTEGRATED_GRADIENTS), o);
            double[] w = want.get(Method.INTEGRATED_GRADIENTS).scores(), p = plain.get(Method.INTEGRATED_GRADIENTS).scores();
            double max = Arrays.stream(w).map(Math::abs).max().orElseThrow();
            assertArrayEquals(w, got.scores(), Rationale.SCORE_TOLERANCE * max);
            double apart = 0;
            for (int i = 0; i < w.length; i++) apart = Math.max(apart, Math.abs(w[i] - p[i]));
            assertTrue(apart > 100 * Rationale.SCORE_TOLERANCE * max, "the options change the scores (" + apart + ")");
        }
    }

    // ------------------------------------------------------------------ nulls

    static void assertRefused(String message, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, message);
        assertEquals(message, e.getMessage());
    }

    @Test
    void nullArgumentsAreRefusedByName() {
        Rationale.Config cfg = Rationale.Config.defaults();
        assertRefused("stopTokens is null (Set.of(): none)", () -> new Completion.Spec(new int[]{1}, 3, GREEDY, null, List.of(), false, 0, false));
        assertRefused("stopStrings is null (List.of(): none)", () -> new Completion.Spec(new int[]{1}, 3, GREEDY, Set.of(), null, false, 0, false));
        assertRefused("sampling is null (SamplingParams.greedy(): greedy decoding)",
                () -> new Completion.Spec(new int[]{1}, 3, null, Set.of(), List.of(), false, 0, false));
        assertRefused("stopStrings: a stop string is null",
                () -> new Completion.Spec(new int[]{1}, 3, GREEDY, Set.of(), Arrays.asList("x", null), false, 0, false));
        assertRefused("stopTokens: a stop token is null",
                () -> new Completion.Spec(new int[]{1}, 3, GREEDY, new java.util.HashSet<>(Arrays.asList(2, null)), List.of(), false, 0, false));
        assertRefused("user is null", () -> Input.chat(null, "Be brief."));
        assertRefused("messages: message 1 is null", () -> Input.messages(Arrays.asList(ChatMessage.user("hi"), null)));
        assertRefused("ids is null", () -> AttributionRequest.ofIds(null, "saliency"));
        assertRefused("methods: a method name is null", () -> AttributionRequest.of("Once", "saliency", null));
        assertRefused("methods is null", () -> AttributionRequest.of("Once", (String[]) null));
        assertRefused("dir is null", () -> Rationale.open(null));
        assertRefused("config is null", () -> Rationale.open(RationaleTest.STORIES, null));
        assertRefused("backend is null", () -> Rationale.of(null, tok, cfg));
        assertRefused("tok is null", () -> Rationale.of(backend, null, cfg));
        assertRefused("config is null", () -> Rationale.of(backend, tok, null));
        assertRefused("the future is null", () -> Rationale.join(null));
        try (Rationale r = api()) {
            assertRefused("sampling is null (SamplingParams.greedy(): greedy decoding)", () -> r.generate(Input.text("Once"), 3, null));
            assertRefused("sampling is null (SamplingParams.greedy(): greedy decoding)", () -> r.generateAsync(Input.text("Once"), 3, null));
            assertRefused("input is null", () -> r.generate(null, 3, GREEDY));
            assertRefused("input is null", () -> r.logits(null));
            assertRefused("input is null", () -> r.ids(null));
            assertRefused("spec is null", () -> r.complete(null));
            assertRefused("spec is null", () -> r.completeAsync(null, null));
            assertRefused("ids is null", () -> r.detokenize(null, true));
            assertRefused("requests is null", () -> r.attribute((List<AttributionRequest>) null));
            assertRefused("methods: a method name is null", () -> r.attribute(new AttributionRequest("Once", null, null, null, null, null,
                    Arrays.asList("saliency", null), null, null, null, null, null, null, null, null, null, null, null)));
            List<FlipRequest.Field> fields = List.of(new FlipRequest.Field("text", "The cat sat"));
            assertRefused("labels: a label is null", () -> r.flipEvaluation(new FlipRequest(null, null, Arrays.asList("yes", null), fields,
                    null, null, List.of("random"), null, null, null, null, null)));
            assertRefused("rationale: a word index is null", () -> r.flipEvaluation(new FlipRequest(null, null, List.of("yes", "no"), fields,
                    null, Arrays.asList(0, null), List.of("random"), null, null, null, null, null)));
            assertRefused("rationales: a ranking holds a null word index", () -> r.flipEvaluation(new FlipRequest(null, null, List.of("yes", "no"),
                    fields, null, null, null, List.of(new FlipRequest.Given("x", Arrays.asList(0, null), null)), null, null, null, null)));
            assertRefused("timeout is null", () -> r.shutdown(null));
            assertEquals(3, r.generate(Input.text("Once"), 3, GREEDY).newTokens(), "still usable");
        }
    }

    // ------------------------------------------------------------------ the end of the context

    /** The engine's own generation (what `rationale generate` runs), which stops when the model's 512 positions are full. */
    static Generator.Result reference(int[] prompt, int maxNewTokens) {
        Generator.Result g = new Generator(backend).generate(prompt, maxNewTokens, GREEDY);
        g.cache().close();
        return g;
    }

    static int[] generated(GenerationResult g) { return Arrays.copyOfRange(g.ids(), g.promptTokens(), g.ids().length); }

    @Test
    void generateStopsWhenThePositionsAreFullAsTheCommandLineDoes() {
        int[] prompt = tok.encode("Once").ids();
        assertEquals(2, prompt.length);
        Generator.Result want = reference(prompt, 600);
        assertEquals(Generator.StopReason.MAX_POSITIONS, want.stopReason());
        // positions 0..511 hold the prompt and the new tokens but the last: 512 - 2 + 1 new tokens
        assertEquals(511, want.tokens().length);
        try (Rationale r = api()) {
            for (GenerationResult g : List.of(r.generate(Input.text("Once"), 600, GREEDY),
                    Rationale.join(r.generateAsync(Input.text("Once"), Integer.MAX_VALUE, GREEDY)))) {
                assertEquals(GenerationResult.MAX_POSITIONS, g.stopReason());
                assertEquals("max_positions", g.stopReason());
                assertEquals(511, g.newTokens());
                assertArrayEquals(want.tokens(), generated(g));
                assertEquals(2, g.promptTokens());
                assertTrue(RationaleJson.write(g).contains("\"stop_reason\":\"max_positions\""));
            }
            // exactly the room: the budget ends it first, as the engine checks it first
            GenerationResult exact = r.generate(Input.text("Once"), 511, GREEDY);
            assertEquals(GenerationResult.MAX_TOKENS, exact.stopReason());
            assertArrayEquals(want.tokens(), generated(exact));
            assertEquals(GenerationResult.MAX_TOKENS, r.generate(Input.text("Once"), 510, GREEDY).stopReason());
            // a prompt that fills the context: one token, from the last position
            int[] full = new int[512];
            Arrays.fill(full, 403);
            full[0] = 1;
            GenerationResult one = r.generate(Input.ids(full), 5, GREEDY);
            assertEquals(1, one.newTokens());
            assertEquals(GenerationResult.MAX_POSITIONS, one.stopReason());
            assertArrayEquals(reference(full, 5).tokens(), generated(one));
            // a prompt beyond it is refused
            int[] over = Arrays.copyOf(full, 513);
            over[512] = 403;
            assertRefused("the input of 513 tokens exceeds the limit of 512 tokens (the model's context)", () -> r.generate(Input.ids(over), 5, GREEDY));
            // complete (the OpenAI endpoints') still refuses a budget beyond the context, as vLLM does
            assertRefused("2 input tokens plus 600 to generate exceed the limit of 512 tokens (the model's context)",
                    () -> r.complete(new Completion.Spec(prompt, 600, GREEDY, r.stopTokens(), List.of(), false, 0, false)));
        }
    }

    @Test
    void generateStopsAtAConfiguredLimitBelowTheContext() {
        int[] prompt = tok.encode("Once").ids();
        Generator.Result want = reference(prompt, 7);
        assertEquals(7, want.tokens().length, "no stop token in the first 7");
        try (Rationale r = api(Rationale.Config.defaults().withMaxInputTokens(8))) {
            // positions 0..7: the prompt's 2 and 5 new tokens; the 7th new token comes from position 7
            GenerationResult g = r.generate(Input.text("Once"), 20, GREEDY);
            assertEquals(GenerationResult.MAX_POSITIONS, g.stopReason());
            assertArrayEquals(want.tokens(), generated(g));
            GenerationResult budget = r.generate(Input.text("Once"), 6, GREEDY);
            assertEquals(GenerationResult.MAX_TOKENS, budget.stopReason());
            assertArrayEquals(Arrays.copyOf(want.tokens(), 6), generated(budget));
            assertRefused("the input of 9 tokens exceeds the limit of 8 tokens (the model's context is 512)",
                    () -> r.generate(Input.ids(1, 2, 3, 4, 5, 6, 7, 8, 9), 3, GREEDY));
            assertRefused("2 input tokens plus 20 to generate exceed the limit of 8 tokens (the model's context is 512)",
                    () -> r.complete(new Completion.Spec(prompt, 20, GREEDY, r.stopTokens(), List.of(), false, 0, false)));
        }
    }

    @Test
    void concurrentGenerationsEachStopAtTheirPositions() throws Exception {
        int[] prompt = tok.encode("Once").ids();
        Generator.Result want = reference(prompt, 600);
        try (Rationale r = api(Rationale.Config.defaults().withBatchWindow(Duration.ofSeconds(5)))) {
            List<java.util.concurrent.CompletableFuture<GenerationResult>> fs = new ArrayList<>();
            try (AutoCloseable ticket = r.arriving()) {
                fs.add(r.generateAsync(Input.text("Once"), 600, GREEDY));
                fs.add(r.generateAsync(Input.text("Once"), 30, GREEDY));
            }
            GenerationResult full = Rationale.join(fs.get(0)), short_ = Rationale.join(fs.get(1));
            assertEquals(GenerationResult.MAX_POSITIONS, full.stopReason());
            assertArrayEquals(want.tokens(), generated(full));
            assertEquals(GenerationResult.MAX_TOKENS, short_.stopReason());
            assertArrayEquals(Arrays.copyOf(want.tokens(), 30), generated(short_));
        }
    }

    // ------------------------------------------------------------------ the JVM

    @Test
    void aJvmWithoutTheVectorModuleIsRefusedWithTheFlags() {
        assertDoesNotThrow(() -> Rationale.checkVectorModule(ModuleLayer.boot()), "the tests run with the module");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Rationale.checkVectorModule(ModuleLayer.empty()));
        assertEquals("the JVM lacks the Vector API module that rationale-engine needs: run java with"
                + " --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED (as the rationale launcher does)", e.getMessage());
    }
}
