/*
 * fuzz_proto - libFuzzer target for the SMTP protocol engine
 * (src/smtp/proto.c) fed arbitrary client byte streams.
 *
 * Input layout:
 *   byte 0    bit 0: which of the two configurations (below) to use;
 *             bits 1-2: the listener: 1 submission (AUTH required),
 *             2 submissions (implicit TLS), else smtp; bit 3: a TLS
 *             certificate exists (STARTTLS offered); bit 4: a users file
 *             exists (AUTH offered); bit 5: the client is in
 *             relay_networks
 *   byte 1    n: the last n bytes of the input are control bytes
 *   middle    what the client sends
 *   controls  each byte, in order:
 *             0x00-0x7f  feed the next c bytes (0: an empty feed)
 *             0x80-0xbf  feed the next ((c & 0x3f) + 1) * 128 bytes
 *             0xc0-0xc7  write out the replies (the server's flush)
 *             0xc8-0xcf  feed ((c & 7) + 1) * 16k octets of filler text
 *                        (78-octet lines), so that messages can pass
 *                        max_message_size within -max_len
 *             0xd0-0xd7  proto_timeout()
 *             0xd8-0xdf  proto_shutdown()
 *             0xe0-0xef  set free_space to one of 16 values
 *             0xf0-0xff  the next commit ends with R_QUEUED, R_LOCAL_ERR
 *                        or R_NO_SPACE (bits 0-1); bit 2: a shutdown
 *                        arrives while that commit, AUTH check or TLS
 *                        handshake runs; bit 3: the next AUTH check
 *                        finds the client blocked (421 R_AUTH_TOO_MANY)
 *             after the last control byte the rest is fed at once.
 *
 * The target plays the server twice. Run A follows the controls: input
 * in the chosen pieces, replies written only when asked (or when the
 * engine stops reading because PROTO_OUT_HIGH bytes wait). Run B feeds
 * everything between two control operations at once and writes replies
 * after every feed. Whenever the engine reaches PS_COMMIT the target
 * checks the transaction (recipients, mailboxes, a body with CRLF line
 * endings within max_message_size), logs it and calls
 * proto_commit_done(). At PS_AUTH_CHECK the credentials are right only
 * for alice/secret and bob@example.test/hunter2 (proto_auth_done()). At
 * PS_STARTTLS the plaintext up to the next control operation is
 * discarded (RFC 3207 4.2) and proto_tls_started() is called. Both runs
 * must produce the same reply text, the same commit log and the same
 * final state: how the client's bytes are split must not matter. Every
 * reply must be well formed: "[2-5]DD" then '-' or ' ', CRLF, no bare CR
 * or LF, at most 512 octets, a multi-line reply keeps its code and is
 * complete whenever the engine returns, and an enhanced code starts with
 * the reply's class digit. Nothing may be added after the 221/421 that
 * closed the session; the engine must always consume input unless it
 * waits for the server; a password is wiped except while the server
 * checks it; a pending shutdown is carried out as soon as the session
 * is between commands; after STARTTLS only relay_networks lets the
 * client relay.
 *
 * The configurations are loaded once (LLVMFuzzerInitialize): 0 has
 * VRFY/EXPN on, max_errors 1000 (so that long sessions go deep) and
 * max_hops 5; 1 has VRFY/EXPN off, bare_newline = reject, the default
 * max_errors and a 240-octet host name (long replies). Both have
 * max_message_size 64k and max_recipients 100.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "smtp/proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096
#define FILLER_UNIT 16384
#define REPLY_LINE_MAX 512 /* RFC 5321 4.5.3.1.5, with the CRLF */

#define CONF_COMMON                                                         \
	"listen = 127.0.0.1:2525\n"                                         \
	"domains = example.test, other.test\n"                              \
	"mailboxes = alice, bob, postmaster, carol@other.test\n"            \
	"aliases =\n"                                                       \
	"    abuse: postmaster\n"                                           \
	"    team@example.test: alice, bob\n"                               \
	"    all: team@example.test, carol@other.test\n"                    \
	"maildir_root = /nonexistent/mail\n"                                \
	"spool_dir = /nonexistent/spool\n"                                  \
	"max_message_size = 64k\n"                                          \
	"max_recipients = 100\n"                                            \
	"min_free_space = 1M\n"

