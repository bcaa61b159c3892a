/*
 * queue - mail waiting to be sent on: one message file and one envelope
 * file per message under spool_dir, made durable before the 250, and the
 * scheduler that hands due recipients to the relay client (or to local
 * Maildir delivery, for bounces to local senders), applies the results
 * per recipient, retries with backoff, and sends RFC 3464 bounces and
 * delay warnings.
 *
 * queue_store()/queue_unstore() block on the disk and run on pool
 * workers (the commit path). Everything else runs on the event loop.
 */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stddef.h>
#include <sys/uio.h>

struct conf;
struct event_base;
struct pool;
struct relay;
struct queue;

#define QUEUE_F_SMTPUTF8 0x1 /* the message needs SMTPUTF8 (RFC 6531) */
#define QUEUE_F_8BITMIME 0x2 /* declared BODY=8BITMIME */

/* worker thread: store a message and its envelope durably; all or nothing */
int queue_store(const struct conf *conf, const char *qid, const char *sender,
    const char *const *rcpts, size_t nrcpts, const struct iovec *iov,
    int iovcnt, unsigned flags, int do_fsync);
/* worker thread: remove a message stored by queue_store (the commit failed) */
int queue_unstore(const struct conf *conf, const char *qid);

/* event loop */
struct queue *queue_new(struct event_base *base, const struct conf *conf,
    struct pool *pool, struct relay *relay);
int queue_start(struct queue *q);
void queue_submitted(struct queue *q, const char *qid);
void queue_rescan(struct queue *q);
void queue_shutdown(struct queue *q);
int queue_busy(const struct queue *q);
void queue_free(struct queue *q);

#endif
