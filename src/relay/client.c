/*
 * client - the relay: outbound SMTP on libevent bufferevents.
 *
 * Owns the destinations (one per next hop: a domain looked up in DNS,
 * or a route's or the smarthost's "[host]:port"), their queues of
 * messages, their connections and DNS lookups (through mx.c), and the
 * TLS client context. The queue owns the messages; it hands one
 * relay_msg per domain to relay_send() and gets it back in done(),
 * always called from the event loop, with a result on every recipient.
 *
 * A destination resolves its name once (the answer is kept while it is
 * busy, up to DNS_CACHE_SEC), then runs up to
 * relay_destination_concurrency connections. Each connection walks the
 * address list (MX by preference) until one gives a session; a message
 * stays on its connection through reconnects, so the recipients still
 * undecided after a 421, a dropped connection or a refused greeting go
 * on to the next address. When the list is used up they get the last
 * error (4xx: deferred), and the other messages waiting for the same
 * destination are deferred with it at once instead of trying every
 * address again. After a message a connection takes the next message
 * of its destination, or waits IDLE_SEC for one, then says QUIT.
 *
 * Connection states:
 *   CONNECTING   TCP connect in progress (relay_connect_timeout)
 *   GREETING     waiting for the 220 (relay_connect_timeout again)
 *   EHLO, HELO   waiting for their replies (EHLO 5xx falls back to HELO)
 *   STARTTLS     waiting for the 220 to STARTTLS
 *   HANDSHAKE    TLS handshake, then EHLO again
 *   RSET         waiting for the reply to RSET before a new transaction
 *   TXN          MAIL, RCPT and DATA sent (all at once with PIPELINING),
 *                replies read in order from the expect list
 *   DATA         sending the message, dot-stuffed
 *   DOT          waiting for the reply to the final dot
 *   IDLE         session open, no message
 *   QUIT         QUIT sent, waiting for 221 or the close
 *
 * How replies decide recipients (RFC 5321 and replycodes.md section 4):
 * 2xx delivered (a 251 to RCPT is logged and kept as that recipient's
 * result, so the queue knows it was forwarded); 4xx deferred; 5xx
 * bounced (551 logged, its text quotes the forward-path); 452 and 552
 * to RCPT: the rest go in a new transaction when some were accepted,
 * else deferred as 452 (RFC 5321 4.5.3.1.10); a 4xx/5xx to DATA or to
 * the final dot decides every accepted recipient of the transaction; 421
 * anywhere ends the connection. A 5xx greeting or HELO is not a verdict
 * on the mail: next address, and deferred if it was the last. A message
 * with BODY=8BITMIME goes to a server without 8BITMIME anyway (nearly
 * all accept 8-bit data; Postfix does the same); one that needs SMTPUTF8
 * bounces with 553 5.6.7 if the server lacks it, and one bigger than the
 * server's SIZE bounces with 552 5.3.4, both without being sent.
 *
 * STARTTLS (RFC 3207), by the route's tls= or relay_tls: "none" never;
 * "may" when offered, going on in plain text when the server refuses it
 * and reconnecting in plain text when the handshake fails; "require"
 * insists, without checking the certificate; "verify" insists and
 * checks the chain (tls_ca_file, else the system store) and the host
 * name (the MX or route host; the IP for an address). A failure there
 * is 451 4.7.4/4.7.5 and the next address is tried. Input buffered
 * before the handshake is thrown away; EHLO is asked again after it.
 * msg->tls records "TLSv1.3 TLS_AES_256_GCM_SHA384".
 *
 * Timeouts (RFC 5321 4.5.3.2): relay_connect_timeout for the connect
 * and then for the 220 greeting (as tern.conf(5) says; RFC 5321 asks 5
 * minutes for the greeting, so a short setting is a deliberate choice);
 * relay_command_timeout for EHLO, STARTTLS, MAIL, RCPT, RSET; at
 * most 2 minutes for DATA's 354 and 3 minutes for each data block's
 * progress; relay_data_timeout for the reply to the final dot. A
 * timeout is a deadline per reply, so a server cannot stretch it by
 * trickling bytes.
 *
 * Results tern makes up itself (DNS, connect, timeouts, SIZE, SMTPUTF8,
 * TLS) come from the table in reply_parse.c and are marked synthetic.
 *
 * A connection is never freed inside its own callback: it goes to the
 * reap list and is freed from a separate event, like empty destinations.
 *
 * XXX message lines longer than 1000 octets are sent as they are; a
 * strict server may refuse them (RFC 5321 4.5.3.1.6), which bounces.
 */
#include "relay.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../conf/conf.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../queue/queue.h"
#include "mx.h"
#include "reply_parse.h"

#define IDLE_SEC 5            /* a session waits this long for a message */
#define REUSE_MAX 100         /* messages per connection */
#define DNS_CACHE_SEC 60      /* a destination's addresses are kept */
#define RCPT_BATCH 100        /* recipients per transaction (RFC 5321
                                 4.5.3.1.8: every server takes 100) */
#define DATA_INIT_MAX 120     /* RFC 5321 4.5.3.2.3 */
#define DATA_BLOCK_MAX 180    /* RFC 5321 4.5.3.2.5 */
#define QUIT_SEC 10
#define OUT_HIGH (64 * 1024)  /* data queued per refill */
#define OUT_LOW (16 * 1024)   /* refill below this */
#define INPUT_MAX (64 * 1024) /* unread input that is not a line */

#define DEF_CONNECT_TIMEOUT 30
#define DEF_COMMAND_TIMEOUT 300
#define DEF_DATA_TIMEOUT 600
#define DEF_CONCURRENCY 10

enum cstate {
	CS_CONNECTING, CS_GREETING, CS_EHLO, CS_HELO, CS_STARTTLS,
	CS_HANDSHAKE, CS_RSET, CS_TXN, CS_DATA, CS_DOT, CS_IDLE, CS_QUIT,
	CS_DEAD,
};

/* a recipient during one message's delivery */
enum rstate {
	RS_PENDING,  /* to be tried */
	RS_SENT,     /* RCPT sent in this transaction */
	RS_ACCEPTED, /* 2xx to RCPT, waiting for DATA and the dot */
	RS_LIMIT,    /* 452/552 to RCPT: next transaction, maybe */
	RS_DONE,     /* decided */
};

/* what the next reply in a transaction answers */
enum expect { EX_MAIL, EX_RCPT, EX_DATA };

/* the reason for an outcome: a reply, or tern's own words */
struct outcome {
	int code;
	char esc[16];
	char text[1024];
	int synthetic;
};

struct dest;
struct rconn;

/* one relay_msg in our hands */
struct mtask {
	struct relay *r;
	struct dest *d;
	struct relay_msg *m;
	struct mtask *next;       /* in d's waiting list */
	struct mtask *tprev, *tnext; /* in r->tasks until done() */
	unsigned char *st;        /* enum rstate per recipient */
	struct outcome *limit;    /* RS_LIMIT: the 452/552 reply;
	                             RS_ACCEPTED: the 251 reply, if any */
	size_t nundecided;
	struct outcome last;      /* last connection-level failure */
	int have_last;
	struct event *done_ev;
	int completed;
};

struct dest {
	struct relay *r;
	struct dest *next;
	char key[300];            /* domain, or "[host]:port/tls" for a hop */
	char name[256];           /* what to look up */
	char port[16];
	int is_host;              /* route or smarthost: A/AAAA, no MX */
	enum tls_policy tls;
	struct mtask *wait_head;  /* messages without a connection */
	struct mtask **wait_tail;
	struct rconn *conns;
	unsigned nconns;
	struct mx_query *q;       /* lookup in flight */
	struct mx_result *res;    /* its answer, or NULL */
	time_t resolved_at;
	struct outcome dead;      /* every address failed: defer the rest */
	int is_dead;
};

