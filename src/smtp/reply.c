/*
 * reply - the reply table and the only code that turns an entry into
 * wire text.
 *
 * Rules kept here (RFC 5321 4.2, RFC 2034, RFC 3463): three digits, first
 * digit 2-5; the enhanced code's class equals the first digit; no enhanced
 * code on the greeting, on any reply to EHLO/HELO (RFC 2034 3) and on 3xx; in a multi-line
 * reply every line carries the same codes; no line over 512 octets.
 * Enhanced codes are sent on every other reply from the first byte of the
 * session, as Postfix does: clients that did not ask for them ignore text.
 */
#include "reply.h"

#include <string.h>

#define R(id, code, esc, text, flags) [id] = { code, esc, text, flags }

static const struct reply_def replies[R__COUNT] = {
	R(R_GREETING, 220, NULL, "%s ESMTP tern", RF_HOST),
	R(R_EHLO, 250, NULL, "%s", RF_HOST),
	R(R_HELO, 250, NULL, "%s", RF_HOST),
	R(R_HELP, 214, "2.0.0", "%s", 0),
	R(R_HELP_TOPIC, 214, "2.0.0", "Syntax: %s", 0),
	R(R_QUIT, 221, "2.0.0", "%s closing connection", RF_HOST | RF_CLOSE),
	R(R_OKAY, 250, "2.0.0", "Ok", 0),
	R(R_MAIL_OK, 250, "2.1.0", "Sender <%s> ok", 0),
	R(R_RCPT_OK, 250, "2.1.5", "Recipient <%s> ok", 0),
	R(R_QUEUED, 250, "2.0.0", "Ok: queued as %s", 0),
	R(R_BDAT_OK, 250, "2.0.0", "%s octets received", 0),
	R(R_VRFY_OK, 250, "2.1.5", "<%s>", 0),
	R(R_VRFY_CANNOT, 252, "2.5.0",
	    "Cannot VRFY user, but will accept message and attempt delivery", 0),
	R(R_EXPN_OK, 250, "2.1.5", "<%s>", 0),
	R(R_DATA_GO, 354, NULL, "End data with <CR><LF>.<CR><LF>", 0),
	R(R_SHUTDOWN, 421, "4.3.2",
	    "%s Service shutting down, closing connection", RF_HOST | RF_CLOSE),
	R(R_TIMEOUT, 421, "4.4.2",
	    "%s Error: timeout exceeded, closing connection", RF_HOST | RF_CLOSE),
	R(R_CONN_LIMIT, 421, "4.7.0",
	    "%s Too many connections, try again later", RF_HOST | RF_CLOSE),
	R(R_CONN_LIMIT_IP, 421, "4.7.0",
	    "%s Too many connections from your address, try again later",
	    RF_HOST | RF_CLOSE),
	R(R_TOO_MANY_ERRORS, 421, "4.7.0",
	    "%s Error: too many errors, closing connection", RF_HOST | RF_CLOSE),
	R(R_LOCAL_ERR, 451, "4.3.0",
	    "Local error in processing, message not accepted; try again later", 0),
	R(R_NO_SPACE, 452, "4.3.1",
	    "Insufficient system storage, try again later", 0),
	R(R_RCPT_MAX, 452, "4.5.3",
	    "Too many recipients for one message; send the rest in another", 0),
	R(R_CMD_UNKNOWN, 500, "5.5.2", "Error: command not recognized", RF_ERROR),
	R(R_LINE_TOO_LONG, 500, "5.5.2", "Error: line too long", RF_ERROR),
	R(R_BAD_BYTES, 500, "5.5.2",
	    "Error: command contains NUL or invalid UTF-8 bytes", RF_ERROR),
	R(R_SYNTAX_HELO, 501, NULL, "Syntax: HELO hostname", RF_ERROR),
	R(R_SYNTAX_EHLO, 501, NULL, "Syntax: EHLO hostname", RF_ERROR),
	R(R_BAD_HELO_DOMAIN, 501, NULL,
	    "Error: invalid domain name or address literal in HELO/EHLO",
	    RF_ERROR),
	R(R_SYNTAX_MAIL, 501, "5.5.4",
	    "Syntax: MAIL FROM:<address> [parameters]", RF_ERROR),
	R(R_SYNTAX_RCPT, 501, "5.5.4",
	    "Syntax: RCPT TO:<address> [parameters]", RF_ERROR),
	R(R_SYNTAX_DATA, 501, "5.5.4", "Syntax: DATA (no arguments)", RF_ERROR),
	R(R_SYNTAX_RSET, 501, "5.5.4", "Syntax: RSET (no arguments)", RF_ERROR),
	R(R_SYNTAX_QUIT, 501, "5.5.4", "Syntax: QUIT (no arguments)", RF_ERROR),
	R(R_SYNTAX_VRFY, 501, "5.5.4", "Syntax: VRFY address", RF_ERROR),
	R(R_SYNTAX_EXPN, 501, "5.5.4", "Syntax: EXPN list", RF_ERROR),
	R(R_SYNTAX_BDAT, 501, "5.5.4", "Syntax: BDAT size [LAST]", RF_ERROR),
	R(R_BAD_PARAM, 501, "5.5.4", "Error: bad parameter value: %s", RF_ERROR),
	R(R_DUP_PARAM, 501, "5.5.4", "Error: parameter given twice: %s",
	    RF_ERROR),
	R(R_NOT_IMPL, 502, "5.5.1", "Error: command not implemented", RF_ERROR),
	R(R_EXPN_DISABLED, 502, "5.5.1", "EXPN command is disabled", RF_ERROR),
	R(R_NEED_HELO, 503, "5.5.1", "Error: send HELO/EHLO first", RF_ERROR),
	R(R_NESTED_MAIL, 503, "5.5.1", "Error: nested MAIL command", RF_ERROR),
	R(R_NEED_MAIL, 503, "5.5.1", "Error: need MAIL command first", RF_ERROR),
	R(R_NEED_RCPT, 503, "5.5.1", "Error: need RCPT command first", RF_ERROR),
	R(R_DATA_AFTER_BDAT, 503, "5.5.1",
	    "Error: DATA not allowed after BDAT in one message", RF_ERROR),
	R(R_BDAT_ABORTED, 503, "5.5.1",
	    "Error: message transfer was already rejected; send RSET", RF_ERROR),
	R(R_HELP_UNKNOWN, 504, "5.5.4", "HELP topic unknown: %s", RF_ERROR),
	R(R_PREGREET, 521, "5.5.1",
	    "Protocol error: you talked before the greeting", RF_CLOSE),
	R(R_RCPT_UNKNOWN, 550, "5.1.1",
	    "<%s>: Recipient address rejected: no such mailbox here", RF_ERROR),
	R(R_VRFY_UNKNOWN, 550, "5.1.1", "<%s>: no such mailbox here", RF_ERROR),
	R(R_RELAY_DENIED, 550, "5.7.1",
	    "<%s>: Relaying denied: this server only accepts mail for its own "
	    "domains", 0),
	R(R_BARE_NEWLINE, 550, "5.5.2",
	    "Error: bare <CR> or <LF> line ending in message; use <CR><LF>", 0),
	R(R_TOO_BIG, 552, "5.3.4",
	    "Error: message size exceeds fixed maximum message size", 0),
	R(R_SIZE_TOO_BIG, 552, "5.3.4",
	    "Error: declared message size exceeds fixed maximum message size", 0),
	R(R_BAD_SENDER, 553, "5.1.7", "Error: malformed sender address: %s",
	    RF_ERROR),
	R(R_BAD_RCPT, 553, "5.1.3", "Error: malformed recipient address: %s",
	    RF_ERROR),
	R(R_SENDER_UTF8, 553, "5.6.7",
	    "Error: non-ASCII sender address needs the SMTPUTF8 parameter",
	    RF_ERROR),
	R(R_RCPT_UTF8, 553, "5.6.7",
	    "Error: non-ASCII recipient address needs SMTPUTF8 in MAIL FROM",
	    RF_ERROR),
	R(R_NO_VALID_RCPT, 554, "5.5.1", "Error: no valid recipients", RF_ERROR),
	R(R_TOO_MANY_HOPS, 554, "5.4.6",
	    "Error: too many Received headers, probably a mail loop", 0),
	R(R_PARAM_UNKNOWN, 555, "5.5.4", "Error: unsupported parameter: %s",
	    RF_ERROR),
	R(R_TLS_GO, 220, "2.0.0", "Ready to start TLS", 0),
	R(R_SYNTAX_STARTTLS, 501, "5.5.4", "Syntax: STARTTLS (no parameters)",
	    RF_ERROR),
	R(R_TLS_ACTIVE, 503, "5.5.1", "Error: TLS already active", RF_ERROR),
	R(R_TLS_UNAVAILABLE, 454, "4.7.0",
	    "TLS not available due to local problem", 0),
	R(R_AUTH_CHALLENGE, 334, NULL, "%s", 0),
	R(R_AUTH_OK, 235, "2.7.0", "Authentication successful", 0),
	R(R_AUTH_FAILED, 535, "5.7.8",
	    "Error: authentication failed: wrong user name or password", 0),
	R(R_AUTH_BAD64, 501, "5.5.2", "Error: invalid base64 data", RF_ERROR),
	R(R_AUTH_CANCELLED, 501, "5.0.0", "Authentication cancelled", 0),
	R(R_SYNTAX_AUTH, 501, "5.5.4",
	    "Syntax: AUTH mechanism [initial-response]", RF_ERROR),
	R(R_AUTH_ALREADY, 503, "5.5.1", "Error: already authenticated",
	    RF_ERROR),
	R(R_AUTH_IN_TXN, 503, "5.5.1",
	    "Error: AUTH not allowed during a mail transaction", RF_ERROR),
	R(R_AUTH_DISABLED, 503, "5.5.1",
	    "Error: authentication not enabled here", RF_ERROR),
	R(R_AUTH_MECH, 504, "5.5.4",
	    "Unrecognized authentication mechanism; use PLAIN or LOGIN",
	    RF_ERROR),
	R(R_AUTH_TOO_LONG, 500, "5.5.6",
	    "Authentication exchange line is too long", RF_ERROR),
	R(R_AUTH_NEED_TLS, 538, "5.7.11",
	    "Encryption required for requested authentication mechanism; "
	    "use STARTTLS first", RF_ERROR),
	R(R_AUTH_REQUIRED, 530, "5.7.0",
	    "Authentication required: log in (AUTH) before sending mail", 0),
	R(R_AUTH_TOO_MANY, 421, "4.7.0",
	    "%s Error: too many failed authentications, try again later",
	    RF_HOST | RF_CLOSE),
	R(R_SENDER_NOT_OWNED, 553, "5.7.1",
	    "<%s>: Sender address rejected: not owned by the authenticated user",
	    0),
};

