package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.api.Rationale;
import io.rationale.attribution.Fixtures;
import io.rationale.engine.Device;
import io.rationale.service.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** {@code eval --model openai:URL#MODEL} end to end against this project's own {@code serve} over loopback. */
class RemoteEvalCliTest {
    static final ObjectMapper M = new ObjectMapper();

    @Test
    void promptingMethodsOfARemoteCompletionsModel(@TempDir Path out) throws Exception {
        Path data = CliRun.SHARED.resolve("data/datasets/medicalbios/standard_biosbias_rationales.jsonl");
        try (Rationale api = Rationale.open(CliRun.STORIES, Rationale.Config.defaults().withDevice(Device.CPU).withThreads(2));
             Server s = Server.start(api, Server.Config.loopback(0))) {
            String model = "openai:" + s.uri() + "/v1#stories260K-hf";
            String[] args = {"eval", "--model", model, "--remote-api", "completions", "--dataset", "medicalbios:" + data,
                    "--methods", "prompt_guided,prompt_unbound", "--limit", "4", "--out", out.toString(), "--progress", "none"};
            CliRun r = CliRun.of(args);
            assertEquals(0, r.exitCode(), r.err());
            assertTrue(r.err().contains("classifications read from logprobs"), r.err());
            JsonNode run = M.readTree(out.resolve("run.json").toFile());
            assertEquals("openai:" + s.uri() + "/v1#stories260K-hf (completions)", run.get("model").asText());
            assertTrue(run.get("model_fingerprint").isNull());
            JsonNode summary = M.readTree(out.resolve("summary.json").toFile());
            assertEquals(4, summary.get("counts").get("done").asInt());
            assertTrue(summary.get("counts").get("evaluated").asInt() > 0, summary.get("counts").toString());
            for (String m : List.of("prompt_guided", "prompt_unbound", "random")) {
                JsonNode x = summary.get("methods").get(m);
                assertNotNull(x, m);
                assertTrue(x.get("flip_rate").get("mean").isNumber(), m + " flip rate from re-queried masked prompts");
                assertTrue(x.get("comprehensiveness").get("mean").isNumber(), m);
            }
            assertEquals(5, summary.get("methods").get("random").get("flip_rate_by_fraction").size());
            assertTrue(Files.readString(out.resolve("report.html")).contains("prompt_guided"));

            // the same command resumes: nothing is asked again
            CliRun again = CliRun.of(args);
            assertEquals(0, again.exitCode(), again.err());
            assertTrue(again.out().contains("(4 of 4 examples done: 0 now, 4 resumed)"), again.out());

            // attribution methods are refused before anything is written: the command line alone says it, so it is a
            // usage error (exit 2, the README's rule), as a --remote-api outside its choices is
            Path other = out.resolve("other");
            CliRun refused = CliRun.of("eval", "--model", model, "--remote-api", "completions", "--dataset", "medicalbios:" + data,
                    "--methods", "input_x_gradient,prompt_guided", "--out", other.toString(), "--progress", "none");
            assertEquals(2, refused.exitCode());
            assertEquals("rationale: attribution methods need the model's weights, which an openai: model does not expose: input_x_gradient "
                    + "(with a remote model use prompt_guided, prompt_unbound; the random baseline is always added) (see: rationale eval --help)",
                    refused.err().strip());
            assertFalse(Files.exists(other.resolve("run.json")));
            for (String[] bad : new String[][]{{"--remote-api", "foo"}, {"--remote-concurrency", "0"}}) {
                CliRun badRun = CliRun.of("eval", "--model", model, bad[0], bad[1], "--dataset", "medicalbios:/nonexistent/data.jsonl",
                        "--methods", "prompt_guided", "--out", other.toString(), "--progress", "none");
                CliErrorsTest.assertOneLineError(badRun, 2, bad[0]);
            }
            assertFalse(Files.exists(other));
        }
    }

    @Test
    void aRemoteChatModelGetsChatMessages(@TempDir Path out) throws Exception {
        Path data = out.resolve("nli.jsonl");
        try (InputStream in = EvalCommand.class.getResourceAsStream(EvalCommand.BUILTIN_RESOURCE)) {
            Files.copy(in, data);
        }
        try (Rationale api = Rationale.open(Fixtures.tiny(), Rationale.Config.defaults().withDevice(Device.CPU).withThreads(1).withModelName("tiny"));
             Server s = Server.start(api, Server.Config.loopback(0))) {
            CliRun r = CliRun.of("eval", "--model", "openai:" + s.uri() + "#tiny", "--dataset", "jsonl:" + data, "--methods", "prompt_guided",
                    "--out", out.resolve("res").toString(), "--progress", "none");
            assertEquals(0, r.exitCode(), r.err());
            JsonNode run = M.readTree(out.resolve("res/run.json").toFile());
            assertTrue(run.get("model").asText().endsWith("#tiny (chat)"));
            JsonNode summary = M.readTree(out.resolve("res/summary.json").toFile());
            assertEquals(6, summary.get("counts").get("done").asInt());
            long chats = api.batchStats()[3];
            assertTrue(chats >= 6, "every example went through /v1/chat/completions: " + chats + " requests");
            // the tiny model has random weights: an example is evaluated, or skipped because its answer names no label
            for (String line : Files.readAllLines(out.resolve("res/examples.jsonl"))) {
                JsonNode e = M.readTree(line);
                if (!e.get("skipped").isNull()) assertEquals("the model's answer names no label", e.get("skipped").asText());
                else assertEquals(List.of("prompt_guided", "random"), List.copyOf(iterable(e.get("methods").fieldNames())));
            }
        }
    }

    static <T> List<T> iterable(java.util.Iterator<T> it) {
        List<T> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
