package io.rationale.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static io.rationale.tokenizer.ChatMessage.system;
import static io.rationale.tokenizer.ChatMessage.user;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A rendered chat prompt already starts with the BOS text: encoding it must not add a second BOS. */
class ChatEncodingTest {

    private static long count(int[] ids, int id) {
        return java.util.Arrays.stream(ids).filter(x -> x == id).count();
    }

    @Test
    void llama2ChatHasOneBos() {
        Tokenizer tok = Fixtures.llama2();
        List<ChatMessage> chat = List.of(user("Hi"));
        Encoding e = tok.encodeChat(chat, true);
        assertEquals(1, e.ids()[0]);
        assertEquals(1, count(e.ids(), 1));
        // the same as BOS + the prompt text after "<s>"
        assertArrayEquals(tok.encode("[INST] Hi [/INST]", true, false).ids(), e.ids());
        // encode() of the rendered text does not double the BOS either; the exact form does, when told to
        String rendered = tok.chatTemplate().orElseThrow().render(chat, true);
        assertArrayEquals(e.ids(), tok.encode(rendered).ids());
        int[] doubled = tok.encode(rendered, true, false).ids();
        assertEquals(1, doubled[0]);
        assertEquals(1, doubled[1]);
    }

    @Test
    void llama3ChatHasOneBeginOfTextAndSpecialTokens() {
        Tokenizer tok = Fixtures.llama3();
        Encoding e = tok.encodeChat(List.of(system("Be brief."), user("Hi")), true);
        int[] ids = e.ids();
        assertEquals(128000, ids[0]);
        assertEquals(1, count(ids, 128000));
        assertEquals(3, count(ids, tok.id("<|start_header_id|>")));
        assertEquals(3, count(ids, tok.id("<|end_header_id|>")));
        assertEquals(2, count(ids, tok.id("<|eot_id|>")));
        assertEquals(tok.id("<|end_header_id|>"), ids[ids.length - 2]);
        for (Token t : e.tokens()) {
            if (t.id() == tok.id("<|eot_id|>")) {
                assertEquals("<|eot_id|>", t.text());
                assertTrue(t.special());
            }
        }
        SpanChecks.check(tok, e);
        assertEquals(e.text(), tok.decode(ids, false, false));
    }

    @Test
    void tokenizerWithoutTemplate() {
        TokenizerException ex = org.junit.jupiter.api.Assertions.assertThrows(TokenizerException.class,
                () -> Fixtures.stories().encodeChat(List.of(user("Hi")), true));
        assertTrue(ex.getMessage().contains("no chat_template"), ex.getMessage());
        assertTrue(Fixtures.stories().chatTemplate().isEmpty());
    }

    /**
     * recent transformers saves the template as chat_template.jinja beside tokenizer_config.json, and reads it
     * from there in preference to the config's chat_template key. A fine-tuned folder saved that way must chat.
     */
    @Test
    void chatTemplateJinjaBesideTheConfigIsUsedAndWins(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Files.copy(Fixtures.storiesDir().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        java.nio.file.Files.copy(Fixtures.storiesDir().resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        java.nio.file.Files.writeString(dir.resolve("chat_template.jinja"),
                "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
        try (Tokenizer tok = Tokenizer.load(dir)) {
            Encoding e = tok.encodeChat(List.of(user("Hi")), true);
            assertEquals("<s>user: Hi\n", e.text());
            assertArrayEquals(tok.encode("<s>user: Hi\n", false, false).ids(), e.ids());
            assertEquals(1, e.ids()[0]);
        }
        // the file wins over a chat_template key in tokenizer_config.json, and its errors name it
        String config = java.nio.file.Files.readString(dir.resolve("tokenizer_config.json"));
        java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"),
                config.replaceFirst("\\{", "{\"chat_template\": \"CONFIG {{ messages[0]['content'] }}\",\n"));
        java.nio.file.Files.writeString(dir.resolve("chat_template.jinja"), "FILE {{ messages[0]['content'] }}{{ raise_exception('no') }}");
        try (Tokenizer tok = Tokenizer.load(dir)) {
            TokenizerException ex = org.junit.jupiter.api.Assertions.assertThrows(TokenizerException.class,
                    () -> tok.encodeChat(List.of(user("Hi")), true));
            assertTrue(ex.getMessage().startsWith(dir.resolve("chat_template.jinja") + ": "), ex.getMessage());
        }
        java.nio.file.Files.delete(dir.resolve("chat_template.jinja"));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertEquals("CONFIG Hi", tok.encodeChat(List.of(user("Hi")), true).text());
        }
    }
}
