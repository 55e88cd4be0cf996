package io.rationale.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import jinjava.javax.el.CompositeELResolver;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face chat template (the Jinja2 {@code chat_template} of tokenizer_config.json), rendered with
 * Jinjava the way transformers' {@code apply_chat_template} renders it.
 *
 * <p>Variables: {@code messages} (a list of maps with {@code role} and {@code content}),
 * {@code add_generation_prompt}, the special tokens {@code bos_token}, {@code eos_token}, {@code unk_token},
 * {@code pad_token} (those the config defines), and any extra variables given to {@link #render(List, boolean,
 * Map)}. Functions: {@code raise_exception(msg)}, which aborts rendering. Like transformers, blocks are rendered
 * with {@code trim_blocks} and {@code lstrip_blocks}, the {@code -} of {@code {{- x -}}} and {@code {#- note -#}}
 * strips the whitespace beside the tag as in Jinja2 (Jinjava's default ignores it), and an undefined variable is falsy and renders as "" (not
 * an error: the Llama 2 template tests the undefined {@code USE_DEFAULT_PROMPT}). Python string methods
 * ({@code strip, lstrip, rstrip, upper, lower, title, capitalize, startswith, endswith, split, replace, join}),
 * the {@code trim} filter and transformers' {@code tojson} ({@link PyToJsonFilter}) follow Python's semantics;
 * {@code namespace(...)}, {@code loop.index0} and list slices are Jinjava's own. {@code not A == B} / {@code not A in B} mean {@code not (A ...)} as in Jinja2
 * (see {@link JinjaCompat}).
 *
 * <p>transformers' {@code {% generation %}} block ({@link GenerationTag}) renders its body. transformers also
 * defines {@code strftime_now(format)} (today's date); it is left undefined here, so a template
 * that tests {@code strftime_now is defined} (Llama 3.2's) takes its fixed fallback date and a prompt does not change
 * with the day.
 *
 * <p>Errors are never swallowed: every error Jinjava reports (syntax error, unknown method, failed function
 * call, {@code raise_exception}), and an unknown filter or test (which Jinjava would render as nothing), makes
 * {@link #render} throw a {@link ChatTemplateException} whose
 * message names the template's source.
 */
public final class ChatTemplate {
    private final String template;
    private final String compiled;
    private final String problem;
    private final String source;
    private final Map<String, String> specialTokens;
    private final Jinjava jinjava;

    /**
     * @param template      the Jinja2 source
     * @param source        where it came from, for error messages (e.g. the tokenizer_config.json path)
     * @param specialTokens variables such as {@code bos_token -> "<s>"} (null values are left out)
     */
    public ChatTemplate(String template, String source, Map<String, String> specialTokens) {
        this.template = Objects.requireNonNull(template, "template");
        this.source = Objects.requireNonNull(source, "source");
        Map<String, String> tokens = new LinkedHashMap<>();
        specialTokens.forEach((k, v) -> { if (v != null) tokens.put(k, v); });
        this.specialTokens = Map.copyOf(tokens);
        this.jinjava = newJinjava();
        this.compiled = JinjaCompat.fixNotPrecedence(template);
        this.problem = unknownNames();
    }

    /** A filter or test Jinjava does not know (it would silently render nothing), or null. */
    private String unknownNames() {
        for (String f : JinjaCompat.filterNames(compiled)) {
            if (jinjava.getGlobalContext().getFilter(f) == null) return "unknown filter \"" + f + "\"";
        }
        for (String t : JinjaCompat.testNames(compiled)) {
            if (jinjava.getGlobalContext().getExpTest(t) == null) return "unknown test \"" + t + "\"";
        }
        return null;
    }

    public String template() { return template; }

    public String source() { return source; }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * @param extraVariables further template variables (e.g. {@code tools}, {@code date_string})
     * @throws ChatTemplateException when the template fails or raises
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extraVariables) {
        if (problem != null) throw new ChatTemplateException(source + ": chat template error: " + problem);
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            msgs.add(map);
        }
        Map<String, Object> vars = new HashMap<>(specialTokens);
        vars.putAll(extraVariables);
        vars.put("messages", msgs);
        vars.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result;
        try {
            result = jinjava.renderForResult(compiled, vars);
        } catch (RuntimeException e) {
            throw new ChatTemplateException(source + ": chat template failed: " + firstLine(e.getMessage()), e);
        }
        if (!result.getErrors().isEmpty()) throw error(result.getErrors());
        return result.getOutput();
    }

    private ChatTemplateException error(List<TemplateError> errors) {
        for (TemplateError e : errors) {
            Raised raised = raisedIn(e.getException());
            if (raised != null) {
                return new ChatTemplateException(source + ": chat template raised an exception: " + raised.getMessage());
            }
        }
        TemplateError first = errors.get(0);
        String where = first.getLineno() > 0 ? " (template line " + first.getLineno() + ")" : "";
        String more = errors.size() > 1 ? " [+" + (errors.size() - 1) + " more]" : "";
        return new ChatTemplateException(source + ": chat template error" + where + ": "
                + firstLine(first.getMessage()) + more, first.getException());
    }

    private static Raised raisedIn(Throwable t) {
        for (int depth = 0; t != null && depth < 20; depth++, t = t.getCause()) {
            if (t instanceof Raised r) return r;
        }
        return null;
    }

    private static String firstLine(String s) { return TokenizerConfig.oneLine(s); }

    private static Jinjava newJinjava() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyStringResolver());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withElResolver(resolver)
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // {{- x -}} and {#- note -#} strip whitespace as in Jinja2 (Jinjava ignores their '-' by default)
                .withLegacyOverrides(LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true).build())
                .build();
        Jinjava j = new Jinjava(config);
        j.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        j.getGlobalContext().registerFilter(new PyTrimFilter());
        j.getGlobalContext().registerFilter(new PyToJsonFilter());
        j.getGlobalContext().registerTag(new GenerationTag());
        return j;
    }

    /** The template function {@code raise_exception(msg)}: aborts rendering with msg. */
    public static String raiseException(String message) {
        throw new Raised(message);
    }

    /** Thrown by raise_exception inside Jinjava, which records it as a template error. */
    private static final class Raised extends RuntimeException {
        Raised(String message) { super(message); }
    }
}
