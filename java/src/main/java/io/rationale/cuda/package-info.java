/**
 * The CUDA platform layer: JCuda's driver API (the kernels in {@code cuda-kernels/*.cu}) and cuBLAS through Java FFM,
 * on a real NVIDIA GPU or on the emulated device (a CPU implementation of the driver API with the same kernels
 * compiled in; see {@code cuda-kernels/README.md}).
 *
 * <ul>
 *   <li>{@link io.rationale.cuda.CudaDriver}: which {@code libcuda.so.1} this JVM binds (real or emulated), once.</li>
 *   <li>{@link io.rationale.cuda.EmulatedDevice}: where the emulated libraries are, and its test controls.</li>
 *   <li>{@link io.rationale.cuda.CudaDevice}: a device's primary context, stream, kernels, memory, events.</li>
 *   <li>{@link io.rationale.cuda.DevicePointer}: a device address usable by JCuda and by FFM calls.</li>
 *   <li>{@link io.rationale.cuda.KernelArgs}: Java values to {@code cuLaunchKernel}'s parameter array.</li>
 *   <li>{@link io.rationale.cuda.Cublas}: {@code cublasGemmEx} and friends, and the row-major {@code X·Wᵀ}.</li>
 * </ul>
 *
 * Failures to find a usable GPU are {@link io.rationale.cuda.CudaUnavailableException} (one line, catch it to fall
 * back to the CPU); driver errors are JCuda's {@link jcuda.CudaException} (exceptions are enabled).
 */
package io.rationale.cuda;
