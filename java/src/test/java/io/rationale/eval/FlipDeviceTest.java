package io.rationale.eval;

import io.rationale.cuda.EmulatedDevice;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.KvCache;
import io.rationale.engine.TestBackends;
import io.rationale.metrics.Masking;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused flip evaluation on the emulated device ({@code CudaBackend#flipEvaluation}: variants built by
 * {@code flip_build} from the rankings, scored after forks of the cached prefix, probabilities and metrics by
 * {@code flip_scores}) against
 * <ul>
 *   <li>the CPU engine's flip evaluation of the same examples: the same predictions and flips exactly, probabilities,
 *       comprehensiveness and sufficiency within 1e-4 absolute (f32 models, two engines' float rounding);</li>
 *   <li>the host path on the same device (each variant tokenized, {@code forwardLabelLogits}): the same batches, so the
 *       same label logits bit for bit, and the probabilities and metrics within 1e-12 (both double softmaxes);</li>
 *   <li>itself with the emulated device's memory capped: more, smaller batches, the same numbers, no failure.</li>
 * </ul>
 * On stories260K-hf (sentencepiece tokenizer; 8 query heads on 4 key/value heads) with deletion, medical-bios and e-SNLI
 * examples, and on the weights-tools tiny model (GQA 4/2, llama3 RoPE, byte-level BPE, chat template) with replacement
 * (e-SNLI, FEVER) and deletion (FEVER: line breaks inside a field, forms that depend on the separator after a word).
 */
class FlipDeviceTest {
    @Test
    void storiesOnTheEmulatedDeviceEqualsTheCpu() {
        Fixtures.storiesBackend();
        check(Fixtures.storiesTokenizer(), Fixtures.storiesModel(), Fixtures.storiesBackend(), Masking.DELETE, true, "medicalbios", "esnli");
    }

    @Test
    void generatedGqaModelOnTheEmulatedDeviceEqualsTheCpu() {
        Fixtures.tinyBackend();
        check(Fixtures.tinyTokenizer(), Fixtures.tinyModel(), Fixtures.tinyBackend(), new Masking.Replacement("[X]"), false, "esnli", "fever");
    }

    /** FEVER with byte-level BPE, deletion: line breaks inside a field, a period and a newline in one token. */
    @Test
    void lineBreaksInsideAFieldOnTheEmulatedDeviceEqualTheCpu() {
        Fixtures.tinyBackend();
        check(Fixtures.tinyTokenizer(), Fixtures.tinyModel(), Fixtures.tinyBackend(), Masking.DELETE, false, "fever");
    }

    void check(Tokenizer tok, io.rationale.engine.Model model, Backend cpu, Masking.Mode mode, boolean capped, String... kinds) {
        Assumptions.assumeTrue(TestBackends.emulatedDeviceBuilt(), "the emulated device is not in this build");
        var d = Fixtures.shared().resolve("data/datasets");
        Map<String, java.nio.file.Path> paths = Map.of("medicalbios", d.resolve("medicalbios/standard_biosbias_rationales.jsonl"),
                "esnli", d.resolve("esnli/train-highlight-sample/esnli_train_sample.csv"), "fever", d.resolve("fever-claims/test.jsonl"));
        List<Dataset> sets = java.util.Arrays.stream(kinds).map(k -> DatasetLoader.load(k, paths.get(k))).toList();
        int checked = 0;
        try (Backend gpu = Backends.open(model, Device.parse("cuda-emu")).backend()) {
            for (Dataset ds : sets) {
                List<String> names = ds.examples().getFirst().fields().stream().map(TextField::name).toList();
                TaskTemplate t = TaskTemplate.forDataset(ds.kind(), ds.labels(), names);
                LabelWords lw = LabelWords.resolve(tok, ds.labels(), t.labelWordCandidates());
                PromptBuilder pb = PromptBuilder.forTokenizer(tok, t, lw);
                boolean nli = ds.kind().equals("esnli");
                boolean fever = ds.kind().equals("fever");
                int shortest = -1;                         // the shortest of the first 30 (the emulated device is slow)
                for (int i = 0; i < 30; i++) {             // FEVER: with a line break inside a field
                    Example x = ds.examples().get(i);
                    if (fever && x.fields().stream().noneMatch(f -> f.text().strip().contains("\n"))) continue;
                    if (shortest < 0 || x.totalWords() < ds.examples().get(shortest).totalWords()) shortest = i;
                }
                assertTrue(shortest >= 0, ds.kind());
                for (int e : new int[]{shortest}) {
                    Example ex = ds.examples().get(e);
                    long t0 = System.nanoTime();
                    PromptBuilder.Layout layout = pb.layout(ex, List.of());
                    List<FlipEvaluation.Ranked> methods = TokenMaskingTest.methods(ex.totalWords(), e);
                    boolean given = nli;                    // the original scored by the caller (as the eval does), or with the variants
                    FlipEvaluation.Outcome onCpu = run(new FlipEvaluation(cpu, lw, mode, 300), ex, layout, methods, given);
                    FlipEvaluation.Outcome onDevice = run(new FlipEvaluation(gpu, lw, mode, 300), ex, layout, methods, given);
                    String where = ds.kind() + " " + ex.id();
                    assertTrue(onDevice.tokenLevel(), where + ": on the device (" + onDevice.hostReason() + ")");
                    assertTrue(onDevice.forwards() > 1, where + ": several batched forwards");
                    assertEquals(onCpu.tokens(), onDevice.tokens(), where);
                    same(onCpu, onDevice, 1e-4, false, where + " (CPU)");
                    if (nli) {
                        FlipEvaluation.Outcome hostPath = run(new FlipEvaluation(gpu, lw, mode, 300).tokenLevel(false), ex, layout, methods, given);
                        assertFalse(hostPath.tokenLevel());
                        assertEquals(hostPath.forwards(), onDevice.forwards(), where);
                        same(hostPath, onDevice, 1e-12, true, where + " (host path on the device)");
                    }
                    if (capped && nli) {
                        long limit = EmulatedDevice.memoryLimit();
                        FlipEvaluation.Outcome small;
                        try {
                            EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes() + (3L << 19));
                            small = run(new FlipEvaluation(gpu, lw, mode, 100_000), ex, layout, methods, given);
                        } finally {
                            EmulatedDevice.setMemoryLimit(limit);
                        }
                        assertTrue(small.tokenLevel());
                        assertTrue(small.forwards() > 1, where + ": ran out of memory and split: " + small.forwards());
                        same(onDevice, small, 1e-6, false, where + " (capped memory)");
                    }
                    System.out.printf("[flip device] %s %s: %d words, %d variants, %.1f s%n", model.config().numHeads(), ex.id(), ex.totalWords(),
                            onDevice.variants().size(), (System.nanoTime() - t0) / 1e9);
                    checked++;
                }
            }
        }
        assertEquals(kinds.length, checked);
    }

    static FlipEvaluation.Outcome run(FlipEvaluation flip, Example ex, PromptBuilder.Layout layout, List<FlipEvaluation.Ranked> methods, boolean given) {
        try (KvCache prefix = flip.prefill(layout.prefixIds())) {
            LabelWords.Scores orig = given ? flip.score(prefix, List.of(layout.classify(ex.fields().stream().map(TextField::text).toList()).restIds())).get(0) : null;
            return flip.evaluate(ex, layout, methods, FlipEvaluation.Strategy.PREFIX_BATCHED, prefix, orig);
        }
    }

    /** Same variants, predictions and flips; probabilities, logits (when {@code logits}), metrics within tol. */
    static void same(FlipEvaluation.Outcome a, FlipEvaluation.Outcome b, double tol, boolean logits, String where) {
        assertEquals(a.variants().size(), b.variants().size(), where);
        for (int v = 0; v < a.variants().size(); v++) {
            LabelWords.Scores x = a.variants().get(v).scores(), y = b.variants().get(v).scores();
            assertArrayEquals(a.variants().get(v).restIds(), b.variants().get(v).restIds(), where + " variant " + v);
            assertEquals(x.predicted(), y.predicted(), where + " variant " + v + " prediction");
            assertArrayEquals(x.probs(), y.probs(), tol, where + " variant " + v + " probabilities");
            if (logits) {
                assertArrayEquals(x.logits(), y.logits(), 0, where + " variant " + v + " label logits");
                assertArrayEquals(x.bestTokens(), y.bestTokens(), where + " variant " + v + " label tokens");
            }
        }
        assertEquals(a.faithfulness().keySet(), b.faithfulness().keySet());
        for (Map.Entry<String, ExampleResult.Faithfulness> e : a.faithfulness().entrySet()) {
            ExampleResult.Faithfulness f = e.getValue(), g = b.faithfulness().get(e.getKey());
            String m = where + " " + e.getKey();
            masked(f.main(), g.main(), tol, m);
            assertEquals(f.byFraction().keySet(), g.byFraction().keySet(), m);
            for (String k : f.byFraction().keySet()) masked(f.byFraction().get(k), g.byFraction().get(k), tol, m + " " + k);
            assertEquals(f.aopcComprehensiveness(), g.aopcComprehensiveness(), tol, m + " AOPC comprehensiveness");
            assertEquals(f.aopcSufficiency(), g.aopcSufficiency(), tol, m + " AOPC sufficiency");
        }
    }

    static void masked(ExampleResult.Masked a, ExampleResult.Masked b, double tol, String where) {
        assertEquals(a.k(), b.k(), where);
        assertEquals(a.predictedWithout(), b.predictedWithout(), where);
        assertEquals(a.flipped(), b.flipped(), where);
        assertEquals(a.comprehensiveness(), b.comprehensiveness(), tol, where + " comprehensiveness");
        assertEquals(a.sufficiency(), b.sufficiency(), tol, where + " sufficiency");
    }
}
