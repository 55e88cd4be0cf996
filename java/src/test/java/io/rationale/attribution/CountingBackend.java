package io.rationale.attribution;

import io.rationale.engine.Activations;
import io.rationale.engine.Backend;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;

import java.util.ArrayList;
import java.util.List;

/** A backend that counts (and logs) the passes it is asked for, delegating to another. */
final class CountingBackend implements Backend {
    /** One call: kind (forward, forwardEmbeddings, backward), sequences, whether recorded, the record, the rule. */
    record Call(String kind, int sequences, Activations record, RuleMode mode) {}

    final Backend inner;
    final List<Call> calls = new ArrayList<>();

    CountingBackend(Backend inner) { this.inner = inner; }

    long count(String kind) { return calls.stream().filter(c -> c.kind.equals(kind)).count(); }

    @Override
    public Model model() { return inner.model(); }

    @Override
    public Logits forward(List<int[]> tokens, List<KvCache> caches, LogitsMode mode, Activations record) {
        calls.add(new Call("forward", tokens.size(), record, null));
        return inner.forward(tokens, caches, mode, record);
    }

    @Override
    public Logits forwardEmbeddings(List<float[]> embeddings, LogitsMode mode, Activations record) {
        calls.add(new Call("forwardEmbeddings", embeddings.size(), record, null));
        return inner.forwardEmbeddings(embeddings, mode, record);
    }

    @Override
    public float[][] backward(Activations record, List<Target> targets, RuleMode mode) {
        calls.add(new Call("backward", targets.size(), record, mode));
        return inner.backward(record, targets, mode);
    }

    @Override
    public void close() { inner.close(); }
}
