/*
 * smtpc - a small blocking SMTP client for `tern send` and `tern probe`.
 *
 * Connects to host:port, [v6addr]:port or a bare host (IPv4 or IPv6, each
 * address in turn), reads whole replies (multi-line too), sends commands
 * and message data (CRLF line ends, dot-stuffed, ended by CRLF.CRLF).
 * Every wait is bounded by the timeout given at connect time.
 *
 * TLS (OpenSSL): smtpc_starttls() after EHLO (RFC 3207), or
 * smtpc_tls_handshake() right after connecting for implicit TLS
 * (RFC 8314). The certificate is checked against the system store (or a
 * given CA file) and the host name; the result is always recorded and,
 * with verify set, a failure ends the handshake. smtpc_auth() does AUTH
 * PLAIN (RFC 4616) or LOGIN with the EHLO reply's list (RFC 4954).
 */
#ifndef TERN_SMTPC_H
#define TERN_SMTPC_H

#include <stddef.h>

#define SMTPC_REPLY_MAX 8192
#define SMTPC_LINES_MAX 64

struct ssl_st;
struct ssl_ctx_st;

struct smtpc_tls_opts {
	int verify;          /* fail the handshake if the check fails */
	const char *ca_file; /* NULL: the system's trust store */
};

struct smtpc {
	int fd;
	struct ssl_st *ssl;         /* NULL until TLS is up */
	struct ssl_ctx_st *ssl_ctx;
	char host[256];             /* as given: for SNI and the check */
	int verified;               /* certificate checked out */
	char verify_err[200];       /* why not, when !verified */
	int timeout_ms;
	char rbuf[4096];
	size_t rlen;
	char peer[300];   /* "host port N" for messages */
	void (*trace)(void *arg, int dir, const char *line, size_t len);
	void *trace_arg;  /* dir: '>' sent, '<' received */
};

struct smtpc_reply {
	int code;          /* 0 if none was read */
	char esc[12];      /* enhanced code of the last line, "" if none */
	char text[SMTPC_REPLY_MAX]; /* whole reply, lines with "\n" */
	size_t nlines;
	int truncated;
};

int smtpc_split_hostport(const char *s, const char *defport, char *host,
    size_t hostlen, char *port, size_t portlen);
int smtpc_connect(struct smtpc *c, const char *hostport, const char *defport,
    int timeout_ms, char *err, size_t errlen);
int smtpc_read_reply(struct smtpc *c, struct smtpc_reply *r, char *err,
    size_t errlen);
int smtpc_command(struct smtpc *c, const char *line, char *err,
    size_t errlen);
int smtpc_data(struct smtpc *c, const char *msg, size_t len, char *err,
    size_t errlen);
int smtpc_has_ext(const struct smtpc_reply *ehlo, const char *keyword);
int smtpc_tls_handshake(struct smtpc *c, const struct smtpc_tls_opts *o,
    char *err, size_t errlen);
int smtpc_starttls(struct smtpc *c, const struct smtpc_tls_opts *o,
    struct smtpc_reply *r, char *err, size_t errlen);
int smtpc_auth(struct smtpc *c, const struct smtpc_reply *ehlo,
    const char *user, const char *pass, struct smtpc_reply *r, char *err,
    size_t errlen);
void smtpc_tls_summary(const struct smtpc *c, char *buf, size_t len);
void smtpc_cert_summary(const struct smtpc *c, char *buf, size_t len);
int smtpc_read_secret(const char *file, char *buf, size_t len, char *err,
    size_t errlen);
void smtpc_close(struct smtpc *c);

#endif
