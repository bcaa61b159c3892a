/*
 * relay - the outbound SMTP client: finds the next hop for a domain
 * (static route, smarthost, or MX lookup with c-ares on the event loop,
 * falling back to A/AAAA; null MX bounced), connects to the hosts in
 * order, speaks EHLO/HELO, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, sends
 * one message to the recipients of one domain (splitting the recipient
 * list when the server limits it) and reports a result per recipient.
 * Connections to a destination are reused for further messages and
 * limited per destination.
 *
 * All of it runs on the event loop without blocking.
 */
#ifndef TERN_RELAY_H
#define TERN_RELAY_H

#include <stddef.h>

struct conf;
struct event_base;
struct relay;

/* one recipient's outcome */
struct relay_rcpt {
	const char *addr;   /* in: the recipient, without <> */
	int code;           /* out: the reply that decided it: 2xx delivered,
	                       4xx try again later, 5xx failed for good;
	                       0 if it was not tried */
	char esc[16];       /* out: enhanced code, "" if none was given */
	char text[1024];    /* out: the reply text as received (lines joined
	                       with "\n"), or tern's own description when
	                       there was no reply (synthetic = 1) */
	int synthetic;      /* out: code/text made by tern (DNS failure,
	                       connection refused, null MX, SIZE too big) */
};

struct relay_msg {
	const char *domain;      /* all recipients are in this domain */
	const char *sender;      /* "" for the null sender */
	struct relay_rcpt *rcpts;
	size_t nrcpts;
	const char *data;        /* the message as stored: CRLF lines, not
	                            dot-stuffed; valid until done() */
	size_t len;
	unsigned flags;          /* QUEUE_F_SMTPUTF8, QUEUE_F_8BITMIME */
	/* out, for logs and DSNs */
	char remote[300];        /* "mx.example.org[192.0.2.1]:25" last tried */
	char tls[160];           /* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" */
	void (*done)(struct relay_msg *m, void *arg);
	void *arg;
};

struct relay *relay_new(struct event_base *base, const struct conf *conf);
void relay_send(struct relay *r, struct relay_msg *m);
void relay_shutdown(struct relay *r);
int relay_busy(const struct relay *r);
void relay_free(struct relay *r);

#endif
