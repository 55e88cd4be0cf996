package io.rationale.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * The device buffers one forward pass works in, by name, each grown when a pass needs more (and kept for the next),
 * and the small per-pass arrays (ids, positions, block tables, RoPE tables, ...) packed on the host into one buffer
 * that goes to the device in one copy ({@link Args}).
 */
final class Workspace implements AutoCloseable {
    private final CudaDevice device;
    private final Map<String, DevicePointer> buffers = new HashMap<>();
    private final Map<String, Long> sizes = new HashMap<>();

    Workspace(CudaDevice device) { this.device = device; }

    /** Buffer {@code name} of at least {@code bytes} (contents undefined). */
    DevicePointer get(String name, long bytes) {
        long have = sizes.getOrDefault(name, 0L);
        if (have >= bytes) return buffers.get(name);
        DevicePointer old = buffers.remove(name);
        if (old != null) {
            device.free(old);
            sizes.remove(name);
        }
        long size = Math.max(bytes, have + have / 4);
        DevicePointer p = device.alloc(Math.max(size, 256));
        buffers.put(name, p);
        sizes.put(name, Math.max(size, 256));
        return p;
    }

    /** Bytes held. */
    long bytes() {
        long b = 0;
        for (long s : sizes.values()) b += s;
        return b;
    }

    /** Frees every buffer; the workspace stays usable (buffers are allocated again on demand). */
    @Override
    public void close() {
        for (DevicePointer p : buffers.values()) device.free(p);
        buffers.clear();
        sizes.clear();
    }

    /** Little arrays packed for one host-to-device copy, each at a 16-byte aligned offset. */
    static final class Args {
        private ByteBuffer buf = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);

        private int start(int bytes) {
            int at = (buf.position() + 15) & ~15;
            if (at + bytes > buf.capacity()) {
                ByteBuffer b = ByteBuffer.allocate(Math.max(buf.capacity() * 2, at + bytes + 4096)).order(ByteOrder.LITTLE_ENDIAN);
                b.put(buf.array(), 0, buf.position());
                buf = b;
            }
            buf.position(at);
            return at;
        }

        /** Writes {@code count} elements of {@code width} bytes with {@code put} at the next aligned offset; returns it. */
        private int add(int count, int width, java.util.function.Consumer<ByteBuffer> put) {
            int at = start(count * width);
            put.accept(buf);
            buf.position(at + count * width);
            return at;
        }

        int ints(int[] a) { return add(a.length, 4, b -> b.asIntBuffer().put(a)); }

        int longs(long[] a) { return add(a.length, 8, b -> b.asLongBuffer().put(a)); }

        int floats(float[] a) { return add(a.length, 4, b -> b.asFloatBuffer().put(a)); }

        int doubles(double[] a) { return add(a.length, 8, b -> b.asDoubleBuffer().put(a)); }

        /** The packed bytes. */
        byte[] bytes() { return java.util.Arrays.copyOf(buf.array(), Math.max(16, buf.position())); }
    }
}
