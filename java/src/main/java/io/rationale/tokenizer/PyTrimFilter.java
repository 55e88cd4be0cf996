package io.rationale.tokenizer;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

/**
 * The {@code trim} filter with Jinja2's semantics: Python {@code str.strip(chars)}, so Unicode spaces such as
 * NBSP are stripped too (Jinjava's own trim strips only chars up to U+0020). Null/undefined gives "".
 */
final class PyTrimFilter implements Filter {
    @Override
    public String getName() { return "trim"; }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        if (var == null) return "";
        String chars = args != null && args.length > 0 ? args[0] : null;
        return PyStrings.strip(var.toString(), chars, true, true);
    }
}
