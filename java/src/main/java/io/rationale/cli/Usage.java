package io.rationale.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

import java.util.function.Supplier;

/**
 * The exit-code rule of the command line, in one place.
 *
 * <ul>
 *   <li><b>2, bad usage</b>: the command line itself is wrong, which is known before any file is read: an unknown or
 *       missing option, a value of the wrong type, outside its range or not one of its choices ({@code --limit 0},
 *       an unknown method, device or preset), options that exclude each other. picocli reports its own parse
 *       errors this way; the commands check the rest of their option values first, through {@link #check}.</li>
 *   <li><b>1, failure</b>: the command line is well formed but the command cannot be done: a missing or malformed
 *       file (model, dataset, results folder), a value that does not fit what a file holds (a token id outside the
 *       vocabulary, a target text that is not one token, an input longer than the model's positions, an annotator
 *       the dataset lacks), an evaluation that fails.</li>
 * </ul>
 * Either way stderr holds one line, {@code rationale: <what is wrong and where>}.
 */
final class Usage {
    private Usage() {}

    static final int EXIT_FAILURE = 1, EXIT_USAGE = 2;

    /** {@code --on-error}: {@code stop} or {@code skip} (any case), else a usage error. */
    static io.rationale.eval.EvalRunner.OnError onError(CommandSpec spec, String value) {
        return switch (value.toLowerCase(java.util.Locale.ROOT)) {
            case "stop" -> io.rationale.eval.EvalRunner.OnError.STOP;
            case "skip" -> io.rationale.eval.EvalRunner.OnError.SKIP;
            default -> throw error(spec, "--on-error must be stop or skip, got '" + value + "'");
        };
    }

    /** A usage error (exit 2) of {@code spec}'s command. */
    static CommandLine.ParameterException error(CommandSpec spec, String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /**
     * Runs checks of option values alone: an {@link IllegalArgumentException} (or a weights-tools
     * {@link io.rationale.tools.ToolException}) they throw is a usage error (exit 2).
     */
    static void check(CommandSpec spec, Runnable checks) {
        check(spec, () -> {
            checks.run();
            return null;
        });
    }

    /**
     * Parses the value of {@code option}: an {@link IllegalArgumentException} that does not name an option already
     * gets {@code option} in front ({@code --layers: layer -1 is negative}), so the one line says where.
     */
    static <T> T named(String option, Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("--")) throw e;
            throw new IllegalArgumentException(option + ": " + e.getMessage(), e);
        }
    }

    /** {@link #check(CommandSpec, Runnable)} returning what the checks parsed. */
    static <T> T check(CommandSpec spec, Supplier<T> checks) {
        try {
            return checks.get();
        } catch (CommandLine.ParameterException e) {
            throw e;
        } catch (IllegalArgumentException | io.rationale.tools.ToolException e) {   // the weights-tools' option checks too
            throw new CommandLine.ParameterException(spec.commandLine(), Errors.oneLine(e), e);
        }
    }
}
