/*
 * dsn - RFC 3464 delivery status notifications, built in memory.
 *
 * The report is assembled from three parts built separately, so that the
 * MIME boundary can be chosen not to occur in any of them (the remote
 * reply text and the original headers come from strangers). Every line
 * ends in CRLF; header fields are folded before 78 columns where they
 * have spaces.
 *
 * Character sets: the text/plain part is UTF-8 (remote replies may
 * carry it; invalid bytes become '?'). The machine-readable part and
 * the headers stay ASCII unless an address is not (SMTPUTF8 mail): then
 * they are message/global-delivery-status and message/global-headers
 * (RFC 6533), "utf-8" address types are used, and the report needs
 * SMTPUTF8 itself. Original headers with raw 8-bit text but ASCII
 * addresses stay text/rfc822-headers with 8bit, needing only 8BITMIME,
 * so the report can still reach a sender whose server lacks SMTPUTF8.
 *
 * The plain-language part of each recipient is kb_describe() without its
 * "Verdict:" paragraph: the report states the outcome itself ("failed
 * for good", "given up after 5d", "still being retried"), which the
 * code alone cannot know (a 4xx is final once the queue gives up).
 */
#include "dsn.h"

#include <stdio.h>
#include <string.h>

#include "../explain/kb.h"
#include "../lib/util.h"
#include "../smtp/trace.h"
#include "sched.h"

#define DSN_WIDTH 72          /* plain text wrap */
#define DSN_FOLD 78           /* header folding */
#define DSN_LINE_MAX 900      /* hard split of an unbreakable header word */
#define DSN_HEADERS_MAX (64u * 1024u) /* of the original, in the report */
#define DSN_SUBJECT_MAX 60
#define DSN_RULE "------------------------------------------------------------------------"

/* byte classes for cleaning text from elsewhere */
enum clean_mode {
	CLEAN_ASCII, /* non-ASCII bytes become '?' */
	CLEAN_UTF8,  /* valid UTF-8 kept, invalid bytes become '?' */
};

static int
is_ascii(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static int
mem_is_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* length of the valid UTF-8 sequence at s (n bytes left), or 0 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Append s cleaned for one line of output: control characters (CR, LF,
 * tab included) become spaces, other bytes per mode.
 */
static int
put_clean(struct buf *out, const char *s, size_t n, enum clean_mode mode)
{
	size_t i = 0, k;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			if (buf_putc(out, ' ') < 0)
				return -1;
			i++;
		} else if (c < 0x80) {
			if (buf_putc(out, (char)c) < 0)
				return -1;
			i++;
		} else if (mode == CLEAN_UTF8 &&
		    (k = utf8_seq((const unsigned char *)s + i, n - i)) > 0) {
			if (buf_append(out, s + i, k) < 0)
				return -1;
			i += k;
		} else {
			if (buf_putc(out, '?') < 0)
				return -1;
			i++;
		}
	}
	return 0;
}

/*
 * put_clean for the text part: the same, but a line that would pass
 * DSN_LINE_MAX octets goes on under the 13-column labels (between
 * characters, never inside a UTF-8 sequence)
 */
static int
put_clean_wrapped(struct buf *out, const char *s, size_t n,
    enum clean_mode mode)
{
	struct buf t;
	size_t col = 0, i, start;
	int r = 0;

	for (i = out->len; i > 0 && out->data[i - 1] != '\n'; i--)
		col++;
	buf_init(&t, 0);
	if (put_clean(&t, s, n, mode) < 0) {
		buf_free(&t);
		return -1;
	}
	for (i = start = 0; i < t.len && r == 0; i++) {
		if (col >= DSN_LINE_MAX &&
		    ((unsigned char)t.data[i] & 0xc0) != 0x80) {
			if (buf_append(out, t.data + start, i - start) < 0 ||
			    buf_printf(out, "\r\n%13s", "") < 0)
				r = -1;
			start = i;
			col = 13;
		}
		col++;
	}
	if (r == 0 && buf_append(out, t.data + start, t.len - start) < 0)
		r = -1;
	buf_free(&t);
	return r;
}

/*
 * tern's own words (a synthetic reason) wrapped at spaces to DSN_WIDTH
 * columns under the 13-column labels; a word too long for a line goes
 * on one line of its own (put_clean_wrapped keeps it below 998 octets)
 */
