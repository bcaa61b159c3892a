/*
 * test_pool - the worker pool on a real libevent loop: every job's work()
 * runs once on a worker, its done() once on the loop thread; pending
 * counts back to zero; pool_free() finishes queued jobs, including ones
 * submitted by done() meanwhile; every queued job wakes a worker, and the
 * worker idle last is the one woken. Meant to run under TSan as well.
 *
 * Worker-side code only records what it saw; all checks run on the main
 * thread, since cmocka's asserts are not thread-safe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "event/pool.h"

#include "unit_check.h"

struct ctx;

struct tjob {
	struct pool_job job; /* first: a pool_job * is a tjob * */
	struct ctx *ctx;
	unsigned id;
	unsigned work_runs;   /* written by the worker */
	int work_on_loop;     /* work() ran on the loop thread */
	unsigned work_seq;    /* order in which work() started */
	unsigned done_runs;
	int done_off_loop;    /* done() ran on another thread */
	unsigned done_seq;
	unsigned resubmit;    /* done() submits the job again this often */
	unsigned sleep_us;    /* in work() */
	pthread_t worker;     /* the thread that ran work() */
	pthread_barrier_t *meet; /* work() waits here for the others */
};

struct ctx {
	pthread_t loop_thread;
	struct event_base *base;
	struct pool *pool;
	unsigned want_done;
	unsigned ndone;       /* loop thread only */
	pthread_mutex_t seq_lock;
	unsigned work_seq;
};

static void
job_work(struct pool_job *pj)
{
	struct tjob *j = (struct tjob *)pj;
	struct ctx *c = j->ctx;

	j->work_runs++;
	j->worker = pthread_self();
	j->work_on_loop = pthread_equal(pthread_self(), c->loop_thread);
	if (j->meet != NULL)
		pthread_barrier_wait(j->meet);
	pthread_mutex_lock(&c->seq_lock);
	j->work_seq = c->work_seq++;
	pthread_mutex_unlock(&c->seq_lock);
	if (j->sleep_us > 0) {
		struct timespec ts = { 0, (long)j->sleep_us * 1000 };

		nanosleep(&ts, NULL);
	}
}

static void
job_done(struct pool_job *pj)
{
	struct tjob *j = (struct tjob *)pj;
	struct ctx *c = j->ctx;

	j->done_runs++;
	if (!pthread_equal(pthread_self(), c->loop_thread))
		j->done_off_loop = 1;
	j->done_seq = c->ndone++;
	if (j->resubmit > 0) {
		j->resubmit--;
		pool_submit(c->pool, &j->job);
		return;
	}
	if (c->ndone == c->want_done)
		event_base_loopbreak(c->base);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

static struct tjob *
make_jobs(struct ctx *c, unsigned n)
{
	struct tjob *jobs = calloc(n, sizeof(*jobs));
	unsigned i;

	assert_non_null(jobs);
	for (i = 0; i < n; i++) {
		jobs[i].job.work = job_work;
		jobs[i].job.done = job_done;
		jobs[i].ctx = c;
		jobs[i].id = i;
	}
	return jobs;
}

static void
ctx_init(struct ctx *c, unsigned nthreads)
{
	c->loop_thread = pthread_self();
	c->base = event_base_new();
	assert_non_null(c->base);
	c->pool = pool_new(c->base, nthreads);
	assert_non_null(c->pool);
	c->ndone = 0;
	c->work_seq = 0;
	pthread_mutex_init(&c->seq_lock, NULL);
}

static void
ctx_free(struct ctx *c)
{
	pool_free(c->pool);
	event_base_free(c->base);
	pthread_mutex_destroy(&c->seq_lock);
}

/* Run the loop until want_done completions, with a 60 s guard. */
static void
run_loop(struct ctx *c)
{
	struct timeval tv = { 60, 0 };
	struct event *timer;
	int timed_out = 0;

	if (c->ndone == c->want_done)
		return;
	timer = evtimer_new(c->base, on_timeout, &timed_out);
	assert_non_null(timer);
	evtimer_add(timer, &tv);
	event_base_dispatch(c->base);
	event_free(timer);
	if (timed_out)
		fail_msg("loop: got %u completions after 60 s, want %u",
		    c->ndone, c->want_done);
}

static void
check_jobs(const struct tjob *jobs, unsigned n, unsigned runs)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (jobs[i].work_runs != runs || jobs[i].done_runs != runs)
			fail_msg("job %u: got work %u done %u times, want %u",
			    i, jobs[i].work_runs, jobs[i].done_runs, runs);
		if (jobs[i].work_on_loop)
			fail_msg("job %u: got work() on the loop thread", i);
		if (jobs[i].done_off_loop)
			fail_msg("job %u: got done() off the loop thread", i);
	}
}

