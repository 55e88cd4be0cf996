package io.rationale.model;

import io.rationale.weights.WeightsException;

import java.util.List;

/**
 * A checkpoint that does not match its config.json. The message is one line (the first problem and a count);
 * {@link #problems()} has them all.
 */
public class CheckpointMismatchException extends WeightsException {
    private final List<CheckpointValidator.Problem> problems;

    public CheckpointMismatchException(String message, List<CheckpointValidator.Problem> problems) {
        super(message);
        this.problems = List.copyOf(problems);
    }

    public List<CheckpointValidator.Problem> problems() { return problems; }
}
