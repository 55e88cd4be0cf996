package io.rationale.cli;

import io.rationale.attribution.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Item 15 of issue 10: one exit-code rule for every command ({@link Usage}): 2 when the command line itself is wrong
 * (known before any file is read), 1 when a well-formed command cannot be done; stderr one line either way.
 */
class ExitCodeRuleTest {
    record Case(int code, String... args) {}

    @Test
    void badUsageIsTwoAndFailureIsOneInEveryCommand(@TempDir Path tmp) throws Exception {
        String stories = CliRun.STORIES.toString(), tiny = Fixtures.tiny().toString(), missing = tmp.resolve("missing").toString();
        Path data = EvalCliTest.dataset(tmp);
        String out = tmp.resolve("out").toString();
        List<Case> cases = List.of(
                // the command line alone is wrong: 2
                new Case(2, "logits", "--model", stories, "--text", "hi", "--top", "-1"),
                new Case(2, "logits", "--model", stories, "--ids", "1,2", "--chat"),
                new Case(2, "logits", "--model", stories, "--text", "hi", "--system", "be brief"),
                new Case(2, "generate", "--model", stories, "--text", "hi", "--max-new-tokens", "-1"),
                new Case(2, "generate", "--model", stories, "--text", "hi", "--top-p", "0"),
                new Case(2, "attribute", "--model", stories, "--text", "hi", "--method", "magic"),
                new Case(2, "attribute", "--model", stories, "--text", "hi", "--method", "saliency", "--steps", "0"),
                new Case(2, "attribute", "--model", stories, "--text", "hi", "--method", "saliency", "--target-id", "3", "--foil-id", "3"),
                new Case(2, "attribute", "--model", stories, "--text", "hi", "--method", "saliency", "--target-text", ""),
                new Case(2, "attribute", "--model", stories, "--text", "hi", "--method", "saliency", "--foil-text", ""),
                new Case(2, "eval", "--model", stories, "--dataset", "jsonl:" + data, "--methods", "saliency", "--out", out, "--limit", "0"),
                new Case(2, "eval", "--model", stories, "--dataset", "jsonl:" + data, "--methods", "magic", "--out", out),
                new Case(2, "bench", "--preset", "tiny", "--repeat", "0"),
                new Case(2, "demo", "--max-new-tokens", "-3"),
                new Case(2, "weights-tools", "tiny", "--out", out, "--shard-size", "lots"),
                new Case(2, "logits", "--model", stories, "--text", "hi", "--device", "tpu"),
                new Case(2, "logits", "--text", "hi"),
                new Case(2, "logits", "--model", stories, "--ids", "1,-5"),
                new Case(2, "logits", "--model", stories, "--text", "hi", "--top", "0"),
                new Case(2, "attribute", "--model", stories, "--text", "Once upon a time", "--method", "saliency", "--study-start", "5", "--study-end", "2"),
                new Case(2, "eval", "--model", stories, "--dataset", "mmlu:" + data, "--methods", "saliency", "--out", out),
                new Case(2, "eval", "--model", stories, "--dataset", data.toString(), "--methods", "saliency", "--out", out),
                new Case(2, "attribute", "--model", stories, "--dataset", "foo:/x", "--method", "saliency", "--out", out),
                new Case(2, "load-test", "--model", missing, "--clients", "0"),
                new Case(2, "load-test", "--model", missing, "--text-words", "-1"),
                new Case(2, "load-test", "--model", missing, "--url", "http://127.0.0.1:1"),
                // well formed, but it cannot be done: 1
                new Case(1, "logits", "--model", missing, "--text", "hi"),
                new Case(1, "logits", "--model", stories, "--ids", "1,9999"),
                new Case(1, "attribute", "--model", stories, "--text", "hi", "--method", "saliency", "--target-text", "xqzjvw qq"),
                new Case(1, "attribute", "--model", tiny, "--text", "hi", "--method", "saliency", "--target-text", "in", "--foil-text", " in"),
                new Case(1, "eval", "--model", missing, "--dataset", "jsonl:" + data, "--methods", "attention", "--out", out, "--progress", "none"),
                new Case(1, "eval", "--model", stories, "--dataset", "jsonl:" + tmp.resolve("none.jsonl"), "--methods", "attention", "--out", out),
                new Case(1, "bench", "--model", missing),
                new Case(1, "inspect", "--model", missing),
                new Case(1, "load-test", "--model", missing));
        for (Case c : cases) {
            CliRun r = CliRun.of(c.args());
            CliErrorsTest.assertOneLineError(r, c.code(), "");
            if (c.code() == 2) {                                // the hint names the command as it is typed
                String cmd = c.args()[0].equals("weights-tools") ? "weights-tools " + c.args()[1] : c.args()[0];
                org.junit.jupiter.api.Assertions.assertTrue(r.err().strip().endsWith("(see: rationale " + cmd + " --help)"), r.err());
            }
        }
        CliRun unknown = CliRun.of("frobnicate");
        org.junit.jupiter.api.Assertions.assertTrue(unknown.err().strip().endsWith("(see: rationale --help)"), unknown.err());
        assertFalse(Files.exists(Path.of(out)), "no failed command created the results folder");
    }

    /** The README states the rule; it must be the one the code follows. */
    @Test
    void theReadmeStatesTheRule() throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("user.dir")).resolveSibling("README.md"));
        String flat = readme.replaceAll("\\s+", " ");
        org.junit.jupiter.api.Assertions.assertTrue(flat.contains("Exit 2 when the command line itself is wrong")
                && flat.contains("exit 1 when a well-formed command cannot be done"), "the README states the rule");
    }
}
