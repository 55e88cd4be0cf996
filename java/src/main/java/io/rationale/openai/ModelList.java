package io.rationale.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/** {@code GET /v1/models}: {@code {"object": "list", "data": [...]}}. */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonPropertyOrder({"object", "data"})
public record ModelList(String object, List<Model> data) {

    /**
     * One model.
     *
     * @param id            its id (what requests name in {@code model})
     * @param object        {@code model}
     * @param created       Unix seconds
     * @param ownedBy       {@code rationale-engine}
     * @param maxModelLen   context length in tokens (as vLLM reports it)
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"id", "object", "created", "owned_by", "max_model_len"})
    public record Model(String id, String object, long created, String ownedBy, Integer maxModelLen) {}
}
