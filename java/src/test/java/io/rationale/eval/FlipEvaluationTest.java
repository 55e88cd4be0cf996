package io.rationale.eval;

import io.rationale.engine.Backend;
import io.rationale.dataset.Example;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.metrics.Faithfulness;
import io.rationale.metrics.Masking;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

class FlipEvaluationTest {
    static final String BIO = "After graduating from dental school she opened a small practice in her home town, where she treats "
            + "children and adults, fits braces and crowns, and teaches patients how to care for their teeth and gums.";

    static List<Example> demos() {
        return List.of(Fixtures.bio("d1", "He works night shifts on the ward and gives patients their medicine.", "nurse"),
                Fixtures.bio("d2", "She operates on hearts and trains young surgeons at the city hospital.", "surgeon"));
    }

    static List<FlipEvaluation.Ranked> methods(int n) {
        int[] forward = new int[n], backward = new int[n];
        for (int i = 0; i < n; i++) {
            forward[i] = i;
            backward[i] = n - 1 - i;
        }
        return List.of(new FlipEvaluation.Ranked("first_words", forward, 4, true),
                new FlipEvaluation.Ranked("last_words", backward, 4, true),
                new FlipEvaluation.Ranked("same_as_first", forward, 4, true),         // identical variants: de-duplicated
                new FlipEvaluation.Ranked("prompt_guided", new int[]{3, 7, 8}, 3, false),
                new FlipEvaluation.Ranked("unparsed", new int[0], 0, false),
                new FlipEvaluation.Ranked("random", RandomRationale.ranking(n, RandomRationale.seed(0, "x")), 4, true));
    }

    /** Label scores of a complete prompt, computed here from the vocabulary logits: max over each label's tokens, softmax. */
    static double[] reference(Backend backend, LabelWords lw, int[] ids) {
        Logits l = backend.forward(ids, null, LogitsMode.LAST);
        float[] row = l.last(0);
        double[] z = new double[lw.size()];
        for (int i = 0; i < z.length; i++) {
            z[i] = Double.NEGATIVE_INFINITY;
            for (int id : lw.entries().get(i).tokenIds()) z[i] = Math.max(z[i], row[id]);
        }
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (double v : z) m = Math.max(m, v);
        double[] p = new double[z.length];
        for (int i = 0; i < z.length; i++) s += (p[i] = Math.exp(z[i] - m));
        for (int i = 0; i < z.length; i++) p[i] /= s;
        return p;
    }

