package io.rationale.api;

/** The API tests' comparison of attribution results, for the tests of other packages. */
public final class RationaleTestAccess {
    private RationaleTestAccess() {}

    /** Equal up to float rounding of batched kernels: the same ids, tokens and target; scores within tol·max. */
    public static void assertSameAttribution(AttributionResult a, AttributionResult b, double tol) {
        RationaleTest.assertSameAttribution(a, b, tol);
    }
}
