package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code serum} end to end on stories260K (mechanics only: that model cannot answer MMLU, so {@code --keep all}
 * explains every case): the lines and their consistency, α = 0 reproducing the unsteered explanation token for token,
 * summary and report, resuming (nothing redone; a lost line recomputed identically; a killed process resumed with no
 * line lost or repeated), refusals.
 */
class SerumCliTest {
    static final ObjectMapper M = new ObjectMapper();
    static final Path MMLU = CliRun.SHARED.resolve("data/datasets/mmlu/test/global_facts_test.csv");
    static final List<String> REQUIRED = List.of("question_index", "hint", "hinted_option", "answer_without_hint", "answer_with_hint", "kept",
            "explanation", "explanation_serum", "judge_keyword", "judge_keyword_serum", "judge_llm", "judge_llm_serum");

    static String[] args(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("serum", "--model", CliRun.STORIES.toString(), "--questions", "mmlu:" + MMLU,
                "--hints", "sycophancy,grader_hack", "--alpha", "0,0.5", "--layers", "2,3;logit-lens", "--out", out.toString(), "--limit", "3",
                "--keep", "all", "--answer-tokens", "6", "--explanation-tokens", "10", "--progress", "none", "--summary-every", "1"));
        a.addAll(Arrays.asList(extra));
        return a.toArray(String[]::new);
    }

    static List<JsonNode> lines(Path out) throws Exception {
        List<JsonNode> l = new ArrayList<>();
        for (String s : Files.readAllLines(out.resolve("cases.jsonl"), StandardCharsets.UTF_8)) if (!s.isBlank()) l.add(M.readTree(s));
        return l;
    }

    static String key(JsonNode r) { return r.get("question_index").asInt() + "/" + r.get("hint").asText() + "/" + r.get("setting").asInt(); }

    /**
     * Two runs' lines agree: every field equal except {@code seconds}; numbers within 1e-4·max(1, |x|) (the relevance
     * of two processes differs in f32 rounding, 1e-6 measured: the Vector API rounds EXP and lane sums differently before and
     * after the JIT compiles them); texts, tokens and verdicts exactly.
     */
    static void assertSameLine(JsonNode want, JsonNode got, String where) {
        if (want.isObject()) {
            assertTrue(got.isObject(), where);
            Set<String> names = new HashSet<>();
            want.fieldNames().forEachRemaining(names::add);
            got.fieldNames().forEachRemaining(names::add);
            for (String n : names) if (!n.equals("seconds")) assertSameLine(want.get(n), got.get(n), where + "." + n);
        } else if (want.isArray()) {
            assertEquals(want.size(), got.size(), where);
            for (int i = 0; i < want.size(); i++) assertSameLine(want.get(i), got.get(i), where + "[" + i + "]");
        } else if (want.isNumber() && !want.isIntegralNumber()) {
            assertTrue(got != null && got.isNumber(), where);
            assertEquals(want.asDouble(), got.asDouble(), 1e-4 * Math.max(1, Math.abs(want.asDouble())), where);
        } else {
            assertEquals(want, got, where);
        }
    }

    @Test
    void endToEndResumeAndRefusals(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of(args(out));
        assertEquals(0, r.exitCode(), r.err());
        String[] printed = r.out().strip().split("\n");
        assertEquals(out.resolve("report.html").toAbsolutePath().normalize().toString(), printed[printed.length - 1]);
        List<JsonNode> lines = lines(out);
        Set<String> keys = new HashSet<>();
        Map<String, Integer> perCase = new HashMap<>();
        int explained = 0, steeredDiffers = 0;
        for (JsonNode l : lines) {
            assertTrue(keys.add(key(l)), "each (question, hint, setting) once: " + key(l));
            for (String k : REQUIRED) assertTrue(l.has(k), k + " in " + l);
            perCase.merge(l.get("question_index").asInt() + "/" + l.get("hint").asText(), 1, Integer::sum);
            String unhinted = l.get("answer_without_hint").isNull() ? null : l.get("answer_without_hint").asText();
            String hinted = l.get("answer_with_hint").isNull() ? null : l.get("answer_with_hint").asText();
            assertFalse(l.get("hinted_option").asText().equals(unhinted), "the hint names another option");
            assertEquals(unhinted != null && l.get("hinted_option").asText().equals(hinted), l.get("kept").asBoolean(), "kept: " + l);
            assertTrue(l.get("judge_llm").isNull(), "no judge model");
            if (!l.get("explained").asBoolean()) {
                assertEquals(-1, l.get("setting").asInt());
                continue;
            }
            explained++;
            int[] span = {l.get("span").get(0).asInt(), l.get("span").get(1).asInt()};
            assertEquals(span[1] - span[0], l.get("relevance").size());
            assertEquals(span[1] - span[0], l.get("span_tokens").size());
            assertTrue(l.get("hint_tokens").get(0).asInt() > span[0] && l.get("hint_tokens").get(1).asInt() == span[1], "the hint ends the span");
            double max = 0;
            for (JsonNode v : l.get("relevance")) max = Math.max(max, Math.abs(v.asDouble()));
            assertEquals(1.0, max, 1e-12, "max-abs normalised");
            assertEquals("pe_lrp", l.get("relevance_method").asText());
            assertTrue(l.get("perplexity").asDouble() > 1, "perplexity of a non-empty explanation");
            if (l.get("alpha").asDouble() == 0) assertEquals(l.get("explanation"), l.get("explanation_serum"), "alpha 0: the unsteered explanation, token for token");
            else if (!l.get("explanation").equals(l.get("explanation_serum"))) steeredDiffers++;
            if (l.get("layers_spec").asText().startsWith("logit-lens")) assertNotNull(l.get("layers_note").textValue());
            else assertEquals("[2,3]", l.get("layers").toString());
        }
        assertTrue(explained >= 8, "explained lines: " + explained);
        assertTrue(steeredDiffers > 0, "alpha 0.5 changes some explanation");
        for (var e : perCase.entrySet()) assertTrue(e.getValue() == 1 || e.getValue() == 4, e.getKey() + ": " + e.getValue() + " lines");
        assertEquals(6, perCase.size());

        JsonNode summary = M.readTree(out.resolve("summary.json").toFile());
        assertTrue(summary.get("complete").asBoolean());
        assertEquals(6, summary.get("counts").get("cases_done").asInt());
        assertEquals(3, summary.get("groups").size(), "two hint types and all");
        assertEquals(6, summary.get("groups").get(2).get("tried").asInt());
        assertEquals(1 + 3 * 4, Files.readAllLines(out.resolve("summary.csv")).size());
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.startsWith("<!DOCTYPE html>") && html.contains("class=\"t h\""), "heatmap with the hint outlined");
        assertFalse(html.contains("http://") || html.contains("https://") || html.contains("<script"), "self-contained, no script");

        // the same command: nothing redone
        CliRun again = CliRun.of(args(out));
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.out().contains("0 lines now, " + lines.size() + " resumed"), again.out());
        // a lost last line (and a partial line after it, as a kill during a write leaves) is recomputed identically
        List<String> raw = new ArrayList<>(Files.readAllLines(out.resolve("cases.jsonl")));
        String lost = raw.remove(raw.size() - 1);
        Files.writeString(out.resolve("cases.jsonl"), String.join("\n", raw) + "\n{\"question_index\": 2, \"hi");
        CliRun resumed = CliRun.of(args(out));
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.out().contains("1 lines now, " + raw.size() + " resumed"), resumed.out());
        List<JsonNode> after = lines(out);
        assertEquals(lines.size(), after.size());
        assertSameLine(M.readTree(lost), after.get(after.size() - 1), "recomputed line");

        // another option or bad input: one line, exit 1 (it cannot be done) or 2 (the command line is wrong)
        String[][] bad = {{"--alpha", "0.1"}, {"--layers", "9"}, {"--hints", "gossip"}, {"--questions", "mmlu:" + tmp.resolve("none.csv")},
                {"--method", "all"}, {"--operator", "times"}};
        String[] expect = {"holds a different serum run", "layer 9", "unknown hint type", "no such file", "one attribution method", "operator"};
        int[] code = {1, 1, 2, 1, 2, 2};
        for (int i = 0; i < bad.length; i++) {
            List<String> a = new ArrayList<>(Arrays.asList(args(out)));
            int at = a.indexOf(bad[i][0]);
            if (at >= 0) a.set(at + 1, bad[i][1]);
            else a.addAll(List.of(bad[i]));
            if (i > 0) a.add("--restart");           // refused before the folder is touched, even with --restart
            CliRun e = CliRun.of(a.toArray(String[]::new));
            assertEquals(code[i], e.exitCode(), String.join(" ", bad[i]) + ": " + e.err());
            assertEquals(1, e.err().strip().lines().count(), e.err());
            assertTrue(e.err().contains(expect[i]), expect[i] + " in " + e.err());
        }
        assertEquals(lines.size(), lines(out).size(), "refused runs leave the folder alone");
    }

    /**
     * A wrong command line is a usage error: exit 2, one line naming the option, the help hint; judged before any file
     * is read (the model folder here does not exist) and nothing is created.
     */
    @Test
    void aWrongCommandLineIsAUsageError(@TempDir Path tmp) {
        Path out = tmp.resolve("out");
        String[][] bad = {{"--limit", "0"}, {"--method", "foo"}, {"--hints", "bogus"}, {"--operator", "mid"}, {"--alpha", "abc"}, {"--alpha", "-0.5"},
                {"--layers", "-1"}, {"--layers", "logit-lens:0:3"}, {"--questions", "foo:" + MMLU}, {"--questions", MMLU.toString()},
                {"--on-error", "later"}, {"--summary-every", "-1"}, {"--answer-tokens", "0"}, {"--progress", "loud"}};
        String[] expect = {"--limit", "--method: unknown method 'foo'", "--hints: unknown hint type 'bogus'", "--operator: unknown steering operator 'mid'",
                "--alpha", "--alpha", "--layers: layer -1 is negative", "--layers: logit-lens needs RANK >= 1", "--questions: unknown question kind 'foo'",
                "--questions: questions must be KIND:PATH", "--on-error", "--summary-every", "--answer-tokens", "--progress"};
        for (int i = 0; i < bad.length; i++) {
            String[] a = override(args(out, "--judge-model", tmp.resolve("no-judge").toString()), "--model", tmp.resolve("no-model").toString());
            List<String> l = new ArrayList<>(Arrays.asList(a));
            int at = l.indexOf(bad[i][0]);
            if (at >= 0) l.set(at + 1, bad[i][1]);
            else l.addAll(List.of(bad[i]));
            CliRun r = CliRun.of(l.toArray(String[]::new));
            CliErrorsTest.assertOneLineError(r, 2, expect[i], "(see: rationale serum --help)");
        }
        assertFalse(Files.exists(out), "no usage error created the results folder");
    }

    /**
     * Checks that need the files (the judge model, the layers against the model's) fail with exit 1 before the results
     * folder is created: a refused fresh run leaves no folder behind.
     */
    @Test
    void aRefusedRunCreatesNoFolder(@TempDir Path tmp) throws Exception {
        Path notAModel = Files.createDirectory(tmp.resolve("empty"));
        String[][] bad = {{"--judge-model", tmp.resolve("nonexist").toString()}, {"--judge-model", notAModel.toString()}, {"--layers", "9"},
                {"--layers", "window:4:2"}};
        String[] expect = {"nonexist", "empty", "layer 9 (from --layers 9) is outside the model's [0, 5)", "layer 5 (from --layers window:4:2)"};
        for (int i = 0; i < bad.length; i++) {
            Path out = tmp.resolve("out" + i);
            List<String> l = new ArrayList<>(Arrays.asList(override(args(out), "--limit", "1")));
            int at = l.indexOf(bad[i][0]);
            if (at >= 0) l.set(at + 1, bad[i][1]);
            else l.addAll(List.of(bad[i]));
            CliRun r = CliRun.of(l.toArray(String[]::new));
            CliErrorsTest.assertOneLineError(r, 1, expect[i]);
            assertFalse(Files.exists(out), String.join(" ", bad[i]) + ": the results folder was created");
        }
    }

    /**
     * An answer prompt beyond the model's 512 positions (stories260K's config.json) is a recorded skip, as an
     * over-long explanation prompt is: one line (setting −1, not explained, the reason), neither tried nor an error in
     * the summary, and the same command resumes with nothing redone. A question of 600 words and a hint of 600 words
     * are each at least 600 tokens (a SentencePiece token never spans two words).
     */
    @Test
    void anOverLongAnswerPromptIsASkip(@TempDir Path tmp) throws Exception {
        String words = "apple ".repeat(600).strip();
        Path questions = tmp.resolve("q.jsonl"), templates = tmp.resolve("hints.json");
        Files.writeString(questions, "{\"question\": \"Which one is red?\", \"options\": [\"grass\", \"a cherry\", \"the sky\"], \"answer\": 1, \"id\": \"short\"}\n"
                + "{\"question\": \"" + words + "?\", \"options\": [\"yes\", \"no\"], \"id\": \"long\"}\n");
        Files.writeString(templates, "{\"sycophancy\": {\"template\": \"" + words + " {letter}\"}}");
        Path out = tmp.resolve("out");
        String[] a = override(args(out, "--hint-templates", templates.toString()), "--questions", "jsonl:" + questions, "--hints", "sycophancy,metadata",
                "--alpha", "0.1", "--layers", "2", "--answer-tokens", "4", "--explanation-tokens", "4", "--progress", "lines");
        CliRun r = CliRun.of(a);
        assertEquals(0, r.exitCode(), r.err());
        Map<String, JsonNode> byKey = new HashMap<>();
        for (JsonNode l : lines(out)) assertTrue(byKey.put(key(l), l) == null, "once: " + key(l));
        assertEquals(Set.of("0/sycophancy/-1", "0/metadata/0", "1/sycophancy/-1", "1/metadata/-1"), byKey.keySet());
        // the long hint: the answer prompt with it does not fit; without it, it does
        assertSkipped(byKey.get("0/sycophancy/-1"), "the answer prompt with the hint has ", false);
        assertEquals(0, byKey.get("0/metadata/0").get("question_index").asInt());
        assertTrue(byKey.get("0/metadata/0").get("explained").asBoolean(), "--keep all explains the case that fits");
        assertTrue(byKey.get("0/metadata/0").get("skipped").isNull());
        // the long question: no answer at all, for every hint type
        for (String h : List.of("sycophancy", "metadata")) assertSkipped(byKey.get("1/" + h + "/-1"), "the answer prompt without the hint has ", true);
        assertEquals(3, r.err().lines().filter(l -> l.contains(" skipped: the answer prompt ")).count(), "reported on the progress lines: " + r.err());

        JsonNode summary = M.readTree(out.resolve("summary.json").toFile());
        assertTrue(summary.get("complete").asBoolean());
        assertEquals(4, summary.get("counts").get("cases_done").asInt());
        assertEquals(0, summary.get("counts").get("errors").asInt());
        assertEquals(3, summary.get("counts").get("skipped").asInt());
        // the one tried case (0/metadata) alone decides the unparsed counts: a skipped case is not an unparsed answer
        JsonNode tried = byKey.get("0/metadata/0");
        int unhintedUnparsed = tried.get("answer_without_hint").isNull() ? 1 : 0;
        int hintedUnparsed = unhintedUnparsed == 0 && tried.get("answer_with_hint").isNull() ? 1 : 0;
        int[][] want = {{0, 2, 0, 0}, {1, 1, unhintedUnparsed, hintedUnparsed}, {1, 3, unhintedUnparsed, hintedUnparsed}};   // sycophancy, metadata, all
        for (int g = 0; g < 3; g++) {
            JsonNode group = summary.get("groups").get(g);
            String h = group.get("hint").asText();
            assertEquals(want[g][0], group.get("tried").asInt(), h);
            assertEquals(want[g][1], group.get("skipped").asInt(), h);
            assertEquals(want[g][2], group.get("unhinted_unparsed").asInt(), h);
            assertEquals(want[g][3], group.get("hinted_unparsed").asInt(), h);
            assertEquals(0, group.get("errors").asInt(), h);
        }

        // the same command: nothing redone, nothing repeated
        CliRun again = CliRun.of(a);
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.out().contains("0 lines now, 4 resumed"), again.out());
        assertEquals(4, lines(out).size());
    }

    /**
     * A case that fails the same way every time (post-renorm refuses negative biases summing to −1 or less: α 100 on
     * PE-LRP relevance with negative values) stops the run with advice that works: the same command with
     * {@code --on-error skip} goes on and records the case as an error.
     */
    @Test
    void aFailingCaseAdvisesARerunThatSucceeds(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        String[] a = override(args(out), "--limit", "1", "--hints", "sycophancy", "--alpha", "100", "--layers", "2", "--answer-tokens", "4",
                "--explanation-tokens", "4");
        List<String> l = new ArrayList<>(Arrays.asList(a));
        l.addAll(List.of("--operator", "post-renorm"));
        CliRun stopped = CliRun.of(l.toArray(String[]::new));
        CliErrorsTest.assertOneLineError(stopped, 1, "question 0 (global_facts_test:0), hint sycophancy: ", "a row could sum to 0 or less",
                "the results so far are kept", "--on-error skip");
        assertFalse(stopped.err().contains("run the same command again"), stopped.err());
        l.addAll(List.of("--on-error", "skip"));
        CliRun skipped = CliRun.of(l.toArray(String[]::new));
        assertEquals(0, skipped.exitCode(), skipped.err());
        List<JsonNode> lines = lines(out);
        assertEquals(1, lines.size());
        assertTrue(lines.get(0).get("skipped").asText().startsWith("error: attention intervention: "), lines.get(0).toString());
        assertEquals(1, M.readTree(out.resolve("summary.json").toFile()).get("counts").get("errors").asInt());
    }

    static void assertSkipped(JsonNode l, String reason, boolean noUnhinted) {
        assertFalse(l.get("explained").asBoolean(), l.toString());
        assertFalse(l.get("kept").asBoolean(), l.toString());
        String why = l.get("skipped").asText();
        assertTrue(why.startsWith(reason) && why.endsWith(" tokens, the model's positions 512"), why);
        int tokens = Integer.parseInt(why.substring(reason.length(), why.indexOf(' ', reason.length())));
        assertTrue(tokens >= 600, "at least one token per word: " + why);
        assertTrue(l.get("answer_with_hint").isNull() && l.get("raw_answer_with_hint").isNull(), "no hinted answer: " + l);
        assertEquals(noUnhinted, l.get("raw_answer_without_hint").isNull(), l.toString());
    }

    /** Sampled explanations: the same seed without and with the serum, so α = 0 still reproduces the unsteered one. */
    @Test
    void sampledExplanationsShareTheirSeed(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("sampled");
        CliRun r = CliRun.of(override(args(out, "--temperature", "1.0", "--top-p", "0.95"), "--limit", "2", "--alpha", "0", "--layers", "1,2",
                "--hints", "sycophancy"));
        assertEquals(0, r.exitCode(), r.err());
        List<JsonNode> lines = lines(out);
        assertEquals(2, lines.size());
        for (JsonNode l : lines) assertEquals(l.get("explanation"), l.get("explanation_serum"), "alpha 0, the same seed");
        assertEquals(1.0, M.readTree(out.resolve("run.json").toFile()).get("options").get("temperature").asDouble());
    }

    /** A real process killed in the middle, then resumed: every line once, equal to an uninterrupted run. */
    @Test
    void killedProcessResumesWithNothingLostOrRepeated(@TempDir Path tmp) throws Exception {
        Path whole = tmp.resolve("whole"), killed = tmp.resolve("killed");
        String[] extra = {"--limit", "5", "--alpha", "0.3", "--layers", "1,2"};
        CliRun ref = CliRun.of(override(args(whole), extra));
        assertEquals(0, ref.exitCode(), ref.err());
        List<JsonNode> want = lines(whole);

        Process p = start(override(args(killed), extra), tmp.resolve("first.log"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (count(killed.resolve("cases.jsonl")) < 2) {
            assertTrue(p.isAlive(), () -> "ended early: " + read(tmp.resolve("first.log")));
            assertTrue(System.nanoTime() < deadline, "no 2 lines within 60 s");
            Thread.sleep(10);
        }
        p.destroyForcibly();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        long before = count(killed.resolve("cases.jsonl"));
        assertTrue(before < want.size(), "killed in the middle: " + before + " of " + want.size());
        Process q = start(override(args(killed), extra), tmp.resolve("second.log"));
        assertTrue(q.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, q.exitValue(), read(tmp.resolve("second.log")));
        List<JsonNode> got = lines(killed);
        assertEquals(want.size(), got.size(), "no line lost or repeated");
        Map<String, JsonNode> byKey = new HashMap<>();
        for (JsonNode g : got) assertTrue(byKey.put(key(g), g) == null, "once: " + key(g));
        for (JsonNode w : want) assertSameLine(w, byKey.get(key(w)), key(w));
    }

    static String[] override(String[] a, String... kv) {
        List<String> l = new ArrayList<>(Arrays.asList(a));
        for (int i = 0; i < kv.length; i += 2) l.set(l.indexOf(kv[i]) + 1, kv[i + 1]);
        return l.toArray(String[]::new);
    }

    static Process start(String[] args, Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(Arrays.asList(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static long count(Path f) throws Exception {
        return Files.exists(f) ? Files.readString(f).chars().filter(c -> c == '\n').count() : 0;
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (Exception e) {
            return "(" + e + ")";
        }
    }
}
