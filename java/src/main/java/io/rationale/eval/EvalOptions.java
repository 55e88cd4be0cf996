package io.rationale.eval;

import io.rationale.attribution.Method;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * What an evaluation run does; the command line's {@code eval} options map onto it one to one, and it is written
 * to the results folder ({@code run.json}) so a resumed run can check it continues the same evaluation.
 *
 * @param methods     rationale methods: attribution methods as the attribute command spells them, {@code prompt_guided},
 *                    {@code prompt_unbound}; the {@code random} baseline is always added
 * @param k           {@code human} (default: k = the human rationale's length, or 10% of words when there is none) or a
 *                    fraction in (0, 1] of the example's words
 * @param mask        {@code delete} (default) or {@code replace:TOKEN}
 * @param annotators  {@code majority} (default), {@code union}, {@code annotator:ID} or {@code index:N}
 * @param shots       few-shot examples in the prompt (0 = zero-shot)
 * @param seed        seed of the random baseline, the few-shot draw, the example selection and sampling
 * @param igSteps     integrated-gradients steps (default {@value #DEFAULT_IG_STEPS})
 * @param igBaseline  integrated-gradients baseline ({@link #IG_BASELINES}; default {@value #DEFAULT_IG_BASELINE}:
 *                    the BOS token's embedding at every position, see docs/eval.md for the measurements); null in
 *                    run.json files written before the option existed, which used {@code zero}
 * @param target      what attribution methods explain ({@link #TARGETS}): {@code auto} (default: the contrast on
 *                    examples with a foil, the predicted label's logit otherwise), {@code predicted} or
 *                    {@code contrast}; null in older run.json files, which used {@code predicted}
 */
public record EvalOptions(List<String> methods, String k, String mask, String annotators, int shots, long seed, int igSteps,
                          String igBaseline, String target) {
    public static final int DEFAULT_IG_STEPS = 64;
    public static final String DEFAULT_IG_BASELINE = "bos", DEFAULT_TARGET = "auto";
    /** The baselines by name; {@code token:N} names any token id. */
    public static final List<String> IG_BASELINES = List.of("bos", "eos", "unk", "pad", "zero");
    public static final List<String> TARGETS = List.of("auto", "predicted", "contrast");
    /** The prompting methods' names. */
    public static final List<String> PROMPTING = List.of(ModelEvaluator.PROMPT_GUIDED, ModelEvaluator.PROMPT_UNBOUND);

    /** The options before {@code igBaseline} and {@code target} existed, with those at their defaults. */
    public EvalOptions(List<String> methods, String k, String mask, String annotators, int shots, long seed, int igSteps) {
        this(methods, k, mask, annotators, shots, seed, igSteps, DEFAULT_IG_BASELINE, DEFAULT_TARGET);
    }

    public static EvalOptions defaults(List<String> methods) {
        return new EvalOptions(List.copyOf(methods), "human", "delete", "majority", 0, 0, DEFAULT_IG_STEPS);
    }

    public EvalOptions withIgBaseline(String b) { return new EvalOptions(methods, k, mask, annotators, shots, seed, igSteps, b, target); }

    public EvalOptions withTarget(String t) { return new EvalOptions(methods, k, mask, annotators, shots, seed, igSteps, igBaseline, t); }

    public EvalOptions withIgSteps(int n) { return new EvalOptions(methods, k, mask, annotators, shots, seed, n, igBaseline, target); }

    /** {@link #igBaseline()}, reading an older run.json's missing value as what that version used. */
    public String igBaselineOrLegacy() { return igBaseline == null ? "zero" : igBaseline; }

    /** {@link #target()}, reading an older run.json's missing value as what that version used. */
    public String targetOrLegacy() { return target == null ? "predicted" : target; }

    /** Whether integrated gradients is among the methods (its steps and baseline matter only then). */
    public boolean hasIntegratedGradients() { return methods != null && methods.contains(Method.INTEGRATED_GRADIENTS.cliName()); }

    /** Whether any attribution method is among the methods (the target matters only then). */
    public boolean hasAttribution() {
        if (methods == null) return false;
        for (String m : methods) if (!PROMPTING.contains(m) && !m.equals(ModelEvaluator.RANDOM)) return true;
        return false;
    }

    /** The valid method names, for messages and help: the attribution methods, the prompting methods, {@code all}. */
    public static String validMethodNames() {
        List<String> out = new ArrayList<>();
        for (Method m : Method.values()) if (m != Method.RANDOM) out.add(m.cliName());
        out.addAll(PROMPTING);
        out.add("all");
        return String.join(", ", out);
    }

    /**
     * Canonical method names: case and {@code -}/{@code _} normalised, {@code all} expanded to every attribution
     * method (not the prompting methods, as {@code attribute --method all}), {@code random} dropped (the baseline is
     * always added), duplicates refused.
     *
     * @throws IllegalArgumentException naming an unknown method and the valid ones, a repeated one, or none at all
     */
    public static List<String> canonicalMethods(List<String> given) {
        List<String> out = canonical(given);
        if (out.isEmpty()) throw new IllegalArgumentException("no method given (the random baseline is always added; valid: " + validMethodNames() + ")");
        return out;
    }

    /** {@link #canonicalMethods}, where no method is allowed (an evaluator of rationales given by the caller). */
    static List<String> canonical(List<String> given) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        boolean all = given.stream().anyMatch(m -> m.trim().equalsIgnoreCase("all"));   // then repeats are expected
        for (String m : given) {
            String n = m.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (n.isEmpty() || n.equals(ModelEvaluator.RANDOM)) continue;
            List<String> names;
            if (n.equals("all")) {
                names = new ArrayList<>();
                for (Method x : Method.values()) if (x != Method.RANDOM) names.add(x.cliName());
            } else if (PROMPTING.contains(n)) {
                names = List.of(n);
            } else {
                Method x = null;
                for (Method y : Method.values()) if (y.cliName().equals(n)) x = y;
                if (x == null) throw new IllegalArgumentException("unknown method '" + m.trim() + "' (valid: " + validMethodNames() + ")");
                names = List.of(x.cliName());
            }
            for (String x : names) {
                if (!out.add(x) && !all) throw new IllegalArgumentException("method '" + x + "' given twice");
            }
        }
        return List.copyOf(out);
    }

    /**
     * Checks an integrated-gradients baseline name: one of {@link #IG_BASELINES} or {@code token:N} (N ≥ 0).
     *
     * @throws IllegalArgumentException naming the valid ones
     */
    public static String checkIgBaseline(String b) {
        String n = b == null ? "" : b.trim().toLowerCase(Locale.ROOT);
        if (IG_BASELINES.contains(n)) return n;
        if (n.startsWith("token:")) {
            try {
                int id = Integer.parseInt(n.substring(6));
                if (id >= 0) return "token:" + id;
            } catch (NumberFormatException e) {
                // below
            }
        }
        throw new IllegalArgumentException("unknown integrated-gradients baseline '" + b + "' (valid: " + String.join(", ", IG_BASELINES) + ", token:N)");
    }

    /** Checks a target name ({@link #TARGETS}). */
    public static String checkTarget(String t) {
        String n = t == null ? "" : t.trim().toLowerCase(Locale.ROOT);
        if (TARGETS.contains(n)) return n;
        throw new IllegalArgumentException("unknown attribution target '" + t + "' (valid: " + String.join(", ", TARGETS) + ")");
    }
}
