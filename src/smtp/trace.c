/*
 * trace - Return-Path: and Received: headers, and the Received: counter.
 *
 * Received: follows RFC 5321 4.4 and RFC 5322 3.6.7:
 *   Received: from HELO ([IP])
 *           (using TLSv1.3 with cipher ...)      when encrypted
 *           (authenticated as USER)               when logged in
 *           by HOSTNAME (tern) with ESMTPSA id QID
 *           for <RCPT>; DATE
 * The "for" clause is written only for a single recipient, so one stored
 * file can be hard-linked to every recipient without leaking the others.
 */
#include "trace.h"

#include <string.h>
#include <strings.h>

/* trace_date - RFC 5322 date-time in UTC, e.g. "Sun, 29 Nov 2026 07:04:15 +0000" */
int
trace_date(char *out, size_t cap, time_t when)
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL)
		return -1;
	return strftime(out, cap, "%a, %d %b %Y %H:%M:%S +0000", &tm) ? 0 : -1;
}

/* trace_headers - append Return-Path: and Received: (with CRLF) to out */
int
trace_headers(struct buf *out, const struct trace_info *ti)
{
	char date[64];
	int v6 = strchr(ti->client_ip, ':') != NULL;

	if (trace_date(date, sizeof(date), ti->when) < 0)
		return -1;
	if (buf_printf(out, "Return-Path: <%s>\r\n", ti->sender) < 0)
		return -1;
	if (buf_printf(out, "Received: from %s ([%s%s])\r\n", ti->helo,
		v6 ? "IPv6:" : "", ti->client_ip) < 0)
		return -1;
	if (ti->tls != NULL && buf_printf(out, "\t(using %s)\r\n", ti->tls) < 0)
		return -1;
	if (ti->auth != NULL &&
	    buf_printf(out, "\t(authenticated as %s)\r\n", ti->auth) < 0)
		return -1;
	if (buf_printf(out, "\tby %s (tern) with %s id %s", ti->hostname,
		ti->with, ti->qid) < 0)
		return -1;
	if (ti->for_rcpt != NULL &&
	    buf_printf(out, "\r\n\tfor <%s>", ti->for_rcpt) < 0)
		return -1;
	return buf_printf(out, "; %s\r\n", date);
}

/*
 * trace_count_received - count "Received:" header fields in the header
 * section of msg (up to the first empty line), for loop detection.
 */
unsigned
trace_count_received(const char *msg, size_t len)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < len) {
		const char *eol = memchr(msg + i, '\n', len - i);
		size_t ll = eol ? (size_t)(eol - (msg + i)) : len - i;

		if (ll == 0 || (ll == 1 && msg[i] == '\r'))
			break;
		if (ll >= 9 && strncasecmp(msg + i, "Received:", 9) == 0)
			n++;
		if (eol == NULL)
			break;
		i += ll + 1;
	}
	return n;
}
