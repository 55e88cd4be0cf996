package io.rationale.cuda;

/**
 * No usable CUDA device in this process: the driver library is missing, JCuda's native library cannot load,
 * {@code cuInit} fails, there is no device, or the emulated device is not in this build. The message is one line
 * saying which; callers catch this to fall back to the CPU backend.
 */
public class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message) { super(message); }
    public CudaUnavailableException(String message, Throwable cause) { super(message, cause); }
}
