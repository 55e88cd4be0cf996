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

    /**
     * Bad steering options: one line; exit 2 with the help hint for what the command line alone shows wrong (judged before
     * the model is read: the model folder of those cases does not exist), exit 1 for what only the model, the prompt or
     * a file shows.
     */
    @Test
    void badSteeringOptionsGiveOneLine(@TempDir Path tmp) throws Exception {
        String m = CliRun.STORIES.toString(), none = tmp.resolve("no-model").toString();
        Path f = tmp.resolve("three.txt");
        Files.writeString(f, "1,2,3");
        record Case(int code, String expect, String... args) {}
        List<Case> cases = List.of(
                new Case(2, "steering needs --steer-alpha, --steer-layers and --steer-span together", "--steer-alpha", "0.1", "--steer-layers", "1"),
                new Case(2, "steering needs --steer-alpha, --steer-layers and --steer-span together", "--steer-alpha", "0.3", "--steer-span", "1:9"),
                new Case(2, "--steer-alpha must be a finite number >= 0, got -1.0", "--steer-alpha", "-1", "--steer-layers", "1", "--steer-span", "1:4"),
                new Case(2, "--steer-span must be START:END", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "4:1"),
                new Case(2, "--steer-span must be START:END", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "5:2"),
                new Case(2, "--steer-span must be START:END", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "abc"),
                new Case(2, "--steer-operator: unknown steering operator 'mul'", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "1:4",
                        "--steer-operator", "mul"),
                new Case(2, "--steer-method: unknown method 'nope'", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "1:4",
                        "--steer-method", "nope"),
                new Case(2, "give --steer-method or --steer-relevance, not both", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "1:4",
                        "--steer-method", "saliency", "--steer-relevance", f.toString()),
                new Case(2, "--steer-layers: layer -1 is negative", "--steer-alpha", "0.1", "--steer-layers", "-1", "--steer-span", "1:4"),
                new Case(2, "--steer-layers: the logit-lens rule", "--steer-alpha", "0.1", "--steer-layers", "logit-lens", "--steer-span", "1:4"),
                new Case(1, "--steer-span 5:99 ends after the prompt", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "5:99"),
                new Case(1, "layer 7 (from --steer-layers 7) is outside the model's [0, 5)", "--steer-alpha", "0.1", "--steer-layers", "7", "--steer-span",
                        "1:4"),
                new Case(1, "layer 5 (from --steer-layers window:3:3)", "--steer-alpha", "0.1", "--steer-layers", "window:3:3", "--steer-span", "1:4"),
                new Case(1, "4 tokens", "--steer-alpha", "0.1", "--steer-layers", "1", "--steer-span", "1:5", "--steer-relevance", f.toString()));
        for (Case c : cases) {
            List<String> a = new ArrayList<>(List.of("generate", "--model", c.code() == 2 ? none : m, "--text", TEXT, "--max-new-tokens", "3"));
            a.addAll(Arrays.asList(c.args()));
            CliRun r = CliRun.of(a.toArray(String[]::new));
            String where = String.join(" ", c.args());
            if (c.code() == 2) CliErrorsTest.assertOneLineError(r, 2, c.expect(), "(see: rationale generate --help)");
            else CliErrorsTest.assertOneLineError(r, 1, c.expect());
            assertTrue(!r.err().contains("from --layers"), where + ": names the option given: " + r.err());
        }
    }
}
