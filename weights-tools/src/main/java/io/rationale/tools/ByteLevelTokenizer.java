package io.rationale.tools;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A deterministic Llama 3 style byte-level BPE tokenizer of an exact vocabulary size.
 *
 * <p>Ids: 0..255 are the byte tokens (in GPT-2 byte-level order, as Llama 3); then the tokens
 * learned by {@link BpeTrainer} on {@link TrainingCorpus}; then the special tokens
 * {@code <|begin_of_text|>} (BOS), {@code <|end_of_text|>} (EOS), {@code <|start_header_id|>},
 * {@code <|end_header_id|>}, {@code <|eot_id|>}; then filler tokens up to the vocabulary size:
 * first {@code <|reserved_special_token_K|>} until there are {@value #SPECIAL_COUNT} special
 * tokens in all (as Llama 3 has), then {@code <|reserved_N|>}.
 *
 * <p>Every id is in the BPE model's vocab (ids 0..V-1, contiguous, as tokenizers expects); the
 * named specials and the reserved special tokens are also listed in {@code added_tokens} as
 * special. The {@code <|reserved_N|>} fillers are plain vocab entries no merge produces: listing
 * a hundred thousand of them as added tokens makes the Hugging Face tokenizers library take
 * minutes to load the file.
 */
public final class ByteLevelTokenizer {
    public static final String BOS = "<|begin_of_text|>";
    public static final String EOS = "<|end_of_text|>";
    public static final String START_HEADER = "<|start_header_id|>";
    public static final String END_HEADER = "<|end_header_id|>";
    public static final String EOT = "<|eot_id|>";
    /** The named special tokens, in id order. */
    public static final List<String> NAMED_SPECIALS = List.of(BOS, EOS, START_HEADER, END_HEADER, EOT);
    /** Most special tokens (named + reserved) listed in added_tokens. */
    public static final int SPECIAL_COUNT = 256;
    /** Smallest vocabulary: the 256 bytes plus the named special tokens. */
    public static final int MIN_VOCAB = 256 + 5;
    /** A Llama 3 style chat template. */
    public static final String CHAT_TEMPLATE = "{{- bos_token }}{%- for message in messages %}"
            + "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim"
            + " + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}"
            + "{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}";

    private static BpeTrainer.Result fullTraining;

    private final List<String> tokens;
    private final List<String[]> merges;
    private final int bosId;
    private final int specials;

    private ByteLevelTokenizer(List<String> tokens, List<String[]> merges, int bosId, int specials) {
        this.tokens = tokens;
        this.merges = merges;
        this.bosId = bosId;
        this.specials = specials;
    }

    /** Builds the tokenizer with exactly {@code vocabSize} ids. */
    public static ByteLevelTokenizer build(int vocabSize) {
        if (vocabSize < MIN_VOCAB) {
            throw new ToolException("vocabulary size " + vocabSize + " is too small for the byte-level tokenizer: it needs "
                    + "at least " + MIN_VOCAB + " (256 bytes + " + NAMED_SPECIALS.size() + " special tokens) (--vocab)");
        }
        BpeTrainer.Result all = training();
        int learnable = vocabSize - MIN_VOCAB;
        int learned = Math.min(learnable, all.newTokens().size());
        List<String> tokens = new ArrayList<>(vocabSize);
        for (int id = 0; id < 256; id++) {
            tokens.add(String.valueOf(ByteLevel.charOf(ByteLevel.byteOfId(id))));
        }
        List<String[]> merges = new ArrayList<>();
        if (learned > 0) {
            String last = all.newTokens().get(learned - 1);
            for (String[] m : all.merges()) {
                merges.add(m);
                if ((m[0] + m[1]).equals(last)) {
                    break;
                }
            }
        }
        tokens.addAll(all.newTokens().subList(0, learned));
        int bosId = tokens.size();
        tokens.addAll(NAMED_SPECIALS);
        int reserved = 0;
        while (tokens.size() < vocabSize && reserved + NAMED_SPECIALS.size() < SPECIAL_COUNT) {
            tokens.add("<|reserved_special_token_" + reserved++ + "|>");
        }
        int specials = tokens.size() - bosId;
        int filler = 0;
        while (tokens.size() < vocabSize) {
            tokens.add("<|reserved_" + filler++ + "|>");
        }
        return new ByteLevelTokenizer(Collections.unmodifiableList(tokens), Collections.unmodifiableList(merges), bosId,
                specials);
    }

    private static synchronized BpeTrainer.Result training() {
        if (fullTraining == null) {
            fullTraining = BpeTrainer.train(TrainingCorpus.TEXT, Integer.MAX_VALUE);
        }
        return fullTraining;
    }

    /** Token contents by id (size = vocabulary size). */
    public List<String> tokens() {
        return tokens;
    }

    /** Merges in rank order, each {left, right}. */
    public List<String[]> merges() {
        return merges;
    }

    /** Number of byte and learned tokens (= the id of the first special token). */
    public int learnedVocabSize() {
        return bosId;
    }

    /** Number of special tokens (named and reserved) listed in added_tokens, from {@link #bosId()} on. */
    public int specialCount() {
        return specials;
    }

    public int vocabSize() {
        return tokens.size();
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return bosId + 1;
    }

    public int eotId() {
        return bosId + 4;
    }

    /** tokenizer.json. */
    public ObjectNode tokenizerJson() {
        ObjectNode root = Json.object();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = bosId; id < bosId + specials; id++) {
            added.add(TokenizerJsonParts.addedSpecial(id, tokens.get(id)));
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode pres = pre.putArray("pretokenizers");
        ObjectNode split = pres.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", BpeTrainer.LLAMA3_SPLIT_REGEX);
        split.put("behavior", "Isolated");
        split.put("invert", false);
        ObjectNode bl = pres.addObject();
        bl.put("type", "ByteLevel");
        bl.put("add_prefix_space", false);
        bl.put("trim_offsets", true);
        bl.put("use_regex", false);
        root.set("post_processor", TokenizerJsonParts.bosTemplate(BOS, bosId));
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel");
        dec.put("add_prefix_space", true);
        dec.put("trim_offsets", true);
        dec.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < tokens.size(); id++) {
            vocab.put(tokens.get(id), id);
        }
        ArrayNode m = model.putArray("merges");
        for (String[] p : merges) {
            m.add(p[0] + " " + p[1]);
        }
        return root;
    }

    /** tokenizer_config.json (BOS added, Llama 3 style chat template). */
    public ObjectNode tokenizerConfigJson(int modelMaxLength) {
        ObjectNode c = Json.object();
        c.put("add_bos_token", true);
        c.put("add_eos_token", false);
        ObjectNode dec = c.putObject("added_tokens_decoder");
        for (int i = 0; i < NAMED_SPECIALS.size(); i++) {
            ObjectNode t = dec.putObject(Integer.toString(bosId + i));
            t.put("content", NAMED_SPECIALS.get(i));
            t.put("lstrip", false);
            t.put("normalized", false);
            t.put("rstrip", false);
            t.put("single_word", false);
            t.put("special", true);
        }
        c.put("bos_token", BOS);
        c.put("chat_template", CHAT_TEMPLATE);
        c.put("clean_up_tokenization_spaces", false);
        c.put("eos_token", EOS);
        c.putArray("model_input_names").add("input_ids").add("attention_mask");
        c.put("model_max_length", modelMaxLength);
        c.putNull("pad_token");
        c.put("tokenizer_class", "PreTrainedTokenizerFast");
        return c;
    }

    /** special_tokens_map.json. */
    public ObjectNode specialTokensMap() {
        ObjectNode c = Json.object();
        c.put("bos_token", BOS);
        c.put("eos_token", EOS);
        return c;
    }

    /** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into {@code dir}. */
    public void writeTo(Path dir, int modelMaxLength) {
        Json.write(dir.resolve("tokenizer.json"), tokenizerJson());
        Json.write(dir.resolve("tokenizer_config.json"), tokenizerConfigJson(modelMaxLength));
        Json.write(dir.resolve("special_tokens_map.json"), specialTokensMap());
    }
}
