package io.rationale.perf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The facts a benchmark result carries about where it ran: CPU model and vector flags ({@code /proc/cpuinfo}),
 * available processors, total memory ({@code /proc/meminfo}), operating system, JVM, and the git commit of the
 * working directory. Absent facts (no {@code /proc}, no git) read {@code unknown}.
 */
public final class MachineInfo {
    private MachineInfo() {}

    /** The machine facts ({@code bench machine} writes them as a sidecar of a JMH result file). */
    public static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("vector_flags", vectorFlags());
        m.put("memory_bytes", memTotal());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        m.put("java", System.getProperty("java.vm.name") + " " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")");
        return m;
    }

    /** {@code model name} of the first processor in /proc/cpuinfo, else {@code unknown}. */
    public static String cpuModel() {
        for (String line : lines(Path.of("/proc/cpuinfo")))
            if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).strip();
        return "unknown";
    }

    /** The widest x86 vector extension the first processor lists ({@code avx512f}, {@code avx2}, ...), else {@code unknown}. */
    public static String vectorFlags() {
        for (String line : lines(Path.of("/proc/cpuinfo")))
            if (line.startsWith("flags") || line.startsWith("Features")) {
                List<String> f = List.of(line.substring(line.indexOf(':') + 1).strip().split("\\s+"));
                for (String want : List.of("avx512f", "avx2", "avx", "sve", "asimd", "neon")) if (f.contains(want)) return want;
                return "none";
            }
        return "unknown";
    }

    /** MemTotal of /proc/meminfo in bytes, else -1. */
    public static long memTotal() {
        for (String line : lines(Path.of("/proc/meminfo")))
            if (line.startsWith("MemTotal:")) {
                String[] p = line.substring(9).strip().split("\\s+");
                try {
                    return Long.parseLong(p[0]) * 1024;
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        return -1;
    }

    /**
     * {@code git rev-parse HEAD} in the working directory, with {@code -dirty} when tracked files changed;
     * {@code unknown} without git or outside a repository.
     */
    public static String commit() {
        String head = git("rev-parse", "HEAD");
        if (head == null) return "unknown";
        String status = git("status", "--porcelain", "--untracked-files=no");
        return status != null && !status.isBlank() ? head + "-dirty" : head;
    }

    private static String git(String... args) {
        try {
            String[] cmd = new String[args.length + 1];
            cmd[0] = "git";
            System.arraycopy(args, 0, cmd, 1, args.length);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(false).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroy();
                return null;
            }
            return p.exitValue() == 0 ? new String(out).strip() : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
