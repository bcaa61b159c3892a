/*
 * commit - make one received message durable on a pool worker, then
 * report back on the event loop so the server can send its reply.
 *
 * The request owns copies of everything the worker reads except the
 * message body and the sender, which stay in the session's transaction:
 * the session does not touch them while a commit is in flight.
 *
 * With unsafe_no_fsync (benchmarks only) commit_now() runs the same work
 * on the loop thread instead, since there is no disk wait to hide.
 *
 * Local mailboxes get the message through maildir_deliver; recipients in
 * other domains through queue_store. Both happen before the 250, and if
 * the local part fails the queued copy is removed again, so a 4xx leaves
 * nothing behind to be delivered twice.
 */
#ifndef TERN_COMMIT_H
#define TERN_COMMIT_H

#include <stddef.h>

#include "../conf/conf.h"
#include "../event/pool.h"
#include "../lib/buf.h"
#include "../smtp/reply.h"

#define QID_LEN 16

struct commit_req {
	struct pool_job job;
	const struct conf *conf;
	char qid[QID_LEN + 1];
	struct buf head;     /* trace headers, written before the body */
	const char *body;
	size_t bodylen;
	char **dirs;         /* Maildir paths, one per distinct mailbox */
	size_t ndirs;
	const char *sender;  /* for the queue envelope; "" for <> */
	char **remote;       /* recipients to relay (copies) */
	size_t nremote;
	unsigned qflags;     /* QUEUE_F_* */
	int err;             /* 0, or the errno that stopped the commit */
	void (*cb)(struct commit_req *req); /* on the loop, when done */
	void *arg;
};

void commit_new_qid(char *out);
struct commit_req *commit_req_new(const struct conf *conf,
    const struct mbox *const *boxes, size_t nboxes,
    char *const *remote, size_t nremote);
int commit_now(struct commit_req *req);
void commit_submit(struct pool *pool, struct commit_req *req);
void commit_req_free(struct commit_req *req);
enum reply_id commit_reply(int err);
char *commit_maildir_path(const struct conf *conf, const struct mbox *b);

#endif
