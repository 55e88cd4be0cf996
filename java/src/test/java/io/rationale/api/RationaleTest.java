package io.rationale.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.rationale.attribution.AttributionBatch;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionJson;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.attribution.TargetText;
import io.rationale.engine.Backend;
import io.rationale.engine.Generator;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.engine.Target;
import io.rationale.eval.ExampleResult;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/** The Java API on stories260K: results equal the engine's own, concurrent calls equal sequential ones, errors. */
class RationaleTest {
    static final Path STORIES = Path.of(System.getProperty("rationale.shared", "../shared"), "data", "models", "stories260K-hf");
    static Model model;
    static Tokenizer tok;
    static Backend backend;

    static final String[] TEXTS = {
            "Once upon a time there was a little girl named Lily",
            "One day, Tom went to the park with his mom",
            "The cat sat on the mat and looked at the big red ball",
            "She was very happy because it was her birthday",
            "The little bird could not fly",
            "Max and Sue liked to play in the garden every day after lunch",
            "It was a sunny day",
            "The dog ran fast to get the stick that the boy threw"};

    static io.rationale.attribution.Fixtures.Loaded loaded;

    @BeforeAll
    static void load() {
        loaded = io.rationale.attribution.Fixtures.Loaded.cpu(STORIES);
        model = loaded.model();
        tok = loaded.tok();
        backend = loaded.backend();
    }

    @AfterAll
    static void close() { loaded.close(); }

    static Rationale api(Rationale.Config c) { return Rationale.of(backend, tok, c.withModelName("stories260K-hf")); }

    static Rationale api() { return api(Rationale.Config.defaults()); }

    // ------------------------------------------------------------------ one schema

    @Test
    void attributionRecordWritesExactlyTheJsonOfTheAttributionPackage() {
        Attributor at = new Attributor(backend);
        AttributionInput in = AttributionInput.of(tok.encode(TEXTS[0]));
        for (List<Method> ms : List.of(List.of(Method.SALIENCY), List.of(Method.INPUT_X_GRADIENT, Method.ATTENTION, Method.OCCLUSION, Method.RANDOM))) {
            AttributionSet set = at.run(in, TargetSpec.argmaxLogit(), ms, Options.defaults());
            String expected = RationaleJson.write(AttributionJson.of(set));
            assertEquals(expected, RationaleJson.write(AttributionResult.of(set, null, null)), "methods " + ms);
        }
        // ids without a tokenizer: no text keys; a contrast: foil_id, with the tokenizer foil_text after it
        AttributionSet ids = at.run(AttributionInput.ofIds(new int[]{1, 403, 407}, null), TargetSpec.contrast(5, 6), List.of(Method.RANDOM), Options.defaults());
        assertEquals(RationaleJson.write(AttributionJson.of(ids)), RationaleJson.write(AttributionResult.of(ids, null, null)));
        String withTexts = RationaleJson.write(AttributionResult.of(ids, tok, "cpu"));
        assertTrue(withTexts.contains("\"target_id\":5,\"target_text\":"), withTexts);
        assertTrue(withTexts.contains("\"foil_id\":6,\"foil_text\":"), withTexts);
        assertTrue(withTexts.endsWith("\"device\":\"cpu\"}"), withTexts);
    }

    // ------------------------------------------------------------------ equal to the engine

    @Test
    void attributeEqualsTheAttributorAlone() {
        try (Rationale r = api()) {
            for (String methods : List.of("input_x_gradient", "attnlrp", "all")) {
                AttributionResult a = r.attribute(AttributionRequest.of(TEXTS[1], methods.split(",")).withTargetText("the"));
                AttributionSet set = new Attributor(backend).run(AttributionInput.of(tok.encode(TEXTS[1])),
                        TargetSpec.logit(TargetText.singleToken(tok, "the", "target")), Method.parse(methods), Options.defaults());
                AttributionResult b = AttributionResult.of(set, tok, backend.device());
                // the same computation; equal within float rounding (the Vector API's lane reductions may sum in
                // another order once the JIT has compiled them, so even one call repeated is not bit-identical)
                assertSameAttribution(b, a, Rationale.SCORE_TOLERANCE);
                assertEquals(b.targetText(), a.targetText());
                assertEquals(RationaleJson.MAPPER.valueToTree(b.tokens()), RationaleJson.MAPPER.valueToTree(a.tokens()));
            }
        }
    }

