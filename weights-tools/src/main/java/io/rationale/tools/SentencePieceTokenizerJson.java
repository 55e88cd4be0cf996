package io.rationale.tools;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a Llama 2 style Hugging Face tokenizer.json from a SentencePiece BPE vocabulary, as
 * transformers' LlamaConverter (legacy mode) does: normalizer Prepend("▁") + Replace(" ", "▁"),
 * no pre-tokenizer, BOS TemplateProcessing, decoder Replace/ByteFallback/Fuse/Strip, and a BPE
 * model with byte_fallback whose vocab is the pieces by id and whose merges come from
 * {@link #merges}.
 */
public final class SentencePieceTokenizerJson {
    private SentencePieceTokenizerJson() {
    }

    /**
     * The merges transformers' SentencePieceExtractor derives: for each piece in id order, every
     * split into two pieces both in the vocab (ordered by the ids of the left, then right part);
     * then all of them stably sorted by the merged piece's score, highest first. The scores of
     * the unknown, BOS and EOS pieces count as 0, as the converter sets them.
     */
    public static List<String[]> merges(SentencePieceModel sp) {
        List<SentencePieceModel.Piece> pieces = sp.pieces();
        Map<String, Integer> vocab = new HashMap<>();
        for (int i = 0; i < pieces.size(); i++) {
            vocab.put(pieces.get(i).piece(), i);
        }
        List<String[]> merges = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        for (int id = 0; id < pieces.size(); id++) {
            String piece = pieces.get(id).piece();
            if (!vocab.get(piece).equals(id)) {
                continue; // a duplicate piece: Python's dict keeps the last id only
            }
            float score = scoreOf(sp, id);
            List<int[]> local = new ArrayList<>();
            int cut = piece.offsetByCodePoints(0, Math.min(1, piece.codePointCount(0, piece.length())));
            while (cut > 0 && cut < piece.length()) {
                Integer l = vocab.get(piece.substring(0, cut));
                Integer r = vocab.get(piece.substring(cut));
                if (l != null && r != null) {
                    local.add(new int[] {l, r});
                }
                cut = piece.offsetByCodePoints(cut, 1);
            }
            local.sort((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
            for (int[] lr : local) {
                merges.add(new String[] {pieces.get(lr[0]).piece(), pieces.get(lr[1]).piece()});
                scores.add(score);
            }
        }
        Integer[] order = new Integer[merges.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Float.compare(scores.get(b), scores.get(a)));
        List<String[]> sorted = new ArrayList<>(merges.size());
        for (Integer i : order) {
            sorted.add(merges.get(i));
        }
        return sorted;
    }

    private static float scoreOf(SentencePieceModel sp, int id) {
        if (id == sp.unkId() || id == sp.bosId() || id == sp.eosId()) {
            return 0f;
        }
        return sp.pieces().get(id).score();
    }

    /** tokenizer.json for {@code sp}. */
    public static ObjectNode tokenizerJson(SentencePieceModel sp) {
        List<SentencePieceModel.Piece> pieces = sp.pieces();
        String unk = pieces.get(sp.unkId()).piece();
        String bos = pieces.get(sp.bosId()).piece();
        ObjectNode root = Json.object();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id : new int[] {sp.unkId(), sp.bosId(), sp.eosId()}) {
            added.add(TokenizerJsonParts.addedSpecial(id, pieces.get(id).piece()));
        }
        ObjectNode norm = root.putObject("normalizer");
        norm.put("type", "Sequence");
        ArrayNode ns = norm.putArray("normalizers");
        ObjectNode prepend = ns.addObject();
        prepend.put("type", "Prepend");
        prepend.put("prepend", "\u2581");
        ObjectNode replace = ns.addObject();
        replace.put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "\u2581");
        root.putNull("pre_tokenizer");
        root.set("post_processor", TokenizerJsonParts.bosTemplate(bos, sp.bosId()));
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "Sequence");
        ArrayNode ds = dec.putArray("decoders");
        ObjectNode d1 = ds.addObject();
        d1.put("type", "Replace");
        d1.putObject("pattern").put("String", "\u2581");
        d1.put("content", " ");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ObjectNode strip = ds.addObject();
        strip.put("type", "Strip");
        strip.put("content", " ");
        strip.put("start", 1);
        strip.put("stop", 0);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", unk);
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < pieces.size(); id++) {
            vocab.put(pieces.get(id).piece(), id);
        }
        ArrayNode m = model.putArray("merges");
        for (String[] p : merges(sp)) {
            m.add(p[0] + " " + p[1]);
        }
        return root;
    }

    /** tokenizer_config.json in the shape transformers writes for a Llama 2 tokenizer. */
    public static ObjectNode tokenizerConfigJson(SentencePieceModel sp, int modelMaxLength, boolean hasSpModel) {
        List<SentencePieceModel.Piece> pieces = sp.pieces();
        ObjectNode c = Json.object();
        c.put("add_bos_token", true);
        c.put("add_eos_token", false);
        c.putNull("add_prefix_space");
        ObjectNode dec = c.putObject("added_tokens_decoder");
        for (int id : new int[] {sp.unkId(), sp.bosId(), sp.eosId()}) {
            ObjectNode t = dec.putObject(Integer.toString(id));
            t.put("content", pieces.get(id).piece());
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        c.put("bos_token", pieces.get(sp.bosId()).piece());
        c.put("eos_token", pieces.get(sp.eosId()).piece());
        c.put("unk_token", pieces.get(sp.unkId()).piece());
        c.putNull("pad_token");
        c.put("clean_up_tokenization_spaces", false);
        c.put("legacy", true);
        c.put("model_max_length", modelMaxLength);
        c.putObject("sp_model_kwargs");
        c.put("spaces_between_special_tokens", false);
        c.put("tokenizer_class", hasSpModel ? "LlamaTokenizer" : "LlamaTokenizerFast");
        c.put("use_default_system_prompt", false);
        return c;
    }

    /** special_tokens_map.json. */
    public static ObjectNode specialTokensMap(SentencePieceModel sp) {
        ObjectNode c = Json.object();
        c.put("bos_token", sp.pieces().get(sp.bosId()).piece());
        c.put("eos_token", sp.pieces().get(sp.eosId()).piece());
        c.put("unk_token", sp.pieces().get(sp.unkId()).piece());
        return c;
    }

    /** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into {@code dir}. */
    public static void writeTo(SentencePieceModel sp, Path dir, int modelMaxLength, boolean hasSpModel) {
        Json.write(dir.resolve("tokenizer.json"), tokenizerJson(sp));
        Json.write(dir.resolve("tokenizer_config.json"), tokenizerConfigJson(sp, modelMaxLength, hasSpModel));
        Json.write(dir.resolve("special_tokens_map.json"), specialTokensMap(sp));
    }
}
