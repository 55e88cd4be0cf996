package io.rationale.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Vec#exp} against the double-precision exponential, and the same bits however often it has run. */
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
    void sumAddsTheLanesAsAFixedTreeColdAndWarm() {
        Random r = new Random(7);
        float[] x = new float[L * 512];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian() * (1 << r.nextInt(12));
        float[] want = new float[x.length / L], cold = new float[want.length], warm = new float[want.length];
        for (int v = 0; v < want.length; v++) {                  // the same tree, one scalar add at a time
            float[] a = java.util.Arrays.copyOfRange(x, v * L, v * L + L);
            for (int h = L / 2; h >= 1; h /= 2)
                for (int i = 0; i < h; i++) a[i] += a[i + h];
            want[v] = a[0];
        }
        for (int v = 0; v < want.length; v++) cold[v] = Vec.sum(FloatVector.fromArray(F, x, v * L));
        for (int rep = 0; rep < 3000; rep++)
            for (int v = 0; v < want.length; v++) warm[v] = Vec.sum(FloatVector.fromArray(F, x, v * L));
        assertArrayEquals(want, cold);
        assertArrayEquals(want, warm);
    }

    /**
     * The first calls run in the interpreter, later ones in compiled code: the bits must not change (they did with
     * {@code lanewise(EXP)}, whose compiled form differs from its fallback in the last bit).
     */
    @Test
    void expGivesTheSameBitsBeforeAndAfterTheJitCompilesIt() {
        Random r = new Random(6);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) x[i] = -30f * r.nextFloat();
        float[] cold = exp(x);
        for (int i = 0; i < 5000; i++) exp(x);
        assertArrayEquals(cold, exp(x));
    }
}
