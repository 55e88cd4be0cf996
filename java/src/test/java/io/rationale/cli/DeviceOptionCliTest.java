package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.engine.TestBackends;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --device}: every command that runs a model takes it, reports the device it ran on with its results (not on
 * stderr before them, so that an error stays one line), and refuses a device it cannot open with one line.
 */
class DeviceOptionCliTest {
    static final String STORIES = CliRun.STORIES.toString();

    @Test
    void theDeviceIsReportedWithTheResults() throws Exception {
        CliRun cpu = CliRun.of("logits", "--model", STORIES, "--text", "Once upon a time", "--device", "cpu", "--json");
        assertEquals(0, cpu.exitCode(), cpu.err());
        JsonNode j = new ObjectMapper().readTree(cpu.out());
        assertTrue(j.get("device").asText().startsWith("cpu ("), j.toString());
        CliRun text = CliRun.of("generate", "--model", STORIES, "--text", "Once", "--max-new-tokens", "3", "--device", "cpu");
        assertEquals(0, text.exitCode(), text.err());
        assertTrue(text.err().contains("device: cpu ("), text.err());
    }

    /** auto opens the CUDA backend where it loads; on a machine without a GPU it falls back to the CPU and says why. */
    @Test
    void autoSaysWhatItChose() throws Exception {
        CliRun r = CliRun.of("logits", "--model", STORIES, "--text", "Once upon a time");
        assertEquals(0, r.exitCode(), r.err());
        String line = r.out().lines().filter(l -> l.contains("device: ")).findFirst().orElseThrow(() -> new AssertionError(r.out()));
        assertTrue(line.contains("device: cpu") || line.contains("device: cuda"), line);
        if (line.contains("device: cpu") && io.rationale.engine.Backends.provided(io.rationale.engine.Device.Kind.CUDA))
            assertTrue(line.contains("cuda unavailable: "), "the reason auto skipped the GPU: " + line);
    }

    /** An unknown device is bad usage (exit 2, see Usage); a GPU that cannot open is a failure (exit 1). */
    @Test
    void anUnknownDeviceIsOneLine() {
        CliErrorsTest.assertOneLineError(CliRun.of("logits", "--model", STORIES, "--text", "hi", "--device", "tpu"), 2, "unknown device 'tpu'",
                "cpu, cuda, cuda:N, cuda-emu");
        CliErrorsTest.assertOneLineError(CliRun.of("generate", "--model", STORIES, "--text", "hi", "--device", "cuda:x"), 2, "unknown device 'cuda:x'");
    }

    /** Without a GPU and its driver, an explicit --device cuda is refused in one line naming why (never a JVM crash). */
    @Test
    void anExplicitGpuThatCannotOpenIsOneLine() {
        if (!TestBackends.emulatedDeviceBuilt()) return;    // no CUDA backend in this build: covered by anUnknownDeviceIsOneLine's path
        CliRun r = CliRun.of("logits", "--model", STORIES, "--text", "hi", "--device", "cuda:7");
        if (r.exitCode() == 0) return;                       // a machine with 8 GPUs
        CliErrorsTest.assertOneLineError(r, 1, "cuda");
    }
}
