/*
 * send - `tern send` (and `sendmail`): submit one message read from
 * standard input to an SMTP server, by default the local ternd.
 *
 * Sendmail-compatible basics: recipients as arguments, -t (recipients
 * from To/Cc/Bcc), -i/-oi (a lone "." does not end input), -f sender,
 * -F full name; common no-op options are accepted and ignored. Missing
 * Date:, Message-ID: and From: headers are added; Bcc: is removed.
 *
 * Nothing is queued locally: the message is either accepted by the server
 * (exit 0) or not sent at all. If any recipient is refused, the
 * transaction is abandoned so that no one gets the mail and a retry
 * cannot duplicate it. Exit codes follow sysexits.h: EX_TEMPFAIL on 4xx
 * or when the server cannot be reached, EX_NOUSER, EX_DATAERR or
 * EX_UNAVAILABLE on 5xx, EX_USAGE for bad arguments.
 *
 * --starttls / --tls encrypt the session (STARTTLS after EHLO, or TLS
 * from the start on a submissions port); the server's certificate must
 * verify against the system store or --tls-ca unless --tls-no-verify.
 * --auth-user logs in (AUTH PLAIN or LOGIN) inside TLS only; the
 * password comes from $TERN_SMTP_PASSWORD or --auth-password-file, never
 * from the command line. A refused login ends with EX_NOPERM.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "smtpc.h"
#include "../explain/kb.h"
#include "../lib/buf.h"
#include "../lib/util.h"

#define MSG_MAX (256u << 20)
#define RCPT_MAX 10000
#define ADDR_MAX 512
#define TIMEOUT_MS (300 * 1000) /* RFC 5321 4.5.3.2: 5 min per command */

const char send_usage[] =
    "usage: tern send [options] [recipient ...] < message\n"
    "       sendmail [options] [recipient ...] < message\n"
    "\n"
    "Submit a message to an SMTP server (the local ternd by default).\n"
    "\n"
    "Options:\n"
    "  -t            also take recipients from the To:, Cc: and Bcc:\n"
    "                headers (Bcc: is removed from the message)\n"
    "  -i, -oi       a line holding only \".\" does not end the message\n"
    "  -f ADDR       envelope sender (MAIL FROM); \"<>\" for none\n"
    "  -r ADDR       same as -f\n"
    "  -F NAME       full name for an added From: header\n"
    "  -S HOST:PORT  server to submit to (default: $TERN_SMTP_SERVER,\n"
    "                else 127.0.0.1:25); [v6addr]:port for IPv6\n"
    "  -v            show the SMTP dialogue on standard error\n"
    "  --starttls    require STARTTLS (fail if the server lacks it)\n"
    "  --tls         TLS from the start (submissions, port 465 by default)\n"
    "  --tls-ca FILE trust the CAs in FILE instead of the system's\n"
    "  --tls-no-verify  do not check the server's certificate\n"
    "  --auth-user USER  log in (AUTH PLAIN/LOGIN; needs --starttls or\n"
    "                --tls); the password is read from $TERN_SMTP_PASSWORD\n"
    "                or from the first line of --auth-password-file FILE\n"
    "Accepted and ignored: -bm -U -odb -odi -odq -oem -oep -oeq -oew\n"
    "-N dsn -R ret -V envid. Not supported: -bs -bd -bp -q and the rest.\n"
    "\n"
    "Exit status (sysexits.h): 0 sent; 75 temporary failure or server\n"
    "unreachable (the message was NOT queued); 67 recipient unknown;\n"
    "65 message or sender refused; 69 other permanent refusal (also no\n"
    "STARTTLS or a certificate that does not verify); 77 login refused;\n"
    "64 usage; 76 the server broke the protocol.\n";

struct send_opts {
	int extract;   /* -t */
	int ignore_dot; /* -i */
	int verbose;
	const char *from;
	const char *fullname;
	const char *server;
	int starttls;  /* --starttls */
	int tls;       /* --tls: implicit TLS */
	struct smtpc_tls_opts tlso;
	const char *auth_user;
	char pass[512];
};

