package io.rationale.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** config.json parsing: the architectures supported, their variants, and the errors. */
class ModelConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A small Llama config; tests edit it. */
    static ObjectNode llama() {
        ObjectNode j = JSON.createObjectNode();
        j.putArray("architectures").add("LlamaForCausalLM");
        j.put("hidden_size", 64).put("intermediate_size", 172).put("num_hidden_layers", 2)
                .put("num_attention_heads", 8).put("num_key_value_heads", 4).put("vocab_size", 512)
                .put("rms_norm_eps", 1e-5).put("rope_theta", 10000.0).put("tie_word_embeddings", true)
                .put("bos_token_id", 1).put("eos_token_id", 2).put("max_position_embeddings", 512);
        return j;
    }

    private static ConfigException fails(JsonNode j, String... phrases) {
        ConfigException e = assertThrows(ConfigException.class, () -> ModelConfig.parse(j, "cfg/config.json"));
        assertTrue(e.getMessage().startsWith("cfg/config.json: "), e.getMessage());
        for (String p : phrases) assertTrue(e.getMessage().contains(p), "<" + p + "> in " + e.getMessage());
        return e;
    }

    @Test
    void storiesConfig() {
        Path shared = Path.of(System.getProperty("rationale.shared", "../shared"));
        ModelConfig c = ModelConfig.load(shared.resolve("data/models/stories260K-hf"));
        assertEquals("LlamaForCausalLM", c.architecture());
        assertEquals(64, c.hiddenSize());
        assertEquals(172, c.intermediateSize());
        assertEquals(5, c.numLayers());
        assertEquals(8, c.numHeads());
        assertEquals(4, c.numKvHeads());
        assertEquals(8, c.headDim());
        assertEquals(32, c.kvDim());
        assertEquals(512, c.vocabSize());
        assertEquals(1e-5f, c.rmsNormEps());
        assertNull(c.ropeScaling());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(List.of(2), c.eosTokenIds());
        assertEquals(1, c.bosTokenId());
        assertEquals(2 + 9 * 5, c.expectedTensors().size());
    }

    @Test
    void llamaDefaults() {
        ObjectNode j = llama();
        j.remove("num_key_value_heads");
        ModelConfig c = ModelConfig.parse(j, "x");
        assertEquals(8, c.numKvHeads());          // defaults to num_attention_heads
        assertEquals(8, c.headDim());             // hidden / heads
        assertFalse(c.qkvBias() || c.oBias() || c.mlpBias());
        assertEquals(0, c.slidingWindow());
        assertFalse(c.expectedTensors().keySet().stream().anyMatch(n -> n.endsWith(".bias")));
    }

    @Test
    void unsupportedArchitecture() {
        ObjectNode j = llama();
        j.putArray("architectures").add("GPT2LMHeadModel");
        fails(j, "unsupported architecture GPT2LMHeadModel", "LlamaForCausalLM");
        j.remove("architectures");
        fails(j, "missing \"architectures\"");
        j.putArray("architectures");
        fails(j, "missing \"architectures\"");
    }

    @ParameterizedTest
    @ValueSource(strings = {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size"})
    void missingRequiredKey(String key) {
        ObjectNode j = llama();
        j.remove(key);
        fails(j, "missing \"" + key + "\"");
        j.putNull(key);
        fails(j, "missing \"" + key + "\"");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-3", "\"64\"", "64.5", "true", "[64]"})
    void requiredKeyNotPositiveInteger(String value) throws Exception {
        ObjectNode j = llama();
        j.set("hidden_size", JSON.readTree(value));
        fails(j, "\"hidden_size\" must be a positive integer");
    }

    @Test
    void headConsistency() {
        ObjectNode j = llama();
        j.put("num_key_value_heads", 3);
        fails(j, "not a multiple of num_key_value_heads 3");
        j = llama();
        j.put("head_dim", 7);
        fails(j, "head_dim 7 must be even");
        j = llama();
        j.put("hidden_size", 72).put("num_attention_heads", 16).put("num_key_value_heads", 16); // 72 / 16 = 4.5
        fails(j, "hidden_size 72 is not divisible by num_attention_heads 16");
        j = llama();
        j.put("hidden_act", "gelu");
        fails(j, "unsupported hidden_act gelu");
    }

    @Test
    void notAnObject() {
        fails(JSON.createArrayNode(), "not a JSON object");
    }

    @Test
    void loadErrors() throws Exception {
        ConfigException e = assertThrows(ConfigException.class, () -> ModelConfig.load(dir));
        assertEquals(dir + ": no config.json", e.getMessage());
        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [");
        e = assertThrows(ConfigException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("config.json") + ": invalid JSON"), e.getMessage());
    }

    /**
     * transformers' generate stops at generation_config.json's eos_token_id: Meta-Llama-3-8B-Instruct as first
     * published had config.json eos 128001 (<|end_of_text|>) and generation_config.json [128001, 128009]
     * (<|eot_id|>, the end of a chat turn). Those ids are added to config.json's.
     */
    @Test
    void generationConfigEosIdsAreStops() throws Exception {
        ObjectNode j = llama();
        j.put("eos_token_id", 128001);
        Files.writeString(dir.resolve("config.json"), j.toString());
        assertEquals(List.of(128001), ModelConfig.load(dir).eosTokenIds());
        Files.writeString(dir.resolve("generation_config.json"), "{\"bos_token_id\": 128000, \"eos_token_id\": [128001, 128009]}");
        assertEquals(List.of(128001, 128009), ModelConfig.load(dir).eosTokenIds());
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": 7}");
        assertEquals(List.of(128001, 7), ModelConfig.load(dir).eosTokenIds());
        Files.writeString(dir.resolve("generation_config.json"), "{\"do_sample\": true}");
        assertEquals(List.of(128001), ModelConfig.load(dir).eosTokenIds());
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": \"</s>\"}");
        ConfigException e = assertThrows(ConfigException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("generation_config.json") + ": \"eos_token_id\" must be"), e.getMessage());
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [");
        e = assertThrows(ConfigException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("generation_config.json") + ": invalid JSON"), e.getMessage());
    }

    @Test
    void llama31RopeScaling() throws Exception {
        ObjectNode j = llama();
        j.set("rope_scaling", JSON.readTree("{\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                + " \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}"));
        j.put("rope_theta", 500000.0);
        j.putArray("eos_token_id").add(128001).add(128008).add(128009);
        ModelConfig c = ModelConfig.parse(j, "x");
        ModelConfig.RopeScaling r = c.ropeScaling();
        assertEquals(new ModelConfig.RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), r);
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
    }

    @Test
    void otherRopeScalings() throws Exception {
        ObjectNode j = llama();
        j.set("rope_scaling", JSON.readTree("{\"type\": \"linear\", \"factor\": 2.0}"));
        assertEquals(new ModelConfig.RopeScaling("linear", 2.0, 0, 0, 0), ModelConfig.parse(j, "x").ropeScaling());
        j.set("rope_scaling", JSON.readTree("{\"rope_type\": \"default\"}"));
        assertNull(ModelConfig.parse(j, "x").ropeScaling());
        j.set("rope_scaling", JSON.readTree("{\"rope_type\": \"yarn\", \"factor\": 4.0}"));
        fails(j, "unsupported rope_scaling type \"yarn\"");
        // transformers' validation requires every field of the type: none is guessed
        j.set("rope_scaling", JSON.readTree("{\"rope_type\": \"llama3\"}"));
        fails(j, "rope_scaling of type llama3 needs \"factor\"");
        j.set("rope_scaling", JSON.readTree("{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0}"));
        fails(j, "rope_scaling of type llama3 needs \"original_max_position_embeddings\"");
        j.set("rope_scaling", JSON.readTree("{\"type\": \"linear\"}"));
        fails(j, "rope_scaling of type linear needs \"factor\"");
        j.set("rope_scaling", JSON.readTree("{\"type\": \"linear\", \"factor\": 0}"));
        fails(j, "rope_scaling.factor must be a positive number, got 0");
    }

    @Test
    void qwen2Biases() {
        ObjectNode j = llama();
        j.putArray("architectures").add("Qwen2ForCausalLM");
        j.put("sliding_window", 131072).put("use_sliding_window", false).put("tie_word_embeddings", false);
        ModelConfig c = ModelConfig.parse(j, "x");
        assertTrue(c.qkvBias());
        assertFalse(c.oBias());
        assertFalse(c.mlpBias());
        assertEquals(0, c.slidingWindow());
        Map<String, long[]> t = c.expectedTensors();
        assertArrayEquals(new long[]{64}, t.get("model.layers.1.self_attn.q_proj.bias"));
        assertArrayEquals(new long[]{32}, t.get("model.layers.1.self_attn.k_proj.bias"));
        assertArrayEquals(new long[]{32}, t.get("model.layers.0.self_attn.v_proj.bias"));
        assertFalse(t.containsKey("model.layers.0.self_attn.o_proj.bias"));
        assertArrayEquals(new long[]{512, 64}, t.get("lm_head.weight"));
        assertEquals(2 + 1 + 12 * 2, t.size());
        assertFalse(c.isTolerableExtra("lm_head.weight"));

        // transformers' Qwen2: the window is on layers i >= max_window_layers (default 28), and only with use_sliding_window
        j.put("use_sliding_window", true);
        assertEquals(0, ModelConfig.parse(j, "x").slidingWindow(), "max_window_layers absent: 28 >= 2 layers, no layer slides");
        j.put("max_window_layers", 2);
        assertEquals(0, ModelConfig.parse(j, "x").slidingWindow(), "max_window_layers = the layer count: none slides");
        j.put("max_window_layers", 0);
        assertEquals(131072, ModelConfig.parse(j, "x").slidingWindow(), "max_window_layers 0: every layer slides");
        j.put("max_window_layers", 1);
        fails(j, "a sliding window on 1 of 2 layers (use_sliding_window with max_window_layers 1) is not supported");
        j.remove("max_window_layers");
        j.putArray("layer_types").add("sliding_attention").add("sliding_attention");
        assertEquals(131072, ModelConfig.parse(j, "x").slidingWindow());
        j.putArray("layer_types").add("full_attention").add("sliding_attention");
        fails(j, "a sliding window on 1 of 2 layers (use_sliding_window with layer_types) is not supported");
        j.put("use_sliding_window", false);
        assertEquals(0, ModelConfig.parse(j, "x").slidingWindow(), "without use_sliding_window no layer slides");
    }

    @Test
    void llamaHasNoSlidingWindow() {
        ObjectNode j = llama();
        j.put("sliding_window", 8);
        assertEquals(0, ModelConfig.parse(j, "x").slidingWindow(), "LlamaAttention has no window, whatever the config holds");
    }

    @Test
    void llamaAttentionAndMlpBias() {
        ObjectNode j = llama();
        j.put("attention_bias", true).put("mlp_bias", true);
        ModelConfig c = ModelConfig.parse(j, "x");
        Map<String, long[]> t = c.expectedTensors();
        assertArrayEquals(new long[]{64}, t.get("model.layers.0.self_attn.o_proj.bias"));
        assertArrayEquals(new long[]{172}, t.get("model.layers.0.mlp.up_proj.bias"));
        assertArrayEquals(new long[]{64}, t.get("model.layers.0.mlp.down_proj.bias"));
    }

    @Test
    void mistralSlidingWindow() {
        ObjectNode j = llama();
        j.putArray("architectures").add("MistralForCausalLM");
        j.put("sliding_window", 4096);
        ModelConfig c = ModelConfig.parse(j, "x");
        assertEquals(4096, c.slidingWindow());
        assertFalse(c.qkvBias());
        j.putNull("sliding_window");
        assertEquals(0, ModelConfig.parse(j, "x").slidingWindow());
        j.remove("sliding_window");
        assertEquals(4096, ModelConfig.parse(j, "x").slidingWindow(), "MistralConfig's default when the key is absent");
    }

    @Test
    void tolerableExtras() {
        ModelConfig tied = ModelConfig.parse(llama(), "x");
        assertTrue(tied.isTolerableExtra("lm_head.weight"));
        assertTrue(tied.isTolerableExtra("model.layers.0.self_attn.rotary_emb.inv_freq"));
        assertFalse(tied.isTolerableExtra("model.layers.0.self_attn.q_proj.bias"));
        assertFalse(tied.expectedTensors().containsKey("lm_head.weight"));
    }
}
