package io.rationale.cpu;

import io.rationale.engine.Backend;
import io.rationale.engine.BackendProvider;
import io.rationale.engine.Device;
import io.rationale.engine.Model;

/** Opens {@link CpuBackend}s for {@link io.rationale.engine.Backends} ({@code --device cpu}, and the fallback of auto). */
public final class CpuProvider implements BackendProvider {

    @Override
    public boolean handles(Device.Kind kind) { return kind == Device.Kind.CPU; }

    @Override
    public int autoPriority() { return 0; }

    @Override
    public boolean supportsUnmergedLora() { return true; }

    @Override
    public Backend open(Model model, Device device, int threads) {
        return threads == 0 ? new CpuBackend(model) : new CpuBackend(model, threads);
    }
}
