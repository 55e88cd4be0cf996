package io.rationale.eval;

import io.rationale.dataset.Example;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.Model;
import io.rationale.engine.PositionalBackward;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
import io.rationale.engine.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eval's attribution after its prompt-prefix cache ({@link ModelEvaluator.Settings#prefixCache}) is used and
 * changes nothing: on stories260K with 2-shot bios, the recorded forwards of the prefix setting hold only the rows
 * after the prompt prefix (the prefix's length fewer than the prompt's), those of the whole-prompt setting the whole
 * prompt; every method's word scores agree within 1e-5·max|score| (f32 rounding of the same computation). On every
 * device of {@link TestBackends} (the CPU, the emulated CUDA device when built: its prefix records; pe_lrp, which needs
 * RoPE's positional relevance, runs on a CPU backend there, over the whole prompt).
 */
class PrefixAttributionEvalTest {
    static final List<String> METHODS = List.of("saliency", "input_x_gradient", "attnlrp", "cplrp", "pe_lrp");

    static List<String> devices() { return TestBackends.devices(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void attributionRecordsOnlyTheRowsAfterThePromptPrefixAndScoresTheSame(String device) {
        Backend backend = device.equals("cpu") ? Fixtures.storiesBackend() : TestBackends.open(Fixtures.storiesModel(), device);
        try {
            check(backend);
        } finally {
            if (backend != Fixtures.storiesBackend()) backend.close();
        }
    }

    static void check(Backend backend) {
        List<Example> pool = List.of(
                Fixtures.bio("a", "She is a nurse who cares for patients in the ward at night", "nurse", 3),
                Fixtures.bio("b", "He is a surgeon who operates on the heart and the lungs", "surgeon", 3),
                Fixtures.bio("c", "She works as a dentist and fixes teeth of many children", "dentist", 4),
                Fixtures.bio("d", "He is a psychologist who listens to people and their worries", "psychologist", 3));
        EvalOptions o = new EvalOptions(METHODS, "human", "delete", "majority", 2, 0, 8);
        ModelEvaluator.Settings s = ModelEvaluator.Settings.defaults();
        Recording withRec = new Recording(backend), wholeRec = new Recording(backend);
        Example ex = pool.get(0);
        ExampleResult with, whole;
        int promptLength, prefixLength;
        try (ModelEvaluator a = new ModelEvaluator(withRec, Fixtures.storiesTokenizer(), "medicalbios", Fixtures.BIOS, pool, o, s);
             ModelEvaluator b = new ModelEvaluator(wholeRec, Fixtures.storiesTokenizer(), "medicalbios", Fixtures.BIOS, pool, o,
                     s.withPrefixCache(false))) {
            assertTrue(s.prefixCache(), "on by default");
            Prompt p = a.prompts().layout(ex, new FewShot(pool, 2, 0).demosFor(ex)).classify(List.of(ex.fields().get(0).text()));
            promptLength = p.length();
            prefixLength = p.prefixIds().length;
            with = a.evaluate(0, ex);
            whole = b.evaluate(0, ex);
        }
        assertNull(with.skipped(), with.skipped());
        assertNull(whole.skipped(), whole.skipped());
        assertTrue(prefixLength > 50, "a 2-shot prefix: " + prefixLength);
        assertEquals(List.of(promptLength - prefixLength), withRec.recordedTokens, "recorded after the prompt prefix");
        assertEquals(List.of(promptLength), wholeRec.recordedTokens, "the whole prompt recorded");
        for (String m : METHODS) {
            double[] x = with.methods().get(m).scores(), y = whole.methods().get(m).scores();
            double max = 0, diff = 0;
            for (int i = 0; i < y.length; i++) {
                max = Math.max(max, Math.abs(y[i]));
                diff = Math.max(diff, Math.abs(x[i] - y[i]));
            }
            assertTrue(max > 0, m);
            assertTrue(diff <= 1e-5 * max, backend.device() + " " + m + ": max |diff| " + diff + " of max " + max);
        }
    }

    /** Delegates to a backend and notes the token count of every recorded forward. */
    static final class Recording implements Backend {
        final Backend inner;
        final List<Integer> recordedTokens = new ArrayList<>();

        Recording(Backend inner) { this.inner = inner; }

        @Override public Model model() { return inner.model(); }
        @Override public String device() { return inner.device(); }
        @Override public KvCache newCache() { return inner.newCache(); }
        @Override public ForwardRecord newRecord(boolean keepAttentionProbs, boolean recompute) { return inner.newRecord(keepAttentionProbs, recompute); }
        @Override public int forwardBatchTokens() { return inner.forwardBatchTokens(); }
        @Override public long memoryBudget() { return inner.memoryBudget(); }
        @Override public long bytesPerRecordedSequence(int tokens, boolean recompute) { return inner.bytesPerRecordedSequence(tokens, recompute); }
        @Override public boolean supportsBackward() { return inner.supportsBackward(); }
        @Override public boolean supportsPrefixRecord() { return inner.supportsPrefixRecord(); }
        @Override public boolean supportsPositionalRelevance() { return inner.supportsPositionalRelevance(); }

        @Override
        public Logits forward(List<int[]> tokens, List<KvCache> caches, ForwardOptions options) {
            if (options.record() != null) for (int[] t : tokens) recordedTokens.add(t.length);
            return inner.forward(tokens, caches, options);
        }

        @Override
        public Logits forwardEmbeddings(List<float[]> embeddings, ForwardOptions options) { return inner.forwardEmbeddings(embeddings, options); }

        @Override
        public float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode) { return inner.backward(record, targets, mode); }

        @Override
        public PositionalBackward backwardWithPositions(ForwardRecord record, List<Target> targets, RuleMode mode) {
            return inner.backwardWithPositions(record, targets, mode);
        }

        @Override public void close() { }
    }
}
