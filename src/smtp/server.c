/*
 * server - SMTP sessions on the event loop.
 *
 * Owns the listeners, every struct smtp_conn (one per TCP connection, with
 * its protocol engine), the per-address connection counts and the free
 * space figure the engine checks. Each read callback feeds all buffered
 * input to the engine and writes all replies at once, which is what
 * PIPELINING needs (RFC 2920: replies in order, flushed before waiting).
 * A complete message goes to the commit pool; reading pauses until the
 * reply for it is sent.
 *
 * Memory per session is bounded: input stops being read past a high
 * watermark, replies stop being produced while unsent output is large,
 * and the message itself is capped by max_message_size.
 *
 * A connection is never freed inside its own callback: it is put on the
 * reap list and freed from a separate event.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "../conf/conf.h"
#include "../event/pool.h"
#include "../explain/kb.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../net/listen.h"
#include "../net/tls.h"
#include "../queue/queue.h"
#include "../store/commit.h"
#include "proto.h"
#include "server_int.h"
#include "trace.h"

static void greet_cb(evutil_socket_t fd, short what, void *arg);
static void conn_watch_close(struct smtp_conn *c);

/* ---- per-address entries: open sessions and AUTH failures ---- */

static unsigned
ip_hash(const char *ip)
{
	return str_hash(ip) % IPTAB_SIZE;
}

/* peer_get - the entry for ip, made when missing; NULL when out of memory */
struct peer *
peer_get(struct server *s, const char *ip)
{
	unsigned h = ip_hash(ip);
	struct peer *e;

	for (e = s->peers[h]; e != NULL; e = e->next)
		if (strcmp(e->ip, ip) == 0)
			return e;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	e->next = s->peers[h];
	s->peers[h] = e;
	return e;
}

/* peer_release - forget e once it holds nothing: no session, no failure */
void
peer_release(struct server *s, struct peer *e)
{
	struct peer **pp;

	if (e->conns > 0 || e->auth_fails > 0)
		return;
	for (pp = &s->peers[ip_hash(e->ip)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
	}
}

/* ---- logging: the engine's reply hook ---- */

static void
log_reply(struct proto *p, enum reply_id id, const char *detail)
{
	struct smtp_conn *c = p->hook_arg;
	const struct reply_def *r = reply_get(id);

	if (r->code < 400) {
		log_debug("conn=%s ev=reply cmd=%s code=%d%s%s", c->id, p->verb,
		    r->code, detail ? " detail=" : "", detail ? detail : "");
		return;
	}
	log_info("conn=%s ev=reject client=%s cmd=%s code=%d esc=%s "
	    "reason=%s%s%s%s why=\"%s\"", c->id, p->client_ip, p->verb,
	    r->code, r->esc ? r->esc : "-", reply_name(id),
	    detail && !(r->flags & RF_HOST) ? " detail=\"" : "",
	    detail && !(r->flags & RF_HOST) ? detail : "",
	    detail && !(r->flags & RF_HOST) ? "\"" : "",
	    kb_short(r->code, r->esc));
}

/* ---- connection lifetime ---- */

/* conn_reap - free c from the reaper event, once nothing is in flight */
void
conn_reap(struct smtp_conn *c)
{
	if (c->reaping)
		return;
	c->reaping = 1;
	c->reap_next = c->srv->reap;
	c->srv->reap = c;
	event_active(c->srv->reap_ev, EV_TIMEOUT, 0);
}

static void
conn_free(struct smtp_conn *c)
{
	struct server *s = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	if (c->peer) {
		c->peer->conns--;
		peer_release(s, c->peer);
	}
	if (c->greet_ev)
		event_free(c->greet_ev);
	if (c->auth_ev)
		event_free(c->auth_ev);
	if (c->close_ev)
		event_free(c->close_ev);
	if (c->bev) {
		conn_read_free(c);
		bufferevent_free(c->bev);
	}
	proto_free(&c->proto);
	log_info("conn=%s ev=disconnect", c->id);
	free(c);
	/* a slot is free again: resume accepting if we had paused */
	if (s->accept_paused)
		event_active(s->resume_ev, EV_TIMEOUT, 0);
	if (s->shutting_down && s->nconns == 0 && s->on_idle != NULL)
		s->on_idle(s->on_idle_arg);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	while (s->reap != NULL) {
		struct smtp_conn *c = s->reap;

		s->reap = c->reap_next;
		/* a job in flight still uses the session: wait for it */
		if (c->commit != NULL || c->auth != NULL) {
			c->reaping = 0;
			continue;
		}
		conn_free(c);
	}
}

/* conn_drop - the client is gone or must be cut off: free when safe */
void
conn_drop(struct smtp_conn *c)
{
	c->gone = 1;
	if (c->bev) {
		conn_reading(c, 0);
		bufferevent_disable(c->bev, EV_WRITE);
	}
	if (c->commit == NULL && c->auth == NULL)
		conn_reap(c);
}

static void
set_timeouts(struct smtp_conn *c)
{
	const struct conf *cf = c->srv->conf;
	struct timeval rt = { 0, 0 }, wt = { 0, 0 };
	int data = c->proto.state == PS_DATA || c->proto.state == PS_BDAT;

	rt.tv_sec = data ? cf->data_timeout : cf->command_timeout;
	wt.tv_sec = cf->command_timeout;
	bufferevent_set_timeouts(c->bev, &rt, &wt);
	conn_read_timeout(c, &rt);
}

/*
 * bytes not yet handed to the kernel: with STARTTLS the session's
 * bufferevent is a filter, and its output moves on to the socket's own
 * bufferevent before it is really sent
 */
static size_t
conn_unsent(struct smtp_conn *c)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

/*
 * may a closing session be dropped: every reply has left, and inside TLS
 * a close_notify has followed them (RFC 8446 6.1), so the client can
 * tell our close from a truncation attack
 */
static int
conn_close_ready(struct smtp_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	if (ssl != NULL && !c->tls_shut && !c->handshaking) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return 0;
		SSL_shutdown(ssl);
		c->tls_shut = 1;
	}
	return conn_unsent(c) == 0;
}

