/*
 * queue - mail waiting to be sent on: the spool on disk, and the
 * scheduler that hands due recipients to the relay client (or to local
 * Maildir delivery), applies the results per recipient, retries with
 * backoff (sched.c) and queues bounces and delay warnings (dsn.c). The
 * file-level work (envelope format, atomic rewrites, lock, listing) is
 * in spool.c, which `tern queue` shares; the format is described here.
 *
 * SPOOL LAYOUT (under spool_dir; queue_start() creates the directories)
 *
 *   msg/<qid>     the message exactly as stored for local delivery:
 *                 Return-Path: and Received: headers, then the data,
 *                 CRLF lines, not dot-stuffed. Written once (O_EXCL),
 *                 never changed. flock(2) on it guards every rewrite of
 *                 the envelope (ternd and `tern queue` both take it).
 *   env/<qid>     the envelope. Its presence means "queued".
 *   env/.tmp-*    an envelope being written; renamed over env/<qid>.
 *   corrupt/      envelopes that could not be read (<qid>.env) with
 *                 their message (<qid>.msg); logged, never deleted.
 *   ternd.pid     ternd's process id, for `tern queue` to send SIGUSR1.
 *
 * ENVELOPE FORMAT (version 1): text, one "key value" per line, LF line
 * ends. The value is the rest of the line after the first space, with
 * "\\" "\n" "\r" "\t" and "\xHH" escapes (any byte below 0x20, 0x7f and
 * the backslash are escaped; UTF-8 passes as is). Times are seconds
 * since the epoch (UTC). Keys after "rcpt" describe that recipient,
 * until the next "rcpt"; "end" closes the file. Example:
 *
 *   tern-queue 1
 *   serial 3                      bumped by every rewrite
 *   qid 6B0BD0A0BA3DF000          the file name, repeated
 *   arrival 1764400416
 *   sender alice@example.org      empty: the null sender <>
 *   flags 8bitmime smtputf8       or empty
 *   size 2048                     bytes in msg/<qid>
 *   warned 0                      1: the delay warning went out
 *   rcpt bob@example.net
 *   state pending                 pending|delivered|failed|bounced
 *   attempts 2
 *   next 1764401016               next attempt (pending only)
 *   last 1764400716               last attempt; 0: never
 *   code 451                      last reply; 0: none
 *   esc 4.7.1
 *   synthetic 0                   1: code and text made by tern
 *   expired 0                     1: failed because the queue gave up
 *   host mx.example.net[192.0.2.7]:25
 *   text Greylisted,\nplease try again later
 *   end
 *
 * "failed" means failed for good with the bounce not queued yet;
 * "bounced" that the bounce is queued (or none was due: null sender).
 * Only "tern-queue", qid, arrival, sender, one rcpt and end are
 * required; other keys default to 0/empty (state pending, next =
 * arrival). Anything else (unknown key, bad number, bad qid, no "end")
 * makes the file corrupt: it goes to corrupt/ with its message.
 *
 * DURABILITY. queue_store() writes msg/<qid>, fsyncs it and msg/, then
 * writes the envelope to a temporary name, fsyncs it, renames it to
 * env/<qid> and fsyncs env/; only then may the 250 go out. A crash
 * before the rename leaves a message file without envelope: never
 * acknowledged, removed at the next start. Every envelope update is
 * write temp + fsync + rename + fsync env/. When every recipient is
 * final, env/<qid> goes first, then msg/<qid>.
 *
 * AT LEAST ONCE, AND THE DUPLICATE WINDOW. Results are written after
 * each delivery run of a message, so a crash after a remote server
 * accepted the data (250 to the final dot) but before the envelope
 * update is on disk makes tern send the message again to the
 * recipients of that run after restart: a duplicate, never a loss. The
 * window is the time from the remote 250 to the end of the rename and
 * directory fsync (the results of one message's domains are written
 * together once all of them have answered, so a slow domain widens it
 * for the fast ones of the same message). A bounce is queued before the
 * recipient is marked "bounced", and a delay warning before "warned",
 * so a crash in between can send either twice, never zero times. RFC
 * 5321 6.1 accepts duplicates over loss. Two more duplicates are
 * possible: deliveries still in flight when ternd is killed, and a
 * message picked up by a rescan between queue_store() and a commit that
 * then fails (queue_unstore(); the client sends it again).
 *
 * The relay gets the message without its leading Return-Path: field
 * (RFC 5321 4.4: only the final delivery adds one); local deliveries
 * (maildir_deliver) keep it.
 *
 * THE SCHEDULER (event loop). Messages live in a hash table by queue id;
 * each has one timer for its next due time (no polling). When due, a
 * message goes on the ready list; at most QUEUE_MAX_RUNS messages are
 * worked on at once (and at most QUEUE_MAX_LOADED bytes of them in
 * memory). A run reads the message file on the pool, groups the due
 * recipients by domain (all local ones in one group), and starts one
 * delivery per group, at most QUEUE_MAX_DELIVERIES at once overall:
 * relay_send() for remote domains, maildir_deliver() on the pool for
 * local ones (bounces to local senders). When every group has
 * answered, the results go to disk on the pool, together with any
 * bounce or delay warning, which is stored with queue_store() and
 * scheduled like any message. One message has at most one run at a
 * time, and the run owns the message's envelope while it lasts.
 *
 * CHANGES FROM OUTSIDE. `tern queue` edits envelopes (flush, bounce) or
 * removes them (delete) under the message's lock and sends SIGUSR1;
 * queue_rescan() then reloads every envelope whose serial changed and
 * drops the messages whose envelope is gone. An envelope changed during
 * a run is merged when the run writes its results: what the run
 * learned about its recipients wins where the outside copy still had
 * them pending (and a delivery always wins), the outside copy wins for
 * everything else; a removed envelope is not written back.
 *
 * What is not here: MX lookup, connections and the SMTP dialogue
 * (relay/), the commit path that calls queue_store() (store/commit.c),
 * the pid file and signals (ternd.c).
 */
#include "queue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "../conf/conf.h"
#include "../event/pool.h"
#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../relay/relay.h"
#include "../smtp/trace.h"
#include "../store/maildir.h"
#include "dsn.h"
#include "sched.h"
#include "spool.h"

_Static_assert(DSN_NEEDS_SMTPUTF8 == QUEUE_F_SMTPUTF8 &&
    DSN_NEEDS_8BITMIME == QUEUE_F_8BITMIME, "dsn needs are queue flags");

#define QUEUE_MAX_RUNS 32          /* messages worked on at once */
#define QUEUE_MAX_DELIVERIES 64    /* relay_send + local deliveries */
#define QUEUE_MAX_LOADED (256u << 20) /* bytes of messages in memory */
#define QUEUE_ERR_RETRY 60         /* seconds after a local error */
#define QUEUE_LOCAL_BOXES 256      /* mailboxes one local address reaches */
#define QUEUE_QID_TRIES 8
#define TEXT_MAX 4096              /* reply text kept per recipient */
#define LOG_TEXT_MAX 600

