package io.rationale.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Item 16 of issue 10: every command's summary (the first line of its description, which the parent's command list
 * shows alone) is a whole sentence: it ends with a full stop, not ":" or mid-phrase, and its brackets close.
 */
class HelpTextTest {
    @Test
    void everySummaryIsAWholeSentence() {
        List<String> problems = new ArrayList<>();
        check(Main.commandLine(), "rationale", problems);
        assertEquals(List.of(), problems);
    }

    private static void check(CommandLine cl, String path, List<String> problems) {
        String[] d = cl.getCommandSpec().usageMessage().description();
        if (d.length == 0) problems.add(path + ": no description");
        else {
            String first = d[0].strip();
            if (!first.endsWith(".")) problems.add(path + ": summary does not end with '.': " + first);
            if (count(first, '(') != count(first, ')')) problems.add(path + ": unbalanced brackets: " + first);
        }
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().aliases().length > 0 && !e.getKey().equals(e.getValue().getCommandName())) continue;
            check(e.getValue(), path + " " + e.getKey(), problems);
        }
    }

    /**
     * picocli passes every description through {@code String.format} (after putting in the default value) and, when
     * that fails, prints a warning on stderr and the raw text: a lone {@code %} (e.g. "within 10%") must be {@code %%}.
     * Renders every command's help in a child JVM ({@link #main}: picocli's warnings go to the stderr the JVM started
     * with) and reads its stderr.
     */
    @Test
    void everyHelpRendersWithoutFormatWarnings() throws Exception {
        String javaBin = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), HelpTextTest.class.getName())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), err);
        assertTrue(err.contains("rendered "), err);
        assertTrue(!err.contains("Could not format"), err);
    }

    /** Renders the help of every command and subcommand; prints how many on stderr. */
    public static void main(String[] args) {
        int n = render(Main.commandLine());
        System.err.println("rendered " + n);
    }

    private static int render(CommandLine cl) {
        cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
        int n = 1;
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().aliases().length > 0 && !e.getKey().equals(e.getValue().getCommandName())) continue;
            n += render(e.getValue());
        }
        return n;
    }

    private static long count(String s, char c) { return s.chars().filter(x -> x == c).count(); }

    @Test
    void benchAndWeightsToolsListTheirPurposeInFull() {
        CliRun r = CliRun.of("--help");
        String help = r.out();
        assertTrue(help.contains("bench"), help);
        for (String line : help.lines().toList()) assertTrue(!line.strip().endsWith(":") || line.strip().equals("Commands:"), line);
        String wt = CliRun.of("weights-tools", "--help").out();
        for (String line : wt.lines().toList()) assertTrue(!line.strip().endsWith(",") && !line.strip().endsWith(":") || line.strip().equals("Commands:"), line);
    }
}
