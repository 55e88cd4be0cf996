package io.rationale.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import io.rationale.api.Rationale;
import io.rationale.api.RationaleJson;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Device;
import io.rationale.metrics.Masking;
import io.rationale.openai.CompletionRequest;
import io.rationale.openai.CompletionResponse;
import io.rationale.openai.OpenAiClient;
import io.rationale.service.HttpServer;
import io.rationale.service.Server;
import io.rationale.service.Service;
import io.rationale.tokenizer.ChatMessage;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Remote prompting models: the prompts' texts, answer reading, and the evaluator against this project's serve. */
class RemoteEvaluatorTest {
    static final List<String> NLI = TaskTemplate.NLI_LABELS;

    static Example nli(String id, String premise, String hypothesis, String label) {
        return Fixtures.example(id, List.of("premise", "hypothesis"), List.of(premise, hypothesis), label, NLI);
    }

    static final List<Example> NLI_POOL = List.of(
            nli("a", "A man is playing a guitar on stage.", "A man plays music.", "entailment"),
            nli("b", "Two dogs run through a field.", "The dogs are sleeping.", "contradiction"),
            nli("c", "A woman is reading a book in the park.", "The woman is a teacher.", "neutral"));

    static Map<String, String> firstWords(TaskTemplate t, List<String> labels) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String l : labels) m.put(l, t.labelWordCandidates().get(l).getFirst());
        return m;
    }

    // ------------------------------------------------------------------ prompts

    @Test
    void thePromptsAreThePromptBuildersCharacterForCharacter() {
        TaskTemplate t = TaskTemplate.forDataset("esnli", NLI, List.of("premise", "hypothesis"));
        Map<String, String> words = firstWords(t, NLI);
        RemotePrompts rp = new RemotePrompts(t, NLI.stream().map(words::get).toList(), words);
        FewShot shots = new FewShot(NLI_POOL, 1, 3);
        List<String> names = List.of("premise", "hypothesis");
        for (boolean chat : new boolean[]{false, true}) {
            Tokenizer tok = chat ? Fixtures.tinyTokenizer() : Fixtures.storiesTokenizer();
            PromptBuilder pb = new PromptBuilder(tok, t, LabelWords.of(tok, NLI, words), chat);
            for (Example ex : NLI_POOL) {
                List<Example> demos = shots.demosFor(ex);
                assertEquals(1, demos.size());
                PromptBuilder.Layout layout = pb.layout(ex, demos);
                List<String> f = ex.fields().stream().map(TextField::text).toList();
                String head = rp.head(names, demos);
                if (chat) {
                    var template = tok.chatTemplate().orElseThrow();
                    assertEquals(layout.classify(f).text(), template.render(rp.classifyChat(head, names, f), true));
                    assertEquals(layout.guided(f, "neutral", 3).text(), template.render(rp.guidedChat(head, names, f, "neutral", 3), true));
                    assertEquals(layout.unbound(f, "neutral").text(), template.render(rp.unboundChat(head, names, f, "neutral"), true));
                } else {
                    assertEquals(layout.classify(f).text(), rp.classify(head, names, f));
                    assertEquals(layout.guided(f, "neutral", 3).text(), rp.guided(head, names, f, "neutral", 3));
                    assertEquals(layout.unbound(f, "neutral").text(), rp.unbound(head, names, f, "neutral"));
                }
            }
        }
    }

    // ------------------------------------------------------------------ reading answers

    static RemoteEvaluator offline(String kind, List<String> labels, List<Example> pool, List<String> methods) {
        OpenAiClient never = new OpenAiClient(java.net.URI.create("http://127.0.0.1:9/v1"), null, Duration.ofSeconds(1));
        return new RemoteEvaluator(never, new RemoteEvaluator.Spec(never.base(), "m", RemoteEvaluator.Api.COMPLETIONS), kind, labels, pool,
                EvalOptions.defaults(methods), 2);
    }

    @Test
    void answersAreReadFromTheFirstTokensAlternativesOrElseFromTheText() {
        RemoteEvaluator ev = offline("esnli", NLI, NLI_POOL, List.of("prompt_guided"));
        Map<String, Double> alts = new LinkedHashMap<>();
        alts.put(" The", -0.1);
        alts.put(" ent", -0.5);
        alts.put(" Neut", -1.2);
        alts.put(" entail", -2.0);          // a second token for the same label: the best one counts
        RemoteEvaluator.Scores s = ev.fromAlternatives(alts);
        double z = Math.exp(-0.5) + Math.exp(-1.2);
        assertArrayEquals(new double[]{Math.exp(-0.5) / z, Math.exp(-1.2) / z, 0}, s.probs(), 1e-12);
        assertEquals(0, s.predicted());
        assertNull(ev.fromAlternatives(Map.of(" The", -0.1, "\n", -2.0)), "no alternative names a label");
        assertEquals(2, ev.fromText(" Contradiction.").predicted());
        assertEquals(1, ev.fromText("neutral").predicted());
        assertEquals(0, ev.fromText(" entail").predicted(), "an answer cut off by the token budget");
        assertEquals(-1, ev.fromText(" maybe entailment").predicted(), "only the first word counts");
        assertEquals(-1, ev.fromText("").predicted());

        RemoteEvaluator bios = offline("medicalbios", Fixtures.BIOS, List.of(Fixtures.bio("x", "She works at a clinic.", "nurse")), List.of("prompt_guided"));
        assertNull(bios.fromAlternatives(Map.of(" p", -0.1)), "' p' begins physician and psychologist: it names neither");
        assertEquals(4, bios.fromAlternatives(Map.of(" s", -0.3, " p", -0.1)).predicted());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> offline("esnli", NLI, NLI_POOL, List.of("prompt_guided", "input_x_gradient", "attnlrp")));
        assertEquals("attribution methods need the model's weights, which an openai: model does not expose: input_x_gradient, attnlrp "
                + "(with a remote model use prompt_guided, prompt_unbound; the random baseline is always added)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> offline("esnli", NLI, NLI_POOL, List.of("salience")));
    }

    @Test
    void specsNameTheEndpointAndTheModel() {
        RemoteEvaluator.Spec s = RemoteEvaluator.Spec.parse("openai:http://127.0.0.1:8000#stories260K-hf", RemoteEvaluator.Api.COMPLETIONS);
        assertEquals("http://127.0.0.1:8000/v1", s.base().toString());
        assertEquals("openai:http://127.0.0.1:8000/v1#stories260K-hf (completions)", s.id());
        assertEquals("https://api.openai.com/v1", RemoteEvaluator.Spec.parse("openai:https://api.openai.com/v1/#gpt-4o", RemoteEvaluator.Api.CHAT).base().toString());
        assertNull(RemoteEvaluator.Spec.parse("openai:http://h:1/v1/chat/completions", RemoteEvaluator.Api.CHAT).model());
        assertThrows(IllegalArgumentException.class, () -> RemoteEvaluator.Spec.parse("openai:ftp://x", RemoteEvaluator.Api.CHAT));
    }

    // ------------------------------------------------------------------ against serve

    /** The documented reading, written again here: each alternative votes for the one label whose word it begins. */
    static double[] independentReading(Map<String, Double> alts, List<String> words) {
        double[] best = new double[words.size()];
        java.util.Arrays.fill(best, Double.NEGATIVE_INFINITY);
        for (var e : alts.entrySet()) {
            String t = e.getKey().strip().toLowerCase(Locale.ROOT).replaceAll("^[^\\p{L}\\p{N}]+|[^\\p{L}\\p{N}]+$", "");
            if (t.isEmpty()) continue;
            List<Integer> hit = new ArrayList<>();
            for (int l = 0; l < words.size(); l++) if (words.get(l).startsWith(t)) hit.add(l);
            if (hit.size() == 1) best[hit.getFirst()] = Math.max(best[hit.getFirst()], e.getValue());
        }
        return LabelWords.softmax(best);
    }

    @Test
    void classificationRationalesAndFlipsComeFromTheEndpointsAnswers() throws Exception {
        Dataset d = DatasetLoader.load("medicalbios:" + Fixtures.medicalBios());
        EvalOptions o = EvalOptions.defaults(List.of("prompt_guided", "prompt_unbound"));
        try (Rationale api = Rationale.open(Fixtures.stories(), Rationale.Config.defaults().withDevice(Device.CPU).withThreads(2));
             Server s = Server.start(api, Server.Config.loopback(0))) {
            RemoteEvaluator.Spec spec = RemoteEvaluator.Spec.parse("openai:" + s.uri(), RemoteEvaluator.Api.COMPLETIONS);
            RemoteEvaluator ev = RemoteEvaluator.open(spec, d, o, null, 4);
            assertEquals("stories260K-hf", ev.spec().model(), "the first model of GET /v1/models");
            OpenAiClient client = new OpenAiClient(spec.base(), null, Duration.ofSeconds(60));
            TaskTemplate t = TaskTemplate.forDataset("medicalbios", d.labels(), List.of("bio"));
            List<String> words = d.labels().stream().map(l -> t.labelWordCandidates().get(l).getFirst()).toList();
            RemotePrompts rp = new RemotePrompts(t, words, ev.labelWords());
            for (int i = 0; i < 3; i++) {
                Example ex = d.examples().get(i);
                ExampleResult r = ev.evaluate(i, ex);
                assertNull(r.skipped(), r.skipped());
                assertEquals(List.of("prompt_guided", "prompt_unbound", "random"), List.copyOf(r.methods().keySet()));
                List<String> names = List.of("bio"), fields = List.of(ex.fields().getFirst().text());
                String head = rp.head(names, List.of());
                // the label probabilities are the endpoint's first-token alternatives, read as documented
                double[] want = independentReading(firstAlternatives(client, rp.classify(head, names, fields)), words);
                for (int l = 0; l < words.size(); l++) assertEquals(want[l], r.labelProbs().get(d.labels().get(l)), 1e-12, "label " + l);
                // the guided rationale is the endpoint's greedy answer to the guided prompt
                int k = r.methods().get("random").k();
                String guided = client.completions(CompletionRequest.of("stories260K-hf", TextNode.valueOf(
                                rp.guided(head, names, fields, ev.labelWords().get(r.predicted()), k)), 16 + 4 * k, 0.0, null, null,
                        JsonNodeFactory.instance.arrayNode().add("\n"), 0L)).choices().getFirst().text().strip();
                assertEquals(guided, r.methods().get("prompt_guided").raw());
                // the random baseline's flip: the masked prompt asked again
                TreeSet<Integer> top = new TreeSet<>();
                for (int w : r.methods().get("random").rationale()) top.add(w);
                String masked = Masking.remove(fields.getFirst(), top, Masking.DELETE).text();
                double[] without = independentReading(firstAlternatives(client, rp.classify(head, names, List.of(masked))), words);
                int y = d.labels().indexOf(r.predicted());
                ExampleResult.Masked main = r.methods().get("random").faithfulness().main();
                assertEquals(r.labelProbs().get(r.predicted()) - without[y], main.comprehensiveness(), 1e-12);
                assertEquals(d.labels().get(argmax(without)), main.predictedWithout());
                assertEquals(5, r.methods().get("random").faithfulness().byFraction().size(), "the AOPC sizes, re-queried too");
            }
            assertEquals(0, ev.classificationCounts()[1] + ev.classificationCounts()[2], "serve gives logprobs: none parsed from text");
        }
    }

    static int argmax(double[] p) {
        int b = 0;
        for (int i = 1; i < p.length; i++) if (p[i] > p[b]) b = i;
        return b;
    }

    static Map<String, Double> firstAlternatives(OpenAiClient c, String prompt) {
        CompletionResponse r = c.completions(CompletionRequest.of("stories260K-hf", TextNode.valueOf(prompt), 4, 0.0, 20, null,
                JsonNodeFactory.instance.arrayNode().add("\n"), 0L));
        return r.choices().getFirst().logprobs().topLogprobs().getFirst();
    }

    @Test
    void withoutLogprobsTheParsedAnswerDecidesAndMaskedPromptsAreAskedAgain() throws Exception {
        // a stand-in endpoint that refuses logprobs and answers by rule: "nurse" while the bio says "hospital"
        AtomicInteger asked = new AtomicInteger(), refusedLogprobs = new AtomicInteger();
        HttpServer.Handler fake = (req, x) -> {
            JsonNode b = RationaleJson.MAPPER.readTree(req.body());
            if (b.hasNonNull("logprobs")) {
                refusedLogprobs.incrementAndGet();
                return Service.error(400, "logprobs is not supported by this model");
            }
            asked.incrementAndGet();
            String prompt = b.get("prompt").asText();
            String bio = prompt.substring(prompt.lastIndexOf("Bio:"));
            String text = prompt.endsWith("Words:") ? " hospital, patients" : prompt.endsWith("Explanation:") ? " Because of the hospital."
                    : bio.contains("hospital") ? " nurse" : " surgeon";
            CompletionResponse resp = new CompletionResponse("cmpl-1", "text_completion", 0, "fake",
                    List.of(new CompletionResponse.Choice(text, 0, null, "stop")), new CompletionResponse.Usage(1, 1, 2));
            return HttpServer.Response.json(200, RationaleJson.write(resp));
        };
        try (HttpServer http = new HttpServer(InetAddress.getLoopbackAddress(), 0, fake, Service::error, HttpServer.Limits.defaults())) {
            Example ex = Fixtures.bio("b1", "She cares for patients at the city hospital every night", "nurse", 3, 7);
            OpenAiClient client = new OpenAiClient(java.net.URI.create("http://127.0.0.1:" + http.port() + "/v1"), "key", Duration.ofSeconds(30));
            RemoteEvaluator ev = new RemoteEvaluator(client, new RemoteEvaluator.Spec(client.base(), "fake", RemoteEvaluator.Api.COMPLETIONS),
                    "medicalbios", Fixtures.BIOS, List.of(ex), EvalOptions.defaults(List.of("prompt_guided", "prompt_unbound")), 3);
            ExampleResult r = ev.evaluate(0, ex);
            assertNull(r.skipped(), r.skipped());
            assertEquals("nurse", r.predicted());
            assertEquals(1.0, r.labelProbs().get("nurse"), "a parsed answer is one-hot");
            ExampleResult.MethodResult g = r.methods().get("prompt_guided");
            assertEquals("hospital, patients", g.raw());
            assertArrayEquals(new int[]{3, 7}, g.rationale(), "patients (3) and hospital (7)");
            assertTrue(g.faithfulness().main().flipped(), "without 'hospital' the answer is surgeon");
            assertEquals("surgeon", g.faithfulness().main().predictedWithout());
            assertEquals(1.0, g.faithfulness().main().comprehensiveness());
            assertEquals(0.0, g.faithfulness().main().sufficiency(), "the rationale alone keeps 'hospital': still nurse");
            assertEquals(1.0, g.alignment().f1(), "the human rationale is the same two words");
            assertTrue(r.methods().get("prompt_unbound").faithfulness().main().flipped());
            assertEquals(1, refusedLogprobs.get(), "asked for logprobs once, then never again");
            assertEquals(0, ev.classificationCounts()[0]);
            assertTrue(ev.classificationCounts()[1] >= 5, "the original and the masked prompts, parsed: " + asked.get() + " requests");
        }
    }
}
