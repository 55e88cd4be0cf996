package io.rationale.tools;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code convert-llama2c}: converts a llama2.c checkpoint and tokenizer to a Hugging Face folder. */
@Command(name = "convert-llama2c", mixinStandardHelpOptions = true,
        description = {"Convert a llama2.c checkpoint and its tokenizer to a Hugging Face Llama folder.",
                "The checkpoint is a legacy version-0 .bin; the tokenizer a SentencePiece .model or a llama2.c tokenizer .bin."})
public class ConvertLlama2cCommand implements Callable<Integer> {
    @Spec
    CommandSpec commandSpec;

    @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "llama2.c checkpoint, e.g. stories260K.bin.")
    Path checkpoint;

    @Option(names = "--tokenizer",
            description = "tokenizer .model or llama2.c .bin (default: tokenizer.model, tok<vocab>.model, tokenizer.bin "
                    + "or tok<vocab>.bin beside the checkpoint).")
    Path tokenizer;

    @Option(names = "--out", required = true, description = "Output folder.")
    Path out;

    @Option(names = "--dtype", defaultValue = "f32", description = "f32, f16 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--shard-size", defaultValue = "0",
            description = "Largest shard, e.g. 5GB; 0 for one file (default: ${DEFAULT-VALUE}).")
    String shardSize;

    @Option(names = "--quiet", description = "No output.")
    boolean quiet;

    @Override
    public Integer call() {
        Llama2cConverter.Options o = new Llama2cConverter.Options();
        try {   // the options alone: a bad value is a usage error (exit 2)
            o.dtype = DType.parse(dtype);
            o.maxShardBytes = ByteSize.parse(shardSize);
        } catch (ToolException | IllegalArgumentException e) {
            throw new ParameterException(commandSpec.commandLine(), e.getMessage(), e);
        }
        o.progress = quiet ? null : System.out::println;
        Llama2cConverter.convert(checkpoint, tokenizer, out, o);
        if (!quiet) {
            System.out.println("wrote " + out);
        }
        return 0;
    }
}