    @Test
    void logitsAndGenerateEqualTheEngine() {
        try (Rationale r = api()) {
            LogitsResult l = r.logits(Input.text(TEXTS[0]));
            int[] ids = tok.encode(TEXTS[0]).ids();
            assertArrayEquals(ids, l.ids());
            Logits ref = backend.forward(ids, null, LogitsMode.ALL);
            assertArrayEquals(ref.last(0), l.logitsLast());
            for (int p = 0; p < ids.length; p++) assertEquals(ref.argmax(0, p), l.argmaxPerPosition()[p]);
            for (SamplingParams s : List.of(SamplingParams.greedy(), new SamplingParams(0.9, 0.9, 7))) {
                GenerationResult g = r.generate(Input.text(TEXTS[2]), 40, s);
                Generator.Result want = new Generator(backend).generate(tok.encode(TEXTS[2]).ids(), 40, s);
                int[] gen = java.util.Arrays.copyOfRange(g.ids(), g.promptTokens(), g.ids().length);
                assertArrayEquals(want.tokens(), gen, "sampling " + s);
                want.cache().close();
                assertEquals(tok.decode(want.tokens(), true), g.text());
            }
        }
    }

    @Test
    void promptLogprobsAreTheEnginesLogSoftmax() {
        try (Rationale r = api()) {
            int[] ids = tok.encode(TEXTS[3]).ids();
            Completion c = r.complete(new Completion.Spec(ids, 3, SamplingParams.greedy(), r.stopTokens(), List.of(), true, 5, true));
            Logits ref = backend.forward(ids, null, LogitsMode.ALL);
            assertNull(c.promptLogprobs().getFirst());
            for (int i = 1; i < ids.length; i++) {
                float[] row = ref.row(0, i - 1);
                Completion.TokenLogprob t = c.promptLogprobs().get(i);
                assertEquals(ids[i], t.id());
                assertEquals(new Target.LogProb(ids[i]).value(row), t.logprob(), 1e-5, "position " + i);
                assertEquals(5, t.topIds().length);
                assertEquals(Logits.class, ref.getClass());
                assertEquals(argmax(row), t.topIds()[0]);
                for (int k = 1; k < 5; k++) assertTrue(t.topLogprobs()[k] <= t.topLogprobs()[k - 1]);
            }
            // greedy: each new token is the top alternative and its logprob the top one
            for (Completion.TokenLogprob t : c.logprobs()) {
                assertEquals(t.topIds()[0], t.id());
                assertEquals(t.topLogprobs()[0], t.logprob());
            }
        }
    }

    /** A token of TEXTS[i] that no other text has. */
    static int uniqueToken(int i) {
        java.util.Set<Integer> others = new java.util.HashSet<>();
        for (int j = 0; j < TEXTS.length; j++) if (j != i) for (int id : tok.encode(TEXTS[j]).ids()) others.add(id);
        for (int id : tok.encode(TEXTS[i]).ids()) if (!others.contains(id)) return id;
        throw new IllegalStateException("no unique token in " + TEXTS[i]);
    }

    static int argmax(float[] row) {
        int b = 0;
        for (int i = 1; i < row.length; i++) if (row[i] > row[b]) b = i;
        return b;
    }

    // ------------------------------------------------------------------ concurrency

