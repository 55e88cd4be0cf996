package io.rationale.cuda;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/** The dynamic symbol table (.dynsym) of a 64-bit little-endian ELF shared library: names defined and undefined. */
record ElfDynamicSymbols(Set<String> defined, Set<String> undefined) {
    private static final int SHT_DYNSYM = 11;

    static ElfDynamicSymbols read(Path file) throws IOException {
        return read(Files.readAllBytes(file));
    }

    static ElfDynamicSymbols read(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) != 0x464c457f || b.get(4) != 2 || b.get(5) != 1)
            throw new IllegalArgumentException("not a 64-bit little-endian ELF file");
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3a)), shnum = Short.toUnsignedInt(b.getShort(0x3c));
        Set<String> defined = new TreeSet<>(), undefined = new TreeSet<>();
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + (long) i * shentsize);
            if (b.getInt(sh + 4) != SHT_DYNSYM) continue;
            long off = b.getLong(sh + 24), size = b.getLong(sh + 32), entsize = b.getLong(sh + 56);
            int strtab = (int) (shoff + (long) b.getInt(sh + 40) * shentsize);
            long stroff = b.getLong(strtab + 24);
            for (long s = off + entsize; s < off + size; s += entsize) {  // entry 0 is the null symbol
                int name = b.getInt((int) s);
                int shndx = Short.toUnsignedInt(b.getShort((int) s + 6));
                String n = cString(bytes, (int) (stroff + name));
                if (n.isEmpty()) continue;
                (shndx == 0 ? undefined : defined).add(n);
            }
        }
        return new ElfDynamicSymbols(defined, undefined);
    }

    private static String cString(byte[] b, int from) {
        int end = from;
        while (b[end] != 0) end++;
        return new String(b, from, end - from, StandardCharsets.US_ASCII);
    }
}
