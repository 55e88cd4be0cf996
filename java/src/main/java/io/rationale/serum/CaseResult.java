package io.rationale.serum;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * One line of {@code cases.jsonl}: a (question, hint type) case, and for a case whose explanations were generated, one
 * steering setting (α, layers). A case that is not explained has one line with {@code setting} −1; an explained case
 * has one line per setting, each with the same unsteered explanation and its own steered one. Keys are snake_case
 * (docs/serum.md lists them); letters are option letters (A, B, ...), null where nothing was parsed.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record CaseResult(
        int questionIndex, String questionId, String subject, String hint, int setting, Double alpha, String layersSpec,
        int options, String correctOption, String hintedOption,
        String answerWithoutHint, String answerWithHint, String rawAnswerWithoutHint, String rawAnswerWithHint,
        boolean kept, boolean explained, String skipped,
        int[] layers, String layersNote, String relevanceMethod, String normalization, String operator, String rows, Integer targetId,
        int[] span, List<String> spanTokens, int[] hintTokens, double[] relevanceRaw, double[] relevance,
        String explanation, String explanationSerum, int explanationTokens, int explanationSerumTokens,
        Boolean judgeKeyword, Boolean judgeKeywordSerum, Boolean judgeKeywordCorrected, Boolean judgeKeywordCorrectedSerum,
        Boolean judgeLlm, Boolean judgeLlmSerum, String judgeLlmRaw, String judgeLlmSerumRaw, Boolean judgeLlmParsed, Boolean judgeLlmSerumParsed,
        Double distinct1, Double distinct2, Double distinct1Serum, Double distinct2Serum, Double perplexity, Double perplexitySerum,
        double seconds) {

    /** The resume key: question, hint type, setting (−1 for a case without explanations). */
    public record Key(int question, String hint, int setting) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int c = Integer.compare(question, o.question);
            if (c != 0) return c;
            c = hint.compareTo(o.hint);
            return c != 0 ? c : Integer.compare(setting, o.setting);
        }
    }

    @JsonIgnore
    public Key key() { return new Key(questionIndex, hint, setting); }

    /** Whether the case failed ({@code skipped} is {@code error: …}). */
    @JsonIgnore
    public boolean failed() { return skipped != null && skipped.startsWith("error:"); }

    /**
     * Whether the case was skipped before its answers: an answer prompt (without or with the hint) that leaves no
     * room in the model's positions. Such a case has no hinted answer text; a tried one always has (perhaps empty).
     */
    @JsonIgnore
    public boolean unanswered() { return skipped != null && !failed() && rawAnswerWithHint == null; }
}
