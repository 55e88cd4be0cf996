package io.rationale.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DTypeTest {
    private static int bf16(int floatBits) {
        return DType.toBf16(Float.intBitsToFloat(floatBits)) & 0xffff;
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(0x3F80, bf16(0x3F800000), "1.0 exact");
        assertEquals(0x3F80, bf16(0x3F807FFF), "below half: down");
        assertEquals(0x3F81, bf16(0x3F808001), "above half: up");
        assertEquals(0x3F80, bf16(0x3F808000), "tie, even below: down");
        assertEquals(0x3F82, bf16(0x3F818000), "tie, odd below: up to even");
        assertEquals(0xBF82, bf16(0xBF818000), "negative tie rounds by magnitude");
        assertEquals(0xBF80, bf16(0xBF808000), "negative tie to even");
        assertEquals(0x4000, bf16(0x3FFFFFFF), "carry into the exponent");
        assertEquals(0x7F7F, bf16(0x7F7F7FFF), "largest finite stays");
        assertEquals(0x7F80, bf16(0x7F7FFFFF), "Float.MAX_VALUE rounds to +inf");
        assertEquals(0xFF80, bf16(0xFF7FFFFF), "-MAX rounds to -inf");
        assertEquals(0x7F80, bf16(0x7F800000), "+inf");
        assertEquals(0xFF80, bf16(0xFF800000), "-inf");
        assertEquals(0x0000, bf16(0x00000000), "+0");
        assertEquals(0x8000, bf16(0x80000000), "-0");
        assertEquals(0x0001, bf16(0x00010000), "subnormal exact");
        assertEquals(0x0000, bf16(0x00008000), "subnormal tie to even (0)");
        assertEquals(0x0002, bf16(0x00018000), "subnormal tie to even (2)");
    }

    @Test
    void bf16KeepsNaNsQuietAndSigned() {
        assertEquals(0x7FC0, bf16(0x7FC00000));
        assertEquals(0x7FC0, bf16(0x7F800001), "signalling NaN whose payload is in the low bits stays NaN");
        assertEquals(0xFFC0, bf16(0xFF800001));
        assertEquals(0x7FFF, bf16(0x7FFFFFFF), "all-ones NaN must not carry into the sign");
        assertTrue(Float.isNaN(Float.intBitsToFloat(bf16(0x7F800001) << 16)));
    }

    @Test
    void f16UsesTheJdkConversion() {
        assertEquals(0x3C00, DType.toF16(1f) & 0xffff);
        assertEquals(0x7BFF, DType.toF16(65504f) & 0xffff);
        assertEquals(0x7C00, DType.toF16(65520f) & 0xffff, "halfway past max rounds to inf");
        assertEquals(0x3555, DType.toF16(1f / 3f) & 0xffff);
        assertEquals(0x0001, DType.toF16(0x1p-24f) & 0xffff, "smallest subnormal");
    }

    @Test
    void parsesNames() {
        assertEquals(DType.F32, DType.parse("float32"));
        assertEquals(DType.F32, DType.parse("F32"));
        assertEquals(DType.F16, DType.parse("fp16"));
        assertEquals(DType.BF16, DType.parse("BFloat16"));
        ToolException e = assertThrows(ToolException.class, () -> DType.parse("int8"));
        assertTrue(e.getMessage().contains("int8"));
    }

    @Test
    void parsesSizes() {
        assertEquals(5_000_000_000L, ByteSize.parse("5GB"));
        assertEquals(2L << 30, ByteSize.parse("2GiB"));
        assertEquals(500_000_000L, ByteSize.parse("500 mb"));
        assertEquals(1_500_000_000L, ByteSize.parse("1.5GB"));
        assertEquals(123, ByteSize.parse("123"));
        assertEquals(0, ByteSize.parse("0"));
        assertThrows(ToolException.class, () -> ByteSize.parse("GB"));
        assertThrows(ToolException.class, () -> ByteSize.parse("5XB"));
    }
}