struct run_case {
	unsigned nthreads;
	unsigned njobs;
	unsigned sleep_us;
};

static void
test_run_jobs(void **state)
{
	static const struct run_case cases[] = {
		{ 1, 1, 0 },
		{ 1, 1000, 0 },
		{ 8, 1000, 0 },
		{ 8, 1000, 50 },
		{ 3, 10000, 0 },
	};
	size_t k;
	unsigned i;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct ctx c;
		struct tjob *jobs;

		ctx_init(&c, cases[k].nthreads);
		jobs = make_jobs(&c, cases[k].njobs);
		c.want_done = cases[k].njobs;
		for (i = 0; i < cases[k].njobs; i++) {
			jobs[i].sleep_us = cases[k].sleep_us;
			pool_submit(c.pool, &jobs[i].job);
		}
		CHECK_INT("pending after submit", pool_pending(c.pool),
		    cases[k].njobs);
		run_loop(&c);
		CHECK_INT("pending after loop", pool_pending(c.pool), 0);
		CHECK_INT("completions", c.ndone, cases[k].njobs);
		check_jobs(jobs, cases[k].njobs, 1);
		ctx_free(&c);
		free(jobs);
	}
}

/* One worker: work() and done() both in submission order. */
static void
test_fifo(void **state)
{
	struct ctx c;
	struct tjob *jobs;
	unsigned i, n = 500;

	(void)state;
	ctx_init(&c, 1);
	jobs = make_jobs(&c, n);
	c.want_done = n;
	for (i = 0; i < n; i++)
		pool_submit(c.pool, &jobs[i].job);
	run_loop(&c);
	for (i = 0; i < n; i++) {
		CHECK_INT("work order", jobs[i].work_seq, i);
		CHECK_INT("done order", jobs[i].done_seq, i);
	}
	ctx_free(&c);
	free(jobs);
}

/* done() may submit again, from the loop and from inside pool_free(). */
static void
test_resubmit_from_done(void **state)
{
	struct ctx c;
	struct tjob *jobs;
	unsigned i, n = 100, again = 4;

	(void)state;
	ctx_init(&c, 4);
	jobs = make_jobs(&c, n);
	c.want_done = n * (again + 1);
	for (i = 0; i < n; i++) {
		jobs[i].resubmit = again;
		pool_submit(c.pool, &jobs[i].job);
	}
	run_loop(&c);
	CHECK_INT("pending", pool_pending(c.pool), 0);
	check_jobs(jobs, n, again + 1);

	for (i = 0; i < n; i++) {
		jobs[i].resubmit = again;
		pool_submit(c.pool, &jobs[i].job);
	}
	ctx_free(&c); /* without running the loop */
	check_jobs(jobs, n, 2 * (again + 1));
	free(jobs);
}

/* pool_free() with jobs still queued: none lost, done() on the caller. */
static void
test_free_with_queued_jobs(void **state)
{
	static const unsigned threads[] = { 1, 2, 8 };
	size_t k;
	unsigned i, n = 200;

	(void)state;
	for (k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
		struct ctx c;
		struct tjob *jobs;

		ctx_init(&c, threads[k]);
		jobs = make_jobs(&c, n);
		c.want_done = n;
		for (i = 0; i < n; i++) {
			jobs[i].sleep_us = 100;
			pool_submit(c.pool, &jobs[i].job);
		}
		ctx_free(&c);
		CHECK_INT("completions", c.ndone, n);
		check_jobs(jobs, n, 1);
		free(jobs);
	}
}

