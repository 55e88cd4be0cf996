package io.rationale.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

/**
 * Every {@code cu*} function that JCuda's native library imports is exported by the emulated {@code libcuda.so.1}
 * (a missing one would kill the JVM with "symbol lookup error" when first called), read from both ELF files.
 */
class DriverSymbolsTest {
    private static final String JCUDA_NATIVE = "/lib/libJCudaDriver-12.6.0-linux-x86_64.so";

    static Set<String> jcudaImports() throws Exception {
        try (InputStream in = DriverSymbolsTest.class.getResourceAsStream(JCUDA_NATIVE)) {
            assertNotNull(in, JCUDA_NATIVE + " on the test class path (org.jcuda:jcuda-natives)");
            return ElfDynamicSymbols.read(in.readAllBytes()).undefined().stream()
                    .filter(s -> s.startsWith("cu")).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    @Test
    void emulatedDriverExportsEveryFunctionJCudaImports() throws Exception {
        Set<String> imports = jcudaImports();
        assertEquals(312, imports.size(), "JCuda 12.6.0 imports 312 cu* functions");
        Set<String> exported = ElfDynamicSymbols.read(EmulatedDevice.driverLibrary()).defined();
        Set<String> missing = new TreeSet<>(imports);
        missing.removeAll(exported);
        assertTrue(missing.isEmpty(), "not exported by the emulated libcuda.so.1: " + missing);
        assertTrue(exported.containsAll(List.of("cuemu_set_schedule", "cuemu_set_memory_limit", "cuemu_live_bytes",
                "cuemu_last_unsupported")), "test controls exported");
    }

    @Test
    void symbolListOfTheStubGeneratorMatchesJCuda() throws Exception {
        Path list = Path.of(System.getProperty("user.dir")).resolve("../cuda-kernels/emu/jcuda-driver-symbols.txt");
        Set<String> listed = new TreeSet<>(Files.readAllLines(list).stream().map(String::strip)
                .filter(s -> !s.isEmpty()).toList());
        assertEquals(jcudaImports(), listed, list + " is JCuda's import list");
    }
}
