package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.perf.CpuCalibration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.rationale.cli.CliErrorsTest.assertOneLineError;
import static org.junit.jupiter.api.Assertions.*;

/** {@code bench matrix} on the tiny preset: the outputs (one row per cell), cpu and cuda-emu, calibration, resume. */
class BenchMatrixTest {
    private static final ObjectMapper M = new ObjectMapper();

    private static String[] args(Path out, String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("bench", "matrix", "--preset", "tiny", "--repeat", "2", "--warmup", "0", "--max-warmup", "2",
                "--threads", "1", "--calibration-mib", "8", "--decode-tokens", "2", "--flip-variants", "3", "--out", out.toString()));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void everyOutputHasOneRowPerCellOnCpuAndCudaEmu(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("m.json"), csv = tmp.resolve("m.csv"), html = tmp.resolve("m.html");
        CliRun r = CliRun.of(args(out, "--device", "cpu,cuda-emu", "--ops", "prefill,decode,saliency,ig,occlusion,flip", "--steps", "2",
                "--lengths", "8,12", "--csv", csv.toString(), "--html", html.toString(), "--json"));
        assertEquals(0, r.exitCode(), r.err());
        JsonNode j = M.readTree(r.out());
        assertEquals(j, M.readTree(Files.readString(out)), "--out holds the final results");
        int expected = 2 * 6 * 2;
        assertEquals(expected, j.get("cells").size());
        Set<String> keys = new HashSet<>();
        for (JsonNode c : j.get("cells")) {
            assertTrue(keys.add(c.get("key").asText()), "unique " + c.get("key"));
            for (String f : List.of("seconds_per_call", "iqr_s", "mad_s", "tokens_per_s", "flops_per_call", "bytes_per_call", "pct_flops_peak", "pct_roofline"))
                assertTrue(c.get(f).isNumber() && Double.isFinite(c.get(f).asDouble()) && c.get(f).asDouble() >= 0, f + " of " + c);
            assertTrue(c.get("seconds_per_call").asDouble() > 0 && c.get("flops_per_call").asDouble() > 0, c.toString());
            assertTrue(c.get("peak_heap_bytes").asLong() > 0, c.toString());
            assertTrue(c.get("iqr_s").asDouble() <= c.get("max_s").asDouble() - c.get("min_s").asDouble() + 1e-15, c.toString());
            assertTrue(c.has("over_forward"), "every cell has its prefill: " + c.get("key"));
            if (c.get("device").asText().equals("cuda-emu")) assertTrue(c.get("device_memory_used_bytes").asLong() > 0, c.toString());
        }
        assertTrue(keys.contains("cuda-emu|integrated_gradients:2|T=12|B=1"), keys.toString());
        for (String d : List.of("cpu", "cuda-emu")) {
            JsonNode cal = j.at("/calibration/" + d);
            assertTrue(cal.get("flops_per_s").asDouble() > 0 && Double.isFinite(cal.get("flops_per_s").asDouble()), cal.toString());
            assertTrue(cal.get("bytes_per_s").asDouble() > 0 && Double.isFinite(cal.get("bytes_per_s").asDouble()), cal.toString());
        }
        assertEquals("cuda-emu", j.at("/calibration/cuda-emu/kind").asText());
        assertTrue(j.at("/calibration/cuda-emu/flops_method").asText().startsWith("EMULATED"));
        assertTrue(j.at("/machine/cores").asInt() > 0 && j.has("commit"), j.get("machine").toString());
        // over_forward: a cell's time over the prefill cell's of the same device, length and batch
        java.util.Map<String, Double> forward = new java.util.HashMap<>();
        for (JsonNode c : j.get("cells"))
            if (c.get("op").asText().equals("prefill"))
                forward.put(c.get("device").asText() + " " + c.get("length").asInt() + " " + c.get("batch").asInt(), c.get("seconds_per_call").asDouble());
        int compared = 0;
        for (JsonNode c : j.get("cells")) {
            Double f = forward.get(c.get("device").asText() + " " + c.get("length").asInt() + " " + c.get("batch").asInt());
            if (f == null || !c.has("over_forward")) continue;
            assertEquals(c.get("seconds_per_call").asDouble() / f, c.get("over_forward").asDouble(), 1e-9, c.toString());
            compared++;
        }
        assertTrue(compared > 1, "cells compared with their forward: " + compared);

        List<String> lines = Files.readAllLines(csv);
        assertEquals(expected + 1, lines.size(), "header + one row per cell");
        assertTrue(lines.get(0).startsWith("key,device,backend,op,steps,length,batch,seconds_per_call"), lines.get(0));
        String page = Files.readString(html);
        assertEquals(2 * 3, count(page, "<svg "), "three plots per device");
        assertFalse(page.contains("<script") || page.contains("src=") || page.contains("href="), "self-contained, no scripts");
        assertTrue(page.contains("<polyline"), "time against length has lines");
        assertEquals(expected, count(page, "<tr><td class=\"l\">cpu") + count(page, "<tr><td class=\"l\">cuda-emu")
                - 2, "one table row per cell (plus the two calibration rows)");
        assertTrue(r.err().contains("[########################] " + expected + "/" + expected), "progress bar on stderr: " + r.err());
    }