static int
put_words(struct buf *out, const char *s)
{
	struct buf t;
	size_t col = 13, i = 0, w;
	int r = 0, first = 1;

	buf_init(&t, 0);
	if (put_clean(&t, s, strlen(s), CLEAN_UTF8) < 0 ||
	    buf_cstr(&t) == NULL) {
		buf_free(&t);
		return -1;
	}
	while (i < t.len && r == 0) {
		while (i < t.len && t.data[i] == ' ')
			i++;
		if (i == t.len)
			break;
		for (w = i; w < t.len && t.data[w] != ' '; w++)
			;
		if (!first && col + 1 + (w - i) > DSN_WIDTH) {
			if (buf_printf(out, "\r\n%13s", "") < 0)
				r = -1;
			col = 13;
		} else if (!first) {
			if (buf_putc(out, ' ') < 0)
				r = -1;
			col++;
		}
		if (r == 0 && put_clean_wrapped(out, t.data + i, w - i,
		    CLEAN_UTF8) < 0)
			r = -1;
		col += w - i;
		first = 0;
		i = w;
	}
	buf_free(&t);
	return r;
}

/* append text with LF line ends as CRLF lines */
static int
put_crlf(struct buf *out, const char *s)
{
	const char *nl;

	while ((nl = strchr(s, '\n')) != NULL) {
		if (buf_append(out, s, (size_t)(nl - s)) < 0 ||
		    buf_puts(out, "\r\n") < 0)
			return -1;
		s = nl + 1;
	}
	if (*s != '\0' && (buf_puts(out, s) < 0 || buf_puts(out, "\r\n") < 0))
		return -1;
	return 0;
}

/*
 * Append a header field "name: value" folded at spaces before DSN_FOLD
 * columns (RFC 5322 2.2.3); a word too long to fold is split hard at
 * DSN_LINE_MAX so no line passes the 998-octet limit. value is already
 * clean (one line, no controls).
 */
static int
put_field(struct buf *out, const char *name, const char *value)
{
	size_t col, wl;
	const char *p = value, *w;
	int first = 1;

	if (buf_printf(out, "%s:", name) < 0)
		return -1;
	col = strlen(name) + 1;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && *p != ' ')
			p++;
		wl = (size_t)(p - w);
		if (!first && col + 1 + wl > DSN_FOLD) {
			if (buf_puts(out, "\r\n") < 0)
				return -1;
			col = 0;
		}
		if (buf_putc(out, ' ') < 0)
			return -1;
		col++;
		while (wl > DSN_LINE_MAX) {
			if (buf_append(out, w, DSN_LINE_MAX) < 0 ||
			    buf_puts(out, "\r\n ") < 0)
				return -1;
			w += DSN_LINE_MAX;
			wl -= DSN_LINE_MAX;
			col = 1;
		}
		if (buf_append(out, w, wl) < 0)
			return -1;
		col += wl;
		first = 0;
	}
	return buf_puts(out, "\r\n");
}

/* put_field with a value made of parts: prefix, cleaned text, suffix */
static int
put_field_clean(struct buf *out, const char *name, const char *prefix,
    const char *text, const char *suffix, enum clean_mode mode)
{
	struct buf v;
	int r;

	buf_init(&v, 0);
	r = buf_puts(&v, prefix) < 0 ||
	    (text != NULL && put_clean(&v, text, strlen(text), mode) < 0) ||
	    buf_puts(&v, suffix) < 0 || buf_cstr(&v) == NULL ? -1 :
	    put_field(out, name, v.data);
	buf_free(&v);
	return r;
}

/*
 * dsn_status - the Status: field for a recipient (RFC 3464 2.3.4): the
 * enhanced code the server gave, with its class set to the basic code's
 * first digit when they disagree (RFC 3463: the basic code decides);
 * else X.0.0 from the code's class; else 5.0.0 for a failure and 4.0.0
 * for a delay.
 */
void
dsn_status(char *out, size_t cap, int code, const char *esc,
    enum dsn_action action)
{
	struct kb_esc_code c;
	int cls = code / 100;

	if (esc != NULL && kb_esc_parse(esc, strlen(esc), &c) == 0) {
		if (cls == 2 || cls == 4 || cls == 5)
			c.cls = cls;
		else if (c.cls == 0)
			c.cls = action == DSN_DELAYED ? 4 : 5;
		snprintf(out, cap, "%d.%d.%d", c.cls, c.subject, c.detail);
		return;
	}
	if (cls == 2 || cls == 4 || cls == 5)
		snprintf(out, cap, "%d.0.0", cls);
	else
		snprintf(out, cap, "%s", action == DSN_DELAYED ? "4.0.0" :
		    "5.0.0");
}