struct rcpts {
	char **v;
	size_t n;
};

enum stage { ST_CONNECT, ST_GREETING, ST_EHLO, ST_STARTTLS, ST_AUTH,
	ST_MAIL, ST_RCPT, ST_DATA, ST_END };

static const char *const stage_cmd[] = {
	[ST_CONNECT] = "connect", [ST_GREETING] = "the greeting",
	[ST_EHLO] = "EHLO", [ST_STARTTLS] = "STARTTLS", [ST_AUTH] = "AUTH",
	[ST_MAIL] = "MAIL FROM:", [ST_RCPT] = "RCPT TO:",
	[ST_DATA] = "DATA", [ST_END] = "the end of the message",
};

static int
add_rcpt(struct rcpts *r, const char *a, size_t n)
{
	size_t i;
	char *s;

	while (n > 0 && isspace((unsigned char)*a)) {
		a++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)a[n - 1]))
		n--;
	if (n == 0)
		return 0;
	if (n >= ADDR_MAX || memchr(a, '\r', n) || memchr(a, '\n', n) ||
	    memchr(a, '<', n) || memchr(a, '>', n)) {
		fprintf(stderr, "tern send: bad recipient address \"%.*s\"\n",
		    (int)(n > 80 ? 80 : n), a);
		return -1;
	}
	for (i = 0; i < r->n; i++)
		if (strlen(r->v[i]) == n && memcmp(r->v[i], a, n) == 0)
			return 0;
	if (r->n >= RCPT_MAX) {
		fprintf(stderr, "tern send: more than %d recipients\n",
		    RCPT_MAX);
		return -1;
	}
	s = xstrndup(a, n);
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n++] = s;
	return 0;
}

/*
 * add the addresses of an RFC 5322 address list: "Name <a@b>, c@d,
 * group: e@f, g@h;" with quoted strings and comments.
 */
static int
add_list(struct rcpts *r, const char *s, size_t n)
{
	size_t i, lt = 0;
	int q = 0, depth = 0, in_angle = 0;
	char item[ADDR_MAX * 2];
	size_t il = 0;

	for (i = 0; i <= n; i++) {
		char ch = i < n ? s[i] : ',';

		if (q) {
			if (ch == '\\' && i + 1 < n)
				i++;
			else if (ch == '"')
				q = 0;
			continue;
		}
		if (depth > 0) {
			if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
			continue;
		}
		switch (ch) {
		case '"':
			q = 1;
			continue;
		case '(':
			depth = 1;
			continue;
		case '<':
			in_angle = 1;
			lt = i + 1;
			il = 0;
			continue;
		case '>':
			if (in_angle) {
				in_angle = 0;
				if (add_rcpt(r, s + lt, i - lt) < 0)
					return -1;
				il = (size_t)-1; /* done with this item */
			}
			continue;
		case ':':
			if (!in_angle) { /* group name */
				il = 0;
				continue;
			}
			break;
		case ',':
		case ';':
			if (in_angle)
				break;
			if (il != (size_t)-1 && il > 0 &&
			    add_rcpt(r, item, il) < 0)
				return -1;
			il = 0;
			continue;
		}
		if (!in_angle && il != (size_t)-1 && il < sizeof(item) &&
		    !isspace((unsigned char)ch))
			item[il++] = ch;
	}
	return 0;
}

/* a header field of the message, unfolded view into the raw bytes */
struct hdr {
	const char *name;
	size_t nlen;
	const char *val; /* raw, may contain folding */
	size_t vlen;
	size_t start, end; /* offsets of the whole field, end after its LF */
};

#define HDR_MAX 1000

/*
 * find the header fields of msg; returns the offset where the body starts
 * (after the empty line), or 0 when the message has no header section
 */