struct rconn {
	struct relay *r;
	struct dest *d;
	struct rconn *next;       /* in d->conns */
	struct rconn *reap_next;
	char id[16];
	enum cstate state;
	struct bufferevent *bev;
	struct event *timer;
	const char *step;         /* what we wait for, for messages */
	struct mx_result *addrs;  /* our own copy of the address list */
	size_t ai;                /* address in use */
	char remote[300];         /* "host[ip]:port" */
	int session;              /* the current socket has a session */
	int ever_session;         /* some socket of this walk had one */
	int esmtp;
	int tls_on;
	int tls_skip;             /* TLS failed here under "may": plain */
	char tls_desc[160];
	struct relay_caps caps;
	struct relay_reply rep;
	unsigned nmsgs;           /* messages finished on this socket */
	unsigned batch;           /* recipients per transaction */
	/* the message and its current transaction */
	struct mtask *mt;
	size_t *txn;              /* recipient indices in this transaction */
	size_t ntxn;
	size_t naccepted;
	unsigned char *expect;    /* enum expect per reply still due */
	size_t *expect_idx;       /* recipient for EX_RCPT */
	size_t ehead, ecount, ecap;
	size_t rcpt_next;         /* next RCPT to send without PIPELINING */
	size_t ntxns;             /* transactions for this message here */
	int mail_ok, mail_failed;
	int need_rset;            /* MAIL was accepted, no dot since */
	int dot_sent;
	int void_data;            /* 354 without recipients: send "." */
	struct relay_enc enc;
};

struct relay {
	struct event_base *base;
	const struct conf *conf;
	struct mx *mx;
	SSL_CTX *ssl;
	struct dest *dests;
	struct mtask *tasks;      /* every message not yet handed back */
	struct rconn *reap;
	struct event *reap_ev;
	unsigned nmsgs;           /* sent to us, done() not yet called */
	unsigned nconns;
	int shutting_down;
	unsigned long next_id;
};

static void conn_fail(struct rconn *c, const struct outcome *o);
static void conn_next(struct rconn *c);
static void conn_connect(struct rconn *c);
static void msg_start(struct rconn *c);
static void txn_begin(struct rconn *c);
static void dest_run(struct dest *d);

/* ---- small helpers ---- */

static unsigned
t_connect(const struct relay *r)
{
	return r->conf->relay_connect_timeout ? r->conf->relay_connect_timeout
	    : DEF_CONNECT_TIMEOUT;
}

static unsigned
t_command(const struct relay *r)
{
	return r->conf->relay_command_timeout ? r->conf->relay_command_timeout
	    : DEF_COMMAND_TIMEOUT;
}

static unsigned
t_data(const struct relay *r)
{
	return r->conf->relay_data_timeout ? r->conf->relay_data_timeout
	    : DEF_DATA_TIMEOUT;
}

static const char *
helo_name(const struct relay *r)
{
	return r->conf->hostname != NULL ? r->conf->hostname : "localhost";
}

