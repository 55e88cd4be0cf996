package io.rationale.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads JMH JSON results ({@code -rf json -rff FILE}) of {@link EngineBench} and {@link AttributionBench} and prints
 * markdown tables: tokens/s per engine with rationale's speedup over each Jlama setting, and the attribution cost
 * ratios against the targets (method / forward ≤ 2.5; integrated gradients / (k · input_x_gradient) ≤ 0.8), one
 * attribution table per {@code tokens} parameter when the results hold several. A file that cannot be read is one
 * line on stderr and exit 1.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar io.rationale.bench.Ratios results.json [more.json ...]</pre>
 */
public final class Ratios {
    private Ratios() {}

    public static void main(String[] args) throws IOException {
        if (args.length == 0) {
            System.err.println("usage: Ratios JMH_RESULTS.json [...]");
            System.exit(2);
        }
        Map<String, Map<String, double[]>> engine = new LinkedHashMap<>();   // benchmark -> engine -> {score, error}
        // per `tokens` parameter ("" without one): method -> {score, error}; a run over several lengths gives one table each
        Map<String, Map<String, double[]>> attributionByTokens = new java.util.TreeMap<>(
                java.util.Comparator.comparingInt(String::length).thenComparing(java.util.Comparator.naturalOrder()));
        Map<String, Map<Integer, double[]>> kernel = new LinkedHashMap<>();       // benchmark -> tokens -> {score, error}
        String attributionUnit = null;
        for (String a : args) {
            JsonNode results;
            try {
                results = new ObjectMapper().readTree(Path.of(a).toFile());
            } catch (IOException e) {
                System.err.println("Ratios: " + a + ": " + (e instanceof java.io.FileNotFoundException ? "cannot read it"
                        : "not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")"));
                System.exit(1);
                return;
            }
            for (JsonNode r : results) {
                String name = r.get("benchmark").asText();
                String method = name.substring(name.lastIndexOf('.') + 1);
                JsonNode pm = r.get("primaryMetric");
                double[] v = {pm.get("score").asDouble(), pm.get("scoreError").asDouble()};
                if (name.contains(".EngineBench.")) {
                    engine.computeIfAbsent(method, k -> new LinkedHashMap<>()).put(r.at("/params/engine").asText(), v);
                } else if (name.contains(".KernelBench.")) {
                    kernel.computeIfAbsent(method, k -> new java.util.TreeMap<>()).put(r.at("/params/tokens").asInt(), v);
                } else if (name.contains(".AttributionBench.")) {
                    attributionByTokens.computeIfAbsent(r.at("/params/tokens").asText(), k -> new LinkedHashMap<>()).put(method, v);
                    attributionUnit = pm.get("scoreUnit").asText();
                }
            }
        }
        if (!engine.isEmpty()) {
            System.out.println("| benchmark | engine | tokens/s | ± (99.9%) | rationale speedup |");
            System.out.println("|---|---|---:|---:|---:|");
            for (var b : engine.entrySet()) {
                double[] ours = b.getValue().get("rationale");
                for (var e : b.getValue().entrySet()) {
                    String speedup = ours == null || e.getKey().equals("rationale") ? "" : String.format("%.2f×", ours[0] / e.getValue()[0]);
                    System.out.printf("| %s | %s | %.2f | %s | %s |%n", b.getKey(), e.getKey(), e.getValue()[0], err(e.getValue()[1]), speedup);
                }
            }
            System.out.println();
        }
        if (!kernel.isEmpty()) {
            System.out.println("| kernel | tokens | ms/op | ± (99.9%) | ms per 1,000 tokens | per token vs fewest tokens |");
            System.out.println("|---|---:|---:|---:|---:|---:|");
            for (var b : kernel.entrySet()) {
                double base = Double.NaN;
                for (var e : b.getValue().entrySet()) {
                    double perToken = e.getValue()[0] / e.getKey();
                    if (Double.isNaN(base)) base = perToken;
                    System.out.printf("| %s | %d | %.2f | %s | %.2f | %.3f |%n", b.getKey(), e.getKey(), e.getValue()[0], err(e.getValue()[1]),
                            1000 * perToken, perToken / base);
                }
            }
            System.out.println();
        }
        for (var group : attributionByTokens.entrySet()) {
            Map<String, double[]> attribution = group.getValue();
            if (attributionByTokens.size() > 1) System.out.printf("AttributionBench, tokens = %s:%n%n", group.getKey());
            double[] fwd = attribution.get("forward"), ixg = attribution.get("inputXGradient");
            System.out.printf("| benchmark | %s | ± (99.9%%) | / forward | target | %n", attributionUnit);
            System.out.println("|---|---:|---:|---:|---|");
            for (var e : attribution.entrySet()) {
                String m = e.getKey();
                double s = e.getValue()[0];
                String over = fwd == null ? "" : String.format("%.2f", s / fwd[0]);
                String target = "";
                if (fwd != null && (m.equals("inputXGradient") || m.equals("saliency") || m.equals("attnlrp")))
                    target = String.format("≤ 2.5× forward: %s", s / fwd[0] <= 2.5 ? "met" : "MISSED");
                if (ixg != null && m.startsWith("integratedGradients")) {
                    int k = Integer.parseInt(m.substring("integratedGradients".length()));
                    double r = s / (k * ixg[0]);
                    target = String.format("%.3f · k·IxG, ≤ 0.8: %s", r, r <= 0.8 ? "met" : "MISSED");
                    if (fwd != null)   // besides the k steps, a run does two plain forwards: the input's and the baseline's
                        target += String.format("; one batched step (less those 2 forwards) / IxG: %.3f", (s - 2 * fwd[0]) / (k * ixg[0]));
                }
                System.out.printf("| %s | %.1f | %s | %s | %s |%n", m, s, err(e.getValue()[1]), over, target);
            }
            if (attributionByTokens.size() > 1) System.out.println();
        }
    }

    private static String err(double e) {
        return Double.isNaN(e) ? "" : String.format("%.2f", e);
    }
}
