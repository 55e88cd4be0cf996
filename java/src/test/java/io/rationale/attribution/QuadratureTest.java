package io.rationale.attribution;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Integrated gradients' nodes: Gauss–Legendre is exact for polynomials of degree 2k−1 on [0, 1]. */
class QuadratureTest {
    @Test
    void gaussLegendreIntegratesPolynomialsExactly() {
        for (int k : new int[]{1, 2, 5, 32, 64, 300}) {
            double[][] nw = Options.IgRule.GAUSS_LEGENDRE.nodes(k);
            double sum = 0;
            for (int s = 0; s < k; s++) {
                sum += nw[1][s];
                assertTrue(nw[0][s] > 0 && nw[0][s] < 1);
                if (s > 0) assertTrue(nw[0][s] > nw[0][s - 1], "ascending");
            }
            assertEquals(1.0, sum, 1e-12);
            int deg = Math.min(2 * k - 1, 40);
            double integral = 0;
            for (int s = 0; s < k; s++) integral += nw[1][s] * Math.pow(nw[0][s], deg);
            assertEquals(1.0 / (deg + 1), integral, 1e-12, "k=" + k);
        }
        assertEquals(0.5, Options.IgRule.GAUSS_LEGENDRE.nodes(1)[0][0], 0);
        double[][] two = Options.IgRule.GAUSS_LEGENDRE.nodes(2);
        assertEquals(0.5 - 0.5 / Math.sqrt(3), two[0][0], 1e-15);
    }

    @Test
    void midpoint() {
        double[][] nw = Options.IgRule.MIDPOINT.nodes(4);
        assertEquals(0.125, nw[0][0], 0);
        assertEquals(0.875, nw[0][3], 0);
        assertEquals(0.25, nw[1][2], 0);
    }
}