static void
close_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;

	if (c->gone)
		return;
	if (conn_close_ready(c) || ++c->close_checks > CLOSE_CHECKS_MAX)
		conn_drop(c);
}

/* poll until the last reply (e.g. 221 inside TLS) has left */
static void
conn_watch_close(struct smtp_conn *c)
{
	struct timeval tv = { 0, 20000 };

	c->close_ev = event_new(c->srv->base, -1, EV_PERSIST, close_check_cb, c);
	if (c->close_ev == NULL || event_add(c->close_ev, &tv) < 0)
		conn_drop(c);
}

/*
 * A plain session hands its replies straight to the kernel when nothing
 * is queued before them: a reply then costs one send() rather than a
 * write event armed, waited for and disarmed (two epoll_ctl calls and a
 * loop turn per reply). What the socket does not take, and all TLS
 * output, goes through the bufferevent, whose write timeout still guards
 * a client that stops reading. Errors are left for the bufferevent to
 * meet on its own write, so they are reported the one usual way.
 */
static size_t
write_now(struct smtp_conn *c, const char *p, size_t n)
{
	ssize_t w;

	/* c->rev: a plain session, not (or not yet) TLS; see server_read.c */
	if (c->rev == NULL ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return 0;
	do {
		w = send(bufferevent_getfd(c->bev), p, n,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (w < 0 && errno == EINTR);
	return w > 0 ? (size_t)w : 0;
}

/* conn_flush - write the engine's replies; close once out if it ended */
void
conn_flush(struct smtp_conn *c)
{
	struct buf *out = &c->proto.out;

	if (c->gone)
		return;
	if (out->len > 0) {
		size_t sent = write_now(c, out->data, out->len);

		if (sent < out->len && bufferevent_write(c->bev,
		    out->data + sent, out->len - sent) < 0) {
			conn_drop(c);
			return;
		}
		buf_reset(out);
	}
	if (c->proto.state == PS_CLOSED && !c->closing) {
		c->closing = 1;
		conn_reading(c, 0);
	}
	if (c->closing && conn_close_ready(c))
		conn_drop(c);
	else if (c->closing && c->close_ev == NULL)
		conn_watch_close(c);
}

/* ---- commit ---- */

/*
 * commit_finish - log the result, answer the client and free r; on the
 * loop, whether the commit ran on a worker or in commit_now()
 */
static void
commit_finish(struct smtp_conn *c, struct commit_req *r)
{
	struct proto *p = &c->proto;
	enum reply_id id = commit_reply(r->err);
	const struct reply_def *rd = reply_get(id);
	unsigned long ms = (unsigned long)((now_usec() - c->commit_start) / 1000);

	if (r->err == 0) {
		char rcpts[1024];
		size_t n = 0;

		rcpts[0] = '\0';
		for (size_t i = 0; i < p->txn.nrcpts && n < sizeof(rcpts); i++) {
			int k = snprintf(rcpts + n, sizeof(rcpts) - n, "%s<%s>",
			    i ? "," : "", p->txn.rcpts[i]);
			if (k < 0)
				break;
			n += (size_t)k;
		}
		log_info("conn=%s ev=accept qid=%s client=%s from=<%s> "
		    "nrcpt=%zu rcpt=%s size=%zu code=%d esc=%s commit_ms=%lu",
		    c->id, r->qid, p->client_ip, p->txn.sender, p->txn.nrcpts,
		    rcpts, p->txn.body.len, rd->code, rd->esc, ms);
	} else {
		log_err("conn=%s ev=commit-failed qid=%s from=<%s> size=%zu "
		    "error=\"%s\" code=%d esc=%s", c->id, r->qid, p->txn.sender,
		    p->txn.body.len, strerror(r->err), rd->code, rd->esc);
	}
	c->commit = NULL;
	/* stored is stored, whether or not the client stayed to hear it */
	if (r->err == 0 && r->nremote > 0 && c->srv->queue != NULL)
		queue_submitted(c->srv->queue, r->qid);
	if (c->gone) {
		commit_req_free(r);
		conn_reap(c);
		return;
	}
	proto_commit_done(p, id, id == R_QUEUED ? r->qid : NULL);
	commit_req_free(r);
	conn_flush(c);
}

/* the pool finished a commit: answer, then read on */
static void
commit_cb(struct commit_req *r)
{
	struct smtp_conn *c = r->arg;

	commit_finish(c, r);
	if (!c->gone && !c->closing) {
		conn_reading(c, 1);
		conn_process(c);
	}
}

/* hand the complete message to the commit pool */
static void
commit_begin(struct smtp_conn *c)
{
	struct proto *p = &c->proto;
	struct commit_req *r;
	struct trace_info ti;

	r = commit_req_new(c->srv->conf, p->txn.boxes, p->txn.nboxes,
	    p->txn.remote, p->txn.nremote);
	if (r == NULL) {
		proto_commit_done(p, R_LOCAL_ERR, NULL);
		return;
	}
	memset(&ti, 0, sizeof(ti));
	ti.sender = p->txn.sender;
	ti.helo = p->helo;
	ti.client_ip = p->client_ip;
	ti.hostname = c->srv->conf->hostname;
	ti.with = proto_with(p);
	ti.qid = r->qid;
	ti.for_rcpt = p->txn.nrcpts == 1 ? p->txn.rcpts[0] : NULL;
	ti.tls = p->tls ? p->tls_info : NULL;
	ti.auth = p->auth_user[0] && c->srv->conf->received_auth ?
	    p->auth_user : NULL;
	ti.when = time(NULL);
	if (trace_headers(&r->head, &ti) < 0) {
		commit_req_free(r);
		proto_commit_done(p, R_LOCAL_ERR, NULL);
		return;
	}
	r->sender = p->txn.sender;
	r->qflags = (p->txn.smtputf8 ? QUEUE_F_SMTPUTF8 : 0) |
	    (p->txn.body8bit ? QUEUE_F_8BITMIME : 0);
	r->body = p->txn.body.data ? p->txn.body.data : "";
	r->bodylen = p->txn.body.len;
	r->cb = commit_cb;
	r->arg = c;
	c->commit = r;
	c->commit_start = now_usec();
	if (commit_now(r)) {
		/* unsafe_no_fsync: done already; conn_process reads on */
		commit_finish(c, r);
		return;
	}
	conn_reading(c, 0);
	commit_submit(c->srv->pool, r);
}

/* ---- input ---- */

/*
 * command_timeout bounds each whole command line, not just the silence
 * between bytes: a client sending one byte every few seconds would
 * otherwise hold a session for ever. line_since is when the unfinished
 * line began; a completed line restarts the clock.
 */
static int
line_pending(const struct smtp_conn *c)
{
	const struct proto *p = &c->proto;

	return (p->line.len > 0 || p->line_skip) && (p->state == PS_INIT ||
	    p->state == PS_READY || p->state == PS_MAIL || p->state == PS_AUTH);
}

static int
command_overdue(const struct smtp_conn *c)
{
	return line_pending(c) && c->line_since != 0 &&
	    now_usec() - c->line_since >
	    (uint64_t)c->srv->conf->command_timeout * 1000000u;
}

/* after a feed: start, restart or stop the clock of the unfinished line */
static void
command_clock(struct smtp_conn *c, unsigned long lines_before)
{
	if (!line_pending(c))
		c->line_since = 0;
	else if (c->line_since == 0 || c->proto.lines != lines_before)
		c->line_since = now_usec();
}

/* conn_process - feed buffered input to the engine until it must wait */
void
conn_process(struct smtp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->pregreet) {
		/* RFC 5321 4.3.1: a client waits for the greeting; bots don't */
		if (evbuffer_get_length(in) > 0) {
			log_info("conn=%s ev=pregreet client=%s bytes=%zu", c->id,
			    c->proto.client_ip, evbuffer_get_length(in));
			snprintf(c->proto.verb, sizeof(c->proto.verb), "-");
			proto_reply(&c->proto, R_PREGREET, NULL);
			conn_flush(c);
		}
		return;
	}
	if (c->handshaking)
		return;
	while (!c->gone && !c->closing && c->commit == NULL &&
	    c->auth == NULL) {
		struct evbuffer_iovec v;
		unsigned long lines;
		size_t used;

		if (evbuffer_get_length(out) + c->proto.out.len >= WRITE_HIGH) {
			/* the client is not reading: stop until it does */
			conn_reading(c, 0);
			break;
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		if (command_overdue(c)) {
			/* a command trickling in byte by byte (slowloris):
			 * it is not run, however it ends */
			log_info("conn=%s ev=timeout client=%s slow-command",
			    c->id, c->proto.client_ip);
			proto_timeout(&c->proto);
			break;
		}
		c->proto.free_space = c->srv->free_space;
		lines = c->proto.lines;
		used = proto_feed(&c->proto, v.iov_base, v.iov_len);
		evbuffer_drain(in, used);
		command_clock(c, lines);
		if (c->proto.state == PS_COMMIT) {
			conn_flush(c);
			commit_begin(c);
			if (c->commit != NULL)
				return;
			continue;
		}
		if (c->proto.state == PS_AUTH_CHECK) {
			conn_flush(c);
			server_auth_begin(c);
			if (c->auth != NULL)
				return;
			continue;
		}
		if (c->proto.state == PS_STARTTLS) {
			conn_flush(c);
			server_starttls(c);
			return;
		}
		conn_flush(c);
		if (used == 0)
			break;
	}
	if (!c->gone && !c->closing)
		set_timeouts(c);
	conn_flush(c);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_conn *c = arg;

	if (c->closing) {
		conn_flush(c);
		return;
	}
	/* output drained: resume input if we had paused for it */
	if (c->commit == NULL && c->auth == NULL && !c->gone &&
	    !c->handshaking) {
		conn_reading(c, 1);
		conn_process(c);
	}
}

/*
 * conn_event - a connection event, from the bufferevent or, for a plain
 * session's reads, from server_read.c in the bufferevent's terms
 */
void
conn_event(struct smtp_conn *c, short what)
{
	if (what & BEV_EVENT_CONNECTED) {
		server_tls_connected(c);
		return;
	}
	if (c->handshaking && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF |
	    BEV_EVENT_TIMEOUT))) {
		server_tls_error(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* still reading our replies is not idleness: the write
		 * timeout guards a client that stops reading */
		if ((what & BEV_EVENT_READING) && !c->closing &&
		    conn_unsent(c) > 0) {
			conn_reading(c, 1);
			return;
		}
		if ((what & BEV_EVENT_READING) && !c->closing &&
		    c->commit == NULL && c->auth == NULL) {
			log_info("conn=%s ev=timeout client=%s state=%d", c->id,
			    c->proto.client_ip, (int)c->proto.state);
			proto_timeout(&c->proto);
			bufferevent_enable(c->bev, EV_WRITE);
			conn_flush(c);
			return;
		}
		log_info("conn=%s ev=timeout-write client=%s", c->id,
		    c->proto.client_ip);
		conn_drop(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		int mid = c->proto.state == PS_DATA || c->proto.state == PS_BDAT;

		log_info("conn=%s ev=%s client=%s%s", c->id,
		    (what & BEV_EVENT_EOF) ? "eof" : "error", c->proto.client_ip,
		    mid ? " lost=message-in-transfer" : "");
		conn_drop(c);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	conn_event(arg, what);
}

/* conn_set_callbacks - attach our callbacks to c->bev (also after STARTTLS) */
void
conn_set_callbacks(struct smtp_conn *c)
{
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH);
	set_timeouts(c);
	bufferevent_enable(c->bev, EV_WRITE);
	conn_reading(c, 1);
}

/* ---- accepting ---- */

/* refuse a connection with a 421 written straight to the socket */
static void
refuse(struct server *s, evutil_socket_t fd, enum reply_id id, const char *ip)
{
	struct buf b;
	const struct reply_def *r = reply_get(id);

	buf_init(&b, 1024);
	if (reply_format(&b, id, s->conf->hostname) == 0) {
		/* best effort: the socket is fresh, the reply is tiny */
		if (send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* the client will see the close instead */
		}
	}
	buf_free(&b);
	log_info("conn=- ev=refuse client=%s code=%d esc=%s reason=%s", ip,
	    r->code, r->esc, reply_name(id));
	close(fd);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *lis = arg;
	struct server *s = lis->srv;
	const struct conf *cf = s->conf;
	char ip[64] = "unknown";
	struct smtp_conn *c;
	struct peer *e;
	int one = 1;

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, ip,
		    sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, ip,
		    sizeof(ip));
	if (s->shutting_down) {
		refuse(s, fd, R_SHUTDOWN, ip);
		return;
	}
	if (s->nconns >= cf->max_connections) {
		refuse(s, fd, R_CONN_LIMIT, ip);
		return;
	}
	e = peer_get(s, ip);
	if (e == NULL) {
		refuse(s, fd, R_LOCAL_ERR, ip);
		return;
	}
	if (cf->max_connections_per_ip != 0 &&
	    e->conns >= cf->max_connections_per_ip) {
		peer_release(s, e);
		refuse(s, fd, R_CONN_LIMIT_IP, ip);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		peer_release(s, e);
		refuse(s, fd, R_LOCAL_ERR, ip);
		return;
	}
	e->conns++;
	c->peer = e;
	c->srv = s;
	c->role = lis->role;
	snprintf(c->id, sizeof(c->id), "%06lx", s->next_id++ & 0xffffffUL);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	proto_init(&c->proto, cf, ip);
	c->proto.hook = log_reply;
	c->proto.hook_arg = c;
	c->proto.free_space = s->free_space;
	c->proto.relay_net = conf_relay_allowed(cf, ip);
	c->proto.relay_ok = c->proto.relay_net;
	c->proto.role = c->role == LISTEN_SMTP ? PROTO_ROLE_SMTP
	    : PROTO_ROLE_SUBMISSION;
	c->proto.tls_offered = s->tls != NULL && c->role != LISTEN_SUBMISSIONS;
	c->proto.auth_offered = s->users != NULL;
	log_info("conn=%s ev=connect client=%s port=%s", c->id, ip,
	    c->role == LISTEN_SMTP ? "smtp" : c->role == LISTEN_SUBMISSION ?
	    "submission" : "submissions");
	if (c->role == LISTEN_SUBMISSIONS) {
		/* RFC 8314: TLS first; the greeting follows the handshake */
		if (server_tls_accept(c, fd) < 0)
			conn_drop(c);
		return;
	}
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		conn_drop(c);
		return;
	}
	if (conn_read_init(c, fd) < 0) {
		conn_drop(c);
		return;
	}
	conn_set_callbacks(c);
	if (cf->pregreet_delay > 0) {
		struct timeval tv = { (time_t)cf->pregreet_delay, 0 };

		c->pregreet = 1;
		c->greet_ev = evtimer_new(s->base, greet_cb, c);
		if (c->greet_ev != NULL && evtimer_add(c->greet_ev, &tv) == 0)
			return;
		c->pregreet = 0;
	}
	proto_greet(&c->proto);
	conn_flush(c);
}

static void
greet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;

	c->pregreet = 0;
	proto_greet(&c->proto);
	conn_flush(c);
	conn_process(c);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (!s->accept_paused || s->shutting_down)
		return;
	s->accept_paused = 0;
	for (size_t i = 0; i < s->nlisteners; i++)
		evconnlistener_enable(s->listeners[i].l);
	log_info("ev=accept-resumed conns=%u", s->nconns);
}

