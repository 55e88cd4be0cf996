package io.rationale.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What rationale-engine reads from a tokenizer_config.json. Special tokens may be written as a string or as an
 * object {@code {"content": ...}}; absent keys are null.
 *
 * @param file         the file path, for messages ({@code "(none)"} when the folder has no tokenizer_config.json)
 * @param addBos       {@code add_bos_token}, or null when the key is absent
 * @param addEos       {@code add_eos_token}, or null when the key is absent
 * @param chatTemplate {@code chat_template} (the "default" one when it is a list of named templates), or null; a
 *                     {@code chat_template.jinja} beside it replaces it, as in transformers (whose recent
 *                     versions save the template there)
 * @param chatTemplateFile where the chat template came from, for messages (null without a template)
 * @param cleanUpSpaces {@code clean_up_tokenization_spaces} (false when absent, as in current transformers)
 */
record TokenizerConfig(String file, Boolean addBos, Boolean addEos, String bosToken, String eosToken,
                       String unkToken, String padToken, String chatTemplate, String chatTemplateFile,
                       boolean cleanUpSpaces) {

    static final String FILE_NAME = "tokenizer_config.json";

    /** The chat template file transformers writes and reads beside tokenizer_config.json (it wins over the key). */
    static final String TEMPLATE_FILE_NAME = "chat_template.jinja";

    static TokenizerConfig load(Path dir) {
        TokenizerConfig c = loadJson(dir);
        Path jinja = dir.resolve(TEMPLATE_FILE_NAME);
        if (!Files.isRegularFile(jinja)) return c;
        String template;
        try {
            template = Files.readString(jinja);
        } catch (IOException e) {
            throw new TokenizerException(jinja + ": cannot read: " + oneLine(e.getMessage()));
        }
        return new TokenizerConfig(c.file, c.addBos, c.addEos, c.bosToken, c.eosToken, c.unkToken, c.padToken,
                template, jinja.toString(), c.cleanUpSpaces);
    }

    private static TokenizerConfig loadJson(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) return new TokenizerConfig("(none)", null, null, null, null, null, null, null, null, false);
        JsonNode j;
        try {
            j = new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new TokenizerException(file + ": invalid JSON: " + oneLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new TokenizerException(file + ": cannot read: " + oneLine(e.getMessage()));
        }
        if (!j.isObject()) throw new TokenizerException(file + ": not a JSON object");
        String f = file.toString();
        String template = template(j.get("chat_template"), f);
        return new TokenizerConfig(f, bool(j, "add_bos_token", f), bool(j, "add_eos_token", f),
                token(j, "bos_token", f), token(j, "eos_token", f), token(j, "unk_token", f), token(j, "pad_token", f),
                template, template == null ? null : f, Boolean.TRUE.equals(bool(j, "clean_up_tokenization_spaces", f)));
    }

    private static Boolean bool(JsonNode j, String key, String file) {
        JsonNode n = j.get(key);
        if (n == null || n.isNull()) return null;
        if (!n.isBoolean()) throw new TokenizerException(file + ": \"" + key + "\" is not true/false");
        return n.asBoolean();
    }

    /** A special token given as "text" or as {"content": "text", ...}. */
    private static String token(JsonNode j, String key, String file) {
        JsonNode n = j.get(key);
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.path("content").isTextual()) return n.path("content").asText();
        throw new TokenizerException(file + ": \"" + key + "\" is neither a string nor an object with \"content\"");
    }

    /** A chat_template string, or from a list [{name, template}] the one named "default". */
    private static String template(JsonNode n, String file) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isArray()) {
            for (JsonNode t : n) if ("default".equals(t.path("name").asText())) return t.path("template").asText();
            throw new TokenizerException(file + ": \"chat_template\" list has no template named \"default\"");
        }
        throw new TokenizerException(file + ": \"chat_template\" is neither a string nor a list");
    }

    static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", " ");
    }
}
