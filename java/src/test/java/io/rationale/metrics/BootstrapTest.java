package io.rationale.metrics;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BootstrapTest {

    @Test
    void constantValuesHaveAPointInterval() {
        Bootstrap.Interval ci = Bootstrap.meanCi(new double[] {0.4, 0.4, 0.4});
        assertEquals(0.4, ci.mean(), 1e-12);
        assertEquals(0.4, ci.lower(), 1e-12);
        assertEquals(0.4, ci.upper(), 1e-12);
        assertEquals(1000, ci.resamples());
    }

    @Test
    void percentileBoundsOfAKnownResampleDistribution() {
        // values {0,0,0,1}: a resample mean is k/4 with k ~ Binomial(4, 1/4):
        // P(0) = .3164, P(.25) = .4219, P(.5) = .2109, P(.75) = .0469, P(1) = .0039 (cumulative .3164 .7383 .9492 .9961)
        // so the 2.5% quantile is 0 and the 97.5% quantile falls inside the mass at 0.75
        Bootstrap.Interval ci = Bootstrap.meanCi(new double[] {0, 0, 0, 1}, 20000, 7, 0.95);
        assertEquals(0.25, ci.mean(), 1e-12);
        assertEquals(0.0, ci.lower(), 1e-12);
        assertEquals(0.75, ci.upper(), 1e-12);
        // a 60% interval: the 20% quantile falls in the mass at 0 (.2 < .3164), the 80% one in the mass at 0.5
        // (.7383 < .8 < .9492)
        Bootstrap.Interval mid = Bootstrap.meanCi(new double[] {0, 0, 0, 1}, 20000, 7, 0.6);
        assertEquals(0.0, mid.lower(), 1e-12);
        assertEquals(0.5, mid.upper(), 1e-12);
    }

    @Test
    void quantileInterpolatesLinearly() {
        // position q·(n−1): 0.5·3 = 1.5 -> halfway between 2 and 3
        assertEquals(2.5, Bootstrap.quantile(new double[] {1, 2, 3, 4}, 0.5), 1e-12);
        // 0.1·3 = 0.3 -> 1 + 0.3·(2 − 1)
        assertEquals(1.3, Bootstrap.quantile(new double[] {1, 2, 3, 4}, 0.1), 1e-12);
        assertEquals(4.0, Bootstrap.quantile(new double[] {1, 2, 3, 4}, 1.0), 1e-12);
    }

    @Test
    void deterministicForASeed() {
        double[] v = {0.1, 0.5, 0.9, 0.3, 0.7, 0.2};
        assertEquals(Bootstrap.meanCi(v, 500, 3, 0.95), Bootstrap.meanCi(v, 500, 3, 0.95));
        assertNotEquals(Bootstrap.meanCi(v, 500, 3, 0.95).lower(), Bootstrap.meanCi(v, 500, 4, 0.95).lower());
    }

    @Test
    void pairedTestPValue() {
        // every difference is +0.1: no resample can flip the sign -> p = 0 (below 1/B)
        Bootstrap.PairedTest sure = Bootstrap.pairedTest(new double[] {0.5, 0.6, 0.7}, new double[] {0.4, 0.5, 0.6});
        assertEquals(0.0, sure.pValue(), 0);
        assertEquals(0.1, sure.difference().mean(), 1e-12);
        assertEquals(0.6, sure.meanA(), 1e-12);
        // differences {1,-1}: observed mean 0 -> p = 1
        assertEquals(1.0, Bootstrap.pairedTest(new double[] {1, 0}, new double[] {0, 1}).pValue(), 0);
        // differences {1,1,1,-1}: D = 0.5 > 0; D* <= 0 when at least 2 of 4 draws are the -1 (prob 1/4 each):
        // P = 1 − (3/4)^4 − 4·(1/4)·(3/4)^3 = 1 − 0.31640625 − 0.421875 = 0.26171875; two-sided p = 0.5234375.
        // With B = 20000 the standard error of p is about 2·sqrt(.26·.74/20000) = 0.006.
        Bootstrap.PairedTest t = Bootstrap.pairedTest(new double[] {1, 1, 1, 0}, new double[] {0, 0, 0, 1}, 20000, 11, 0.95);
        assertEquals(0.5234375, t.pValue(), 0.03);
        assertEquals(t, Bootstrap.pairedTest(new double[] {1, 1, 1, 0}, new double[] {0, 0, 0, 1}, 20000, 11, 0.95));
        // the direction does not matter: swapping the methods gives the same p
        Bootstrap.PairedTest swapped = Bootstrap.pairedTest(new double[] {0, 0, 0, 1}, new double[] {1, 1, 1, 0}, 20000, 11, 0.95);
        assertEquals(t.pValue(), swapped.pValue(), 1e-12);
    }

    @Test
    void badInput() {
        assertThrows(IllegalArgumentException.class, () -> Bootstrap.meanCi(new double[0]));
        assertThrows(IllegalArgumentException.class, () -> Bootstrap.meanCi(new double[] {Double.NaN}));
        assertThrows(IllegalArgumentException.class, () -> Bootstrap.pairedTest(new double[] {1}, new double[] {1, 2}));
    }
}
