package io.rationale.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** {@link Ratios} on JMH JSON results of {@link AttributionBench} over two lengths ({@code -p tokens=64,512}). */
class RatiosTest {

    static Map<String, Object> result(String method, String tokens, double score) {
        Map<String, Object> pm = new LinkedHashMap<>();
        pm.put("score", score);
        pm.put("scoreError", 0.5);
        pm.put("scoreUnit", "ms/op");
        pm.put("rawData", List.of(List.of(score)));
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("benchmark", "io.rationale.bench.AttributionBench." + method);
        r.put("mode", "avgt");
        r.put("params", Map.of("tokens", tokens));
        r.put("primaryMetric", pm);
        return r;
    }

    @Test
    void oneAttributionTablePerLength(@TempDir Path tmp) throws Exception {
        // 64 tokens: forward 10 ms, input_x_gradient 20 ms (2.00×, met); 512 tokens: 100 and 300 ms (3.00×, missed)
        List<Map<String, Object>> results = new ArrayList<>(List.of(result("forward", "64", 10), result("inputXGradient", "64", 20),
                result("forward", "512", 100), result("inputXGradient", "512", 300)));
        Path f = tmp.resolve("all.json");
        Files.writeString(f, new ObjectMapper().writeValueAsString(results));
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            Ratios.main(new String[]{f.toString()});
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        int at64 = out.indexOf("tokens = 64:"), at512 = out.indexOf("tokens = 512:");
        assertTrue(at64 >= 0 && at512 > at64, "a table per length, shortest first: " + out);
        String t64 = out.substring(at64, at512), t512 = out.substring(at512);
        assertTrue(t64.contains("| inputXGradient | 20.0 | 0.50 | 2.00 | ≤ 2.5× forward: met |"), t64);
        assertTrue(t512.contains("| inputXGradient | 300.0 | 0.50 | 3.00 | ≤ 2.5× forward: MISSED |"), t512);
    }

    @Test
    void anUnreadableFileIsOneLine(@TempDir Path tmp) throws Exception {
        Path log = tmp.resolve("err.log");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), Ratios.class.getName(), tmp.resolve("none.json").toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertEquals(1, p.waitFor());
        List<String> lines = Files.readAllLines(log).stream().filter(l -> !l.isBlank() && !l.startsWith("WARNING")).toList();
        assertEquals(List.of("Ratios: " + tmp.resolve("none.json") + ": cannot read it"), lines);
    }
}
