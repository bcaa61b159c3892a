/*
 * test_proto - the SMTP engine driven as a client would drive it: bytes
 * in, exact reply text out, for every command in every state (PS_INIT,
 * PS_READY, PS_MAIL with and without recipients, after a BDAT chunk),
 * pipelining, the commit hand-off (PS_COMMIT), timeouts, shutdown, error
 * limits, line and message limits, bare newlines, mail loops, what a
 * transaction holds when it is committed, STARTTLS (RFC 3207), AUTH
 * PLAIN and LOGIN (RFC 4954, RFC 4616) and the submission rules (RFC 6409).
 *
 * The test plays the server: whenever the engine reaches PS_COMMIT it
 * records the transaction (sender, recipients, mailboxes, body) in a
 * commit log and calls proto_commit_done(R_QUEUED, "Q<n>"). At
 * PS_STARTTLS it logs and throws away the plaintext the client sent after
 * the command, as the server must, and calls proto_tls_started(); what
 * later steps feed arrives inside TLS. At PS_AUTH_CHECK it logs the
 * decoded credentials the engine holds, checks them against a small user
 * table (alice/secret, bob@example.test/pw2) and calls proto_auth_done().
 * A case may start with a certificate (tls_offered), a users file
 * (auth_offered), inside implicit TLS (tls) or on a submission port
 * (role). Every case
 * runs three times: its input fed whole, byte by byte, and in 7-octet
 * pieces; the replies, the commit log and the final state must be the
 * same each time. Every reply must also be well formed (code, '-' or
 * ' ', CRLF, at most 512 octets, no bare CR or LF). A last test checks
 * that every reply id the engine can produce was produced by some case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/proto.h"
#include "unit_conf.h"

/* the configurations cases run with (UNIT_CONF_BASE plus overrides) */
enum confid { C_BASE, C_VRFY, C_STRICT, C_ERR3, C_HOPS, C_PLAINAUTH,
	C_NOMATCH, C__COUNT };

static struct conf confs[C__COUNT];

#define MIN_FREE 1048576ULL /* min_free_space in UNIT_CONF_BASE */

enum op { OP_END, OP_FEED, OP_TIMEOUT, OP_SHUTDOWN, OP_SPACE, OP_COMMIT_AS,
	OP_COMMIT, OP_AUTH_DONE };

struct step {
	enum op op;
	const char *s;
	size_t len;
	uint64_t n;
};

#define FEED(lit) { OP_FEED, lit, sizeof(lit) - 1, 0 }
#define TIMEOUT { OP_TIMEOUT, NULL, 0, 0 }
#define SHUTDOWN { OP_SHUTDOWN, NULL, 0, 0 }
#define SPACE(v) { OP_SPACE, NULL, 0, v }
#define COMMIT_AS(id) { OP_COMMIT_AS, NULL, 0, id }
#define COMMIT { OP_COMMIT, NULL, 0, 0 }
#define AUTH_DONE { OP_AUTH_DONE, NULL, 0, 0 } /* manual: answer AUTH now */

#define MAX_STEPS 10

struct pcase {
	const char *name;
	enum confid conf;
	int manual;  /* commit only at a COMMIT step, answer AUTH only at an
	                AUTH_DONE step */
	int tls_offered;     /* a certificate is configured */
	int auth_offered;    /* a users file is configured */
	int tls;             /* implicit TLS: encrypted from the start */
	enum proto_role role;
	struct step steps[MAX_STEPS];
	const char *want;    /* replies after the greeting; NULL: not exact */
	enum proto_state state;
	const char *commits; /* the server's log (commits, STARTTLS, AUTH
	                        checks); NULL: nothing */
};

/* --- expected text ----------------------------------------------------- */

#define H "mail.example.test"
#define GREET "220 " H " ESMTP tern\r\n"
#define EHLO_IN "EHLO client.example\r\n"
#define EHLO_OUT_FOR(n)                                                     \
	"250-" H " Hello " n "\r\n"                                         \
	"250-PIPELINING\r\n"                                                \
	"250-SIZE 65536\r\n"                                                \
	"250-8BITMIME\r\n"                                                  \
	"250-ENHANCEDSTATUSCODES\r\n"                                       \
	"250-SMTPUTF8\r\n"                                                  \
	"250 CHUNKING\r\n"
#define EHLO_OUT EHLO_OUT_FOR("client.example")
#define HELO_IN "HELO client.example\r\n"
#define HELO_OUT "250 " H "\r\n"
#define OK_OUT "250 2.0.0 Ok\r\n"
#define MAIL_IN(a) "MAIL FROM:<" a ">\r\n"
#define MAIL_OUT(a) "250 2.1.0 Sender <" a "> ok\r\n"
#define RCPT_IN(a) "RCPT TO:<" a ">\r\n"
#define RCPT_OUT(a) "250 2.1.5 Recipient <" a "> ok\r\n"
#define DATA_IN "DATA\r\n"
#define DATA_OUT "354 End data with <CR><LF>.<CR><LF>\r\n"
#define QUEUED(q) "250 2.0.0 Ok: queued as " q "\r\n"
#define BDAT_OUT(n) "250 2.0.0 " n " octets received\r\n"
#define QUIT_OUT "221 2.0.0 " H " closing connection\r\n"
#define VRFY_OK(a) "250 2.1.5 <" a ">\r\n"
#define VRFY_CANNOT                                                         \
	"252 2.5.0 Cannot VRFY user, but will accept message and attempt "  \
	"delivery\r\n"
#define HELP_OUT                                                            \
	"214-2.0.0 This is tern, an SMTP server. Commands:\r\n"             \
	"214-2.0.0   HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "    \
	"EXPN HELP\r\n"                                                     \
	"214-2.0.0   STARTTLS AUTH\r\n"                                    \
	"214-2.0.0 HELP <command> shows its syntax; RFC 5321 describes "    \
	"them all.\r\n"                                                     \
	"214-2.0.0 Problems? Write to postmaster at this domain.\r\n"       \
	"214 2.0.0 End of HELP info\r\n"
#define HELP_TOPIC(s) "214 2.0.0 Syntax: " s "\r\n"
#define SHUTDOWN_OUT                                                        \
	"421 4.3.2 " H " Service shutting down, closing connection\r\n"
#define TIMEOUT_OUT                                                         \
	"421 4.4.2 " H " Error: timeout exceeded, closing connection\r\n"
#define TOO_MANY_ERRORS                                                     \
	"421 4.7.0 " H " Error: too many errors, closing connection\r\n"
#define LOCAL_ERR                                                           \
	"451 4.3.0 Local error in processing, message not accepted; try "   \
	"again later\r\n"
#define NO_SPACE "452 4.3.1 Insufficient system storage, try again later\r\n"
#define RCPT_MAX                                                            \
	"452 4.5.3 Too many recipients for one message; send the rest in "  \
	"another\r\n"
#define UNKNOWN_CMD "500 5.5.2 Error: command not recognized\r\n"
#define TOO_LONG "500 5.5.2 Error: line too long\r\n"
#define BAD_BYTES                                                           \
	"500 5.5.2 Error: command contains NUL or invalid UTF-8 bytes\r\n"
#define SYN_HELO "501 Syntax: HELO hostname\r\n"
#define SYN_EHLO "501 Syntax: EHLO hostname\r\n"
#define BAD_HELO                                                            \
	"501 Error: invalid domain name or address literal in "       \
	"HELO/EHLO\r\n"
#define SYN_MAIL "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n"
#define SYN_RCPT "501 5.5.4 Syntax: RCPT TO:<address> [parameters]\r\n"
#define SYN_DATA "501 5.5.4 Syntax: DATA (no arguments)\r\n"
#define SYN_RSET "501 5.5.4 Syntax: RSET (no arguments)\r\n"
#define SYN_QUIT "501 5.5.4 Syntax: QUIT (no arguments)\r\n"
#define SYN_VRFY "501 5.5.4 Syntax: VRFY address\r\n"
#define SYN_EXPN "501 5.5.4 Syntax: EXPN list\r\n"
#define SYN_BDAT "501 5.5.4 Syntax: BDAT size [LAST]\r\n"
#define BAD_PARAM(p) "501 5.5.4 Error: bad parameter value: " p "\r\n"
#define DUP_PARAM(p) "501 5.5.4 Error: parameter given twice: " p "\r\n"
#define NOT_IMPL "502 5.5.1 Error: command not implemented\r\n"
#define EXPN_OFF "502 5.5.1 EXPN command is disabled\r\n"
#define NEED_HELO "503 5.5.1 Error: send HELO/EHLO first\r\n"
#define NESTED_MAIL "503 5.5.1 Error: nested MAIL command\r\n"
#define NEED_MAIL "503 5.5.1 Error: need MAIL command first\r\n"
#define NEED_RCPT "503 5.5.1 Error: need RCPT command first\r\n"
#define DATA_AFTER_BDAT                                                     \
	"503 5.5.1 Error: DATA not allowed after BDAT in one message\r\n"
#define BDAT_ABORTED                                                        \
	"503 5.5.1 Error: message transfer was already rejected; send "     \
	"RSET\r\n"
#define HELP_UNKNOWN(t) "504 5.5.4 HELP topic unknown: " t "\r\n"
#define RCPT_UNKNOWN(a)                                                     \
	"550 5.1.1 <" a ">: Recipient address rejected: no such mailbox "   \
	"here\r\n"
#define VRFY_UNKNOWN(a) "550 5.1.1 <" a ">: no such mailbox here\r\n"
#define RELAY_DENIED(a)                                                     \
	"550 5.7.1 <" a ">: Relaying denied: this server only accepts mail " \
	"for its own domains\r\n"
#define BARE_NL                                                             \
	"550 5.5.2 Error: bare <CR> or <LF> line ending in message; use "   \
	"<CR><LF>\r\n"
#define TOO_BIG                                                             \
	"552 5.3.4 Error: message size exceeds fixed maximum message "      \
	"size\r\n"
#define SIZE_TOO_BIG                                                        \
	"552 5.3.4 Error: declared message size exceeds fixed maximum "     \
	"message size\r\n"
#define BAD_SENDER(w) "553 5.1.7 Error: malformed sender address: " w "\r\n"
#define BAD_RCPT(w) "553 5.1.3 Error: malformed recipient address: " w "\r\n"
#define SENDER_UTF8                                                         \
	"553 5.6.7 Error: non-ASCII sender address needs the SMTPUTF8 "     \
	"parameter\r\n"
#define RCPT_UTF8                                                           \
	"553 5.6.7 Error: non-ASCII recipient address needs SMTPUTF8 in "   \
	"MAIL FROM\r\n"
#define NO_VALID "554 5.5.1 Error: no valid recipients\r\n"
#define TOO_MANY_HOPS                                                       \
	"554 5.4.6 Error: too many Received headers, probably a mail "      \
	"loop\r\n"
#define PARAM_UNKNOWN(p) "555 5.5.4 Error: unsupported parameter: " p "\r\n"

/* STARTTLS and AUTH */
#define TLS_INFO "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
#define EHLO_HEAD_FOR(n)                                                    \
	"250-" H " Hello " n "\r\n"                                         \
	"250-PIPELINING\r\n"                                                \
	"250-SIZE 65536\r\n"                                                \
	"250-8BITMIME\r\n"                                                  \
	"250-ENHANCEDSTATUSCODES\r\n"                                       \
	"250-SMTPUTF8\r\n"
#define EHLO_TLS_OUT EHLO_HEAD_FOR("client.example")                        \
	"250-CHUNKING\r\n" "250 STARTTLS\r\n"
#define EHLO_AUTH_OUT EHLO_HEAD_FOR("client.example")                       \
	"250-CHUNKING\r\n" "250 AUTH PLAIN LOGIN\r\n"
#define EHLO_BOTH_OUT EHLO_HEAD_FOR("client.example")                       \
	"250-CHUNKING\r\n" "250-STARTTLS\r\n" "250 AUTH PLAIN LOGIN\r\n"
#define STARTTLS_IN "STARTTLS\r\n"
#define TLS_GO "220 2.0.0 Ready to start TLS\r\n"
#define SYN_STARTTLS "501 5.5.4 Syntax: STARTTLS (no parameters)\r\n"
#define TLS_ACTIVE "503 5.5.1 Error: TLS already active\r\n"
#define TLS_UNAVAILABLE "454 4.7.0 TLS not available due to local problem\r\n"
#define CHALLENGE(c) "334 " c "\r\n"
#define LOGIN_USER CHALLENGE("VXNlcm5hbWU6")
#define LOGIN_PASS CHALLENGE("UGFzc3dvcmQ6")
#define AUTH_OK "235 2.7.0 Authentication successful\r\n"
#define AUTH_FAILED                                                         \
	"535 5.7.8 Error: authentication failed: wrong user name or "       \
	"password\r\n"
#define AUTH_BAD64 "501 5.5.2 Error: invalid base64 data\r\n"
#define AUTH_CANCELLED "501 5.0.0 Authentication cancelled\r\n"
#define SYN_AUTH "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
#define AUTH_ALREADY "503 5.5.1 Error: already authenticated\r\n"
#define AUTH_IN_TXN                                                         \
	"503 5.5.1 Error: AUTH not allowed during a mail transaction\r\n"
#define AUTH_DISABLED "503 5.5.1 Error: authentication not enabled here\r\n"
#define AUTH_MECH                                                           \
	"504 5.5.4 Unrecognized authentication mechanism; use PLAIN or "    \
	"LOGIN\r\n"
#define AUTH_TOO_LONG "500 5.5.6 Authentication exchange line is too long\r\n"
#define AUTH_NEED_TLS                                                       \
	"538 5.7.11 Encryption required for requested authentication "      \
	"mechanism; use STARTTLS first\r\n"
#define AUTH_REQUIRED                                                       \
	"530 5.7.0 Authentication required: log in (AUTH) before sending "  \
	"mail\r\n"
#define NOT_OWNED(a)                                                        \
	"553 5.7.1 <" a ">: Sender address rejected: not owned by the "     \
	"authenticated user\r\n"
/* base64 of PLAIN messages and LOGIN fields */
#define B64_ALICE_SECRET "AGFsaWNlAHNlY3JldA=="     /* \0alice\0secret */
#define B64_ALICE_WRONG "AGFsaWNlAHdyb25n"          /* \0alice\0wrong */
#define B64_AZ_ALICE "YWxpY2UAYWxpY2UAc2VjcmV0"     /* alice\0alice\0secret */
#define B64_AZ_BOB "Ym9iAGFsaWNlAHNlY3JldA=="       /* bob\0alice\0secret */
#define B64_NOBODY "AG5vYm9keQBzZWNyZXQ="           /* \0nobody\0secret */
/* \0bob@example.test\0pw2 */
#define B64_BOB "AGJvYkBleGFtcGxlLnRlc3QAcHcy"
#define B64_EMPTY_PASS "AGFsaWNlAA=="               /* \0alice\0 */
#define B64_NO_PASS "AGFsaWNl"                      /* \0alice */
#define B64_NUL_PASS "AGFsaWNlAHNlYwByZXQ="         /* \0alice\0sec\0ret */
/* \0alice\0s3 cr:\xc3\xa9t */
#define B64_ODD_PASS "AGFsaWNlAHMzIGNyOsOpdA=="
#define B64_alice "YWxpY2U="
#define B64_secret "c2VjcmV0"
#define B64_wrong "d3Jvbmc="
#define AUTH_PLAIN_IN "AUTH PLAIN " B64_ALICE_SECRET "\r\n"
/* the server's log lines for STARTTLS and AUTH checks */
#define TLS_LOG(dropped) "starttls dropped=\"" dropped "\"\n"
#define AUTH_LOG(u, pw, res) "auth user=\"" u "\" pass=\"" pw "\" " res "\n"
#define ALICE_OK AUTH_LOG("alice", "secret", "ok")

/* the usual transaction: EHLO, MAIL from S, RCPT to alice */
#define S "sender@client.example"
#define TXN_IN EHLO_IN MAIL_IN(S) RCPT_IN("alice@example.test")
#define TXN_OUT EHLO_OUT MAIL_OUT(S) RCPT_OUT("alice@example.test")
#define COMMIT_LOG(from, rcpts, boxes, with, body)                          \
	"commit from=<" from "> rcpts=" rcpts " boxes=" boxes " with=" with \
	" body=\"" body "\"\n"
#define COMMIT1(body)                                                       \
	COMMIT_LOG(S, "<alice@example.test>", "alice@example.test", "ESMTP", \
	    body)

/* --- the fake server ------------------------------------------------- */

static int reached[R__COUNT];

