/*
 * probe - `tern probe HOST[:PORT] --from A --to B`: walk through a real
 * SMTP dialogue with a server and say whether it would accept the mail.
 *
 * Prints every command and reply, each reply followed by a one-line
 * explanation from the knowledge base, then a verdict. The dialogue:
 * greeting, EHLO (HELO if refused), MAIL, one RCPT per --to, with --data
 * DATA and a short test message, then QUIT. Without --data nothing is
 * sent: the transaction ends with QUIT before DATA.
 *
 * Whether STARTTLS is offered is always reported; with --starttls it is
 * done (and EHLO repeated), with --tls the session is in TLS from the
 * start. Either way the TLS version and cipher, the certificate's
 * subject, issuer and expiry and whether it verifies (against the system
 * store or --tls-ca, and for the host name) are printed. A certificate
 * that does not verify does not stop the probe, but --auth-user (AUTH
 * PLAIN or LOGIN, inside TLS only) then refuses to send the password
 * unless --tls-no-verify is given.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "smtpc.h"
#include "../explain/kb.h"
#include "../lib/buf.h"
#include "../lib/util.h"

#define TO_MAX 100

const char probe_usage[] =
    "usage: tern probe HOST[:PORT] --to ADDR [--to ADDR...] [--from ADDR]\n"
    "                  [--data] [--helo NAME] [--timeout SECONDS]\n"
    "                  [--starttls | --tls] [--tls-ca FILE] [--tls-no-verify]\n"
    "                  [--auth-user USER [--auth-password-file FILE]]\n"
    "\n"
    "Talk SMTP with a server step by step (greeting, EHLO, MAIL, RCPT,\n"
    "optionally DATA with a test message, QUIT), print each command and\n"
    "reply with a one-line explanation, and a verdict: would this mail be\n"
    "accepted, and if not, why. HOST may be a name, an IPv4 address or\n"
    "[IPv6]; PORT defaults to 25.\n"
    "\n"
    "Options:\n"
    "  --from ADDR     envelope sender (default: user@hostname; \"\" for <>)\n"
    "  --to ADDR       recipient to try (repeat for several)\n"
    "  --data          also send DATA and a short test message: the mail\n"
    "                  is really delivered if the server accepts it\n"
    "  --helo NAME     name to give in EHLO (default: this host's name)\n"
    "  --timeout SECS  how long to wait for each reply (default: 30)\n"
    "  --starttls      do STARTTLS when offered and show the TLS session\n"
    "                  and the server's certificate\n"
    "  --tls           TLS from the start (port 465 by default)\n"
    "  --tls-ca FILE   check the certificate against the CAs in FILE\n"
    "  --tls-no-verify log in even if the certificate does not verify\n"
    "  --auth-user USER  log in (needs TLS); the password is read from\n"
    "                  $TERN_SMTP_PASSWORD or --auth-password-file FILE\n"
    "\n"
    "Exit status: 0 the mail would be accepted; 75 temporary refusal or no\n"
    "connection; 69 permanent refusal or TLS failure; 77 login refused;\n"
    "76 protocol error; 64 usage.\n";

struct probe {
	struct smtpc c;
	struct smtpc_reply r;
	struct smtpc_reply ehlo;
	int color;
};

/* the TLS session and the certificate, under the handshake */
static void
tls_report(struct probe *p, const struct smtpc_tls_opts *o)
{
	char b[1200];

	smtpc_tls_summary(&p->c, b, sizeof(b));
	printf("    TLS: %s\n", b);
	smtpc_cert_summary(&p->c, b, sizeof(b));
	printf("    certificate: %s\n", b);
	if (p->c.verified)
		printf("    certificate check: verified (trusted by %s, valid "
		    "for %s)\n", o->ca_file ? o->ca_file : "the system store",
		    p->c.host);
	else
		printf("    certificate check: FAILED: %s (checked against "
		    "%s, for %s)\n", p->c.verify_err, o->ca_file ? o->ca_file :
		    "the system store", p->c.host);
}

