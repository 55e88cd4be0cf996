package io.rationale.attribution;

import io.rationale.engine.Backend;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An attributor's cancellation check ({@link Attributor#Attributor(Backend, java.util.function.BooleanSupplier)}): asked
 * between passes, it stops a run at the next one; a check that never fires changes nothing.
 */
class CancellationTest {
    static Fixtures.Engine engine;
    static Tokenizer tok;
    static Backend backend;
    static final String TEXT = "When the small boat was warm, Tom saw the sea and the big red ball";

    @BeforeAll
    static void load() {
        engine = Fixtures.Engine.open(Fixtures.tiny());
        tok = engine.tok();
        backend = engine.backend();
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    static AttributionInput input() { return AttributionInput.of(tok.encode(TEXT)); }

    @Test
    void integratedGradientsStopsAtTheNextBatchOfSteps() {
        AttributionInput in = input();
        Options o = Options.defaults().withSteps(64).withMaxBatchTokens(2 * in.size());     // 32 batches of 2 steps
        CountingBackend all = new CountingBackend(backend);
        Attribution whole = new Attributor(all).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o);
        assertEquals(32, ((Number) whole.extras().get("batches")).intValue());
        assertEquals(33, all.count("forwardEmbeddings"), "the baseline's forward, then the batches");

        CountingBackend counting = new CountingBackend(backend);
        // cancelled once the baseline and 3 batches ran (as a request whose client goes away then)
        Attributor a = new Attributor(counting, () -> counting.count("forwardEmbeddings") >= 4);
        assertThrows(CancellationException.class, () -> a.attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o));
        assertEquals(4, counting.count("forwardEmbeddings"), "no batch after the cancellation: " + counting.calls);
        assertEquals(3, counting.count("backward"));

        Attribution after = new Attributor(backend).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o);
        assertArrayEquals(whole.scores(), after.scores(), 0.0, "the backend computes the same after a cancelled run");
    }

    @Test
    void occlusionStopsAfterTheBatchOfVariantsRunning() {
        AttributionInput in = input();
        Options o = Options.defaults().withMaxForwardTokens(4);       // many batched forwards of variants
        CountingBackend all = new CountingBackend(backend);
        new Attributor(all).attribute(in, TargetSpec.argmaxLogit(), Method.OCCLUSION, o);
        assertTrue(all.count("forward") > 6, "several batches: " + all.count("forward"));

        CountingBackend counting = new CountingBackend(backend);
        Attributor a = new Attributor(counting, () -> counting.count("forward") >= 3);    // the input's forward, 2 batches
        assertThrows(CancellationException.class, () -> a.attribute(in, TargetSpec.argmaxLogit(), Method.OCCLUSION, o));
        assertEquals(3, counting.count("forward"), "no batch after the cancellation");
    }

    @Test
    void severalMethodsStopBetweenMethods() {
        AttributionInput in = input();
        CountingBackend counting = new CountingBackend(backend);
        Attributor a = new Attributor(counting, () -> counting.count("backward") >= 1);
        assertThrows(CancellationException.class, () -> a.run(in, TargetSpec.argmaxLogit(),
                List.of(Method.SALIENCY, Method.ATTNLRP, Method.CPLRP, Method.PE_LRP), Options.defaults()));
        assertEquals(1, counting.count("backward"), "only saliency's backward ran: " + counting.calls);

        // pe_lrp on a backend without positional relevance: not started on the CPU once cancelled
        CountingBackend noPositions = new CountingBackend(backend) {
            @Override
            public boolean supportsPositionalRelevance() { return false; }
        };
        Attributor b = new Attributor(noPositions, () -> noPositions.count("backward") >= 1);
        assertThrows(CancellationException.class, () -> b.run(in, TargetSpec.argmaxLogit(), List.of(Method.SALIENCY, Method.PE_LRP), Options.defaults()));
        assertEquals(1, noPositions.count("backward"));
    }

    @Test
    void aBatchStopsBeforeItsNextBackwardOnceCancelled() {
        List<AttributionBatch.Item> items = List.of(
                new AttributionBatch.Item(input(), TargetSpec.argmaxLogit(), List.of(Method.SALIENCY, Method.ATTNLRP, Method.CPLRP), Options.defaults()),
                new AttributionBatch.Item(AttributionInput.of(tok.encode("Tom saw the sea")), TargetSpec.argmaxLogit(),
                        List.of(Method.SALIENCY, Method.ATTNLRP, Method.CPLRP), Options.defaults()));
        CountingBackend all = new CountingBackend(backend);
        List<AttributionSet> whole = AttributionBatch.run(all, items);
        assertEquals(1, all.count("forward"));
        assertEquals(3, all.count("backward"), "one backward per rule: " + all.calls);

        CountingBackend counting = new CountingBackend(backend);
        // cancelled once the forward and the gradient's backward ran
        assertThrows(CancellationException.class,
                () -> AttributionBatch.run(counting, items, () -> counting.count("backward") >= 1));
        assertEquals(1, counting.count("backward"), "no backward after the cancellation: " + counting.calls);

        int[] asked = {0};
        List<AttributionSet> checked = AttributionBatch.run(backend, items, () -> asked[0]++ < 0);
        assertEquals(3, asked[0], "asked before each backward");
        for (int s = 0; s < items.size(); s++)
            for (Method m : items.get(s).methods())
                assertArrayEquals(whole.get(s).get(m).scores(), checked.get(s).get(m).scores(), 0.0, m.cliName());
    }

    @Test
    void aCheckThatNeverFiresChangesNothing() {
        AttributionInput in = input();
        Options o = Options.defaults().withSteps(16).withMaxBatchTokens(4 * in.size()).withMaxForwardTokens(8);
        List<Method> methods = List.of(Method.SALIENCY, Method.ATTNLRP, Method.INTEGRATED_GRADIENTS, Method.OCCLUSION, Method.PE_LRP);
        CountingBackend plain = new CountingBackend(backend), checked = new CountingBackend(backend);
        int[] asked = {0};
        AttributionSet a = new Attributor(plain).run(in, TargetSpec.argmaxLogit(), methods, o);
        AttributionSet b = new Attributor(checked, () -> asked[0]++ < 0).run(in, TargetSpec.argmaxLogit(), methods, o);
        assertTrue(asked[0] > methods.size(), "asked between passes: " + asked[0]);
        assertEquals(plain.calls.size(), checked.calls.size(), "the same passes");
        for (Method m : methods) {
            assertArrayEquals(a.get(m).scores(), b.get(m).scores(), 0.0, m.cliName());
            assertEquals(a.get(m).words().stream().map(Attribution.WordScore::score).toList(),
                    b.get(m).words().stream().map(Attribution.WordScore::score).toList(), m.cliName());
        }
    }
}