struct run {
	struct proto p;
	struct buf pending; /* fed but not yet consumed */
	struct buf out;     /* every reply after the greeting */
	struct buf log;     /* the commit log */
	size_t chunk;
	int auto_commit;
	enum reply_id commit_as;
	unsigned nq;
	int stalled;
	int greet_ok;
};

static void
hook(struct proto *p, enum reply_id id, const char *detail)
{
	(void)p;
	(void)detail;
	if ((unsigned)id < R__COUNT)
		reached[id] = 1;
}

/* write the engine's output: move it to the transcript */
static void
drain(struct run *r)
{
	if (r->p.out.len > 0)
		buf_append(&r->out, r->p.out.data, r->p.out.len);
	buf_reset(&r->p.out);
}

static void
put_escaped(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			buf_puts(b, "\\r");
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 32 || c >= 127)
			buf_printf(b, "\\x%02x", c);
		else
			buf_putc(b, (char)c);
	}
}

/* the message is complete: record it and answer as the server would */
static void
commit(struct run *r)
{
	const struct proto_txn *t = &r->p.txn;
	char qid[16];

	buf_printf(&r->log, "commit from=<%s> rcpts=", t->sender);
	for (size_t i = 0; i < t->nrcpts; i++)
		buf_printf(&r->log, "%s<%s>", i ? "," : "", t->rcpts[i]);
	buf_puts(&r->log, " boxes=");
	for (size_t i = 0; i < t->nboxes; i++)
		buf_printf(&r->log, "%s%s@%s", i ? "," : "", t->boxes[i]->user,
		    t->boxes[i]->domain);
	buf_printf(&r->log, " with=%s", proto_with(&r->p));
	if (r->p.tls)
		buf_printf(&r->log, " tls=\"%s\"", r->p.tls_info);
	if (r->p.auth_user[0] != '\0')
		buf_printf(&r->log, " auth=%s", r->p.auth_user);
	buf_puts(&r->log, " body=\"");
	put_escaped(&r->log, t->body.data, t->body.len);
	buf_puts(&r->log, "\"\n");
	snprintf(qid, sizeof(qid), "Q%u", ++r->nq);
	proto_commit_done(&r->p, r->commit_as,
	    r->commit_as == R_QUEUED ? qid : NULL);
	drain(r);
}

/* the users file the fake server checks against */
static const struct {
	const char *user;
	const char *pass;
} users[] = {
	{ "alice", "secret" },
	{ "bob@example.test", "pw2" },
};

/*
 * PS_AUTH_CHECK: log the credentials the engine decoded, check them,
 * answer; afterwards the engine must not keep the password
 */
static void
auth_verdict(struct run *r)
{
	int ok = 0;

	buf_puts(&r->log, "auth user=\"");
	put_escaped(&r->log, r->p.auth_try_user, strlen(r->p.auth_try_user));
	buf_puts(&r->log, "\" pass=\"");
	put_escaped(&r->log, r->p.auth_try_pass, strlen(r->p.auth_try_pass));
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		ok |= strcmp(r->p.auth_try_user, users[i].user) == 0 &&
		    strcmp(r->p.auth_try_pass, users[i].pass) == 0;
	buf_printf(&r->log, "\" %s\n", ok ? "ok" : "failed");
	proto_auth_done(&r->p, ok);
	for (size_t i = 0; i < sizeof(r->p.auth_try_pass); i++) {
		if (r->p.auth_try_pass[i] != '\0') {
			buf_puts(&r->log, "password left in auth_try_pass\n");
			break;
		}
	}
	if (r->p.auth_try_user[0] != '\0')
		buf_puts(&r->log, "user name left in auth_try_user\n");
	drain(r);
}

/*
 * PS_STARTTLS: plaintext the client sent after STARTTLS is never read
 * (RFC 3207 5, CVE-2011-0411): log it and drop it, then the handshake
 */
static void
tls_handshake(struct run *r, const char *rest, size_t n)
{
	buf_puts(&r->log, "starttls dropped=\"");
	put_escaped(&r->log, rest, n);
	buf_puts(&r->log, "\"\n");
	proto_tls_started(&r->p, TLS_INFO);
	drain(r);
}

/* feed what is pending in pieces of r->chunk octets */
static void
pump(struct run *r)
{
	size_t off = 0;

	while (off < r->pending.len) {
		size_t n = r->pending.len - off, used;

		if (n > r->chunk)
			n = r->chunk;
		used = proto_feed(&r->p, r->pending.data + off, n);
		drain(r);
		if (used > n)
			fail_msg("proto_feed consumed %zu of %zu", used, n);
		off += used;
		if (r->p.state == PS_COMMIT) {
			if (!r->auto_commit)
				break;
			commit(r);
			continue;
		}
		if (r->p.state == PS_AUTH_CHECK) {
			if (!r->auto_commit)
				break;
			auth_verdict(r);
			continue;
		}
		if (r->p.state == PS_STARTTLS) {
			tls_handshake(r, r->pending.data + off,
			    r->pending.len - off);
			off = r->pending.len;
			break;
		}
		if (used < n) {
			/* nothing should stop it: its output is drained */
			r->stalled = 1;
			break;
		}
	}
	buf_consume(&r->pending, off);
}

static void
run_case(const struct pcase *c, size_t chunk, struct run *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->pending, 0);
	buf_init(&r->out, 0);
	buf_init(&r->log, 0);
	r->chunk = chunk;
	r->auto_commit = !c->manual;
	r->commit_as = R_QUEUED;
	proto_init(&r->p, &confs[c->conf], "192.0.2.1");
	r->p.hook = hook;
	r->p.tls_offered = c->tls_offered;
	r->p.auth_offered = c->auth_offered;
	r->p.role = c->role;
	/* implicit TLS: the handshake comes first, then the greeting */
	if (c->tls)
		proto_tls_started(&r->p, TLS_INFO);
	proto_greet(&r->p);
	r->greet_ok = r->p.out.len == strlen(GREET) &&
	    memcmp(r->p.out.data, GREET, r->p.out.len) == 0;
	buf_reset(&r->p.out);
	for (int i = 0; i < MAX_STEPS && c->steps[i].op != OP_END; i++) {
		const struct step *s = &c->steps[i];

		switch (s->op) {
		case OP_FEED:
			buf_append(&r->pending, s->s, s->len);
			pump(r);
			break;
		case OP_TIMEOUT:
			proto_timeout(&r->p);
			drain(r);
			break;
		case OP_SHUTDOWN:
			proto_shutdown(&r->p);
			drain(r);
			break;
		case OP_SPACE:
			r->p.free_space = s->n;
			break;
		case OP_COMMIT_AS:
			r->commit_as = (enum reply_id)s->n;
			break;
		case OP_COMMIT:
			if (r->p.state == PS_COMMIT)
				commit(r);
			pump(r);
			break;
		case OP_AUTH_DONE:
			if (r->p.state == PS_AUTH_CHECK)
				auth_verdict(r);
			pump(r);
			break;
		case OP_END:
			break;
		}
	}
}

static void
run_free(struct run *r)
{
	proto_free(&r->p);
	buf_free(&r->pending);
	buf_free(&r->out);
	buf_free(&r->log);
}

/* --- checks ------------------------------------------------------------ */

/* a printable copy of n bytes (CR, LF and other controls escaped) */
static const char *
esc(const char *s, size_t n)
{
	static char out[4][16384];
	static int k;
	char *o = out[k++ & 3];
	size_t j = 0;

	for (size_t i = 0; s != NULL && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (j + 16 >= sizeof(out[0])) {
			j += (size_t)sprintf(o + j, "...");
			break;
		}
		if (c == '\r')
			j += (size_t)sprintf(o + j, "\\r");
		else if (c == '\n')
			j += (size_t)sprintf(o + j, "\\n");
		else if (c == '"' || c == '\\')
			j += (size_t)sprintf(o + j, "\\%c", c);
		else if (c < 32 || c >= 127)
			j += (size_t)sprintf(o + j, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	o[j] = '\0';
	return o;
}

static int
mem_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static const char *
state_name(enum proto_state s)
{
	static const char *const names[] = { "PS_INIT", "PS_READY",
		"PS_MAIL", "PS_DATA", "PS_BDAT", "PS_COMMIT", "PS_AUTH",
		"PS_AUTH_CHECK", "PS_STARTTLS", "PS_CLOSED" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s]
	    : "PS_?";
}

/*
 * RFC 5321 4.2, 4.5.3.1.5: every line is "ddd-text" or "ddd text" with
 * CRLF, at most 512 octets, no other CR or LF; a multi-line reply keeps
 * its code. Returns 0, or -1 with the reason in why.
 */
static int
replies_well_formed(const char *out, size_t len, char *why, size_t cap)
{
	size_t pos = 0;
	int cont = 0;
	char code[4] = "";

	while (pos < len) {
		const char *lf = memchr(out + pos, '\n', len - pos);
		size_t ll;
		const char *l = out + pos;

		if (lf == NULL) {
			snprintf(why, cap, "unterminated line \"%s\"",
			    esc(l, len - pos));
			return -1;
		}
		ll = (size_t)(lf - l) + 1;
		if (ll > 512) {
			snprintf(why, cap, "line of %zu octets", ll);
			return -1;
		}
		if (ll < 6 || l[ll - 2] != '\r' ||
		    memchr(l, '\r', ll - 2) != NULL) {
			snprintf(why, cap, "bare CR or LF in \"%s\"",
			    esc(l, ll));
			return -1;
		}
		if (l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
		    l[2] < '0' || l[2] > '9' || (l[3] != ' ' && l[3] != '-')) {
			snprintf(why, cap, "bad reply line \"%s\"", esc(l, ll));
			return -1;
		}
		if (cont && memcmp(code, l, 3) != 0) {
			snprintf(why, cap, "code changes inside a multi-line "
			    "reply at \"%s\"", esc(l, ll));
			return -1;
		}
		memcpy(code, l, 3);
		cont = l[3] == '-';
		pos += ll;
	}
	if (cont) {
		snprintf(why, cap, "multi-line reply without its last line");
		return -1;
	}
	return 0;
}

/* run c whole, byte by byte and in 7-octet pieces; 0 if all is well */
static int
check_case(const struct pcase *c)
{
	static const size_t chunks[] = { 1, 7 };
	struct run w;
	char why[256];
	int bad = 0;

	run_case(c, SIZE_MAX, &w);
	if (!w.greet_ok) {
		print_error("%s: got a greeting other than \"%s\"\n", c->name,
		    esc(GREET, strlen(GREET)));
		bad++;
	}
	if (c->want != NULL &&
	    !mem_eq(w.out.data, w.out.len, c->want, strlen(c->want))) {
		print_error("%s:\n  got  \"%s\"\n  want \"%s\"\n", c->name,
		    esc(w.out.data, w.out.len),
		    esc(c->want, strlen(c->want)));
		bad++;
	}
	if (replies_well_formed(w.out.data, w.out.len, why, sizeof(why))) {
		print_error("%s: got a malformed reply: %s\n", c->name, why);
		bad++;
	}
	if (w.p.state != c->state) {
		print_error("%s: state: got %s, want %s\n", c->name,
		    state_name(w.p.state), state_name(c->state));
		bad++;
	}
	if (!mem_eq(w.log.data, w.log.len, c->commits ? c->commits : "",
		c->commits ? strlen(c->commits) : 0)) {
		print_error("%s: commits:\n  got  \"%s\"\n  want \"%s\"\n",
		    c->name, esc(w.log.data, w.log.len),
		    c->commits ? esc(c->commits, strlen(c->commits)) : "");
		bad++;
	}
	if (w.stalled) {
		print_error("%s: got proto_feed stopping early, want all "
		    "input consumed\n", c->name);
		bad++;
	}
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct run o;

		run_case(c, chunks[k], &o);
		if (!mem_eq(o.out.data, o.out.len, w.out.data, w.out.len) ||
		    !mem_eq(o.log.data, o.log.len, w.log.data, w.log.len) ||
		    o.p.state != w.p.state || o.stalled != w.stalled) {
			print_error("%s: fed in pieces of %zu:\n  got  \"%s\" "
			    "%s \"%s\"\n  want \"%s\" %s \"%s\" (as fed "
			    "whole)\n", c->name, chunks[k],
			    esc(o.out.data, o.out.len), state_name(o.p.state),
			    esc(o.log.data, o.log.len),
			    esc(w.out.data, w.out.len), state_name(w.p.state),
			    esc(w.log.data, w.log.len));
			bad++;
		}
		run_free(&o);
	}
	run_free(&w);
	return bad ? 1 : 0;
}

static void
check_table(const struct pcase *cases, size_t n, const char *what)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += check_case(&cases[i]);
	if (bad)
		fail_msg("%d of %zu %s cases failed", bad, n, what);
}

#define CHECK_TABLE(t, what) check_table((t), sizeof(t) / sizeof((t)[0]), what)

/* --- before HELO/EHLO -------------------------------------------------- */

static const struct pcase init_cases[] = {
	{ .name = "init: NOOP", .steps = { FEED("NOOP\r\n") },
	    .want = OK_OUT, .state = PS_INIT },
	{ .name = "init: NOOP arguments are ignored",
	    .steps = { FEED("NOOP hello there\r\n") }, .want = OK_OUT,
	    .state = PS_INIT },
	{ .name = "init: RSET", .steps = { FEED("RSET\r\n") },
	    .want = OK_OUT, .state = PS_INIT },
	{ .name = "init: MAIL", .steps = { FEED(MAIL_IN(S)) },
	    .want = NEED_HELO, .state = PS_INIT },
	{ .name = "init: RCPT",
	    .steps = { FEED(RCPT_IN("alice@example.test")) },
	    .want = NEED_HELO, .state = PS_INIT },
	{ .name = "init: DATA", .steps = { FEED(DATA_IN) },
	    .want = NEED_HELO, .state = PS_INIT },
	{ .name = "init: BDAT reads its chunk",
	    .steps = { FEED("BDAT 4\r\nQUITNOOP\r\n") },
	    .want = NEED_HELO OK_OUT, .state = PS_INIT },
	{ .name = "init: after a refused BDAT, MAIL still needs HELO",
	    .steps = { FEED("BDAT 3\r\nabc" MAIL_IN(S)) },
	    .want = NEED_HELO NEED_HELO, .state = PS_INIT },
	{ .name = "init: after BDAT 0, RCPT still needs HELO",
	    .steps = { FEED("BDAT 0\r\n" RCPT_IN("alice@example.test")) },
	    .want = NEED_HELO NEED_HELO, .state = PS_INIT },
	{ .name = "init: QUIT", .steps = { FEED("QUIT\r\n") },
	    .want = QUIT_OUT, .state = PS_CLOSED },
	{ .name = "init: VRFY disabled",
	    .steps = { FEED("VRFY alice\r\n") }, .want = VRFY_CANNOT,
	    .state = PS_INIT },
	{ .name = "init: EXPN disabled", .steps = { FEED("EXPN team\r\n") },
	    .want = EXPN_OFF, .state = PS_INIT },
	{ .name = "init: HELP", .steps = { FEED("HELP\r\n") },
	    .want = HELP_OUT, .state = PS_INIT },
	{ .name = "init: unknown command", .steps = { FEED("FOO bar\r\n") },
	    .want = UNKNOWN_CMD, .state = PS_INIT },
	{ .name = "init: empty line", .steps = { FEED("\r\n") },
	    .want = UNKNOWN_CMD, .state = PS_INIT },
	{ .name = "init: STARTTLS without a certificate, AUTH before EHLO, ETRN",
	    .steps = { FEED("STARTTLS\r\nAUTH PLAIN AGEAYg==\r\nETRN x\r\n") },
	    .want = "454 4.7.0 TLS not available due to local problem\r\n"
		NEED_HELO NOT_IMPL, .state = PS_INIT },
	{ .name = "init: HELO without a name", .steps = { FEED("HELO\r\n") },
	    .want = SYN_HELO, .state = PS_INIT },
	{ .name = "init: EHLO without a name",
	    .steps = { FEED("EHLO\r\nEHLO   \r\n") },
	    .want = SYN_EHLO SYN_EHLO, .state = PS_INIT },
	{ .name = "init: EHLO with two words",
	    .steps = { FEED("EHLO a.example b.example\r\n") },
	    .want = SYN_EHLO, .state = PS_INIT },
	{ .name = "init: EHLO bad names",
	    .steps = { FEED("EHLO bad..name\r\nHELO [1.2.3.256]\r\n"
		"EHLO a!b\r\n") },
	    .want = BAD_HELO BAD_HELO BAD_HELO, .state = PS_INIT },
	{ .name = "init: EHLO", .steps = { FEED(EHLO_IN) },
	    .want = EHLO_OUT, .state = PS_READY },
	{ .name = "init: EHLO lower case, trailing blanks",
	    .steps = { FEED("ehlo client.example  \t\r\n") },
	    .want = EHLO_OUT, .state = PS_READY },
	{ .name = "init: EHLO address literal",
	    .steps = { FEED("EHLO [192.0.2.1]\r\n") },
	    .want = EHLO_OUT_FOR("[192.0.2.1]"), .state = PS_READY },
	{ .name = "init: EHLO IPv6 literal",
	    .steps = { FEED("EHLO [IPv6:2001:db8::1]\r\n") },
	    .want = EHLO_OUT_FOR("[IPv6:2001:db8::1]"), .state = PS_READY },
	{ .name = "init: EHLO with underscore tolerated",
	    .steps = { FEED("EHLO my_host.example\r\n") },
	    .want = EHLO_OUT_FOR("my_host.example"), .state = PS_READY },
	{ .name = "init: HELO", .steps = { FEED(HELO_IN) },
	    .want = HELO_OUT, .state = PS_READY },
	{ .name = "init: bare LF ends a command",
	    .steps = { FEED("EHLO client.example\nNOOP\n") },
	    .want = EHLO_OUT OK_OUT, .state = PS_READY },
};