    void batchedEqualsOneByOne(Tokenizer tok, Backend backend, Masking.Mode mode) {
        TaskTemplate t = TaskTemplate.medicalBios(Fixtures.BIOS);
        LabelWords lw = LabelWords.resolve(tok, Fixtures.BIOS, t.labelWordCandidates());
        PromptBuilder b = PromptBuilder.forTokenizer(tok, t, lw);
        Example ex = Fixtures.bio("x", BIO, "dentist");
        PromptBuilder.Layout layout = b.layout(ex, demos());
        assertTrue(layout.prefixIds().length > 64, "prefix spans a full KV block and a partial one");
        int n = ex.totalWords();
        // a small chunk bound: several batched forwards
        FlipEvaluation flip = new FlipEvaluation(backend, lw, mode, 200);
        FlipEvaluation.Outcome batched = flip.evaluate(ex, layout, methods(n), FlipEvaluation.Strategy.PREFIX_BATCHED);
        FlipEvaluation.Outcome single = flip.evaluate(ex, layout, methods(n), FlipEvaluation.Strategy.ONE_BY_ONE);

        assertEquals(single.variants().size(), batched.variants().size());
        // the token-level path (Backend#flipEvaluation, the host default here) is the host path: the same token rows
        // in the same batches, the same predictions and flips; the numbers within 1e-6 (not bit for bit: the CPU
        // engine's vector reductions round differently before and after the JIT compiles them, ~1e-7 here, and the
        // first run of this class is cold)
        assertTrue(batched.tokenLevel(), "built from the token-level description: " + batched.hostReason());
        assertFalse(single.tokenLevel());
        FlipEvaluation.Outcome host = new FlipEvaluation(backend, lw, mode, 200).tokenLevel(false)
                .evaluate(ex, layout, methods(n), FlipEvaluation.Strategy.PREFIX_BATCHED);
        assertFalse(host.tokenLevel());
        assertEquals(host.forwards(), batched.forwards());
        assertEquals(host.tokens(), batched.tokens());
        FlipDeviceTest.same(host, batched, 1e-6, false, "token level vs host path");
        assertTrue(batched.forwards() > 2, "chunked into several forwards: " + batched.forwards());
        assertEquals(single.variants().size(), single.forwards());
        for (int v = 0; v < batched.variants().size(); v++) {
            FlipEvaluation.Variant bv = batched.variants().get(v), sv = single.variants().get(v);
            assertEquals(sv.fields(), bv.fields());
            assertArrayEquals(sv.restIds(), bv.restIds());
            assertArrayEquals(sv.scores().probs(), bv.scores().probs(), 1e-4, "variant " + v + " " + bv.uses());
            assertEquals(sv.scores().predicted(), bv.scores().predicted());
        }
        // one-by-one is itself the plain forward of the variant's complete prompt
        for (int v : new int[]{0, batched.variants().size() / 2, batched.variants().size() - 1}) {
            FlipEvaluation.Variant bv = batched.variants().get(v);
            Prompt p = layout.classify(bv.fields());
            assertArrayEquals(reference(backend, lw, p.ids()), bv.scores().probs(), 1e-4);
        }
        // de-duplication: the same top-s words from two methods and repeated AOPC sizes are scored once
        assertTrue(batched.requested() > batched.variants().size());
        Set<List<String>> distinct = new HashSet<>();
        for (FlipEvaluation.Variant v : batched.variants()) assertTrue(distinct.add(v.fields()));
        assertEquals(List.of("original"), batched.variants().get(0).uses().subList(0, 1));
        assertEquals(batched.faithfulness().get("first_words"), batched.faithfulness().get("same_as_first"));

        // metrics from the variants' probabilities, recomputed here
        int y = batched.original().predicted();
        double py = batched.original().probs()[y];
        ExampleResult.Faithfulness f = batched.faithfulness().get("last_words");
        TreeSet<Integer> last4 = new TreeSet<>(List.of(n - 1, n - 2, n - 3, n - 4));
        double[] pRemoved = reference(backend, lw, layout.classify(flip.mask(ex, last4, false)).ids());
        double[] pKept = reference(backend, lw, layout.classify(flip.mask(ex, last4, true)).ids());
        assertEquals(4, f.main().k());
        assertEquals(py - pRemoved[y], f.main().comprehensiveness(), 1e-4);
        assertEquals(py - pKept[y], f.main().sufficiency(), 1e-4);
        int predWithout = 0;
        for (int i = 1; i < pRemoved.length; i++) if (pRemoved[i] > pRemoved[predWithout]) predWithout = i;
        assertEquals(lw.labels().get(predWithout), f.main().predictedWithout());
        assertEquals(predWithout != y, f.main().flipped());
        assertEquals(List.of("0.01", "0.05", "0.1", "0.2", "0.5"), new ArrayList<>(f.byFraction().keySet()));
        int[] sizes = Faithfulness.aopcSizes(n);
        double c = 0, s = 0;
        for (int i = 0; i < sizes.length; i++) {
            ExampleResult.Masked m = f.byFraction().get(FlipEvaluation.fractionKey(Faithfulness.AOPC_FRACTIONS[i]));
            assertEquals(sizes[i], m.k());
            c += m.comprehensiveness();
            s += m.sufficiency();
        }
        assertEquals(c / sizes.length, f.aopcComprehensiveness(), 1e-12);
        assertEquals(s / sizes.length, f.aopcSufficiency(), 1e-12);
        // prompting: main size only
        ExampleResult.Faithfulness g = batched.faithfulness().get("prompt_guided");
        assertEquals(3, g.main().k());
        assertTrue(g.byFraction().isEmpty());
        assertTrue(Double.isNaN(g.aopcComprehensiveness()) && Double.isNaN(g.aopcSufficiency()));
        // an empty rationale removes nothing
        ExampleResult.Faithfulness u = batched.faithfulness().get("unparsed");
        assertFalse(u.main().flipped());
        assertEquals(0, u.main().comprehensiveness(), 0);
    }

    @Test
    void batchedWithPrefixReuseEqualsOneByOneOnABaseModel() {
        batchedEqualsOneByOne(Fixtures.storiesTokenizer(), Fixtures.storiesBackend(), Masking.DELETE);
    }

