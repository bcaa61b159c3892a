/*
 * smtpc - blocking SMTP client with timeouts.
 *
 * The socket is non-blocking; every read and write first polls with the
 * session's timeout, so a silent or slow server ends in a clear error
 * instead of a hang. Replies are read whole: RFC 5321 4.2.1, lines
 * "code-text" until "code text" (or "code" alone), with the same code on
 * every line. Message data gets CRLF line ends (a bare LF or CR becomes
 * CRLF) and dot-stuffing (RFC 5321 4.5.2), then CRLF.CRLF.
 *
 * With TLS the same non-blocking socket sits under an SSL object; every
 * SSL_read/SSL_write/SSL_connect that wants to wait polls for what it
 * wants (read or write) with the same timeout.
 */
#include "smtpc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../explain/kb.h"

/*
 * smtpc_split_hostport - "host:port", "[v6]:port", "[v6]", "v6addr" (two
 * colons or more: no port) or "host" into host and port (defport when
 * none is given). Returns 0, or -1 when s is malformed.
 */
int
smtpc_split_hostport(const char *s, const char *defport, char *host,
    size_t hostlen, char *port, size_t portlen)
{
	const char *hs = s, *he, *ps = NULL, *colon;

	if (s == NULL || *s == '\0')
		return -1;
	if (*s == '[') {
		hs = s + 1;
		he = strchr(hs, ']');
		if (he == NULL)
			return -1;
		if (he[1] == ':')
			ps = he + 2;
		else if (he[1] != '\0')
			return -1;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			he = colon;
			ps = colon + 1;
		} else {
			he = s + strlen(s);
		}
	}
	if (he == hs || (size_t)(he - hs) >= hostlen)
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (ps == NULL)
		ps = defport;
	if (*ps == '\0' || strlen(ps) >= portlen)
		return -1;
	snprintf(port, portlen, "%s", ps);
	return 0;
}

static int
wait_fd(struct smtpc *c, short events)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	int n;

	do
		n = poll(&p, 1, c->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return n < 0 ? -1 : 0;
}

static int
try_connect(struct smtpc *c, const struct addrinfo *ai)
{
	int fd, soerr = 0;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	c->fd = fd;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		goto fail;
	if (wait_fd(c, POLLOUT) < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		goto fail;
	if (soerr != 0) {
		errno = soerr;
		goto fail;
	}
	return 0;
fail:
	soerr = errno;
	close(fd);
	c->fd = -1;
	errno = soerr;
	return -1;
}

/*
 * smtpc_connect - connect to hostport (see smtpc_split_hostport) trying
 * each address; timeout_ms bounds each wait from now on. Returns 0, or
 * -1 with a message in err.
 */
int
smtpc_connect(struct smtpc *c, const char *hostport, const char *defport,
    int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[32];
	int rc, e = 0;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	if (smtpc_split_hostport(hostport, defport, host, sizeof(host), port,
	    sizeof(port)) < 0) {
		snprintf(err, errlen, "bad server address \"%s\" (want host, "
		    "host:port or [ipv6]:port)", hostport);
		return -1;
	}
	snprintf(c->peer, sizeof(c->peer), "%s port %s", host, port);
	snprintf(c->host, sizeof(c->host), "%s", host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", c->peer,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (try_connect(c, ai) == 0) {
			freeaddrinfo(res);
			return 0;
		}
		e = errno;
	}
	freeaddrinfo(res);
	snprintf(err, errlen, "cannot connect to %s: %s", c->peer,
	    strerror(e));
	return -1;
}

/* the first queued OpenSSL error as text, or what errno says */
static const char *
tls_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return errno != 0 ? strerror(errno) : "connection closed";
	ERR_error_string_n(e, buf, len);
	return buf;
}

/*
 * wait after an SSL call returned rv: 0 to call again, -1 with err set
 * (what: "reading", "sending", "the TLS handshake")
 */
static int
tls_wait(struct smtpc *c, int rv, const char *what, char *err, size_t errlen)
{
	char eb[256];
	int e = SSL_get_error(c->ssl, rv);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) == 0)
			return 0;
		snprintf(err, errlen, "%s from %s: %s", strcmp(what, "reading")
		    == 0 ? "no reply" : "timeout in TLS", c->peer,
		    strerror(errno));
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		snprintf(err, errlen, "%s closed the connection (TLS)",
		    c->peer);
		return -1;
	}
	snprintf(err, errlen, "TLS error with %s while %s: %s", c->peer, what,
	    tls_errstr(eb, sizeof(eb)));
	return -1;
}

