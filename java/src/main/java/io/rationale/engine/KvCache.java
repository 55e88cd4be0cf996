package io.rationale.engine;

/**
 * The keys and values of every layer for one sequence, appended by each forward pass. A cache belongs to the
 * {@link Backend} that made it ({@link Backend#newCache}) and holds its memory in that backend's layout (Java arrays
 * on the CPU, device blocks on a GPU); only that backend's forward passes read and write it.
 *
 * <p>Storage is in blocks of positions. Full blocks never change, so {@link #fork} and {@link #forkPrefix} share
 * them between caches (a prompt prefix computed once serves many continuations); a partly filled block is private
 * to one cache and is copied by fork and truncate. {@link #close} gives the memory back (device memory is not
 * managed by the Java heap: close caches when done; a cache that is never closed is released when it becomes
 * garbage, but only then). A closed cache must not be used.
 */
public interface KvCache extends AutoCloseable {

    /** Positions held. */
    int length();

    /** A cache holding the same positions; full blocks are shared, the partly filled one copied. */
    default KvCache fork() { return forkPrefix(length()); }

    /** A cache holding this cache's first {@code n} positions (shares full blocks). */
    KvCache forkPrefix(int n);

    /** Forgets every position from {@code n} on. */
    void truncate(int n);

    /** Bytes of the blocks this cache references (blocks shared with forks counted in each). */
    long bytes();

    /** The key of one position, layer, KV head and dimension, after RoPE (tests and debugging; a GPU cache copies it to the host). */
    float key(int layer, int pos, int head, int dim);

    /** The value of one position, layer, KV head and dimension. */
    float value(int layer, int pos, int head, int dim);

    /** Releases this cache's references to its blocks (idempotent). */
    @Override
    void close();
}
