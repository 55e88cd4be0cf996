package io.rationale.tools;

import java.util.Locale;

/** Parses sizes such as "5GB", "500MB", "2GiB", "1.5GB" or a plain byte count. */
public final class ByteSize {
    private ByteSize() {
    }

    /**
     * Returns the size in bytes. Units: B, KB/MB/GB/TB (powers of 1000, as Hugging Face uses for
     * max_shard_size) and KiB/MiB/GiB/TiB (powers of 1024); case-insensitive.
     */
    public static long parse(String text) {
        String s = text.trim().toUpperCase(Locale.ROOT);
        int end = 0;
        while (end < s.length() && (Character.isDigit(s.charAt(end)) || s.charAt(end) == '.')) {
            end++;
        }
        if (end == 0) {
            throw new ToolException("bad size '" + text + "' (expected e.g. 5GB, 500MB, 2GiB or a byte count)");
        }
        double number;
        try {
            number = Double.parseDouble(s.substring(0, end));
        } catch (NumberFormatException e) {
            throw new ToolException("bad size '" + text + "' (expected e.g. 5GB, 500MB, 2GiB or a byte count)");
        }
        String unit = s.substring(end).trim();
        double mult = switch (unit) {
            case "", "B" -> 1;
            case "KB", "K" -> 1e3;
            case "MB", "M" -> 1e6;
            case "GB", "G" -> 1e9;
            case "TB", "T" -> 1e12;
            case "KIB" -> 1024.0;
            case "MIB" -> 1024.0 * 1024;
            case "GIB" -> 1024.0 * 1024 * 1024;
            case "TIB" -> 1024.0 * 1024 * 1024 * 1024;
            default -> throw new ToolException("bad size unit in '" + text + "' (expected B, KB, MB, GB, KiB, MiB, GiB)");
        };
        return (long) Math.floor(number * mult);
    }
}
