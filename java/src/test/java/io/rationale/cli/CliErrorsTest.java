package io.rationale.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Every error: a non-zero exit and exactly one line on stderr naming what and where, no stack trace. */
class CliErrorsTest {
    static void assertOneLineError(CliRun r, int code, String... mustContain) {
        assertEquals(code, r.exitCode(), "exit code; stderr: " + r.err());
        String err = r.err().strip();
        assertFalse(err.isEmpty(), "an error line");
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertTrue(err.startsWith("rationale: "), err);
        assertFalse(err.contains("\tat "), "no stack trace: " + err);
        for (String s : mustContain) assertTrue(err.contains(s), "'" + s + "' in: " + err);
    }

    @Test
    void missingModelFolder() {
        assertOneLineError(CliRun.of("logits", "--model", "/nonexistent/model", "--text", "hi"), 1, "/nonexistent/model");
    }

    @Test
    void idOutsideVocabulary() {
        assertOneLineError(CliRun.of("logits", "--model", CliRun.STORIES.toString(), "--ids", "1,5000"), 1, "5000", "vocabulary");
    }

    @Test
    void emptyText() {
        assertOneLineError(CliRun.of("generate", "--model", CliRun.STORIES.toString(), "--text", ""), 2, "--text");
    }

    @Test
    void missingOption() {
        assertOneLineError(CliRun.of("logits", "--text", "hi"), 2, "--model");
    }

    @Test
    void badTemperature() {
        assertOneLineError(CliRun.of("generate", "--model", CliRun.STORIES.toString(), "--text", "hi", "--temperature", "-1"), 2, "temperature");
    }

    @Test
    void configDisagreeingWithWeightsNamesFileAndTensor(@TempDir Path tmp) throws Exception {
        try (var files = Files.list(CliRun.STORIES)) {
            for (Path p : files.toList()) Files.copy(p, tmp.resolve(p.getFileName()));
        }
        Path cfg = tmp.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"intermediate_size\": 172", "\"intermediate_size\": 176"));
        assertOneLineError(CliRun.of("logits", "--model", tmp.toString(), "--text", "hi"), 1, "model.safetensors", "mlp.gate_proj.weight", "176");
    }

    @Test
    void aNotFiniteWeightIsAnErrorNotNaNResults(@TempDir Path tmp) throws Exception {
        try (var files = Files.list(CliRun.STORIES)) {
            for (Path p : files.toList()) Files.copy(p, tmp.resolve(p.getFileName()));
        }
        // one NaN in model.norm.weight (F32), written at its place in the safetensors data section
        Path st = tmp.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        long n = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        var header = new com.fasterxml.jackson.databind.ObjectMapper().readTree(new String(bytes, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8));
        var norm = header.get("model.norm.weight");
        assertEquals("F32", norm.get("dtype").asText());
        int at = (int) (8 + n + norm.get("data_offsets").get(0).asLong());
        java.nio.ByteBuffer.wrap(bytes, at, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        Files.write(st, bytes);
        assertOneLineError(CliRun.of("logits", "--model", tmp.toString(), "--text", "hi"), 1, "logits are NaN", "not finite");
        assertOneLineError(CliRun.of("generate", "--model", tmp.toString(), "--text", "hi", "--max-new-tokens", "3"), 1, "logits are NaN");
    }

    @Test
    void unsupportedArchitecture(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve("config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"]}");
        assertOneLineError(CliRun.of("inspect", "--model", tmp.toString()), 1, "GPT2LMHeadModel");
    }

    @Test
    void verbosePrintsTheStackTrace() {
        CliRun r = CliRun.of("logits", "--model", "/nonexistent/model", "--text", "hi", "--verbose");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("\tat "), r.err());
    }
}
