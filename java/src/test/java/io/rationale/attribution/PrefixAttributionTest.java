package io.rationale.attribution;

import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.tokenizer.Encoding;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Attributor after a cached prefix ({@link Attributor#run(AttributionInput, TargetSpec, List, Options, KvCache)})
 * against the same input without one (the independent path: the whole input recorded from position 0), on the tiny
 * generated model and stories260K: the scores of every token after the cut and every word score equal within
 * 1e-5·max|score| of that method over the tokens both runs score (f32 rounding of the same computation in different
 * batches); the tokens before the
 * cut score 0 and the methods that ran after the prefix say so ({@code cached_prefix_tokens}); integrated gradients
 * (which interpolates every token, prefix included) and occlusion equal too, as they run on the whole input; with
 * attention among the methods the whole input is recorded (no cut). The prefix cache is longer than the text before
 * the study range: the cut falls at the first study token. On the tiny model the prefix path runs again with a
 * memory budget of 1 byte, so its records are checkpointed (the backward recomputes each layer after the prefix).
 */
class PrefixAttributionTest {
    static final String INSTRUCTIONS = "Tom had a little dog. The dog liked to play in the park with a red ball every day."
            + " One day the ball rolled away and the dog ran after it. Classify the story.\n\nStory:";
    static final String STUDY = " Lily saw a big cat near the tree and she was happy";
    static final List<Method> METHODS = List.of(Method.SALIENCY, Method.INPUT_X_GRADIENT, Method.ATTNLRP, Method.CPLRP, Method.PE_LRP,
            Method.INTEGRATED_GRADIENTS, Method.OCCLUSION);
    static final double TOL = 1e-5;

    @Test
    void tinyModel() { check(Fixtures.tiny(), false); }

    @Test
    void tinyModelCheckpointed() { check(Fixtures.tiny(), true); }

    @Test
    void stories260K() { check(Fixtures.STORIES, false); }

    static void check(Path dir, boolean checkpointed) {
        try (Fixtures.Engine eng = Fixtures.Engine.open(dir)) {
            Backend b = eng.backend();
            assertTrue(b.supportsPrefixRecord());
            String text = INSTRUCTIONS + STUDY + "\nAnswer:";
            Encoding enc = eng.tok().encode(text);
            AttributionInput in = AttributionInput.of(enc, INSTRUCTIONS.length() + 1, INSTRUCTIONS.length() + STUDY.length());
            int first = 0;
            while (!in.inStudy(first)) first++;
            int held = first + 2;                                   // the cache holds two study tokens too: cut at the first
            // integrated gradients' steps in one batch in both runs (else the batching follows the free heap, and
            // another batch size rounds differently)
            Options o = Options.defaults().withSteps(8).withMaxBatchTokens(8 * in.size());
            TargetSpec target = TargetSpec.argmaxLogit();
            AttributionSet whole = eng.attributor().run(in, target, METHODS, o);
            AttributionSet after;
            try (KvCache prefix = b.newCache()) {
                b.forward(List.of(Arrays.copyOf(in.ids(), held)), List.of(prefix), ForwardOptions.of(LogitsMode.NONE));
                after = (checkpointed ? new Attributor(b, 1) : eng.attributor()).run(in, target, METHODS, o, prefix);
                assertEquals(held, prefix.length(), "the prefix cache is not modified");
                AttributionSet withAttention = eng.attributor().run(in, target, List.of(Method.SALIENCY, Method.ATTENTION), o, prefix);
                assertFalse(withAttention.get(Method.SALIENCY).extras().containsKey("cached_prefix_tokens"), "attention needs the whole record");
            }
            assertEquals(whole.target().spec().tokenId(), after.target().spec().tokenId(), "same target");
            for (Method m : METHODS) {
                Attribution w = whole.get(m), a = after.get(m);
                boolean cut = m.needsRecord();
                assertEquals(cut ? first : null, a.extras().get("cached_prefix_tokens"), m + " cached_prefix_tokens");
                if (checkpointed && m.needsRecord() && m != Method.PE_LRP)
                    assertEquals(true, a.extras().get("checkpointed_record"), m + " checkpointed");
                double max = 0;                                     // over the tokens both runs score
                for (int i = cut ? first : 0; i < in.size(); i++) max = Math.max(max, Math.abs(w.scores()[i]));
                assertTrue(max > 0, m + ": all zero");
                for (int i = 0; i < in.size(); i++) {
                    double expected = i < first && cut ? 0 : w.scores()[i];
                    assertTrue(Math.abs(expected - a.scores()[i]) <= TOL * max,
                            m + " token " + i + ": " + a.scores()[i] + " vs " + expected + " (max " + max + ")");
                }
                assertEquals(w.words().size(), a.words().size());
                for (int k = 0; k < w.words().size(); k++)
                    assertTrue(Math.abs(w.words().get(k).score() - a.words().get(k).score()) <= TOL * max, m + " word " + k);
            }
        }
    }
}