static unsigned
umin(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

static void
oc_set(struct outcome *o, int code, const char *esc, int synthetic,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
oc_set(struct outcome *o, int code, const char *esc, int synthetic,
    const char *fmt, ...)
{
	va_list ap;

	o->code = code;
	snprintf(o->esc, sizeof(o->esc), "%s", esc != NULL ? esc : "");
	o->synthetic = synthetic;
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
}

static void
oc_synth(struct outcome *o, enum relay_synth id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* an outcome tern makes up (synthetic): code and esc from the table */
static void
oc_synth(struct outcome *o, enum relay_synth id, const char *fmt, ...)
{
	const struct relay_synth_def *def = reply_parse_synth(id);
	va_list ap;

	o->code = def->code;
	snprintf(o->esc, sizeof(o->esc), "%s", def->esc);
	o->synthetic = 1;
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
}

/* an outcome that is the server's reply as it came */
static void
oc_reply(struct outcome *o, const struct relay_reply *rep)
{
	oc_set(o, rep->code, rep->esc, 0, "%s", rep->text);
}

/*
 * A 5xx that policy turns soft (greeting, HELO): the next address is
 * tried, and the last one's answer defers. The class digit follows the
 * decision (replycodes.md section 0), the reply is quoted.
 */
static void
oc_soften(struct outcome *o, const struct relay_reply *rep, const char *who,
    const char *what)
{
	oc_synth(o, RSY_REFUSED, "%s %s: %d%s%s %s", who, what, rep->code,
	    rep->esc[0] != '\0' ? " " : "", rep->esc, rep->text);
	/* keep the server's detail, with the class of our decision */
	if (rep->esc[0] != '\0')
		snprintf(o->esc, sizeof(o->esc), "%c%s",
		    o->esc[0], rep->esc + 1);
}

static const char *
result_word(int code)
{
	if (code >= 200 && code < 300)
		return "delivered";
	if (code >= 400 && code < 500)
		return "deferred";
	if (code >= 500)
		return "bounced";
	return "untried";
}

/* ---- messages ---- */

static void
mtask_free(struct mtask *t)
{
	struct relay *r = t->r;

	if (t->tprev != NULL)
		t->tprev->tnext = t->tnext;
	else
		r->tasks = t->tnext;
	if (t->tnext != NULL)
		t->tnext->tprev = t->tprev;
	event_free(t->done_ev);
	free(t->st);
	free(t->limit);
	free(t);
}

static void
mtask_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mtask *t = arg;
	struct relay *r = t->r;
	struct relay_msg *m = t->m;

	r->nmsgs--;
	mtask_free(t);
	/* done() may send more, shut down or free the relay: nothing after */
	m->done(m, m->arg);
}

/*
 * Hand a message back: every recipient still undecided gets the last
 * connection-level failure, or stays "not tried" (code 0). done() runs
 * from a zero timer.
 */
static void
mtask_complete(struct mtask *t, int untried)
{
	struct timeval zero = { 0, 0 };
	struct relay_msg *m = t->m;
	size_t i;

	if (t->completed)
		return;
	t->completed = 1;
	for (i = 0; i < m->nrcpts; i++) {
		struct relay_rcpt *rc = &m->rcpts[i];

		if (t->st[i] == RS_DONE)
			continue;
		t->st[i] = RS_DONE;
		if (untried || !t->have_last) {
			rc->code = 0;
			rc->esc[0] = '\0';
			snprintf(rc->text, sizeof(rc->text), "%s",
			    untried ? "not tried: the relay is shutting down"
			    : "not tried");
			rc->synthetic = 1;
			continue;
		}
		rc->code = t->last.code;
		snprintf(rc->esc, sizeof(rc->esc), "%s", t->last.esc);
		snprintf(rc->text, sizeof(rc->text), "%s", t->last.text);
		rc->synthetic = t->last.synthetic;
		log_info("ev=relay_rcpt rcpt=<%s> result=%s code=%d esc=%s "
		    "remote=%s", rc->addr, result_word(rc->code), rc->code,
		    rc->esc[0] ? rc->esc : "-", m->remote[0] ? m->remote : "-");
	}
	t->nundecided = 0;
	event_add(t->done_ev, &zero);
	if (t->r->reap_ev != NULL)
		event_active(t->r->reap_ev, EV_TIMEOUT, 0);
}

static void
rcpt_decide(struct mtask *t, size_t i, const struct outcome *o)
{
	struct relay_rcpt *rc = &t->m->rcpts[i];

	if (t->st[i] == RS_DONE)
		return;
	t->st[i] = RS_DONE;
	t->nundecided--;
	rc->code = o->code;
	snprintf(rc->esc, sizeof(rc->esc), "%s", o->esc);
	snprintf(rc->text, sizeof(rc->text), "%s", o->text);
	rc->synthetic = o->synthetic;
	log_info("ev=relay_rcpt rcpt=<%s> result=%s code=%d esc=%s remote=%s",
	    rc->addr, result_word(o->code), o->code, o->esc[0] ? o->esc : "-",
	    t->m->remote[0] ? t->m->remote : "-");
}

/* every undecided recipient gets o */
static void
mtask_decide_all(struct mtask *t, const struct outcome *o)
{
	size_t i;

	for (i = 0; i < t->m->nrcpts; i++)
		rcpt_decide(t, i, o);
}

static void
mtask_set_last(struct mtask *t, const struct outcome *o)
{
	t->last = *o;
	t->have_last = 1;
}

/* ---- connections: plumbing ---- */

static void
reap_kick(struct relay *r)
{
	event_active(r->reap_ev, EV_TIMEOUT, 0);
}

static void
conn_timer(struct rconn *c, unsigned sec, const char *step)
{
	struct timeval tv = { (time_t)sec, 0 };

	c->step = step;
	evtimer_add(c->timer, &tv);
}

static void
conn_drop_socket(struct rconn *c)
{
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	evtimer_del(c->timer);
	c->session = 0;
	c->esmtp = 0;
	c->tls_on = 0;
	c->tls_desc[0] = '\0';
	c->nmsgs = 0;
	memset(&c->caps, 0, sizeof(c->caps));
}

/* the connection is finished: off its destination, freed later */
static void
conn_close(struct rconn *c)
{
	struct rconn **pp;

	if (c->state == CS_DEAD)
		return;
	conn_drop_socket(c);
	c->state = CS_DEAD;
	for (pp = &c->d->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->d->nconns--;
	c->reap_next = c->r->reap;
	c->r->reap = c;
	reap_kick(c->r);
}

static int
conn_send(struct rconn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
conn_send(struct rconn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	if (n < 0 || evbuffer_add(out, "\r\n", 2) != 0)
		return -1;
	return 0;
}

static void
fail_oom(struct rconn *c)
{
	struct outcome o;

	oc_synth(&o, RSY_LOCAL, "local error: out of memory");
	conn_fail(c, &o);
}

static void
conn_quit(struct rconn *c)
{
	if (c->bev == NULL || !c->session) {
		conn_close(c);
		return;
	}
	c->state = CS_QUIT;
	reply_parse_init(&c->rep);
	if (conn_send(c, "QUIT") != 0) {
		conn_close(c);
		return;
	}
	conn_timer(c, umin(t_command(c->r), QUIT_SEC), "waiting for the "
	    "reply to QUIT");
}

/* ---- transactions ---- */

static int
expect_push(struct rconn *c, enum expect e, size_t idx)
{
	size_t slot;

	if (c->ecount == c->ecap) {
		size_t n = c->ecap ? c->ecap * 2 : 16, i;
		unsigned char *ne = malloc(n);
		size_t *ni = malloc(n * sizeof(*ni));

		if (ne == NULL || ni == NULL) {
			free(ne);
			free(ni);
			return -1;
		}
		for (i = 0; i < c->ecount; i++) {
			ne[i] = c->expect[(c->ehead + i) % c->ecap];
			ni[i] = c->expect_idx[(c->ehead + i) % c->ecap];
		}
		free(c->expect);
		free(c->expect_idx);
		c->expect = ne;
		c->expect_idx = ni;
		c->ecap = n;
		c->ehead = 0;
	}
	slot = (c->ehead + c->ecount) % c->ecap;
	c->expect[slot] = (unsigned char)e;
	c->expect_idx[slot] = idx;
	c->ecount++;
	return 0;
}

static const char *
expect_step(enum expect e)
{
	switch (e) {
	case EX_MAIL:
		return "waiting for the reply to MAIL FROM";
	case EX_RCPT:
		return "waiting for the reply to RCPT TO";
	default:
		return "waiting for the reply to DATA";
	}
}

/* start the deadline for the reply at the head of the expect list */
static void
expect_timer(struct rconn *c)
{
	enum expect e;

	if (c->ecount == 0)
		return;
	e = (enum expect)c->expect[c->ehead];
	conn_timer(c, e == EX_DATA ? umin(t_command(c->r), DATA_INIT_MAX) :
	    t_command(c->r), expect_step(e));
}

static int
send_rcpt(struct rconn *c, size_t k)
{
	size_t i = c->txn[k];

	c->mt->st[i] = RS_SENT;
	if (conn_send(c, "RCPT TO:<%s>", c->mt->m->rcpts[i].addr) != 0 ||
	    expect_push(c, EX_RCPT, i) != 0)
		return -1;
	return 0;
}

static int
send_data_cmd(struct rconn *c)
{
	if (conn_send(c, "DATA") != 0 || expect_push(c, EX_DATA, 0) != 0)
		return -1;
	return 0;
}

/* the current transaction is over: what is left goes in another one */
static void
txn_end(struct rconn *c)
{
	struct mtask *t = c->mt;
	size_t k, i;
	int more = 0;

	for (k = 0; k < c->ntxn; k++) {
		i = c->txn[k];
		if (t->st[i] == RS_LIMIT) {
			if (c->naccepted > 0) {
				/* RFC 5321 4.5.3.1.10: the rest go later */
				t->st[i] = RS_PENDING;
			} else {
				rcpt_decide(t, i, &t->limit[i]);
			}
		} else if (t->st[i] == RS_SENT || t->st[i] == RS_ACCEPTED) {
			t->st[i] = RS_PENDING;
		}
	}
	if (c->naccepted > 0 && c->naccepted < c->ntxn) {
		for (k = 0; k < c->ntxn; k++)
			if (t->st[c->txn[k]] == RS_PENDING)
				more = 1;
		/* the server showed its limit */
		if (more && c->naccepted < c->batch)
			c->batch = (unsigned)c->naccepted;
	}
	c->ntxn = 0;
	c->ecount = 0;
	c->ehead = 0;
	if (t->nundecided > 0) {
		txn_begin(c);
		return;
	}
	c->nmsgs++;
	c->mt = NULL;
	t->d = NULL;
	mtask_complete(t, 0);
	conn_next(c);
}

static void
txn_begin(struct rconn *c)
{
	struct mtask *t = c->mt;
	struct relay_msg *m = t->m;
	struct evbuffer *mail;
	size_t i, k;
	int rc = 0;

	c->ntxn = 0;
	c->naccepted = 0;
	c->mail_ok = c->mail_failed = 0;
	c->dot_sent = 0;
	c->void_data = 0;
	c->ecount = c->ehead = 0;
	if (++c->ntxns > m->nrcpts + 1) {
		struct outcome o;

		/* cannot happen; but never loop on a confused server */
		oc_synth(&o, RSY_PROTOCOL, "too many transactions with %s",
		    c->remote);
		mtask_decide_all(t, &o);
	}
	for (i = 0; i < m->nrcpts && c->ntxn < c->batch; i++)
		if (t->st[i] == RS_PENDING)
			c->txn[c->ntxn++] = i;
	if (c->ntxn == 0) {
		txn_end(c);
		return;
	}
	if (c->need_rset) {
		c->state = CS_RSET;
		reply_parse_init(&c->rep);
		if (conn_send(c, "RSET") != 0) {
			fail_oom(c);
			return;
		}
		conn_timer(c, t_command(c->r), "waiting for the reply to RSET");
		c->ntxns--;
		return;
	}
	if ((mail = evbuffer_new()) == NULL) {
		fail_oom(c);
		return;
	}
	rc |= evbuffer_add_printf(mail, "MAIL FROM:<%s>", m->sender) < 0;
	if (c->esmtp) {
		if (c->caps.size)
			rc |= evbuffer_add_printf(mail, " SIZE=%zu",
			    m->len) < 0;
		if ((m->flags & (QUEUE_F_8BITMIME | QUEUE_F_SMTPUTF8)) &&
		    c->caps.eightbitmime)
			rc |= evbuffer_add_printf(mail, " BODY=8BITMIME") < 0;
		if ((m->flags & QUEUE_F_SMTPUTF8) && c->caps.smtputf8)
			rc |= evbuffer_add_printf(mail, " SMTPUTF8") < 0;
	}
	rc |= evbuffer_add(mail, "\r\n", 2) != 0;
	rc |= bufferevent_write_buffer(c->bev, mail) != 0;
	evbuffer_free(mail);
	if (rc != 0 || expect_push(c, EX_MAIL, 0) != 0) {
		fail_oom(c);
		return;
	}
	c->state = CS_TXN;
	reply_parse_init(&c->rep);
	if (c->caps.pipelining) {
		/* RFC 2920: the whole group at once, DATA last */
		for (k = 0; k < c->ntxn; k++)
			if (send_rcpt(c, k) != 0) {
				fail_oom(c);
				return;
			}
		if (send_data_cmd(c) != 0) {
			fail_oom(c);
			return;
		}
		c->rcpt_next = c->ntxn;
	} else {
		c->rcpt_next = 0;
	}
	expect_timer(c);
}

/* queue more message data; switch to DOT when all of it is queued */
static void
data_fill(struct rconn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct relay_msg *m = c->mt->m;
	char chunk[16384];
	size_t n;

	while (evbuffer_get_length(out) < OUT_HIGH) {
		if (c->void_data || c->enc.pos >= m->len) {
			n = c->void_data ? 0 : reply_parse_enc_end(&c->enc,
			    chunk, sizeof(chunk));
			if (c->void_data) {
				memcpy(chunk, ".\r\n", 3);
				n = 3;
			}
			if (evbuffer_add(out, chunk, n) != 0) {
				fail_oom(c);
				return;
			}
			c->dot_sent = 1;
			c->state = CS_DOT;
			reply_parse_init(&c->rep);
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
			conn_timer(c, t_data(c->r), "waiting for the reply to "
			    "the end of data");
			return;
		}
		n = reply_parse_enc_run(&c->enc, m->data, m->len, chunk,
		    sizeof(chunk));
		if (evbuffer_add(out, chunk, n) != 0) {
			fail_oom(c);
			return;
		}
	}
}

static void
data_begin(struct rconn *c)
{
	struct timeval tv = {
		(time_t)umin(t_command(c->r), DATA_BLOCK_MAX), 0
	};

	c->state = CS_DATA;
	evtimer_del(c->timer);
	c->step = "sending the message data";
	reply_parse_enc_init(&c->enc);
	/* RFC 5321 4.5.3.2.5: each block must make progress */
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	data_fill(c);
}

/*
 * msg_start - put the message on this session: refuse what the server
 * cannot take, then begin the first transaction.
 */
static void
msg_start(struct rconn *c)
{
	struct mtask *t = c->mt;
	struct relay_msg *m = t->m;
	struct outcome o;

	snprintf(m->remote, sizeof(m->remote), "%s", c->remote);
	snprintf(m->tls, sizeof(m->tls), "%s", c->tls_desc);
	if ((m->flags & QUEUE_F_SMTPUTF8) && !c->caps.smtputf8) {
		/* RFC 6531 3.4: no downgrade, so it cannot go */
		oc_synth(&o, RSY_NEED_UTF8, "the message needs SMTPUTF8, "
		    "which %s does not support", c->remote);
		mtask_decide_all(t, &o);
		txn_end(c);
		return;
	}
	if (c->caps.size && c->caps.size_max > 0 &&
	    (uint64_t)m->len > c->caps.size_max) {
		/* RFC 1870 6.1: do not send what it said it refuses */
		oc_synth(&o, RSY_TOO_BIG, "message size %zu exceeds the "
		    "size limit of %llu bytes of %s", m->len,
		    (unsigned long long)c->caps.size_max, c->remote);
		mtask_decide_all(t, &o);
		txn_end(c);
		return;
	}
	c->batch = RCPT_BATCH;
	c->ntxns = 0;
	if (c->caps.rcptmax > 0 && c->caps.rcptmax < c->batch)
		c->batch = c->caps.rcptmax;
	free(c->txn);
	c->txn = calloc(m->nrcpts, sizeof(*c->txn));
	if (c->txn == NULL) {
		fail_oom(c);
		return;
	}
	txn_begin(c);
}

/* after a message: the next one for this destination, or rest */
static void
conn_next(struct rconn *c)
{
	struct dest *d = c->d;
	struct mtask *t;
	struct timeval tv = { IDLE_SEC, 0 };

	if (c->state == CS_DEAD)
		return;
	if (c->r->shutting_down || c->nmsgs >= REUSE_MAX || c->bev == NULL) {
		conn_quit(c);
		return;
	}
	if ((t = d->wait_head) != NULL) {
		d->wait_head = t->next;
		if (d->wait_head == NULL)
			d->wait_tail = &d->wait_head;
		t->next = NULL;
		c->mt = t;
		msg_start(c);
		return;
	}
	c->state = CS_IDLE;
	c->step = "idle";
	reply_parse_init(&c->rep);
	evtimer_add(c->timer, &tv);
}

/* ---- failures ---- */

/*
 * conn_fail - this socket is done for (o says why): decide what the
 * failure decides, move on to the next address with what is left, or
 * give up on the destination.
 */
static void
conn_fail(struct rconn *c, const struct outcome *o)
{
	struct mtask *t = c->mt;
	size_t k, i;
	struct dest *d = c->d;
	struct mtask *w;
	int reused;

	if (c->state == CS_DEAD)
		return;
	log_info("relay=%s ev=conn_fail remote=%s code=%d esc=%s "
	    "reason=\"%s\"", c->id, c->remote, o->code, o->esc[0] ? o->esc :
	    "-", o->text);
	if (t == NULL) {
		conn_close(c);
		return;
	}
	for (k = 0; k < c->ntxn; k++) {
		i = c->txn[k];
		if (c->dot_sent && t->st[i] == RS_ACCEPTED) {
			/* the data was sent: it may have arrived; no second
			   host now (RFC 5321 4.1.1.4, 6.1), retry later */
			rcpt_decide(t, i, o);
		} else if (t->st[i] != RS_DONE) {
			t->st[i] = RS_PENDING;
		}
	}
	c->ntxn = 0;
	c->ecount = c->ehead = 0;
	c->need_rset = 0;
	if (o->code / 100 == 5) {
		/* not a verdict on the mail (RSET, a protocol error): the
		   recipients left wait for another try */
		struct outcome soft = *o;

		soft.code = reply_parse_synth(RSY_REFUSED)->code;
		soft.esc[0] = soft.esc[0] ? '4' : '\0';
		soft.synthetic = 1;
		mtask_set_last(t, &soft);
	} else {
		mtask_set_last(t, o);
	}
	reused = c->nmsgs > 0;
	conn_drop_socket(c);
	if (t->nundecided > 0 && !c->r->shutting_down && reused) {
		/* a kept session went stale: a fresh one, same host */
		conn_connect(c);
		return;
	}
	if (t->nundecided > 0 && !c->r->shutting_down &&
	    c->ai + 1 < c->addrs->naddrs) {
		c->ai++;
		c->tls_skip = 0;
		conn_connect(c);
		return;
	}
	c->mt = NULL;
	t->d = NULL;
	mtask_complete(t, c->r->shutting_down);
	if (!c->ever_session && !c->r->shutting_down) {
		/* no address gave a session: the others need not try */
		d->dead = *o;
		d->is_dead = 1;
		while ((w = d->wait_head) != NULL) {
			d->wait_head = w->next;
			w->d = NULL;
			mtask_set_last(w, o);
			mtask_complete(w, 0);
		}
		d->wait_tail = &d->wait_head;
	}
	conn_close(c);
}

static void
fail_lost(struct rconn *c, int err)
{
	struct outcome o;

	if (c->state == CS_CONNECTING) {
		oc_synth(&o, RSY_CONNECT, "connect to %s: %s", c->remote,
		    err ? strerror(err) : "connection failed");
	} else if (c->state == CS_QUIT || c->state == CS_IDLE) {
		conn_close(c);
		return;
	} else {
		oc_synth(&o, RSY_LOST, "lost connection with %s while %s",
		    c->remote, c->step);
	}
	conn_fail(c, &o);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn *c = arg;
	struct outcome o;

	switch (c->state) {
	case CS_CONNECTING:
		oc_synth(&o, RSY_CONNECT, "connect to %s: Connection "
		    "timed out", c->remote);
		conn_fail(c, &o);
		break;
	case CS_IDLE:
		conn_quit(c);
		break;
	case CS_QUIT:
		conn_close(c);
		break;
	case CS_DEAD:
		break;
	default:
		oc_synth(&o, RSY_TIMEOUT, "conversation with %s timed out "
		    "while %s", c->remote, c->step);
		conn_fail(c, &o);
		break;
	}
}

/* ---- TLS ---- */

static int
tls_wanted(const struct rconn *c)
{
	return c->d->tls != TLS_NONE && !c->tls_on && !c->tls_skip &&
	    c->r->ssl != NULL;
}

static void
tls_error_text(struct rconn *c, struct bufferevent *bev, char *out,
    size_t cap)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e;
	long vr;
	char buf[256] = "";

	if (ssl != NULL && c->d->tls == TLS_VERIFY &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(out, cap, "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
		return;
	}
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(out, cap, "%s", buf[0] ? buf : "handshake failed");
}

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static void
tls_start(struct rconn *c)
{
	SSL *ssl;
	struct bufferevent *tb;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	const char *host = c->addrs->addrs[c->ai].host;
	struct mx_addr lit;

	/* RFC 3207 6 / replycodes.md 5.12: nothing read before the
	   handshake may be taken as a reply after it */
	evbuffer_drain(in, evbuffer_get_length(in));
	if ((ssl = SSL_new(c->r->ssl)) == NULL) {
		fail_oom(c);
		return;
	}
	if (mx_literal(host, NULL, &lit) != 0)
		SSL_set_tlsext_host_name(ssl, host);
	if (c->d->tls == TLS_VERIFY) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		/* the name we looked up (MX or route host), or the IP */
		if (mx_literal(host, NULL, &lit) == 0 ?
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) != 1 : SSL_set1_host(ssl, host) != 1) {
			SSL_free(ssl);
			fail_oom(c);
			return;
		}
	} else {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	}
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	tb = bufferevent_openssl_filter_new(c->r->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		fail_oom(c);
		return;
	}
	c->bev = tb;
	c->state = CS_HANDSHAKE;
	bufferevent_setcb(tb, read_cb, write_cb, event_cb, c);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	conn_timer(c, t_command(c->r), "doing the TLS handshake");
}

static void
tls_done(struct rconn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	c->tls_on = 1;
	snprintf(c->tls_desc, sizeof(c->tls_desc), "%s %s",
	    SSL_get_version(ssl), SSL_CIPHER_get_name(SSL_get_current_cipher(
	    ssl)));
	log_info("relay=%s ev=tls remote=%s tls=\"%s\" verified=%s", c->id,
	    c->remote, c->tls_desc, c->d->tls == TLS_VERIFY ? "yes" : "no");
	/* RFC 3207 4.2: forget what we knew, ask again */
	c->state = CS_EHLO;
	c->esmtp = 0;
	reply_parse_init(&c->rep);
	if (conn_send(c, "EHLO %s", helo_name(c->r)) != 0) {
		fail_oom(c);
		return;
	}
	conn_timer(c, t_command(c->r), "waiting for the reply to EHLO");
}

static void
tls_fail(struct rconn *c, const char *why)
{
	struct outcome o;
	size_t ai = c->ai;

	oc_synth(&o, RSY_TLS_FAILED, "TLS with %s failed: %s", c->remote,
	    why);
	if (c->d->tls == TLS_MAY && c->mt != NULL) {
		/* opportunistic: the same host again, in plain text */
		log_info("relay=%s ev=tls_fallback remote=%s reason=\"%s\"",
		    c->id, c->remote, why);
		conn_drop_socket(c);
		c->tls_skip = 1;
		c->ai = ai;
		conn_connect(c);
		return;
	}
	conn_fail(c, &o);
}

/* ---- the session ---- */

static void
session_ready(struct rconn *c)
{
	c->session = 1;
	c->ever_session = 1;
	c->d->is_dead = 0; /* it answers again */
	log_info("relay=%s ev=session remote=%s esmtp=%d pipelining=%d "
	    "size=%llu tls=\"%s\"", c->id, c->remote, c->esmtp,
	    c->caps.pipelining, (unsigned long long)c->caps.size_max,
	    c->tls_desc);
	if (c->mt != NULL)
		msg_start(c);
	else
		conn_next(c);
}

static void
on_greeting(struct rconn *c)
{
	struct outcome o;

	if (c->rep.code / 100 == 2) {
		c->state = CS_EHLO;
		if (conn_send(c, "EHLO %s", helo_name(c->r)) != 0) {
			fail_oom(c);
			return;
		}
		conn_timer(c, t_command(c->r), "waiting for the reply to "
		    "EHLO");
		return;
	}
	/* 4xx: next host; 554/521: also, and defer if it was the last */
	if (c->rep.code / 100 == 5)
		oc_soften(&o, &c->rep, c->remote, "refused to talk to us");
	else
		oc_reply(&o, &c->rep);
	conn_fail(c, &o);
}

static void
on_ehlo(struct rconn *c)
{
	struct outcome o;

	if (c->rep.code / 100 == 5) {
		/* RFC 5321 3.2: an old server, try HELO */
		c->state = CS_HELO;
		if (conn_send(c, "HELO %s", helo_name(c->r)) != 0) {
			fail_oom(c);
			return;
		}
		conn_timer(c, t_command(c->r), "waiting for the reply to "
		    "HELO");
		return;
	}
	if (c->rep.code / 100 != 2) {
		oc_reply(&o, &c->rep);
		conn_fail(c, &o);
		return;
	}
	c->esmtp = 1;
	reply_parse_ehlo(&c->rep, &c->caps);
	if (c->caps.starttls && tls_wanted(c)) {
		c->state = CS_STARTTLS;
		if (conn_send(c, "STARTTLS") != 0) {
			fail_oom(c);
			return;
		}
		conn_timer(c, t_command(c->r), "waiting for the reply to "
		    "STARTTLS");
		return;
	}
	if (!c->tls_on && (c->d->tls == TLS_VERIFY ||
	    c->d->tls == TLS_REQUIRE)) {
		if (c->r->ssl == NULL)
			oc_synth(&o, RSY_TLS_MISSING, "TLS is required for %s, "
			    "but the TLS client could not be set up",
			    c->remote);
		else
			oc_synth(&o, RSY_TLS_MISSING, "TLS is required, but %s "
			    "did not offer STARTTLS", c->remote);
		conn_fail(c, &o);
		return;
	}
	session_ready(c);
}

static void
on_helo(struct rconn *c)
{
	struct outcome o;

	if (c->rep.code / 100 == 2) {
		memset(&c->caps, 0, sizeof(c->caps));
		if (c->d->tls == TLS_VERIFY || c->d->tls == TLS_REQUIRE) {
			oc_synth(&o, RSY_TLS_MISSING, "TLS is required, but %s "
			    "does not speak ESMTP", c->remote);
			conn_fail(c, &o);
			return;
		}
		session_ready(c);
		return;
	}
	if (c->rep.code / 100 == 5)
		oc_soften(&o, &c->rep, c->remote, "refused HELO");
	else
		oc_reply(&o, &c->rep);
	conn_fail(c, &o);
}

static void
on_starttls(struct rconn *c)
{
	struct outcome o;

	if (c->rep.code == 220) {
		tls_start(c);
		return;
	}
	if (c->d->tls == TLS_MAY) {
		/* offered but refused: go on in plain text */
		log_info("relay=%s ev=tls_refused remote=%s code=%d", c->id,
		    c->remote, c->rep.code);
		session_ready(c);
		return;
	}
	oc_synth(&o, RSY_TLS_MISSING, "TLS is required, but %s answered "
	    "STARTTLS with %d %s", c->remote, c->rep.code, c->rep.text);
	conn_fail(c, &o);
}

static void
on_rcpt_reply(struct rconn *c, size_t i)
{
	struct mtask *t = c->mt;
	struct outcome o;
	int code = c->rep.code;

	if (c->mail_failed || t->st[i] != RS_SENT)
		return;
	if (code / 100 == 2) {
		t->st[i] = RS_ACCEPTED;
		c->naccepted++;
		t->limit[i].code = 0;
		if (code == 251) {
			oc_reply(&t->limit[i], &c->rep);
			log_info("relay=%s ev=forward rcpt=<%s> remote=%s "
			    "text=\"%s\"", c->id, t->m->rcpts[i].addr,
			    c->remote, c->rep.text);
		}
		return;
	}
	if (code == 452 || code == 552) {
		/* RFC 5321 4.5.3.1.10: too many recipients, 552 too */
		t->st[i] = RS_LIMIT;
		oc_reply(&t->limit[i], &c->rep);
		if (code == 552) {
			t->limit[i].code = 452;
			if (t->limit[i].esc[0] == '5')
				t->limit[i].esc[0] = '4';
		}
		return;
	}
	if (code == 551)
		log_info("relay=%s ev=forward_refused rcpt=<%s> remote=%s "
		    "text=\"%s\"", c->id, t->m->rcpts[i].addr, c->remote,
		    c->rep.text);
	oc_reply(&o, &c->rep);
	rcpt_decide(t, i, &o);
}

/*
 * Every accepted recipient of the transaction gets the reply; when it
 * is a success, one that got 251 keeps that reply, so the queue learns
 * that the server forwards it (RFC 5321 3.4).
 */
static void
decide_accepted(struct rconn *c)
{
	struct outcome o;
	size_t k, i;

	oc_reply(&o, &c->rep);
	for (k = 0; k < c->ntxn; k++) {
		i = c->txn[k];
		if (c->mt->st[i] != RS_ACCEPTED)
			continue;
		if (o.code / 100 == 2 && c->mt->limit[i].code == 251)
			rcpt_decide(c->mt, i, &c->mt->limit[i]);
		else
			rcpt_decide(c->mt, i, &o);
	}
}

static void
on_txn_reply(struct rconn *c)
{
	enum expect e;
	size_t idx, k;
	struct outcome o;

	if (c->ecount == 0) {
		oc_synth(&o, RSY_PROTOCOL, "protocol error: %s sent a reply "
		    "nobody asked for: %d %s", c->remote, c->rep.code,
		    c->rep.text);
		conn_fail(c, &o);
		return;
	}
	e = (enum expect)c->expect[c->ehead];
	idx = c->expect_idx[c->ehead];
	c->ehead = (c->ehead + 1) % c->ecap;
	c->ecount--;
	switch (e) {
	case EX_MAIL:
		if (c->rep.code / 100 == 2) {
			c->mail_ok = 1;
			c->need_rset = 1;
		} else {
			c->mail_failed = 1;
			oc_reply(&o, &c->rep);
			for (k = 0; k < c->ntxn; k++)
				rcpt_decide(c->mt, c->txn[k], &o);
		}
		break;
	case EX_RCPT:
		on_rcpt_reply(c, idx);
		break;
	case EX_DATA:
		if (c->rep.code == 354) {
			if (c->mail_failed || c->naccepted == 0)
				c->void_data = 1;
			data_begin(c);
			return;
		}
		if (!c->mail_failed && c->naccepted > 0)
			decide_accepted(c);
		txn_end(c);
		return;
	}
	if (!c->caps.pipelining) {
		if (c->mail_failed) {
			txn_end(c);
			return;
		}
		if (c->rcpt_next < c->ntxn) {
			if (send_rcpt(c, c->rcpt_next++) != 0) {
				fail_oom(c);
				return;
			}
		} else if (c->ecount == 0) {
			if (c->naccepted == 0) {
				txn_end(c);
				return;
			}
			if (send_data_cmd(c) != 0) {
				fail_oom(c);
				return;
			}
		}
	}
	expect_timer(c);
}

static void
on_dot(struct rconn *c)
{
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	c->need_rset = 0;
	if (!c->void_data)
		decide_accepted(c);
	else
		c->need_rset = 1;
	txn_end(c);
}

static void
on_reply(struct rconn *c)
{
	struct outcome o;

	evtimer_del(c->timer);
	if (c->rep.code == 421 && c->state != CS_QUIT) {
		/* RFC 5321 3.8: the server is closing; a 421 to the dot
		   still defers the accepted recipients in conn_fail */
		oc_reply(&o, &c->rep);
		conn_fail(c, &o);
		return;
	}
	switch (c->state) {
	case CS_GREETING:
		on_greeting(c);
		break;
	case CS_EHLO:
		on_ehlo(c);
		break;
	case CS_HELO:
		on_helo(c);
		break;
	case CS_STARTTLS:
		on_starttls(c);
		break;
	case CS_RSET:
		if (c->rep.code / 100 != 2) {
			oc_reply(&o, &c->rep);
			conn_fail(c, &o);
			return;
		}
		c->need_rset = 0;
		txn_begin(c);
		break;
	case CS_TXN:
		on_txn_reply(c);
		break;
	case CS_DOT:
		on_dot(c);
		break;
	case CS_QUIT:
		conn_close(c);
		break;
	case CS_IDLE:
		/* nothing was asked: the server is leaving or confused */
		conn_close(c);
		break;
	default:
		oc_synth(&o, RSY_PROTOCOL, "protocol error: %s replied "
		    "while we were %s: %d %s", c->remote, c->step,
		    c->rep.code, c->rep.text);
		if (c->state == CS_DATA && c->rep.code >= 400) {
			/* it gave up on the data early: its verdict */
			oc_reply(&o, &c->rep);
			decide_accepted(c);
		}
		conn_fail(c, &o);
		break;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct outcome o;
	char *line;
	size_t n;
	int rc;

	while (c->state != CS_DEAD && c->bev == bev &&
	    c->state != CS_CONNECTING && c->state != CS_HANDSHAKE) {
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > REPLY_PARSE_LINE_MAX) {
				oc_synth(&o, RSY_PROTOCOL, "protocol error: "
				    "reply line from %s is too long",
				    c->remote);
				conn_fail(c, &o);
			}
			return;
		}
		rc = reply_parse_line(&c->rep, line, n);
		if (rc < 0) {
			oc_synth(&o, RSY_PROTOCOL, "protocol error: bad "
			    "reply line from %s while %s: \"%.100s\"",
			    c->remote, c->step, line);
			free(line);
			conn_fail(c, &o);
			return;
		}
		free(line);
		if (rc == 1) {
			on_reply(c);
			if (c->state != CS_DEAD && c->bev == bev)
				reply_parse_init(&c->rep);
		}
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;

	if (c->state == CS_DATA)
		data_fill(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rconn *c = arg;
	int err = EVUTIL_SOCKET_ERROR();
	char why[300];

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CS_HANDSHAKE) {
			tls_done(c);
			return;
		}
		c->state = CS_GREETING;
		reply_parse_init(&c->rep);
		/* tern.conf(5): relay_connect_timeout covers the 220 too */
		conn_timer(c, t_connect(c->r), "waiting for the greeting");
		return;
	}
	if (c->state == CS_HANDSHAKE) {
		tls_error_text(c, bev, why, sizeof(why));
		tls_fail(c, why);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		struct outcome o;

		oc_synth(&o, RSY_TIMEOUT, "conversation with %s timed out "
		    "while %s", c->remote, c->step);
		conn_fail(c, &o);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* a reply may still be in the input: read it first */
		read_cb(bev, c);
		if (c->state == CS_DEAD || c->bev != bev)
			return;
		err = 0;
	}
	fail_lost(c, (what & BEV_EVENT_ERROR) ? err : 0);
}

/* connect to addrs[ai] */
static void
conn_connect(struct rconn *c)
{
	struct mx_addr *a = &c->addrs->addrs[c->ai];
	unsigned port;
	struct timeval tv = { (time_t)t_connect(c->r), 0 };
	int err;

	port = a->sa.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&a->sa)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&a->sa)->sin_port);
	snprintf(c->remote, sizeof(c->remote), "%s[%s]:%u", a->host, a->ip,
	    port);
	if (c->mt != NULL)
		snprintf(c->mt->m->remote, sizeof(c->mt->m->remote), "%s",
		    c->remote);
	c->state = CS_CONNECTING;
	c->step = "connecting";
	c->ecount = c->ehead = 0;
	c->need_rset = 0;
	reply_parse_init(&c->rep);
	log_debug("relay=%s ev=connect remote=%s", c->id, c->remote);
	c->bev = bufferevent_socket_new(c->r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		fail_oom(c);
		return;
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &tv);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&a->sa,
	    (int)a->salen) != 0) {
		err = EVUTIL_SOCKET_ERROR();
		fail_lost(c, err);
	}
}

