package io.rationale.tools;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The JSON plumbing shared by the tools: one mapper, a Python-like pretty printer, file output. */
public final class Json {
    /** The shared mapper (thread-safe once configured). */
    public static final ObjectMapper MAPPER = new ObjectMapper();

    private static final ObjectWriter PRETTY;

    static {
        Separators seps = Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER);
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter()
                .withSeparators(seps)
                .withObjectIndenter(new DefaultIndenter("  ", "\n"))
                .withArrayIndenter(new DefaultIndenter("  ", "\n"));
        PRETTY = MAPPER.writer(pp);
    }

    private Json() {
    }

    /** A new empty object node. */
    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** A new empty array node. */
    public static ArrayNode array() {
        return MAPPER.createArrayNode();
    }

    /** Pretty-printed text of a node, Python json.dumps(indent=2) style, no trailing newline. */
    public static String pretty(Object node) {
        try {
            return PRETTY.writeValueAsString(node);
        } catch (IOException e) {
            throw new ToolException("cannot serialise JSON: " + e.getMessage(), e);
        }
    }

    /** Compact text of a node. */
    public static String compact(Object node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (IOException e) {
            throw new ToolException("cannot serialise JSON: " + e.getMessage(), e);
        }
    }

    /** Writes a node pretty-printed as UTF-8 with a final newline. */
    public static void write(Path file, Object node) {
        try {
            Files.writeString(file, pretty(node) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ToolException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
