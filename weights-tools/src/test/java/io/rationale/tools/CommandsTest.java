package io.rationale.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CommandsTest {
    @TempDir
    Path tmp;

    private static ModelSpec spec(String... args) {
        TinyCommand c = new TinyCommand();
        new CommandLine(c).parseArgs(args);
        return c.spec();
    }

    /** Runs the parent command as the engine's CLI would, collecting error messages. */
    private static int run(List<String> errors, String... args) {
        CommandLine cl = new CommandLine(new WeightsToolsCommand());
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            errors.add(e.getMessage());
            return 1;
        });
        cl.setParameterExceptionHandler((e, a) -> {   // bad usage, as the rationale command line reports it
            errors.add(e.getMessage());
            return 2;
        });
        return cl.execute(args);
    }

    @Test
    void optionsOverrideThePreset() {
        ModelSpec s = spec("--out", "x", "--preset", "llama-3.1-8b", "--layers", "2", "--hidden", "256", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "512", "--vocab", "1000", "--dtype", "f16", "--tied",
                "--rope-scaling", "none");
        assertEquals(2, s.layers);
        assertEquals(256, s.hidden);
        assertEquals(64, s.headDim(), "head_dim recomputed when hidden/heads change");
        assertEquals(2, s.kvHeads);
        assertEquals(512, s.intermediate);
        assertEquals(1000, s.vocab);
        assertEquals(DType.F16, s.dtype);
        assertTrue(s.tied);
        assertNull(s.ropeScaling);
        assertEquals(500000.0, s.ropeTheta, "untouched fields keep the preset's value");

        ModelSpec d = spec("--out", "x");
        assertEquals(64, d.hidden);
        assertEquals(DType.F32, d.dtype, "tiny defaults to f32");

        ModelSpec q = spec("--out", "x", "--arch", "Qwen2ForCausalLM", "--untied", "--head-dim", "32", "--seed", "9");
        assertEquals(Arch.QWEN2, q.arch);
        assertEquals(32, q.headDim());
        assertFalse(q.tied);
        assertTrue(q.qkvBias());

        ModelSpec m = spec("--out", "x", "--arch", "mistral", "--sliding-window", "32", "--rope-scaling", "llama3", "--rope-factor", "4");
        assertEquals(32, m.slidingWindow);
        assertEquals(4.0, m.ropeScaling.factor());
        assertEquals(256, m.ropeScaling.originalMaxPositionEmbeddings(), "keeps the preset's other scaling values");

        ModelSpec n = spec("--out", "x", "--preset", "stories260k", "--rope-scaling", "llama3");
        assertEquals(8.0, n.ropeScaling.factor());
        assertEquals(8192, n.ropeScaling.originalMaxPositionEmbeddings());

        assertThrows(ToolException.class, () -> spec("--out", "x", "--tied", "--untied"));
        assertThrows(ToolException.class, () -> spec("--out", "x", "--rope-scaling", "yarn"));
        assertThrows(ToolException.class, () -> spec("--out", "x", "--arch", "gpt2"));
        assertThrows(ToolException.class, () -> spec("--out", "x", "--heads", "5"));
    }

    @Test
    void tinyCommandWritesAModelFolder() throws Exception {
        List<String> errors = new ArrayList<>();
        Path out = tmp.resolve("m");
        int rc = run(errors, "tiny", "--out", out.toString(), "--layers", "1", "--vocab", "300", "--dtype", "bf16", "--quiet",
                "--threads", "2", "--shard-size", "0");
        assertEquals(0, rc, errors.toString());
        JsonNode c = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals(1, c.get("num_hidden_layers").asInt());
        assertEquals(300, c.get("vocab_size").asInt());
        assertEquals("bfloat16", c.get("torch_dtype").asText());
        SafeTensorsTestReader r = new SafeTensorsTestReader(out.resolve("model.safetensors"));
        assertEquals("BF16", r.tensors.get("model.embed_tokens.weight").dtype());
        assertTrue(Files.exists(out.resolve("tokenizer.json")) && Files.exists(out.resolve("tokenizer_config.json")));
    }

    @Test
    void convertCommandWritesAModelFolder() throws Exception {
        Path src = Shared.path("data/models/stories260K-llama2c");
        List<String> errors = new ArrayList<>();
        Path out = tmp.resolve("c");
        int rc = run(errors, "convert-llama2c", src.resolve("stories260K.bin").toString(), "--tokenizer",
                src.resolve("tok512.bin").toString(), "--out", out.toString(), "--quiet");
        assertEquals(0, rc, errors.toString());
        assertTrue(Files.exists(out.resolve("model.safetensors")));
        assertTrue(Files.exists(out.resolve("tokenizer.json")));
    }

    @Test
    void errorsArriveAsOneLineMessages() {
        // option values that are wrong in themselves are bad usage (exit 2); a missing input file is a failure (exit 1)
        List<String> errors = new ArrayList<>();
        assertEquals(2, run(errors, "tiny", "--out", tmp.resolve("e").toString(), "--preset", "nope", "--quiet"));
        assertEquals(1, errors.size());
        assertTrue(errors.get(0).contains("unknown preset 'nope'") && !errors.get(0).contains("\n"), errors.get(0));

        errors.clear();
        assertEquals(2, run(errors, "tiny", "--out", tmp.resolve("e").toString(), "--vocab", "200", "--quiet"));
        assertTrue(errors.get(0).contains("200") && errors.get(0).contains("261"), errors.get(0));

        errors.clear();
        Path missing = tmp.resolve("missing.bin");
        assertEquals(1, run(errors, "convert-llama2c", missing.toString(), "--out", tmp.resolve("o").toString()));
        assertTrue(errors.get(0).contains(missing.toString()), errors.get(0));

        errors.clear();
        assertEquals(2, run(errors, "tiny", "--out", tmp.resolve("e").toString(), "--shard-size", "lots", "--quiet"));
        assertFalse(Files.exists(tmp.resolve("e")), "nothing written for bad options");
        assertTrue(errors.get(0).contains("lots"), errors.get(0));
    }

    @Test
    void parentListsItsSubcommands() {
        CommandLine cl = new CommandLine(new WeightsToolsCommand());
        assertTrue(cl.getSubcommands().containsKey("tiny"));
        assertTrue(cl.getSubcommands().containsKey("convert-llama2c"));
        StringWriter sw = new StringWriter();
        cl.setOut(new PrintWriter(sw));
        assertEquals(0, cl.execute());
        assertTrue(sw.toString().contains("convert-llama2c"), sw.toString());
    }
}
