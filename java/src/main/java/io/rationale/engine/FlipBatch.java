package io.rationale.engine;

import java.util.Arrays;

/**
 * The masked variants of one input for a flip evaluation, at the token level: everything a backend needs to build
 * every variant's tokens from word rankings ({@link Backend#flipEvaluation}: on its device, or on the host with
 * {@link #tokens}) and to compute the faithfulness metrics of each request. Backend-neutral: plain arrays, built
 * by the evaluation (see {@code eval.TokenMasking} for how the forms are derived from, and checked against, the
 * tokenized masked texts).
 *
 * <h2>Tokens and words</h2>
 * The input's {@code rest} (its T tokens after a cached prompt prefix) holds F fields of words; field f's words are
 * {@code [fieldWords[f], fieldWords[f+1])} (global word indices, in order). Word w owns the tokens
 * {@code [wordStart[w], wordEnd[w])} (ascending, disjoint, possibly empty; {@code wordStart[w] < T} is where its
 * tokens go in every variant); a token with {@code glue[t]} (template text, the question) is kept in every variant;
 * a token that is neither owned nor glue (the whitespace after a field, which may share a token with its last word)
 * is only ever written through a form.
 *
 * <h2>Units, contexts and forms</h2>
 * A variant masks a set of words. A UNIT is a word that stays in the variant: unmasked, or masked and
 * {@code replace}d (by the mask token); a masked word without {@code replace} is deleted. Each unit b of field f is
 * written as one FORM chosen by its context in the variant:
 * <ul>
 *   <li>left context: {@code FIRST} (1) when no unit of f precedes b; else, with a the previous unit, the first word j
 *       in (a, b) whose gap holds a line break ({@code breakBefore[j] = k >= 0}, found with {@code nextBreak}: the
 *       smallest such j at or after a word, within its field, or n) gives {@code BREAK k} (2 + k); otherwise
 *       {@code OWN} (0);</li>
 *   <li>right context: {@code LAST} (1) when b is f's last unit; else, with c the next unit, {@code BREAK k} (2 + k)
 *       when the separator between b and c holds a line break (the first word j in (b, c] with
 *       {@code breakBefore[j] = k >= 0}), otherwise 0 (a tokenizer may join a word's last character to a line break
 *       after it, as byte-level BPE does with a period and a newline).</li>
 * </ul>
 * Form index {@code c = ((b·2 + masked)·contexts + left)·contexts + right}; {@code formStart[c]} is where its tokens start
 * in {@code forms} ({@code formLen[c]} of them), or {@link #IDENTITY} (b's own tokens from the rest), or
 * {@link #ABSENT} (not prepared: a variant that needs it is refused). A field with words but no unit in a variant is
 * written as its empty form ({@code emptyStart[f]}, {@code emptyLen[f]}) at its first word's place.
 *
 * <p>So variant v's tokens are, for t = 0..T−1: first, for every word w with {@code wordStart[w] == t} in order, the
 * empty form of w's field when w is its field's first word and the field has no unit, then w's form when w is a
 * unit; then the rest token t itself when it is glue.
 *
 * <h2>Variants and requests</h2>
 * Variant v masks the top {@code variantSize[v]} words of {@code rankings[variantRanking[v]]} or, with
 * {@code variantKeep[v]}, every word but those (the rationale kept alone). Variant 0 is the unmasked input
 * ({@code variantRanking[0] = -1}). A ranking lists distinct words, most important first, and need not cover every
 * word. Request r (one method at one size) pairs its rationale-removed variant {@code requestRemove[r]}
 * (comprehensiveness, flip) with its rationale-alone one {@code requestKeep[r]} (sufficiency); requests may share
 * variants (each distinct masked word set is one variant).
 */
