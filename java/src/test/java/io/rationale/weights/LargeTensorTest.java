package io.rationale.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A tensor larger than 2 GiB in a sparse file: the mapping must not be limited to a ByteBuffer's 2 GiB, and the
 * file must take (almost) no disk space or time.
 */
class LargeTensorTest {
    @TempDir
    Path dir;

    @Test
    void tensorBeyondTwoGigabytes() throws IOException {
        long rows = 3, cols = 200_000_000L;             // 600 M floats = 2.4 GB
        long n = rows * cols, bytes = n * 4;
        assertTrue(bytes > (1L << 31));
        String header = "{" + StBytes.entry("big", "F32", StBytes.shape(rows, cols), 0, bytes) + "}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        long base = 8 + h.length;
        Path file = dir.resolve("model.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(base + bytes);                 // sparse: holes read as zeros
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
            raf.seek(0);
            raf.write(prefix.array());
            raf.write(h);
            raf.seek(base + (n - 2) * 4);                // the last two elements
            raf.write(StBytes.f32(1234.5f, -0.25f));
            raf.seek(base + (1L << 31));                 // an element just past the 2 GiB mark
            raf.write(StBytes.f32(42f));
        }
        assertEquals(base + bytes, Files.size(file));

        try (Checkpoint c = Checkpoint.open(dir)) {
            Tensor t = c.tensor("big");
            assertEquals(n, t.numel());
            assertEquals(bytes, t.byteSize());
            assertEquals(1234.5f, t.get(n - 2));
            assertEquals(-0.25f, t.get(n - 1));
            assertEquals(42f, t.get((1L << 31) / 4));
            assertEquals(0f, t.get(0));
            assertEquals(0f, t.get(n / 2));
            assertThrows(IndexOutOfBoundsException.class, () -> t.get(n));
        }
    }
}