static size_t
scan_headers(const char *msg, size_t len, struct hdr *h, size_t *nh)
{
	size_t pos = 0, e, k;

	*nh = 0;
	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);

		e = nl != NULL ? (size_t)(nl - msg) + 1 : len;
		if (msg[pos] == '\n' || (msg[pos] == '\r' && pos + 1 < len &&
		    msg[pos + 1] == '\n'))
			return e; /* the empty line */
		if (msg[pos] == ' ' || msg[pos] == '\t') {
			if (*nh == 0)
				return 0;
			h[*nh - 1].vlen = (size_t)(nl ? nl - h[*nh - 1].val :
			    (long)(len - (size_t)(h[*nh - 1].val - msg)));
			h[*nh - 1].end = e;
			pos = e;
			continue;
		}
		for (k = pos; k < e && msg[k] != ':' && msg[k] > ' ' &&
		    msg[k] < 127; k++)
			;
		if (k == pos || k >= e || msg[k] != ':')
			return *nh == 0 ? 0 : pos; /* not a header: body */
		if (*nh < HDR_MAX) {
			h[*nh].name = msg + pos;
			h[*nh].nlen = k - pos;
			h[*nh].val = msg + k + 1;
			h[*nh].vlen = (nl ? (size_t)(nl - msg) : len) - k - 1;
			h[*nh].start = pos;
			h[*nh].end = e;
			(*nh)++;
		}
		pos = e;
	}
	return len;
}

static int
hname(const struct hdr *h, const char *name)
{
	return h->nlen == strlen(name) &&
	    str_ncasecmp_ascii(h->name, name, h->nlen) == 0;
}

static void
local_identity(char *user, size_t ulen, char *host, size_t hlen)
{
	const char *u = getenv("LOGNAME");
	struct passwd *pw;

	if (u == NULL || *u == '\0')
		u = getenv("USER");
	if ((u == NULL || *u == '\0') && (pw = getpwuid(getuid())) != NULL)
		u = pw->pw_name;
	snprintf(user, ulen, "%s", u != NULL && *u != '\0' ? u : "nobody");
	if (gethostname(host, hlen) < 0 || host[0] == '\0')
		snprintf(host, hlen, "localhost");
	host[hlen - 1] = '\0';
}

/* print the server's reply and what it means, for a failure */
static void
report(const char *peer, enum stage st, const char *arg,
    const struct smtpc_reply *r)
{
	struct kb_view v;
	const char *p, *nl;

	fprintf(stderr, "tern send: %s refused %s%s:\n", peer,
	    stage_cmd[st], arg ? arg : "");
	for (p = r->text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		fprintf(stderr, "  %.*s\n",
		    (int)(nl ? nl - p : (long)strlen(p)), p);
		if (nl == NULL)
			break;
	}
	kb_view(r->code, r->esc[0] ? r->esc : NULL, &v);
	fprintf(stderr, "  This means: %s (%s).\n", v.summary,
	    v.verdict == KB_V_RETRY ? "a temporary failure" :
	    v.verdict == KB_V_FAILED ? "a permanent failure" :
	    "not a valid refusal");
	/* nothing retries for us: tern send does not queue */
	fprintf(stderr, "  What to do: %s\n", v.verdict == KB_V_RETRY ?
	    "send the message again later." : v.sender);
}

/* the exit status for a refusal with reply r at stage st */
static int
exit_for(enum stage st, const struct smtpc_reply *r)
{
	struct kb_esc_code c;
	int subject = -1, detail = -1;

	if (r->code / 100 == 4)
		return EX_TEMPFAIL;
	if (r->code / 100 != 5)
		return EX_PROTOCOL;
	if (r->esc[0] != '\0' &&
	    kb_esc_parse(r->esc, strlen(r->esc), &c) == 0) {
		subject = c.subject;
		detail = c.detail;
	}
	switch (st) {
	case ST_RCPT:
		if (subject == 1 || (subject < 0 && (r->code == 550 ||
		    r->code == 551 || r->code == 553)))
			return EX_NOUSER;
		return EX_UNAVAILABLE;
	case ST_MAIL:
		if (subject == 1 || subject == 5 || (subject < 0 &&
		    (r->code == 553 || r->code == 501)))
			return EX_DATAERR;
		return EX_UNAVAILABLE;
	case ST_DATA:
	case ST_END:
		if (r->code == 552 || subject == 6 || (subject == 3 &&
		    detail == 4) || (subject == 2 && detail == 3))
			return EX_DATAERR;
		return EX_UNAVAILABLE;
	case ST_AUTH:
		return EX_NOPERM;
	default:
		return EX_UNAVAILABLE;
	}
}

