package io.rationale.cli;

import io.rationale.perf.JmhComparison;
import io.rationale.perf.MachineInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code bench machine}: the facts of this machine ({@link MachineInfo#machine()}) as one JSON object, to keep next to
 * a JMH result file: {@code --for RESULT.json} writes {@code RESULT.machine.json}, the sidecar that
 * {@code bench compare} compares.
 */
@Command(name = "machine", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print this machine's facts (CPU, cores, memory, OS, JVM) as JSON, or write them as the sidecar of a JMH result file.",
                "bench compare warns when the sidecars of the two files differ."})
public final class BenchMachineCommand implements Callable<Integer> {

    @Option(names = "--for", paramLabel = "RESULT.json", description = "Write the facts to RESULT.machine.json next to this JMH result file.")
    Path forResult;

    @Override
    public Integer call() throws IOException {
        String j = Json.write(MachineInfo.machine());
        if (forResult == null) {
            System.out.println(j);
            return 0;
        }
        Path s = JmhComparison.sidecar(forResult);
        Files.writeString(s, j + "\n", StandardCharsets.UTF_8);
        System.err.println("bench machine: wrote " + s);
        return 0;
    }
}
