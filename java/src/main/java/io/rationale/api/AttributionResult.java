package io.rationale.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Method;
import io.rationale.attribution.TargetSpec;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The attribution of one input: what {@code rationale attribute --json} prints, {@link Rationale#attribute}
 * returns and the service's {@code /v1/attributions} answers (one object per input). Non-finite numbers are
 * written as null.
 *
 * <p>One method: {@code method} is its name and {@code scores}, {@code words}, {@code seconds}, {@code extras}
 * are its own. Several methods: {@code method} is {@code "all"}, {@code methods} maps each name (in the order run)
 * to its {@link MethodScores}, {@code shared} lists the computations done once ({@code forward},
 * {@code gradient_backward}) and {@code seconds} is the whole run's wall time. Token and word spans are UTF-16
 * char offsets into {@code text}.
 *
 * @param method         the method's name, or {@code all}
 * @param text           the text the spans index (absent for ids without a tokenizer)
 * @param studyStart     first char of the text under study (with text)
 * @param studyEnd       end char of the text under study (with text)
 * @param ids            the input ids
 * @param tokens         the input tokens
 * @param targetId       the explained token
 * @param targetText     its text (when the tokenizer knows the id)
 * @param targetKind     {@code logit}, {@code logprob} or {@code contrast}
 * @param targetLogit    the target token's logit at the last position
 * @param targetValue    f: the logit, log-probability or logit difference
 * @param foilId         the foil of a contrast (else absent)
 * @param foilText       its text (when the tokenizer knows the id)
 * @param targetIsArgmax whether the target was chosen as the model's argmax
 * @param aggregate      how token scores became word scores ({@code sum}, {@code max_abs})
 * @param scores         one method: one score per input token
 * @param words          one method: the words under study with their scores
 * @param methods        several methods: each one's scores, words, seconds and extras
 * @param shared         several methods: the shared computations
 * @param seconds        one method: its wall time; several: the whole run's
 * @param extras         one method: its method-specific values
 * @param device         what ran it
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"method", "text", "study_start", "study_end", "ids", "tokens", "target_id", "target_text", "target_kind",
        "target_logit", "target_value", "foil_id", "foil_text", "target_is_argmax", "aggregate", "scores", "words", "methods",
        "shared", "seconds", "extras", "device"})