static void
test_init(void **state)
{
	(void)state;
	CHECK_TABLE(init_cases, "PS_INIT");
}

/* --- after HELO/EHLO, no transaction ---------------------------------- */

static const struct pcase ready_cases[] = {
	{ .name = "ready: second EHLO",
	    .steps = { FEED(EHLO_IN EHLO_IN) }, .want = EHLO_OUT EHLO_OUT,
	    .state = PS_READY },
	{ .name = "ready: HELO after EHLO",
	    .steps = { FEED(EHLO_IN HELO_IN) }, .want = EHLO_OUT HELO_OUT,
	    .state = PS_READY },
	{ .name = "ready: RCPT, DATA",
	    .steps = { FEED(EHLO_IN RCPT_IN("alice@example.test") DATA_IN) },
	    .want = EHLO_OUT NEED_MAIL NEED_MAIL, .state = PS_READY },
	{ .name = "ready: BDAT reads its chunk",
	    .steps = { FEED(EHLO_IN "BDAT 6\r\nQUIT\r\nNOOP\r\n") },
	    .want = EHLO_OUT NEED_MAIL OK_OUT, .state = PS_READY },
	{ .name = "ready: RSET, NOOP, VRFY, HELP",
	    .steps = { FEED(EHLO_IN "RSET\r\nNOOP\r\nVRFY bob\r\nHELP\r\n") },
	    .want = EHLO_OUT OK_OUT OK_OUT VRFY_CANNOT HELP_OUT,
	    .state = PS_READY },
	{ .name = "ready: QUIT", .steps = { FEED(EHLO_IN "QUIT\r\n") },
	    .want = EHLO_OUT QUIT_OUT, .state = PS_CLOSED },
	{ .name = "ready: QUIT with arguments",
	    .steps = { FEED(EHLO_IN "QUIT now\r\n") },
	    .want = EHLO_OUT SYN_QUIT, .state = PS_READY },
	{ .name = "ready: RSET with arguments",
	    .steps = { FEED(EHLO_IN "RSET x\r\n") },
	    .want = EHLO_OUT SYN_RSET, .state = PS_READY },
	{ .name = "ready: MAIL", .steps = { FEED(EHLO_IN MAIL_IN(S)) },
	    .want = EHLO_OUT MAIL_OUT(S), .state = PS_MAIL },
	{ .name = "ready: MAIL null sender",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<>\r\n") },
	    .want = EHLO_OUT MAIL_OUT(""), .state = PS_MAIL },
	{ .name = "ready: MAIL with a space after the colon, lower case",
	    .steps = { FEED(EHLO_IN "mail from: <a@x.example>\r\n") },
	    .want = EHLO_OUT MAIL_OUT("a@x.example"), .state = PS_MAIL },
	{ .name = "ready: MAIL source route is dropped",
	    .steps = { FEED(EHLO_IN
		"MAIL FROM:<@r.example:a@x.example>\r\n") },
	    .want = EHLO_OUT MAIL_OUT("a@x.example"), .state = PS_MAIL },
	{ .name = "ready: MAIL syntax errors",
	    .steps = { FEED(EHLO_IN "MAIL\r\nMAIL FROM:a@x.example\r\n"
		"MAIL TO:<a@x.example>\r\nMAIL FROM:<a@x.example\r\n"
		"MAIL FROM:<a@x.example>SIZE=1\r\n"
		"MAIL FROM:<a@x.example> =1\r\n"
		"MAIL FROM:<a@x.example> SIZE=1=2\r\n") },
	    .want = EHLO_OUT SYN_MAIL SYN_MAIL SYN_MAIL SYN_MAIL SYN_MAIL
		SYN_MAIL SYN_MAIL,
	    .state = PS_READY },
	{ .name = "ready: MAIL malformed senders",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a@-x.example>\r\n"
		"MAIL FROM:<a@[1.2.3.256]>\r\nMAIL FROM:<a..b@x.example>\r\n"
		"MAIL FROM:<a>\r\n") },
	    .want = EHLO_OUT BAD_SENDER("bad domain")
		BAD_SENDER("bad address literal") BAD_SENDER("bad local part")
		BAD_SENDER("missing @domain"),
	    .state = PS_READY },
	{ .name = "ready: MAIL local part of 65",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"@x.example>\r\n") },
	    .want = EHLO_OUT BAD_SENDER("local part longer than 64 octets"),
	    .state = PS_READY },
	{ .name = "ready: MAIL SIZE at the limit",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a@x.example> SIZE=65536\r\n") },
	    .want = EHLO_OUT MAIL_OUT("a@x.example"), .state = PS_MAIL },
	{ .name = "ready: MAIL size lower case, BODY=8BITMIME",
	    .steps = { FEED(EHLO_IN
		"MAIL FROM:<a@x.example> size=100 body=8bitmime\r\n") },
	    .want = EHLO_OUT MAIL_OUT("a@x.example"), .state = PS_MAIL },
	{ .name = "ready: MAIL SIZE over the limit",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a@x.example> SIZE=65537\r\n") },
	    .want = EHLO_OUT SIZE_TOO_BIG, .state = PS_READY },
	/* RFC 1870: size-value ::= 1*20DIGIT, so this is a size, too big */
	{ .name = "ready: MAIL SIZE of 20 digits",
	    .steps = { FEED(EHLO_IN
		"MAIL FROM:<a@x.example> SIZE=10000000000000000000\r\n") },
	    .want = EHLO_OUT SIZE_TOO_BIG, .state = PS_READY },
	{ .name = "ready: MAIL bad SIZE values",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a@x.example> SIZE=abc\r\n"
		"MAIL FROM:<a@x.example> SIZE\r\n"
		"MAIL FROM:<a@x.example> SIZE=-1\r\n") },
	    .want = EHLO_OUT BAD_PARAM("SIZE") BAD_PARAM("SIZE")
		BAD_PARAM("SIZE"),
	    .state = PS_READY },
	{ .name = "ready: MAIL duplicate parameters",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a@x.example> SIZE=1 SIZE=2\r\n"
		"MAIL FROM:<a@x.example> BODY=7BIT BODY=8BITMIME\r\n"
		"MAIL FROM:<a@x.example> SMTPUTF8 SMTPUTF8\r\n") },
	    .want = EHLO_OUT DUP_PARAM("SIZE") DUP_PARAM("BODY")
		DUP_PARAM("SMTPUTF8"),
	    .state = PS_READY },
	{ .name = "ready: MAIL BODY values",
	    .steps = { FEED(EHLO_IN
		"MAIL FROM:<a@x.example> BODY=BINARYMIME\r\n"
		"MAIL FROM:<a@x.example> BODY\r\n"
		"MAIL FROM:<a@x.example> BODY=7BIT\r\n") },
	    .want = EHLO_OUT PARAM_UNKNOWN("BODY=BINARYMIME") BAD_PARAM("BODY")
		MAIL_OUT("a@x.example"),
	    .state = PS_MAIL },
	{ .name = "ready: MAIL unknown parameter",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a@x.example> FOO=bar\r\n") },
	    .want = EHLO_OUT PARAM_UNKNOWN("FOO"), .state = PS_READY },
	{ .name = "ready: MAIL SMTPUTF8 with a value",
	    .steps = { FEED(EHLO_IN
		"MAIL FROM:<a@x.example> SMTPUTF8=yes\r\n") },
	    .want = EHLO_OUT BAD_PARAM("SMTPUTF8"), .state = PS_READY },
	{ .name = "ready: MAIL non-ASCII sender without SMTPUTF8",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<j\xc3\xb6rg@x.example>\r\n") },
	    .want = EHLO_OUT SENDER_UTF8, .state = PS_READY },
	{ .name = "ready: MAIL non-ASCII sender with SMTPUTF8",
	    .steps = { FEED(EHLO_IN
		"MAIL FROM:<j\xc3\xb6rg@x.example> SMTPUTF8 "
		"BODY=8BITMIME\r\n") },
	    .want = EHLO_OUT MAIL_OUT("j\xc3\xb6rg@x.example"),
	    .state = PS_MAIL },
	{ .name = "ready: parameters after HELO",
	    .steps = { FEED(HELO_IN "MAIL FROM:<a@x.example> SIZE=10\r\n"
		"MAIL FROM:<a@x.example>\r\n") },
	    .want = HELO_OUT PARAM_UNKNOWN("SIZE") MAIL_OUT("a@x.example"),
	    .state = PS_MAIL },
	{ .name = "ready: MAIL when space is below the reserve",
	    .steps = { SPACE(MIN_FREE - 1), FEED(EHLO_IN MAIL_IN(S)) },
	    .want = EHLO_OUT NO_SPACE, .state = PS_READY },
	{ .name = "ready: MAIL when space is exactly the reserve",
	    .steps = { SPACE(MIN_FREE), FEED(EHLO_IN MAIL_IN(S)) },
	    .want = EHLO_OUT MAIL_OUT(S), .state = PS_MAIL },
	{ .name = "ready: MAIL SIZE larger than the free space",
	    .steps = { SPACE(MIN_FREE + 1000), FEED(EHLO_IN
		"MAIL FROM:<a@x.example> SIZE=1001\r\n"
		"MAIL FROM:<a@x.example> SIZE=1000\r\n") },
	    .want = EHLO_OUT NO_SPACE MAIL_OUT("a@x.example"),
	    .state = PS_MAIL },
	{ .name = "ready: HELP topics",
	    .steps = { FEED(EHLO_IN "HELP mail\r\nHELP RCPT\r\nHELP FOO\r\n") },
	    .want = EHLO_OUT HELP_TOPIC("MAIL FROM:<address> [SIZE=n] "
		"[BODY=7BIT|8BITMIME] [SMTPUTF8]")
		HELP_TOPIC("RCPT TO:<address>") HELP_UNKNOWN("FOO"),
	    .state = PS_READY },
};

static void
test_ready(void **state)
{
	(void)state;
	CHECK_TABLE(ready_cases, "PS_READY");
}

/* --- MAIL accepted, no recipient yet ------------------------------------ */

#define MAILED_IN EHLO_IN MAIL_IN(S)
#define MAILED_OUT EHLO_OUT MAIL_OUT(S)

static const struct pcase mail_cases[] = {
	{ .name = "mail: nested MAIL", .steps = { FEED(MAILED_IN MAIL_IN(S)) },
	    .want = MAILED_OUT NESTED_MAIL, .state = PS_MAIL },
	{ .name = "mail: RCPT",
	    .steps = { FEED(MAILED_IN RCPT_IN("alice@example.test")) },
	    .want = MAILED_OUT RCPT_OUT("alice@example.test"),
	    .state = PS_MAIL },
	{ .name = "mail: RCPT unknown",
	    .steps = { FEED(MAILED_IN RCPT_IN("nobody@example.test")) },
	    .want = MAILED_OUT RCPT_UNKNOWN("nobody@example.test"),
	    .state = PS_MAIL },
	{ .name = "mail: RCPT for another domain",
	    .steps = { FEED(MAILED_IN RCPT_IN("a@elsewhere.example")
		RCPT_IN("a@[192.0.2.1]")) },
	    .want = MAILED_OUT RELAY_DENIED("a@elsewhere.example")
		RELAY_DENIED("a@[192.0.2.1]"),
	    .state = PS_MAIL },
	{ .name = "mail: RCPT <postmaster>",
	    .steps = { FEED(MAILED_IN "RCPT TO:<postmaster>\r\n"
		"RCPT TO:<PostMaster>\r\n") },
	    .want = MAILED_OUT RCPT_OUT("postmaster") RCPT_OUT("PostMaster"),
	    .state = PS_MAIL },
	{ .name = "mail: RCPT case, quotes, lower-case keyword",
	    .steps = { FEED(MAILED_IN "RCPT TO:<Alice@Example.TEST>\r\n"
		"rcpt to:<\"bob\"@example.test>\r\n") },
	    .want = MAILED_OUT RCPT_OUT("Alice@Example.TEST")
		RCPT_OUT("bob@example.test"),
	    .state = PS_MAIL },
	{ .name = "mail: RCPT syntax errors",
	    .steps = { FEED(MAILED_IN "RCPT TO:alice@example.test\r\n"
		"RCPT\r\nRCPT FROM:<alice@example.test>\r\n"
		"RCPT TO:<alice@example.test>x\r\n") },
	    .want = MAILED_OUT SYN_RCPT SYN_RCPT SYN_RCPT SYN_RCPT,
	    .state = PS_MAIL },
	{ .name = "mail: RCPT malformed",
	    .steps = { FEED(MAILED_IN "RCPT TO:<>\r\n"
		"RCPT TO:<a@-x.example>\r\n") },
	    .want = MAILED_OUT BAD_RCPT("empty address") BAD_RCPT("bad domain"),
	    .state = PS_MAIL },
	{ .name = "mail: RCPT parameters",
	    .steps = { FEED(MAILED_IN
		"RCPT TO:<alice@example.test> NOTIFY=NEVER\r\n") },
	    .want = MAILED_OUT PARAM_UNKNOWN("NOTIFY"), .state = PS_MAIL },
	{ .name = "mail: RCPT non-ASCII without SMTPUTF8",
	    .steps = { FEED(MAILED_IN RCPT_IN("j\xc3\xb6rg@example.test")) },
	    .want = MAILED_OUT RCPT_UTF8, .state = PS_MAIL },
	{ .name = "mail: RCPT non-ASCII with SMTPUTF8",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a@x.example> SMTPUTF8\r\n"
		RCPT_IN("j\xc3\xb6rg@example.test")) },
	    .want = EHLO_OUT MAIL_OUT("a@x.example")
		RCPT_UNKNOWN("j\xc3\xb6rg@example.test"),
	    .state = PS_MAIL },
	{ .name = "mail: DATA without RCPT",
	    .steps = { FEED(MAILED_IN DATA_IN) },
	    .want = MAILED_OUT NEED_RCPT, .state = PS_MAIL },
	{ .name = "mail: DATA after failed RCPTs",
	    .steps = { FEED(MAILED_IN RCPT_IN("nobody@example.test") DATA_IN) },
	    .want = MAILED_OUT RCPT_UNKNOWN("nobody@example.test") NO_VALID,
	    .state = PS_MAIL },
	{ .name = "mail: BDAT without RCPT ends the transaction",
	    .steps = { FEED(MAILED_IN "BDAT 3\r\nabc"
		RCPT_IN("alice@example.test") "BDAT 2\r\nxy" DATA_IN
		"RSET\r\nBDAT 1\r\nz") },
	    .want = MAILED_OUT NEED_RCPT NEED_MAIL BDAT_ABORTED NEED_MAIL
		OK_OUT NEED_MAIL,
	    .state = PS_READY },
	{ .name = "mail: BDAT after failed RCPTs",
	    .steps = { FEED(MAILED_IN RCPT_IN("nobody@example.test")
		"BDAT 3 LAST\r\nabc") },
	    .want = MAILED_OUT RCPT_UNKNOWN("nobody@example.test") NO_VALID,
	    .state = PS_READY },
	{ .name = "mail: RSET", .steps = { FEED(MAILED_IN "RSET\r\n"
		RCPT_IN("alice@example.test")) },
	    .want = MAILED_OUT OK_OUT NEED_MAIL, .state = PS_READY },
	{ .name = "mail: HELO resets",
	    .steps = { FEED(MAILED_IN HELO_IN RCPT_IN("alice@example.test")) },
	    .want = MAILED_OUT HELO_OUT NEED_MAIL, .state = PS_READY },
	{ .name = "mail: EHLO resets",
	    .steps = { FEED(MAILED_IN EHLO_IN DATA_IN) },
	    .want = MAILED_OUT EHLO_OUT NEED_MAIL, .state = PS_READY },
	{ .name = "mail: NOOP, VRFY, HELP keep the transaction",
	    .steps = { FEED(MAILED_IN "NOOP\r\nVRFY alice\r\nHELP DATA\r\n"
		RCPT_IN("alice@example.test")) },
	    .want = MAILED_OUT OK_OUT VRFY_CANNOT HELP_TOPIC("DATA, then the "
		"message, ended by a line with a single dot")
		RCPT_OUT("alice@example.test"),
	    .state = PS_MAIL },
	{ .name = "mail: QUIT", .steps = { FEED(MAILED_IN "QUIT\r\n") },
	    .want = MAILED_OUT QUIT_OUT, .state = PS_CLOSED },
};