/* accept failed (EMFILE, ENFILE, ENOMEM...): pause, don't spin */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *s = ((struct listener *)arg)->srv;
	struct timeval one = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	if (err == EINTR || err == EAGAIN || err == ECONNABORTED)
		return;
	log_warn("ev=accept-paused error=\"%s\" conns=%u", strerror(err),
	    s->nconns);
	s->accept_paused = 1;
	for (size_t i = 0; i < s->nlisteners; i++)
		evconnlistener_disable(s->listeners[i].l);
	/* resume when a connection closes, or after a second */
	event_add(s->resume_ev, &one);
}

/* ---- free space ---- */

static void
space_work(struct pool_job *job)
{
	struct server *s = (struct server *)((char *)job -
	    offsetof(struct server, space_job));
	struct statvfs sv;

	if (statvfs(s->conf->maildir_root, &sv) == 0)
		s->space_now = (uint64_t)sv.f_bavail * sv.f_frsize;
	else
		s->space_now = PROTO_SPACE_UNKNOWN;
}

static void
space_done(struct pool_job *job)
{
	struct server *s = (struct server *)((char *)job -
	    offsetof(struct server, space_job));

	s->free_space = s->space_now;
	s->space_busy = 0;
}

static void
space_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (s->space_busy)
		return;
	s->space_busy = 1;
	s->space_job.work = space_work;
	s->space_job.done = space_done;
	pool_submit(s->pool, &s->space_job);
}

