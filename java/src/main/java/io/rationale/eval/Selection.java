package io.rationale.eval;

import io.rationale.dataset.Example;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Which examples a run evaluates, and in what order: an order over ALL the dataset's examples, of which a run with
 * {@code --limit N} takes the first N. Every order is a fixed function of the dataset and the seed, so a resumed run
 * (or a larger limit) continues the same sequence, and a run stopped early has evaluated a prefix of it.
 *
 * <ul>
 *   <li>{@link Mode#FIRST}: file order.</li>
 *   <li>{@link Mode#SHUFFLE}: a seeded uniform shuffle ({@code Collections.shuffle} with {@code Random(seed)}).</li>
 *   <li>{@link Mode#STRATIFIED} (the default): stratified by gold label, proportionally: each label's examples are
 *       shuffled (seeded), the i-th of a label with n examples gets the key (i + ½)/n, and examples are taken in
 *       key order (ties: label order of first appearance). Every prefix then holds each label in its dataset
 *       share, within one example, so a limited run keeps the dataset's label distribution.</li>
 * </ul>
 */
public final class Selection {
    private Selection() {}

    /** How examples are chosen. */
    public enum Mode {
        FIRST, SHUFFLE, STRATIFIED;

        public String cliName() { return name().toLowerCase(Locale.ROOT); }

        /** {@code first}, {@code shuffle} or {@code stratified}. */
        public static Mode parse(String s) {
            String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
            for (Mode m : values()) if (m.cliName().equals(n)) return m;
            throw new IllegalArgumentException("unknown selection '" + s + "' (valid: first, shuffle, stratified)");
        }
    }

    public static final Mode DEFAULT = Mode.STRATIFIED;

    /** Every example index, in the order {@code mode} takes them. */
    public static List<Integer> order(List<Example> examples, Mode mode, long seed) {
        List<Integer> all = new ArrayList<>(examples.size());
        for (int i = 0; i < examples.size(); i++) all.add(i);
        switch (mode) {
            case FIRST -> { }
            case SHUFFLE -> Collections.shuffle(all, new Random(seed));
            case STRATIFIED -> {
                Map<String, List<Integer>> byLabel = new LinkedHashMap<>();
                for (int i : all) byLabel.computeIfAbsent(examples.get(i).label(), l -> new ArrayList<>()).add(i);
                record Keyed(double key, int label, int index) {}
                List<Keyed> keyed = new ArrayList<>(all.size());
                int label = 0;
                for (List<Integer> group : byLabel.values()) {
                    Collections.shuffle(group, new Random(seed * 31 + label));
                    for (int r = 0; r < group.size(); r++) keyed.add(new Keyed((r + 0.5) / group.size(), label, group.get(r)));
                    label++;
                }
                keyed.sort(Comparator.comparingDouble(Keyed::key).thenComparingInt(Keyed::label));
                all.clear();
                for (Keyed k : keyed) all.add(k.index());
            }
        }
        return all;
    }

    /** One sentence for the summary: how many of how many examples, chosen how. */
    public static String describe(Mode mode, long seed, int selected, int total, Integer limit) {
        String how = switch (mode) {
            case FIRST -> "the first " + selected + " in file order";
            case SHUFFLE -> selected + " drawn at random (seeded shuffle, seed " + seed + ")";
            case STRATIFIED -> selected + " stratified by gold label in proportion to the dataset (seeded, seed " + seed + ")";
        };
        if (limit == null || selected >= total) return "all " + total + " examples, in " + switch (mode) {
            case FIRST -> "file order";
            case SHUFFLE -> "a seeded random order (seed " + seed + ")";
            case STRATIFIED -> "a label-stratified order (seed " + seed + ")";
        };
        return how + " of " + total + " examples (--limit " + limit + ")";
    }
}