#define LONG_LABEL "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij"

static const char *const conf_text[2] = {
	"hostname = mail.example.test\n"
	CONF_COMMON
	"vrfy = yes\n"
	"expn = yes\n"
	"max_errors = 1000\n"
	"max_hops = 5\n"
	"auth_over_plaintext = yes\n"
	"sender_login_match = no\n",

	"hostname = " LONG_LABEL "." LONG_LABEL "." LONG_LABEL "."
	LONG_LABEL ".mail.example.test\n"
	CONF_COMMON
	"vrfy = no\n"
	"expn = no\n"
	"bare_newline = reject\n",
};

static struct conf confs[2];
static char filler[8 * FILLER_UNIT];
static int verbose; /* FUZZ_VERBOSE set: print run A's replies and log */
static const char zeros[sizeof(((struct proto *)0)->auth_try_pass)];

static const uint64_t space_values[16] = {
	PROTO_SPACE_UNKNOWN, 0, 1, 1048575, 1048576, 1048577, 1048576 + 100,
	1048576 + 65535, 1048576 + 65536, 1048576 + 65537, 1048576 + 200000,
	2097152, 1ull << 32, 1ull << 40, UINT64_MAX - 1, PROTO_SPACE_UNKNOWN,
};

static const enum reply_id commit_ids[4] = {
	R_QUEUED, R_LOCAL_ERR, R_NO_SPACE, R_QUEUED,
};

/* what the users file would hold */
static const char *const users[][2] = {
	{ "alice", "secret" },
	{ "bob@example.test", "hunter2" },
};

#define TLS_INFO "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"

/* a control operation at a position of the input */
struct event {
	size_t pos;
	unsigned char code; /* a control byte >= 0xc0, or 0 for a split */
};

/* one run of the engine over the whole input */
struct run {
	struct proto p;
	struct buf transcript; /* every reply written, in order */
	struct buf log;        /* commits, hook calls, the final state */
	int split;             /* run A: feed in pieces, flush when told */
	enum reply_id next_id; /* how the next commit ends */
	int shutdown_in_wait;  /* SIGTERM during the next commit/AUTH check */
	int auth_blocked;      /* the next AUTH check: too many failures */
	int starttls;          /* plaintext is discarded up to the next op */
	size_t checked;        /* octets of p.out already checked */
	size_t closed_at;      /* reply octets when PS_CLOSED was reached */
	int closed;
	unsigned hooks;
	unsigned commits;
	unsigned auths;
};

/* the target's own checks are not code under test: no coverage for them */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

/* a broken invariant: say which and abort, so libFuzzer saves the input */
static void
fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_proto.c:%d: check failed: %s\n", line, what);
	abort();
}

#define CHECK(c) do { if (!(c)) fail(__LINE__, #c); } while (0)

/* LLVMFuzzerInitialize - load the two configurations once */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TMPDIR");

	verbose = getenv("FUZZ_VERBOSE") != NULL;
	for (size_t i = 0; i < 2; i++) {
		char path[256];
		struct conf_err err;
		size_t len = strlen(conf_text[i]);
		int fd;

		snprintf(path, sizeof(path), "%s/fuzz-proto-conf-XXXXXX",
		    dir != NULL && *dir != '\0' ? dir : "/tmp");
		fd = mkstemp(path);
		if (fd < 0 || write(fd, conf_text[i], len) != (ssize_t)len ||
		    close(fd) < 0) {
			perror(path);
			exit(1);
		}
		if (conf_load(&confs[i], path, NULL, 0, &err) < 0) {
			fprintf(stderr, "fuzz_proto: config %zu: %s\n", i,
			    err.msg);
			exit(1);
		}
		unlink(path);
	}
	for (size_t i = 0; i < sizeof(filler); i++)
		filler[i] = i % 80 == 78 ? '\r' : i % 80 == 79 ? '\n' :
		    (char)('a' + i % 26);
	return 0;
}

static void
put(struct buf *b, const void *s, size_t n)
{
	if (buf_append(b, s, n) < 0)
		abort(); /* no ceiling: only ENOMEM */
}

/* FNV-1a, to log a body without copying it */
static NOCOV uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static NOCOV int
crlf_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
			return 0;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

