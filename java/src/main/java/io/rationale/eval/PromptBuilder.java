package io.rationale.eval;

import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.tokenizer.ChatMessage;
import io.rationale.tokenizer.ChatTemplate;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Token;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds the classification and prompting prompts of a {@link TaskTemplate} and tokenizes them for KV-cache reuse.
 *
 * <h2>Base models: a plain completion prompt</h2>
 * <pre>
 * {instruction}
 *
 * {Title1}: {demo field 1}          (one block per demonstration)
 * {Title2}: {demo field 2}
 * {Answer}: {demo label word}
 *
 * {Title1}: {field 1}
 * {Title2}: {field 2}
 * {Answer}:
 * </pre>
 * The label word is expected right after the final {@code "{Answer}:"}. The prompting prompts continue the
 * classification prompt with the model's predicted word and a question:
 * {@code ... {Answer}: {predicted word}\n{question}\n{Words|Explanation}:}.
 *
 * <h2>Chat models (the tokenizer has a chat template): the chat template</h2>
 * Classification: one user message, {@code {instruction}\n\n{demo blocks}{field block}\n\nAnswer with one word:
 * {words}.} (demonstration blocks as above, inside the message), then the generation prompt; nothing is appended
 * after it (the assistant's answer comes next). Prompting: the user message, an assistant message with the
 * predicted word, a user message with the question, then the generation prompt. The chat template is rendered
 * once with placeholder contents to find the text around the messages, and every prompt is checked against a
 * real rendering (a template that alters the contents makes the example fail with a reason).
 *
 * <h2>The prefix / rest boundary</h2>
 * The prefix ends right after the first field's title colon ({@code ...\n\nBio:}); the rest starts with the
 * space before the first field ({@code " " + field 1 + ...}). Prefix and rest are tokenized separately, the same
 * way for the original input and every masked variant, so all variants share the prefix's tokens (and KV cache):
 * <ul>
 *   <li>the prefix: with the model's BOS for base prompts ({@link Tokenizer#encode(String)}'s rule), without for
 *       chat prompts (the template writes it);</li>
 *   <li>the rest, on tokenizers that prepend "▁" to every encoded text (SentencePiece / Llama 2 style): the rest
 *       without its leading space, whose prepended "▁" stands for that space (so the tokens decode to the prompt
 *       text and the first field word gets its usual word-initial token, e.g. {@code ▁She}); a boundary at a line
 *       start would make such a tokenizer emit a spurious "▁". On byte-level tokenizers (Llama 3) the rest is
 *       encoded as it is ({@code " She"} → {@code ĠShe}).</li>
 * </ul>
 * Merges across the boundary (possible in principle) are therefore never made; this is the same for every
 * variant, and the one-by-one reference of {@link FlipEvaluation} uses the same tokens.
 */
public final class PromptBuilder {
    private static final String SENTINEL = "\u0001RATIONALE_MESSAGE_";

    private final Tokenizer tok;
    private final TaskTemplate template;
    private final LabelWords labelWords;
    private final ChatTemplate chat;
    private final boolean prepends;

    /**
     * @param useChat whether to go through the tokenizer's chat template (callers pass "the tokenizer has one")
     */
    public PromptBuilder(Tokenizer tok, TaskTemplate template, LabelWords labelWords, boolean useChat) {
        this.tok = tok;
        this.template = template;
        this.labelWords = labelWords;
        this.chat = useChat ? tok.chatTemplate().orElseThrow(() -> new IllegalArgumentException("the tokenizer has no chat template")) : null;
        this.prepends = LabelWords.prependsSpace(tok);
    }

    /** A builder that uses the chat template exactly when the tokenizer has one. */
    public static PromptBuilder forTokenizer(Tokenizer tok, TaskTemplate template, LabelWords labelWords) {
        return new PromptBuilder(tok, template, labelWords, tok.chatTemplate().isPresent());
    }

    public boolean chat() { return chat != null; }

    public TaskTemplate template() { return template; }

    public LabelWords labelWords() { return labelWords; }

    public Tokenizer tokenizer() { return tok; }

