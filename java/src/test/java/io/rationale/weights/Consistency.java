package io.rationale.weights;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Test helper: what must hold for any successfully parsed safetensors file, and for any rejection. */
final class Consistency {
    private Consistency() {}

    /** Tensors lie inside the data section, match their shape, tile it exactly, and can all be read. */
    static void check(SafeTensorsFile f, long fileSize) {
        long base = 8 + f.headerBytes();
        if (f.size() != fileSize) throw new AssertionError("size " + f.size() + " != " + fileSize);
        if (base > fileSize) throw new AssertionError("header beyond file");
        List<SafeTensorsHeader.Entry> entries = new ArrayList<>(f.header().entries());
        if (entries.size() != f.tensors().size()) throw new AssertionError("entries vs tensors");
        entries.sort(Comparator.comparingLong(SafeTensorsHeader.Entry::begin).thenComparingLong(SafeTensorsHeader.Entry::end));
        long covered = 0;
        for (SafeTensorsHeader.Entry e : entries) {
            if (e.begin() != covered) throw new AssertionError("not contiguous at " + e);
            covered = e.end();
            Tensor t = f.tensors().get(e.name());
            if (t == null) throw new AssertionError("missing tensor " + e.name());
            long n = 1;
            for (long d : t.shape()) {
                if (d < 0) throw new AssertionError("negative dim in " + t);
                n *= d;
            }
            if (n != t.numel() || n * t.dtype().bytes != t.byteSize() || t.byteSize() != e.byteSize())
                throw new AssertionError("size mismatch in " + t);
            for (long i = 0; i < Math.min(n, 64); i++) t.get(i);
            if (n > 0) t.get(n - 1);
        }
        if (base + covered != fileSize) throw new AssertionError("data not covered: " + (base + covered) + " of " + fileSize);
    }

    /** A rejection is one line that names the file. */
    static void checkMessage(WeightsException e) {
        String m = e.getMessage();
        if (m == null || m.isEmpty()) throw new AssertionError("empty message", e);
        if (m.indexOf('\n') >= 0 || m.indexOf('\r') >= 0) throw new AssertionError("multi-line message: " + m, e);
        if (!m.startsWith("fuzz.safetensors: ") && !m.contains(".safetensors: ")) throw new AssertionError("file not named: " + m, e);
    }
}
