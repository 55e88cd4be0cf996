package io.rationale.eval;

import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Backend;
import io.rationale.engine.FlipBatch;
import io.rationale.engine.FlipScores;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.metrics.Faithfulness;
import io.rationale.metrics.Masking;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The masked-batch flip evaluation of one example: ONE operation that builds every masked variant the faithfulness
 * metrics need and scores them all with the shared prompt prefix computed once.
 *
 * <h2>Variants</h2>
 * For every method (each attribution method, each prompting method, the random baseline) and every size s of it
 * (the main k, and for ranked methods each {@link Faithfulness#aopcSizes} size of the {@link
 * Faithfulness#AOPC_FRACTIONS}), the top-s words of the method's ranking give two variants: the words REMOVED
 * (comprehensiveness, flip) and the words KEPT ALONE (sufficiency), masked with {@link Masking} (deletion by default,
 * or replacement) field by field. The unmasked input is a variant too. Identical variants (same masked field texts:
 * e.g. the same top-s words from two methods, a keep-all equal to the original, repeated sizes on short inputs) are
 * scored once.
 *
 * <h2>Scoring with prefix reuse ({@link Strategy#PREFIX_BATCHED}, the default)</h2>
 * The prompt prefix (instructions, demonstrations, start of the input; see {@link PromptBuilder}) is the same for
 * every variant. It is prefilled ONCE into a KV cache ({@link #prefill}); each variant gets a {@link KvCache#fork()}
 * of it (full blocks shared, the partial block copied) and only its rest tokens (text under study + question) are
 * run, all variants packed into one batched forward with logits at the last position only, reduced to the label
 * logits where the logits are ({@link Backend#forwardLabelLogits}: on a device backend only a few numbers per variant
 * come back to the host; the label probabilities and the metrics are then computed here, in double). The batch is cut into
 * chunks of at most {@code maxBatchTokens} rest tokens (the backend's {@link Backend#forwardBatchTokens()} by default;
 * at least one variant per chunk) to bound memory; caches of a chunk are closed after it.
 * The variants are normally not sent as token rows: their token-level description ({@link TokenMasking}, derived
 * from and checked against every variant's tokenized masked text) goes to {@link Backend#flipEvaluation}, which
 * builds the rows from the rankings (on a device backend: on the device, with the probabilities and the metrics
 * computed there too; the CPU's default builds them on the host and computes the same in double: the same rows
 * in the same batches as the path below); an example whose description is refused is scored from its token rows as above
 * ({@link Outcome#hostReason}). Both share this plan and the metric definitions ({@link #faithfulness}).
 * {@link Strategy#ONE_BY_ONE} is the reference: each variant's complete prompt (the same
 * prefix + rest tokens) in its own full forward from position 0.
 *
 * <h2>Metrics (y = the label predicted on the unmasked input)</h2>
 * {@code comprehensiveness = p_y(x) − p_y(x∖r)}, {@code sufficiency = p_y(x) − p_y(r)}, flip = the label predicted on
 * {@code x∖r} differs from y (on every instance, correct or not). AOPC = mean over the AOPC sizes. Methods without a
 * full ranking (prompting: only the words the model named) get the main size only: {@code byFraction} empty, AOPC
 * NaN. A method with an empty rationale (an unparseable answer) masks nothing: flipped false, comprehensiveness 0,
 * sufficiency from the input with every word removed.
 */
public final class FlipEvaluation {
    /** How variants are scored. */
    public enum Strategy {
        /** Prefix prefilled once, forked per variant, rests packed into chunked batched forwards. */
        PREFIX_BATCHED,
        /** Every variant's complete prompt in its own full forward (the reference). */
        ONE_BY_ONE
    }

    /**
     * A method's rationale to test.
     *
     * @param method    name (key of the result)
     * @param ranking   word indices (global over the example's fields), most important first
     * @param k         main size (≤ ranking length)
     * @param fractions whether the ranking covers all words, so the AOPC sizes apply
     */
    public record Ranked(String method, int[] ranking, int k, boolean fractions) {
        public Ranked {
            ranking = ranking.clone();
            if (k < 0 || k > ranking.length) throw new IllegalArgumentException(method + ": k " + k + " outside [0, " + ranking.length + "]");
        }
    }

    /**
     * One distinct scored variant.
     *
     * @param fields  the masked field texts
     * @param restIds the rest tokens of its prompt (the prefix is shared)
     * @param scores  its label scores
     * @param uses    which requests it answers: "original", or "method/remove|keep/size"
     */
    public record Variant(List<String> fields, int[] restIds, LabelWords.Scores scores, List<String> uses) {}

    /**
     * The outcome of one example.
     *
     * @param original     the unmasked input's scores
     * @param faithfulness per method, in the order given
     * @param variants     the distinct variants, the unmasked input first
     * @param requested    variants asked for, before de-duplication (the unmasked input included)
     * @param forwards     forward passes run (the prefill counted)
     * @param tokens       tokens run through the model
     * @param seconds      wall time
     * @param tokenLevel   whether the variants were built and scored by {@link Backend#flipEvaluation} from their
     *                     token-level description ({@link TokenMasking}; on a device backend: on the device)
     * @param hostReason   when the description was refused, why (the variants then went the host path); else null
     */
    public record Outcome(LabelWords.Scores original, Map<String, ExampleResult.Faithfulness> faithfulness,
                          List<Variant> variants, int requested, int forwards, int tokens, double seconds, boolean tokenLevel,
                          String hostReason) {
        /** What {@link ExampleResult#flipPath()} records: how the variants were scored, null when none was. */
        public String path() {
            return forwards == 0 ? null : tokenLevel ? ExampleResult.FLIP_TOKEN_LEVEL : ExampleResult.FLIP_HOST;
        }
    }

    private final Backend backend;
    private final LabelWords labelWords;
    private final Masking.Mode mode;
    private final int maxBatchTokens;
    private volatile boolean tokenLevel = true;

    /** @param maxBatchTokens rest tokens per batched forward; 0 for the backend's {@link Backend#forwardBatchTokens()} */
    public FlipEvaluation(Backend backend, LabelWords labelWords, Masking.Mode mode, int maxBatchTokens) {
        if (maxBatchTokens < 0) throw new IllegalArgumentException("max batch tokens must be >= 0, got " + maxBatchTokens);
        this.backend = backend;
        this.labelWords = labelWords;
        this.mode = mode;
        this.maxBatchTokens = maxBatchTokens;
    }

    public Masking.Mode mode() { return mode; }

    /**
     * Whether {@link Strategy#PREFIX_BATCHED} builds the variants from their token-level description and scores them
     * with {@link Backend#flipEvaluation} (the default; on a device backend the variants are built, scored and their
     * metrics computed on the device), or always tokenizes and scores each variant on the host (false).
     */
    public FlipEvaluation tokenLevel(boolean on) {
        tokenLevel = on;
        return this;
    }

    /** The key of a fraction in {@link ExampleResult.Faithfulness#byFraction()}: "0.01", "0.05", "0.1", "0.2", "0.5". */
    public static String fractionKey(double f) {
        return BigDecimal.valueOf(f).stripTrailingZeros().toPlainString();
    }

    // ------------------------------------------------------------------ scoring primitives

    /** Runs the prefix into a fresh cache (no logits). */
    public KvCache prefill(int[] prefixIds) {
        checkLength(prefixIds.length);
        KvCache c = backend.newCache();
        backend.forward(List.of(prefixIds), List.of(c), LogitsMode.NONE, null);
        return c;
    }

    /** Label scores of each rest after the prefilled prefix: forks of {@code prefix}, chunked batched forwards. */
    public List<LabelWords.Scores> score(KvCache prefix, List<int[]> rests) {
        return score(prefix, rests, new int[2]);
    }

    private List<LabelWords.Scores> score(KvCache prefix, List<int[]> rests, int[] stats) {
        List<LabelWords.Scores> out = new ArrayList<>(Collections.nCopies(rests.size(), null));
        for (int[] r : rests) {
            checkLength(prefix.length() + r.length);
            stats[1] += r.length;
        }
        stats[0] += backend.forwardLabelLogits(prefix, null, rests, maxBatchTokens, labelWords.labelTokens(), (ll, i) -> out.set(i, labelWords.score(ll)));
        return out;
    }

    /** Label scores of complete prompts, each in its own forward from position 0 (the reference). */
    public List<LabelWords.Scores> scoreFull(List<int[]> prompts) {
        return scoreFull(prompts, new int[2]);
    }

    private List<LabelWords.Scores> scoreFull(List<int[]> prompts, int[] stats) {
        List<LabelWords.Scores> out = new ArrayList<>(prompts.size());
        for (int[] p : prompts) {
            checkLength(p.length);
            Logits l = backend.forward(p, null, LogitsMode.LAST);
            out.add(labelWords.score(l.last(0)));
            stats[0]++;
            stats[1] += p.length;
        }
        return out;
    }

    private void checkLength(int n) {
        int max = backend.model().config().maxPositionEmbeddings();
        if (max > 0 && n > max) throw new IllegalArgumentException("prompt of " + n + " tokens exceeds the model's " + max + " positions");
    }

    // ------------------------------------------------------------------ the operation

    /** {@link #evaluate(Example, PromptBuilder.Layout, List, Strategy, KvCache)} without a prefilled prefix. */
    public Outcome evaluate(Example ex, PromptBuilder.Layout layout, List<Ranked> methods, Strategy strategy) {
        return evaluate(ex, layout, methods, strategy, null);
    }

    /** {@link #evaluate(Example, PromptBuilder.Layout, List, Strategy, KvCache, LabelWords.Scores)} scoring the original too. */
    public Outcome evaluate(Example ex, PromptBuilder.Layout layout, List<Ranked> methods, Strategy strategy, KvCache prefix) {
        return evaluate(ex, layout, methods, strategy, prefix, null);
    }

    /**
     * Builds, de-duplicates and scores every variant of every method, then computes the faithfulness metrics.
     *
     * @param prefix   a cache already holding {@code layout.prefixIds()} (reused, not modified), or null to prefill
     *                 here ({@link Strategy#PREFIX_BATCHED} only)
     * @param original the unmasked input's scores when the caller already has them (its prediction is then the y of
     *                 every metric), or null to score it with the variants
     */
    public Outcome evaluate(Example ex, PromptBuilder.Layout layout, List<Ranked> methods, Strategy strategy, KvCache prefix,
                            LabelWords.Scores original) {
        long t0 = System.nanoTime();

        Plan plan = new Plan(ex, methods, mode);
        List<List<String>> fieldsOf = plan.fields;

        // tokens of every distinct variant
        List<Prompt> prompts = new ArrayList<>(fieldsOf.size());
        List<int[]> rests = new ArrayList<>(fieldsOf.size());
        for (List<String> f : fieldsOf) {
            Prompt p = layout.classify(f);
            prompts.add(p);
            rests.add(p.restIds());
        }
        int[] stats = new int[2];
        List<LabelWords.Scores> scores = new ArrayList<>();
        List<int[]> todo = rests;
        if (original != null) {
            scores.add(original);
            todo = rests.subList(1, rests.size());
        }
        // the token-level description of the variants, for Backend#flipEvaluation (null: the host path)
        TokenMasking.Result tm = null;
        if (strategy == Strategy.PREFIX_BATCHED && tokenLevel && !todo.isEmpty()) {
            tm = TokenMasking.build(ex, plan, methods, mode, prompts);
        }
        FlipScores device = null;
        if (todo.isEmpty()) {
            // nothing left to score
        } else if (strategy == Strategy.ONE_BY_ONE) {
            int[] pre = layout.prefixIds();
            List<int[]> full = new ArrayList<>(todo.size());
            for (int[] r : todo) {
                int[] ids = Arrays.copyOf(pre, pre.length + r.length);
                System.arraycopy(r, 0, ids, pre.length, r.length);
                full.add(ids);
            }
            scores.addAll(scoreFull(full, stats));
        } else {
            KvCache cache = prefix;
            if (cache == null) {
                cache = prefill(layout.prefixIds());
                stats[0]++;
                stats[1] += cache.length();
            } else if (cache.length() != layout.prefixIds().length) {
                throw new IllegalArgumentException("prefix cache holds " + cache.length() + " positions, the prefix has " + layout.prefixIds().length);
            }
            try {
                if (tm != null && tm.batch() != null) {
                    for (int[] r : todo) checkLength(cache.length() + r.length);
                    device = backend.flipEvaluation(cache, tm.batch(), labelWords.labelTokens(), maxBatchTokens,
                            original == null ? null : new FlipBatch.Original(original.probs(), original.predicted()));
                    stats[0] += device.forwards();
                    stats[1] += device.tokens();
                    for (int v = scores.size(); v < rests.size(); v++) {
                        double[] l = new double[device.labelLogits()[v].length];
                        for (int i = 0; i < l.length; i++) l[i] = device.labelLogits()[v][i];
                        scores.add(new LabelWords.Scores(l, device.probs()[v].clone(), device.predicted()[v], device.bestTokens()[v].clone()));
                    }
                } else {
                    scores.addAll(score(cache, todo, stats));
                }
            } finally {
                if (prefix == null) cache.close();
            }
        }

        List<Variant> variants = new ArrayList<>(fieldsOf.size());
        for (int v = 0; v < fieldsOf.size(); v++) variants.add(new Variant(fieldsOf.get(v), rests.get(v), scores.get(v), List.copyOf(plan.uses.get(v))));
        LabelWords.Scores orig = scores.get(0);
        int y = orig.predicted();
        List<String> labels = labelWords.labels();
        Map<String, ExampleResult.Faithfulness> out;
        if (device != null) {
            FlipScores d = device;
            out = faithfulness(plan, methods, new RequestScores() {
                public String after(Req r) { return labels.get(d.predicted()[r.remove()]); }

                public boolean flipped(Req r) { return d.flipped()[r.index()]; }

                public double comprehensiveness(Req r) { return d.comprehensiveness()[r.index()]; }

                public double sufficiency(Req r) { return d.sufficiency()[r.index()]; }
            });
        } else {
            out = faithfulness(plan, methods, y, labels.get(y), new VariantScores() {
                public String label(int v) { return labels.get(scores.get(v).predicted()); }

                public double p(int v, int label) { return scores.get(v).probs()[label]; }
            });
        }
        return new Outcome(orig, out, List.copyOf(variants), plan.requested, stats[0], stats[1],
                (System.nanoTime() - t0) / 1e9, device != null, tm == null ? null : tm.refused());
    }

    /**
     * Every distinct masked variant the metrics of some methods need (identical masked field texts requested once),
     * the unmasked input first (variant 0), and per method and size the indices of its remove and keep-only variants.
     * Shared by the local evaluation and the remote-model one, which score the variants differently.
     */
    static final class Plan {
        /** The distinct variants' masked field texts; 0 is the unmasked input. */
        final List<List<String>> fields = new ArrayList<>();
        /** Per variant, the requests it answers: "original", or "method/remove|keep/size". */
        final List<List<String>> uses = new ArrayList<>();
        /** Per method: its main size first, then (ranked methods) one per AOPC size. */
        final Map<String, List<Req>> reqs = new LinkedHashMap<>();
        final int[] aopcSizes;
        /**
         * Per variant, how its first request masks the words: {ranking (the method's index, -1 for the unmasked
         * input), size, keep (1: the top words kept alone)} ({@link io.rationale.engine.FlipBatch}'s variant).
         */
        final List<int[]> spec = new ArrayList<>();
        /** Variants asked for before de-duplication (the unmasked input included). */
        int requested;
        /** Requests (method sizes) so far: the next {@link Req#index}. */
        private int requests;
        private final Map<List<String>, Integer> index = new HashMap<>();

        Plan(Example ex, List<Ranked> methods, Masking.Mode mode) {
            int n = ex.totalWords();
            aopcSizes = Faithfulness.aopcSizes(n);
            request(ex.fields().stream().map(TextField::text).toList(), "original", new int[]{-1, 0, 0});
            for (int mi = 0; mi < methods.size(); mi++) {
                Ranked m = methods.get(mi);
                for (int w : m.ranking()) if (w < 0 || w >= n) throw new IllegalArgumentException(m.method() + ": word " + w + " outside [0, " + n + ")");
                List<Integer> sizes = new ArrayList<>();
                sizes.add(m.k());
                if (m.fractions()) for (int s : aopcSizes) sizes.add(Math.min(s, m.ranking().length));
                List<Req> rs = new ArrayList<>();
                for (int s : sizes) {
                    TreeSet<Integer> top = new TreeSet<>();
                    for (int r = 0; r < s; r++) top.add(m.ranking()[r]);
                    int rem = request(mask(ex, top, false, mode), m.method() + "/remove/" + s, new int[]{mi, s, 0});
                    int keep = request(mask(ex, top, true, mode), m.method() + "/keep/" + s, new int[]{mi, s, 1});
                    rs.add(new Req(requests++, s, rem, keep));
                }
                if (reqs.put(m.method(), rs) != null) throw new IllegalArgumentException("method " + m.method() + " given twice");
            }
        }

        private int request(List<String> f, String use, int[] how) {
            requested++;
            Integer v = index.get(f);
            if (v == null) {
                v = fields.size();
                index.put(f, v);
                fields.add(f);
                spec.add(how);
                uses.add(new ArrayList<>());
            }
            uses.get(v).add(use);
            return v;
        }
    }

    /** One size of one method (request {@code index} of its plan, in order): the indices of its remove and keep-only variants. */
    record Req(int index, int size, int remove, int keep) {}

    /** What each variant of a {@link Plan} scored. */
    interface VariantScores {
        /** The label predicted on variant {@code v} (any non-label string when the model named none). */
        String label(int v);

        /** The probability of label index {@code label} on variant {@code v}. */
        double p(int v, int label);
    }

    /** Each request's numbers (one size of one method, {@link Req}). */
    interface RequestScores {
        /** The label predicted without the rationale (any non-label string when the model named none). */
        String after(Req r);

        boolean flipped(Req r);

        double comprehensiveness(Req r);

        double sufficiency(Req r);
    }

    /** The metrics of every method from its variants' scores; y = the label predicted on the unmasked input (variant 0). */
    static Map<String, ExampleResult.Faithfulness> faithfulness(Plan plan, List<Ranked> methods, int y, String before, VariantScores s) {
        double py = s.p(0, y);
        return faithfulness(plan, methods, new RequestScores() {
            public String after(Req r) { return s.label(r.remove()); }

            public boolean flipped(Req r) { return Faithfulness.flipped(before, s.label(r.remove())); }

            public double comprehensiveness(Req r) { return Faithfulness.comprehensiveness(py, s.p(r.remove(), y)); }

            public double sufficiency(Req r) { return Faithfulness.sufficiency(py, s.p(r.keep(), y)); }
        });
    }

    /**
     * The metrics of every method from its requests' numbers: per size the flip, comprehensiveness and sufficiency;
     * AOPC the mean of the AOPC sizes' comprehensiveness (sufficiency) values ({@link Faithfulness#aopc}).
     */
    static Map<String, ExampleResult.Faithfulness> faithfulness(Plan plan, List<Ranked> methods, RequestScores s) {
        java.util.function.Function<Req, ExampleResult.Masked> masked = r ->
                new ExampleResult.Masked(r.size(), s.after(r), s.flipped(r), s.comprehensiveness(r), s.sufficiency(r));
        int[] aopcSizes = plan.aopcSizes;
        Map<String, ExampleResult.Faithfulness> out = new LinkedHashMap<>();
        for (Ranked m : methods) {
            List<Req> rs = plan.reqs.get(m.method());
            Map<String, ExampleResult.Masked> byFraction = new LinkedHashMap<>();
            double aopcC = Double.NaN, aopcS = Double.NaN;
            if (m.fractions()) {
                double[] dRemoved = new double[aopcSizes.length], dKept = new double[aopcSizes.length];
                for (int b = 0; b < aopcSizes.length; b++) {
                    Req r = rs.get(b + 1);
                    ExampleResult.Masked x = masked.apply(r);
                    byFraction.put(fractionKey(Faithfulness.AOPC_FRACTIONS[b]), x);
                    dRemoved[b] = x.comprehensiveness();
                    dKept[b] = x.sufficiency();
                }
                aopcC = Faithfulness.aopc(dRemoved);
                aopcS = Faithfulness.aopc(dKept);
            }
            out.put(m.method(), new ExampleResult.Faithfulness(masked.apply(rs.getFirst()), Collections.unmodifiableMap(byFraction), aopcC, aopcS));
        }
        return Collections.unmodifiableMap(out);
    }

    /** The example's field texts with the global word set {@code words} removed ({@code keep}: kept alone). */
    List<String> mask(Example ex, TreeSet<Integer> words, boolean keep) {
        return mask(ex, words, keep, mode);
    }

    /** The example's field texts with the global word set {@code words} removed ({@code keep}: kept alone), masked by {@code mode}. */
    static List<String> mask(Example ex, TreeSet<Integer> words, boolean keep, Masking.Mode mode) {
        List<String> out = new ArrayList<>(ex.fields().size());
        for (int f = 0; f < ex.fields().size(); f++) {
            TextField field = ex.fields().get(f);
            int off = ex.wordOffset(f), cnt = field.wordCount();
            TreeSet<Integer> local = new TreeSet<>();
            for (int w : words.subSet(off, off + cnt)) local.add(w - off);
            Masking.Masked m = keep ? Masking.keepOnly(field.text(), local, mode) : Masking.remove(field.text(), local, mode);
            out.add(m.text());
        }
        return out;
    }
}