/* ------------------------------------------------------------------ */
/* store and unstore (commit path, pool workers)                       */

/* a new queue id: seconds, microseconds, counter; like commit_new_qid */
static void
new_qid(char *out)
{
	static atomic_uint counter;
	uint64_t us = now_usec();

	snprintf(out, SPOOL_QID_MAX + 1, "%08llX%05llX%03X",
	    (unsigned long long)(us / 1000000u) & 0xffffffffULL,
	    (unsigned long long)(us % 1000000u),
	    (atomic_fetch_add(&counter, 1) + 0x800u) & 0xfffu);
}

/*
 * queue_store - store a message and its envelope durably, all or nothing
 *
 * Worker thread (it blocks on the disk). The message is the iov data as
 * it would be stored locally (trace headers included); every recipient
 * starts pending and due now. With do_fsync the message is on stable
 * storage when this returns 0, so the 250 may follow. Returns 0, or -1
 * with errno (EEXIST: the queue id is taken; ENOSPC/EDQUOT: no space);
 * on failure nothing is left in the spool.
 */
int
queue_store(const struct conf *conf, const char *qid, const char *sender,
    const char *const *rcpts, size_t nrcpts, const struct iovec *iov,
    int iovcnt, unsigned flags, int do_fsync)
{
	const char *spool = conf->spool_dir;
	struct spool_env e;
	size_t i;
	int r, err;

	if (qid == NULL || !spool_qid_ok(qid) || sender == NULL ||
	    nrcpts == 0 || iovcnt < 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&e, 0, sizeof(e));
	/* the message's name is durable before the envelope names it */
	if (spool_write_msg(spool, qid, iov, iovcnt, do_fsync, &e.size) < 0)
		return -1;
	e.serial = 1;
	snprintf(e.qid, sizeof(e.qid), "%s", qid);
	e.arrival = time(NULL);
	e.flags = flags & (QUEUE_F_SMTPUTF8 | QUEUE_F_8BITMIME);
	e.sender = (char *)(uintptr_t)sender;
	e.rcpts = calloc(nrcpts, sizeof(*e.rcpts));
	if (e.rcpts == NULL) {
		spool_unlink(spool, "msg", qid);
		errno = ENOMEM;
		return -1;
	}
	e.nrcpts = nrcpts;
	for (i = 0; i < nrcpts; i++) {
		e.rcpts[i].addr = (char *)(uintptr_t)rcpts[i];
		e.rcpts[i].state = SPOOL_PENDING;
		e.rcpts[i].next = e.arrival;
	}
	r = spool_env_write(spool, &e, do_fsync);
	err = errno;
	free(e.rcpts);
	if (r < 0) {
		/* also a rename whose directory sync failed: no 250 for it */
		spool_unlink(spool, "env", qid);
		spool_unlink(spool, "msg", qid);
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * queue_unstore - remove a message stored by queue_store() whose commit
 * failed after all. Worker thread. 0, or -1 with errno.
 */
int
queue_unstore(const struct conf *conf, const char *qid)
{
	if (qid == NULL || !spool_qid_ok(qid)) {
		errno = EINVAL;
		return -1;
	}
	return spool_remove(conf->spool_dir, qid, !conf->unsafe_no_fsync);
}

/* ------------------------------------------------------------------ */
/* the scheduler: data                                                 */

struct qrun;

struct qmsg {
	struct queue *q;
	struct spool_env env;
	struct event *timer;
	struct qmsg *hnext;          /* hash chain */
	TAILQ_ENTRY(qmsg) rlink;     /* ready list */
	int ready;
	struct qrun *run;            /* while being worked on */
	unsigned gen;                /* q->gen when added */
	unsigned seen;               /* last scan that saw its envelope */
	unsigned char *touched;      /* per recipient: changed, not on disk */
	int dirty;                   /* memory is ahead of the disk */
	time_t hold_until;           /* after a local error */
};

struct qgroup {
	struct pool_job job;         /* local delivery; first member */
	struct qrun *run;
	TAILQ_ENTRY(qgroup) wlink;   /* waiting for a delivery slot */
	const char *domain;          /* NULL: the local group */
	size_t n;
	size_t *idx;                 /* into the envelope's recipients */
	struct relay_rcpt *rr;
	struct relay_msg rm;
	int local_err;
};

struct qrun {
	struct pool_job job;         /* load, then persist; first member */
	struct queue *q;
	struct qmsg *m;
	time_t now;
	char *data;
	size_t len;
	size_t charged;              /* counted in q->loaded */
	int err;
	int gone;                    /* the envelope was removed */
	unsigned char *sel;          /* recipients tried in this run */
	struct qgroup *groups;
	size_t ngroups, nleft;
	/* persist */
	struct spool_env env;        /* the run's copy, then what is on disk */
	unsigned char *touched;
	int want_bounce, want_warn;
	int dsn_err;
	int removed;                 /* all final: removed from the spool */
	int werr;                    /* the envelope could not be written */
	struct spool_env dsn[2];     /* bounce, delay warning, as queued */
	size_t ndsn;
};

struct qscan {
	struct pool_job job;         /* first member */
	struct queue *q;
	unsigned gen;
	int startup;
	time_t started;
	struct spool_env *envs;
	size_t n;
	int err;
};

struct qload {
	struct pool_job job;         /* first member */
	struct queue *q;
	char qid[SPOOL_QID_MAX + 1];
	struct spool_env env;
	int err;
	char why[256];
};

TAILQ_HEAD(qmsg_list, qmsg);
TAILQ_HEAD(qgroup_list, qgroup);

struct queue {
	struct event_base *base;
	const struct conf *conf;
	struct pool *pool;
	struct relay *relay;
	struct sched_params sp;
	void (*send)(struct relay *r, struct relay_msg *m);
	time_t (*now)(void);
	time_t started;

	struct qmsg **buckets;
	size_t nbuckets, nmsgs;
	struct qmsg_list ready;
	struct qgroup_list waiting;

	unsigned nruns, ndeliveries, nloads;
	size_t loaded;
	unsigned gen;
	int scanning, rescan_again;
	int started_ok, stopping;
	int dispatching, pumping;
};

static void schedule(struct qmsg *m);
static void dispatch(struct queue *q);
static void finish_run(struct qrun *run);

static time_t
real_now(void)
{
	return time(NULL);
}

/* quote text for a log line: "..." with \" \\ and \n */
static const char *
logq(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	if (s == NULL)
		s = "";
	for (; *s != '\0' && o + 6 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = ' ';
		} else {
			out[o++] = (char)c;
		}
	}
	if (*s != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static size_t
hash_qid(const char *s, size_t nb)
{
	return str_hash(s) & (nb - 1);
}

static struct qmsg *
find_msg(struct queue *q, const char *qid)
{
	struct qmsg *m;

	for (m = q->buckets[hash_qid(qid, q->nbuckets)]; m != NULL;
	    m = m->hnext)
		if (strcmp(m->env.qid, qid) == 0)
			return m;
	return NULL;
}

static void
grow_hash(struct queue *q)
{
	size_t nb = q->nbuckets * 2, i;
	struct qmsg **b = calloc(nb, sizeof(*b)), *m, *next;

	if (b == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < q->nbuckets; i++) {
		for (m = q->buckets[i]; m != NULL; m = next) {
			size_t h = hash_qid(m->env.qid, nb);

			next = m->hnext;
			m->hnext = b[h];
			b[h] = m;
		}
	}
	free(q->buckets);
	q->buckets = b;
	q->nbuckets = nb;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg);

/* take env (moved into the message); NULL when out of memory */
static struct qmsg *
add_msg(struct queue *q, struct spool_env *env)
{
	struct qmsg *m = calloc(1, sizeof(*m));
	size_t h;

	if (m == NULL)
		return NULL;
	m->touched = calloc(env->nrcpts ? env->nrcpts : 1, 1);
	m->timer = evtimer_new(q->base, timer_cb, m);
	if (m->touched == NULL || m->timer == NULL) {
		if (m->timer != NULL)
			event_free(m->timer);
		free(m->touched);
		free(m);
		return NULL;
	}
	m->q = q;
	m->env = *env;
	memset(env, 0, sizeof(*env));
	m->gen = q->gen;
	if (q->nmsgs >= q->nbuckets)
		grow_hash(q);
	h = hash_qid(m->env.qid, q->nbuckets);
	m->hnext = q->buckets[h];
	q->buckets[h] = m;
	q->nmsgs++;
	return m;
}

static void
free_msg(struct queue *q, struct qmsg *m)
{
	struct qmsg **pp;

	for (pp = &q->buckets[hash_qid(m->env.qid, q->nbuckets)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == m) {
			*pp = m->hnext;
			q->nmsgs--;
			break;
		}
	}
	if (m->ready)
		TAILQ_REMOVE(&q->ready, m, rlink);
	event_free(m->timer);
	free(m->touched);
	spool_env_free(&m->env);
	free(m);
}

/* replace m's envelope with env (moved), e.g. after a reload */
static int
replace_env(struct qmsg *m, struct spool_env *env)
{
	unsigned char *t = calloc(env->nrcpts ? env->nrcpts : 1, 1);

	if (t == NULL)
		return -1;
	free(m->touched);
	m->touched = t;
	spool_env_free(&m->env);
	m->env = *env;
	memset(env, 0, sizeof(*env));
	return 0;
}

/* ------------------------------------------------------------------ */
/* when is a message due                                                */

#define NEVER ((time_t)INT64_MAX)

static int
has_state(const struct spool_env *e, enum spool_state s)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == s)
			return 1;
	return 0;
}

static int
warning_wanted(const struct queue *q, const struct spool_env *e,
    time_t now)
{
	return e->sender[0] != '\0' && has_state(e, SPOOL_PENDING) &&
	    sched_warning_due(&q->sp, e->arrival, e->warned, now);
}

/* the next time m has work: an attempt, a bounce, a warning, a write */
static time_t
msg_due(const struct queue *q, const struct qmsg *m, time_t now)
{
	const struct spool_env *e = &m->env;
	time_t due = NEVER, w;
	size_t i;

	if (m->dirty || spool_env_done(e) || has_state(e, SPOOL_FAILED))
		due = now;
	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == SPOOL_PENDING &&
		    e->rcpts[i].next < due)
			due = e->rcpts[i].next;
	if (e->sender[0] != '\0' && !e->warned &&
	    has_state(e, SPOOL_PENDING) &&
	    (w = sched_warn_at(&q->sp, e->arrival)) != 0 && w < due)
		due = w;
	if (due != NEVER && due < m->hold_until)
		due = m->hold_until;
	return due;
}