/* read what is there (at least one byte); its length, or -1 */
static ssize_t
io_read(struct smtpc *c, char *p, size_t n, char *err, size_t errlen)
{
	ssize_t got;
	int rv;

	if (c->ssl != NULL) {
		for (;;) {
			ERR_clear_error();
			errno = 0;
			rv = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX :
			    (int)n);
			if (rv > 0)
				return rv;
			if (tls_wait(c, rv, "reading", err, errlen) < 0)
				return -1;
		}
	}
	for (;;) {
		if (wait_fd(c, POLLIN) < 0) {
			snprintf(err, errlen, "no reply from %s: %s", c->peer,
			    strerror(errno));
			return -1;
		}
		got = read(c->fd, p, n);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0) {
			snprintf(err, errlen, "%s closed the connection%s%s",
			    c->peer, got < 0 ? ": " : "",
			    got < 0 ? strerror(errno) : "");
			return -1;
		}
		return got;
	}
}

static int
atoi_3(const char *s)
{
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* one line without CR LF into line (cap bytes); its length, or -1 */
static ssize_t
read_line(struct smtpc *c, char *line, size_t cap, char *err, size_t errlen)
{
	char *nl;
	size_t n;
	ssize_t got;

	for (;;) {
		nl = memchr(c->rbuf, '\n', c->rlen);
		if (nl != NULL || c->rlen == sizeof(c->rbuf)) {
			n = nl != NULL ? (size_t)(nl - c->rbuf) : c->rlen;
			/* a line longer than rbuf is cut, the rest is
			 * read as a further line; both stay visible */
			if (n > 0 && c->rbuf[n - 1] == '\r' && nl != NULL)
				n--;
			if (n >= cap)
				n = cap - 1;
			memcpy(line, c->rbuf, n);
			line[n] = '\0';
			n = nl != NULL ? (size_t)(nl - c->rbuf) + 1 : c->rlen;
			memmove(c->rbuf, c->rbuf + n, c->rlen - n);
			c->rlen -= n;
			return (ssize_t)strlen(line);
		}
		got = io_read(c, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen,
		    err, errlen);
		if (got < 0)
			return -1;
		c->rlen += (size_t)got;
	}
}

/*
 * smtpc_read_reply - read one whole reply into r. Returns 0, or -1 on a
 * timeout, a closed connection or a line that is not a reply (err says).
 */
int
smtpc_read_reply(struct smtpc *c, struct smtpc_reply *r, char *err,
    size_t errlen)
{
	char line[1024];
	ssize_t n;
	size_t tl, k;
	int code;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if ((n = read_line(c, line, sizeof(line), err, errlen)) < 0)
			return -1;
		if (c->trace != NULL)
			c->trace(c->trace_arg, '<', line, (size_t)n);
		if (n < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2]) ||
		    (n > 3 && line[3] != ' ' && line[3] != '-')) {
			snprintf(err, errlen, "%s sent a line that is not an "
			    "SMTP reply: \"%.80s\"", c->peer, line);
			return -1;
		}
		code = atoi_3(line);
		if (r->nlines > 0 && code != r->code) {
			snprintf(err, errlen, "%s changed the reply code "
			    "inside a multi-line reply", c->peer);
			return -1;
		}
		r->code = code;
		tl = strlen(r->text);
		if (tl + (size_t)n + 2 < sizeof(r->text)) {
			if (tl > 0)
				r->text[tl++] = '\n';
			memcpy(r->text + tl, line, (size_t)n + 1);
		} else {
			r->truncated = 1;
		}
		/* the enhanced code of this line, if any (RFC 2034) */
		r->esc[0] = '\0';
		if (n > 4) {
			struct kb_esc_code ec;

			k = strcspn(line + 4, " ");
			if (k < sizeof(r->esc) &&
			    kb_esc_parse(line + 4, k, &ec) == 0 &&
			    ec.cls != 0) {
				memcpy(r->esc, line + 4, k);
				r->esc[k] = '\0';
			}
		}
		if (++r->nlines > SMTPC_LINES_MAX * 16) {
			snprintf(err, errlen, "%s sent an endless reply",
			    c->peer);
			return -1;
		}
		if (n == 3 || line[3] == ' ')
			return 0;
	}
}

static int
write_all(struct smtpc *c, const char *p, size_t n, char *err, size_t errlen)
{
	ssize_t w;
	int rv;

	while (c->ssl != NULL && n > 0) {
		ERR_clear_error();
		errno = 0;
		rv = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (rv > 0) {
			p += rv;
			n -= (size_t)rv;
		} else if (tls_wait(c, rv, "sending", err, errlen) < 0) {
			return -1;
		}
	}
	while (n > 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c, POLLOUT) < 0)
				goto fail;
			continue;
		}
		if (w < 0)
			goto fail;
		p += w;
		n -= (size_t)w;
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot send to %s: %s", c->peer,
	    strerror(errno));
	return -1;
}

