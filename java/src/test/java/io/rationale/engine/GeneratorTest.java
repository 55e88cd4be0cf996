package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Greedy and sampled generation, on every backend ({@link TestBackends}): determinism per seed, limits of
 * temperature and top-p, stop tokens, batches, and the backend's choice of each next token equal to the host
 * {@link Sampler} on its logits.
 */
class GeneratorTest {
    static final java.util.Map<String, Backend> BACKENDS = new java.util.LinkedHashMap<>();
    static final int[] PROMPT = {3, 17, 8, 41, 22};

    static List<String> devices() { return TestBackends.devices(); }

    @BeforeAll
    static void setUp() {
        ModelConfig c = TestModels.config("""
                {"architectures":["LlamaForCausalLM"],"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,
                 "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":50,"rms_norm_eps":1e-5,
                 "rope_theta":10000.0,"tie_word_embeddings":false,"eos_token_id":[49]}""");
        Model m = Model.of(c, TestModels.random(c, DType.F32, 9, false));
        for (String d : devices()) BACKENDS.put(d, TestBackends.open(m, d));
    }

    @AfterAll
    static void tearDown() { BACKENDS.values().forEach(Backend::close); }

    @ParameterizedTest
    @MethodSource("devices")
    void greedyFollowsTheArgmaxOfFullPrefills(String device) {
        Backend backend = BACKENDS.get(device);
        Generator gen = new Generator(backend);
        int[] out = gen.generate(PROMPT, 12, SamplingParams.greedy(), Set.of()).tokens();
        assertEquals(12, out.length);
        int[] seq = PROMPT.clone();
        for (int t : out) {
            assertEquals(backend.forward(seq, null, LogitsMode.LAST).argmax(0, 0), t);
            seq = java.util.Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = t;
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void samplingIsDeterministicForASeed(String device) {
        Backend backend = BACKENDS.get(device);
        Generator gen = new Generator(backend);
        SamplingParams p = new SamplingParams(1.0, 0.95, 1234);
        int[] a = gen.generate(PROMPT, 20, p, Set.of()).tokens();
        int[] b = gen.generate(PROMPT, 20, p, Set.of()).tokens();
        assertArrayEquals(a, b);
        int[] c = gen.generate(PROMPT, 20, new SamplingParams(1.0, 0.95, 99), Set.of()).tokens();
        assertFalse(java.util.Arrays.equals(a, c), "another seed draws another sequence");
        int[] greedy = gen.generate(PROMPT, 20, SamplingParams.greedy(), Set.of()).tokens();
        assertFalse(java.util.Arrays.equals(a, greedy), "temperature 1 on a random model is not greedy");
    }

    @ParameterizedTest
    @MethodSource("devices")
    void tinyTemperatureOrTinyTopPIsGreedy(String device) {
        Backend backend = BACKENDS.get(device);
        Generator gen = new Generator(backend);
        int[] greedy = gen.generate(PROMPT, 15, SamplingParams.greedy(), Set.of()).tokens();
        assertArrayEquals(greedy, gen.generate(PROMPT, 15, new SamplingParams(1e-6, 1.0, 5), Set.of()).tokens());
        assertArrayEquals(greedy, gen.generate(PROMPT, 15, new SamplingParams(1.5, 1e-9, 5), Set.of()).tokens());
    }

    @ParameterizedTest
    @MethodSource("devices")
    void stopsAtStopTokensAndAtTheBudget(String device) {
        Backend backend = BACKENDS.get(device);
        Generator gen = new Generator(backend);
        int[] greedy = gen.generate(PROMPT, 10, SamplingParams.greedy(), Set.of()).tokens();
        Generator.Result r = gen.generate(PROMPT, 10, SamplingParams.greedy(), Set.of(greedy[3]));
        int firstStop = 0;
        while (greedy[firstStop] != greedy[3]) firstStop++;
        assertEquals(firstStop + 1, r.tokens().length);
        assertEquals(Generator.StopReason.STOP_TOKEN, r.stopReason());
        Generator.Result m = gen.generate(PROMPT, 4, SamplingParams.greedy(), Set.of());
        assertEquals(Generator.StopReason.MAX_TOKENS, m.stopReason());
        assertEquals(4, m.tokens().length);
        assertEquals(PROMPT.length + 3, m.cache().length());
        assertEquals(0, gen.generate(PROMPT, 0, SamplingParams.greedy()).tokens().length);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void batchGenerationEqualsOneByOne(String device) {
        Backend backend = BACKENDS.get(device);
        Generator gen = new Generator(backend);
        List<int[]> prompts = List.of(PROMPT, new int[]{7}, new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        SamplingParams p = new SamplingParams(0.8, 0.9, 77);
        List<Generator.Result> batch = gen.generateBatch(prompts,
                List.of(backend.newCache(), backend.newCache(), backend.newCache()), 10, p, Set.of());
        for (int i = 0; i < prompts.size(); i++) {
            SamplingParams own = new SamplingParams(0.8, 0.9, 77 + i);
            assertArrayEquals(gen.generate(prompts.get(i), 10, own, Set.of()).tokens(), batch.get(i).tokens(), "prompt " + i);
        }
    }

    /**
     * Each step of generation picks exactly what the host {@link Sampler} picks on that step's last logits with the
     * same draw (a backend may choose on its device): greedy and several temperatures and nuclei.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void eachStepPicksTheHostSamplersTokenOnItsLogits(String device) {
        Backend backend = BACKENDS.get(device);
        SplittableRandom rng = new SplittableRandom(5);
        for (SamplingParams p : List.of(SamplingParams.greedy(), new SamplingParams(1.0, 1.0, 0), new SamplingParams(0.7, 0.9, 0),
                new SamplingParams(2.0, 0.5, 0))) {
            try (KvCache a = backend.newCache(); KvCache b = backend.newCache()) {
                int[] next = PROMPT;
                for (int step = 0; step < 12; step++) {
                    double u = Sampler.draw(p, rng);
                    float[] logits = backend.forward(next, a, LogitsMode.LAST).last(0);
                    int picked = backend.forwardAndSample(List.of(next), List.of(b), null, p, new double[]{u})[0];
                    assertEquals(Sampler.sample(logits, p, u), picked, p + " step " + step);
                    next = new int[]{picked};
                }
            }
        }
    }

    @Test
    void samplerDrawsFromTheTemperedNucleus() {
        // probabilities 0.5, 0.3, 0.2 at temperature 1
        float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.2)};
        SplittableRandom rng = new SplittableRandom(1);
        int[] counts = new int[3];
        for (int i = 0; i < 20000; i++) counts[Sampler.sample(logits, new SamplingParams(1, 1, 0), rng)]++;
        assertEquals(0.5, counts[0] / 20000.0, 0.02);
        assertEquals(0.3, counts[1] / 20000.0, 0.02);
        assertEquals(0.2, counts[2] / 20000.0, 0.02);
        // top-p 0.7: nucleus {0, 1}, renormalised to 0.625 / 0.375
        counts = new int[3];
        for (int i = 0; i < 20000; i++) counts[Sampler.sample(logits, new SamplingParams(1, 0.7, 0), rng)]++;
        assertEquals(0, counts[2]);
        assertEquals(0.625, counts[0] / 20000.0, 0.02);
        // temperature 2 flattens: p ∝ sqrt(0.5), sqrt(0.3), sqrt(0.2)
        counts = new int[3];
        for (int i = 0; i < 20000; i++) counts[Sampler.sample(logits, new SamplingParams(2, 1, 0), rng)]++;
        double z = Math.sqrt(0.5) + Math.sqrt(0.3) + Math.sqrt(0.2);
        assertEquals(Math.sqrt(0.2) / z, counts[2] / 20000.0, 0.02);
        assertTrue(counts[0] < 0.5 * 20000);
    }

    @Test
    void invalidParametersAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(-1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1.5, 0));
    }
}
