package io.rationale.attribution;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON shape of results (as maps for any JSON writer; non-finite numbers become null).
 *
 * <p>One method:
 * <pre>
 * {"method": "saliency",
 *  "text": "...", "study_start": 0, "study_end": 11,        (text absent for ids without a tokenizer)
 *  "ids": [1, 403, ...],
 *  "tokens": [{"index", "id", "piece", "text", "start", "end", "special", "in_study", "words": [..]}, ...],
 *  "target_id": 42, "target_kind": "logit", "target_logit": 7.1, "target_value": 7.1, "target_is_argmax": true,
 *  ("foil_id": 17 for a contrast)
 *  "aggregate": "sum",
 *  "scores": [one per input token],
 *  "words": [{"index", "text", "start", "end", "score", "tokens": [..]}, ...],
 *  "seconds": 0.12,
 *  "extras": {...}}
 * </pre>
 * Several methods ({@code all}): the same shared fields with {@code "method": "all"}, then
 * {@code "methods": {name: {"scores", "words", "seconds", "extras"}}} in the order run, {@code "shared":
 * {"forward": {"seconds", "used_by": [..]}, "gradient_backward": {...}}} and {@code "seconds"} = the whole run.
 * Word and token spans are UTF-16 char offsets into {@code text}.
 */
public final class AttributionJson {
    private AttributionJson() {}

    /** One method's result. */
    public static Map<String, Object> of(Attribution a, AttributionInput in) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", a.method().cliName());
        header(m, in, a);
        body(m, a);
        return m;
    }

    /** A run: one method gives {@link #of(Attribution, AttributionInput)}, several the {@code methods} map. */
    public static Map<String, Object> of(AttributionSet s) {
        if (s.methods().size() == 1) return of(s.methods().values().iterator().next(), s.input());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", "all");
        Attribution first = s.methods().values().iterator().next();
        header(m, s.input(), first);
        Map<String, Object> methods = new LinkedHashMap<>();
        for (Attribution a : s.methods().values()) {
            Map<String, Object> one = new LinkedHashMap<>();
            body(one, a);
            methods.put(a.method().cliName(), one);
        }
        m.put("methods", methods);
        Map<String, Object> shared = new LinkedHashMap<>();
        for (AttributionSet.SharedStep st : s.shared()) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("seconds", st.seconds());
            one.put("used_by", st.usedBy().stream().map(Method::cliName).toList());
            shared.put(st.name(), one);
        }
        m.put("shared", shared);
        m.put("seconds", s.seconds());
        return m;
    }

    private static void header(Map<String, Object> m, AttributionInput in, Attribution a) {
        if (in.hasText()) {
            m.put("text", in.text());
            m.put("study_start", in.studyStart());
            m.put("study_end", in.studyEnd());
        }
        m.put("ids", a.ids());
        List<Map<String, Object>> tokens = new ArrayList<>();
        for (Attribution.TokenInfo t : a.tokens()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("index", t.index());
            x.put("id", t.id());
            x.put("piece", t.piece());
            x.put("text", t.text());
            x.put("start", t.start());
            x.put("end", t.end());
            x.put("special", t.special());
            x.put("in_study", t.inStudy());
            x.put("words", t.words());
            tokens.add(x);
        }
        m.put("tokens", tokens);
        Attribution.ResolvedTarget rt = a.target();
        m.put("target_id", rt.tokenId());
        m.put("target_kind", rt.spec().kind().cliName());
        m.put("target_logit", num(rt.logit()));
        m.put("target_value", num(rt.value()));
        if (rt.spec().kind() == TargetSpec.Kind.CONTRAST) m.put("foil_id", rt.spec().foilId());
        m.put("target_is_argmax", rt.argmax());
        m.put("aggregate", a.aggregate().cliName());
    }

    private static void body(Map<String, Object> m, Attribution a) {
        m.put("scores", nums(a.scores()));
        List<Map<String, Object>> words = new ArrayList<>();
        for (Attribution.WordScore w : a.words()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("index", w.index());
            x.put("text", w.text());
            x.put("start", w.start());
            x.put("end", w.end());
            x.put("score", num(w.score()));
            x.put("tokens", w.tokens());
            words.add(x);
        }
        m.put("words", words);
        m.put("seconds", a.seconds());
        Map<String, Object> extras = new LinkedHashMap<>();
        for (var e : a.extras().entrySet()) extras.put(e.getKey(), e.getValue() instanceof Double d ? num(d) : e.getValue());
        m.put("extras", extras);
    }

    static Double num(double v) { return Double.isFinite(v) ? v : null; }

    static List<Double> nums(double[] v) {
        List<Double> out = new ArrayList<>(v.length);
        for (double x : v) out.add(num(x));
        return out;
    }
}
