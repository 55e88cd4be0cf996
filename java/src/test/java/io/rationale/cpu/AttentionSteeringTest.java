package io.rationale.cpu;

import io.rationale.serum.Operator;
import io.rationale.serum.Rows;
import io.rationale.serum.Steering;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One attention layer steered by the serum's {@link Steering} (its intervention as the engine receives it), for each
 * operator and each row mode, against an independent double-precision computation of the operator's definition:
 * <ul>
 * <li>post: {@code out_i = Σ_{j≤i} p_ij v_j + Σ_{j∈span} α R̂_j v_j} (every span key, also later ones: the authors'
 *     prefill);</li>
 * <li>post-renorm: the same divided by {@code 1 + Σ_{j∈span} α R̂_j};</li>
 * <li>pre: {@code softmax(s_ij + α R̂_j [j∈span])} over the keys i sees;</li>
 * <li>rows causal: rows at positions ≥ the span's end as above (they see the whole span), every earlier row bitwise
 *     equal to the unsteered output.</li>
 * </ul>
 * A prefill of 70 positions (two cache blocks), GQA 4/2, head dim 16, span 20:31 with signed weights. Tolerance
 * 2e-6·(1 + max|out|) (f32 against double).
 */
class AttentionSteeringTest {
    static final int T = 70, HEADS = 4, KV = 2, HD = 16, START = 20, END = 31;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Operator op : Operator.values()) for (Rows r : Rows.values()) out.add(Arguments.of(op, r));
        return out.stream();
    }

    @ParameterizedTest(name = "{0}, rows {1}")
    @MethodSource("cases")
    void steeredAttentionEqualsTheOperatorsDefinition(Operator op, Rows rows) {
        Random r = new Random(41 + op.ordinal() * 7 + rows.ordinal());
        float[] q = new float[T * HEADS * HD], k = new float[T * KV * HD], v = new float[T * KV * HD];
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) r.nextGaussian();
            v[i] = (float) r.nextGaussian();
        }
        double[] w = new double[END - START];
        for (int i = 0; i < w.length; i++) w[i] = r.nextDouble() * 2 - 0.6;   // signed, mostly positive
        double alpha = op == Operator.PRE ? 1.5 : 0.08;
        Steering steering = new Steering(alpha, new int[]{0}, START, END, w, op, rows);

        Attention.Shape shape = new Attention.Shape(HEADS, KV, HD, 0);
        float[] plain = run(shape, q, k, v, null), steered = run(shape, q, k, v,
                Attention.Steering.of(steering.intervention(), HEADS, new int[]{T}));

        double scale = 1 / Math.sqrt(HD);
        double biasSum = 0;
        for (double x : w) biasSum += (float) (alpha * x);
        int changed = 0;
        for (int i = 0; i < T; i++)
            for (int h = 0; h < HEADS; h++) {
                int g = h / (HEADS / KV), o = (i * HEADS + h) * HD;
                boolean on = rows == Rows.ALL || i >= END;
                if (!on) {
                    for (int d = 0; d < HD; d++) assertEquals(plain[o + d], steered[o + d], 0.0, "row " + i + " before the span's end must be unchanged");
                    continue;
                }
                double[] s = new double[i + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= i; j++) {
                    double dot = 0;
                    for (int d = 0; d < HD; d++) dot += (double) q[o + d] * k[(j * KV + g) * HD + d];
                    s[j] = dot * scale + (op == Operator.PRE && j >= START && j < END ? (float) (alpha * w[j - START]) : 0);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j <= i; j++) sum += Math.exp(s[j] - max);
                double[] want = new double[HD];
                for (int j = 0; j <= i; j++)
                    for (int d = 0; d < HD; d++) want[d] += Math.exp(s[j] - max) / sum * v[(j * KV + g) * HD + d];
                if (op != Operator.PRE) {
                    for (int j = START; j < END; j++)              // every span key, also those after row i
                        for (int d = 0; d < HD; d++) want[d] += (float) (alpha * w[j - START]) * v[(j * KV + g) * HD + d];
                    if (op == Operator.POST_RENORM) for (int d = 0; d < HD; d++) want[d] /= 1 + biasSum;
                }
                double big = 0;
                for (double x : want) big = Math.max(big, Math.abs(x));
                for (int d = 0; d < HD; d++) {
                    assertEquals(want[d], steered[o + d], 2e-6 * (1 + big), op + " " + rows + " row " + i + " head " + h + " dim " + d);
                    if (Math.abs(steered[o + d] - plain[o + d]) > 1e-4) changed++;
                }
            }
        assertTrue(changed > 100, "the steering changes the output (" + changed + " values)");
    }

    /** A prefill of all T positions from an empty cache: Attention.append then Attention.forward. */
    static float[] run(Attention.Shape shape, float[] q, float[] k, float[] v, Attention.Steering steer) {
        CpuKvCache cache = new CpuKvCache(1, KV, HD);
        cache.reserve(T);
        CpuKvCache[] caches = {cache};
        int[] seqStart = {0, T}, past = {0};
        Attention.append(0, shape, k, v, seqStart, caches, past);
        float[] out = new float[T * HEADS * HD];
        try (Parallel par = new Parallel(2)) {
            Attention.forward(par, 0, shape, q, seqStart, caches, past, out, null, steer);
        }
        return out;
    }
}
