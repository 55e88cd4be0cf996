package io.rationale.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Items 13 and 14 of issue 10: the launcher rebuilds a jar older than its sources (saying so), and the build
 * settings work under any JDK that runs Maven. The launcher runs on a copy of itself with a fake {@code mvn} that
 * records its calls.
 */
class LauncherTest {
    static final Path PROJECT = Path.of(System.getProperty("user.dir")).getParent();

    record Run(int code, String err, List<String> mvnCalls) {}

    static Run launch(Path root, boolean mvnFails) throws Exception {
        Path log = root.resolve("mvn.log");
        Files.deleteIfExists(log);
        Path bin = Files.createDirectories(root.resolve("bin"));
        Path mvn = bin.resolve("mvn");
        Files.writeString(mvn, "#!/bin/sh\necho \"$@\" >> \"" + log + "\"\n" + (mvnFails ? "echo 'BUILD FAILURE' >&2; exit 1\n"
                : "mkdir -p java/target && touch java/target/rationale.jar\n"));
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("rationale").toString(), "--version");
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Run(p.exitValue(), err, Files.exists(log) ? Files.readAllLines(log) : List.of());
    }

    static void age(Path p, long secondsAgo) throws Exception {
        Files.setLastModifiedTime(p, FileTime.from(Instant.now().minusSeconds(secondsAgo)));
    }

    @Test
    void rebuildsWhenASourceIsNewerThanTheJar(@TempDir Path root) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")) || Files.isExecutable(Path.of("/usr/bin/bash")), "bash");
        Files.copy(PROJECT.resolve("rationale"), root.resolve("rationale"));
        Files.createDirectories(root.resolve("scripts"));
        Files.copy(PROJECT.resolve("scripts/jdk.sh"), root.resolve("scripts/jdk.sh"));
        Path source = Files.createDirectories(root.resolve("java/src/main/java")).resolve("A.java");
        Files.writeString(source, "class A {}");
        Files.writeString(root.resolve("pom.xml"), "<project/>");
        Path jar = Files.createDirectories(root.resolve("java/target")).resolve("rationale.jar");

        // no jar: built on first use
        Run first = launch(root, false);
        assertTrue(first.err().contains("(first use)"), first.err());
        assertEquals(1, first.mvnCalls().size());
        assertTrue(first.mvnCalls().get(0).contains("-pl java -am package"), first.mvnCalls().toString());

        // a jar newer than every source: run as is
        age(source, 100);
        age(root.resolve("pom.xml"), 100);
        Files.writeString(jar, "not really a jar");
        age(jar, 10);
        Run fresh = launch(root, false);
        assertEquals(List.of(), fresh.mvnCalls(), fresh.err());
        assertFalse(fresh.err().contains("rebuilding"), fresh.err());

        // a source changed after the jar was built: rebuilt, and said so naming the file
        age(source, 1);
        Run stale = launch(root, false);
        assertEquals(1, stale.mvnCalls().size(), stale.err());
        assertTrue(stale.err().contains("java/src/main/java/A.java is newer than"), stale.err());
        Run again = launch(root, false);
        assertEquals(List.of(), again.mvnCalls(), "the rebuilt jar is current: " + again.err());

        // a failed build: one line naming a command that works (with the JDK 25 the launcher found)
        age(jar, 1000);
        Run failed = launch(root, true);
        assertEquals(1, failed.code());
        String last = failed.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("rationale: build failed") && last.contains("JAVA_HOME="), failed.err());
    }

    /**
     * A fresh clone on a machine without the build's other tools: the launcher says in one line which of Maven, make
     * and a C++ compiler are missing (the build would otherwise fail inside Maven's output: "Cannot run program
     * make", "g++: not found"), and does not start Maven.
     */
    @Test
    void saysWhichBuildToolIsMissing(@TempDir Path root) throws Exception {
        Files.copy(PROJECT.resolve("rationale"), root.resolve("rationale"));
        Files.createDirectories(root.resolve("scripts"));
        Files.copy(PROJECT.resolve("scripts/jdk.sh"), root.resolve("scripts/jdk.sh"));
        // a PATH with the shell tools the launcher uses and none of mvn, make, g++
        Path bin = Files.createDirectories(root.resolve("bin"));
        for (String tool : List.of("dirname", "readlink", "sed", "grep", "cat", "find", "touch"))
            for (String dir : List.of("/usr/bin", "/bin"))
                if (Files.isExecutable(Path.of(dir, tool)) && !Files.exists(bin.resolve(tool))) Files.createSymbolicLink(bin.resolve(tool), Path.of(dir, tool));
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("rationale").toString(), "demo");
        pb.environment().put("PATH", bin.toString());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("CXX");
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), err);
        String last = err.strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("rationale: building needs Maven, make and a C++ compiler") && last.contains("not found on PATH: mvn make g++"), err);
        assertFalse(err.contains("command not found"), "the launcher's own line, not bash's: " + err);

        // with a C++ compiler named by $CXX (and found), only the others are missing
        Files.createSymbolicLink(bin.resolve("my-cxx"), Path.of("/bin/true").toFile().exists() ? Path.of("/bin/true") : Path.of("/usr/bin/true"));
        pb.environment().put("CXX", "my-cxx -O2");
        p = pb.start();
        err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), err);
        assertTrue(err.strip().endsWith("not found on PATH: mvn make: install them (apt-get install maven make g++)"), err);
    }

    /**
     * What the command prints on stderr (progress lines) reaches a file or pipe as it is printed: the launcher's filter
     * of the JVM's incubator warning must not hold it back until 4 KB have gathered or the command ends (grep
     * block-buffers its output when it is not a terminal). A stand-in JVM prints one progress line and then works on.
     */
    @Test
    void stderrIsPassedOnLineByLine(@TempDir Path root) throws Exception {
        Files.copy(PROJECT.resolve("rationale"), root.resolve("rationale"));
        Files.createDirectories(root.resolve("scripts"));
        Files.copy(PROJECT.resolve("scripts/jdk.sh"), root.resolve("scripts/jdk.sh"));
        Path jdk = Files.createDirectories(root.resolve("jdk/bin"));
        Path fakeJava = jdk.resolve("java");
        Files.writeString(fakeJava, """
                #!/bin/sh
                case "$*" in *-XshowSettings*) echo '    java.specification.version = 25' >&2; exit 0 ;; esac
                echo 'WARNING: Using incubator modules: jdk.incubator.vector' >&2
                echo 'progress: 1 of 2' >&2
                sleep 20
                echo 'progress: 2 of 2' >&2
                """);
        Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path jar = Files.createDirectories(root.resolve("java/target")).resolve("rationale.jar");
        Files.writeString(jar, "stand-in");
        age(root.resolve("rationale"), 100);
        age(root.resolve("scripts/jdk.sh"), 100);
        age(fakeJava, 100);
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("rationale").toString(), "demo");
        pb.environment().put("JAVA_HOME", root.resolve("jdk").toString());
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        try {
            var err = new java.io.BufferedReader(new java.io.InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
            var first = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return err.readLine();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            // the line comes within seconds, while the stand-in still sleeps (not after its 20 s, at its end)
            assertEquals("progress: 1 of 2", first.get(10, TimeUnit.SECONDS), "the warning is filtered, the progress line passed on at once");
            assertTrue(p.isAlive());
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Item 17: Maven run in this project (as the launcher's first build runs it) prints no raw ANSI escape codes. */
    @Test
    void mavenPrintsNoEscapeCodes() throws Exception {
        Path mvn = null;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":"))
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "mvn"))) mvn = Path.of(dir, "mvn");
        Assumptions.assumeTrue(mvn != null, "mvn on the PATH");
        ProcessBuilder pb = new ProcessBuilder(mvn.toString(), "-B", "-q", "-v").directory(PROJECT.toFile()).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertFalse(out.contains("\u001b"), "raw escape codes: " + out.replace("\u001b", "ESC"));
    }

    /** .mvn/jvm.config is read by every JDK that runs mvn in this folder: it holds only options every JDK accepts. */
    @Test
    void jvmConfigWorksUnderAnyJdk() throws Exception {
        List<String> options = List.of(Files.readString(PROJECT.resolve(".mvn/jvm.config")).trim().split("\\s+"));
        for (String o : options) assertTrue(o.isEmpty() || o.startsWith("-D") || o.startsWith("-X"), "not a -D/-X option: " + o);
        // when an older JDK is installed (JDK 17 is the distribution default here), it starts with these options
        try (var jdks = Files.list(Path.of("/usr/lib/jvm"))) {
            for (Path jdk : jdks.filter(p -> p.getFileName().toString().contains("17") && Files.isExecutable(p.resolve("bin/java"))).toList()) {
                List<String> cmd = new java.util.ArrayList<>(List.of(jdk.resolve("bin/java").toString()));
                cmd.addAll(options);
                cmd.add("-version");
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(0, p.waitFor(), jdk + ": " + out);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // no /usr/lib/jvm: only the first check
        }
    }
}
