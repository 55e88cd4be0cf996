package io.rationale.lora;

/**
 * AdamW (Loshchilov and Hutter, "Decoupled weight decay regularization"), as {@code torch.optim.AdamW} computes it
 * with {@code amsgrad=False}: for step t (1-based), learning rate lr, gradient g of parameter p,
 * <pre>
 * p ← p − lr·λ·p
 * m ← β1·m + (1 − β1)·g
 * v ← β2·v + (1 − β2)·g²
 * p ← p − lr · (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε)
 * </pre>
 * Each element is updated in double from its float values and stored back as float; the moments are float arrays
 * (the state a resumed run reloads bit for bit). Hand-written: the project's libraries have no optimiser and this
 * is a few lines.
 */
public final class AdamW {
    public final double beta1, beta2, eps, weightDecay;

    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("betas must be in [0, 1): " + beta1 + ", " + beta2);
        if (!(eps > 0)) throw new IllegalArgumentException("eps must be > 0: " + eps);
        if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) throw new IllegalArgumentException("weight decay must be >= 0: " + weightDecay);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** torch's defaults: β = (0.9, 0.999), ε = 1e-8, with the given weight decay. */
    public static AdamW withWeightDecay(double weightDecay) { return new AdamW(0.9, 0.999, 1e-8, weightDecay); }

    /**
     * One step on one parameter array.
     *
     * @param step  t, 1-based
     * @param scale multiplies g first (gradient clipping's factor; 1 for none)
     */
    public void update(float[] p, float[] g, float[] m, float[] v, long step, double lr, double scale) {
        if (step < 1) throw new IllegalArgumentException("step " + step + " < 1");
        if (p.length != g.length || p.length != m.length || p.length != v.length) throw new IllegalArgumentException("array lengths differ");
        double c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
        double decay = 1 - lr * weightDecay;
        for (int i = 0; i < p.length; i++) {
            double gi = g[i] * scale;
            double mi = beta1 * m[i] + (1 - beta1) * gi;
            double vi = beta2 * v[i] + (1 - beta2) * gi * gi;
            m[i] = (float) mi;
            v[i] = (float) vi;
            double pi = p[i] * decay;
            p[i] = (float) (pi - lr * ((double) m[i] / c1) / (Math.sqrt((double) v[i] / c2) + eps));
        }
    }
}
