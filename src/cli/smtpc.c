/*
 * smtpc - blocking SMTP client with timeouts.
 *
 * The socket is non-blocking; every read and write first polls with the
 * session's timeout, so a silent or slow server ends in a clear error
 * instead of a hang. Replies are read whole: RFC 5321 4.2.1, lines
 * "code-text" until "code text" (or "code" alone), with the same code on
 * every line. Message data gets CRLF line ends (a bare LF or CR becomes
 * CRLF) and dot-stuffing (RFC 5321 4.5.2), then CRLF.CRLF.
 */
#include "smtpc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

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
		if (wait_fd(c, POLLIN) < 0) {
			snprintf(err, errlen, "no reply from %s: %s", c->peer,
			    strerror(errno));
			return -1;
		}
		got = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0) {
			snprintf(err, errlen, "%s closed the connection%s%s",
			    c->peer, got < 0 ? ": " : "",
			    got < 0 ? strerror(errno) : "");
			return -1;
		}
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

	while (n > 0) {
		w = write(c->fd, p, n);
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

/* smtpc_command - send one command line (CR LF is added) */
int
smtpc_command(struct smtpc *c, const char *line, char *err, size_t errlen)
{
	size_t n = strlen(line);

	if (memchr(line, '\r', n) != NULL || memchr(line, '\n', n) != NULL) {
		snprintf(err, errlen, "refusing to send a command with a line "
		    "break");
		return -1;
	}
	if (c->trace != NULL)
		c->trace(c->trace_arg, '>', line, n);
	if (write_all(c, line, n, err, errlen) < 0 ||
	    write_all(c, "\r\n", 2, err, errlen) < 0)
		return -1;
	return 0;
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
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