/* send one command line, traced as shown (for secrets) */
static int
command_as(struct smtpc *c, const char *line, const char *shown, char *err,
    size_t errlen)
{
	size_t n = strlen(line);

	if (memchr(line, '\r', n) != NULL || memchr(line, '\n', n) != NULL) {
		snprintf(err, errlen, "refusing to send a command with a line "
		    "break");
		return -1;
	}
	if (c->trace != NULL)
		c->trace(c->trace_arg, '>', shown, strlen(shown));
	if (write_all(c, line, n, err, errlen) < 0 ||
	    write_all(c, "\r\n", 2, err, errlen) < 0)
		return -1;
	return 0;
}

/* smtpc_command - send one command line (CR LF is added) */
int
smtpc_command(struct smtpc *c, const char *line, char *err, size_t errlen)
{
	return command_as(c, line, line, err, errlen);
}

/*
 * smtpc_data - send the message (after a 354): every line ends in CR LF,
 * whatever it ended in before; a line starting with "." gets another
 * (RFC 5321 4.5.2); then the final ".". Returns 0 or -1.
 */
int
smtpc_data(struct smtpc *c, const char *msg, size_t len, char *err,
    size_t errlen)
{
	char out[8192];
	size_t i = 0, o = 0;
	int bol = 1;

	while (i < len) {
		if (o + 4 > sizeof(out)) {
			if (write_all(c, out, o, err, errlen) < 0)
				return -1;
			o = 0;
		}
		if (bol && msg[i] == '.')
			out[o++] = '.';
		bol = 0;
		if (msg[i] == '\r' || msg[i] == '\n') {
			/* CR LF, bare LF and bare CR all end a line */
			if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
				i++;
			out[o++] = '\r';
			out[o++] = '\n';
			bol = 1;
			i++;
			continue;
		}
		out[o++] = msg[i++];
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	if (write_all(c, out, o, err, errlen) < 0)
		return -1;
	if (c->trace != NULL)
		c->trace(c->trace_arg, '>', ".", 1);
	return write_all(c, ".\r\n", 3, err, errlen);
}

/* smtpc_has_ext - does the EHLO reply advertise keyword (any case)? */
int
smtpc_has_ext(const struct smtpc_reply *ehlo, const char *keyword)
{
	const char *p = ehlo->text;
	size_t k = strlen(keyword);

	/* the first line is the greeting, keywords start on line two */
	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strlen(p) >= 4 + k && strncasecmp(p + 4, keyword, k) == 0 &&
		    (p[4 + k] == '\0' || p[4 + k] == ' ' || p[4 + k] == '\n' ||
		    p[4 + k] == '='))
			return 1;
	}
	return 0;
}

