package io.rationale.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The newer way tokenizer.json writes a SentencePiece tokenizer: no Prepend/Replace normalizer but a Metaspace
 * pre-tokenizer (prepend_scheme "first"). Built here from the stories260K file; it must give the same ids as
 * the legacy file for texts that do not start with a space, and consistent spans for all.
 */
class MetaspacePreTokenizerTest {

    @Test
    void sameIdsAndConsistentSpans(@TempDir Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = (ObjectNode) json.readTree(Fixtures.storiesDir().resolve("tokenizer.json").toFile());
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Metaspace");
        pre.put("replacement", "▁");
        pre.put("prepend_scheme", "first");
        pre.put("split", false);
        json.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        Files.copy(Fixtures.storiesDir().resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            for (Fixtures.Case c : Fixtures.cases(Fixtures.storiesDir())) {
                Encoding e = tok.encode(c.text(), false, false);
                if (!c.text().startsWith(" ")) assertArrayEquals(c.ids(), e.ids(), c.text());
                SpanChecks.check(tok, e);
            }
            Encoding e = tok.encode("Café", false, false);
            assertEquals("▁", e.get(0).piece());
            assertEquals(0, e.get(0).end());
            assertEquals("C", e.get(1).text());
        }
    }
}