static NOCOV int
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static NOCOV int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/*
 * s[0..n) is whole replies: every line "[2-5]DD" + '-' or ' ' + text +
 * CRLF, at most 512 octets, no CR, LF or NUL in the text; the lines of
 * a multi-line reply share the code; the last line ends a reply
 */
static NOCOV void
check_replies(const char *s, size_t n)
{
	const char *cont = NULL; /* code of an unfinished multi-line reply */
	size_t i = 0;

	while (i < n) {
		const char *l = s + i, *lf = memchr(l, '\n', n - i);
		size_t len, t;

		CHECK(lf != NULL);
		len = (size_t)(lf - l) + 1;
		CHECK(len <= REPLY_LINE_MAX);
		CHECK(len >= 6 && l[len - 2] == '\r');
		CHECK(l[0] >= '2' && l[0] <= '5');
		CHECK(is_digit(l[1]) && is_digit(l[2]));
		CHECK(l[3] == '-' || l[3] == ' ');
		for (t = 4; t < len - 2; t++)
			CHECK(l[t] != '\r' && l[t] != '\n' && l[t] != '\0');
		CHECK(cont == NULL || memcmp(cont, l, 3) == 0);
		/* RFC 3463: the enhanced code's class is the reply's */
		if (len >= 12 && is_digit(l[4]) && l[5] == '.' &&
		    is_digit(l[6]))
			CHECK(l[4] == l[0]);
		cont = l[3] == '-' ? l : NULL;
		i += len;
	}
	CHECK(cont == NULL);
}

/* the start of the last line of whole replies s[0..n), or "" */
static NOCOV const char *
last_line(const char *s, size_t n)
{
	size_t k = n >= 2 ? n - 2 : 0;

	if (n < 6)
		return "----";
	while (k > 0 && s[k - 1] != '\n')
		k--;
	return s + k;
}

/* replies are only ever appended whole: check what is new */
static NOCOV void
check_new_replies(struct run *r)
{
	const struct buf *o = &r->p.out;

	CHECK(o->len >= r->checked);
	check_replies(o->data + r->checked, o->len - r->checked);
	r->checked = o->len;
}

/* the server writes the replies */
static void
flush(struct run *r)
{
	check_new_replies(r);
	put(&r->transcript, r->p.out.data, r->p.out.len);
	buf_reset(&r->p.out);
	r->checked = 0;
}

static void
hook(struct proto *p, enum reply_id id, const char *detail)
{
	struct run *r = p->hook_arg;

	CHECK((unsigned)id < R__COUNT);
	CHECK(p->state != PS_CLOSED);
	r->hooks++;
}

/* octets of reply text made so far */
static size_t
replied(const struct run *r)
{
	return r->transcript.len + r->p.out.len;
}

/* after every engine call: the session's invariants */
static NOCOV void
check_state(struct run *r)
{
	const struct proto *p = &r->p;
	const struct proto_txn *t = &p->txn;

	check_new_replies(r);
	CHECK(p->line.len <= PROTO_LINE_MAX_AUTH);
	CHECK(t->nrcpts <= p->conf->max_recipients);
	CHECK(t->nrcpts <= t->caprcpts && t->nboxes <= t->capboxes);
	CHECK(t->active || (t->nrcpts == 0 && t->body.len == 0));
	switch (p->state) {
	case PS_INIT:
	case PS_READY:
		CHECK(!t->active);
		break;
	case PS_MAIL:
		CHECK(t->active);
		break;
	case PS_DATA:
		CHECK(t->active && t->nrcpts > 0 && !t->used_bdat);
		break;
	case PS_BDAT:
	case PS_COMMIT:
	case PS_STARTTLS:
		break;
	case PS_AUTH:
	case PS_AUTH_CHECK:
		CHECK(!t->active && p->auth_user[0] == '\0');
		break;
	case PS_CLOSED:
		CHECK(!t->active);
		break;
	default:
		fail(__LINE__, "a known state");
	}
	/* only the server's check may see a password; a closing reply
	 * wipes it too */
	if (p->state != PS_AUTH_CHECK)
		CHECK(memcmp(p->auth_try_pass, zeros,
		    sizeof(p->auth_try_pass)) == 0);
	CHECK(p->auth_user[0] == '\0' || p->relay_ok);
	/* between commands a pending shutdown is due at once */
	if ((p->state == PS_INIT || p->state == PS_READY ||
	    p->state == PS_MAIL) && !(t->active && t->used_bdat))
		CHECK(!p->shutdown);
	if (p->state == PS_CLOSED && !r->closed) {
		const struct buf *b = r->p.out.len ? &r->p.out : &r->transcript;
		const char *l = last_line(b->data, b->len);

		/* the last reply is the 221 or 421 that closed it */
		CHECK(memcmp(l, "221 ", 4) == 0 || memcmp(l, "421 ", 4) == 0);
		r->closed = 1;
		r->closed_at = replied(r);
	}
	if (r->closed)
		CHECK(replied(r) == r->closed_at);
}

