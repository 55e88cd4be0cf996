package io.rationale.perf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The outputs of {@code bench matrix} from its cells (one map per device × operation × length × batch): a terminal
 * table, CSV with one row per cell, and a self-contained HTML page (inline SVG, no scripts, no external resources)
 * with, per device, time against input length per operation, cost relative to one forward (measured, and the
 * cost model's FLOP ratio), and the fraction of the roofline reached.
 */
public final class MatrixReport {
    private MatrixReport() {}

    /** The CSV columns, in order. */
    public static final List<String> COLUMNS = List.of("key", "device", "backend", "op", "steps", "length", "batch", "seconds_per_call",
            "iqr_s_per_call", "median_s", "iqr_s", "mad_s", "min_s", "max_s", "warmup_runs", "settled", "tokens_per_s", "over_forward", "flops_per_call",
            "bytes_per_call", "flops_over_forward", "flops_per_s", "bytes_per_s", "pct_flops_peak", "pct_bandwidth_peak", "roofline_s",
            "pct_roofline", "bound", "peak_heap_bytes", "device_memory_used_bytes");

    /**
     * Sets each cell's {@code over_forward}: its seconds per call over those of the {@code prefill} cell of the same
     * device, length and batch (absent when that cell was not measured); and {@link #addIqrPerCall}.
     */
    public static void addOverForward(List<Map<String, Object>> cells) {
        addIqrPerCall(cells);
        Map<String, Double> forward = new LinkedHashMap<>();
        for (Map<String, Object> c : cells)
            if ("prefill".equals(c.get("op"))) forward.put(group(c), num(c.get("seconds_per_call")));
        for (Map<String, Object> c : cells) {
            Double f = forward.get(group(c));
            if (f != null && f > 0) c.put("over_forward", num(c.get("seconds_per_call")) / f);
            else c.remove("over_forward");
        }
    }

    /**
     * Sets {@code iqr_s_per_call} on a cell from an older file without it: {@code iqr_s} (of the runs) scaled by
     * {@code seconds_per_call / median_s} (a decode run is {@code --decode-tokens} calls), so that the table, the
     * page and the CSV all read the same key.
     */
    static void addIqrPerCall(List<Map<String, Object>> cells) {
        for (Map<String, Object> c : cells) {
            if (c.get("iqr_s_per_call") instanceof Number) continue;
            double med = num(c.get("median_s")), perCall = num(c.get("seconds_per_call"));
            c.put("iqr_s_per_call", med > 0 ? num(c.get("iqr_s")) * perCall / med : num(c.get("iqr_s")));
        }
    }

    private static String group(Map<String, Object> c) { return c.get("device") + "|" + c.get("length") + "|" + c.get("batch"); }

    /** A fixed-width table, one line per cell; a cell whose warm-up times never settled ends with {@code NOT SETTLED}. */
    public static String table(List<Map<String, Object>> cells) {
        addOverForward(cells);
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-10s %-24s %6s %4s %12s %10s %12s %9s %10s %10s %8s %9s%n", "device", "op", "T", "B", "s/call",
                "IQR s/call", "tokens/s", "x fwd", "GFLOP/s", "GB/s", "%peakF", "%roofline"));
        for (Map<String, Object> c : cells) {
            b.append(String.format(Locale.ROOT, "%-10s %-24s %6s %4s %12.5g %10.3g %12.4g %9s %10.4g %10.4g %8.2f %9.2f", c.get("device"), label(c),
                    c.get("length"), c.get("batch"), num(c.get("seconds_per_call")), num(c.get("iqr_s_per_call")), num(c.get("tokens_per_s")),
                    c.containsKey("over_forward") ? String.format(Locale.ROOT, "%.2f", num(c.get("over_forward"))) : "-",
                    num(c.get("flops_per_s")) / 1e9, num(c.get("bytes_per_s")) / 1e9, 100 * num(c.get("pct_flops_peak")),
                    100 * num(c.get("pct_roofline"))));
            if (Boolean.FALSE.equals(c.get("settled"))) b.append("  NOT SETTLED after ").append(c.get("warmup_runs")).append(" warm-up runs");
            b.append('\n');
        }
        return b.toString();
    }

    /** CSV with a header row and one row per cell ({@link #COLUMNS}). */
    public static String csv(List<Map<String, Object>> cells) {
        addOverForward(cells);
        StringBuilder b = new StringBuilder(String.join(",", COLUMNS)).append('\n');
        for (Map<String, Object> c : cells) {
            List<String> row = new ArrayList<>();
            for (String col : COLUMNS) row.add(csvField(c.get(col)));
            b.append(String.join(",", row)).append('\n');
        }
        return b.toString();
    }

    private static String csvField(Object v) {
        if (v == null) return "";
        String s = v.toString();
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    /** {@code op} or {@code op:k}. */
    static String label(Map<String, Object> c) {
        return c.get("steps") != null ? c.get("op") + ":" + c.get("steps") : String.valueOf(c.get("op"));
    }

    // ------------------------------------------------------------------ HTML

    /** The self-contained page: the run's facts, the calibrated peaks, three plots per device and the full table. */
    public static String html(Map<String, Object> results, List<Map<String, Object>> cells) {
        addOverForward(cells);
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rationale bench matrix</title>\n<style>")
                .append("body{font:14px sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px}")
                .append("td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}td.l{text-align:left}")
                .append("svg{border:1px solid #ddd;margin:0.5em 0;background:#fff}.note{color:#555}</style></head><body>\n");
        b.append("<h1>rationale bench matrix</h1>\n<table>");
        for (String k : List.of("model", "machine", "commit", "settings", "cost_model", "process_peak_rss_bytes"))
            if (results.get(k) != null) b.append("<tr><th>").append(esc(k)).append("</th><td class=\"l\">").append(esc(String.valueOf(results.get(k)))).append("</td></tr>");
        b.append("</table>\n<h2>Calibrated peaks</h2>\n<table><tr><th>device</th><th>GFLOP/s</th><th>GB/s</th><th>how</th></tr>");
        if (results.get("calibration") instanceof Map<?, ?> cal)
            for (var e : cal.entrySet())
                if (e.getValue() instanceof Map<?, ?> p)
                    b.append(String.format(Locale.ROOT, "<tr><td class=\"l\">%s</td><td>%.4g</td><td>%.4g</td><td class=\"l\">%s; %s%s</td></tr>",
                            esc(String.valueOf(e.getKey())), num(p.get("flops_per_s")) / 1e9, num(p.get("bytes_per_s")) / 1e9,
                            esc(String.valueOf(p.get("flops_method"))), esc(String.valueOf(p.get("bytes_method"))),
                            p.get("driver") != null ? "; " + esc(String.valueOf(p.get("driver"))) : ""));
        b.append("</table>\n");
        Set<String> devices = new LinkedHashSet<>();
        for (Map<String, Object> c : cells) devices.add(String.valueOf(c.get("device")));
        for (String d : devices) {
            List<Map<String, Object>> dc = cells.stream().filter(c -> d.equals(String.valueOf(c.get("device")))).toList();
            int batch = dc.stream().mapToInt(c -> (int) num(c.get("batch"))).min().orElse(1);
            List<Map<String, Object>> one = dc.stream().filter(c -> (int) num(c.get("batch")) == batch).toList();
            int maxLen = one.stream().mapToInt(c -> (int) num(c.get("length"))).max().orElse(0);
            b.append("<h2>").append(esc(d)).append("</h2>\n");
            b.append("<h3>Time per call against input length (batch ").append(batch).append(")</h3>\n").append(timePlot(one));
            List<Map<String, Object>> atMax = one.stream().filter(c -> (int) num(c.get("length")) == maxLen).toList();
            b.append("<h3>Cost relative to one forward (T = ").append(maxLen).append(", batch ").append(batch).append(")</h3>\n")
                    .append("<p class=\"note\">dark: measured time over the prefill of the same length and batch; light: the cost model's FLOPs over one forward's</p>\n")
                    .append(bars(atMax, List.of("over_forward", "flops_over_forward"), 1, "× forward"));
            b.append("<h3>% of roofline (batch ").append(batch).append(")</h3>\n")
                    .append("<p class=\"note\">roofline time = max(FLOPs / peak FLOP/s, bytes / peak bandwidth); 100% = at the calibrated peak</p>\n")
                    .append(bars(one, List.of("pct_roofline"), 100, "%"));
        }
        b.append("<h2>All cells</h2>\n<table><tr>");
        List<String> cols = List.of("device", "op", "length", "batch", "seconds_per_call", "iqr_s_per_call", "tokens_per_s", "over_forward", "flops_per_call",
                "bytes_per_call", "pct_flops_peak", "pct_bandwidth_peak", "pct_roofline", "bound", "peak_heap_bytes", "settled");
        for (String col : cols) b.append("<th>").append(esc(col)).append("</th>");
        b.append("</tr>\n");
        for (Map<String, Object> c : cells) {
            b.append("<tr>");
            for (String col : cols) {
                Object v = col.equals("op") ? label(c) : c.get(col);
                String s = v instanceof Double x ? String.format(Locale.ROOT, "%.4g", x) : v == null ? "" : v.toString();
                b.append(v instanceof Number ? "<td>" : "<td class=\"l\">").append(esc(s)).append("</td>");
            }
            b.append("</tr>\n");
        }
        b.append("</table>\n</body></html>\n");
        return b.toString();
    }

    private static final String[] COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"};

    /** Log-log lines: seconds per call against length, one per operation. */
    static String timePlot(List<Map<String, Object>> cells) {
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        TreeSet<Double> xs = new TreeSet<>();
        for (Map<String, Object> c : cells) {
            double x = num(c.get("length")), y = num(c.get("seconds_per_call"));
            if (!(x > 0 && y > 0)) continue;
            series.computeIfAbsent(label(c), k -> new ArrayList<>()).add(new double[]{x, y});
            xs.add(x);
        }
        int w = 760, h = 360, left = 70, right = 190, top = 15, bottom = 45;
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">", w, h));
        if (series.isEmpty()) return b.append("<text x=\"10\" y=\"20\">no cells</text></svg>\n").toString();
        double ymin = Double.MAX_VALUE, ymax = 0;
        for (List<double[]> s : series.values()) for (double[] p : s) {
            ymin = Math.min(ymin, p[1]);
            ymax = Math.max(ymax, p[1]);
        }
        double lx0 = Math.log(xs.first()), lx1 = Math.log(xs.last()), ly0 = Math.floor(Math.log10(ymin)), ly1 = Math.ceil(Math.log10(ymax));
        if (lx1 == lx0) { lx0 -= 0.5; lx1 += 0.5; }
        if (ly1 == ly0) ly1 = ly0 + 1;
        double pw = w - left - right, ph = h - top - bottom;
        final double fx0 = lx0, fx1 = lx1, fy0 = ly0, fy1 = ly1;
        java.util.function.DoubleUnaryOperator X = x -> left + pw * (Math.log(x) - fx0) / (fx1 - fx0);
        java.util.function.DoubleUnaryOperator Y = y -> top + ph * (1 - (Math.log10(y) - fy0) / (fy1 - fy0));
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>", left, top, pw, ph));
        for (double e = ly0; e <= ly1; e++) {
            double y = Y.applyAsDouble(Math.pow(10, e));
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/><text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">1e%d s</text>",
                    left, left + pw, y, y, left - 4, y + 4, (int) e));
        }
        for (double x : xs)
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d</text>", X.applyAsDouble(x), h - bottom + 15, (int) x));
        b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">input length (tokens)</text>", left + pw / 2, h - 8));
        int i = 0;
        for (var e : series.entrySet()) {
            String col = COLORS[i % COLORS.length];
            StringBuilder pts = new StringBuilder();
            e.getValue().sort((p, q) -> Double.compare(p[0], q[0]));
            for (double[] p : e.getValue()) {
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", X.applyAsDouble(p[0]), Y.applyAsDouble(p[1])));
                b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s T=%d: %.4g s</title></circle>",
                        X.applyAsDouble(p[0]), Y.applyAsDouble(p[1]), col, esc(e.getKey()), (int) p[0], p[1]));
            }
            b.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>", col, pts.toString().strip()));
            b.append(String.format(Locale.ROOT, "<rect x=\"%.0f\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%.0f\" y=\"%d\" font-size=\"11\">%s</text>",
                    w - right + 10.0, top + 14 * i, col, w - right + 24.0, top + 14 * i + 9, esc(e.getKey())));
            i++;
        }
        return b.append("</svg>\n").toString();
    }

    /** Horizontal bars of {@code fields} (× {@code scale}) per cell, labelled {@code op T=..}. */
    static String bars(List<Map<String, Object>> cells, List<String> fields, double scale, String unit) {
        List<String> labels = new ArrayList<>();
        List<double[]> values = new ArrayList<>();
        for (Map<String, Object> c : cells) {
            double[] v = new double[fields.size()];
            boolean any = false;
            for (int i = 0; i < v.length; i++) {
                v[i] = num(c.get(fields.get(i))) * scale;
                any |= Double.isFinite(v[i]);
            }
            if (!any) continue;
            labels.add(label(c) + " T=" + c.get("length"));
            values.add(v);
        }
        int rowH = 8 + 10 * fields.size(), left = 210, w = 760, top = 10;
        int h = top + rowH * Math.max(1, labels.size()) + 25;
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">", w, h));
        if (labels.isEmpty()) return b.append("<text x=\"10\" y=\"20\">no values</text></svg>\n").toString();
        double max = values.stream().flatMapToDouble(java.util.Arrays::stream).filter(Double::isFinite).max().orElse(1);
        if (!(max > 0)) max = 1;
        double pw = w - left - 80;
        String[] shades = {"#1f77b4", "#9ecae1", "#6baed6"};
        for (int r = 0; r < labels.size(); r++) {
            int y = top + r * rowH;
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%s</text>", left - 6, y + 12, esc(labels.get(r))));
            for (int i = 0; i < fields.size(); i++) {
                double v = values.get(r)[i];
                if (!Double.isFinite(v)) continue;
                double bw = Math.max(1, pw * v / max);
                b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"9\" fill=\"%s\"><title>%s: %.4g %s</title></rect>"
                                + "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%.3g</text>", left, y + 4 + 10 * i, bw, shades[i % shades.length],
                        esc(fields.get(i)), v, esc(unit), left + bw + 4, y + 12 + 10 * i, v));
            }
        }
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>", left, h - 6, esc(unit)));
        return b.append("</svg>\n").toString();
    }

    static String esc(String s) {
        return Objects.requireNonNull(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    static double num(Object o) { return o instanceof Number n ? n.doubleValue() : Double.NaN; }
}