    @Test
    void batchesScaleTheWorkAndShareTheWeights(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("b.json"), csv = tmp.resolve("b.csv");
        CliRun r = CliRun.of(args(out, "--ops", "prefill,decode,saliency,attention", "--lengths", "8", "--batch", "1,2", "--csv", csv.toString()));
        assertEquals(0, r.exitCode(), r.err());
        JsonNode cells = M.readTree(out.toFile()).get("cells");
        assertEquals(8, cells.size());
        java.util.Map<String, JsonNode> byKey = new java.util.HashMap<>();
        for (JsonNode c : cells) byKey.put(c.get("key").asText(), c);
        for (String op : List.of("prefill", "decode", "saliency", "attention")) {
            JsonNode one = byKey.get("cpu|" + op + "|T=8|B=1"), two = byKey.get("cpu|" + op + "|T=8|B=2");
            // two sequences do twice the arithmetic, but one batched pass reads the weights once: less than twice the bytes
            assertEquals(2 * one.get("flops_per_call").asDouble(), two.get("flops_per_call").asDouble(), 0, op);
            assertTrue(two.get("bytes_per_call").asDouble() < 2 * one.get("bytes_per_call").asDouble(), op);
            double tokensPerRun = op.equals("decode") ? 2 * 2 : 2 * 8;       // B × decode steps, or B × T
            assertEquals(tokensPerRun / two.get("median_s").asDouble(), two.get("tokens_per_s").asDouble(),
                    1e-9 * two.get("tokens_per_s").asDouble(), op + ": tokens per run / median");
        }
        // the CSV holds the JSON's numbers
        List<String> lines = Files.readAllLines(csv);
        List<String> header = List.of(lines.get(0).split(","));
        String[] first = lines.get(1).split(",");
        assertEquals(cells.get(0).get("key").asText(), first[header.indexOf("key")]);
        assertEquals(cells.get(0).get("seconds_per_call").asDouble(), Double.parseDouble(first[header.indexOf("seconds_per_call")]), 0);
        assertEquals(cells.get(0).get("flops_per_call").asDouble(), Double.parseDouble(first[header.indexOf("flops_per_call")]), 0);
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }

    @Test
    void aRerunResumesWithoutLosingOrRepeatingCells(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("r.json");
        String[] a = args(out, "--ops", "prefill,decode", "--lengths", "6,10");
        CliRun first = CliRun.of(a);
        assertEquals(0, first.exitCode(), first.err());
        ObjectNode full = (ObjectNode) M.readTree(out.toFile());
        assertEquals(4, full.get("cells").size());
        // a run killed during its last cell leaves the file as written after the cell before (each write replaces the
        // file atomically): the same file without the last cell
        ObjectNode killed = full.deepCopy();
        ((ArrayNode) killed.get("cells")).remove(3);
        Files.writeString(out, M.writeValueAsString(killed));
        CliRun resumed = CliRun.of(a);
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.err().contains("1 cell(s) measured, 3 resumed"), resumed.err());
        assertFalse(resumed.err().contains("calibrating"), "the stored calibration is reused: " + resumed.err());
        JsonNode after = M.readTree(out.toFile());
        assertEquals(4, after.get("cells").size());
        for (int i = 0; i < 3; i++) assertEquals(full.at("/cells/" + i), after.at("/cells/" + i), "kept as measured");
        assertEquals(full.at("/cells/3/key"), after.at("/cells/3/key"));
        assertNotEquals(full.at("/cells/3/runs_s"), after.at("/cells/3/runs_s"), "the missing cell was measured again");
        assertEquals(full.get("calibration"), after.get("calibration"));

