package io.rationale.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Files that cannot be used give one-line TokenizerExceptions that name the file. */
class LoadErrorsTest {

    private static TokenizerException loadFails(Path dir) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e;
    }

    /** A folder with the stories260K tokenizer.json (copied to a temporary folder) and the given tokenizer_config.json. */
    private static Path withConfig(Path dir, String config) throws IOException {
        Files.copy(Fixtures.storiesDir().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), config);
        return dir;
    }

    @Test
    void nativeLibraryIsTakenFromTheJarNotDownloaded() {
        Fixtures.stories();
        // without this DJL would download a CUDA build of the tokenizers library on a machine with a GPU
        assertEquals("true", System.getProperty("ai.djl.offline"));
    }

    @Test
    void missingTokenizerJson(@TempDir Path dir) {
        assertEquals(dir.resolve("tokenizer.json") + ": not found", loadFails(dir).getMessage());
    }

    @Test
    void notJson(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{not json\n}");
        String m = loadFails(dir).getMessage();
        assertTrue(m.startsWith(dir.resolve("tokenizer.json") + ": invalid JSON"), m);
    }

    @Test
    void jsonButNotATokenizer(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"version\": \"1.0\", \"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        String m = loadFails(dir).getMessage();
        assertTrue(m.startsWith(dir.resolve("tokenizer.json") + ": not a valid Hugging Face tokenizer: "), m);
        Files.writeString(dir.resolve("tokenizer.json"), "[1, 2]");
        assertEquals(dir.resolve("tokenizer.json") + ": not a JSON object", loadFails(dir).getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{\"version\": \"1.0\"}");
        assertEquals(dir.resolve("tokenizer.json") + ": no \"model\" object", loadFails(dir).getMessage());
    }

    @Test
    void badTokenizerConfig(@TempDir Path dir) throws IOException {
        String m = loadFails(withConfig(dir, "{\"add_bos_token\": tru")).getMessage();
        assertTrue(m.startsWith(dir.resolve("tokenizer_config.json") + ": invalid JSON"), m);
    }

    @Test
    void bosTokenNotInVocabulary(@TempDir Path dir) throws IOException {
        String m = loadFails(withConfig(dir, "{\"bos_token\": {\"content\": \"<nope>\"}}")).getMessage();
        assertTrue(m.startsWith(dir.resolve("tokenizer_config.json") + ": special token \"<nope>\" is not in"), m);
    }

    @Test
    void configDecidesBosAndEos(@TempDir Path dir) throws IOException {
        String config = "{\"add_bos_token\": false, \"add_eos_token\": true,"
                + " \"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, \"eos_token\": \"</s>\"}";
        try (Tokenizer tok = Tokenizer.load(withConfig(dir, config))) {
            assertFalse(tok.addsBos());
            assertTrue(tok.addsEos());
            assertEquals(java.util.List.of("▁Once", "</s>"), tok.encode("Once").pieces());
            // an EOS the text already ends with is not doubled
            assertEquals(java.util.List.of("▁Once", "</s>"), tok.encode("Once</s>").pieces());
        }
    }

    @Test
    void withoutConfigThePostProcessorDecides(@TempDir Path dir) throws IOException {
        // the stories260K tokenizer.json's TemplateProcessing puts <s> before the sequence
        Files.copy(Fixtures.storiesDir().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertTrue(tok.addsBos());
            assertEquals(1, tok.bosId());
            assertEquals(-1, tok.eosId());
            assertFalse(tok.addsEos());
            assertTrue(tok.chatTemplate().isEmpty());
            assertThrows(TokenizerException.class, () -> tok.encode("x", false, true));
        }
    }
}
