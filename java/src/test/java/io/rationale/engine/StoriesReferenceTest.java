package io.rationale.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The real stories260K checkpoint against {@code reference_outputs.json} (an independent float64 implementation
 * that agrees with llama2.c): prompt logits, per-position top-5 and maxima, and the 255-token greedy continuation,
 * on every backend ({@link TestBackends}; the model is f32, so every backend is held to 1e-4).
 */
class StoriesReferenceTest {
    static final Path DIR = Path.of(System.getProperty("rationale.shared", "../shared"), "data", "models", "stories260K-hf");
    static Model model;
    static final java.util.Map<String, Backend> BACKENDS = new java.util.LinkedHashMap<>();
    static JsonNode ref;

    static java.util.List<String> devices() { return TestBackends.devices(); }

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(DIR);
        for (String d : devices()) BACKENDS.put(d, TestBackends.open(model, d));
        ref = new ObjectMapper().readTree(DIR.resolve("reference_outputs.json").toFile());
    }

    @AfterAll
    static void close() {
        BACKENDS.values().forEach(Backend::close);
        model.close();
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    @ParameterizedTest
    @MethodSource("devices")
    void promptLogitsMatchTheReference(String device) {
        Backend backend = BACKENDS.get(device);
        int[] prompt = ints(ref.get("prompt_ids"));
        Logits all = backend.forward(prompt, null, LogitsMode.ALL);
        assertEquals(prompt.length, all.rows(0));
        float[] last = all.last(0);
        JsonNode first10 = ref.get("prompt_logits_last_position_first10");
        for (int i = 0; i < 10; i++) assertEquals(first10.get(i).asDouble(), last[i], 1e-4, "logit " + i);
        assertEquals(ref.get("prompt_logits_last_position_argmax").asInt(), Sampler.argmax(last));
        for (int p = 0; p < prompt.length; p++) {
            float[] row = all.row(0, p);
            int[] top5 = IntStream.range(0, row.length).boxed()
                    .sorted(Comparator.comparingDouble((Integer t) -> -row[t])).limit(5).mapToInt(Integer::intValue).toArray();
            assertArrayEquals(ints(ref.get("prompt_logits_all_positions_top5").get(p)), top5, "top5 at position " + p);
            float max = row[top5[0]];
            assertEquals(ref.get("prompt_logits_all_positions_max").get(p).asDouble(), max, 1e-4, "max at position " + p);
        }
        // LAST mode returns the same row as ALL (up to f32 summation order: one row takes the decode kernel)
        assertArrayEquals(last, backend.forward(prompt, null, LogitsMode.LAST).last(0), 1e-5f);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void greedyContinuationMatchesTokenForToken(String device) {
        Backend backend = BACKENDS.get(device);
        int[] expected = ints(ref.get("greedy_from_bos_ids"));
        Generator.Result r = new Generator(backend).generate(new int[]{expected[0]}, expected.length - 1, SamplingParams.greedy(), Set.of());
        int[] got = new int[r.tokens().length + 1];
        got[0] = expected[0];
        System.arraycopy(r.tokens(), 0, got, 1, r.tokens().length);
        assertArrayEquals(expected, got, () -> "first difference at " + Arrays.mismatch(expected, got));
        assertEquals(Generator.StopReason.MAX_TOKENS, r.stopReason());
    }
}
