package io.rationale.cuda;

/** A cuBLAS call returned a status other than {@code CUBLAS_STATUS_SUCCESS}; the message names the status. */
public class CublasException extends RuntimeException {
    private final int status;

    public CublasException(String call, int status, String detail) {
        super(call + " failed: " + statusName(status) + " (" + status + ")" + (detail.isEmpty() ? "" : ": " + detail));
        this.status = status;
    }

    public int status() { return status; }

    /** The {@code cublasStatus_t} name of a status value. */
    public static String statusName(int status) {
        return switch (status) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "CUBLAS_STATUS_UNKNOWN";
        };
    }
}