/* smtpc_close - close the connection (no QUIT is sent) */
void
smtpc_close(struct smtpc *c)
{
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl); /* one try, no waiting */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ssl_ctx != NULL) {
		SSL_CTX_free(c->ssl_ctx);
		c->ssl_ctx = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* is host an IPv4 or IPv6 literal? (no SNI then, and an IP check) */
static int
is_ip_literal(const char *host)
{
	ASN1_OCTET_STRING *a = a2i_IPADDRESS(host);

	if (a == NULL)
		return 0;
	ASN1_OCTET_STRING_free(a);
	return 1;
}

/*
 * smtpc_tls_handshake - start TLS on the connection (right after the
 * connect for implicit TLS, after the 220 to STARTTLS otherwise): SNI is
 * the host name given to smtpc_connect, the certificate is checked
 * against o->ca_file (or the system store) and that name or address.
 * c->verified and c->verify_err say how the check went; with o->verify a
 * failed check fails the handshake. Returns 0, -1 on a timeout or a
 * broken connection, -2 when TLS itself failed (err says which).
 */
int
smtpc_tls_handshake(struct smtpc *c, const struct smtpc_tls_opts *o,
    char *err, size_t errlen)
{
	char eb[256];
	long vr;
	int rv, e;

	c->verified = 0;
	snprintf(c->verify_err, sizeof(c->verify_err), "not checked");
	/* OpenSSL's socket BIO writes with write(2): a server that closes
	 * early must give EPIPE, not kill us */
	signal(SIGPIPE, SIG_IGN);
	ERR_clear_error();
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (c->ssl_ctx == NULL)
		goto tls_fail;
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	if (o->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(c->ssl_ctx, o->ca_file,
		    NULL) != 1) {
			snprintf(err, errlen, "cannot load the CA file %s: %s",
			    o->ca_file, tls_errstr(eb, sizeof(eb)));
			return -2;
		}
	} else if (SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1) {
		goto tls_fail;
	}
	/* always check, so that the result can be reported; only fail the
	 * handshake on it when asked to */
	SSL_CTX_set_verify(c->ssl_ctx, o->verify ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	if ((c->ssl = SSL_new(c->ssl_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		goto tls_fail;
	if (is_ip_literal(c->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    c->host) != 1)
			goto tls_fail;
	} else {
		if (SSL_set_tlsext_host_name(c->ssl, c->host) != 1 ||
		    SSL_set1_host(c->ssl, c->host) != 1)
			goto tls_fail;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		rv = SSL_connect(c->ssl);
		if (rv == 1)
			break;
		e = SSL_get_error(c->ssl, rv);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN :
			    POLLOUT) < 0) {
				snprintf(err, errlen, "TLS handshake with %s: "
				    "%s", c->peer, strerror(errno));
				return -1;
			}
			continue;
		}
		vr = SSL_get_verify_result(c->ssl);
		if (o->verify && vr != X509_V_OK) {
			snprintf(err, errlen, "the certificate of %s does not "
			    "verify: %s (use --tls-ca FILE for a private CA, "
			    "or --tls-no-verify)", c->peer,
			    X509_verify_cert_error_string(vr));
			return -2;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
			snprintf(err, errlen, "TLS handshake with %s: %s",
			    c->peer, errno ? strerror(errno) :
			    "the connection was closed");
			return -1;
		}
		snprintf(err, errlen, "TLS handshake with %s failed: %s",
		    c->peer, tls_errstr(eb, sizeof(eb)));
		return -2;
	}
	vr = SSL_get_verify_result(c->ssl);
	if (SSL_get0_peer_certificate(c->ssl) == NULL) {
		snprintf(c->verify_err, sizeof(c->verify_err),
		    "the server sent no certificate");
	} else if (vr != X509_V_OK) {
		snprintf(c->verify_err, sizeof(c->verify_err), "%s",
		    X509_verify_cert_error_string(vr));
	} else {
		c->verified = 1;
		c->verify_err[0] = '\0';
	}
	if (o->verify && !c->verified) {
		snprintf(err, errlen, "the certificate of %s does not verify: "
		    "%s", c->peer, c->verify_err);
		return -2;
	}
	return 0;
tls_fail:
	snprintf(err, errlen, "cannot set up TLS: %s",
	    tls_errstr(eb, sizeof(eb)));
	return -2;
}

/*
 * smtpc_starttls - STARTTLS, and on 220 the handshake. Returns 0; -3
 * when the server refused (its reply is in r); else as
 * smtpc_tls_handshake.
 */
int
smtpc_starttls(struct smtpc *c, const struct smtpc_tls_opts *o,
    struct smtpc_reply *r, char *err, size_t errlen)
{
	if (smtpc_command(c, "STARTTLS", err, errlen) < 0 ||
	    smtpc_read_reply(c, r, err, errlen) < 0)
		return -1;
	if (r->code != 220)
		return -3;
	/* RFC 3207 5: bytes sent before TLS must not be taken as if they
	 * came inside it (command injection) */
	if (c->rlen != 0) {
		snprintf(err, errlen, "%s sent data after its 220 to STARTTLS "
		    "(refusing to go on)", c->peer);
		return -2;
	}
	return smtpc_tls_handshake(c, o, err, errlen);
}

/* base64 of p[0..n) into out (cap at least 4 * ((n + 2) / 3) + 1) */
static void
b64(const void *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

/* does the AUTH keyword of the EHLO reply list mech? */
static int
has_mech(const struct smtpc_reply *ehlo, const char *mech)
{
	const char *p = ehlo->text, *q;
	size_t k = strlen(mech), w;

	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strlen(p) < 9 || strncasecmp(p + 4, "AUTH ", 5) != 0)
			continue;
		for (q = p + 9; *q != '\0' && *q != '\n'; q += w) {
			q += strspn(q, " ");
			w = strcspn(q, " \n");
			if (w == k && strncasecmp(q, mech, k) == 0)
				return 1;
			if (w == 0)
				break;
		}
	}
	return 0;
}

/*
 * smtpc_auth - log in as user: AUTH PLAIN with an initial response, or
 * AUTH LOGIN when the server offers only that. The credentials are never
 * traced. Returns 0 with the final reply in r (235 is success), -1 when
 * the dialogue broke, -3 when the server offers neither (err says).
 */
