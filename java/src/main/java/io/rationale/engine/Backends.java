package io.rationale.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/** Opens the backend for a {@link Device}: the one way code above the engine gets a {@link Backend}. */
public final class Backends {
    private Backends() {}

    /**
     * An opened backend and, when {@link Device#AUTO} skipped a device, why (else null): commands print
     * {@link #describe()} so the user sees which device runs the model.
     */
    public record Opened(Backend backend, String skipped) {
        /** {@code device: cpu (2 threads)}, plus {@code (cuda unavailable: ...)} when auto fell back. */
        public String describe() {
            return "device: " + backend.device() + (skipped == null ? "" : " (" + skipped + ")");
        }
    }

    /** {@link #open(Model, Device, int)} with all available processors for CPU work. */
    public static Opened open(Model model, Device device) { return open(model, device, 0); }

    /**
     * Opens {@code device} for {@code model}. {@link Device#AUTO} tries the providers by priority (CUDA, then the
     * CPU) and takes the first that opens; an explicit device that cannot be opened throws
     * {@link BackendProvider.DeviceUnavailableException} naming the reason.
     */
    public static Opened open(Model model, Device device, int threads) {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        List<BackendProvider> providers = providers();
        if (device.kind() != Device.Kind.AUTO) {
            for (BackendProvider p : providers) {
                if (!p.handles(device.kind())) continue;
                if (model.lora() != null && !p.supportsUnmergedLora()) throw new BackendProvider.DeviceUnavailableException(unmergedRefusal(device.kind()));
                return new Opened(p.open(model, device, threads), null);
            }
            throw new BackendProvider.DeviceUnavailableException("no backend for device " + device + " in this build");
        }
        List<String> skipped = new ArrayList<>();
        for (BackendProvider p : providers) {
            Device.Kind kind = p.handles(Device.Kind.CUDA) ? Device.Kind.CUDA : Device.Kind.CPU;
            if (!p.handles(kind)) continue;
            if (model.lora() != null && !p.supportsUnmergedLora()) {
                skipped.add(kind.name().toLowerCase(java.util.Locale.ROOT) + " skipped: " + unmergedRefusal(kind));
                continue;
            }
            try {
                return new Opened(p.open(model, new Device(kind, 0), threads), skipped.isEmpty() ? null : String.join("; ", skipped));
            } catch (BackendProvider.DeviceUnavailableException e) {
                skipped.add(kind.name().toLowerCase(java.util.Locale.ROOT) + " unavailable: " + e.getMessage());
            }
        }
        throw new BackendProvider.DeviceUnavailableException("no device could be opened: " + String.join("; ", skipped));
    }

    /** Why a backend of {@code kind} cannot run a model with an unmerged adapter (one line). */
    static String unmergedRefusal(Device.Kind kind) {
        String d = kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        return "the " + d + " backend runs LoRA adapters only merged into the weights (the default); an unmerged adapter"
                + " (--unmerged) runs on --device cpu";
    }

    /** Whether this build has a backend for devices of {@code kind} (it may still be unavailable on this machine). */
    public static boolean provided(Device.Kind kind) {
        return kind == Device.Kind.AUTO || providers().stream().anyMatch(p -> p.handles(kind));
    }

    private static List<BackendProvider> providers() {
        List<BackendProvider> out = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).forEach(out::add);
        out.sort(Comparator.comparingInt(BackendProvider::autoPriority).reversed());
        return out;
    }
}
