package io.rationale.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** examples/ApiExample.java, the program users copy, compiles against the API and runs on stories260K. */
class ApiExampleTest {
    static final Path EXAMPLE = Path.of("..", "examples", "ApiExample.java");

    @Test
    void theExampleCompilesAndRuns(@TempDir Path out) throws Exception {
        assertTrue(Files.isRegularFile(EXAMPLE), EXAMPLE.toAbsolutePath() + " exists");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diag = new ByteArrayOutputStream();
        int rc = javac.run(null, diag, diag, "-d", out.toString(), "-cp", System.getProperty("java.class.path"), "-proc:none",
                EXAMPLE.toString());
        assertEquals(0, rc, diag.toString(StandardCharsets.UTF_8));
        PrintStream old = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader cl = new URLClassLoader(new URL[]{out.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            cl.loadClass("ApiExample").getMethod("main", String[].class).invoke(null, (Object) new String[]{RationaleTest.STORIES.toString()});
        } finally {
            System.setOut(old);
        }
        String text = printed.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("target  the (id "), text);
        assertTrue(text.contains("The cat sat on the mat -> top word score "), text);
        assertTrue(text.contains("generated:"), text);
        assertTrue(text.contains("{\"method\":\"attention\",\"text\":\"Once upon a time\""), text);
    }
}
