package io.rationale.attribution;

import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.Model;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;

import java.util.ArrayList;
import java.util.List;

/** A backend that counts (and logs) the passes it is asked for, delegating to another. */
class CountingBackend implements Backend {
    /** One call: kind (forward, forwardEmbeddings, backward), sequences, whether recorded, the record, the rule. */
    record Call(String kind, int sequences, ForwardRecord record, RuleMode mode) {}

    final Backend inner;
    final List<Call> calls = new ArrayList<>();

    CountingBackend(Backend inner) { this.inner = inner; }

    long count(String kind) { return calls.stream().filter(c -> c.kind.equals(kind)).count(); }

    @Override
    public Model model() { return inner.model(); }

    @Override
    public String device() { return inner.device(); }

    @Override
    public KvCache newCache() { return inner.newCache(); }

    @Override
    public ForwardRecord newRecord(boolean keepAttentionProbs, boolean recompute) { return inner.newRecord(keepAttentionProbs, recompute); }

    @Override
    public int forwardBatchTokens() { return inner.forwardBatchTokens(); }

    @Override
    public long memoryBudget() { return inner.memoryBudget(); }

    @Override
    public long bytesPerRecordedSequence(int tokens, boolean recompute) { return inner.bytesPerRecordedSequence(tokens, recompute); }

    @Override
    public boolean supportsBackward() { return inner.supportsBackward(); }

    @Override
    public Logits forward(List<int[]> tokens, List<KvCache> caches, ForwardOptions options) {
        calls.add(new Call("forward", tokens.size(), options.record(), null));
        return inner.forward(tokens, caches, options);
    }

    @Override
    public Logits forwardEmbeddings(List<float[]> embeddings, ForwardOptions options) {
        calls.add(new Call("forwardEmbeddings", embeddings.size(), options.record(), null));
        return inner.forwardEmbeddings(embeddings, options);
    }

    @Override
    public float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode) {
        calls.add(new Call("backward", targets.size(), record, mode));
        return inner.backward(record, targets, mode);
    }

    @Override
    public boolean supportsPositionalRelevance() { return inner.supportsPositionalRelevance(); }

    @Override
    public io.rationale.engine.PositionalBackward backwardWithPositions(ForwardRecord record, List<Target> targets, RuleMode mode) {
        calls.add(new Call("backward", targets.size(), record, mode));
        return inner.backwardWithPositions(record, targets, mode);
    }

    @Override
    public void close() { inner.close(); }
}
