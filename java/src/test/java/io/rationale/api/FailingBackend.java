package io.rationale.api;

import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.Model;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real backend that fails every forward pass whose new tokens contain {@link #poison} (an engine failure to
 * inject), can sleep {@link #delayMillis} before each forward of tokens or of embeddings (a slow model, for requests
 * that stay in flight), counts those passes ({@link #forwards}), and can report a small {@link #memoryBudget} (so
 * that integrated gradients splits its steps into many batches). Everything else is the wrapped backend's.
 */
public final class FailingBackend implements Backend {
    private final Backend inner;
    public volatile int poison = -1;
    public volatile long delayMillis;
    /** Bytes {@link #memoryBudget()} reports; negative: the wrapped backend's. */
    public volatile long memoryBudget = -1;
    /** Forward passes run: of tokens and of embeddings (integrated gradients' batches). */
    public final AtomicInteger forwards = new AtomicInteger();

    public FailingBackend(Backend inner) { this.inner = inner; }

    @Override public Model model() { return inner.model(); }
    @Override public String device() { return inner.device(); }
    @Override public KvCache newCache() { return inner.newCache(); }
    @Override public ForwardRecord newRecord(boolean keepAttentionProbs, boolean recompute) { return inner.newRecord(keepAttentionProbs, recompute); }

    @Override
    public Logits forward(List<int[]> tokens, List<KvCache> caches, ForwardOptions options) {
        pass();
        for (int[] t : tokens) for (int id : t) if (id == poison) throw new IllegalStateException("injected failure on token " + id);
        return inner.forward(tokens, caches, options);
    }

    @Override
    public Logits forwardEmbeddings(List<float[]> embeddings, ForwardOptions options) {
        pass();
        return inner.forwardEmbeddings(embeddings, options);
    }

    private void pass() {
        forwards.incrementAndGet();
        if (delayMillis > 0) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override public boolean supportsBackward() { return inner.supportsBackward(); }
    @Override public float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode) { return inner.backward(record, targets, mode); }
    @Override public int forwardBatchTokens() { return inner.forwardBatchTokens(); }
    @Override public long memoryBudget() { long b = memoryBudget; return b >= 0 ? b : inner.memoryBudget(); }
    @Override public long bytesPerRecordedSequence(int tokens, boolean recompute) { return inner.bytesPerRecordedSequence(tokens, recompute); }
    @Override public void close() { inner.close(); }
}
