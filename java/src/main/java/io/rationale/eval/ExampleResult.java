package io.rationale.eval;

import java.util.List;
import java.util.Map;

/**
 * Everything an evaluation run records about one example: one line of {@code examples.jsonl}, written as soon as
 * the example finishes (so a killed run resumes after the last complete line). The evaluator
 * ({@link io.rationale.eval} core) produces it; the runner aggregates it into {@code summary.json}, {@code
 * summary.csv} and {@code report.html}. Field names are the JSON keys (Jackson, snake_case not applied).
 *
 * <p>Word indices are global over the example's fields in prompt order ({@code Example.wordOffset(field)} + index
 * within the field); {@code words} lists them so the report can draw a heatmap.
 *
 * @param index       position of the example in the dataset (resume key together with id)
 * @param id          the example's id
 * @param skipped     null, or why the example was not evaluated (then every other field may be null)
 * @param words       the example's words in order (global indexing), with their field name
 * @param gold        gold label
 * @param predicted   predicted label: argmax over the label words' logits at the answer position
 * @param labelProbs  label → probability (softmax over the label words' logits only)
 * @param human       human rationale word indices (aggregated over annotators), or null when the dataset has none
 * @param methods     method name (attribution methods as the CLI spells them, prompting methods {@code prompt_guided},
 *                    {@code prompt_unbound}, and the baseline {@code random}) → its outcome
 * @param seconds     wall time of the whole example
 * @param attributionTarget what the attribution methods explained (null without attribution methods, and in lines
 *                    written before it was recorded)
 * @param flipPath    how the flip evaluation scored the masked variants: {@value #FLIP_TOKEN_LEVEL} (built from their
 *                    token-level description and scored by the backend, on a device backend on the device) or
 *                    {@value #FLIP_HOST} (tokenized and scored one by one on the host); null when no variant was
 *                    scored, and in lines written before it was recorded. The summary counts it from these lines, so
 *                    the counts hold across resumed and distributed runs.
 */
public record ExampleResult(int index, String id, String skipped, List<WordRef> words, String gold, String predicted,
                            Map<String, Double> labelProbs, List<Integer> human, Map<String, MethodResult> methods,
                            double seconds, AttributionTarget attributionTarget, String flipPath) {

    /** {@link #flipPath()} values. */
    public static final String FLIP_TOKEN_LEVEL = "token_level", FLIP_HOST = "host";

    /** A result without {@link #flipPath()}. */
    public ExampleResult(int index, String id, String skipped, List<WordRef> words, String gold, String predicted,
                         Map<String, Double> labelProbs, List<Integer> human, Map<String, MethodResult> methods,
                         double seconds, AttributionTarget attributionTarget) {
        this(index, id, skipped, words, gold, predicted, labelProbs, human, methods, seconds, attributionTarget, null);
    }

    /** A result without {@link #attributionTarget()}. */
    public ExampleResult(int index, String id, String skipped, List<WordRef> words, String gold, String predicted,
                         Map<String, Double> labelProbs, List<Integer> human, Map<String, MethodResult> methods, double seconds) {
        this(index, id, skipped, words, gold, predicted, labelProbs, human, methods, seconds, null, null);
    }

    /**
     * The scalar the attribution methods explained, read at the answer position.
     *
     * @param kind  {@code predicted}: the logit of the predicted label's best token; {@code contrast}: the logit of
     *              the gold label's best token minus that of the foil's (why the label and not the foil, the
     *              question contrastive annotators answered)
     * @param label the label whose token is the target (predicted or gold)
     * @param foil  the foil label ({@code contrast} only, else null)
     */
    public record AttributionTarget(String kind, String label, String foil) {
        public static final String PREDICTED = "predicted", CONTRAST = "contrast";
    }

    /** A word of the example: its field, its text and character span within that field's text. */
    public record WordRef(String field, String text, int start, int end) {}

    /**
     * One rationale method's outcome on one example.
     *
     * @param scores      soft score per word (attribution methods; null for prompting methods)
     * @param ranking     word indices, most important first (ties: lower index first)
     * @param k           rationale size used for alignment and the main flip test (human length by default)
     * @param rationale   the top-k words (prompting: the parsed words)
     * @param raw         prompting methods: the generated answer text; null otherwise
     * @param unparsed    prompting methods: answer words that matched no input word (counted, never dropped)
     * @param alignment   null when the example has no human rationale
     * @param faithfulness masking outcomes
     * @param seconds     time spent computing this method's rationale (not its evaluation)
     * @param completenessError integrated gradients: {@code |Σ scores − (f(x) − f(baseline))| / |f(x) − f(baseline)|}
     *                    over all prompt tokens (null for other methods)
     */
    public record MethodResult(double[] scores, int[] ranking, int k, int[] rationale, String raw, List<String> unparsed,
                               Alignment alignment, Faithfulness faithfulness, double seconds, Double completenessError) {
        /** A result without a completeness error (every method but integrated gradients). */
        public MethodResult(double[] scores, int[] ranking, int k, int[] rationale, String raw, List<String> unparsed,
                            Alignment alignment, Faithfulness faithfulness, double seconds) {
            this(scores, ranking, k, rationale, raw, unparsed, alignment, faithfulness, seconds, null);
        }
    }

    /**
     * Human alignment of one rationale: word P/R/F1, ERASER IOU counts (summed over the fields, and per field: ERASER's
     * instances are (example, field) pairs), AUPRC (NaN when undefined).
     *
     * @param iouByField per field in order, {@code [true positives, predicted spans, human spans]}; null in lines
     *                   written before it was recorded (their summary takes the sums as one instance)
     */
    public record Alignment(double precision, double recall, double f1, int iouTruePositives, int predictedSpans,
                            int humanSpans, double auprc, int[][] iouByField) {
        public Alignment(double precision, double recall, double f1, int iouTruePositives, int predictedSpans, int humanSpans, double auprc) {
            this(precision, recall, f1, iouTruePositives, predictedSpans, humanSpans, auprc, null);
        }

        /** The IOU instances: one per field, or the sums as one where the fields were not recorded. */
        public java.util.List<io.rationale.metrics.IouF1.Instance> iouInstances() {
            if (iouByField == null) return java.util.List.of(new io.rationale.metrics.IouF1.Instance(iouTruePositives, predictedSpans, humanSpans));
            java.util.List<io.rationale.metrics.IouF1.Instance> out = new java.util.ArrayList<>(iouByField.length);
            for (int[] f : iouByField) out.add(new io.rationale.metrics.IouF1.Instance(f[0], f[1], f[2]));
            return out;
        }
    }

    /**
     * Masking outcomes. {@code main} masks the method's rationale of size k; {@code byFraction} masks the top
     * fraction f of words for f in {@link io.rationale.metrics.Faithfulness#AOPC_FRACTIONS} (key: "0.01", ...).
     */
    public record Faithfulness(Masked main, Map<String, Masked> byFraction, double aopcComprehensiveness,
                               double aopcSufficiency) {}

    /**
     * One masked variant pair: the rationale removed (comprehensiveness, flip) and the rationale kept alone
     * (sufficiency).
     *
     * @param k                 words masked
     * @param predictedWithout  label predicted with the rationale removed
     * @param flipped           predictedWithout differs from the original prediction
     * @param comprehensiveness p_y(x) − p_y(x without rationale), y = original prediction
     * @param sufficiency       p_y(x) − p_y(rationale only)
     */
    public record Masked(int k, String predictedWithout, boolean flipped, double comprehensiveness, double sufficiency) {}
}
