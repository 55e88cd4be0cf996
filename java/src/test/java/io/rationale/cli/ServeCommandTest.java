package io.rationale.cli;

import io.rationale.lora.Adapters;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The served model id: a model with adapters is not served under its base model's id. */
class ServeCommandTest {
    @Test
    void aFineTunedModelIsServedUnderItsOwnName() {
        Path model = Path.of("/models/stories260K-hf");
        assertNull(ServeCommand.servedName(model, Adapters.NONE), "no adapter: the folder's name, as before");
        assertEquals("stories260K-hf+ft2", ServeCommand.servedName(model, Adapters.parse(List.of("/runs/ft2"), false)));
        assertEquals("stories260K-hf+ft2+other:0.5", ServeCommand.servedName(model, Adapters.parse(List.of("/runs/ft2", "/runs/other:0.5"), true)));
    }
}
