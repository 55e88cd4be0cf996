package io.rationale.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The inspect report: contents, totals, config summary, and problems collected instead of thrown. */
class InspectionTest {
    static final Path HF = Path.of(System.getProperty("rationale.shared", "../shared")).resolve("data/models/stories260K-hf");

    @TempDir
    Path dir;

    /** Parameter count of stories260K worked out from its dimensions. */
    private static final long STORIES_PARAMS = 512 * 64 + 5 * (64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 64 + 3 * 172 * 64) + 64;

    @Test
    void stories() throws Exception {
        Inspection in = Inspection.of(HF);
        assertTrue(in.ok(), in.problems().toString());
        assertEquals(List.of(), in.problems());
        assertEquals(47, in.tensors().size());
        assertEquals(260_032, STORIES_PARAMS);
        assertEquals(STORIES_PARAMS, in.totals().parameters());
        assertEquals(4 * STORIES_PARAMS, in.totals().bytes());
        assertEquals(Map.of("F32", 4 * STORIES_PARAMS), in.totals().bytesPerDtype());
        assertEquals(1, in.files().size());
        Inspection.FileInfo f = in.files().getFirst();
        assertEquals("model.safetensors", f.file());
        assertEquals(Files.size(HF.resolve("model.safetensors")), f.bytes());
        assertEquals(f.bytes() - 8 - f.headerBytes(), in.totals().bytes());
        Inspection.TensorInfo t = in.tensors().getFirst();
        assertEquals("model.embed_tokens.weight", t.name());
        assertEquals("F32", t.dtype());
        assertArrayEquals(new long[]{512, 64}, t.shape());
        assertEquals(512 * 64 * 4, t.bytes());
        Inspection.ConfigSummary c = in.config();
        assertEquals("LlamaForCausalLM", c.architecture());
        assertEquals(5, c.layers());
        assertEquals(64, c.hiddenSize());
        assertEquals(8, c.heads());
        assertEquals(4, c.kvHeads());
        assertEquals(8, c.headDim());
        assertEquals(512, c.vocabSize());
        assertNull(c.ropeScaling());
        assertTrue(c.tiedEmbeddings());

        String text = in.toText();
        assertTrue(text.contains("Config: LlamaForCausalLM, 5 layers, hidden 64, intermediate 172, 8 heads / 4 kv heads, head_dim 8, vocab 512"), text);
        assertTrue(text.contains("rope scaling none, tied embeddings yes"), text);
        assertTrue(text.contains("Totals: 260,032 parameters, 1,040,128 bytes"), text);
        assertTrue(text.contains("Validation: ok"), text);
        assertTrue(text.lines().anyMatch(l -> l.matches("\\s+model\\.layers\\.4\\.mlp\\.down_proj\\.weight\\s+F32\\s+\\[64, 172\\]\\s+11,008\\s+44,032\\s+model\\.safetensors")), text);
        assertFalse(text.lines().anyMatch(l -> l.endsWith(" ")), "no trailing spaces");

        JsonNode j = new ObjectMapper().readTree(in.toJson());
        assertTrue(j.get("ok").asBoolean());
        assertEquals(47, j.get("tensors").size());
        assertEquals(260_032, j.get("totals").get("parameters").asLong());
        assertEquals(64, j.get("tensors").get(0).get("shape").get(1).asInt());
        assertEquals("LlamaForCausalLM", j.get("config").get("architecture").asText());
        assertTrue(j.get("config").get("ropeScaling").isNull());
        assertEquals(0, j.get("problems").size());
    }

    @Test
    void mismatchesAreListedNotThrown() throws Exception {
        String cfg = Files.readString(HF.resolve("config.json")).replace("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 6")
                .replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
        Files.writeString(dir.resolve("config.json"), cfg);
        Files.copy(HF.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Inspection in = Inspection.of(dir);
        assertFalse(in.ok());
        assertEquals(47, in.tensors().size());
        assertEquals(6, in.config().layers());
        assertEquals(10, in.problems().size(), in.problems().toString());  // 9 tensors of layer 5, lm_head
        assertTrue(in.problems().contains(dir + ": tensor lm_head.weight is missing, config.json expects shape [512, 64]"), in.problems().toString());
        String text = in.toText();
        assertTrue(text.contains("Validation: 10 problems"), text);
        assertTrue(text.contains("  - " + dir + ": tensor model.layers.5.input_layernorm.weight is missing"), text);
        assertFalse(new ObjectMapper().readTree(in.toJson()).get("ok").asBoolean());
    }

    @Test
    void malformedCheckpointAndMissingConfig() {
        StBytes.write(dir, "model.safetensors", new byte[5]);
        Inspection in = Inspection.of(dir);
        assertFalse(in.ok());
        assertNull(in.config());
        assertEquals(List.of(), in.tensors());
        assertEquals(List.of(dir + ": no config.json", dir.resolve("model.safetensors") + ": file is 5 bytes, too short for the 8-byte header length"),
                in.problems());
        String text = in.toText();
        assertTrue(text.contains("Config: (config.json unreadable)"), text);
        assertTrue(text.contains("Validation: 2 problems"), text);
    }

    @Test
    void checkpointWithoutConfigStillListsTensors() {
        StBytes.write(dir, "model.safetensors", new StBytes().metadata("{\"format\":\"pt\"}")
                .add("a", "BF16", StBytes.shape(3), StBytes.u16(1, 2, 3)).f32("b", StBytes.shape(2), 1f, 2f).build());
        Inspection in = Inspection.of(dir);
        assertEquals(List.of(dir + ": no config.json"), in.problems());
        assertEquals(2, in.tensors().size());
        assertEquals(Map.of("BF16", 6L, "F32", 8L), in.totals().bytesPerDtype());
        assertEquals(Map.of("BF16", 3L, "F32", 2L), in.totals().parametersPerDtype());
        assertEquals(Map.of("format", "pt"), in.files().getFirst().metadata());
        assertTrue(in.toText().contains("    format: pt"), in.toText());
    }
}
