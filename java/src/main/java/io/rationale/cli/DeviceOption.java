package io.rationale.cli;

import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.Model;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code --device}, shared by every command that runs a model: the one way the command line opens a backend. */
final class DeviceOption {
    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto",
            description = "auto (default: cuda when a GPU and the CUDA backend load, else cpu), cpu, cuda, cuda:N, "
                    + "or cuda-emu (the CUDA backend on the emulated device: the same kernels run on the CPU).")
    String device;

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    /** The device named; an unknown one is a usage error (exit 2). */
    Device parse() { return Usage.check(spec, () -> Device.parse(device)); }

    /**
     * Opens the backend on all available processors. Commands report {@link Backends.Opened#describe()} with their
     * results (a JSON {@code device} key, or a line of their text output), not on stderr before them: an error stays
     * the one line stderr holds.
     */
    Backends.Opened open(Model model) { return open(model, 0); }

    /** {@link #open(Model)} with {@code threads} CPU threads (0: all). */
    Backends.Opened open(Model model, int threads) { return Backends.open(model, parse(), threads); }
}
