/*
 * pool - worker threads for blocking work, with completions delivered
 * back on the event loop thread.
 *
 * The pool owns its threads, a FIFO queue of submitted jobs (mutex and
 * condition variable) and a list of finished jobs (second mutex). A
 * worker that finishes a job puts it on the done list and, if the list
 * had not yet been announced, writes to an eventfd; a persistent event
 * on the loop reads the eventfd, takes the whole list and runs each
 * job's done() in the loop thread. So many completions that land before
 * the loop wakes cost one wakeup. Jobs stay owned by their submitter;
 * the pool only links them through job->next.
 *
 * Worker threads block all signals, so signals reach the loop thread.
 * The pool never calls libevent from a worker, so it does not need
 * evthread_use_pthreads().
 */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

struct pool {
	struct event_base *base;
	struct event *ev;     /* read side of efd, on the loop */
	int efd;              /* eventfd: workers -> loop */
	pthread_t *threads;
	unsigned nthreads;

	pthread_mutex_t qlock; /* guards qhead, qtail, stopping */
	pthread_cond_t qcond;
	struct pool_job *qhead, *qtail;
	int stopping;

	pthread_mutex_t dlock; /* guards dhead, dtail, announced */
	struct pool_job *dhead, *dtail;
	int announced;         /* an eventfd write covers the done list */

	unsigned pending;      /* loop thread only */
};

static void
pool_notify(struct pool *p)
{
	uint64_t one = 1;

	/*
	 * Cannot fail short of a counter overflow (2^64 - 1 writes); a
	 * failure here would mean a lost wakeup, which is a broken
	 * invariant, so retry only EINTR.
	 */
	while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void
pool_finish(struct pool *p, struct pool_job *job)
{
	int wake = 0;

	job->next = NULL;
	pthread_mutex_lock(&p->dlock);
	if (p->dtail != NULL)
		p->dtail->next = job;
	else
		p->dhead = job;
	p->dtail = job;
	if (!p->announced) {
		p->announced = 1;
		wake = 1;
	}
	pthread_mutex_unlock(&p->dlock);
	if (wake)
		pool_notify(p);
}

static void *
pool_worker(void *arg)
{
	struct pool *p = arg;
	struct pool_job *job;

	for (;;) {
		pthread_mutex_lock(&p->qlock);
		while (p->qhead == NULL && !p->stopping)
			pthread_cond_wait(&p->qcond, &p->qlock);
		job = p->qhead;
		if (job == NULL) {
			/* stopping and nothing left to do */
			pthread_mutex_unlock(&p->qlock);
			return NULL;
		}
		p->qhead = job->next;
		if (p->qhead == NULL)
			p->qtail = NULL;
		pthread_mutex_unlock(&p->qlock);

		job->work(job);
		pool_finish(p, job);
	}
}

/* Run done() for every finished job; loop thread only. */
static void
pool_drain(struct pool *p)
{
	struct pool_job *job, *next;
	uint64_t n;

	/*
	 * Read before taking the list: a completion that lands after the
	 * read finds announced == 0 once we have taken the list and writes
	 * again, so no wakeup is lost (at worst one is spurious).
	 */
	while (read(p->efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&p->dlock);
	job = p->dhead;
	p->dhead = p->dtail = NULL;
	p->announced = 0;
	pthread_mutex_unlock(&p->dlock);

	for (; job != NULL; job = next) {
		next = job->next; /* done() may free or resubmit the job */
		job->next = NULL;
		p->pending--;
		job->done(job);
	}
}

static void
pool_event_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_drain(arg);
}

static void
pool_stop_threads(struct pool *p, unsigned n)
{
	unsigned i;

	pthread_mutex_lock(&p->qlock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->qcond);
	pthread_mutex_unlock(&p->qlock);
	for (i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
}

/*
 * pool_new - start nthreads workers whose completions run on base
 *
 * Returns NULL with errno set on failure (EINVAL for nthreads == 0).
 * Free with pool_free() before freeing base.
 */
struct pool *
pool_new(struct event_base *base, unsigned nthreads)
{
	struct pool *p;
	sigset_t all, old;
	unsigned i;
	int err = 0;

	if (base == NULL || nthreads == 0) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->base = base;
	p->efd = -1;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (p->threads == NULL)
		goto fail;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		goto fail;
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, pool_event_cb, p);
	if (p->ev == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	if (event_add(p->ev, NULL) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&p->qlock, NULL);
	pthread_cond_init(&p->qcond, NULL);
	pthread_mutex_init(&p->dlock, NULL);

	/* Workers inherit the mask: keep signals for the loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&p->threads[i], NULL, pool_worker, p);
		if (err != 0)
			break;
		pthread_setname_np(p->threads[i], "tern-pool");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (i < nthreads) {
		pool_stop_threads(p, i);
		pthread_mutex_destroy(&p->qlock);
		pthread_cond_destroy(&p->qcond);
		pthread_mutex_destroy(&p->dlock);
		errno = err;
		goto fail;
	}
	p->nthreads = nthreads;
	return p;

fail:
	err = errno;
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->efd >= 0)
		close(p->efd);
	free(p->threads);
	free(p);
	errno = err;
	return NULL;
}

/*
 * pool_submit - queue a job; loop thread only
 *
 * The job must stay valid until its done() has run; work() must not
 * touch job->next.
 */
void
pool_submit(struct pool *p, struct pool_job *job)
{
	job->next = NULL;
	p->pending++;
	pthread_mutex_lock(&p->qlock);
	if (p->qtail != NULL)
		p->qtail->next = job;
	else
		p->qhead = job;
	p->qtail = job;
	pthread_mutex_unlock(&p->qlock);
	/*
	 * Signalled after unlocking: a worker woken while the lock is still
	 * held would only block on it again (one more futex round trip and
	 * context switch per job, seen in strace).
	 */
	pthread_cond_signal(&p->qcond);
}

/* pool_pending - jobs submitted whose done() has not run yet; loop thread */
unsigned
pool_pending(const struct pool *p)
{
	return p->pending;
}

/*
 * pool_free - finish every job, then stop the workers and free the pool
 *
 * Call from the loop thread, never from inside a done(). Blocks until
 * every submitted job has run work() and done() (done() runs here, in
 * the caller's thread, and may still submit more jobs, which are also
 * finished), so no job is lost at shutdown. NULL is ignored.
 */
void
pool_free(struct pool *p)
{
	struct pollfd pfd;

	if (p == NULL)
		return;
	event_del(p->ev);
	pfd.fd = p->efd;
	pfd.events = POLLIN;
	while (p->pending > 0) {
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) < 0)
			continue; /* EINTR or ENOMEM: wait again */
		pool_drain(p);
	}
	pool_stop_threads(p, p->nthreads);
	event_free(p->ev);
	close(p->efd);
	pthread_mutex_destroy(&p->qlock);
	pthread_cond_destroy(&p->qcond);
	pthread_mutex_destroy(&p->dlock);
	free(p->threads);
	free(p);
}
