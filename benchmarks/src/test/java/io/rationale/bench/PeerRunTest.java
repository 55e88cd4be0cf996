package io.rationale.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PeerRun}: the statistics, resuming after a kill, bad input, and one end-to-end run of both engines on the
 * {@code smoke} preset. Nothing here asserts a speed.
 */
class PeerRunTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path shared;
    static Path model;

    @BeforeAll
    static void model() {
        model = shared.resolve("smoke");
        BenchModel.generate("smoke", model);
    }

    // ------------------------------------------------------------------ statistics

    @Test
    void quartilesAreR7LinearInterpolation() {
        // sorted: 1.00 1.10 1.20 1.25 1.30 1.40 1.50 (n = 7). R-7: position (n-1)·p from 0.
        // p = .25: 1.5 -> 1.10 + 0.5·(1.20 - 1.10) = 1.15; p = .5: 3 -> 1.25; p = .75: 4.5 -> 1.30 + 0.5·0.10 = 1.35
        assertArrayEquals(new double[]{1.15, 1.25, 1.35}, PeerRun.quartiles(new double[]{1.10, 1.30, 1.20, 1.50, 1.00, 1.40, 1.25}), 1e-12);
        // 2 4 6 8: p = .25: 0.75 -> 2 + 0.75·2 = 3.5; median 5; p = .75: 2.25 -> 6 + 0.25·2 = 6.5
        assertArrayEquals(new double[]{3.5, 5, 6.5}, PeerRun.quartiles(new double[]{8, 2, 6, 4}), 1e-12);
    }

    @Test
    void summaryTakesTheMedianOfPerRoundRatiosNotTheRatioOfMedians() throws IOException {
        // rationale / peer tok/s per round: 10/10 = 1, 20/5 = 4, 30/20 = 1.5. Per-round ratios sorted 1, 1.5, 4:
        // median 1.5, Q1 (pos 0.5) 1 + 0.5·0.5 = 1.25, Q3 (pos 1.5) 1.5 + 0.5·2.5 = 2.75.
        // The ratio of the medians would be 20 / 10 = 2.
        List<JsonNode> lines = new ArrayList<>();
        double[][] rounds = {{10, 10}, {20, 5}, {30, 20}};
        for (int r = 0; r < rounds.length; r++)
            lines.add(JSON.readTree(String.format("{\"type\":\"round\",\"round\":%d,\"op\":\"decode\",\"rationale_tok_s\":%s,\"peer_tok_s\":%s,\"ratio\":%s}",
                    r + 1, rounds[r][0], rounds[r][1], rounds[r][0] / rounds[r][1])));
        lines.add(JSON.readTree("{\"type\":\"round\",\"round\":1,\"op\":\"prefill64\",\"rationale_tok_s\":99,\"peer_tok_s\":1,\"ratio\":99}"));
        PeerRun.Summary s = PeerRun.summarize("decode", lines);
        assertEquals(3, s.rounds());
        assertEquals(20, s.ours(), 1e-12);
        assertEquals(10, s.peer(), 1e-12);
        assertEquals(1.5, s.ratio(), 1e-12);
        assertEquals(1.25, s.ratioQ1(), 1e-12);
        assertEquals(2.75, s.ratioQ3(), 1e-12);

        JsonNode header = JSON.readTree("{\"type\":\"header\",\"peer\":\"jlama-f32\",\"ops\":[\"decode\",\"prefill64\"],\"threads\":2}");
        String md = PeerRun.tables(header, lines);
        assertTrue(md.contains("| op | rationale tok/s | Jlama f32 tok/s | ratio (IQR) |"), md);
        assertTrue(md.contains("| decode | 20.0 | 10.0 | 1.50× (1.25–2.75) |"), md);
        assertTrue(md.contains("| prefill64 | 99.0 | 1.00 | 99.00× (99.00–99.00) |"), md);
    }

    // ------------------------------------------------------------------ resume

    /** A stand-in engine: a few microseconds of work per call; can die (a simulated kill) on its n-th decode. */
    static final class Fake implements BenchEngine {
        final String name;
        final int dieOnDecode;
        int prefills, decodes, resets, prepares;
        boolean closed;

        Fake(String name, int dieOnDecode) {
            this.name = name;
            this.dieOnDecode = dieOnDecode;
        }

        private static int work() {
            long t0 = System.nanoTime();
            int x = 0;
            while (System.nanoTime() - t0 < 20_000) x++;
            return x & 7;
        }

        @Override public String name() { return name; }
        @Override public String settings() { return "fake " + name; }
        @Override public int prefill(int[] ids) { prefills++; return work() + ids.length; }
        @Override public void prepareDecode(int[] context) { prepares++; }
        @Override public void resetDecode() { resets++; }

        @Override
        public int decode(int steps) {
            if (++decodes == dieOnDecode) throw new IllegalStateException("simulated kill");
            return work() + steps;
        }

        @Override public void close() { closed = true; }
    }

    record Result(int rc, String out, String err) {}

    static Result run(PeerRun.EngineFactory f, String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int rc = PeerRun.run(new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8), f, args);
        return new Result(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static List<JsonNode> lines(Path file) throws IOException {
        List<JsonNode> l = new ArrayList<>();
        for (String s : Files.readAllLines(file)) l.add(JSON.readTree(s));
        return l;
    }

    private static String[] args(Path out, int rounds, int threads) {
        return new String[]{"--model", model.toString(), "--ops", "prefill8,decode", "--peer", "jlama-f32", "--rounds", String.valueOf(rounds),
                "--warmup", "1", "--invocations", "prefill8=2,decode=1", "--threads", String.valueOf(threads), "--out", out.toString()};
    }

    @Test
    void resumesAfterAKillWithNothingLostOrDuplicated(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("run.jsonl");
        // the peer dies on its 4th decode: warm-up 1, rounds 1 and 2, then round 3 (rationale first) -> round 3's
        // prefill8 line is written, its decode line is not
        List<Fake> first = new ArrayList<>();
        Result killed = run((name, dir, threads) -> {
            Fake f = new Fake(name, name.equals("rationale") ? -1 : 4);
            first.add(f);
            return f;
        }, args(out, 3, 1));
        assertNotEquals(0, killed.rc());
        assertTrue(first.stream().allMatch(f -> f.closed), "engines closed after the failure");
        List<JsonNode> before = lines(out);
        assertEquals("header", before.get(0).get("type").asText());
        assertEquals(1 + 2 + 2 + 1, before.size(), "header, rounds 1 and 2, round 3's first op");
        // and a kill while writing the next line
        Files.writeString(out, "{\"type\":\"round\",\"round\":3,\"op\":\"dec", StandardOpenOption.APPEND);

        List<Fake> second = new ArrayList<>();
        Result resumed = run((name, dir, threads) -> {
            Fake f = new Fake(name, -1);
            second.add(f);
            return f;
        }, args(out, 3, 1));
        assertEquals(0, resumed.rc(), resumed.err());
        assertTrue(resumed.err().contains("incomplete last line"), resumed.err());
        List<JsonNode> after = lines(out);   // every line parses (the partial one is gone)
        assertEquals(before.get(0), after.get(0), "the header is kept, not rewritten");
        assertEquals(1, after.stream().filter(l -> l.get("type").asText().equals("header")).count());
        Set<String> keys = new HashSet<>();
        for (JsonNode l : after.subList(1, after.size())) {
            assertEquals("round", l.get("type").asText());
            assertTrue(keys.add(l.get("round").asInt() + " " + l.get("op").asText()), "duplicate " + l);
            assertTrue(l.get("rationale_tok_s").asDouble() > 0 && l.get("peer_tok_s").asDouble() > 0, l.toString());
            assertEquals(l.get("rationale_tok_s").asDouble() / l.get("peer_tok_s").asDouble(), l.get("ratio").asDouble(), 1e-9);
        }
        assertEquals(Set.of("1 prefill8", "1 decode", "2 prefill8", "2 decode", "3 prefill8", "3 decode"), keys);
        assertEquals(before.subList(1, before.size()), after.subList(1, before.size()), "earlier lines untouched");
        // the rerun measured only round 3's decode: one warm-up and one timed decode per engine, no timed prefill
        for (Fake f : second) {
            assertEquals(1 + 1, f.decodes, f.name);
            assertEquals(1, f.prefills, f.name + ": the warm-up only");
        }
        assertEquals("rationale", after.get(after.size() - 1).get("first").asText(), "odd round: rationale first");
        assertTrue(resumed.out().contains("| decode | 3 |"), resumed.out());

        // a longer run continues the same file; the even round put the peer first
        Result more = run((name, dir, threads) -> new Fake(name, -1), args(out, 4, 1));
        assertEquals(0, more.rc(), more.err());
        List<JsonNode> four = lines(out);
        assertEquals(1 + 8, four.size());
        assertEquals("jlama-f32", four.get(four.size() - 1).get("first").asText());

        // nothing left: no engine is opened
        Result none = run((name, dir, threads) -> { throw new AssertionError("opened " + name); }, args(out, 4, 1));
        assertEquals(0, none.rc(), none.err());
        assertEquals(four, lines(out));
    }

    @Test
    void refusesAnotherRunsFile(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("run.jsonl");
        assertEquals(0, run((name, dir, threads) -> new Fake(name, -1), args(out, 1, 1)).rc());
        byte[] before = Files.readAllBytes(out);
        Result other = run((name, dir, threads) -> { throw new AssertionError("opened " + name); }, args(out, 2, 2));
        assertEquals(2, other.rc());
        assertEquals(1, other.err().strip().lines().count(), other.err());
        assertTrue(other.err().contains("threads 1 (now 2)") && other.err().contains(out.toString()), other.err());
        String[] otherPeer = args(out, 2, 1);
        otherPeer[5] = "jlama";
        Result peer = run((name, dir, threads) -> { throw new AssertionError("opened " + name); }, otherPeer);
        assertEquals(2, peer.rc());
        assertTrue(peer.err().contains("peer \"jlama-f32\" (now \"jlama\")"), peer.err());
        assertArrayEquals(before, Files.readAllBytes(out), "the file is untouched");
    }

    @Test
    void badInputIsOneLineAndExit2(@TempDir Path tmp) {
        PeerRun.EngineFactory never = (name, dir, threads) -> { throw new AssertionError("opened " + name); };
        String out = tmp.resolve("x.jsonl").toString();
        String m = model.toString();
        check(run(never, "--model", m, "--ops", "prefill64,decodes", "--out", out), "'decodes'");
        check(run(never, "--model", m, "--ops", "prefill", "--out", out), "'prefill'");
        check(run(never, "--model", m, "--peer", "llama.cpp", "--out", out), "'llama.cpp'");
        check(run(never, "--model", m, "--rounds", "0", "--out", out), "--rounds 0");
        check(run(never, "--model", tmp.resolve("missing").toString(), "--out", out), tmp.resolve("missing") + " does not exist");
        check(run(never, "--model", m, "--ops", "prefill100000", "--out", out), "prefill100000");
        assertTrue(Files.notExists(Path.of(out)));
    }

    private static void check(Result r, String names) {
        assertEquals(2, r.rc(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("PeerRun: ") && r.err().contains(names), r.err());
    }

    // ------------------------------------------------------------------ both engines, end to end

    @Test
    void theWorkloadsRepeatAfterTheDecodeContextIsRestored() {
        int vocab = BenchEngine.vocab(model);
        int[] prompt = BenchModel.tokens(64, vocab, EngineBench.PROMPT_SEED);
        for (String name : List.of("rationale", "jlama-f32")) {
            try (BenchEngine e = BenchEngine.open(name, model, 1)) {
                assertEquals(name, e.name());
                int p = e.prefill(prompt);
                assertTrue(p >= 0 && p < vocab, name + " prefill " + p);
                assertEquals(p, e.prefill(prompt), name + ": a prefill starts from position 0 every time");
                e.prepareDecode(BenchModel.tokens(EngineBench.CONTEXT, vocab, EngineBench.PROMPT_SEED));
                e.resetDecode();
                int d = e.decode(EngineBench.DECODE_STEPS);
                assertTrue(d >= 0 && d < vocab, name + " decode " + d);
                e.resetDecode();
                assertEquals(d, e.decode(EngineBench.DECODE_STEPS), name + ": the same steps after the context is restored");
            }
        }
    }

    @Test
    void smokeRunOfBothEngines(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("smoke.jsonl"), table = tmp.resolve("smoke.md");
        Result r = run(BenchEngine::open, "--model", model.toString(), "--ops", "decode,prefill64", "--peer", "jlama-f32", "--rounds", "1",
                "--warmup", "1", "--threads", "1", "--out", out.toString(), "--table", table.toString());
        assertEquals(0, r.rc(), r.err());
        List<JsonNode> l = lines(out);
        assertEquals(3, l.size());
        JsonNode h = l.get(0);
        assertEquals("header", h.get("type").asText());
        assertEquals(256, h.at("/shape/hidden").asInt());
        assertTrue(h.get("peer_settings").asText().contains("working quantization dtype F32"), h.toString());
        assertTrue(h.get("peer_settings").asText().contains("1 kernel threads"), h.toString());
        assertEquals(JlamaPeer.VERSION, h.get("jlama_version").asText());
        assertNotEquals("unknown", JlamaPeer.VERSION);
        List<String> ops = new ArrayList<>();
        for (JsonNode x : l.subList(1, 3)) {
            ops.add(x.get("op").asText());
            assertTrue(x.get("rationale_tok_s").asDouble() > 0, x.toString());
            assertTrue(x.get("peer_tok_s").asDouble() > 0, x.toString());
            assertTrue(Double.isFinite(x.get("ratio").asDouble()), x.toString());
        }
        assertEquals(List.of("decode", "prefill64"), ops);
        String md = Files.readString(table);
        assertTrue(md.contains("| decode | 1 |") && md.contains("| prefill64 | 1 |"), md);
    }
}
