/*
 * server_tls - TLS for sessions: implicit TLS on submissions listeners
 * (RFC 8314) and STARTTLS (RFC 3207) on the others, through libevent's
 * OpenSSL bufferevents.
 *
 * STARTTLS: after "220 Ready to start TLS" any bytes the client already
 * sent are thrown away, never read as commands inside TLS (the
 * CVE-2011-0411 class), and the engine forgets the session's state once
 * the handshake is done, so the client has to EHLO again.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "../lib/log.h"
#include "../net/tls.h"
#include "server_int.h"

/*
 * server_load_tls - build the TLS context into *out (NULL when no
 * certificate is configured); -1 with err. strict is set for a reload.
 */
int
server_load_tls(struct server *s, int strict, SSL_CTX **out, char *err,
    size_t errlen)
{
	*out = tls_server_ctx_new(s->conf, strict, err, errlen);
	return *out == NULL && err[0] != '\0' ? -1 : 0;
}

/* server_tls_accept - wrap a new submissions connection in TLS */
int
server_tls_accept(struct smtp_conn *c, evutil_socket_t fd)
{
	struct server *s = c->srv;
	SSL *ssl = s->tls ? SSL_new(s->tls) : NULL;

	if (ssl == NULL) {
		log_err("conn=%s ev=tls-failed reason=\"no TLS context\"", c->id);
		close(fd);
		return -1;
	}
	c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		close(fd);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	c->handshaking = 1;
	conn_set_callbacks(c);
	return 0;
}

/* server_starttls - the engine said 220 to STARTTLS: start the handshake */
void
server_starttls(struct smtp_conn *c)
{
	struct server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t junk = evbuffer_get_length(in);
	struct bufferevent *tb;
	SSL *ssl;

	if (junk > 0) {
		/* RFC 3207 and CVE-2011-0411: plaintext after STARTTLS is
		 * an injection attempt, not a command */
		log_warn("conn=%s ev=starttls-discard client=%s bytes=%zu",
		    c->id, c->proto.client_ip, junk);
		evbuffer_drain(in, junk);
	}
	/* from now on the TLS filter reads, through the socket's bufferevent */
	conn_read_free(c);
	bufferevent_enable(c->bev, EV_READ);
	ssl = SSL_new(s->tls);
	tb = ssl ? bufferevent_openssl_filter_new(s->base, c->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (tb == NULL) {
		if (ssl != NULL)
			SSL_free(ssl);
		log_err("conn=%s ev=tls-failed reason=\"cannot start TLS\"",
		    c->id);
		conn_drop(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->bev = tb;
	c->handshaking = 1;
	conn_set_callbacks(c);
}

/* server_tls_connected - the handshake is done */
void
server_tls_connected(struct smtp_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	char info[160];

	if (!c->handshaking || ssl == NULL)
		return;
	c->handshaking = 0;
	tls_describe(ssl, info, sizeof(info));
	log_info("conn=%s ev=tls client=%s %s", c->id, c->proto.client_ip, info);
	proto_tls_started(&c->proto, info);
	/* implicit TLS: the session starts now, with the greeting */
	if (c->role == LISTEN_SUBMISSIONS)
		proto_greet(&c->proto);
	conn_flush(c);
	conn_process(c);
}

/* server_tls_error - the handshake failed or timed out: log why, hang up */
void
server_tls_error(struct smtp_conn *c)
{
	char why[256] = "connection closed or timed out during the handshake";
	unsigned long e;

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		tls_error_text(e, why, sizeof(why));
	log_info("conn=%s ev=tls-failed client=%s reason=\"%s\"", c->id,
	    c->proto.client_ip, why);
	c->handshaking = 0;
	conn_drop(c);
}
