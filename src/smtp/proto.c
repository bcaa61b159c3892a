/*
 * proto - the SMTP protocol engine (RFC 5321 with SIZE, PIPELINING,
 * 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8 and CHUNKING).
 *
 * It owns the session's protocol state, the transaction (sender,
 * recipients, message content) and the reply text waiting to be sent.
 * It leaves to the server: sockets, timers, committing a message to disk
 * and logging (through the reply hook). Every reply goes through
 * proto_reply(), which also counts errors and marks the session closed
 * after a 221 or 421.
 */
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../lib/util.h"
#include "trace.h"

enum { AUTH_M_NONE, AUTH_M_PLAIN, AUTH_M_LOGIN_USER, AUTH_M_LOGIN_PASS };

static int shutdown_due(const struct proto *p);
static void auth_clear(struct proto *p);
static void proto_reply_lines(struct proto *p, enum reply_id id,
    const char *const *lines, unsigned n);

/* proto_init - a new session for a client; call proto_greet() next */
void
proto_init(struct proto *p, const struct conf *conf, const char *client_ip)
{
	memset(p, 0, sizeof(*p));
	p->conf = conf;
	p->state = PS_INIT;
	snprintf(p->client_ip, sizeof(p->client_ip), "%s", client_ip);
	buf_init(&p->line, PROTO_LINE_MAX_AUTH);
	buf_init(&p->out, 0);
	buf_init(&p->txn.body, 0);
	p->free_space = PROTO_SPACE_UNKNOWN;
	p->bdat_err = R__COUNT;
}

static void
txn_reset(struct proto *p)
{
	struct proto_txn *t = &p->txn;

	for (size_t i = 0; i < t->nrcpts; i++)
		free(t->rcpts[i]);
	free(t->rcpts);
	free(t->remote);
	free(t->boxes);
	/* give the memory back: idle sessions should cost little */
	buf_free(&t->body);
	memset(t, 0, sizeof(*t));
	buf_init(&t->body, 0);
	if (p->state != PS_INIT && p->state != PS_CLOSED)
		p->state = PS_READY;
}

/* proto_free - release everything the session holds */
void
proto_free(struct proto *p)
{
	auth_clear(p);
	txn_reset(p);
	buf_free(&p->line);
	buf_free(&p->out);
}

/* proto_with - the RFC 3848 protocol name for the Received: header */
const char *
proto_with(const struct proto *p)
{
	static const char *const names[3][4] = {
		{ "SMTP", "SMTPS", "SMTPA", "SMTPSA" },
		{ "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" },
		{ "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA" },
	};
	int kind = p->txn.smtputf8 ? 2 : p->esmtp ? 1 : 0;

	return names[kind][(p->tls ? 1 : 0) + (p->auth_user[0] ? 2 : 0)];
}

/*
 * proto_reply - queue one reply. The only place replies are made: it
 * counts errors (RF_ERROR), closes the session after RF_CLOSE replies
 * and tells the hook (the server logs there).
 */
void
proto_reply(struct proto *p, enum reply_id id, const char *detail)
{
	const struct reply_def *r = reply_get(id);

	if (p->state == PS_CLOSED)
		return;
	if (r->flags & RF_HOST)
		detail = p->conf->hostname;
	if (reply_format(&p->out, id, detail) < 0)
		p->state = PS_CLOSED; /* out of memory: nothing sane to say */
	if (p->hook != NULL)
		p->hook(p, id, detail);
	if (r->flags & RF_CLOSE) {
		auth_clear(p);
		txn_reset(p);
		p->state = PS_CLOSED;
		return;
	}
	if ((r->flags & RF_ERROR) && ++p->errors >= p->conf->max_errors)
		proto_reply(p, R_TOO_MANY_ERRORS, NULL);
}

static void
proto_reply_lines(struct proto *p, enum reply_id id, const char *const *lines,
    unsigned n)
{
	if (p->state == PS_CLOSED)
		return;
	if (reply_format_lines(&p->out, id, lines, n) < 0)
		p->state = PS_CLOSED;
	if (p->hook != NULL)
		p->hook(p, id, NULL);
}

/* proto_greet - the 220 greeting */
void
proto_greet(struct proto *p)
{
	proto_reply(p, R_GREETING, NULL);
}

/* proto_timeout - the client was silent too long: 421 4.4.2 and close */
void
proto_timeout(struct proto *p)
{
	snprintf(p->verb, sizeof(p->verb), "timeout");
	proto_reply(p, R_TIMEOUT, NULL);
}

/*
 * proto_shutdown - the server is stopping: 421 4.3.2 now, or, while a
 * message is being transferred or committed, right after its reply.
 */
void
proto_shutdown(struct proto *p)
{
	p->shutdown = 1;
	if (!shutdown_due(p))
		return;
	snprintf(p->verb, sizeof(p->verb), "shutdown");
	proto_reply(p, R_SHUTDOWN, NULL);
}

/*
 * is a pending shutdown due: at a command boundary, and not between the
 * chunks of a BDAT message (which may finish first)
 */
static int
shutdown_due(const struct proto *p)
{
	if (!p->shutdown)
		return 0;
	if (p->state != PS_INIT && p->state != PS_READY && p->state != PS_MAIL)
		return 0;
	return !(p->txn.active && p->txn.used_bdat);
}

/* after a message's final reply: honour a pending shutdown */
static void
after_message(struct proto *p)
{
	if (shutdown_due(p))
		proto_reply(p, R_SHUTDOWN, NULL);
}

/* proto_commit_done - the server's commit finished: id is R_QUEUED or an error */
void
proto_commit_done(struct proto *p, enum reply_id id, const char *qid)
{
	snprintf(p->verb, sizeof(p->verb), "%s",
	    p->txn.used_bdat ? "BDAT" : "DATA");
	p->state = PS_READY;
	proto_reply(p, id, qid);
	txn_reset(p);
	after_message(p);
}

