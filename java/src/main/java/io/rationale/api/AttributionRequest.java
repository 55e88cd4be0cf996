package io.rationale.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * One attribution to compute: the options of {@code rationale attribute}, under the same names (snake_case in JSON,
 * e.g. {@code target_text}). Every field but the input and the methods may be null for its default.
 *
 * <pre>{@code
 * AttributionRequest r = AttributionRequest.of("Once upon a time there was a", "input_x_gradient", "attnlrp")
 *         .withTargetText(" little");
 * }</pre>
 *
 * @param text          the input text (or {@code ids})
 * @param ids           token ids used as given (or {@code text})
 * @param chat          render {@code text} as a user message through the chat template (default false)
 * @param system        system message with {@code chat} (without chat it is refused)
 * @param studyStart    first char of the text under study in {@code text} (with {@code chat}: in the user text; default 0)
 * @param studyEnd      end char (exclusive) of the text under study (default: the end)
 * @param methods       method names ({@code saliency}, ..., or {@code all})
 * @param targetId      the target token (default: the model's argmax at the last position)
 * @param targetText    the target as text, exactly one token (tried with and without a leading space)
 * @param targetKind    {@code logit} (default) or {@code logprob}
 * @param foilId        a foil token: explain logit(target) − logit(foil)
 * @param foilText      a foil as text (one token)
 * @param aggregate     token scores to word scores: {@code sum} (default) or {@code max_abs}
 * @param steps         integrated gradients steps (default 32)
 * @param igRule        integrated gradients nodes: {@code gauss-legendre} (default) or {@code midpoint}
 * @param baselineToken integrated gradients baseline token (default: the zero embedding)
 * @param igKeepSpecial keep special tokens at their real embedding in integrated gradients (default false)
 * @param seed          seed of the random method (default 0)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AttributionRequest(String text, int[] ids, Boolean chat, String system, Integer studyStart, Integer studyEnd,
                                 List<String> methods, Integer targetId, String targetText, String targetKind, Integer foilId,
                                 String foilText, String aggregate, Integer steps, String igRule, Integer baselineToken,
                                 Boolean igKeepSpecial, Long seed) {

    /** A text with the given methods, everything else by default. */
    public static AttributionRequest of(String text, String... methods) {
        return new AttributionRequest(text, null, null, null, null, null, methods(methods), null, null, null, null, null, null,
                null, null, null, null, null);
    }

    /** Token ids with the given methods, everything else by default. */
    public static AttributionRequest ofIds(int[] ids, String... methods) {
        if (ids == null) throw new IllegalArgumentException("ids is null");
        return new AttributionRequest(null, ids.clone(), null, null, null, null, methods(methods), null, null, null, null, null,
                null, null, null, null, null, null);
    }

    /** The method names as a list, refusing null (a null array or name). */
    private static List<String> methods(String... m) {
        if (m == null) throw new IllegalArgumentException("methods is null");
        for (String x : m) if (x == null) throw new IllegalArgumentException("methods: a method name is null");
        return List.of(m);
    }

    public AttributionRequest withMethods(String... m) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods(m), targetId, targetText, targetKind,
                foilId, foilText, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withChat(String systemMessage) {
        return new AttributionRequest(text, ids, true, systemMessage, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    /** The system message (with {@code chat}; {@link #withChat} sets both). */
    public AttributionRequest withSystem(String systemMessage) {
        return new AttributionRequest(text, ids, chat, systemMessage, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withStudyRange(int start, int end) {
        return new AttributionRequest(text, ids, chat, system, start, end, methods, targetId, targetText, targetKind, foilId,
                foilText, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withTargetId(int id) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, id, null, targetKind, foilId,
                foilText, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withTargetText(String t) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, null, t, targetKind, foilId, foilText,
                aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withTargetKind(String kind) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, kind, foilId,
                foilText, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withFoilId(int id) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind, id,
                null, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withFoilText(String t) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind, null,
                t, aggregate, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withAggregate(String a) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, a, steps, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withSteps(int k) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, aggregate, k, igRule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withIgRule(String rule) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, aggregate, steps, rule, baselineToken, igKeepSpecial, seed);
    }

    public AttributionRequest withBaselineToken(int id) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, aggregate, steps, igRule, id, igKeepSpecial, seed);
    }

    public AttributionRequest withIgKeepSpecial(boolean keep) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, aggregate, steps, igRule, baselineToken, keep, seed);
    }

    public AttributionRequest withSeed(long s) {
        return new AttributionRequest(text, ids, chat, system, studyStart, studyEnd, methods, targetId, targetText, targetKind,
                foilId, foilText, aggregate, steps, igRule, baselineToken, igKeepSpecial, s);
    }
}
