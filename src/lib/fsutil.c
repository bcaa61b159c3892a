/*
 * fsutil - path joining, directory fsync and complete writes.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* fs_path - "a/b/c" (or "a/b" when c is NULL); -1 ENAMETOOLONG, never cut */
int
fs_path(char *out, size_t cap, const char *a, const char *b, const char *c)
{
	int n;

	if (c != NULL)
		n = snprintf(out, cap, "%s/%s/%s", a, b, c);
	else
		n = snprintf(out, cap, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
fsync_dir_now(const char *path)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fsync(fd) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (close(fd) < 0 && errno != EINTR)
		return -1;
	return 0;
}

/*
 * Group commit of directory syncs. Workers that link messages into the
 * same new/ (or the spool's env/) at the same time each need "every entry
 * I made is durable", and one fsync of the directory gives that to all
 * entries made before it started. So syncs of one path run one at a time
 * in numbered rounds; a caller waits for the first round that starts
 * after its call, starting it itself when none is running. N concurrent
 * callers cost about two fsyncs instead of N, and none returns before a
 * sync that began after its own changes has succeeded.
 *
 * A failed round fails every caller it covered (and, conservatively,
 * callers that were waiting for an earlier round that its failure
 * overtook). Entries live only while a caller uses them.
 */
#define DSYNC_BUCKETS 64

struct dsync {
	struct dsync *next;
	unsigned long long started; /* rounds begun */
	unsigned long long done;    /* rounds finished (in order) */
	unsigned long long failed;  /* last round that failed, 0 if none */
	int fail_errno;
	int running;
	unsigned users;
	pthread_cond_t cond;
	char path[];
};

static pthread_mutex_t dsync_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dsync *dsync_tab[DSYNC_BUCKETS];

static struct dsync **
dsync_slot(const char *path)
{
	return &dsync_tab[str_hash(path) % DSYNC_BUCKETS];
}

/* the entry for path, made if missing; NULL when out of memory */
static struct dsync *
dsync_get(const char *path)
{
	struct dsync **slot = dsync_slot(path), *e;
	size_t len = strlen(path);

	for (e = *slot; e != NULL; e = e->next)
		if (strcmp(e->path, path) == 0)
			return e;
	e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	if (pthread_cond_init(&e->cond, NULL) != 0) {
		free(e);
		return NULL;
	}
	memcpy(e->path, path, len + 1);
	e->next = *slot;
	*slot = e;
	return e;
}

static void
dsync_put(struct dsync *e)
{
	struct dsync **pp;

	if (--e->users > 0)
		return;
	for (pp = dsync_slot(e->path); *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	pthread_cond_destroy(&e->cond);
	free(e);
}

/*
 * fs_fsync_dir - make the entries of directory path durable
 *
 * Returns 0 once a fsync of path that began after this call has
 * succeeded; concurrent callers share it (group commit, above).
 */
int
fs_fsync_dir(const char *path)
{
	unsigned long long target, round;
	struct dsync *e;
	int r, err, failed;

	pthread_mutex_lock(&dsync_lock);
	e = dsync_get(path);
	if (e == NULL) {
		pthread_mutex_unlock(&dsync_lock);
		return fsync_dir_now(path);
	}
	e->users++;
	target = e->started + 1;
	while (e->done < target) {
		if (e->running) {
			pthread_cond_wait(&e->cond, &dsync_lock);
			continue;
		}
		e->running = 1;
		round = ++e->started;
		pthread_mutex_unlock(&dsync_lock);
		r = fsync_dir_now(path);
		err = errno;
		pthread_mutex_lock(&dsync_lock);
		e->running = 0;
		e->done = round;
		if (r < 0) {
			e->failed = round;
			e->fail_errno = err;
		}
		pthread_cond_broadcast(&e->cond);
	}
	failed = e->failed >= target;
	err = e->fail_errno;
	dsync_put(e);
	pthread_mutex_unlock(&dsync_lock);
	if (failed) {
		errno = err;
		return -1;
	}
	return 0;
}

/* fs_write_all - write n bytes, retrying short writes and EINTR */
int
fs_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
