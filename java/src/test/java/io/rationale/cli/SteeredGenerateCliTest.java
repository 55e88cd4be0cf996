package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.engine.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code generate --steer-*} on stories260K: α = 0 is plain generation token for token (the hook adds exact zeros);
 * the relevance used is reported after normalisation (max-abs: largest |value| 1, signs kept; from a file: the file's
 * values normalised by hand here); a strong steer changes the continuation; the CUDA backend on the emulated device
 * steers to the same tokens as the CPU (its relevance computed on a CPU backend); bad options give one line and exit 1
 * or 2.
 */
class SteeredGenerateCliTest {
    static final ObjectMapper M = new ObjectMapper();
    static final String TEXT = "Once upon a time, there was a little girl named Lily. She loved to play";

    static JsonNode run(String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("generate", "--model", CliRun.STORIES.toString(), "--text", TEXT, "--max-new-tokens", "24", "--json"));
        a.addAll(Arrays.asList(extra));
        CliRun r = CliRun.of(a.toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        return M.readTree(r.out());
    }

    @Test
    void alphaZeroIsPlainGenerationAndTheRelevanceIsReported() throws Exception {
        JsonNode plain = run();
        for (String op : List.of("post", "post-renorm", "pre"))
            for (String rows : List.of("all", "causal")) {
                JsonNode z = run("--steer-alpha", "0", "--steer-layers", "1,3", "--steer-span", "2:12", "--steer-operator", op, "--steer-rows", rows);
                assertEquals(plain.get("ids"), z.get("ids"), op + " " + rows);
                assertEquals(plain.get("text"), z.get("text"));
            }
        JsonNode z = run("--steer-alpha", "0", "--steer-layers", "1,3", "--steer-span", "2:12");
        JsonNode rel = z.get("steer_relevance");
        assertEquals(10, rel.size());
        double max = 0;
        for (JsonNode v : rel) max = Math.max(max, Math.abs(v.asDouble()));
        assertEquals(1.0, max, 1e-12, "max-abs normalised");
        JsonNode raw = z.get("steer").get("relevance_raw");
        double rawMax = 0;
        for (JsonNode v : raw) rawMax = Math.max(rawMax, Math.abs(v.asDouble()));
        for (int i = 0; i < 10; i++) assertEquals(raw.get(i).asDouble() / rawMax, rel.get(i).asDouble(), 1e-12, "value " + i);
        assertEquals("pe_lrp", z.get("steer").get("method").asText());
        assertEquals("post", z.get("steer").get("operator").asText());
        assertEquals("all", z.get("steer").get("rows").asText());
        assertEquals(plain.get("ids").get(z.get("prompt_tokens").asInt()).asInt(), z.get("steer").get("target_id").asInt(),
                "the relevance explains the model's next token");
    }

    @Test
    void aStrongSteerChangesTheTextAndAFileGivesTheRelevance(@TempDir Path tmp) throws Exception {
        JsonNode plain = run();
        JsonNode strong = run("--steer-alpha", "0.8", "--steer-layers", "0,1,2,3,4", "--steer-span", "1:8", "--steer-method", "input_x_gradient");
        assertNotEquals(plain.get("ids"), strong.get("ids"), "a strong steer changes the continuation");
        Path f = tmp.resolve("rel.txt");
        Files.writeString(f, "1 2 -4 0.5");
        JsonNode fromFile = run("--steer-alpha", "0.3", "--steer-layers", "window:2:2", "--steer-span", "3:7", "--steer-relevance", f.toString(),
                "--steer-norm", "l1");
        double[] want = {1 / 7.5, 2 / 7.5, -4 / 7.5, 0.5 / 7.5};
        for (int i = 0; i < 4; i++) assertEquals(want[i], fromFile.get("steer_relevance").get(i).asDouble(), 1e-12);
        assertEquals("[2,3]", fromFile.get("steer").get("layers").toString());
        assertTrue(fromFile.get("steer").get("relevance_file").asText().endsWith("rel.txt"));
    }

    @Test
    void theEmulatedCudaDeviceSteersLikeTheCpu() throws Exception {
        if (!TestBackends.emulatedDeviceBuilt()) return;
        String[] steer = {"--steer-alpha", "0.2", "--steer-layers", "2,3", "--steer-span", "1:10", "--steer-operator", "post-renorm"};
        JsonNode cpu = run(concat(steer, "--device", "cpu")), emu = run(concat(steer, "--device", "cuda-emu"));
        assertEquals(cpu.get("ids"), emu.get("ids"));
        for (int i = 0; i < 9; i++)
            assertEquals(cpu.get("steer_relevance").get(i).asDouble(), emu.get("steer_relevance").get(i).asDouble(), 1e-6);
    }

    static String[] concat(String[] a, String... b) {
        String[] o = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    @Test
    void badSteeringOptionsGiveOneLine(@TempDir Path tmp) throws Exception {
        String m = CliRun.STORIES.toString();
        Path f = tmp.resolve("three.txt");
        Files.writeString(f, "1,2,3");
        String[][] cases = {
                {"--steer-alpha", "0.1", "--steer-layers", "1"},
                {"--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "5:99"},
                {"--steer-alpha", "0.1", "--steer-layers", "7", "--steer-span", "1:4"},
                {"--steer-alpha", "-1", "--steer-layers", "1", "--steer-span", "1:4"},
                {"--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "4:1"},
                {"--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "1:4", "--steer-operator", "mul"},
                {"--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "1:5", "--steer-relevance", f.toString()},
                {"--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "1:4", "--steer-method", "nope"},
                {"--steer-alpha", "0.1", "--steer-layers", "logit-lens", "--steer-span", "1:4"}};
        String[] expect = {"together", "ends after the prompt", "layer 7", "alpha", "START:END", "operator", "4 tokens", "unknown method", "logit-lens"};
        for (int i = 0; i < cases.length; i++) {
            List<String> a = new ArrayList<>(List.of("generate", "--model", m, "--text", TEXT, "--max-new-tokens", "3"));
            a.addAll(Arrays.asList(cases[i]));
            CliRun r = CliRun.of(a.toArray(String[]::new));
            assertEquals(1, r.exitCode(), String.join(" ", cases[i]) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
            assertTrue(r.err().contains(expect[i]), expect[i] + " in: " + r.err());
        }
    }
}
