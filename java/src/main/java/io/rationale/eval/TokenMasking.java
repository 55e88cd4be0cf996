package io.rationale.eval;

import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.dataset.Word;
import io.rationale.engine.FlipBatch;
import io.rationale.metrics.Masking;
import io.rationale.tokenizer.Token;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The token-level description of an example's masked variants ({@link FlipBatch}) that lets a backend build every
 * variant's tokens from the word rankings (on its device) instead of tokenizing each masked text, derived from the
 * tokenizations the host path makes anyway and checked against them, so the tokens are EXACTLY those of tokenizing
 * the masked texts, or the example keeps the host path.
 *
 * <h2>Regions and forms</h2>
 * A field's REGION is its characters widened by the template's whitespace on either side and then to whole tokens
 * of the unmasked prompt (a sentencepiece "▁" of the space before it, a byte-level newline merged into its last
 * word); outside the regions are the GLUE tokens (template, question), the same in every variant. Inside a region,
 * a variant's text is {@link Masking}'s masked field: its units (kept words, and masked words replaced by the mask
 * token) and the separators between them. The region is cut between each two units at the first position that no
 * token crosses from the end of the first one's word (or, when the separator holds a line break, from after its last
 * line break) to the start of the next one's word; unit i's tokens are those from its cut to the next (for the first
 * and last unit, the region's edges: the field's leading and trailing text). Their key is the unit's FORM: the word,
 * whether it is masked, its left context (first unit of the field, its own gap, or the kind of line break that
 * {@link Masking}'s separator carries), its right context (last unit of the field, or the kind of line break in the
 * separator after it, or none) ({@link FlipBatch#select}, the device's arithmetic). A field without units is one
 * EMPTY form.
 *
 * <h2>Derivation and check</h2>
 * Every planned variant's masked text is tokenized (as the host path does); each one's region tokens are cut into
 * forms and recorded. The description is refused ({@link #build} gives null, with the reason) when a cut or a region
 * boundary falls inside a token, when one form gets two different token sequences in two variants (the tokenizer
 * joined a unit to its neighbour in a way the form does not capture), or when the description's tokens of some
 * planned variant ({@link FlipBatch#tokens}) are not exactly its tokenized text. So an accepted description
 * reproduces every variant of the plan token for token.
 */
final class TokenMasking {
    private TokenMasking() {}

    /** The description, or why there is none. */
    record Result(FlipBatch batch, String refused) {}

    /** Most distinct line-break separators of one example (contexts beyond {@link FlipBatch#BREAK}). */
    static final int MAX_BREAKS = 8;

    /**
     * @param prompts per variant of the plan, its classification prompt (the masked field texts of
     *                {@code plan.fields}); variant 0 is the unmasked input
     */
    static Result build(Example ex, FlipEvaluation.Plan plan, List<FlipEvaluation.Ranked> methods, Masking.Mode mode, List<Prompt> prompts) {
        try {
            return new Result(derive(ex, plan, methods, mode, prompts), null);
        } catch (Refused e) {
            return new Result(null, e.getMessage());
        } catch (IllegalArgumentException | IllegalStateException e) {
            return new Result(null, "inconsistent description: " + e.getMessage());
        }
    }

    private static final class Refused extends RuntimeException {
        Refused(String m) { super(m, null, false, false); }
    }

    private static FlipBatch derive(Example ex, FlipEvaluation.Plan plan, List<FlipEvaluation.Ranked> methods, Masking.Mode mode, List<Prompt> prompts) {
        int n = ex.totalWords(), fields = ex.fields().size();
        if (n == 0) throw new Refused("no words");
        boolean replace = mode instanceof Masking.Replacement;
        int[] fieldWords = new int[fields + 1];
        for (int f = 0; f < fields; f++) {
            fieldWords[f + 1] = fieldWords[f] + ex.fields().get(f).wordCount();
            if (ex.fields().get(f).wordCount() == 0) throw new Refused("field " + f + " has no words");
        }
        // line-break separators: classes of distinct gap texts
        int[] breakBefore = new int[n], nextBreak = new int[n];
        Map<String, Integer> breakKinds = new HashMap<>();
        for (int f = 0; f < fields; f++) {
            List<Word> ws = ex.fields().get(f).words();
            String text = ex.fields().get(f).text();
            for (int i = 0; i < ws.size(); i++) {
                int w = fieldWords[f] + i;
                breakBefore[w] = -1;
                if (i == 0) continue;
                String gap = text.substring(ws.get(i - 1).end(), ws.get(i).start());
                if (Masking.hasLineBreak(gap)) breakBefore[w] = breakKinds.computeIfAbsent(gap, g -> breakKinds.size());
            }
            int next = n;
            for (int w = fieldWords[f + 1] - 1; w >= fieldWords[f]; w--) {
                if (breakBefore[w] >= 0) next = w;
                nextBreak[w] = next;
            }
        }
        if (breakKinds.size() > MAX_BREAKS) throw new Refused(breakKinds.size() + " kinds of line break (at most " + MAX_BREAKS + ")");
        int contexts = FlipBatch.BREAK + breakKinds.size();

        // the unmasked prompt: regions, glue
        Prompt orig = prompts.getFirst();
        int p0 = orig.prefixIds().length;
        List<Token> origRest = orig.tokens().subList(p0, orig.tokens().size());
        int T = origRest.size();
        int[] lead = new int[fields], trail = new int[fields], regionTok = new int[fields];
        boolean[] glue = new boolean[T];
        Arrays.fill(glue, true);
        String text = orig.text();
        int restStart = orig.prefixChars(), restEnd = text.length(), prevEnd = restStart;
        for (int f = 0; f < fields; f++) {
            int fs = orig.fieldRanges().get(f)[0], fe = orig.fieldRanges().get(f)[1];
            int next = f + 1 < fields ? orig.fieldRanges().get(f + 1)[0] : restEnd;
            // the region: the field, the template's whitespace on either side, widened to whole tokens
            int rs = fs, re = fe;
            while (rs > prevEnd && Character.isWhitespace(text.charAt(rs - 1))) rs--;
            while (re < next && Character.isWhitespace(text.charAt(re))) re++;
            for (Token t : origRest) {
                if (t.start() < rs && t.end() > rs) rs = t.start();
                if (t.start() < re && t.end() > re) re = t.end();
            }
            if (rs < prevEnd || re > next && f + 1 < fields) throw new Refused("field " + f + "'s tokens join another field's");
            lead[f] = fs - rs;
            trail[f] = re - fe;
            int first = -1;
            for (int i = 0; i < T; i++) {
                Token t = origRest.get(i);
                if (t.start() >= rs && t.start() < re) {
                    if (first < 0) first = i;
                    glue[i] = false;
                }
            }
            if (first < 0) throw new Refused("field " + f + " has no tokens");
            regionTok[f] = first;
            prevEnd = re;
        }
        int[] rest = orig.restIds();

        // forms from every variant's tokens
        int[][] rankings = methods.stream().map(FlipEvaluation.Ranked::ranking).toArray(int[][]::new);
        int v = plan.fields.size();
        int[] variantRanking = new int[v], variantSize = new int[v];
        boolean[] variantKeep = new boolean[v];
        for (int i = 0; i < v; i++) {
            int[] s = plan.spec.get(i);
            variantRanking[i] = s[0];
            variantSize[i] = s[1];
            variantKeep[i] = s[2] == 1;
        }
        int forms4 = n * 2 * contexts * contexts;
        int[][] form = new int[forms4][];
        int[][] empty = new int[fields][];
        for (int i = 0; i < v; i++) {
            boolean[] masked = FlipBatch.maskedWords(rankings, variantRanking[i], variantSize[i], variantKeep[i], n);
            int[][] sel = FlipBatch.select(fieldWords, breakBefore, nextBreak, contexts, replace, masked);
            Prompt p = prompts.get(i);
            List<Token> toks = p.tokens().subList(p.prefixIds().length, p.tokens().size());
            Bounds bounds = Bounds.of(toks);
            for (int f = 0; f < fields; f++) {
                TextField field = ex.fields().get(f);
                TreeSet<Integer> local = new TreeSet<>();
                for (int w = fieldWords[f]; w < fieldWords[f + 1]; w++) if (masked[w]) local.add(w - fieldWords[f]);
                Masking.Masked m = Masking.remove(field.text(), local, mode);
                if (!m.text().equals(plan.fields.get(i).get(f))) throw new IllegalStateException("variant " + i + " field " + f + ": the plan's text differs");
                if (m.words().size() != m.source().length) throw new Refused("variant " + i + " field " + f + ": the masked text splits into other words");
                int fs = p.fieldRanges().get(f)[0], fe = p.fieldRanges().get(f)[1];
                int rs = fs - lead[f], re = fe + trail[f];
                // cuts: region start, each unit's word end but the last's, region end
                int units = m.words().size();
                int[] cut = new int[units + 1];
                cut[0] = rs;
                for (int u = 1; u < units; u++) {
                    // after the separator's last line break, if it has one (the break then goes with the unit before,
                    // whatever that unit's last character, so the next unit's tokens do not depend on it)
                    int from = fs + m.words().get(u - 1).end(), to = fs + m.words().get(u).start();
                    for (int x = to - 1; x >= from; x--) {
                        if (Masking.isLineBreak(p.text().charAt(x))) {
                            from = x + 1;
                            break;
                        }
                    }
                    cut[u] = firstBoundary(bounds, from, to, "variant " + i + " field " + f);
                }
                cut[units] = re;
                if (units == 0) cut = new int[]{rs, re};
                List<int[]> seg = segments(toks, cut, "variant " + i + " field " + f);
                if (units == 0) {
                    empty[f] = record(empty[f], seg.getFirst(), "the empty form of field " + f);
                    continue;
                }
                for (int u = 0; u < units; u++) {
                    int w = fieldWords[f] + m.source()[u];
                    int c = sel[0][w];
                    if (c < 0) throw new IllegalStateException("word " + w + " is a unit of the text but not of the selection");
                    form[c] = record(form[c], seg.get(u), "form " + c + " of word " + w);
                }
            }
        }
        // flatten
        int total = 0;
        for (int[] x : form) if (x != null) total += x.length;
        for (int[] x : empty) if (x != null) total += x.length;
        int[] forms = new int[total], formStart = new int[forms4], formLen = new int[forms4], emptyStart = new int[fields], emptyLen = new int[fields];
        int at = 0;
        for (int c = 0; c < forms4; c++) {
            if (form[c] == null) {
                formStart[c] = FlipBatch.ABSENT;
                continue;
            }
            formStart[c] = at;
            formLen[c] = form[c].length;
            System.arraycopy(form[c], 0, forms, at, form[c].length);
            at += form[c].length;
        }
        for (int f = 0; f < fields; f++) {
            if (empty[f] == null) {
                emptyStart[f] = FlipBatch.ABSENT;
                continue;
            }
            emptyStart[f] = at;
            emptyLen[f] = empty[f].length;
            System.arraycopy(empty[f], 0, forms, at, empty[f].length);
            at += empty[f].length;
        }
        int[] wordStart = new int[n];
        for (int f = 0; f < fields; f++) for (int w = fieldWords[f]; w < fieldWords[f + 1]; w++) wordStart[w] = regionTok[f];
        List<FlipEvaluation.Req> reqs = new ArrayList<>();
        for (List<FlipEvaluation.Req> rs : plan.reqs.values()) reqs.addAll(rs);
        int[] remove = new int[reqs.size()], keep = new int[reqs.size()];
        for (FlipEvaluation.Req r : reqs) {
            remove[r.index()] = r.remove();
            keep[r.index()] = r.keep();
        }
        FlipBatch b = new FlipBatch(rest, glue, fieldWords, wordStart, wordStart.clone(), breakBefore, nextBreak, contexts, replace, forms, formStart,
                formLen, emptyStart, emptyLen, rankings, variantRanking, variantSize, variantKeep, remove, keep);
        // the check: every planned variant token for token
        for (int i = 0; i < v; i++) {
            if (!Arrays.equals(b.tokens(i), prompts.get(i).restIds())) throw new Refused("variant " + i + " differs from its tokenized text");
        }
        return b;
    }

    /**
     * The ids of the tokens starting in each {@code [cut[s], cut[s+1])}, tokens in text order.
     *
     * @throws Refused when a token starts before a cut and ends after it
     */
    private static List<int[]> segments(List<Token> toks, int[] cut, String where) {
        int size = toks.size();
        int[] maxEnd = new int[size];
        for (int k = 0; k < size; k++) {
            if (k > 0 && toks.get(k).start() < toks.get(k - 1).start()) throw new Refused(where + ": token spans go backwards");
            maxEnd[k] = Math.max(k > 0 ? maxEnd[k - 1] : Integer.MIN_VALUE, toks.get(k).end());
        }
        int[] at = new int[cut.length];                 // tokens starting before each cut
        int j = 0;
        for (int s = 0; s < cut.length; s++) {
            if (s > 0 && cut[s] < cut[s - 1]) throw new IllegalStateException(where + ": cuts go backwards");
            while (j < size && toks.get(j).start() < cut[s]) j++;
            if (j > 0 && maxEnd[j - 1] > cut[s]) throw new Refused(where + ": a token crosses a cut (at char " + cut[s] + ": '" + toks.get(j - 1).text() + "')");
            at[s] = j;
        }
        List<int[]> out = new ArrayList<>(cut.length - 1);
        for (int s = 0; s + 1 < cut.length; s++) {
            int[] ids = new int[at[s + 1] - at[s]];
            for (int k = at[s]; k < at[s + 1]; k++) ids[k - at[s]] = toks.get(k).id();
            out.add(ids);
        }
        return out;
    }

    /**
     * The smallest position in {@code [from, to]} that no token crosses (the cut between two units: at the end of
     * the first one's word unless a token joins its last character to the separator, as byte-level BPE joins a
     * period to a newline; the separator's tokens after the cut go with the next unit).
     *
     * @throws Refused when every position of the separator is inside a token
     */
    private static int firstBoundary(Bounds bounds, int from, int to, String where) {
        for (int c = from; c <= to; c++) if (!bounds.crossed(c)) return c;
        throw new Refused(where + ": a token crosses every position between two words (at char " + from + ")");
    }

    /** Token spans in text order, for "does a token cross position c" in O(log n). */
    private record Bounds(int[] start, int[] maxEnd) {
        static Bounds of(List<Token> toks) {
            int n = toks.size();
            int[] start = new int[n], maxEnd = new int[n];
            for (int k = 0; k < n; k++) {
                start[k] = toks.get(k).start();
                maxEnd[k] = Math.max(k > 0 ? maxEnd[k - 1] : Integer.MIN_VALUE, toks.get(k).end());
            }
            return new Bounds(start, maxEnd);
        }

        /** Whether a token starts before c and ends after it. */
        boolean crossed(int c) {
            int lo = 0, hi = start.length;                  // tokens starting before c: [0, lo)
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (start[mid] < c) lo = mid + 1;
                else hi = mid;
            }
            return lo > 0 && maxEnd[lo - 1] > c;
        }
    }

    private static int[] record(int[] had, int[] ids, String what) {
        if (had != null && !Arrays.equals(had, ids)) throw new Refused(what + " has two token sequences (" + Arrays.toString(had) + ", " + Arrays.toString(ids) + ")");
        return ids;
    }

}