#define N(id) [id] = #id
static const char *const names[R__COUNT] = {
	N(R_GREETING), N(R_EHLO), N(R_HELO), N(R_HELP), N(R_HELP_TOPIC),
	N(R_QUIT), N(R_OKAY), N(R_MAIL_OK), N(R_RCPT_OK), N(R_QUEUED),
	N(R_BDAT_OK), N(R_VRFY_OK), N(R_VRFY_CANNOT), N(R_EXPN_OK),
	N(R_DATA_GO), N(R_SHUTDOWN), N(R_TIMEOUT), N(R_CONN_LIMIT),
	N(R_CONN_LIMIT_IP), N(R_TOO_MANY_ERRORS), N(R_LOCAL_ERR),
	N(R_NO_SPACE), N(R_RCPT_MAX), N(R_CMD_UNKNOWN), N(R_LINE_TOO_LONG),
	N(R_BAD_BYTES), N(R_SYNTAX_HELO), N(R_SYNTAX_EHLO),
	N(R_BAD_HELO_DOMAIN), N(R_SYNTAX_MAIL), N(R_SYNTAX_RCPT),
	N(R_SYNTAX_DATA), N(R_SYNTAX_RSET), N(R_SYNTAX_QUIT),
	N(R_SYNTAX_VRFY), N(R_SYNTAX_EXPN), N(R_SYNTAX_BDAT), N(R_BAD_PARAM),
	N(R_DUP_PARAM), N(R_NOT_IMPL), N(R_EXPN_DISABLED), N(R_NEED_HELO),
	N(R_NESTED_MAIL), N(R_NEED_MAIL), N(R_NEED_RCPT),
	N(R_DATA_AFTER_BDAT), N(R_BDAT_ABORTED), N(R_HELP_UNKNOWN),
	N(R_PREGREET), N(R_RCPT_UNKNOWN), N(R_VRFY_UNKNOWN),
	N(R_RELAY_DENIED), N(R_BARE_NEWLINE), N(R_TOO_BIG),
	N(R_SIZE_TOO_BIG), N(R_BAD_SENDER), N(R_BAD_RCPT), N(R_SENDER_UTF8),
	N(R_RCPT_UTF8), N(R_NO_VALID_RCPT), N(R_TOO_MANY_HOPS),
	N(R_PARAM_UNKNOWN), N(R_TLS_GO), N(R_SYNTAX_STARTTLS), N(R_TLS_ACTIVE),
	N(R_TLS_UNAVAILABLE), N(R_AUTH_CHALLENGE), N(R_AUTH_OK),
	N(R_AUTH_FAILED), N(R_AUTH_BAD64), N(R_AUTH_CANCELLED),
	N(R_SYNTAX_AUTH), N(R_AUTH_ALREADY), N(R_AUTH_IN_TXN),
	N(R_AUTH_DISABLED), N(R_AUTH_MECH), N(R_AUTH_TOO_LONG),
	N(R_AUTH_NEED_TLS), N(R_AUTH_REQUIRED), N(R_AUTH_TOO_MANY),
	N(R_SENDER_NOT_OWNED),
};

