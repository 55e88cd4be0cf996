package io.rationale.api;

import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Sampler;
import io.rationale.engine.Target;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One generation in the engine's continuous batch: its prompt joins a step's packed forward, then one token per
 * step until a stop token, a stop string, its budget or its positions. Sampling is {@link Sampler#sample} with one draw per step
 * from {@code new SplittableRandom(seed)}, exactly as {@link io.rationale.engine.Generator} does for one prompt, so
 * a generation gives the same tokens here as alone.
 */
final class GenerationJob extends Scheduler.Job<Completion> {
    private final Completion.Spec spec;
    private final Completion.Listener listener;      // null: nobody streams
    private final Tokenizer tok;
    private final SplittableRandom rng;
    private final int positions;                 // it stops (LENGTH) when its cache holds this many tokens
    private KvCache cache;
    private int pending = -1;                    // the token to feed next step
    private boolean finished;
    private long t0;
    private final List<Integer> generated = new ArrayList<>();
    private final List<Completion.TokenLogprob> logprobs = new ArrayList<>();
    private List<Completion.TokenLogprob> promptLogprobs;

    /** A completion: its prompt plus its budget fit the positions (the caller checks), so only the budget ends it. */
    GenerationJob(Completion.Spec spec, Completion.Listener listener, Tokenizer tok) {
        this(spec, listener, tok, Integer.MAX_VALUE);
    }

    /**
     * A generation that also ends (with {@link Completion.FinishReason#LENGTH}, fewer tokens than its budget) when the
     * positions are full: when its cache holds {@code positions} tokens, the prompt and every new token but the last,
     * as {@link io.rationale.engine.Generator} stops at {@code max_position_embeddings}.
     */
    GenerationJob(Completion.Spec spec, Completion.Listener listener, Tokenizer tok, int positions) {
        this.spec = spec;
        this.listener = listener;
        this.tok = tok;
        this.rng = new SplittableRandom(spec.sampling().seed());
        this.positions = positions;
    }

    @Override
    Object batchKey() { return null; }

    private boolean joining() { return cache == null; }

    private void release() {
        if (cache != null) {
            cache.close();
            cache = null;
        }
    }

    /**
     * One step of every live generation: the joining ones' prompts and the others' last tokens in one packed
     * forward. Finished, failed and cancelled generations leave {@code decoding}; joining ones that go on enter it.
     */
    static void step(Backend backend, List<GenerationJob> decoding, List<GenerationJob> joining) {
        for (Iterator<GenerationJob> it = decoding.iterator(); it.hasNext(); ) {
            GenerationJob g = it.next();
            if (!g.live()) {
                g.release();
                it.remove();
            }
        }
        List<GenerationJob> members = new ArrayList<>(decoding);
        for (GenerationJob g : joining) if (g.live()) members.add(g);
        if (!members.isEmpty()) {
            if (!run(backend, members)) {
                for (GenerationJob g : members) run(backend, List.of(g));   // the failing one fails alone
            }
        }
        for (GenerationJob g : joining) if (g.live() && !g.finished && g.cache != null) decoding.add(g);
        for (Iterator<GenerationJob> it = decoding.iterator(); it.hasNext(); ) {
            GenerationJob g = it.next();
            if (g.finished || !g.live()) {
                g.release();
                it.remove();
            }
        }
    }

    /**
     * Runs one step of {@code members}. On failure every cache is rolled back to its length before the step and
     * false is returned for several members (the caller retries them one by one); a single member fails.
     */
    private static boolean run(Backend backend, List<GenerationJob> members) {
        List<int[]> tokens = new ArrayList<>(members.size());
        List<KvCache> caches = new ArrayList<>(members.size());
        int[] before = new int[members.size()];
        boolean all = false;
        for (int i = 0; i < members.size(); i++) {
            GenerationJob g = members.get(i);
            if (g.joining()) {
                g.cache = backend.newCache();
                g.t0 = System.nanoTime();
                tokens.add(g.spec.prompt());
                all |= g.spec.promptLogprobs();
            } else {
                tokens.add(new int[]{g.pending});
            }
            before[i] = g.cache.length();
            caches.add(g.cache);
        }
        Logits l;
        try {
            l = backend.forward(tokens, caches, ForwardOptions.of(all ? LogitsMode.ALL : LogitsMode.LAST));
        } catch (RuntimeException | OutOfMemoryError e) {
            if (members.size() == 1) {
                GenerationJob g = members.getFirst();
                g.release();
                Scheduler.fail(g, e);
                return true;
            }
            for (int i = 0; i < members.size(); i++) {
                GenerationJob g = members.get(i);
                if (before[i] == 0 && g.generated.isEmpty()) g.release();     // joins again from scratch
                else g.cache.truncate(before[i]);
            }
            return false;
        }
        for (int i = 0; i < members.size(); i++) {
            GenerationJob g = members.get(i);
            try {
                g.accept(l, i, before[i] == 0 && g.generated.isEmpty());
            } catch (RuntimeException e) {
                g.release();
                Scheduler.fail(g, e);
            }
        }
        return true;
    }

    /** Reads this generation's rows of a step's logits: prompt logprobs on its first step, then its next token. */
    private void accept(Logits l, int seq, boolean first) {
        if (!live()) return;
        if (first && spec.promptLogprobs()) {
            int[] p = spec.prompt();
            promptLogprobs = new ArrayList<>(p.length);
            promptLogprobs.add(null);
            for (int i = 0; i + 1 < p.length; i++) promptLogprobs.add(logprob(l.row(seq, i), p[i + 1], spec.topLogprobs()));
            if (listener != null) listener.prompt(java.util.Collections.unmodifiableList(promptLogprobs));
        }
        if (spec.maxNewTokens() == 0) {
            finish(Completion.FinishReason.LENGTH, null);
            return;
        }
        float[] last = l.last(seq);
        int next = Sampler.sample(last, spec.sampling(), Sampler.draw(spec.sampling(), rng));
        generated.add(next);
        Completion.TokenLogprob lp = spec.logprobs() ? logprob(last, next, spec.topLogprobs()) : null;
        if (lp != null) logprobs.add(lp);
        if (listener != null) listener.token(next, lp);
        if (spec.stopTokens().contains(next)) {
            finish(Completion.FinishReason.STOP_TOKEN, null);
            return;
        }
        if (!spec.stopStrings().isEmpty()) {
            String text = tok.decodeAfter(spec.prompt(), ids());
            int cut = -1;
            for (String s : spec.stopStrings()) {
                int at = text.indexOf(s);
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
            }
            if (cut >= 0) {
                finish(Completion.FinishReason.STOP_STRING, text.substring(0, cut));
                return;
            }
        }
        if (generated.size() >= spec.maxNewTokens() || cache.length() >= positions) finish(Completion.FinishReason.LENGTH, null);
        else pending = next;
    }

    private int[] ids() {
        int[] out = new int[generated.size()];
        for (int i = 0; i < out.length; i++) out[i] = generated.get(i);
        return out;
    }

    private void finish(Completion.FinishReason reason, String text) {
        finished = true;
        double seconds = (System.nanoTime() - t0) / 1e9;
        future.complete(new Completion(spec.prompt(), promptLogprobs, ids(), spec.logprobs() ? List.copyOf(logprobs) : null, reason,
                text, seconds));
    }

    /**
     * {@code log softmax(row)[token]} as the engine's {@link Target.LogProb} computes it (double, max-shifted), and
     * the {@code k} most likely tokens (highest first, lower id first on ties) with theirs.
     */
    static Completion.TokenLogprob logprob(float[] row, int token, int k) {
        double lse = Target.logSumExp(row);
        int[] top = new int[Math.min(k, row.length)];
        int n = 0;
        for (int t = 0; t < row.length && top.length > 0; t++) {
            if (n == top.length && !(row[t] > row[top[n - 1]])) continue;
            int at = n == top.length ? n - 1 : n++;
            while (at > 0 && row[t] > row[top[at - 1]]) {
                top[at] = top[at - 1];
                at--;
            }
            top[at] = t;
        }
        double[] lp = new double[n];
        for (int i = 0; i < n; i++) lp[i] = row[top[i]] - lse;
        return new Completion.TokenLogprob(token, row[token] - lse, Arrays.copyOf(top, n), lp);
    }
}