static void
schedule(struct qmsg *m)
{
	struct queue *q = m->q;
	time_t now, due;
	struct timeval tv;

	if (q->stopping || m->run != NULL || m->ready)
		return;
	event_del(m->timer);
	now = q->now();
	due = msg_due(q, m, now);
	if (due == NEVER)
		return;
	if (due <= now) {
		m->ready = 1;
		TAILQ_INSERT_TAIL(&q->ready, m, rlink);
		return;
	}
	tv.tv_sec = due - now > 30 * 86400 ? 30 * 86400 : due - now;
	tv.tv_usec = 0;
	evtimer_add(m->timer, &tv);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmsg *m = arg;

	(void)fd;
	(void)what;
	schedule(m);
	dispatch(m->q);
}

/* ------------------------------------------------------------------ */
/* deliveries                                                          */

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* length of a leading Return-Path: field (with continuation lines) */
static size_t
return_path_len(const char *d, size_t len)
{
	const char *nl;
	size_t i = 0;

	if (len < 12 || str_ncasecmp_ascii(d, "Return-Path:", 12) != 0)
		return 0;
	for (;;) {
		nl = memchr(d + i, '\n', len - i);
		if (nl == NULL)
			return 0;
		i = (size_t)(nl - d) + 1;
		if (i >= len || (d[i] != ' ' && d[i] != '\t'))
			return i;
	}
}

/*
 * one recipient's result: state, log line, next attempt. remote is the
 * server that answered; NULL for local delivery (no Remote-MTA then).
 */
static void
apply_result(struct qrun *run, size_t i, const struct relay_rcpt *rr,
    const char *remote)
{
	struct queue *q = run->q;
	struct qmsg *m = run->m;
	struct spool_rcpt *r = &m->env.rcpts[i];
	time_t now = q->now();
	char text[LOG_TEXT_MAX], fwd[48] = "";
	const char *what;
	enum sched_verdict v = sched_verdict_of(rr->code);
	char *t;

	if (rr->code == 0 && !sched_expired(&q->sp, m->env.arrival, now)) {
		/* not tried (the relay is shutting down, or gave no
		 * reason): no attempt to count and nothing learned */
		if (q->stopping)
			return;
		r->next = now + (time_t)q->sp.retry_first;
		m->touched[i] = 1;
		m->dirty = 1;
		log_info("qid=%s ev=not-tried rcpt=<%s> next_in=%us text=\"%s\"",
		    m->env.qid, r->addr, q->sp.retry_first,
		    logq(text, sizeof(text), rr->text));
		return;
	}
	r->attempts++;
	r->last = now;
	r->code = rr->code;
	snprintf(r->esc, sizeof(r->esc), "%s", rr->esc);
	r->synthetic = rr->synthetic;
	t = rr->text[0] != '\0' ? strndup(rr->text, TEXT_MAX) :
	    rr->code == 0 ? strdup("not tried") : NULL;
	free(r->text);
	r->text = t;
	if (rr->code == 0)
		r->synthetic = 1;
	free(r->host);
	r->host = remote != NULL && *remote != '\0' ? strdup(remote) : NULL;
	m->touched[i] = 1;
	m->dirty = 1;

	switch (v) {
	case SCHED_DELIVERED:
		r->state = SPOOL_DELIVERED;
		what = "delivered";
		/* RFC 5321 3.4: 251 means that server forwards it */
		if (rr->code == 251)
			snprintf(fwd, sizeof(fwd), " forwarded=1");
		break;
	case SCHED_FAIL:
		r->state = SPOOL_FAILED;
		what = "bounced";
		break;
	default:
		if (sched_expired(&q->sp, m->env.arrival, now)) {
			r->state = SPOOL_FAILED;
			r->expired = 1;
			what = "expired";
		} else {
			r->next = sched_next_attempt(&q->sp, m->env.arrival,
			    r->attempts, now);
			what = "deferred";
		}
		break;
	}
	if (r->state == SPOOL_PENDING)
		snprintf(fwd, sizeof(fwd), " next_in=%llds",
		    (long long)(r->next - now));
	log_info("qid=%s ev=%s rcpt=<%s> relay=%s code=%d esc=%s%s "
	    "attempts=%u age=%llds%s text=\"%s\"", m->env.qid, what,
	    r->addr, remote == NULL ? "local" : r->host != NULL ? r->host :
	    "none", r->code,
	    r->esc[0] ? r->esc : "-", r->synthetic ? " synthetic=1" : "",
	    r->attempts, (long long)(now - m->env.arrival), fwd,
	    logq(text, sizeof(text), r->text));
}

