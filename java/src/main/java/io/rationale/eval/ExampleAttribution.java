package io.rationale.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.api.AttributionResult;
import io.rationale.api.RationaleJson;

import java.util.ArrayList;
import java.util.List;

/**
 * The attributions of one dataset example ({@code attribute --dataset}): what the evaluation attributes for that example
 * ({@link ModelEvaluator#attribute}): its classification prompt, the text under study = the example's fields, the
 * explained scalar = the eval's target ({@link ExampleResult#attributionTarget()}: by default the logit of the predicted
 * label's best token), each method's result in the {@code attribute --json} shape ({@link AttributionResult}).
 *
 * @param index   the example's position in the dataset
 * @param id      the example's id
 * @param skipped null, or why the example was not attributed (then {@code results} is null)
 * @param target  what was explained (null when skipped)
 * @param methods the methods' names, in order
 * @param results one result per method, in that order (null when skipped)
 * @param seconds wall time of the whole example
 */
public record ExampleAttribution(int index, String id, String skipped, ExampleResult.AttributionTarget target, List<String> methods,
                                 List<AttributionResult> results, double seconds) {
    public ExampleAttribution {
        methods = List.copyOf(methods);
        if (results != null) {
            results = List.copyOf(results);
            if (results.size() != methods.size()) throw new IllegalArgumentException(results.size() + " results for " + methods.size() + " methods");
        }
    }

    /**
     * The example's lines of {@code attributions.jsonl}, one per method: {@code index}, {@code id},
     * {@code attribution_target} ({@code kind}, {@code label}, {@code foil}), then the {@code attribute --json}
     * object's keys ({@code method}, {@code text}, {@code study_start}, ..., {@code scores}, {@code words}, ...);
     * a skipped example: {@code index}, {@code id}, {@code method}, {@code skipped}.
     */
    public List<ObjectNode> lines() {
        List<ObjectNode> out = new ArrayList<>(methods.size());
        for (int m = 0; m < methods.size(); m++) {
            ObjectNode line = RationaleJson.MAPPER.createObjectNode();
            line.put("index", index);
            line.put("id", id);
            if (skipped != null) {
                line.put("method", methods.get(m));
                line.put("skipped", skipped);
            } else {
                ObjectNode t = line.putObject("attribution_target");
                t.put("kind", target.kind());
                t.put("label", target.label());
                if (target.foil() != null) t.put("foil", target.foil());
                line.setAll((ObjectNode) RationaleJson.MAPPER.valueToTree(results.get(m)));
            }
            out.add(line);
        }
        return out;
    }
}
