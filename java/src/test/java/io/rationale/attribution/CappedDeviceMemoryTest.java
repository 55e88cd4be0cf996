package io.rationale.attribution;

import io.rationale.cuda.EmulatedDevice;
import io.rationale.engine.Backend;
import io.rationale.engine.BackendMemoryException;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.TestBackends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The memory planner on the emulated device with its memory capped (a few records' worth above the weights): the
 * integrated gradients steps are batched to fit the device's free memory, a plan that is too optimistic for the
 * device is split and retried, checkpointed records take over when not even one full record fits, and the scores are
 * the uncapped run's (within 1e-5 of the largest |score|: the GEMMs see other row counts; measured 0 on the emulated
 * device, whose GEMM sums do not depend on the row count). Likewise attnlrp of an input whose full record does not
 * fit: from a checkpointed record, the same relevance. With no memory for even one checkpointed record, one clear
 * line ({@link BackendMemoryException}) and a backend that still works. Never a crash or a wrong number. Also: a
 * device record never holds more than {@link Backend#bytesPerRecordedSequence} says.
 */
class CappedDeviceMemoryTest {
    static Fixtures.Engine cpu;
    static final String TEXT = "When the small boat was warm, Tom saw the sea";

    @BeforeAll
    static void load() {
        assumeTrue(TestBackends.emulatedDeviceBuilt(), "the emulated device is not in this build");
        cpu = Fixtures.Engine.open(Fixtures.tiny());
    }

    @AfterAll
    static void close() {
        if (cpu != null) cpu.close();
    }

    static void assertSameScores(Attribution want, Attribution got, String what) {
        double max = 0;
        for (double x : want.scores()) max = Math.max(max, Math.abs(x));
        double worst = 0;
        for (int i = 0; i < want.scores().length; i++) {
            assertEquals(want.scores()[i], got.scores()[i], 1e-5 * max, what + ": token " + i + " " + got.extras());
            worst = Math.max(worst, Math.abs(want.scores()[i] - got.scores()[i]));
        }
        System.out.printf("[capped] %s: %s batches, recompute %s, worst |diff| %.3g of %.3g%n", what, got.extras().get("batches"),
                got.extras().get("recompute"), worst, max);
    }

    @Test
    void integratedGradientsFitCappedDeviceMemoryWithTheSameScores() {
        Model model = cpu.model();
        AttributionInput in = AttributionInput.of(cpu.tok().encode(TEXT));
        int t = in.size();
        Options o = Options.defaults().withSteps(32).withBaselineToken(1);
        Attribution uncapped;
        try (Backend b = TestBackends.open(model, "cuda-emu")) {
            uncapped = new Attributor(b).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o);
            assertEquals(1, uncapped.extras().get("batches"), uncapped.extras().toString());
            // the stated bound holds for real records
            for (boolean recompute : new boolean[] {false, true}) {
                try (ForwardRecord rec = b.newRecord(false, recompute)) {
                    b.forwardEmbeddings(List.of(new float[t * model.config().hiddenSize()]), LogitsMode.LAST, rec);
                    assertTrue(rec.bytes() <= b.bytesPerRecordedSequence(t, recompute), recompute + ": " + rec.bytes());
                }
            }
        }
        Attribution lrpUncapped;
        try (Backend b = TestBackends.open(model, "cuda-emu")) {
            lrpUncapped = new Attributor(b).attribute(in, TargetSpec.argmaxLogit(), Method.ATTNLRP, o);
            assertEquals(null, lrpUncapped.extras().get("checkpointed_record"));
        }
        long limit = EmulatedDevice.memoryLimit();
        try (Backend b = TestBackends.open(model, "cuda-emu")) {
            long full = b.bytesPerRecordedSequence(t, false), light = b.bytesPerRecordedSequence(t, true);
            // a long input (here: a budget below one full record): attnlrp from a checkpointed record, the same relevance
            Attribution lrp = new Attributor(b, full - 1).attribute(in, TargetSpec.argmaxLogit(), Method.ATTNLRP, o);
            assertEquals(true, lrp.extras().get("checkpointed_record"), lrp.extras().toString());
            assertSameScores(lrpUncapped, lrp, "attnlrp, checkpointed record");
            // room for about 8 sequences' records and buffers: the planner's budget (half the free memory) takes 4 a batch
            EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes() + 8 * full);
            Attribution planned = new Attributor(b).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o);
            assertTrue((Integer) planned.extras().get("batches") > 1, planned.extras().toString());
            assertEquals(false, planned.extras().get("recompute"));
            assertSameScores(uncapped, planned, "planned batches");

            // a plan far too optimistic for the device (a budget of 1 TiB): split and run again until it fits
            Attribution optimistic = new Attributor(b, 1L << 40).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o);
            assertTrue((Integer) optimistic.extras().get("out_of_memory_retries") > 0, optimistic.extras().toString());
            assertSameScores(uncapped, optimistic, "split after running out of memory");

            // not even one full record fits: checkpointed records
            EmulatedDevice.setMemoryLimit(limit);
            try (Backend fresh = TestBackends.open(model, "cuda-emu")) {
                EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes() + full + light);   // a budget (half) between the two
                Attribution checkpointed = new Attributor(fresh).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o);
                assertEquals(true, checkpointed.extras().get("recompute"), checkpointed.extras().toString());
                assertSameScores(uncapped, checkpointed, "checkpointed records");
                Attribution lrpCapped = new Attributor(fresh).attribute(in, TargetSpec.argmaxLogit(), Method.ATTNLRP, o);
                assertEquals(true, lrpCapped.extras().get("checkpointed_record"), lrpCapped.extras().toString());
                assertSameScores(lrpUncapped, lrpCapped, "attnlrp under capped memory");

                // no memory beyond what the backend holds (its work buffers, sized for the last batch, stay usable), so not
                // even one checkpointed record: one clear line, and the backend works on
                EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes());
                BackendMemoryException e = assertThrows(BackendMemoryException.class,
                        () -> new Attributor(fresh).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o));
                assertTrue(e.getMessage().startsWith("CUDA_ERROR_OUT_OF_MEMORY") && !e.getMessage().contains("\n"), e.getMessage());
                EmulatedDevice.setMemoryLimit(limit);
                Attribution after = new Attributor(fresh).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, o);
                assertSameScores(uncapped, after, "after running out of memory");
            }
        } finally {
            EmulatedDevice.setMemoryLimit(limit);
        }
    }
}
