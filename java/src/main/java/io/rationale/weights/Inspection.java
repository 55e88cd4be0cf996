package io.rationale.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rationale.model.CheckpointValidator;
import io.rationale.model.ConfigException;
import io.rationale.model.ModelConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a model folder holds, for {@code rationale inspect}: every tensor (name, dtype, shape, bytes, file), the
 * files, totals, a summary of config.json, and whether checkpoint and config agree. Building one never throws for
 * a bad folder: unreadable config, malformed checkpoint or mismatches all land in {@link #problems()} so the user
 * sees them together. A plain record, so Jackson serialises it ({@link #toJson()}); {@link #toText()} is the
 * human table.
 *
 * @param dir        the model folder
 * @param config     the config.json summary, or null when it could not be read
 * @param files      the safetensors files (empty when the checkpoint could not be opened)
 * @param tensors    every tensor, file by file in header order
 * @param totals     parameter and byte counts
 * @param ok         true when there are no problems
 * @param problems   one line each: config, checkpoint and validation problems
 */
public record Inspection(String dir, ConfigSummary config, List<FileInfo> files, List<TensorInfo> tensors,
                         Totals totals, boolean ok, List<String> problems) {

    /** One tensor; {@code file} is the file name inside the folder. */
    public record TensorInfo(String name, String dtype, long[] shape, long parameters, long bytes, String file) {}

    /** One safetensors file; {@code headerBytes} is the JSON header length. */
    public record FileInfo(String file, long bytes, long headerBytes, int tensors, Map<String, String> metadata) {}

    /** Totals over all tensors; the maps are keyed by dtype name. */
    public record Totals(int tensors, long parameters, long bytes, Map<String, Long> parametersPerDtype,
                         Map<String, Long> bytesPerDtype) {}

    /** The parts of config.json that decide the architecture. */
    public record ConfigSummary(String architecture, int layers, int hiddenSize, int intermediateSize, int heads,
                                int kvHeads, int headDim, int vocabSize, double ropeTheta,
                                ModelConfig.RopeScaling ropeScaling, boolean tiedEmbeddings, boolean qkvBias,
                                boolean oBias, boolean mlpBias, int slidingWindow, int maxPositionEmbeddings,
                                float rmsNormEps) {
        static ConfigSummary of(ModelConfig c) {
            return new ConfigSummary(c.architecture(), c.numLayers(), c.hiddenSize(), c.intermediateSize(), c.numHeads(),
                    c.numKvHeads(), c.headDim(), c.vocabSize(), c.ropeTheta(), c.ropeScaling(), c.tieWordEmbeddings(),
                    c.qkvBias(), c.oBias(), c.mlpBias(), c.slidingWindow(), c.maxPositionEmbeddings(), c.rmsNormEps());
        }
    }

    /** Inspects {@code dir}: reads config.json and opens the checkpoint, collecting every problem. */
    public static Inspection of(Path dir) {
        List<String> problems = new ArrayList<>();
        ModelConfig config = null;
        try {
            config = ModelConfig.load(dir);
        } catch (ConfigException e) {
            problems.add(e.getMessage());
        }
        Checkpoint ckpt;
        try {
            ckpt = Checkpoint.open(dir);
        } catch (WeightsException e) {
            problems.add(e.getMessage());
            return build(dir, config, null, problems);
        }
        try (ckpt) {
            return build(dir, config, ckpt, problems);
        }
    }

    /** Inspects an open checkpoint against a config (either may be null); problems found are added to {@code problems}. */
    public static Inspection of(Path dir, ModelConfig config, Checkpoint ckpt, List<String> problems) {
        return build(dir, config, ckpt, new ArrayList<>(problems));
    }

    private static Inspection build(Path dir, ModelConfig config, Checkpoint ckpt, List<String> problems) {
        List<FileInfo> files = new ArrayList<>();
        List<TensorInfo> tensors = new ArrayList<>();
        Map<String, Long> paramsPerDtype = new TreeMap<>();
        Map<String, Long> bytesPerDtype = new TreeMap<>();
        long params = 0, bytes = 0;
        if (ckpt != null) {
            for (SafeTensorsFile f : ckpt.files()) {
                String fileName = f.file().getFileName().toString();
                files.add(new FileInfo(fileName, f.size(), f.headerBytes(), f.tensors().size(), f.metadata()));
                for (Tensor t : f.tensors().values()) {
                    long n = t.numel();
                    tensors.add(new TensorInfo(t.name(), t.dtype().name(), t.shape().clone(), n, t.byteSize(), fileName));
                    params += n;
                    bytes += t.byteSize();
                    paramsPerDtype.merge(t.dtype().name(), n, Long::sum);
                    bytesPerDtype.merge(t.dtype().name(), t.byteSize(), Long::sum);
                }
            }
            if (config != null) {
                for (CheckpointValidator.Problem p : CheckpointValidator.problems(ckpt, config)) problems.add(p.message());
            }
        }
        Totals totals = new Totals(tensors.size(), params, bytes, paramsPerDtype, bytesPerDtype);
        return new Inspection(dir.toString(), config == null ? null : ConfigSummary.of(config), List.copyOf(files),
                List.copyOf(tensors), totals, problems.isEmpty(), List.copyOf(problems));
    }

    /** Pretty-printed JSON of this record. */
    public String toJson() {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise inspection of " + dir, e);
        }
    }

    /** The human report: config summary, files, a tensor table, totals and validation status. */
    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append("Model folder: ").append(dir).append('\n');
        appendConfig(b);
        b.append('\n').append("Files: ").append(files.size()).append('\n');
        for (FileInfo f : files) {
            b.append(String.format("  %s  %,d bytes, header %,d bytes, %d tensors%n", f.file(), f.bytes(), f.headerBytes(), f.tensors()));
            for (Map.Entry<String, String> m : f.metadata().entrySet())
                b.append("    ").append(SafeTensorsHeader.printable(m.getKey())).append(": ")
                        .append(SafeTensorsHeader.printable(m.getValue())).append('\n');
        }
        b.append('\n').append("Tensors: ").append(tensors.size()).append('\n');
        appendTable(b);
        b.append('\n').append(String.format("Totals: %,d parameters, %,d bytes%n", totals.parameters(), totals.bytes()));
        for (Map.Entry<String, Long> e : totals.bytesPerDtype().entrySet())
            b.append(String.format("  %-5s %,d parameters, %,d bytes%n", e.getKey(),
                    totals.parametersPerDtype().get(e.getKey()), e.getValue()));
        b.append('\n');
        if (ok) {
            b.append("Validation: ok\n");
        } else {
            b.append("Validation: ").append(problems.size()).append(problems.size() == 1 ? " problem\n" : " problems\n");
            for (String p : problems) b.append("  - ").append(p).append('\n');
        }
        return b.toString();
    }

    private void appendConfig(StringBuilder b) {
        if (config == null) {
            b.append("Config: (config.json unreadable)\n");
            return;
        }
        ConfigSummary c = config;
        b.append("Config: ").append(c.architecture())
                .append(String.format(", %d layers, hidden %d, intermediate %d, %d heads / %d kv heads, head_dim %d, vocab %d%n",
                        c.layers(), c.hiddenSize(), c.intermediateSize(), c.heads(), c.kvHeads(), c.headDim(), c.vocabSize()));
        b.append("  rope theta ").append(c.ropeTheta()).append(", rope scaling ").append(rope(c.ropeScaling()))
                .append(", tied embeddings ").append(c.tiedEmbeddings() ? "yes" : "no")
                .append(", biases qkv=").append(yn(c.qkvBias())).append(" o=").append(yn(c.oBias()))
                .append(" mlp=").append(yn(c.mlpBias()))
                .append(", sliding window ").append(c.slidingWindow() == 0 ? "none" : String.valueOf(c.slidingWindow()))
                .append(", max positions ").append(c.maxPositionEmbeddings())
                .append(", rms eps ").append(c.rmsNormEps()).append('\n');
    }

    private static String rope(ModelConfig.RopeScaling r) {
        if (r == null) return "none";
        if (r.type().equals("linear")) return "linear factor " + r.factor();
        return r.type() + " factor " + r.factor() + " low_freq " + r.lowFreqFactor() + " high_freq " + r.highFreqFactor()
                + " original_max " + r.originalMaxPositionEmbeddings();
    }

    private static String yn(boolean v) { return v ? "yes" : "no"; }

    private void appendTable(StringBuilder b) {
        String[] head = {"name", "dtype", "shape", "parameters", "bytes", "file"};
        List<String[]> rows = new ArrayList<>();
        rows.add(head);
        for (TensorInfo t : tensors)
            rows.add(new String[]{SafeTensorsHeader.printable(t.name()), t.dtype(), Arrays.toString(t.shape()),
                    String.format("%,d", t.parameters()), String.format("%,d", t.bytes()), t.file()});
        int[] width = new int[head.length];
        for (String[] r : rows) for (int i = 0; i < r.length; i++) width[i] = Math.max(width[i], r[i].length());
        for (String[] r : rows) {
            b.append("  ");
            for (int i = 0; i < r.length; i++) {
                boolean number = i == 3 || i == 4;
                boolean last = i == r.length - 1;
                String pad = " ".repeat(width[i] - r[i].length());
                b.append(number ? pad + r[i] : last ? r[i] : r[i] + pad).append(last ? "" : "  ");
            }
            b.append('\n');
        }
    }
}
