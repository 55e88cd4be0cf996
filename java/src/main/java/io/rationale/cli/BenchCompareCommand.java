package io.rationale.cli;

import io.rationale.perf.JmhComparison;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code bench compare BASELINE.json CANDIDATE.json}: the regression gate on two JMH result files
 * ({@link JmhComparison}). Prints a markdown table (with {@code --json}, one JSON object instead) on stdout and the
 * warnings on stderr. Exit codes: 0 no regression, {@value #EXIT_REGRESSION} at least one regression (significant
 * and beyond the threshold in the worse direction), 1 when the files cannot be compared (unreadable, malformed, no
 * benchmark in common, or none of those in common comparable: no samples, units that do not convert, an unknown
 * mode), 2 for bad usage.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compare two JMH JSON result files (-rf json): a regression gate for CI.",
                "Matches benchmarks by name, mode and params; tests the iteration samples with Mann-Whitney U; exits "
                        + BenchCompareCommand.EXIT_TEXT})
public final class BenchCompareCommand implements Callable<Integer> {

    /** The exit code of a comparison that found a regression. */
    public static final int EXIT_REGRESSION = 3;

    /** The exit codes in words, for the help text. */
    static final String EXIT_TEXT = "3 when a change is significant (p < alpha) and beyond the threshold in the worse direction, "
            + "0 otherwise (1: the files cannot be compared, 2: bad usage).";

    @Parameters(index = "0", paramLabel = "BASELINE.json", description = "JMH result file of the baseline.")
    Path baseline;

    @Parameters(index = "1", paramLabel = "CANDIDATE.json", description = "JMH result file of the candidate.")
    Path candidate;

    @Option(names = "--threshold", defaultValue = "5%", paramLabel = "T",
            description = "Smallest relative change of the score that counts, e.g. 5%% or 0.05 (default: 5%%).")
    String threshold;

    @Option(names = "--alpha", defaultValue = "0.01", paramLabel = "A", description = "Significance level (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--bootstrap", defaultValue = "2000", paramLabel = "N",
            description = "Bootstrap resamples for the interval of the median ratio; 0: none (default: ${DEFAULT-VALUE}).")
    int bootstrap;

    @Option(names = "--json", description = "Print one JSON object instead of the markdown table.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        JmhComparison.Options o = Usage.check(spec, () -> new JmhComparison.Options(parseThreshold(threshold), alpha, bootstrap));
        JmhComparison.Report r = JmhComparison.compare(baseline, candidate, o);
        for (String w : r.warnings()) System.err.println("bench compare: warning: " + w);
        if (r.rows().isEmpty())
            throw new IllegalArgumentException(baseline + " and " + candidate + " have no benchmark in common (name, mode and params)");
        if (json) System.out.println(Json.write(r.json()));
        else System.out.print(r.markdown());
        if (r.rows().stream().allMatch(x -> x.verdict() == JmhComparison.Verdict.INCOMPARABLE))
            throw new IllegalArgumentException("no benchmark could be compared: each of the " + r.rows().size()
                    + " in common is incomparable (" + r.rows().getFirst().note() + ", see the warnings)");
        long regressions = r.rows().stream().filter(x -> x.verdict() == JmhComparison.Verdict.REGRESSION).count();
        System.err.printf(Locale.ROOT, "bench compare: %d benchmark(s) compared, %d regression(s)%s%n", r.rows().size(), regressions,
                regressions > 0 ? " (exit " + EXIT_REGRESSION + ")" : "");
        return regressions > 0 ? EXIT_REGRESSION : 0;
    }

    /** {@code 5%} → 0.05; {@code 0.05} → 0.05; a bare number of 1 or more is refused (write {@code 5%}). */
    static double parseThreshold(String s) {
        String t = s.strip();
        double v;
        try {
            v = t.endsWith("%") ? Double.parseDouble(t.substring(0, t.length() - 1).strip()) / 100 : Double.parseDouble(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--threshold must be a percentage such as 5% or a fraction such as 0.05, got '" + s + "'");
        }
        if (!t.endsWith("%") && v >= 1)
            throw new IllegalArgumentException("--threshold " + s + " is a fraction of 100% or more; write " + s + "% for a percentage");
        if (!(v >= 0) || !Double.isFinite(v)) throw new IllegalArgumentException("--threshold must be >= 0, got '" + s + "'");
        return v;
    }

}