public record FlipBatch(int[] rest, boolean[] glue, int[] fieldWords, int[] wordStart, int[] wordEnd, int[] breakBefore,
                        int[] nextBreak, int contexts, boolean replace, int[] forms, int[] formStart, int[] formLen, int[] emptyStart,
                        int[] emptyLen, int[][] rankings, int[] variantRanking, int[] variantSize, boolean[] variantKeep,
                        int[] requestRemove, int[] requestKeep) {

    /** {@link #formStart} of a unit written as its own tokens from the rest. */
    public static final int IDENTITY = -1;
    /** {@link #formStart} of a form that was not prepared. */
    public static final int ABSENT = -2;
    /** Left contexts. */
    public static final int OWN = 0, FIRST = 1, BREAK = 2;

    /**
     * The unmasked input's label probabilities and prediction when the caller already has them: variant 0 is then not
     * run, and its prediction is the y of every metric.
     */
    public record Original(double[] probs, int predicted) {
        public Original {
            probs = probs.clone();
            if (predicted < 0 || predicted >= probs.length) throw new IllegalArgumentException("predicted label " + predicted + " of " + probs.length);
        }
    }

    public FlipBatch {
        rest = rest.clone();
        glue = glue.clone();
        fieldWords = fieldWords.clone();
        wordStart = wordStart.clone();
        wordEnd = wordEnd.clone();
        breakBefore = breakBefore.clone();
        nextBreak = nextBreak.clone();
        forms = forms.clone();
        formStart = formStart.clone();
        formLen = formLen.clone();
        emptyStart = emptyStart.clone();
        emptyLen = emptyLen.clone();
        rankings = Arrays.stream(rankings).map(int[]::clone).toArray(int[][]::new);
        variantRanking = variantRanking.clone();
        variantSize = variantSize.clone();
        variantKeep = variantKeep.clone();
        requestRemove = requestRemove.clone();
        requestKeep = requestKeep.clone();
        int t = rest.length, n = wordStart.length, f = fieldWords.length - 1;
        if (t == 0) throw new IllegalArgumentException("empty rest");
        if (glue.length != t) throw new IllegalArgumentException(t + " rest tokens but " + glue.length + " glue flags");
        if (f < 1 || fieldWords[0] != 0 || fieldWords[f] != n) throw new IllegalArgumentException("field word offsets must run from 0 to " + n);
        for (int i = 0; i < f; i++) if (fieldWords[i + 1] < fieldWords[i]) throw new IllegalArgumentException("field word offsets decrease at field " + i);
        if (wordEnd.length != n || breakBefore.length != n || nextBreak.length != n) throw new IllegalArgumentException("word arrays differ in length");
        if (contexts < 2) throw new IllegalArgumentException("contexts must be at least 2, got " + contexts);
        int at = 0;
        for (int w = 0; w < n; w++) {
            if (wordStart[w] < at || wordEnd[w] < wordStart[w] || wordStart[w] >= t || wordEnd[w] > t)
                throw new IllegalArgumentException("word " + w + ": tokens [" + wordStart[w] + ", " + wordEnd[w] + ") are not ascending, disjoint and inside the "
                        + t + " rest tokens");
            for (int i = wordStart[w]; i < wordEnd[w]; i++) if (glue[i]) throw new IllegalArgumentException("word " + w + " owns glue token " + i);
            at = wordEnd[w];
            if (breakBefore[w] < -1 || breakBefore[w] >= contexts - BREAK) throw new IllegalArgumentException("word " + w + ": break " + breakBefore[w] + " outside the contexts");
        }
        for (int i = 0; i < f; i++) {
            for (int w = fieldWords[i]; w < fieldWords[i + 1]; w++) {
                int expect = n;
                for (int j = w; j < fieldWords[i + 1]; j++) {
                    if (breakBefore[j] >= 0) {
                        expect = j;
                        break;
                    }
                }
                if (nextBreak[w] != expect) throw new IllegalArgumentException("nextBreak[" + w + "] is " + nextBreak[w] + ", expected " + expect);
            }
        }
        int forms4 = n * 2 * contexts * contexts;
        if (formStart.length != forms4 || formLen.length != forms4) throw new IllegalArgumentException("form tables must have " + forms4 + " entries");
        for (int c = 0; c < forms4; c++) {
            if (formStart[c] == IDENTITY || formStart[c] == ABSENT) continue;
            if (formStart[c] < 0 || formLen[c] < 0 || formStart[c] + formLen[c] > forms.length)
                throw new IllegalArgumentException("form " + c + " [" + formStart[c] + ", +" + formLen[c] + ") outside the " + forms.length + " form tokens");
        }
        if (emptyStart.length != f || emptyLen.length != f) throw new IllegalArgumentException("empty forms must have " + f + " entries");
        for (int i = 0; i < f; i++)
            if (emptyStart[i] != ABSENT && (emptyStart[i] < 0 || emptyLen[i] < 0 || emptyStart[i] + emptyLen[i] > forms.length))
                throw new IllegalArgumentException("empty form of field " + i + " outside the form tokens");
        for (int[] r : rankings) {
            boolean[] seen = new boolean[n];
            for (int w : r) {
                if (w < 0 || w >= n) throw new IllegalArgumentException("ranking word " + w + " outside [0, " + n + ")");
                if (seen[w]) throw new IllegalArgumentException("a ranking repeats word " + w);
                seen[w] = true;
            }
        }
        int v = variantRanking.length;
        if (v == 0 || variantSize.length != v || variantKeep.length != v) throw new IllegalArgumentException("variant arrays differ in length or are empty");
        if (variantRanking[0] != -1 || variantSize[0] != 0 || variantKeep[0]) throw new IllegalArgumentException("variant 0 must be the unmasked input");
        for (int i = 1; i < v; i++) {
            int r = variantRanking[i];
            if (r < 0 || r >= rankings.length) throw new IllegalArgumentException("variant " + i + ": ranking " + r + " outside [0, " + rankings.length + ")");
            if (variantSize[i] < 0 || variantSize[i] > rankings[r].length)
                throw new IllegalArgumentException("variant " + i + ": size " + variantSize[i] + " outside [0, " + rankings[r].length + "]");
        }
        if (requestKeep.length != requestRemove.length) throw new IllegalArgumentException("request arrays differ in length");
        for (int i = 0; i < requestRemove.length; i++)
            if (requestRemove[i] < 0 || requestRemove[i] >= v || requestKeep[i] < 0 || requestKeep[i] >= v)
                throw new IllegalArgumentException("request " + i + " names a variant outside [0, " + v + ")");
    }

    public int words() { return wordStart.length; }

    public int fields() { return fieldWords.length - 1; }

    public int variants() { return variantRanking.length; }

    public int requests() { return requestRemove.length; }

    /** Form index of word w, masked or not, in left context {@code left} and right context {@code right}. */
    public int formIndex(int w, boolean masked, int left, int right) {
        return formIndex(w, masked, left, right, contexts);
    }

    private static int formIndex(int w, boolean masked, int left, int right, int contexts) {
        return ((w * 2 + (masked ? 1 : 0)) * contexts + left) * contexts + right;
    }

    /** Right context of a unit that is its field's last. */
    public static final int LAST = 1;

    /** Per word, whether variant v masks it. */
    public boolean[] maskedWords(int v) {
        return maskedWords(rankings, variantRanking[v], variantSize[v], variantKeep[v], words());
    }

    /** Per word, whether the top {@code size} words of ranking r (keep: every other word) are masked; r = -1 masks nothing. */
    public static boolean[] maskedWords(int[][] rankings, int r, int size, boolean keep, int n) {
        boolean[] m = new boolean[n];
        if (r < 0) return m;
        for (int i = 0; i < size; i++) m[rankings[r][i]] = true;
        if (keep) for (int w = 0; w < n; w++) m[w] = !m[w];
        return m;
    }

    /**
     * The form every word takes under a masking (the variant's structure, before any token is written): per word its
     * form index ({@link #formIndex}), or -1 when it is deleted; per field whether it has no unit (then it is written
     * as its empty form). The same arithmetic as the device's.
     *
     * @return {forms per word, empty flag (0/1) per field}
     */
    public static int[][] select(int[] fieldWords, int[] breakBefore, int[] nextBreak, int contexts, boolean replace, boolean[] masked) {
        int n = masked.length, fields = fieldWords.length - 1;
        int[] form = new int[n], empty = new int[fields];
        for (int f = 0; f < fields; f++) {
            int prev = -1, prevLeft = 0;
            for (int w = fieldWords[f]; w < fieldWords[f + 1]; w++) {
                if (masked[w] && !replace) {
                    form[w] = -1;
                    continue;
                }
                int left;
                if (prev < 0) left = FIRST;
                else {
                    int j = nextBreak[prev + 1];
                    left = j < w ? BREAK + breakBefore[j] : OWN;
                    form[prev] = formIndex(prev, masked[prev], prevLeft, j <= w ? BREAK + breakBefore[j] : 0, contexts);
                }
                prev = w;
                prevLeft = left;
            }
            if (prev >= 0) form[prev] = formIndex(prev, masked[prev], prevLeft, LAST, contexts);
            else if (fieldWords[f + 1] > fieldWords[f]) empty[f] = 1;
        }
        return new int[][]{form, empty};
    }

    /** The number of tokens of variant v (counted, not built: what a device backend plans its batches with). */
    public int length(int v) {
        int[][] sel = select(fieldWords, breakBefore, nextBreak, contexts, replace, maskedWords(v));
        int len = 0;
        for (boolean g : glue) if (g) len++;
        for (int f = 0; f < fields(); f++) if (sel[1][f] == 1) len += emptyLen[f];
        for (int w = 0; w < words(); w++) {
            int c = sel[0][w];
            if (c < 0) continue;
            len += formStart[c] == IDENTITY ? wordEnd[w] - wordStart[w] : formStart[c] == ABSENT ? 0 : formLen[c];
        }
        return len;
    }

    /**
     * The tokens of variant v, built on the host (see the class comment).
     *
     * @throws IllegalStateException when the variant needs a form that was not prepared
     */
    public int[] tokens(int v) {
        int[][] sel = select(fieldWords, breakBefore, nextBreak, contexts, replace, maskedWords(v));
        int[] form = sel[0], empty = sel[1];
        int n = words(), fields = fields();
        int[] fieldOf = new int[n];
        for (int f = 0; f < fields; f++) for (int w = fieldWords[f]; w < fieldWords[f + 1]; w++) fieldOf[w] = f;
        int[] out = new int[16];
        int o = 0, w = 0;
        for (int t = 0; t < rest.length; t++) {
            for (; w < n && wordStart[w] == t; w++) {
                int f = fieldOf[w];
                if (w == fieldWords[f] && empty[f] == 1) {
                    if (emptyStart[f] == ABSENT) throw new IllegalStateException("variant " + v + " needs the empty form of field " + f + ", not prepared");
                    out = grow(out, o + emptyLen[f]);
                    System.arraycopy(forms, emptyStart[f], out, o, emptyLen[f]);
                    o += emptyLen[f];
                }
                int c = form[w];
                if (c < 0) continue;
                if (formStart[c] == ABSENT) throw new IllegalStateException("variant " + v + " needs form " + c + " of word " + w + ", not prepared");
                if (formStart[c] == IDENTITY) {
                    out = grow(out, o + wordEnd[w] - wordStart[w]);
                    System.arraycopy(rest, wordStart[w], out, o, wordEnd[w] - wordStart[w]);
                    o += wordEnd[w] - wordStart[w];
                } else {
                    out = grow(out, o + formLen[c]);
                    System.arraycopy(forms, formStart[c], out, o, formLen[c]);
                    o += formLen[c];
                }
            }
            if (glue[t]) {
                out = grow(out, o + 1);
                out[o++] = rest[t];
            }
        }
        return Arrays.copyOf(out, o);
    }

    private static int[] grow(int[] a, int need) {
        return need <= a.length ? a : Arrays.copyOf(a, Math.max(need, a.length * 2));
    }
}
