package io.rationale.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Label statistics to report beside faithfulness (paper 1: low accuracy or one dominant label makes flip rates
 * near zero whatever the method): accuracy, confusion matrix, prediction distribution and a label-bias flag.
 */
public final class LabelStats {
    private LabelStats() {}

    /** A prediction share above this (strictly) flags label bias. */
    public static final double LABEL_BIAS_THRESHOLD = 0.9;

    /**
     * Counts by gold label (rows) and predicted label (columns), both in the order of {@code labels}.
     * Labels that occur but are not in the given list (e.g. an unparseable answer) are appended in order of first
     * occurrence (gold before predicted, example by example).
     */
    public record ConfusionMatrix(List<String> labels, long[][] counts) {
        public long count(String gold, String predicted) {
            int g = labels.indexOf(gold), p = labels.indexOf(predicted);
            return g < 0 || p < 0 ? 0 : counts[g][p];
        }
    }

    /** Fraction of examples whose prediction equals the gold label; NaN for none. */
    public static double accuracy(List<String> gold, List<String> predicted) {
        sameSize(gold, predicted);
        if (gold.isEmpty()) return Double.NaN;
        int ok = 0;
        for (int i = 0; i < gold.size(); i++) if (gold.get(i).equals(predicted.get(i))) ok++;
        return (double) ok / gold.size();
    }

    public static ConfusionMatrix confusion(List<String> labels, List<String> gold, List<String> predicted) {
        sameSize(gold, predicted);
        List<String> all = new ArrayList<>(labels);
        for (int i = 0; i < gold.size(); i++) {
            if (!all.contains(gold.get(i))) all.add(gold.get(i));
            if (!all.contains(predicted.get(i))) all.add(predicted.get(i));
        }
        long[][] c = new long[all.size()][all.size()];
        for (int i = 0; i < gold.size(); i++) c[all.indexOf(gold.get(i))][all.indexOf(predicted.get(i))]++;
        return new ConfusionMatrix(List.copyOf(all), c);
    }

    /** Number of predictions per label: every label of {@code labels} (0 when never predicted), then any other. */
    public static Map<String, Long> counts(List<String> labels, List<String> predicted) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String l : labels) out.put(l, 0L);
        for (String p : predicted) out.merge(p, 1L, Long::sum);
        return out;
    }

    /** {@link #counts} divided by the number of predictions (all NaN when there are none). */
    public static Map<String, Double> distribution(List<String> labels, List<String> predicted) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : counts(labels, predicted).entrySet()) {
            out.put(e.getKey(), predicted.isEmpty() ? Double.NaN : (double) e.getValue() / predicted.size());
        }
        return out;
    }

    /** The label predicted for MORE than {@code threshold} of the examples, if any. */
    public static Optional<String> dominantLabel(List<String> predicted, double threshold) {
        if (predicted.isEmpty()) return Optional.empty();
        Map<String, Long> c = counts(List.of(), predicted);
        for (Map.Entry<String, Long> e : c.entrySet()) {
            if ((double) e.getValue() / predicted.size() > threshold) return Optional.of(e.getKey());
        }
        return Optional.empty();
    }

    /** Whether one label takes more than 90% of the predictions. */
    public static boolean labelBias(List<String> predicted) {
        return dominantLabel(predicted, LABEL_BIAS_THRESHOLD).isPresent();
    }

    private static void sameSize(List<String> a, List<String> b) {
        if (a.size() != b.size()) throw new IllegalArgumentException(a.size() + " gold labels, " + b.size() + " predictions");
    }
}
