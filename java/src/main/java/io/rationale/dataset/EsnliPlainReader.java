package io.rationale.dataset;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * e-SNLI / SNLI plain split (kind {@code esnli-plain}): three line-aligned UTF-8 files {@code s1.<split>}
 * (premises), {@code s2.<split>} (hypotheses) and {@code labels.<split>}, no rationales.
 *
 * <p>PATH is the folder (which must hold exactly one {@code s1.*} file) or one of the three files (which picks
 * the split). Line {@code n} of the three files is one example with id {@code <split>:<n>} (1-based), fields
 * {@code premise} and {@code hypothesis} with the line's text stripped of leading/trailing whitespace (the files
 * are pre-tokenised, e.g. {@code "... at a church . "}, and keep that tokenisation), label the stripped label
 * line. Different line counts stop loading. Labels {@code [entailment, neutral, contradiction]}; SNLI's
 * {@code -} (no consensus) skips the line with reason {@code gold_label '-' (no consensus)}.
 */
public final class EsnliPlainReader {
    private EsnliPlainReader() {}

    public static Dataset read(Path path) {
        Path dir;
        String split;
        if (Files.isDirectory(path)) {
            dir = path;
            List<String> splits = new ArrayList<>();
            try (Stream<Path> s = Files.list(path)) {
                s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("s1.")).sorted()
                        .forEach(n -> splits.add(n.substring(3)));
            } catch (IOException e) {
                throw new DatasetException(path + ": cannot list (" + e.getMessage() + ")", e);
            }
            if (splits.isEmpty()) throw new DatasetException(path + ": not an e-SNLI plain split folder (no s1.* file)");
            if (splits.size() > 1) {
                throw new DatasetException(path + ": several splits " + splits + ", give the file, e.g. " + path.resolve("s1." + splits.get(0)));
            }
            split = splits.get(0);
        } else {
            String n = path.getFileName().toString();
            int dot = n.indexOf('.');
            String head = dot < 0 ? n : n.substring(0, dot);
            if (dot < 0 || !(head.equals("s1") || head.equals("s2") || head.equals("labels"))) {
                throw new DatasetException(path + ": not an e-SNLI plain split file (expected s1.<split>, s2.<split> or labels.<split>)");
            }
            dir = path.toAbsolutePath().getParent();
            split = n.substring(dot + 1);
        }
        List<String> s1 = lines(dir.resolve("s1." + split));
        List<String> s2 = lines(dir.resolve("s2." + split));
        List<String> labels = lines(dir.resolve("labels." + split));
        if (s1.size() != s2.size() || s1.size() != labels.size()) {
            throw new DatasetException(dir.resolve("s1." + split) + ": line counts differ (s1 " + s1.size() + ", s2 "
                    + s2.size() + ", labels " + labels.size() + ")");
        }
        Collector c = new Collector();
        for (int i = 0; i < s1.size(); i++) {
            String id = split + ":" + (i + 1);
            String label = labels.get(i).strip();
            String p = s1.get(i).strip(), h = s2.get(i).strip();
            c.add(id, "s1." + split + ":" + (i + 1), () -> {
                if (label.equals("-")) throw new SkipException("gold_label '-' (no consensus)");
                return new Example(id, List.of(TextField.of("premise", p), TextField.of("hypothesis", h)), label,
                        EsnliCsvReader.LABELS, null, Annotations.none(), null);
            });
        }
        return c.build("esnli-plain", path, EsnliCsvReader.LABELS);
    }

    private static List<String> lines(Path f) {
        if (!Files.isRegularFile(f)) throw new DatasetException(f + ": not found");
        try {
            List<String> l = Files.readAllLines(f, StandardCharsets.UTF_8);
            if (!l.isEmpty() && l.get(0).startsWith("\uFEFF")) l.set(0, l.get(0).substring(1));
            return l;
        } catch (IOException e) {
            throw TextFiles.readError(f, e);
        }
    }
}
