package io.rationale.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Device memory on the emulated device: copy round trips, the memory cap and its exception. */
class DeviceMemoryTest {
    static CudaDevice dev;

    @BeforeAll
    static void open() { dev = CudaDevice.openEmulated(); }

    @AfterAll
    static void close() { dev.close(); }

    @Test
    void arraysRoundTrip() {
        Random r = new Random(1);
        float[] f = new float[1001];
        int[] i = new int[333];
        short[] s = new short[77];
        byte[] b = new byte[4099];
        for (int k = 0; k < f.length; k++) f[k] = r.nextFloat() - 0.5f;
        for (int k = 0; k < i.length; k++) i[k] = r.nextInt();
        for (int k = 0; k < s.length; k++) s[k] = (short) r.nextInt();
        r.nextBytes(b);
        DevicePointer p = dev.alloc(8192), q = dev.alloc(8192);
        float[] f2 = new float[f.length];
        dev.copyToDevice(p, f);
        dev.copy(q, p, 4L * f.length);
        dev.copyToHost(f2, q);
        assertArrayEquals(f, f2);
        int[] i2 = new int[i.length];
        dev.copyToDevice(p, i);
        dev.copyToHost(i2, p);
        assertArrayEquals(i, i2);
        short[] s2 = new short[s.length];
        dev.copyToDevice(p, s);
        dev.copyToHost(s2, p);
        assertArrayEquals(s, s2);
        byte[] b2 = new byte[b.length];
        dev.copyToDevice(p, b);
        dev.copyToHost(b2, p);
        assertArrayEquals(b, b2);
        dev.memset(p.plus(10), (byte) 0x5a, 100);
        dev.copyToHost(b2, p);
        for (int k = 0; k < b.length; k++) assertEquals(k >= 10 && k < 110 ? (byte) 0x5a : b[k], b2[k], "byte " + k);
        dev.free(p);
        dev.free(q);
    }

    @Test
    void segmentsRoundTripWithoutJavaArrays(@TempDir Path tmp) throws IOException {
        int n = 3 * 1024 * 1024 + 5;  // bytes
        byte[] data = new byte[n];
        new Random(2).nextBytes(data);
        Path file = tmp.resolve("weights.bin");
        Files.write(file, data);
        DevicePointer p = dev.alloc(n);
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, n, arena);  // as weights are
            dev.copyToDevice(p, mapped);
            MemorySegment back = arena.allocate(n);
            dev.copyToHost(back, p);
            assertEquals(-1, back.mismatch(mapped));
            long chunk = CudaDevice.heapChunk;
            CudaDevice.heapChunk = 1 << 20;  // the heap path, in several chunks
            try {
                MemorySegment heap = MemorySegment.ofArray(new byte[n]);
                dev.copyToHost(heap, p);
                assertEquals(-1, heap.mismatch(mapped));
                DevicePointer q = dev.alloc(n);
                dev.copyToDevice(q, heap);
                MemorySegment again = arena.allocate(n);
                dev.copyToHost(again, q);
                assertEquals(-1, again.mismatch(mapped));
                dev.free(q);
            } finally {
                CudaDevice.heapChunk = chunk;
            }
            MemorySegment heapSrc = MemorySegment.ofArray(new float[] {1.5f, -2f, 3.25f});
            dev.copyToDevice(p, heapSrc);
            float[] f = new float[3];
            dev.copyToHost(f, p);
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f}, f);
            assertEquals(1.5f, heapSrc.get(ValueLayout.JAVA_FLOAT, 0));
        } finally {
            dev.free(p);
        }
    }

    @Test
    void memoryCapGivesAClearOutOfMemoryExceptionAndTheDeviceStaysUsable() {
        long before = EmulatedDevice.memoryLimit();
        long live = EmulatedDevice.liveBytes();
        try {
            EmulatedDevice.setMemoryLimit(live + (16L << 20));
            CudaDevice.MemoryInfo info = dev.memoryInfo();
            assertEquals(live + (16L << 20), info.total());
            assertEquals(16L << 20, info.free(), "free = total - allocated");
            DevicePointer a = dev.alloc(10L << 20);
            assertEquals(6L << 20, dev.memoryInfo().free());
            var e = assertThrows(DeviceOutOfMemoryException.class, () -> dev.alloc(8L << 20));
            assertEquals(8L << 20, e.requested());
            assertEquals(6L << 20, e.free());
            assertTrue(e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY")
                    && e.getMessage().contains("8388608 bytes") && e.getMessage().contains("6291456 bytes"), e.getMessage());
            // still usable: a smaller allocation, a copy, a kernel
            DevicePointer b = dev.alloc(4L << 20);
            float[] x = {1, 2, 3};
            dev.copyToDevice(b, x);
            float[] y = new float[3];
            dev.copyToHost(y, b);
            assertArrayEquals(x, y);
            EmulatedDeviceTest.rowSums(dev, "selftest_row_sum_f32", 2, 100, 64);
            dev.free(a);
            dev.free(b);
            assertEquals(live, EmulatedDevice.liveBytes());
        } finally {
            EmulatedDevice.setMemoryLimit(before);
        }
    }

    @Test
    void badFreesAndCopiesAreErrorsNotCrashes() {
        DevicePointer p = dev.alloc(256);
        var interior = assertThrows(jcuda.CudaException.class, () -> dev.free(p.plus(16)));
        assertTrue(interior.getMessage().contains("CUDA_ERROR_INVALID_VALUE"), interior.getMessage());
        var past = assertThrows(jcuda.CudaException.class, () -> dev.copyToDevice(p.plus(200), new float[16]));
        assertTrue(past.getMessage().contains("CUDA_ERROR_INVALID_VALUE"), past.getMessage());
        assertTrue(EmulatedDevice.lastError().contains("not inside any allocation"), EmulatedDevice.lastError());
        dev.free(p);
        assertThrows(IllegalArgumentException.class, () -> dev.alloc(0));
    }
}
