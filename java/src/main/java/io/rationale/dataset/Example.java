package io.rationale.dataset;

import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * One classification example.
 *
 * <p>The constructor is the single place where an example is validated; every reader turns its
 * {@link IllegalArgumentException} into a {@link Skipped} entry with the message as the reason. It checks: a
 * non-blank id; at least one field, distinct field names, every field with at least one word; a non-empty label
 * set without duplicates that contains the gold label (and the foil, which must differ from the label); human
 * rationales covering every field with word indices in range.
 *
 * @param id          the example's id in its dataset (documented per reader)
 * @param fields      the texts under study, in prompt order (e.g. premise, hypothesis)
 * @param label       the gold label, one of {@code labels}
 * @param labels      the dataset's label set, in a fixed order
 * @param foil        the contrast label (contrastive MedicalBios), or null
 * @param annotations human rationales (possibly {@link Annotations#none()})
 * @param meta        extra string facts the reader kept (gender, explanation, query, ...)
 */
public record Example(String id, List<TextField> fields, String label, List<String> labels, String foil,
                      Annotations annotations, Map<String, String> meta) {
    public Example {
        if (id == null || id.isBlank()) throw new IllegalArgumentException("missing id");
        if (fields == null || fields.isEmpty()) throw new IllegalArgumentException("no text fields");
        fields = List.copyOf(fields);
        HashSet<String> names = new HashSet<>();
        for (TextField f : fields) {
            if (!names.add(f.name())) throw new IllegalArgumentException("duplicate field '" + f.name() + "'");
            if (f.words().isEmpty()) throw new IllegalArgumentException("field '" + f.name() + "' is empty");
        }
        if (labels == null || labels.isEmpty()) throw new IllegalArgumentException("empty label set");
        labels = List.copyOf(labels);
        if (new HashSet<>(labels).size() != labels.size()) throw new IllegalArgumentException("duplicate labels in " + labels);
        if (label == null || label.isEmpty()) throw new IllegalArgumentException("missing label");
        if (!labels.contains(label)) throw new IllegalArgumentException("label '" + label + "' is not in the label set " + labels);
        if (foil != null) {
            if (!labels.contains(foil)) throw new IllegalArgumentException("foil '" + foil + "' is not in the label set " + labels);
            if (foil.equals(label)) throw new IllegalArgumentException("foil equals the label '" + label + "'");
        }
        if (annotations == null) annotations = Annotations.none();
        for (int a = 0; a < annotations.count(); a++) {
            if (annotations.words().get(a).size() != fields.size()) {
                throw new IllegalArgumentException("annotator '" + annotations.annotators().get(a) + "' covers "
                        + annotations.words().get(a).size() + " fields, the example has " + fields.size());
            }
            for (int f = 0; f < fields.size(); f++) {
                int n = fields.get(f).wordCount();
                for (int w : annotations.of(a, f)) {
                    if (w < 0 || w >= n) {
                        throw new IllegalArgumentException("rationale word index " + w + " out of range for field '"
                                + fields.get(f).name() + "' (" + n + " words), annotator '" + annotations.annotators().get(a) + "'");
                    }
                }
            }
        }
        meta = meta == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(meta));
    }

    public Optional<String> foilLabel() { return Optional.ofNullable(foil); }

    /** Whether human rationales exist for this example (alignment metrics apply). */
    public boolean hasRationales() { return annotations.present(); }

    /** Position of the gold label in {@link #labels()}. */
    public int labelIndex() { return labels.indexOf(label); }

    /** Position of the field named {@code name}, or -1. */
    public int fieldIndex(String name) {
        for (int i = 0; i < fields.size(); i++) if (fields.get(i).name().equals(name)) return i;
        return -1;
    }

    /** The field named {@code name}; {@link IllegalArgumentException} when there is none. */
    public TextField field(String name) {
        int i = fieldIndex(name);
        if (i < 0) throw new IllegalArgumentException("example " + id + " has no field '" + name + "'");
        return fields.get(i);
    }

    /** The aggregated human rationale of field {@code field} (see {@link Annotations#aggregate}). */
    public Optional<SortedSet<Integer>> rationale(int field, Aggregation how) {
        return annotations.aggregate(field, how);
    }

    /** Total number of words over all fields. */
    public int totalWords() {
        int n = 0;
        for (TextField f : fields) n += f.wordCount();
        return n;
    }

    /** Index of the first word of field {@code field} when all fields' words are numbered consecutively in field order. */
    public int wordOffset(int field) {
        int n = 0;
        for (int i = 0; i < field; i++) n += fields.get(i).wordCount();
        return n;
    }

    /**
     * The aggregated rationale over all fields, in the consecutive numbering of {@link #wordOffset(int)}
     * (field f's word w becomes {@code wordOffset(f) + w}); empty Optional as for {@link #rationale}.
     */
    public Optional<SortedSet<Integer>> rationaleAllFields(Aggregation how) {
        if (!annotations.present()) return Optional.empty();
        TreeSet<Integer> out = new TreeSet<>();
        for (int f = 0; f < fields.size(); f++) {
            Optional<SortedSet<Integer>> r = annotations.aggregate(f, how);
            if (r.isEmpty()) return Optional.empty();
            int off = wordOffset(f);
            for (int w : r.get()) out.add(off + w);
        }
        return Optional.of(Collections.unmodifiableSortedSet(out));
    }
}
