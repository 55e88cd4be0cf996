package io.rationale.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DemoAndInspectCliTest {
    @Test
    void demoRunsOnTheEmbeddedTinyModel() {
        CliRun r = CliRun.of("demo");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("greedy continuation (24 tokens)"), r.out());
        assertTrue(r.out().contains("top 5:"), r.out());
        String again = CliRun.of("demo").out();
        assertEquals(r.out().replaceAll("rationale-tiny-\\d+", "TMP"), again.replaceAll("rationale-tiny-\\d+", "TMP"),
                "deterministic apart from the temporary folder name");
    }

    @Test
    void inspectReportsAndValidates() throws Exception {
        CliRun r = CliRun.of("inspect", "--model", CliRun.STORIES.toString(), "--json");
        assertEquals(0, r.exitCode(), r.err());
        var j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("ok").asBoolean());
        assertEquals(47, j.get("tensors").size());
    }

    @Test
    void tinyWritesAModelTheEngineRuns(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("m");
        CliRun w = CliRun.of("weights-tools", "tiny", "--out", dir.toString(), "--dtype", "bf16", "--arch", "Qwen2ForCausalLM", "--quiet");
        assertEquals(0, w.exitCode(), w.err());
        assertEquals(0, CliRun.of("weights-tools", "inspect", "--model", dir.toString()).exitCode());
        CliRun g = CliRun.of("generate", "--model", dir.toString(), "--text", "hello there", "--max-new-tokens", "5", "--json");
        assertEquals(0, g.exitCode(), g.err());
        assertEquals(5, new ObjectMapper().readTree(g.out()).get("new_tokens").asInt());
    }
}
