package io.rationale.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Python {@code str} methods that Hugging Face chat templates call on strings ({@code content.strip()},
 * {@code role.title()}, ...), with Python's semantics. Jinjava only knows Java's String methods.
 */
final class PyStrings {
    private PyStrings() {}

    /**
     * Calls the Python method {@code name} on {@code s}.
     *
     * @return the result, or {@code NOT_HANDLED} when this is not a supported method/arity
     */
    static Object call(String s, String name, Object[] args) {
        int n = args == null ? 0 : args.length;
        Object a0 = n > 0 ? args[0] : null;
        return switch (name) {
            case "strip" -> n == 0 ? strip(s, null, true, true) : n == 1 ? strip(s, str(a0), true, true) : NOT_HANDLED;
            case "lstrip" -> n == 0 ? strip(s, null, true, false) : n == 1 ? strip(s, str(a0), true, false) : NOT_HANDLED;
            case "rstrip" -> n == 0 ? strip(s, null, false, true) : n == 1 ? strip(s, str(a0), false, true) : NOT_HANDLED;
            case "upper" -> n == 0 ? s.toUpperCase(java.util.Locale.ROOT) : NOT_HANDLED;
            case "lower" -> n == 0 ? s.toLowerCase(java.util.Locale.ROOT) : NOT_HANDLED;
            case "title" -> n == 0 ? title(s) : NOT_HANDLED;
            case "capitalize" -> n == 0 ? capitalize(s) : NOT_HANDLED;
            case "startswith" -> n == 1 ? s.startsWith(str(a0)) : NOT_HANDLED;
            case "endswith" -> n == 1 ? s.endsWith(str(a0)) : NOT_HANDLED;
            case "split" -> n == 0 || a0 == null ? splitWhitespace(s) : n == 1 ? splitOn(s, str(a0)) : NOT_HANDLED;
            case "replace" -> n == 2 ? s.replace(str(a0), str(args[1])) : NOT_HANDLED;
            case "join" -> n == 1 && a0 instanceof Iterable<?> items ? join(s, items) : NOT_HANDLED;
            default -> NOT_HANDLED;
        };
    }

    static final Object NOT_HANDLED = new Object();

    private static String str(Object o) { return o == null ? "None" : o.toString(); }

    /**
     * Python's str.isspace for one char: Java whitespace plus the Unicode space separators (NBSP etc.) plus
     * U+0085 (NEXT LINE, bidi class B), which Python counts as whitespace and Java does not.
     */
    static boolean isSpace(char c) { return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085'; }

    /** Python strip/lstrip/rstrip: without chars, strips whitespace; with chars, strips any of them. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0;
        int e = s.length();
        while (left && b < e && stripped(s.charAt(b), chars)) b++;
        while (right && e > b && stripped(s.charAt(e - 1), chars)) e--;
        return s.substring(b, e);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    /** Python str.title: first cased letter after a non-letter is upper-cased, the other letters lower-cased. */
    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean cased = Character.isLetter(c);
            sb.append(cased ? (previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c)) : c);
            previousCased = cased;
        }
        return sb.toString();
    }

    private static String capitalize(String s) {
        if (s.isEmpty()) return s;
        return Character.toTitleCase(s.charAt(0)) + s.substring(1).toLowerCase(java.util.Locale.ROOT);
    }

    private static List<String> splitWhitespace(String s) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            while (i < s.length() && isSpace(s.charAt(i))) i++;
            int b = i;
            while (i < s.length() && !isSpace(s.charAt(i))) i++;
            if (i > b) out.add(s.substring(b, i));
        }
        return out;
    }

    private static List<String> splitOn(String s, String sep) {
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        List<String> out = new ArrayList<>();
        int b = 0;
        int k;
        while ((k = s.indexOf(sep, b)) >= 0) {
            out.add(s.substring(b, k));
            b = k + sep.length();
        }
        out.add(s.substring(b));
        return out;
    }

    private static String join(String sep, Iterable<?> items) {
        StringBuilder sb = new StringBuilder();
        boolean first = true;
        for (Object o : items) {
            if (!first) sb.append(sep);
            sb.append(str(o));
            first = false;
        }
        return sb.toString();
    }
}
