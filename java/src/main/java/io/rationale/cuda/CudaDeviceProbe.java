package io.rationale.cuda;

import io.rationale.engine.Backend;
import io.rationale.engine.DeviceProbe;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@link DeviceProbe} of {@link CudaBackend}: peaks measured on the backend's own device, through its driver and
 * cuBLAS library. GEMM: square {@code n × n × n} {@code cublasGemmEx} in the checkpoint's weight type (bf16 or
 * f32 inputs, f32 accumulation: what the backend's projections run; inputs filled on the device with a constant),
 * n doubled from 256 (64 on the emulated device, at most 16384 / 1024) until one GEMM takes a twentieth of the
 * calibration time, best of three timed GEMMs per size, FLOPs = 2n³. Bandwidth: device-to-device copies of a buffer
 * (256 MiB on a GPU, 32 MiB emulated), bytes = 2 × size (read and write). On {@code cuda-emu} the numbers are the
 * emulator's on the host CPU and say so ({@code kind: cuda-emu}).
 */
public final class CudaDeviceProbe implements DeviceProbe {

    @Override
    public boolean handles(Backend backend) { return backend instanceof CudaBackend; }

    @Override
    public Map<String, Object> calibrate(Backend backend, double seconds) {
        CudaDevice d = ((CudaBackend) backend).cudaDevice();
        boolean emu = d.isEmulated();
        DataType type = backend.model().weightDtype().name().equals("F32") ? DataType.F32 : DataType.BF16;
        long t0 = System.nanoTime();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", emu ? "cuda-emu" : "cuda");
        double[] gemm = gemm(d, type, emu ? 64 : 256, emu ? 1024 : 16384, Math.max(0.005, seconds / 20));
        m.put("flops_per_s", gemm[0]);
        long copyBytes = emu ? 32L << 20 : 256L << 20;
        m.put("bytes_per_s", copyBandwidth(d, copyBytes));
        m.put("flops_method", (emu ? "EMULATED on the CPU: " : "") + "cublasGemmEx " + (int) gemm[1] + "^3, " + type
                + " inputs, f32 accumulation, best of several");
        m.put("bytes_method", (emu ? "EMULATED on the CPU: " : "") + "device-to-device copy of " + (copyBytes >> 20)
                + " MiB, read + write bytes, best of several");
        m.put("device", backend.device());
        m.put("calibration_seconds", (System.nanoTime() - t0) / 1e9);
        return m;
    }

    /** {best FLOP/s, n}. */
    private static double[] gemm(CudaDevice d, DataType type, int startN, int maxN, double targetSeconds) {
        Cublas blas = Cublas.open(d);
        try {
            int n = startN;
            double best = 0;
            int bestN = n;
            while (true) {
                long elems = (long) n * n;
                DevicePointer a = d.alloc(elems * type.bytes), b = d.alloc(elems * type.bytes), c = d.alloc(elems * 4);
                try {
                    d.memset(a, (byte) 0x3C, elems * type.bytes);     // every element ≈ 0.0115 (bf16 0x3C3C, f32 0x3C3C3C3C)
                    d.memset(b, (byte) 0x3C, elems * type.bytes);
                    double t = 0;
                    for (int rep = 0; rep < 4; rep++) {
                        d.synchronize();
                        long s0 = System.nanoTime();
                        blas.gemmEx(Cublas.OP_N, Cublas.OP_N, n, n, n, 1f, a, type, n, b, type, n, 0f, c, DataType.F32, n);
                        d.synchronize();
                        t = (System.nanoTime() - s0) / 1e9;
                        if (rep > 0) {
                            double f = 2.0 * n * n * (double) n / t;
                            if (f > best) {
                                best = f;
                                bestN = n;
                            }
                        }
                    }
                    if (t >= targetSeconds || n * 2 > maxN) break;
                } finally {
                    d.free(a);
                    d.free(b);
                    d.free(c);
                }
                n *= 2;
            }
            return new double[]{best, bestN};
        } finally {
            blas.close();
        }
    }

    private static double copyBandwidth(CudaDevice d, long bytes) {
        DevicePointer a = d.alloc(bytes), b = d.alloc(bytes);
        try {
            d.memset(a, (byte) 1, bytes);
            double best = 0;
            for (int rep = 0; rep < 5; rep++) {
                d.synchronize();
                long s0 = System.nanoTime();
                d.copy(b, a, bytes);
                d.synchronize();
                double t = (System.nanoTime() - s0) / 1e9;
                if (rep > 0) best = Math.max(best, 2.0 * bytes / t);
            }
            return best;
        } finally {
            d.free(a);
            d.free(b);
        }
    }

    @Override
    public long memoryUsed(Backend backend) {
        CudaDevice.MemoryInfo m = ((CudaBackend) backend).cudaDevice().memoryInfo();
        return m.total() - m.free();
    }

    @Override
    public String driver(Backend backend) {
        CudaDevice d = ((CudaBackend) backend).cudaDevice();
        if (d.isEmulated()) return "emulated CUDA driver (cuda-emu)";
        int v = d.driverVersion();
        return "CUDA driver " + v / 1000 + "." + (v % 1000) / 10;
    }
}
