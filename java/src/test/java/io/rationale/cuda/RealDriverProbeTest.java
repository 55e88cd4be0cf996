package io.rationale.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * The real driver on this machine, in a fresh JVM (this test JVM is bound to the emulated device): either a device
 * opens, or one {@link CudaUnavailableException} line says why and the JVM carries on (here, binding the emulated
 * device instead when the real library never loaded).
 */
class RealDriverProbeTest {

    /** Run in the child JVM. */
    public static void main(String[] args) {
        try (CudaDevice d = CudaDevice.open(CudaDriver.Kind.REAL, 0)) {
            System.out.println("REAL " + d.name() + " " + d.computeCapability());
        } catch (CudaUnavailableException e) {
            System.out.println("UNAVAILABLE " + e.getMessage());
            try (CudaDevice d = CudaDevice.openEmulated()) {
                System.out.println("EMULATED " + d.name());
            } catch (IllegalStateException refused) {
                System.out.println("REFUSED " + refused.getMessage());
            }
        }
    }

    @Test
    void realDriverOpensOrIsReportedInOneLine() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), RealDriverProbeTest.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM finished");
        assertEquals(0, p.exitValue(), "child JVM exit status; output:\n" + out);
        List<String> lines = out.lines().filter(l -> l.matches("^(REAL|UNAVAILABLE|EMULATED|REFUSED) .*")).toList();
        assertTrue(!lines.isEmpty(), out);
        if (lines.get(0).startsWith("REAL ")) return;  // a machine with a GPU
        assertTrue(lines.get(0).startsWith("UNAVAILABLE ") && lines.size() == 2, out);
        if (lines.get(0).contains("libcuda.so.1 cannot be loaded"))  // never loaded: the emulated device binds
            assertTrue(lines.get(1).startsWith("EMULATED ") && lines.get(1).contains("cuda-emu"), out);
        else  // a driver without a usable device: the emulated one needs a new JVM, and says so
            assertTrue(lines.get(1).startsWith("REFUSED ") && lines.get(1).contains("new JVM"), out);
    }
}