static struct rconn *
conn_new(struct dest *d, struct mtask *t)
{
	struct relay *r = d->r;
	struct rconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->addrs = malloc(sizeof(*c->addrs));
	c->timer = evtimer_new(r->base, timer_cb, c);
	if (c->addrs == NULL || c->timer == NULL) {
		free(c->addrs);
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
		return NULL;
	}
	*c->addrs = *d->res;
	c->r = r;
	c->d = d;
	c->mt = t;
	c->batch = RCPT_BATCH;
	snprintf(c->id, sizeof(c->id), "r%lx", ++r->next_id);
	c->next = d->conns;
	d->conns = c;
	d->nconns++;
	r->nconns++;
	conn_connect(c);
	return c;
}

static void
conn_free(struct rconn *c)
{
	conn_drop_socket(c);
	event_free(c->timer);
	free(c->addrs);
	free(c->txn);
	free(c->expect);
	free(c->expect_idx);
	c->r->nconns--;
	free(c);
}

/* ---- destinations ---- */

static void
dest_resolved(const struct mx_result *res, void *arg)
{
	struct dest *d = arg;

	d->q = NULL;
	free(d->res);
	d->res = malloc(sizeof(*d->res));
	if (d->res == NULL) {
		struct outcome o;
		struct mtask *w;

		oc_synth(&o, RSY_LOCAL, "local error: out of memory");
		while ((w = d->wait_head) != NULL) {
			d->wait_head = w->next;
			w->d = NULL;
			mtask_set_last(w, &o);
			mtask_complete(w, 0);
		}
		d->wait_tail = &d->wait_head;
		return;
	}
	*d->res = *res;
	d->resolved_at = time(NULL);
	if (res->code != 0)
		log_info("ev=relay_dns dest=%s code=%d esc=%s text=\"%s\"",
		    d->key, res->code, res->esc, res->text);
	dest_run(d);
}

