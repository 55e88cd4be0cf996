package io.rationale.cuda;

/** Element types of cuBLAS operands, with their {@code cudaDataType} values (library_types.h). */
public enum DataType {
    F32(0, 4),
    F16(2, 2),
    BF16(14, 2);

    /** The {@code cudaDataType} value: {@code CUDA_R_32F}, {@code CUDA_R_16F}, {@code CUDA_R_16BF}. */
    public final int cudaValue;
    public final int bytes;

    DataType(int cudaValue, int bytes) {
        this.cudaValue = cudaValue;
        this.bytes = bytes;
    }
}