static void pump(struct queue *q);

static void
group_done(struct qgroup *g)
{
	struct qrun *run = g->run;
	struct queue *q = run->q;
	size_t j;

	q->ndeliveries--;
	for (j = 0; j < g->n; j++)
		if (g->rr[j].code >= 0) /* -1: not started (shutdown) */
			apply_result(run, g->idx[j], &g->rr[j],
			    g->domain == NULL ? NULL : g->rm.remote);
	if (--run->nleft == 0)
		finish_run(run);
	pump(q);
}

static void
relay_done_cb(struct relay_msg *rm, void *arg)
{
	group_done(arg);
}

static void synth(struct relay_rcpt *rr, int code, const char *esc,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* a result made by tern itself (local delivery, no relay) */
static void
synth(struct relay_rcpt *rr, int code, const char *esc, const char *fmt, ...)
{
	va_list ap;

	rr->code = code;
	snprintf(rr->esc, sizeof(rr->esc), "%s", esc);
	va_start(ap, fmt);
	vsnprintf(rr->text, sizeof(rr->text), fmt, ap);
	va_end(ap);
	rr->synthetic = 1;
}

/* pool: deliver the local group with maildir_deliver */
static void
local_work(struct pool_job *job)
{
	struct qgroup *g = (struct qgroup *)job;
	struct qrun *run = g->run;
	const struct conf *c = run->q->conf;
	const struct mbox *boxes[QUEUE_LOCAL_BOXES];
	char **dirs = NULL;
	size_t ndirs = 0, j, k;
	int *nb = calloc(g->n, sizeof(*nb));
	struct iovec iov;

	dirs = calloc(g->n * QUEUE_LOCAL_BOXES, sizeof(*dirs));
	if (nb == NULL || dirs == NULL) {
		for (j = 0; j < g->n; j++)
			synth(&g->rr[j], 451, "4.3.0", "local delivery "
			    "failed: %s", strerror(ENOMEM));
		goto out;
	}
	for (j = 0; j < g->n; j++) {
		const char *addr = g->rr[j].addr, *at = strrchr(addr, '@');
		char local[512];
		const char *dom = at != NULL ? at + 1 :
		    c->ndomains > 0 ? c->domains[0] : "";
		size_t ll = at != NULL ? (size_t)(at - addr) : strlen(addr);
		int n;

		if (ll >= sizeof(local)) {
			nb[j] = 0;
			continue;
		}
		memcpy(local, addr, ll);
		local[ll] = '\0';
		n = conf_resolve(c, local, dom, boxes, QUEUE_LOCAL_BOXES);
		nb[j] = n;
		for (k = 0; n > 0 && k < (size_t)n; k++) {
			char *p;
			size_t x;

			if (asprintf(&p, "%s/%s/%s", c->maildir_root,
			    boxes[k]->domain, boxes[k]->user) < 0) {
				nb[j] = -2;
				break;
			}
			for (x = 0; x < ndirs; x++)
				if (strcmp(dirs[x], p) == 0)
					break;
			if (x < ndirs)
				free(p);
			else
				dirs[ndirs++] = p;
		}
	}
	if (ndirs > 0) {
		iov.iov_base = run->data;
		iov.iov_len = run->len;
		if (maildir_deliver((const char *const *)dirs, ndirs, &iov, 1,
		    run->m->env.qid, !c->unsafe_no_fsync) < 0)
			g->local_err = errno ? errno : EIO;
	}
	for (j = 0; j < g->n; j++) {
		if (nb[j] == 0)
			synth(&g->rr[j], 550, "5.1.1", "no such mailbox here: "
			    "<%s>", g->rr[j].addr);
		else if (nb[j] < 0)
			synth(&g->rr[j], 451, "4.3.0", "local delivery failed: "
			    "%s", nb[j] == -1 ? "the address reaches too many "
			    "mailboxes" : strerror(ENOMEM));
		else if (g->local_err == ENOSPC || g->local_err == EDQUOT)
			synth(&g->rr[j], 452, "4.3.1", "local delivery failed: "
			    "%s", strerror(g->local_err));
		else if (g->local_err != 0)
			synth(&g->rr[j], 451, "4.3.0", "local delivery failed: "
			    "%s", strerror(g->local_err));
		else
			synth(&g->rr[j], 250, "2.0.0", "delivered to the local "
			    "mailbox of <%s>", g->rr[j].addr);
	}
out:
	if (dirs != NULL)
		for (j = 0; j < ndirs; j++)
			free(dirs[j]);
	free(dirs);
	free(nb);
}

static void
local_done(struct pool_job *job)
{
	group_done((struct qgroup *)job);
}

static void
start_group(struct qgroup *g)
{
	struct qrun *run = g->run;
	struct queue *q = run->q;
	size_t j;

	q->ndeliveries++;
	if (q->stopping) {
		for (j = 0; j < g->n; j++)
			g->rr[j].code = -1; /* not tried: no attempt counted */
		group_done(g);
		return;
	}
	if (g->domain == NULL) {
		g->job.work = local_work;
		g->job.done = local_done;
		pool_submit(q->pool, &g->job);
		return;
	}
	if (q->relay == NULL && q->send == relay_send) {
		for (j = 0; j < g->n; j++)
			synth(&g->rr[j], 451, "4.3.0", "%s", "no relay client "
			    "is running in this ternd");
		group_done(g);
		return;
	}
	q->send(q->relay, &g->rm);
}

/* start waiting groups while delivery slots are free */
static void
pump(struct queue *q)
{
	struct qgroup *g;

	if (q->pumping)
		return;
	q->pumping = 1;
	while (q->ndeliveries < QUEUE_MAX_DELIVERIES &&
	    (g = TAILQ_FIRST(&q->waiting)) != NULL) {
		TAILQ_REMOVE(&q->waiting, g, wlink);
		start_group(g);
	}
	q->pumping = 0;
}

/* ------------------------------------------------------------------ */
/* runs                                                                */

static void
free_run(struct qrun *run)
{
	size_t i;

	for (i = 0; i < run->ngroups; i++) {
		free(run->groups[i].idx);
		free(run->groups[i].rr);
	}
	free(run->groups);
	free(run->sel);
	free(run->touched);
	free(run->data);
	spool_env_free(&run->env);
	for (i = 0; i < run->ndsn; i++)
		spool_env_free(&run->dsn[i]);
	free(run);
}

/* a run is over: the message is free for the next one */
static void
end_run(struct qrun *run)
{
	struct queue *q = run->q;
	struct qmsg *m = run->m;

	q->loaded -= run->charged;
	q->nruns--;
	if (m != NULL) {
		m->run = NULL;
		schedule(m);
	}
	free_run(run);
	dispatch(q);
}

/* pool: read the message file */
static void
load_work(struct pool_job *job)
{
	struct qrun *run = (struct qrun *)job;
	const char *spool = run->q->conf->spool_dir;

	if (spool_read_msg(spool, run->env.qid, &run->data, &run->len) == 0)
		return;
	run->err = errno;
	if (run->err != ENOENT)
		return;
	/* no message: removed with its envelope, or a broken spool */
	if (spool_exists(spool, "env", run->env.qid) == 0) {
		run->gone = 1;
		return;
	}
	log_err("qid=%s ev=corrupt reason=\"message file missing\" "
	    "action=moved-to-corrupt", run->env.qid);
	spool_quarantine(spool, run->env.qid);
	run->gone = 1;
}

static int
build_groups(struct qrun *run)
{
	struct qmsg *m = run->m;
	const struct spool_env *e = &m->env;
	struct queue *q = run->q;
	size_t i, j, n = 0, skip = return_path_len(run->data, run->len);
	size_t *gi;

	gi = calloc(e->nrcpts ? e->nrcpts : 1, sizeof(*gi));
	run->groups = calloc(e->nrcpts ? e->nrcpts : 1,
	    sizeof(*run->groups));
	if (gi == NULL || run->groups == NULL) {
		free(gi);
		return -1;
	}
	/* group index per selected recipient: all local ones share one */
	for (i = 0; i < e->nrcpts; i++) {
		const char *d;
		int local;

		if (!run->sel[i])
			continue;
		d = domain_of(e->rcpts[i].addr);
		local = *d == '\0' || conf_is_local_domain(q->conf, d);
		for (j = 0; j < n; j++) {
			struct qgroup *g = &run->groups[j];

			if (local ? g->domain == NULL : g->domain != NULL &&
			    str_casecmp_ascii(g->domain, d) == 0)
				break;
		}
		if (j == n) {
			run->groups[n].domain = local ? NULL : d;
			run->groups[n].run = run;
			n++;
		}
		gi[i] = j;
		run->groups[j].n++;
	}
	run->ngroups = n;
	for (j = 0; j < n; j++) {
		struct qgroup *g = &run->groups[j];

		g->idx = calloc(g->n, sizeof(*g->idx));
		g->rr = calloc(g->n, sizeof(*g->rr));
		if (g->idx == NULL || g->rr == NULL) {
			free(gi);
			return -1;
		}
		g->n = 0;
	}
	for (i = 0; i < e->nrcpts; i++) {
		struct qgroup *g;

		if (!run->sel[i])
			continue;
		g = &run->groups[gi[i]];
		g->idx[g->n] = i;
		g->rr[g->n].addr = e->rcpts[i].addr;
		g->n++;
	}
	free(gi);
	for (j = 0; j < n; j++) {
		struct qgroup *g = &run->groups[j];

		g->rm.domain = g->domain;
		g->rm.sender = e->sender;
		g->rm.rcpts = g->rr;
		g->rm.nrcpts = g->n;
		/* RFC 5321 4.4: only the final delivery adds Return-Path */
		g->rm.data = run->data + skip;
		g->rm.len = run->len - skip;
		g->rm.flags = e->flags;
		g->rm.done = relay_done_cb;
		g->rm.arg = g;
	}
	return 0;
}

static void
load_done(struct pool_job *job)
{
	struct qrun *run = (struct qrun *)job;
	struct queue *q = run->q;
	struct qmsg *m = run->m;
	size_t j;

	if (run->gone) {
		log_info("qid=%s ev=removed reason=\"envelope removed from "
		    "outside\"", m->env.qid);
		run->m = NULL;
		free_msg(q, m);
		end_run(run);
		return;
	}
	if (run->err != 0 || build_groups(run) < 0) {
		log_err("qid=%s ev=read-failed error=\"%s\" retry_in=%ds",
		    m->env.qid, strerror(run->err ? run->err : ENOMEM),
		    QUEUE_ERR_RETRY);
		m->hold_until = q->now() + QUEUE_ERR_RETRY;
		end_run(run);
		return;
	}
	if (run->ngroups == 0) {
		finish_run(run);
		return;
	}
	run->nleft = run->ngroups;
	for (j = 0; j < run->ngroups; j++)
		TAILQ_INSERT_TAIL(&q->waiting, &run->groups[j], wlink);
	pump(q);
}

/* start working on a due message */
static void
start_run(struct queue *q, struct qmsg *m)
{
	const struct spool_env *e = &m->env;
	struct qrun *run;
	time_t now = q->now();
	size_t i, nsel = 0;

	run = calloc(1, sizeof(*run));
	if (run == NULL || (run->sel = calloc(e->nrcpts, 1)) == NULL) {
		free(run);
		m->hold_until = now + QUEUE_ERR_RETRY;
		schedule(m);
		return;
	}
	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].state == SPOOL_PENDING &&
		    e->rcpts[i].next <= now && now >= m->hold_until) {
			run->sel[i] = 1;
			nsel++;
		}
	}
	if (nsel == 0 && msg_due(q, m, now) > now) {
		free(run->sel);
		free(run);
		schedule(m);
		return;
	}
	run->q = q;
	run->m = m;
	run->now = now;
	snprintf(run->env.qid, sizeof(run->env.qid), "%s", e->qid);
	run->charged = (size_t)e->size;
	q->loaded += run->charged;
	q->nruns++;
	m->run = run;
	m->hold_until = 0;
	run->job.work = load_work;
	run->job.done = load_done;
	pool_submit(q->pool, &run->job);
}

