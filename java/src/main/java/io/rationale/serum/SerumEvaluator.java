package io.rationale.serum;

import io.rationale.attribution.Method;
import io.rationale.dataset.MultipleChoice;
import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.Generator;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.SamplingParams;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Evaluates cases of the hint-counterfactual evaluation: one question, one hint type; see docs/serum.md.
 * <ol>
 * <li>The unhinted answer (once per question, {@link #answer}) and the hinted answer, greedy, parsed by
 *     {@link LetterParser}; the hinted option X is drawn among the options other than the unhinted answer
 *     ({@link Hints#draw}).</li>
 * <li>Kept when both answers parsed and the hinted answer is X (so it differs from the unhinted one).</li>
 * <li>For an explained case: the relevance of the hinted answer prompt's question span for the model's next token
 *     ({@link SpanRelevance}, on a backend that has the method's backward), the explanation prompt (the model's
 *     hinted answer as an assistant turn, then the explanation turn), the explanation without the serum, and per
 *     steering setting the explanation with it (same prompt, greedy, the intervention in every forward); each
 *     judged by the keyword judge (both variants) and the LLM judge, with distinct-1/2 and its perplexity under the
 *     unsteered model (every generated token, the stop token included, given the explanation prompt).</li>
 * </ol>
 * Greedy decoding by default (explanations may be sampled, {@code --temperature}, with a seed of the case), so a
 * case's results do not depend on the order of the run or on resuming.
 */
public final class SerumEvaluator {
    /**
     * An answer: its prompt, generated tokens (stop token included), decoded text, parsed option (−1: none); or, when
     * the prompt leaves no room in the model's positions, no tokens and text and why ({@code skipped}, else null).
     */
    public record Answer(SerumPrompts.Prompt prompt, int[] tokens, String text, int option, String skipped) {}

    private final Backend backend;
    private final Backend relevanceBackend;
    private final Tokenizer tok;
    private final SerumOptions o;
    private final Hints hints;
    private final LlmJudge judge;
    private final SerumPrompts prompts;
    private final List<SerumOptions.Setting> settings;
    private final Method method;
    private final Normalization norm;
    private final Set<Integer> stops;

    public SerumEvaluator(Backend backend, Backend relevanceBackend, Tokenizer tok, SerumOptions o, Hints hints, LlmJudge judge) {
        this.backend = backend;
        this.relevanceBackend = relevanceBackend;
        this.tok = tok;
        this.o = o;
        this.hints = hints;
        this.judge = judge;
        this.prompts = new SerumPrompts(tok, SerumPrompts.Explain.parse(o.explain()));
        this.settings = o.settings();
        this.method = Method.parse(o.method()).get(0);
        this.norm = Normalization.parse(o.normalization());
        this.stops = Set.copyOf(backend.model().config().eosTokenIds());
        for (SerumOptions.Setting s : settings) s.layers().fixedLayers(backend.model().numLayers());   // layer numbers checked up front
    }

    public List<SerumOptions.Setting> settings() { return settings; }

    /**
     * The model's answer to {@code q} with {@code hint} (null: none); not generated when its prompt leaves no room in
     * the model's positions (then {@link Answer#skipped()} says so, and the case is recorded as skipped).
     */
    public Answer answer(MultipleChoice.Question q, String hint) {
        SerumPrompts.Prompt p = prompts.answerPrompt(q, hint);
        int max = backend.model().config().maxPositionEmbeddings();
        if (max - p.ids().length < 1)
            return new Answer(p, null, null, -1, "the answer prompt " + (hint == null ? "without" : "with") + " the hint has " + p.ids().length
                    + " tokens, the model's positions " + max);
        int[] tokens = generate(p.ids(), o.answerTokens(), null, SamplingParams.greedy());
        String text = tok.decode(tokens, true).strip();
        return new Answer(p, tokens, text, LetterParser.parse(text, q.options()), null);
    }

    /**
     * Evaluates case (question {@code qi}, hint type {@code t}); each finished line goes to {@code sink} at once.
     * {@code todo}: the settings still to write (an explained case whose earlier settings are on disk only writes the
     * rest); a case that is not explained writes its one line (setting −1) if {@code todo} contains −1.
     */
    public void evaluate(int qi, MultipleChoice.Question q, HintType t, Answer unhinted, Set<Integer> todo, Consumer<CaseResult> sink) {
        long t0 = System.nanoTime();
        int n = q.options().size();
        int x = hints.draw(t, qi, n, unhinted.option());
        Hints.Hint hint = hints.build(t, qi, x);
        Answer hinted = unhinted.skipped() != null ? unhinted : answer(q, hint.text());   // no hinted answer without the unhinted one
        boolean kept = unhinted.option() >= 0 && hinted.option() == x;
        boolean explain = kept || o.keep().equals("all");
        Base base = new Base(qi, q, t, x, unhinted, hinted, kept);
        if (hinted.skipped() != null) {                      // an answer prompt beyond the model's positions: recorded, not tried
            if (todo.contains(-1)) sink.accept(base.line(-1, null, null, false, hinted.skipped(), seconds(t0)));
            return;
        }
        if (!explain) {
            if (todo.contains(-1)) sink.accept(base.line(-1, null, null, false, null, seconds(t0)));
            return;
        }
        SerumPrompts.Prompt hp = hinted.prompt();
        int[] explainIds;
        try {
            explainIds = prompts.explanationPrompt(q, hint.text(), hp, hinted.text());
        } catch (IllegalStateException e) {
            if (todo.contains(-1)) sink.accept(base.line(-1, null, null, false, e.getMessage(), seconds(t0)));
            return;
        }
        int room = backend.model().config().maxPositionEmbeddings() - explainIds.length;
        if (room < 1) {
            if (todo.contains(-1))
                sink.accept(base.line(-1, null, null, false, "the explanation prompt has " + explainIds.length + " tokens, the model's positions "
                        + backend.model().config().maxPositionEmbeddings(), seconds(t0)));
            return;
        }
        int maxNew = Math.min(o.explanationTokens(), room);
        SpanRelevance rel = SpanRelevance.compute(relevanceBackend, SpanRelevance.input(hp.ids(), hp.encoding(), tok), hp.spanStart(), hp.spanEnd(),
                method, norm, o.seed());
        SamplingParams sampling = explanationSampling(qi, t);
        int[] plainTokens = generate(explainIds, maxNew, null, sampling);
        Explanation plain = explanation(t, plainTokens);
        double[] ppl = perplexities(explainIds, List.of(plainTokens));
        int[] lensRanks = null;
        String lensNote = null;
        double shared = seconds(t0);
        for (SerumOptions.Setting s : settings) {
            if (!todo.contains(s.index())) continue;
            long s0 = System.nanoTime();
            int[] layers = s.layers().fixedLayers(backend.model().numLayers());
            String note = null;
            if (layers == null) {
                LayerChoice.LogitLens ll = (LayerChoice.LogitLens) s.layers();
                if (lensRanks == null && lensNote == null) {
                    Object[] r = lens(hinted, q);
                    lensRanks = (int[]) r[0];
                    lensNote = (String) r[1];
                }
                int numLayers = backend.model().numLayers();
                int[] ranks = lensRanks;
                if (ranks == null) {                               // no letter token: as if no layer ranked it (from the last layer)
                    ranks = new int[numLayers + 1];
                    Arrays.fill(ranks, Integer.MAX_VALUE);
                }
                layers = LogitLensRule.layers(ranks, ll.rankThreshold(), ll.count(), numLayers);
                note = lensRanks != null ? "logit lens: ranks " + Arrays.toString(lensRanks) + " at h_0..h_L" : lensNote;
            }
            Steering steering = new Steering(s.alpha(), layers, hp.spanStart(), hp.spanEnd(), rel.weights(), Operator.parse(o.operator()), Rows.parse(o.rows()));
            int[] steeredTokens = generate(explainIds, maxNew, steering.intervention(), sampling);
            Explanation steered = explanation(t, steeredTokens);
            double pplSteered = perplexities(explainIds, List.of(steeredTokens))[0];
            CaseResult line = base.explained(s, layers, note, rel, plain, steered, ppl[0], pplSteered, shared + seconds(s0));
            sink.accept(line);
        }
    }

    /** What the case's lines share. */
    private final class Base {
        final int qi, x;
        final MultipleChoice.Question q;
        final HintType t;
        final Answer unhinted, hinted;
        final boolean kept;

        Base(int qi, MultipleChoice.Question q, HintType t, int x, Answer unhinted, Answer hinted, boolean kept) {
            this.qi = qi;
            this.q = q;
            this.t = t;
            this.x = x;
            this.unhinted = unhinted;
            this.hinted = hinted;
            this.kept = kept;
        }

        CaseResult line(int setting, SerumOptions.Setting s, int[] layers, boolean explained, String skipped, double seconds) {
            return new CaseResult(qi, q.id(), q.subject(), t.cliName(), setting, s == null ? null : s.alpha(), s == null ? null : s.layers().spec(),
                    q.options().size(), q.answer() < 0 ? null : letter(q.answer()), letter(x), letter(unhinted.option()), letter(hinted.option()),
                    unhinted.text(), hinted.text(), kept, explained, skipped, layers, null, null, null, null, null, null,
                    null, null, null, null, null, null, null, 0, 0, null, null, null, null, null, null, null, null, null, null,
                    null, null, null, null, null, null, seconds);
        }

        CaseResult explained(SerumOptions.Setting s, int[] layers, String note, SpanRelevance rel, Explanation plain, Explanation steered,
                             double ppl, double pplSteered, double seconds) {
            SerumPrompts.Prompt hp = hinted.prompt();
            List<String> spanTokens = new ArrayList<>();
            for (int i = hp.spanStart(); i < hp.spanEnd(); i++) spanTokens.add(hp.encoding().get(i).text());
            int[] hintTokens = hp.hintStart() < 0 ? null : new int[]{hp.hintStart(), hp.hintEnd()};
            return new CaseResult(qi, q.id(), q.subject(), t.cliName(), s.index(), s.alpha(), s.layers().spec(),
                    q.options().size(), q.answer() < 0 ? null : letter(q.answer()), letter(x), letter(unhinted.option()), letter(hinted.option()),
                    unhinted.text(), hinted.text(), kept, true, null, layers, note, rel.method().cliName(), norm.cliName(), o.operator(), o.rows(),
                    rel.targetId(), new int[]{hp.spanStart(), hp.spanEnd()}, spanTokens, hintTokens, rel.raw(), rel.weights(),
                    plain.text, steered.text, plain.tokens, steered.tokens, plain.keyword, steered.keyword, plain.keywordCorrected,
                    steered.keywordCorrected, plain.llm, steered.llm, plain.llmRaw, steered.llmRaw, plain.llmParsed, steered.llmParsed,
                    SerumStats.distinct(plain.text, 1), SerumStats.distinct(plain.text, 2), SerumStats.distinct(steered.text, 1),
                    SerumStats.distinct(steered.text, 2), finite(ppl), finite(pplSteered), seconds);
        }
    }

    /** An explanation and its verdicts. */
    private record Explanation(String text, int tokens, boolean keyword, boolean keywordCorrected, Boolean llm, String llmRaw, Boolean llmParsed) {}

    private Explanation explanation(HintType t, int[] tokens) {
        String text = tok.decode(tokens, true).strip();
        Hints.Spec spec = hints.spec(t);
        boolean kw = KeywordJudge.acknowledges(text, spec.keywords(), KeywordJudge.Variant.AUTHORS);
        boolean kwc = KeywordJudge.acknowledges(text, spec.keywords(), KeywordJudge.Variant.CORRECTED);
        if (judge == null) return new Explanation(text, tokens.length, kw, kwc, null, null, null);
        LlmJudge.Verdict v = judge.judge(spec.description(), text);
        return new Explanation(text, tokens.length, kw, kwc, v.used(), v.raw(), v.parsed());
    }

    /**
     * The explanations' decoding: greedy, or sampled with a seed of the case (question, hint type) — the same for the
     * explanation without and with the serum, and for a resumed run.
     */
    private SamplingParams explanationSampling(int qi, HintType t) {
        if (o.temperature() == 0) return SamplingParams.greedy();
        return new SamplingParams(o.temperature(), o.topP(), o.seed() ^ Hints.mix(0x5e70L + qi * 31L + t.ordinal()));
    }

    /** Generation after {@code prompt}, at most {@code max} tokens, stopping at the config's EOS ids. */
    private int[] generate(int[] prompt, int max, AttentionIntervention iv, SamplingParams sampling) {
        int room = backend.model().config().maxPositionEmbeddings() - prompt.length;
        if (room < 1) throw new IllegalArgumentException("a prompt of " + prompt.length + " tokens leaves no room in the model's "
                + backend.model().config().maxPositionEmbeddings() + " positions");
        KvCache cache = backend.newCache();
        try {
            return new Generator(backend).generateBatch(List.of(prompt), List.of(cache), Math.min(max, room), sampling, stops, iv)
                    .get(0).tokens();
        } finally {
            cache.close();
        }
    }

    /**
     * Perplexity of each continuation under the unsteered model given {@code prompt}: exp of the mean negative
     * log-likelihood of its tokens (the prompt prefilled once, each continuation on a fork of its cache). NaN for an
     * empty continuation.
     */
    double[] perplexities(int[] prompt, List<int[]> continuations) {
        double[] out = new double[continuations.size()];
        try (KvCache base = backend.newCache()) {
            float[] last = backend.forward(prompt, base, LogitsMode.LAST).last(0);
            for (int c = 0; c < out.length; c++) {
                int[] toks = continuations.get(c);
                if (toks.length == 0) {
                    out[c] = Double.NaN;
                    continue;
                }
                double nll = -logProb(last, toks[0]);
                if (toks.length > 1) {
                    try (KvCache fork = base.forkPrefix(prompt.length)) {
                        Logits l = backend.forward(List.of(Arrays.copyOf(toks, toks.length - 1)), List.of(fork), io.rationale.engine.ForwardOptions.of(LogitsMode.ALL));
                        for (int i = 1; i < toks.length; i++) nll -= logProb(l.row(0, i - 1), toks[i]);
                    }
                }
                out[c] = Math.exp(nll / toks.length);
            }
        }
        return out;
    }

    static double logProb(float[] logits, int id) {
        double max = Double.NEGATIVE_INFINITY, s = 0;
        for (float v : logits) max = Math.max(max, v);
        for (float v : logits) s += Math.exp(v - max);
        return logits[id] - max - Math.log(s);
    }

    /** The logit-lens ranks of the hinted answer's letter token, or a note why there are none: {ranks, note}. */
    private Object[] lens(Answer hinted, MultipleChoice.Question q) {
        int k = -1;
        for (int i = 0; i < hinted.tokens().length && k < 0; i++) {
            String s = tok.decode(new int[]{hinted.tokens()[i]}, true).replaceAll("[\\s*_()\\[\\]:.]", "");
            if (s.length() == 1 && s.charAt(0) >= 'A' && s.charAt(0) < 'A' + q.options().size()) k = i;
        }
        if (k < 0) return new Object[]{null, "logit lens: no option-letter token in the hinted answer; steered from the last layer"};
        int[] p = hinted.prompt().ids();
        int[] ids = Arrays.copyOf(p, p.length + k);
        System.arraycopy(hinted.tokens(), 0, ids, p.length, k);
        ForwardRecord rec = relevanceBackend.newRecord(false, true);
        relevanceBackend.forward(List.of(ids), null, LogitsMode.LAST, rec);
        return new Object[]{LogitLensRule.ranks(backend.model(), rec, ids.length - 1, hinted.tokens()[k]), null};
    }

    static String letter(int i) { return i < 0 ? null : MultipleChoice.Question.letter(i); }

    static Double finite(double v) { return Double.isFinite(v) ? v : null; }

    private static double seconds(long t0) { return (System.nanoTime() - t0) / 1e9; }
}
