package io.rationale.cpu;

import java.util.function.ToDoubleFunction;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Central finite differences in double, and the comparison every backward test uses. */
final class Fd {
    private Fd() {}

    /** d f / d x_i for every i, central differences with step h (x is restored). */
    static double[] gradient(ToDoubleFunction<double[]> f, double[] x, double h) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double xi = x[i];
            x[i] = xi + h;
            double up = f.applyAsDouble(x);
            x[i] = xi - h;
            double down = f.applyAsDouble(x);
            x[i] = xi;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    /** Every |got − want| ≤ rel·max|want| + abs. */
    static void assertClose(double[] want, float[] got, double rel, double abs, String what) {
        assertClose(want, toDouble(got), rel, abs, what);
    }

    /** Every |got − want| ≤ rel·max|want| + abs. */
    static void assertClose(double[] want, double[] got, double rel, double abs, String what) {
        double max = 0;
        for (double w : want) max = Math.max(max, Math.abs(w));
        assertTrue(max > 0 || abs > 0, what + ": reference is all zero");
        double tol = rel * max + abs;
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            int idx = i;
            assertTrue(err <= tol, () -> what + ": element " + idx + " is " + got[idx] + ", reference " + want[idx]
                    + " (error " + err + " > " + tol + ")");
        }
    }

    static double[] random(java.util.Random r, int n, double scale) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = scale * r.nextGaussian();
        return d;
    }
}
