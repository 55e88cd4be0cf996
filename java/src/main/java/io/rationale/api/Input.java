package io.rationale.api;

import io.rationale.tokenizer.ChatMessage;

import java.util.ArrayList;
import java.util.List;

/**
 * What the model reads: a text (tokenized with the model's tokenizer, BOS added when the tokenizer adds one), token
 * ids used as given, or chat messages rendered through the checkpoint's chat template (with the generation prompt).
 * Exactly one of the three is set.
 *
 * @param text     a text, or null
 * @param ids      token ids, or null
 * @param messages chat messages, or null
 */
public record Input(String text, int[] ids, List<ChatMessage> messages) {
    public Input {
        int given = (text != null ? 1 : 0) + (ids != null ? 1 : 0) + (messages != null ? 1 : 0);
        if (given != 1) throw new IllegalArgumentException("give exactly one of text, ids or messages");
        if (ids != null) {
            if (ids.length == 0) throw new IllegalArgumentException("ids is empty");
            ids = ids.clone();
        }
        if (text != null && text.isEmpty()) throw new IllegalArgumentException("text is empty");
        if (messages != null) {
            if (messages.isEmpty()) throw new IllegalArgumentException("messages is empty");
            for (int i = 0; i < messages.size(); i++)
                if (messages.get(i) == null) throw new IllegalArgumentException("messages: message " + i + " is null");
            messages = List.copyOf(messages);
        }
    }

    public static Input text(String text) { return new Input(text, null, null); }

    public static Input ids(int... ids) { return new Input(null, ids, null); }

    public static Input messages(List<ChatMessage> messages) { return new Input(null, null, messages); }

    /** One user message (after an optional system message: null for none) through the chat template. */
    public static Input chat(String user, String system) {
        if (user == null) throw new IllegalArgumentException("user is null");
        List<ChatMessage> m = new ArrayList<>();
        if (system != null) m.add(ChatMessage.system(system));
        m.add(ChatMessage.user(user));
        return messages(m);
    }
}