/* PS_COMMIT: check and log the transaction, then finish it */
static void
commit(struct run *r)
{
	struct proto *p = &r->p;
	const struct proto_txn *t = &p->txn;
	const struct conf *c = p->conf;
	char line[512], qid[32];
	enum reply_id id = r->next_id;

	CHECK(t->active && t->nrcpts > 0 && t->nboxes + t->nremote > 0);
	CHECK(t->nboxes <= c->nmboxes && t->nremote <= t->nrcpts);
	CHECK(t->nremote == 0 || p->relay_ok);
	for (size_t i = 0; i < t->nremote; i++) {
		size_t j;

		for (j = 0; j < t->nrcpts; j++)
			if (t->remote[i] == t->rcpts[j])
				break;
		CHECK(j < t->nrcpts);
	}
	for (size_t i = 0; i < t->nboxes; i++) {
		CHECK(t->boxes[i] >= c->mboxes &&
		    t->boxes[i] < c->mboxes + c->nmboxes);
		for (size_t j = 0; j < i; j++)
			CHECK(t->boxes[i] != t->boxes[j]);
	}
	CHECK(!t->scan.overflow && t->body.len <= c->max_message_size);
	CHECK(t->scan.size == t->body.len);
	CHECK(crlf_only(t->body.data, t->body.len));
	CHECK(!t->scan.bare_seen || c->bare_newline == BARE_NEWLINE_NORMALIZE);
	CHECK(t->declared_size <= c->max_message_size);
	snprintf(line, sizeof(line), "commit %u from=<%s> nrcpt=%zu "
	    "nbox=%zu nremote=%zu len=%zu hash=%016llx utf8=%d 8bit=%d "
	    "bdat=%d with=%s\n",
	    r->commits, t->sender, t->nrcpts, t->nboxes, t->nremote,
	    t->body.len,
	    (unsigned long long)hash(t->body.data, t->body.len), t->smtputf8,
	    t->body8bit, t->used_bdat, proto_with(p));
	put(&r->log, line, strlen(line));
	for (size_t i = 0; i < t->nrcpts; i++) {
		put(&r->log, " <", 2);
		put(&r->log, t->rcpts[i], strlen(t->rcpts[i]));
		put(&r->log, ">\n", 2);
	}
	if (r->shutdown_in_wait) {
		/* SIGTERM while the commit runs: the 421 follows its reply */
		proto_shutdown(p);
		CHECK(p->state == PS_COMMIT);
	}
	snprintf(qid, sizeof(qid), "Q%08X", r->commits++);
	proto_commit_done(p, id, id == R_QUEUED ? qid : NULL);
	r->next_id = R_QUEUED;
	r->shutdown_in_wait = 0;
	CHECK(p->state == PS_READY || p->state == PS_CLOSED);
	check_state(r);
}

