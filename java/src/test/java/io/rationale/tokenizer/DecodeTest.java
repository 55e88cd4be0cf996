package io.rationale.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DecodeTest {

    @Test
    void referenceTextsRoundTrip() {
        for (Path dir : List.of(Fixtures.storiesDir(), Fixtures.llama2Dir(), Fixtures.llama3Dir())) {
            Tokenizer tok = Fixtures.load(dir);
            for (Fixtures.Case c : Fixtures.cases(dir)) {
                assertEquals(c.text(), tok.decode(c.ids(), false, false), dir + ": " + c.text());
                if (!c.text().contains("<|")) { // a special token typed in the text would be skipped too
                    assertEquals(c.text(), tok.decode(tok.encode(c.text()).ids(), true), dir + ": " + c.text());
                }
            }
        }
    }

    @Test
    void specialTokensKeptOrSkipped() {
        // decoder: ▁ -> space, fuse, strip one leading space: "<s>" + " Once" + " upon" ...
        Tokenizer stories = Fixtures.stories();
        int[] ids = {1, 403, 407, 261, 378, 2};
        assertEquals("<s> Once upon a time</s>", stories.decode(ids));
        assertEquals("Once upon a time", stories.decode(ids, true));

        Tokenizer llama3 = Fixtures.llama3();
        int[] chat = {128000, 9906, 1917, 128009};
        assertEquals("<|begin_of_text|>Hello world<|eot_id|>", llama3.decode(chat));
        assertEquals("Hello world", llama3.decode(chat, true));
    }

    @Test
    void llama2StripsOnlyTheFirstLeadingSpace() {
        // ▁▁ ▁double is "   double"; the one space the prepended ▁ stood for is dropped
        assertEquals("  double", Fixtures.llama2().decode(new int[] {259, 3765}));
        assertEquals("double", Fixtures.llama2().decode(new int[] {3765}));
    }

    @Test
    void aContinuationKeepsItsLeadingSpace() {
        // stories260K (Llama 2's decoder): <s> ▁Once ▁upon ▁a | ▁time ,  — alone, "▁time" would lose its space
        Tokenizer stories = Fixtures.stories();
        int[] prompt = {1, 403, 407, 261}, more = {378, 432};
        assertEquals("time,", stories.decode(more, true));
        assertEquals(" time,", stories.decodeAfter(prompt, more));
        assertEquals("Once upon a", stories.decodeAfter(new int[] {1}, new int[] {403, 407, 261}), "after BOS alone: a text's start");
        // a prompt longer than the context window it reads
        int[] longer = stories.encode("The cat sat on the mat and the dog ran after it all day long").ids();
        assertEquals(" time,", stories.decodeAfter(longer, more));
        // a character split between prompt and continuation: the continuation decoded alone
        assertEquals("\uFFFD\uFFFD\uFFFD", stories.decodeAfter(new int[] {410, 243}, new int[] {162, 155, 131}));
        // Llama 3 (byte-level) keeps spaces anyway: the same as decode
        Tokenizer llama3 = Fixtures.llama3();
        int[] ids = llama3.encode("Once upon a time").ids();
        int[] tail = java.util.Arrays.copyOfRange(ids, ids.length - 2, ids.length);
        assertEquals(llama3.decode(tail, true), llama3.decodeAfter(java.util.Arrays.copyOf(ids, ids.length - 2), tail));
        assertEquals(" a time", llama3.decode(tail, true));
    }

    @Test
    void tokenBytesJoinIntoTheTextsUtf8() {
        // byte-fallback (stories260K, Llama 2's kind) and byte-level (Llama 3): each token's bytes, joined, are the
        // UTF-8 of the encoded text (Llama 2 with the space its first ▁ stands for)
        String text = "Hello naïve 😀 world";
        for (Tokenizer tok : List.of(Fixtures.stories(), Fixtures.llama2(), Fixtures.llama3())) {
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            for (int id : tok.encode(text, false, false).ids()) b.writeBytes(tok.tokenBytes(id));
            String joined = b.toString(java.nio.charset.StandardCharsets.UTF_8);
            assertEquals(text, joined.startsWith(" ") && !text.startsWith(" ") ? joined.substring(1) : joined);
        }
        assertArrayEquals(new byte[]{(byte) 0xF0}, Fixtures.stories().tokenBytes(243));
        assertArrayEquals("<s>".getBytes(java.nio.charset.StandardCharsets.UTF_8), Fixtures.stories().tokenBytes(1));
    }

    /** Where each of {@code ids} begins after {@code context}: the growths of the tokens before it, summed. */
    static int[] offsets(Tokenizer tok, int[] context, int[] ids) {
        int[] all = java.util.Arrays.copyOf(context, context.length + ids.length);
        System.arraycopy(ids, 0, all, context.length, ids.length);
        int[] out = new int[ids.length];
        for (int i = 0, at = 0; i < ids.length; at += tok.growth(all, context.length + i), i++) out[i] = at;
        return out;
    }

    @Test
    void offsetsAreWhereEachTokenBeginsInTheText() {
        // against full decodes: where a prefix's decoded text ends is where the next token begins
        Tokenizer stories = Fixtures.stories();
        int[] prompt = stories.encode("Once upon a").ids();
        int[] ids = stories.encode("time, the cat ran. Naïve 😀 end", false, false).ids();
        int[] off = offsets(stories, prompt, ids);
        int split = 0;
        for (int i = 0; i < ids.length; i++) {
            String before = stories.decodeAfter(prompt, java.util.Arrays.copyOf(ids, i));
            int whole = before.length();
            while (whole > 0 && before.charAt(whole - 1) == '\uFFFD') whole--;   // a split character's bytes: where it begins
            if (whole < before.length()) split++;
            assertEquals(whole, off[i], "token " + i + " after '" + before + "'");
        }
        assertTrue(split >= 4, "the text has characters split over byte tokens: " + split);
        int[] fromStart = offsets(stories, new int[0], prompt);
        assertEquals(0, fromStart[0]);
        assertEquals(0, fromStart[1], "BOS has no text: the first word begins where it does");
        assertEquals("Once".length(), fromStart[2], "\" upon\" begins with its space");
    }

    @Test
    void byteFallbackTokensJoinIntoCharacters() {
        // ▁ <0xF0> <0x9F> <0x98> <0x80> is " 😀"; the leading space is stripped
        assertEquals("😀", Fixtures.stories().decode(new int[] {410, 243, 162, 155, 131}));
        // an incomplete character becomes U+FFFD, as in transformers
        assertEquals("\uFFFD", Fixtures.stories().decode(new int[] {243}));
    }

    @Test
    void llama3CleansUpSpacesAsItsConfigSays() {
        Tokenizer tok = Fixtures.llama3();
        int[] ids = tok.encode("Hello , world . It 's").ids();
        assertEquals("Hello, world. It's", tok.decode(ids));
        assertEquals("Hello , world . It 's", tok.decode(ids, false, false));
        // stories/Llama 2 configs set clean_up_tokenization_spaces false
        int[] s = Fixtures.stories().encode("a , b").ids();
        assertEquals("a , b", Fixtures.stories().decode(s, true));
    }

    @Test
    void unknownIdIsAnError() {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Fixtures.stories().decode(new int[] {403, 512}));
        assertTrue(e.getMessage().contains("512"), e.getMessage());
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
        assertThrows(TokenizerException.class, () -> Fixtures.stories().decode(new int[] {-1}));
    }

    @Test
    void displayTextOfSingleTokens() {
        Tokenizer stories = Fixtures.stories();
        assertEquals(" Once", stories.displayText(403));
        assertEquals("ll", stories.displayText(306));
        assertEquals("\n", stories.displayText(stories.id("<0x0A>")));
        assertEquals("<0xC3>", stories.displayText(198));
        assertEquals("<s>", stories.displayText(1));

        Tokenizer llama3 = Fixtures.llama3();
        assertEquals(" leading", llama3.displayText(6522));
        assertEquals("\n\n\n", llama3.displayText(1432));
        assertEquals("ï", llama3.displayText(38672));
        assertEquals(" <0xF0><0x9F>", llama3.displayText(11410));
        assertEquals("<|eot_id|>", llama3.displayText(128009));
        assertFalse(llama3.displayText(99).isEmpty());
    }
}
