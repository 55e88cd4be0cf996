package io.rationale.cli;

import io.rationale.tools.WeightsToolsCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code rationale} command line. Every error ends as one line on stderr naming what is wrong and where,
 * and a non-zero exit (1 for a failed command, 2 for bad usage); {@code --verbose} adds the stack trace.
 */
@Command(name = "rationale", mixinStandardHelpOptions = true, version = "rationale-engine 0.1.0",
        description = "A Llama-family inference engine that explains its decisions.",
        subcommands = {EvalCommand.class, SerumCommand.class, AttributeCommand.class, LogitsCommand.class, GenerateCommand.class, InspectCommand.class,
                WeightsToolsCommand.class, DemoCommand.class, BenchCommand.class, ServeCommand.class, LoadTestCommand.class,
                FinetuneCommand.class, EvalCompareCommand.class})
public final class Main implements Runnable {
    @Option(names = "--verbose", description = "Print stack traces with errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean verbose;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** The main job on its embedded default: what {@code rationale} with no arguments runs. */
    static final String[] DEFAULT_ARGS = {"eval", "--builtin"};

    /** Runs the command line in-process (tests use this) and returns the exit code. */
    public static int run(String... args) {
        return commandLine().execute(args.length == 0 ? DEFAULT_ARGS.clone() : args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        // weights-tools writes checkpoints; its inspect is the engine's validating reader
        cl.getSubcommands().get("weights-tools").addSubcommand("inspect", new InspectCommand());
        cl.setExecutionExceptionHandler((ex, line, parse) -> {
            boolean verbose = parse.matchedOption("--verbose") != null || hasVerbose(parse);
            if (verbose) ex.printStackTrace(line.getErr());
            line.getErr().println("rationale: " + Errors.oneLine(ex));
            return 1;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            ex.getCommandLine().getErr().println("rationale: " + ex.getMessage().replace('\n', ' ')
                    + " (see: " + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help)");
            return 2;
        });
        return cl;
    }

    private static boolean hasVerbose(CommandLine.ParseResult p) {
        for (CommandLine.ParseResult r = p; r != null; r = r.subcommand())
            if (r.hasMatchedOption("--verbose")) return true;
        return false;
    }
}
