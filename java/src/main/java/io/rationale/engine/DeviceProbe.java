package io.rationale.engine;

import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * What a device backend can say about its device for benchmarks, without code above the engine knowing the
 * backend's classes: its measured peaks (a short calibration on the device: GEMM throughput and memory bandwidth),
 * the device memory in use, the driver. Found through {@link ServiceLoader} ({@code META-INF/services}); a backend
 * without a probe (the CPU) runs on the host, whose peaks the bench measures itself.
 */
public interface DeviceProbe {

    /** Whether this probe knows {@code backend}'s device. */
    boolean handles(Backend backend);

    /**
     * Measures the device's peaks on {@code backend}'s device, in about {@code seconds}.
     *
     * @return {@code flops_per_s}, {@code bytes_per_s} and how each was measured ({@code flops_method},
     *         {@code bytes_method}), plus {@code kind} (e.g. {@code cuda} or {@code cuda-emu}: an emulator's peaks are
     *         the emulator's, not a GPU's)
     */
    Map<String, Object> calibrate(Backend backend, double seconds);

    /** Bytes of device memory in use now (all users of the device), or -1 when unknown. */
    long memoryUsed(Backend backend);

    /** The driver, in words (e.g. {@code CUDA driver 13.0}), or null. */
    String driver(Backend backend);

    /** The probe for {@code backend}'s device, if any. */
    static Optional<DeviceProbe> find(Backend backend) {
        for (DeviceProbe p : ServiceLoader.load(DeviceProbe.class, DeviceProbe.class.getClassLoader()))
            if (p.handles(backend)) return Optional.of(p);
        return Optional.empty();
    }
}
