package io.rationale.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;

/** Turns any exception into the one line the command line prints. */
final class Errors {
    private Errors() {}

    static String oneLine(Throwable ex) {
        Throwable t = ex;
        while ((t instanceof UncheckedIOException || t.getClass() == RuntimeException.class) && t.getCause() != null && t.getMessage() == null)
            t = t.getCause();
        String msg;
        if (t instanceof NoSuchFileException nf) msg = nf.getFile() + ": no such file";
        else if (t instanceof java.nio.file.FileAlreadyExistsException fe) msg = fe.getFile() + ": already exists (a file where a folder was expected?)";
        else if (t instanceof java.nio.file.NotDirectoryException nd) msg = nd.getFile() + ": not a folder";
        else if (t instanceof IOException io) msg = io.getMessage() == null ? io.getClass().getSimpleName() : io.getMessage();
        else if (t instanceof OutOfMemoryError) msg = "out of memory (raise -Xmx with RATIONALE_JVM_OPTS)";
        else if (t.getMessage() == null || t.getMessage().isBlank()) msg = t.getClass().getSimpleName() + " (run with --verbose for the stack trace)";
        else msg = t.getMessage();
        return msg.replace('\n', ' ').replace('\r', ' ');
    }
}
