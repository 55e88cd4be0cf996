package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The command-line contract other tools parse ({@code logits --json}, {@code generate --json}), checked against the
 * independent float64 reference in {@code stories260K-hf/reference_outputs.json}.
 */
class LogitsAndGenerateCliTest {
    static final ObjectMapper M = new ObjectMapper();

    static JsonNode reference() throws Exception {
        return M.readTree(CliRun.STORIES.resolve("reference_outputs.json").toFile());
    }

    @Test
    void logitsJsonMatchesReference() throws Exception {
        JsonNode ref = reference();
        CliRun r = CliRun.of("logits", "--model", CliRun.STORIES.toString(), "--text", ref.get("prompt_text").asText(), "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode j = M.readTree(r.out());
        assertEquals(ref.get("prompt_ids"), j.get("ids"));
        assertEquals(512, j.get("logits_last").size());
        JsonNode first10 = ref.get("prompt_logits_last_position_first10");
        for (int i = 0; i < 10; i++)
            assertEquals(first10.get(i).asDouble(), j.get("logits_last").get(i).asDouble(), 1e-4, "logit " + i);
        JsonNode top5 = ref.get("prompt_logits_all_positions_top5");
        for (int p = 0; p < top5.size(); p++)
            assertEquals(top5.get(p).get(0).asInt(), j.get("argmax_per_position").get(p).asInt(), "argmax at " + p);
        assertEquals(ref.get("prompt_logits_last_position_argmax").asInt(), j.get("argmax_last").asInt());
    }

    @Test
    void idsInputGivesSameLogitsAsText() throws Exception {
        CliRun a = CliRun.of("logits", "--model", CliRun.STORIES.toString(), "--ids", "1,403,407,261,378", "--json");
        CliRun b = CliRun.of("logits", "--model", CliRun.STORIES.toString(), "--text", "Once upon a time", "--json");
        assertEquals(0, a.exitCode(), a.err());
        JsonNode la = M.readTree(a.out()), lb = M.readTree(b.out());
        assertEquals(la.get("ids"), lb.get("ids"));
        // the same forward twice: equal within float rounding, not bit for bit (once the JIT has compiled the
        // Vector API kernels their lane reductions may sum in another order than the first calls did)
        for (int i = 0; i < 512; i++)
            assertEquals(la.get("logits_last").get(i).asDouble(), lb.get("logits_last").get(i).asDouble(), 1e-5, "logit " + i);
    }

    @Test
    void greedyGenerateJsonMatchesReferenceContinuation() throws Exception {
        JsonNode ref = reference();
        JsonNode expected = ref.get("greedy_from_bos_ids");
        int prompt = ref.get("prompt_ids").size();
        int n = 60;
        CliRun r = CliRun.of("generate", "--model", CliRun.STORIES.toString(), "--text", "Once upon a time",
                "--max-new-tokens", String.valueOf(n), "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode j = M.readTree(r.out());
        assertEquals(prompt + n, j.get("ids").size());
        for (int i = 0; i < prompt + n; i++) assertEquals(expected.get(i).asInt(), j.get("ids").get(i).asInt(), "id " + i);
        assertTrue(ref.get("greedy_from_bos_text").asText().contains(j.get("text").asText().strip().substring(0, 40)),
                "generated text is a part of the reference text: " + j.get("text"));
    }

    @Test
    void sampledGenerateIsDeterministicForASeed() throws Exception {
        String[] args = {"generate", "--model", CliRun.STORIES.toString(), "--text", "Once upon a time", "--max-new-tokens", "30",
                "--temperature", "1.0", "--top-p", "0.9", "--seed", "7", "--json"};
        CliRun a = CliRun.of(args), b = CliRun.of(args);
        assertEquals(0, a.exitCode(), a.err());
        assertEquals(M.readTree(a.out()).get("ids"), M.readTree(b.out()).get("ids"));
    }

    @Test
    void convertedLlama2cCheckpointGivesTheSameLogits(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("converted");
        CliRun c = CliRun.of("weights-tools", "convert-llama2c",
                CliRun.SHARED.resolve("data/models/stories260K-llama2c/stories260K.bin").toString(), "--out", out.toString(), "--quiet");
        assertEquals(0, c.exitCode(), c.err());
        CliRun a = CliRun.of("logits", "--model", out.toString(), "--text", "Once upon a time", "--json");
        CliRun b = CliRun.of("logits", "--model", CliRun.STORIES.toString(), "--text", "Once upon a time", "--json");
        assertEquals(0, a.exitCode(), a.err());
        JsonNode la = M.readTree(a.out()), lb = M.readTree(b.out());
        assertEquals(lb.get("ids"), la.get("ids"));
        for (int i = 0; i < 512; i++)
            assertEquals(lb.get("logits_last").get(i).asDouble(), la.get("logits_last").get(i).asDouble(), 1e-5, "logit " + i);
    }
    /** Item 1 of issue 10: nothing runs past max_position_embeddings (stories260K: 512). */
    @Test
    void theModelsPositionsAreEnforced() throws Exception {
        int positions = M.readTree(CliRun.STORIES.resolve("config.json").toFile()).get("max_position_embeddings").asInt();
        CliRun r = CliRun.of("generate", "--model", CliRun.STORIES.toString(), "--text", "Once upon a time", "--max-new-tokens", "1000", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode j = M.readTree(r.out());
        int prompt = j.get("prompt_tokens").asInt(), made = j.get("new_tokens").asInt();
        String why = j.get("stop_reason").asText();
        assertTrue(why.equals("max_positions") || why.equals("stop_token"), why);
        // the last new token comes from the last position, so at most positions - prompt + 1 of them
        if (why.equals("max_positions")) assertEquals(positions - prompt + 1, made);
        else assertTrue(prompt + made <= positions + 1, prompt + " + " + made);

        String tooLong = "Once upon a time there was a dog. ".repeat(100);
        for (String[] args : new String[][]{{"logits", "--json"}, {"attribute", "--method", "saliency"}, {"generate"}}) {
            String[] full = EvalCliTest.cat(new String[]{args[0], "--model", CliRun.STORIES.toString(), "--text", tooLong},
                    java.util.Arrays.copyOfRange(args, 1, args.length));
            CliErrorsTest.assertOneLineError(CliRun.of(full), 1, "more than the model's " + positions + " positions");
        }
    }

    /** Item 1: --stream prints the same text as it comes; with --json it is bad usage. */
    @Test
    void streamingPrintsTheSameText() throws Exception {
        String[] base = {"generate", "--model", CliRun.STORIES.toString(), "--text", "Once upon a time", "--max-new-tokens", "40"};
        CliRun plain = CliRun.of(base), streamed = CliRun.of(EvalCliTest.cat(base, "--stream"));
        assertEquals(0, streamed.exitCode(), streamed.err());
        assertEquals(plain.out(), streamed.out());
        CliErrorsTest.assertOneLineError(CliRun.of(EvalCliTest.cat(base, "--stream", "--json")), 2, "--stream");
    }
}