/* The pool shares the loop: other events still run, and it may idle. */
static void
test_idle_pool_and_reuse(void **state)
{
	struct ctx c;
	struct tjob *jobs;
	unsigned i, round;

	(void)state;
	ctx_init(&c, 2);
	jobs = make_jobs(&c, 10);
	/* no jobs: the loop must not spin on the pool's event */
	CHECK_INT("loop with idle pool", event_base_loop(c.base,
	    EVLOOP_NONBLOCK), 0);
	for (round = 1; round <= 3; round++) {
		c.want_done = c.ndone + 10;
		for (i = 0; i < 10; i++)
			pool_submit(c.pool, &jobs[i].job);
		run_loop(&c);
		check_jobs(jobs, 10, round);
	}
	ctx_free(&c);
	free(jobs);
	pool_free(NULL);
}

/*
 * Every queued job wakes an idle worker of its own: n jobs that each wait
 * in work() until all n are running there finish only if n workers run
 * them at once (a lost wake-up shows as the loop's 60 s guard failing).
 */
static void
test_all_workers_woken(void **state)
{
	struct ctx c;
	struct tjob *jobs;
	pthread_barrier_t meet;
	unsigned i, round, n = 8;

	(void)state;
	ctx_init(&c, n);
	jobs = make_jobs(&c, n);
	pthread_barrier_init(&meet, NULL, n);
	for (round = 1; round <= 3; round++) {
		c.want_done = c.ndone + n;
		for (i = 0; i < n; i++) {
			jobs[i].meet = &meet;
			pool_submit(c.pool, &jobs[i].job);
		}
		run_loop(&c);
		check_jobs(jobs, n, round);
	}
	ctx_free(&c);
	pthread_barrier_destroy(&meet);
	free(jobs);
}

/*
 * Jobs one at a time go to the worker idle last, the one that ran the job
 * before, not to each of the 8 in turn. A job submitted before its worker
 * is back on the idle stack goes to another, so each attempt leaves the
 * worker 20 ms to get there, and one of three attempts must see a single
 * thread run all ten jobs.
 */
static void
test_last_idle_worker_first(void **state)
{
	struct timespec gap = { 0, 20 * 1000 * 1000 };
	struct ctx c;
	struct tjob *jobs;
	unsigned i, attempt, same = 0;

	(void)state;
	ctx_init(&c, 8);
	jobs = make_jobs(&c, 10);
	for (attempt = 0; attempt < 3 && same != 10; attempt++) {
		for (i = 0, same = 0; i < 10; i++) {
			nanosleep(&gap, NULL);
			c.want_done = c.ndone + 1;
			pool_submit(c.pool, &jobs[i].job);
			run_loop(&c);
			if (pthread_equal(jobs[i].worker, jobs[0].worker))
				same++;
		}
	}
	CHECK_INT("jobs on the first job's worker", same, 10);
	ctx_free(&c);
	free(jobs);
}

static void
test_new_errors(void **state)
{
	struct event_base *base = event_base_new();

	(void)state;
	assert_non_null(base);
	errno = 0;
	if (pool_new(base, 0) != NULL || errno != EINVAL)
		fail_msg("pool_new(base, 0): got errno %d, want EINVAL", errno);
	errno = 0;
	if (pool_new(NULL, 1) != NULL || errno != EINVAL)
		fail_msg("pool_new(NULL, 1): got errno %d, want EINVAL", errno);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_jobs),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_all_workers_woken),
		cmocka_unit_test(test_last_idle_worker_first),
		cmocka_unit_test(test_resubmit_from_done),
		cmocka_unit_test(test_free_with_queued_jobs),
		cmocka_unit_test(test_idle_pool_and_reuse),
		cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