/* PS_AUTH_CHECK: the server checks the credentials */
static void
auth_check(struct run *r)
{
	struct proto *p = &r->p;
	char line[600];
	int ok = 0;

	CHECK(terminated(p->auth_try_user, sizeof(p->auth_try_user)));
	CHECK(terminated(p->auth_try_pass, sizeof(p->auth_try_pass)));
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		if (strcmp(p->auth_try_user, users[i][0]) == 0 &&
		    strcmp(p->auth_try_pass, users[i][1]) == 0)
			ok = 1;
	snprintf(line, sizeof(line), "auth %u user=%s ok=%d blocked=%d\n",
	    r->auths++, p->auth_try_user, ok, r->auth_blocked);
	put(&r->log, line, strlen(line));
	if (r->shutdown_in_wait) {
		proto_shutdown(p);
		CHECK(p->state == PS_AUTH_CHECK);
	}
	if (r->auth_blocked) {
		/* what the server says after auth_max_failures */
		proto_reply(p, R_AUTH_TOO_MANY, NULL);
		CHECK(p->state == PS_CLOSED);
	} else {
		proto_auth_done(p, ok);
		CHECK(p->state == PS_READY || p->state == PS_CLOSED);
		CHECK(!ok || p->state == PS_CLOSED ||
		    strcmp(p->auth_user, users[0][0]) == 0 ||
		    strcmp(p->auth_user, users[1][0]) == 0);
	}
	r->auth_blocked = 0;
	r->shutdown_in_wait = 0;
	check_state(r);
}

/*
 * feed in[0..n) as a server would: commit, check credentials, flush and
 * retry as needed; stop at PS_STARTTLS (r->starttls) as the rest of the
 * plaintext is to be discarded
 */
static void
feed(struct run *r, const char *in, size_t n)
{
	size_t off = 0;

	if (r->starttls)
		return;
	do {
		size_t u = proto_feed(&r->p, in + off, n - off);

		CHECK(u <= n - off);
		off += u;
		check_state(r);
		if (r->p.state == PS_COMMIT) {
			commit(r);
			continue;
		}
		if (r->p.state == PS_AUTH_CHECK) {
			auth_check(r);
			continue;
		}
		if (r->p.state == PS_STARTTLS) {
			/* the last reply is the 220 that starts TLS */
			CHECK(memcmp(last_line(r->p.out.data, r->p.out.len),
			    "220 ", 4) == 0);
			flush(r);
			r->starttls = 1;
			return;
		}
		if (!r->split || (u == 0 && off < n)) {
			/* it stops reading only while replies wait */
			CHECK(u > 0 || off == n ||
			    r->p.out.len >= PROTO_OUT_HIGH);
			flush(r);
		}
	} while (off < n);
}

/* the TLS handshake is done: what follows is read as ciphertext */
static void
tls_started(struct run *r)
{
	struct proto *p = &r->p;

	r->starttls = 0;
	if (r->shutdown_in_wait) {
		/* SIGTERM during the handshake */
		proto_shutdown(p);
		CHECK(p->state == PS_STARTTLS);
		r->shutdown_in_wait = 0;
	}
	proto_tls_started(p, TLS_INFO);
	CHECK(p->state == PS_INIT || p->state == PS_CLOSED);
	CHECK(p->tls && !p->txn.active);
	/* RFC 3207 4.2: a login from before TLS is forgotten */
	CHECK(p->relay_ok == p->relay_net);
	CHECK(p->helo[0] == '\0' && p->auth_user[0] == '\0');
	put(&r->log, "tls\n", 4);
	check_state(r);
}

static void
apply(struct run *r, unsigned char code)
{
	if (r->starttls)
		tls_started(r);
	if (code < 0xc8) {
		flush(r);
	} else if (code < 0xd0) {
		feed(r, filler, ((size_t)(code & 7) + 1) * FILLER_UNIT);
	} else if (code < 0xd8) {
		proto_timeout(&r->p);
	} else if (code < 0xe0) {
		proto_shutdown(&r->p);
	} else if (code < 0xf0) {
		r->p.free_space = space_values[code & 0x0f];
	} else {
		r->next_id = commit_ids[code & 3];
		r->shutdown_in_wait = (code & 4) != 0;
		r->auth_blocked = (code & 8) != 0;
	}
	check_state(r);
	if (!r->split)
		flush(r);
}

