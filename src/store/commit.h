/*
 * commit - make one received message durable on a pool worker, then
 * report back on the event loop so the server can send its reply.
 *
 * The request owns copies of everything the worker reads except the
 * message body, which stays in the session's transaction: the session
 * does not touch it while a commit is in flight.
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
	int err;             /* 0, or the errno that stopped the commit */
	void (*cb)(struct commit_req *req); /* on the loop, when done */
	void *arg;
};

void commit_new_qid(char *out);
struct commit_req *commit_req_new(const struct conf *conf,
    const struct mbox *const *boxes, size_t nboxes);
void commit_submit(struct pool *pool, struct commit_req *req);
void commit_req_free(struct commit_req *req);
enum reply_id commit_reply(int err);
char *commit_maildir_path(const struct conf *conf, const struct mbox *b);

#endif