/*
 * dsn_header_len - the length of msg's header section, up to and
 * including the line end before the empty line (all of msg if it has
 * no body)
 */
size_t
dsn_header_len(const char *msg, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - (msg + i)) : len - i;

		if (ll == 0 || (ll == 1 && msg[i] == '\r'))
			return i;
		if (nl == NULL)
			return len;
		i += ll + 1;
	}
	return len;
}

/*
 * dsn_forward_path - the address a 551 reply suggests ("User not local;
 * please try <forward-path>", RFC 5321 3.4): the first <...> in text,
 * without brackets. Returns 0, or -1 if there is none or it does not fit.
 */
int
dsn_forward_path(const char *text, char *out, size_t cap)
{
	const char *lt, *gt;

	if (text == NULL || (lt = strchr(text, '<')) == NULL ||
	    (gt = strchr(lt + 1, '>')) == NULL || gt == lt + 1 ||
	    (size_t)(gt - lt - 1) >= cap)
		return -1;
	memcpy(out, lt + 1, (size_t)(gt - lt - 1));
	out[gt - lt - 1] = '\0';
	if (strchr(out, '\n') != NULL || strchr(out, ' ') != NULL)
		return -1;
	return 0;
}

/* the Subject: of the original, one line, for the text part; "" if none */
static void
orig_subject(char *out, size_t cap, const char *hdr, size_t len)
{
	size_t i = 0, j, n;

	out[0] = '\0';
	while (i < len) {
		const char *nl = memchr(hdr + i, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - (hdr + i)) : len - i;

		if (ll >= 8 && str_ncasecmp_ascii(hdr + i, "Subject:", 8) == 0) {
			j = i + 8;
			while (j < i + ll && (hdr[j] == ' ' || hdr[j] == '\t'))
				j++;
			n = 0;
			for (; j < i + ll && hdr[j] != '\r' && n + 4 < cap &&
			    n < DSN_SUBJECT_MAX; j++) {
				unsigned char c = (unsigned char)hdr[j];

				out[n++] = c < 0x20 || c >= 0x7f ? '?' :
				    (char)c;
			}
			if (j < i + ll && hdr[j] != '\r')
				memcpy(out + n, "...", 3), n += 3;
			out[n] = '\0';
			return;
		}
		if (nl == NULL)
			break;
		i += ll + 1;
	}
}

/* Remote-MTA's name: "mx.example.org" from "mx.example.org[192.0.2.1]:25" */
static void
remote_name(char *out, size_t cap, const char *remote)
{
	const char *lb = strchr(remote, '[');
	const char *rb;
	size_t n;

	if (lb != NULL && lb != remote) {
		n = (size_t)(lb - remote);
	} else if (lb != NULL && (rb = strchr(lb, ']')) != NULL) {
		n = (size_t)(rb - lb + 1); /* an address literal: keep [] */
	} else {
		n = strcspn(remote, ":");
		if (strchr(remote + n + (remote[n] != '\0'), ':') != NULL)
			n = strlen(remote); /* a bare IPv6 address */
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, remote, n);
	out[n] = '\0';
}

/*
 * kb_describe() without its "Verdict:" paragraph (and, for a recipient
 * the queue gave up on, without the sender's advice, which is about
 * the temporary reply alone), CRLF line ends
 */
static int
put_explanation(struct buf *out, int code, const char *esc, int expired)
{
	struct buf kb;
	const char *p, *nl;
	size_t len;
	int skip = 0, r = 0;

	buf_init(&kb, 0);
	if (kb_describe(&kb, code > 0 ? code : 0,
	    esc != NULL && *esc != '\0' ? esc : NULL, DSN_WIDTH) < 0 ||
	    buf_cstr(&kb) == NULL) {
		buf_free(&kb);
		return -1;
	}
	for (p = kb.data; *p != '\0' && r == 0; p += len) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, "Verdict:", 8) == 0 || (expired &&
		    strncmp(p, "What the sender should do:", 26) == 0))
			skip = 1;
		else if (strncmp(p, "  ", 2) != 0)
			skip = 0;
		if (skip)
			continue;
		if (buf_append(out, p, nl != NULL ? len - 1 : len) < 0 ||
		    buf_puts(out, "\r\n") < 0)
			r = -1;
	}
	buf_free(&kb);
	return r;
}

