package io.rationale.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A fixed pool of worker threads that runs numbered tasks: the calling thread and {@code threads - 1} workers take
 * task indices from a shared counter until none are left, so faster threads take more of them, and the caller never
 * waits for a worker that has not started (on a busy machine it may simply do all the tasks itself). Workers spin
 * briefly between jobs, then park.
 */
public final class Parallel implements AutoCloseable {
    private static final long SPIN_NANOS = 50_000;

    private final int threads;
    private final Thread[] workers;
    private volatile Job job;                       // the running job, null between jobs
    private long generation;
    private volatile boolean closed;

    /** One forEach call: the task counter, the number of threads inside it, the first failure. */
    private static final class Job {
        final int tasks;
        final IntConsumer body;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger inside = new AtomicInteger();
        final Thread caller;
        final long generation;
        volatile Throwable failure;

        Job(int tasks, IntConsumer body, Thread caller, long generation) {
            this.tasks = tasks;
            this.body = body;
            this.caller = caller;
            this.generation = generation;
        }

        /** Takes and runs tasks until none are left. */
        void work() {
            for (int i = next.getAndIncrement(); i < tasks; i = next.getAndIncrement()) {
                try {
                    body.accept(i);
                } catch (Throwable e) {
                    if (failure == null) failure = e;
                    next.set(tasks);
                }
            }
        }
    }

    /** A pool of {@code threads} threads in all (the caller counts as one); 1 runs everything on the caller. */
    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int w = 0; w < workers.length; w++) {
            workers[w] = new Thread(this::loop, "rationale-cpu-" + (w + 1));
            workers[w].setDaemon(true);
            workers[w].start();
        }
    }

    public int threads() { return threads; }

    private void loop() {
        long done = 0;                                  // generation of the last job this worker joined
        while (!closed) {
            Job j = job;
            if (j == null || j.generation == done) {
                long until = System.nanoTime() + SPIN_NANOS;
                while (((j = job) == null || j.generation == done) && !closed && System.nanoTime() < until) Thread.onSpinWait();
                if (j == null || j.generation == done) {
                    LockSupport.park(this);             // forEach unparks every worker after publishing a job
                    continue;
                }
            }
            done = j.generation;
            j.inside.incrementAndGet();
            j.work();
            if (j.inside.decrementAndGet() == 0) LockSupport.unpark(j.caller);
        }
    }

    /**
     * Runs {@code body.accept(i)} for every i in [0, tasks) and returns when all have finished. Calls from several
     * threads take turns; a task must not call forEach itself.
     */
    public synchronized void forEach(int tasks, IntConsumer body) {
        if (tasks <= 0) return;
        if (workers.length == 0 || tasks == 1) {
            for (int i = 0; i < tasks; i++) body.accept(i);
            return;
        }
        if (closed) throw new IllegalStateException("pool closed");
        Job j = new Job(tasks, body, Thread.currentThread(), ++generation);
        j.inside.incrementAndGet();
        job = j;
        for (Thread w : workers) LockSupport.unpark(w);
        j.work();
        j.inside.decrementAndGet();
        long until = System.nanoTime() + SPIN_NANOS;  // wait only for workers that took part; the last one unparks us
        while (j.inside.get() != 0) {
            if (System.nanoTime() < until) Thread.onSpinWait();
            else LockSupport.parkNanos(this, 100_000);
        }
        job = null;
        Throwable f = j.failure;
        if (f instanceof RuntimeException re) throw re;
        if (f instanceof Error er) throw er;
        if (f != null) throw new IllegalStateException(f);
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
