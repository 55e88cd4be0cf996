package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.rationale.cli.CliErrorsTest.assertOneLineError;
import static org.junit.jupiter.api.Assertions.*;

/** {@code bench}: its argument errors (one line each) and a smoke run on the tiny preset. */
class BenchCommandTest {

    @Test
    void needsModelOrPreset() {
        assertOneLineError(CliRun.of("bench"), 2, "--model", "--preset");
    }

    @Test
    void modelAndPresetExcludeEachOther() {
        assertOneLineError(CliRun.of("bench", "--model", "/tmp", "--preset", "tiny"), 2, "--model", "--preset");
    }

    @Test
    void missingModelFolder() {
        assertOneLineError(CliRun.of("bench", "--model", "/nonexistent/model"), 1, "/nonexistent/model", "not a folder");
    }

    @Test
    void unknownPreset() {
        assertOneLineError(CliRun.of("bench", "--preset", "gpt-5"), 2, "unknown preset 'gpt-5'", "tinyllama-1.1b");
    }

    @Test
    void badNumbers() {
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--prompt-tokens", "64,0"), 2, "--prompt-tokens", "0");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--prompt-tokens", "x"), 2, "--prompt-tokens");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--repeat", "0"), 2, "--repeat");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--warmup", "-1"), 2, "--warmup");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--decode-tokens", "-2"), 2, "--decode-tokens");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--decode-context", "0"), 2, "--decode-context");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--steps", "8,0"), 2, "--steps");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--threads", "0"), 2, "--threads");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--attribution-tokens", "0"), 2, "--attribution-tokens");
    }

    @Test
    void lengthBeyondTheModel() {
        // the tiny preset has max_position_embeddings 2048
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--prompt-tokens", "4096"), 1, "4096", "max_position_embeddings 2048");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--prompt-tokens", "8", "--decode-context", "2040", "--decode-tokens", "16"),
                1, "2056", "max_position_embeddings");
    }

    @Test
    void smokeRunOnTheTinyPreset(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("results/bench.json");
        CliRun r = CliRun.of("bench", "--preset", "tiny", "--prompt-tokens", "8,16", "--decode-context", "8", "--decode-tokens", "3",
                "--attribution", "--attribution-tokens", "12", "--steps", "2,3", "--repeat", "2", "--warmup", "1", "--threads", "1",
                "--json", "--out", out.toString());
        assertEquals(0, r.exitCode(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(j, new ObjectMapper().readTree(Files.readString(out)), "--out holds the final results");
        assertEquals("tiny", j.at("/model/preset").asText());
        assertEquals("cpu (1 thread)", j.get("device").asText());
        assertEquals(2, j.get("repeat").asInt());
        assertEquals(2, j.get("prefill").size());
        for (JsonNode p : j.get("prefill")) {
            assertEquals(2, p.get("runs_s").size());
            assertTrue(p.get("tokens_per_s").asDouble() > 0);
            assertTrue(p.get("min_s").asDouble() <= p.get("median_s").asDouble() && p.get("median_s").asDouble() <= p.get("max_s").asDouble());
        }
        assertEquals(16, j.at("/prefill/1/tokens").asInt());
        assertEquals(3, j.at("/decode/tokens").asInt());
        assertEquals(8, j.at("/decode/context").asInt());
        assertEquals(j.at("/decode/median_s").asDouble() / 3, j.at("/decode/seconds_per_token").asDouble(), 1e-12);

        assertEquals(12, j.at("/attribution/tokens").asInt());
        assertTrue(j.at("/attribution/words").asInt() > 0, "the text input has words");
        List<String> names = new ArrayList<>();
        for (JsonNode m : j.at("/attribution/methods")) names.add(m.get("method").asText() + (m.has("steps") ? ":" + m.get("steps").asInt() : ""));
        assertEquals(List.of("forward", "input_x_gradient", "saliency", "attnlrp", "integrated_gradients:2", "integrated_gradients:3", "all:3"), names);
        JsonNode ig = j.at("/attribution/methods/4");
        assertTrue(ig.has("over_k_input_x_gradient") && ig.has("meets_target") && ig.has("batches"), ig.toString());
        JsonNode all = j.at("/attribution/methods/6");
        assertTrue(all.get("forward_once").asBoolean(), all.toString());
        assertTrue(all.get("gradient_backward_shared").asBoolean(), all.toString());
        assertTrue(r.err().contains("prefill") && r.err().contains("decode"), "progress on stderr with --json: " + r.err());
    }

    @Test
    void humanOutputWithoutAttribution() {
        CliRun r = CliRun.of("bench", "--preset", "tiny", "--prompt-tokens", "4", "--decode-tokens", "0", "--repeat", "1", "--warmup", "0");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("prefill     4 tokens"), r.out());
        assertTrue(r.out().contains("tokens/s"), r.out());
        assertFalse(r.out().contains("decode"), r.out());
        assertFalse(r.out().contains("attribution"), r.out());
    }
}
