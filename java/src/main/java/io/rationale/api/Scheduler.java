package io.rationale.api;

import io.rationale.attribution.AttributionBatch;
import io.rationale.attribution.AttributionSet;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * The one thread that runs a backend's passes, and the batching of concurrent work into shared passes.
 *
 * <p>Callers on any thread {@link #submit} jobs and wait on their futures; the engine thread takes them in arrival
 * order. Each turn of its loop it
 * <ol>
 *   <li>takes the oldest queued job that is not a generation, together with every other queued job that can share
 *       its pass ({@link Job#batchKey}: forwards with forwards, attribution runs asking for the same methods with
 *       each other), at most {@code maxConcurrent} of them, and runs them as one batch;</li>
 *   <li>runs one step of every generation in progress, and of the queued generations that join now (their prompts
 *       packed into the same forward as the others' next tokens: continuous batching).</li>
 * </ol>
 * Before it starts a batch while no generation is running, the engine thread waits up to the batching window for
 * requests that have {@linkplain #arriving() arrived} but not yet been submitted (a server counts a request from
 * its first byte to its submission), and, within one window of the last batch's end (or an eighth of its pass when
 * longer: {@link #returnWindow}), for the jobs of that batch's clients to come back ({@link #returning}), so concurrent clients share one pass; a lone request never waits.
 *
 * <p>A failed batched pass is run again job by job, so one bad request fails alone; a generation step that fails
 * rolls every cache back to its length before the step first. A cancelled job ({@code future.cancel}) is dropped
 * when the engine thread reaches it: before its pass if still queued, at its next step if generating (its cache is
 * freed); a pass already running finishes and its result is discarded. Work that runs many passes as one job (an
 * integrated gradients or occlusion run: {@link SoloJob}s made with a {@link Cancellable} body) checks
 * {@link Job#cancelled()} between its passes and stops at the next check ({@link CancellationException}); a batch of
 * attribution jobs stops before its next pass once all of its jobs are cancelled.
 */
final class Scheduler implements AutoCloseable {

    /** A unit of work; completes its future. */
    abstract static sealed class Job<T> permits ForwardJob, AttributionJob, SoloJob, GenerationJob {
        final CompletableFuture<T> future = new CompletableFuture<>();

        /** Jobs with the same non-null key share one pass; null runs alone. */
        abstract Object batchKey();

        boolean live() { return !future.isDone(); }

        /** The check that long work asks between its passes: true once the future is done (cancelled) from outside. */
        final BooleanSupplier cancelled() { return () -> !live(); }
    }

    /** A forward pass with logits at every position, reduced to what the caller needs on the engine thread. */
    static final class ForwardJob<T> extends Job<T> {
        final int[] ids;
        final ForwardReducer<T> reduce;

        ForwardJob(int[] ids, ForwardReducer<T> reduce) {
            this.ids = ids.clone();
            this.reduce = reduce;
        }

        @Override
        Object batchKey() { return ForwardJob.class; }
    }

    /** Turns one sequence's rows of a forward into a result. */
    @FunctionalInterface
    interface ForwardReducer<T> {
        T reduce(Logits logits, int seq, double seconds);
    }

    /** An attribution run that batches with others asking for the same methods. */
    static final class AttributionJob extends Job<AttributionSet> {
        final AttributionBatch.Item item;

        AttributionJob(AttributionBatch.Item item) { this.item = item; }

        @Override
        Object batchKey() { return item.methods(); }
    }

    /** Work that runs alone on the backend. */
    static final class SoloJob<T> extends Job<T> {
        final Cancellable<T> work;

        SoloJob(Function<Backend, T> work) { this.work = (b, cancelled) -> work.apply(b); }

        /** Work of many passes that asks {@code cancelled} between them, and stops when it says so. */
        SoloJob(Cancellable<T> work) { this.work = work; }

        @Override
        Object batchKey() { return null; }
    }

    /** The body of a {@link SoloJob} that can stop early: {@code cancelled} says when its job was cancelled. */
    @FunctionalInterface
    interface Cancellable<T> {
        T apply(Backend backend, BooleanSupplier cancelled);
    }

    private final Backend backend;
    private final long windowNanos;
    private final int maxConcurrent, maxQueue;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Job<?>> queue = new ArrayDeque<>();
    private final List<GenerationJob> decoding = new ArrayList<>();
    private final AtomicInteger arriving = new AtomicInteger();
    private final Thread thread;
    private int running;                 // jobs of the batch being run (under lock)
    private boolean closed;
    private long batches, batchedJobs, steps, generations;
    private int expected;                // jobs the next batch waits for: see returning() (under lock)
    private long lastBatchEnd;           // System.nanoTime() when it ended (under lock)
    private long lastBatchNanos;         // how long it ran (under lock)

    /** The longest wait for the last batch's clients to come back, however long its pass took. */
    static final long MAX_RETURN_WAIT_NANOS = 1_000_000_000L;

    /**
     * @param windowNanos   how long a batch waits for arriving requests at most
     * @param maxConcurrent jobs the engine works on at once (one batch plus the generations in progress)
     * @param maxQueue      jobs that may wait beyond those; more are refused with {@link BusyException}
     */
    Scheduler(Backend backend, long windowNanos, int maxConcurrent, int maxQueue) {
        if (maxConcurrent < 1) throw new IllegalArgumentException("max concurrent must be >= 1, got " + maxConcurrent);
        if (maxQueue < 0) throw new IllegalArgumentException("max queue must be >= 0, got " + maxQueue);
        this.backend = backend;
        this.windowNanos = Math.max(0, windowNanos);
        this.maxConcurrent = maxConcurrent;
        this.maxQueue = maxQueue;
        this.thread = Thread.ofPlatform().name("rationale-engine").daemon(true).start(this::loop);
    }

    /** Requests announced and not yet submitted; see {@link #arriving()}. */
    int arrivingCount() { return arriving.get(); }

    /**
     * Announces a request that will submit a job soon (a server calls this when a request's first byte arrives);
     * close the ticket when it has submitted or given up. While tickets are open a new batch waits (up to the
     * window) so that their jobs join it.
     */
    /** An announcement of {@link #arriving()}: closing it twice is harmless, and closing throws nothing. */
    interface Ticket extends AutoCloseable {
        @Override
        void close();
    }

    Ticket arriving() {
        arriving.incrementAndGet();
        boolean[] closedTicket = {false};
        return () -> {
            synchronized (closedTicket) {
                if (closedTicket[0]) return;
                closedTicket[0] = true;
            }
            arriving.decrementAndGet();
            signal();
        };
    }

    /**
     * Queues a job.
     *
     * @throws BusyException when {@code maxQueue} jobs already wait
     * @throws IllegalStateException after {@link #close()}
     */
    <T> CompletableFuture<T> submit(Job<T> job) {
        lock.lock();
        try {
            if (closed) throw shutDown();
            if (queue.size() >= maxQueue + Math.max(0, maxConcurrent - running - decoding.size()))
                throw new BusyException(queue.size() + " requests are waiting (the queue holds " + maxQueue + "); try again later");
            queue.add(job);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        return job.future;
    }

    /** @throws IllegalStateException after {@link #shutdown} began: nothing new is taken */
    void checkOpen() {
        lock.lock();
        try {
            if (closed) throw shutDown();
        } finally {
            lock.unlock();
        }
    }

    private static IllegalStateException shutDown() { return new IllegalStateException("the engine is shut down"); }

    /** Jobs waiting, and jobs being worked on (batch plus generations). */
    int[] load() {
        lock.lock();
        try {
            return new int[]{queue.size(), running + decoding.size()};
        } finally {
            lock.unlock();
        }
    }

    /** Batches run and the jobs in them (how much batching happened), generation steps run and generations admitted. */
    long[] batchStats() {
        lock.lock();
        try {
            return new long[]{batches, batchedJobs, steps, generations};
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the clients of the last batch are likely coming back: the last batch ended less than one
     * {@link #returnWindow} ago, and
     * fewer jobs are queued than that batch held plus the jobs that were queued when it ended. Clients that send their
     * next request as soon as they have an answer (an eval harness's workers, a load test) then share the next pass,
     * instead of the first of them running alone while the others queue behind it (and instead of staying split into
     * groups that take turns); the wait ends one {@link #returnWindow} after the last batch at the latest, and a lone client (a
     * batch of one, nothing queued) never waits. Under the lock.
     */
    private boolean returning() {
        return queue.size() < expected && System.nanoTime() - lastBatchEnd < returnWindow();
    }

    /**
     * How long after the last batch its clients are waited for: the batching window, or an eighth of that batch's
     * pass when longer (at most {@link #MAX_RETURN_WAIT_NANOS}). A client whose answer, next request and parsing take
     * longer than the window would otherwise miss the next pass and wait a whole pass for the one after; waiting an
     * eighth of a pass costs the clients already there at most an eighth of their latency. Under the lock.
     */
    private long returnWindow() {
        return Math.max(windowNanos, Math.min(lastBatchNanos / 8, MAX_RETURN_WAIT_NANOS));
    }

    private void signal() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ the engine thread

    private void loop() {
        while (true) {
            List<Job<?>> batch = new ArrayList<>();
            List<GenerationJob> joining = new ArrayList<>();
            lock.lock();
            try {
                while (queue.isEmpty() && decoding.isEmpty()) {
                    if (closed) return;
                    changed.awaitUninterruptibly();
                }
                if (decoding.isEmpty() && windowNanos > 0 && (arriving.get() > 0 || returning())) {
                    long deadline = System.nanoTime() + (returning() ? returnWindow() : windowNanos);
                    for (long left; !closed && (arriving.get() > 0 || returning()) && (left = deadline - System.nanoTime()) > 0; ) {
                        try {
                            changed.awaitNanos(left);
                        } catch (InterruptedException e) {
                            break;
                        }
                    }
                }
                int room = maxConcurrent - decoding.size();
                Object key = null;
                for (Iterator<Job<?>> it = queue.iterator(); it.hasNext(); ) {
                    Job<?> j = it.next();
                    if (!j.live()) {
                        it.remove();
                        continue;
                    }
                    if (j instanceof GenerationJob g) {
                        if (joining.size() + batch.size() < room) {
                            it.remove();
                            joining.add(g);
                        }
                        continue;
                    }
                    if (batch.size() + joining.size() >= room) continue;
                    if (batch.isEmpty()) {
                        it.remove();
                        batch.add(j);
                        key = j.batchKey();
                    } else if (key != null && key.equals(j.batchKey())) {
                        it.remove();
                        batch.add(j);
                    }
                }
                if (batch.isEmpty() && joining.isEmpty() && decoding.isEmpty()) continue;   // all cancelled
                running = batch.size() + joining.size();
                if (!batch.isEmpty()) {
                    batches++;
                    batchedJobs += batch.size();
                }
                if (!joining.isEmpty() || !decoding.isEmpty()) steps++;
                generations += joining.size();
            } finally {
                lock.unlock();
            }
            long started = System.nanoTime();
            try {
                if (!batch.isEmpty()) runBatch(batch);
                if (!joining.isEmpty() || !decoding.isEmpty()) GenerationJob.step(backend, decoding, joining);
            } catch (Throwable t) {
                // a bug in the loop itself: fail what it held, keep serving
                for (Job<?> j : batch) j.future.completeExceptionally(new EngineException("engine failure: " + message(t), t));
            } finally {
                lock.lock();
                try {
                    if (!batch.isEmpty()) {
                        lastBatchEnd = System.nanoTime();
                        lastBatchNanos = lastBatchEnd - started;
                        expected = Math.min(maxConcurrent, batch.size() + queue.size());
                    }
                    running = 0;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    private void runBatch(List<Job<?>> batch) {
        Job<?> first = batch.getFirst();
        switch (first) {
            case ForwardJob<?> f -> runForwards(batch);
            case AttributionJob a -> runAttributions(batch);
            case SoloJob<?> s -> runSolo(s);
            case GenerationJob g -> throw new IllegalStateException("generations are stepped, not batched");
        }
    }

    @SuppressWarnings("unchecked")
    private void runForwards(List<Job<?>> batch) {
        List<ForwardJob<Object>> jobs = new ArrayList<>();
        for (Job<?> j : batch) jobs.add((ForwardJob<Object>) j);
        try {
            long t0 = System.nanoTime();
            List<int[]> ids = new ArrayList<>(jobs.size());
            for (ForwardJob<Object> j : jobs) ids.add(j.ids);
            Logits l = backend.forward(ids, null, ForwardOptions.of(LogitsMode.ALL));
            double seconds = (System.nanoTime() - t0) / 1e9;
            for (int s = 0; s < jobs.size(); s++) {
                ForwardJob<Object> j = jobs.get(s);
                int seq = s;
                complete(j, () -> j.reduce.reduce(l, seq, seconds));
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            if (jobs.size() == 1) {
                fail(jobs.getFirst(), e);
                return;
            }
            for (ForwardJob<Object> j : jobs) runForwards(List.of(j));   // one by one: the bad one fails alone
        }
    }

    private void runAttributions(List<Job<?>> batch) {
        List<AttributionJob> jobs = new ArrayList<>();
        for (Job<?> j : batch) {
            AttributionJob a = (AttributionJob) j;
            if (a.live()) jobs.add(a);
        }
        if (jobs.isEmpty()) return;
        if (!AttributionBatch.batchable(jobs.getFirst().item.methods())) {
            for (AttributionJob a : jobs)
                complete(a, () -> new io.rationale.attribution.Attributor(backend, a.cancelled()).run(a.item.in(), a.item.target(), a.item.methods(), a.item.options()));
            return;
        }
        List<AttributionJob> ok = new ArrayList<>();
        for (AttributionJob a : jobs) {
            try {
                AttributionBatch.check(backend, a.item);
                ok.add(a);
            } catch (RuntimeException e) {
                a.future.completeExceptionally(e);
            }
        }
        if (ok.isEmpty()) return;
        List<AttributionBatch.Item> items = new ArrayList<>(ok.size());
        for (AttributionJob a : ok) items.add(a.item);
        try {
            List<AttributionSet> out = AttributionBatch.run(backend, items, () -> ok.stream().noneMatch(AttributionJob::live));
            for (int i = 0; i < ok.size(); i++) ok.get(i).future.complete(out.get(i));
        } catch (CancellationException e) {
            // every job of the batch was cancelled: their futures are done already
        } catch (RuntimeException | OutOfMemoryError e) {
            if (ok.size() == 1) {
                fail(ok.getFirst(), e);
                return;
            }
            for (AttributionJob a : ok) runAttributions(List.of(a));
        }
    }

    private <T> void runSolo(SoloJob<T> s) {
        complete(s, () -> s.work.apply(backend, s.cancelled()));
    }

    private interface Work<T> {
        T get();
    }

    private static <T> void complete(Job<T> job, Work<T> work) {
        if (!job.live()) return;
        try {
            job.future.complete(work.get());
        } catch (RuntimeException | OutOfMemoryError e) {
            fail(job, e);
        }
    }

    /** Request errors (bad arguments) stay what they are; anything else is the engine's failure. */
    static void fail(Job<?> job, Throwable e) {
        job.future.completeExceptionally(classify(e));
    }

    static Throwable classify(Throwable e) {
        if (e instanceof IllegalArgumentException || e instanceof UnsupportedOperationException || e instanceof EngineException
                || e instanceof CancellationException) return e;
        if (e instanceof OutOfMemoryError) return new EngineException("out of memory (raise -Xmx with RATIONALE_JVM_OPTS)", e);
        return new EngineException("engine failure: " + message(e), e);
    }

    static String message(Throwable e) {
        String m = e.getMessage();
        return (m == null || m.isBlank() ? e.getClass().getSimpleName() : m).replace('\n', ' ');
    }

    /**
     * Stops taking jobs: queued jobs are cancelled only if {@code drain} is false; otherwise the engine thread
     * finishes them and every generation first. Waits up to {@code timeoutMillis} for the thread to end.
     *
     * @return whether the engine thread ended in time
     */
    boolean shutdown(boolean drain, long timeoutMillis) {
        lock.lock();
        try {
            closed = true;
            if (!drain) {
                for (Job<?> j : queue) j.future.cancel(false);
                queue.clear();
                for (GenerationJob g : decoding) g.future.cancel(false);
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(Math.max(1, timeoutMillis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }

    @Override
    public void close() {
        shutdown(false, TimeUnit.SECONDS.toMillis(30));
    }
}
