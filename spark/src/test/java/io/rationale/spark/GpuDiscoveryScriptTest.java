package io.rationale.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code scripts/spark-gpu-discovery.sh} on a node with three GPUs (a stand-in {@code nvidia-smi} printing three
 * UUIDs) lists the devices a CUDA program there sees, as the CUDA Programming Guide ("CUDA Environment Variables")
 * defines CUDA_VISIBLE_DEVICES: unset, all; set but empty, none; otherwise the listed GPUs (indices or UUID prefixes),
 * renumbered from 0, up to the first entry that names no GPU ({@code 0,2,-1,1}: two).
 */
class GpuDiscoveryScriptTest {
    private static final Path SCRIPT = Path.of("..", "scripts", "spark-gpu-discovery.sh");

    @Test
    void visibleDevicesFollowCudaVisibleDevices(@TempDir Path dir) throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path smi = bin.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\nprintf 'GPU-aaaa1111-0000\\nGPU-bbbb2222-0000\\nGPU-cccc3333-0000\\n'\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals(addresses(0, 1, 2), run(bin, null));
        assertEquals(addresses(), run(bin, ""));
        assertEquals(addresses(0, 1), run(bin, "0,2"));
        assertEquals(addresses(0, 1), run(bin, "2,1"));
        assertEquals(addresses(0, 1), run(bin, "0,2,-1,1"));
        assertEquals(addresses(), run(bin, "-1"));
        assertEquals(addresses(0), run(bin, "0,7,1"));          // 7 names no GPU of three
        assertEquals(addresses(0, 1), run(bin, "GPU-bbbb,0"));  // a UUID prefix
        assertEquals(addresses(), run(bin, "GPU-zzzz,0"));
    }

    private static String addresses(int... ids) {
        StringBuilder b = new StringBuilder("{\"name\": \"gpu\", \"addresses\": [");
        for (int i = 0; i < ids.length; i++) b.append(i > 0 ? "," : "").append('"').append(ids[i]).append('"');
        return b.append("]}").toString();
    }

    private static String run(Path bin, String visible) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString()).redirectErrorStream(true);
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        if (visible == null) pb.environment().remove("CUDA_VISIBLE_DEVICES");
        else pb.environment().put("CUDA_VISIBLE_DEVICES", visible);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), out);
        return out;
    }
}