    /** The prompts of one example: its field names, titles and demonstrations fixed. */
    public Layout layout(List<String> fieldNames, List<Example> demos) {
        if (fieldNames.isEmpty()) throw new IllegalArgumentException("no fields");
        StringBuilder head = new StringBuilder();
        head.append(template.instruction(labelWords.words())).append("\n\n");
        for (Example d : demos) {
            head.append(block(d.fields().stream().map(TextField::name).toList(), d.fields().stream().map(TextField::text).toList()));
            head.append('\n').append(template.answerTitle()).append(": ").append(labelWords.word(d.label())).append("\n\n");
        }
        head.append(template.title(fieldNames.get(0))).append(':');
        return new Layout(List.copyOf(fieldNames), head.toString());
    }

    /** The prompts of an example, with demonstrations. */
    public Layout layout(Example e, List<Example> demos) {
        return layout(e.fields().stream().map(TextField::name).toList(), demos);
    }

    private String block(List<String> names, List<String> texts) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < names.size(); i++) {
            if (i > 0) b.append('\n');
            b.append(template.title(names.get(i))).append(": ").append(texts.get(i));
        }
        return b.toString();
    }

    /** The prompts of one example for any field texts (original or masked). */
    public final class Layout {
        private final List<String> fieldNames;
        private final String contentHead;    // instruction, demos, first title and colon (inside the user message for chat)
        private final String prefixText;
        private final Encoding prefixEncoding;

        private Layout(List<String> fieldNames, String contentHead) {
            this.fieldNames = fieldNames;
            this.contentHead = contentHead;
            String before = chat == null ? "" : chatParts(List.of("user"), true).get(0);
            this.prefixText = before + contentHead;
            this.prefixEncoding = chat == null ? tok.encode(prefixText, tok.addsBos(), false) : tok.encode(prefixText, false, false);
        }

        public List<String> fieldNames() { return fieldNames; }

        /** The shared prefix text. */
        public String prefixText() { return prefixText; }

        /** The shared prefix tokens. */
        public int[] prefixIds() { return prefixEncoding.ids(); }

        /** The classification prompt for these field texts (one per field, in order). */
        public Prompt classify(List<String> fields) {
            checkFields(fields);
            if (chat == null) return assemble(fields, "\n" + template.answerTitle() + ":");
            return chatPrompt(fields, "\n\nAnswer with one word: " + TaskTemplate.joinOr(labelWords.words()) + ".", List.of());
        }

        /** The guided prompting prompt: after the predicted word, ask for the k most important words. */
        public Prompt guided(List<String> fields, String predictedWord, int k) {
            return prompting(fields, predictedWord, template.guidedQuestion(k), TaskTemplate.GUIDED_TITLE);
        }

        /** The unbound prompting prompt: after the predicted word, ask for a free explanation. */
        public Prompt unbound(List<String> fields, String predictedWord) {
            return prompting(fields, predictedWord, template.unboundQuestion(), TaskTemplate.UNBOUND_TITLE);
        }

        private Prompt prompting(List<String> fields, String predictedWord, String question, String title) {
            checkFields(fields);
            if (chat == null)
                return assemble(fields, "\n" + template.answerTitle() + ": " + predictedWord + "\n" + question + "\n" + title + ":");
            return chatPrompt(fields, "\n\nAnswer with one word: " + TaskTemplate.joinOr(labelWords.words()) + ".",
                    List.of(ChatMessage.assistant(predictedWord), ChatMessage.user(question)));
        }

        private void checkFields(List<String> fields) {
            if (fields.size() != fieldNames.size())
                throw new IllegalArgumentException(fields.size() + " field texts for " + fieldNames.size() + " fields");
        }

        /** The user content after the head: " f1\nTitle2: f2..." plus the ranges of the fields in it. */
        private String fieldsText(List<String> fields, List<int[]> ranges, int offset) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < fields.size(); i++) {
                if (i > 0) b.append('\n').append(template.title(fieldNames.get(i))).append(':');
                b.append(' ');
                int s = offset + b.length();
                b.append(fields.get(i));
                ranges.add(new int[]{s, offset + b.length()});
            }
            return b.toString();
        }

        private Prompt assemble(List<String> fields, String suffix) {
            List<int[]> ranges = new ArrayList<>();
            String rest = fieldsText(fields, ranges, prefixText.length()) + suffix;
            return build(prefixText + rest, ranges);
        }

        private Prompt chatPrompt(List<String> fields, String userTail, List<ChatMessage> more) {
            List<int[]> ranges = new ArrayList<>();
            String firstContent = contentHead + fieldsText(fields, ranges, 0) + userTail;
            List<ChatMessage> messages = new ArrayList<>();
            messages.add(ChatMessage.user(firstContent));
            messages.addAll(more);
            List<String> roles = messages.stream().map(ChatMessage::role).toList();
            List<String> parts = chatParts(roles, true);
            StringBuilder text = new StringBuilder(parts.get(0));
            int contentStart = text.length();
            for (int i = 0; i < messages.size(); i++) {
                text.append(messages.get(i).content()).append(parts.get(i + 1));
            }
            String rendered = chat.render(messages, true);
            if (!rendered.contentEquals(text))
                throw new IllegalStateException("the chat template changes the message contents; cannot locate the text under study");
            List<int[]> shifted = new ArrayList<>();
            int headLen = contentStart + contentHead.length();
            if (headLen != prefixText.length()) throw new IllegalStateException("chat prefix differs between prompts");
            for (int[] r : ranges) shifted.add(new int[]{r[0] + headLen, r[1] + headLen});
            return build(text.toString(), shifted);
        }

        private Prompt build(String text, List<int[]> ranges) {
            if (!text.startsWith(prefixText)) throw new IllegalStateException("prompt does not start with its prefix");
            String rest = text.substring(prefixText.length());
            List<Token> tokens = new ArrayList<>(prefixEncoding.tokens());
            List<Token> restTokens = encodeRest(rest, prefixText.length(), text);
            tokens.addAll(restTokens);
            int[] restIds = new int[restTokens.size()];
            for (int i = 0; i < restIds.length; i++) restIds[i] = restTokens.get(i).id();
            return new Prompt(text, prefixText.length(), prefixEncoding.ids(), restIds, tokens, ranges);
        }
    }

    /**
     * The rest of a prompt (starting with a space) encoded as a continuation: see the class comment. Token spans
     * are shifted by {@code offset} into {@code full}; on prepending tokenizers the first token's span is widened
     * to cover the leading space its "▁" stands for.
     */
    List<Token> encodeRest(String rest, int offset, String full) {
        if (rest.isEmpty()) throw new IllegalArgumentException("empty prompt rest");
        List<Token> out = new ArrayList<>();
        if (prepends) {
            if (rest.charAt(0) != ' ') throw new IllegalStateException("prompt rest must start with a space");
            Encoding e = tok.encode(rest.substring(1), false, false);
            for (int i = 0; i < e.size(); i++) {
                Token t = e.get(i);
                int s = t.start() + 1 + offset, end = t.end() + 1 + offset;
                if (i == 0 && t.start() == 0 && tok.displayText(t.id()).startsWith(" ")) s = offset;
                out.add(new Token(t.id(), t.piece(), full.substring(s, end), s, end, t.special()));
            }
        } else {
            Encoding e = tok.encode(rest, false, false);
            for (Token t : e.tokens()) {
                int s = t.start() + offset, end = t.end() + offset;
                out.add(new Token(t.id(), t.piece(), full.substring(s, end), s, end, t.special()));
            }
        }
        if (out.isEmpty()) throw new IllegalStateException("prompt rest has no tokens");
        return out;
    }

    /** The chat template's text around n messages of these roles: n + 1 parts. */
    private List<String> chatParts(List<String> roles, boolean generationPrompt) {
        List<ChatMessage> msgs = new ArrayList<>();
        for (int i = 0; i < roles.size(); i++) msgs.add(new ChatMessage(roles.get(i), SENTINEL + i + "\u0001"));
        String r = chat.render(msgs, generationPrompt);
        List<String> parts = new ArrayList<>();
        int at = 0;
        for (int i = 0; i < roles.size(); i++) {
            String s = SENTINEL + i + "\u0001";
            int p = r.indexOf(s, at);
            if (p < 0) throw new IllegalStateException("the chat template drops or alters message " + i);
            parts.add(r.substring(at, p));
            at = p + s.length();
        }
        parts.add(r.substring(at));
        return parts;
    }
}
