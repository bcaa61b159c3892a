/*
 * spool - the on-disk form of the queue (spool.c), shared by ternd's
 * queue (queue.c) and `tern queue` (cli/queue_cmd.c): envelope
 * files (parse, format, atomic replace), the per-message lock, listing
 * and removal. The format itself is described at the top of queue.c.
 *
 * Everything here blocks on the disk: pool workers or the command-line
 * tool only, never the event loop.
 */
#ifndef TERN_SPOOL_H
#define TERN_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/buf.h"

struct queue;
struct relay;
struct relay_msg;

#define SPOOL_VERSION 1
#define SPOOL_QID_MAX 64
#define SPOOL_PID_FILE "ternd.pid"

enum spool_state {
	SPOOL_PENDING,   /* still to be delivered */
	SPOOL_DELIVERED, /* accepted by the next hop or a local mailbox */
	SPOOL_FAILED,    /* failed for good; the bounce is not queued yet */
	SPOOL_BOUNCED,   /* failed for good and the bounce is queued (or
	                    none was due: the null sender) */
};

struct spool_rcpt {
	char *addr;            /* without <> */
	enum spool_state state;
	unsigned attempts;     /* delivery attempts made */
	time_t next;           /* next attempt (pending) */
	time_t last;           /* last attempt; 0: never */
	int code;              /* last reply; 0: none */
	char esc[16];          /* its enhanced code, "" if none */
	char *text;            /* its text ("\n" between lines), or NULL */
	int synthetic;         /* code/text made by tern, not a remote reply */
	char *host;            /* server of the last attempt, or NULL */
	int expired;           /* failed because the queue gave up */
};

struct spool_env {
	unsigned serial;       /* bumped by every rewrite */
	char qid[SPOOL_QID_MAX + 1];
	time_t arrival;
	char *sender;          /* "" for the null sender */
	unsigned flags;        /* QUEUE_F_* */
	uint64_t size;         /* of the message file */
	int warned;            /* the delay warning went out */
	struct spool_rcpt *rcpts;
	size_t nrcpts;
};

struct iovec;

int spool_path(char *out, size_t cap, const char *spool, const char *sub,
    const char *name);
int spool_qid_ok(const char *qid);
const char *spool_state_name(enum spool_state s);
int spool_prepare(const char *spool);

int spool_env_parse(struct spool_env *e, const char *text, size_t len,
    char *why, size_t cap);
int spool_env_format(struct buf *out, const struct spool_env *e);
void spool_env_free(struct spool_env *e);
int spool_env_copy(struct spool_env *dst, const struct spool_env *src);
int spool_env_done(const struct spool_env *e);

int spool_env_read(const char *spool, const char *qid, struct spool_env *e,
    char *why, size_t cap);
int spool_env_write(const char *spool, const struct spool_env *e,
    int do_fsync);
int spool_lock(const char *spool, const char *qid);
void spool_unlock(int fd);
int spool_remove(const char *spool, const char *qid, int do_fsync);
int spool_quarantine(const char *spool, const char *qid);
int spool_list(const char *spool, char ***qids, size_t *n);
void spool_list_free(char **qids, size_t n);
int spool_read_msg(const char *spool, const char *qid, char **data,
    size_t *len);
int spool_write_msg(const char *spool, const char *qid,
    const struct iovec *iov, int iovcnt, int do_fsync, uint64_t *size);
int spool_unlink(const char *spool, const char *sub, const char *name);
int spool_exists(const char *spool, const char *sub, const char *name);
int spool_clean_tmp(const char *spool, time_t now);
int spool_clean_orphans(const char *spool, time_t before);

/* in queue.c, for tests only: a fake relay and clock for the scheduler */
void queue_test_hooks(struct queue *q,
    void (*send)(struct relay *r, struct relay_msg *m),
    time_t (*now)(void));

#endif
