package io.rationale.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.rationale.api.Rationale;
import io.rationale.engine.Device;
import io.rationale.engine.TestBackends;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The service serves whichever backend is open: the CUDA backend on the emulated device (the same Java
 * orchestration and kernels as on a GPU) answers like the CPU, gradient methods included.
 */
class ServiceDevicesTest {
    @Test
    void theCudaBackendOnTheEmulatedDeviceAnswersLikeTheCpu() throws Exception {
        assertTrue(TestBackends.emulatedDeviceBuilt(), "the build makes the emulated device");
        Map<String, JsonNode[]> answers = new HashMap<>();
        for (String device : new String[]{"cpu", "cuda-emu"}) {
            try (Rationale api = Rationale.open(ServiceTest.STORIES, Rationale.Config.defaults().withDevice(Device.parse(device)).withThreads(2));
                 Server s = Server.start(api, Server.Config.loopback(0))) {
                Http h = new Http(s.uri(), null);
                Http.Answer logits = h.post("/v1/logits", "{\"text\": \"Once upon a time there was\"}");
                Http.Answer gen = h.post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 12, \"temperature\": 0, \"logprobs\": 1}");
                Http.Answer attention = h.post("/v1/attributions", "{\"text\": \"Once upon a time there was\", \"methods\": \"attention\"}");
                for (Http.Answer a : new Http.Answer[]{logits, gen, attention}) assertEquals(200, a.status(), device + ": " + a.json());
                assertTrue(logits.json().get("device").asText().startsWith(device), logits.json().get("device").asText());
                Http.Answer grad = h.post("/v1/attributions", "{\"text\": \"Once upon a time\", \"methods\": \"input_x_gradient\"}");
                assertEquals(200, grad.status(), device + ": " + grad.json());
                answers.put(device, new JsonNode[]{logits.json(), gen.json(), attention.json(), grad.json()});
            }
        }
        JsonNode[] cpu = answers.get("cpu"), emu = answers.get("cuda-emu");
        assertEquals(cpu[0].get("ids"), emu[0].get("ids"));
        double max = 1;
        for (JsonNode x : cpu[0].get("logits_last")) max = Math.max(max, Math.abs(x.asDouble()));
        for (int i = 0; i < cpu[0].get("logits_last").size(); i++)      // the engine's cuda-emu tolerance (TestBackends)
            assertEquals(cpu[0].get("logits_last").get(i).asDouble(), emu[0].get("logits_last").get(i).asDouble(), 1e-4 * max, "logit " + i);
        assertEquals(cpu[1].get("choices").get(0).get("text"), emu[1].get("choices").get(0).get("text"), "greedy completions agree");
        JsonNode a = cpu[2].get("scores"), b = emu[2].get("scores");
        for (int i = 0; i < a.size(); i++) assertEquals(a.get(i).asDouble(), b.get(i).asDouble(), 1e-4, "attention score " + i);
        JsonNode ga = cpu[3].get("scores"), gb = emu[3].get("scores");
        double gmax = 0;
        for (JsonNode x : ga) gmax = Math.max(gmax, Math.abs(x.asDouble()));
        assertTrue(gmax > 0, "input_x_gradient scores");
        for (int i = 0; i < ga.size(); i++) assertEquals(ga.get(i).asDouble(), gb.get(i).asDouble(), 1e-4 * gmax, "input_x_gradient score " + i);
    }
}
