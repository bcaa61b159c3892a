/*
 * trace - the trace headers ternd prepends to every stored message
 * (Return-Path: and Received:, RFC 5321 4.4) and the hop counter used
 * to stop mail loops. Pure: the caller passes the time.
 */
#ifndef TERN_TRACE_H
#define TERN_TRACE_H

#include <stddef.h>
#include <time.h>

#include "../lib/buf.h"

/* room the trace headers take at most, for free-space checks */
#define TRACE_HEADERS_MAX 2048

struct trace_info {
	const char *sender;    /* "" for the null sender */
	const char *helo;      /* as the client gave it */
	const char *client_ip; /* "192.0.2.1" or "2001:db8::1" */
	const char *hostname;  /* ours */
	const char *with;      /* SMTP, ESMTP, UTF8SMTP, ... (RFC 3848) */
	const char *qid;
	const char *for_rcpt;  /* only when the message has one recipient */
	time_t when;
	const char *tls;       /* "TLSv1.3 with cipher ...", or NULL */
	const char *auth;      /* the AUTH user to name, or NULL */
};

int trace_headers(struct buf *out, const struct trace_info *ti);
unsigned trace_count_received(const char *msg, size_t len);
int trace_date(char *out, size_t cap, time_t when);

#endif
