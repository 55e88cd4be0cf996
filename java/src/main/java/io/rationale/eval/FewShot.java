package io.rationale.eval;

import io.rationale.dataset.Example;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Few-shot demonstrations, drawn deterministically from the dataset being evaluated.
 *
 * <p>Draw: the pool (the dataset's examples, in file order) is shuffled once by a Fisher–Yates shuffle driven by
 * {@code java.util.Random(seed)} ({@code for i = n-1..1: swap(i, nextInt(i+1))}, the same on every JVM). The
 * demonstrations of an example are the first {@code shots} examples of that order whose id differs from the
 * example's id, in that order. So every example sees the same demonstrations, except an example that is itself one
 * of them, which gets the next one in line instead (it never sees itself). With fewer than {@code shots} other
 * examples, it gets all of them.
 */
public final class FewShot {
    private final List<Example> order;
    private final int shots;

    public FewShot(List<Example> pool, int shots, long seed) {
        if (shots < 0) throw new IllegalArgumentException("shots must be >= 0, got " + shots);
        this.shots = shots;
        List<Example> o = new ArrayList<>(pool);
        Random rng = new Random(seed);
        for (int i = o.size() - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            Example t = o.get(i);
            o.set(i, o.get(j));
            o.set(j, t);
        }
        this.order = List.copyOf(o);
    }

    public int shots() { return shots; }

    /** The demonstrations for {@code e}, never {@code e} itself (matched by id). */
    public List<Example> demosFor(Example e) {
        List<Example> out = new ArrayList<>(shots);
        for (Example d : order) {
            if (out.size() >= shots) break;
            if (!d.id().equals(e.id())) out.add(d);
        }
        return out;
    }
}