    @Test
    void concurrentAttributionsAreBatchedAndEqualSequentialOnes() throws Exception {
        List<AttributionResult> sequential = new ArrayList<>();
        try (Rationale r = api()) {
            for (String t : TEXTS) sequential.add(r.attribute(AttributionRequest.of(t, "input_x_gradient", "attention")));
        }
        // a long window: announced requests all join one batch
        try (Rationale r = api(Rationale.Config.defaults().withBatchWindow(Duration.ofSeconds(5)))) {
            long[] before = r.batchStats();
            List<AttributionResult> concurrent;
            try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                List<AutoCloseable> tickets = new ArrayList<>();
                for (int i = 0; i < TEXTS.length; i++) tickets.add(r.arriving());
                List<Future<AttributionResult>> fs = new ArrayList<>();
                for (int i = 0; i < TEXTS.length; i++) {
                    int k = i;
                    fs.add(ex.submit(() -> {
                        CompletableFuture<AttributionResult> f = r.attributeAsync(AttributionRequest.of(TEXTS[k], "input_x_gradient", "attention"));
                        tickets.get(k).close();
                        return Rationale.join(f);
                    }));
                }
                concurrent = new ArrayList<>();
                for (Future<AttributionResult> f : fs) concurrent.add(f.get());
            }
            long[] after = r.batchStats();
            assertEquals(1, after[0] - before[0], "one batch");
            assertEquals(TEXTS.length, after[1] - before[1], "of all requests");
            for (int i = 0; i < TEXTS.length; i++) assertSameAttribution(sequential.get(i), concurrent.get(i), Rationale.SCORE_TOLERANCE);
        }
    }

    /** attribute(List): the inputs are announced before the first is submitted, so none starts a pass alone. */
    @Test
    void attributeListRunsAsOneBatch() {
        try (Rationale r = api(Rationale.Config.defaults().withBatchWindow(Duration.ofSeconds(5)))) {
            List<AttributionRequest> rs = new ArrayList<>();
            for (String t : TEXTS) rs.add(AttributionRequest.of(t, "input_x_gradient"));
            long[] before = r.batchStats();
            List<AttributionResult> got = r.attribute(rs);
            long[] after = r.batchStats();
            assertEquals(TEXTS.length, got.size());
            assertEquals(1, after[0] - before[0], "one batch");
            assertEquals(TEXTS.length, after[1] - before[1], "of all requests");
        }
    }

    /**
     * Clients that send their next request as soon as they have an answer share passes: 4 clients × 12 requests each,
     * no announced arrivals (the engine sees only submissions), a 500 ms window. Without waiting for the last batch's
     * clients to come back, the first answered client's next request runs alone while the others queue behind it, and
     * the clients stay split into groups that take turns (measured: 17 passes in each of three runs); waiting for them
     * gives passes of 4 after the first (13, the least possible: measured 13 in each of three runs). At most 15 passes;
     * answers as sequential ones.
     */
    @Test
    void clientsComingBackAfterABatchShareTheNextPass() throws Exception {
        int clients = 4, each = 12;
        List<AttributionResult> sequential = new ArrayList<>();
        try (Rationale r = api()) {
            for (int c = 0; c < clients; c++) sequential.add(r.attribute(AttributionRequest.of(TEXTS[c], "input_x_gradient")));
        }
        try (Rationale r = api(Rationale.Config.defaults().withBatchWindow(Duration.ofMillis(500)))) {
            long[] before = r.batchStats();
            try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<List<AttributionResult>>> fs = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int k = c;
                    fs.add(ex.submit(() -> {
                        List<AttributionResult> out = new ArrayList<>();
                        for (int i = 0; i < each; i++) out.add(r.attribute(AttributionRequest.of(TEXTS[k], "input_x_gradient")));
                        return out;
                    }));
                }
                for (int c = 0; c < clients; c++)
                    for (AttributionResult a : fs.get(c).get()) assertSameAttribution(sequential.get(c), a, Rationale.SCORE_TOLERANCE);
            }
            long[] after = r.batchStats();
            assertEquals(clients * each, after[1] - before[1], "every request ran");
            long passes = after[0] - before[0];
            assertTrue(passes <= 15, passes + " passes for " + clients * each + " requests of " + clients + " clients");
        }
    }

    /**
     * Clients that take longer than the window to come back (10 ms between an answer and the next request, a 1 ms
     * window) still share the next pass when passes are long (at least 400 ms here): the engine waits an eighth of the
     * last pass (50 ms) for them. 4 clients × 5 requests each: 5 passes at the least (measured: 6 in each of three
     * runs, the first pass taking the first client alone); at most 7 allowed. Waiting only the window, the first
     * client back runs alone while the others queue behind it (measured: 10, 9 and 10 passes).
     */
    @Test
    void clientsSlowerThanTheWindowShareTheNextLongPass() throws Exception {
        int clients = 4, each = 5;
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 400;
        try (Rationale r = Rationale.of(slow, tok, Rationale.Config.defaults().withBatchWindow(Duration.ofMillis(1)))) {
            long[] before = r.batchStats();
            try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> fs = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int k = c;
                    fs.add(ex.submit(() -> {
                        for (int i = 0; i < each; i++) {
                            r.attribute(AttributionRequest.of(TEXTS[k], "input_x_gradient"));
                            Thread.sleep(10);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) f.get();
            }
            long[] after = r.batchStats();
            assertEquals(clients * each, after[1] - before[1], "every request ran");
            long passes = after[0] - before[0];
            assertTrue(passes <= 7, passes + " passes for " + clients * each + " requests of " + clients + " clients");
        }
    }

    /** Equal up to float rounding of batched kernels: the same ids, tokens, words and target; scores within tol·max. */
    static void assertSameAttribution(AttributionResult a, AttributionResult b, double tol) {
        assertArrayEquals(a.ids(), b.ids());
        assertEquals(a.targetId(), b.targetId());
        assertEquals(a.tokens().size(), b.tokens().size());
        assertEquals(a.targetValue(), b.targetValue(), tol * Math.max(1, Math.abs(a.targetValue())));
        List<String> names = a.methods() == null ? List.of(a.method()) : List.copyOf(a.methods().keySet());
        for (String m : names) {
            double[] x = a.scores(m), y = b.scores(m);
            double max = 0;
            for (double v : x) max = Math.max(max, Math.abs(v));
            for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], tol * Math.max(max, 1e-12), m + " token " + i);
            assertEquals(a.wordScores(m).length, b.wordScores(m).length);
        }
    }

    @Test
    void concurrentGenerationsDecodeTogetherAndEqualSequentialOnes() throws Exception {
        SamplingParams[] params = {SamplingParams.greedy(), new SamplingParams(1.0, 0.9, 3), new SamplingParams(0.7, 1.0, 11)};
        List<int[]> sequential = new ArrayList<>();
        try (Rationale r = api()) {
            for (int i = 0; i < 6; i++) sequential.add(r.generate(Input.text(TEXTS[i]), 10 + 5 * i, params[i % 3]).ids());
        }
        try (Rationale r = api(Rationale.Config.defaults().withBatchWindow(Duration.ofSeconds(5)))) {
            List<CompletableFuture<GenerationResult>> fs = new ArrayList<>();
            try (AutoCloseable ticket = r.arriving()) {
                for (int i = 0; i < 6; i++) fs.add(r.generateAsync(Input.text(TEXTS[i]), 10 + 5 * i, params[i % 3]));
            }
            for (int i = 0; i < 6; i++) assertArrayEquals(sequential.get(i), Rationale.join(fs.get(i)).ids(), "generation " + i);
        }
    }

    // ------------------------------------------------------------------ flip evaluation

    @Test
    void flipEvaluationOfGivenAndComputedRationales() {
        try (Rationale r = api()) {
            List<FlipRequest.Field> fields = List.of(new FlipRequest.Field("premise", "The little girl played in the park with her dog"),
                    new FlipRequest.Field("hypothesis", "A girl was outside"));
            List<String> labels = List.of("entailment", "neutral", "contradiction");
            FlipRequest computed = new FlipRequest("ex1", "esnli", labels, fields, "entailment", List.of(1, 2, 11), List.of("attention"),
                    null, null, null, null, null);
            ExampleResult a = r.flipEvaluation(computed);
            assertEquals("entailment", a.gold());
            assertEquals(Set.of("attention", "random"), a.methods().keySet());
            assertNotNull(a.methods().get("attention").alignment());
            // the attention ranking given back as a rationale gives the same faithfulness as computing it
            int[] ranking = a.methods().get("attention").ranking();
            List<Integer> rk = new ArrayList<>();
            for (int w : ranking) rk.add(w);
            FlipRequest given = new FlipRequest("ex1", "esnli", labels, fields, null, List.of(1, 2, 11), null,
                    List.of(new FlipRequest.Given("mine", rk, a.methods().get("attention").k())), null, null, null, null);
            ExampleResult b = r.flipEvaluation(given);
            assertNull(b.gold());
            assertEquals(a.predicted(), b.predicted());
            assertSameFaithfulness(a.methods().get("attention").faithfulness(), b.methods().get("mine").faithfulness());
            ExampleResult.Alignment x = a.methods().get("attention").alignment(), y = b.methods().get("mine").alignment();
            assertEquals(x.f1(), y.f1());
            assertEquals(x.iouTruePositives(), y.iouTruePositives());
            assertTrue(Double.isNaN(y.auprc()), "a given ranking has no scores, so no AUPRC");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.flipEvaluation(new FlipRequest(null, null, labels,
                    fields, null, null, null, List.of(new FlipRequest.Given("x", List.of(0, 40), null)), null, null, null, null)));
            assertEquals("rationale 'x': word 40 is outside the example's 14 words", e.getMessage());
        }
    }

    // ------------------------------------------------------------------ limits and failures

    @Test
    void inputsBeyondTheLimitOrTheVocabularyAreRefusedWithAClearMessage() {
        try (Rationale r = api(Rationale.Config.defaults().withMaxInputTokens(8))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.logits(Input.text(TEXTS[0])));
            assertEquals("the input of 14 tokens exceeds the limit of 8 tokens (the model's context is 512)", e.getMessage());
            // complete refuses a budget beyond the limit; generate stops there (RationaleChecksTest)
            e = assertThrows(IllegalArgumentException.class, () -> r.complete(new Completion.Spec(tok.encode("Once").ids(), 20,
                    SamplingParams.greedy(), Set.of(), List.of(), false, 0, false)));
            assertEquals("2 input tokens plus 20 to generate exceed the limit of 8 tokens (the model's context is 512)", e.getMessage());
            assertEquals(GenerationResult.MAX_POSITIONS, r.generate(Input.text("Once"), 20, SamplingParams.greedy()).stopReason());
            e = assertThrows(IllegalArgumentException.class, () -> r.attribute(AttributionRequest.ofIds(new int[]{1, 512}, "saliency")));
            assertEquals("input id 512 at position 1 is outside the vocabulary [0, 512)", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> r.attribute(AttributionRequest.of("Once", "salience")));
            assertTrue(e.getMessage().startsWith("unknown method 'salience' (valid: saliency,"), e.getMessage());
        }
        try (Rationale r = api(Rationale.Config.defaults().withMaxInputTokens(100_000))) {
            assertEquals(512, r.maxInputTokens(), "never beyond the model's context");
        }
    }

    @Test
    void anEngineFailureFailsOnlyItsRequestAndTheModelStaysUsable() throws Exception {
        FailingBackend failing = new FailingBackend(backend);
        int poison = uniqueToken(2);
        failing.poison = poison;
        try (Rationale r = Rationale.of(failing, tok, Rationale.Config.defaults().withBatchWindow(Duration.ofSeconds(5)))) {
            List<CompletableFuture<AttributionResult>> fs = new ArrayList<>();
            List<CompletableFuture<GenerationResult>> gs = new ArrayList<>();
            try (AutoCloseable ticket = r.arriving()) {
                for (String t : TEXTS) fs.add(r.attributeAsync(AttributionRequest.of(t, "saliency")));
                for (String t : TEXTS) gs.add(r.generateAsync(Input.text(t), 5, SamplingParams.greedy()));
            }
            for (int i = 0; i < TEXTS.length; i++) {
                boolean bad = i == 2;
                if (bad) {
                    int k = i;
                    EngineException e = assertThrows(EngineException.class, () -> Rationale.join(fs.get(k)));
                    assertEquals("engine failure: injected failure on token " + poison, e.getMessage());
                    assertThrows(EngineException.class, () -> Rationale.join(gs.get(k)));
                } else {
                    assertEquals(TEXTS[i], Rationale.join(fs.get(i)).text());
                    assertEquals(5, Rationale.join(gs.get(i)).newTokens());
                }
            }
            failing.poison = -1;
            AttributionResult after = r.attribute(AttributionRequest.of(TEXTS[2], "saliency"));
            AttributionSet ref = new Attributor(backend).run(AttributionInput.of(tok.encode(TEXTS[2])), TargetSpec.argmaxLogit(),
                    List.of(Method.SALIENCY), Options.defaults());
            double[] want = ref.get(Method.SALIENCY).scores();
            double scale = java.util.Arrays.stream(want).map(Math::abs).max().orElse(1);
            assertArrayEquals(want, after.scores(), Rationale.SCORE_TOLERANCE * scale, "the model is not poisoned (equal within float rounding)");
        }
    }

    @Test
    void aFullQueueRefusesAndACancelledJobIsDropped() throws Exception {
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 10;
        try (Rationale r = Rationale.of(slow, tok, Rationale.Config.defaults().withMaxConcurrent(1).withMaxQueue(1))) {
            CompletableFuture<GenerationResult> running = r.generateAsync(Input.text(TEXTS[0]), 300, SamplingParams.greedy());
            while (r.load()[1] == 0) Thread.onSpinWait();          // the engine took it
            CompletableFuture<GenerationResult> queued = r.generateAsync(Input.text(TEXTS[1]), 5, SamplingParams.greedy());
            BusyException busy = assertThrows(BusyException.class, () -> r.logitsAsync(Input.text("Once")));
            assertEquals("1 requests are waiting (the queue holds 1); try again later", busy.getMessage());
            queued.cancel(false);
            running.cancel(false);
            assertThrows(CancellationException.class, () -> Rationale.join(running));
            long t0 = System.nanoTime();
            while (r.load()[0] + r.load()[1] > 0) {
                assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "cancelled work is freed at the next step");
                Thread.sleep(2);
            }
            int passes = slow.forwards.get();
            assertTrue(passes < 100, "the generation stopped early: " + passes + " of 300 steps");
            assertEquals(2, r.logits(Input.text("Once")).ids().length);
            assertEquals(passes + 1, slow.forwards.get(), "the queued generation never ran");
        }
    }

    /**
     * Integrated gradients is one job of many passes (its steps in batches of one or two under a small memory
     * budget): cancelling its future stops it at the next batch; an uncancelled one computes what the attributor
     * alone does, to the bit.
     */
    @Test
    void cancellingAnIntegratedGradientsFutureStopsItAtTheNextBatch() throws Exception {
        String text = TEXTS[0] + " " + TEXTS[1];
        FailingBackend slow = new FailingBackend(backend);
        slow.memoryBudget = 2 * backend.bytesPerRecordedSequence(AttributionInput.of(tok.encode(text)).size(), false);
        try (Rationale r = Rationale.of(slow, tok, Rationale.Config.defaults())) {
            AttributionResult done = r.attribute(AttributionRequest.of(text, "integrated_gradients").withSteps(24));
            AttributionSet ref = new Attributor(slow).run(AttributionInput.of(tok.encode(text)), TargetSpec.argmaxLogit(),
                    List.of(Method.INTEGRATED_GRADIENTS), Options.defaults().withSteps(24));
            assertTrue(((Number) done.extras().get("batches")).intValue() >= 12, "several batches: " + done.extras());
            assertArrayEquals(ref.get(Method.INTEGRATED_GRADIENTS).scores(), done.scores(), 0.0, "uncancelled: the same numbers");

            slow.delayMillis = 10;
            int steps = 1024, full = 2 + steps / 2;       // at least: the input's forward, the baseline's, the batches
            int before = slow.forwards.get();
            CompletableFuture<AttributionResult> f = r.attributeAsync(AttributionRequest.of(text, "integrated_gradients").withSteps(steps));
            long t0 = System.nanoTime();
            while (slow.forwards.get() - before < 6) {               // a few batches in
                assertTrue(System.nanoTime() - t0 < 10_000_000_000L);
                Thread.sleep(2);
            }
            assertTrue(f.cancel(false));
            assertThrows(CancellationException.class, () -> Rationale.join(f));
            t0 = System.nanoTime();
            while (r.load()[0] + r.load()[1] > 0) {
                assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "cancelled integrated gradients are freed at the next batch");
                Thread.sleep(2);
            }
            int passes = slow.forwards.get() - before;
            assertTrue(passes < full / 4, "stopped early: " + passes + " of at least " + full + " passes");
            Thread.sleep(100);
            assertEquals(passes, slow.forwards.get() - before, "no pass runs for it afterwards");
            slow.delayMillis = 0;
            AttributionResult again = r.attribute(AttributionRequest.of(text, "integrated_gradients").withSteps(24));
            assertArrayEquals(done.scores(), again.scores(), 0.0, "the engine computes the same after a cancelled run");
        }
    }

    /** The same masked predictions; probabilities within float rounding of batched passes. */
    static void assertSameFaithfulness(ExampleResult.Faithfulness a, ExampleResult.Faithfulness b) {
        assertSameMasked(a.main(), b.main());
        assertEquals(a.byFraction().keySet(), b.byFraction().keySet());
        for (String f : a.byFraction().keySet()) assertSameMasked(a.byFraction().get(f), b.byFraction().get(f));
        assertEquals(a.aopcComprehensiveness(), b.aopcComprehensiveness(), 1e-5);
        assertEquals(a.aopcSufficiency(), b.aopcSufficiency(), 1e-5);
    }

    static void assertSameMasked(ExampleResult.Masked a, ExampleResult.Masked b) {
        assertEquals(a.k(), b.k());
        assertEquals(a.predictedWithout(), b.predictedWithout());
        assertEquals(a.flipped(), b.flipped());
        assertEquals(a.comprehensiveness(), b.comprehensiveness(), 1e-5);
        assertEquals(a.sufficiency(), b.sufficiency(), 1e-5);
    }

    static JsonNode withoutSeconds(AttributionResult r) {
        JsonNode n = RationaleJson.MAPPER.valueToTree(r);
        strip(n);
        return n;
    }

    private static void strip(JsonNode n) {
        if (n.isObject()) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) n).remove("seconds");
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) strip(it.next().getValue());
        } else if (n.isArray()) {
            for (JsonNode x : n) strip(x);
        }
    }

    @Test
    void batchableMethodsAreThoseOfOneRecordedForward() {
        assertTrue(AttributionBatch.batchable(List.of(Method.SALIENCY, Method.ATTNLRP, Method.RANDOM)));
        assertFalse(AttributionBatch.batchable(List.of(Method.SALIENCY, Method.OCCLUSION)));
        assertFalse(AttributionBatch.batchable(List.of(Method.INTEGRATED_GRADIENTS)));
    }
}
