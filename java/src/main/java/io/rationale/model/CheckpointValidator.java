package io.rationale.model;

import io.rationale.weights.Checkpoint;
import io.rationale.weights.SafeTensorsHeader;
import io.rationale.weights.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Compares a {@link Checkpoint} with the tensors its {@link ModelConfig} requires
 * ({@link ModelConfig#expectedTensors()}): every expected tensor must be present with the expected shape, and
 * no other tensor may be present except those {@link ModelConfig#isTolerableExtra(String)} allows. Collects all
 * problems rather than stopping at the first.
 */
public final class CheckpointValidator {
    private CheckpointValidator() {}

    /**
     * One disagreement between checkpoint and config.
     *
     * @param tensor  the tensor concerned
     * @param message one line naming the file (the folder for a missing tensor), the tensor, expected and found
     */
    public record Problem(String tensor, String message) {
        @Override
        public String toString() { return message; }
    }

    /** Every problem, expected tensors first (in config order), then unexpected ones (in checkpoint order). */
    public static List<Problem> problems(Checkpoint ckpt, ModelConfig config) {
        List<Problem> out = new ArrayList<>();
        Map<String, long[]> expected = config.expectedTensors();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String name = e.getKey();
            String want = Arrays.toString(e.getValue());
            if (!ckpt.has(name)) {
                out.add(new Problem(name, ckpt.dir() + ": tensor " + name + " is missing, config.json expects shape " + want));
                continue;
            }
            Tensor t = ckpt.tensor(name);
            if (!Arrays.equals(t.shape(), e.getValue()))
                out.add(new Problem(name, where(ckpt, name) + ": tensor " + name + " has shape " + Arrays.toString(t.shape())
                        + ", config.json expects " + want));
        }
        for (String name : ckpt.names()) {
            if (expected.containsKey(name) || config.isTolerableExtra(name)) continue;
            out.add(new Problem(name, where(ckpt, name) + ": tensor " + SafeTensorsHeader.printable(name) + " " + Arrays.toString(ckpt.tensor(name).shape())
                    + " is not expected by config.json (" + config.architecture() + ", " + config.numLayers() + " layers)"));
        }
        return out;
    }

    /**
     * Throws when there is any problem: a {@link CheckpointMismatchException} whose one-line message is the
     * first problem followed by "(and N more problems)", and whose {@code problems()} lists them all.
     */
    public static void validate(Checkpoint ckpt, ModelConfig config) {
        List<Problem> problems = problems(ckpt, config);
        if (!problems.isEmpty()) throw new CheckpointMismatchException(summary(problems), problems);
    }

    /** The first problem, and how many more there are, on one line. */
    public static String summary(List<Problem> problems) {
        if (problems.isEmpty()) return "ok";
        String first = problems.getFirst().message();
        int more = problems.size() - 1;
        if (more == 0) return first;
        return first + " (and " + more + " more problem" + (more == 1 ? "" : "s") + ")";
    }

    private static String where(Checkpoint ckpt, String name) {
        Path f = ckpt.fileOf(name);
        return f == null ? ckpt.dir().toString() : f.toString();
    }
}
