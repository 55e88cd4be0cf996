package io.rationale.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.nio.file.Path;

/**
 * Builds DJL's {@link HuggingFaceTokenizer} (the Rust Hugging Face tokenizers library) so that it never
 * touches the network and never changes the text.
 *
 * <ul>
 *   <li>Native library: the DJL jar bundles a CPU build of libtokenizers for linux-x86_64 (and osx-aarch64),
 *       which DJL copies to {@code ~/.djl.ai/tokenizers/<version>-cpu-linux-x86_64/} (or {@code DJL_CACHE_DIR},
 *       or java.io.tmpdir when home is not writable). But on a machine where DJL detects CUDA it picks a
 *       "cuXXX" flavour, which is not in the jar, and downloads it. Setting the system property
 *       {@code ai.djl.offline=true} (env {@code DJL_OFFLINE}) makes it take the bundled CPU build; it is set
 *       here unless the user set it, or set {@code RUST_FLAVOR}, already. It must be set before DJL's
 *       {@code LibUtils} class initialises, i.e. before any other code in the JVM touches DJL tokenizers.</li>
 *   <li>DJL by default truncates to 512 tokens and pads; both are switched off here, and its post-processor
 *       specials are not added (the {@link Tokenizer} adds BOS/EOS itself).</li>
 * </ul>
 */
final class NativeTokenizers {
    private NativeTokenizers() {}

    static synchronized void stayOffline() {
        if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null
                && System.getProperty("RUST_FLAVOR") == null && System.getenv("RUST_FLAVOR") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    /** @throws RuntimeException from the native library when the file is not a valid tokenizer.json */
    static HuggingFaceTokenizer open(Path tokenizerJson) throws java.io.IOException {
        stayOffline();
        return HuggingFaceTokenizer.builder()
                .optTokenizerPath(tokenizerJson)
                .optAddSpecialTokens(false)
                .optTruncation(false)
                .optPadding(false)
                .build();
    }
}