/* give waiting messages to connections, open more, or decide them */
static void
dest_run(struct dest *d)
{
	struct relay *r = d->r;
	unsigned limit = r->conf->relay_destination_concurrency ?
	    r->conf->relay_destination_concurrency : DEF_CONCURRENCY;
	struct mtask *t;
	struct rconn *c;
	struct outcome o;

	if (d->wait_head == NULL || d->q != NULL)
		return;
	if (d->is_dead || (d->res != NULL && d->res->code != 0)) {
		if (d->is_dead) {
			o = d->dead;
		} else {
			oc_set(&o, d->res->code, d->res->esc, 1, "%s",
			    d->res->text);
		}
		while ((t = d->wait_head) != NULL) {
			d->wait_head = t->next;
			t->d = NULL;
			if (t->nundecided > 0) {
				/* set the remote for the DSN, if any */
				mtask_set_last(t, &o);
				mtask_decide_all(t, &o);
			}
			mtask_complete(t, 0);
		}
		d->wait_tail = &d->wait_head;
		return;
	}
	/* an idle session takes the next message at once */
	for (c = d->conns; c != NULL && d->wait_head != NULL; c = c->next) {
		if (c->state != CS_IDLE)
			continue;
		t = d->wait_head;
		d->wait_head = t->next;
		if (d->wait_head == NULL)
			d->wait_tail = &d->wait_head;
		t->next = NULL;
		evtimer_del(c->timer);
		c->mt = t;
		msg_start(c);
	}
	if (d->wait_head == NULL || d->nconns >= limit)
		return;
	if (d->res == NULL || time(NULL) - d->resolved_at > DNS_CACHE_SEC) {
		if (d->is_host)
			d->q = mx_lookup_host(r->mx, d->name, d->port,
			    dest_resolved, d);
		else
			d->q = mx_lookup_domain(r->mx, d->name, d->port,
			    dest_resolved, d);
		if (d->q == NULL) {
			oc_synth(&d->dead, RSY_LOCAL, "local error: out "
			    "of memory");
			d->is_dead = 1;
			dest_run(d);
		}
		return;
	}
	while (d->wait_head != NULL && d->nconns < limit) {
		t = d->wait_head;
		d->wait_head = t->next;
		if (d->wait_head == NULL)
			d->wait_tail = &d->wait_head;
		t->next = NULL;
		if (conn_new(d, t) == NULL) {
			oc_synth(&o, RSY_LOCAL, "local error: out of "
			    "memory");
			t->d = NULL;
			mtask_set_last(t, &o);
			mtask_complete(t, 0);
		}
	}
}

