package io.rationale.tools;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Pieces of tokenizer.json shared by the byte-level and the SentencePiece-derived tokenizers. */
final class TokenizerJsonParts {
    private TokenizerJsonParts() {
    }

    /** A TemplateProcessing post-processor that puts {@code bos} before each sequence. */
    static ObjectNode bosTemplate(String bos, int bosId) {
        ObjectNode p = Json.object();
        p.put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        special(single, bos, 0);
        sequence(single, "A", 0);
        ArrayNode pair = p.putArray("pair");
        special(pair, bos, 0);
        sequence(pair, "A", 0);
        special(pair, bos, 1);
        sequence(pair, "B", 1);
        ObjectNode st = p.putObject("special_tokens").putObject(bos);
        st.put("id", bos);
        st.putArray("ids").add(bosId);
        st.putArray("tokens").add(bos);
        return p;
    }

    /** An added_tokens entry for a special token. */
    static ObjectNode addedSpecial(int id, String content) {
        ObjectNode t = Json.object();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
        return t;
    }

    private static void special(ArrayNode a, String id, int typeId) {
        ObjectNode s = a.addObject().putObject("SpecialToken");
        s.put("id", id);
        s.put("type_id", typeId);
    }

    private static void sequence(ArrayNode a, String id, int typeId) {
        ObjectNode s = a.addObject().putObject("Sequence");
        s.put("id", id);
        s.put("type_id", typeId);
    }
}
