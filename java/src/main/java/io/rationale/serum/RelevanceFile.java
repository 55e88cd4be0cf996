package io.rationale.serum;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A relevance vector from a file ({@code --steer-relevance}): one number per span token, as a JSON array
 * ({@code [0.1, -0.4, ...]}) or as numbers separated by commas, whitespace or newlines. The values are raw relevance;
 * the chosen normalisation is applied to them ({@code none} keeps them).
 */
public final class RelevanceFile {
    private RelevanceFile() {}

    /** Reads {@code file}, which must hold exactly {@code expected} finite numbers (the span {@code spanSpec}'s tokens). */
    public static double[] read(Path file, int expected, String spanSpec) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the relevance file (" + e.getMessage() + ")", e);
        }
        if (text.startsWith("[")) {
            if (!text.endsWith("]")) throw new IllegalArgumentException(file + ": a JSON array must end with ']'");
            text = text.substring(1, text.length() - 1);
        }
        List<Double> values = new ArrayList<>();
        int index = 0;
        for (String part : text.split("[,\\s]+")) {
            if (part.isEmpty()) continue;
            double v;
            try {
                v = Double.parseDouble(part);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": value " + (index + 1) + " '" + part + "' is not a number");
            }
            if (!Double.isFinite(v)) throw new IllegalArgumentException(file + ": value " + (index + 1) + " is " + part + ", not a finite number");
            values.add(v);
            index++;
        }
        if (values.size() != expected)
            throw new IllegalArgumentException(file + ": " + values.size() + " relevance values, but the span " + spanSpec + " has " + expected + " tokens");
        double[] out = new double[expected];
        for (int i = 0; i < expected; i++) out[i] = values.get(i);
        return out;
    }
}
