package io.rationale.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.rationale.tokenizer.ChatMessage.assistant;
import static io.rationale.tokenizer.ChatMessage.system;
import static io.rationale.tokenizer.ChatMessage.user;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shared Llama 2 and Llama 3 chat templates against the published prompt formats, and the Jinja features
 * HF templates rely on. Expected strings are written from the formats, not from a rendering.
 */
class ChatTemplateTest {

    private static ChatTemplate llama2() { return Fixtures.llama2().chatTemplate().orElseThrow(); }

    private static ChatTemplate llama3() { return Fixtures.llama3().chatTemplate().orElseThrow(); }

    private static String render(String template, List<ChatMessage> messages) {
        return new ChatTemplate(template, "inline", Map.of("bos_token", "<s>")).render(messages, true);
    }

    @Test
    void llama2WithSystemPrompt() {
        assertEquals("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 2+2? [/INST]",
                llama2().render(List.of(system("Be brief."), user("What is 2+2?")), true));
    }

    @Test
    void llama2MultiTurn() {
        String expected = "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s>"
                + "<s>[INST] And you? [/INST] Fine. </s><s>[INST] Bye [/INST]";
        assertEquals(expected, llama2().render(List.of(system("Be brief."), user("Hi"), assistant("Hello!"),
                user("And you?"), assistant("Fine."), user("Bye")), true));
    }

    @Test
    void llama2WithoutSystemPromptStripsContent() {
        // the template's USE_DEFAULT_PROMPT is undefined, hence false: no default system prompt
        assertEquals("<s>[INST] Hi there [/INST]", llama2().render(List.of(user("  Hi there \n")), true));
    }

