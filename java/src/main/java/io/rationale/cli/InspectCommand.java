package io.rationale.cli;

import io.rationale.lora.AdapterInspection;
import io.rationale.lora.Adapters;
import io.rationale.lora.PeftAdapter;
import io.rationale.model.ModelConfig;
import io.rationale.weights.Inspection;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code inspect}: lists tensors, dtypes, shapes and bytes, and validates the checkpoint against its config. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List a checkpoint's tensors (dtype, shape, bytes) and validate it against config.json.")
public final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Checkpoint folder (config.json + safetensors).")
    Path model;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Option(names = "--adapter", paramLabel = "DIR[:SCALE]",
            description = "Also check PEFT LoRA adapter folders against the model and list their modules, ranks and scales; repeatable.")
    List<String> adapters;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Adapters given = Usage.check(spec, () -> Adapters.parse(adapters, false));
        if (!Files.isDirectory(model)) throw new IllegalArgumentException(model + ": not a folder");
        Inspection report = Inspection.of(model);
        if (!report.ok()) {
            System.out.println(json ? report.toJson() : report.toText());
            System.err.println("rationale: " + model + ": " + report.problems().size() + " problem(s), first: " + report.problems().get(0));
            return 1;
        }
        if (given.isEmpty()) {
            System.out.println(json ? report.toJson() : report.toText());
            return 0;
        }
        ModelConfig c = ModelConfig.load(model);
        List<AdapterInspection> list = new ArrayList<>();
        for (PeftAdapter a : given.read(c, model)) list.add(AdapterInspection.of(a, c));
        if (json) {
            StringBuilder b = new StringBuilder("{\"model\": ").append(report.toJson()).append(", \"adapters\": [");
            for (int i = 0; i < list.size(); i++) b.append(i == 0 ? "" : ", ").append(list.get(i).toJson());
            System.out.println(b.append("]}"));
        } else {
            System.out.println(report.toText());
            for (AdapterInspection a : list) System.out.print(a.toText());
        }
        return 0;
    }
}
