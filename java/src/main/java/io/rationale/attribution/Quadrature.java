package io.rationale.attribution;

/** Integration nodes on [0, 1] for integrated gradients. */
final class Quadrature {
    private Quadrature() {}

    /** α_s = (s + ½)/k, w_s = 1/k. */
    static double[][] midpoint(int k) {
        double[] a = new double[k], w = new double[k];
        for (int s = 0; s < k; s++) {
            a[s] = (s + 0.5) / k;
            w[s] = 1.0 / k;
        }
        return new double[][]{a, w};
    }

    /**
     * k-point Gauss–Legendre on [0, 1]: the roots x of P_k on [−1, 1] (Newton from the Chebyshev guess) mapped to
     * α = (x + 1)/2, weights w/2 (they sum to 1); α ascending.
     */
    static double[][] gaussLegendre01(int k) {
        double[] a = new double[k], w = new double[k];
        int m = (k + 1) / 2;
        for (int i = 0; i < m; i++) {
            double z = Math.cos(Math.PI * (i + 0.75) / (k + 0.5));
            double pp = 0;
            for (int it = 0; it < 100; it++) {
                double p1 = 1, p2 = 0;
                for (int j = 1; j <= k; j++) {
                    double p3 = p2;
                    p2 = p1;
                    p1 = ((2.0 * j - 1) * z * p2 - (j - 1.0) * p3) / j;
                }
                pp = k * (z * p1 - p2) / (z * z - 1);
                double z1 = z;
                z = z1 - p1 / pp;
                if (Math.abs(z - z1) < 1e-15) break;
            }
            double wi = 2 / ((1 - z * z) * pp * pp);
            // z > 0 is the i-th largest root: α near 1; its mirror −z near 0
            a[i] = (1 - z) / 2;
            a[k - 1 - i] = (1 + z) / 2;
            w[i] = wi / 2;
            w[k - 1 - i] = wi / 2;
        }
        return new double[][]{a, w};
    }
}
