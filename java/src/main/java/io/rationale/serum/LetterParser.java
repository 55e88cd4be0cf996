package io.rationale.serum;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the chosen option out of a model's answer, tolerantly. Rules, in order; the first that finds a valid option
 * letter (one of the question's, A… in order) wins:
 * <ol>
 * <li>after "answer" (any case), optionally "is", a colon, markdown stars, "option", a bracket: {@code Answer: B},
 *     {@code The answer is (C)}, {@code **Answer:** d.} — a lower-case letter only when nothing but punctuation
 *     follows it, so "Answer: a dog" is not option A;</li>
 * <li>{@code Option B} / {@code option B: ...} (a lower-case letter as in rule 1);</li>
 * <li>a bracketed upper-case letter: {@code (B)}, {@code [B]};</li>
 * <li>a line that starts with an upper-case letter and {@code .}, {@code )} or {@code :}: {@code B. Paris};</li>
 * <li>the whole answer is one letter, any case, maybe bracketed or with a full stop: {@code b}, {@code (b)};</li>
 * <li>the text after "Answer:" (or the whole answer) is exactly one option's text (case-insensitive, a final full
 *     stop ignored).</li>
 * </ol>
 * Nothing found: -1 (the run counts these as unparsed).
 */
public final class LetterParser {
    private LetterParser() {}

    private static final Pattern ANSWER = Pattern.compile(
            "(?i:answer)\\s*(?:(?i:is)\\s*)?[:：-]?\\s*[*_]*\\s*(?:(?i:option)\\s*)?[(\\[]?\\s*([A-Za-z])(?![A-Za-z])(.?)");
    private static final Pattern OPTION = Pattern.compile("(?i:option)\\s+([A-Za-z])(?![A-Za-z])(.?)");
    private static final Pattern BRACKETED = Pattern.compile("[(\\[]([A-Z])[)\\]]");
    private static final Pattern LINE_START = Pattern.compile("(?m)^\\s*[*_]*([A-Z])[*_]*\\s*[.):](?:\\s|$)");
    private static final Pattern ALONE = Pattern.compile("^\\s*[(\\[]?([A-Za-z])[)\\]]?\\.?\\s*$");
    private static final Pattern AFTER_ANSWER = Pattern.compile("(?i:answer)\\s*:\\s*(.+)");

    /** The 0-based option of {@code text} among {@code options} (A, B, ... in order), or -1. */
    public static int parse(String text, List<String> options) {
        if (text == null) return -1;
        int n = options.size();
        for (Pattern p : new Pattern[]{ANSWER, OPTION}) {
            Matcher m = p.matcher(text);
            while (m.find()) {
                char c = m.group(1).charAt(0);
                String next = m.group(2);
                boolean upper = Character.isUpperCase(c);
                boolean endsThere = next.isEmpty() || !Character.isWhitespace(next.charAt(0)) || restIsPunctuation(text, m.end(1));
                if ((upper || endsThere) && valid(c, n)) return Character.toUpperCase(c) - 'A';
            }
        }
        Matcher m;
        for (Pattern p : new Pattern[]{BRACKETED, LINE_START}) {
            m = p.matcher(text);
            while (m.find()) if (valid(m.group(1).charAt(0), n)) return m.group(1).charAt(0) - 'A';
        }
        m = ALONE.matcher(text);
        if (m.find() && valid(m.group(1).charAt(0), n)) return Character.toUpperCase(m.group(1).charAt(0)) - 'A';
        m = AFTER_ANSWER.matcher(text);
        String said = clean(m.find() ? m.group(1) : text);
        int found = -1;
        for (int i = 0; i < n; i++) {
            if (clean(options.get(i)).equals(said) && !said.isEmpty()) {
                if (found >= 0) return -1;        // two options with the same text
                found = i;
            }
        }
        return found;
    }

    private static boolean restIsPunctuation(String text, int from) {
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\n') return true;
            if (Character.isLetterOrDigit(c)) return false;
        }
        return true;
    }

    private static boolean valid(char c, int n) {
        int i = Character.toUpperCase(c) - 'A';
        return i >= 0 && i < n;
    }

    private static String clean(String s) {
        String t = s.strip().toLowerCase(Locale.ROOT);
        if (t.endsWith(".")) t = t.substring(0, t.length() - 1).strip();
        return t;
    }

    /** The first "true" or "false" (a whole word, any case) in a judge's output, or null. */
    public static Boolean trueFalse(String text) {
        if (text == null) return null;
        Matcher m = Pattern.compile("\\b(true|false)\\b", Pattern.CASE_INSENSITIVE).matcher(text);
        return m.find() ? m.group(1).equalsIgnoreCase("true") : null;
    }
}
