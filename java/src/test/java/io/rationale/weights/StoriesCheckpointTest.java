package io.rationale.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The real stories260K checkpoint: its tensors against config.json, and values against two independent reads
 * (the raw bytes of model.safetensors read with plain java.nio, and the same model in llama2.c's .bin format).
 */
class StoriesCheckpointTest {
    static Path hf, llama2c;

    @BeforeAll
    static void paths() {
        Path shared = Path.of(System.getProperty("rationale.shared", "../shared"));
        hf = shared.resolve("data/models/stories260K-hf");
        llama2c = shared.resolve("data/models/stories260K-llama2c/stories260K.bin");
        assertTrue(Files.isDirectory(hf), "shared data missing: " + hf);
    }

    @Test
    void tensorsMatchConfig() throws IOException {
        JsonNode cfg = new ObjectMapper().readTree(hf.resolve("config.json").toFile());
        int dim = cfg.get("hidden_size").asInt(), hidden = cfg.get("intermediate_size").asInt();
        int layers = cfg.get("num_hidden_layers").asInt(), vocab = cfg.get("vocab_size").asInt();
        int kvDim = cfg.get("num_key_value_heads").asInt() * cfg.get("head_dim").asInt();
        assertEquals(64, dim);
        try (Checkpoint c = Checkpoint.open(hf)) {
            assertEquals(2 + 9 * layers, c.names().size());          // embed + norm + 9 per layer, tied: no lm_head
            assertFalse(c.has("lm_head.weight"));
            for (String n : c.names()) assertEquals(DType.F32, c.tensor(n).dtype(), n);
            assertArrayEquals(new long[]{vocab, dim}, c.tensor("model.embed_tokens.weight").shape());
            assertArrayEquals(new long[]{dim}, c.tensor("model.norm.weight").shape());
            for (int l = 0; l < layers; l++) {
                String p = "model.layers." + l + ".";
                assertArrayEquals(new long[]{dim, dim}, c.tensor(p + "self_attn.q_proj.weight").shape());
                assertArrayEquals(new long[]{kvDim, dim}, c.tensor(p + "self_attn.k_proj.weight").shape());
                assertArrayEquals(new long[]{kvDim, dim}, c.tensor(p + "self_attn.v_proj.weight").shape());
                assertArrayEquals(new long[]{dim, dim}, c.tensor(p + "self_attn.o_proj.weight").shape());
                assertArrayEquals(new long[]{hidden, dim}, c.tensor(p + "mlp.gate_proj.weight").shape());
                assertArrayEquals(new long[]{hidden, dim}, c.tensor(p + "mlp.up_proj.weight").shape());
                assertArrayEquals(new long[]{dim, hidden}, c.tensor(p + "mlp.down_proj.weight").shape());
                assertArrayEquals(new long[]{dim}, c.tensor(p + "input_layernorm.weight").shape());
                assertArrayEquals(new long[]{dim}, c.tensor(p + "post_attention_layernorm.weight").shape());
            }
            SafeTensorsFile f = c.files().getFirst();
            assertEquals(Files.size(hf.resolve("model.safetensors")), f.size());
            assertTrue(f.metadata().get("source").contains("stories260K"), f.metadata().toString());
            long bytes = 0;
            for (String n : c.names()) bytes += c.tensor(n).byteSize();
            assertEquals(f.size() - 8 - f.headerBytes(), bytes);
        }
    }

    @Test
    void valuesMatchRawBytes() throws IOException {
        ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(hf.resolve("model.safetensors"))).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) raw.getLong(0);
        JsonNode header = new ObjectMapper().readTree(new String(raw.array(), 8, n, java.nio.charset.StandardCharsets.UTF_8));
        try (Checkpoint c = Checkpoint.open(hf)) {
            for (String name : new String[]{"model.layers.2.self_attn.k_proj.weight", "model.norm.weight", "model.layers.4.mlp.up_proj.weight"}) {
                long begin = header.get(name).get("data_offsets").get(0).asLong();
                Tensor t = c.tensor(name);
                for (long i = 0; i < t.numel(); i += 7)
                    assertEquals(raw.getFloat((int) (8 + n + begin + 4 * i)), t.get(i), name + "[" + i + "]");
            }
        }
    }

    /** llama2.c .bin: 7 int32 (dim, hidden, layers, heads, kv heads, vocab, seq len), then f32 weights by kind. */
    @Test
    void valuesMatchLlama2cExport() throws IOException {
        ByteBuffer bin = ByteBuffer.wrap(Files.readAllBytes(llama2c)).order(ByteOrder.LITTLE_ENDIAN);
        int dim = bin.getInt(0), hidden = bin.getInt(4), layers = bin.getInt(8), heads = bin.getInt(12);
        int kvHeads = bin.getInt(16), vocab = bin.getInt(20);
        int kvDim = dim / heads * kvHeads;
        long emb = 28;                                            // token_embedding_table [vocab, dim]
        long rmsAtt = emb + 4L * vocab * dim;                     // [layers, dim]
        long wq = rmsAtt + 4L * layers * dim;
        long wk = wq + 4L * layers * dim * dim;
        long wv = wk + 4L * layers * kvDim * dim;
        long wo = wv + 4L * layers * kvDim * dim;
        long rmsFfn = wo + 4L * layers * dim * dim;
        long w1 = rmsFfn + 4L * layers * dim;                     // gate [layers, hidden, dim]
        long w2 = w1 + 4L * layers * hidden * dim;                // down [layers, dim, hidden]
        long w3 = w2 + 4L * layers * dim * hidden;                // up
        long rmsFinal = w3 + 4L * layers * hidden * dim;
        try (Checkpoint c = Checkpoint.open(hf)) {
            compare(bin, emb, c.tensor("model.embed_tokens.weight"));
            compare(bin, rmsAtt + 4L * 3 * dim, c.tensor("model.layers.3.input_layernorm.weight"));
            compare(bin, rmsFfn + 4L * 1 * dim, c.tensor("model.layers.1.post_attention_layernorm.weight"));
            compare(bin, wv + 4L * 2 * kvDim * dim, c.tensor("model.layers.2.self_attn.v_proj.weight"));
            compare(bin, w1 + 4L * 4 * hidden * dim, c.tensor("model.layers.4.mlp.gate_proj.weight"));
            compare(bin, w2 + 4L * 0 * dim * hidden, c.tensor("model.layers.0.mlp.down_proj.weight"));
            compare(bin, w3 + 4L * 1 * hidden * dim, c.tensor("model.layers.1.mlp.up_proj.weight"));
            compare(bin, rmsFinal, c.tensor("model.norm.weight"));
        }
    }

    private static void compare(ByteBuffer bin, long offset, Tensor t) {
        float[] got = t.toFloatArray();
        for (int i = 0; i < got.length; i++)
            assertEquals(bin.getFloat((int) (offset + 4L * i)), got[i], t.name() + "[" + i + "]");
    }
}
