package io.rationale.tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Source-level fixes that make Jinjava read a Jinja2 chat template the way Jinja2 does.
 *
 * <ul>
 *   <li>Jinjava binds {@code not} tighter than comparisons, so {@code not 'x' in s} means
 *       {@code (not 'x') in s} there, while Jinja2 reads {@code not ('x' in s)} (the Llama 2 template writes
 *       {@code not '<<SYS>>' in messages[0]['content']}). {@link #fixNotPrecedence} adds the parentheses
 *       when both operands are simple (a literal, or a name with {@code .attr}, {@code [key]}, {@code (args)}).</li>
 *   <li>Jinjava silently renders an unknown filter as nothing; {@link #filterNames} and {@link #testNames}
 *       list the filters and tests a template uses, so that unknown ones can be reported.</li>
 * </ul>
 * Only code inside {@code {{ }}} and {@code {% %}} is looked at, and never the inside of string literals.
 */
final class JinjaCompat {
    private JinjaCompat() {}

    private static final String LIT = "\u0001\\d+\u0001";
    private static final String NAME = "(?!(?:in|not|and|or|is|if|else)\\b)[A-Za-z_]\\w*";
    private static final String OPERAND = "(?:" + LIT + "|-?\\d+(?:\\.\\d+)?|" + NAME
            + "(?:\\.[A-Za-z_]\\w*|\\[(?:" + LIT + "|-?\\d+|[A-Za-z_]\\w*)\\]|\\([^()]*\\))*)";
    private static final Pattern NOT_COMPARISON = Pattern.compile(
            "\\bnot\\s+(" + OPERAND + ")\\s*(==|!=|<=|>=|<|>|\\bnot\\s+in\\b|\\bin\\b)\\s*(" + OPERAND + ")");
    private static final Pattern FILTER = Pattern.compile("\\|\\s*([A-Za-z_]\\w*)");
    private static final Pattern TEST = Pattern.compile("\\bis\\s+(?:not\\s+)?([A-Za-z_]\\w*)");

    /** Rewrites {@code not A op B} to {@code not (A op B)} inside expressions and tags. */
    static String fixNotPrecedence(String template) {
        return mapCode(template, code -> NOT_COMPARISON.matcher(code).replaceAll(m ->
                Matcher.quoteReplacement("not (" + m.group(1) + " " + m.group(2) + " " + m.group(3) + ")")));
    }

    /** The names of the filters the template applies ({@code x | name}). */
    static Set<String> filterNames(String template) { return names(template, FILTER); }

    /** The names of the tests the template uses ({@code x is name}, {@code x is not name}). */
    static Set<String> testNames(String template) { return names(template, TEST); }

    private static Set<String> names(String template, Pattern p) {
        Set<String> out = new LinkedHashSet<>();
        mapCode(template, code -> {
            Matcher m = p.matcher(code);
            while (m.find()) out.add(m.group(1));
            return code;
        });
        return out;
    }

    /**
     * Applies f to the code of every {@code {{ }}} / {@code {% %}} block, with string literals masked as
     * {@code \u0001n\u0001}; text outside blocks and comments {@code {# #}} are kept as they are.
     */
    static String mapCode(String t, UnaryOperator<String> f) {
        StringBuilder out = new StringBuilder(t.length());
        int i = 0;
        while (i < t.length()) {
            int open = nextOpen(t, i);
            if (open < 0) {
                out.append(t, i, t.length());
                break;
            }
            out.append(t, i, open);
            if (t.startsWith("{#", open)) {
                int close = t.indexOf("#}", open + 2);
                int end = close < 0 ? t.length() : close + 2;
                out.append(t, open, end);
                i = end;
                continue;
            }
            String closer = t.startsWith("{{", open) ? "}}" : "%}";
            List<String> literals = new ArrayList<>();
            StringBuilder code = new StringBuilder();
            int k = open + 2;
            while (k < t.length() && !t.startsWith(closer, k)) {
                char c = t.charAt(k);
                if (c == '\'' || c == '"') {
                    int e = endOfLiteral(t, k);
                    code.append('\u0001').append(literals.size()).append('\u0001');
                    literals.add(t.substring(k, e));
                    k = e;
                } else {
                    code.append(c);
                    k++;
                }
            }
            String mapped = f.apply(code.toString());
            out.append(t, open, open + 2).append(unmask(mapped, literals));
            int end = Math.min(t.length(), k + 2);
            out.append(t, k, end);
            i = end;
        }
        return out.toString();
    }

    private static int nextOpen(String t, int from) {
        int best = -1;
        for (String o : new String[] {"{{", "{%", "{#"}) {
            int k = t.indexOf(o, from);
            if (k >= 0 && (best < 0 || k < best)) best = k;
        }
        return best;
    }

    /** The index just past the string literal that starts at k (backslash escapes honoured). */
    private static int endOfLiteral(String t, int k) {
        char q = t.charAt(k);
        int i = k + 1;
        while (i < t.length() && t.charAt(i) != q) i += t.charAt(i) == '\\' ? 2 : 1;
        return Math.min(t.length(), i + 1);
    }

    private static String unmask(String code, List<String> literals) {
        Matcher m = Pattern.compile(LIT).matcher(code);
        return m.replaceAll(r -> {
            String s = r.group();
            return Matcher.quoteReplacement(literals.get(Integer.parseInt(s.substring(1, s.length() - 1))));
        });
    }
}