static int
has_arg(const char *arg)
{
	return arg != NULL && *arg != '\0';
}

/* HELO/EHLO argument: a domain (underscores tolerated) or address literal */
static int
helo_valid(const char *s)
{
	size_t n = strlen(s), lab = 0;
	int prev = '.';

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	if (s[0] == '[')
		return addr_valid_literal(s, n);
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '.') {
			if (prev == '.')
				return 0;
			lab = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++lab > 63)
				return 0;
		} else {
			return 0;
		}
		prev = c;
	}
	return 1;
}

/* may the client authenticate now: R__COUNT, or the reply saying why not */
static enum reply_id
auth_allowed(const struct proto *p)
{
	if (!p->auth_offered)
		return R_AUTH_DISABLED;
	if (!p->tls && !p->conf->auth_over_plaintext)
		return R_AUTH_NEED_TLS;
	return R__COUNT;
}

static void
cmd_helo(struct proto *p, const char *arg, int esmtp)
{
	char size[32];
	char greet[ADDR_DOMAIN_MAX + 128];
	const char *lines[10];
	unsigned n = 0;

	if (!has_arg(arg) || strchr(arg, ' ') != NULL) {
		proto_reply(p, esmtp ? R_SYNTAX_EHLO : R_SYNTAX_HELO, NULL);
		return;
	}
	if (!helo_valid(arg)) {
		proto_reply(p, R_BAD_HELO_DOMAIN, NULL);
		return;
	}
	/* RFC 5321 4.1.4: a later EHLO/HELO resets the transaction */
	txn_reset(p);
	p->bdat_failed = 0;
	p->state = PS_READY;
	p->esmtp = esmtp;
	snprintf(p->helo, sizeof(p->helo), "%s", arg);
	if (!esmtp) {
		proto_reply(p, R_HELO, NULL);
		return;
	}
	snprintf(greet, sizeof(greet), "%s Hello %s", p->conf->hostname, arg);
	snprintf(size, sizeof(size), "SIZE %llu",
	    (unsigned long long)p->conf->max_message_size);
	lines[n++] = greet;
	lines[n++] = "PIPELINING";
	lines[n++] = size;
	lines[n++] = "8BITMIME";
	lines[n++] = "ENHANCEDSTATUSCODES";
	lines[n++] = "SMTPUTF8";
	lines[n++] = "CHUNKING";
	/* RFC 3207 4.2: not again once TLS is running */
	if (p->tls_offered && !p->tls)
		lines[n++] = "STARTTLS";
	/* RFC 4954 4: no plaintext passwords on an open line */
	if (auth_allowed(p) == R__COUNT)
		lines[n++] = "AUTH PLAIN LOGIN";
	proto_reply_lines(p, R_EHLO, lines, n);
}

