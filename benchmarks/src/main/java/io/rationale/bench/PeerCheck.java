package io.rationale.bench;

import io.rationale.engine.Backend;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The sanity check behind the side-by-side numbers (run once, outside any benchmark loop): rationale and Jlama, on
 * the same folder and the same token ids, must compute the same function. Compares the last-position logits of a
 * prefill, the logits of the following decode step, and a greedy continuation.
 *
 * <pre>java --add-modules jdk.incubator.vector -Dbench.model=DIR -cp benchmarks/target/benchmarks.jar io.rationale.bench.PeerCheck [prompt tokens] [greedy steps]</pre>
 * Exit code 0 when, for every Jlama variant, the argmax agrees at every compared position; 1 otherwise.
 */
public final class PeerCheck {
    private PeerCheck() {}

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int threads = BenchModel.threads();
        boolean ok = true;
        try (BenchModel folder = BenchModel.fromProperties()) {
            System.out.println("model: " + folder.description());
            float[] ours, oursNext;
            int[] oursGreedy;
            int[] prompt;
            try (Model model = Model.load(folder.dir()); Backend backend = BenchModel.open(model)) {
                prompt = BenchModel.tokens(n, model.config().vocabSize(), 42);
                KvCache cache = backend.newCache();
                Logits l = backend.forward(prompt, cache, LogitsMode.LAST);
                ours = l.last(0);
                int next = l.argmax(0, 0);
                oursNext = backend.forward(new int[]{next}, cache, LogitsMode.LAST).last(0);
                oursGreedy = greedyOurs(backend, prompt, steps);
                System.out.printf("rationale: %s, weights %s; prompt %d random ids (seed 42), argmax %d%n",
                        backend.device(), model.weightDtype(), n, next);
            }
            for (JlamaPeer.Variant v : JlamaPeer.Variant.values()) {
                try (JlamaPeer jl = JlamaPeer.load(folder.dir(), v, threads)) {
                    System.out.println(jl.settings());
                    float[] theirs = jl.lastLogits(prompt);
                    ok &= report(v.paramName() + " prefill last position", ours, theirs);
                    float[] theirsNext = jl.decodeLogits(argmax(theirs), n);
                    ok &= report(v.paramName() + " decode step at position " + n, oursNext, theirsNext);
                    int[] theirsGreedy = greedyJlama(jl, prompt, steps);
                    int[] again = greedyJlama(jl, prompt, steps);
                    System.out.printf("  %s greedy run twice: %s%n", v.paramName(),
                            Arrays.equals(theirsGreedy, again) ? "same tokens (deterministic)" : "DIFFERENT tokens: " + Arrays.toString(again));
                    int agree = 0;
                    while (agree < steps && oursGreedy[agree] == theirsGreedy[agree]) agree++;
                    System.out.printf("  %s greedy %d steps: rationale %s, jlama %s: %s%n", v.paramName(), steps,
                            Arrays.toString(oursGreedy), Arrays.toString(theirsGreedy),
                            agree == steps ? "identical" : "first difference at step " + agree);
                }
            }
        }
        System.out.println(ok ? "PASS: same argmax everywhere" : "FAIL: argmax differs");
        System.exit(ok ? 0 : 1);
    }

    static int[] greedyOurs(Backend backend, int[] prompt, int steps) {
        KvCache cache = backend.newCache();
        int next = backend.forward(prompt, cache, LogitsMode.LAST).argmax(0, 0);
        int[] out = new int[steps];
        for (int s = 0; s < steps; s++) {
            out[s] = next;
            next = backend.forward(new int[]{next}, cache, LogitsMode.LAST).argmax(0, 0);
        }
        return out;
    }

    static int[] greedyJlama(JlamaPeer jl, int[] prompt, int steps) {
        int next = jl.prefill(prompt);
        int[] out = new int[steps];
        for (int s = 0; s < steps; s++) {
            out[s] = next;
            next = jl.decode(next, prompt.length + s);
        }
        return out;
    }

    /** Prints the comparison of two logit vectors; true when the argmax agrees. */
    static boolean report(String what, float[] a, float[] b) {
        double maxAbs = 0, sq = 0, ref = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            maxAbs = Math.max(maxAbs, d);
            sq += d * d;
            ref = Math.max(ref, Math.abs(a[i]));
        }
        double mean = 0;
        for (float x : a) mean += x;
        mean /= a.length;
        double var = 0;
        for (float x : a) var += (x - mean) * (x - mean);
        double std = Math.sqrt(var / a.length);
        int ia = argmax(a), ib = argmax(b);
        List<Integer> ta = top(a, 10), tb = top(b, 10);
        int overlap = 0;
        for (int t : ta) if (tb.contains(t)) overlap++;
        System.out.printf("  %s: argmax %d vs %d (%s), max |Δlogit| %.3g, rms Δ %.3g (logit std %.3g, max |logit| %.3g), top-10 overlap %d/10, "
                        + "margin top1-top2 %.3g%n",
                what, ia, ib, ia == ib ? "same" : "DIFFERENT", maxAbs, Math.sqrt(sq / a.length), std, ref, overlap,
                a[ta.get(0)] - a[ta.get(1)]);
        return ia == ib;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static List<Integer> top(float[] x, int k) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < x.length; i++) idx.add(i);
        idx.sort((p, q) -> Float.compare(x[q], x[p]));
        return idx.subList(0, k);
    }
}
