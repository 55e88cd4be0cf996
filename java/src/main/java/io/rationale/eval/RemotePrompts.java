package io.rationale.eval;

import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.tokenizer.ChatMessage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The prompts of {@link PromptBuilder} as text, for a model behind an API (no tokenizer, no KV cache): the same
 * wording character for character (a test compares them), as one completion prompt for a base model or as chat
 * messages for a chat model.
 */
final class RemotePrompts {
    private final TaskTemplate template;
    private final List<String> words;             // label words in label order
    private final Map<String, String> wordOf;     // label → word

    RemotePrompts(TaskTemplate template, List<String> words, Map<String, String> wordOf) {
        this.template = template;
        this.words = List.copyOf(words);
        this.wordOf = Map.copyOf(wordOf);
    }

    /** Instruction, demonstrations, and the first field's title with its colon (PromptBuilder's content head). */
    String head(List<String> fieldNames, List<Example> demos) {
        StringBuilder head = new StringBuilder();
        head.append(template.instruction(words)).append("\n\n");
        for (Example d : demos) {
            List<TextField> f = d.fields();
            for (int i = 0; i < f.size(); i++) {
                if (i > 0) head.append('\n');
                head.append(template.title(f.get(i).name())).append(": ").append(f.get(i).text());
            }
            head.append('\n').append(template.answerTitle()).append(": ").append(wordOf.get(d.label())).append("\n\n");
        }
        head.append(template.title(fieldNames.getFirst())).append(':');
        return head.toString();
    }

    /** {@code " f1\nTitle2: f2..."}. */
    String fieldsText(List<String> fieldNames, List<String> fields) {
        if (fields.size() != fieldNames.size()) throw new IllegalArgumentException(fields.size() + " field texts for " + fieldNames.size() + " fields");
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fields.size(); i++) {
            if (i > 0) b.append('\n').append(template.title(fieldNames.get(i))).append(':');
            b.append(' ').append(fields.get(i));
        }
        return b.toString();
    }

    // ------------------------------------------------------------------ base models: one completion prompt

    String classify(String head, List<String> fieldNames, List<String> fields) {
        return head + fieldsText(fieldNames, fields) + "\n" + template.answerTitle() + ":";
    }

    String guided(String head, List<String> fieldNames, List<String> fields, String predictedWord, int k) {
        return prompting(head, fieldNames, fields, predictedWord, template.guidedQuestion(k), TaskTemplate.GUIDED_TITLE);
    }

    String unbound(String head, List<String> fieldNames, List<String> fields, String predictedWord) {
        return prompting(head, fieldNames, fields, predictedWord, template.unboundQuestion(), TaskTemplate.UNBOUND_TITLE);
    }

    private String prompting(String head, List<String> fieldNames, List<String> fields, String predictedWord, String question, String title) {
        return head + fieldsText(fieldNames, fields) + "\n" + template.answerTitle() + ": " + predictedWord + "\n" + question + "\n" + title + ":";
    }

    // ------------------------------------------------------------------ chat models: messages

    List<ChatMessage> classifyChat(String head, List<String> fieldNames, List<String> fields) {
        return List.of(ChatMessage.user(userContent(head, fieldNames, fields)));
    }

    List<ChatMessage> guidedChat(String head, List<String> fieldNames, List<String> fields, String predictedWord, int k) {
        return promptingChat(head, fieldNames, fields, predictedWord, template.guidedQuestion(k));
    }

    List<ChatMessage> unboundChat(String head, List<String> fieldNames, List<String> fields, String predictedWord) {
        return promptingChat(head, fieldNames, fields, predictedWord, template.unboundQuestion());
    }

    private List<ChatMessage> promptingChat(String head, List<String> fieldNames, List<String> fields, String predictedWord, String question) {
        List<ChatMessage> m = new ArrayList<>();
        m.add(ChatMessage.user(userContent(head, fieldNames, fields)));
        m.add(ChatMessage.assistant(predictedWord));
        m.add(ChatMessage.user(question));
        return m;
    }

    private String userContent(String head, List<String> fieldNames, List<String> fields) {
        return head + fieldsText(fieldNames, fields) + "\n\nAnswer with one word: " + TaskTemplate.joinOr(words) + ".";
    }
}