/* longest text we put on one line: 512 octets minus code, esc and CRLF */
#define REPLY_TEXT_MAX 490

/* reply_get - the table entry for id */
const struct reply_def *
reply_get(enum reply_id id)
{
	return &replies[id];
}

/* reply_name - the id's name, for logs and tests */
const char *
reply_name(enum reply_id id)
{
	return (unsigned)id < R__COUNT ? names[id] : "R_?";
}

/* put one line: sep is ' ' for the last line of a reply, '-' otherwise */
static int
put_line(struct buf *out, const struct reply_def *r, char sep,
    const char *text, size_t len)
{
	size_t start = out->len;

	if (len > REPLY_TEXT_MAX)
		len = REPLY_TEXT_MAX;
	if (buf_printf(out, "%d%c", r->code, sep) < 0)
		goto fail;
	if (r->esc != NULL && buf_printf(out, "%s ", r->esc) < 0)
		goto fail;
	if (buf_append(out, text, len) < 0 || buf_append(out, "\r\n", 2) < 0)
		goto fail;
	return 0;
fail:
	out->len = start;
	return -1;
}

/*
 * a detail may echo client bytes: control characters would break the
 * reply's line structure (a bare CR or LF), so they become '?'
 */
static void
clean(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
}

/* expand the entry's text with detail into dst; returns the length */
static size_t
expand(const struct reply_def *r, const char *detail, char *dst, size_t cap)
{
	const char *pct = strstr(r->text, "%s");
	size_t n = 0, k;

	if (pct == NULL) {
		k = strlen(r->text);
		if (k > cap)
			k = cap;
		memcpy(dst, r->text, k);
		n = k;
		if (detail != NULL && *detail != '\0' && n + 1 < cap) {
			dst[n++] = ' ';
			k = strnlen(detail, cap - n);
			memcpy(dst + n, detail, k);
			n += k;
		}
		clean(dst, n);
		return n;
	}
	k = (size_t)(pct - r->text);
	if (k > cap)
		k = cap;
	memcpy(dst, r->text, k);
	n = k;
	if (detail != NULL) {
		k = strnlen(detail, cap - n);
		memcpy(dst + n, detail, k);
		n += k;
	}
	clean(dst, n);
	k = strnlen(pct + 2, cap - n);
	memcpy(dst + n, pct + 2, k);
	return n + k;
}

/*
 * reply_format - append the reply id, with detail, as wire text to out.
 * Returns 0, or -1 when out is full (nothing is appended then).
 */
int
reply_format(struct buf *out, enum reply_id id, const char *detail)
{
	const struct reply_def *r = &replies[id];
	char text[REPLY_TEXT_MAX];
	size_t n;

	n = expand(r, detail, text, sizeof(text));
	return put_line(out, r, ' ', text, n);
}

/*
 * reply_format_lines - a multi-line reply: the entry's code (and enhanced
 * code) on each of the n lines, '-' after the code on all but the last.
 */
int
reply_format_lines(struct buf *out, enum reply_id id,
    const char *const *lines, unsigned n)
{
	const struct reply_def *r = &replies[id];
	size_t start = out->len;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (put_line(out, r, i + 1 < n ? '-' : ' ', lines[i],
			strlen(lines[i])) < 0) {
			out->len = start;
			return -1;
		}
	}
	return 0;
}
