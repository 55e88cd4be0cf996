package io.rationale.perf;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Test access: parses result objects (as a JMH file would hold them) through a temporary file. */
public final class JmhResultsAccess {
    private JmhResultsAccess() {}

    public static List<JmhResults.Result> parse(List<Map<String, Object>> results) throws Exception {
        Path f = Files.createTempFile("jmh-", ".json");
        try {
            Files.writeString(f, new ObjectMapper().writeValueAsString(results));
            return JmhResults.read(f);
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
