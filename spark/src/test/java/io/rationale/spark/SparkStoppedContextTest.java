package io.rationale.spark;

import io.rationale.engine.Device;
import io.rationale.eval.EvalOptions;
import io.rationale.eval.EvalRunner;
import io.rationale.eval.Progress;
import io.rationale.eval.Selection;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Spark context that stopped before the job (what an unreachable standalone master leads to: Spark gives up after a
 * minute and stops it) ends the run with one line saying so, not with Spark's "Cannot call methods on a stopped
 * SparkContext" and the context's creation stack; nothing is lost, the same command resumes.
 */
class SparkStoppedContextTest {
    @Test
    void aStoppedContextStopsTheRunWithOneClearLine(@TempDir Path dir) {
        SparkSession spark = SparkEval.session("local[1]");
        SparkEval cluster = new SparkEval(spark, Device.CPU, 1);
        spark.stop();
        Path out = dir.resolve("out");
        EvalRunner.Config config = new EvalRunner.Config(SparkEvalTest.MODEL, SparkEvalTest.DATASET,
                EvalOptions.defaults(List.of("attention")), 2, out, false, 10, EvalRunner.OnError.STOP, Selection.Mode.STRATIFIED);
        EvalRunner.EvalException e = assertThrows(EvalRunner.EvalException.class,
                () -> new EvalRunner(config, cluster.factory(io.rationale.lora.Adapters.NONE), Progress.NONE).distributed(cluster).run());
        assertEquals("the Spark context for local[1] was stopped before the job could start (Spark's log above says why, e.g. "
                + "'All masters are unresponsive'); 0 examples were taken in, run the same command again to resume", e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertTrue(Files.exists(out.resolve("run.json")), "the run can be resumed");
    }
}