static void
trace(void *arg, int dir, const char *line, size_t len)
{
	(void)arg;
	fprintf(stderr, "%s %.*s\n", dir == '>' ? ">>>" : "<<<", (int)len,
	    line);
}

static int
not_sent(int rc)
{
	if (rc == EX_TEMPFAIL)
		fprintf(stderr, "tern send: the message was NOT sent and NOT "
		    "queued; send it again later.\n");
	else
		fprintf(stderr, "tern send: the message was NOT sent to "
		    "anyone.\n");
	return rc;
}

static void
tls_note(const struct send_opts *o, const struct smtpc *c)
{
	char b[1200];

	if (!o->verbose)
		return;
	smtpc_tls_summary(c, b, sizeof(b));
	fprintf(stderr, "*** TLS: %s\n", b);
	smtpc_cert_summary(c, b, sizeof(b));
	fprintf(stderr, "*** certificate: %s (%s)\n", b, c->verified ?
	    "verified" : c->verify_err);
}

static int
dialogue(const struct send_opts *o, const char *sender,
    const struct rcpts *rc, const struct buf *msg, const char *helo)
{
	struct smtpc c;
	struct smtpc_reply *r, *ehlo;
	char err[512], cmd[ADDR_MAX + 128];
	int eight = 0, utf8 = 0, rv = EX_OK, refused = 0;
	size_t i;
	enum stage st = ST_CONNECT;
	int k;

	r = xmalloc(sizeof(*r));
	ehlo = xmalloc(sizeof(*ehlo));
	for (i = 0; i < msg->len; i++)
		if ((unsigned char)msg->data[i] >= 0x80)
			eight = 1;
	for (i = 0; i < rc->n; i++)
		for (const char *p = rc->v[i]; *p; p++)
			if ((unsigned char)*p >= 0x80)
				utf8 = 1;
	for (const char *p = sender; *p; p++)
		if ((unsigned char)*p >= 0x80)
			utf8 = 1;

	if (smtpc_connect(&c, o->server, o->tls ? "465" : "25", TIMEOUT_MS,
	    err, sizeof(err)) < 0) {
		fprintf(stderr, "tern send: %s\n", err);
		rv = not_sent(EX_TEMPFAIL);
		goto out;
	}
	if (o->verbose) {
		c.trace = trace;
		fprintf(stderr, "*** connected to %s\n", c.peer);
	}
	if (o->tls) {
		if ((k = smtpc_tls_handshake(&c, &o->tlso, err,
		    sizeof(err))) == -1)
			goto broken;
		if (k < 0)
			goto tls_failed;
		tls_note(o, &c);
	}
	st = ST_GREETING;
	if (smtpc_read_reply(&c, r, err, sizeof(err)) < 0)
		goto broken;
	if (r->code / 100 != 2)
		goto refused;
	st = ST_EHLO;
	snprintf(cmd, sizeof(cmd), "EHLO %s", helo);
	if (smtpc_command(&c, cmd, err, sizeof(err)) < 0 ||
	    smtpc_read_reply(&c, ehlo, err, sizeof(err)) < 0)
		goto broken;
	if (ehlo->code / 100 != 2) {
		/* RFC 5321 3.2: an old server may know only HELO */
		snprintf(cmd, sizeof(cmd), "HELO %s", helo);
		if (smtpc_command(&c, cmd, err, sizeof(err)) < 0 ||
		    smtpc_read_reply(&c, r, err, sizeof(err)) < 0)
			goto broken;
		if (r->code / 100 != 2)
			goto refused;
		ehlo->text[0] = '\0';
	}
	if (o->starttls) {
		st = ST_STARTTLS;
		if (!smtpc_has_ext(ehlo, "STARTTLS")) {
			fprintf(stderr, "tern send: %s does not offer STARTTLS, "
			    "and --starttls requires it\n", c.peer);
			rv = EX_UNAVAILABLE;
			goto quit;
		}
		k = smtpc_starttls(&c, &o->tlso, r, err, sizeof(err));
		if (k == -3)
			goto refused;
		if (k == -1)
			goto broken;
		if (k < 0)
			goto tls_failed;
		tls_note(o, &c);
		/* RFC 3207 4.2: forget what was learnt before TLS */
		st = ST_EHLO;
		snprintf(cmd, sizeof(cmd), "EHLO %s", helo);
		if (smtpc_command(&c, cmd, err, sizeof(err)) < 0 ||
		    smtpc_read_reply(&c, ehlo, err, sizeof(err)) < 0)
			goto broken;
		if (ehlo->code / 100 != 2) {
			memcpy(r, ehlo, sizeof(*r));
			goto refused;
		}
	}
	if (o->auth_user != NULL) {
		st = ST_AUTH;
		k = smtpc_auth(&c, ehlo, o->auth_user, o->pass, r, err,
		    sizeof(err));
		if (k == -1)
			goto broken;
		if (k < 0) {
			fprintf(stderr, "tern send: cannot log in: %s\n", err);
			rv = EX_UNAVAILABLE;
			goto quit;
		}
		if (r->code != 235)
			goto refused;
		if (o->verbose)
			fprintf(stderr, "*** logged in as %s\n", o->auth_user);
	}
	st = ST_MAIL;
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", sender);
	if (smtpc_has_ext(ehlo, "SIZE"))
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
		    " SIZE=%zu", msg->len);
	if (eight && smtpc_has_ext(ehlo, "8BITMIME"))
		strcat(cmd, " BODY=8BITMIME");
	if (utf8 && smtpc_has_ext(ehlo, "SMTPUTF8"))
		strcat(cmd, " SMTPUTF8");
	if (smtpc_command(&c, cmd, err, sizeof(err)) < 0 ||
	    smtpc_read_reply(&c, r, err, sizeof(err)) < 0)
		goto broken;
	if (r->code / 100 != 2) {
		snprintf(cmd, sizeof(cmd), "<%s>", sender);
		report(c.peer, st, cmd, r);
		rv = exit_for(st, r);
		goto quit;
	}
	st = ST_RCPT;
	for (i = 0; i < rc->n; i++) {
		snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", rc->v[i]);
		if (smtpc_command(&c, cmd, err, sizeof(err)) < 0 ||
		    smtpc_read_reply(&c, r, err, sizeof(err)) < 0)
			goto broken;
		if (r->code / 100 != 2) {
			int e = exit_for(st, r);

			snprintf(cmd, sizeof(cmd), "<%s>", rc->v[i]);
			report(c.peer, st, cmd, r);
			/* a permanent refusal outweighs a temporary one */
			if (!refused || (rv == EX_TEMPFAIL && e != EX_TEMPFAIL))
				rv = e;
			refused = 1;
		}
	}
	if (refused) {
		/* XXX a 452 after some accepted recipients could be split
		 * into a second transaction, as RFC 5321 4.5.3.1.10 allows */
		goto quit;
	}
	st = ST_DATA;
	if (smtpc_command(&c, "DATA", err, sizeof(err)) < 0 ||
	    smtpc_read_reply(&c, r, err, sizeof(err)) < 0)
		goto broken;
	if (r->code != 354)
		goto refused;
	st = ST_END;
	if (smtpc_data(&c, msg->data, msg->len, err, sizeof(err)) < 0 ||
	    smtpc_read_reply(&c, r, err, sizeof(err)) < 0)
		goto broken;
	if (r->code / 100 != 2)
		goto refused;
	if (o->verbose)
		fprintf(stderr, "*** accepted: %s\n", r->text);
	(void)smtpc_command(&c, "QUIT", err, sizeof(err));
	(void)smtpc_read_reply(&c, r, err, sizeof(err));
	smtpc_close(&c);
	goto out;