/* the reply as the server sent it: one line per line, code and esc on each */
static int
put_reply_lines(struct buf *out, const char *label, const struct dsn_rcpt *r)
{
	const char *p = r->text != NULL ? r->text : "", *nl;
	const char *esc = r->esc != NULL ? r->esc : "";
	int first = 1;

	do {
		nl = strchr(p, '\n');
		if (buf_printf(out, "%-13s", first ? label : "") < 0)
			return -1;
		if (r->code > 0 && buf_printf(out, "%d%c", r->code,
		    nl != NULL ? '-' : ' ') < 0)
			return -1;
		if (*esc != '\0' && buf_printf(out, "%s ", esc) < 0)
			return -1;
		if (put_clean_wrapped(out, p, nl != NULL ? (size_t)(nl - p) :
		    strlen(p), CLEAN_UTF8) < 0 || buf_puts(out, "\r\n") < 0)
			return -1;
		first = 0;
		if (nl != NULL)
			p = nl + 1;
	} while (nl != NULL);
	return 0;
}

static int
put_text_rcpt(struct buf *out, const struct dsn_info *d,
    const struct dsn_rcpt *r)
{
	char lifetime[32], fwd[512];
	int has_remote = r->remote != NULL && *r->remote != '\0';
	int has_reply = r->code > 0 || (r->text != NULL && *r->text != '\0');

	if (buf_puts(out, DSN_RULE "\r\n<") < 0 ||
	    put_clean_wrapped(out, r->addr, strlen(r->addr), CLEAN_UTF8) < 0 ||
	    buf_puts(out, ">\r\n") < 0)
		return -1;
	sched_fmt_duration(lifetime, sizeof(lifetime),
	    (long long)(d->now - d->arrival));
	if (d->action == DSN_DELAYED) {
		if (buf_printf(out, "%-13s%s\r\n", "Result:",
		    "not delivered yet; still being retried") < 0)
			return -1;
	} else if (r->expired) {
		if (buf_printf(out, "%-13snot delivered after %s of retrying; "
		    "tern has given up\r\n", "Result:", lifetime) < 0)
			return -1;
	} else if (buf_printf(out, "%-13s%s\r\n", "Result:",
	    "failed for good; it will not be retried") < 0) {
		return -1;
	}
	if (has_remote && buf_printf(out, "%-13s", "Server:") < 0)
		return -1;
	if (has_remote && (put_clean_wrapped(out, r->remote, strlen(r->remote),
	    CLEAN_ASCII) < 0 || buf_puts(out, "\r\n") < 0))
		return -1;
	if (has_reply && r->synthetic) {
		if (buf_printf(out, "%-13s", "Reason:") < 0 ||
		    put_words(out, r->text != NULL ? r->text : "") < 0 ||
		    buf_puts(out, "\r\n") < 0)
			return -1;
	} else if (has_reply) {
		if (put_reply_lines(out, d->action == DSN_DELAYED ||
		    r->expired ? "Last reply:" : "Its reply:", r) < 0)
			return -1;
	}
	if (r->code == 551 &&
	    dsn_forward_path(r->text, fwd, sizeof(fwd)) == 0) {
		/* RFC 5321 3.4: a hint to check, never to act on blindly */
		if (buf_printf(out, "%-13s<", "Try instead:") < 0 ||
		    put_clean_wrapped(out, fwd, strlen(fwd), CLEAN_UTF8) < 0 ||
		    buf_printf(out, ">\r\n%-13s%s\r\n", "",
		    "(the server's suggestion: check it with the recipient)")
		    < 0)
			return -1;
	}
	if (r->expired && d->action == DSN_FAILED &&
	    put_crlf(out, "\nThe last reply was a temporary failure, but it "
	    "did not go away while tern\n"
	    "kept trying. Check the address, or reach the recipient "
	    "another way.") < 0)
		return -1;
	if (!has_reply && (r->esc == NULL || *r->esc == '\0'))
		return buf_puts(out, "\r\n");
	if (buf_puts(out, "\r\nWhat the reply means:\r\n") < 0 ||
	    put_explanation(out, r->code, r->esc,
	    r->expired && d->action == DSN_FAILED) < 0)
		return -1;
	return buf_puts(out, "\r\n");
}

