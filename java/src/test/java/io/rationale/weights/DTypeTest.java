package io.rationale.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** F16 and BF16 decoding against values worked out by hand from the bit layouts. */
class DTypeTest {
    @TempDir
    Path dir;

    private static float bf(int bits) { return DType.bf16ToFloat((short) bits); }

    private static float h(int bits) { return DType.f16ToFloat((short) bits); }

    @Test
    void bf16() {
        assertEquals(1.0f, bf(0x3F80));          // sign 0, exponent 127, mantissa 0
        assertEquals(-2.0f, bf(0xC000));         // sign 1, exponent 128
        assertEquals(0.5f, bf(0x3F00));
        assertEquals(3.140625f, bf(0x4049));     // 1.5703125 × 2: mantissa 0x49 = 73/128
        assertEquals(0.0f, bf(0x0000));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(bf(0x8000)));
        assertEquals(Math.scalb(1.0f, -133), bf(0x0001));   // smallest subnormal: 2^-149 × 2^16
        assertEquals(Math.scalb(127.0f, -133), bf(0x007F)); // largest subnormal
        assertEquals(Math.scalb(1.0f, -126), bf(0x0080));   // smallest normal
        assertEquals(Float.POSITIVE_INFINITY, bf(0x7F80));
        assertEquals(Float.NEGATIVE_INFINITY, bf(0xFF80));
        assertTrue(Float.isNaN(bf(0x7FC0)));
        assertEquals(Math.scalb(255.0f, 120), bf(0x7F7F));  // largest finite: 1.9921875 × 2^127
    }

    @Test
    void f16() {
        assertEquals(1.0f, h(0x3C00));           // exponent 15, mantissa 0
        assertEquals(-2.0f, h(0xC000));          // sign 1, exponent 16
        assertEquals(0.333251953125f, h(0x3555)); // 1.333... × 2^-2, mantissa 0x155 = 341/1024
        assertEquals(65504.0f, h(0x7BFF));       // largest finite: (2 - 2^-10) × 2^15
        assertEquals(Math.scalb(1.0f, -24), h(0x0001));    // smallest subnormal
        assertEquals(Math.scalb(1023.0f, -24), h(0x03FF)); // largest subnormal
        assertEquals(Math.scalb(1.0f, -14), h(0x0400));    // smallest normal
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(h(0x8000)));
        assertEquals(Float.POSITIVE_INFINITY, h(0x7C00));
        assertEquals(Float.NEGATIVE_INFINITY, h(0xFC00));
        assertTrue(Float.isNaN(h(0x7E00)));
    }

    @Test
    void safetensorsSpellings() {
        assertEquals(DType.F32, DType.fromSafetensors("F32"));
        assertEquals(DType.F16, DType.fromSafetensors("F16"));
        assertEquals(DType.BF16, DType.fromSafetensors("BF16"));
        assertNull(DType.fromSafetensors("bf16"));
        assertNull(DType.fromSafetensors("I64"));
        assertEquals(4, DType.F32.bytes);
        assertEquals(2, DType.F16.bytes);
        assertEquals(2, DType.BF16.bytes);
    }

    @Test
    void halfTensorsReadThroughCheckpoint() {
        byte[] bytes = new StBytes()
                .add("h", "F16", StBytes.shape(2, 2), StBytes.u16(0x3C00, 0xC000, 0x0001, 0x7C00))
                .add("b", "BF16", StBytes.shape(3), StBytes.u16(0x3F80, 0xC000, 0x0080))
                .build();
        StBytes.write(dir, "model.safetensors", bytes);
        try (Checkpoint c = Checkpoint.open(dir)) {
            Tensor t = c.tensor("h");
            assertEquals(DType.F16, t.dtype());
            assertArrayEquals(new float[]{1f, -2f, Math.scalb(1f, -24), Float.POSITIVE_INFINITY}, t.toFloatArray());
            assertEquals(8, t.byteSize());
            Tensor b = c.tensor("b");
            assertEquals(DType.BF16, b.dtype());
            assertArrayEquals(new float[]{1f, -2f, Math.scalb(1f, -126)}, b.toFloatArray());
            float[] part = new float[4];
            b.toFloat(1, part, 2, 2);
            assertArrayEquals(new float[]{0f, 0f, -2f, Math.scalb(1f, -126)}, part);
        }
    }
}
