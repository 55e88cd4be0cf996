package io.rationale.service;

import io.rationale.api.Rationale;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;

/**
 * The HTTP service of one {@link Rationale}: {@link Service}'s endpoints on an {@link HttpServer}. Bound to
 * 127.0.0.1 by default; any other address needs a bearer token, which every request must then carry.
 */
public final class Server implements AutoCloseable {

    /**
     * @param host     address to bind (loopback unless a token is given)
     * @param port     port (0: any free one)
     * @param token    bearer token (null: none; required off loopback)
     * @param limits   HTTP limits
     * @param settings service settings (the token is taken from {@code token})
     */
    public record Config(InetAddress host, int port, String token, HttpServer.Limits limits, Service.Settings settings) {
        public static Config loopback(int port) {
            return new Config(InetAddress.getLoopbackAddress(), port, null, HttpServer.Limits.defaults(), Service.Settings.defaults());
        }

        public Config withToken(String t) { return new Config(host, port, t, limits, settings); }

        public Config withLimits(HttpServer.Limits l) { return new Config(host, port, token, l, settings); }

        public Config withHost(InetAddress h) { return new Config(h, port, token, limits, settings); }
    }

    private final Rationale api;
    private final HttpServer http;
    private final Service service;

    private Server(Rationale api, HttpServer http, Service service) {
        this.api = api;
        this.http = http;
        this.service = service;
    }

    /**
     * Starts serving {@code api} (which the caller keeps and closes).
     *
     * @throws IllegalArgumentException when {@code host} is not a loopback address and there is no token
     */
    public static Server start(Rationale api, Config c) throws IOException {
        if (!c.host().isLoopbackAddress() && (c.token() == null || c.token().isEmpty()))
            throw new IllegalArgumentException(c.host().getHostAddress() + " is not a loopback address: binding it needs a bearer token "
                    + "(--token-file FILE); every request must then send 'Authorization: Bearer <token>'");
        Service service = new Service(api, new Service.Settings(c.token(), c.settings().maxLogprobs()));
        HttpServer http = new HttpServer(c.host(), c.port(), service, Service::error, c.limits());
        http.onArrival(api::arriving);
        return new Server(api, http, service);
    }

    public int port() { return http.port(); }

    /** {@code http://HOST:PORT}. */
    public URI uri() {
        String h = http.address().getHostAddress();
        if (h.contains(":")) h = "[" + h + "]";
        return URI.create("http://" + h + ":" + http.port());
    }

    public Service service() { return service; }

    public Rationale api() { return api; }

    /** Requests being answered now. */
    public int inFlight() { return http.inFlight(); }

    /**
     * Graceful shutdown: stops accepting, answers the requests in flight (within {@code grace}), closes the
     * connections. The {@link Rationale} stays open (its owner closes it).
     *
     * @return whether every request in flight was answered in time
     */
    public boolean shutdown(Duration grace) { return http.shutdown(grace); }

    @Override
    public void close() { shutdown(Duration.ofSeconds(5)); }
}
