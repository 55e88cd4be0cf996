package io.rationale.eval;

import io.rationale.dataset.Example;
import io.rationale.metrics.TopK;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/** k selection, the random baseline and the few-shot draw. */
class SelectionTest {

    @Test
    void kIsTheHumanRationaleSizeByDefault() {
        KSelection k = KSelection.parse("human");
        assertTrue(k.human());
        assertEquals(3, k.k(40, Optional.of(Set.of(1, 5, 9))));
        // fallback: no rationale or an empty one → 10% of the words, round half up, at least 1
        assertEquals(4, k.k(40, Optional.empty()));
        assertEquals(4, k.k(35, Optional.of(Set.of())));      // 3.5 → 4
        assertEquals(1, k.k(3, Optional.empty()));
        assertSame(KSelection.HUMAN, KSelection.parse(null));
    }

    @Test
    void kAsAFractionOfTheWords() {
        KSelection k = KSelection.parse("0.25");
        assertEquals(3, k.k(10, Optional.of(Set.of(1))));    // 2.5 → 3, the human size is ignored
        assertEquals(1, k.k(2, Optional.empty()));            // 0.5 → 1
        assertEquals(7, KSelection.parse("1").k(7, Optional.empty()));
        assertThrows(IllegalArgumentException.class, () -> KSelection.parse("0"));
        assertThrows(IllegalArgumentException.class, () -> KSelection.parse("1.5"));
        assertThrows(IllegalArgumentException.class, () -> KSelection.parse("ten"));
    }

    @Test
    void randomRankingPrefixesAreTopKRandom() {
        long seed = RandomRationale.seed(0, "ex-1");
        int[] r = RandomRationale.ranking(30, seed);
        int[] sorted = r.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 30; i++) assertEquals(i, sorted[i]);     // a permutation
        for (int k = 0; k <= 30; k += 7) {
            TreeSet<Integer> prefix = new TreeSet<>();
            for (int i = 0; i < k; i++) prefix.add(r[i]);
            assertEquals(TopK.random(30, k, seed), prefix);
        }
        assertNotEquals(seed, RandomRationale.seed(0, "ex-2"));
        assertNotEquals(seed, RandomRationale.seed(1, "ex-1"));
        assertEquals(seed, RandomRationale.seed(0, "ex-1"));
        // FNV-1a of "a" is 0xaf63dc4c8601ec8c; SplitMix64's finaliser of it
        long z = 0xaf63dc4c8601ec8cL;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        assertEquals(z ^ (z >>> 31), RandomRationale.seed(0, "a"));
        double[] s = RandomRationale.scores(r);
        assertArrayEquals(r, TopK.ranking(s));
    }

    @Test
    void fewShotDrawIsDeterministicAndExcludesTheExample() {
        List<Example> pool = new ArrayList<>();
        for (int i = 0; i < 6; i++) pool.add(Fixtures.bio("e" + i, "bio number " + i, "nurse"));
        FewShot fs = new FewShot(pool, 2, 42);
        // the shuffle, derived here independently: Fisher–Yates from the end with Random(42)
        List<Example> order = new ArrayList<>(pool);
        java.util.Random rng = new java.util.Random(42);
        for (int i = order.size() - 1; i > 0; i--) java.util.Collections.swap(order, i, rng.nextInt(i + 1));
        Example outside = Fixtures.bio("zz", "another bio", "nurse");
        assertEquals(order.subList(0, 2), fs.demosFor(outside));
        Example first = order.get(0);
        assertEquals(List.of(order.get(1), order.get(2)), fs.demosFor(first));
        assertEquals(fs.demosFor(outside), new FewShot(pool, 2, 42).demosFor(outside));
        assertEquals(List.of(), new FewShot(pool, 0, 42).demosFor(outside));
        assertEquals(5, new FewShot(pool, 10, 1).demosFor(pool.get(3)).size());
    }
}
