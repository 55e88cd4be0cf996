package io.rationale.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.dataset.Example;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link EvalRunner#distributed}: results evaluated elsewhere (here: a second fake evaluator, in reverse order, as a
 * cluster's tasks might return them) give the same examples.jsonl and summary as the runner's own loop, and every
 * result is checked before it is kept.
 */
class DistributedRunTest {
    static final ObjectMapper JSON = new ObjectMapper();

    /** Evaluates the pending examples with its own fake, last first, handing over at most {@code give} of them. */
    record Elsewhere(int give, boolean twice) implements EvalRunner.Distributed {
        @Override
        public void evaluate(EvalRunner.Job job, Consumer<ExampleResult> sink) {
            List<Integer> order = new ArrayList<>(job.pending());
            java.util.Collections.reverse(order);
            try (Evaluator e = FakeEvaluator.factory(FakeEvaluator.Settings.plain()).open(job.config().model(), job.dataset(), job.config().options())) {
                int n = 0;
                for (int i : order) {
                    if (n++ == give) break;
                    Example ex = job.dataset().examples().get(i);
                    ExampleResult r = EvalRunner.evaluateExample(e, i, ex, job.config().onError());
                    sink.accept(r);
                    if (twice) sink.accept(r);
                }
            } catch (RuntimeException x) {
                throw x;
            } catch (Exception x) {
                throw new IllegalStateException(x);
            }
        }

        @Override
        public String device() { return "elsewhere"; }
    }

    @Test
    void distributedResultsGiveTheSameFilesAsTheLocalLoop(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 12, 0), local = tmp.resolve("local"), far = tmp.resolve("far");
        new EvalRunner(EvalRunnerTest.config(tmp, data, local), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run();
        var driver = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        EvalRunner.Outcome o = new EvalRunner(EvalRunnerTest.config(tmp, data, far), driver, Progress.NONE)
                .distributed(new Elsewhere(Integer.MAX_VALUE, false)).run();
        assertEquals(12, o.evaluated());
        assertEquals(List.of(), driver.evaluated, "the runner's own evaluator evaluates nothing");
        assertEquals("elsewhere", o.summary().device());
        EvalRunnerTest.assertEachIndexOnce(far, 12);
        assertEquals(withoutTimes(lines(local)), withoutTimes(lines(far)).reversed());
        assertEquals(summary(local), summary(far));
    }

    @Test
    void aMissingResultStopsTheRunAndTheRerunDoesTheRest(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 12, 0), out = tmp.resolve("out");
        EvalRunner.EvalException e = assertThrows(EvalRunner.EvalException.class, () -> new EvalRunner(EvalRunnerTest.config(tmp, data, out),
                FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).distributed(new Elsewhere(5, false)).run());
        assertTrue(e.getMessage().startsWith("7 of 12 examples came back without a result (first: 0)"), e.getMessage());
        assertEquals(List.of(11, 10, 9, 8, 7), EvalRunnerTest.indices(out), "the results handed over are kept");
        EvalRunner.Outcome o = new EvalRunner(EvalRunnerTest.config(tmp, data, out), FakeEvaluator.factory(FakeEvaluator.Settings.plain()),
                Progress.NONE).distributed(new Elsewhere(Integer.MAX_VALUE, false)).run();
        assertEquals(5, o.resumed());
        assertEquals(7, o.evaluated());
        EvalRunnerTest.assertEachIndexOnce(out, 12);
    }

    @Test
    void aResultHandedOverTwiceIsRefused(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 4, 0), out = tmp.resolve("out");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new EvalRunner(EvalRunnerTest.config(tmp, data, out),
                FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).distributed(new Elsewhere(Integer.MAX_VALUE, true)).run());
        assertEquals("the distributed evaluation returned example 3 (ex-3) twice", e.getMessage());
        assertEquals(List.of(3), EvalRunnerTest.indices(out));
    }

    static List<JsonNode> lines(Path out) throws IOException {
        List<JsonNode> l = new ArrayList<>();
        for (String s : Files.readAllLines(out.resolve(EvalRunner.EXAMPLES))) l.add(JSON.readTree(s));
        return l;
    }

    /** The lines without their wall times (the only fields two evaluations of the same example may differ in). */
    static List<JsonNode> withoutTimes(List<JsonNode> lines) {
        for (JsonNode n : lines) {
            ((ObjectNode) n).remove("seconds");
            n.get("methods").forEach(m -> ((ObjectNode) m).remove("seconds"));
        }
        return lines;
    }

    /** summary.json without what names the run (folder, start, time of writing, device) and the wall times. */
    static JsonNode summary(Path out) throws IOException {
        ObjectNode s = (ObjectNode) JSON.readTree(out.resolve(EvalRunner.SUMMARY_JSON).toFile());
        s.remove(List.of("run", "summarized_at", "device"));
        s.get("methods").forEach(m -> ((ObjectNode) m).remove("mean_seconds"));
        return s;
    }
}
