package io.rationale.dataset;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * e-SNLI CSV with highlights (kind {@code esnli}), e.g. {@code esnli_train.csv} or its 90-row sample.
 *
 * <p>Columns used: {@code pairID} (the id), {@code gold_label}, {@code Sentence1} (field {@code premise}),
 * {@code Sentence2} (field {@code hypothesis}), and for each annotator {@code i = 1, 2, 3, ...}
 * {@code Sentence1_marked_i}, {@code Sentence2_marked_i} (the sentence with highlighted words wrapped in
 * {@code *}) and {@code Explanation_i} (kept in meta as {@code explanation_i}). The {@code *_Highlighted_i}
 * index columns are NOT used: in the released files some indices carry a spurious {@code 2000+} offset
 * (e.g. {@code "2000,1,2"} for words 0, 1, 2).
 *
 * <p>Annotators: annotator {@code i} (id {@code "i"}) exists for a row when at least one of its two marked cells
 * is present; a cell is absent when empty or {@code NA}. When only one of the two is present, the other sentence
 * counts as unmarked (empty set) for that annotator.
 *
 * <p>Marks: every {@code *} toggles "inside a highlight"; the characters between an opening and a closing
 * {@code *} are highlighted, so {@code *learning*.}, {@code *team.*} and a multi-word {@code *to buy*} all work.
 * A word (of the unmarked sentence) is in the rationale when any of its characters is highlighted. The marked
 * sentence without its {@code *} must have the same words as {@code Sentence1}/{@code Sentence2} (compared word by
 * word, because some marked cells carry an extra leading space); an odd number of {@code *} or different words
 * skip the row with the reason.
 *
 * <p>Labels: {@code [entailment, neutral, contradiction]}; SNLI's {@code -} (no annotator consensus) skips the
 * row with reason {@code gold_label '-' (no consensus)}.
 */
public final class EsnliCsvReader {
    private EsnliCsvReader() {}

    public static final List<String> LABELS = List.of("entailment", "neutral", "contradiction");

    public static Dataset read(Path file) {
        String[] required = {"pairID", "gold_label", "Sentence1", "Sentence2", "Sentence1_marked_1", "Sentence2_marked_1"};
        CsvRows.Table t = CsvRows.read(file, header -> {
            for (String c : required) {
                if (!header.contains(c)) throw new DatasetException(file + ": not an e-SNLI CSV with highlights (no column '" + c + "')");
            }
        });
        int id = t.column("pairID"), gold = t.column("gold_label"), s1 = t.column("Sentence1"), s2 = t.column("Sentence2");
        List<int[]> markCols = new ArrayList<>();
        List<Integer> explCols = new ArrayList<>();
        for (int i = 1; t.column("Sentence1_marked_" + i) >= 0 || t.column("Sentence2_marked_" + i) >= 0; i++) {
            markCols.add(new int[] {t.column("Sentence1_marked_" + i), t.column("Sentence2_marked_" + i)});
            explCols.add(t.column("Explanation_" + i));
        }
        String name = file.getFileName().toString();
        Collector c = new Collector();
        for (int r = 0; r < t.rows().size(); r++) {
            String[] row = t.rows().get(r);
            String pairId = CsvRows.cell(row, id);
            String where = name + " row " + (r + 1);
            if (row.length != t.header().size()) {
                c.skip(pairId, where, row.length + " columns, the header has " + t.header().size());
                continue;
            }
            c.add(pairId, where, () -> example(row, pairId, gold, s1, s2, markCols, explCols));
        }
        return c.build("esnli", file, LABELS);
    }

    private static Example example(String[] row, String pairId, int gold, int s1, int s2, List<int[]> markCols, List<Integer> explCols) {
        String label = CsvRows.cell(row, gold);
        if ("-".equals(label)) throw new SkipException("gold_label '-' (no consensus)");
        TextField premise = TextField.of("premise", CsvRows.cell(row, s1));
        TextField hypothesis = TextField.of("hypothesis", CsvRows.cell(row, s2));
        List<String> ids = new ArrayList<>();
        List<List<SortedSet<Integer>>> words = new ArrayList<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (int a = 0; a < markCols.size(); a++) {
            String m1 = CsvRows.cell(row, markCols.get(a)[0]);
            String m2 = CsvRows.cell(row, markCols.get(a)[1]);
            if (absent(m1) && absent(m2)) continue;
            String annotator = String.valueOf(a + 1);
            ids.add(annotator);
            words.add(List.of(
                    absent(m1) ? new TreeSet<>() : marked(m1, premise, "Sentence1_marked_" + annotator),
                    absent(m2) ? new TreeSet<>() : marked(m2, hypothesis, "Sentence2_marked_" + annotator)));
            String expl = CsvRows.cell(row, explCols.get(a));
            if (!absent(expl)) meta.put("explanation_" + annotator, expl);
        }
        return new Example(pairId, List.of(premise, hypothesis), label, LABELS, null, new Annotations(ids, words), meta);
    }

    static boolean absent(String cell) {
        return cell == null || cell.isBlank() || cell.strip().equals("NA");
    }

    /** The word indices of {@code field} highlighted by {@code *...*} in {@code marked}. */
    static SortedSet<Integer> marked(String marked, TextField field, String column) {
        StringBuilder plain = new StringBuilder(marked.length());
        List<int[]> spans = new ArrayList<>();
        boolean inside = false;
        int open = 0;
        for (int i = 0; i < marked.length(); i++) {
            char ch = marked.charAt(i);
            if (ch == '*') {
                if (inside) spans.add(new int[] {open, plain.length()});
                else open = plain.length();
                inside = !inside;
            } else {
                plain.append(ch);
            }
        }
        if (inside) throw new SkipException(column + " has an unbalanced '*'");
        List<Word> plainWords = Words.split(plain.toString());
        if (!Words.texts(plainWords).equals(Words.texts(field.words()))) {
            throw new SkipException(column + " without its '*' marks differs from the " + field.name());
        }
        TreeSet<Integer> out = new TreeSet<>();
        for (int[] s : spans) out.addAll(Words.overlapping(plainWords, s[0], s[1]));
        return out;
    }
}
