package io.rationale.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TinyModelTest {
    static final ObjectMapper OM = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path write(ModelSpec s, long seed, String name, int threads, long shard) {
        Path out = tmp.resolve(name);
        TinyModel.write(s, seed, out, shard, threads, null);
        return out;
    }

    private static Map<String, byte[]> files(Path dir) throws Exception {
        Map<String, byte[]> m = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                m.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return m;
    }

    @Test
    void sameSeedGivesIdenticalBytesDifferentSeedDifferentWeights() throws Exception {
        ModelSpec s = Presets.get("tiny");
        Map<String, byte[]> a = files(write(s, 7, "a", 1, 0));
        Map<String, byte[]> b = files(write(s, 7, "b", 2, 0));
        Map<String, byte[]> c = files(write(s, 8, "c", 2, 0));
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
                "tokenizer.json", "tokenizer_config.json"), new ArrayList<>(a.keySet()));
        for (String f : a.keySet()) {
            assertArrayEquals(a.get(f), b.get(f), f + " identical for the same seed (any thread count)");
        }
        assertFalse(java.util.Arrays.equals(a.get("model.safetensors"), c.get("model.safetensors")), "seed changes weights");
        assertArrayEquals(a.get("tokenizer.json"), c.get("tokenizer.json"), "tokenizer does not depend on the seed");
        assertArrayEquals(a.get("config.json"), c.get("config.json"));
    }

    @Test
    void tensorValuesDependOnlyOnSeedAndName() throws Exception {
        ModelSpec small = Presets.get("tiny");
        ModelSpec deeper = Presets.get("tiny");
        deeper.layers = 3;
        SafeTensorsTestReader a = new SafeTensorsTestReader(write(small, 3, "a", 2, 0).resolve("model.safetensors"));
        SafeTensorsTestReader b = new SafeTensorsTestReader(write(deeper, 3, "b", 2, 0).resolve("model.safetensors"));
        for (String name : a.tensors.keySet()) {
            assertArrayEquals(a.floats(name), b.floats(name), name);
        }
        assertTrue(b.tensors.containsKey("model.layers.2.mlp.up_proj.weight"));
        assertNotEquals(a.floats("model.layers.0.mlp.up_proj.weight")[0], a.floats("model.layers.1.mlp.up_proj.weight")[0]);
    }

    @Test
    void writesTheTinyPresetWithHfNamesShapesAndScales() throws Exception {
        ModelSpec s = Presets.get("tiny");
        Path out = write(s, 0, "tiny", 2, 0);
        SafeTensorsTestReader r = new SafeTensorsTestReader(out.resolve("model.safetensors"));
        Map<String, long[]> want = new LinkedHashMap<>();
        want.put("model.embed_tokens.weight", new long[] {512, 64});
        want.put("lm_head.weight", new long[] {512, 64});
        want.put("model.norm.weight", new long[] {64});
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            want.put(p + "input_layernorm.weight", new long[] {64});
            want.put(p + "post_attention_layernorm.weight", new long[] {64});
            want.put(p + "self_attn.q_proj.weight", new long[] {64, 64});
            want.put(p + "self_attn.k_proj.weight", new long[] {32, 64});
            want.put(p + "self_attn.v_proj.weight", new long[] {32, 64});
            want.put(p + "self_attn.o_proj.weight", new long[] {64, 64});
            want.put(p + "mlp.gate_proj.weight", new long[] {172, 64});
            want.put(p + "mlp.up_proj.weight", new long[] {172, 64});
            want.put(p + "mlp.down_proj.weight", new long[] {64, 172});
        }
        assertEquals(want.keySet(), r.tensors.keySet());
        long params = 0;
        for (Map.Entry<String, long[]> e : want.entrySet()) {
            assertArrayEquals(e.getValue(), r.tensors.get(e.getKey()).shape(), e.getKey());
            assertEquals("F32", r.tensors.get(e.getKey()).dtype());
            params += r.tensors.get(e.getKey()).numel();
        }
        assertEquals(s.parameterCount(), params);
        List<String> order = new ArrayList<>(r.tensors.keySet());
        List<String> sorted = new ArrayList<>(order);
        sorted.sort(null);
        assertEquals(sorted, order, "name order within the file, as the safetensors library writes");

        checkStats(r.floats("model.layers.1.mlp.down_proj.weight"), 0, 1 / Math.sqrt(172));
        checkStats(r.floats("model.layers.0.self_attn.q_proj.weight"), 0, 1 / Math.sqrt(64));
        checkStats(r.floats("model.embed_tokens.weight"), 0, 1);
        checkStats(r.floats("lm_head.weight"), 0, 1 / Math.sqrt(64));
        for (float v : r.floats("model.layers.0.input_layernorm.weight")) {
            assertTrue(v > 0.9f && v < 1.1f, "norm weight near 1: " + v);
        }

        JsonNode c = OM.readTree(out.resolve("config.json").toFile());
        assertEquals("LlamaForCausalLM", c.get("architectures").get(0).asText());
        assertEquals("llama", c.get("model_type").asText());
        assertEquals(16, c.get("head_dim").asInt());
        assertEquals("silu", c.get("hidden_act").asText());
        assertEquals("llama3", c.get("rope_scaling").get("rope_type").asText());
        assertEquals(256, c.get("rope_scaling").get("original_max_position_embeddings").asInt());
        assertEquals(507, c.get("bos_token_id").asInt());
        assertEquals(508, c.get("eos_token_id").asInt());
        assertEquals("float32", c.get("torch_dtype").asText());
        assertFalse(c.get("tie_word_embeddings").asBoolean());
        JsonNode g = OM.readTree(out.resolve("generation_config.json").toFile());
        assertEquals(507, g.get("bos_token_id").asInt());
        JsonNode tok = OM.readTree(out.resolve("tokenizer.json").toFile());
        assertEquals(512, tok.get("model").get("vocab").size());
    }

    private static void checkStats(float[] v, double mean, double std) {
        double s = 0;
        double s2 = 0;
        for (float x : v) {
            s += x;
            s2 += x * x;
        }
        double m = s / v.length;
        double sd = Math.sqrt(s2 / v.length - m * m);
        assertTrue(Math.abs(m - mean) < 0.1 * std + 4 * std / Math.sqrt(v.length), "mean " + m);
        assertTrue(Math.abs(sd - std) < 0.05 * std, "std " + sd + " want " + std);
    }

    @Test
    void halfPrecisionWeightsAreTheRoundedFloat32Ones() throws Exception {
        ModelSpec s = Presets.get("tiny");
        SafeTensorsTestReader f32 = new SafeTensorsTestReader(write(s, 5, "f32", 2, 0).resolve("model.safetensors"));
        s.dtype = DType.BF16;
        Path bfDir = write(s, 5, "bf16", 2, 0);
        SafeTensorsTestReader bf = new SafeTensorsTestReader(bfDir.resolve("model.safetensors"));
        s.dtype = DType.F16;
        SafeTensorsTestReader f16 = new SafeTensorsTestReader(write(s, 5, "f16", 2, 0).resolve("model.safetensors"));
        for (String name : f32.tensors.keySet()) {
            float[] ref = f32.floats(name);
            float[] b = bf.floats(name);
            float[] h = f16.floats(name);
            assertEquals("BF16", bf.tensors.get(name).dtype());
            assertEquals("F16", f16.tensors.get(name).dtype());
            for (int i = 0; i < ref.length; i++) {
                assertEquals(Float.intBitsToFloat((DType.toBf16(ref[i]) & 0xffff) << 16), b[i], name);
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(ref[i])), h[i], name);
            }
        }
        assertEquals("bfloat16", OM.readTree(bfDir.resolve("config.json").toFile()).get("torch_dtype").asText());
    }

    @Test
    void shardsWhenAskedAndIndexesEveryTensor() throws Exception {
        ModelSpec s = Presets.get("tiny");
        Path out = write(s, 1, "sharded", 2, 200_000);
        JsonNode index = OM.readTree(out.resolve("model.safetensors.index.json").toFile());
        JsonNode wm = index.get("weight_map");
        List<TensorEntry> ts = TinyModel.tensors(s, 1);
        assertEquals(ts.size(), wm.size());
        assertEquals(SafeTensorsWriter.totalBytes(ts), index.get("metadata").get("total_size").asLong());
        assertFalse(Files.exists(out.resolve("model.safetensors")));
        int n = 0;
        for (TensorEntry t : ts) {
            String file = wm.get(t.name()).asText();
            assertTrue(file.matches("model-0000[1-9]-of-0000[1-9]\\.safetensors"), file);
            SafeTensorsTestReader r = new SafeTensorsTestReader(out.resolve(file));
            assertArrayEquals(t.shape(), r.tensors.get(t.name()).shape());
            n++;
        }
        assertEquals(ts.size(), n);
        assertTrue(wm.get("model.embed_tokens.weight").asText().startsWith("model-00001-of-"), "state-dict order into shards");
        String last = wm.get("lm_head.weight").asText();
        String[] nums = last.substring(6, last.length() - ".safetensors".length()).split("-of-");
        assertEquals(nums[1], nums[0], "lm_head in the last shard: " + last);
    }

    @Test
    void variantsCarryTheirBiasesAndTies() {
        ModelSpec q = Presets.get("tiny");
        q.arch = Arch.QWEN2;
        q.tied = true;
        List<String> names = TinyModel.tensors(q, 0).stream().map(TensorEntry::name).toList();
        assertTrue(names.contains("model.layers.1.self_attn.q_proj.bias"));
        assertTrue(names.contains("model.layers.1.self_attn.k_proj.bias"));
        assertTrue(names.contains("model.layers.1.self_attn.v_proj.bias"));
        assertFalse(names.contains("model.layers.1.self_attn.o_proj.bias"));
        assertFalse(names.contains("lm_head.weight"));

        ModelSpec l = Presets.get("tiny");
        l.attentionBias = true;
        l.mlpBias = true;
        List<TensorEntry> lt = TinyModel.tensors(l, 0);
        names = lt.stream().map(TensorEntry::name).toList();
        assertTrue(names.contains("model.layers.0.self_attn.o_proj.bias"));
        assertTrue(names.contains("model.layers.0.mlp.down_proj.bias"));
        long total = 0;
        for (TensorEntry t : lt) {
            total += t.numel();
            if (t.name().equals("model.layers.0.mlp.gate_proj.bias")) {
                assertArrayEquals(new long[] {172}, t.shape());
            }
        }
        assertEquals(l.parameterCount(), total);
        assertTrue(HfConfig.config(l, 1, 2).get("attention_bias").asBoolean());

        ModelSpec m = Presets.get("tiny");
        m.arch = Arch.MISTRAL;
        m.slidingWindow = 16;
        assertEquals(16, HfConfig.config(m, 1, 2).get("sliding_window").asInt());
        assertEquals(TinyModel.tensors(Presets.get("tiny"), 0).size(), TinyModel.tensors(m, 0).size());
    }

    @Test
    void presetsHaveTheRealShapes() {
        JsonNode c = HfConfig.config(Presets.get("llama-3.2-1b"), 1, 2);
        expect(c, "LlamaForCausalLM", 2048, 16, 32, 8, 64, 8192, 128256, 500000.0, true);
        assertEquals(32.0, c.get("rope_scaling").get("factor").asDouble());
        assertEquals(8192, c.get("rope_scaling").get("original_max_position_embeddings").asInt());
        assertEquals(1_235_814_400L, Presets.get("llama-3.2-1b").parameterCount(), "Llama 3.2 1B's parameter count");

        c = HfConfig.config(Presets.get("llama-3.1-8b"), 1, 2);
        expect(c, "LlamaForCausalLM", 4096, 32, 32, 8, 128, 14336, 128256, 500000.0, false);
        assertEquals(8.0, c.get("rope_scaling").get("factor").asDouble());
        assertEquals(1.0, c.get("rope_scaling").get("low_freq_factor").asDouble());
        assertEquals(4.0, c.get("rope_scaling").get("high_freq_factor").asDouble());
        assertEquals(8_030_261_248L, Presets.get("llama-3.1-8b").parameterCount(), "Llama 3.1 8B's parameter count");

        c = HfConfig.config(Presets.get("tinyllama-1.1b"), 1, 2);
        expect(c, "LlamaForCausalLM", 2048, 22, 32, 4, 64, 5632, 32000, 10000.0, false);
        assertTrue(c.get("rope_scaling").isNull());
        assertEquals(1_100_048_384L, Presets.get("tinyllama-1.1b").parameterCount());

        c = HfConfig.config(Presets.get("qwen2-0.5b"), 1, 2);
        expect(c, "Qwen2ForCausalLM", 896, 24, 14, 2, 64, 4864, 151936, 1000000.0, true);
        assertEquals("qwen2", c.get("model_type").asText());
        assertFalse(c.has("attention_bias"));
        assertEquals(1e-6, c.get("rms_norm_eps").asDouble());
        assertEquals(494_032_768L, Presets.get("qwen2-0.5b").parameterCount(), "Qwen2 0.5B's parameter count");

        c = HfConfig.config(Presets.get("mistral-7b"), 1, 2);
        expect(c, "MistralForCausalLM", 4096, 32, 32, 8, 128, 14336, 32000, 10000.0, false);
        assertEquals(4096, c.get("sliding_window").asInt());
        assertEquals(7_241_732_096L, Presets.get("mistral-7b").parameterCount(), "Mistral 7B's parameter count");

        c = HfConfig.config(Presets.get("stories260k"), 1, 2);
        expect(c, "LlamaForCausalLM", 64, 5, 8, 4, 8, 172, 512, 10000.0, true);

        c = HfConfig.config(Presets.get("tiny"), 1, 2);
        expect(c, "LlamaForCausalLM", 64, 2, 4, 2, 16, 172, 512, 500000.0, false);

        for (String p : Presets.names()) {
            Presets.get(p).validate();
        }
        ToolException e = assertThrows(ToolException.class, () -> Presets.get("gpt-5"));
        assertTrue(e.getMessage().contains("gpt-5") && e.getMessage().contains("llama-3.1-8b"));
    }

    private static void expect(JsonNode c, String arch, int hidden, int layers, int heads, int kv, int headDim, int inter,
            int vocab, double theta, boolean tied) {
        String what = arch + " " + hidden;
        assertEquals(arch, c.get("architectures").get(0).asText(), what);
        assertEquals(hidden, c.get("hidden_size").asInt(), what);
        assertEquals(layers, c.get("num_hidden_layers").asInt(), what);
        assertEquals(heads, c.get("num_attention_heads").asInt(), what);
        assertEquals(kv, c.get("num_key_value_heads").asInt(), what);
        assertEquals(headDim, c.get("head_dim").asInt(), what);
        assertEquals(inter, c.get("intermediate_size").asInt(), what);
        assertEquals(vocab, c.get("vocab_size").asInt(), what);
        assertEquals(theta, c.get("rope_theta").asDouble(), what);
        assertEquals(tied, c.get("tie_word_embeddings").asBoolean(), what);
        assertEquals("silu", c.get("hidden_act").asText(), what);
    }

    @Test
    void badShapesFailNamingTheOption() {
        ModelSpec s = Presets.get("tiny");
        s.kvHeads = 3;
        ToolException e = assertThrows(ToolException.class, s::validate);
        assertTrue(e.getMessage().contains("--kv-heads"), e.getMessage());
        ModelSpec v = Presets.get("tiny");
        v.vocab = 100;
        e = assertThrows(ToolException.class, () -> TinyModel.write(v, 0, tmp.resolve("v"), 0, 1, null));
        assertTrue(e.getMessage().contains("100") && e.getMessage().contains("261"), e.getMessage());
        ModelSpec h = Presets.get("tiny");
        h.headDim = 15;
        e = assertThrows(ToolException.class, h::validate);
        assertTrue(e.getMessage().contains("even"), e.getMessage());
        ModelSpec w = Presets.get("tiny");
        w.slidingWindow = 8;
        e = assertThrows(ToolException.class, w::validate);
        assertTrue(e.getMessage().contains("sliding"), e.getMessage());
    }
}
