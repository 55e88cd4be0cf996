package io.rationale.serum;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which decoder layers are steered (0-based), as {@code --layers} spells it:
 * <ul>
 * <li>{@code 17,18,19}: a fixed list ({@link Fixed});</li>
 * <li>{@code window:START:COUNT}: COUNT layers from START ({@link Window});</li>
 * <li>{@code logit-lens} or {@code logit-lens:RANK:COUNT} (default 150 and 3): per case, from the layer at whose
 *     output the chosen answer letter first ranks below RANK, for COUNT layers ({@link LogitLens}, the authors'
 *     rule; see {@link LogitLensRule}).</li>
 * </ul>
 */
public sealed interface LayerChoice {

    /** The spelling {@link #parse} reads. */
    String spec();

    /** A fixed list of layers. */
    record Fixed(int[] layers) implements LayerChoice {
        public Fixed {
            if (layers.length == 0) throw new IllegalArgumentException("no layers given");
            int[] s = layers.clone();
            Arrays.sort(s);
            for (int i = 0; i < s.length; i++) {
                if (s[i] < 0) throw new IllegalArgumentException("layer " + s[i] + " is negative");
                if (i > 0 && s[i] == s[i - 1]) throw new IllegalArgumentException("layer " + s[i] + " is listed twice");
            }
            layers = s;
        }

        @Override public int[] layers() { return layers.clone(); }

        @Override
        public String spec() {
            StringBuilder b = new StringBuilder();
            for (int l : layers) b.append(b.isEmpty() ? "" : ",").append(l);
            return b.toString();
        }
    }

    /** {@code count} layers from {@code start}. */
    record Window(int start, int count) implements LayerChoice {
        public Window {
            if (start < 0 || count < 1) throw new IllegalArgumentException("layer window needs START >= 0 and COUNT >= 1, got " + start + ":" + count);
        }

        public int[] layers() {
            int[] l = new int[count];
            for (int i = 0; i < count; i++) l[i] = start + i;
            return l;
        }

        @Override public String spec() { return "window:" + start + ":" + count; }
    }

    /** The logit-lens rule, resolved per case by {@link LogitLensRule}. */
    record LogitLens(int rankThreshold, int count) implements LayerChoice {
        public static final int DEFAULT_RANK = 150, DEFAULT_COUNT = 3;

        public LogitLens {
            if (rankThreshold < 1 || count < 1) throw new IllegalArgumentException("logit-lens needs RANK >= 1 and COUNT >= 1, got " + rankThreshold + ":" + count);
        }

        @Override public String spec() { return "logit-lens:" + rankThreshold + ":" + count; }
    }

    /** The layers of a fixed list or window, checked against {@code numLayers}; null for the logit-lens rule. */
    default int[] fixedLayers(int numLayers) { return fixedLayers(numLayers, "--layers"); }

    /** {@link #fixedLayers(int)}, an error naming {@code option}, the option the choice came from. */
    default int[] fixedLayers(int numLayers, String option) {
        int[] l = switch (this) {
            case Fixed f -> f.layers();
            case Window w -> w.layers();
            case LogitLens x -> null;
        };
        if (l != null)
            for (int x : l)
                if (x >= numLayers) throw new IllegalArgumentException("layer " + x + " (from " + option + " " + spec() + ") is outside the model's [0, " + numLayers + ")");
        return l;
    }

    static LayerChoice parse(String s) {
        String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        try {
            if (t.startsWith("window:")) {
                String[] p = t.split(":");
                if (p.length == 3) return new Window(Integer.parseInt(p[1].trim()), Integer.parseInt(p[2].trim()));
            } else if (t.equals("logit-lens") || t.equals("logit_lens")) {
                return new LogitLens(LogitLens.DEFAULT_RANK, LogitLens.DEFAULT_COUNT);
            } else if (t.startsWith("logit-lens:") || t.startsWith("logit_lens:")) {
                String[] p = t.split(":");
                if (p.length == 3) return new LogitLens(Integer.parseInt(p[1].trim()), Integer.parseInt(p[2].trim()));
            } else if (!t.isEmpty()) {
                String[] p = t.split(",");
                int[] l = new int[p.length];
                for (int i = 0; i < p.length; i++) l[i] = Integer.parseInt(p[i].trim());
                return new Fixed(l);
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("layers must be a comma-separated list (17,18,19), window:START:COUNT or logit-lens[:RANK:COUNT], got '" + s + "'");
    }
}
