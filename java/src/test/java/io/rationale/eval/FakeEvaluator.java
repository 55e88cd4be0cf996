package io.rationale.eval;

import io.rationale.dataset.Aggregation;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.dataset.Word;
import io.rationale.metrics.Alignment;
import io.rationale.metrics.AveragePrecision;
import io.rationale.metrics.Faithfulness;
import io.rationale.metrics.IouF1;
import io.rationale.metrics.Prf;
import io.rationale.metrics.TopK;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;

/**
 * A deterministic stand-in for the evaluation core: synthetic but well-formed {@link ExampleResult}s (scores from a
 * seeded Random per example and method, real alignment metrics against the human rationale, pseudo-random flips).
 * Knobs: a delay per example, a failure after N evaluations, ids to skip, a label every prediction collapses to, a
 * hook before each example. {@link #evaluated} records the indices it was asked for (over all instances made by
 * one {@link #factory}).
 */
public final class FakeEvaluator implements Evaluator {
    public record Settings(long delayMs, int failAfter, Set<String> skipIds, String collapseTo, BiConsumer<Integer, Example> before) {
        public static Settings plain() { return new Settings(0, -1, Set.of(), null, null); }

        public Settings delay(long ms) { return new Settings(ms, failAfter, skipIds, collapseTo, before); }

        public Settings failAfter(int n) { return new Settings(delayMs, n, skipIds, collapseTo, before); }

        public Settings skip(Set<String> ids) { return new Settings(delayMs, failAfter, ids, collapseTo, before); }

        public Settings collapseTo(String label) { return new Settings(delayMs, failAfter, skipIds, label, before); }

        public Settings before(BiConsumer<Integer, Example> hook) { return new Settings(delayMs, failAfter, skipIds, collapseTo, hook); }
    }

    public static final String SKIP_REASON = "no label word in the vocabulary (fake)";

    /** A factory whose evaluators share one list of evaluated indices. */
    public static final class Factory implements EvaluatorFactory {
        public final Settings settings;
        public final List<Integer> evaluated = new CopyOnWriteArrayList<>();
        public volatile int opened;

        Factory(Settings s) { this.settings = s; }

        @Override
        public Evaluator open(java.nio.file.Path modelDir, Dataset dataset, EvalOptions options) {
            opened++;
            return new FakeEvaluator(settings, options, evaluated);
        }
    }

    public static Factory factory(Settings s) { return new Factory(s); }

    private final Settings s;
    private final EvalOptions options;
    private final List<Integer> evaluated;
    private int calls;

    FakeEvaluator(Settings s, EvalOptions options, List<Integer> evaluated) {
        this.s = s;
        this.options = options;
        this.evaluated = evaluated;
    }

    @Override
    public ExampleResult evaluate(int index, Example ex) {
        if (s.before() != null) s.before().accept(index, ex);
        if (s.failAfter() >= 0 && calls >= s.failAfter()) throw new IllegalStateException("fake failure at example " + index);
        calls++;
        if (s.delayMs() > 0) {
            try {
                Thread.sleep(s.delayMs());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        evaluated.add(index);
        return result(index, ex);
    }

    ExampleResult result(int index, Example ex) {
        if (s.skipIds().contains(ex.id())) return new ExampleResult(index, ex.id(), SKIP_REASON, null, ex.label(), null, null, null, null, 0.01);
        List<ExampleResult.WordRef> words = new ArrayList<>();
        for (TextField f : ex.fields()) for (Word w : f.words()) words.add(new ExampleResult.WordRef(f.name(), w.text(), w.start(), w.end()));
        int n = words.size();
        SortedSet<Integer> human = ex.rationaleAllFields(Aggregation.parse(options.annotators())).orElse(null);
        List<String> labels = ex.labels();
        String predicted = s.collapseTo() != null ? s.collapseTo() : labels.get((index * 7 + 3) % labels.size());
        Map<String, Double> probs = new LinkedHashMap<>();
        for (String l : labels) probs.put(l, l.equals(predicted) ? 0.6 : 0.4 / (labels.size() - 1));
        List<String> methods = new ArrayList<>(options.methods());
        methods.add("random");
        Map<String, ExampleResult.MethodResult> out = new LinkedHashMap<>();
        for (String m : methods) {
            Random rnd = new Random(index * 1_000_003L + m.hashCode());
            boolean prompting = m.startsWith("prompt");
            double[] scores = null;
            int[] ranking;
            if (prompting) {
                List<Integer> perm = new ArrayList<>();
                for (int i = 0; i < n; i++) perm.add(i);
                Collections.shuffle(perm, rnd);
                ranking = perm.stream().mapToInt(Integer::intValue).toArray();
            } else {
                scores = new double[n];
                for (int i = 0; i < n; i++) scores[i] = rnd.nextGaussian();
                ranking = TopK.ranking(scores);
            }
            int k = human != null ? human.size() : Math.max(1, (int) Math.round(0.1 * n));
            if (prompting && index % 5 == 4) k = 0; // an unparseable answer now and then
            TreeSet<Integer> rat = new TreeSet<>();
            for (int i = 0; i < Math.min(k, n); i++) rat.add(ranking[i]);
            ExampleResult.Alignment al = null;
            if (human != null) {
                Prf p = Alignment.wordPrf(rat, human);
                IouF1.Instance iou = IouF1.instance(rat, human);
                double ap = scores == null ? Double.NaN : AveragePrecision.of(scores, human);
                al = new ExampleResult.Alignment(p.precision(), p.recall(), p.f1(), iou.truePositives(), iou.predictedSpans(), iou.humanSpans(), ap);
            }
            Map<String, ExampleResult.Masked> byFraction = new LinkedHashMap<>();
            double c = 0, su = 0;
            for (double f : Faithfulness.AOPC_FRACTIONS) {
                boolean flip = rnd.nextDouble() < f * (m.equals("random") ? 0.8 : 1.6);
                double comp = rnd.nextDouble() * f, suff = rnd.nextDouble() * (1 - f) * 0.5;
                c += comp;
                su += suff;
                byFraction.put(Double.toString(f), new ExampleResult.Masked(TopK.kForFraction(n, f), flip ? other(labels, predicted) : predicted, flip, comp, suff));
            }
            boolean flipped = rnd.nextDouble() < (m.equals("random") ? 0.15 : 0.4);
            ExampleResult.Masked main = new ExampleResult.Masked(k, flipped ? other(labels, predicted) : predicted, flipped,
                    rnd.nextDouble() * 0.5, rnd.nextDouble() * 0.3);
            ExampleResult.Faithfulness faith = new ExampleResult.Faithfulness(main, byFraction, c / 5, su / 5);
            String raw = prompting ? (k == 0 ? "I cannot tell." : "important words: " + String.join(", ", rat.stream().map(i -> words.get(i).text()).toList())) : null;
            List<String> unparsed = prompting ? (k == 0 ? List.of("cannot", "tell.") : List.of()) : null;
            out.put(m, new ExampleResult.MethodResult(scores, ranking, k, rat.stream().mapToInt(Integer::intValue).toArray(), raw, unparsed,
                    al, faith, 0.001));
        }
        return new ExampleResult(index, ex.id(), null, words, ex.label(), predicted, probs,
                human == null ? null : List.copyOf(human), out, 0.01, null,
                index % 3 == 0 ? ExampleResult.FLIP_HOST : ExampleResult.FLIP_TOKEN_LEVEL);   // a third the host way
    }

    private static String other(List<String> labels, String l) {
        return labels.get((labels.indexOf(l) + 1) % labels.size());
    }

    @Override
    public void close() {}
}
