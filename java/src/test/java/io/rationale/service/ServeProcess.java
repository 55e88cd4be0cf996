package io.rationale.service;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A real {@code rationale serve} process (this JVM's classpath), for the tests that need one. */
final class ServeProcess implements AutoCloseable {
    static final Path STORIES = ServiceTest.STORIES;
    private static final Pattern LISTENING = Pattern.compile("listening on (http://[^ ]+)");

    final Process process;
    final URI uri;
    private final Path stderr;

    private ServeProcess(Process process, URI uri, Path stderr) {
        this.process = process;
        this.uri = uri;
        this.stderr = stderr;
    }

    /** The command line of {@code rationale <args>} in a new JVM. */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Dstdout.encoding=UTF-8",
                "-cp", System.getProperty("java.class.path"), "io.rationale.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Starts {@code serve --model stories --port 0 --device cpu --threads 2 <extra>} and waits for its address. */
    static ServeProcess start(String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("serve", "--model", STORIES.toString(), "--port", "0", "--device", "cpu", "--threads", "2"));
        args.addAll(List.of(extra));
        // stderr into a file: reading a pipe while the process exits can lose its last lines
        Path err = Files.createTempFile("serve-stderr", ".txt");
        err.toFile().deleteOnExit();
        Process p = new ProcessBuilder(command(args.toArray(String[]::new))).redirectError(err.toFile()).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        Matcher m = line == null ? null : LISTENING.matcher(line);
        if (m == null || !m.find()) {
            p.destroyForcibly();
            throw new IllegalStateException("serve did not start: stdout " + line + ", stderr " + Files.readString(err));
        }
        ServeProcess sp = new ServeProcess(p, URI.create(m.group(1)), err);
        Thread.ofPlatform().daemon(true).start(() -> copy(p.getInputStream(), new ByteArrayOutputStream()));
        return sp;
    }

    /** What the process wrote on stderr so far. */
    String stderr() throws IOException {
        return Files.readString(stderr, StandardCharsets.UTF_8);
    }

    static void copy(InputStream in, ByteArrayOutputStream to) {
        byte[] buf = new byte[8192];
        try (in) {
            for (int n; (n = in.read(buf)) > 0; ) {
                synchronized (to) {
                    to.write(buf, 0, n);
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly();
        }
    }
}
