package io.rationale.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Kills a real evaluation process in the middle and resumes it: no example lost, none twice. */
class KillResumeTest {
    static final int N = 14;

    static Process start(Path out, Path data, long delayMs, Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), SlowEvalMain.class.getName(), out.toString(), "jsonl:" + data, Long.toString(delayMs)));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static long lines(Path f) throws Exception {
        if (!Files.exists(f)) return 0;
        return Files.readString(f).chars().filter(c -> c == '\n').count();
    }

    @Test
    void killedProcessResumesWithEveryIndexOnce(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, N, 0), out = tmp.resolve("out"), ex = out.resolve(EvalRunner.EXAMPLES);
        Process p = start(out, data, 250, tmp.resolve("first.log"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (lines(ex) < 3) {
            assertTrue(p.isAlive(), () -> "the process ended early: " + read(tmp.resolve("first.log")));
            assertTrue(System.nanoTime() < deadline, "no 3 results within 30 s");
            Thread.sleep(20);
        }
        p.destroyForcibly();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        long before = lines(ex);
        assertTrue(before >= 3 && before < N, "killed in the middle: " + before + " lines");
        List<Integer> first = EvalRunnerTest.indices(out);
        assertEquals(java.util.stream.IntStream.range(0, first.size()).boxed().toList(), first, "in order, no gap");

        // the same command again, as a process, to completion
        Process q = start(out, data, 0, tmp.resolve("second.log"));
        assertTrue(q.waitFor(60, TimeUnit.SECONDS), "second run finished");
        assertEquals(0, q.exitValue(), read(tmp.resolve("second.log")));
        String log = read(tmp.resolve("second.log"));
        assertTrue(log.contains("resume: " + first.size() + " of " + N + " examples already done"), log);
        assertTrue(log.contains("[" + N + "/" + N + "] id=ex-" + (N - 1)), log);
        EvalRunnerTest.assertEachIndexOnce(out, N);
        assertTrue(Files.exists(out.resolve(EvalRunner.REPORT)));
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (Exception e) {
            return "(" + e + ")";
        }
    }
}
