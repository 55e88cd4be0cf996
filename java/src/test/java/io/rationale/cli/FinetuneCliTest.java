package io.rationale.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code finetune}'s and {@code eval-compare}'s errors: one line, exit 2 for usage (the work itself: FineTuneTest, ComparisonTest). */
class FinetuneCliTest {
    @TempDir
    Path tmp;

    private void usage(String expected, String... extra) {
        String[] base = {"finetune", "--model", CliRun.STORIES.toString(), "--dataset", "jsonl:" + tmp.resolve("none.jsonl"), "--out", tmp.resolve("o").toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliRun r = CliRun.of(args);
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void badOptionsAreUsageErrors() {
        usage("--targets: unknown module 'lm_head'", "--targets", "q_proj,lm_head");
        usage("--rank must be >= 1", "--rank", "0");
        usage("--val-fraction must be in (0, 1)", "--val-fraction", "1");
        usage("--schedule must be cosine, linear or constant", "--schedule", "step");
    }

    @Test
    void aMissingDatasetIsOneLine() {
        CliRun r = CliRun.of("finetune", "--model", CliRun.STORIES.toString(), "--dataset", "jsonl:" + tmp.resolve("none.jsonl"), "--out", tmp.resolve("o").toString());
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("none.jsonl: not found"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(!java.nio.file.Files.exists(tmp.resolve("o")), "a failed finetune created its --out folder");
    }

    @Test
    void evalCompareErrorsAreOneLine() {
        CliRun r = CliRun.of("eval-compare", tmp.resolve("a").toString(), tmp.resolve("b").toString());
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("run.json: no such file (not an eval results folder)"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        CliRun u = CliRun.of("eval-compare", "--names", "one", tmp.resolve("a").toString(), tmp.resolve("b").toString());
        assertEquals(2, u.exitCode(), u.err());
        assertTrue(u.err().contains("--names needs two names"), u.err());
    }
}
