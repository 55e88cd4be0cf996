package io.rationale.eval;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes {@code summary.json} (the {@link Summary} record, snake_case keys, undefined numbers as {@code null}) and
 * {@code summary.csv} (one row per method, {@link #CSV_COLUMNS} then {@code flip_rate@<fraction>} per curve point).
 */
public final class SummaryWriter {
    private SummaryWriter() {}

    /** NaN and infinities are written as null: summary.json is plain JSON for any reader. */
    static final ObjectMapper MAPPER = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .registerModule(new SimpleModule("finite-doubles")
                    .addSerializer(Double.class, new FiniteDouble())
                    .addSerializer(double.class, new FiniteDouble()));

    private static final class FiniteDouble extends StdSerializer<Double> {
        FiniteDouble() { super(Double.class); }

        @Override
        public void serialize(Double v, JsonGenerator g, SerializerProvider p) throws IOException {
            if (v == null || !Double.isFinite(v)) g.writeNull();
            else g.writeNumber(v);
        }
    }

    public static final List<String> CSV_COLUMNS = List.of("method", "kind", "examples",
            "f1", "f1_lower", "f1_upper", "precision", "recall", "alignment_examples",
            "iou_f1", "auprc", "auprc_lower", "auprc_upper",
            "flip_rate", "flip_rate_lower", "flip_rate_upper", "flip_examples",
            "comprehensiveness", "comprehensiveness_lower", "comprehensiveness_upper",
            "sufficiency", "sufficiency_lower", "sufficiency_upper",
            "aopc_comprehensiveness", "aopc_comprehensiveness_lower", "aopc_comprehensiveness_upper",
            "aopc_sufficiency", "aopc_sufficiency_lower", "aopc_sufficiency_upper",
            "mean_k", "mean_seconds", "unparseable_answers", "unmatched_words",
            "accuracy", "label_bias", "completeness_error", "completeness_error_max", "completeness_over_5pct");

    public static String json(Summary s) {
        try {
            return MAPPER.writeValueAsString(s) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the summary as JSON: " + e.getMessage(), e);
        }
    }

    public static String csv(Summary s) {
        List<String> fractions = s.curveFractions();
        StringBuilder b = new StringBuilder();
        List<String> header = new ArrayList<>(CSV_COLUMNS);
        for (String f : fractions) header.add("flip_rate@" + f);
        row(b, header);
        for (Map.Entry<String, Summary.MethodSummary> e : s.methods().entrySet()) {
            Summary.MethodSummary m = e.getValue();
            List<String> r = new ArrayList<>();
            r.add(e.getKey());
            r.add(m.kind());
            r.add(Integer.toString(m.examples()));
            stat(r, m.alignment().f1());
            r.add(num(m.alignment().precision()));
            r.add(num(m.alignment().recall()));
            r.add(Integer.toString(m.alignment().examples()));
            r.add(num(m.iouF1().f1()));
            stat(r, m.auprc());
            stat(r, m.flipRate());
            r.add(Integer.toString(m.flipRate().n()));
            stat(r, m.comprehensiveness());
            stat(r, m.sufficiency());
            stat(r, m.aopcComprehensiveness());
            stat(r, m.aopcSufficiency());
            r.add(num(m.meanK()));
            r.add(num(m.meanSeconds()));
            r.add(m.prompting() == null ? "" : Integer.toString(m.prompting().unparseable()));
            r.add(m.prompting() == null ? "" : Integer.toString(m.prompting().unmatchedWords()));
            r.add(num(s.labels().accuracy()));
            r.add(Boolean.toString(s.labels().bias().flagged()));
            Summary.Completeness c = m.completeness();
            r.add(c == null ? "" : num(c.error().mean()));
            r.add(c == null ? "" : num(c.max()));
            r.add(c == null ? "" : Integer.toString(c.overWarning()));
            for (String f : fractions) {
                Summary.Stat st = m.flipRateByFraction().get(f);
                r.add(st == null ? "" : num(st.mean()));
            }
            row(b, r);
        }
        return b.toString();
    }

    public static void write(Summary s, Path dir) throws IOException {
        AtomicFiles.write(dir.resolve("summary.json"), json(s).getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve("summary.csv"), csv(s).getBytes(StandardCharsets.UTF_8));
    }

    private static void stat(List<String> r, Summary.Stat s) {
        r.add(num(s.mean()));
        r.add(num(s.lower()));
        r.add(num(s.upper()));
    }

    /** Empty for undefined; otherwise the shortest exact decimal. */
    static String num(double v) {
        if (!Double.isFinite(v)) return "";
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return Double.toString(v).toLowerCase(Locale.ROOT);
    }

    private static void row(StringBuilder b, List<String> cells) {
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) b.append(',');
            b.append(quote(cells.get(i)));
        }
        b.append('\n');
    }

    /** RFC 4180: quoted when it holds a comma, quote or line break; a leading = + - @ is not treated specially. */
    static String quote(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) return s;
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}