/* work on ready messages while the limits allow */
static void
dispatch(struct queue *q)
{
	struct qmsg *m;

	if (q->dispatching)
		return;
	q->dispatching = 1;
	while (!q->stopping && (m = TAILQ_FIRST(&q->ready)) != NULL &&
	    q->nruns < QUEUE_MAX_RUNS && (q->nruns == 0 ||
	    q->loaded + m->env.size <= QUEUE_MAX_LOADED)) {
		TAILQ_REMOVE(&q->ready, m, rlink);
		m->ready = 0;
		start_run(q, m);
	}
	q->dispatching = 0;
}

/* ------------------------------------------------------------------ */
/* writing the results: bounces, warnings, the envelope (pool)         */

/* queue one report (bounce or warning) for run->env; 0 or -1 */
static int
store_dsn(struct qrun *run, enum dsn_action action)
{
	const struct conf *c = run->q->conf;
	const struct spool_env *e = &run->env;
	struct dsn_rcpt *dr;
	struct dsn_info d;
	struct buf b;
	char qid[SPOOL_QID_MAX + 1], date[64], why[256];
	const char *to = e->sender;
	unsigned needs = 0;
	size_t i, n = 0;
	struct iovec iov;
	int tries, r = -1;

	dr = calloc(e->nrcpts, sizeof(*dr));
	if (dr == NULL)
		return -1;
	for (i = 0; i < e->nrcpts; i++) {
		const struct spool_rcpt *s = &e->rcpts[i];

		if (s->state != (action == DSN_FAILED ? SPOOL_FAILED :
		    SPOOL_PENDING))
			continue;
		dr[n].addr = s->addr;
		dr[n].code = s->code;
		dr[n].esc = s->esc;
		dr[n].text = s->text;
		dr[n].synthetic = s->synthetic;
		dr[n].remote = s->host;
		dr[n].last_attempt = s->last;
		dr[n].expired = s->expired;
		n++;
	}
	buf_init(&b, 0);
	for (tries = 0; n > 0 && tries < QUEUE_QID_TRIES; tries++) {
		new_qid(qid);
		memset(&d, 0, sizeof(d));
		d.action = action;
		d.hostname = c->hostname;
		d.qid = e->qid;
		d.dsn_qid = qid;
		d.sender = e->sender;
		d.arrival = e->arrival;
		d.now = run->now;
		d.retry_until = sched_give_up_at(&run->q->sp, e->arrival);
		d.rcpts = dr;
		d.nrcpts = n;
		d.msg = run->data;
		d.msglen = run->len;
		buf_reset(&b);
		if (trace_date(date, sizeof(date), run->now) < 0 ||
		    buf_printf(&b, "Return-Path: <>\r\nReceived: by %s (tern) "
		    "id %s; %s\r\n", c->hostname, qid, date) < 0 ||
		    dsn_build(&b, &d, &needs) < 0)
			break;
		iov.iov_base = b.data;
		iov.iov_len = b.len;
		if (queue_store(c, qid, "", &to, 1, &iov, 1, needs,
		    !c->unsafe_no_fsync) == 0) {
			r = 0;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (r == 0) {
		if (spool_env_read(c->spool_dir, qid, &run->dsn[run->ndsn],
		    why, sizeof(why)) == 0)
			run->ndsn++;
		log_info("qid=%s ev=%s dsn=%s to=<%s> nrcpt=%zu", e->qid,
		    action == DSN_FAILED ? "bounce-queued" :
		    "delay-warning-queued", qid, e->sender, n);
	} else {
		log_err("qid=%s ev=dsn-failed error=\"%s\"", e->qid,
		    strerror(errno));
	}
	buf_free(&b);
	free(dr);
	return r;
}

/*
 * merge an envelope changed from outside (disk) with the run's (ours):
 * ours wins for recipients this run or an unwritten earlier one changed
 * where disk still has them pending, for deliveries, and for bounces
 * queued for recipients disk has as failed; disk wins otherwise
 */
static void
merge_env(struct spool_env *ours, struct spool_env *disk,
    const unsigned char *touched)
{
	size_t i;

	if (disk->nrcpts != ours->nrcpts) {
		/* not the same message any more: the outside copy wins */
		spool_env_free(ours);
		*ours = *disk;
		memset(disk, 0, sizeof(*disk));
		return;
	}
	for (i = 0; i < ours->nrcpts; i++) {
		struct spool_rcpt *o = &ours->rcpts[i], *d = &disk->rcpts[i];
		struct spool_rcpt tmp;

		if ((touched[i] && d->state == SPOOL_PENDING) ||
		    (touched[i] && o->state == SPOOL_DELIVERED) ||
		    (o->state == SPOOL_BOUNCED && d->state == SPOOL_FAILED) ||
		    strcmp(o->addr, d->addr) != 0)
			continue;
		tmp = *o;
		*o = *d;
		*d = tmp;
	}
	ours->warned = ours->warned || disk->warned;
	ours->serial = disk->serial;
}

static void
persist_work(struct pool_job *job)
{
	struct qrun *run = (struct qrun *)job;
	const struct conf *c = run->q->conf;
	const char *spool = c->spool_dir;
	struct spool_env disk;
	char why[256];
	size_t i;
	int fd, fs = !c->unsafe_no_fsync;

	/* a report first, then the mark that it went: never lost */
	if (run->want_bounce) {
		if (store_dsn(run, DSN_FAILED) == 0) {
			for (i = 0; i < run->env.nrcpts; i++) {
				if (run->env.rcpts[i].state != SPOOL_FAILED)
					continue;
				run->env.rcpts[i].state = SPOOL_BOUNCED;
				run->touched[i] = 1;
			}
		} else {
			run->dsn_err = 1;
		}
	}
	if (run->want_warn) {
		if (store_dsn(run, DSN_DELAYED) == 0)
			run->env.warned = 1;
		else
			run->dsn_err = 1;
	}

	fd = spool_lock(spool, run->env.qid);
	if (fd < 0) {
		if (errno == ENOENT)
			run->gone = 1;
		else
			run->werr = errno;
		return;
	}
	if (spool_env_read(spool, run->env.qid, &disk, why, sizeof(why)) < 0) {
		if (errno == ENOENT) {
			run->gone = 1;
			spool_unlock(fd);
			return;
		}
		/* unreadable now: ours is the best copy there is */
		log_warn("qid=%s ev=envelope-replaced reason=\"%s\"",
		    run->env.qid, why);
	} else {
		if (disk.serial != run->env.serial) {
			log_info("qid=%s ev=merged serial=%u disk_serial=%u",
			    run->env.qid, run->env.serial, disk.serial);
			merge_env(&run->env, &disk, run->touched);
		}
		spool_env_free(&disk);
	}
	run->env.serial++;
	if (spool_env_done(&run->env)) {
		if (spool_remove(spool, run->env.qid, fs) < 0 &&
		    errno != ENOENT)
			run->werr = errno;
		else
			run->removed = 1;
	} else if (spool_env_write(spool, &run->env, fs) < 0) {
		run->werr = errno;
	}
	spool_unlock(fd);
}

static void
persist_done(struct pool_job *job)
{
	struct qrun *run = (struct qrun *)job;
	struct queue *q = run->q;
	struct qmsg *m = run->m, *d;
	size_t i;

	for (i = 0; i < run->ndsn; i++) {
		if (find_msg(q, run->dsn[i].qid) != NULL)
			continue; /* a rescan found it first */
		if ((d = add_msg(q, &run->dsn[i])) != NULL)
			schedule(d);
		/* else: on disk, found by the next rescan or start */
	}
	if (run->gone || run->removed) {
		log_info("qid=%s ev=%s", m->env.qid, run->gone ?
		    "removed reason=\"envelope removed from outside\"" :
		    "done");
		run->m = NULL;
		free_msg(q, m);
		end_run(run);
		return;
	}
	if (run->werr != 0) {
		/* memory stays ahead of the disk; written on the next run */
		log_err("qid=%s ev=envelope-write-failed error=\"%s\" "
		    "retry_in=%ds", m->env.qid, strerror(run->werr),
		    QUEUE_ERR_RETRY);
		m->dirty = 1;
		m->hold_until = q->now() + QUEUE_ERR_RETRY;
		for (i = 0; i < m->env.nrcpts && i < run->env.nrcpts; i++)
			if (run->env.rcpts[i].state == SPOOL_BOUNCED &&
			    m->env.rcpts[i].state == SPOOL_FAILED)
				m->env.rcpts[i].state = SPOOL_BOUNCED;
		m->env.warned = run->env.warned;
	} else {
		if (replace_env(m, &run->env) == 0)
			m->dirty = 0;
	}
	if (run->dsn_err)
		m->hold_until = q->now() + QUEUE_ERR_RETRY;
	end_run(run);
}

/* all groups answered: bounces, warnings, then write (on the pool) */
static void
finish_run(struct qrun *run)
{
	struct queue *q = run->q;
	struct qmsg *m = run->m;
	struct spool_env *e = &m->env;
	char text[LOG_TEXT_MAX];
	size_t i;

	run->now = q->now();
	/* RFC 5321 6.1: never bounce a bounce; tell the postmaster's log */
	for (i = 0; e->sender[0] == '\0' && i < e->nrcpts; i++) {
		struct spool_rcpt *r = &e->rcpts[i];

		if (r->state != SPOOL_FAILED)
			continue;
		log_warn("qid=%s ev=double-bounce to=postmaster rcpt=<%s> "
		    "relay=%s code=%d esc=%s text=\"%s\" msg=\"failed for "
		    "good; the sender is <>, so no bounce is sent\"",
		    e->qid, r->addr, r->host != NULL ? r->host : "none",
		    r->code, r->esc[0] ? r->esc : "-",
		    logq(text, sizeof(text), r->text));
		r->state = SPOOL_BOUNCED;
		m->touched[i] = 1;
		m->dirty = 1;
	}
	run->want_bounce = has_state(e, SPOOL_FAILED);
	run->want_warn = warning_wanted(q, e, run->now);
	if (!m->dirty && !run->want_bounce && !run->want_warn &&
	    !spool_env_done(e)) {
		end_run(run);
		return;
	}
	run->touched = malloc(e->nrcpts ? e->nrcpts : 1);
	if (run->touched == NULL || spool_env_copy(&run->env, e) < 0) {
		log_err("qid=%s ev=envelope-write-failed error=\"%s\"",
		    e->qid, strerror(ENOMEM));
		m->dirty = 1;
		m->hold_until = run->now + QUEUE_ERR_RETRY;
		end_run(run);
		return;
	}
	memcpy(run->touched, m->touched, e->nrcpts);
	run->job.work = persist_work;
	run->job.done = persist_done;
	pool_submit(q->pool, &run->job);
}

/* ------------------------------------------------------------------ */
/* scans: start-up and rescan (pool)                                   */

static void
scan_work(struct pool_job *job)
{
	struct qscan *s = (struct qscan *)job;
	const char *spool = s->q->conf->spool_dir;
	char why[256];
	char **qids;
	size_t n, i;

	spool_clean_tmp(spool, s->started);
	if (spool_list(spool, &qids, &n) < 0) {
		s->err = errno;
		return;
	}
	s->envs = calloc(n ? n : 1, sizeof(*s->envs));
	if (s->envs == NULL) {
		s->err = ENOMEM;
		spool_list_free(qids, n);
		return;
	}
	for (i = 0; i < n; i++) {
		struct spool_env *e = &s->envs[s->n];

		if (spool_env_read(spool, qids[i], e, why, sizeof(why)) < 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile */
			if (errno != EINVAL) {
				log_err("qid=%s ev=envelope-unreadable "
				    "error=\"%s\"", qids[i], why);
				continue;
			}
			log_err("qid=%s ev=corrupt reason=\"%s\" "
			    "action=moved-to-corrupt", qids[i], why);
			spool_quarantine(spool, qids[i]);
			continue;
		}
		if (spool_exists(spool, "msg", qids[i]) == 0) {
			log_err("qid=%s ev=corrupt reason=\"message file "
			    "missing\" action=moved-to-corrupt", qids[i]);
			spool_env_free(e);
			spool_quarantine(spool, qids[i]);
			continue;
		}
		s->n++;
	}
	spool_list_free(qids, n);
	if (s->startup)
		spool_clean_orphans(spool, s->started);
}

static void start_scan(struct queue *q, int startup);

static void
scan_done(struct pool_job *job)
{
	struct qscan *s = (struct qscan *)job;
	struct queue *q = s->q;
	unsigned added = 0, reloaded = 0, removed = 0;
	struct qmsg *m, *next;
	size_t i;

	if (s->err != 0)
		log_err("ev=queue-scan-failed spool=%s error=\"%s\"",
		    q->conf->spool_dir, strerror(s->err));
	for (i = 0; i < s->n; i++) {
		struct spool_env *e = &s->envs[i];

		m = find_msg(q, e->qid);
		if (m == NULL) {
			if ((m = add_msg(q, e)) != NULL) {
				m->seen = s->gen;
				added++;
			}
		} else {
			m->seen = s->gen;
			if (m->run == NULL && e->serial != m->env.serial &&
			    replace_env(m, e) == 0) {
				m->dirty = 0;
				m->hold_until = 0;
				reloaded++;
			}
		}
		spool_env_free(e);
	}
	for (i = 0; s->err == 0 && i < q->nbuckets; i++) {
		for (m = q->buckets[i]; m != NULL; m = next) {
			next = m->hnext;
			if (m->run != NULL || m->seen == s->gen ||
			    m->gen >= s->gen)
				continue;
			log_info("qid=%s ev=removed reason=\"envelope removed "
			    "from outside\"", m->env.qid);
			free_msg(q, m);
			removed++;
		}
	}
	for (i = 0; i < q->nbuckets; i++)
		for (m = q->buckets[i]; m != NULL; m = m->hnext)
			schedule(m);
	log_info("ev=queue-%s messages=%zu added=%u reloaded=%u removed=%u",
	    s->startup ? "loaded" : "rescanned", q->nmsgs, added, reloaded,
	    removed);
	free(s->envs);
	free(s);
	q->scanning = 0;
	if (q->rescan_again && !q->stopping) {
		q->rescan_again = 0;
		start_scan(q, 0);
	}
	dispatch(q);
}

static void
start_scan(struct queue *q, int startup)
{
	struct qscan *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		log_err("ev=queue-scan-failed error=\"%s\"", strerror(ENOMEM));
		return;
	}
	s->q = q;
	s->gen = ++q->gen;
	s->startup = startup;
	s->started = startup ? q->started : time(NULL);
	s->job.work = scan_work;
	s->job.done = scan_done;
	q->scanning = 1;
	pool_submit(q->pool, &s->job);
}

/* ------------------------------------------------------------------ */
/* the interface                                                       */

/*
 * queue_new - a queue for conf's spool, delivering through relay
 * (NULL: remote recipients are deferred with "no relay client") and
 * doing its disk work on pool. Nothing happens before queue_start().
 * NULL when out of memory.
 */
struct queue *
queue_new(struct event_base *base, const struct conf *conf,
    struct pool *pool, struct relay *relay)
{
	struct queue *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->nbuckets = 256;
	q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
	if (q->buckets == NULL) {
		free(q);
		return NULL;
	}
	q->base = base;
	q->conf = conf;
	q->pool = pool;
	q->relay = relay;
	q->send = relay_send;
	q->now = real_now;
	q->started = time(NULL);
	sched_params_from_conf(&q->sp, conf);
	TAILQ_INIT(&q->ready);
	TAILQ_INIT(&q->waiting);
	return q;
}

/*
 * queue_start - create the spool directories (blocking: call it at
 * start-up) and load the queue on the pool: every envelope is read,
 * corrupt ones go to corrupt/, message files without an envelope older
 * than queue_new() are removed, then due messages are sent. 0, or -1
 * with errno when the spool cannot be created (log says why).
 */
int
queue_start(struct queue *q)
{
	if (spool_prepare(q->conf->spool_dir) < 0) {
		int err = errno;

		log_err("ev=spool-failed spool=%s error=\"%s\"",
		    q->conf->spool_dir, strerror(err));
		errno = err;
		return -1;
	}
	q->started_ok = 1;
	start_scan(q, 1);
	return 0;
}

static void
submitted_work(struct pool_job *job)
{
	struct qload *l = (struct qload *)job;

	if (spool_env_read(l->q->conf->spool_dir, l->qid, &l->env, l->why,
	    sizeof(l->why)) < 0)
		l->err = errno;
}

static void
submitted_done(struct pool_job *job)
{
	struct qload *l = (struct qload *)job;
	struct queue *q = l->q;
	struct qmsg *m;

	q->nloads--;
	if (l->err != 0) {
		if (l->err != ENOENT)
			log_err("qid=%s ev=envelope-unreadable error=\"%s\"",
			    l->qid, l->why);
	} else if (find_msg(q, l->qid) == NULL &&
	    (m = add_msg(q, &l->env)) != NULL) {
		log_debug("qid=%s ev=queued nrcpt=%zu", m->env.qid,
		    m->env.nrcpts);
		schedule(m);
		dispatch(q);
	}
	spool_env_free(&l->env);
	free(l);
}

/*
 * queue_submitted - a message was stored with queue_store() and its 250
 * sent: load its envelope (on the pool) and send it
 */
void
queue_submitted(struct queue *q, const char *qid)
{
	struct qload *l;

	if (q->stopping || !spool_qid_ok(qid))
		return; /* on disk: the next start sends it */
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_err("qid=%s ev=queue-load-failed error=\"%s\" "
		    "msg=\"sent after the next rescan or restart\"", qid,
		    strerror(ENOMEM));
		return;
	}
	l->q = q;
	snprintf(l->qid, sizeof(l->qid), "%s", qid);
	l->job.work = submitted_work;
	l->job.done = submitted_done;
	q->nloads++;
	pool_submit(q->pool, &l->job);
}

