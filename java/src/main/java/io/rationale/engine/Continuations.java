package io.rationale.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ObjIntConsumer;

/**
 * The batching of {@link Backend#forwardContinuations} (and {@link Backend#forwardLabelLogits}), one loop for every
 * backend and result kind: continuations packed in order into batched forwards of at most {@code maxTokens} new
 * tokens (at least one continuation each), each after a fork of its prefix of {@code base}; a batch's forks are
 * closed after it; a batch that runs out of backend memory ({@link BackendMemoryException}) is run again in smaller
 * batches, and one continuation that does not fit fails.
 */
public final class Continuations {
    private Continuations() {}

    /** Runs one batch: the continuations' new tokens after their forks; one result per continuation, in order. */
    @FunctionalInterface
    public interface Batch<R> {
        R[] run(List<int[]> rests, List<KvCache> caches);
    }

    /**
     * @param prefixLengths per continuation, how many of base's positions precede it; null for all of them
     * @param maxTokens     new tokens per batched forward; 0 for {@link Backend#forwardBatchTokens()}
     * @param out           receives each continuation's index and result, in order
     * @return the forward passes run
     */
    public static <R> int run(Backend backend, KvCache base, int[] prefixLengths, List<int[]> rests, int maxTokens, Batch<R> batch,
                              ObjIntConsumer<R> out) {
        if (maxTokens < 0) throw new IllegalArgumentException("max tokens must be >= 0, got " + maxTokens);
        int max = maxTokens == 0 ? backend.forwardBatchTokens() : maxTokens;
        if (prefixLengths != null && prefixLengths.length != rests.size())
            throw new IllegalArgumentException(rests.size() + " continuations but " + prefixLengths.length + " prefix lengths");
        int forwards = 0;
        for (int i = 0; i < rests.size(); ) {
            int j = i, tokens = 0;
            while (j < rests.size() && (j == i || tokens + rests.get(j).length <= max)) tokens += rests.get(j++).length;
            List<KvCache> caches = new ArrayList<>(j - i);
            R[] results;
            try {
                for (int c = i; c < j; c++) caches.add(base.forkPrefix(prefixLengths == null ? base.length() : prefixLengths[c]));
                results = batch.run(rests.subList(i, j), caches);
            } catch (BackendMemoryException e) {
                if (j - i == 1) throw e;
                max = Math.max(1, tokens / 2);              // out of memory: the same continuations in smaller batches
                continue;
            } finally {
                for (KvCache c : caches) c.close();
            }
            forwards++;
            for (int c = i; c < j; c++) out.accept(results[c - i], c);
            i = j;
        }
        return forwards;
    }
}
