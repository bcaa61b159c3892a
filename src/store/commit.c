/*
 * commit - the path from a complete message to "250 queued".
 *
 * commit_submit() hands the request to the worker pool; the worker writes
 * the trace headers and the body with one writev per file, fsyncs file
 * and directories (maildir_deliver) and the done callback runs on the
 * loop. Concurrent sessions' commits overlap on the pool's threads, so
 * the filesystem journal can group their fsyncs.
 */
#include "commit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../lib/util.h"
#include "../queue/queue.h"
#include "maildir.h"

/*
 * commit_new_qid - a queue id unique across restarts: seconds and
 * microseconds of the clock plus a per-process counter, in hex.
 */
void
commit_new_qid(char *out)
{
	static unsigned counter;
	uint64_t us = now_usec();

	snprintf(out, QID_LEN + 1, "%08llX%05llX%03X",
	    (unsigned long long)(us / 1000000u) & 0xffffffffULL,
	    (unsigned long long)(us % 1000000u), counter++ & 0xfffu);
}

/* commit_maildir_path - "<maildir_root>/<domain>/<user>"; malloc'ed or NULL */
char *
commit_maildir_path(const struct conf *conf, const struct mbox *b)
{
	char *p;

	if (asprintf(&p, "%s/%s/%s", conf->maildir_root, b->domain,
		b->user) < 0)
		return NULL;
	return p;
}

/* commit_req_new - a request for these mailboxes; NULL when out of memory */
struct commit_req *
commit_req_new(const struct conf *conf, const struct mbox *const *boxes,
    size_t nboxes, char *const *remote, size_t nremote)
{
	struct commit_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (nremote > 0) {
		r->remote = calloc(nremote, sizeof(*r->remote));
		if (r->remote == NULL) {
			free(r);
			return NULL;
		}
		for (; r->nremote < nremote; r->nremote++) {
			r->remote[r->nremote] = strdup(remote[r->nremote]);
			if (r->remote[r->nremote] == NULL) {
				commit_req_free(r);
				return NULL;
			}
		}
	}
	r->conf = conf;
	buf_init(&r->head, 8192);
	r->dirs = calloc(nboxes ? nboxes : 1, sizeof(*r->dirs));
	if (r->dirs == NULL) {
		commit_req_free(r);
		return NULL;
	}
	for (size_t i = 0; i < nboxes; i++) {
		if ((r->dirs[i] = commit_maildir_path(conf, boxes[i])) == NULL) {
			r->ndirs = i;
			commit_req_free(r);
			return NULL;
		}
	}
	r->ndirs = nboxes;
	commit_new_qid(r->qid);
	return r;
}

/* commit_req_free - release a request (after its callback ran) */
void
commit_req_free(struct commit_req *r)
{
	for (size_t i = 0; i < r->ndirs; i++)
		free(r->dirs[i]);
	free(r->dirs);
	for (size_t i = 0; i < r->nremote; i++)
		free(r->remote[i]);
	free(r->remote);
	buf_free(&r->head);
	free(r);
}

static void
commit_work(struct pool_job *job)
{
	struct commit_req *r = (struct commit_req *)job;
	struct iovec iov[2];

	iov[0].iov_base = r->head.data;
	iov[0].iov_len = r->head.len;
	iov[1].iov_base = (void *)(uintptr_t)r->body;
	iov[1].iov_len = r->bodylen;
	int sync = !r->conf->unsafe_no_fsync;

	r->err = 0;
	if (r->nremote > 0 && queue_store(r->conf, r->qid, r->sender,
	    (const char *const *)r->remote, r->nremote, iov, 2, r->qflags,
	    sync) < 0) {
		r->err = errno ? errno : EIO;
		return;
	}
	if (r->ndirs > 0 && maildir_deliver((const char *const *)r->dirs,
	    r->ndirs, iov, 2, r->qid, sync) < 0) {
		r->err = errno ? errno : EIO;
		/* the client will get 4xx and send again: queue nothing now */
		if (r->nremote > 0)
			queue_unstore(r->conf, r->qid);
	}
}

static void
commit_done(struct pool_job *job)
{
	struct commit_req *r = (struct commit_req *)job;

	r->cb(r);
}

/*
 * commit_now - with unsafe_no_fsync, run the commit on the calling
 * thread and return 1 (req->cb is not called: the caller goes on as if
 * it had); otherwise return 0 and do nothing.
 *
 * Without fsync there is no disk wait to hide: the commit is a few
 * page-cache operations (tens of microseconds), and handing it to a
 * worker and back costs two thread wake-ups, more than the work. The
 * event loop accepts that short wait in this benchmark-only mode, never
 * in the durable one.
 */
int
commit_now(struct commit_req *req)
{
	if (!req->conf->unsafe_no_fsync)
		return 0;
	commit_work(&req->job);
	return 1;
}

/* commit_submit - run the commit on the pool; req->cb follows on the loop */
void
commit_submit(struct pool *pool, struct commit_req *req)
{
	req->job.work = commit_work;
	req->job.done = commit_done;
	pool_submit(pool, &req->job);
}

/*
 * commit_reply - the reply for a commit result. A full disk or quota is
 * 452 4.3.1 and anything else 451 4.3.0: local trouble is never a 5xx,
 * so the sender keeps the message and tries again.
 */
enum reply_id
commit_reply(int err)
{
	if (err == 0)
		return R_QUEUED;
	if (err == ENOSPC || err == EDQUOT)
		return R_NO_SPACE;
	return R_LOCAL_ERR;
}