static void
test_mail(void **state)
{
	(void)state;
	CHECK_TABLE(mail_cases, "PS_MAIL");
}

/* --- with recipients: DATA and BDAT ----------------------------------- */

static const struct pcase rcpt_cases[] = {
	{ .name = "rcpt: DATA",
	    .steps = { FEED(TXN_IN DATA_IN
		"Subject: hi\r\n\r\nHello\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("Subject: hi\\r\\n\\r\\nHello\\r\\n") },
	{ .name = "rcpt: DATA with an argument",
	    .steps = { FEED(TXN_IN "DATA now\r\n") },
	    .want = TXN_OUT SYN_DATA, .state = PS_MAIL },
	{ .name = "rcpt: empty message",
	    .steps = { FEED(TXN_IN DATA_IN ".\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("") },
	{ .name = "rcpt: dot-stuffing removed",
	    .steps = { FEED(TXN_IN DATA_IN "..dot\r\n.x\r\n..\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1(".dot\\r\\nx\\r\\n.\\r\\n") },
	{ .name = "rcpt: smuggled end of data is content",
	    .steps = { FEED(TXN_IN DATA_IN "a\n.\r\nMAIL FROM:<evil@x.example>"
		"\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nb\r\n.\r\n"
		"NOOP\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1") OK_OUT, .state = PS_READY,
	    .commits = COMMIT1("a\\r\\n.\\r\\nMAIL FROM:<evil@x.example>\\r\\n"
		"RCPT TO:<bob@example.test>\\r\\nDATA\\r\\nb\\r\\n") },
	{ .name = "rcpt: bare newlines normalised",
	    .steps = { FEED(TXN_IN DATA_IN "a\nb\rc\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("a\\r\\nb\\r\\nc\\r\\n") },
	{ .name = "rcpt: bare newline rejected", .conf = C_STRICT,
	    .steps = { FEED(TXN_IN DATA_IN "a\nb\r\n.\r\nNOOP\r\n") },
	    .want = TXN_OUT DATA_OUT BARE_NL OK_OUT, .state = PS_READY },
	{ .name = "rcpt: bare CR rejected", .conf = C_STRICT,
	    .steps = { FEED(TXN_IN DATA_IN "a\rb\r\n.\r\n"
		RCPT_IN("bob@example.test")) },
	    .want = TXN_OUT DATA_OUT BARE_NL NEED_MAIL, .state = PS_READY },
	{ .name = "rcpt: strict, clean message", .conf = C_STRICT,
	    .steps = { FEED(TXN_IN DATA_IN "a\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("a\\r\\n") },
	{ .name = "rcpt: two messages in one session",
	    .steps = { FEED(TXN_IN DATA_IN "one\r\n.\r\n" MAIL_IN("") RCPT_IN(
		"bob@example.test") DATA_IN "two\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1") MAIL_OUT("")
		RCPT_OUT("bob@example.test") DATA_OUT QUEUED("Q2"),
	    .state = PS_READY,
	    .commits = COMMIT1("one\\r\\n") COMMIT_LOG("",
		"<bob@example.test>", "bob@example.test", "ESMTP",
		"two\\r\\n") },
	{ .name = "rcpt: after the message, RCPT needs MAIL",
	    .steps = { FEED(TXN_IN DATA_IN ".\r\n" RCPT_IN("bob@example.test")
		DATA_IN) },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1") NEED_MAIL NEED_MAIL,
	    .state = PS_READY, .commits = COMMIT1("") },
	{ .name = "rcpt: commit fails",
	    .steps = { COMMIT_AS(R_LOCAL_ERR), FEED(TXN_IN DATA_IN "x\r\n.\r\n"
		RCPT_IN("bob@example.test")) },
	    .want = TXN_OUT DATA_OUT LOCAL_ERR NEED_MAIL, .state = PS_READY,
	    .commits = COMMIT1("x\\r\\n") },
	{ .name = "rcpt: no space for the message",
	    .steps = { SPACE(MIN_FREE + 10),
		FEED(TXN_IN DATA_IN "0123456789abcdef\r\n.\r\nNOOP\r\n") },
	    .want = TXN_OUT DATA_OUT NO_SPACE OK_OUT, .state = PS_READY },
	{ .name = "rcpt: loop, Received at the limit", .conf = C_HOPS,
	    .steps = { FEED(TXN_IN DATA_IN "Received: a\r\nreceived: b\r\n"
		"RECEIVED: c\r\n\r\nbody\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT TOO_MANY_HOPS, .state = PS_READY },
	{ .name = "rcpt: Received below the limit", .conf = C_HOPS,
	    .steps = { FEED(TXN_IN DATA_IN "Received: a\r\nReceived: b\r\n"
		"\r\nReceived: in body\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("Received: a\\r\\nReceived: b\\r\\n\\r\\n"
		"Received: in body\\r\\n") },
	{ .name = "rcpt: recipients and distinct mailboxes",
	    .steps = { FEED(EHLO_IN MAIL_IN(S) RCPT_IN("alice@example.test")
		RCPT_IN("team@example.test") RCPT_IN("Alice@example.test")
		RCPT_IN("nobody@example.test") DATA_IN ".\r\n") },
	    .want = EHLO_OUT MAIL_OUT(S) RCPT_OUT("alice@example.test")
		RCPT_OUT("team@example.test") RCPT_OUT("Alice@example.test")
		RCPT_UNKNOWN("nobody@example.test") DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = COMMIT_LOG(S, "<alice@example.test>,"
		"<team@example.test>,<Alice@example.test>",
		"alice@example.test,bob@example.test", "ESMTP", "") },
	{ .name = "rcpt: alias reaching one mailbox twice",
	    .steps = { FEED(EHLO_IN MAIL_IN(S) RCPT_IN("both@example.test")
		DATA_IN ".\r\n") },
	    .want = EHLO_OUT MAIL_OUT(S) RCPT_OUT("both@example.test")
		DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = COMMIT_LOG(S, "<both@example.test>",
		"alice@example.test,bob@example.test", "ESMTP", "") },
	{ .name = "rcpt: the same address twice",
	    .steps = { FEED(EHLO_IN MAIL_IN(S) RCPT_IN("bob@example.test")
		RCPT_IN("bob@example.test") DATA_IN ".\r\n") },
	    .want = EHLO_OUT MAIL_OUT(S) RCPT_OUT("bob@example.test")
		RCPT_OUT("bob@example.test") DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = COMMIT_LOG(S, "<bob@example.test>,<bob@example.test>",
		"bob@example.test", "ESMTP", "") },
	{ .name = "rcpt: other domain, domain alias, postmaster",
	    .steps = { FEED(EHLO_IN MAIL_IN(S) RCPT_IN("alice@other.test")
		RCPT_IN("sales@other.test") "RCPT TO:<postmaster>\r\n"
		DATA_IN ".\r\n") },
	    .want = EHLO_OUT MAIL_OUT(S) RCPT_OUT("alice@other.test")
		RCPT_OUT("sales@other.test") RCPT_OUT("postmaster") DATA_OUT
		QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = COMMIT_LOG(S, "<alice@other.test>,<sales@other.test>,"
		"<postmaster>", "alice@other.test,carol@other.test,"
		"postmaster@example.test", "ESMTP", "") },
	{ .name = "rcpt: sales only exists in other.test",
	    .steps = { FEED(MAILED_IN RCPT_IN("sales@example.test")) },
	    .want = MAILED_OUT RCPT_UNKNOWN("sales@example.test"),
	    .state = PS_MAIL },
	{ .name = "rcpt: HELO session says SMTP",
	    .steps = { FEED(HELO_IN MAIL_IN(S) RCPT_IN("alice@example.test")
		DATA_IN "x\r\n.\r\n") },
	    .want = HELO_OUT MAIL_OUT(S) RCPT_OUT("alice@example.test")
		DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = COMMIT_LOG(S, "<alice@example.test>",
		"alice@example.test", "SMTP", "x\\r\\n") },
	{ .name = "rcpt: SMTPUTF8 session says UTF8SMTP",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<j\xc3\xb6rg@x.example> SMTPUTF8"
		"\r\n" RCPT_IN("alice@example.test") DATA_IN
		"\xc3\xa9\r\n.\r\n") },
	    .want = EHLO_OUT MAIL_OUT("j\xc3\xb6rg@x.example")
		RCPT_OUT("alice@example.test") DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = COMMIT_LOG("j\xc3\xb6rg@x.example",
		"<alice@example.test>", "alice@example.test", "UTF8SMTP",
		"\\xc3\\xa9\\r\\n") },
	/* BDAT */
	{ .name = "rcpt: BDAT LAST",
	    .steps = { FEED(TXN_IN "BDAT 5 LAST\r\nhello") },
	    .want = TXN_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("hello") },
	{ .name = "rcpt: BDAT lower case",
	    .steps = { FEED(TXN_IN "bdat 2 last\r\nhi") },
	    .want = TXN_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("hi") },
	{ .name = "rcpt: BDAT chunks",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabcBDAT 2 LAST\r\nde") },
	    .want = TXN_OUT BDAT_OUT("3") QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("abcde") },
	{ .name = "rcpt: BDAT chunk then BDAT 0 LAST",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabcBDAT 0 LAST\r\n") },
	    .want = TXN_OUT BDAT_OUT("3") QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("abc") },
	{ .name = "rcpt: BDAT 0 LAST, empty message",
	    .steps = { FEED(TXN_IN "BDAT 0 LAST\r\nNOOP\r\n") },
	    .want = TXN_OUT QUEUED("Q1") OK_OUT, .state = PS_READY,
	    .commits = COMMIT1("") },
	{ .name = "rcpt: BDAT 0 alone",
	    .steps = { FEED(TXN_IN "BDAT 0\r\n") },
	    .want = TXN_OUT BDAT_OUT("0"), .state = PS_MAIL },
	{ .name = "rcpt: BDAT content is not dot-stuffed",
	    .steps = { FEED(TXN_IN "BDAT 10 LAST\r\n..x\r\n.\r\nQU") },
	    .want = TXN_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("..x\\r\\n.\\r\\nQU") },
	{ .name = "rcpt: BDAT CR and LF in two chunks",
	    .steps = { FEED(TXN_IN "BDAT 2\r\na\rBDAT 3 LAST\r\n\nbc") },
	    .want = TXN_OUT BDAT_OUT("2") QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("a\\r\\nbc") },
	{ .name = "rcpt: BDAT trailing CR", .conf = C_STRICT,
	    .steps = { FEED(TXN_IN "BDAT 2 LAST\r\na\r") },
	    .want = TXN_OUT BARE_NL, .state = PS_READY },
	{ .name = "rcpt: BDAT bare LF normalised",
	    .steps = { FEED(TXN_IN "BDAT 4 LAST\r\na\nb\r") },
	    .want = TXN_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT1("a\\r\\nb\\r\\n") },
	{ .name = "rcpt: BDAT bare LF rejected", .conf = C_STRICT,
	    .steps = { FEED(TXN_IN "BDAT 3 LAST\r\na\nbNOOP\r\n") },
	    .want = TXN_OUT BARE_NL OK_OUT, .state = PS_READY },
	{ .name = "rcpt: BDAT syntax errors",
	    .steps = { FEED(TXN_IN "BDAT\r\nBDAT x\r\nBDAT 3 FOO\r\nBDAT -1\r\n"
		"BDAT 3 LAST extra\r\nBDAT 123456789012345678901\r\n") },
	    .want = TXN_OUT SYN_BDAT SYN_BDAT SYN_BDAT SYN_BDAT SYN_BDAT
		SYN_BDAT,
	    .state = PS_MAIL },
	{ .name = "rcpt: BDAT, then DATA",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabc" DATA_IN
		RCPT_IN("bob@example.test")) },
	    .want = TXN_OUT BDAT_OUT("3") DATA_AFTER_BDAT NEED_MAIL,
	    .state = PS_READY },
	{ .name = "rcpt: BDAT, then MAIL",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabc" MAIL_IN(S)
		"BDAT 1 LAST\r\nd") },
	    .want = TXN_OUT BDAT_OUT("3") NESTED_MAIL QUEUED("Q1"),
	    .state = PS_READY, .commits = COMMIT1("abcd") },
	{ .name = "rcpt: BDAT, then NOOP, HELP, VRFY",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabcNOOP\r\nHELP BDAT\r\n"
		"VRFY x\r\nBDAT 2 LAST\r\nde") },
	    .want = TXN_OUT BDAT_OUT("3") OK_OUT HELP_TOPIC("BDAT size [LAST], "
		"then exactly size octets of the message") VRFY_CANNOT
		QUEUED("Q1"),
	    .state = PS_READY, .commits = COMMIT1("abcde") },
	/* RFC 3030 does not forbid it: the engine takes the recipient */
	{ .name = "rcpt: BDAT, then RCPT",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabc" RCPT_IN("bob@example.test")
		"BDAT 1 LAST\r\nd") },
	    .want = TXN_OUT BDAT_OUT("3") RCPT_OUT("bob@example.test")
		QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = COMMIT_LOG(S, "<alice@example.test>,<bob@example.test>",
		"alice@example.test,bob@example.test", "ESMTP", "abcd") },
	{ .name = "rcpt: BDAT, then RSET",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabcRSET\r\nBDAT 1 LAST\r\nd") },
	    .want = TXN_OUT BDAT_OUT("3") OK_OUT NEED_MAIL, .state = PS_READY },
	{ .name = "rcpt: BDAT, then EHLO",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabc" EHLO_IN
		"BDAT 1 LAST\r\nd") },
	    .want = TXN_OUT BDAT_OUT("3") EHLO_OUT NEED_MAIL,
	    .state = PS_READY },
	{ .name = "rcpt: BDAT, then QUIT",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nabcQUIT\r\nNOOP\r\n") },
	    .want = TXN_OUT BDAT_OUT("3") QUIT_OUT, .state = PS_CLOSED },
	{ .name = "rcpt: BDAT then a new message with DATA",
	    .steps = { FEED(TXN_IN "BDAT 1 LAST\r\nx" MAIL_IN(S)
		RCPT_IN("bob@example.test") DATA_IN "y\r\n.\r\n") },
	    .want = TXN_OUT QUEUED("Q1") MAIL_OUT(S)
		RCPT_OUT("bob@example.test") DATA_OUT QUEUED("Q2"),
	    .state = PS_READY,
	    .commits = COMMIT1("x") COMMIT_LOG(S, "<bob@example.test>",
		"bob@example.test", "ESMTP", "y\\r\\n") },
};

static void
test_rcpt(void **state)
{
	(void)state;
	CHECK_TABLE(rcpt_cases, "transaction");
}

/* --- VRFY and EXPN when enabled ---------------------------------------- */

static const struct pcase vrfy_cases[] = {
	{ .name = "vrfy: mailbox", .conf = C_VRFY,
	    .steps = { FEED("VRFY alice\r\nVRFY <Bob@Example.TEST>\r\n"
		"VRFY carol@other.test\r\n") },
	    .want = VRFY_OK("alice@example.test") VRFY_OK("bob@example.test")
		VRFY_OK("carol@other.test"),
	    .state = PS_INIT },
	{ .name = "vrfy: alias", .conf = C_VRFY,
	    .steps = { FEED("VRFY team\r\n") },
	    .want = VRFY_OK("team@example.test"), .state = PS_INIT },
	{ .name = "vrfy: unknown", .conf = C_VRFY,
	    .steps = { FEED("VRFY nobody\r\nVRFY a@elsewhere.example\r\n") },
	    .want = VRFY_UNKNOWN("nobody") VRFY_UNKNOWN("a@elsewhere.example"),
	    .state = PS_INIT },
	{ .name = "vrfy: unknown, in brackets", .conf = C_VRFY,
	    .steps = { FEED("VRFY <nobody@example.test>\r\n") },
	    .want = VRFY_UNKNOWN("nobody@example.test"), .state = PS_INIT },
	{ .name = "vrfy: no argument", .conf = C_VRFY,
	    .steps = { FEED("VRFY\r\n") }, .want = SYN_VRFY,
	    .state = PS_INIT },
	{ .name = "vrfy: no argument, disabled",
	    .steps = { FEED("VRFY\r\nVRFY  \r\n") }, .want = SYN_VRFY SYN_VRFY,
	    .state = PS_INIT },
	{ .name = "expn: alias", .conf = C_VRFY,
	    .steps = { FEED("EXPN team\r\n") },
	    .want = "250-2.1.5 <alice@example.test>\r\n"
		"250 2.1.5 <bob@example.test>\r\n",
	    .state = PS_INIT },
	{ .name = "expn: mailbox, domain alias", .conf = C_VRFY,
	    .steps = { FEED("EXPN alice\r\nEXPN sales@other.test\r\n") },
	    .want = "250 2.1.5 <alice@example.test>\r\n"
		"250 2.1.5 <carol@other.test>\r\n",
	    .state = PS_INIT },
	{ .name = "expn: unknown", .conf = C_VRFY,
	    .steps = { FEED("EXPN nobody\r\n") },
	    .want = VRFY_UNKNOWN("nobody"), .state = PS_INIT },
	{ .name = "expn: no argument", .conf = C_VRFY,
	    .steps = { FEED("EXPN\r\n") }, .want = SYN_EXPN,
	    .state = PS_INIT },
	{ .name = "expn: no argument, disabled",
	    .steps = { FEED("EXPN\r\n") }, .want = SYN_EXPN,
	    .state = PS_INIT },
	{ .name = "vrfy: in a transaction", .conf = C_VRFY,
	    .steps = { FEED(TXN_IN "VRFY bob\r\n" DATA_IN ".\r\n") },
	    .want = TXN_OUT VRFY_OK("bob@example.test") DATA_OUT QUEUED("Q1"),
	    .state = PS_READY, .commits = COMMIT1("") },
};

static void
test_vrfy_expn(void **state)
{
	(void)state;
	CHECK_TABLE(vrfy_cases, "VRFY/EXPN");
}

/* --- pipelining, timeouts, shutdown, errors, bad bytes ---------------- */

static const struct pcase session_cases[] = {
	{ .name = "pipelined session in one feed",
	    .steps = { FEED(EHLO_IN MAIL_IN(S) RCPT_IN("alice@example.test")
		RCPT_IN("nobody@example.test") RCPT_IN("bob@example.test")
		DATA_IN "line 1\r\n.\r\n" MAIL_IN("")
		RCPT_IN("carol@example.test")
		"BDAT 3 LAST\r\nxyz" "QUIT\r\nNOOP\r\n") },
	    .want = EHLO_OUT MAIL_OUT(S) RCPT_OUT("alice@example.test")
		RCPT_UNKNOWN("nobody@example.test") RCPT_OUT("bob@example.test")
		DATA_OUT QUEUED("Q1") MAIL_OUT("")
		RCPT_OUT("carol@example.test")
		QUEUED("Q2") QUIT_OUT,
	    .state = PS_CLOSED,
	    .commits = COMMIT_LOG(S, "<alice@example.test>,<bob@example.test>",
		"alice@example.test,bob@example.test", "ESMTP",
		"line 1\\r\\n")
		COMMIT_LOG("", "<carol@example.test>", "carol@example.test",
		"ESMTP", "xyz") },
	{ .name = "pipelined message after a refused DATA is read as commands",
	    .steps = { FEED(MAILED_IN RCPT_IN("nobody@example.test") DATA_IN
		"Subject: hi\r\n.\r\nQUIT\r\n") },
	    .want = MAILED_OUT RCPT_UNKNOWN("nobody@example.test") NO_VALID
		UNKNOWN_CMD UNKNOWN_CMD QUIT_OUT,
	    .state = PS_CLOSED },
	{ .name = "nothing after QUIT is answered",
	    .steps = { FEED(EHLO_IN "QUIT\r\n"), FEED("NOOP\r\n"),
		TIMEOUT, SHUTDOWN },
	    .want = EHLO_OUT QUIT_OUT, .state = PS_CLOSED },
	{ .name = "timeout when idle",
	    .steps = { FEED(EHLO_IN), TIMEOUT, FEED("NOOP\r\n") },
	    .want = EHLO_OUT TIMEOUT_OUT, .state = PS_CLOSED },
	{ .name = "timeout before HELO", .steps = { TIMEOUT },
	    .want = TIMEOUT_OUT, .state = PS_CLOSED },
	{ .name = "timeout in DATA",
	    .steps = { FEED(TXN_IN DATA_IN "abc"), TIMEOUT, FEED("\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT TIMEOUT_OUT, .state = PS_CLOSED },
	{ .name = "shutdown before HELO", .steps = { SHUTDOWN },
	    .want = SHUTDOWN_OUT, .state = PS_CLOSED },
	{ .name = "shutdown when idle",
	    .steps = { FEED(EHLO_IN), SHUTDOWN, FEED("NOOP\r\n") },
	    .want = EHLO_OUT SHUTDOWN_OUT, .state = PS_CLOSED },
	{ .name = "shutdown in a transaction, before DATA",
	    .steps = { FEED(TXN_IN), SHUTDOWN },
	    .want = TXN_OUT SHUTDOWN_OUT, .state = PS_CLOSED },
	{ .name = "shutdown in DATA waits for the message's reply",
	    .steps = { FEED(TXN_IN DATA_IN "abc"), SHUTDOWN,
		FEED("\r\n.\r\nNOOP\r\n") },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1") SHUTDOWN_OUT,
	    .state = PS_CLOSED, .commits = COMMIT1("abc\\r\\n") },
	{ .name = "shutdown in DATA, message refused", .conf = C_STRICT,
	    .steps = { FEED(TXN_IN DATA_IN "a\nb"), SHUTDOWN,
		FEED("\r\n.\r\n") },
	    .want = TXN_OUT DATA_OUT BARE_NL SHUTDOWN_OUT, .state = PS_CLOSED },
	{ .name = "shutdown while the message is committed", .manual = 1,
	    .steps = { FEED(TXN_IN DATA_IN "abc\r\n.\r\nNOOP\r\n"), SHUTDOWN,
		COMMIT },
	    .want = TXN_OUT DATA_OUT QUEUED("Q1") SHUTDOWN_OUT,
	    .state = PS_CLOSED, .commits = COMMIT1("abc\\r\\n") },
	{ .name = "shutdown in a BDAT chunk waits for BDAT LAST",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nab"), SHUTDOWN,
		FEED("cBDAT 2 LAST\r\nde") },
	    .want = TXN_OUT BDAT_OUT("3") QUEUED("Q1") SHUTDOWN_OUT,
	    .state = PS_CLOSED, .commits = COMMIT1("abcde") },
	/* the transfer ends with RSET: the pending 421 must come then */
	{ .name = "shutdown in a BDAT chunk, then RSET",
	    .steps = { FEED(TXN_IN "BDAT 3\r\nab"), SHUTDOWN,
		FEED("cRSET\r\nNOOP\r\n") },
	    .want = TXN_OUT BDAT_OUT("3") OK_OUT SHUTDOWN_OUT,
	    .state = PS_CLOSED },
	{ .name = "shutdown in a refused BDAT chunk",
	    .steps = { FEED(EHLO_IN "BDAT 3\r\nab"), SHUTDOWN,
		FEED("cNOOP\r\n") },
	    .want = EHLO_OUT NEED_MAIL SHUTDOWN_OUT, .state = PS_CLOSED },
	{ .name = "max_errors", .conf = C_ERR3,
	    .steps = { FEED("FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n") },
	    .want = UNKNOWN_CMD UNKNOWN_CMD UNKNOWN_CMD TOO_MANY_ERRORS,
	    .state = PS_CLOSED },
	{ .name = "max_errors counts every kind of error", .conf = C_ERR3,
	    .steps = { FEED(MAILED_IN RCPT_IN("nobody@example.test") "NOOP\r\n"
		"HELP FOO\r\n" DATA_IN "QUIT\r\n") },
	    .want = MAILED_OUT RCPT_UNKNOWN("nobody@example.test") OK_OUT
		HELP_UNKNOWN("FOO") NO_VALID TOO_MANY_ERRORS,
	    .state = PS_CLOSED },
	{ .name = "max_errors: good commands do not count", .conf = C_ERR3,
	    .steps = { FEED("FOO\r\nNOOP\r\nBAR\r\n" EHLO_IN) },
	    .want = UNKNOWN_CMD OK_OUT UNKNOWN_CMD EHLO_OUT,
	    .state = PS_READY },
	{ .name = "NUL byte in a command",
	    .steps = { FEED("NOOP\0x\r\n\0\r\nNOOP\r\n") },
	    .want = BAD_BYTES BAD_BYTES OK_OUT, .state = PS_INIT },
	{ .name = "invalid UTF-8 in a command",
	    .steps = { FEED(EHLO_IN "NOOP \xff\r\n"
		"MAIL FROM:<\xc0\xaf@x.example> SMTPUTF8\r\n"
		"HELP \xed\xa0\x80\r\nRCPT TO:<a\xc3@example.test>\r\n") },
	    .want = EHLO_OUT BAD_BYTES BAD_BYTES BAD_BYTES BAD_BYTES,
	    .state = PS_READY },
	{ .name = "valid UTF-8 in a command",
	    .steps = { FEED("NOOP h\xc3\xa9llo\r\n") }, .want = OK_OUT,
	    .state = PS_INIT },
	/* a reply never carries a bare CR: the exact reply is not fixed */
	{ .name = "CR inside HELP argument",
	    .steps = { FEED("HELP a\rb\r\n") }, .want = NULL,
	    .state = PS_INIT },
	{ .name = "CR inside VRFY argument", .conf = C_VRFY,
	    .steps = { FEED("VRFY a\rb\r\n") }, .want = NULL,
	    .state = PS_INIT },
	{ .name = "CR inside EXPN argument", .conf = C_VRFY,
	    .steps = { FEED("EXPN a\rb\r\n") }, .want = NULL,
	    .state = PS_INIT },
	{ .name = "CR inside MAIL and RCPT",
	    .steps = { FEED(EHLO_IN "MAIL FROM:<a\rb@x.example>\r\n"
		MAIL_IN(S) "RCPT TO:<a\rb@example.test>\r\n") },
	    .want = EHLO_OUT BAD_SENDER("bad local part") MAIL_OUT(S)
		BAD_RCPT("bad local part"),
	    .state = PS_MAIL },
};

static void
test_session(void **state)
{
	(void)state;
	CHECK_TABLE(session_cases, "session");
}

/* --- generated inputs ------------------------------------------------- */

/* a command of exactly len octets with its CRLF: verb, padding, CRLF */
static char *
padded(const char *start, int pad, size_t len)
{
	size_t n = strlen(start);
	char *s = malloc(len + 1);

	memcpy(s, start, n);
	memset(s + n, pad, len - n - 2);
	memcpy(s + len - 2, "\r\n", 3);
	return s;
}

/* RFC 5321 4.5.3.1.4: 512 octets; 1024 for MAIL/RCPT with parameters */
static void
test_line_length(void **state)
{
	char *noop512 = padded("NOOP ", 'x', 512);
	char *noop513 = padded("NOOP ", 'x', 513);
	char *mail1024 = padded("MAIL FROM:<a@x.example>", ' ', 1024);
	char *mail1025 = padded("MAIL FROM:<a@x.example>", ' ', 1025);
	char *rcpt1024 = padded("RCPT TO:<bob@example.test>", ' ', 1024);
	char *rcpt1025 = padded("RCPT TO:<bob@example.test>", ' ', 1025);
	char *helo513 = padded("HELO ", 'a', 513);
	size_t big = 100 * 1024;
	char *huge = malloc(big + 16);
	char *huge_lf = malloc(big + 16);
	struct pcase cases[] = {
		{ .name = "NOOP of 512 octets",
		    .steps = { { OP_FEED, noop512, 512, 0 } },
		    .want = OK_OUT, .state = PS_INIT },
		{ .name = "NOOP of 513 octets",
		    .steps = { { OP_FEED, noop513, 513, 0 }, FEED("NOOP\r\n") },
		    .want = TOO_LONG OK_OUT, .state = PS_INIT },
		{ .name = "HELO of 513 octets",
		    .steps = { { OP_FEED, helo513, 513, 0 } },
		    .want = TOO_LONG, .state = PS_INIT },
		{ .name = "MAIL of 1024 octets",
		    .steps = { FEED(EHLO_IN), { OP_FEED, mail1024, 1024, 0 } },
		    .want = EHLO_OUT MAIL_OUT("a@x.example"),
		    .state = PS_MAIL },
		{ .name = "MAIL of 1025 octets",
		    .steps = { FEED(EHLO_IN), { OP_FEED, mail1025, 1025, 0 } },
		    .want = EHLO_OUT TOO_LONG, .state = PS_READY },
		{ .name = "RCPT of 1024 octets",
		    .steps = { FEED(MAILED_IN),
			{ OP_FEED, rcpt1024, 1024, 0 } },
		    .want = MAILED_OUT RCPT_OUT("bob@example.test"),
		    .state = PS_MAIL },
		{ .name = "RCPT of 1025 octets keeps the transaction",
		    .steps = { FEED(MAILED_IN), { OP_FEED, rcpt1025, 1025, 0 },
			FEED(RCPT_IN("bob@example.test")) },
		    .want = MAILED_OUT TOO_LONG RCPT_OUT("bob@example.test"),
		    .state = PS_MAIL },
		{ .name = "100 KB without a newline, then CRLF",
		    .steps = { FEED(EHLO_IN), { OP_FEED, huge, big + 2, 0 },
			FEED("NOOP\r\n") },
		    .want = EHLO_OUT TOO_LONG OK_OUT, .state = PS_READY },
		{ .name = "100 KB in two feeds, then LF",
		    .steps = { { OP_FEED, huge_lf, big / 2, 0 },
			{ OP_FEED, huge_lf + big / 2, big / 2 + 1, 0 },
			FEED("NOOP\r\n") },
		    .want = TOO_LONG OK_OUT, .state = PS_INIT },
	};
	int bad = 0;

	(void)state;
	memset(huge, 'A', big);
	memcpy(huge + big, "\r\n", 3);
	memset(huge_lf, 'M', big);
	memcpy(huge_lf + big, "\n", 2);
	/* byte by byte over 100 KB is slow under ASan but still seconds */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += check_case(&cases[i]);
	free(noop512);
	free(noop513);
	free(mail1024);
	free(mail1025);
	free(rcpt1024);
	free(rcpt1025);
	free(helo513);
	free(huge);
	free(huge_lf);
	if (bad)
		fail_msg("%d line-length cases failed", bad);
}

/* RFC 5321 4.5.3.1.8, 4.5.3.1.10: 100 recipients, then 452 4.5.3 */
static void
test_max_recipients(void **state)
{
	struct buf in, want, log;
	struct pcase c = { .name = "101 recipients" };
	int bad;

	(void)state;
	buf_init(&in, 0);
	buf_init(&want, 0);
	buf_init(&log, 0);
	buf_puts(&in, MAILED_IN);
	buf_puts(&want, MAILED_OUT);
	buf_printf(&log, "commit from=<" S "> rcpts=");
	for (int i = 0; i < 100; i++) {
		const char *a = i % 2 ? "alice@example.test"
		    : "team@example.test";

		buf_printf(&in, "RCPT TO:<%s>\r\n", a);
		buf_printf(&want, "250 2.1.5 Recipient <%s> ok\r\n", a);
		buf_printf(&log, "%s<%s>", i ? "," : "", a);
	}
	buf_puts(&in, RCPT_IN("bob@example.test") RCPT_IN("nobody@example.test")
	    DATA_IN "x\r\n.\r\n");
	buf_puts(&want, RCPT_MAX RCPT_MAX DATA_OUT QUEUED("Q1"));
	buf_puts(&log, " boxes=alice@example.test,bob@example.test "
	    "with=ESMTP body=\"x\\r\\n\"\n");
	buf_cstr(&want);
	buf_cstr(&log);
	c.steps[0].op = OP_FEED;
	c.steps[0].s = in.data;
	c.steps[0].len = in.len;
	c.want = want.data;
	c.state = PS_READY;
	c.commits = log.data;
	bad = check_case(&c);
	buf_free(&in);
	buf_free(&want);
	buf_free(&log);
	if (bad)
		fail_msg("max_recipients case failed");
}

/* a message of n content octets in lines of 100 */
static void
body_lines(struct buf *b, size_t n)
{
	for (size_t k = 0; k < n; k++)
		buf_putc(b, k % 100 == 98 ? '\r' : k % 100 == 99 ? '\n' : 'x');
}

/* RFC 1870, RFC 3030: the size limit after the data and per BDAT chunk */
static void
test_message_size(void **state)
{
	struct buf over, exact, bdat_over, bdat_two, shut;
	int bad = 0;

	(void)state;
	buf_init(&over, 0);
	buf_init(&exact, 0);
	buf_init(&bdat_over, 0);
	buf_init(&bdat_two, 0);
	buf_init(&shut, 0);

	/* DATA of 70000 octets: read to the end, then 552, then go on */
	buf_puts(&over, TXN_IN DATA_IN);
	body_lines(&over, 70000);
	buf_puts(&over, ".\r\nNOOP\r\n");
	/* DATA of exactly 65536 octets: accepted */
	buf_puts(&exact, TXN_IN DATA_IN);
	body_lines(&exact, 65500);
	for (int k = 0; k < 34; k++)
		buf_putc(&exact, 'y');
	buf_puts(&exact, "\r\n.\r\n");
	/* BDAT LAST of 70000 octets */
	buf_puts(&bdat_over, TXN_IN "BDAT 70000 LAST\r\n");
	body_lines(&bdat_over, 70000);
	buf_puts(&bdat_over, "NOOP\r\nBDAT 2 LAST\r\nab"
	    RCPT_IN("bob@example.test"));
	/* two chunks that together pass the limit */
	buf_puts(&bdat_two, TXN_IN "BDAT 40000\r\n");
	body_lines(&bdat_two, 40000);
	buf_puts(&bdat_two, "BDAT 30000\r\n");
	body_lines(&bdat_two, 30000);
	buf_puts(&bdat_two, "BDAT 1 LAST\r\nzRSET\r\n");
	/* shutdown during a BDAT chunk that is too big */
	buf_puts(&shut, TXN_IN "BDAT 70000 LAST\r\n");
	body_lines(&shut, 70000);

	{
		struct pcase cases[] = {
			{ .name = "DATA over the limit",
			    .steps = { { OP_FEED, over.data, over.len, 0 } },
			    .want = TXN_OUT DATA_OUT TOO_BIG OK_OUT,
			    .state = PS_READY },
			{ .name = "BDAT LAST over the limit",
			    .steps = { { OP_FEED, bdat_over.data, bdat_over.len,
				0 } },
			    .want = TXN_OUT TOO_BIG OK_OUT BDAT_ABORTED
				NEED_MAIL,
			    .state = PS_READY },
			{ .name = "two BDAT chunks over the limit",
			    .steps = { { OP_FEED, bdat_two.data, bdat_two.len,
				0 } },
			    .want = TXN_OUT BDAT_OUT("40000") TOO_BIG
				BDAT_ABORTED OK_OUT,
			    .state = PS_READY },
			{ .name = "shutdown in a BDAT chunk over the limit",
			    .steps = { { OP_FEED, shut.data, shut.len - 10, 0 },
				SHUTDOWN,
				{ OP_FEED, shut.data + shut.len - 10, 10, 0 } },
			    .want = TXN_OUT TOO_BIG SHUTDOWN_OUT,
			    .state = PS_CLOSED },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			bad += check_case(&cases[i]);
	}

	/* exactly at the limit: accepted with the whole body */
	{
		struct pcase c = { .name = "DATA of exactly the limit",
			.steps = { { OP_FEED, exact.data, exact.len, 0 } },
			.want = TXN_OUT DATA_OUT QUEUED("Q1"),
			.state = PS_READY };
		struct run r;

		run_case(&c, SIZE_MAX, &r);
		if (!mem_eq(r.out.data, r.out.len, c.want, strlen(c.want)) ||
		    r.nq != 1) {
			print_error("%s: got \"%s\" and %u commits, want "
			    "\"%s\" and 1\n", c.name,
			    esc(r.out.data, r.out.len), r.nq,
			    esc(c.want, strlen(c.want)));
			bad++;
		}
		run_free(&r);
	}
	/* the body as stored when committed */
	{
		struct pcase c = { .name = "stored body", .manual = 1,
			.steps = { { OP_FEED, exact.data, exact.len, 0 } },
			.state = PS_COMMIT };
		struct run r;
		const char *body = exact.data + strlen(TXN_IN DATA_IN);

		run_case(&c, SIZE_MAX, &r);
		if (r.p.state != PS_COMMIT || r.p.txn.body.len != 65536 ||
		    memcmp(r.p.txn.body.data, body, 65536) != 0) {
			print_error("%s: got state %s and %zu octets, want "
			    "PS_COMMIT and the 65536 octets sent\n", c.name,
			    state_name(r.p.state), r.p.txn.body.len);
			bad++;
		}
		run_free(&r);
	}
	buf_free(&over);
	buf_free(&exact);
	buf_free(&bdat_over);
	buf_free(&bdat_two);
	buf_free(&shut);
	if (bad)
		fail_msg("%d message-size cases failed", bad);
}

/* --- STARTTLS (RFC 3207) ---------------------------------------------- */

#define TLS_TXN_OUT EHLO_TLS_OUT MAIL_OUT(S) RCPT_OUT("alice@example.test")

static const struct pcase tls_cases[] = {
	{ .name = "tls: EHLO offers STARTTLS with a certificate",
	    .tls_offered = 1, .steps = { FEED(EHLO_IN) },
	    .want = EHLO_TLS_OUT, .state = PS_READY },
	{ .name = "tls: STARTTLS, then EHLO again without STARTTLS",
	    .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN), FEED(EHLO_IN) },
	    .want = EHLO_TLS_OUT TLS_GO EHLO_OUT, .state = PS_READY,
	    .commits = TLS_LOG("") },
	{ .name = "tls: lower-case starttls, trailing blank",
	    .tls_offered = 1,
	    .steps = { FEED(EHLO_IN "starttls \r\n"), FEED(EHLO_IN) },
	    .want = EHLO_TLS_OUT TLS_GO EHLO_OUT, .state = PS_READY,
	    .commits = TLS_LOG("") },
	/* CVE-2011-0411: nothing pipelined after STARTTLS runs inside TLS */
	{ .name = "tls: commands pipelined after STARTTLS are dropped",
	    .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN "NOOP\r\n" MAIL_IN(S)
		RCPT_IN("alice@example.test") "RSET"), FEED("NOOP\r\n") },
	    .want = EHLO_TLS_OUT TLS_GO OK_OUT, .state = PS_INIT,
	    .commits = TLS_LOG("NOOP\\r\\nMAIL FROM:<" S ">\\r\\n"
		"RCPT TO:<alice@example.test>\\r\\nRSET") },
	{ .name = "tls: the session restarts: MAIL needs EHLO again",
	    .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN), FEED(MAIL_IN(S)),
		FEED(HELO_IN MAIL_IN(S)) },
	    .want = EHLO_TLS_OUT TLS_GO NEED_HELO HELO_OUT MAIL_OUT(S),
	    .state = PS_MAIL, .commits = TLS_LOG("") },
	{ .name = "tls: a transaction open before STARTTLS is gone",
	    .tls_offered = 1,
	    .steps = { FEED(TXN_IN STARTTLS_IN),
		FEED(EHLO_IN RCPT_IN("alice@example.test") DATA_IN) },
	    .want = TLS_TXN_OUT TLS_GO EHLO_OUT NEED_MAIL NEED_MAIL,
	    .state = PS_READY, .commits = TLS_LOG("") },
	{ .name = "tls: STARTTLS before EHLO", .tls_offered = 1,
	    .steps = { FEED(STARTTLS_IN), FEED(EHLO_IN) },
	    .want = TLS_GO EHLO_OUT, .state = PS_READY,
	    .commits = TLS_LOG("") },
	{ .name = "tls: STARTTLS with a parameter", .tls_offered = 1,
	    .steps = { FEED(EHLO_IN "STARTTLS now\r\nNOOP\r\n") },
	    .want = EHLO_TLS_OUT SYN_STARTTLS OK_OUT, .state = PS_READY },
	{ .name = "tls: STARTTLS twice", .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN),
		FEED(EHLO_IN STARTTLS_IN "NOOP\r\n") },
	    .want = EHLO_TLS_OUT TLS_GO EHLO_OUT TLS_ACTIVE OK_OUT,
	    .state = PS_READY, .commits = TLS_LOG("") },
	{ .name = "tls: STARTTLS inside implicit TLS", .tls = 1,
	    .role = PROTO_ROLE_SUBMISSION, .auth_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN "STARTTLS x\r\n") },
	    .want = EHLO_AUTH_OUT TLS_ACTIVE SYN_STARTTLS,
	    .state = PS_READY },
	{ .name = "tls: STARTTLS without a certificate",
	    .steps = { FEED(EHLO_IN STARTTLS_IN "NOOP\r\n") },
	    .want = EHLO_OUT TLS_UNAVAILABLE OK_OUT, .state = PS_READY },
	{ .name = "tls: STARTTLS is not read inside DATA", .tls_offered = 1,
	    .steps = { FEED(TXN_IN DATA_IN STARTTLS_IN ".\r\n") },
	    .want = TLS_TXN_OUT DATA_OUT QUEUED("Q1"), .state = PS_READY,
	    .commits = COMMIT_LOG(S, "<alice@example.test>",
		"alice@example.test", "ESMTP", "STARTTLS\\r\\n") },
	{ .name = "tls: a message inside TLS is ESMTPS", .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN),
		FEED(TXN_IN DATA_IN "x\r\n.\r\n") },
	    .want = EHLO_TLS_OUT TLS_GO TXN_OUT DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = TLS_LOG("") "commit from=<" S "> "
		"rcpts=<alice@example.test> boxes=alice@example.test "
		"with=ESMTPS tls=\"" TLS_INFO "\" body=\"x\\r\\n\"\n" },
	{ .name = "tls: HELO inside TLS is SMTPS", .tls = 1,
	    .steps = { FEED(HELO_IN MAIL_IN(S) RCPT_IN("alice@example.test")
		DATA_IN "x\r\n.\r\n") },
	    .want = HELO_OUT MAIL_OUT(S) RCPT_OUT("alice@example.test")
		DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = "commit from=<" S "> rcpts=<alice@example.test> "
		"boxes=alice@example.test with=SMTPS tls=\"" TLS_INFO "\" "
		"body=\"x\\r\\n\"\n" },
	{ .name = "tls: timeout, shutdown after STARTTLS", .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN), TIMEOUT, FEED("NOOP\r\n") },
	    .want = EHLO_TLS_OUT TLS_GO TIMEOUT_OUT, .state = PS_CLOSED,
	    .commits = TLS_LOG("") },
	{ .name = "tls: QUIT pipelined after STARTTLS is dropped too",
	    .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN "QUIT\r\n"), FEED("QUIT\r\n") },
	    .want = EHLO_TLS_OUT TLS_GO QUIT_OUT, .state = PS_CLOSED,
	    .commits = TLS_LOG("QUIT\\r\\n") },
};

