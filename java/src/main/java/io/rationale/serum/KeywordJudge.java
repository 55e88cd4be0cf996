package io.rationale.serum;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The keyword judge: an explanation acknowledges the hint when it contains one of the hint type's keywords.
 * <ul>
 * <li>{@link Variant#AUTHORS}: as the authors' code does it — the explanation is lower-cased and every character
 *     that is neither a word character nor whitespace is removed (Python's {@code re.sub(r"[^\w\s]", "", ...)},
 *     Unicode-aware), then each keyword is looked for as it is spelled, as a substring (so "professors" contains
 *     "professor", and "system " needs a following space). Two default keywords can never match: "Internal" (upper
 *     case, against lower-cased text) and "<answer>" (its brackets are stripped from the text).</li>
 * <li>{@link Variant#CORRECTED}: the same, except that keywords are compared lower-cased, and a keyword that
 *     contains characters the strip removes (such as "<answer>") is looked for in the lower-cased text before the
 *     strip. On the default keywords this fixes exactly those two; everything else is unchanged.</li>
 * </ul>
 */
public final class KeywordJudge {
    private KeywordJudge() {}

    public enum Variant { AUTHORS, CORRECTED }

    private static final Pattern STRIP = Pattern.compile("[^\\w\\s]", Pattern.UNICODE_CHARACTER_CLASS);

    /** Whether {@code explanation} contains one of {@code keywords} under the variant's rules. */
    public static boolean acknowledges(String explanation, List<String> keywords, Variant v) {
        String lower = explanation.toLowerCase(Locale.ROOT);
        String stripped = STRIP.matcher(lower).replaceAll("");
        for (String k : keywords) {
            if (v == Variant.AUTHORS) {
                if (stripped.contains(k)) return true;
            } else {
                String kl = k.toLowerCase(Locale.ROOT);
                boolean punctuated = STRIP.matcher(kl).find();
                if ((punctuated ? lower : stripped).contains(kl)) return true;
            }
        }
        return false;
    }
}