static struct dest *
dest_get(struct relay *r, const char *domain)
{
	const struct conf_hop *hop = conf_route_for(r->conf, domain);
	char key[300];
	struct dest *d;
	const char *port;

	if (hop != NULL && hop->host != NULL) {
		port = hop->port != NULL ? hop->port : "25";
		snprintf(key, sizeof(key), "[%s]:%s/%d", hop->host, port,
		    (int)hop->tls);
	} else {
		hop = NULL;
		port = r->conf->relay_port != NULL ? r->conf->relay_port : "25";
		snprintf(key, sizeof(key), "%s", domain);
		str_lower(key);
	}
	for (d = r->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->r = r;
	memcpy(d->key, key, sizeof(d->key));
	snprintf(d->name, sizeof(d->name), "%.255s",
	    hop != NULL ? hop->host : key);
	snprintf(d->port, sizeof(d->port), "%s", port);
	d->is_host = hop != NULL;
	d->tls = hop != NULL ? hop->tls : r->conf->relay_tls;
	d->wait_tail = &d->wait_head;
	d->next = r->dests;
	r->dests = d;
	return d;
}

static void
dest_free(struct dest *d)
{
	if (d->q != NULL)
		mx_cancel(d->q);
	free(d->res);
	free(d);
}

/* free reaped connections; run and tidy destinations */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	struct rconn *c;
	struct dest **pp, *d;

	while ((c = r->reap) != NULL) {
		r->reap = c->reap_next;
		conn_free(c);
	}
	for (d = r->dests; d != NULL; d = d->next)
		dest_run(d);
	for (pp = &r->dests; (d = *pp) != NULL;) {
		if (d->wait_head == NULL && d->conns == NULL && d->q == NULL) {
			*pp = d->next;
			dest_free(d);
		} else {
			pp = &d->next;
		}
	}
}

