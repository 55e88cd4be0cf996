package io.rationale.eval;

import io.rationale.tokenizer.Token;

import java.util.List;

/**
 * One tokenized prompt, split for KV-cache reuse into a PREFIX (instructions, demonstrations, the start of the
 * input: identical for the original input and all its masked variants) and the REST (the text under study and the
 * suffix: question and answer cue), tokenized separately (see {@link PromptBuilder} for the boundary).
 *
 * @param text        the whole prompt text ({@code prefix + rest}); for chat models the rendered chat template,
 *                    special-token text included
 * @param prefixChars length of the prefix in {@code text}
 * @param prefixIds   token ids of the prefix (a BOS first when the model takes one)
 * @param restIds     token ids of the rest
 * @param tokens      all tokens, prefix then rest, with char spans into {@code text}
 * @param fieldRanges for each text field in prompt order, its char range {@code [start, end)} in {@code text}
 *                    (the field's text is exactly {@code text.substring(start, end)})
 */
public record Prompt(String text, int prefixChars, int[] prefixIds, int[] restIds, List<Token> tokens,
                     List<int[]> fieldRanges) {
    public Prompt {
        prefixIds = prefixIds.clone();
        restIds = restIds.clone();
        tokens = List.copyOf(tokens);
        fieldRanges = fieldRanges.stream().map(int[]::clone).toList();
        if (tokens.size() != prefixIds.length + restIds.length) throw new IllegalArgumentException("tokens do not match the ids");
    }

    /** All token ids, prefix then rest. */
    public int[] ids() {
        int[] out = new int[prefixIds.length + restIds.length];
        System.arraycopy(prefixIds, 0, out, 0, prefixIds.length);
        System.arraycopy(restIds, 0, out, prefixIds.length, restIds.length);
        return out;
    }

    public int length() { return prefixIds.length + restIds.length; }

    public String prefixText() { return text.substring(0, prefixChars); }

    public String restText() { return text.substring(prefixChars); }

    /**
     * Start of the text under study: the first field's first char. Everything before (instructions,
     * demonstrations, field titles) is template text that attribution leaves out of the words.
     */
    public int studyStart() { return fieldRanges.getFirst()[0]; }

    /** End of the text under study: the last field's end. Template text between fields (titles) is in no word. */
    public int studyEnd() { return fieldRanges.getLast()[1]; }

    /** The text of field f as it stands in the prompt. */
    public String field(int f) {
        int[] r = fieldRanges.get(f);
        return text.substring(r[0], r[1]);
    }
}
