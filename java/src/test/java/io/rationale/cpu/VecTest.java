package io.rationale.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Vec#exp} and {@link Vec#sum} against independent references, and the same bits interpreted and compiled. */
class VecTest {
    private static float[] exp(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += L) Vec.exp(FloatVector.fromArray(F, x, i)).intoArray(y, i);
        return y;
    }

    @Test
    void expIsTheFloatNearestTheExactValue() {
        Random r = new Random(5);
        float[] x = new float[1 << 16];
        for (int i = 0; i < x.length; i++) x[i] = i < 64 ? (float) (i - 32) / 8 : -110f + 200f * r.nextFloat();
        float[] y = exp(x);
        int off = 0;
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            if (y[i] != want) {
                off++;
                assertEquals(want, y[i], Math.ulp(want), "e^" + x[i] + " at most one float away");
            }
        }
        assertTrue(off <= 2, off + " of " + x.length + " not the nearest float");
        assertEquals(1f, exp(new float[L])[0], 0f, "e^0 exactly 1");
        float[] edges = new float[L];
        edges[0] = -1000f; edges[1] = Float.NEGATIVE_INFINITY; edges[2] = Float.NaN; edges[3] = 1000f; edges[4] = -100f;
        float[] e = exp(edges);
        assertEquals(0f, e[0], 0f, "underflow");
        assertEquals(0f, e[1], 0f, "e^-inf");
        assertTrue(Float.isNaN(e[2]), "NaN stays NaN");
        assertEquals(Float.POSITIVE_INFINITY, e[3], "overflow");
        assertEquals((float) Math.exp(-100), e[4], 0f, "a subnormal result");
    }

    @Test
    void sumAddsTheLanesAsAFixedTree() {
        float[] x = sumInputs();
        for (int v = 0; v < x.length / L; v++) {                 // the same tree, one scalar add at a time
            float[] a = java.util.Arrays.copyOfRange(x, v * L, v * L + L);
            for (int h = L / 2; h >= 1; h /= 2)
                for (int i = 0; i < h; i++) a[i] += a[i + h];
            assertEquals(a[0], Vec.sum(FloatVector.fromArray(F, x, v * L)), 0f, "vector " + v);
        }
    }

    /**
     * The interpreter and C2's code give the same bits: {@link #main} in two child JVMs, one with {@code -Xint}, one
     * with C2 only, compiling in the foreground ({@code -Xbatch}) after 1,000 calls, so that its last digest runs
     * compiled code whatever else the test JVM has run. With the Vector API's {@code lanewise(EXP)} or
     * {@code reduceLanes(ADD)} in their place this fails (checked: each changes its hash).
     */
    @Test
    void theInterpreterAndCompiledCodeGiveTheSameBits() throws Exception {
        String interpreted = child(0, "-Xint"), compiled = child(300, "-Xbatch", "-XX:-TieredCompilation", "-XX:CompileThreshold=1000");
        assertTrue(interpreted.startsWith("exp "), interpreted);
        assertEquals(interpreted, compiled);
    }

    /** What {@link #main} prints in a child JVM with these options, after {@code warmUps} unprinted digests. */
    private static String child(int warmUps, String... options) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(
                java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector"));
        cmd.addAll(java.util.List.of(options));
        cmd.addAll(java.util.List.of("-cp", System.getProperty("java.class.path"), VecTest.class.getName(), Integer.toString(warmUps)));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), String.join(" ", cmd));
        return out;
    }

    /** Prints {@link #digest} after {@code args[0]} unprinted ones (the child JVMs above). */
    public static void main(String[] args) {
        for (int i = 0; i < Integer.parseInt(args[0]); i++) digest();
        System.out.println(digest());
    }

    private static float[] sumInputs() {
        Random r = new Random(7);
        float[] x = new float[L * 512];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian() * (1 << r.nextInt(12));
        return x;
    }

    /** Hashes of e^x on 4,096 inputs in [-30, 0) and of 512 lane sums. */
    static String digest() {
        Random r = new Random(6);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) x[i] = -30f * r.nextFloat();
        float[] e = exp(x), s = sumInputs();
        long he = 0, hs = 0;
        for (float f : e) he = he * 31 + Float.floatToRawIntBits(f);
        for (int v = 0; v < s.length / L; v++) hs = hs * 31 + Float.floatToRawIntBits(Vec.sum(FloatVector.fromArray(F, s, v * L)));
        return "exp " + Long.toHexString(he) + " sum " + Long.toHexString(hs);
    }
}
