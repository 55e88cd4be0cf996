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

        int ints(int[] a) {
            int at = start(4 * a.length);
            buf.asIntBuffer().put(a);
            buf.position(at + 4 * a.length);
            return at;
        }

        int longs(long[] a) {
            int at = start(8 * a.length);
            buf.asLongBuffer().put(a);
            buf.position(at + 8 * a.length);
            return at;
        }

        int floats(float[] a) {
            int at = start(4 * a.length);
            buf.asFloatBuffer().put(a);
            buf.position(at + 4 * a.length);
            return at;
        }

        int doubles(double[] a) {
            int at = start(8 * a.length);
            buf.asDoubleBuffer().put(a);
            buf.position(at + 8 * a.length);
            return at;
        }

        /** The packed bytes. */
        byte[] bytes() { return java.util.Arrays.copyOf(buf.array(), Math.max(16, buf.position())); }
    }
}