/* ---- public ---- */

/* server_new - sessions for conf on base; commits run on pool */
struct server *
server_new(struct event_base *base, const struct conf *conf, struct pool *pool)
{
	struct server *s = xcalloc(1, sizeof(*s));
	struct timeval iv = { SPACE_INTERVAL, 0 };
	struct statvfs sv;

	s->base = base;
	s->conf = conf;
	s->pool = pool;
	s->next_id = ((unsigned long)time(NULL) ^ (unsigned long)getpid()) << 4;
	s->reap_ev = event_new(base, -1, 0, reap_cb, s);
	s->resume_ev = event_new(base, -1, 0, resume_cb, s);
	s->space_ev = event_new(base, -1, EV_PERSIST, space_cb, s);
	if (!s->reap_ev || !s->resume_ev || !s->space_ev)
		fatal("cannot create server events");
	/* at start-up a blocking statvfs is fine: the loop is not running */
	s->free_space = statvfs(conf->maildir_root, &sv) == 0
	    ? (uint64_t)sv.f_bavail * sv.f_frsize : PROTO_SPACE_UNKNOWN;
	event_add(s->space_ev, &iv);
	return s;
}

/*
 * server_reload - load certificates and the users file (at start-up and
 * on SIGHUP). All or nothing: on any error the old ones stay in use and
 * sessions keep what they have. A reload also refuses certificates that
 * have expired; at start-up they are used with a loud warning.
 */
