package io.rationale.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code eval --spark} where the Spark module is not on the classpath (the engine's own tests): one line, exit 1. */
class SparkOptionCliTest {
    @Test
    void sparkWithoutTheSparkModuleSaysSoInOneLine(@TempDir Path tmp) {
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("eval", "--builtin", "--out", out.toString(), "--progress", "none", "--spark", "local[2]");
        assertEquals(1, r.exitCode(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("--spark local[2]: the Spark module (rationale-spark) is not on the classpath"), r.err());
        assertFalse(Files.exists(out.resolve("examples.jsonl")), "nothing evaluated");
    }

    @Test
    void sparkPartitionsNeedSpark(@TempDir Path tmp) {
        CliRun r = CliRun.of("eval", "--builtin", "--out", tmp.resolve("out").toString(), "--spark-partitions", "4");
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("--spark-partitions goes with --spark"), r.err());
    }
}
