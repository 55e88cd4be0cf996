package io.rationale.serum;

import java.util.Locale;

/**
 * Which query rows are steered.
 * <ul>
 * <li>{@link #ALL} (the authors'): every row of every forward. With a post-softmax operator the bias reaches every
 *     span key that exists in the context, so in the prefill of the explanation prompt rows before the end of the
 *     span also get weight on LATER span keys: causality is broken there (their code does this). A pre-softmax bias
 *     never unmasks a key: with it, every row is steered over the span keys it may see.</li>
 * <li>{@link #CAUSAL} (the corrected, causal-safe mode): only rows at positions ≥ the span's end, which see the
 *     whole span; every earlier row is computed exactly as without steering.</li>
 * </ul>
 */
public enum Rows {
    ALL, CAUSAL;

    public String cliName() { return name().toLowerCase(Locale.ROOT); }

    public static Rows parse(String s) {
        String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        if (n.equals("causal-safe")) return CAUSAL;
        for (Rows r : values()) if (r.cliName().equals(n)) return r;
        throw new IllegalArgumentException("unknown steering rows '" + s + "' (valid: all, causal)");
    }
}