static void
trace(void *arg, int dir, const char *line, size_t len)
{
	struct probe *p = arg;

	if (dir == '>' && len == 1 && line[0] == '.') {
		printf(">>> (test message, then \".\")\n");
		return;
	}
	printf("%s %.*s\n", dir == '>' ? ">>>" : "<<<", (int)len, line);
	(void)p;
}

static const char *
word_of(enum kb_verdict v)
{
	switch (v) {
	case KB_V_DELIVERED:
		return "ok";
	case KB_V_INTERMEDIATE:
		return "go on";
	case KB_V_RETRY:
		return "temporary failure";
	case KB_V_FAILED:
		return "permanent failure";
	default:
		return "invalid reply";
	}
}

/* one line under each reply: what it means */
static void
explain_reply(const struct smtpc_reply *r)
{
	const char *esc = r->esc[0] ? r->esc : NULL;

	printf("    = %s (%s)\n", kb_short(r->code, esc),
	    word_of(kb_verdict_of(r->code, esc)));
}

/* send cmd, read and explain the reply; -1 if the dialogue broke */
static int
step(struct probe *p, const char *cmd, char *err, size_t errlen)
{
	if (cmd != NULL && smtpc_command(&p->c, cmd, err, errlen) < 0)
		return -1;
	if (smtpc_read_reply(&p->c, &p->r, err, errlen) < 0)
		return -1;
	explain_reply(&p->r);
	return 0;
}

static void
verdict(struct probe *p, int rc, const char *what)
{
	const char *color = NULL;

	if (p->color)
		color = rc == EX_OK ? "\033[1;32m" : rc == EX_TEMPFAIL ?
		    "\033[1;33m" : "\033[1;31m";
	printf("\n%sVerdict:%s %s\n", color ? color : "",
	    color ? "\033[0m" : "", what);
}

static int
quit(struct probe *p)
{
	char err[256];

	if (smtpc_command(&p->c, "QUIT", err, sizeof(err)) == 0 &&
	    smtpc_read_reply(&p->c, &p->r, err, sizeof(err)) == 0)
		explain_reply(&p->r);
	smtpc_close(&p->c);
	return 0;
}

/* the verdict for a refusal: the last reply, to what */
static int
refused(struct probe *p, const char *what)
{
	struct kb_view v;
	char line[1024], esc[sizeof(p->r.esc)];
	int rc, code = p->r.code;

	memcpy(esc, p->r.esc, sizeof(esc));
	kb_view(code, esc[0] ? esc : NULL, &v);
	rc = code / 100 == 4 ? EX_TEMPFAIL : code / 100 == 5 ?
	    EX_UNAVAILABLE : EX_PROTOCOL;
	quit(p);
	snprintf(line, sizeof(line), "this mail would NOT be accepted: %s was "
	    "refused with %d%s%s, %s: %s.", what, code, esc[0] ? " " : "", esc,
	    rc == EX_TEMPFAIL ? "a temporary failure (a mail server would "
	    "retry later)" : rc == EX_UNAVAILABLE ? "a permanent failure" :
	    "which is not a valid reply", v.summary);
	verdict(p, rc, line);
	printf("What to do: %s\n", v.sender);
	return rc;
}

static void
test_message(struct buf *b, const char *from, char **to, int nto,
    const char *host)
{
	char date[64], id[64];
	struct tm tm;
	time_t now = time(NULL);
	uint32_t rnd = 0;
	int i;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	strftime(id, sizeof(id), "%Y%m%d%H%M%S", &tm);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)now ^ (uint32_t)getpid();
	buf_printf(b, "From: <%s>\r\nTo: ", from[0] ? from : "MAILER-DAEMON");
	for (i = 0; i < nto; i++)
		buf_printf(b, "%s<%s>", i ? ", " : "", to[i]);
	buf_printf(b, "\r\nSubject: tern probe test message\r\nDate: %s\r\n"
	    "Message-ID: <probe.%s.%08x@%s>\r\n\r\n"
	    "This is a test message sent by `tern probe` to check that this\r\n"
	    "server accepts mail. It can be deleted.\r\n", date, id, rnd, host);
}

