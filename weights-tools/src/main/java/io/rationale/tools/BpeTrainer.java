package io.rationale.tools;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Deterministic byte-level BPE training, the textbook algorithm: split the text with the Llama 3
 * pre-tokenizer regex, write each piece in the byte-level alphabet, then repeatedly merge the most
 * frequent adjacent pair (ties: the pair whose left, then right, string sorts first) until the
 * wanted number of new tokens exists or no pair occurs at least twice.
 */
public final class BpeTrainer {
    /** The Llama 3 pre-tokenizer split pattern, as in its tokenizer.json. */
    public static final String LLAMA3_SPLIT_REGEX =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final Pattern SPLIT = Pattern.compile(LLAMA3_SPLIT_REGEX, Pattern.UNICODE_CHARACTER_CLASS);

    /**
     * The result: merges in rank order, and the new tokens (merge results that were not yet
     * tokens) in the order they were created.
     */
    public record Result(List<String[]> merges, List<String> newTokens) {
    }

    private BpeTrainer() {
    }

    /** Splits text into pre-tokens with the Llama 3 regex. */
    public static List<String> preTokenize(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = SPLIT.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    /** Learns up to {@code maxNewTokens} new tokens from {@code text}. */
    public static Result train(String text, int maxNewTokens) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String piece : preTokenize(text)) {
            counts.merge(ByteLevel.encode(piece), 1, Integer::sum);
        }
        List<List<String>> words = new ArrayList<>();
        List<Integer> freqs = new ArrayList<>();
        Set<String> tokens = new LinkedHashSet<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevel.charOf(b)));
        }
        for (Map.Entry<String, Integer> e : counts.entrySet()) {
            List<String> syms = new ArrayList<>();
            String w = e.getKey();
            for (int i = 0; i < w.length(); i++) {
                syms.add(String.valueOf(w.charAt(i)));
            }
            words.add(syms);
            freqs.add(e.getValue());
        }
        List<String[]> merges = new ArrayList<>();
        List<String> newTokens = new ArrayList<>();
        while (newTokens.size() < maxNewTokens) {
            String[] best = bestPair(words, freqs);
            if (best == null) {
                break;
            }
            merges.add(best);
            String merged = best[0] + best[1];
            if (tokens.add(merged)) {
                newTokens.add(merged);
            }
            for (List<String> syms : words) {
                applyMerge(syms, best[0], best[1], merged);
            }
        }
        return new Result(merges, newTokens);
    }

    private static String[] bestPair(List<List<String>> words, List<Integer> freqs) {
        Map<String, int[]> pairCounts = new HashMap<>();
        Map<String, String[]> pairs = new HashMap<>();
        for (int w = 0; w < words.size(); w++) {
            List<String> syms = words.get(w);
            for (int i = 0; i + 1 < syms.size(); i++) {
                String key = syms.get(i) + '\u0000' + syms.get(i + 1);
                int[] c = pairCounts.get(key);
                if (c == null) {
                    c = new int[1];
                    pairCounts.put(key, c);
                    pairs.put(key, new String[] {syms.get(i), syms.get(i + 1)});
                }
                c[0] += freqs.get(w);
            }
        }
        String[] best = null;
        int bestCount = 1;
        for (Map.Entry<String, int[]> e : pairCounts.entrySet()) {
            int c = e.getValue()[0];
            String[] p = pairs.get(e.getKey());
            if (c > bestCount || (c == bestCount && best != null && comesFirst(p, best))) {
                best = p;
                bestCount = c;
            }
        }
        return best;
    }

    private static boolean comesFirst(String[] a, String[] b) {
        int c = a[0].compareTo(b[0]);
        if (c != 0) {
            return c < 0;
        }
        return a[1].compareTo(b[1]) < 0;
    }

    private static void applyMerge(List<String> syms, String left, String right, String merged) {
        int i = 0;
        while (i + 1 < syms.size()) {
            if (syms.get(i).equals(left) && syms.get(i + 1).equals(right)) {
                syms.set(i, merged);
                syms.remove(i + 1);
            }
            i++;
        }
    }
}
