/*
 * pool - a fixed set of worker threads for blocking work (write, fsync,
 * statvfs) so the event loop never waits on the disk.
 *
 * A job's work() runs on a worker thread; its done() then runs on the
 * event loop thread, in the loop's own callback, so done() may touch
 * session state freely. Jobs are owned by the submitter; the pool only
 * links them. Threads are created once, never per job.
 */
#ifndef TERN_POOL_H
#define TERN_POOL_H

struct event_base;
struct pool;

struct pool_job {
	void (*work)(struct pool_job *job); /* worker thread */
	void (*done)(struct pool_job *job); /* event loop thread */
	struct pool_job *next;              /* owned by the pool while queued */
};

struct pool *pool_new(struct event_base *base, unsigned nthreads);
void pool_submit(struct pool *p, struct pool_job *job);
unsigned pool_pending(const struct pool *p);
void pool_free(struct pool *p);

#endif