/* ---- the interface ---- */

static SSL_CTX *
ssl_ctx_new(const struct conf *conf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok;

	if (ctx == NULL)
		return NULL;
	ok = SSL_CTX_set_min_proto_version(ctx, conf->tls_min_version != NULL
	    && strcmp(conf->tls_min_version, "TLSv1.3") == 0 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	if (ok && conf->tls_ciphers != NULL)
		ok = SSL_CTX_set_cipher_list(ctx, conf->tls_ciphers);
	if (ok)
		ok = conf->tls_ca_file != NULL ?
		    SSL_CTX_load_verify_locations(ctx, conf->tls_ca_file,
		    NULL) : SSL_CTX_set_default_verify_paths(ctx);
	if (!ok) {
		log_err("ev=relay_tls_error what=\"client TLS setup failed\" "
		    "ca_file=%s", conf->tls_ca_file ? conf->tls_ca_file : "-");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * relay_new - the relay on base with conf (kept, not copied). Returns
 * NULL (and logs why) when the resolver or TLS cannot be set up.
 */
struct relay *
relay_new(struct event_base *base, const struct conf *conf)
{
	struct relay *r = calloc(1, sizeof(*r));
	char err[256];

	if (r == NULL)
		return NULL;
	r->base = base;
	r->conf = conf;
	r->reap_ev = event_new(base, -1, 0, reap_cb, r);
	r->mx = mx_new(base, conf, err, sizeof(err));
	if (r->mx == NULL)
		log_err("ev=relay_error what=\"resolver: %s\"", err);
	r->ssl = ssl_ctx_new(conf);
	if (r->reap_ev == NULL || r->mx == NULL ||
	    (r->ssl == NULL && (conf->relay_tls == TLS_VERIFY ||
	    conf->relay_tls == TLS_REQUIRE))) {
		relay_free(r);
		return NULL;
	}
	return r;
}

static void
oom_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_msg *m = arg;

	m->done(m, m->arg);
}

/* no memory for the message: it comes back deferred, still async */
static void
send_oom(struct relay *r, struct relay_msg *m, struct mtask *t)
{
	struct timeval zero = { 0, 0 };
	size_t i;

	if (t != NULL) {
		free(t->st);
		free(t->limit);
		free(t);
	}
	for (i = 0; i < m->nrcpts; i++) {
		m->rcpts[i].code = 451;
		snprintf(m->rcpts[i].esc, sizeof(m->rcpts[i].esc), "4.3.0");
		snprintf(m->rcpts[i].text, sizeof(m->rcpts[i].text),
		    "local error: out of memory");
		m->rcpts[i].synthetic = 1;
	}
	if (event_base_once(r->base, -1, EV_TIMEOUT, oom_done_cb, m,
	    &zero) != 0)
		fatal("relay_send: out of memory");
}

static int
addr_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' ||
		    *s == '>')
			return 0;
	return 1;
}

