/*
 * reply_parse - read remote replies and EHLO keywords, encode DATA.
 *
 * Replies (RFC 5321 4.2.1): every line but the last is "code-text", the
 * last is "code SP text" or the bare code. The code must be three digits,
 * the first 2 to 5, and the same on every line; anything else is a
 * protocol error and the caller drops the connection. An enhanced status
 * code (RFC 2034/3463) at the start of the first line's text is kept in
 * esc only when its class digit equals the reply's first digit; a
 * conflicting one ("550 4.1.1") stays in the text and the basic code
 * decides (replycodes.md section 4). The same enhanced code repeated on
 * later lines is removed from them too. Control characters in the text
 * become '?', so a reply can be quoted in logs and bounces as it is.
 *
 * DATA encoding: the stored message has CRLF line ends already, but a
 * bare CR or LF is still turned into CRLF so we never send one (no
 * SMTP smuggling through us), and a line starting with '.' gets one more
 * (RFC 5321 4.5.2). The end adds CRLF if the last line lacks it, then
 * ".CRLF".
 *
 * Made-up results: one table (synth[]) gives the code and enhanced code
 * of every result the relay decides without a reply (DNS, connect,
 * timeouts, SIZE, SMTPUTF8, TLS); mx.c and client.c name an entry.
 */
#include "reply_parse.h"

#include <string.h>

#include "../lib/util.h"

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* reply_parse_init - start a new reply */
void
reply_parse_init(struct relay_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * reply_parse_esc - does s start with an enhanced status code
 * "C.SSS.DDD" (1 to 3 digits after each dot), followed by a space or the
 * end? cls, if not 0, is the class digit it must have. Returns 1 and sets
 * *esclen, or 0.
 */
int
reply_parse_esc(const char *s, size_t len, int cls, size_t *esclen)
{
	size_t i = 0, n;
	int part;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5'))
		return 0;
	if (cls != 0 && s[0] != cls)
		return 0;
	i = 1;
	for (part = 0; part < 2; part++) {
		if (i >= len || s[i] != '.')
			return 0;
		i++;
		for (n = 0; i < len && is_digit((unsigned char)s[i]) && n < 4;
		    i++)
			n++;
		if (n == 0 || n > 3)
			return 0;
	}
	if (i < len && s[i] != ' ')
		return 0;
	*esclen = i;
	return 1;
}

static void
text_append(struct relay_reply *r, const char *s, size_t n)
{
	size_t i;

	if (r->nlines > 0) {
		if (r->textlen + 1 >= sizeof(r->text)) {
			r->truncated = 1;
			return;
		}
		r->text[r->textlen++] = '\n';
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (r->textlen + 1 >= sizeof(r->text)) {
			r->truncated = 1;
			break;
		}
		r->text[r->textlen++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	r->text[r->textlen] = '\0';
}

/*
 * reply_parse_line - add one reply line (without its CRLF). Returns 1
 * when this was the last line, 0 when more follow, -1 when the line is
 * not a valid reply line (bad code, code differs from the first line's,
 * too long); the reply is unusable then.
 */
int
reply_parse_line(struct relay_reply *r, const char *line, size_t len)
{
	int code, last;
	const char *t;
	size_t tn, el;

	if (r->complete || len < 3 || len > REPLY_PARSE_LINE_MAX)
		return -1;
	if (line[0] < '2' || line[0] > '5' ||
	    !is_digit((unsigned char)line[1]) ||
	    !is_digit((unsigned char)line[2]))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3) {
		last = 1;
	} else if (line[3] == ' ') {
		last = 1;
	} else if (line[3] == '-') {
		last = 0;
	} else {
		return -1;
	}
	if (r->nlines > 0 && code != r->code)
		return -1;
	r->code = code;
	t = len > 4 ? line + 4 : line + len;
	tn = len > 4 ? len - 4 : 0;
	if (r->nlines == 0) {
		if (reply_parse_esc(t, tn, line[0], &el)) {
			memcpy(r->esc, t, el);
			r->esc[el] = '\0';
			t += el;
			tn -= el;
			if (tn > 0) {
				t++;
				tn--;
			}
		}
	} else if (r->esc[0] != '\0') {
		el = strlen(r->esc);
		if (tn >= el && memcmp(t, r->esc, el) == 0 &&
		    (tn == el || t[el] == ' ')) {
			t += el;
			tn -= el;
			if (tn > 0) {
				t++;
				tn--;
			}
		}
	}
	text_append(r, t, tn);
	r->nlines++;
	if (last)
		r->complete = 1;
	return last;
}

static int
kw_is(const char *s, size_t n, const char *kw)
{
	size_t k = strlen(kw);

	return n >= k && str_ncasecmp_ascii(s, kw, k) == 0 &&
	    (n == k || s[k] == ' ');
}

static uint64_t
parse_u64(const char *s, size_t n, int *ok)
{
	uint64_t v = 0;
	size_t i;

	*ok = n > 0;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]) ||
		    v > (UINT64_MAX - 9) / 10) {
			*ok = 0;
			return 0;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/* LIMITS (RFC 9422): "LIMITS RCPTMAX=50 MAILMAX=10" */
static void
parse_limits(const char *s, size_t n, struct relay_caps *caps)
{
	size_t i = 0, j;
	int ok;
	uint64_t v;

	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		for (j = i; j < n && s[j] != ' '; j++)
			;
		if (j - i > 8 &&
		    str_ncasecmp_ascii(s + i, "RCPTMAX=", 8) == 0) {
			v = parse_u64(s + i + 8, j - i - 8, &ok);
			if (ok && v > 0)
				caps->rcptmax = v > 100000 ? 100000 :
				    (unsigned)v;
		}
		i = j;
	}
}