int
server_reload(struct server *s)
{
	char err[512];
	SSL_CTX *tls;
	struct users *users;
	int first = !s->loaded;

	err[0] = '\0';
	if (server_load_tls(s, !first, &tls, err, sizeof(err)) < 0) {
		log_err("ev=%s what=tls error=\"%s\"", first ? "start-failed" :
		    "reload-failed", err);
		return -1;
	}
	if (server_load_users(s, &users, err, sizeof(err)) < 0) {
		log_err("ev=%s what=users error=\"%s\"", first ?
		    "start-failed" : "reload-failed", err);
		tls_ctx_free(tls);
		return -1;
	}
	tls_ctx_free(s->tls);
	s->tls = tls;
	users_free(s->users);
	s->users = users;
	s->loaded = 1;
	log_info("ev=%s tls=%s users=%zu", first ? "loaded" : "reload",
	    s->tls ? "yes" : "no", users_count(s->users));
	return 0;
}

/* server_listen - open every configured listener; -1 if one fails */
int
server_listen(struct server *s)
{
	const struct conf *cf = s->conf;

	s->listeners = xcalloc(cf->nlisten, sizeof(*s->listeners));
	for (size_t i = 0; i < cf->nlisten; i++) {
		struct listener *lis = &s->listeners[i];

		char err[256];
		int fd = listen_open(cf->listen[i].host, cf->listen[i].port, err,
		    sizeof(err));
		struct evconnlistener *l;

		if (fd < 0) {
			log_err("ev=listen-failed addr=%s port=%s error=\"%s\"",
			    cf->listen[i].host, cf->listen[i].port, err);
			return -1;
		}
		lis->srv = s;
		lis->role = cf->listen[i].role;
		l = evconnlistener_new(s->base, accept_cb, lis,
		    LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (l == NULL) {
			close(fd);
			return -1;
		}
		evconnlistener_set_error_cb(l, accept_error_cb);
		lis->l = l;
		s->nlisteners++;
		log_info("ev=listen addr=%s port=%s role=%s", cf->listen[i].host,
		    cf->listen[i].port, lis->role == LISTEN_SMTP ? "smtp" :
		    lis->role == LISTEN_SUBMISSION ? "submission" :
		    "submissions");
	}
	return 0;
}

static void
shutdown_force_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	for (struct smtp_conn *c = s->conns; c != NULL; c = c->next) {
		if (c->gone || c->commit != NULL)
			continue;
		proto_reply(&c->proto, R_SHUTDOWN, NULL);
		/* closes once the 421 has left (or the write times out) */
		conn_flush(c);
	}
}