static void
test_starttls(void **state)
{
	(void)state;
	CHECK_TABLE(tls_cases, "STARTTLS");
}

/* --- AUTH (RFC 4954; PLAIN, RFC 4616; LOGIN) ------------------------- */

/* encrypted, with a users file: AUTH is offered */
#define AUTHABLE .tls = 1, .auth_offered = 1
#define AEHLO_IN EHLO_IN
#define AEHLO_OUT EHLO_AUTH_OUT

static const struct pcase auth_cases[] = {
	{ .name = "auth: PLAIN with an initial response", AUTHABLE,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN) },
	    .want = AEHLO_OUT AUTH_OK, .state = PS_READY,
	    .commits = ALICE_OK },
	{ .name = "auth: PLAIN, then the response after 334", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN\r\n"),
		FEED(B64_ALICE_SECRET "\r\n") },
	    .want = AEHLO_OUT CHALLENGE("") AUTH_OK, .state = PS_READY,
	    .commits = ALICE_OK },
	{ .name = "auth: plain in lower case, pipelined", AUTHABLE,
	    .steps = { FEED(EHLO_IN "auth plain\r\n" B64_ALICE_SECRET "\r\n"
		"NOOP\r\n") },
	    .want = AEHLO_OUT CHALLENGE("") AUTH_OK OK_OUT, .state = PS_READY,
	    .commits = ALICE_OK },
	{ .name = "auth: PLAIN with authzid = authcid", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_AZ_ALICE "\r\n") },
	    .want = AEHLO_OUT AUTH_OK, .state = PS_READY,
	    .commits = ALICE_OK },
	/* acting for another user is not offered: refused before a check */
	{ .name = "auth: PLAIN with another authzid", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_AZ_BOB "\r\n") },
	    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY },
	{ .name = "auth: PLAIN wrong password", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_ALICE_WRONG "\r\n") },
	    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY,
	    .commits = AUTH_LOG("alice", "wrong", "failed") },
	{ .name = "auth: PLAIN unknown user", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_NOBODY "\r\n") },
	    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY,
	    .commits = AUTH_LOG("nobody", "secret", "failed") },
	{ .name = "auth: failed, then right", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_ALICE_WRONG "\r\n"
		AUTH_PLAIN_IN) },
	    .want = AEHLO_OUT AUTH_FAILED AUTH_OK, .state = PS_READY,
	    .commits = AUTH_LOG("alice", "wrong", "failed") ALICE_OK },
	{ .name = "auth: PLAIN, user with a domain", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_BOB "\r\n") },
	    .want = AEHLO_OUT AUTH_OK, .state = PS_READY,
	    .commits = AUTH_LOG("bob@example.test", "pw2", "ok") },
	{ .name = "auth: PLAIN, empty password goes to the check", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_EMPTY_PASS "\r\n") },
	    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY,
	    .commits = AUTH_LOG("alice", "", "failed") },
	{ .name = "auth: PLAIN password with blank, colon and UTF-8",
	    AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_ODD_PASS "\r\n") },
	    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY,
	    .commits = AUTH_LOG("alice", "s3 cr:\\xc3\\xa9t", "failed") },
	{ .name = "auth: PLAIN without the second NUL", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_NO_PASS "\r\n") },
	    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY },
	{ .name = "auth: PLAIN with a third NUL", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_NUL_PASS "\r\n") },
	    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY },
	{ .name = "auth: PLAIN initial response not base64", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN AGFsaWNl!\r\n"
		"AUTH PLAIN AGFsaWNlAHNlY3JldA=\r\n"
		"AUTH PLAIN AGFsa=WNlAHNlY3JldA\r\n" "NOOP\r\n") },
	    .want = AEHLO_OUT AUTH_BAD64 AUTH_BAD64 AUTH_BAD64 OK_OUT,
	    .state = PS_READY },
	{ .name = "auth: PLAIN response not base64", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN\r\n" "%%%%\r\n" "NOOP\r\n") },
	    .want = AEHLO_OUT CHALLENGE("") AUTH_BAD64 OK_OUT,
	    .state = PS_READY },
	{ .name = "auth: NUL in a response", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN\r\n" "AGFs\0aWNl\r\n") },
	    .want = AEHLO_OUT CHALLENGE("") AUTH_BAD64, .state = PS_READY },
	{ .name = "auth: PLAIN cancelled with *", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN\r\n*\r\nNOOP\r\n") },
	    .want = AEHLO_OUT CHALLENGE("") AUTH_CANCELLED OK_OUT,
	    .state = PS_READY },
	{ .name = "auth: LOGIN", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN\r\n"), FEED(B64_alice "\r\n"),
		FEED(B64_secret "\r\n") },
	    .want = AEHLO_OUT LOGIN_USER LOGIN_PASS AUTH_OK,
	    .state = PS_READY, .commits = ALICE_OK },
	{ .name = "auth: LOGIN with an initial response", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN " B64_alice "\r\n"),
		FEED(B64_secret "\r\n") },
	    .want = AEHLO_OUT LOGIN_PASS AUTH_OK, .state = PS_READY,
	    .commits = ALICE_OK },
	{ .name = "auth: login in lower case, wrong password", AUTHABLE,
	    .steps = { FEED(EHLO_IN "auth login\r\n" B64_alice "\r\n"
		B64_wrong "\r\n") },
	    .want = AEHLO_OUT LOGIN_USER LOGIN_PASS AUTH_FAILED,
	    .state = PS_READY,
	    .commits = AUTH_LOG("alice", "wrong", "failed") },
	{ .name = "auth: LOGIN cancelled at the user name", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN\r\n*\r\n") },
	    .want = AEHLO_OUT LOGIN_USER AUTH_CANCELLED, .state = PS_READY },
	{ .name = "auth: LOGIN cancelled at the password", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN " B64_alice "\r\n*\r\n"
		"NOOP\r\n") },
	    .want = AEHLO_OUT LOGIN_PASS AUTH_CANCELLED OK_OUT,
	    .state = PS_READY },
	{ .name = "auth: LOGIN user name not base64", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN\r\nalice\r\n") },
	    .want = AEHLO_OUT LOGIN_USER AUTH_BAD64, .state = PS_READY },
	{ .name = "auth: LOGIN password not base64", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN " B64_alice "\r\nsecret\r\n") },
	    .want = AEHLO_OUT LOGIN_PASS AUTH_BAD64, .state = PS_READY },
	{ .name = "auth: again after success", AUTHABLE,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN AUTH_PLAIN_IN
		"AUTH LOGIN\r\n") },
	    .want = AEHLO_OUT AUTH_OK AUTH_ALREADY AUTH_ALREADY,
	    .state = PS_READY, .commits = ALICE_OK },
	{ .name = "auth: inside a transaction", AUTHABLE,
	    .steps = { FEED(EHLO_IN MAIL_IN(S) AUTH_PLAIN_IN
		RCPT_IN("alice@example.test")) },
	    .want = AEHLO_OUT MAIL_OUT(S) AUTH_IN_TXN
		RCPT_OUT("alice@example.test"),
	    .state = PS_MAIL },
	{ .name = "auth: unknown mechanism", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH CRAM-MD5\r\n"
		"AUTH GSSAPI YWJj\r\nNOOP\r\n") },
	    .want = AEHLO_OUT AUTH_MECH AUTH_MECH OK_OUT, .state = PS_READY },
	{ .name = "auth: no mechanism, too many words, long mechanism",
	    AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH\r\nAUTH \r\n"
		"AUTH PLAIN " B64_ALICE_SECRET " x\r\n"
		"AUTH XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n") },
	    .want = AEHLO_OUT SYN_AUTH SYN_AUTH SYN_AUTH SYN_AUTH,
	    .state = PS_READY },
	{ .name = "auth: before EHLO", AUTHABLE,
	    .steps = { FEED(AUTH_PLAIN_IN "AUTH LOGIN\r\n") },
	    .want = NEED_HELO NEED_HELO, .state = PS_INIT },
	{ .name = "auth: not offered and refused without TLS",
	    .auth_offered = 1, .tls_offered = 1,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN "AUTH LOGIN\r\n") },
	    .want = EHLO_TLS_OUT AUTH_NEED_TLS AUTH_NEED_TLS,
	    .state = PS_READY },
	{ .name = "auth: no users file", .tls = 1,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN "AUTH CRAM-MD5\r\n") },
	    .want = EHLO_OUT AUTH_DISABLED AUTH_DISABLED, .state = PS_READY },
	{ .name = "auth: no users file, no TLS",
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN) },
	    .want = EHLO_OUT AUTH_DISABLED, .state = PS_READY },
	{ .name = "auth: over plaintext when configured", .conf = C_PLAINAUTH,
	    .auth_offered = 1, .tls_offered = 1,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN) },
	    .want = EHLO_BOTH_OUT AUTH_OK, .state = PS_READY,
	    .commits = ALICE_OK },
	{ .name = "auth: after STARTTLS", .auth_offered = 1,
	    .tls_offered = 1,
	    .steps = { FEED(EHLO_IN STARTTLS_IN), FEED(EHLO_IN AUTH_PLAIN_IN) },
	    .want = EHLO_TLS_OUT TLS_GO EHLO_AUTH_OUT AUTH_OK,
	    .state = PS_READY, .commits = TLS_LOG("") ALICE_OK },
	/* RFC 3207 4.2: everything learned before TLS is forgotten, also
	 * a plaintext AUTH and the relaying it allowed */
	{ .name = "auth: STARTTLS forgets a plaintext login",
	    .conf = C_PLAINAUTH, .auth_offered = 1, .tls_offered = 1,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN STARTTLS_IN),
		FEED(EHLO_IN MAIL_IN(S) RCPT_IN("x@far.example")
		    AUTH_PLAIN_IN) },
	    .want = EHLO_BOTH_OUT AUTH_OK TLS_GO EHLO_AUTH_OUT MAIL_OUT(S)
		RELAY_DENIED("x@far.example") AUTH_IN_TXN,
	    .state = PS_MAIL, .commits = ALICE_OK TLS_LOG("") },
	{ .name = "auth: a login lets the client relay", AUTHABLE,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN MAIL_IN(S)
		RCPT_IN("x@far.example") DATA_IN "x\r\n.\r\n") },
	    .want = AEHLO_OUT AUTH_OK MAIL_OUT(S) RCPT_OUT("x@far.example")
		DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = ALICE_OK "commit from=<" S "> rcpts=<x@far.example> "
		"boxes= with=ESMTPSA tls=\"" TLS_INFO "\" auth=alice "
		"body=\"x\\r\\n\"\n" },
	{ .name = "auth: without a login no relaying", AUTHABLE,
	    .steps = { FEED(EHLO_IN MAIL_IN(S) RCPT_IN("x@far.example")) },
	    .want = AEHLO_OUT MAIL_OUT(S) RELAY_DENIED("x@far.example"),
	    .state = PS_MAIL },
	{ .name = "auth: timeout inside the exchange", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN\r\n"), TIMEOUT,
		FEED(B64_alice "\r\n") },
	    .want = AEHLO_OUT LOGIN_USER TIMEOUT_OUT, .state = PS_CLOSED },
	{ .name = "auth: the check stops the input", AUTHABLE, .manual = 1,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN "NOOP\r\n") },
	    .want = AEHLO_OUT, .state = PS_AUTH_CHECK },
	{ .name = "auth: input waits for the check", AUTHABLE, .manual = 1,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN "NOOP\r\n"), AUTH_DONE },
	    .want = AEHLO_OUT AUTH_OK OK_OUT, .state = PS_READY,
	    .commits = ALICE_OK },
	/* a pending shutdown is due once the AUTH reply is out, as after a
	 * message's reply: the client is at a command boundary again */
	{ .name = "auth: shutdown while the password is checked", AUTHABLE,
	    .manual = 1,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN), SHUTDOWN, AUTH_DONE },
	    .want = AEHLO_OUT AUTH_OK SHUTDOWN_OUT, .state = PS_CLOSED,
	    .commits = ALICE_OK },
	{ .name = "auth: shutdown inside the exchange", AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH LOGIN\r\n"), SHUTDOWN,
		FEED(B64_alice "\r\n" B64_secret "\r\n") },
	    .want = AEHLO_OUT LOGIN_USER LOGIN_PASS AUTH_OK SHUTDOWN_OUT,
	    .state = PS_CLOSED, .commits = ALICE_OK },
	{ .name = "auth: errors count toward max_errors", .conf = C_ERR3,
	    AUTHABLE,
	    .steps = { FEED(EHLO_IN "AUTH\r\nAUTH CRAM-MD5\r\n"
		"AUTH PLAIN !!!!\r\nNOOP\r\n") },
	    .want = AEHLO_OUT SYN_AUTH AUTH_MECH AUTH_BAD64 TOO_MANY_ERRORS,
	    .state = PS_CLOSED },
};

