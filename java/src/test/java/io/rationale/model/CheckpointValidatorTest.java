package io.rationale.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.weights.Checkpoint;
import io.rationale.weights.WeightsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Checkpoint against config.json: missing, extra and mis-shaped tensors, all reported. */
class CheckpointValidatorTest {
    @TempDir
    Path dir;

    /** Writes an all-zero F32 single-file checkpoint with these tensors. */
    private Path write(Map<String, long[]> tensors) throws Exception {
        StringBuilder h = new StringBuilder("{");
        long offset = 0;
        for (Map.Entry<String, long[]> e : tensors.entrySet()) {
            long n = 4;
            StringBuilder s = new StringBuilder();
            for (long d : e.getValue()) {
                n *= d;
                s.append(s.isEmpty() ? "" : ",").append(d);
            }
            if (h.length() > 1) h.append(',');
            h.append('"').append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":[").append(s)
                    .append("],\"data_offsets\":[").append(offset).append(',').append(offset + n).append("]}");
            offset += n;
        }
        byte[] header = h.append('}').toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
        out.write(header);
        out.write(new byte[(int) offset]);
        Path file = dir.resolve("model.safetensors");
        Files.write(file, out.toByteArray());
        return file;
    }

    private static ModelConfig config() { return ModelConfig.parse(ModelConfigTest.llama(), "config.json"); }

    @Test
    void exactMatchIsOk() throws Exception {
        ModelConfig c = config();
        write(c.expectedTensors());
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(List.of(), CheckpointValidator.problems(ckpt, c));
            CheckpointValidator.validate(ckpt, c);
            assertEquals("ok", CheckpointValidator.summary(List.of()));
        }
    }

    @Test
    void tolerableExtrasAreAccepted() throws Exception {
        ModelConfig c = config();
        Map<String, long[]> t = new LinkedHashMap<>(c.expectedTensors());
        t.put("lm_head.weight", new long[]{512, 64});                         // tied, written anyway
        t.put("model.layers.0.self_attn.rotary_emb.inv_freq", new long[]{4});
        write(t);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(List.of(), CheckpointValidator.problems(ckpt, c));
        }
    }

    @Test
    void allProblemsReportedOnOneLine() throws Exception {
        ModelConfig c = config();
        Map<String, long[]> t = new LinkedHashMap<>(c.expectedTensors());
        t.put("model.layers.0.self_attn.q_proj.weight", new long[]{64, 32});
        t.remove("model.layers.1.mlp.up_proj.weight");
        t.put("model.layers.2.mlp.up_proj.weight", new long[]{172, 64});     // a third layer config does not have
        t.put("model.norm.weight", new long[]{65});
        Path file = write(t);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            List<CheckpointValidator.Problem> p = CheckpointValidator.problems(ckpt, c);
            assertEquals(4, p.size(), p.toString());
            assertEquals(file + ": tensor model.layers.0.self_attn.q_proj.weight has shape [64, 32], config.json expects [64, 64]",
                    p.get(0).message());
            assertEquals(dir + ": tensor model.layers.1.mlp.up_proj.weight is missing, config.json expects shape [172, 64]",
                    p.get(1).message());
            assertEquals(file + ": tensor model.norm.weight has shape [65], config.json expects [64]", p.get(2).message());
            assertTrue(p.get(3).message().startsWith(file + ": tensor model.layers.2.mlp.up_proj.weight [172, 64] is not expected"),
                    p.get(3).message());
            assertEquals("model.layers.2.mlp.up_proj.weight", p.get(3).tensor());

            CheckpointMismatchException e = assertThrows(CheckpointMismatchException.class, () -> CheckpointValidator.validate(ckpt, c));
            assertEquals(p.get(0).message() + " (and 3 more problems)", e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
            assertEquals(p, e.problems());
            assertInstanceOf(WeightsException.class, e);
        }
    }

    @Test
    void singleProblemHasNoCount() throws Exception {
        ObjectNode j = ModelConfigTest.llama();
        j.put("tie_word_embeddings", false);
        ModelConfig c = ModelConfig.parse(j, "config.json");
        Map<String, long[]> t = new LinkedHashMap<>(c.expectedTensors());
        t.remove("lm_head.weight");
        write(t);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            WeightsException e = assertThrows(WeightsException.class, () -> CheckpointValidator.validate(ckpt, c));
            assertEquals(dir + ": tensor lm_head.weight is missing, config.json expects shape [512, 64]", e.getMessage());
        }
    }

    @Test
    void twoProblemsSaySingular() throws Exception {
        ModelConfig c = config();
        Map<String, long[]> t = new LinkedHashMap<>(c.expectedTensors());
        t.remove("model.norm.weight");
        t.put("extra", new long[]{1});
        write(t);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            WeightsException e = assertThrows(WeightsException.class, () -> CheckpointValidator.validate(ckpt, c));
            assertTrue(e.getMessage().endsWith(" (and 1 more problem)"), e.getMessage());
        }
    }

    @Test
    void storiesMatchesItsConfig() {
        Path hf = Path.of(System.getProperty("rationale.shared", "../shared")).resolve("data/models/stories260K-hf");
        try (Checkpoint ckpt = Checkpoint.open(hf)) {
            CheckpointValidator.validate(ckpt, ModelConfig.load(hf));
        }
    }
}
