package io.rationale.cli;

import io.rationale.lora.Adapters;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The served model id: a model with adapters is not served under its base model's id. The options' checks follow
 * the README's exit-code rule.
 */
class ServeCommandTest {
    /**
     * An option value outside its range, or a non-loopback {@code --host} without {@code --token-file}, is wrong on
     * the command line alone: exit 2 with the help hint, before the model folder is looked at (it is missing here).
     * They used to be exit 1 after the model check, and {@code --shutdown-grace -1} started the server.
     */
    @Test
    void badOptionsAreUsageErrorsBeforeTheModelIsRead() {
        String missing = "/nonexistent/model";
        List<List<String>> cases = List.of(
                List.of("--max-body-bytes", "0"), List.of("--max-connections", "0"), List.of("--batch-window-ms", "-1"),
                List.of("--max-concurrent", "0"), List.of("--max-queue", "-1"), List.of("--threads", "-1"),
                List.of("--max-input-tokens", "-1"), List.of("--shutdown-grace", "-1"), List.of("--port", "70000"),
                List.of("--host", "0.0.0.0"));
        for (List<String> c : cases) {
            List<String> args = new java.util.ArrayList<>(List.of("serve", "--model", missing, "--port", "0"));
            if (c.get(0).equals("--port")) args.subList(3, 5).clear();
            args.addAll(c);
            CliRun r = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> CliRun.of(args.toArray(String[]::new)), args::toString);
            CliErrorsTest.assertOneLineError(r, 2, c.get(0));
            assertTrue(r.err().strip().endsWith("(see: rationale serve --help)"), r.err());
        }
        // well formed: the missing folder is a failure (1); --stdio needs no token on any --host
        CliErrorsTest.assertOneLineError(CliRun.of("serve", "--model", missing), 1, missing);
        CliErrorsTest.assertOneLineError(CliRun.of("serve", "--model", missing, "--host", "0.0.0.0", "--stdio"), 1, missing);
    }

    @Test
    void aFineTunedModelIsServedUnderItsOwnName() {
        Path model = Path.of("/models/stories260K-hf");
        assertNull(ServeCommand.servedName(model, Adapters.NONE), "no adapter: the folder's name, as before");
        assertEquals("stories260K-hf+ft2", ServeCommand.servedName(model, Adapters.parse(List.of("/runs/ft2"), false)));
        assertEquals("stories260K-hf+ft2+other:0.5", ServeCommand.servedName(model, Adapters.parse(List.of("/runs/ft2", "/runs/other:0.5"), true)));
    }
}
