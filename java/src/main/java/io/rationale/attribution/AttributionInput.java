package io.rationale.attribution;

import io.rationale.dataset.Word;
import io.rationale.dataset.Words;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Token;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SortedSet;

/**
 * What is explained: the input tokens (ids and UTF-16 char spans into {@link #text()}), and the char range
 * {@code [studyStart, studyEnd)} of the text under study inside it (the whole text unless a prompt template
 * surrounds it).
 *
 * <p>Words are {@link Words#split} of the text under study ({@code text.substring(studyStart, studyEnd)}), with
 * their spans shifted back into {@link #text()} coordinates, so template text next to the study text never joins
 * a word. A token belongs to every study word its span overlaps ({@link Words#overlapping}); tokens with an empty
 * span (BOS/EOS) or a span outside the study range belong to no word and are {@link #inStudy not in the study}:
 * their token scores are still computed and listed, but they are in no word. A token covering only whitespace
 * inside the study range is in the study but in no word.
 */
public final class AttributionInput {
    private final String text;
    private final boolean hasText;
    private final List<Token> tokens;
    private final int[] ids;
    private final int studyStart, studyEnd;
    private final List<Word> words;
    private final int[][] tokenWords, wordTokens;
    private final boolean[] inStudy;

    private AttributionInput(String text, boolean hasText, List<Token> tokens, int studyStart, int studyEnd) {
        if (tokens.isEmpty()) throw new IllegalArgumentException("the input has no tokens");
        if (studyStart < 0 || studyEnd < studyStart || studyEnd > text.length())
            throw new IllegalArgumentException("study range [" + studyStart + ", " + studyEnd + ") is outside the text [0, " + text.length() + ")");
        this.text = text;
        this.hasText = hasText;
        this.tokens = List.copyOf(tokens);
        this.studyStart = studyStart;
        this.studyEnd = studyEnd;
        this.ids = new int[tokens.size()];
        for (int i = 0; i < ids.length; i++) {
            Token t = tokens.get(i);
            if (t.end() > text.length()) throw new IllegalArgumentException("token " + i + " span [" + t.start() + ", " + t.end() + ") is outside the text");
            ids[i] = t.id();
        }
        List<Word> w = new ArrayList<>();
        for (Word x : Words.split(text.substring(studyStart, studyEnd)))
            w.add(new Word(x.index(), x.start() + studyStart, x.end() + studyStart, x.text()));
        this.words = Collections.unmodifiableList(w);
        this.tokenWords = new int[ids.length][];
        this.inStudy = new boolean[ids.length];
        List<List<Integer>> perWord = new ArrayList<>();
        for (int k = 0; k < w.size(); k++) perWord.add(new ArrayList<>());
        for (int i = 0; i < ids.length; i++) {
            Token t = tokens.get(i);
            inStudy[i] = t.end() > t.start() && t.start() < studyEnd && studyStart < t.end();
            SortedSet<Integer> ws = Words.overlapping(w, t.start(), t.end());
            tokenWords[i] = ws.stream().mapToInt(Integer::intValue).toArray();
            for (int k : tokenWords[i]) perWord.get(k).add(i);
        }
        this.wordTokens = new int[w.size()][];
        for (int k = 0; k < w.size(); k++) wordTokens[k] = perWord.get(k).stream().mapToInt(Integer::intValue).toArray();
    }

    /** An encoded text, all of it under study. */
    public static AttributionInput of(Encoding e) {
        return new AttributionInput(e.text(), true, e.tokens(), 0, e.text().length());
    }

    /** An encoded prompt of which only {@code [studyStart, studyEnd)} (chars of {@code e.text()}) is under study. */
    public static AttributionInput of(Encoding e, int studyStart, int studyEnd) {
        return new AttributionInput(e.text(), true, e.tokens(), studyStart, studyEnd);
    }

    /** Tokens with spans into {@code text}, of which {@code [studyStart, studyEnd)} is under study. */
    public static AttributionInput of(String text, List<Token> tokens, int studyStart, int studyEnd) {
        return new AttributionInput(text, true, tokens, studyStart, studyEnd);
    }

    /**
     * Token ids without an original text. With a tokenizer, the text is the tokens' display texts joined
     * ({@link Tokenizer#displayText}; special tokens contribute nothing and get an empty span; a byte that is not
     * a whole character on its own shows as {@code <0xNN>}), and words come from it. Without one, every token has
     * an empty span and there are no words.
     */
    public static AttributionInput ofIds(int[] ids, Tokenizer tok) {
        if (ids.length == 0) throw new IllegalArgumentException("the input has no tokens");
        List<Token> tokens = new ArrayList<>(ids.length);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            if (tok == null) {
                tokens.add(new Token(id, "", "", 0, 0, false));
                continue;
            }
            if (id < 0 || id >= tok.vocabSize())
                throw new IllegalArgumentException("input id " + id + " is outside the tokenizer's vocabulary [0, " + tok.vocabSize() + ")");
            boolean special = tok.isSpecial(id);
            String s = special ? "" : tok.displayText(id);
            int start = sb.length();
            sb.append(s);
            tokens.add(new Token(id, tok.piece(id), s, start, sb.length(), special));
        }
        return new AttributionInput(sb.toString(), tok != null, tokens, 0, sb.length());
    }

    /** The text the token spans index (for {@link #ofIds} the joined display texts; "" without a tokenizer). */
    public String text() { return text; }

    /** Whether tokens carry spans into a text (false only for ids without a tokenizer). */
    public boolean hasText() { return hasText; }

    public List<Token> tokens() { return tokens; }

    /** The token ids (a copy). */
    public int[] ids() { return ids.clone(); }

    public int size() { return ids.length; }

    public int studyStart() { return studyStart; }

    public int studyEnd() { return studyEnd; }

    /** The words of the text under study, spans in {@link #text()} coordinates, indices 0.. in order. */
    public List<Word> words() { return words; }

    /** The word indices token i belongs to (empty for none). */
    public int[] tokenWords(int i) { return tokenWords[i].clone(); }

    /** The token indices of word k, in order. */
    public int[] wordTokens(int k) { return wordTokens[k].clone(); }

    /** Whether token i covers some text under study (empty spans never do). */
    public boolean inStudy(int i) { return inStudy[i]; }

    /** Word scores from token scores. */
    public double[] aggregate(double[] tokenScores, Aggregate how) {
        if (tokenScores.length != ids.length)
            throw new IllegalArgumentException(tokenScores.length + " token scores for " + ids.length + " tokens");
        double[] out = new double[words.size()];
        for (int k = 0; k < out.length; k++) out[k] = how.apply(tokenScores, wordTokens[k]);
        return out;
    }
}
