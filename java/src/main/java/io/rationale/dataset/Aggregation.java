package io.rationale.dataset;

/**
 * How the human rationales of several annotators of one example become one word set
 * ({@link Annotations#aggregate(int, Aggregation)}).
 * <ul>
 *   <li>{@link #UNION}: a word is in the rationale when at least one annotator marked it;</li>
 *   <li>{@link #MAJORITY} (the default): when MORE than half of the example's annotators marked it
 *       ({@code 2·votes > annotators}; with 2 annotators both, with 3 two, with 4 three);</li>
 *   <li>{@link Annotator}: one annotator chosen by id (e-SNLI: "1".."3", MedicalBios: "annotator-07");</li>
 *   <li>{@link AnnotatorIndex}: one annotator chosen by 0-based position in {@link Annotations#annotators()}.</li>
 * </ul>
 * An example without annotators, or without the chosen one, has no aggregated rationale.
 */
public sealed interface Aggregation {
    record Union() implements Aggregation {}

    record Majority() implements Aggregation {}

    record Annotator(String id) implements Aggregation {
        public Annotator {
            if (id == null || id.isEmpty()) throw new IllegalArgumentException("empty annotator id");
        }
    }

    record AnnotatorIndex(int index) implements Aggregation {
        public AnnotatorIndex {
            if (index < 0) throw new IllegalArgumentException("negative annotator index " + index);
        }
    }

    Aggregation UNION = new Union();
    Aggregation MAJORITY = new Majority();
    Aggregation DEFAULT = MAJORITY;

    /** Parses {@code union}, {@code majority}, {@code annotator:<id>} or {@code index:<n>} (0-based). */
    static Aggregation parse(String s) {
        if (s == null) throw new IllegalArgumentException("no aggregation given");
        if (s.equals("union")) return UNION;
        if (s.equals("majority")) return MAJORITY;
        if (s.startsWith("annotator:")) return new Annotator(s.substring("annotator:".length()));
        if (s.startsWith("index:")) {
            try {
                return new AnnotatorIndex(Integer.parseInt(s.substring("index:".length())));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad annotator index in '" + s + "'");
            }
        }
        throw new IllegalArgumentException("unknown aggregation '" + s + "' (union, majority, annotator:<id>, index:<n>)");
    }
}