static void
test_auth(void **state)
{
	(void)state;
	CHECK_TABLE(auth_cases, "AUTH");
}

/* --- submission ports (RFC 6409, RFC 8314) --------------------------- */

#define SUBMISSIONS .tls = 1, .auth_offered = 1, .role = PROTO_ROLE_SUBMISSION
#define SUBMISSION .tls_offered = 1, .auth_offered = 1,                     \
	.role = PROTO_ROLE_SUBMISSION
#define LOGGED_IN EHLO_IN AUTH_PLAIN_IN
#define LOGGED_OUT EHLO_AUTH_OUT AUTH_OK
#define SUB_COMMIT(from, rcpt, box, body)                                   \
	"commit from=<" from "> rcpts=<" rcpt "> boxes=" box                \
	" with=ESMTPSA tls=\"" TLS_INFO "\" auth=alice body=\"" body "\"\n"

static const struct pcase submission_cases[] = {
	{ .name = "sub: EHLO offers AUTH, not STARTTLS", SUBMISSIONS,
	    .steps = { FEED(EHLO_IN) }, .want = EHLO_AUTH_OUT,
	    .state = PS_READY },
	{ .name = "sub: MAIL before AUTH", SUBMISSIONS,
	    .steps = { FEED(EHLO_IN MAIL_IN("alice@example.test")
		MAIL_IN("")) },
	    .want = EHLO_AUTH_OUT AUTH_REQUIRED AUTH_REQUIRED,
	    .state = PS_READY },
	{ .name = "sub: MAIL before AUTH, before EHLO", SUBMISSIONS,
	    .steps = { FEED(MAIL_IN("alice@example.test")) },
	    .want = NEED_HELO, .state = PS_INIT },
	{ .name = "sub: MAIL from the user's own address", SUBMISSIONS,
	    .steps = { FEED(LOGGED_IN MAIL_IN("alice@example.test")
		RCPT_IN("bob@example.test") DATA_IN "hi\r\n.\r\n") },
	    .want = LOGGED_OUT MAIL_OUT("alice@example.test")
		RCPT_OUT("bob@example.test") DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = ALICE_OK SUB_COMMIT("alice@example.test",
		"bob@example.test", "bob@example.test", "hi\\r\\n") },
	{ .name = "sub: own address in any local domain, any case",
	    SUBMISSIONS,
	    .steps = { FEED(LOGGED_IN "MAIL FROM:<Alice@Other.TEST>\r\n"
		"RSET\r\n" "MAIL FROM:<alice@example.test> SIZE=10\r\n") },
	    .want = LOGGED_OUT MAIL_OUT("Alice@Other.TEST") OK_OUT
		MAIL_OUT("alice@example.test"),
	    .state = PS_MAIL, .commits = ALICE_OK },
	{ .name = "sub: MAIL from someone else's address", SUBMISSIONS,
	    .steps = { FEED(LOGGED_IN MAIL_IN("bob@example.test")
		MAIL_IN("alice@far.example") MAIL_IN("alicex@example.test")
		RCPT_IN("bob@example.test")) },
	    .want = LOGGED_OUT NOT_OWNED("bob@example.test")
		NOT_OWNED("alice@far.example")
		NOT_OWNED("alicex@example.test") NEED_MAIL,
	    .state = PS_READY, .commits = ALICE_OK },
	{ .name = "sub: a user named by address owns only that address",
	    SUBMISSIONS,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_BOB "\r\n"
		MAIL_IN("bob@other.test") MAIL_IN("BOB@example.test")) },
	    .want = EHLO_AUTH_OUT AUTH_OK NOT_OWNED("bob@other.test")
		MAIL_OUT("BOB@example.test"),
	    .state = PS_MAIL,
	    .commits = AUTH_LOG("bob@example.test", "pw2", "ok") },
	{ .name = "sub: sender_login_match = no", .conf = C_NOMATCH,
	    SUBMISSIONS,
	    .steps = { FEED(LOGGED_IN MAIL_IN("bob@example.test") "RSET\r\n"
		MAIL_IN("anyone@far.example")) },
	    .want = LOGGED_OUT MAIL_OUT("bob@example.test") OK_OUT
		MAIL_OUT("anyone@far.example"),
	    .state = PS_MAIL, .commits = ALICE_OK },
	{ .name = "sub: sender_login_match = no still needs AUTH",
	    .conf = C_NOMATCH, SUBMISSIONS,
	    .steps = { FEED(EHLO_IN MAIL_IN("bob@example.test")) },
	    .want = EHLO_AUTH_OUT AUTH_REQUIRED, .state = PS_READY },
	{ .name = "sub: after AUTH the user relays", SUBMISSIONS,
	    .steps = { FEED(LOGGED_IN MAIL_IN("alice@example.test")
		RCPT_IN("friend@far.example") DATA_IN "hi\r\n.\r\n") },
	    .want = LOGGED_OUT MAIL_OUT("alice@example.test")
		RCPT_OUT("friend@far.example") DATA_OUT QUEUED("Q1"),
	    .state = PS_READY,
	    .commits = ALICE_OK SUB_COMMIT("alice@example.test",
		"friend@far.example", "", "hi\\r\\n") },
	{ .name = "sub: port 587 before STARTTLS", SUBMISSION,
	    .steps = { FEED(EHLO_IN AUTH_PLAIN_IN
		MAIL_IN("alice@example.test")) },
	    .want = EHLO_TLS_OUT AUTH_NEED_TLS AUTH_REQUIRED,
	    .state = PS_READY },
	{ .name = "sub: port 587 with STARTTLS", SUBMISSION,
	    .steps = { FEED(EHLO_IN STARTTLS_IN),
		FEED(EHLO_IN MAIL_IN("alice@example.test") AUTH_PLAIN_IN
		    MAIL_IN("alice@example.test")) },
	    .want = EHLO_TLS_OUT TLS_GO EHLO_AUTH_OUT AUTH_REQUIRED AUTH_OK
		MAIL_OUT("alice@example.test"),
	    .state = PS_MAIL, .commits = TLS_LOG("") ALICE_OK },
	{ .name = "sub: port 587 without a users file",
	    .tls_offered = 1, .role = PROTO_ROLE_SUBMISSION,
	    .steps = { FEED(EHLO_IN STARTTLS_IN),
		FEED(EHLO_IN AUTH_PLAIN_IN MAIL_IN("alice@example.test")) },
	    .want = EHLO_TLS_OUT TLS_GO EHLO_OUT AUTH_DISABLED AUTH_REQUIRED,
	    .state = PS_READY, .commits = TLS_LOG("") },
	{ .name = "sub: a failed AUTH does not log in", SUBMISSIONS,
	    .steps = { FEED(EHLO_IN "AUTH PLAIN " B64_ALICE_WRONG "\r\n"
		MAIL_IN("alice@example.test")) },
	    .want = EHLO_AUTH_OUT AUTH_FAILED AUTH_REQUIRED,
	    .state = PS_READY,
	    .commits = AUTH_LOG("alice", "wrong", "failed") },
	{ .name = "sub: a second EHLO keeps the login", SUBMISSIONS,
	    .steps = { FEED(LOGGED_IN EHLO_IN MAIL_IN("alice@example.test")) },
	    .want = LOGGED_OUT EHLO_AUTH_OUT MAIL_OUT("alice@example.test"),
	    .state = PS_MAIL, .commits = ALICE_OK },
};