int
smtpc_auth(struct smtpc *c, const struct smtpc_reply *ehlo,
    const char *user, const char *pass, struct smtpc_reply *r, char *err,
    size_t errlen)
{
	char raw[1024], enc[1400], line[1500];
	size_t ul = strlen(user), pl = strlen(pass);
	int rv = -1;

	if (ul + pl + 2 > sizeof(raw) || ul == 0) {
		snprintf(err, errlen, "user name or password too long");
		return -3;
	}
	if (!smtpc_has_ext(ehlo, "AUTH")) {
		snprintf(err, errlen, "%s does not offer AUTH%s", c->peer,
		    c->ssl == NULL ? " (most servers offer it only after "
		    "STARTTLS)" : "");
		return -3;
	}
	if (has_mech(ehlo, "PLAIN") || !has_mech(ehlo, "LOGIN")) {
		/* RFC 4616: authzid NUL authcid NUL passwd */
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		b64(raw, ul + pl + 2, enc);
		snprintf(line, sizeof(line), "AUTH PLAIN %s", enc);
		if (command_as(c, line, "AUTH PLAIN (credentials hidden)", err,
		    errlen) < 0 || smtpc_read_reply(c, r, err, errlen) < 0)
			goto out;
		rv = 0;
		goto out;
	}
	if (smtpc_command(c, "AUTH LOGIN", err, errlen) < 0 ||
	    smtpc_read_reply(c, r, err, errlen) < 0)
		goto out;
	if (r->code == 334) {
		b64(user, ul, enc);
		if (command_as(c, enc, "(user name hidden)", err, errlen) < 0 ||
		    smtpc_read_reply(c, r, err, errlen) < 0)
			goto out;
	}
	if (r->code == 334) {
		b64(pass, pl, enc);
		if (command_as(c, enc, "(password hidden)", err, errlen) < 0 ||
		    smtpc_read_reply(c, r, err, errlen) < 0)
			goto out;
	}
	rv = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(line, sizeof(line));
	return rv;
}

/* smtpc_tls_summary - "TLSv1.3 with cipher X (256 bits)", or "none" */
void
smtpc_tls_summary(const struct smtpc *c, char *buf, size_t len)
{
	const SSL_CIPHER *ci;
	int bits = 0;

	if (c->ssl == NULL) {
		snprintf(buf, len, "none");
		return;
	}
	ci = SSL_get_current_cipher(c->ssl);
	if (ci != NULL)
		SSL_CIPHER_get_bits(ci, &bits);
	snprintf(buf, len, "%s with cipher %s (%d bits)",
	    SSL_get_version(c->ssl), ci ? SSL_CIPHER_get_name(ci) : "?", bits);
}

static void
name_of(X509_NAME *n, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long k;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		k = BIO_get_mem_data(b, &p);
		snprintf(buf, len, "%.*s", (int)(k < 0 ? 0 : k), p);
	}
	BIO_free(b);
}

/*
 * smtpc_cert_summary - the server certificate's subject, issuer and
 * expiry: "subject S; issuer I; expires DATE"
 */
void
smtpc_cert_summary(const struct smtpc *c, char *buf, size_t len)
{
	X509 *x = c->ssl ? SSL_get0_peer_certificate(c->ssl) : NULL;
	char subj[512], iss[512], exp[64] = "?";
	BIO *b;
	char *p;
	long k;

	if (x == NULL) {
		snprintf(buf, len, "no certificate");
		return;
	}
	name_of(X509_get_subject_name(x), subj, sizeof(subj));
	name_of(X509_get_issuer_name(x), iss, sizeof(iss));
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		if (ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
			k = BIO_get_mem_data(b, &p);
			snprintf(exp, sizeof(exp), "%.*s",
			    (int)(k < 0 ? 0 : k), p);
		}
		BIO_free(b);
	}
	snprintf(buf, len, "subject %s; issuer %s; expires %s", subj, iss,
	    exp);
}

/*
 * smtpc_read_secret - the first line of file (without its line end)
 * into buf. Returns 0, or -1 with err set.
 */
int
smtpc_read_secret(const char *file, char *buf, size_t len, char *err,
    size_t errlen)
{
	FILE *f = fopen(file, "re");
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", file,
		    strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)len, f) == NULL) {
		buf[0] = '\0';
		if (ferror(f)) {
			snprintf(err, errlen, "cannot read %s: %s", file,
			    strerror(errno));
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n + 1 >= len) {
		OPENSSL_cleanse(buf, len);
		snprintf(err, errlen, "the password in %s is too long", file);
		return -1;
	}
	buf[n] = '\0';
	return 0;
}