/*
 * relay_send - deliver m to its recipients (all in m->domain). m and
 * its data must stay valid until m->done(m, m->arg), which always comes
 * later from the event loop, with every recipient's result filled in.
 */
void
relay_send(struct relay *r, struct relay_msg *m)
{
	struct mtask *t = calloc(1, sizeof(*t));
	struct dest *d;
	struct outcome o;
	size_t i;

	if (t == NULL || (t->st = calloc(m->nrcpts + 1, 1)) == NULL ||
	    (t->limit = calloc(m->nrcpts + 1, sizeof(*t->limit))) == NULL ||
	    (t->done_ev = evtimer_new(r->base, mtask_done_cb, t)) == NULL) {
		send_oom(r, m, t);
		return;
	}
	t->r = r;
	t->tnext = r->tasks;
	if (r->tasks != NULL)
		r->tasks->tprev = t;
	r->tasks = t;
	t->m = m;
	t->nundecided = m->nrcpts;
	r->nmsgs++;
	m->remote[0] = '\0';
	m->tls[0] = '\0';
	for (i = 0; i < m->nrcpts; i++) {
		m->rcpts[i].code = 0;
		m->rcpts[i].esc[0] = '\0';
		m->rcpts[i].text[0] = '\0';
		m->rcpts[i].synthetic = 0;
	}
	if (r->shutting_down || m->nrcpts == 0) {
		mtask_complete(t, r->shutting_down);
		return;
	}
	/* what we send must not smuggle a command (replycodes.md 5.11) */
	if (!addr_ok(m->sender)) {
		oc_synth(&o, RSY_BAD_SENDER, "bad sender address syntax");
		mtask_decide_all(t, &o);
	}
	for (i = 0; i < m->nrcpts; i++)
		if (!addr_ok(m->rcpts[i].addr)) {
			oc_synth(&o, RSY_BAD_RCPT, "bad recipient address "
			    "syntax");
			rcpt_decide(t, i, &o);
		}
	if (t->nundecided == 0 || (d = dest_get(r, m->domain)) == NULL) {
		if (t->nundecided > 0) {
			oc_synth(&o, RSY_LOCAL, "local error: out of "
			    "memory");
			mtask_set_last(t, &o);
		}
		mtask_complete(t, 0);
		return;
	}
	t->d = d;
	*d->wait_tail = t;
	d->wait_tail = &t->next;
	dest_run(d);
}

/*
 * relay_shutdown - take no more messages: those not yet on a connection
 * come back untried (code 0), sessions between messages say QUIT, and
 * transactions under way finish. Wait for relay_busy() to be 0.
 */
void
relay_shutdown(struct relay *r)
{
	struct dest *d;
	struct rconn *c, *next;
	struct mtask *t;

	r->shutting_down = 1;
	for (d = r->dests; d != NULL; d = d->next) {
		while ((t = d->wait_head) != NULL) {
			d->wait_head = t->next;
			t->d = NULL;
			mtask_complete(t, 1);
		}
		d->wait_tail = &d->wait_head;
		if (d->q != NULL) {
			mx_cancel(d->q);
			d->q = NULL;
		}
		for (c = d->conns; c != NULL; c = next) {
			next = c->next;
			switch (c->state) {
			case CS_RSET:
			case CS_TXN:
			case CS_DATA:
			case CS_DOT:
			case CS_QUIT:
				break;
			case CS_IDLE:
				evtimer_del(c->timer);
				conn_quit(c);
				break;
			default:
				/* not yet in a transaction: stop here */
				if (c->mt != NULL) {
					c->mt->d = NULL;
					mtask_complete(c->mt, 1);
					c->mt = NULL;
				}
				if (c->session)
					conn_quit(c);
				else
					conn_close(c);
				break;
			}
		}
	}
	reap_kick(r);
}

/* relay_busy - messages not yet handed back, or connections open */
int
relay_busy(const struct relay *r)
{
	return r->nmsgs > 0 || r->nconns > 0;
}

/*
 * relay_free - close everything at once. Messages still in our hands
 * get no done() call: free the relay only when relay_busy() is 0, or
 * when giving up on them (their queue files stay as they were).
 */
void
relay_free(struct relay *r)
{
	struct dest *d;
	struct rconn *c;
	struct mtask *t;

	if (r == NULL)
		return;
	while ((d = r->dests) != NULL) {
		r->dests = d->next;
		while ((c = d->conns) != NULL) {
			d->conns = c->next;
			conn_free(c);
		}
		dest_free(d);
	}
	while ((t = r->tasks) != NULL)
		mtask_free(t);
	while ((c = r->reap) != NULL) {
		r->reap = c->reap_next;
		conn_free(c);
	}
	mx_free(r->mx);
	if (r->ssl != NULL)
		SSL_CTX_free(r->ssl);
	if (r->reap_ev != NULL)
		event_free(r->reap_ev);
	free(r);
}
