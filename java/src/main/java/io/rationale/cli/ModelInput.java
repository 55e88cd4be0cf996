package io.rationale.cli;

import io.rationale.tokenizer.ChatMessage;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The options every model command shares: {@code --model DIR} and the input as {@code --text} or {@code --ids}. */
final class ModelInput {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint folder (config.json, safetensors, tokenizer.json).")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Source source;

    static final class Source {
        @Option(names = "--text", description = "Input text (tokenized with the model's tokenizer; BOS added when the tokenizer adds it).")
        String text;

        @Option(names = "--ids", split = ",", description = "Input token ids, comma-separated, used as given.")
        int[] ids;
    }

    @Option(names = "--chat", description = "Render --text as a user message through the tokenizer's chat template.")
    boolean chat;

    @Option(names = "--system", description = "System message for --chat.")
    String system;

    /** The checks of these options alone (a usage error, exit 2, before any file is read). */
    void checkUsage() {
        if (source == null) throw Usage.error(spec, "Missing required argument (specify one of these): (--text=<text> | --ids=<ids>)");
        if (source.ids != null) {
            if (chat) throw Usage.error(spec, "--chat needs --text, not --ids");
            if (source.ids.length == 0) throw Usage.error(spec, "--ids is empty");
            for (int i = 0; i < source.ids.length; i++)
                if (source.ids[i] < 0) throw Usage.error(spec, "--ids: id " + source.ids[i] + " at position " + i + " is negative");
        } else if (source.text.isEmpty()) {
            throw Usage.error(spec, "--text is empty");
        }
        if (system != null && !chat) throw Usage.error(spec, "--system needs --chat");
    }

    Path modelDir() {
        if (!Files.isDirectory(model)) throw new IllegalArgumentException(model + ": not a folder");
        return model;
    }

    /**
     * Refuses an input longer than the model's positions: the engine would run it past max_position_embeddings, where
     * the model was never trained (RoPE extrapolation), and return numbers that look valid.
     */
    static void checkPositions(int tokens, io.rationale.model.ModelConfig config) {
        int max = config.maxPositionEmbeddings();
        if (max > 0 && tokens > max)
            throw new IllegalArgumentException("the input has " + tokens + " tokens, more than the model's " + max
                    + " positions (max_position_embeddings in config.json)");
    }

    /** The input ids, checked against the vocabulary. */
    int[] ids(Tokenizer tok, int vocabSize) {
        int[] ids;
        if (source.ids != null) {
            if (chat) throw new IllegalArgumentException("--chat needs --text, not --ids");
            ids = source.ids;
        } else {
            if (source.text.isEmpty()) throw new IllegalArgumentException("--text is empty");
            ids = encode(tok).ids();
        }
        if (ids.length == 0) throw new IllegalArgumentException("--ids is empty");
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocabSize)
                throw new IllegalArgumentException("input id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + vocabSize + ")");
        return ids;
    }

    Encoding encode(Tokenizer tok) {
        if (!chat) return tok.encode(source.text);
        List<ChatMessage> messages = new ArrayList<>();
        if (system != null) messages.add(ChatMessage.system(system));
        messages.add(ChatMessage.user(source.text));
        return tok.encodeChat(messages, true);
    }
}