public record AttributionResult(
        String method,
        @JsonInclude(JsonInclude.Include.NON_NULL) String text,
        @JsonInclude(JsonInclude.Include.NON_NULL) Integer studyStart,
        @JsonInclude(JsonInclude.Include.NON_NULL) Integer studyEnd,
        int[] ids,
        List<TokenInfo> tokens,
        int targetId,
        @JsonInclude(JsonInclude.Include.NON_NULL) String targetText,
        String targetKind,
        @JsonSerialize(using = RationaleJson.FiniteDouble.class) Double targetLogit,
        @JsonSerialize(using = RationaleJson.FiniteDouble.class) Double targetValue,
        @JsonInclude(JsonInclude.Include.NON_NULL) Integer foilId,
        @JsonInclude(JsonInclude.Include.NON_NULL) String foilText,
        boolean targetIsArgmax,
        String aggregate,
        @JsonInclude(JsonInclude.Include.NON_NULL) @JsonSerialize(using = RationaleJson.FiniteDoubles.class) double[] scores,
        @JsonInclude(JsonInclude.Include.NON_NULL) List<WordScore> words,
        @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, MethodScores> methods,
        @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, SharedStep> shared,
        double seconds,
        @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, Object> extras,
        @JsonInclude(JsonInclude.Include.NON_NULL) String device) {

    /**
     * One input token.
     *
     * @param index   position in the input
     * @param id      token id
     * @param piece   vocabulary string ("" without a tokenizer)
     * @param text    the input text it covers
     * @param start   first UTF-16 char (inclusive)
     * @param end     end char (exclusive); start == end for BOS/EOS
     * @param special whether it is a special token
     * @param inStudy whether it covers text under study
     * @param words   indices of the words it belongs to
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonPropertyOrder({"index", "id", "piece", "text", "start", "end", "special", "in_study", "words"})
    public record TokenInfo(int index, int id, String piece, String text, int start, int end, boolean special, boolean inStudy,
                            int[] words) {}

    /**
     * One word of the text under study.
     *
     * @param index  word index
     * @param text   the word
     * @param start  first UTF-16 char in the input text
     * @param end    end char (exclusive)
     * @param score  its score (null when undefined)
     * @param tokens indices of its tokens
     */
    @JsonPropertyOrder({"index", "text", "start", "end", "score", "tokens"})
    public record WordScore(int index, String text, int start, int end,
                            @JsonSerialize(using = RationaleJson.FiniteDouble.class) Double score, int[] tokens) {}

    /**
     * One method's part of a several-method result.
     *
     * @param scores  one score per input token
     * @param words   the words under study with their scores
     * @param seconds this method's own work, without the shared steps
     * @param extras  method-specific values
     */
    @JsonPropertyOrder({"scores", "words", "seconds", "extras"})
    public record MethodScores(@JsonSerialize(using = RationaleJson.FiniteDoubles.class) double[] scores, List<WordScore> words,
                               double seconds, Map<String, Object> extras) {}

    /**
     * A computation done once for several methods.
     *
     * @param seconds its wall time
     * @param usedBy  the methods that read it
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonPropertyOrder({"seconds", "used_by"})
    public record SharedStep(double seconds, List<String> usedBy) {}

    /** The token scores of one method (of the only one, or of {@code name} in a several-method result). */
    public double[] scores(String name) {
        if (methods == null) {
            if (!method.equals(name)) throw new IllegalArgumentException("method " + name + " was not run (ran " + method + ")");
            return scores;
        }
        MethodScores m = methods.get(name);
        if (m == null) throw new IllegalArgumentException("method " + name + " was not run (ran " + methods.keySet() + ")");
        return m.scores();
    }

    /** The word scores of one method, in word order. */
    public double[] wordScores(String name) {
        List<WordScore> ws = methods == null ? (method.equals(name) ? words : null) : methods.containsKey(name) ? methods.get(name).words() : null;
        if (ws == null) throw new IllegalArgumentException("method " + name + " was not run");
        double[] out = new double[ws.size()];
        for (int i = 0; i < out.length; i++) out[i] = ws.get(i).score() == null ? Double.NaN : ws.get(i).score();
        return out;
    }

    /** This one-method result with other tokens and words (the words re-indexed, say, and the tokens' word indices too). */
    public AttributionResult withWords(List<TokenInfo> t, List<WordScore> w) {
        if (methods != null) throw new IllegalStateException("a several-method result keeps its words per method");
        return new AttributionResult(method, text, studyStart, studyEnd, ids, List.copyOf(t), targetId, targetText, targetKind, targetLogit,
                targetValue, foilId, foilText, targetIsArgmax, aggregate, scores, List.copyOf(w), methods, shared, seconds, extras, device);
    }

    /** This one-method result with other token scores (its words and everything else kept). */
    public AttributionResult withScores(double[] s) {
        if (methods != null) throw new IllegalStateException("a several-method result keeps its scores per method");
        if (s.length != ids.length) throw new IllegalArgumentException(s.length + " token scores for " + ids.length + " tokens");
        return new AttributionResult(method, text, studyStart, studyEnd, ids, tokens, targetId, targetText, targetKind, targetLogit,
                targetValue, foilId, foilText, targetIsArgmax, aggregate, s.clone(), words, methods, shared, seconds, extras, device);
    }

    /** This result with {@code device} set. */
    public AttributionResult withDevice(String d) {
        return new AttributionResult(method, text, studyStart, studyEnd, ids, tokens, targetId, targetText, targetKind, targetLogit,
                targetValue, foilId, foilText, targetIsArgmax, aggregate, scores, words, methods, shared, seconds, extras, d);
    }

    /**
     * The result of a run.
     *
     * @param tok    the model's tokenizer, for {@code target_text}/{@code foil_text} (null: left out)
     * @param device null to leave it out
     */
    public static AttributionResult of(AttributionSet s, Tokenizer tok, String device) {
        AttributionInput in = s.input();
        Attribution first = s.methods().values().iterator().next();
        Attribution.ResolvedTarget rt = s.target();
        TargetSpec spec = rt.spec();
        boolean contrast = spec.kind() == TargetSpec.Kind.CONTRAST;
        String targetText = tok != null && spec.tokenId() < tok.vocabSize() ? tok.displayText(spec.tokenId()) : null;
        String foilText = contrast && tok != null && spec.foilId() < tok.vocabSize() ? tok.displayText(spec.foilId()) : null;
        List<TokenInfo> tokens = new ArrayList<>(first.tokens().size());
        for (Attribution.TokenInfo t : first.tokens())
            tokens.add(new TokenInfo(t.index(), t.id(), t.piece(), t.text(), t.start(), t.end(), t.special(), t.inStudy(), t.words()));
        boolean one = s.methods().size() == 1;
        Map<String, MethodScores> methods = null;
        Map<String, SharedStep> shared = null;
        if (!one) {
            methods = new LinkedHashMap<>();
            for (Attribution a : s.methods().values())
                methods.put(a.method().cliName(), new MethodScores(a.scores(), words(a), a.seconds(), extras(a.extras())));
            shared = new LinkedHashMap<>();
            for (AttributionSet.SharedStep st : s.shared())
                shared.put(st.name(), new SharedStep(st.seconds(), st.usedBy().stream().map(Method::cliName).toList()));
            methods = Collections.unmodifiableMap(methods);
            shared = Collections.unmodifiableMap(shared);
        }
        return new AttributionResult(one ? first.method().cliName() : "all",
                in.hasText() ? in.text() : null, in.hasText() ? in.studyStart() : null, in.hasText() ? in.studyEnd() : null,
                first.ids(), List.copyOf(tokens), spec.tokenId(), targetText, spec.kind().cliName(), rt.logit(), rt.value(),
                contrast ? spec.foilId() : null, foilText, rt.argmax(), first.aggregate().cliName(),
                one ? first.scores() : null, one ? words(first) : null, methods, shared,
                one ? first.seconds() : s.seconds(), one ? extras(first.extras()) : null, device);
    }

    private static List<WordScore> words(Attribution a) {
        List<WordScore> out = new ArrayList<>(a.words().size());
        for (Attribution.WordScore w : a.words()) out.add(new WordScore(w.index(), w.text(), w.start(), w.end(), w.score(), w.tokens()));
        return List.copyOf(out);
    }

    /** Extras with non-finite numbers as null (insertion order kept). */
    private static Map<String, Object> extras(Map<String, Object> x) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (var e : x.entrySet()) out.put(e.getKey(), e.getValue() instanceof Double d ? RationaleJson.finite(d) : e.getValue());
        return Collections.unmodifiableMap(out);
    }
}
