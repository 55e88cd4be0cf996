package io.rationale.cli;

import io.rationale.api.AttributionInputs;
import io.rationale.api.AttributionResult;
import io.rationale.api.RationaleJson;
import io.rationale.attribution.Aggregate;
import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.attribution.TargetText;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Model;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tokenizer.TokenizerException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code attribute}: which input tokens and words made the model produce the target at the last position.
 * Prints a table of words and scores, or with {@code --json} one JSON object: {@link AttributionResult}, the shape the
 * Java API and the service share ({@code target_text} and {@code foil_text} when the tokenizer is available).
 */
@Command(name = "attribute", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Attribute the model's next-token decision to the input tokens and words.")
public final class AttributeCommand implements Callable<Integer> {
    @Mixin
    ModelInput input;

    @Mixin
    DeviceOption device;

    @Mixin
    AdapterOption adapter;

    @Option(names = "--method", required = true, paramLabel = "M",
            description = "saliency, input_x_gradient, integrated_gradients, attnlrp, cplrp, pe_lrp, attention, attention_rollout, occlusion, random, or all.")
    String method;

    @Option(names = "--target-id", paramLabel = "N", description = "Target token id (default: the model's argmax at the last position).")
    Integer targetId;

    @Option(names = "--target-text", paramLabel = "W", description = "Target as text; must be exactly one token (tried as given, with a leading space added, and without its leading whitespace).")
    String targetText;

    @Option(names = "--target-kind", defaultValue = "logit", paramLabel = "K", description = "logit (default) or logprob.")
    String targetKind;

    @Option(names = "--foil-id", paramLabel = "N", description = "Foil token id: explain logit(target) - logit(foil).")
    Integer foilId;

    @Option(names = "--foil-text", paramLabel = "W", description = "Foil as text; one token, tried like --target-text.")
    String foilText;

    @Option(names = "--aggregate", defaultValue = "sum", paramLabel = "A", description = "Token scores to word scores: sum (default) or max_abs.")
    String aggregate;

    @Option(names = "--steps", defaultValue = "32", paramLabel = "K", description = "Integrated gradients steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--ig-rule", defaultValue = "gauss-legendre", paramLabel = "R", description = "Integrated gradients nodes: gauss-legendre (default, as Captum) or midpoint.")
    String igRule;

    @Option(names = "--baseline-token", paramLabel = "N", description = "Integrated gradients baseline: this token's embedding at every position (default: zero embedding, which converges badly on RMSNorm models; e.g. the <unk>/pad id is better).")
    Integer baselineToken;

    @Option(names = "--ig-keep-special", description = "Integrated gradients: keep special tokens (BOS) at their real embedding instead of interpolating them.")
    boolean igKeepSpecial;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random method (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--study-start", paramLabel = "C", description = "First char of the text under study in --text (with --chat: in the user text).")
    Integer studyStart;

    @Option(names = "--study-end", paramLabel = "C", description = "End char (exclusive) of the text under study.")
    Integer studyEnd;

    @Option(names = "--max-batch-tokens", defaultValue = "0", paramLabel = "N", description = "Integrated gradients: tokens per recorded batch (0 = from the heap size).")
    int maxBatchTokens;

    @Option(names = "--max-forward-tokens", defaultValue = "16384", paramLabel = "N", description = "Occlusion: tokens per batched forward (default: ${DEFAULT-VALUE}).")
    int maxForwardTokens;

    @Option(names = "--json", description = "Print one JSON object (method, ids, tokens, target_id, target_logit, scores, words, seconds, ...).")
    boolean json;

    @Override
    public Integer call() {
        // the options alone: a usage error (exit 2) before any file is read
        input.checkUsage();
        device.parse();
        adapter.parse();
        boolean fromIds = input.source.ids != null;
        List<Method> methods = Usage.check(input.spec, () -> Method.parse(method));
        Options options = Usage.check(input.spec, () -> Options.defaults().withSteps(steps).withIgRule(Options.IgRule.parse(igRule))
                .withBaselineToken(baselineToken == null ? -1 : baselineToken).withInterpolateSpecial(!igKeepSpecial)
                .withAggregate(Aggregate.parse(aggregate)).withSeed(seed).withMaxBatchTokens(maxBatchTokens)
                .withMaxForwardTokens(maxForwardTokens));
        TargetSpec.Kind kind = Usage.check(input.spec, () -> TargetSpec.Kind.parse(targetKind));
        Usage.check(input.spec, () -> {
            if (targetId != null && targetText != null) throw new IllegalArgumentException("give --target-id or --target-text, not both");
            if (foilId != null && foilText != null) throw new IllegalArgumentException("give --foil-id or --foil-text, not both");
            if (baselineToken != null && baselineToken < 0) throw new IllegalArgumentException("--baseline-token " + baselineToken + " is negative");
            if (targetId != null && targetId < 0) throw new IllegalArgumentException("target id " + targetId + " is outside the vocabulary (negative)");
            if (foilId != null && foilId < 0) throw new IllegalArgumentException("foil id " + foilId + " is outside the vocabulary (negative)");
            if (targetId != null && targetId.equals(foilId))
                throw new IllegalArgumentException("--foil-id " + foilId + " is the target: logit(target) - logit(foil) would be 0 everywhere");
            if (fromIds && (studyStart != null || studyEnd != null)) throw new IllegalArgumentException("--study-start/--study-end need --text, not --ids");
            if (fromIds && input.chat) throw new IllegalArgumentException("--chat needs --text, not --ids");
        });

        Path dir = input.modelDir();
        try (Model model = adapter.load(dir)) {
            Tokenizer tok = null;
            String noTokenizer = null;
            if (fromIds) {
                if (Files.isRegularFile(dir.resolve(Tokenizer.FILE_NAME))) {
                    try {
                        tok = Tokenizer.load(dir);
                    } catch (TokenizerException e) {
                        noTokenizer = e.getMessage();
                    }
                } else {
                    noTokenizer = dir.resolve(Tokenizer.FILE_NAME) + ": not found";
                }
            } else {
                tok = Tokenizer.load(dir);
            }
            Backends.Opened opened = device.open(model);
            try (Backend backend = opened.backend()) {
                int vocab = model.config().vocabSize();
                AttributionInput in = fromIds ? idsInput(tok, vocab) : textInput(tok);
                int target = targetId != null ? targetId
                        : targetText != null ? TargetText.singleToken(need(tok, noTokenizer, "--target-text"), targetText, "target text")
                        : TargetSpec.ARGMAX;
                int foil = foilId != null ? foilId
                        : foilText != null ? TargetText.singleToken(need(tok, noTokenizer, "--foil-text"), foilText, "foil text")
                        : -1;
                TargetSpec spec = foil >= 0 ? new TargetSpec(TargetSpec.Kind.CONTRAST, target, foil) : new TargetSpec(kind, target, -1);
                spec.checkVocabulary(vocab);
                if (baselineToken != null && baselineToken >= vocab)
                    throw new IllegalArgumentException("--baseline-token " + baselineToken + " is outside the vocabulary [0, " + vocab + ")");
                AttributionSet result = new Attributor(backend).run(in, spec, methods, options);
                if (json) {
                    System.out.println(RationaleJson.write(AttributionResult.of(result, tok, backend.device())));
                } else {
                    System.out.println(table(result, tok));
                    System.out.println(opened.describe());
                }
                return 0;
            } finally {
                if (tok != null) tok.close();
            }
        }
    }

    private static Tokenizer need(Tokenizer tok, String why, String option) {
        if (tok == null) throw new IllegalArgumentException(option + " needs the model's tokenizer, which cannot be used with these --ids: " + why);
        return tok;
    }

    private AttributionInput idsInput(Tokenizer tok, int vocab) {
        return AttributionInputs.forIds(tok, input.source.ids, vocab);
    }

    private AttributionInput textInput(Tokenizer tok) {
        return AttributionInputs.forText(tok, input.source.text, input.chat, input.system, studyStart, studyEnd);
    }

    // ---------------------------------------------------------------- table

    private static void row(StringBuilder sb, String index, String label) {
        if (label.length() > 24) label = label.substring(0, 23) + "…";
        sb.append(String.format("%-5s %-24s", index, label));
    }

    /**
     * A token for the table, at most 24 chars: its text (its vocabulary piece when it covers no text) quoted, cut
     * to fit, then "(special)" for a special token; its id alone without a tokenizer.
     */
    static String tokenLabel(Attribution.TokenInfo t) {
        String shown = !t.text().isEmpty() ? t.text() : t.piece();
        if (shown.isEmpty()) return "id " + t.id();
        String suffix = t.special() ? " (special)" : "";
        String quoted = Summary.quote(shown);
        int room = 24 - suffix.length();
        if (quoted.length() > room) quoted = quoted.substring(0, room - 2) + "…'";
        return quoted + suffix;
    }

    private static final Map<Method, String> SHORT = Map.of(
            Method.SALIENCY, "saliency", Method.INPUT_X_GRADIENT, "ixg", Method.INTEGRATED_GRADIENTS, "ig",
            Method.ATTNLRP, "attnlrp", Method.CPLRP, "cplrp", Method.PE_LRP, "pe_lrp", Method.ATTENTION, "attention",
            Method.ATTENTION_ROLLOUT, "rollout", Method.OCCLUSION, "occlusion", Method.RANDOM, "random");

    static String table(AttributionSet r, Tokenizer tok) {
        StringBuilder sb = new StringBuilder();
        Attribution.ResolvedTarget t = r.target();
        String targetText = tok != null && t.tokenId() < tok.vocabSize() ? " " + Summary.quote(tok.displayText(t.tokenId())) : "";
        sb.append(String.format("target %d%s: %s %.4f%s%s%n", t.tokenId(), targetText, t.spec().kind().cliName(), t.value(),
                t.spec().kind() == TargetSpec.Kind.LOGIT ? "" : String.format(" (logit %.4f)", t.logit()), t.argmax() ? ", the argmax" : ""));
        if (t.spec().kind() == TargetSpec.Kind.CONTRAST) sb.append("foil ").append(t.spec().foilId()).append('\n');
        List<Attribution> as = List.copyOf(r.methods().values());
        boolean byWord = !r.input().words().isEmpty();
        sb.append(String.format("%-5s %-24s", "#", byWord ? "word" : "token"));
        for (Attribution a : as) sb.append(String.format(" %12s", SHORT.get(a.method())));
        sb.append('\n');
        int rows = byWord ? r.input().words().size() : r.input().size();
        Attribution first = as.get(0);
        for (int i = 0; i < rows; i++) {
            String label = byWord ? r.input().words().get(i).text() : tokenLabel(first.tokens().get(i));
            row(sb, String.valueOf(i), label);
            for (Attribution a : as) sb.append(String.format(" %12.5g", byWord ? a.words().get(i).score() : a.scores()[i]));
            sb.append('\n');
        }
        if (byWord) {   // tokens in no word (BOS, template text): their scores are in the JSON, so they are shown too
            boolean header = false;
            for (Attribution.TokenInfo tk : first.tokens()) {
                if (tk.words().length > 0) continue;
                if (!header) sb.append("tokens in no word:\n");
                header = true;
                row(sb, "t" + tk.index(), tokenLabel(tk));
                for (Attribution a : as) sb.append(String.format(" %12.5g", a.scores()[tk.index()]));
                sb.append('\n');
            }
        }
        for (Attribution a : as) {
            sb.append(String.format("%s: %.3f s", a.method().cliName(), a.seconds()));
            Object ce = a.extras().get("completeness_error");
            if (ce != null) sb.append(String.format(", %s steps, completeness error %.3g%%", a.extras().get("steps"), 100 * (Double) ce));
            sb.append('\n');
            if (a.extras().get("warning") != null) sb.append("warning: ").append(a.extras().get("warning")).append('\n');
        }
        if (as.size() > 1) {
            for (AttributionSet.SharedStep s : r.shared())
                sb.append(String.format("shared %s: %.3f s, used by %s%n", s.name(), s.seconds(), s.usedBy().stream().map(Method::cliName).toList()));
            sb.append(String.format("total: %.3f s", r.seconds()));
        }
        return sb.toString().stripTrailing();
    }
}