refused:
	report(c.peer, st, NULL, r);
	rv = exit_for(st, r);
	if (r->code / 100 != 4 && r->code / 100 != 5)
		rv = EX_PROTOCOL;
quit:
	(void)smtpc_command(&c, "QUIT", err, sizeof(err));
	(void)smtpc_read_reply(&c, r, err, sizeof(err));
	smtpc_close(&c);
	rv = not_sent(rv);
	goto out;
broken:
	fprintf(stderr, "tern send: %s (at %s)\n", err, stage_cmd[st]);
	smtpc_close(&c);
	rv = not_sent(strstr(err, "not an SMTP reply") != NULL ||
	    strstr(err, "changed the reply code") != NULL ? EX_PROTOCOL :
	    EX_TEMPFAIL);
	goto out;
tls_failed:
	/* a certificate that does not verify will not fix itself */
	fprintf(stderr, "tern send: %s\n", err);
	smtpc_close(&c);
	rv = not_sent(EX_UNAVAILABLE);
out:
	free(r);
	free(ehlo);
	return rv;
}

static int
read_message(struct buf *b, int ignore_dot)
{
	char line[8192];
	size_t n;

	buf_init(b, MSG_MAX);
	if (ignore_dot) {
		while ((n = fread(line, 1, sizeof(line), stdin)) > 0)
			if (buf_append(b, line, n) < 0)
				return -1;
		return ferror(stdin) ? -1 : 0;
	}
	/* sendmail without -i: a line with only "." ends the message */
	while (fgets(line, sizeof(line), stdin) != NULL) {
		n = strlen(line);
		if (strcmp(line, ".\n") == 0 || strcmp(line, ".\r\n") == 0 ||
		    (strcmp(line, ".") == 0 && feof(stdin)))
			break;
		if (buf_append(b, line, n) < 0)
			return -1;
	}
	return ferror(stdin) ? -1 : 0;
}

