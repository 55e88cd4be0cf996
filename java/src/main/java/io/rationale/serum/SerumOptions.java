package io.rationale.serum;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a serum run does, besides the model and the questions (its identity for resuming, with them).
 *
 * @param hints             hint types, in run order (cli names)
 * @param alphas            α values; the settings are every (α, layers) pair, α first
 * @param layers            layer choices ({@link LayerChoice#spec()})
 * @param method            relevance method (attribution cli name)
 * @param normalization     {@link Normalization} cli name
 * @param operator          {@link Operator} cli name
 * @param rows              {@link Rows} cli name
 * @param explain           {@link SerumPrompts.Explain} cli name
 * @param keep              {@code flipped} (explain the cases where the hint flips the answer to the hinted option) or
 *                          {@code all} (explain every case; for mechanics checks and studies of all hinted answers)
 * @param seed              the hinted-option draw's seed
 * @param answerTokens      most tokens of an answer
 * @param explanationTokens most tokens of an explanation
 * @param temperature       explanations: 0 (default) greedy, else sampled with this temperature and {@code topP}, with
 *                          the same seed for both explanations of a case (answers and judges are always greedy)
 * @param topP              nucleus mass of sampled explanations
 * @param judgeModel        the LLM judge's folder (absolute), or null for none
 * @param judgeTokens       most tokens of a judge's reply
 * @param hintTemplates     the user's hint templates file content (null: the defaults)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record SerumOptions(List<String> hints, List<Double> alphas, List<String> layers, String method, String normalization,
                           String operator, String rows, String explain, String keep, long seed, int answerTokens,
                           int explanationTokens, double temperature, double topP, String judgeModel, int judgeTokens,
                           String hintTemplates) {
    public SerumOptions {
        hints = List.copyOf(hints);
        alphas = List.copyOf(alphas);
        layers = List.copyOf(layers);
        if (hints.isEmpty()) throw new IllegalArgumentException("no hint types");
        if (alphas.isEmpty()) throw new IllegalArgumentException("no --alpha given");
        for (double a : alphas) if (!Double.isFinite(a) || a < 0) throw new IllegalArgumentException("--alpha values must be finite and >= 0, got " + a);
        if (layers.isEmpty()) throw new IllegalArgumentException("no --layers given");
        if (!keep.equals("flipped") && !keep.equals("all")) throw new IllegalArgumentException("--keep must be flipped or all, got '" + keep + "'");
        if (answerTokens < 1) throw new IllegalArgumentException("--answer-tokens must be >= 1, got " + answerTokens);
        if (explanationTokens < 1) throw new IllegalArgumentException("--explanation-tokens must be >= 1, got " + explanationTokens);
        if (judgeTokens < 1) throw new IllegalArgumentException("--judge-tokens must be >= 1, got " + judgeTokens);
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be finite and >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
    }

    /** These options with the user's hint templates file content ({@code hintTemplates}). */
    public SerumOptions withHintTemplates(String hintTemplates) {
        return new SerumOptions(hints, alphas, layers, method, normalization, operator, rows, explain, keep, seed, answerTokens, explanationTokens,
                temperature, topP, judgeModel, judgeTokens, hintTemplates);
    }

    /** One steering setting: index, α and layer choice. */
    public record Setting(int index, double alpha, LayerChoice layers) {
        public String label() { return "alpha " + alpha + ", layers " + layers.spec(); }
    }

    public List<Setting> settings() {
        List<Setting> out = new ArrayList<>();
        for (double a : alphas) for (String l : layers) out.add(new Setting(out.size(), a, LayerChoice.parse(l)));
        return out;
    }

    /** Parses a comma-separated α list. */
    public static List<Double> parseAlphas(String s) {
        List<Double> out = new ArrayList<>();
        for (String p : (s == null ? "" : s).split(",")) {
            if (p.isBlank()) continue;
            try {
                out.add(Double.parseDouble(p.trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--alpha must be numbers separated by commas, got '" + s + "'");
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException("--alpha must be numbers separated by commas, got '" + s + "'");
        return out;
    }

    /** Parses layer choices separated by ';' (each a list, window or logit-lens), normalised to their spec spelling. */
    public static List<String> parseLayers(String s) {
        List<String> out = new ArrayList<>();
        for (String p : (s == null ? "" : s).split(";")) if (!p.isBlank()) out.add(LayerChoice.parse(p).spec());
        if (out.isEmpty()) throw new IllegalArgumentException("--layers is empty (a list 17,18,19, window:START:COUNT or logit-lens; several separated by ';')");
        return out;
    }

    static String lower(String s) { return s.toLowerCase(Locale.ROOT); }
}