/* probe_main - `tern probe`; argv[0] is "probe" */
int
probe_main(int argc, char **argv)
{
	struct probe *p;
	const char *target = NULL, *from = NULL, *helo = NULL;
	char *to[TO_MAX];
	int nto = 0, data = 0, timeout = 30, i, rc = EX_OK, accepted = 0;
	char err[512], cmd[1200], host[256], from_buf[600], what[700];
	struct buf msg;
	int starttls = 0, tls = 0, no_verify = 0, k;
	const char *auth_user = NULL, *pwfile = NULL, *pw;
	struct smtpc_tls_opts tlso = { 0 };
	char pass[512] = "";

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--data") == 0) {
			data = 1;
		} else if (strcmp(a, "--starttls") == 0) {
			starttls = 1;
		} else if (strcmp(a, "--tls") == 0) {
			tls = 1;
		} else if (strcmp(a, "--tls-no-verify") == 0) {
			no_verify = 1;
		} else if (strcmp(a, "--tls-ca") == 0 ||
		    strcmp(a, "--auth-user") == 0 ||
		    strcmp(a, "--auth-password-file") == 0) {
			if (v == NULL) {
				fprintf(stderr,
				    "tern probe: %s needs a value\n", a);
				return EX_USAGE;
			}
			i++;
			if (a[2] == 't')
				tlso.ca_file = v;
			else if (a[7] == 'u')
				auth_user = v;
			else
				pwfile = v;
		} else if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 ||
		    strcmp(a, "--helo") == 0 || strcmp(a, "--timeout") == 0) {
			if (v == NULL) {
				fprintf(stderr,
				    "tern probe: %s needs a value\n", a);
				return EX_USAGE;
			}
			i++;
			if (strpbrk(v, "\r\n<>") != NULL) {
				fprintf(stderr,
				    "tern probe: bad value for %s\n", a);
				return EX_USAGE;
			}
			if (a[2] == 'f')
				from = v;
			else if (a[2] == 'h')
				helo = v;
			else if (a[2] == 't' && a[3] == 'i')
				timeout = atoi(v);
			else if (nto < TO_MAX)
				to[nto++] = (char *)v;
			else {
				fprintf(stderr, "tern probe: at most %d --to\n",
				    TO_MAX);
				return EX_USAGE;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "tern probe: unknown option %s\n%s", a,
			    probe_usage);
			return EX_USAGE;
		} else if (target == NULL) {
			target = a;
		} else {
			fprintf(stderr, "tern probe: one server only\n");
			return EX_USAGE;
		}
	}
	if (target == NULL || nto == 0) {
		fprintf(stderr, "tern probe: need a server and at least one "
		    "--to\n%s", probe_usage);
		return EX_USAGE;
	}
	if (timeout <= 0 || timeout > 3600) {
		fprintf(stderr, "tern probe: --timeout must be 1..3600 "
		    "seconds\n");
		return EX_USAGE;
	}
	if (starttls && tls) {
		fprintf(stderr, "tern probe: --starttls and --tls exclude each "
		    "other\n");
		return EX_USAGE;
	}
	tlso.verify = 0; /* reported, not enforced: this is a diagnosis */
	if (auth_user != NULL) {
		if (!starttls && !tls) {
			fprintf(stderr, "tern probe: --auth-user needs "
			    "--starttls or --tls (the password is only sent "
			    "encrypted)\n");
			return EX_USAGE;
		}
		if (*auth_user == '\0' || strpbrk(auth_user, "\r\n")) {
			fprintf(stderr, "tern probe: bad --auth-user\n");
			return EX_USAGE;
		}
		if (pwfile != NULL) {
			if (smtpc_read_secret(pwfile, pass, sizeof(pass), err,
			    sizeof(err)) < 0) {
				fprintf(stderr, "tern probe: %s\n", err);
				return EX_USAGE;
			}
		} else if ((pw = getenv("TERN_SMTP_PASSWORD")) != NULL &&
		    strlen(pw) < sizeof(pass)) {
			snprintf(pass, sizeof(pass), "%s", pw);
		} else {
			fprintf(stderr, "tern probe: --auth-user needs the "
			    "password in $TERN_SMTP_PASSWORD or a "
			    "--auth-password-file\n");
			return EX_USAGE;
		}
	} else if (pwfile != NULL) {
		fprintf(stderr, "tern probe: --auth-password-file without "
		    "--auth-user\n");
		return EX_USAGE;
	}
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (helo == NULL)
		helo = host;
	if (from == NULL) {
		const char *u = getenv("LOGNAME");

		if (u == NULL || *u == '\0')
			u = getenv("USER");
		snprintf(from_buf, sizeof(from_buf), "%.200s@%.200s",
		    u != NULL && *u != '\0' ? u : "nobody", host);
		from = from_buf;
	}

	p = xcalloc(1, sizeof(*p));
	p->color = cli_color(stdout);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("Connecting to %s ...\n", target);
	if (smtpc_connect(&p->c, target, tls ? "465" : "25", timeout * 1000,
	    err, sizeof(err)) < 0) {
		verdict(p, EX_TEMPFAIL, "no SMTP dialogue possible: ");
		printf("%s.\nWhat to do: check the host name and port, that "
		    "the server runs, and that no firewall blocks the "
		    "port.\n", err);
		free(p);
		return EX_TEMPFAIL;
	}
	printf("Connected to %s.\n", p->c.peer);
	p->c.trace = trace;
	p->c.trace_arg = p;
	if (tls) {
		printf("Starting TLS (implicit TLS, RFC 8314) ...\n");
		if ((k = smtpc_tls_handshake(&p->c, &tlso, err,
		    sizeof(err))) == -1)
			goto broken;
		if (k < 0)
			goto tls_failed;
		tls_report(p, &tlso);
	}

	if (step(p, NULL, err, sizeof(err)) < 0)
		goto broken;
	if (p->r.code / 100 != 2) {
		rc = refused(p, "the connection (greeting)");
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "EHLO %s", helo);
	if (step(p, cmd, err, sizeof(err)) < 0)
		goto broken;
	if (p->r.code / 100 != 2) {
		snprintf(cmd, sizeof(cmd), "HELO %s", helo);
		if (step(p, cmd, err, sizeof(err)) < 0)
			goto broken;
		if (p->r.code / 100 != 2) {
			rc = refused(p, "HELO");
			goto out;
		}
		p->ehlo.text[0] = '\0';
	} else if (tls) {
		memcpy(&p->ehlo, &p->r, sizeof(p->ehlo));
	} else if (!smtpc_has_ext(&p->r, "STARTTLS")) {
		printf("    STARTTLS: not offered, the mail would travel "
		    "unencrypted\n");
		memcpy(&p->ehlo, &p->r, sizeof(p->ehlo));
	} else if (!starttls) {
		printf("    STARTTLS: offered (not tried; use --starttls to "
		    "try it)\n");
		memcpy(&p->ehlo, &p->r, sizeof(p->ehlo));
	} else {
		printf("    STARTTLS: offered, trying it\n");
		k = smtpc_starttls(&p->c, &tlso, &p->r, err, sizeof(err));
		if (p->r.code != 0 && k != -1)
			explain_reply(&p->r);
		if (k == -3) {
			rc = refused(p, "STARTTLS");
			goto out;
		}
		if (k == -1)
			goto broken;
		if (k < 0)
			goto tls_failed;
		tls_report(p, &tlso);
		if (step(p, cmd, err, sizeof(err)) < 0)
			goto broken;
		if (p->r.code / 100 != 2) {
			rc = refused(p, "EHLO after STARTTLS");
			goto out;
		}
		memcpy(&p->ehlo, &p->r, sizeof(p->ehlo));
	}
	if (auth_user != NULL) {
		if (p->c.ssl == NULL) {
			quit(p);
			verdict(p, EX_UNAVAILABLE, "not logging in: the server "
			    "does not offer STARTTLS, and the password is only "
			    "sent encrypted.");
			rc = EX_UNAVAILABLE;
			goto out;
		}
		if (!p->c.verified && !no_verify) {
			quit(p);
			snprintf(what, sizeof(what), "not logging in: the "
			    "server's certificate does not verify (%s). Use "
			    "--tls-ca FILE for a private CA, or --tls-no-verify "
			    "to log in anyway.", p->c.verify_err);
			verdict(p, EX_UNAVAILABLE, what);
			rc = EX_UNAVAILABLE;
			goto out;
		}
		k = smtpc_auth(&p->c, &p->ehlo, auth_user, pass, &p->r, err,
		    sizeof(err));
		OPENSSL_cleanse(pass, sizeof(pass));
		if (k == -1)
			goto broken;
		if (k < 0) {
			quit(p);
			snprintf(what, sizeof(what), "cannot log in: %s.", err);
			verdict(p, EX_UNAVAILABLE, what);
			rc = EX_UNAVAILABLE;
			goto out;
		}
		explain_reply(&p->r);
		if (p->r.code != 235) {
			rc = refused(p, "the login (AUTH)");
			if (rc == EX_UNAVAILABLE)
				rc = EX_NOPERM;
			goto out;
		}
	}
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", from);
	if (step(p, cmd, err, sizeof(err)) < 0)
		goto broken;
	if (p->r.code / 100 != 2) {
		snprintf(what, sizeof(what), "the sender <%s>", from);
		rc = refused(p, what);
		goto out;
	}
	for (i = 0; i < nto; i++) {
		snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", to[i]);
		if (step(p, cmd, err, sizeof(err)) < 0)
			goto broken;
		if (p->r.code / 100 != 2) {
			snprintf(what, sizeof(what), "the recipient <%s>",
			    to[i]);
			rc = refused(p, what);
			goto out;
		}
		accepted++;
	}
	if (data) {
		if (step(p, "DATA", err, sizeof(err)) < 0)
			goto broken;
		if (p->r.code != 354) {
			rc = refused(p, "DATA");
			goto out;
		}
		buf_init(&msg, 0);
		test_message(&msg, from, to, nto, host);
		if (smtpc_data(&p->c, msg.data, msg.len, err,
		    sizeof(err)) < 0 ||
		    step(p, NULL, err, sizeof(err)) < 0) {
			buf_free(&msg);
			goto broken;
		}
		buf_free(&msg);
		if (p->r.code / 100 != 2) {
			rc = refused(p, "the message");
			goto out;
		}
	}
	quit(p);
	snprintf(what, sizeof(what), "this mail would be accepted: the server "
	    "took the sender and %s recipient%s%s.", accepted == 1 ? "the" :
	    "all", accepted == 1 ? "" : "s", data ? " and the test message "
	    "(it was delivered)" : " (no message was sent; use --data to "
	    "test the message too)");
	verdict(p, EX_OK, what);
	goto out;
broken:
	smtpc_close(&p->c);
	rc = strstr(err, "not an SMTP reply") != NULL ||
	    strstr(err, "changed the reply code") != NULL ? EX_PROTOCOL :
	    EX_TEMPFAIL;
	snprintf(what, sizeof(what), "the dialogue broke off: %s. %s", err,
	    rc == EX_TEMPFAIL ? "This is a temporary failure; a mail server "
	    "would retry later." : "The server does not speak SMTP correctly.");
	verdict(p, rc, what);
	goto out;
tls_failed:
	smtpc_close(&p->c);
	snprintf(what, sizeof(what), "TLS failed: %s.", err);
	verdict(p, EX_UNAVAILABLE, what);
	rc = EX_UNAVAILABLE;
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	free(p);
	return rc;
}