    @Test
    void llama2RolesMustAlternate() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> llama2().render(List.of(user("a"), user("b")), true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate user/assistant/user/assistant/..."), e.getMessage());
        assertTrue(e.getMessage().startsWith(Fixtures.llama2Dir().resolve("tokenizer_config.json").toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertThrows(ChatTemplateException.class, () -> llama2().render(List.of(assistant("a")), true));
    }

    @Test
    void llama3SystemAndUser() {
        String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertEquals(expected, llama3().render(List.of(system("Be brief."), user("What is 2+2?")), true));
    }

    @Test
    void llama3MultiTurnTrimsContent() {
        String expected = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nAnd you?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertEquals(expected, llama3().render(List.of(user(" Hi\n"), assistant("Hello!  "), user("And you?")), true));
    }

    @Test
    void llama3TemplateAlwaysAddsTheAssistantHeader() {
        // this template ignores add_generation_prompt
        String out = llama3().render(List.of(user("Hi")), false);
        assertTrue(out.endsWith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"), out);
    }

    @Test
    void pythonStringMethods() {
        String t = "{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a '.lstrip() }}|{{ ' a  '.rstrip() }}|"
                + "{{ 'hELLO wORLD'.title() }}|{{ 'they\\'re'.title() }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|"
                + "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('x') }}|{{ 'a,b,,c'.split(',') | join('-') }}|"
                + "{{ ' a  b '.split() | length }}|{{ 'hello world'.capitalize() }}|{{ '-'.join(['x', 'y']) }}|"
                + "{{ '\u00a0x\u00a0' | trim }}|{{ 'aXa'.replace('a', 'b') }}";
        assertEquals("a b|a|a | a|Hello World|They'Re|ABab|truefalse|a-b--c|2|Hello world|x-y|x|bXb",
                render(t, List.of()));
    }

    /**
     * Python's whitespace, for strip()/split()/trim: exactly the chars for which Python 3's {@code str.isspace()}
     * is true (listed from {@code [c for c in range(0x10000) if chr(c).isspace()]}), checked over the whole BMP.
     */
    @Test
    void pythonWhitespaceIsExactlyPythons() {
        java.util.Set<Integer> python = new java.util.HashSet<>(List.of(0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f,
                0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
                0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000));
        for (int c = 0; c < 0x10000; c++)
            assertEquals(python.contains(c), PyStrings.isSpace((char) c), String.format("U+%04X", c));
        // NEL (U+0085) around a message: strip() and trim remove it as Python does
        assertEquals("<s>[INST] x [/INST]", llama2().render(List.of(user("\u0085 x\u0085")), true));
        assertEquals("[a|b]", render("[{{ '\u0085a\u0085'|trim }}|{{ 'a\u0085b'.split() | last }}]", List.of()));
    }

    /**
     * Whitespace control on expressions and comments, as the Llama 3.1/3.2 Instruct templates use it: every line
     * starts with {@code {{-}, {@code {%-} or {@code {#-}, so the newlines and indentation between tags vanish.
     * Expected: Jinja2's semantics by hand (the '-' strips all whitespace on that side of the tag), which gives the
     * published Llama 3.1 prompt format.
     */
    @Test
    void whitespaceControlOnExpressionsAndCommentsAsInJinja2() {
        String t = """
                {{- bos_token }}
                {%- if not date_string is defined %}
                    {%- set date_string = "26 Jul 2024" %}
                {%- endif %}
                {#- take the system message out #}
                {%- if messages[0]['role'] == 'system' %}
                    {%- set system_message = messages[0]['content']|trim %}
                    {%- set messages = messages[1:] %}
                {%- else %}
                    {%- set system_message = "" %}
                {%- endif %}
                {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
                {{- "Cutting Knowledge Date: December 2023\\n" }}
                {{- "Today Date: " + date_string + "\\n\\n" }}
                {{- system_message }}
                {{- "<|eot_id|>" }}
                {%- for message in messages %}
                    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
                {%- endfor %}
                {%- if add_generation_prompt %}
                    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
                    	  {#- a note -#}  \s
                {%- endif %}
                """;
        String rendered = new ChatTemplate(t, "inline", Map.of("bos_token", "<|begin_of_text|>"))
                .render(List.of(system("  Be brief. "), user(" Hi there "), assistant("Yo"), user("Q")), true);
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nYo<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", rendered);
        assertEquals("a|b c|d", render("a {{- '|' -}}  \n b {{ 'c' }}{{- '|' -}}\t d", List.of()));
    }

    /**
     * {@code tojson} as transformers binds it for chat templates: Python's {@code json.dumps(x, ensure_ascii=False,
     * indent=None, separators=None, sort_keys=False)}. Expected strings: Python 3's json.dumps on the same values.
     */
    @Test
    void tojsonIsPythonsJsonDumpsAsTransformersBindsIt() {
        Map<String, Object> city = new java.util.LinkedHashMap<>();
        city.put("type", "string");
        Map<String, Object> parameters = new java.util.LinkedHashMap<>();
        parameters.put("type", "object");
        parameters.put("properties", Map.of("city", city));
        parameters.put("required", List.of("city"));
        Map<String, Object> function = new java.util.LinkedHashMap<>();
        function.put("name", "get_weather");
        function.put("description", "Météo 😀");
        function.put("parameters", parameters);
        Map<String, Object> tool = new java.util.LinkedHashMap<>();
        tool.put("type", "function");
        tool.put("function", function);
        Map<String, Object> mixed = new java.util.LinkedHashMap<>();
        mixed.put("b", java.util.Arrays.asList(1L, 2.5, null, true));
        mixed.put("a", Map.of());
        mixed.put("c", List.of());
        Map<String, Object> keys = new java.util.LinkedHashMap<>();
        keys.put("b", List.of(1L));
        keys.put("a", "x\u0001\"");
        Map<String, Object> vars = Map.of("tool", tool, "mixed", mixed, "keys", keys,
                "floats", List.of(1e16, 1.5e-5, 0.0001, 100.0, -0.0, 123456789012345.6, 0.1, 2.5e300),
                "blank", Map.of("a", List.of()));
        ChatTemplate t = new ChatTemplate("{{ tool | tojson(indent=4) }}|{{ mixed | tojson }}|"
                + "{{ keys | tojson(sort_keys=true, separators=[',', ':']) }}|{{ ['é😀'] | tojson(ensure_ascii=true) }}|"
                + "{{ floats | tojson }}|{{ blank | tojson(false, '\t') }}", "inline", Map.of());
        assertEquals("{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n"
                + "        \"description\": \"Météo 😀\",\n        \"parameters\": {\n            \"type\": \"object\",\n"
                + "            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\"\n"
                + "                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n"
                + "        }\n    }\n}"
                + "|{\"b\": [1, 2.5, null, true], \"a\": {}, \"c\": []}"
                + "|{\"a\":\"x\\u0001\\\"\",\"b\":[1]}"
                + "|[\"\\u00e9\\ud83d\\ude00\"]"
                + "|[1e+16, 1.5e-05, 0.0001, 100.0, -0.0, 123456789012345.6, 0.1, 2.5e+300]"
                + "|{\n\t\"a\": []\n}", t.render(List.of(), false, vars));

        // strings as Python takes them (python3's json.dumps): indent='4' is the indent text, ensure_ascii='false' is
        // true (a non-empty string); a Java array holding a null writes null
        ChatTemplate s = new ChatTemplate("{{ [1] | tojson(indent='4') }}|{{ ['é'] | tojson(ensure_ascii='false') }}|{{ arr | tojson }}",
                "inline", Map.of());
        assertEquals("[\n41\n]|[\"\\u00e9\"]|[\"a\", null]", s.render(List.of(), false, Map.of("arr", new Object[]{"a", null})));
    }

    /** transformers' {% generation %} block (assistant-token masks; TRL adds it to templates) renders its body. */
    @Test
    void generationBlockRendersItsBody() {
        String t = "{%- for m in messages %}\n  {%- if m.role == 'assistant' %}\n    {%- generation %}<{{ m.content | trim }}>"
                + "{% endgeneration %}\n  {%- else %}{{ m.content }}{% endif %}|\n{%- endfor %}";
        assertEquals("U|<A>|", render(t, List.of(user("U"), assistant(" A "))));
    }

    @Test
    void loopNamespaceSlicesAndFilters() {
        String t = "{% set ns = namespace(n=0, last='') %}{% for m in messages[1:] %}"
                + "{% set ns.n = ns.n + 1 %}{% set ns.last = m['role'] %}{{ loop.index0 }}:{{ m.content | trim }};"
                + "{% endfor %}{{ ns.n }} {{ ns.last }} {{ messages | length }} {{ messages[-1].role }}"
                + "{% if messages[0]['role'] == 'system' and not '<<SYS>>' in messages[0]['content'] %} sys{% endif %}";
        assertEquals("0:a;1:b;2 assistant 3 assistant sys",
                render(t, List.of(system("S"), user(" a "), assistant("b"))));
    }

    @Test
    void notBindsLooserThanComparisonsAsInJinja2() {
        String t = "{{ not 'x' in messages[0]['content'] }} {{ not messages[0].role == 'zzz' }} "
                + "{{ not 'a' in messages[0].content }} {{ 'x' not in messages[0].content }} {{ not false }} "
                + "{{ 'not x in y' }}{# not x in y #} not 'x' in text";
        assertEquals("true true false true true not x in y not 'x' in text", render(t, List.of(user("abc"))));
    }

    @Test
    void llama2DefaultSystemPromptBranch() {
        // with USE_DEFAULT_PROMPT given, the elif tests  not '<<SYS>>' in messages[0]['content']
        String out = llama2().render(List.of(user("Hi")), true, Map.of("USE_DEFAULT_PROMPT", true));
        assertEquals("<s>[INST] <<SYS>>\nDEFAULT_SYSTEM_MESSAGE\n<</SYS>>\n\nHi [/INST]", out);
    }

    @Test
    void blocksAreTrimmedAsInTransformers() {
        // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before one
        String t = "{% for m in messages %}\n    {% if m.role == 'user' %}\n{{ m.content }}\n    {% endif %}\n{% endfor %}";
        assertEquals("x\ny\n", render(t, List.of(user("x"), user("y"))));
    }

    @Test
    void undefinedVariablesAreFalsyNotErrors() {
        assertEquals("ok", render("{% if NOT_DEFINED == true %}bad{% endif %}{{ NOT_DEFINED }}ok", List.of()));
    }

    @Test
    void extraVariablesAndSpecialTokens() {
        ChatTemplate t = new ChatTemplate("{{ bos_token }}{{ date_string }}{{ eos_token }}{{ add_generation_prompt }}",
                "inline", Map.of("bos_token", "B", "eos_token", "E"));
        assertEquals("B26 Jul 2024Efalse", t.render(List.of(), false, Map.of("date_string", "26 Jul 2024")));
    }

    @Test
    void raiseExceptionSurfaces() {
        ChatTemplate t = new ChatTemplate("a{{ raise_exception('no tools here') }}b", "my-source", Map.of());
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(List.of(), true));
        assertEquals("my-source: chat template raised an exception: no tools here", e.getMessage());
    }

    @Test
    void templateErrorsAreNeverSwallowed() {
        for (String bad : List.of("{% if messages %}unclosed", "{{ messages[0].content.nosuchmethod() }}",
                "{{ 'x' | nosuchfilter }}", "{{ (1 }}", "{% for %}{% endfor %}")) {
            ChatTemplate t = new ChatTemplate(bad, "src.json", Map.of());
            ChatTemplateException e = assertThrows(ChatTemplateException.class,
                    () -> t.render(List.of(user("hi")), true), bad);
            assertTrue(e.getMessage().startsWith("src.json: chat template error"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
    }
}
