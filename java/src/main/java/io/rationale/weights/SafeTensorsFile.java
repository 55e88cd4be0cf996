package io.rationale.weights;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One safetensors file: an 8-byte little-endian header length, the JSON header ({@link SafeTensorsHeader}),
 * then the data section. The file is memory-mapped whole (any size: a {@link MemorySegment}, not a
 * {@code ByteBuffer}) and each tensor is a slice of the mapping, never a copy.
 */
public final class SafeTensorsFile {
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final long size;
    private final long headerBytes;
    private final SafeTensorsHeader header;
    private final Map<String, Tensor> tensors;

    private SafeTensorsFile(Path file, long size, long headerBytes, SafeTensorsHeader header, Map<String, Tensor> tensors) {
        this.file = file;
        this.size = size;
        this.headerBytes = headerBytes;
        this.header = header;
        this.tensors = tensors;
    }

    /**
     * Maps and validates a file. The mapping lives as long as {@code arena}.
     *
     * @throws WeightsException when the file cannot be read or is not a valid safetensors file
     */
    public static SafeTensorsFile map(Path file, Arena arena) {
        MemorySegment all;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long n = ch.size();
            if (n < 8) throw new WeightsException(file + ": file is " + n + " bytes, too short for the 8-byte header length");
            all = ch.map(FileChannel.MapMode.READ_ONLY, 0, n, arena);
        } catch (IOException e) {
            throw new WeightsException(file + ": cannot read: " + e, e);
        }
        return parse(all, file);
    }

    /**
     * Validates the bytes of a safetensors file already in memory (a mapping, or a heap segment in tests).
     * Tensors are slices of {@code all}.
     *
     * @param file the name used in error messages and reported by {@link #file()}
     */
    public static SafeTensorsFile parse(MemorySegment all, Path file) {
        long size = all.byteSize();
        if (size < 8) throw new WeightsException(file + ": file is " + size + " bytes, too short for the 8-byte header length");
        long n = all.get(U64, 0);
        if (Long.compareUnsigned(n, SafeTensorsHeader.MAX_HEADER_BYTES) > 0)
            throw new WeightsException(file + ": header length " + Long.toUnsignedString(n) + " exceeds the limit of "
                    + SafeTensorsHeader.MAX_HEADER_BYTES + " bytes (corrupt or not a safetensors file)");
        if (n > size - 8)
            throw new WeightsException(file + ": header length " + n + " goes beyond the end of the file (" + size + " bytes)");
        byte[] json = all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        long base = 8 + n;
        SafeTensorsHeader header = SafeTensorsHeader.parse(json, size - base, file.toString());

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (SafeTensorsHeader.Entry e : header.entries()) {
            MemorySegment data = all.asSlice(base + e.begin(), e.byteSize());
            tensors.put(e.name(), new Tensor(e.name(), e.dtype(), e.shape().clone(), data));
        }
        return new SafeTensorsFile(file, size, n, header, Collections.unmodifiableMap(tensors));
    }

    public Path file() { return file; }

    /** Size of the whole file in bytes. */
    public long size() { return size; }

    /** Length of the JSON header in bytes (not counting the 8-byte length before it). */
    public long headerBytes() { return headerBytes; }

    /** The {@code __metadata__} strings, empty when the header has none. */
    public Map<String, String> metadata() { return header.metadata(); }

    public SafeTensorsHeader header() { return header; }

    /** The tensors by name, in header order. */
    public Map<String, Tensor> tensors() { return tensors; }
}