    @Test
    void batchedWithPrefixReuseEqualsOneByOneOnAChatModelWithReplacement() {
        batchedEqualsOneByOne(Fixtures.tinyTokenizer(), Fixtures.tinyBackend(), new Masking.Replacement("_"));
    }

    @Test
    void maskingIsPerFieldWithGlobalIndices() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        List<String> nli = List.of("entailment", "neutral", "contradiction");
        LabelWords lw = LabelWords.resolve(tok, nli, TaskTemplate.nli(nli).labelWordCandidates());
        FlipEvaluation flip = new FlipEvaluation(Fixtures.storiesBackend(), lw, Masking.DELETE, 100);
        Example e = Fixtures.example("p", List.of("premise", "hypothesis"), List.of("A man sleeps.", "He rests now."), "entailment", nli);
        assertEquals(List.of("A sleeps.", "rests now."), flip.mask(e, new TreeSet<>(Set.of(1, 3)), false));
        assertEquals(List.of("man", "He"), flip.mask(e, new TreeSet<>(Set.of(1, 3)), true));
        assertEquals(List.of("", "He rests now."), flip.mask(e, new TreeSet<>(Set.of(0, 1, 2)), false));
        FlipEvaluation rep = new FlipEvaluation(Fixtures.storiesBackend(), lw, new Masking.Replacement("[X]"), 100);
        assertEquals(List.of("A [X] sleeps.", "[X] rests now."), rep.mask(e, new TreeSet<>(Set.of(1, 3)), false));
        assertEquals(Map.of(), Map.of());
    }

    /**
     * An example whose token-level description is refused (more kinds of line break between its words than
     * {@link TokenMasking#MAX_BREAKS}): recorded as such, scored the host way, the same outcome as a run with the token level
     * switched off; the other example of the same evaluator goes the token level.
     */
    @Test
    void anExampleTheTokenLevelDoesNotFitGoesTheHostPath() {
        Tokenizer tok = Fixtures.tinyTokenizer();
        TaskTemplate t = TaskTemplate.medicalBios(Fixtures.BIOS);
        LabelWords lw = LabelWords.resolve(tok, Fixtures.BIOS, t.labelWordCandidates());
        PromptBuilder b = PromptBuilder.forTokenizer(tok, t, lw);
        FlipEvaluation flip = new FlipEvaluation(Fixtures.tinyBackend(), lw, Masking.DELETE, 200);
        StringBuilder lines = new StringBuilder("He");
        for (int k = 1; k <= TokenMasking.MAX_BREAKS + 1; k++) lines.append("\n".repeat(k)).append("w").append(k);
        Example joined = Fixtures.bio("j", lines.toString(), "dentist");
        Example plain = Fixtures.bio("p", "He cleans and fixes teeth every day for the whole town.", "dentist");
        FlipEvaluation.Outcome a = flip.evaluate(joined, b.layout(joined, List.of()), methods(joined.totalWords()), FlipEvaluation.Strategy.PREFIX_BATCHED);
        assertFalse(a.tokenLevel());
        assertTrue(a.hostReason().contains("kinds of line break"), a.hostReason());
        FlipEvaluation.Outcome c = flip.evaluate(plain, b.layout(plain, List.of()), methods(plain.totalWords()), FlipEvaluation.Strategy.PREFIX_BATCHED);
        assertTrue(c.tokenLevel(), c.hostReason());
        assertEquals(ExampleResult.FLIP_HOST, a.path());
        assertEquals(ExampleResult.FLIP_TOKEN_LEVEL, c.path());
        FlipEvaluation.Outcome off = new FlipEvaluation(Fixtures.tinyBackend(), lw, Masking.DELETE, 200).tokenLevel(false)
                .evaluate(joined, b.layout(joined, List.of()), methods(joined.totalWords()), FlipEvaluation.Strategy.PREFIX_BATCHED);
        FlipDeviceTest.same(off, a, 1e-6, false, "host path");
    }

    @Test
    void tooLongPromptsAreRefused() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        LabelWords lw = LabelWords.resolve(tok, Fixtures.BIOS, TaskTemplate.medicalBios(Fixtures.BIOS).labelWordCandidates());
        FlipEvaluation flip = new FlipEvaluation(Fixtures.storiesBackend(), lw, Masking.DELETE, 100);
        int[] ids = new int[600];
        java.util.Arrays.fill(ids, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> flip.prefill(ids));
        assertTrue(e.getMessage().contains("512 positions"), e.getMessage());
    }
}
