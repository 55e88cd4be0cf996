package io.rationale.api;

import io.rationale.attribution.AttributionInput;
import io.rationale.tokenizer.ChatMessage;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds what attribution explains from a text or token ids, the one way the command line, the Java API and the
 * service do it: the text under study is the text (or the user message with {@code chat}), restricted to an
 * optional char range of it.
 */
public final class AttributionInputs {
    private AttributionInputs() {}

    /**
     * A text, all of it or {@code [studyStart, studyEnd)} under study; with {@code chat} the text is one user
     * message (after an optional system message) rendered through the chat template with the generation prompt,
     * and the range counts in the user text.
     *
     * @throws IllegalArgumentException for an empty text, a range outside the text, no chat template, or a chat
     *                                  template that changes the text so that its place is unknown
     */
    public static AttributionInput forText(Tokenizer tok, String text, boolean chat, String system, Integer studyStart,
                                           Integer studyEnd) {
        if (text == null || text.isEmpty()) throw new IllegalArgumentException("text is empty");
        int s = studyStart == null ? 0 : studyStart, e = studyEnd == null ? text.length() : studyEnd;
        if (s < 0 || e > text.length() || s > e)
            throw new IllegalArgumentException("study range [" + s + ", " + e + ") is not inside the " + (chat ? "user " : "") + "text [0, "
                    + text.length() + "]");
        if (!chat) {
            Encoding enc = tok.encode(text);
            if (enc.size() == 0) throw new IllegalArgumentException("the text encodes to no tokens");
            return AttributionInput.of(enc, s, e);
        }
        List<ChatMessage> messages = new ArrayList<>();
        if (system != null) messages.add(ChatMessage.system(system));
        messages.add(ChatMessage.user(text));
        String rendered = tok.chatTemplate()
                .orElseThrow(() -> new IllegalArgumentException(tok.file().resolveSibling("tokenizer_config.json") + ": no chat_template (needed by chat)"))
                .render(messages, true);
        int base = rendered.lastIndexOf(text);
        int lo = 0, hi = text.length();
        if (base < 0) {                              // templates that trim the message (Llama 3's)
            String stripped = text.strip();
            int at = rendered.lastIndexOf(stripped);
            if (stripped.isEmpty() || at < 0)
                throw new IllegalArgumentException("chat: the user text does not appear in the rendered chat prompt, so its range is unknown");
            lo = text.indexOf(stripped);
            hi = lo + stripped.length();
            base = at - lo;
        }
        Encoding enc = tok.encode(rendered, false, false);
        return AttributionInput.of(enc, base + Math.clamp(s, lo, hi), base + Math.clamp(e, lo, hi));
    }

    /**
     * Token ids as given. With a tokenizer that knows every id, tokens get their texts and words come from them
     * ({@link AttributionInput#ofIds}); ids beyond the tokenizer's vocabulary (a model vocabulary larger than the
     * tokenizer's) or no tokenizer give tokens without texts and no words.
     *
     * @throws IllegalArgumentException for an empty list or an id outside the model's vocabulary
     */
    public static AttributionInput forIds(Tokenizer tok, int[] ids, int vocab) {
        if (ids == null || ids.length == 0) throw new IllegalArgumentException("ids is empty");
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException("input id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + vocab + ")");
        if (tok != null)
            for (int id : ids) if (id >= tok.vocabSize()) return AttributionInput.ofIds(ids, null);
        return AttributionInput.ofIds(ids, tok);
    }
}
