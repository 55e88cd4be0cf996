package io.rationale.eval;

import java.nio.file.Path;
import java.util.List;

/**
 * A process for the kill-and-resume test: runs {@link EvalRunner} with a slow {@link FakeEvaluator}.
 * Arguments: results folder, dataset spec, delay per example in ms.
 */
public final class SlowEvalMain {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        EvalRunner.Config c = new EvalRunner.Config(out.getParent(), args[1], EvalOptions.defaults(List.of("input_x_gradient", "prompt_guided")),
                null, out, false, 2, EvalRunner.OnError.STOP);
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain().delay(Long.parseLong(args[2])));
        new EvalRunner(c, f, new ProgressPrinter(System.err, ProgressPrinter.Mode.LINES)).run();
    }
}
