package io.rationale.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * ERASER's IOU-F1 ({@code partial_match_score} in {@code rationale_benchmark/metrics.py}), on word indices.
 * <ul>
 *   <li>Spans: the maximal runs of consecutive word indices of a rationale ({@link #spans}); {@code {1,2,3,7}}
 *       gives {@code [1,4)} and {@code [7,8)}.</li>
 *   <li>IOU of two spans = |intersection| / |union| of their word sets.</li>
 *   <li>True positives of an instance: the number of PREDICTED spans whose best IOU with any human span is
 *       &ge; the threshold (default 0.5). Because predicted spans are maximal runs, two of them cannot both
 *       match one human span, so TP &le; the number of human spans.</li>
 *   <li>Instance precision = TP / #predicted spans (0 when none), recall = TP / #human spans (0 when none).</li>
 *   <li>Macro (ERASER's reported "IOU F1"): precision averaged over the instances WITH predicted spans,
 *       recall averaged over the instances WITH human spans, then F1 of the two averages. Micro: TP, predicted
 *       and human span counts summed over instances first. An instance with neither spans counts nowhere.</li>
 * </ul>
 * ERASER's instances are (example, document) pairs: pass one instance per text field to match it.
 */
public final class IouF1 {
    private IouF1() {}

    public static final double DEFAULT_THRESHOLD = 0.5;

    /** A run of consecutive words {@code [start, end)}. */
    public record Span(int start, int end) {
        public Span {
            if (end <= start) throw new IllegalArgumentException("empty span [" + start + ", " + end + ")");
        }

        public int length() { return end - start; }
    }

    /** One instance's counts. */
    public record Instance(int truePositives, int predictedSpans, int humanSpans) {
        public double precision() { return predictedSpans == 0 ? 0 : (double) truePositives / predictedSpans; }

        public double recall() { return humanSpans == 0 ? 0 : (double) truePositives / humanSpans; }

        public double f1() { return Prf.f1(precision(), recall()); }
    }

    /** Macro and micro precision/recall/F1 over instances. */
    public record Score(Prf macro, Prf micro, int instances) {}

    /** The maximal runs of consecutive indices, in order. */
    public static List<Span> spans(Set<Integer> words) {
        List<Span> out = new ArrayList<>();
        int start = -1, prev = -2;
        for (int w : new TreeSet<>(words)) {
            if (w != prev + 1) {
                if (start >= 0) out.add(new Span(start, prev + 1));
                start = w;
            }
            prev = w;
        }
        if (start >= 0) out.add(new Span(start, prev + 1));
        return out;
    }

    public static double iou(Span a, Span b) {
        int inter = Math.max(0, Math.min(a.end(), b.end()) - Math.max(a.start(), b.start()));
        int union = a.length() + b.length() - inter;
        return (double) inter / union;
    }

    public static Instance instance(Set<Integer> predicted, Set<Integer> human) {
        return instance(predicted, human, DEFAULT_THRESHOLD);
    }

    public static Instance instance(Set<Integer> predicted, Set<Integer> human, double threshold) {
        List<Span> p = spans(predicted), h = spans(human);
        int tp = 0;
        for (Span ps : p) {
            double best = 0;
            for (Span hs : h) best = Math.max(best, iou(ps, hs));
            if (best >= threshold) tp++;
        }
        return new Instance(tp, p.size(), h.size());
    }

    public static Score score(List<Instance> instances) {
        double sumP = 0, sumR = 0;
        int nP = 0, nR = 0;
        long tp = 0, pred = 0, human = 0;
        for (Instance i : instances) {
            if (i.predictedSpans() > 0) {
                sumP += i.precision();
                nP++;
            }
            if (i.humanSpans() > 0) {
                sumR += i.recall();
                nR++;
            }
            tp += i.truePositives();
            pred += i.predictedSpans();
            human += i.humanSpans();
        }
        double mp = nP == 0 ? 0 : sumP / nP, mr = nR == 0 ? 0 : sumR / nR;
        double up = pred == 0 ? 0 : (double) tp / pred, ur = human == 0 ? 0 : (double) tp / human;
        return new Score(new Prf(mp, mr, Prf.f1(mp, mr)), new Prf(up, ur, Prf.f1(up, ur)), instances.size());
    }
}