        CliRun again = CliRun.of(a);
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.err().contains("0 cell(s) measured, 4 resumed"), again.err());
        assertEquals(after.get("cells"), M.readTree(out.toFile()).get("cells"));

        // another model into the same file: refused
        ObjectNode other = (ObjectNode) M.readTree(out.toFile());
        ((ObjectNode) other.get("model")).put("source", "preset:tinyllama-1.1b");
        Files.writeString(out, M.writeValueAsString(other));
        assertOneLineError(CliRun.of(a), 1, "another model");
    }

    /** {@code a} with the value after {@code option} replaced. */
    private static String[] with(String[] a, String option, String value) {
        String[] b = a.clone();
        b[List.of(b).indexOf(option) + 1] = value;
        return b;
    }

    @Test
    void aResumeWithOtherSettingsIsRefused(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("s.json");
        String[] a = args(out, "--ops", "prefill,decode,flip", "--lengths", "6");
        CliRun first = CliRun.of(a);
        assertEquals(0, first.exitCode(), first.err());
        String before = Files.readString(out);
        // another thread count would mix 1-thread and 2-thread cells and hold the new ones against the 1-thread peaks
        assertOneLineError(CliRun.of(with(a, "--threads", "2")), 1, "other settings", "threads 1 there, 2 now");
        assertOneLineError(CliRun.of(with(a, "--decode-tokens", "3")), 1, "decode_tokens 2 there, 3 now");
        assertOneLineError(CliRun.of(with(a, "--flip-variants", "4")), 1, "flip_variants 3 there, 4 now");
        assertOneLineError(CliRun.of(with(a, "--calibration-mib", "16")), 1, "calibration_mib 8 there, 16 now");
        assertEquals(before, Files.readString(out), "a refused run leaves the file as it was");
        // more repeats or another warm-up change no cell's meaning: the run resumes, and other lengths add cells
        CliRun more = CliRun.of(with(with(a, "--repeat", "3"), "--lengths", "6,8"));
        assertEquals(0, more.exitCode(), more.err());
        assertTrue(more.err().contains("3 cell(s) measured, 3 resumed"), more.err());
        assertEquals(1, M.readTree(out.toFile()).at("/settings/threads").asInt());
    }

    /**
     * A real kill: a separate JVM runs a matrix and is killed (SIGKILL) once it has written a cell; the file it
     * leaves is complete JSON, and the rerun keeps those cells as measured and measures each other cell once.
     */
    @Test
    void resumesAfterAKill(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("k.json");
        String[] a = args(out, "--ops", "prefill,decode", "--lengths", "6,8,10,12,14,16,18,20,22,24");
        a[List.of(a).indexOf("--repeat") + 1] = "15";          // cells long enough to kill the run in the middle
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(a));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile()).start();
        int before = 0;
        long deadline = System.nanoTime() + 120_000_000_000L;
        try {
            while (System.nanoTime() < deadline && p.isAlive()) {
                if (Files.isRegularFile(out)) {
                    try {
                        before = M.readTree(out.toFile()).get("cells").size();
                    } catch (java.io.IOException e) {
                        fail("the file a running matrix writes is always complete JSON: " + e.getMessage());
                    }
                    if (before >= 1) break;
                }
                Thread.sleep(2);
            }
            assertTrue(p.isAlive(), "the child was still running when killed (exit " + (p.isAlive() ? "-" : p.exitValue()) + ", " + cmd + "): "
                    + Files.readString(tmp.resolve("child.log")));
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
        JsonNode killed = M.readTree(out.toFile());
        int kept = killed.get("cells").size();
        assertTrue(kept >= 1 && kept < 20, "killed mid-run after " + kept + " cells");
        CliRun resumed = CliRun.of(a);
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.err().contains((20 - kept) + " cell(s) measured, " + kept + " resumed"), resumed.err());
        JsonNode after = M.readTree(out.toFile());
        assertEquals(20, after.get("cells").size());
        Set<String> keys = new HashSet<>();
        for (JsonNode c : after.get("cells")) assertTrue(keys.add(c.get("key").asText()), "once: " + c.get("key"));
        for (int i = 0; i < kept; i++) {
            JsonNode k = killed.at("/cells/" + i), r = after.at("/cells/" + i);
            assertEquals(k.get("key"), r.get("key"));
            assertEquals(k.get("runs_s"), r.get("runs_s"), "kept as measured before the kill");
        }
        assertEquals(killed.get("calibration"), after.get("calibration"));
    }

    /**
     * A run stopped by SIGTERM (as Ctrl-C or a scheduler stops it) deletes the preset it generated in the temporary
     * directory; it used to stay there (652 KB for tiny, gigabytes for the real shapes of bench's presets).
     */
    @Test
    void aStoppedRunDeletesItsGeneratedModel(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("s.json");
        String[] a = args(out, "--ops", "prefill,decode", "--lengths", "6,8,10,12,14,16,18,20,22,24");
        a[List.of(a).indexOf("--repeat") + 1] = "15";
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(a));
        Path log = tmp.resolve("child.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Path model = null;
        long deadline = System.nanoTime() + 120_000_000_000L;
        try {
            java.util.regex.Pattern written = java.util.regex.Pattern.compile("writing the tiny preset \\(seed 0\\) to (\\S+) \\.\\.\\.");
            while (System.nanoTime() < deadline && p.isAlive()) {
                if (model == null) {
                    var m = written.matcher(Files.readString(log));
                    if (m.find()) model = Path.of(m.group(1));
                }
                if (model != null && Files.isRegularFile(out) && M.readTree(out.toFile()).get("cells").size() >= 1) break;
                Thread.sleep(5);
            }
            assertNotNull(model, Files.readString(log));
            assertTrue(p.isAlive() && Files.isDirectory(model), "stopped while measuring, its model in place: " + Files.readString(log));
            p.destroy();                                         // SIGTERM
            assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        assertFalse(Files.exists(model), "the generated model is gone: " + model);
    }

    @Test
    void calibrationGivesPositiveFinitePeaks() {
        CpuCalibration.Peaks p = CpuCalibration.measure(1, 8L << 20);
        // any CPU with a vector unit does more than 0.1 GFLOP/s and reads more than 0.1 GB/s
        assertTrue(Double.isFinite(p.flopsPerSecond()) && p.flopsPerSecond() > 1e8, p.toString());
        assertTrue(Double.isFinite(p.bytesPerSecond()) && p.bytesPerSecond() > 1e8, p.toString());
    }

    /**
     * The read-bandwidth calibration of a small buffer in a fresh JVM (where the JIT has compiled nothing yet): the
     * loop must be warmed up before its passes are timed. Compiled vector loads from a 1 MiB buffer (it fits the L2
     * cache) read tens of GB/s on one thread; interpreted ones about 0.3–1 GB/s, which is what one warm-up pass used to
     * leave (0.33 GB/s measured here before the fix, 34 GB/s once compiled). 3 GB/s lies between with a wide margin.
     */
    @Test
    void aSmallReadCalibrationIsTimedCompiled(@TempDir Path tmp) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "bench", "matrix", "--preset", "tiny", "--ops", "prefill", "--lengths", "2", "--repeat", "1", "--warmup", "0",
                "--max-warmup", "0", "--threads", "1", "--calibration-mib", "1", "--json"));
        Process p = new ProcessBuilder(cmd).redirectError(tmp.resolve("err.log").toFile()).redirectOutput(tmp.resolve("out.json").toFile()).start();
        assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the child finished");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("err.log")));
        JsonNode cal = M.readTree(tmp.resolve("out.json").toFile()).at("/calibration/cpu");
        assertTrue(cal.get("bytes_per_s").asDouble() > 3e9, "a 1 MiB buffer read at compiled speed: " + cal);
    }

    @Test
    void badOptions() {
        assertOneLineError(CliRun.of("bench", "matrix", "--preset", "tiny", "--ops", "prefill,magic"), 2, "unknown operation 'magic'");
        assertOneLineError(CliRun.of("bench", "matrix", "--preset", "tiny", "--lengths", "1"), 2, "--lengths");
        assertOneLineError(CliRun.of("bench", "matrix", "--preset", "tiny", "--batch", "0"), 2, "--batch");
        assertOneLineError(CliRun.of("bench", "matrix", "--preset", "tiny", "--device", "tpu"), 2, "tpu");
        assertOneLineError(CliRun.of("bench", "matrix"), 2, "--model", "--preset");
        assertOneLineError(CliRun.of("bench", "matrix", "--preset", "tiny", "--lengths", "4096"), 1, "max_position_embeddings");
    }
}