static int
build_text(struct buf *out, const struct dsn_info *d, const char *hdr,
    size_t hdrlen)
{
	char date[64], until[64], subject[DSN_SUBJECT_MAX + 8];
	size_t i;

	if (trace_date(date, sizeof(date), d->arrival) < 0 ||
	    trace_date(until, sizeof(until), d->retry_until) < 0)
		return -1;
	orig_subject(subject, sizeof(subject), hdr, hdrlen);
	if (buf_printf(out, "This is the mail server %s.\r\n\r\n",
	    d->hostname) < 0)
		return -1;
	if (d->action == DSN_FAILED) {
		if (put_crlf(out,
		    "Your message could not be delivered to the recipients "
		    "below. Each one\n"
		    "is listed with the reply of the server that refused it "
		    "(or the reason\n"
		    "tern gave up) and what that reply means. The headers of "
		    "your message\n"
		    "are attached; the message itself was not kept.\n") < 0)
			return -1;
	} else {
		if (put_crlf(out,
		    "This is only a warning: your message has not been "
		    "delivered yet to the\n"
		    "recipients below. It stays in the queue and is tried "
		    "again regularly.\n"
		    "You do not need to send it again. If it still cannot be "
		    "delivered\n") < 0 ||
		    buf_printf(out, "by %s, you will get another message.\r\n",
		    until) < 0)
			return -1;
	}
	if (buf_printf(out, "\r\n%-13s%s\r\n%-13s%s\r\n", "Queue ID:",
	    d->qid, "Received:", date) < 0)
		return -1;
	if (subject[0] != '\0' &&
	    buf_printf(out, "%-13s%s\r\n", "Subject:", subject) < 0)
		return -1;
	if (buf_puts(out, "\r\n") < 0)
		return -1;
	for (i = 0; i < d->nrcpts; i++)
		if (put_text_rcpt(out, d, &d->rcpts[i]) < 0)
			return -1;
	return 0;
}

static int
build_status(struct buf *out, const struct dsn_info *d, int global)
{
	enum clean_mode mode = global ? CLEAN_UTF8 : CLEAN_ASCII;
	char date[64], status[32], name[300];
	size_t i;

	if (trace_date(date, sizeof(date), d->arrival) < 0)
		return -1;
	if (put_field_clean(out, "Reporting-MTA", "dns; ", d->hostname, "",
	    CLEAN_ASCII) < 0 ||
	    put_field_clean(out, "X-Tern-Queue-ID", "", d->qid, "",
	    CLEAN_ASCII) < 0 ||
	    put_field(out, "Arrival-Date", date) < 0)
		return -1;
	for (i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		const char *esc = r->esc != NULL ? r->esc : "";

		dsn_status(status, sizeof(status), r->code, esc, d->action);
		if (buf_puts(out, "\r\n") < 0 ||
		    put_field_clean(out, "Final-Recipient",
		    is_ascii(r->addr) ? "rfc822; " : "utf-8; ", r->addr, "",
		    mode) < 0 ||
		    put_field(out, "Action", d->action == DSN_DELAYED ?
		    "delayed" : "failed") < 0 ||
		    put_field(out, "Status", status) < 0)
			return -1;
		if (r->remote != NULL && *r->remote != '\0') {
			remote_name(name, sizeof(name), r->remote);
			if (put_field_clean(out, "Remote-MTA", "dns; ", name, "",
			    CLEAN_ASCII) < 0)
				return -1;
		}
		if (r->code > 0 && !r->synthetic) {
			char pre[40];

			snprintf(pre, sizeof(pre), "smtp; %d%s%s ", r->code,
			    *esc != '\0' ? " " : "", esc);
			if (put_field_clean(out, "Diagnostic-Code", pre,
			    r->text, "", mode) < 0)
				return -1;
		} else if (r->text != NULL && *r->text != '\0') {
			if (put_field_clean(out, "Diagnostic-Code", "X-Tern; ",
			    r->text, "", mode) < 0)
				return -1;
		}
		if (r->last_attempt != 0) {
			if (trace_date(date, sizeof(date), r->last_attempt) < 0 ||
			    put_field(out, "Last-Attempt-Date", date) < 0)
				return -1;
		}
		if (d->action == DSN_DELAYED) {
			if (trace_date(date, sizeof(date), d->retry_until) < 0 ||
			    put_field(out, "Will-Retry-Until", date) < 0)
				return -1;
		}
	}
	return 0;
}

/* 1 if needle occurs in hay */
static int
mem_has(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	return k <= n && memmem(hay, n, needle, k) != NULL;
}

/*
 * dsn_build - append the whole report for d to out (CRLF lines, headers
 * included, no Return-Path:), and set *needs to the DSN_NEEDS_* flags
 * its transport needs. Returns 0, or -1 when out of memory (out then
 * holds a partial report to discard).
 */
