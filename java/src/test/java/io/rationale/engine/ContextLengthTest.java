package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Item 1 of issue 10: generation never runs a token at or past max_position_embeddings, and streams its tokens.
 * Two models with the same weights: one with 16 positions, one with 4096.
 */
class ContextLengthTest {
    static final int POSITIONS = 16;
    static final int[] PROMPT = {3, 17, 8, 41, 22};
    static final Map<String, Backend[]> BACKENDS = new java.util.LinkedHashMap<>();

    static List<String> devices() { return TestBackends.devices(); }

    static ModelConfig config(int positions) {
        return TestModels.config("""
                {"architectures":["LlamaForCausalLM"],"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,
                 "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":50,"rms_norm_eps":1e-5,
                 "rope_theta":10000.0,"tie_word_embeddings":false,"eos_token_id":[49],"max_position_embeddings":%d}""".formatted(positions));
    }

    @BeforeAll
    static void setUp() {
        Map<String, Tensor> weights = TestModels.random(config(POSITIONS), DType.F32, 9, false);
        Model small = Model.of(config(POSITIONS), weights), large = Model.of(config(4096), weights);
        for (String d : devices()) BACKENDS.put(d, new Backend[]{TestBackends.open(small, d), TestBackends.open(large, d)});
    }

    @AfterAll
    static void tearDown() {
        for (Backend[] b : BACKENDS.values()) for (Backend x : b) x.close();
    }

    @ParameterizedTest
    @MethodSource("devices")
    void generationStopsWhenThePositionsAreFull(String device) {
        Backend small = BACKENDS.get(device)[0], large = BACKENDS.get(device)[1];
        List<Integer> streamed = new ArrayList<>();
        Generator.Result r = new Generator(small).generate(PROMPT, 1000, SamplingParams.greedy(), Set.of(), (s, t) -> streamed.add(t));
        // positions 0..15 hold the prompt and the new tokens but the last; the last new token comes from position 15
        assertEquals(POSITIONS - PROMPT.length + 1, r.tokens().length);
        assertEquals(Generator.StopReason.MAX_POSITIONS, r.stopReason());
        assertEquals(POSITIONS, r.cache().length());
        // the same tokens as without the limit: the limit only stops, it changes nothing before
        int[] unlimited = new Generator(large).generate(PROMPT, r.tokens().length, SamplingParams.greedy(), Set.of()).tokens();
        assertArrayEquals(unlimited, r.tokens());
        assertEquals(Arrays.stream(r.tokens()).boxed().toList(), streamed, "each token streamed, in order");
    }

    @ParameterizedTest
    @MethodSource("devices")
    void aPromptLongerThanThePositionsIsRefused(String device) {
        Backend small = BACKENDS.get(device)[0];
        int[] tooLong = new int[POSITIONS + 1];
        var e = assertThrows(IllegalArgumentException.class, () -> new Generator(small).generate(tooLong, 4, SamplingParams.greedy()));
        assertTrue(e.getMessage().contains((POSITIONS + 1) + " tokens") && e.getMessage().contains(POSITIONS + " positions"), e.getMessage());
        // exactly full: one token, from the last position
        Generator.Result full = new Generator(small).generate(new int[POSITIONS], 4, SamplingParams.greedy(), Set.of());
        assertEquals(1, full.tokens().length);
        assertEquals(Generator.StopReason.MAX_POSITIONS, full.stopReason());
    }
}
