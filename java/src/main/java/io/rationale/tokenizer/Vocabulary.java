package io.rationale.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The id/piece tables of a tokenizer.json: {@code model.vocab} (an object piece to id for BPE/WordPiece/
 * WordLevel, or a list of [piece, score] for Unigram) plus {@code added_tokens}, which win on conflicts.
 * Also records what the decoder and post-processor say, which the DJL API does not expose.
 */
final class Vocabulary {
    private final String file;
    private final Map<String, Integer> ids = new HashMap<>();
    private final String[] pieces;
    private final BitSet added = new BitSet();
    private final BitSet special = new BitSet();
    /** The decoder maps bytes to printable chars (GPT-2 / Llama 3 style). */
    final boolean byteLevel;
    /** The model falls back to {@code <0xNN>} byte pieces (SentencePiece / Llama 2 style). */
    final boolean byteFallback;
    /** Special tokens the post-processor puts before / after a single sequence (TemplateProcessing). */
    final List<String> postPrefix;
    final List<String> postSuffix;

    /**
     * Reads the parts of a tokenizer.json this class needs, streaming past the large {@code merges} list.
     *
     * @throws TokenizerException when the file is not JSON or lacks a model vocabulary
     */
    static Vocabulary read(Path path) {
        String file = path.toString();
        ObjectMapper mapper = new ObjectMapper();
        JsonNode addedTokens = null;
        JsonNode decoder = null;
        JsonNode postProcessor = null;
        Map<String, Integer> modelVocab = null;
        boolean byteFallback = false;
        boolean sawModel = false;
        try (JsonParser p = mapper.getFactory().createParser(path.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new TokenizerException(file + ": not a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "added_tokens" -> addedTokens = mapper.readTree(p);
                    case "decoder" -> decoder = mapper.readTree(p);
                    case "post_processor" -> postProcessor = mapper.readTree(p);
                    case "model" -> {
                        if (value != JsonToken.START_OBJECT) throw new TokenizerException(file + ": no \"model\" object");
                        sawModel = true;
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String key = p.currentName();
                            JsonToken v = p.nextToken();
                            if (key.equals("vocab")) {
                                modelVocab = readVocab(p, v, file);
                            } else if (key.equals("byte_fallback")) {
                                byteFallback = v == JsonToken.VALUE_TRUE;
                            } else {
                                p.skipChildren();
                            }
                        }
                    }
                    default -> p.skipChildren();
                }
            }
        } catch (JsonProcessingException e) {
            throw new TokenizerException(file + ": invalid JSON: " + TokenizerConfig.oneLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new TokenizerException(file + ": cannot read: " + TokenizerConfig.oneLine(e.getMessage()));
        }
        if (!sawModel) throw new TokenizerException(file + ": no \"model\" object");
        if (modelVocab == null) throw new TokenizerException(file + ": no \"model.vocab\"");
        return new Vocabulary(file, modelVocab, addedTokens, decoder, postProcessor, byteFallback);
    }

    /** {@code model.vocab}: an object piece to id (BPE, WordPiece, WordLevel) or a list of [piece, score] (Unigram). */
    private static Map<String, Integer> readVocab(JsonParser p, JsonToken start, String file) throws IOException {
        Map<String, Integer> vocab = new HashMap<>();
        if (start == JsonToken.START_OBJECT) {
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String piece = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_NUMBER_INT || p.getIntValue() < 0) {
                    throw new TokenizerException(file + ": bad token id for \"" + piece + "\" in model.vocab");
                }
                vocab.put(piece, p.getIntValue());
            }
        } else if (start == JsonToken.START_ARRAY) {
            int id = 0;
            while (p.nextToken() == JsonToken.START_ARRAY) {
                p.nextToken();
                vocab.put(p.getValueAsString(), id++);
                while (p.nextToken() != JsonToken.END_ARRAY) p.skipChildren();
            }
        } else {
            throw new TokenizerException(file + ": \"model.vocab\" is neither an object nor a list");
        }
        return vocab;
    }

    private Vocabulary(String file, Map<String, Integer> modelVocab, JsonNode addedTokens, JsonNode decoder,
                       JsonNode postProcessor, boolean byteFallback) {
        this.file = file;
        JsonNode added = addedTokens == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : addedTokens;
        ids.putAll(modelVocab);
        int maxId = -1;
        for (int id : modelVocab.values()) maxId = Math.max(maxId, id);
        for (JsonNode t : added) {
            int id = checkedId(t.path("id"), "added_tokens");
            String content = t.path("content").asText();
            ids.put(content, id);
            this.added.set(id);
            if (t.path("special").asBoolean(false)) special.set(id);
            maxId = Math.max(maxId, id);
        }
        pieces = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : ids.entrySet()) pieces[e.getValue()] = e.getKey();
        // an added token's content is its piece, even where the model vocabulary has another entry for that id
        for (JsonNode t : added) pieces[t.path("id").asInt()] = t.path("content").asText();
        this.byteLevel = hasType(decoder, "ByteLevel");
        this.byteFallback = byteFallback;
        List<String> prefix = new ArrayList<>();
        List<String> suffix = new ArrayList<>();
        if (postProcessor != null) readTemplate(postProcessor, prefix, suffix);
        postPrefix = List.copyOf(prefix);
        postSuffix = List.copyOf(suffix);
    }

    private int checkedId(JsonNode n, String where) {
        if (!n.canConvertToInt() || n.asInt() < 0) throw new TokenizerException(file + ": bad token id at " + where);
        return n.asInt();
    }

    /** One past the largest id (model vocabulary and added tokens together). */
    int size() { return pieces.length; }

    /** The id of a piece, or -1. */
    int id(String piece) {
        Integer id = ids.get(piece);
        return id == null ? -1 : id;
    }

    /** The piece of an id, or null for an id no entry has. */
    String piece(int id) { return id >= 0 && id < pieces.length ? pieces[id] : null; }

    boolean isAdded(int id) { return added.get(id); }

    boolean isSpecial(int id) { return special.get(id); }

    /** Whether a decoder/normalizer/... node, or any node of a Sequence under it, has this type. */
    private static boolean hasType(JsonNode node, String type) {
        if (node == null || node.isNull() || node.isMissingNode()) return false;
        if (type.equals(node.path("type").asText())) return true;
        for (String list : new String[] {"decoders", "processors", "normalizers", "pretokenizers"}) {
            for (JsonNode child : node.path(list)) if (hasType(child, type)) return true;
        }
        return false;
    }

    /** The SpecialToken entries of a TemplateProcessing "single" template before and after the sequence. */
    private static void readTemplate(JsonNode node, List<String> prefix, List<String> suffix) {
        if ("Sequence".equals(node.path("type").asText())) {
            for (JsonNode child : node.path("processors")) readTemplate(child, prefix, suffix);
            return;
        }
        if (!"TemplateProcessing".equals(node.path("type").asText())) return;
        boolean seenSequence = false;
        for (JsonNode item : node.path("single")) {
            if (item.has("Sequence")) {
                seenSequence = true;
            } else if (item.has("SpecialToken")) {
                String id = item.path("SpecialToken").path("id").asText();
                (seenSequence ? suffix : prefix).add(id);
            }
        }
    }
}
