package io.rationale.cli;

import io.rationale.weights.Inspection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code inspect}: lists tensors, dtypes, shapes and bytes, and validates the checkpoint against its config. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List a checkpoint's tensors (dtype, shape, bytes) and validate it against config.json.")
public final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Checkpoint folder (config.json + safetensors).")
    Path model;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        if (!Files.isDirectory(model)) throw new IllegalArgumentException(model + ": not a folder");
        Inspection report = Inspection.of(model);
        System.out.println(json ? report.toJson() : report.toText());
        if (!report.ok()) {
            System.err.println("rationale: " + model + ": " + report.problems().size() + " problem(s), first: " + report.problems().get(0));
            return 1;
        }
        return 0;
    }
}
