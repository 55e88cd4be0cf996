package io.rationale.tools;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code weights-tools}: the parent of the checkpoint-writing commands. */
@Command(name = "weights-tools", mixinStandardHelpOptions = true,
        description = "Write checkpoints: random Llama-family models, llama2.c conversion.",
        subcommands = {TinyCommand.class, ConvertLlama2cCommand.class})
public class WeightsToolsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** Runs the tools stand-alone; errors print as one line. */
    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new WeightsToolsCommand());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + e.getMessage());
            return 1;
        });
        System.exit(cl.execute(args));
    }
}
