package io.rationale.cuda;

import io.rationale.engine.Backend;
import io.rationale.engine.BackendProvider;
import io.rationale.engine.Device;
import io.rationale.engine.Model;

/**
 * Opens {@link CudaBackend}s for {@link io.rationale.engine.Backends}: {@code cuda}, {@code cuda:N} on the real
 * driver, {@code cuda-emu} on the emulated device; {@code auto} tries the real driver first. A device that cannot
 * be used (no driver, no GPU, kernels not built, the other driver already bound in this JVM) is reported as
 * {@link BackendProvider.DeviceUnavailableException} in one line.
 */
public final class CudaProvider implements BackendProvider {

    @Override
    public boolean handles(Device.Kind kind) { return kind == Device.Kind.CUDA || kind == Device.Kind.CUDA_EMU; }

    @Override
    public int autoPriority() { return 10; }

    /** The low-rank branch runs on the device beside each projection ({@link CudaLora}). */
    @Override
    public boolean supportsUnmergedLora() { return true; }

    @Override
    public Backend open(Model model, Device device, int threads) {
        CudaDevice d;
        try {
            d = device.kind() == Device.Kind.CUDA_EMU ? CudaDevice.openEmulated() : CudaDevice.open(CudaDriver.Kind.REAL, device.index());
        } catch (CudaUnavailableException | IllegalStateException | IllegalArgumentException e) {
            throw new DeviceUnavailableException(device + ": " + e.getMessage(), e);
        }
        try {
            return new CudaBackend(model, d);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }
}