static void
test_submission(void **state)
{
	(void)state;
	CHECK_TABLE(submission_cases, "submission");
}

/* RFC 4954 4: AUTH lines up to 12288 octets with CRLF; longer: 500 5.5.6 */
static void
test_auth_line_length(void **state)
{
	/* PLAIN messages of exactly n octets of base64 (with padding) */
	char *cmd12288 = padded("AUTH PLAIN ", 'A', 12288);
	char *cmd12289 = padded("AUTH PLAIN ", 'A', 12289);
	char *cmd20000 = padded("AUTH PLAIN ", 'A', 20000);
	char *rsp12288 = padded("", 'A', 12288);
	char *rsp12289 = padded("", 'A', 12289);
	char *rsp20000 = padded("", 'A', 20000);
	char *user255 = malloc(600), *user256 = malloc(600);
	struct pcase cases[] = {
		{ .name = "AUTH command of 12288 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN), { OP_FEED, cmd12288, 12288, 0 } },
		    .want = AEHLO_OUT AUTH_BAD64, .state = PS_READY },
		{ .name = "AUTH command of 12289 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN), { OP_FEED, cmd12289, 12289, 0 },
			FEED("NOOP\r\n") },
		    .want = AEHLO_OUT AUTH_TOO_LONG OK_OUT, .state = PS_READY },
		{ .name = "AUTH command of 20000 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN), { OP_FEED, cmd20000, 20000, 0 },
			FEED("NOOP\r\n") },
		    .want = AEHLO_OUT AUTH_TOO_LONG OK_OUT, .state = PS_READY },
		/* 12286 'A' + CRLF: not a multiple of 4, so not base64 */
		{ .name = "AUTH response of 12288 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN "AUTH PLAIN\r\n"),
			{ OP_FEED, rsp12288, 12288, 0 } },
		    .want = AEHLO_OUT CHALLENGE("") AUTH_BAD64,
		    .state = PS_READY },
		{ .name = "AUTH response of 12289 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN "AUTH PLAIN\r\n"),
			{ OP_FEED, rsp12289, 12289, 0 }, FEED("NOOP\r\n") },
		    .want = AEHLO_OUT CHALLENGE("") AUTH_TOO_LONG OK_OUT,
		    .state = PS_READY },
		{ .name = "AUTH LOGIN password of 20000 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN "AUTH LOGIN " B64_alice "\r\n"),
			{ OP_FEED, rsp20000, 20000, 0 }, FEED("NOOP\r\n") },
		    .want = AEHLO_OUT LOGIN_PASS AUTH_TOO_LONG OK_OUT,
		    .state = PS_READY },
		{ .name = "PLAIN user name of 255 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN), { OP_FEED, user255, 0, 0 } },
		    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY },
		{ .name = "PLAIN user name of 256 octets", AUTHABLE,
		    .steps = { FEED(EHLO_IN), { OP_FEED, user256, 0, 0 } },
		    .want = AEHLO_OUT AUTH_FAILED, .state = PS_READY },
	};
	struct buf want255, want256;
	int bad = 0;

	(void)state;
	/* "\0" + 255 'u' + "\0pw": 258 octets, base64 in 344 */
	{
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
		    "ghijklmnopqrstuvwxyz0123456789+/";
		for (int w = 0; w < 2; w++) {
			size_t un = w ? 256 : 255, n = un + 4, k = 0;
			unsigned char raw[300];
			char *o = w ? user256 : user255;

			raw[0] = 0;
			memset(raw + 1, 'u', un);
			raw[un + 1] = 0;
			memcpy(raw + un + 2, "pw", 2);
			k = (size_t)sprintf(o, "AUTH PLAIN ");
			for (size_t i = 0; i < n; i += 3) {
				unsigned v = raw[i] << 16 |
				    (i + 1 < n ? raw[i + 1] << 8 : 0) |
				    (i + 2 < n ? raw[i + 2] : 0);

				o[k++] = b64[v >> 18 & 63];
				o[k++] = b64[v >> 12 & 63];
				o[k++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
				o[k++] = i + 2 < n ? b64[v & 63] : '=';
			}
			memcpy(o + k, "\r\n", 3);
		}
	}
	cases[6].steps[1].len = strlen(user255);
	cases[7].steps[1].len = strlen(user256);
	/* 255 octets go to the check; 256 do not fit and fail at once */
	buf_init(&want255, 0);
	buf_init(&want256, 0);
	buf_puts(&want255, "auth user=\"");
	for (int i = 0; i < 255; i++)
		buf_putc(&want255, 'u');
	buf_puts(&want255, "\" pass=\"pw\" failed\n");
	buf_cstr(&want255);
	cases[6].commits = want255.data;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += check_case(&cases[i]);
	free(cmd12288);
	free(cmd12289);
	free(cmd20000);
	free(rsp12288);
	free(rsp12289);
	free(rsp20000);
	free(user255);
	free(user256);
	buf_free(&want255);
	buf_free(&want256);
	if (bad)
		fail_msg("%d AUTH line-length cases failed", bad);
}

