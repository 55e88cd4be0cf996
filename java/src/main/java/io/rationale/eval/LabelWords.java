package io.rationale.eval;

import io.rationale.engine.LabelLogits;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Token;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Classification by label words: each label of the dataset is answered by one word (for example
 * {@code SUPPORTS → "true"}), and the model's answer is read from the logits of the FIRST token of each label word
 * at the answer position (the last prompt position).
 *
 * <h2>Variants of a label word</h2>
 * A word's first token depends on whether it follows a space. Both variants are considered:
 * <ul>
 *   <li><b>word-initial</b>: the first token of {@code " " + word} as it is encoded after other text. On tokenizers
 *       that prepend a "▁" to every encoded text (SentencePiece / Llama 2 style, detected with
 *       {@link #prependsSpace}) that is the first token of {@code word} encoded alone ({@code ▁nurse}); on
 *       byte-level tokenizers (Llama 3) the first token of {@code " " + word} ({@code Ġnurse}).</li>
 *   <li><b>bare</b>: the token that starts exactly at the word in {@code "\n" + word} (the word at a line start,
 *       without a space: {@code nurse}); no bare variant when that token would begin before the word (merged
 *       with the newline).</li>
 * </ul>
 * A variant whose token covers only whitespace (a lone {@code ▁} when the vocabulary has no {@code ▁e...} piece)
 * says nothing about the label and is dropped. The distinct token ids of the remaining variants are the label's
 * tokens; a label word without any is unusable.
 *
 * <h2>Reading the answer</h2>
 * The logit of a label is the MAXIMUM of the logits of its tokens (whichever variant the model prefers: a base
 * model after {@code "Answer:"} puts a space, a chat model after its assistant header often does not, so no rule
 * based on how the prompt ends is needed). The prediction is the argmax over the label logits (the first label on
 * ties); label probabilities are the softmax over the label logits ONLY (the rest of the vocabulary is ignored, so
 * they always sum to 1). {@link #bestToken} gives the token of the winning variant, which the attribution methods
 * explain.
 *
 * <h2>Choosing the words, collisions</h2>
 * Two labels that share a token cannot be told apart: that is an error. Each label has an ordered list of
 * candidate words ({@link TaskTemplate#labelWordCandidates()}, e.g. {@code psychologist → [psychologist,
 * counselor, therapist]}); {@link #resolve} takes the first assignment, in the order of the labels and then of the candidates
 * (lexicographic backtracking), in which no two labels share a token. When no assignment works it throws
 * {@link IllegalArgumentException} naming the colliding labels and tokens.
 */
public final class LabelWords {
    /**
     * One label with its word and tokens.
     *
     * @param label    the dataset's label
     * @param word     the word the prompt uses for it
     * @param tokenIds the distinct first-token ids of its variants (word-initial first, then bare)
     * @param pieces   the vocabulary strings of those tokens
     */
    public record Entry(String label, String word, int[] tokenIds, List<String> pieces) {
        public Entry {
            tokenIds = tokenIds.clone();
            pieces = List.copyOf(pieces);
        }
    }

    /**
     * The label logits of one answer position.
     *
     * @param logits     per label, the max over its tokens' logits
     * @param probs      softmax over {@code logits}
     * @param predicted  index of the predicted label (argmax, first on ties)
     * @param bestTokens per label, the token id that gave its logit
     */
    public record Scores(double[] logits, double[] probs, int predicted, int[] bestTokens) {
        /** The best token of the predicted label: the attribution target. */
        public int predictedToken() { return bestTokens[predicted]; }
    }

    private final List<Entry> entries;

    private LabelWords(List<Entry> entries) { this.entries = List.copyOf(entries); }

    /**
     * Fixed words, one per label (no alternatives).
     *
     * @throws IllegalArgumentException when a word has no usable token or two labels share a token
     */
    public static LabelWords of(Tokenizer tok, List<String> labels, Map<String, String> words) {
        Map<String, List<String>> c = new HashMap<>();
        for (String l : labels) {
            String w = words.get(l);
            if (w == null) throw new IllegalArgumentException("no label word for label '" + l + "'");
            c.put(l, List.of(w));
        }
        return resolve(tok, labels, c);
    }

    /**
     * The first collision-free choice of words (see the class comment).
     *
     * @param candidates per label, its candidate words in order of preference
     * @throws IllegalArgumentException when no choice keeps the labels' tokens apart
     */
    public static LabelWords resolve(Tokenizer tok, List<String> labels, Map<String, List<String>> candidates) {
        if (labels.isEmpty()) throw new IllegalArgumentException("no labels");
        if (new LinkedHashSet<>(labels).size() != labels.size()) throw new IllegalArgumentException("duplicate labels in " + labels);
        boolean prepends = prependsSpace(tok);
        List<List<Entry>> options = new ArrayList<>();
        for (String l : labels) {
            List<String> words = candidates.get(l);
            if (words == null || words.isEmpty()) throw new IllegalArgumentException("no label word for label '" + l + "'");
            List<Entry> opts = new ArrayList<>();
            for (String w : words) {
                Entry e = entry(tok, prepends, l, w);
                if (e != null) opts.add(e);
            }
            if (opts.isEmpty())
                throw new IllegalArgumentException("label '" + l + "': none of the words " + words + " has a non-blank first token");
            options.add(opts);
        }
        Entry[] chosen = new Entry[labels.size()];
        if (search(options, 0, chosen, new HashMap<>())) return new LabelWords(Arrays.asList(chosen));
        throw new IllegalArgumentException("label words collide: " + collisions(options, tok));
    }

    private static boolean search(List<List<Entry>> options, int i, Entry[] chosen, Map<Integer, Integer> taken) {
        if (i == options.size()) return true;
        for (Entry e : options.get(i)) {
            boolean free = true;
            for (int id : e.tokenIds()) if (taken.containsKey(id)) free = false;
            if (!free) continue;
            for (int id : e.tokenIds()) taken.put(id, i);
            chosen[i] = e;
            if (search(options, i + 1, chosen, taken)) return true;
            for (int id : e.tokenIds()) taken.remove(id);
        }
        return false;
    }

    /** A description of the first-choice collisions, for the error message. */
    private static String collisions(List<List<Entry>> options, Tokenizer tok) {
        List<String> out = new ArrayList<>();
        for (int a = 0; a < options.size(); a++) {
            for (int b = a + 1; b < options.size(); b++) {
                for (Entry x : options.get(a)) {
                    for (Entry y : options.get(b)) {
                        for (int id : x.tokenIds()) {
                            for (int id2 : y.tokenIds()) {
                                if (id == id2) out.add("'" + x.word() + "' (" + x.label() + ") and '" + y.word() + "' (" + y.label()
                                        + ") share the token '" + tok.piece(id) + "' (id " + id + ")");
                            }
                        }
                    }
                }
            }
        }
        return out.isEmpty() ? "no collision-free choice" : String.join("; ", new LinkedHashSet<>(out));
    }

    /** The label's entry for {@code word}, or null when no variant has a non-blank token. */
    private static Entry entry(Tokenizer tok, boolean prepends, String label, String word) {
        if (word == null || word.isBlank()) throw new IllegalArgumentException("label '" + label + "' has a blank label word");
        LinkedHashSet<Integer> ids = new LinkedHashSet<>();
        int initial = wordInitialToken(tok, prepends, word);
        if (initial >= 0) ids.add(initial);
        int bare = bareToken(tok, word);
        if (bare >= 0) ids.add(bare);
        if (ids.isEmpty()) return null;
        int[] arr = ids.stream().mapToInt(Integer::intValue).toArray();
        List<String> pieces = new ArrayList<>();
        for (int id : arr) pieces.add(tok.piece(id));
        return new Entry(label, word, arr, pieces);
    }

    /** The first token of {@code " " + word} after other text, or -1 when it covers only whitespace. */
    static int wordInitialToken(Tokenizer tok, boolean prepends, String word) {
        String w = word.strip();
        Encoding e = prepends ? tok.encode(w, false, false) : tok.encode(" " + w, false, false);
        if (e.size() == 0) return -1;
        int id = e.get(0).id();
        return tok.displayText(id).isBlank() ? -1 : id;
    }

    /** The token starting exactly at the word in {@code "\n" + word}, or -1 (none, or only whitespace). */
    static int bareToken(Tokenizer tok, String word) {
        String w = word.strip();
        Encoding e = tok.encode("\n" + w, false, false);
        for (Token t : e.tokens()) {
            if (t.end() <= 1) continue;            // the newline and empty-span tokens
            if (t.start() != 1) return -1;         // merged with the newline
            return tok.displayText(t.id()).isBlank() ? -1 : t.id();
        }
        return -1;
    }

    /**
     * Whether the tokenizer puts a "▁" (a space) in front of every text it encodes, as SentencePiece-style
     * tokenizers with a Prepend normalizer (Llama 2, stories260K) do: {@code "a"} encodes to a token that
     * displays as {@code " a"}.
     */
    public static boolean prependsSpace(Tokenizer tok) {
        Encoding e = tok.encode("a", false, false);
        for (Token t : e.tokens()) {
            String d = tok.displayText(t.id());
            if (d.isEmpty()) continue;
            return Character.isWhitespace(d.charAt(0));
        }
        return false;
    }

    public List<Entry> entries() { return entries; }

    public int size() { return entries.size(); }

    /** The labels, in the dataset's order. */
    public List<String> labels() { return entries.stream().map(Entry::label).toList(); }

    /** The words, in label order. */
    public List<String> words() { return entries.stream().map(Entry::word).toList(); }

    /** Label → word. */
    public Map<String, String> wordMap() {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (Entry e : entries) m.put(e.label(), e.word());
        return m;
    }

    public String word(String label) { return entries.get(indexOf(label)).word(); }

    public int indexOf(String label) {
        for (int i = 0; i < entries.size(); i++) if (entries.get(i).label().equals(label)) return i;
        throw new IllegalArgumentException("unknown label '" + label + "'");
    }

    /** Every label token id (for checks against the vocabulary). */
    public Set<Integer> allTokenIds() {
        Set<Integer> s = new LinkedHashSet<>();
        for (Entry e : entries) for (int id : e.tokenIds()) s.add(id);
        return s;
    }

    /** Per label, its token ids (the groups of {@link LabelLogits}). */
    public int[][] labelTokens() {
        int[][] out = new int[entries.size()][];
        for (int i = 0; i < out.length; i++) out[i] = entries.get(i).tokenIds();
        return out;
    }

    /** Label logits, probabilities and prediction from one row of vocabulary logits. */
    public Scores score(float[] logits) { return score(LabelLogits.of(logits, labelTokens())); }

    /**
     * Label logits, probabilities and prediction from the row's label logits ({@link LabelLogits#of}, computed here or
     * on a device): the probabilities are the softmax of the label logits in double.
     */
    public Scores score(LabelLogits ll) {
        int n = entries.size();
        if (ll.logits().length != n) throw new IllegalArgumentException(ll.logits().length + " label logits for " + n + " labels");
        double[] l = new double[n];
        for (int i = 0; i < n; i++) l[i] = ll.logits()[i];
        return new Scores(l, ll.probabilities(), ll.predicted(), ll.tokens().clone());
    }

    /** Softmax in double precision (max-shifted): {@link LabelLogits#softmax}. */
    public static double[] softmax(double[] x) { return LabelLogits.softmax(x); }
}
