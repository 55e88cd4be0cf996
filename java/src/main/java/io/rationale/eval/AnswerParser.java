package io.rationale.eval;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Maps a prompting-based rationale (the model's generated answer) back to input word indices.
 *
 * <h2>Rules</h2>
 * <ol>
 *   <li>The answer is cut into candidate words at whitespace, commas and semicolons.</li>
 *   <li>Normal form of a word (answer and input alike): curly quotes {@code ‘ ’} become {@code '}, then leading
 *       and trailing characters that are not letters or digits are stripped, then lower case ({@link Locale#ROOT}).
 *       So {@code "Surgical,"}, {@code 'surgical'} and {@code SURGICAL.} all match the input word
 *       {@code surgical}.</li>
 *   <li>A candidate whose normal form is empty (a dash, a bullet, {@code ...}) or that is a list marker
 *       ({@code 1.}, {@code 2)}, {@code (3)}) is a separator: neither matched nor unparsed.</li>
 *   <li>A candidate matches every input word with the same normal form: all of them join the rationale, in text
 *       order (the model cannot point at one occurrence). When the whole candidate matches nothing but it has inner
 *       punctuation ({@code surgery/medicine}, {@code "surgical-pathway"}), its parts split at non-letter,
 *       non-digit, non-apostrophe characters are tried; it counts as matched when every part matches.</li>
 *   <li>A candidate whose normal form was already seen adds nothing and is counted in {@code duplicates}.</li>
 *   <li>A candidate that matches nothing goes to {@code unparsed} as written (surrounding punctuation stripped,
 *       case kept), in answer order, repeats included: nothing is dropped silently. An answer with no matched
 *       candidate gives an empty rationale ({@link Parsed#nothingParsed()}).</li>
 * </ol>
 * The ranking is the order of first mention: the words of the first matched candidate first.
 *
 * @see ExampleResult.MethodResult#unparsed()
 */
public final class AnswerParser {
    private AnswerParser() {}

    private static final Pattern SPLIT = Pattern.compile("[\\s,;]+");
    private static final Pattern LIST_MARKER = Pattern.compile("\\(?\\d{1,3}[.):]\\)?");
    private static final Pattern INNER = Pattern.compile("[^\\p{L}\\p{N}']+");

    /**
     * @param ranking     matched input word indices, in order of first mention (no repeats)
     * @param unparsed    answer words that matched no input word
     * @param matched     answer words that matched (duplicates not counted)
     * @param duplicates  answer words repeating an earlier one
     */
    public record Parsed(int[] ranking, List<String> unparsed, int matched, int duplicates) {
        public Parsed {
            ranking = ranking.clone();
            unparsed = List.copyOf(unparsed);
        }

        /** Whether the answer gave no input word at all. */
        public boolean nothingParsed() { return ranking.length == 0; }
    }

    /** The normal form of a word (see the class comment). */
    public static String normalize(String w) {
        String s = w.replace('\u2019', '\'').replace('\u2018', '\'');
        int a = 0, b = s.length();
        while (a < b && !Character.isLetterOrDigit(s.codePointAt(a))) a += Character.charCount(s.codePointAt(a));
        while (b > a && !Character.isLetterOrDigit(s.codePointBefore(b))) b -= Character.charCount(s.codePointBefore(b));
        return s.substring(a, b).toLowerCase(Locale.ROOT);
    }

    private static String stripped(String w) {
        int a = 0, b = w.length();
        while (a < b && !Character.isLetterOrDigit(w.codePointAt(a))) a += Character.charCount(w.codePointAt(a));
        while (b > a && !Character.isLetterOrDigit(w.codePointBefore(b))) b -= Character.charCount(w.codePointBefore(b));
        return w.substring(a, b);
    }

    public static Parsed parse(String answer, List<String> inputWords) {
        Map<String, List<Integer>> index = new LinkedHashMap<>();
        for (int i = 0; i < inputWords.size(); i++) {
            String n = normalize(inputWords.get(i));
            if (!n.isEmpty()) index.computeIfAbsent(n, x -> new ArrayList<>()).add(i);
        }
        List<Integer> ranking = new ArrayList<>();
        Set<Integer> taken = new HashSet<>();
        Set<String> seen = new HashSet<>();
        List<String> unparsed = new ArrayList<>();
        int matched = 0, duplicates = 0;
        for (String c : SPLIT.split(answer == null ? "" : answer)) {
            if (c.isEmpty()) continue;
            String n = normalize(c);
            if (n.isEmpty() || LIST_MARKER.matcher(c).matches()) continue;
            if (seen.contains(n)) {
                duplicates++;
                continue;
            }
            List<String> forms;
            if (index.containsKey(n)) {
                forms = List.of(n);
            } else {
                forms = new ArrayList<>();
                for (String part : INNER.split(n)) {
                    String pn = normalize(part);
                    if (pn.isEmpty()) continue;
                    if (!index.containsKey(pn)) {
                        forms = null;
                        break;
                    }
                    forms.add(pn);
                }
                if (forms != null && forms.isEmpty()) forms = null;
            }
            if (forms == null) {
                unparsed.add(stripped(c));
                continue;
            }
            seen.add(n);
            matched++;
            for (String f : forms) {
                for (int w : index.get(f)) if (taken.add(w)) ranking.add(w);
            }
        }
        return new Parsed(ranking.stream().mapToInt(Integer::intValue).toArray(), unparsed, matched, duplicates);
    }
}
