package io.rationale.service;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small HTTP/1.1 server on the JDK's sockets with one virtual thread per connection: keep-alive, request bodies
 * with Content-Length or chunked transfer coding, {@code Expect: 100-continue}, limits on header and body size,
 * responses with Content-Length.
 *
 * <p>Why not {@code com.sun.net.httpserver}: a request must be freed when its client disconnects, and the JDK's
 * server gives a handler no way to notice that (the handler never sees the socket; a disconnect shows only as a
 * failed write of the finished response). Here, while a handler runs, a watcher thread reads the connection: end
 * of stream or a reset means the client is gone, and the handler's {@link Exchange#onDisconnect} callbacks run
 * (the service cancels the request's engine work). Bytes of a pipelined next request stop the watching for that
 * request (they are kept for the next read). A client that half-closes its side after sending counts as gone.
 *
 * <p>{@link #shutdown} stops accepting, closes idle keep-alive connections, lets requests in flight finish (their
 * responses say {@code Connection: close}) and waits for them up to a grace period.
 */
public final class HttpServer implements AutoCloseable {

    /**
     * @param maxHeaderBytes request line plus headers (431 beyond)
     * @param maxBodyBytes   request body (413 beyond)
     * @param idleTimeout    a keep-alive connection without a new request is closed after this
     * @param readTimeout    a started request must arrive completely within this (slow clients are cut off)
     * @param maxConnections open connections; more are answered 503 and closed
     */
    public record Limits(int maxHeaderBytes, long maxBodyBytes, Duration idleTimeout, Duration readTimeout, int maxConnections) {
        public static Limits defaults() {
            return new Limits(16 * 1024, 8L << 20, Duration.ofSeconds(60), Duration.ofSeconds(30), 1024);
        }
    }

    /** One request, fully read. Header names are lower case. */
    public record Request(String method, String target, String path, String query, String version, Map<String, String> headers,
                          byte[] body, String remote) {
        public String header(String name) { return headers.get(name.toLowerCase(Locale.ROOT)); }
    }

    /**
     * A response: a whole body (Content-Length is added), or, with a {@code streamer}, a body written piece by piece
     * as it is made (chunked transfer coding; to an HTTP/1.0 client, ended by closing the connection).
     */
    public record Response(int status, String contentType, byte[] body, Map<String, String> headers, Streamer streamer) {
        public Response(int status, String contentType, byte[] body, Map<String, String> headers) {
            this(status, contentType, body, headers, null);
        }

        public static Response json(int status, String json) {
            return new Response(status, "application/json", json.getBytes(StandardCharsets.UTF_8), Map.of());
        }

        /** A body that {@code streamer} writes while the handler's work goes on. */
        public static Response streamed(int status, String contentType, Streamer streamer) {
            return new Response(status, contentType, new byte[0], Map.of(), streamer);
        }

        public Response withHeader(String name, String value) {
            Map<String, String> h = new LinkedHashMap<>(headers);
            h.put(name, value);
            return new Response(status, contentType, body, h, streamer);
        }
    }

    /**
     * Writes a streamed body. It runs on the request's thread after the status line and headers are sent, while the
     * connection is still watched: a client that disconnects runs the {@link Exchange#onDisconnect} callbacks, and a
     * piece that cannot be written throws an IOException (after running them too). A RuntimeException cuts the
     * response off (the connection is closed without the body's end), so a streamer reports its own failures in the
     * body's format.
     */
    @FunctionalInterface
    public interface Streamer {
        void write(Pieces out) throws IOException;
    }

    /** Where a streamed body goes: each piece is sent (as one chunk) and flushed at once. */
    @FunctionalInterface
    public interface Pieces {
        void send(byte[] piece) throws IOException;
    }

    /** What a handler may ask of its connection. */
    public interface Exchange {
        /** Runs {@code r} when the client disconnects before the response is written (at once if it already has). */
        void onDisconnect(Runnable r);

        /** Whether the client has disconnected. */
        boolean disconnected();

        /**
         * The ticket opened when the request's first byte arrived ({@link #onArrival}); the handler closes it once it
         * has handed its work on (closing twice is harmless).
         */
        AutoCloseable arrival();
    }

    /** Answers requests; called on the request's own virtual thread. An exception becomes a 500. */
    @FunctionalInterface
    public interface Handler {
        Response handle(Request request, Exchange exchange) throws Exception;
    }

    /** Called when a request could not be read (bad syntax, too large): builds the error response. */
    @FunctionalInterface
    public interface ErrorPage {
        Response error(int status, String message);
    }

    private static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH");

    private final ServerSocket server;
    private final Handler handler;
    private final ErrorPage errors;
    private final Limits limits;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private final Thread acceptor;
    private volatile java.util.function.Supplier<AutoCloseable> arrivals = () -> () -> { };

    /**
     * Called on the first byte of every request, before its headers and body are read; the ticket it returns goes to
     * the handler ({@link Exchange#arrival()}). A server batching requests counts them from here.
     */
    public void onArrival(java.util.function.Supplier<AutoCloseable> tickets) { this.arrivals = tickets; }

    /**
     * Binds and starts accepting.
     *
     * @param port 0 for any free port ({@link #port()})
     */
    public HttpServer(InetAddress host, int port, Handler handler, ErrorPage errors, Limits limits) throws IOException {
        this.handler = handler;
        this.errors = errors;
        this.limits = limits;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(host, port), 128);
        this.acceptor = Thread.ofPlatform().name("rationale-http-accept").daemon(true).start(this::accept);
    }

    /** The bound port. */
    public int port() { return server.getLocalPort(); }

    /** The bound address. */
    public InetAddress address() { return server.getInetAddress(); }

    /** Requests being handled now. */
    public int inFlight() { return inFlight.get(); }

    private void accept() {
        while (!closing.get()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (closing.get() || server.isClosed()) return;
                continue;
            }
            Connection c = new Connection(s);
            if (connections.size() >= limits.maxConnections()) {
                Thread.ofVirtual().start(() -> c.refuse(503, "too many connections (the server allows " + limits.maxConnections() + ")"));
                continue;
            }
            connections.add(c);
            Thread t = Thread.ofVirtual().name("rationale-http-conn").unstarted(c::serve);
            threads.add(t);
            t.start();
        }
    }

    /**
     * Graceful shutdown: no new connections or requests; requests in flight finish and are answered (within
     * {@code grace}); then every connection is closed.
     *
     * @return whether every request in flight finished within the grace period
     */
    public boolean shutdown(Duration grace) {
        if (!closing.compareAndSet(false, true)) return inFlight.get() == 0;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Connection c : connections) if (c.idle) c.close();
        long deadline = System.nanoTime() + grace.toNanos();
        boolean clean = true;
        for (Thread t : threads) {
            long left = deadline - System.nanoTime();
            try {
                if (left <= 0 || !t.join(Duration.ofNanos(left))) clean = false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                clean = false;
                break;
            }
        }
        for (Connection c : connections) c.close();
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return clean;
    }

    @Override
    public void close() { shutdown(Duration.ZERO); }

    // ------------------------------------------------------------------ a connection

    /** A request that could not be read; answered with {@link #status} and the connection closed. */
    private static final class BadRequest extends Exception {
        final int status;

        BadRequest(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private final class Connection {
        final Socket socket;
        volatile boolean idle = true;
        private BufferedInputStream in;
        private OutputStream out;

        Connection(Socket socket) { this.socket = socket; }

        void refuse(int status, String message) {
            try (socket) {
                socket.setSoTimeout(1000);
                write(socket.getOutputStream(), errors.error(status, message), true, false, false);
            } catch (IOException ignored) {
                // the client is gone
            }
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }

        void serve() {
            try {
                socket.setTcpNoDelay(true);
                in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
                out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
                while (!closing.get()) {
                    idle = true;
                    socket.setSoTimeout((int) limits.idleTimeout().toMillis());
                    in.mark(1);
                    int first = in.read();
                    if (first < 0) return;
                    in.reset();
                    idle = false;
                    if (closing.get()) return;
                    AutoCloseable ticket = arrivals.get();
                    try {
                        socket.setSoTimeout((int) limits.readTimeout().toMillis());
                        Request req;
                        try {
                            req = read();
                        } catch (BadRequest e) {
                            write(out, errors.error(e.status, e.getMessage()), true, false, false);
                            return;
                        }
                        if (!handle(req, ticket)) return;
                    } finally {
                        closeQuietly(ticket);
                    }
                }
            } catch (SocketTimeoutException | EOFException | SocketException e) {
                // idle too long, cut off mid-request, or closed by shutdown
            } catch (IOException e) {
                // the client is gone
            } finally {
                close();
                connections.remove(this);
                threads.remove(Thread.currentThread());
            }
        }

        /** Handles one request while watching for a disconnect; returns whether the connection stays open. */
        private boolean handle(Request req, AutoCloseable ticket) throws IOException {
            boolean keepAlive = keepAlive(req);
            Watch watch = new Watch(ticket);
            Response[] response = new Response[1];
            boolean[] streamedClean = new boolean[1];
            inFlight.incrementAndGet();
            Thread worker = Thread.ofVirtual().name("rationale-http-req").start(() -> {
                try {
                    response[0] = handler.handle(req, watch);
                } catch (Throwable t) {
                    response[0] = errors.error(500, "internal error: " + (t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage()));
                }
                if (response[0].streamer() != null && !watch.disconnected())
                    streamedClean[0] = stream(req, response[0], !keepAlive || closing.get(), watch);
            });
            Thread watcher = Thread.ofVirtual().name("rationale-http-watch").start(() -> watch.run(worker));
            try {
                worker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } finally {
                inFlight.decrementAndGet();
            }
            watch.stop();
            if (response[0].streamer() != null) {
                try {
                    watcher.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
                return streamedClean[0];
            }
            boolean close = !keepAlive || closing.get();
            if (!watch.disconnected()) write(out, response[0], close, req.version().equals("HTTP/1.0"), req.method().equals("HEAD"));
            try {
                watcher.join();          // at once when the next request's first byte arrives
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            return !close && !watch.disconnected();
        }

        /**
         * Sends a streamed response: the head, then each piece the streamer sends as a chunk (as it is, to an HTTP/1.0
         * client), then the last chunk. Returns whether the connection may stay open.
         */
        private boolean stream(Request req, Response r, boolean close, Watch watch) {
            boolean http10 = req.version().equals("HTTP/1.0");
            try {
                out.write(head(r, http10 ? null : "Transfer-Encoding: chunked", close || http10 ? "close" : null));
                out.flush();
                r.streamer().write(piece -> {
                    if (piece.length == 0) return;
                    try {
                        if (!http10) out.write((Integer.toHexString(piece.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                        out.write(piece);
                        if (!http10) out.write(CRLF);
                        out.flush();
                    } catch (IOException e) {
                        watch.disconnect();
                        throw e;
                    }
                });
                if (!http10) out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                return !close && !http10;
            } catch (IOException | RuntimeException e) {
                watch.disconnect();      // gone, or cut off: either way the connection ends here
                return false;
            }
        }

        /** Reads the connection while a handler runs: EOF or a reset is a disconnect. */
        private final class Watch implements Exchange {
            private final List<Runnable> callbacks = new CopyOnWriteArrayList<>();
            private final AutoCloseable ticket;
            private volatile boolean gone, stopped;

            Watch(AutoCloseable ticket) { this.ticket = ticket; }

            @Override
            public AutoCloseable arrival() { return ticket; }

            void run(Thread worker) {
                try {
                    socket.setSoTimeout(200);
                    while (!stopped && worker.isAlive()) {
                        try {
                            in.mark(1);
                            int b = in.read();
                            if (b < 0) {
                                if (!stopped) disconnect();
                                return;
                            }
                            in.reset();          // a pipelined request: keep it, stop watching
                            return;
                        } catch (SocketTimeoutException e) {
                            // still connected
                        }
                    }
                } catch (IOException e) {
                    if (!stopped) disconnect();
                }
            }

            void stop() { stopped = true; }

            private synchronized void disconnect() {
                if (gone) return;
                gone = true;
                for (Runnable r : callbacks) r.run();
            }

            @Override
            public void onDisconnect(Runnable r) {
                callbacks.add(r);
                if (gone) r.run();
            }

            @Override
            public boolean disconnected() { return gone; }
        }

        private Request read() throws IOException, BadRequest {
            int[] budget = {limits.maxHeaderBytes()};
            String line = readLine(budget);
            String[] parts = line.split(" ", -1);
            if (parts.length != 3) throw new BadRequest(400, "malformed request line '" + printable(line) + "'");
            String method = parts[0], target = parts[1], version = parts[2];
            if (!METHODS.contains(method)) throw new BadRequest(501, "unknown HTTP method '" + printable(method) + "'");
            if (!version.equals("HTTP/1.1") && !version.equals("HTTP/1.0")) throw new BadRequest(505, "HTTP version '" + printable(version) + "' is not supported");
            if (!target.startsWith("/")) throw new BadRequest(400, "the request target must be a path, got '" + printable(target) + "'");
            Map<String, String> headers = new LinkedHashMap<>();
            for (String h; !(h = readLine(budget)).isEmpty(); ) {
                int colon = h.indexOf(':');
                if (colon <= 0) throw new BadRequest(400, "malformed header line '" + printable(h) + "'");
                String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = h.substring(colon + 1).trim();
                headers.merge(name, value, (a, b) -> a + ", " + b);
            }
            int q = target.indexOf('?');
            String path = q < 0 ? target : target.substring(0, q), query = q < 0 ? "" : target.substring(q + 1);
            String te = headers.get("transfer-encoding");
            String cl = headers.get("content-length");
            byte[] body;
            if (te != null) {
                if (!te.equalsIgnoreCase("chunked")) throw new BadRequest(501, "transfer encoding '" + printable(te) + "' is not supported");
                continueIfExpected(headers);
                body = readChunked();
            } else if (cl != null) {
                long n;
                try {
                    n = Long.parseLong(cl);
                } catch (NumberFormatException e) {
                    throw new BadRequest(400, "malformed Content-Length '" + printable(cl) + "'");
                }
                if (n < 0) throw new BadRequest(400, "negative Content-Length");
                if (n > limits.maxBodyBytes()) throw new BadRequest(413, "request body of " + n + " bytes exceeds the limit of " + limits.maxBodyBytes() + " bytes");
                continueIfExpected(headers);
                body = in.readNBytes((int) n);
                if (body.length < n) throw new EOFException("body cut off");
            } else {
                body = new byte[0];
            }
            String remote = socket.getRemoteSocketAddress() instanceof InetSocketAddress a ? a.getAddress().getHostAddress() : "?";
            return new Request(method, target, path, query, version, Map.copyOf(headers), body, remote);
        }

        private void continueIfExpected(Map<String, String> headers) throws IOException {
            String expect = headers.get("expect");
            if (expect != null && expect.equalsIgnoreCase("100-continue")) {
                out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        }

        private byte[] readChunked() throws IOException, BadRequest {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            int[] budget = {limits.maxHeaderBytes()};
            while (true) {
                String sizeLine = readLine(budget);
                int semi = sizeLine.indexOf(';');
                long size;
                try {
                    size = Long.parseLong((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
                } catch (NumberFormatException e) {
                    throw new BadRequest(400, "malformed chunk size '" + printable(sizeLine) + "'");
                }
                if (size < 0 || body.size() + size > limits.maxBodyBytes())
                    throw new BadRequest(413, "request body exceeds the limit of " + limits.maxBodyBytes() + " bytes");
                if (size == 0) {
                    while (!readLine(budget).isEmpty()) {
                        // trailers are ignored
                    }
                    return body.toByteArray();
                }
                byte[] chunk = in.readNBytes((int) size);
                if (chunk.length < size) throw new EOFException("chunk cut off");
                body.write(chunk);
                if (!readLine(budget).isEmpty()) throw new BadRequest(400, "a chunk does not end with CRLF");
            }
        }

        /** One line (CRLF or LF), ISO-8859-1, counted against the header budget. */
        private String readLine(int[] budget) throws IOException, BadRequest {
            StringBuilder sb = new StringBuilder();
            while (true) {
                int b = in.read();
                if (b < 0) throw new EOFException("connection closed mid-request");
                if (--budget[0] < 0) throw new BadRequest(431, "request headers exceed the limit of " + limits.maxHeaderBytes() + " bytes");
                if (b == '\n') {
                    int n = sb.length();
                    if (n > 0 && sb.charAt(n - 1) == '\r') sb.setLength(n - 1);
                    return sb.toString();
                }
                sb.append((char) b);
            }
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // tickets do not fail
        }
    }

    private static final byte[] CRLF = {'\r', '\n'};

    private static boolean keepAlive(Request r) {
        String c = r.header("connection");
        if (c != null && c.toLowerCase(Locale.ROOT).contains("close")) return false;
        if (r.version().equals("HTTP/1.0")) return c != null && c.toLowerCase(Locale.ROOT).contains("keep-alive");
        return true;
    }

    private static void write(OutputStream out, Response r, boolean close, boolean http10, boolean head) throws IOException {
        out.write(head(r, "Content-Length: " + r.body().length, close ? "close" : http10 ? "keep-alive" : null));
        if (!head) out.write(r.body());
        out.flush();
    }

    /**
     * The status line and headers; {@code framing}: how the body's end is known (null: the connection's end);
     * {@code connection}: the Connection header's value (null: none, HTTP/1.1's keep-alive).
     */
    private static byte[] head(Response r, String framing, String connection) {
        StringBuilder h = new StringBuilder();
        h.append("HTTP/1.1 ").append(r.status()).append(' ').append(reason(r.status())).append("\r\n");
        h.append("Content-Type: ").append(r.contentType()).append("\r\n");
        if (framing != null) h.append(framing).append("\r\n");
        for (var e : r.headers().entrySet()) h.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
        if (connection != null) h.append("Connection: ").append(connection).append("\r\n");
        h.append("\r\n");
        return h.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 408 -> "Request Timeout";
            case 413 -> "Content Too Large";
            case 415 -> "Unsupported Media Type";
            case 429 -> "Too Many Requests";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 501 -> "Not Implemented";
            case 503 -> "Service Unavailable";
            case 505 -> "HTTP Version Not Supported";
            default -> "Status " + status;
        };
    }

    private static String printable(String s) {
        String t = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        StringBuilder sb = new StringBuilder();
        for (char c : t.toCharArray()) sb.append(c < 0x20 || c == 0x7f ? '?' : c);
        return sb.toString();
    }
}
