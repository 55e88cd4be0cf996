package io.rationale.cli;

import io.rationale.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Comparator;

/** Human-readable summaries of logits. */
final class Summary {
    private Summary() {}

    static String logits(Tokenizer tok, int[] ids, float[] last, int[] argmax, int top) {
        StringBuilder sb = new StringBuilder();
        sb.append("input ids: ").append(Arrays.toString(ids)).append('\n');
        sb.append("argmax per position: ").append(Arrays.toString(argmax)).append('\n');
        double max = Double.NEGATIVE_INFINITY, sum = 0, mean = 0;
        for (float v : last) { max = Math.max(max, v); mean += v; }
        mean /= last.length;
        for (float v : last) sum += Math.exp(v - max);
        double logZ = max + Math.log(sum);
        double var = 0;
        for (float v : last) var += (v - mean) * (v - mean);
        sb.append(String.format("last position: %d logits, mean %.4f, std %.4f, max %.4f%n", last.length, mean, Math.sqrt(var / last.length), max));
        Integer[] order = new Integer[last.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -last[i]).thenComparingInt(i -> i));
        sb.append("top ").append(Math.min(top, last.length)).append(":\n");
        for (int r = 0; r < Math.min(top, last.length); r++) {
            int id = order[r];
            sb.append(String.format("  %6d  %-16s logit %9.4f  p %.4f%n", id, quote(tok.displayText(id)), last[id], Math.exp(last[id] - logZ)));
        }
        return sb.toString().stripTrailing();
    }

    static String quote(String s) {
        return "'" + s.replace("\n", "\\n") + "'";
    }
}
