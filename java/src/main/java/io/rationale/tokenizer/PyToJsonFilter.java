package io.rationale.tokenizer;

import com.hubspot.jinjava.interpret.InvalidArgumentException;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code tojson} filter as transformers defines it for chat templates: Python's
 * {@code json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)}, the four options
 * settable by keyword or position. So {@code ", "} and {@code ": "} between items without {@code indent}, one item
 * a line with it, keys in insertion order, non-ASCII text kept, nothing HTML-escaped. (Jinjava's own {@code tojson}
 * writes compact JSON and ignores {@code indent}: a tool list rendered into a Llama 3.1 prompt came out wrong.)
 */
final class PyToJsonFilter implements Filter {
    private static final String[] NAMES = {"ensure_ascii", "indent", "separators", "sort_keys"};

    @Override
    public String getName() { return "tojson"; }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        // this overload gets every argument as text: read back the literals a template can write
        Object[] typed = new Object[args == null ? 0 : args.length];
        for (int i = 0; i < typed.length; i++) {
            String a = args[i];
            typed[i] = a == null || a.equalsIgnoreCase("none") ? null : a.equalsIgnoreCase("true") ? Boolean.TRUE
                    : a.equalsIgnoreCase("false") ? Boolean.FALSE : a.matches("-?\\d+") ? (Object) Long.valueOf(a) : a;
        }
        return filter(var, interpreter, typed, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object[] opt = new Object[NAMES.length];
        for (int i = 0; args != null && i < args.length; i++) {
            if (i >= NAMES.length) throw bad(interpreter, "tojson takes at most " + NAMES.length + " arguments");
            opt[i] = args[i];
        }
        for (Map.Entry<String, Object> e : kwargs.entrySet()) {
            int i = List.of(NAMES).indexOf(e.getKey());
            if (i < 0) throw bad(interpreter, "tojson got an unexpected keyword argument '" + e.getKey() + "'");
            opt[i] = e.getValue();
        }
        boolean ensureAscii = truthy(opt[0]);
        String indent = indent(opt[1], interpreter);
        String itemSep = indent == null ? ", " : ",";
        String keySep = ": ";
        if (opt[2] != null) {
            List<?> s = opt[2] instanceof List<?> l ? l : null;
            if (s == null || s.size() != 2) throw bad(interpreter, "tojson separators must be a pair (item, key)");
            itemSep = String.valueOf(s.get(0));
            keySep = String.valueOf(s.get(1));
        }
        StringBuilder out = new StringBuilder();
        new Writer(ensureAscii, indent, itemSep, keySep, truthy(opt[3]), interpreter).write(var, 0, out);
        return out.toString();
    }

    private static boolean truthy(Object o) {
        if (o == null) return false;
        if (o instanceof Boolean b) return b;
        if (o instanceof Number n) return n.doubleValue() != 0;
        if (o instanceof CharSequence s) return !s.isEmpty();      // Python: any non-empty string is true
        return true;
    }

    /** Python's indent: None (compact), a number of spaces, or the string itself. */
    private static String indent(Object o, JinjavaInterpreter interpreter) {
        if (o == null) return null;
        if (o instanceof Number n) return " ".repeat(Math.max(0, n.intValue()));
        if (o instanceof CharSequence s) return s.toString();       // Python: a string indent is the indent text
        throw bad(interpreter, "tojson indent must be an integer or a string");
    }

    private static InvalidArgumentException bad(JinjavaInterpreter interpreter, String message) {
        return new InvalidArgumentException(interpreter, "tojson", message);
    }

    private record Writer(boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys,
                          JinjavaInterpreter interpreter) {
        void write(Object v, int level, StringBuilder out) {
            if (v == null) out.append("null");
            else if (v instanceof Boolean b) out.append(b ? "true" : "false");
            else if (v instanceof Double || v instanceof Float) out.append(pyFloat(((Number) v).doubleValue()));
            else if (v instanceof Number n) out.append(n instanceof BigDecimal d ? pyFloat(d.doubleValue()) : n.toString());
            else if (v instanceof Map<?, ?> m) writeMap(m, level, out);
            else if (v instanceof Iterable<?> it) writeList(it, level, out);
            else if (v instanceof Object[] a) writeList(java.util.Arrays.asList(a), level, out);
            else string(v.toString(), out);
        }

        private void writeList(Iterable<?> items, int level, StringBuilder out) {
            List<Object> list = new ArrayList<>();
            items.forEach(list::add);
            if (list.isEmpty()) { out.append("[]"); return; }
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) out.append(itemSep);
                newline(level + 1, out);
                write(list.get(i), level + 1, out);
            }
            newline(level, out);
            out.append(']');
        }

        private void writeMap(Map<?, ?> map, int level, StringBuilder out) {
            if (map.isEmpty()) { out.append("{}"); return; }
            List<Map.Entry<?, ?>> entries = new ArrayList<>(map.entrySet());
            if (sortKeys) entries.sort((a, b) -> key(a.getKey()).compareTo(key(b.getKey())));
            out.append('{');
            for (int i = 0; i < entries.size(); i++) {
                if (i > 0) out.append(itemSep);
                newline(level + 1, out);
                string(key(entries.get(i).getKey()), out);
                out.append(keySep);
                write(entries.get(i).getValue(), level + 1, out);
            }
            newline(level, out);
            out.append('}');
        }

        /** Python's json turns None/bool/number keys into strings. */
        private static String key(Object k) {
            if (k == null) return "null";
            if (k instanceof Boolean b) return b ? "true" : "false";
            if (k instanceof Double || k instanceof Float) return pyFloat(((Number) k).doubleValue());
            return k.toString();
        }

        private void newline(int level, StringBuilder out) {
            if (indent == null) return;
            out.append('\n');
            out.append(indent.repeat(level));
        }

        private void string(String s, StringBuilder out) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) out.append(String.format("\\u%04x", (int) c));
                        else out.append(c);
                    }
                }
            }
            out.append('"');
        }
    }

    /** Python's repr of a float: the shortest round-trip digits, positional for exponents -4..15, else d.ddde±XX. */
    static String pyFloat(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal b = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = b.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - b.scale();   // the decimal exponent of the first digit
        String sign = d < 0 ? "-" : "";
        if (exp >= -4 && exp < 16) {
            String plain = b.abs().toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }
}
