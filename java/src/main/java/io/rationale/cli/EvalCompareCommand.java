package io.rationale.cli;

import io.rationale.eval.Comparison;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code eval-compare}: two {@code eval} results folders of the same dataset side by side, example by example
 * ({@link Comparison}): typically the base model and the model with a fine-tuned adapter.
 */
@Command(name = "eval-compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compare two eval results folders of the same dataset (e.g. base vs fine-tuned): accuracy, label distribution, "
                + "alignment F1, flip rate, comprehensiveness, sufficiency, with bootstrap CIs, paired bootstrap tests and McNemar.",
                "Prints a table; with --out writes OUT/compare.json, OUT/compare.csv and OUT/compare.html."})
public final class EvalCompareCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "A", description = "Results folder of run A (e.g. the base model).")
    Path a;

    @Parameters(index = "1", paramLabel = "B", description = "Results folder of run B (e.g. the fine-tuned model); differences are B − A.")
    Path b;

    @Option(names = "--names", defaultValue = "base,fine-tuned", paramLabel = "A,B", description = "Names of the two runs (default: ${DEFAULT-VALUE}).")
    String names;

    @Option(names = "--out", paramLabel = "DIR", description = "Write compare.json, compare.csv and compare.html here.")
    Path out;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        String[] n = names.split(",", -1);
        if (n.length != 2 || n[0].isBlank() || n[1].isBlank()) throw Usage.error(spec, "--names needs two names separated by a comma, got '" + names + "'");
        Comparison c = Comparison.of(a, n[0].strip(), b, n[1].strip());
        System.out.print(c.toText());
        if (out != null) {
            c.write(out);
            System.out.println(out.resolve("compare.html"));
        }
        return 0;
    }
}
