/*
 * dsn - delivery status notifications (RFC 3464): the bounce that tells
 * a sender which recipients failed and why, and the delay warning.
 *
 * dsn_build() writes a complete message, CRLF line endings, ready to be
 * queued with the null sender: From: MAILER-DAEMON, To: the original
 * sender, a multipart/report; report-type=delivery-status body with
 *   1. text/plain: for each recipient the remote server, its exact
 *      reply and what the reply means and what to do (kb_describe());
 *   2. message/delivery-status: Reporting-MTA, Arrival-Date, and per
 *      recipient Final-Recipient, Action, Status, Remote-MTA,
 *      Diagnostic-Code, Last-Attempt-Date (Will-Retry-Until for delays);
 *   3. text/rfc822-headers: the headers of the original message.
 * With non-ASCII addresses or headers (SMTPUTF8 mail) parts 2 and 3
 * become message/global-delivery-status and message/global-headers
 * (RFC 6533) and the report itself needs SMTPUTF8.
 *
 * Pure: no I/O, no clock, no state; safe on any thread.
 */
#ifndef TERN_DSN_H
#define TERN_DSN_H

#include <stddef.h>
#include <time.h>

#include "../lib/buf.h"

enum dsn_action {
	DSN_FAILED,  /* a bounce: Action: failed */
	DSN_DELAYED, /* a delay warning: Action: delayed */
};

/* one recipient to report on */
struct dsn_rcpt {
	const char *addr;   /* without <> */
	int code;           /* the reply that decided it; 0: none */
	const char *esc;    /* its enhanced code, NULL or "" if none */
	const char *text;   /* the reply text (lines joined with "\n"), or
	                       tern's own reason when synthetic */
	int synthetic;      /* code/text made by tern, not a remote reply */
	const char *remote; /* "mx.example.org[192.0.2.1]:25", NULL or "" */
	time_t last_attempt; /* 0: never tried */
	int expired;        /* failed because the queue lifetime ran out */
};

struct dsn_info {
	enum dsn_action action;
	const char *hostname;  /* ours: Reporting-MTA and MAILER-DAEMON@ */
	const char *qid;       /* the original message's queue id */
	const char *dsn_qid;   /* the report's own id: Message-ID, boundary */
	const char *sender;    /* the original envelope sender (not "") */
	time_t arrival;        /* when the original arrived */
	time_t now;            /* Date: */
	time_t retry_until;    /* DSN_DELAYED: Will-Retry-Until */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
	const char *msg;       /* the original message as stored */
	size_t msglen;
};

/* what the built report needs from the transport */
#define DSN_NEEDS_8BITMIME 0x2 /* same values as QUEUE_F_* */
#define DSN_NEEDS_SMTPUTF8 0x1

int dsn_build(struct buf *out, const struct dsn_info *d, unsigned *needs);
void dsn_status(char *out, size_t cap, int code, const char *esc,
    enum dsn_action action);
size_t dsn_header_len(const char *msg, size_t len);
int dsn_forward_path(const char *text, char *out, size_t cap);

#endif