/* "FROM:" or "TO:" then optional spaces; NULL if absent */
static const char *
after_keyword(const char *arg, const char *kw)
{
	size_t n = strlen(kw);

	if (arg == NULL || str_ncasecmp_ascii(arg, kw, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

/* split the text after '>' into parameters; -1 on bad syntax */
static int
split_params(const char *rest, char *store, size_t cap, struct param *prm,
    size_t *n)
{
	*n = 0;
	if (*rest == '\0')
		return 0;
	if (*rest != ' ' || strlen(rest) >= cap)
		return -1;
	memcpy(store, rest, strlen(rest) + 1);
	return addr_parse_params(store, prm, ADDR_PARAMS_MAX, n);
}

/* 1*20DIGIT (RFC 1870 size-value); values past 2^64-1 saturate */
static int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -1;
	for (; *s; s++) {
		uint64_t d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (uint64_t)(*s - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*out = v;
	return 0;
}

/* is there room for size more bytes above the configured reserve */
static int
space_ok(const struct proto *p, uint64_t size)
{
	if (p->free_space == PROTO_SPACE_UNKNOWN)
		return 1;
	return p->free_space >= p->conf->min_free_space &&
	    p->free_space - p->conf->min_free_space >= size;
}

/*
 * does the sender address belong to the logged-in user: the user name
 * is the address, or a local part whose address is in a local domain
 */
static int
sender_owned(const struct proto *p, const struct addr *a)
{
	char addr[ADDR_PATH_MAX + ADDR_DOMAIN_MAX + 2];

	if (a->null)
		return 0;
	snprintf(addr, sizeof(addr), "%s@%s", a->lookup, a->domain);
	if (strchr(p->auth_user, '@') != NULL)
		return str_casecmp_ascii(addr, p->auth_user) == 0;
	return str_casecmp_ascii(a->lookup, p->auth_user) == 0 &&
	    conf_is_local_domain(p->conf, a->domain);
}

static void
cmd_mail(struct proto *p, const char *arg)
{
	char store[PROTO_LINE_MAX_PATH];
	struct param prm[ADDR_PARAMS_MAX];
	struct addr a;
	const char *path, *rest, *why;
	enum addr_err e;
	int have_size = 0, have_body = 0, have_utf8 = 0;
	uint64_t size = 0;
	size_t n;

	if (p->state == PS_INIT) {
		proto_reply(p, R_NEED_HELO, NULL);
		return;
	}
	if (p->txn.active) {
		proto_reply(p, R_NESTED_MAIL, NULL);
		return;
	}
	/* RFC 6409 4.3: the submission port takes mail from users only */
	if (p->role == PROTO_ROLE_SUBMISSION && p->auth_user[0] == '\0') {
		proto_reply(p, R_AUTH_REQUIRED, NULL);
		return;
	}
	if ((path = after_keyword(arg, "FROM:")) == NULL) {
		proto_reply(p, R_SYNTAX_MAIL, NULL);
		return;
	}
	e = addr_parse_path(path, ADDR_F_NULL_OK | ADDR_F_UTF8, &a, &rest, &why);
	if (e == ADDR_ESYNTAX) {
		proto_reply(p, R_SYNTAX_MAIL, NULL);
		return;
	}
	if (e != ADDR_OK && e != ADDR_EUTF8) {
		proto_reply(p, R_BAD_SENDER, why);
		return;
	}
	if (split_params(rest, store, sizeof(store), prm, &n) < 0) {
		proto_reply(p, R_SYNTAX_MAIL, NULL);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = prm[i].key, *v = prm[i].val;

		/* parameters are an ESMTP feature: not after HELO */
		if (!p->esmtp) {
			proto_reply(p, R_PARAM_UNKNOWN, k);
			return;
		}
		if (str_casecmp_ascii(k, "SIZE") == 0) {
			if (have_size++) {
				proto_reply(p, R_DUP_PARAM, "SIZE");
				return;
			}
			if (parse_u64(v, &size) < 0) {
				proto_reply(p, R_BAD_PARAM, "SIZE");
				return;
			}
		} else if (str_casecmp_ascii(k, "BODY") == 0) {
			if (have_body++) {
				proto_reply(p, R_DUP_PARAM, "BODY");
				return;
			}
			if (v == NULL) {
				proto_reply(p, R_BAD_PARAM, "BODY");
				return;
			}
			if (str_casecmp_ascii(v, "8BITMIME") == 0) {
				p->txn.body8bit = 1;
			} else if (str_casecmp_ascii(v, "7BIT") != 0) {
				char d[64];

				snprintf(d, sizeof(d), "BODY=%.40s", v);
				proto_reply(p, R_PARAM_UNKNOWN, d);
				return;
			}
		} else if (str_casecmp_ascii(k, "SMTPUTF8") == 0) {
			if (have_utf8++) {
				proto_reply(p, R_DUP_PARAM, "SMTPUTF8");
				return;
			}
			if (v != NULL) {
				proto_reply(p, R_BAD_PARAM, "SMTPUTF8");
				return;
			}
		} else {
			char d[64];

			snprintf(d, sizeof(d), "%.40s", k);
			proto_reply(p, R_PARAM_UNKNOWN, d);
			return;
		}
	}
	if (e == ADDR_EUTF8 || (a.utf8 && !have_utf8)) {
		proto_reply(p, R_SENDER_UTF8, NULL);
		return;
	}
	if (size > p->conf->max_message_size) {
		proto_reply(p, R_SIZE_TOO_BIG, NULL);
		return;
	}
	if (!space_ok(p, size)) {
		proto_reply(p, R_NO_SPACE, NULL);
		return;
	}
	if (p->role == PROTO_ROLE_SUBMISSION && p->conf->sender_login_match &&
	    !sender_owned(p, &a)) {
		proto_reply(p, R_SENDER_NOT_OWNED, a.null ? "" : a.text);
		return;
	}
	p->txn.active = 1;
	p->txn.smtputf8 = have_utf8;
	p->txn.declared_size = size;
	memcpy(p->txn.sender, a.null ? "" : a.text,
	    strlen(a.null ? "" : a.text) + 1);
	p->state = PS_MAIL;
	proto_reply(p, R_MAIL_OK, p->txn.sender);
}

/*
 * remember an accepted recipient and the mailboxes it reaches; remote
 * is set for a recipient to relay (nb is 0 then)
 */
static int
txn_add_rcpt(struct proto_txn *t, const char *text, const struct mbox **b,
    size_t nb, int remote)
{
	if (remote && t->nremote == t->capremote) {
		size_t ncap = t->capremote ? t->capremote * 2 : 8;
		char **r = realloc(t->remote, ncap * sizeof(*r));

		if (r == NULL)
			return -1;
		t->remote = r;
		t->capremote = ncap;
	}
	if (t->nrcpts == t->caprcpts) {
		size_t ncap = t->caprcpts ? t->caprcpts * 2 : 8;
		char **r = realloc(t->rcpts, ncap * sizeof(*r));

		if (r == NULL)
			return -1;
		t->rcpts = r;
		t->caprcpts = ncap;
	}
	if (t->nboxes + nb > t->capboxes) {
		size_t ncap = t->capboxes ? t->capboxes * 2 : 8;
		const struct mbox **r;

		while (ncap < t->nboxes + nb)
			ncap *= 2;
		r = realloc(t->boxes, ncap * sizeof(*r));
		if (r == NULL)
			return -1;
		t->boxes = r;
		t->capboxes = ncap;
	}
	if ((t->rcpts[t->nrcpts] = strdup(text)) == NULL)
		return -1;
	if (remote) {
		/* the same remote address twice is sent once */
		for (size_t i = 0; i < t->nremote; i++)
			if (strcmp(t->remote[i], text) == 0)
				remote = 0;
		if (remote)
			t->remote[t->nremote++] = t->rcpts[t->nrcpts];
	}
	t->nrcpts++;
	/* one copy per mailbox, however many addresses reach it */
	for (size_t i = 0; i < nb; i++) {
		size_t k;

		for (k = 0; k < t->nboxes; k++)
			if (t->boxes[k] == b[i])
				break;
		if (k == t->nboxes)
			t->boxes[t->nboxes++] = b[i];
	}
	return 0;
}

#define RESOLVE_MAX 256

/* a recipient in another domain: relay it, if this client may */
static void
rcpt_remote(struct proto *p, const struct addr *a)
{
	char text[ADDR_PATH_MAX + ADDR_DOMAIN_MAX + 2];

	/* an address literal names a host, not a domain we route to */
	if (a->literal || !p->relay_ok) {
		proto_reply(p, R_RELAY_DENIED, a->text);
		return;
	}
	/* domains are case-insensitive: queue them in one spelling */
	snprintf(text, sizeof(text), "%s@%s", a->local, a->domain);
	if (txn_add_rcpt(&p->txn, text, NULL, 0, 1) < 0)
		proto_reply(p, R_LOCAL_ERR, NULL);
	else
		proto_reply(p, R_RCPT_OK, text);
}

static void
cmd_rcpt(struct proto *p, const char *arg)
{
	char store[PROTO_LINE_MAX_PATH];
	struct param prm[ADDR_PARAMS_MAX];
	const struct mbox *stack[RESOLVE_MAX], **boxes = stack;
	struct addr a;
	const char *path, *rest, *why, *domain;
	enum addr_err e;
	size_t n;
	int k;

	if (!p->txn.active) {
		proto_reply(p, p->state == PS_INIT ? R_NEED_HELO : R_NEED_MAIL,
		    NULL);
		return;
	}
	if ((path = after_keyword(arg, "TO:")) == NULL) {
		proto_reply(p, R_SYNTAX_RCPT, NULL);
		return;
	}
	e = addr_parse_path(path, ADDR_F_UTF8 | ADDR_F_POSTMASTER, &a, &rest,
	    &why);
	if (e == ADDR_ESYNTAX) {
		proto_reply(p, R_SYNTAX_RCPT, NULL);
		return;
	}
	if (e != ADDR_OK && e != ADDR_EUTF8) {
		proto_reply(p, R_BAD_RCPT, why);
		return;
	}
	if (split_params(rest, store, sizeof(store), prm, &n) < 0) {
		proto_reply(p, R_SYNTAX_RCPT, NULL);
		return;
	}
	if (n > 0) {
		char d[64];

		snprintf(d, sizeof(d), "%.40s", prm[0].key);
		proto_reply(p, R_PARAM_UNKNOWN, d);
		return;
	}
	if (e == ADDR_EUTF8 || (a.utf8 && !p->txn.smtputf8)) {
		proto_reply(p, R_RCPT_UTF8, NULL);
		return;
	}
	p->txn.rcpt_tries++;
	/* RFC 5321 4.5.3.1.10: an implementation limit is 452, not 5xx */
	if (p->txn.nrcpts >= p->conf->max_recipients) {
		proto_reply(p, R_RCPT_MAX, NULL);
		return;
	}
	/* "<postmaster>" alone means the primary domain's postmaster */
	domain = a.domain[0] != '\0' ? a.domain : p->conf->domains[0];
	if (a.literal || !conf_is_local_domain(p->conf, domain)) {
		rcpt_remote(p, &a);
		return;
	}
	k = conf_resolve(p->conf, a.lookup, domain, boxes, RESOLVE_MAX);
	if (k < 0) {
		/* a big list alias: make room for every mailbox there is */
		boxes = calloc(p->conf->nmboxes, sizeof(*boxes));
		k = boxes ? conf_resolve(p->conf, a.lookup, domain, boxes,
		    p->conf->nmboxes) : -1;
	}
	if (k == 0)
		proto_reply(p, R_RCPT_UNKNOWN, a.text);
	else if (k < 0 ||
	    txn_add_rcpt(&p->txn, a.text, boxes, (size_t)k, 0) < 0)
		proto_reply(p, R_LOCAL_ERR, NULL);
	else
		proto_reply(p, R_RCPT_OK, a.text);
	if (boxes != stack)
		free(boxes);
}

/* the reply for DATA/BDAT when the transaction cannot take a message */
static enum reply_id
data_refusal(const struct proto *p)
{
	if (!p->txn.active)
		return p->state == PS_INIT ? R_NEED_HELO
		    : p->bdat_failed ? R_BDAT_ABORTED : R_NEED_MAIL;
	if (p->txn.nrcpts == 0)
		return p->txn.rcpt_tries ? R_NO_VALID_RCPT : R_NEED_RCPT;
	return R__COUNT;
}

static void
cmd_data(struct proto *p, const char *arg)
{
	enum reply_id refuse;

	if (has_arg(arg)) {
		proto_reply(p, R_SYNTAX_DATA, NULL);
		return;
	}
	if (p->txn.used_bdat) {
		/* RFC 3030 2: DATA and BDAT do not mix in one message */
		proto_reply(p, R_DATA_AFTER_BDAT, NULL);
		txn_reset(p);
		return;
	}
	refuse = data_refusal(p);
	if (refuse == R_BDAT_ABORTED)
		refuse = R_NEED_MAIL;
	if (refuse != R__COUNT) {
		proto_reply(p, refuse, NULL);
		return;
	}
	buf_reset(&p->txn.body);
	data_start(&p->txn.scan, DATA_DOT, p->conf->max_message_size);
	p->state = PS_DATA;
	proto_reply(p, R_DATA_GO, NULL);
}

static void
end_of_message(struct proto *p)
{
	struct proto_txn *t = &p->txn;
	enum reply_id id = R__COUNT;

	if (t->scan.overflow)
		id = R_TOO_BIG;
	else if (t->scan.bare_seen &&
	    p->conf->bare_newline == BARE_NEWLINE_REJECT)
		id = R_BARE_NEWLINE;
	else if (trace_count_received(t->body.data, t->body.len) >=
	    p->conf->max_hops)
		id = R_TOO_MANY_HOPS;
	else if (!space_ok(p, t->body.len + TRACE_HEADERS_MAX))
		id = R_NO_SPACE;
	if (id != R__COUNT) {
		/* proto_feed's loop delivers a pending shutdown next */
		p->state = PS_READY;
		proto_reply(p, id, NULL);
		txn_reset(p);
		return;
	}
	/* the server commits it and calls proto_commit_done() */
	p->state = PS_COMMIT;
}

static void
cmd_bdat(struct proto *p, const char *arg)
{
	char tmp[64];
	char *sp;
	uint64_t size;
	int last = 0;

	if (!has_arg(arg) || strlen(arg) >= sizeof(tmp)) {
		proto_reply(p, R_SYNTAX_BDAT, NULL);
		return;
	}
	memcpy(tmp, arg, strlen(arg) + 1);
	if ((sp = strchr(tmp, ' ')) != NULL) {
		*sp++ = '\0';
		if (str_casecmp_ascii(sp, "LAST") != 0) {
			proto_reply(p, R_SYNTAX_BDAT, NULL);
			return;
		}
		last = 1;
	}
	if (parse_u64(tmp, &size) < 0) {
		proto_reply(p, R_SYNTAX_BDAT, NULL);
		return;
	}
	p->bdat_left = size;
	p->bdat_size = size;
	p->bdat_last = last;
	p->bdat_err = data_refusal(p);
	if (p->bdat_err == R__COUNT && !p->txn.used_bdat) {
		p->txn.used_bdat = 1;
		buf_reset(&p->txn.body);
		data_start(&p->txn.scan, DATA_RAW, p->conf->max_message_size);
	}
	p->state = PS_BDAT;
}

/* a BDAT chunk's octets have all been read (or discarded) */
static void
bdat_chunk_done(struct proto *p)
{
	char n[32];

	p->state = p->txn.active ? PS_MAIL
	    : p->helo[0] != '\0' ? PS_READY : PS_INIT;
	if (p->bdat_err != R__COUNT) {
		enum reply_id id = p->bdat_err;

		p->bdat_err = R__COUNT;
		proto_reply(p, id, NULL);
		/* RFC 3030: a refused chunk ends the transaction */
		if (p->txn.active) {
			txn_reset(p);
			p->bdat_failed = 1;
		}
		return;
	}
	if (p->txn.scan.overflow) {
		/* RFC 1870 / 3030: 552 once the chunk has been read */
		proto_reply(p, R_TOO_BIG, NULL);
		txn_reset(p);
		p->bdat_failed = 1;
		return;
	}
	if (p->bdat_last) {
		data_finish(&p->txn.scan, &p->txn.body);
		end_of_message(p);
		return;
	}
	snprintf(n, sizeof(n), "%llu", (unsigned long long)p->bdat_size);
	proto_reply(p, R_BDAT_OK, n);
}

static void
cmd_rset(struct proto *p, const char *arg)
{
	if (has_arg(arg)) {
		proto_reply(p, R_SYNTAX_RSET, NULL);
		return;
	}
	txn_reset(p);
	p->bdat_failed = 0;
	proto_reply(p, R_OKAY, NULL);
}

static void
cmd_quit(struct proto *p, const char *arg)
{
	if (has_arg(arg)) {
		proto_reply(p, R_SYNTAX_QUIT, NULL);
		return;
	}
	proto_reply(p, R_QUIT, NULL);
}

/* "<x>" -> "x" (for replies that add their own brackets) */
static const char *
unbracket(const char *arg, char *out, size_t cap)
{
	size_t n = strlen(arg);

	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>')
		snprintf(out, cap, "%.*s", (int)(n - 2), arg + 1);
	else
		snprintf(out, cap, "%s", arg);
	return out;
}

/* a VRFY/EXPN argument ("user", "user@dom", "<user@dom>") to a lookup */
static int
lookup_arg(struct proto *p, const char *arg, const struct mbox **boxes,
    size_t max, char *text, size_t cap)
{
	/* one octet more than a path may have: a cut name is too long */
	char tmp[ADDR_PATH_MAX + 2];
	const char *dom;
	char *at;
	size_t n = strlen(unbracket(arg, tmp, sizeof(tmp)));

	if (n == 0 || n > ADDR_PATH_MAX)
		return 0;
	str_lower(tmp);
	at = strrchr(tmp, '@');
	if (at != NULL) {
		*at = '\0';
		dom = at + 1;
	} else {
		dom = p->conf->domains[0];
	}
	if (!conf_is_local_domain(p->conf, dom))
		return 0;
	snprintf(text, cap, "%s@%s", tmp, dom);
	return conf_resolve(p->conf, tmp, dom, boxes, max);
}

static void
cmd_vrfy(struct proto *p, const char *arg)
{
	const struct mbox *boxes[RESOLVE_MAX];
	char text[2 * ADDR_PATH_MAX + 2];

	if (!has_arg(arg)) {
		proto_reply(p, R_SYNTAX_VRFY, NULL);
		return;
	}
	/* RFC 5321 7.3: a site that will not verify answers 252 */
	if (!p->conf->vrfy) {
		proto_reply(p, R_VRFY_CANNOT, NULL);
		return;
	}
	if (lookup_arg(p, arg, boxes, RESOLVE_MAX, text, sizeof(text)) > 0)
		proto_reply(p, R_VRFY_OK, text);
	else
		proto_reply(p, R_VRFY_UNKNOWN, unbracket(arg, text, sizeof(text)));
}

static void
cmd_expn(struct proto *p, const char *arg)
{
	const struct mbox *boxes[RESOLVE_MAX];
	char text[2 * ADDR_PATH_MAX + 2];
	char lines[RESOLVE_MAX][ADDR_PATH_MAX + 8];
	const char *lp[RESOLVE_MAX];
	int k;

	if (!has_arg(arg)) {
		proto_reply(p, R_SYNTAX_EXPN, NULL);
		return;
	}
	if (!p->conf->expn) {
		proto_reply(p, R_EXPN_DISABLED, NULL);
		return;
	}
	k = lookup_arg(p, arg, boxes, RESOLVE_MAX, text, sizeof(text));
	if (k <= 0) {
		proto_reply(p, R_VRFY_UNKNOWN, unbracket(arg, text, sizeof(text)));
		return;
	}
	for (int i = 0; i < k; i++) {
		snprintf(lines[i], sizeof(lines[i]), "<%s@%s>", boxes[i]->user,
		    boxes[i]->domain);
		lp[i] = lines[i];
	}
	proto_reply_lines(p, R_EXPN_OK, lp, (unsigned)k);
}

/* ---- STARTTLS (RFC 3207) ---- */

static void
cmd_starttls(struct proto *p, const char *arg)
{
	if (has_arg(arg)) {
		proto_reply(p, R_SYNTAX_STARTTLS, NULL);
		return;
	}
	if (p->tls) {
		proto_reply(p, R_TLS_ACTIVE, NULL);
		return;
	}
	if (!p->tls_offered) {
		proto_reply(p, R_TLS_UNAVAILABLE, NULL);
		return;
	}
	proto_reply(p, R_TLS_GO, NULL);
	/* the server takes over; nothing after this line is read as plain */
	p->state = PS_STARTTLS;
}

/*
 * proto_tls_started - the TLS handshake after STARTTLS (or on an implicit
 * TLS port) is done: RFC 3207 4.2 says forget everything learned before
 * it, so the client must send EHLO again.
 */
void
proto_tls_started(struct proto *p, const char *info)
{
	txn_reset(p);
	p->state = PS_INIT;
	p->esmtp = 0;
	p->helo[0] = '\0';
	p->auth_user[0] = '\0';
	/* a login made before TLS is forgotten, and so is what it allowed */
	p->relay_ok = p->relay_net;
	p->tls = 1;
	snprintf(p->tls_info, sizeof(p->tls_info), "%s", info);
	/* a shutdown that came during the handshake is due now */
	after_message(p);
}

/* ---- AUTH (RFC 4954: PLAIN, RFC 4616; LOGIN) ---- */

/* strict base64 (RFC 4648 4): -1 on any bad character or padding */
static ssize_t
b64_decode(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s), pad = 0;
	int k;

	if (n % 4 != 0 || n / 4 * 3 > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '=') {
			if (i < n - 2)
				return -1;
			pad++;
		} else if (pad > 0 || !((c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/')) {
			return -1;
		}
	}
	if (n == 0)
		return 0;
	k = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s,
	    (int)n);
	if (k < 0)
		return -1;
	return (ssize_t)((size_t)k - pad);
}

static void
auth_clear(struct proto *p)
{
	OPENSSL_cleanse(p->auth_try_pass, sizeof(p->auth_try_pass));
	p->auth_try_user[0] = '\0';
	p->auth_mech = AUTH_M_NONE;
}

/* the exchange is over with a reply: back to commands */
static void
auth_end(struct proto *p, enum reply_id id)
{
	auth_clear(p);
	p->state = PS_READY;
	proto_reply(p, id, NULL);
}

/* credentials complete: the server checks them (off the loop) */
static void
auth_check(struct proto *p)
{
	p->auth_mech = AUTH_M_NONE;
	p->state = PS_AUTH_CHECK;
}

/* PLAIN message: [authzid] NUL authcid NUL passwd (RFC 4616 2) */
static void
auth_plain(struct proto *p, const char *b64)
{
	char raw[PROTO_LINE_MAX_AUTH];
	const char *authz, *user, *pass, *end;
	ssize_t n;

	n = b64_decode(b64, raw, sizeof(raw) - 1);
	if (n < 0) {
		auth_end(p, R_AUTH_BAD64);
		return;
	}
	raw[n] = '\0';
	end = raw + n;
	authz = raw;
	user = memchr(authz, '\0', (size_t)(end - authz));
	pass = user ? memchr(user + 1, '\0', (size_t)(end - user - 1)) : NULL;
	if (user == NULL || pass == NULL || user[1] == '\0' ||
	    (size_t)(pass - user - 1) >= sizeof(p->auth_try_user) ||
	    (size_t)(end - pass - 1) >= sizeof(p->auth_try_pass) ||
	    memchr(pass + 1, '\0', (size_t)(end - pass - 1)) != NULL ||
	    (authz[0] != '\0' && strcmp(authz, user + 1) != 0)) {
		/* malformed, or acting for someone else: not allowed */
		OPENSSL_cleanse(raw, sizeof(raw));
		auth_end(p, R_AUTH_FAILED);
		return;
	}
	snprintf(p->auth_try_user, sizeof(p->auth_try_user), "%s", user + 1);
	memcpy(p->auth_try_pass, pass + 1, (size_t)(end - pass - 1));
	p->auth_try_pass[end - pass - 1] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	auth_check(p);
}

/* a LOGIN user name or password line, decoded */
static int
auth_login_field(struct proto *p, const char *b64, char *dst, size_t cap)
{
	char raw[PROTO_LINE_MAX_AUTH];
	ssize_t n = b64_decode(b64, raw, sizeof(raw) - 1);

	if (n < 0) {
		auth_end(p, R_AUTH_BAD64);
		return -1;
	}
	if ((size_t)n >= cap || memchr(raw, '\0', (size_t)n) != NULL) {
		OPENSSL_cleanse(raw, sizeof(raw));
		auth_end(p, R_AUTH_FAILED);
		return -1;
	}
	memcpy(dst, raw, (size_t)n);
	dst[n] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* a client line inside the exchange (PS_AUTH) */
static void
auth_response(struct proto *p, const char *line)
{
	/* RFC 4954 4: "*" cancels, and the server MUST answer 501 */
	if (strcmp(line, "*") == 0) {
		auth_end(p, R_AUTH_CANCELLED);
		return;
	}
	switch (p->auth_mech) {
	case AUTH_M_PLAIN:
		auth_plain(p, line);
		break;
	case AUTH_M_LOGIN_USER:
		if (auth_login_field(p, line, p->auth_try_user,
		    sizeof(p->auth_try_user)) < 0)
			return;
		p->auth_mech = AUTH_M_LOGIN_PASS;
		proto_reply(p, R_AUTH_CHALLENGE, "UGFzc3dvcmQ6"); /* Password: */
		break;
	case AUTH_M_LOGIN_PASS:
		if (auth_login_field(p, line, p->auth_try_pass,
		    sizeof(p->auth_try_pass)) < 0)
			return;
		auth_check(p);
		break;
	default:
		auth_end(p, R_AUTH_CANCELLED);
		break;
	}
}

static void
cmd_auth(struct proto *p, const char *arg)
{
	char mech[32];
	const char *ir = NULL;
	size_t n;
	enum reply_id why;

	if (p->state == PS_INIT) {
		proto_reply(p, R_NEED_HELO, NULL);
		return;
	}
	if ((why = auth_allowed(p)) != R__COUNT) {
		proto_reply(p, why, NULL);
		return;
	}
	if (p->auth_user[0] != '\0') {
		proto_reply(p, R_AUTH_ALREADY, NULL);
		return;
	}
	if (p->txn.active) {
		proto_reply(p, R_AUTH_IN_TXN, NULL);
		return;
	}
	if (!has_arg(arg)) {
		proto_reply(p, R_SYNTAX_AUTH, NULL);
		return;
	}
	n = strcspn(arg, " ");
	if (arg[n] == ' ')
		ir = arg + n + 1;
	if (n >= sizeof(mech) || (ir != NULL && (*ir == '\0' ||
	    strchr(ir, ' ') != NULL))) {
		proto_reply(p, R_SYNTAX_AUTH, NULL);
		return;
	}
	memcpy(mech, arg, n);
	mech[n] = '\0';
	p->state = PS_AUTH;
	if (str_casecmp_ascii(mech, "PLAIN") == 0) {
		p->auth_mech = AUTH_M_PLAIN;
		/* RFC 4954 4: "=" is an empty initial response */
		if (ir != NULL)
			auth_plain(p, strcmp(ir, "=") == 0 ? "" : ir);
		else
			proto_reply(p, R_AUTH_CHALLENGE, "");
	} else if (str_casecmp_ascii(mech, "LOGIN") == 0) {
		p->auth_mech = AUTH_M_LOGIN_USER;
		if (ir != NULL)
			auth_response(p, ir);
		else
			proto_reply(p, R_AUTH_CHALLENGE, "VXNlcm5hbWU6");
	} else {
		p->state = PS_READY;
		proto_reply(p, R_AUTH_MECH, NULL);
	}
}

/*
 * proto_auth_done - the server checked auth_try_user/auth_try_pass:
 * 235 and the user is logged in (and may relay), or 535.
 */
void
proto_auth_done(struct proto *p, int ok)
{
	snprintf(p->verb, sizeof(p->verb), "AUTH");
	p->state = PS_READY;
	if (ok) {
		snprintf(p->auth_user, sizeof(p->auth_user), "%s",
		    p->auth_try_user);
		p->relay_ok = 1;
	}
	auth_clear(p);
	proto_reply(p, ok ? R_AUTH_OK : R_AUTH_FAILED, NULL);
	after_message(p);
}

static const struct {
	const char *verb;
	const char *syntax;
} help_topics[] = {
	{ "HELO", "HELO hostname" },
	{ "EHLO", "EHLO hostname" },
	{ "MAIL", "MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8]" },
	{ "RCPT", "RCPT TO:<address>" },
	{ "DATA", "DATA, then the message, ended by a line with a single dot" },
	{ "BDAT", "BDAT size [LAST], then exactly size octets of the message" },
	{ "RSET", "RSET (abandon the current message)" },
	{ "NOOP", "NOOP" },
	{ "QUIT", "QUIT" },
	{ "VRFY", "VRFY address" },
	{ "EXPN", "EXPN list" },
	{ "HELP", "HELP [command]" },
	{ "STARTTLS", "STARTTLS (then EHLO again inside TLS)" },
	{ "AUTH", "AUTH PLAIN|LOGIN [initial-response]" },
};

static void
cmd_help(struct proto *p, const char *arg)
{
	static const char *const lines[] = {
		"This is tern, an SMTP server. Commands:",
		"  HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY EXPN HELP",
		"  STARTTLS AUTH",
		"HELP <command> shows its syntax; RFC 5321 describes them all.",
		"Problems? Write to postmaster at this domain.",
		"End of HELP info",
	};

	if (!has_arg(arg)) {
		proto_reply_lines(p, R_HELP, lines, ARRAY_LEN(lines));
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(help_topics); i++) {
		if (str_casecmp_ascii(arg, help_topics[i].verb) == 0) {
			proto_reply(p, R_HELP_TOPIC, help_topics[i].syntax);
			return;
		}
	}
	char d[48];

	snprintf(d, sizeof(d), "%.40s", arg);
	proto_reply(p, R_HELP_UNKNOWN, d);
}

/* commands that exist elsewhere but that we do not offer: 502, not 500 */
static const char *const not_implemented[] = {
	"ETRN", "TURN", "ATRN", "SEND", "SOML", "SAML",
	"VERB", "ONEX", "XCLIENT", "XFORWARD", "LHLO", "BURL",
};

/* run one complete command line (CRLF removed, NUL-terminated) */
static void
command(struct proto *p, char *line, size_t len)
{
	char *arg;
	size_t vlen;
	size_t max;

	if (p->state == PS_AUTH) {
		snprintf(p->verb, sizeof(p->verb), "AUTH");
		if (len + 2 > PROTO_LINE_MAX_AUTH)
			auth_end(p, R_AUTH_TOO_LONG);
		else if (memchr(line, '\0', len) != NULL)
			auth_end(p, R_AUTH_BAD64);
		else
			auth_response(p, line);
		return;
	}
	vlen = strcspn(line, " ");
	snprintf(p->verb, sizeof(p->verb), "%.*s",
	    (int)(vlen < 15 ? vlen : 15), line);
	for (char *c = p->verb; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	if (str_casecmp_ascii(p->verb, "AUTH") == 0)
		max = PROTO_LINE_MAX_AUTH;
	else if (str_casecmp_ascii(p->verb, "MAIL") == 0 ||
	    str_casecmp_ascii(p->verb, "RCPT") == 0)
		max = PROTO_LINE_MAX_PATH;
	else
		max = PROTO_LINE_MAX;
	if (len + 2 > max) {
		proto_reply(p, max == PROTO_LINE_MAX_AUTH ? R_AUTH_TOO_LONG :
		    R_LINE_TOO_LONG, NULL);
		return;
	}
	if (memchr(line, '\0', len) != NULL || !addr_utf8_valid(line, len)) {
		proto_reply(p, R_BAD_BYTES, NULL);
		return;
	}
	arg = line[vlen] == ' ' ? line + vlen + 1 : NULL;
	line[vlen] = '\0';
	if (arg != NULL) {
		/* trailing blanks are noise, not arguments */
		size_t n = strlen(arg);

		while (n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == '\t'))
			arg[--n] = '\0';
	}

	if (str_casecmp_ascii(line, "EHLO") == 0)
		cmd_helo(p, arg, 1);
	else if (str_casecmp_ascii(line, "HELO") == 0)
		cmd_helo(p, arg, 0);
	else if (str_casecmp_ascii(line, "MAIL") == 0)
		cmd_mail(p, arg);
	else if (str_casecmp_ascii(line, "RCPT") == 0)
		cmd_rcpt(p, arg);
	else if (str_casecmp_ascii(line, "DATA") == 0)
		cmd_data(p, arg);
	else if (str_casecmp_ascii(line, "BDAT") == 0)
		cmd_bdat(p, arg);
	else if (str_casecmp_ascii(line, "RSET") == 0)
		cmd_rset(p, arg);
	else if (str_casecmp_ascii(line, "NOOP") == 0)
		proto_reply(p, R_OKAY, NULL); /* RFC 5321 4.1.1.9: ignore args */
	else if (str_casecmp_ascii(line, "QUIT") == 0)
		cmd_quit(p, arg);
	else if (str_casecmp_ascii(line, "VRFY") == 0)
		cmd_vrfy(p, arg);
	else if (str_casecmp_ascii(line, "EXPN") == 0)
		cmd_expn(p, arg);
	else if (str_casecmp_ascii(line, "HELP") == 0)
		cmd_help(p, arg);
	else if (str_casecmp_ascii(line, "STARTTLS") == 0)
		cmd_starttls(p, arg);
	else if (str_casecmp_ascii(line, "AUTH") == 0)
		cmd_auth(p, arg);
	else {
		for (size_t i = 0; i < ARRAY_LEN(not_implemented); i++) {
			if (str_casecmp_ascii(line, not_implemented[i]) == 0) {
				proto_reply(p, R_NOT_IMPL, NULL);
				return;
			}
		}
		proto_reply(p, R_CMD_UNKNOWN, NULL);
	}
}

/* do the buffered bytes plus the new ones begin with "AUTH " */
static int
starts_auth(const struct buf *line, const char *in, size_t n)
{
	char head[5];
	size_t k = line->len < 5 ? line->len : 5;

	if (k > 0)
		memcpy(head, line->data, k);
	if (k < 5) {
		if (n < 5 - k)
			return 0;
		memcpy(head + k, in, 5 - k);
	}
	return str_ncasecmp_ascii(head, "AUTH ", 5) == 0;
}

/* take command bytes up to and including LF; returns bytes consumed */
static size_t
feed_command(struct proto *p, const char *in, size_t len)
{
	const char *lf = memchr(in, '\n', len);
	size_t take = lf ? (size_t)(lf - in) + 1 : len;
	size_t body = lf ? take - 1 : take;

	if (!p->line_skip && buf_append(&p->line, in, body) < 0) {
		/* longer than any command may be: skip to its end */
		p->line_skip = starts_auth(&p->line, in, body) ? 2 : 1;
		buf_reset(&p->line);
	}
	if (lf == NULL)
		return take;
	p->lines++;
	if (p->line_skip) {
		snprintf(p->verb, sizeof(p->verb), "?");
		/* RFC 4954 4: AUTH lines have their own limit and reply */
		if (p->state == PS_AUTH)
			auth_end(p, R_AUTH_TOO_LONG);
		else
			proto_reply(p, p->line_skip == 2 ? R_AUTH_TOO_LONG :
			    R_LINE_TOO_LONG, NULL);
		p->line_skip = 0;
		return take;
	}
	/* CRLF ends a command; a bare LF is tolerated as a line end */
	if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
		p->line.len--;
	buf_cstr(&p->line);
	command(p, p->line.data ? p->line.data : (char *)"", p->line.len);
	buf_reset(&p->line);
	return take;
}

/* take octets of a BDAT chunk */
static size_t
feed_bdat(struct proto *p, const char *in, size_t len)
{
	size_t take = len < p->bdat_left ? len : (size_t)p->bdat_left;
	int done;

	if (p->bdat_err == R__COUNT)
		data_feed(&p->txn.scan, in, take, &p->txn.body, &done);
	p->bdat_left -= take;
	if (p->bdat_left == 0)
		bdat_chunk_done(p);
	return take;
}

/*
 * proto_feed - process client bytes. Returns how many were consumed; it
 * stops early when a message must be committed (PS_COMMIT), when the
 * session is closed, or when PROTO_OUT_HIGH reply bytes are waiting
 * (the server sends them and feeds the rest later).
 */
size_t
proto_feed(struct proto *p, const char *in, size_t len)
{
	size_t used = 0;

	while (used < len) {
		int done = 0;

		switch (p->state) {
		case PS_CLOSED:
			return len; /* RFC 5321 3.8: nothing after 221/421 */
		case PS_COMMIT:
		case PS_AUTH_CHECK:
		case PS_STARTTLS:
			return used;
		case PS_DATA:
			used += data_feed(&p->txn.scan, in + used, len - used,
			    &p->txn.body, &done);
			if (done)
				end_of_message(p);
			break;
		case PS_BDAT:
			used += feed_bdat(p, in + used, len - used);
			break;
		default:
			if (p->out.len >= PROTO_OUT_HIGH)
				return used;
			used += feed_command(p, in + used, len - used);
			break;
		}
		after_message(p);
	}
	/* a zero-length BDAT chunk completes without any octets */
	if (p->state == PS_BDAT && p->bdat_left == 0) {
		bdat_chunk_done(p);
		after_message(p);
	}
	return used;
}