/*
 * queue_rescan - re-read the spool (SIGUSR1, after `tern queue`):
 * new envelopes are loaded, changed ones reloaded, removed ones dropped,
 * and every message is rescheduled by the (possibly new) times
 */
void
queue_rescan(struct queue *q)
{
	if (q->stopping || !q->started_ok)
		return;
	if (q->scanning) {
		q->rescan_again = 1;
		return;
	}
	start_scan(q, 0);
}

/*
 * queue_shutdown - start no new delivery; deliveries in flight finish
 * and their results are written. Wait while queue_busy().
 */
void
queue_shutdown(struct queue *q)
{
	struct qgroup *g;
	struct qmsg *m;
	size_t i;

	if (q->stopping)
		return;
	q->stopping = 1;
	while ((m = TAILQ_FIRST(&q->ready)) != NULL) {
		TAILQ_REMOVE(&q->ready, m, rlink);
		m->ready = 0;
	}
	for (i = 0; i < q->nbuckets; i++)
		for (m = q->buckets[i]; m != NULL; m = m->hnext)
			event_del(m->timer);
	/* groups still waiting for a slot end without an attempt */
	while ((g = TAILQ_FIRST(&q->waiting)) != NULL) {
		TAILQ_REMOVE(&q->waiting, g, wlink);
		start_group(g);
	}
	log_info("ev=queue-stopping messages=%zu runs=%u", q->nmsgs,
	    q->nruns);
}

