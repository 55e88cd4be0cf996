package io.rationale.weights;

/** Element types a checkpoint may hold; every kernel computes in f32. */
public enum DType {
    F32(4), F16(2), BF16(2);

    public final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /** The safetensors header spelling ("F32", "F16", "BF16"), or null when unknown. */
    public static DType fromSafetensors(String s) {
        return switch (s) {
            case "F32" -> F32;
            case "F16" -> F16;
            case "BF16" -> BF16;
            default -> null;
        };
    }

    public static float bf16ToFloat(short bits) { return Float.intBitsToFloat((bits & 0xffff) << 16); }

    public static float f16ToFloat(short bits) { return Float.float16ToFloat(bits); }
}
