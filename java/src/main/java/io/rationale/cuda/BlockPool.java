package io.rationale.cuda;

import io.rationale.model.ModelConfig;

import java.util.ArrayDeque;

/**
 * The device memory of every KV cache of one backend, in blocks of {@link #BLOCK} positions. A block is one device
 * allocation holding those positions for every layer: layer l's keys at float offset {@link #keyOffset}(l), its
 * values at {@link #valueOffset}(l), each {@code [kvHead][BLOCK][headDim]} f32 (the layout {@code attention.cu} and
 * {@code kvcache.cu} read and write). Blocks are reference-counted: full blocks are shared between forks of a
 * prefix, and a block whose count drops to zero goes back to a free list (device allocations are slow; they are
 * released only when the backend closes). Thread-safe: caches may be released by a cleaner thread.
 */
final class BlockPool implements AutoCloseable {
    /** Positions per block. */
    static final int BLOCK = 64;

    private final CudaDevice device;
    private final int layers, kvHeads, headDim;
    private final long layerFloats;      // one layer's keys (or values) in one block
    private final ArrayDeque<DevicePointer> free = new ArrayDeque<>();
    private long live;                   // blocks handed out
    private boolean closed;

    BlockPool(CudaDevice device, ModelConfig c) { this(device, c.numLayers(), c.numKvHeads(), c.headDim()); }

    /** Blocks of {@code layers} layers (a backward pass's recomputation uses one-layer blocks). */
    BlockPool(CudaDevice device, int layers, int kvHeads, int headDim) {
        this.device = device;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.layerFloats = (long) kvHeads * BLOCK * headDim;
    }

    /** Bytes of one block (every layer's keys and values of {@link #BLOCK} positions). */
    long blockBytes() { return 2L * layers * layerFloats * 4; }

    /** Float offset of layer l's keys in a block. */
    long keyOffset(int layer) { return 2L * layer * layerFloats; }

    /** Float offset of layer l's values in a block. */
    long valueOffset(int layer) { return (2L * layer + 1) * layerFloats; }

    /** Float offset of (position, KV head, dimension) inside one layer's keys or values of a block. */
    long rowOffset(int pos, int head, int dim) { return ((long) head * BLOCK + pos % BLOCK) * headDim + dim; }

    int layers() { return layers; }

    int kvHeads() { return kvHeads; }

    int headDim() { return headDim; }

    CudaDevice device() { return device; }

    /** A block with reference count 1 (contents undefined). */
    synchronized Block acquire() {
        if (closed) throw new IllegalStateException("the CUDA backend that owns this KV cache is closed");
        DevicePointer p = free.poll();
        if (p == null) p = device.alloc(blockBytes());
        live++;
        return new Block(p);
    }

    /** A new block holding a copy of {@code b}'s contents. */
    Block copyOf(Block b) {
        Block c = acquire();
        device.copy(c.address, b.address, blockBytes());
        return c;
    }

    synchronized void retain(Block b) {
        if (b.refs <= 0) throw new IllegalStateException("retain of a released KV block");
        b.refs++;
    }

    synchronized void release(Block b) {
        if (b.refs <= 0) throw new IllegalStateException("KV block released twice");
        if (--b.refs == 0) {
            live--;
            if (closed) device.free(b.address);
            else free.push(b.address);
        }
    }

    /** Blocks in use by caches. */
    synchronized long liveBlocks() { return live; }

    /** Frees the cached free blocks (not those in use). */
    synchronized void trim() {
        while (!free.isEmpty()) device.free(free.pop());
    }

    @Override
    public synchronized void close() {
        closed = true;
        trim();
    }

    /** One block: its device address and how many caches reference it. */
    static final class Block {
        final DevicePointer address;
        int refs = 1;

        Block(DevicePointer address) { this.address = address; }
    }
}
