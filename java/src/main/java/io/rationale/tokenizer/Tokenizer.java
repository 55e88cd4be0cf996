package io.rationale.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The tokenizer of a model folder: Hugging Face {@code tokenizer.json} (run by the Rust tokenizers library
 * through DJL, offline; see {@link NativeTokenizers}) plus {@code tokenizer_config.json} for BOS/EOS and the
 * chat template. Covers Llama 2 style (SentencePiece BPE, "▁" metaspace, byte fallback) and Llama 3 style
 * (byte-level BPE, split regex, many special tokens) tokenizers.
 *
 * <h2>Special tokens: the rule</h2>
 * The text is encoded without the tokenizer.json post-processor's specials; then a BOS is put in front when
 * the tokenizer adds one, and an EOS at the end when it adds one. "Adds one" is {@code add_bos_token} /
 * {@code add_eos_token} of tokenizer_config.json when the key is there (this is what transformers'
 * LlamaTokenizer(Fast) does), otherwise whether tokenizer.json's TemplateProcessing post-processor puts that
 * token before/after the sequence (what PreTrainedTokenizerFast does). So stories260K and Llama 2 add
 * {@code <s>}; the shared Llama 3 tokenizer adds nothing (its config has no add_bos_token and its
 * post-processor is a bare ByteLevel), while the original Meta Llama 3 tokenizer.json would add
 * {@code <|begin_of_text|>}. {@link #encode(String)} additionally never doubles a BOS: when the text itself
 * starts with the BOS text (a rendered chat prompt), no second BOS is added; {@link #encode(String, boolean,
 * boolean)} does exactly what it is told. Special-token text inside the input (e.g. {@code <|eot_id|>}) is
 * always recognised as that special token, as in transformers.
 *
 * <h2>Spans</h2>
 * Every {@link Token} carries {@code start}/{@code end} as UTF-16 indices into the input String; see
 * {@link Token} and {@link Spans}.
 *
 * <p>Thread-safe for encoding and decoding. Holds native memory: {@link #close()} it when done.
 */
public final class Tokenizer implements AutoCloseable {
    public static final String FILE_NAME = "tokenizer.json";

    private final Path file;
    private final HuggingFaceTokenizer hf;
    private final Vocabulary vocab;
    private final TokenizerConfig config;
    private final int bosId;
    private final int eosId;
    private final boolean addBos;
    private final boolean addEos;
    private final ChatTemplate chatTemplate;

    private Tokenizer(Path file, HuggingFaceTokenizer hf, Vocabulary vocab, TokenizerConfig config) {
        this.file = file;
        this.hf = hf;
        this.vocab = vocab;
        this.config = config;
        String bos = config.bosToken() != null ? config.bosToken() : single(vocab.postPrefix);
        String eos = config.eosToken() != null ? config.eosToken() : single(vocab.postSuffix);
        this.bosId = bos == null ? -1 : knownId(bos, config.file());
        this.eosId = eos == null ? -1 : knownId(eos, config.file());
        this.addBos = bos != null && (config.addBos() != null ? config.addBos() : vocab.postPrefix.contains(bos));
        this.addEos = eos != null && (config.addEos() != null ? config.addEos() : vocab.postSuffix.contains(eos));
        this.chatTemplate = config.chatTemplate() == null ? null : new ChatTemplate(config.chatTemplate(), config.chatTemplateFile(),
                specialTokenVariables(config));
    }

    /**
     * Loads {@code dir/tokenizer.json} and, when present, {@code dir/tokenizer_config.json}.
     *
     * @throws TokenizerException when a file is missing, not JSON, or not a valid tokenizer
     */
    public static Tokenizer load(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) throw new TokenizerException(file + ": not found");
        Vocabulary vocab = Vocabulary.read(file);
        TokenizerConfig config = TokenizerConfig.load(dir);
        HuggingFaceTokenizer hf;
        try {
            hf = NativeTokenizers.open(file);
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException(file + ": not a valid Hugging Face tokenizer: "
                    + TokenizerConfig.oneLine(e.getMessage()), e);
        }
        try {
            return new Tokenizer(file, hf, vocab, config);
        } catch (RuntimeException e) {
            hf.close();
            throw e;
        }
    }

    /** The tokenizer.json this was loaded from. */
    public Path file() { return file; }

    // ---------------------------------------------------------------- encoding

    /**
     * Encodes with the tokenizer's BOS/EOS rule (see the class comment), never doubling a BOS or EOS that the
     * text already starts/ends with.
     */
    public Encoding encode(String text) {
        boolean bos = addBos && !text.startsWith(vocab.piece(bosId));
        boolean eos = addEos && !text.endsWith(vocab.piece(eosId));
        return encode(text, bos, eos);
    }

    /**
     * Encodes exactly: the text's own tokens (special-token text in it included), with a BOS in front when
     * {@code addBos} and an EOS at the end when {@code addEos}. The BOS has the empty span [0,0), the EOS
     * [len,len).
     *
     * @throws TokenizerException when a BOS/EOS is asked for and the tokenizer has none
     */
    public Encoding encode(String text, boolean addBos, boolean addEos) {
        if (addBos && bosId < 0) throw new TokenizerException(file + ": no BOS token is defined");
        if (addEos && eosId < 0) throw new TokenizerException(file + ": no EOS token is defined");
        ai.djl.huggingface.tokenizers.Encoding e = hf.encode(withoutLoneSurrogates(text), false, false);
        long[] ids = e.getIds();
        String[] pieces = e.getTokens();
        CharSpan[] spans = e.getCharTokenSpans();
        int[] cpStarts = new int[ids.length];
        int[] cpEnds = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            CharSpan s = spans == null ? null : spans[i];
            cpStarts[i] = s == null ? -1 : s.getStart();
            cpEnds[i] = s == null ? -1 : s.getEnd();
        }
        int[][] utf16 = Spans.toUtf16(text, pieces, cpStarts, cpEnds);
        List<Token> tokens = new ArrayList<>(ids.length + 2);
        if (addBos) tokens.add(new Token(bosId, vocab.piece(bosId), "", 0, 0, vocab.isSpecial(bosId)));
        for (int i = 0; i < ids.length; i++) {
            int id = (int) ids[i];
            int start = utf16[0][i];
            int end = utf16[1][i];
            tokens.add(new Token(id, pieces[i], text.substring(start, end), start, end, vocab.isSpecial(id)));
        }
        int len = text.length();
        if (addEos) tokens.add(new Token(eosId, vocab.piece(eosId), "", len, len, vocab.isSpecial(eosId)));
        return new Encoding(text, tokens);
    }

    // ---------------------------------------------------------------- chat

    /** The tokenizer_config.json chat template, if it has one. */
    public Optional<ChatTemplate> chatTemplate() { return Optional.ofNullable(chatTemplate); }

    /**
     * Renders the chat template and encodes the result without adding BOS/EOS: the template writes its own
     * BOS text (as transformers' {@code apply_chat_template(tokenize=True)} does).
     *
     * @throws TokenizerException when tokenizer_config.json has no chat_template
     */
    public Encoding encodeChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (chatTemplate == null) throw new TokenizerException(config.file() + ": no chat_template (and no " + TokenizerConfig.TEMPLATE_FILE_NAME + " beside it)");
        return encode(chatTemplate.render(messages, addGenerationPrompt), false, false);
    }

    // ---------------------------------------------------------------- decoding

    /** Decodes ids to text the way transformers' {@code decode(ids)} does: special tokens included. */
    public String decode(int[] ids) { return decode(ids, false); }

    /**
     * Decodes ids to text the way transformers' {@code decode} does: the tokenizer.json decoder (Llama 2 drops
     * the one leading space its prepended "▁" became; byte-fallback and byte-level pieces are joined into
     * characters), then, when tokenizer_config.json sets {@code clean_up_tokenization_spaces}, transformers'
     * clean-up (" ." to ".", " 's" to "'s", ...; the shared Llama 3 config sets it).
     *
     * @param skipSpecialTokens leave special tokens (BOS, {@code <|eot_id|>}, ...) out of the text
     * @throws TokenizerException for an id outside the vocabulary
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, skipSpecialTokens, config.cleanUpSpaces());
    }

    /**
     * Decodes ids with the tokenizer.json decoder, with or without transformers' clean-up of spaces before
     * punctuation, whatever tokenizer_config.json says ({@code cleanUpSpaces=false} gives the exact text).
     */
    public String decode(int[] ids, boolean skipSpecialTokens, boolean cleanUpSpaces) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            checkId(ids[i]);
            l[i] = ids[i];
        }
        String text = hf.decode(l, skipSpecialTokens);
        return cleanUpSpaces ? cleanUpTokenizationSpaces(text) : text;
    }

    /** Context tokens {@link #decodeAfter} decodes before the new ones. */
    private static final int CONTEXT_TOKENS = 8;

    /**
     * The text {@code ids} add after {@code context}, special tokens skipped: what a generation adds to its prompt.
     * It is the decoding of the context's last tokens followed by {@code ids}, less the decoding of those context
     * tokens, as transformers' text-generation pipeline cuts the prompt's text off the decoded whole. So a
     * continuation keeps its leading space ("Once upon a" + " time"), which {@code decode(ids)} drops as the start
     * of a text (Llama 2's decoder). Where the two decodings do not line up (a character split between the context
     * and the ids), the ids are decoded alone.
     */
    public String decodeAfter(int[] context, int[] ids) {
        if (context.length == 0 || ids.length == 0) return decode(ids, true);
        int from = Math.max(0, context.length - CONTEXT_TOKENS), c = context.length - from;
        int[] both = Arrays.copyOfRange(context, from, context.length + ids.length);
        System.arraycopy(ids, 0, both, c, ids.length);
        String before = decode(Arrays.copyOf(both, c), true), all = decode(both, true);
        return all.startsWith(before) && !before.endsWith("\uFFFD") ? all.substring(before.length()) : decode(ids, true);
    }

    /** transformers' {@code clean_up_tokenization}: removes the space before some punctuation and contractions. */
    static String cleanUpTokenizationSpaces(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    /**
     * The text one token stands for, for showing tokens one by one: {@code ▁Once} and {@code ĠOnce} are
     * {@code " Once"}, {@code <0x0A>} is a newline, an added token is its content; bytes that do not make a
     * whole UTF-8 character on their own are written {@code <0xNN>} (e.g. {@code <0xF0>}).
     */
    public String displayText(int id) {
        checkId(id);
        String piece = vocab.piece(id);
        if (vocab.isAdded(id)) return piece;
        return PieceText.display(piece, vocab.byteLevel, vocab.byteFallback);
    }

    /**
     * The bytes one token stands for, as OpenAI's logprobs {@code bytes} give them: a byte-fallback token
     * {@code <0xF0>} is the one byte 0xF0 (so the bytes of consecutive tokens join into the characters they split),
     * {@code ▁Once} and {@code ĠOnce} are the UTF-8 of " Once", an added token the UTF-8 of its content.
     */
    public byte[] tokenBytes(int id) {
        checkId(id);
        String piece = vocab.piece(id);
        byte[] b = vocab.isAdded(id) ? null : PieceText.bytes(piece, vocab.byteLevel, vocab.byteFallback);
        return b != null ? b : piece.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * How many chars token {@code all[end]} adds to the decoded text of the tokens before it, not counting the
     * U+FFFD of a character still incomplete (its bytes count when the character is whole); at least 0. Summed over
     * the tokens before token i, it is where token i begins in the text ({@code text_offset}; every byte token of a
     * character split over several begins where that character does), read over a window of the last few tokens so
     * that a whole text costs O(tokens).
     */
    public int growth(int[] all, int end) {
        int from = Math.max(0, end - CONTEXT_TOKENS);
        int before = whole(decode(Arrays.copyOfRange(all, from, end), true)), with = whole(decode(Arrays.copyOfRange(all, from, end + 1), true));
        return Math.max(0, with - before);
    }

    /** The length of a decoded text without the U+FFFD at its end (the bytes of a character still to come). */
    private static int whole(String text) {
        int n = text.length();
        while (n > 0 && text.charAt(n - 1) == '\uFFFD') n--;
        return n;
    }

    // ---------------------------------------------------------------- vocabulary

    /** One past the largest token id (model vocabulary plus added tokens: 32000 for Llama 2, 128256 for Llama 3). */
    public int vocabSize() { return vocab.size(); }

    /**
     * The id of a vocabulary string (e.g. {@code "▁Once"}, {@code "<|eot_id|>"}).
     *
     * @throws TokenizerException when there is no such token
     */
    public int id(String piece) {
        int id = vocab.id(piece);
        if (id < 0) throw new TokenizerException(file + ": no token \"" + printable(piece) + "\" in the vocabulary");
        return id;
    }

    /** The id of a vocabulary string, or empty. */
    public OptionalInt findId(String piece) {
        int id = vocab.id(piece);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /**
     * The vocabulary string of an id.
     *
     * @throws TokenizerException for an id outside the vocabulary
     */
    public String piece(int id) {
        checkId(id);
        return vocab.piece(id);
    }

    /** The BOS token id, or -1 when the tokenizer defines none. */
    public int bosId() { return bosId; }

    /** The EOS token id, or -1 when the tokenizer defines none. */
    public int eosId() { return eosId; }

    /** The unknown-token id ({@code unk_token} of tokenizer_config.json, when in the vocabulary), or -1. */
    public int unkId() { return roleId(config.unkToken()); }

    /** The padding-token id ({@code pad_token} of tokenizer_config.json, when in the vocabulary), or -1. */
    public int padId() { return roleId(config.padToken()); }

    private int roleId(String token) {
        return token == null ? -1 : vocab.id(token);
    }

    /** Whether {@link #encode(String)} puts a BOS in front (see the class comment for the rule). */
    public boolean addsBos() { return addBos; }

    /** Whether {@link #encode(String)} puts an EOS at the end. */
    public boolean addsEos() { return addEos; }

    /** Whether the id is a special added token ({@code "special": true} in tokenizer.json's added_tokens). */
    public boolean isSpecial(int id) {
        return vocab.isSpecial(id);
    }

    @Override
    public void close() { hf.close(); }

    // ---------------------------------------------------------------- helpers

    private void checkId(int id) {
        if (vocab.piece(id) == null) {
            throw new TokenizerException(file + ": token id " + id + " is outside the vocabulary (size " + vocab.size() + ")");
        }
    }

    private int knownId(String token, String configFile) {
        int id = vocab.id(token);
        if (id < 0) throw new TokenizerException(configFile + ": special token \"" + token + "\" is not in " + file);
        return id;
    }

    /**
     * The text with each unpaired surrogate replaced by U+FFFD. The native library would otherwise receive
     * such a char as three invalid bytes (three U+FFFD), and every offset after it would be off. The
     * replacement keeps the UTF-16 length, so spans still index the caller's original String.
     */
    static String withoutLoneSurrogates(String text) {
        char[] c = null;
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (Character.isHighSurrogate(ch) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(ch)) {
                if (c == null) c = text.toCharArray();
                c[i] = '\uFFFD';
            }
        }
        return c == null ? text : new String(c);
    }

    private static String single(List<String> tokens) { return tokens.size() == 1 ? tokens.get(0) : null; }

    private static Map<String, String> specialTokenVariables(TokenizerConfig c) {
        java.util.HashMap<String, String> m = new java.util.HashMap<>();
        m.put("bos_token", c.bosToken());
        m.put("eos_token", c.eosToken());
        m.put("unk_token", c.unkToken());
        m.put("pad_token", c.padToken());
        return m;
    }

    private static String printable(String s) {
        return s.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
    }
}
