package io.rationale.engine;

/**
 * A backend implementation, found by {@link java.util.ServiceLoader} ({@code META-INF/services}), so that the
 * engine opens backends without depending on their packages.
 */
public interface BackendProvider {

    /** Whether this provider opens devices of {@code kind} ({@link Device.Kind#AUTO} never reaches a provider). */
    boolean handles(Device.Kind kind);

    /** The order in which {@link Device#AUTO} tries providers: higher first (a GPU before the CPU). */
    int autoPriority();

    /**
     * Opens a backend for {@code model} on {@code device}.
     *
     * @param threads CPU worker threads (0: all available processors); a GPU backend may ignore it
     * @throws DeviceUnavailableException when the device cannot be used here (no driver, no GPU, kernels not built),
     *                                    with the reason in one line
     */
    Backend open(Model model, Device device, int threads);

    /**
     * Whether this provider's backends run a model's unmerged LoRA adapter ({@link Model#lora()}): a low-rank branch
     * beside each targeted projection in the forward and backward passes. {@link Backends#open} refuses (or, for
     * {@link Device#AUTO}, skips) a provider that does not when the model has one; merged adapters are plain weights
     * and run everywhere.
     */
    default boolean supportsUnmergedLora() { return false; }

    /** Why a requested device cannot be opened on this machine (one line). */
    final class DeviceUnavailableException extends RuntimeException {
        public DeviceUnavailableException(String message) { super(message); }

        public DeviceUnavailableException(String message, Throwable cause) { super(message, cause); }
    }
}