/*
 * server_shutdown - stop accepting; idle sessions get 421 4.3.2 now,
 * sessions in the middle of a message finish it first (up to
 * shutdown_timeout). on_idle(arg) runs when the last session is gone.
 */
void
server_shutdown(struct server *s, void (*on_idle)(void *), void *arg)
{
	struct timeval tv = { (time_t)s->conf->shutdown_timeout, 0 };

	if (s->shutting_down)
		return;
	s->shutting_down = 1;
	s->on_idle = on_idle;
	s->on_idle_arg = arg;
	log_info("ev=shutdown conns=%u", s->nconns);
	for (size_t i = 0; i < s->nlisteners; i++)
		evconnlistener_disable(s->listeners[i].l);
	event_del(s->space_ev);
	for (struct smtp_conn *c = s->conns; c != NULL; c = c->next) {
		if (c->gone)
			continue;
		proto_shutdown(&c->proto);
		conn_flush(c);
	}
	if (s->nconns == 0) {
		if (s->on_idle != NULL)
			s->on_idle(s->on_idle_arg);
		return;
	}
	s->shutdown_ev = evtimer_new(s->base, shutdown_force_cb, s);
	if (s->shutdown_ev != NULL)
		evtimer_add(s->shutdown_ev, &tv);
}

/* server_set_queue - where commits that queued a message report it */
void
server_set_queue(struct server *s, struct queue *q)
{
	s->queue = q;
}

/* server_idle - no sessions left */
int
server_idle(const struct server *s)
{
	return s->nconns == 0;
}

/* server_free - close listeners and free what is left (after the loop) */
void
server_free(struct server *s)
{
	while (s->conns != NULL) {
		struct smtp_conn *c = s->conns;

		if (c->commit != NULL)
			c->commit = NULL; /* the pool is drained by now */
		conn_free(c);
	}
	for (size_t i = 0; i < s->nlisteners; i++)
		evconnlistener_free(s->listeners[i].l);
	free(s->listeners);
	for (size_t i = 0; i < IPTAB_SIZE; i++) {
		while (s->peers[i] != NULL) {
			struct peer *e = s->peers[i];

			s->peers[i] = e->next;
			free(e);
		}
	}
	tls_ctx_free(s->tls);
	users_free(s->users);
	event_free(s->reap_ev);
	event_free(s->resume_ev);
	event_free(s->space_ev);
	if (s->shutdown_ev)
		event_free(s->shutdown_ev);
	free(s);
}
