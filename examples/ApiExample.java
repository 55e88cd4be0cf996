// rationale-engine's Java API in one file: attribution, a batch of texts, generation, and the CLI's JSON.
// Run it with the engine's jar (build it once with ./rationale):
//   java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
//        -cp java/target/rationale.jar examples/ApiExample.java ../shared/data/models/stories260K-hf
import io.rationale.api.AttributionRequest;
import io.rationale.api.AttributionResult;
import io.rationale.api.GenerationResult;
import io.rationale.api.Input;
import io.rationale.api.Rationale;
import io.rationale.api.RationaleJson;
import io.rationale.engine.SamplingParams;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public class ApiExample {
    public static void main(String[] args) {
        Path model = Path.of(args.length > 0 ? args[0] : "../shared/data/models/stories260K-hf");
        try (Rationale r = Rationale.open(model)) {
            // one text, two methods, the target given as text
            AttributionResult a = r.attribute(AttributionRequest.of("Once upon a time there was a little girl. She went to", "input_x_gradient", "attnlrp")
                    .withTargetText("the"));
            System.out.println("target " + a.targetText() + " (id " + a.targetId() + "), " + r.deviceDescription());
            double[] ixg = a.wordScores("input_x_gradient");
            for (int i = 0; i < ixg.length; i++) System.out.printf("  %-10s %8.4f%n", a.methods().get("input_x_gradient").words().get(i).text(), ixg[i]);

            // many texts at once: submitted together, they share one batched forward and backward
            List<AttributionRequest> batch = new ArrayList<>();
            for (String t : List.of("The cat sat on the mat", "Tom went to the park", "Lily liked her red ball"))
                batch.add(AttributionRequest.of(t, "saliency"));
            for (AttributionResult x : r.attribute(batch)) System.out.println(x.text() + " -> top word score " + max(x.wordScores("saliency")));

            // generation, and the exact JSON `rationale attribute --json` prints
            GenerationResult g = r.generate(Input.text("Once upon a time"), 20, SamplingParams.greedy());
            System.out.println("generated:" + g.text());
            System.out.println(RationaleJson.write(r.attribute(AttributionRequest.of("Once upon a time", "attention"))).substring(0, 60) + "...");
        }
    }

    static double max(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : v) m = Math.max(m, x);
        return m;
    }
}