/* put "Name" quoted for a From: header when it needs it */
static void
put_display_name(struct buf *b, const char *name)
{
	const char *p;
	int plain = 1;

	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != ' ' && *p != '-' &&
		    (unsigned char)*p < 0x80)
			plain = 0;
	if (plain) {
		buf_puts(b, name);
		return;
	}
	buf_putc(b, '"');
	for (p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(b, '\\');
		if (*p != '\r' && *p != '\n')
			buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

/* send_main - `tern send`; argv[0] is "send" or "sendmail" */
int
send_main(int argc, char **argv)
{
	struct send_opts o = { 0 };
	struct rcpts rc = { NULL, 0 };
	struct buf in, out;
	struct hdr *h;
	size_t nh = 0, body, i;
	int have_from = 0, have_date = 0, have_msgid = 0, k, rv;
	char user[256], host[256], sender[ADDR_MAX], date[64];
	uint32_t rnd = 0;
	struct tm tm;
	time_t now;
	const char *pwfile = NULL, *pw;
	int no_verify = 0;
	char err[512];
	const char *a, *ignored_arg[] = { "-N", "-R", "-V", "-B", "-L", "-X" };
	static const char *const ignored[] = {
		"-bm", "-U", "-odb", "-odi", "-odq", "-odf", "-oem", "-oep",
		"-oeq", "-oew", "-om", "-m", "-n",
	};

	for (k = 1; k < argc; k++) {
		a = argv[k];
		if (strcmp(a, "--") == 0) {
			k++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(send_usage, stdout);
			return EX_OK;
		}
		if (strcmp(a, "-oi") == 0) {
			o.ignore_dot = 1;
			continue;
		}
		if (strcmp(a, "--starttls") == 0) {
			o.starttls = 1;
			continue;
		}
		if (strcmp(a, "--tls") == 0) {
			o.tls = 1;
			continue;
		}
		if (strcmp(a, "--tls-no-verify") == 0) {
			no_verify = 1;
			continue;
		}
		if (strcmp(a, "--tls-ca") == 0 ||
		    strcmp(a, "--auth-user") == 0 ||
		    strcmp(a, "--auth-password-file") == 0) {
			if (++k >= argc)
				goto needarg;
			if (a[2] == 't')
				o.tlso.ca_file = argv[k];
			else if (a[7] == 'u')
				o.auth_user = argv[k];
			else
				pwfile = argv[k];
			continue;
		}
		if (a[1] == '-') {
			fprintf(stderr, "tern send: unknown option %s\n%s", a,
			    send_usage);
			return EX_USAGE;
		}
		for (i = 0; i < ARRAY_LEN(ignored); i++)
			if (strcmp(a, ignored[i]) == 0)
				break;
		if (i < ARRAY_LEN(ignored))
			continue;
		for (i = 0; i < ARRAY_LEN(ignored_arg); i++)
			if (strncmp(a, ignored_arg[i], 2) == 0)
				break;
		if (i < ARRAY_LEN(ignored_arg)) {
			if (a[2] == '\0' && ++k >= argc)
				goto needarg;
			continue;
		}
		if (a[1] == 'f' || a[1] == 'r' || a[1] == 'F' || a[1] == 'S') {
			const char *v = a[2] != '\0' ? a + 2 :
			    k + 1 < argc ? argv[++k] : NULL;

			if (v == NULL)
				goto needarg;
			if (a[1] == 'F')
				o.fullname = v;
			else if (a[1] == 'S')
				o.server = v;
			else
				o.from = v;
			continue;
		}
		if (a[1] == 'b' || a[1] == 'q' || a[1] == 'o' || a[1] == 'O' ||
		    a[1] == 'C' || a[1] == 'd' || a[1] == 'A' || a[1] == 'I') {
			fprintf(stderr, "tern send: option %s is not supported "
			    "(tern send only submits one message read from "
			    "standard input)\n", a);
			return EX_USAGE;
		}
		for (i = 1; a[i] != '\0'; i++) {
			if (a[i] == 't')
				o.extract = 1;
			else if (a[i] == 'i')
				o.ignore_dot = 1;
			else if (a[i] == 'v')
				o.verbose = 1;
			else {
				fprintf(stderr, "tern send: unknown option "
				    "-%c\n%s", a[i], send_usage);
				return EX_USAGE;
			}
		}
	}
	o.tlso.verify = !no_verify;
	if (o.starttls && o.tls) {
		fprintf(stderr, "tern send: --starttls and --tls exclude each "
		    "other\n");
		return EX_USAGE;
	}
	if (o.auth_user != NULL) {
		if (!o.starttls && !o.tls) {
			fprintf(stderr, "tern send: --auth-user needs "
			    "--starttls or --tls (the password is only sent "
			    "encrypted)\n");
			return EX_USAGE;
		}
		if (*o.auth_user == '\0' || strpbrk(o.auth_user, "\r\n")) {
			fprintf(stderr, "tern send: bad --auth-user\n");
			return EX_USAGE;
		}
		if (pwfile != NULL) {
			if (smtpc_read_secret(pwfile, o.pass, sizeof(o.pass),
			    err, sizeof(err)) < 0) {
				fprintf(stderr, "tern send: %s\n", err);
				return EX_USAGE;
			}
		} else if ((pw = getenv("TERN_SMTP_PASSWORD")) != NULL) {
			if (strlen(pw) >= sizeof(o.pass)) {
				fprintf(stderr, "tern send: $TERN_SMTP_PASSWORD "
				    "is too long\n");
				return EX_USAGE;
			}
			snprintf(o.pass, sizeof(o.pass), "%s", pw);
		} else {
			fprintf(stderr, "tern send: --auth-user needs the "
			    "password in $TERN_SMTP_PASSWORD or a "
			    "--auth-password-file\n");
			return EX_USAGE;
		}
	} else if (pwfile != NULL) {
		fprintf(stderr, "tern send: --auth-password-file without "
		    "--auth-user\n");
		return EX_USAGE;
	}
	for (; k < argc; k++) {
		/* sendmail also takes "a@b, c@d" as one argument */
		if (add_list(&rc, argv[k], strlen(argv[k])) < 0)
			return EX_USAGE;
	}
	if (!o.extract && rc.n == 0) {
		fprintf(stderr, "tern send: no recipients (give them as "
		    "arguments, or use -t)\n");
		return EX_USAGE;
	}
	if (o.server == NULL)
		o.server = getenv("TERN_SMTP_SERVER");
	if (o.server == NULL || *o.server == '\0')
		o.server = "127.0.0.1";

	local_identity(user, sizeof(user), host, sizeof(host));
	if (o.from != NULL) {
		a = o.from;
		if (strcmp(a, "<>") == 0)
			a = "";
		if (strlen(a) >= sizeof(sender) || strpbrk(a, "<> \r\n\t")) {
			fprintf(stderr, "tern send: bad sender address "
			    "\"%s\"\n", o.from);
			return EX_USAGE;
		}
		snprintf(sender, sizeof(sender), "%s", a);
	} else {
		snprintf(sender, sizeof(sender), "%.200s@%.200s", user, host);
	}

	if (read_message(&in, o.ignore_dot) < 0) {
		fprintf(stderr, "tern send: reading the message: %s\n",
		    errno == ENOBUFS ? "message too large" : strerror(errno));
		return errno == ENOBUFS ? EX_DATAERR : EX_IOERR;
	}
	/* an mbox "From " line is not part of the message */
	if (in.len >= 5 && memcmp(in.data, "From ", 5) == 0) {
		char *nl = memchr(in.data, '\n', in.len);

		buf_consume(&in, nl ? (size_t)(nl - in.data) + 1 : in.len);
	}
	h = xcalloc(HDR_MAX, sizeof(*h));
	body = scan_headers(in.data ? in.data : "", in.len, h, &nh);
	for (i = 0; i < nh; i++) {
		have_from |= hname(&h[i], "From");
		have_date |= hname(&h[i], "Date");
		have_msgid |= hname(&h[i], "Message-ID");
		if (o.extract && (hname(&h[i], "To") || hname(&h[i], "Cc") ||
		    hname(&h[i], "Bcc")) &&
		    add_list(&rc, h[i].val, h[i].vlen) < 0) {
			rv = EX_DATAERR;
			goto done;
		}
	}
	if (rc.n == 0) {
		fprintf(stderr, "tern send: no recipients found in the "
		    "headers\n");
		rv = EX_USAGE;
		goto done;
	}

	/* the message as sent: added headers, the rest without Bcc */
	buf_init(&out, 0);
	time(&now);
	localtime_r(&now, &tm);
	if (!have_date) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		buf_printf(&out, "Date: %s\r\n", date);
	}
	if (!have_msgid) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)now ^ (uint32_t)getpid();
		strftime(date, sizeof(date), "%Y%m%d%H%M%S", &tm);
		buf_printf(&out, "Message-ID: <%s.%ld.%08x@%s>\r\n", date,
		    (long)getpid(), rnd, host);
	}
	if (!have_from) {
		buf_puts(&out, "From: ");
		if (o.fullname != NULL && *o.fullname != '\0') {
			put_display_name(&out, o.fullname);
			buf_printf(&out, " <%s>\r\n", sender[0] ? sender :
			    "MAILER-DAEMON");
		} else {
			buf_printf(&out, "%s\r\n", sender[0] ? sender :
			    "MAILER-DAEMON");
		}
	}
	if (nh == 0) {
		/* no header section: the input is all body */
		buf_puts(&out, "\r\n");
		buf_append(&out, in.data, in.len);
	} else {
		size_t pos = h[nh - 1].end;

		for (i = 0; i < nh; i++)
			if (!hname(&h[i], "Bcc"))
				buf_append(&out, in.data + h[i].start,
				    h[i].end - h[i].start);
		/* body > pos: the empty line is there; else add one */
		if (body <= pos)
			buf_puts(&out, "\r\n");
		buf_append(&out, in.data + pos, in.len - pos);
	}
	rv = dialogue(&o, sender, &rc, &out, host);
	buf_free(&out);
done:
	OPENSSL_cleanse(o.pass, sizeof(o.pass));
	free(h);
	for (i = 0; i < rc.n; i++)
		free(rc.v[i]);
	free(rc.v);
	buf_free(&in);
	return rv;
needarg:
	fprintf(stderr, "tern send: option %s needs an argument\n",
	    argv[k - 1]);
	return EX_USAGE;
}
