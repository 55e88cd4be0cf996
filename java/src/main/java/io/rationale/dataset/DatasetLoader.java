package io.rationale.dataset;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads a dataset from {@code KIND:PATH}. Kinds:
 * <ul>
 *   <li>{@code esnli}: e-SNLI CSV with {@code *word*} highlights ({@link EsnliCsvReader})</li>
 *   <li>{@code esnli-plain}: e-SNLI/SNLI {@code s1/s2/labels.<split>} files, no rationales ({@link EsnliPlainReader})</li>
 *   <li>{@code eraser}: an ERASER split file beside {@code docs/} or {@code docs.jsonl} ({@link EraserReader})</li>
 *   <li>{@code medicalbios}: MedicalBios standard rationales (Prodigy JSONL) or {@code biosbias.csv} ({@link MedicalBiosReader})</li>
 *   <li>{@code medicalbios-contrastive}: MedicalBios contrastive rationales with foils ({@link MedicalBiosReader})</li>
 *   <li>{@code fever}: FEVER claims with evidence sentences, no rationales ({@link FeverReader})</li>
 *   <li>{@code jsonl}: the project's own JSONL ({@link GenericJsonlReader})</li>
 * </ul>
 * A missing file, an unknown kind, or a file whose format does not match the kind stops at once with a one-line
 * {@link DatasetException} naming the file. Per-example problems never stop loading: they are in
 * {@link Dataset#skipped()} with their reasons.
 */
public final class DatasetLoader {
    private DatasetLoader() {}

    public static final List<String> KINDS =
            List.of("esnli", "esnli-plain", "eraser", "medicalbios", "medicalbios-contrastive", "fever", "jsonl");

    /** A dataset's kind and path. */
    public record Spec(String kind, Path path) {}

    /**
     * Splits {@code KIND:PATH} (the first ':' separates the two) and checks the kind, reading nothing: what a command
     * line can be told before any file is read.
     *
     * @throws IllegalArgumentException for another shape or an unknown kind
     */
    public static Spec spec(String spec) {
        if (spec == null) throw new IllegalArgumentException("no dataset given (expected KIND:PATH)");
        int colon = spec.indexOf(':');
        if (colon <= 0 || colon == spec.length() - 1)
            throw new IllegalArgumentException("dataset '" + spec + "' is not KIND:PATH (kinds: " + String.join(", ", KINDS) + ")");
        String kind = spec.substring(0, colon);
        Path path = Path.of(spec.substring(colon + 1));
        if (!KINDS.contains(kind)) throw new IllegalArgumentException(path + ": unknown dataset kind '" + kind + "' (kinds: " + String.join(", ", KINDS) + ")");
        return new Spec(kind, path);
    }

    /** Loads {@code KIND:PATH} ({@link #spec}). */
    public static Dataset load(String spec) {
        Spec s;
        try {
            s = spec(spec);
        } catch (IllegalArgumentException e) {
            throw new DatasetException(e.getMessage());
        }
        return load(s.kind(), s.path());
    }

    public static Dataset load(String kind, Path path) {
        if (!KINDS.contains(kind)) {
            throw new DatasetException(path + ": unknown dataset kind '" + kind + "' (kinds: " + String.join(", ", KINDS) + ")");
        }
        if (!Files.exists(path)) throw new DatasetException(path + ": not found");
        if (!kind.equals("esnli-plain") && !Files.isRegularFile(path)) {
            throw new DatasetException(path + ": not a file (kind " + kind + " reads one file)");
        }
        return switch (kind) {
            case "esnli" -> EsnliCsvReader.read(path);
            case "esnli-plain" -> EsnliPlainReader.read(path);
            case "eraser" -> EraserReader.read(path);
            case "medicalbios" -> MedicalBiosReader.readStandard(path);
            case "medicalbios-contrastive" -> MedicalBiosReader.readContrastive(path);
            case "fever" -> FeverReader.read(path);
            case "jsonl" -> GenericJsonlReader.read(path);
            default -> throw new IllegalStateException(kind);
        };
    }
}
