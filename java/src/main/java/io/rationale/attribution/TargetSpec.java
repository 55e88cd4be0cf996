package io.rationale.attribution;

import io.rationale.engine.Target;

import java.util.Locale;

/**
 * The scalar f being explained, read at the LAST position of the input: a logit, a log-probability, or the
 * contrast {@code logit(token) − logit(foil)} (equal to the log-probability difference, so a foil makes the kind
 * {@link Kind#CONTRAST} whatever logit/logprob was asked for).
 *
 * @param kind    what is read
 * @param tokenId the target token, or {@link #ARGMAX} for the model's argmax at the last position
 * @param foilId  the foil token for {@link Kind#CONTRAST}, else -1
 */
public record TargetSpec(Kind kind, int tokenId, int foilId) {
    /** {@code tokenId} placeholder: the model's argmax at the last position (resolved by the {@link Attributor}). */
    public static final int ARGMAX = -1;

    /** What is read at the last position. */
    public enum Kind {
        LOGIT, LOGPROB, CONTRAST;

        public String cliName() { return name().toLowerCase(Locale.ROOT); }

        /** {@code logit} or {@code logprob} (contrast comes from giving a foil). */
        public static Kind parse(String s) {
            String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
            return switch (n) {
                case "logit" -> LOGIT;
                case "logprob", "log_prob", "log-prob" -> LOGPROB;
                default -> throw new IllegalArgumentException("unknown target kind '" + s + "' (valid: logit, logprob)");
            };
        }
    }

    public TargetSpec {
        if (kind == null) throw new IllegalArgumentException("target kind is null");
        if (tokenId < ARGMAX) throw new IllegalArgumentException("target id " + tokenId + " is negative");
        if (kind == Kind.CONTRAST && foilId < 0) throw new IllegalArgumentException("a contrast target needs a foil id >= 0, got " + foilId);
        if (kind != Kind.CONTRAST && foilId != -1) throw new IllegalArgumentException("a foil needs the contrast kind");
        if (kind == Kind.CONTRAST && tokenId == foilId)
            throw new IllegalArgumentException("the foil is the target (id " + foilId + "): logit(target) - logit(foil) is 0 for every input, "
                    + "so every score would be 0; choose another foil");
    }

    /** The logit of the model's argmax at the last position (the default target). */
    public static TargetSpec argmaxLogit() { return new TargetSpec(Kind.LOGIT, ARGMAX, -1); }

    public static TargetSpec logit(int tokenId) { return new TargetSpec(Kind.LOGIT, tokenId, -1); }

    public static TargetSpec logProb(int tokenId) { return new TargetSpec(Kind.LOGPROB, tokenId, -1); }

    public static TargetSpec contrast(int tokenId, int foilId) { return new TargetSpec(Kind.CONTRAST, tokenId, foilId); }

    /** Whether the token is still to be chosen as the argmax. */
    public boolean isArgmax() { return tokenId == ARGMAX; }

    /** This target with the token fixed. */
    public TargetSpec withToken(int id) { return new TargetSpec(kind, id, foilId); }

    /**
     * Checks the ids against the vocabulary.
     *
     * @throws IllegalArgumentException "target id N is outside the vocabulary [0, V)" (or foil id)
     */
    public void checkVocabulary(int vocabSize) {
        if (!isArgmax() && tokenId >= vocabSize)
            throw new IllegalArgumentException("target id " + tokenId + " is outside the vocabulary [0, " + vocabSize + ")");
        if (kind == Kind.CONTRAST && foilId >= vocabSize)
            throw new IllegalArgumentException("foil id " + foilId + " is outside the vocabulary [0, " + vocabSize + ")");
    }

    /** The engine's target for a backward pass (the token must be resolved). */
    public Target toEngine() {
        if (isArgmax()) throw new IllegalStateException("target token not resolved");
        return switch (kind) {
            case LOGIT -> new Target.Logit(tokenId);
            case LOGPROB -> new Target.LogProb(tokenId);
            case CONTRAST -> new Target.Contrast(tokenId, foilId);
        };
    }

    /** f of the last position's logits, in double: the engine's {@link Target#value} of {@link #toEngine()}. */
    public double value(float[] lastLogits) {
        if (isArgmax()) throw new IllegalStateException("target token not resolved");
        return toEngine().value(lastLogits);
    }
}