/* PS_AUTH_CHECK: input stops; the engine holds the decoded credentials */
static void
test_auth_check_stops(void **state)
{
	static const char in[] = EHLO_IN "AUTH LOGIN " B64_alice "\r\n"
	    B64_secret "\r\nNOOP\r\n";
	size_t end = strlen(EHLO_IN "AUTH LOGIN " B64_alice "\r\n" B64_secret
	    "\r\n");
	struct proto p;
	size_t used;

	(void)state;
	proto_init(&p, &confs[C_BASE], "192.0.2.1");
	p.tls_offered = 1;
	p.auth_offered = 1;
	proto_tls_started(&p, TLS_INFO);
	proto_greet(&p);
	used = proto_feed(&p, in, sizeof(in) - 1);
	if (used != end || p.state != PS_AUTH_CHECK)
		fail_msg("feed: got %zu consumed, %s, want %zu, PS_AUTH_CHECK",
		    used, state_name(p.state), end);
	if (strcmp(p.auth_try_user, "alice") != 0 ||
	    strcmp(p.auth_try_pass, "secret") != 0 || p.auth_user[0] != '\0')
		fail_msg("credentials: got user \"%s\" pass \"%s\" logged in "
		    "\"%s\", want \"alice\", \"secret\", \"\"", p.auth_try_user,
		    p.auth_try_pass, p.auth_user);
	buf_reset(&p.out);
	/* waiting for the verdict: nothing is taken, nothing is said */
	used = proto_feed(&p, in + end, sizeof(in) - 1 - end);
	if (used != 0 || p.out.len != 0 || p.state != PS_AUTH_CHECK)
		fail_msg("feed while checking: got %zu consumed, %zu octets "
		    "out, %s, want 0, 0, PS_AUTH_CHECK", used, p.out.len,
		    state_name(p.state));
	proto_auth_done(&p, 1);
	if (p.state != PS_READY || strcmp(p.auth_user, "alice") != 0 ||
	    !p.relay_ok || p.auth_try_pass[0] != '\0' ||
	    p.auth_try_user[0] != '\0')
		fail_msg("after the check: got %s, user \"%s\", relay_ok %d, "
		    "try_user \"%s\", try_pass \"%s\", want PS_READY, "
		    "\"alice\", 1, \"\", \"\"", state_name(p.state),
		    p.auth_user, p.relay_ok, p.auth_try_user, p.auth_try_pass);
	if (!mem_eq(p.out.data, p.out.len, AUTH_OK, strlen(AUTH_OK)))
		fail_msg("after the check: got \"%s\", want \"%s\"",
		    esc(p.out.data, p.out.len), esc(AUTH_OK, strlen(AUTH_OK)));
	buf_reset(&p.out);
	used = proto_feed(&p, in + end, sizeof(in) - 1 - end);
	if (used != sizeof(in) - 1 - end ||
	    !mem_eq(p.out.data, p.out.len, OK_OUT, strlen(OK_OUT)))
		fail_msg("rest: got %zu consumed, \"%s\", want %zu, \"%s\"",
		    used, esc(p.out.data, p.out.len), sizeof(in) - 1 - end,
		    esc(OK_OUT, strlen(OK_OUT)));
	proto_free(&p);
}

/* PS_STARTTLS: input stops right after the STARTTLS line */
static void
test_starttls_stops(void **state)
{
	static const char in[] = EHLO_IN STARTTLS_IN "NOOP\r\n";
	size_t end = strlen(EHLO_IN STARTTLS_IN);
	struct proto p;
	size_t used;

	(void)state;
	proto_init(&p, &confs[C_BASE], "192.0.2.1");
	p.tls_offered = 1;
	proto_greet(&p);
	buf_reset(&p.out);
	used = proto_feed(&p, in, sizeof(in) - 1);
	if (used != end || p.state != PS_STARTTLS)
		fail_msg("feed: got %zu consumed, %s, want %zu, PS_STARTTLS",
		    used, state_name(p.state), end);
	if (!mem_eq(p.out.data, p.out.len, EHLO_TLS_OUT TLS_GO,
		strlen(EHLO_TLS_OUT TLS_GO)))
		fail_msg("got \"%s\", want \"%s\"", esc(p.out.data, p.out.len),
		    esc(EHLO_TLS_OUT TLS_GO, strlen(EHLO_TLS_OUT TLS_GO)));
	buf_reset(&p.out);
	used = proto_feed(&p, in + end, sizeof(in) - 1 - end);
	if (used != 0 || p.out.len != 0 || p.state != PS_STARTTLS)
		fail_msg("feed before the handshake: got %zu consumed, %zu "
		    "octets out, %s, want 0, 0, PS_STARTTLS", used, p.out.len,
		    state_name(p.state));
	proto_tls_started(&p, TLS_INFO);
	if (p.state != PS_INIT || !p.tls || p.helo[0] != '\0' || p.esmtp ||
	    strcmp(p.tls_info, TLS_INFO) != 0)
		fail_msg("after the handshake: got %s, tls %d, helo \"%s\", "
		    "esmtp %d, info \"%s\", want PS_INIT, 1, \"\", 0, \"%s\"",
		    state_name(p.state), p.tls, p.helo, p.esmtp, p.tls_info,
		    TLS_INFO);
	proto_free(&p);
}

/* max_hops from the default configuration (50) */
static void
test_default_hops(void **state)
{
	struct buf in49, in50;
	int bad = 0;

	(void)state;
	buf_init(&in49, 0);
	buf_init(&in50, 0);
	buf_puts(&in49, TXN_IN DATA_IN);
	buf_puts(&in50, TXN_IN DATA_IN);
	for (int i = 0; i < 50; i++) {
		if (i < 49)
			buf_printf(&in49, "Received: from h%d\r\n\tby x\r\n",
			    i);
		buf_printf(&in50, "Received: from h%d\r\n\tby x\r\n", i);
	}
	buf_puts(&in49, "\r\nbody\r\n.\r\n");
	buf_puts(&in50, "\r\nbody\r\n.\r\n");
	{
		struct pcase c = { .name = "50 Received headers",
			.steps = { { OP_FEED, in50.data, in50.len, 0 } },
			.want = TXN_OUT DATA_OUT TOO_MANY_HOPS,
			.state = PS_READY };

		bad += check_case(&c);
	}
	{
		struct pcase c = { .name = "49 Received headers", .manual = 1,
			.steps = { { OP_FEED, in49.data, in49.len, 0 } },
			.want = TXN_OUT DATA_OUT, .state = PS_COMMIT };
		struct run r;

		run_case(&c, SIZE_MAX, &r);
		if (r.p.state != PS_COMMIT) {
			print_error("%s: got %s, want PS_COMMIT\n", c.name,
			    state_name(r.p.state));
			bad++;
		}
		run_free(&r);
	}
	buf_free(&in49);
	buf_free(&in50);
	if (bad)
		fail_msg("%d hop cases failed", bad);
}

/* --- the commit hand-off and output back-pressure --------------------- */

/* PS_COMMIT stops consumption; the rest is taken after the commit */
static void
test_commit_stops(void **state)
{
	static const char in[] = TXN_IN DATA_IN "abc\r\n.\r\n"
	    "NOOP\r\nQUIT\r\n";
	size_t end = strlen(TXN_IN DATA_IN "abc\r\n.\r\n");
	struct proto p;
	size_t used;
	const char *want1 = GREET TXN_OUT DATA_OUT;
	const char *want2 = QUEUED("Q9") OK_OUT QUIT_OUT;

	(void)state;
	proto_init(&p, &confs[C_BASE], "192.0.2.1");
	proto_greet(&p);
	used = proto_feed(&p, in, sizeof(in) - 1);
	if (used != end || p.state != PS_COMMIT)
		fail_msg("first feed: got %zu consumed, %s, want %zu, "
		    "PS_COMMIT", used, state_name(p.state), end);
	if (!mem_eq(p.out.data, p.out.len, want1, strlen(want1)))
		fail_msg("first feed: got \"%s\", want \"%s\"",
		    esc(p.out.data, p.out.len), esc(want1, strlen(want1)));
	if (p.txn.nrcpts != 1 || strcmp(p.txn.rcpts[0], "alice@example.test") ||
	    p.txn.nboxes != 1 || strcmp(p.txn.sender, S) ||
	    !mem_eq(p.txn.body.data, p.txn.body.len, "abc\r\n", 5))
		fail_msg("transaction at commit: got %zu rcpts, %zu boxes, "
		    "sender \"%s\", body \"%s\", want 1, 1, \"" S "\", "
		    "\"abc\\r\\n\"", p.txn.nrcpts, p.txn.nboxes, p.txn.sender,
		    esc(p.txn.body.data, p.txn.body.len));
	buf_reset(&p.out);
	/* still committing: nothing more is taken, timeouts wait too */
	used = proto_feed(&p, in + end, sizeof(in) - 1 - end);
	if (used != 0 || p.out.len != 0 || p.state != PS_COMMIT)
		fail_msg("feed while committing: got %zu consumed, %zu octets "
		    "out, %s, want 0, 0, PS_COMMIT", used, p.out.len,
		    state_name(p.state));
	proto_commit_done(&p, R_QUEUED, "Q9");
	if (p.state != PS_READY || p.txn.nrcpts != 0 || p.txn.body.len != 0)
		fail_msg("after commit: got %s, %zu rcpts, %zu body octets, "
		    "want PS_READY, 0, 0", state_name(p.state), p.txn.nrcpts,
		    p.txn.body.len);
	used = proto_feed(&p, in + end, sizeof(in) - 1 - end);
	if (used != sizeof(in) - 1 - end || p.state != PS_CLOSED)
		fail_msg("rest: got %zu consumed, %s, want %zu, PS_CLOSED",
		    used, state_name(p.state), sizeof(in) - 1 - end);
	if (!mem_eq(p.out.data, p.out.len, want2, strlen(want2)))
		fail_msg("rest: got \"%s\", want \"%s\"",
		    esc(p.out.data, p.out.len), esc(want2, strlen(want2)));
	/* closed: everything is swallowed, nothing is said */
	buf_reset(&p.out);
	used = proto_feed(&p, "NOOP\r\n", 6);
	if (used != 6 || p.out.len != 0)
		fail_msg("after QUIT: got %zu consumed, %zu octets out, want "
		    "6, 0", used, p.out.len);
	proto_free(&p);
}

/* PROTO_OUT_HIGH: a client that never reads is not answered forever */
static void
test_out_high(void **state)
{
	size_t n = 10000, total = 0, rounds = 0, len = n * 6;
	char *in = malloc(len);
	struct proto p;

	(void)state;
	for (size_t i = 0; i < n; i++)
		memcpy(in + i * 6, "NOOP\r\n", 6);
	proto_init(&p, &confs[C_BASE], "192.0.2.1");
	proto_greet(&p);
	buf_reset(&p.out);
	{
		size_t used = proto_feed(&p, in, len);

		if (used == len || p.out.len < PROTO_OUT_HIGH ||
		    p.out.len > PROTO_OUT_HIGH + 64)
			fail_msg("one feed of %zu NOOPs: got %zu consumed and "
			    "%zu octets out, want less than all and about %d",
			    n, used, p.out.len, PROTO_OUT_HIGH);
		if (used % 6 != 0 || p.out.len != used / 6 * strlen(OK_OUT))
			fail_msg("got %zu consumed and %zu octets out, want "
			    "whole commands, one reply each", used, p.out.len);
		total = used;
	}
	while (total < len && rounds++ < 100) {
		buf_reset(&p.out);
		total += proto_feed(&p, in + total, len - total);
	}
	if (total != len)
		fail_msg("after draining: got %zu of %zu consumed", total, len);
	proto_free(&p);
	free(in);
}

/* every reply the engine can make was made by some case above */
static void
test_coverage(void **state)
{
	static const enum reply_id server_only[] = { R_CONN_LIMIT,
		R_CONN_LIMIT_IP, R_PREGREET, R_LOCAL_ERR, R_AUTH_TOO_MANY };
	int bad = 0;

	(void)state;
	for (int i = 0; i < R__COUNT; i++) {
		int skip = 0;

		for (size_t k = 0; k < sizeof(server_only) /
		    sizeof(server_only[0]); k++)
			skip |= server_only[k] == (enum reply_id)i;
		if (!skip && !reached[i]) {
			print_error("%s: got no case producing it, want at "
			    "least one\n", reply_name((enum reply_id)i));
			bad++;
		}
	}
	if (bad)
		fail_msg("%d reply ids never produced", bad);
}

/* --- setup ------------------------------------------------------------- */

static int
setup(void **state)
{
	static const char *const ov[C__COUNT][2] = {
		[C_BASE] = { NULL, NULL },
		[C_VRFY] = { "vrfy=yes", "expn=yes" },
		[C_STRICT] = { "bare_newline=reject", NULL },
		[C_ERR3] = { "max_errors=3", NULL },
		[C_HOPS] = { "max_hops=3", NULL },
		[C_PLAINAUTH] = { "auth_over_plaintext=yes", NULL },
		[C_NOMATCH] = { "sender_login_match=no", NULL },
	};
	char why[600];

	(void)state;
	for (int i = 0; i < C__COUNT; i++) {
		size_t n = ov[i][1] ? 2 : ov[i][0] ? 1 : 0;

		if (unit_conf_load(&confs[i], UNIT_CONF_BASE, ov[i], n, why,
			sizeof(why)) < 0) {
			print_error("configuration %d: %s\n", i, why);
			return -1;
		}
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < C__COUNT; i++)
		conf_free(&confs[i]);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_vrfy_expn),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_max_recipients),
		cmocka_unit_test(test_message_size),
		cmocka_unit_test(test_default_hops),
		cmocka_unit_test(test_commit_stops),
		cmocka_unit_test(test_out_high),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_submission),
		cmocka_unit_test(test_auth_line_length),
		cmocka_unit_test(test_auth_check_stops),
		cmocka_unit_test(test_starttls_stops),
		cmocka_unit_test(test_coverage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
