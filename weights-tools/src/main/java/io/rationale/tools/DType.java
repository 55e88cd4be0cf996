package io.rationale.tools;

import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * Element types the writer can store, with their safetensors and PyTorch spellings and the
 * float32 conversions used to produce them.
 */
public enum DType {
    F32(4, "F32", "float32"),
    F16(2, "F16", "float16"),
    BF16(2, "BF16", "bfloat16");

    /** Bytes per element. */
    public final int bytes;
    /** The spelling in a safetensors header. */
    public final String safetensorsName;
    /** The spelling of config.json's torch_dtype. */
    public final String torchName;

    DType(int bytes, String safetensorsName, String torchName) {
        this.bytes = bytes;
        this.safetensorsName = safetensorsName;
        this.torchName = torchName;
    }

    /** Parses "f32", "float32", "F16", "fp16", "bf16", "bfloat16" (any case). */
    public static DType parse(String s) {
        String k = s.trim().toLowerCase(Locale.ROOT);
        switch (k) {
            case "f32", "fp32", "float32", "float":
                return F32;
            case "f16", "fp16", "float16", "half":
                return F16;
            case "bf16", "bfloat16":
                return BF16;
            default:
                throw new ToolException("unknown dtype '" + s + "' (expected f32, f16 or bf16)");
        }
    }

    /**
     * Rounds a float32 to bfloat16 bits, round-to-nearest-even; NaN stays a (quiet) NaN with its
     * sign, infinities stay infinite, and values past the largest bfloat16 round to infinity.
     */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        int rounded = bits + 0x7fff + lsb;
        return (short) (rounded >>> 16);
    }

    /** Rounds a float32 to IEEE binary16 bits (round-to-nearest-even, per Float.floatToFloat16). */
    public static short toF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** Writes {@code len} values of {@code src} into {@code dst} in this type, little-endian. */
    public void encode(float[] src, int len, ByteBuffer dst) {
        switch (this) {
            case F32 -> {
                for (int i = 0; i < len; i++) {
                    dst.putFloat(src[i]);
                }
            }
            case F16 -> {
                for (int i = 0; i < len; i++) {
                    dst.putShort(toF16(src[i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < len; i++) {
                    dst.putShort(toBf16(src[i]));
                }
            }
        }
    }
}
