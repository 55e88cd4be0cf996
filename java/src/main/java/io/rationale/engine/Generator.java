package io.rationale.engine;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Autoregressive generation over a {@link Backend}: prefill the prompt, then decode one token at a time until a
 * stop token (by default the config's EOS ids), the token budget, or the model's context: no token is ever run at a
 * position at or beyond {@code max_position_embeddings} (a prompt longer than that is refused; a generation that
 * fills it stops with {@link StopReason#MAX_POSITIONS}). Several prompts decode together as one batch. A
 * {@link TokenListener} sees each token as it is chosen (streaming).
 */
public final class Generator {
    /** Why generation ended. */
    public enum StopReason {
        STOP_TOKEN, MAX_TOKENS,
        /** The model's positions ({@code max_position_embeddings}) are full: the last token could not be run. */
        MAX_POSITIONS
    }

    /** Receives each new token as soon as it is chosen: sequence {@code sequence} of the batch (0 for one prompt). */
    @FunctionalInterface
    public interface TokenListener {
        void token(int sequence, int token);
    }

    /**
     * One sequence's outcome.
     *
     * @param tokens the new tokens, the stop token included when one ended generation
     * @param cache  the KV cache holding prompt and new tokens except the last one
     */
    public record Result(int[] tokens, StopReason stopReason, KvCache cache) {}

    private final Backend backend;

    public Generator(Backend backend) { this.backend = backend; }

    /** Generates after {@code prompt}, stopping at the config's EOS ids. */
    public Result generate(int[] prompt, int maxNewTokens, SamplingParams sampling) {
        return generate(prompt, maxNewTokens, sampling, Set.copyOf(backend.model().config().eosTokenIds()));
    }

    /** Generates after {@code prompt}, stopping at any of {@code stopTokens}. */
    public Result generate(int[] prompt, int maxNewTokens, SamplingParams sampling, Set<Integer> stopTokens) {
        return generate(prompt, maxNewTokens, sampling, stopTokens, null);
    }

    /** {@link #generate(int[], int, SamplingParams, Set)} telling {@code listener} each token as it comes (null: none). */
    public Result generate(int[] prompt, int maxNewTokens, SamplingParams sampling, Set<Integer> stopTokens, TokenListener listener) {
        return generateBatch(List.of(prompt), List.of(backend.newCache()), maxNewTokens, sampling, stopTokens, null, listener).get(0);
    }

    /**
     * Generates for several prompts at once. Each prompt runs after what its cache holds (pass a fork of a shared
     * prefix to reuse it); sequence i samples with seed {@code sampling.seed() + i}.
     */
    public List<Result> generateBatch(List<int[]> prompts, List<KvCache> caches, int maxNewTokens, SamplingParams sampling,
                                      Set<Integer> stopTokens) {
        return generateBatch(prompts, caches, maxNewTokens, sampling, stopTokens, null);
    }

    /**
     * {@link #generateBatch(List, List, int, SamplingParams, Set)} with an attention intervention in every forward
     * (the prompt's and each decoded token's), e.g. attribution-guided steering; null for none. Its key biases are
     * per sequence of the batch (or one for all), and they keep applying to the sequences still generating.
     */
    public List<Result> generateBatch(List<int[]> prompts, List<KvCache> caches, int maxNewTokens, SamplingParams sampling,
                                      Set<Integer> stopTokens, AttentionIntervention intervention) {
        return generateBatch(prompts, caches, maxNewTokens, sampling, stopTokens, intervention, null);
    }

    /**
     * {@link #generateBatch(List, List, int, SamplingParams, Set, AttentionIntervention)} telling {@code listener}
     * each token as it is chosen (null: none).
     *
     * @throws IllegalArgumentException when a prompt does not fit the model's positions after what its cache holds
     */
    public List<Result> generateBatch(List<int[]> prompts, List<KvCache> caches, int maxNewTokens, SamplingParams sampling,
                                      Set<Integer> stopTokens, AttentionIntervention intervention, TokenListener listener) {
        int b = prompts.size();
        if (caches.size() != b) throw new IllegalArgumentException(b + " prompts but " + caches.size() + " caches");
        if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0");
        int maxPositions = backend.model().config().maxPositionEmbeddings();   // 0: unknown, no limit
        for (int i = 0; i < b; i++) {
            int cached = caches.get(i) == null ? 0 : caches.get(i).length(), length = cached + prompts.get(i).length;
            if (maxPositions > 0 && length > maxPositions)
                throw new IllegalArgumentException("the prompt" + (b > 1 ? " " + i : "") + " has " + prompts.get(i).length + " tokens"
                        + (cached > 0 ? " after " + cached + " cached" : "") + ", more than the model's " + maxPositions
                        + " positions (max_position_embeddings in config.json)");
        }
        List<List<Integer>> out = new ArrayList<>();
        SplittableRandom[] rng = new SplittableRandom[b];
        StopReason[] reason = new StopReason[b];
        for (int i = 0; i < b; i++) {
            out.add(new ArrayList<>());
            rng[i] = new SplittableRandom(sampling.seed() + i);
        }
        Set<Integer> stops = new HashSet<>(stopTokens);
        List<Integer> active = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            if (maxNewTokens == 0) reason[i] = StopReason.MAX_TOKENS;
            else active.add(i);
        }
        List<int[]> step = new ArrayList<>();
        for (int i : active) step.add(prompts.get(i));
        while (!active.isEmpty()) {
            List<KvCache> stepCaches = new ArrayList<>();
            double[] draws = new double[active.size()];
            for (int a = 0; a < active.size(); a++) {
                stepCaches.add(caches.get(active.get(a)));
                draws[a] = Sampler.draw(sampling, rng[active.get(a)]);
            }
            int[] picked = backend.forwardAndSample(step, stepCaches, forActive(intervention, active, b), sampling, draws);
            List<Integer> still = new ArrayList<>();
            step = new ArrayList<>();
            for (int a = 0; a < active.size(); a++) {
                int i = active.get(a);
                int next = picked[a];
                out.get(i).add(next);
                if (listener != null) listener.token(i, next);
                if (stops.contains(next)) reason[i] = StopReason.STOP_TOKEN;
                else if (out.get(i).size() >= maxNewTokens) reason[i] = StopReason.MAX_TOKENS;
                else if (maxPositions > 0 && stepCaches.get(a) != null && stepCaches.get(a).length() >= maxPositions) reason[i] = StopReason.MAX_POSITIONS;
                else {
                    still.add(i);
                    step.add(new int[]{next});
                }
            }
            active = still;
        }
        List<Result> results = new ArrayList<>(b);
        for (int i = 0; i < b; i++)
            results.add(new Result(out.get(i).stream().mapToInt(Integer::intValue).toArray(), reason[i], caches.get(i)));
        return results;
    }

    /** The intervention restricted to the sequences still generating (per-sequence biases follow their sequence). */
    private static AttentionIntervention forActive(AttentionIntervention iv, List<Integer> active, int batch) {
        if (iv == null || iv.biases().size() == 1 || active.size() == batch) return iv;
        List<AttentionIntervention.KeyBias> kept = new ArrayList<>(active.size());
        for (int i : active) kept.add(iv.biases().get(i));
        return new AttentionIntervention(iv.site(), iv.layers(), iv.heads(), iv.causal(), kept);
    }
}
