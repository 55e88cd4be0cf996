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

    /** logits and generate on the emulated device give the CPU's numbers (stories260K is f32: 1e-4) and tokens. */
    @Test
    void logitsAndGenerateOnTheEmulatedDeviceEqualTheCpu() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestBackends.emulatedDeviceBuilt(), "the emulated device is not in this build");
        ObjectMapper om = new ObjectMapper();
        JsonNode cpu = om.readTree(CliRun.of("logits", "--model", STORIES, "--text", "Once upon a time there was", "--device", "cpu", "--json").out());
        CliRun emu = CliRun.of("logits", "--model", STORIES, "--text", "Once upon a time there was", "--device", "cuda-emu", "--json");
        assertEquals(0, emu.exitCode(), emu.err());
        JsonNode gpu = om.readTree(emu.out());
        assertTrue(gpu.get("device").asText().startsWith("cuda-emu"), gpu.get("device").asText());
        assertEquals(cpu.get("argmax_per_position"), gpu.get("argmax_per_position"));
        for (int i = 0; i < cpu.get("logits_last").size(); i++)
            assertEquals(cpu.get("logits_last").get(i).asDouble(), gpu.get("logits_last").get(i).asDouble(), 1e-4 * 20, "logit " + i);
        JsonNode g1 = om.readTree(CliRun.of("generate", "--model", STORIES, "--text", "Once", "--max-new-tokens", "40", "--device", "cpu", "--json").out());
        JsonNode g2 = om.readTree(CliRun.of("generate", "--model", STORIES, "--text", "Once", "--max-new-tokens", "40", "--device", "cuda-emu", "--json").out());
        assertEquals(g1.get("ids"), g2.get("ids"));
        JsonNode s1 = om.readTree(CliRun.of("generate", "--model", STORIES, "--text", "Once", "--max-new-tokens", "30", "--temperature", "0.9",
                "--top-p", "0.9", "--seed", "4", "--device", "cpu", "--json").out());
        JsonNode s2 = om.readTree(CliRun.of("generate", "--model", STORIES, "--text", "Once", "--max-new-tokens", "30", "--temperature", "0.9",
                "--top-p", "0.9", "--seed", "4", "--device", "cuda-emu", "--json").out());
        assertEquals(s1.get("ids"), s2.get("ids"), "seeded sampling on the device draws what the host sampler draws");
    }

    /**
     * attribute --method all on the emulated device: every method (the backward ones included) gives the CPU's target
     * and token scores on stories260K (f32) within 1e-4 of each method's largest |score| (see DeviceAttributionTest).
     */
    @Test
    void attributeAllOnTheEmulatedDeviceEqualsTheCpu() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestBackends.emulatedDeviceBuilt(), "the emulated device is not in this build");
        ObjectMapper om = new ObjectMapper();
        java.util.Map<String, JsonNode> runs = new java.util.LinkedHashMap<>();
        for (String device : new String[]{"cpu", "cuda-emu"}) {
            CliRun r = CliRun.of("attribute", "--model", STORIES, "--text", "Once upon a time there was a little girl", "--method", "all",
                    "--steps", "8", "--baseline-token", "0", "--device", device, "--json");
            assertEquals(0, r.exitCode(), r.err());
            runs.put(device, om.readTree(r.out()));
        }
        JsonNode cpu = runs.get("cpu"), gpu = runs.get("cuda-emu");
        assertTrue(gpu.get("device").asText().startsWith("cuda-emu"), gpu.get("device").asText());
        assertEquals(cpu.get("target_id"), gpu.get("target_id"));
        java.util.Iterator<String> names = cpu.get("methods").fieldNames();
        int methods = 0;
        while (names.hasNext()) {
            String m = names.next();
            JsonNode a = cpu.at("/methods/" + m + "/scores"), b = gpu.at("/methods/" + m + "/scores");
            assertEquals(a.size(), b.size(), m);
            double max = 0;
            for (JsonNode x : a) max = Math.max(max, Math.abs(x.asDouble()));
            for (int i = 0; i < a.size(); i++) assertEquals(a.get(i).asDouble(), b.get(i).asDouble(), 1e-4 * Math.max(1, max), m + " token " + i);
            methods++;
        }
        assertEquals(io.rationale.attribution.Method.values().length, methods);
    }

    /**
     * eval on the emulated device, every attribution method (the backward ones included, integrated gradients batched
     * on the device) and a prompting method, the flip evaluation's label logits picked on the device: the built-in job
     * (an f32 model) gives the CPU's predictions, prompting answers and flips, and its word scores and faithfulness
     * numbers (comprehensiveness, sufficiency, AOPC) within 1e-4 of each method's largest |score| (see
     * DeviceAttributionTest) and 1e-5 absolute.
     */
    @Test
    void evalOnTheEmulatedDeviceEqualsTheCpu(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestBackends.emulatedDeviceBuilt(), "the emulated device is not in this build");
        String[] attribution = {"saliency", "input_x_gradient", "integrated_gradients", "attnlrp", "cplrp", "attention", "attention_rollout", "occlusion"};
        String methods = String.join(",", attribution) + ",prompt_guided";
        java.util.Map<String, java.util.List<JsonNode>> runs = new java.util.LinkedHashMap<>();
        for (String device : new String[]{"cpu", "cuda-emu"}) {
            java.nio.file.Path out = tmp.resolve(device);
            long t0 = System.nanoTime();
            CliRun r = CliRun.of("eval", "--builtin", "--out", out.toString(), "--methods", methods, "--progress", "none", "--device", device,
                    "--limit", "2", "--ig-steps", "8");
            System.out.printf("[eval] %s: %.1f s%n", device, (System.nanoTime() - t0) / 1e9);
            assertEquals(0, r.exitCode(), r.err());
            assertTrue(r.out().contains("device: " + device), r.out());
            // the flip evaluation through Backend#flipEvaluation: on cuda-emu built, scored and measured on the device
            JsonNode paths = new ObjectMapper().readTree(out.resolve("summary.json").toFile()).get("flip_paths");
            assertEquals(2, paths.get("token_level").asInt() + paths.get("host").asInt(), paths.toString());
            assertTrue(paths.get("token_level").asInt() > 0, paths.toString());
            assertTrue(r.out().contains("flip evaluation: "), r.out());
            java.util.List<JsonNode> rows = new java.util.ArrayList<>();
            for (String line : java.nio.file.Files.readAllLines(out.resolve("examples.jsonl"))) rows.add(new ObjectMapper().readTree(line));
            runs.put(device, rows);
        }
        java.util.List<JsonNode> cpu = runs.get("cpu"), gpu = runs.get("cuda-emu");
        assertEquals(cpu.size(), gpu.size());
        int faithfulness = 0;
        for (int e = 0; e < cpu.size(); e++) {
            assertEquals(cpu.get(e).get("predicted"), gpu.get(e).get("predicted"), "example " + e);
            for (String m : attribution) {
                JsonNode a = cpu.get(e).at("/methods/" + m + "/scores"), b = gpu.get(e).at("/methods/" + m + "/scores");
                assertEquals(a.size(), b.size(), m);
                assertTrue(a.size() > 0, m + " has word scores");
                double max = 0;
                for (JsonNode x : a) max = Math.max(max, Math.abs(x.asDouble()));
                for (int i = 0; i < a.size(); i++) assertEquals(a.get(i).asDouble(), b.get(i).asDouble(), 1e-4 * Math.max(1, max), m + " example " + e + " word " + i);
                JsonNode fa = cpu.get(e).at("/methods/" + m + "/faithfulness"), fb = gpu.get(e).at("/methods/" + m + "/faithfulness");
                if (!fa.isMissingNode()) faithfulness += sameJson(fa, fb, 1e-5, m + " example " + e + " faithfulness");
            }
            assertTrue(cpu.get(e).at("/methods/prompt_guided/raw").isTextual(), "a prompting answer");
            assertEquals(cpu.get(e).at("/methods/prompt_guided/raw"), gpu.get(e).at("/methods/prompt_guided/raw"), "prompt_guided answer " + e);
        }
        assertTrue(faithfulness > 100, "faithfulness numbers compared: " + faithfulness);
    }

    /** Equal JSON trees, numbers within tol (NaN equals NaN); returns how many numbers were compared. */
    static int sameJson(JsonNode a, JsonNode b, double tol, String where) {
        assertEquals(a.getNodeType(), b.getNodeType(), where);
        if (a.isNumber()) {
            double x = a.asDouble(), y = b.asDouble();
            if (!(Double.isNaN(x) && Double.isNaN(y))) assertEquals(x, y, tol, where);
            return 1;
        }
        if (a.isTextual() && (a.asText().equals("NaN") || b.asText().equals("NaN"))) {
            assertEquals(a.asText(), b.asText(), where);
            return 0;
        }
        if (a.isObject()) {
            int n = 0;
            java.util.Set<String> fa = new java.util.TreeSet<>(), fb = new java.util.TreeSet<>();
            a.fieldNames().forEachRemaining(fa::add);
            b.fieldNames().forEachRemaining(fb::add);
            assertEquals(fa, fb, where);
            for (java.util.Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                n += sameJson(a.get(f), b.get(f), tol, where + "/" + f);
            }
            return n;
        }
        if (a.isArray()) {
            assertEquals(a.size(), b.size(), where);
            int n = 0;
            for (int i = 0; i < a.size(); i++) n += sameJson(a.get(i), b.get(i), tol, where + "[" + i + "]");
            return n;
        }
        assertEquals(a, b, where);
        return 0;
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