int
dsn_build(struct buf *out, const struct dsn_info *d, unsigned *needs)
{
	struct buf text, status;
	char bnd[128], date[64], cte[16];
	const char *ctype_status, *ctype_hdr;
	size_t hdrlen, i, hlen_out;
	int global, text8, hdr8, r = -1, n;

	*needs = 0;
	hdrlen = d->msg != NULL ? dsn_header_len(d->msg, d->msglen) : 0;
	hlen_out = hdrlen;
	if (hlen_out > DSN_HEADERS_MAX) {
		/* cut after a whole line */
		hlen_out = DSN_HEADERS_MAX;
		while (hlen_out > 0 && d->msg[hlen_out - 1] != '\n')
			hlen_out--;
	}
	global = !is_ascii(d->sender);
	for (i = 0; i < d->nrcpts; i++)
		if (!is_ascii(d->rcpts[i].addr))
			global = 1;
	hdr8 = !mem_is_ascii(d->msg != NULL ? d->msg : "", hlen_out);

	buf_init(&text, 0);
	buf_init(&status, 0);
	if (build_text(&text, d, d->msg != NULL ? d->msg : "", hdrlen) < 0 ||
	    build_status(&status, d, global) < 0)
		goto out;
	text8 = !mem_is_ascii(text.data != NULL ? text.data : "", text.len);

	/* a boundary that no part contains (RFC 2046 5.1.1) */
	for (n = 0;; n++) {
		if (n == 0)
			snprintf(bnd, sizeof(bnd), "=_tern_%s", d->dsn_qid);
		else
			snprintf(bnd, sizeof(bnd), "=_tern_%s_%d", d->dsn_qid,
			    n);
		if (!mem_has(text.data ? text.data : "", text.len, bnd) &&
		    !mem_has(status.data ? status.data : "", status.len,
		    bnd) && !mem_has(d->msg ? d->msg : "", hlen_out, bnd))
			break;
	}
	if (global) {
		*needs |= DSN_NEEDS_SMTPUTF8 | DSN_NEEDS_8BITMIME;
		ctype_status = "message/global-delivery-status";
		ctype_hdr = "message/global-headers";
	} else {
		if (text8 || hdr8)
			*needs |= DSN_NEEDS_8BITMIME;
		ctype_status = "message/delivery-status";
		ctype_hdr = "text/rfc822-headers";
	}
	if (trace_date(date, sizeof(date), d->now) < 0)
		goto out;
	snprintf(cte, sizeof(cte), "%s", *needs ? "8bit" : "7bit");
	if (buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>"
	    "\r\n", d->hostname) < 0 ||
	    put_field_clean(out, "To", "<", d->sender, ">", global ?
	    CLEAN_UTF8 : CLEAN_ASCII) < 0 ||
	    put_field(out, "Subject", d->action == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)") < 0 ||
	    buf_printf(out, "Date: %s\r\nMessage-ID: <%s.dsn@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;"
	    "\r\n\tboundary=\"%s\"\r\nContent-Transfer-Encoding: %s\r\n"
	    "\r\nThis is a MIME-encapsulated message: a delivery status "
	    "report (RFC 3464).\r\n\r\n", date, d->dsn_qid, d->hostname,
	    bnd, cte) < 0)
		goto out;
	if (buf_printf(out, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=%s\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", bnd,
	    text8 ? "utf-8" : "us-ascii", text8 ? "8bit" : "7bit") < 0 ||
	    buf_append(out, text.data, text.len) < 0)
		goto out;
	if (buf_printf(out, "\r\n--%s\r\nContent-Description: Delivery "
	    "report\r\nContent-Type: %s\r\n%s\r\n", bnd, ctype_status,
	    global ? "Content-Transfer-Encoding: 8bit\r\n" : "") < 0 ||
	    buf_append(out, status.data, status.len) < 0)
		goto out;
	if (buf_printf(out, "\r\n--%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n%s\r\n", bnd, d->action == DSN_FAILED ?
	    "Undelivered Message Headers" : "Delayed Message Headers",
	    ctype_hdr, global || hdr8 ? "Content-Transfer-Encoding: 8bit\r\n"
	    : "") < 0 ||
	    (d->msg != NULL && buf_append(out, d->msg, hlen_out) < 0))
		goto out;
	if (hlen_out > 0 && d->msg[hlen_out - 1] != '\n' &&
	    buf_puts(out, "\r\n") < 0)
		goto out;
	if (buf_printf(out, "\r\n--%s--\r\n", bnd) < 0)
		goto out;
	r = 0;
out:
	buf_free(&text);
	buf_free(&status);
	return r;
}
