package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code eval} with attribution after the prompt prefix's cache (the default) against {@code --no-prefix-cache} (the
 * whole prompt recorded: the independent path), stories260K on few-shot MedicalBios: the per-example results in
 * examples.jsonl agree — the same examples, predictions and targets, label probabilities within 1e-5 (the same
 * computation: the Vector API rounds differently before and after the JIT compiles it), and for every method each word
 * score within 1e-5·max|score| of that method and example (f32 rounding of the same computation in different
 * batches; measured ~1e-7), integrated gradients' completeness error within 1e-4 relative (at least 1e-4 absolute). The
 * error is a ratio, |Σ scores − Δ| / |Δ| with Δ = f(x) − f(baseline), so f32 rounding δ of the logits moves it by
 * about (1 + error)·δ/|Δ|: where Δ is small that is far more than the logits' own rounding. The two runs record
 * different token counts (IG's step batches also follow the free heap), and a token's sums round differently in a
 * tile than in the dot kernels that take a short tail ({@code MatMul.dotTail}): measured 1.6e-5 relative on an
 * error of 31 (7e-5 absolute on an error of 66 under load before the dot tail).
 */
class PrefixCacheEvalCliTest {
    static final String METHODS = "saliency,input_x_gradient,attnlrp,cplrp,pe_lrp,integrated_gradients";
    static final double TOL = 1e-5, COMPLETENESS_TOL = 1e-4;

    @Test
    void examplesJsonlIsTheSameWithAndWithoutThePrefixCache(@TempDir Path tmp) throws Exception {
        Path data = CliRun.SHARED.resolve("data/datasets/medicalbios/standard_biosbias_rationales.jsonl");
        run(tmp.resolve("warm-up"), data);        // the JIT compiles the kernels first: cold Vector API calls round differently
        Map<Integer, JsonNode> with = run(tmp.resolve("with"), data), without = run(tmp.resolve("without"), data, "--no-prefix-cache");
        assertEquals(with.keySet(), without.keySet(), "the same examples");
        int compared = 0;
        for (var e : with.entrySet()) {
            JsonNode a = e.getValue(), b = without.get(e.getKey());
            assertEquals(b.get("skipped").toString(), a.get("skipped").toString());
            if (!a.get("skipped").isNull()) continue;
            assertEquals(b.get("predicted").asText(), a.get("predicted").asText());
            for (Iterator<String> it = b.get("labelProbs").fieldNames(); it.hasNext(); ) {   // no attribution involved: JIT rounding only
                String l = it.next();
                assertEquals(b.get("labelProbs").get(l).asDouble(), a.get("labelProbs").get(l).asDouble(), TOL, "probability of " + l);
            }
            assertEquals(b.get("attributionTarget").toString(), a.get("attributionTarget").toString());
            for (String m : METHODS.split(",")) {
                JsonNode sa = a.get("methods").get(m).get("scores"), sb = b.get("methods").get(m).get("scores");
                assertNotNull(sa, m);
                assertEquals(sb.size(), sa.size(), m);
                double max = 0, diff = 0;
                for (int i = 0; i < sb.size(); i++) {
                    max = Math.max(max, Math.abs(sb.get(i).asDouble()));
                    diff = Math.max(diff, Math.abs(sb.get(i).asDouble() - sa.get(i).asDouble()));
                }
                assertTrue(max > 0, m + " all zero");
                assertTrue(diff <= TOL * max, "example " + e.getKey() + " " + m + ": max |diff| " + diff + " > " + TOL + " · " + max);
            }
            double ca = a.get("methods").get("integrated_gradients").get("completenessError").asDouble();
            double cb = b.get("methods").get("integrated_gradients").get("completenessError").asDouble();
            assertTrue(Math.abs(ca - cb) <= COMPLETENESS_TOL * Math.max(1, Math.abs(ca)), "completeness " + ca + " vs " + cb);
            compared++;
        }
        assertTrue(compared >= 2, "compared " + compared + " examples");
    }

    static Map<Integer, JsonNode> run(Path out, Path data, String... extra) throws Exception {
        // one demonstration: stories260K has 512 positions, three MedicalBios demonstrations need about 1,000
        List<String> args = new java.util.ArrayList<>(List.of("eval", "--model", CliRun.STORIES.toString(), "--dataset", "medicalbios:" + data,
                "--methods", METHODS, "--ig-steps", "4", "--shots", "1", "--limit", "3", "--select", "first", "--out", out.toString(),
                "--progress", "none", "--summary-every", "0"));
        args.addAll(List.of(extra));
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        Map<Integer, JsonNode> byIndex = new HashMap<>();
        ObjectMapper m = new ObjectMapper();
        for (String l : Files.readAllLines(out.resolve("examples.jsonl"))) {
            JsonNode n = m.readTree(l);
            byIndex.put(n.get("index").asInt(), n);
        }
        return byIndex;
    }
}
