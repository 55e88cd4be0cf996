package io.rationale.api;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;

import java.io.IOException;

/**
 * The one JSON mapper of the API, the command line and the service: results are records whose Jackson
 * annotations fix their keys (snake_case) and key order, so {@code rationale attribute --json}, the Java API and
 * {@code /v1/attributions} print the same object. Unknown keys in a request are an error (a typo should not be
 * silently ignored); a single value where a list is expected is read as a one-element list.
 */
public final class RationaleJson {
    private RationaleJson() {}

    /** The mapper. Do not reconfigure it. */
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    /** One line of JSON. */
    public static String write(Object o) {
        try {
            return MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** {@code null} for a non-finite number (NaN, ±∞), as the command line has always written them. */
    public static Double finite(double v) { return Double.isFinite(v) ? v : null; }

    /** Writes a double, or null when it is not finite. */
    public static final class FiniteDouble extends JsonSerializer<Double> {
        @Override
        public void serialize(Double v, JsonGenerator g, SerializerProvider p) throws IOException {
            if (v == null || !Double.isFinite(v)) g.writeNull();
            else g.writeNumber(v);
        }
    }

    /** Writes a double array with null for each non-finite entry. */
    public static final class FiniteDoubles extends JsonSerializer<double[]> {
        @Override
        public void serialize(double[] v, JsonGenerator g, SerializerProvider p) throws IOException {
            g.writeStartArray(v, v.length);
            for (double x : v) {
                if (Double.isFinite(x)) g.writeNumber(x);
                else g.writeNull();
            }
            g.writeEndArray();
        }
    }
}
