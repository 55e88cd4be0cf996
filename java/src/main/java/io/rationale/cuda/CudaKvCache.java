package io.rationale.cuda;

import io.rationale.engine.KvCache;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA backend's {@link KvCache}: a block table over device blocks of a {@link BlockPool} (f32 keys after RoPE
 * and values, every layer, {@link BlockPool#BLOCK} positions a block). Full blocks are shared with forks; the block
 * that the next position goes into is always private to this cache (forks and truncation copy it on the device), so
 * appends never write into a block another cache reads. {@link #close} gives the blocks back to the pool; a cache
 * that becomes garbage unclosed gives them back through a {@link Cleaner}, later.
 */
final class CudaKvCache implements KvCache {
    private static final Cleaner CLEANER = Cleaner.create();

    private final BlockPool pool;
    private final Blocks blocks;
    private final Cleaner.Cleanable cleanable;
    private int length;

    /** The block list, apart from the cache so that the cleaner does not keep the cache reachable. */
    private static final class Blocks implements Runnable {
        final BlockPool pool;
        final List<BlockPool.Block> list = new ArrayList<>();
        boolean released;

        Blocks(BlockPool pool) { this.pool = pool; }

        @Override
        public synchronized void run() {
            if (released) return;
            released = true;
            for (BlockPool.Block b : list) pool.release(b);
            list.clear();
        }
    }

    CudaKvCache(BlockPool pool) {
        this.pool = pool;
        this.blocks = new Blocks(pool);
        this.cleanable = CLEANER.register(this, blocks);
    }

    BlockPool pool() { return pool; }

    @Override
    public int length() {
        check();
        return length;
    }

    @Override
    public CudaKvCache forkPrefix(int n) {
        check();
        if (n < 0 || n > length) throw new IllegalArgumentException("prefix " + n + " outside [0, " + length + "]");
        CudaKvCache c = new CudaKvCache(pool);
        int full = n / BlockPool.BLOCK;
        for (int b = 0; b < full; b++) {
            BlockPool.Block x = blocks.list.get(b);
            pool.retain(x);
            c.blocks.list.add(x);
        }
        if (n % BlockPool.BLOCK != 0) {
            try {
                c.blocks.list.add(pool.copyOf(blocks.list.get(full)));
            } catch (DeviceOutOfMemoryException e) {
                c.close();                                  // a batch of forks that does not fit: the caller may split it
                throw new io.rationale.engine.BackendMemoryException(e.getMessage() + " (forking a KV cache)", e);
            }
        }
        c.length = n;
        return c;
    }

    @Override
    public void truncate(int n) {
        check();
        if (n < 0 || n > length) throw new IllegalArgumentException("length " + n + " outside [0, " + length + "]");
        int keep = (n + BlockPool.BLOCK - 1) / BlockPool.BLOCK;
        while (blocks.list.size() > keep) pool.release(blocks.list.removeLast());
        length = n;
        privatizeNext();
    }

    /**
     * Makes room for positions up to {@code n − 1} and makes the block of position {@link #length()} private
     * (backends call this before appending).
     */
    void reserve(int n) {
        check();
        privatizeNext();
        int need = (n + BlockPool.BLOCK - 1) / BlockPool.BLOCK;
        while (blocks.list.size() < need) blocks.list.add(pool.acquire());
    }

    /** The block the next position goes into, if it exists already (a partly filled one), is private. */
    private void privatizeNext() {
        if (length % BlockPool.BLOCK == 0) return;
        int b = length / BlockPool.BLOCK;
        BlockPool.Block x = blocks.list.get(b);
        if (x.refs > 1) {
            BlockPool.Block copy = pool.copyOf(x);
            pool.release(x);
            blocks.list.set(b, copy);
        }
    }

    /** Sets the number of valid positions after a forward appended them (within {@link #reserve}d blocks). */
    void setLength(int n) {
        check();
        if (n < 0 || n > blocks.list.size() * BlockPool.BLOCK) throw new IllegalArgumentException("length " + n + " beyond the reserved blocks");
        length = n;
    }

    /** The device addresses of the blocks, in position order (the block table of {@code attention.cu}). */
    long[] blockAddresses() {
        check();
        long[] a = new long[blocks.list.size()];
        for (int i = 0; i < a.length; i++) a[i] = blocks.list.get(i).address.address();
        return a;
    }

    @Override
    public long bytes() {
        check();
        return blocks.list.size() * pool.blockBytes();
    }

    @Override
    public float key(int layer, int pos, int head, int dim) { return read(pool.keyOffset(layer), layer, pos, head, dim); }

    @Override
    public float value(int layer, int pos, int head, int dim) { return read(pool.valueOffset(layer), layer, pos, head, dim); }

    private float read(long layerOffset, int layer, int pos, int head, int dim) {
        check();
        if (pos < 0 || pos >= length) throw new IndexOutOfBoundsException("position " + pos + " of " + length);
        if (layer < 0 || layer >= pool.layers() || head < 0 || head >= pool.kvHeads() || dim < 0 || dim >= pool.headDim())
            throw new IndexOutOfBoundsException("layer " + layer + ", head " + head + ", dim " + dim);
        float[] one = new float[1];
        DevicePointer p = blocks.list.get(pos / BlockPool.BLOCK).address.plus(4 * (layerOffset + pool.rowOffset(pos, head, dim)));
        pool.device().copyToHost(one, p);
        return one[0];
    }

    private void check() {
        if (blocks.released) throw new IllegalStateException("the KV cache is closed");
    }

    @Override
    public void close() { cleanable.clean(); }
}
