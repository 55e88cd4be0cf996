package io.rationale.engine;

/**
 * How the next token is chosen. {@code temperature <= 0} is greedy (argmax); otherwise tokens are drawn from
 * softmax(logits / temperature) restricted to the top-p nucleus: the most probable tokens, in order, until their
 * probability mass reaches {@code topP} (at least one token). Draws are deterministic for a given seed.
 */
public record SamplingParams(double temperature, double topP, long seed) {
    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }

    /** Argmax decoding. */
    public static SamplingParams greedy() { return new SamplingParams(0, 1, 0); }

    public boolean isGreedy() { return temperature == 0; }
}
