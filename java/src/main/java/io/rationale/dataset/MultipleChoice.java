package io.rationale.dataset;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Multiple-choice questions (the Faithfulness Serum's hint-counterfactual evaluation reads them), from
 * {@code KIND:PATH}:
 * <ul>
 * <li>{@code mmlu:PATH}: an MMLU CSV file ({@code question,choice0,choice1,choice2,choice3,answer}, header first,
 *     answer 0-based), or a folder of them (every {@code *.csv}, in file-name order). Id {@code STEM:ROW} (ROW the
 *     0-based data row), subject = the file name without {@code .csv} and a trailing {@code _test}, {@code _dev} or
 *     {@code _val}.</li>
 * <li>{@code jsonl:PATH}: JSON Lines, one question per line:
 *     {@code {"question": "...", "options": ["...", "...", ...], "answer": 1, "id": "q7", "subject": "..."}} with 2
 *     to 26 options; {@code answer} (optional: the questions are about the model's own answers) a 0-based index or an
 *     option letter; {@code id} (default {@code line N}) and {@code subject} optional. Blank lines are ignored.</li>
 * </ul>
 * Every problem stops loading with one line naming the file and the row or line: questions are few and a silent
 * skip would change which cases a run compares.
 */
public final class MultipleChoice {
    private MultipleChoice() {}

    /** Most options a question may have (letters A–Z). */
    public static final int MAX_OPTIONS = 26;

    /**
     * One question.
     *
     * @param answer the correct option (0-based), or -1 when unknown
     */
    public record Question(String id, String subject, String question, List<String> options, int answer) {
        public Question {
            options = List.copyOf(options);
            if (options.size() < 2 || options.size() > MAX_OPTIONS)
                throw new IllegalArgumentException("a question needs 2 to " + MAX_OPTIONS + " options, got " + options.size());
            if (answer < -1 || answer >= options.size()) throw new IllegalArgumentException("answer " + answer + " outside the options");
        }

        /** The letter of option i: A, B, ... */
        public static String letter(int i) { return String.valueOf((char) ('A' + i)); }

        /** The letters of this question's options. */
        public List<String> letters() {
            List<String> l = new ArrayList<>();
            for (int i = 0; i < options.size(); i++) l.add(letter(i));
            return l;
        }
    }

    /**
     * The KIND of {@code KIND:PATH} (mmlu or jsonl), judged from the text alone: nothing is read, so the command line
     * checks it as an option value.
     *
     * @throws IllegalArgumentException without a KIND or with an unknown one
     */
    public static String kind(String spec) {
        int colon = spec == null ? -1 : spec.indexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("questions must be KIND:PATH with KIND mmlu or jsonl, got '" + spec + "'");
        String kind = spec.substring(0, colon).toLowerCase(Locale.ROOT);
        if (!kind.equals("mmlu") && !kind.equals("jsonl")) throw new IllegalArgumentException("unknown question kind '" + kind + "' (valid: mmlu, jsonl)");
        return kind;
    }

    /** The questions of {@code KIND:PATH}, in file order. */
    public static List<Question> load(String spec) {
        String kind;
        try {
            kind = kind(spec);
        } catch (IllegalArgumentException e) {
            throw new DatasetException(e.getMessage(), e);
        }
        Path path = Path.of(spec.substring(spec.indexOf(':') + 1));
        if (!Files.exists(path)) throw new DatasetException(path + ": no such file or folder");
        List<Question> out = kind.equals("mmlu") ? mmlu(path) : jsonl(path);
        if (out.isEmpty()) throw new DatasetException(path + ": no questions");
        return out;
    }

    static List<Question> mmlu(Path path) {
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(path)) {
            try (Stream<Path> s = Files.list(path)) {
                s.filter(p -> p.getFileName().toString().endsWith(".csv") && Files.isRegularFile(p)).sorted().forEach(files::add);
            } catch (IOException e) {
                throw new DatasetException(path + ": cannot list (" + e.getMessage() + ")", e);
            }
            if (files.isEmpty()) throw new DatasetException(path + ": no .csv files in the folder");
        } else {
            files.add(path);
        }
        List<Question> out = new ArrayList<>();
        for (Path f : files) {
            CsvRows.Table t = CsvRows.read(f, header -> {
                for (String c : List.of("question", "choice0", "choice1", "choice2", "choice3", "answer"))
                    if (!header.contains(c))
                        throw new DatasetException(f + ": not an MMLU CSV (no '" + c + "' column; expected question,choice0,choice1,choice2,choice3,answer)");
            });
            String stem = f.getFileName().toString().replaceFirst("\\.csv$", "");
            String subject = stem.replaceFirst("_(test|dev|val)$", "");
            int q = t.column("question"), a = t.column("answer");
            int[] ch = {t.column("choice0"), t.column("choice1"), t.column("choice2"), t.column("choice3")};
            for (int r = 0; r < t.rows().size(); r++) {
                String[] row = t.rows().get(r);
                String where = f + ": data row " + (r + 1);
                String question = CsvRows.cell(row, q), answer = CsvRows.cell(row, a);
                if (question == null || question.isBlank()) throw new DatasetException(where + ": empty question");
                List<String> options = new ArrayList<>();
                for (int c : ch) {
                    String o = CsvRows.cell(row, c);
                    if (o == null) throw new DatasetException(where + ": " + row.length + " columns, expected " + t.header().size());
                    options.add(o);
                }
                int ans;
                try {
                    ans = Integer.parseInt(answer == null ? "" : answer.trim());
                } catch (NumberFormatException e) {
                    ans = -2;
                }
                if (ans < 0 || ans > 3) throw new DatasetException(where + ": answer '" + answer + "' is not 0, 1, 2 or 3");
                out.add(new Question(stem + ":" + r, subject, question, options, ans));
            }
        }
        return out;
    }

    static List<Question> jsonl(Path file) {
        if (Files.isDirectory(file)) throw new DatasetException(file + ": a folder; jsonl questions are one file");
        List<Question> out = new ArrayList<>();
        for (JsonLines.Line l : JsonLines.read(file)) {
            String where = file + ":" + l.number();
            JsonNode o = l.value();
            if (o == null) throw new DatasetException(where + ": " + l.error());
            if (!o.isObject()) throw new DatasetException(where + ": not a JSON object");
            String question = JsonLines.text(o, "question");
            if (question == null || question.isBlank()) throw new DatasetException(where + ": no \"question\" string");
            JsonNode opts = o.get("options");
            if (opts == null || !opts.isArray()) throw new DatasetException(where + ": no \"options\" array");
            if (opts.size() < 2 || opts.size() > MAX_OPTIONS)
                throw new DatasetException(where + ": " + opts.size() + " options, expected 2 to " + MAX_OPTIONS);
            List<String> options = new ArrayList<>();
            for (int i = 0; i < opts.size(); i++) {
                if (!opts.get(i).isTextual()) throw new DatasetException(where + ": option " + i + " is not a string");
                options.add(opts.get(i).textValue());
            }
            int answer = -1;
            JsonNode a = o.get("answer");
            if (a != null && !a.isNull()) {
                if (a.isIntegralNumber()) answer = a.canConvertToInt() ? a.intValue() : -2;
                else if (a.isTextual() && a.textValue().trim().length() == 1) answer = Character.toUpperCase(a.textValue().trim().charAt(0)) - 'A';
                else answer = -2;
                if (answer < 0 || answer >= options.size())
                    throw new DatasetException(where + ": answer " + a + " is neither an option index (0-based) nor an option letter");
            }
            String id = JsonLines.idText(o, "id");
            String subject = JsonLines.text(o, "subject");
            out.add(new Question(id == null ? "line " + l.number() : id, subject == null ? "" : subject, question, options, answer));
        }
        return out;
    }
}
