package io.rationale.weights;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.BeforeAll;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Jazzer fuzz target for the safetensors parser. In a normal {@code mvn test} it runs in regression mode on the
 * seeds under {@code src/test/resources/io/rationale/weights/SafeTensorsFuzzTestInputs/parseAnyBytes/}; with
 * {@code JAZZER_FUZZ=1} it fuzzes. Any exception other than {@link WeightsException}, or an inconsistent result,
 * fails it.
 */
class SafeTensorsFuzzTest {
    /**
     * Jazzer 0.24's bytecode hooks use an ASM that cannot read Java 25 class files (major version 69): it would
     * print a warning per class and instrument nothing. Regression mode needs no instrumentation, so switch it
     * off unless the caller chose otherwise (-Djazzer.hooks=true). Runs before Jazzer reads its options, which
     * happens when the first fuzz test's inputs are provided.
     */
    @BeforeAll
    static void noBytecodeHooksOnJava25() {
        if (System.getProperty("jazzer.hooks") == null) System.setProperty("jazzer.hooks", "false");
    }

    @FuzzTest(maxDuration = "30s")
    void parseAnyBytes(byte[] data) {
        SafeTensorsFile f;
        try {
            f = SafeTensorsFile.parse(MemorySegment.ofArray(data), Path.of("fuzz.safetensors"));
        } catch (WeightsException e) {
            Consistency.checkMessage(e);
            return;
        }
        Consistency.check(f, data.length);
    }
}
