package io.rationale.engine;

import java.util.Locale;

/**
 * Where a model runs, as {@code --device} spells it: {@code auto} (the default: the CUDA backend when a GPU and its
 * driver load, else the CPU), {@code cpu}, {@code cuda} (device 0), {@code cuda:N}, or {@code cuda-emu} (the CUDA
 * backend on the emulated device: the same kernels compiled for the CPU, for tests and machines without a GPU).
 *
 * @param kind  which backend
 * @param index the CUDA device ordinal (0 unless {@code cuda:N})
 */
public record Device(Kind kind, int index) {

    /** The backends a device spec can name. */
    public enum Kind { AUTO, CPU, CUDA, CUDA_EMU }

    public static final Device AUTO = new Device(Kind.AUTO, 0);
    public static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (kind == null) throw new IllegalArgumentException("no device kind");
        if (index < 0) throw new IllegalArgumentException("device index " + index + " is negative");
    }

    /** Parses {@code auto}, {@code cpu}, {@code cuda}, {@code cuda:N}, {@code cuda-emu} (case-insensitive; null: auto). */
    public static Device parse(String s) {
        String d = s == null ? "auto" : s.trim().toLowerCase(Locale.ROOT);
        switch (d) {
            case "auto", "" -> { return AUTO; }
            case "cpu" -> { return CPU; }
            case "cuda" -> { return new Device(Kind.CUDA, 0); }
            case "cuda-emu", "cuda_emu" -> { return new Device(Kind.CUDA_EMU, 0); }
            default -> { }
        }
        if (d.startsWith("cuda:")) {
            try {
                int n = Integer.parseInt(d.substring(5));
                if (n >= 0) return new Device(Kind.CUDA, n);
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw new IllegalArgumentException("unknown device '" + s + "' (valid: auto, cpu, cuda, cuda:N, cuda-emu)");
    }

    @Override
    public String toString() {
        return switch (kind) {
            case AUTO -> "auto";
            case CPU -> "cpu";
            case CUDA -> "cuda:" + index;
            case CUDA_EMU -> "cuda-emu";
        };
    }
}