/*
 * reply_parse_ehlo - the extensions a complete EHLO reply announces.
 * The first line is the server's greeting, not a keyword. A SIZE whose
 * value is missing or 0 means no fixed limit (RFC 1870).
 */
void
reply_parse_ehlo(const struct relay_reply *r, struct relay_caps *caps)
{
	const char *p = r->text, *end = r->text + r->textlen, *nl;
	size_t n;
	int first = 1, ok;

	memset(caps, 0, sizeof(*caps));
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (!first) {
			if (kw_is(p, n, "PIPELINING"))
				caps->pipelining = 1;
			else if (kw_is(p, n, "8BITMIME"))
				caps->eightbitmime = 1;
			else if (kw_is(p, n, "SMTPUTF8"))
				caps->smtputf8 = 1;
			else if (kw_is(p, n, "STARTTLS"))
				caps->starttls = 1;
			else if (kw_is(p, n, "SIZE")) {
				caps->size = 1;
				caps->size_max = n > 5 ?
				    parse_u64(p + 5, n - 5, &ok) : 0;
				if (n > 5 && !ok)
					caps->size_max = 0;
			} else if (kw_is(p, n, "LIMITS") && n > 7)
				parse_limits(p + 7, n - 7, caps);
		}
		first = 0;
		p += n + 1;
	}
}

/* reply_parse_enc_init - start encoding a message from its first byte */
void
reply_parse_enc_init(struct relay_enc *e)
{
	e->pos = 0;
	e->bol = 1;
}

/*
 * reply_parse_enc_run - encode the input from e->pos into out, as much
 * as fits in cap. Returns the bytes written; the input is done when
 * e->pos == len. Call reply_parse_enc_end after it.
 */
size_t
reply_parse_enc_run(struct relay_enc *e, const char *in, size_t len,
    char *out, size_t cap)
{
	size_t o = 0;
	char c;

	while (e->pos < len && cap - o >= 3) {
		c = in[e->pos];
		if (e->bol && c == '.')
			out[o++] = '.'; /* RFC 5321 4.5.2 */
		if (c == '\r') {
			/* CRLF, or a bare CR made into CRLF */
			out[o++] = '\r';
			out[o++] = '\n';
			e->pos += (e->pos + 1 < len && in[e->pos + 1] == '\n') ?
			    2 : 1;
			e->bol = 1;
		} else if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			e->pos++;
			e->bol = 1;
		} else {
			out[o++] = c;
			e->pos++;
			e->bol = 0;
		}
	}
	return o;
}

/*
 * reply_parse_enc_end - the end of data: CRLF if the last line was not
 * ended, then ".CRLF". cap must be at least RELAY_ENC_END_MAX.
 */
size_t
reply_parse_enc_end(struct relay_enc *e, char *out, size_t cap)
{
	size_t o = 0;

	if (cap < RELAY_ENC_END_MAX)
		return 0;
	if (!e->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

static const struct relay_synth_def synth[RSY__COUNT] = {
	[RSY_CONNECT] = { 451, "4.4.1", "could not connect to the next hop" },
	[RSY_LOST] = { 451, "4.4.2", "the connection was lost" },
	[RSY_TIMEOUT] = { 451, "4.4.2", "the next hop did not answer in "
	    "time" },
	[RSY_PROTOCOL] = { 451, "4.5.0", "the next hop broke the SMTP "
	    "protocol" },
	[RSY_REFUSED] = { 451, "4.4.0", "the next hop refused the session; "
	    "tried again later" },
	[RSY_TLS_FAILED] = { 451, "4.7.5", "TLS failed (handshake or "
	    "certificate)" },
	[RSY_TLS_MISSING] = { 451, "4.7.4", "TLS is required but the next "
	    "hop does not offer it" },
	[RSY_LOCAL] = { 451, "4.3.0", "local error, tried again later" },
	[RSY_DNS_TEMP] = { 451, "4.4.3", "DNS lookup failed for now" },
	[RSY_NXDOMAIN] = { 550, "5.1.2", "the recipient's domain does not "
	    "exist" },
	[RSY_NO_ADDRESS] = { 550, "5.4.4", "no mail host of the domain has "
	    "an address" },
	[RSY_NULL_MX] = { 556, "5.1.10", "the domain accepts no mail (null "
	    "MX)" },
	[RSY_LOOP] = { 554, "5.4.6", "the mail would loop back to us" },
	[RSY_TOO_BIG] = { 552, "5.3.4", "the message is bigger than the next "
	    "hop accepts" },
	[RSY_NEED_UTF8] = { 553, "5.6.7", "the message needs SMTPUTF8, which "
	    "the next hop lacks" },
	[RSY_BAD_SENDER] = { 553, "5.1.7", "the sender address cannot be "
	    "sent" },
	[RSY_BAD_RCPT] = { 553, "5.1.3", "the recipient address cannot be "
	    "sent" },
};

/* reply_parse_synth - the code and enhanced code of a made-up result */
const struct relay_synth_def *
reply_parse_synth(enum relay_synth id)
{
	if ((unsigned)id >= RSY__COUNT)
		return NULL;
	return &synth[id];
}
