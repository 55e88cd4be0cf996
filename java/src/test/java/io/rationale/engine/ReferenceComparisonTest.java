package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine, on every backend ({@link TestBackends}), against {@link ReferenceLlama} (double precision, straight
 * from the HF equations) on small random models that cover the architecture options. Tolerance: every logit within
 * {@link TestBackends#logitTolerance} × max(1, largest |logit| of its row) of the reference (1e-4 on the CPU).
 * Token counts are chosen to run both matmul kernels (fewer and more than 8 tokens) and KV caches of more than one
 * block.
 */
class ReferenceComparisonTest {

    static Stream<Arguments> cases() {
        return models().flatMap(m -> TestBackends.devices().stream().map(d -> {
            Object[] a = m.get();
            Object[] b = java.util.Arrays.copyOf(a, a.length + 1);
            b[a.length] = d;
            b[0] = d + ": " + a[0];
            return Arguments.of(b);
        }));
    }

    static Stream<Arguments> models() {
        return Stream.of(
                Arguments.of("Llama GQA, f32 on heap segments, untied head, K > one block of the tiled kernel", """
                        {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":1100,"num_hidden_layers":2,
                         "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":61,"rms_norm_eps":1e-5,
                         "rope_theta":10000.0,"tie_word_embeddings":false}""", DType.F32, 70, true),
                Arguments.of("Llama explicit head_dim, llama3 rope scaling (all three frequency bands), attention and mlp biases, MQA, bf16, tied", """
                        {"architectures":["LlamaForCausalLM"],"hidden_size":40,"intermediate_size":36,"num_hidden_layers":2,
                         "num_attention_heads":4,"num_key_value_heads":1,"head_dim":12,"vocab_size":50,"rms_norm_eps":1e-6,
                         "rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,
                         "high_freq_factor":4.0,"original_max_position_embeddings":64},
                         "attention_bias":true,"mlp_bias":true,"tie_word_embeddings":true}""", DType.BF16, 13, false),
                Arguments.of("Qwen2 q/k/v biases, sliding window 9 across a cache block boundary, linear rope, f16", """
                        {"architectures":["Qwen2ForCausalLM"],"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,
                         "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":40,"rms_norm_eps":1e-6,
                         "rope_theta":1000000.0,"rope_scaling":{"type":"linear","factor":2.0},
                         "use_sliding_window":true,"sliding_window":9,"max_window_layers":0,"tie_word_embeddings":false}""", DType.F16, 70, false),
                Arguments.of("Mistral sliding window 4, bf16 on heap segments, few tokens (decode kernel)", """
                        {"architectures":["MistralForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":3,
                         "num_attention_heads":8,"num_key_value_heads":2,"vocab_size":45,"rms_norm_eps":1e-5,
                         "rope_theta":10000.0,"sliding_window":4,"tie_word_embeddings":false}""", DType.BF16, 7, true),
                Arguments.of("Llama head_dim 128 (vectorised value sums), GQA, bf16", """
                        {"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":80,"num_hidden_layers":1,
                         "num_attention_heads":2,"num_key_value_heads":1,"head_dim":128,"vocab_size":33,"rms_norm_eps":1e-5,
                         "rope_theta":10000.0,"tie_word_embeddings":false}""", DType.BF16, 20, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void logitsMatchTheReference(String name, String json, DType dt, int tokens, boolean heap, String device) {
        ModelConfig c = TestModels.config(json);
        Map<String, Tensor> w = TestModels.random(c, dt, 7, heap);
        int[] ids = new int[tokens];
        Random rnd = new Random(3);
        for (int i = 0; i < tokens; i++) ids[i] = rnd.nextInt(c.vocabSize());
        double[][] ref = new ReferenceLlama(c, w).logits(ids);
        double tol = TestBackends.logitTolerance(device, dt);
        try (Backend b = TestBackends.open(Model.of(c, w), device)) {
            Logits all = b.forward(ids, null, LogitsMode.ALL);
            assertEquals(tokens, all.rows(0));
            for (int t = 0; t < tokens; t++) assertClose(ref[t], all.row(0, t), tol, name + ", position " + t);
            assertClose(ref[tokens - 1], b.forward(ids, null, LogitsMode.LAST).last(0), tol, name + ", last");
        }
    }

    static void assertClose(double[] ref, float[] got, double tol, String what) {
        double scale = 1;
        for (double r : ref) scale = Math.max(scale, Math.abs(r));
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            int tok = i;
            double s = scale;
            assertTrue(err <= tol * s, () -> what + ": logit " + tok + " is " + got[tok] + ", reference " + ref[tok]
                    + " (error " + err + " > " + tol * s + ")");
        }
    }
}
