package io.rationale.tokenizer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VocabularyTest {

    @Test
    void sizes() {
        assertEquals(512, Fixtures.stories().vocabSize());
        assertEquals(32000, Fixtures.llama2().vocabSize());
        assertEquals(128256, Fixtures.llama3().vocabSize()); // 128000 BPE entries + 256 special tokens
    }

    @Test
    void idsAndPieces() {
        Tokenizer tok = Fixtures.stories();
        assertEquals(403, tok.id("▁Once"));
        assertEquals("▁Once", tok.piece(403));
        assertEquals(198, tok.id("<0xC3>"));
        assertEquals("<unk>", tok.piece(0));
        assertTrue(tok.findId("no such piece").isEmpty());
        Tokenizer llama3 = Fixtures.llama3();
        assertEquals(9906, llama3.id("Hello"));
        assertEquals(128009, llama3.id("<|eot_id|>"));
        assertEquals("<|begin_of_text|>", llama3.piece(128000));
        assertThrows(TokenizerException.class, () -> llama3.piece(128256));
    }

    @Test
    void bosAndEos() {
        assertEquals(1, Fixtures.stories().bosId());
        assertEquals(2, Fixtures.stories().eosId());
        assertEquals(1, Fixtures.llama2().bosId());
        assertEquals(2, Fixtures.llama2().eosId());
        assertEquals(128000, Fixtures.llama3().bosId());
        assertEquals(128001, Fixtures.llama3().eosId());
        assertTrue(Fixtures.stories().addsBos());
        assertTrue(Fixtures.llama2().addsBos());
        assertFalse(Fixtures.llama3().addsBos());
        assertFalse(Fixtures.llama2().addsEos());
    }

    @Test
    void specialTokens() {
        Tokenizer tok = Fixtures.stories();
        assertTrue(tok.isSpecial(0));
        assertTrue(tok.isSpecial(1));
        assertTrue(tok.isSpecial(2));
        assertFalse(tok.isSpecial(3)); // <0x00>
        assertFalse(tok.isSpecial(403));
        assertFalse(tok.isSpecial(100000));
        Tokenizer llama3 = Fixtures.llama3();
        for (int id = 128000; id < 128256; id++) assertTrue(llama3.isSpecial(id), "id " + id);
        assertFalse(llama3.isSpecial(127999));
    }

    @Test
    void unknownTokenStringIsAOneLineError() {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Fixtures.llama2().id("no\nsuch"));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith(Fixtures.llama2Dir().resolve("tokenizer.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("no\\nsuch"), e.getMessage());
    }
}