/* queue_busy - 1 while work is in flight (deliveries, disk jobs) */
int
queue_busy(const struct queue *q)
{
	return q->nruns > 0 || q->scanning || q->nloads > 0;
}

/*
 * queue_free - free the queue; only when !queue_busy() (call it before
 * pool_free and relay_free). NULL is ignored.
 */
void
queue_free(struct queue *q)
{
	struct qmsg *m, *next;
	size_t i;

	if (q == NULL)
		return;
	if (queue_busy(q)) {
		/* jobs still point at it: leaking beats a use after free */
		log_err("ev=queue-free-busy runs=%u msg=\"queue not freed\"",
		    q->nruns);
		return;
	}
	for (i = 0; i < q->nbuckets; i++) {
		for (m = q->buckets[i]; m != NULL; m = next) {
			next = m->hnext;
			event_free(m->timer);
			free(m->touched);
			spool_env_free(&m->env);
			free(m);
		}
	}
	free(q->buckets);
	free(q);
}

/* queue_test_hooks - tests only: replace relay_send and the clock */
void
queue_test_hooks(struct queue *q,
    void (*send)(struct relay *r, struct relay_msg *m), time_t (*now)(void))
{
	if (send != NULL)
		q->send = send;
	if (now != NULL)
		q->now = now;
}