static void
run(struct run *r, const struct conf *c, unsigned flags, const char *in,
    size_t len, const struct event *ev, size_t nev)
{
	size_t pos = 0;
	char line[1024];
	const struct proto *p = &r->p;
	unsigned role = (flags >> 1) & 3;

	buf_init(&r->transcript, 0);
	buf_init(&r->log, 0);
	r->next_id = R_QUEUED;
	proto_init(&r->p, c, "192.0.2.1");
	r->p.hook = hook;
	r->p.hook_arg = r;
	/* what the server sets from the listener and its resources */
	r->p.role = role == 1 || role == 2 ? PROTO_ROLE_SUBMISSION :
	    PROTO_ROLE_SMTP;
	r->p.tls_offered = (flags & 8) != 0 && role != 2;
	r->p.auth_offered = (flags & 16) != 0;
	r->p.relay_net = (flags & 32) != 0;
	r->p.relay_ok = r->p.relay_net;
	if (role == 2) {
		/* RFC 8314: TLS first, then the greeting */
		proto_tls_started(&r->p, TLS_INFO);
	}
	proto_greet(&r->p);
	check_state(r);
	for (size_t i = 0; i < nev; i++) {
		if (ev[i].code == 0 && !r->split)
			continue;
		feed(r, in + pos, ev[i].pos - pos);
		pos = ev[i].pos;
		if (ev[i].code != 0)
			apply(r, ev[i].code);
	}
	feed(r, in + pos, len - pos);
	flush(r);
	snprintf(line, sizeof(line), "end state=%d esmtp=%d helo=%s errors=%u "
	    "active=%d nrcpt=%zu len=%zu line=%zu skip=%d shutdown=%d "
	    "bdat_left=%llu hooks=%u tls=%d user=%s relay=%d with=%s\n",
	    (int)p->state, p->esmtp, p->helo, p->errors, p->txn.active,
	    p->txn.nrcpts, p->txn.body.len, p->line.len, p->line_skip,
	    p->shutdown, (unsigned long long)p->bdat_left, r->hooks, p->tls,
	    p->auth_user, p->relay_ok, proto_with(p));
	put(&r->log, line, strlen(line));
	proto_free(&r->p);
	CHECK(memcmp(r->p.auth_try_pass, zeros, sizeof(zeros)) == 0);
}

static void
run_free(struct run *r)
{
	buf_free(&r->transcript);
	buf_free(&r->log);
}

static NOCOV int
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len &&
	    (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* the first difference, for whoever reads the crash report */
static NOCOV void
show_diff(const char *what, const struct buf *a, const struct buf *b)
{
	size_t i = 0;

	while (i < a->len && i < b->len && a->data[i] == b->data[i])
		i++;
	fprintf(stderr, "%s differ at octet %zu (lengths %zu, %zu)\n"
	    "A: %.*s\nB: %.*s\n", what, i, a->len, b->len,
	    (int)(a->len - i < 200 ? a->len - i : 200), a->data + i,
	    (int)(b->len - i < 200 ? b->len - i : 200), b->data + i);
}

/* LLVMFuzzerTestOneInput - run the session twice and compare */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event ev[MAX_EVENTS];
	static struct run a, b;
	const struct conf *c;
	const uint8_t *ctl;
	const char *in;
	size_t nctl, len, nev = 0, pos = 0;

	if (size < 2)
		return 0;
	c = &confs[data[0] & 1];
	nctl = data[1];
	if (nctl > size - 2)
		nctl = size - 2;
	in = (const char *)data + 2;
	len = size - 2 - nctl;
	ctl = data + size - nctl;
	for (size_t i = 0; i < nctl && nev < MAX_EVENTS; i++) {
		unsigned char k = ctl[i];

		if (k < 0x80)
			pos += k;
		else if (k < 0xc0)
			pos += ((size_t)(k & 0x3f) + 1) * 128;
		if (pos > len)
			pos = len;
		ev[nev].pos = pos;
		ev[nev].code = k < 0xc0 ? 0 : k;
		nev++;
	}

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.split = 1;
	run(&a, c, data[0], in, len, ev, nev);
	run(&b, c, data[0], in, len, ev, nev);
	if (verbose)
		fprintf(stderr, "%.*s--- log\n%.*s", (int)a.transcript.len,
		    a.transcript.data, (int)a.log.len, a.log.data);
	if (!same(&a.transcript, &b.transcript)) {
		show_diff("replies", &a.transcript, &b.transcript);
		fail(__LINE__, "same replies however the input is split");
	}
	if (!same(&a.log, &b.log)) {
		show_diff("commit logs", &a.log, &b.log);
		fail(__LINE__, "same commits however the input is split");
	}
	run_free(&a);
	run_free(&b);
	return 0;
}
