package io.rationale.service;

import io.rationale.api.Rationale;
import io.rationale.engine.Device;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The load test: 8 clients sending /v1/attributions back to back over loopback on stories260K, bounded in requests
 * and time; every answer must equal the answer its text got alone. Reports requests/s and p50/p99 latency (printed,
 * not asserted: a unit test times nothing; benchmarks/results/ holds the measured throughput).
 */
class ServiceLoadTest {
    @Test
    void eightClientsLoseNoAnswerAndGetNoWrongOne() throws Exception {
        try (Rationale api = Rationale.open(ServiceTest.STORIES, Rationale.Config.defaults().withDevice(Device.CPU).withThreads(2));
             Server server = Server.start(api, Server.Config.loopback(0))) {
            LoadTest.Target target = new LoadTest.Target(server.uri(), null, LoadTest.TEXTS, List.of("input_x_gradient", "attention"));
            LoadTest.Report seq = LoadTest.run(target, new LoadTest.Phase(1, 16, Duration.ofSeconds(60)));
            long[] before = api.batchStats();
            LoadTest.Report conc = LoadTest.run(target, new LoadTest.Phase(8, 96, Duration.ofSeconds(60)));
            long[] after = api.batchStats();
            System.out.println("load test, stories260K-hf, /v1/attributions input_x_gradient+attention: " + seq.line());
            System.out.println("load test, stories260K-hf, /v1/attributions input_x_gradient+attention: " + conc.line()
                    + "; " + (after[1] - before[1]) + " requests in " + (after[0] - before[0]) + " batched passes");
            for (LoadTest.Report r : List.of(seq, conc)) {
                assertEquals(List.of(), r.problems());
                assertEquals(0, r.wrong(), "wrong answers");
                assertEquals(0, r.lost(), "lost answers");
                assertEquals(r.sent(), r.ok());
            }
            assertEquals(96, conc.sent(), "all requests sent within the time limit");
            assertTrue(after[1] - before[1] > after[0] - before[0], "concurrent requests shared passes");
            assertTrue(conc.p50Ms() > 0 && conc.p99Ms() >= conc.p50Ms());
        }
    }

    /** Warm-up stops when two rounds in a row agree within the tolerance in both phases, not before. */
    @Test
    void warmUpSettlesOnTwoAgreeingRounds() {
        java.util.function.BiFunction<Double, Double, LoadTest.Report[]> round = (seq, conc) -> new LoadTest.Report[]{
                new LoadTest.Report(1, 10, 10, 0, 0, 1, seq, 1, 1, List.of()),
                new LoadTest.Report(8, 10, 10, 0, 0, 1, conc, 1, 1, List.of())};
        List<LoadTest.Report[]> rounds = new java.util.ArrayList<>();
        rounds.add(round.apply(100.0, 200.0));
        assertTrue(!LoadTest.settled(rounds, 0.10), "one round is never settled");
        rounds.add(round.apply(150.0, 210.0));                    // sequential phase 33% apart
        assertTrue(!LoadTest.settled(rounds, 0.10));
        rounds.add(round.apply(160.0, 300.0));                    // concurrent phase 30% apart
        assertTrue(!LoadTest.settled(rounds, 0.10));
        rounds.add(round.apply(170.0, 290.0));                    // 5.9% and 3.3%
        assertTrue(LoadTest.settled(rounds, 0.10));
        assertTrue(!LoadTest.settled(rounds, 0.03));
    }
}
