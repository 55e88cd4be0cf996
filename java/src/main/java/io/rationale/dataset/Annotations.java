package io.rationale.dataset;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The human rationales of one example: for each annotator and each text field, the set of marked WORD indices
 * ({@link Words}). {@code words.get(a).get(f)} is annotator {@code a}'s rationale in field {@code f}.
 *
 * <p>{@link #present()} says whether the example has annotators at all; datasets without human rationales
 * (e-SNLI plain, FEVER claims, biosbias.csv) have {@link #none()} and serve for accuracy/faithfulness only.
 * An annotator who marked nothing in a field has an empty set there (that is a rationale, not a missing one).
 *
 * @param annotators annotator ids, distinct, in the dataset's order (documented per reader)
 * @param words      per annotator, per field, the sorted marked word indices
 */
public record Annotations(List<String> annotators, List<List<SortedSet<Integer>>> words) {
    public Annotations {
        if (annotators.size() != words.size()) throw new IllegalArgumentException("one word-set list per annotator expected");
        if (new HashSet<>(annotators).size() != annotators.size()) throw new IllegalArgumentException("duplicate annotator ids " + annotators);
        annotators = List.copyOf(annotators);
        List<List<SortedSet<Integer>>> copy = new ArrayList<>();
        int fields = -1;
        for (List<SortedSet<Integer>> perField : words) {
            if (fields >= 0 && perField.size() != fields) throw new IllegalArgumentException("annotators cover different numbers of fields");
            fields = perField.size();
            List<SortedSet<Integer>> c = new ArrayList<>();
            for (SortedSet<Integer> s : perField) c.add(frozen(s));
            copy.add(Collections.unmodifiableList(c));
        }
        words = Collections.unmodifiableList(copy);
    }

    private static final Annotations NONE = new Annotations(List.of(), List.of());

    /** No annotators. */
    public static Annotations none() { return NONE; }

    /** Whether the example has at least one annotator. */
    public boolean present() { return !annotators.isEmpty(); }

    public int count() { return annotators.size(); }

    /** Annotator {@code annotator}'s (0-based position) rationale in field {@code field}. */
    public SortedSet<Integer> of(int annotator, int field) { return words.get(annotator).get(field); }

    /**
     * The aggregated rationale of field {@code field}: empty Optional when there are no annotators or the chosen
     * annotator is not among them (see {@link Aggregation} for the rules).
     */
    public Optional<SortedSet<Integer>> aggregate(int field, Aggregation how) {
        if (!present()) return Optional.empty();
        return switch (how) {
            case Aggregation.Union u -> Optional.of(votes(field, 1));
            case Aggregation.Majority m -> Optional.of(votes(field, annotators.size() / 2 + 1));
            case Aggregation.Annotator a -> {
                int i = annotators.indexOf(a.id());
                yield i < 0 ? Optional.empty() : Optional.of(of(i, field));
            }
            case Aggregation.AnnotatorIndex a ->
                    a.index() < annotators.size() ? Optional.of(of(a.index(), field)) : Optional.empty();
        };
    }

    /** Words marked by at least {@code min} annotators ({@code min = n/2+1} is "more than half" for every n). */
    private SortedSet<Integer> votes(int field, int min) {
        TreeSet<Integer> all = new TreeSet<>();
        for (List<SortedSet<Integer>> a : words) all.addAll(a.get(field));
        TreeSet<Integer> out = new TreeSet<>();
        for (int w : all) {
            int v = 0;
            for (List<SortedSet<Integer>> a : words) if (a.get(field).contains(w)) v++;
            if (v >= min) out.add(w);
        }
        return Collections.unmodifiableSortedSet(out);
    }

    static SortedSet<Integer> frozen(Set<Integer> s) {
        return Collections.unmodifiableSortedSet(new TreeSet<>(s));
    }
}
