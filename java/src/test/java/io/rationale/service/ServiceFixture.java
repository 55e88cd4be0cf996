package io.rationale.service;

import io.rationale.api.Rationale;
import io.rationale.engine.Backend;
import io.rationale.engine.Model;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.nio.file.Path;
import java.time.Duration;

/** What the service's test classes share: stories260K loaded once per class, and servers on loopback over it. */
abstract class ServiceFixture {
    static final Path STORIES = Path.of(System.getProperty("rationale.shared", "../shared"), "data", "models", "stories260K-hf");
    static Model model;
    static Tokenizer tok;
    static Backend backend;

    static io.rationale.attribution.Fixtures.Loaded loaded;

    @BeforeAll
    static void load() {
        loaded = io.rationale.attribution.Fixtures.Loaded.cpu(STORIES);
        model = loaded.model();
        tok = loaded.tok();
        backend = loaded.backend();
    }

    @AfterAll
    static void close() { loaded.close(); }

    /** A server on a free loopback port over {@code b}; closing it stops server and engine thread. */
    record Running(Rationale api, Server server, Http http) implements AutoCloseable {
        static Running start(Backend b, Rationale.Config c, Server.Config sc) throws Exception {
            Rationale api = Rationale.of(b, tok, c.withModelName("stories260K-hf"));
            Server s = Server.start(api, sc);
            return new Running(api, s, new Http(s.uri(), sc.token()));
        }

        static Running start(Backend b) throws Exception {
            return start(b, Rationale.Config.defaults(), Server.Config.loopback(0));
        }

        static Running start() throws Exception { return start(backend); }

        @Override
        public void close() {
            server.shutdown(Duration.ofSeconds(10));
            api.close();
        }
    }
}
