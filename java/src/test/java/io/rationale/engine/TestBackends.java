package io.rationale.engine;

import io.rationale.weights.DType;

import java.util.ArrayList;
import java.util.List;

/**
 * The backends the engine tests run on: the CPU, and the CUDA backend on the emulated device whenever this build
 * has it (the emulated device's libraries are built with g++ by the Maven build, so in CI it always runs; once it
 * is built, failing to open it fails the tests instead of skipping them).
 */
public final class TestBackends {
    private TestBackends() {}

    /**
     * Device names, as {@code --device} spells them: {@code -Drationale.test.devices=cpu,cuda} when set (the GPU check,
     * {@code scripts/gpu-check.sh}, runs these tests on a real GPU that way), else the CPU and, when built, the
     * emulated device.
     */
    public static List<String> devices() {
        String given = System.getProperty("rationale.test.devices");
        if (given != null && !given.isBlank()) return List.of(given.trim().split("\\s*,\\s*"));
        List<String> out = new ArrayList<>(List.of("cpu"));
        if (emulatedDeviceBuilt()) out.add("cuda-emu");
        return out;
    }

    /** Whether this build has the CUDA backend and the emulated device's libraries. */
    public static boolean emulatedDeviceBuilt() {
        return Backends.provided(Device.Kind.CUDA_EMU) && TestBackends.class.getResource("/io/rationale/cuda/emu/libcuda.so.1") != null;
    }

    /** Opens {@code device} for {@code model} with 2 CPU threads. */
    public static Backend open(Model model, String device) {
        return Backends.open(model, Device.parse(device), 2).backend();
    }

    /**
     * Logit tolerance of a device against a double-precision reference, relative to max(1, the row's largest
     * |logit|). The CPU computes in f32 with weights widened to f32: 1e-4 for every dtype. The CUDA backend rounds
     * a prefill GEMM's input activations to the weights' dtype (bf16: 8 significant bits, f16: 11), as PyTorch does
     * with a model in that dtype, so its logits move by a few units of that rounding: 1e-4 with f32 weights, 1.5e-2
     * with bf16 and 2.5e-3 with f16 weights, about three times the largest error measured on the models of
     * {@code ReferenceComparisonTest} on the emulated device (5.0e-3 bf16, 8.4e-4 f16; f32 4e-7, as the CPU).
     */
    public static double logitTolerance(String device, DType weights) {
        if (device.equals("cpu") || weights == DType.F32) return device.equals("cpu") || device.equals("cuda-emu") ? 1e-4 : 2e-4;
        return weights == DType.BF16 ? 1.5e-2 : 2.5e-3;
    }
}
