package io.rationale.tokenizer;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;

/**
 * transformers' {@code {% generation %}...{% endgeneration %}} block (its AssistantTracker extension, which marks
 * the assistant's tokens for {@code return_assistant_tokens_mask} and training on assistant turns only): the
 * body renders as written, in its own scope as Jinja2's call block does. Without it Jinjava refuses the template.
 */
final class GenerationTag implements Tag {
    @Override
    public String getName() { return "generation"; }

    @Override
    public String getEndTagName() { return "endgeneration"; }

    @Override
    public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
        StringBuilder out = new StringBuilder();
        try (JinjavaInterpreter.InterpreterScopeClosable scope = interpreter.enterScope()) {
            for (Node child : tagNode.getChildren()) out.append(child.render(interpreter).getValue());
        }
        return out.toString();
    }
}
