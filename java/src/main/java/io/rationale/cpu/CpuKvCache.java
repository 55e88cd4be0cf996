package io.rationale.cpu;

import io.rationale.engine.KvCache;
import io.rationale.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * The CPU backend's {@link KvCache}: the keys (after RoPE) and values of every layer for one sequence, in f32 Java
 * arrays, appended by each forward pass.
 *
 * <p>Storage is in blocks of {@link #BLOCK} positions per layer. In a block, keys are stored transposed,
 * {@code keys[kvHead][dim][BLOCK]}, so that attention scores for many positions are one vector FMA per dimension;
 * values are stored {@code values[kvHead][BLOCK][dim]}. Full blocks never change, so {@link #fork} shares them
 * between caches (a prompt prefix computed once serves many continuations); a partly filled block is always private
 * to one cache and is copied by fork and truncate.
 */
public final class CpuKvCache implements KvCache {
    /** Positions per block. */
    public static final int BLOCK = 64;

    private final int numLayers, kvHeads, headDim;
    private final List<List<float[]>> keys, values;
    private int length;

    /** An empty cache for a model of this config. */
    public CpuKvCache(ModelConfig config) {
        this(config.numLayers(), config.numKvHeads(), config.headDim());
    }

    public CpuKvCache(int numLayers, int kvHeads, int headDim) {
        this.numLayers = numLayers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.keys = new ArrayList<>(numLayers);
        this.values = new ArrayList<>(numLayers);
        for (int l = 0; l < numLayers; l++) {
            keys.add(new ArrayList<>());
            values.add(new ArrayList<>());
        }
    }

    @Override
    public int length() { return length; }

    public int numLayers() { return numLayers; }

    public int kvHeads() { return kvHeads; }

    public int headDim() { return headDim; }

    /** Floats in one block of one layer's keys (or values). */
    public int blockFloats() { return kvHeads * headDim * BLOCK; }

    @Override
    public CpuKvCache fork() { return forkPrefix(length); }

    @Override
    public CpuKvCache forkPrefix(int n) {
        if (n < 0 || n > length) throw new IllegalArgumentException("prefix " + n + " outside [0, " + length + "]");
        CpuKvCache c = new CpuKvCache(numLayers, kvHeads, headDim);
        int full = n / BLOCK, partial = n % BLOCK == 0 ? 0 : 1;
        for (int l = 0; l < numLayers; l++) {
            for (int b = 0; b < full; b++) {
                c.keys.get(l).add(keys.get(l).get(b));
                c.values.get(l).add(values.get(l).get(b));
            }
            if (partial == 1) {
                c.keys.get(l).add(keys.get(l).get(full).clone());
                c.values.get(l).add(values.get(l).get(full).clone());
            }
        }
        c.length = n;
        return c;
    }

    /**
     * A single-layer cache holding this cache's positions of layer {@code layer} (full blocks shared, the partly
     * filled one copied): what recomputing one layer after a cached prefix attends to.
     */
    public CpuKvCache forkLayer(int layer) {
        CpuKvCache c = new CpuKvCache(1, kvHeads, headDim);
        int full = length / BLOCK;
        for (int b = 0; b < keys.get(layer).size() && b * BLOCK < length; b++) {
            c.keys.get(0).add(b < full ? keys.get(layer).get(b) : keys.get(layer).get(b).clone());
            c.values.get(0).add(b < full ? values.get(layer).get(b) : values.get(layer).get(b).clone());
        }
        c.length = length;
        return c;
    }

    @Override
    public void truncate(int n) {
        if (n < 0 || n > length) throw new IllegalArgumentException("length " + n + " outside [0, " + length + "]");
        int blocks = (n + BLOCK - 1) / BLOCK;
        for (int l = 0; l < numLayers; l++) {
            List<float[]> k = keys.get(l), v = values.get(l);
            while (k.size() > blocks) {
                k.removeLast();
                v.removeLast();
            }
            if (n % BLOCK != 0) {                       // the block to be written next may be shared: make it private
                k.set(blocks - 1, k.get(blocks - 1).clone());
                v.set(blocks - 1, v.get(blocks - 1).clone());
            }
        }
        length = n;
    }

    /** Makes room for positions up to {@code n - 1} (backends call this before writing). */
    public void reserve(int n) {
        int blocks = (n + BLOCK - 1) / BLOCK;
        for (int l = 0; l < numLayers; l++) {
            while (keys.get(l).size() < blocks) {
                keys.get(l).add(new float[blockFloats()]);
                values.get(l).add(new float[blockFloats()]);
            }
        }
    }

    /** Sets the number of valid positions after a backend has written them (within {@link #reserve}d blocks). */
    public void setLength(int n) {
        if (n < 0 || (numLayers > 0 && n > keys.get(0).size() * BLOCK))
            throw new IllegalArgumentException("length " + n + " beyond the reserved blocks");
        length = n;
    }

    /** Block b of layer l's keys, {@code [kvHead][dim][BLOCK]} (backends read and write it directly). */
    public float[] keyBlock(int layer, int b) { return keys.get(layer).get(b); }

    /** Block b of layer l's values, {@code [kvHead][BLOCK][dim]}. */
    public float[] valueBlock(int layer, int b) { return values.get(layer).get(b); }

    /** Index of key (head, dim) of position pos inside its block. */
    public int keyIndex(int pos, int head, int dim) { return (head * headDim + dim) * BLOCK + pos % BLOCK; }

    /** Index of value (head, dim) of position pos inside its block. */
    public int valueIndex(int pos, int head, int dim) { return (head * BLOCK + pos % BLOCK) * headDim + dim; }

    @Override
    public long bytes() { return numLayers == 0 ? 0 : 2L * 4 * blockFloats() * keys.get(0).size() * numLayers; }

    /** Nothing to release: the blocks are Java arrays, freed with the last cache that references them. */
    @Override
    public void close() { }

    @Override
    public float key(int layer, int pos, int head, int dim) {
        checkPos(pos);
        return keyBlock(layer, pos / BLOCK)[keyIndex(pos, head, dim)];
    }

    @Override
    public float value(int layer, int pos, int head, int dim) {
        checkPos(pos);
        return valueBlock(layer, pos / BLOCK)[valueIndex(pos, head, dim)];
    }

    private void checkPos(int pos) {
        if (pos < 0 || pos >= length) throw new IndexOutOfBoundsException("position " + pos + " of " + length);
    }
}
