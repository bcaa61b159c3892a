/*
 * explain - find SMTP replies in pasted text and bounces, and render the
 * knowledge base's explanation of each as text or JSON.
 *
 * Parsing runs in two passes over the lines of the input:
 *  1. RFC 3464: per-recipient blocks of a message/delivery-status part
 *     (Final-Recipient, Action, Status, Diagnostic-Code, Remote-MTA),
 *     with folded fields unfolded. If any block is found, that is the
 *     answer: one item per recipient.
 *  2. Otherwise, reply lines anywhere: a three-digit code at the start of
 *     a line, or after a mark that introduces a quoted reply (':' ';' '#'
 *     quote '(' '<' '[' '=' '>'), optionally followed by an enhanced code.
 *     Lines of a multi-line reply ("550-...", then "550 ...") are joined;
 *     indented lines under a reply continue its text. If no code is found,
 *     a lone enhanced code is taken (qmail's "(#5.1.1)", "dsn=4.4.1").
 * Both passes stop at the copy of the original message that bounces carry
 * (message/rfc822 and the usual "copy of the message" lines).
 *
 * Owns nothing: the caller provides the result struct and output bufs.
 * Text copied from the input is cleaned (controls become spaces, invalid
 * UTF-8 becomes '?'), so it is safe to print and to put into JSON.
 */
#include "explain.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../lib/util.h"

struct line {
	const char *p;
	size_t n;
};

/* next line of in at *pos, without its CR LF; 0 at the end */
static int
next_line(const char *in, size_t len, size_t *pos, struct line *l)
{
	const char *nl;
	size_t n;

	if (*pos >= len)
		return 0;
	l->p = in + *pos;
	nl = memchr(l->p, '\n', len - *pos);
	n = nl != NULL ? (size_t)(nl - l->p) : len - *pos;
	*pos += n + (nl != NULL);
	while (n > 0 && l->p[n - 1] == '\r')
		n--;
	l->n = n;
	return 1;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static size_t
indent_of(const struct line *l)
{
	size_t i = 0;

	while (i < l->n && is_ws(l->p[i]))
		i++;
	return i;
}

static int
blank(const struct line *l)
{
	return indent_of(l) == l->n;
}

/* case-insensitive search for needle in the n bytes at p; -1 if absent */
static long
ci_find(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	if (k == 0 || k > n)
		return -1;
	for (i = 0; i + k <= n; i++)
		if (str_ncasecmp_ascii(p + i, needle, k) == 0)
			return (long)i;
	return -1;
}

/* the copy of the original message starts here: stop reading */
static int
stop_marker(const struct line *l)
{
	static const char *const parts[] = {
		"message/rfc822", "text/rfc822-headers",
		"message/global-headers",
	};
	/* only on separator lines such as "--- Below this line is a copy
	 * of the message.", since prose may say "a copy of the message" */
	static const char *const rules[] = {
		"copy of the message", "original message",
	};
	size_t i, ind = indent_of(l);

	for (i = 0; i < ARRAY_LEN(parts); i++)
		if (ci_find(l->p, l->n, parts[i]) >= 0)
			return 1;
	if (ind + 2 < l->n && l->p[ind] == '-' && l->p[ind + 1] == '-')
		for (i = 0; i < ARRAY_LEN(rules); i++)
			if (ci_find(l->p, l->n, rules[i]) >= 0)
				return 1;
	return 0;
}

/* length of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t k, i;
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (k > n)
		return 0;
	for (i = 1; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (c == 0xe0 && p[1] < 0xa0)
		return 0; /* overlong */
	if (c == 0xed && p[1] > 0x9f)
		return 0; /* surrogate */
	if (c == 0xf0 && p[1] < 0x90)
		return 0;
	if (c == 0xf4 && p[1] > 0x8f)
		return 0;
	return k;
}

/*
 * append n bytes at src to the NUL-terminated dst (capacity cap), after a
 * space if dst is not empty; whitespace runs collapse, controls become
 * spaces, invalid UTF-8 becomes '?'. Sets *trunc when something is cut.
 */
static void
clean_append(char *dst, size_t cap, const char *src, size_t n, int *trunc)
{
	size_t len = strlen(dst), i = 0, k;
	const unsigned char *s = (const unsigned char *)src;
	int space = len > 0;

	while (i < n) {
		if (s[i] < 0x20 || s[i] == 0x7f || s[i] == ' ') {
			if (len > 0)
				space = 1;
			i++;
			continue;
		}
		k = utf8_len(s + i, n - i);
		if (len + space + (k ? k : 1) + 1 > cap) {
			*trunc = 1;
			break;
		}
		if (space) {
			dst[len++] = ' ';
			space = 0;
		}
		if (k == 0) {
			dst[len++] = '?';
			i++;
		} else {
			memcpy(dst + len, s + i, k);
			len += k;
			i += k;
		}
	}
	dst[len] = '\0';
}

/* copy a trimmed, cleaned field value into dst */
static void
set_field(char *dst, size_t cap, const char *src, size_t n, int *trunc)
{
	dst[0] = '\0';
	clean_append(dst, cap, src, n, trunc);
}

/* skip an "addr-type;" or "diagnostic-type;" prefix (RFC 3464 2.3) */
static const char *
skip_type(const char *s)
{
	const char *p = s;

	while (*p != '\0' && (isalnum((unsigned char)*p) || *p == '-' ||
	    *p == '.' || *p == '_'))
		p++;
	if (*p == ';' && p != s) {
		p++;
		while (*p == ' ')
			p++;
		return p;
	}
	return s;
}

/* store an address without "rfc822;" and angle brackets */
static void
set_addr(char *dst, size_t cap, const char *src, int *trunc)
{
	const char *p = skip_type(src);
	size_t n = strlen(p);

	if (n > 0 && *p == '<') {
		p++;
		n--;
	}
	if (n > 0 && p[n - 1] == '>')
		n--;
	set_field(dst, cap, p, n, trunc);
}

/* a reply found at a code position */
struct reply {
	int code;
	char sep;             /* ' ', '-' or '\0' at the end of the line */
	char esc[EXPLAIN_ESC_MAX];
	const char *text;     /* rest of the line after code and esc */
	size_t text_n;
};

/* read an enhanced code token at p (at most n bytes); its length or 0 */
static size_t
read_esc(const char *p, size_t n, char *esc)
{
	size_t k = 0, start = 0;
	struct kb_esc_code c;

	if (n > 0 && p[0] == '#')
		start = 1;
	k = start;
	while (k < n && (isdigit((unsigned char)p[k]) || p[k] == '.' ||
	    p[k] == 'X' || p[k] == 'x'))
		k++;
	if (k > start && p[k - 1] == '.') /* end of a sentence */
		k--;
	if (k < n && isalnum((unsigned char)p[k]))
		return 0;
	if (k - start >= EXPLAIN_ESC_MAX ||
	    kb_esc_parse(p + start, k - start, &c) < 0 || c.cls == 0)
		return 0;
	memcpy(esc, p + start, k - start);
	esc[k - start] = '\0';
	return k;
}

/* parse a reply whose code starts at p (n bytes to the end of line) */
static void
parse_reply(const char *p, size_t n, struct reply *r)
{
	size_t i = 3, k;

	r->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	r->sep = i < n ? p[i] : '\0';
	r->esc[0] = '\0';
	if (i < n)
		i++;
	while (i < n && is_ws(p[i]))
		i++;
	if ((k = read_esc(p + i, n - i, r->esc)) > 0) {
		i += k;
		if (i < n && p[i] == ':')
			i++;
	}
	r->text = p + i;
	r->text_n = n - i;
}

static int
is_digit3(const char *p, size_t n, size_t i)
{
	return i + 3 <= n && isdigit((unsigned char)p[i]) &&
	    isdigit((unsigned char)p[i + 1]) &&
	    isdigit((unsigned char)p[i + 2]);
}

/*
 * find the next reply code on the line at or after *from; fills r and
 * returns the code's offset, or -1. See the file comment for the rules.
 */
static long
find_reply(const struct line *l, size_t from, struct reply *r)
{
	static const char marks[] = ":;'\"#(<[=>";
	size_t i, j, ind = indent_of(l);
	char prev, after;
	int at_start;

	for (i = from; i + 3 <= l->n; i++) {
		if (!is_digit3(l->p, l->n, i))
			continue;
		after = i + 3 < l->n ? l->p[i + 3] : '\0';
		if (after != '\0' && after != ' ' && after != '-' &&
		    after != '\t')
			continue;
		at_start = i == ind;
		if (!at_start) {
			prev = l->p[i - 1];
			if (isalnum((unsigned char)prev) || prev == '.' ||
			    prev == '-' || prev == '_' || prev == '+' ||
			    prev == '/' || prev == '@' || prev == '\\')
				continue;
			j = i;
			while (j > 0 && is_ws(l->p[j - 1]))
				j--;
			if (j == 0 || strchr(marks, l->p[j - 1]) == NULL)
				continue;
			if (l->p[i] < '2' || l->p[i] > '5')
				continue;
			/* "Content-Length: 250": a bare number, not a reply */
			if (after == '\0')
				continue;
		}
		parse_reply(l->p + i, l->n - i, r);
		/* "250-" alone is not a reply; "550-5.1.1" or "550-text" is */
		return (long)i;
	}
	return -1;
}

/* remove repeated "550-5.1.1 " / "550 5.1.1 " inside joined text */
static void
strip_repeats(char *t, int code, const char *esc)
{
	char pat[24];
	size_t plen, elen = strlen(esc), r = 0, w = 0, len = strlen(t);

	snprintf(pat, sizeof(pat), "%03d", code % 1000);
	plen = strlen(pat);
	while (r < len) {
		if ((r == 0 || t[r - 1] == ' ') && r + plen <= len &&
		    memcmp(t + r, pat, plen) == 0 &&
		    (t[r + plen] == '-' || t[r + plen] == ' ' ||
		    t[r + plen] == '\0')) {
			size_t s = r + plen + (t[r + plen] != '\0');

			if (elen > 0 && strncmp(t + s, esc, elen) == 0 &&
			    (t[s + elen] == ' ' || t[s + elen] == '\0'))
				s += elen + (t[s + elen] == ' ');
			else if (t[r + plen] == ' ' && elen > 0)
				goto keep; /* "550 people" stays */
			r = s;
			while (w > 0 && t[w - 1] == ' ' && (r >= len ||
			    t[r] == ' '))
				w--;
			continue;
		}
keep:
		t[w++] = t[r++];
	}
	while (w > 0 && t[w - 1] == ' ')
		w--;
	t[w] = '\0';
}

/* drop one closing quote or parenthesis that belongs to the context */
static void
strip_closer(char *t)
{
	size_t n = strlen(t), open = 0, close = 0, i;

	while (n > 0 && t[n - 1] == ' ')
		t[--n] = '\0';
	if (n == 0)
		return;
	if (t[n - 1] == '\'' || t[n - 1] == '"') {
		for (i = 0; i + 1 < n; i++)
			if (t[i] == t[n - 1])
				open++;
		if (open % 2 == 0)
			t[--n] = '\0';
		return;
	}
	for (i = 0; i < n; i++) {
		open += t[i] == '(';
		close += t[i] == ')';
	}
	while (n > 0 && t[n - 1] == ')' && close > open) {
		t[--n] = '\0';
		close--;
	}
}

static struct explain_item *
new_item(struct explain_result *res)
{
	struct explain_item *it;

	if (res->n >= EXPLAIN_MAX_ITEMS) {
		res->dropped++;
		return NULL;
	}
	it = &res->items[res->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

/* first "<local@domain>" in s, into dst */
static void
addr_in(const char *s, char *dst, size_t cap, int *trunc)
{
	const char *lt, *gt;

	for (lt = strchr(s, '<'); lt != NULL; lt = strchr(lt + 1, '<')) {
		gt = strchr(lt, '>');
		if (gt == NULL)
			return;
		if (memchr(lt, '@', (size_t)(gt - lt)) != NULL &&
		    memchr(lt, ' ', (size_t)(gt - lt)) == NULL) {
			set_field(dst, cap, lt + 1, (size_t)(gt - lt - 1),
			    trunc);
			return;
		}
	}
}

static enum kb_verdict
verdict_of(const struct explain_item *it)
{
	if (str_casecmp_ascii(it->action, "failed") == 0)
		return KB_V_FAILED;
	if (str_casecmp_ascii(it->action, "delayed") == 0)
		return KB_V_RETRY;
	if (str_casecmp_ascii(it->action, "delivered") == 0 ||
	    str_casecmp_ascii(it->action, "relayed") == 0 ||
	    str_casecmp_ascii(it->action, "expanded") == 0)
		return KB_V_DELIVERED;
	return kb_verdict_of(it->code, it->esc[0] ? it->esc : NULL);
}

/* ---- pass 1: RFC 3464 delivery-status fields ---- */

enum dsn_field {
	F_NONE, F_FINAL, F_ORIG, F_ACTION, F_STATUS, F_DIAG, F_REMOTE,
	F_OTHER
};

struct dsn_block {
	char final[EXPLAIN_ADDR_MAX];
	char orig[EXPLAIN_ADDR_MAX];
	char action[16];
	char status[32];
	char remote[256];
	char diag[EXPLAIN_TEXT_MAX];
	int trunc;
};

static enum dsn_field
field_of(const struct line *l, size_t *vstart)
{
	static const struct {
		const char *name;
		enum dsn_field f;
	} names[] = {
		{ "final-recipient", F_FINAL },
		{ "original-recipient", F_ORIG },
		{ "action", F_ACTION },
		{ "status", F_STATUS },
		{ "diagnostic-code", F_DIAG },
		{ "remote-mta", F_REMOTE },
	};
	size_t i, k = 0;

	while (k < l->n && (isalnum((unsigned char)l->p[k]) || l->p[k] == '-'))
		k++;
	if (k == 0 || k >= l->n || l->p[k] != ':')
		return F_NONE;
	*vstart = k + 1;
	for (i = 0; i < ARRAY_LEN(names); i++)
		if (strlen(names[i].name) == k &&
		    str_ncasecmp_ascii(l->p, names[i].name, k) == 0)
			return names[i].f;
	return F_OTHER;
}

/* store a finished field's value, unfolded in val, into the block */
static void
store_field(struct dsn_block *b, enum dsn_field f, const char *val)
{
	size_t n = strlen(val);

	switch (f) {
	case F_FINAL:
		set_addr(b->final, sizeof(b->final), val, &b->trunc);
		break;
	case F_ORIG:
		set_addr(b->orig, sizeof(b->orig), val, &b->trunc);
		break;
	case F_ACTION:
		n = strcspn(val, " ;(");
		set_field(b->action, sizeof(b->action), val, n, &b->trunc);
		break;
	case F_STATUS:
		n = strcspn(val, " ;(");
		set_field(b->status, sizeof(b->status), val, n, &b->trunc);
		break;
	case F_DIAG:
		set_field(b->diag, sizeof(b->diag), val, n, &b->trunc);
		break;
	case F_REMOTE:
		val = skip_type(val);
		set_field(b->remote, sizeof(b->remote), val, strlen(val),
		    &b->trunc);
		break;
	case F_NONE:
	case F_OTHER:
		break;
	}
}

/* turn a finished block into an item, if it is a per-recipient block */
static void
emit_block(struct explain_result *res, struct dsn_block *b)
{
	struct explain_item *it;
	struct kb_esc_code c;
	struct line l;
	struct reply r;
	const char *d;
	long at;

	if ((b->final[0] == '\0' && b->orig[0] == '\0') ||
	    (b->action[0] == '\0' && b->status[0] == '\0' &&
	    b->diag[0] == '\0'))
		goto reset;
	res->dsn = 1;
	if ((it = new_item(res)) == NULL)
		goto reset;
	it->from_dsn = 1;
	it->truncated = b->trunc;
	memcpy(it->recipient, b->final[0] ? b->final : b->orig,
	    sizeof(it->recipient));
	snprintf(it->action, sizeof(it->action), "%s", b->action);
	str_lower(it->action);
	memcpy(it->remote_mta, b->remote, sizeof(it->remote_mta));
	if (strlen(b->status) < EXPLAIN_ESC_MAX &&
	    kb_esc_parse(b->status, strlen(b->status), &c) == 0 && c.cls != 0)
		memcpy(it->esc, b->status, strlen(b->status) + 1);
	d = skip_type(b->diag);
	l.p = d;
	l.n = strlen(d);
	at = find_reply(&l, 0, &r);
	if (at == 0) {
		it->code = r.code;
		if (it->esc[0] == '\0')
			memcpy(it->esc, r.esc, sizeof(it->esc));
		set_field(it->text, sizeof(it->text), r.text, r.text_n,
		    &it->truncated);
		strip_repeats(it->text, r.code, r.esc);
	} else {
		set_field(it->text, sizeof(it->text), d, l.n, &it->truncated);
	}
	it->verdict = verdict_of(it);
reset:
	memset(b, 0, sizeof(*b));
}

static void
parse_dsn(const char *in, size_t len, struct explain_result *res,
    struct dsn_block *b, char *val, size_t valcap)
{
	size_t pos = 0, vs = 0;
	struct line l;
	enum dsn_field cur = F_NONE, f;
	int trunc = 0;

	memset(b, 0, sizeof(*b));
	val[0] = '\0';
	while (next_line(in, len, &pos, &l)) {
		if (l.n > 0 && is_ws(l.p[0]) && !blank(&l) && cur != F_NONE) {
			clean_append(val, valcap, l.p, l.n, &trunc);
			continue;
		}
		b->trunc |= trunc;
		trunc = 0;
		store_field(b, cur, val);
		cur = F_NONE;
		val[0] = '\0';
		if (blank(&l)) {
			emit_block(res, b);
			continue;
		}
		if (stop_marker(&l))
			break;
		f = field_of(&l, &vs);
		if (f == F_NONE)
			continue;
		if (f == F_FINAL && (b->final[0] != '\0' || b->orig[0] != '\0'
		    ) && (b->status[0] != '\0' || b->action[0] != '\0'))
			emit_block(res, b);
		cur = f;
		clean_append(val, valcap, l.p + vs, l.n - vs, &trunc);
	}
	b->trunc |= trunc;
	store_field(b, cur, val);
	emit_block(res, b);
}

/* ---- pass 2: reply lines anywhere ---- */

/* remember a recipient named on this line (bounce texts, transcripts) */
static void
note_rcpt(const struct line *l, char *rcpt, size_t cap)
{
	size_t ind = indent_of(l), i, k;
	long at;
	int trunc = 0;
	const char *gt;

	/* Postfix and qmail: "<user@domain>: ..." */
	if (ind < l->n && l->p[ind] == '<') {
		gt = memchr(l->p + ind, '>', l->n - ind);
		if (gt != NULL && gt + 1 < l->p + l->n && gt[1] == ':' &&
		    memchr(l->p + ind, '@',
		    (size_t)(gt - l->p) - ind) != NULL) {
			set_field(rcpt, cap, l->p + ind + 1,
			    (size_t)(gt - l->p) - ind - 1, &trunc);
			return;
		}
	}
	/* transcripts and Exim: "RCPT TO:<user@domain>" */
	if ((at = ci_find(l->p, l->n, "RCPT TO:<")) >= 0) {
		i = (size_t)at + 9;
		gt = memchr(l->p + i, '>', l->n - i);
		if (gt != NULL && gt > l->p + i) {
			set_field(rcpt, cap, l->p + i, (size_t)(gt - l->p) - i,
			    &trunc);
			return;
		}
	}
	/* Exim: the failed address alone on an indented line */
	if (ind > 0 && ind < l->n) {
		for (k = ind; k < l->n && !is_ws(l->p[k]); k++)
			;
		if (k == l->n && memchr(l->p + ind, '@', k - ind) != NULL &&
		    memchr(l->p + ind, '<', k - ind) == NULL &&
		    memchr(l->p + ind, ':', k - ind) == NULL)
			set_field(rcpt, cap, l->p + ind, k - ind, &trunc);
	}
}

static void
finish_text(struct explain_item *it)
{
	const char *h;

	strip_repeats(it->text, it->code, it->esc);
	strip_closer(it->text);
	/* qmail and others put the enhanced code at the end: "(#4.3.0)" */
	if (it->esc[0] == '\0')
		for (h = strchr(it->text, '#'); h != NULL;
		    h = strchr(h + 1, '#'))
			if (read_esc(h, strlen(h), it->esc) > 0)
				break;
}

static int
same_item(const struct explain_item *a, const struct explain_item *b)
{
	return a->code == b->code && strcmp(a->esc, b->esc) == 0 &&
	    strcmp(a->text, b->text) == 0 &&
	    strcmp(a->recipient, b->recipient) == 0;
}

/* a lone enhanced code: "(#5.1.1)", "dsn=4.4.1", or one at line start */
static void
scan_esc_only(const char *in, size_t len, struct explain_result *res)
{
	size_t pos = 0, i, k, j;
	struct line l;
	struct explain_item *it;
	char esc[EXPLAIN_ESC_MAX], rcpt[EXPLAIN_ADDR_MAX] = "";

	while (next_line(in, len, &pos, &l)) {
		if (stop_marker(&l))
			break;
		note_rcpt(&l, rcpt, sizeof(rcpt));
		for (i = 0; i < l.n; i++) {
			if (l.p[i] != '2' && l.p[i] != '4' && l.p[i] != '5')
				continue;
			j = i;
			if (j > 0 && l.p[j - 1] == '#')
				j--;
			while (j > 0 && is_ws(l.p[j - 1]))
				j--;
			if (j > 0 && strchr("(=:;#", l.p[j - 1]) == NULL)
				continue;
			if (i > 0 && (isalnum((unsigned char)l.p[i - 1]) ||
			    l.p[i - 1] == '.'))
				continue;
			if ((k = read_esc(l.p + i, l.n - i, esc)) == 0)
				continue;
			if ((it = new_item(res)) == NULL)
				return;
			memcpy(it->esc, esc, sizeof(esc));
			set_field(it->text, sizeof(it->text), l.p, l.n,
			    &it->truncated);
			memcpy(it->recipient, rcpt, sizeof(it->recipient));
			it->verdict = verdict_of(it);
			break;
		}
	}
}

static void
scan_replies(const char *in, size_t len, struct explain_result *res)
{
	size_t pos = 0, from, ind, i, j;
	struct line l;
	struct reply r;
	struct explain_item *it = NULL, *cont = NULL;
	size_t cont_indent = 0;
	long at;
	int open = 0; /* it is a multi-line reply waiting for more lines */
	char rcpt[EXPLAIN_ADDR_MAX] = "";

	while (next_line(in, len, &pos, &l)) {
		if (stop_marker(&l))
			break;
		note_rcpt(&l, rcpt, sizeof(rcpt));
		ind = indent_of(&l);
		from = 0;
		at = find_reply(&l, from, &r);
		if (at < 0) {
			/* an indented line under a reply continues its text */
			if (cont != NULL && !blank(&l) && ind > cont_indent) {
				clean_append(cont->text, sizeof(cont->text),
				    l.p + ind, l.n - ind, &cont->truncated);
				continue;
			}
			/* anything else ends the reply, multi-line or not */
			cont = NULL;
			open = 0;
			continue;
		}
		if (open && it != NULL && r.code == it->code) {
			clean_append(it->text, sizeof(it->text), r.text,
			    r.text_n, &it->truncated);
		} else {
			if (it != NULL)
				finish_text(it);
			if ((it = new_item(res)) == NULL)
				break;
			it->code = r.code;
			memcpy(it->esc, r.esc, sizeof(it->esc));
			set_field(it->text, sizeof(it->text), r.text, r.text_n,
			    &it->truncated);
			memcpy(it->recipient, rcpt, sizeof(it->recipient));
			it->verdict = verdict_of(it);
		}
		open = r.sep == '-';
		cont = it;
		cont_indent = ind;
	}
	if (it != NULL)
		finish_text(it);

	/* a recipient named in the text itself, drop repeats */
	for (i = 0; i < res->n; i++) {
		it = &res->items[i];
		if (it->recipient[0] == '\0')
			addr_in(it->text, it->recipient, sizeof(it->recipient),
			    &it->truncated);
	}
	for (i = 0, j = 0; i < res->n; i++) {
		size_t k;
		int dup = 0;

		for (k = 0; k < j; k++)
			if (same_item(&res->items[k], &res->items[i]))
				dup = 1;
		if (!dup) {
			if (j != i)
				res->items[j] = res->items[i];
			j++;
		}
	}
	res->n = j;
}

/*
 * explain_parse - find every reply in the len bytes at in and fill res.
 * res->n is 0 when no code was found. Never fails; bounded by
 * EXPLAIN_MAX_ITEMS (the rest is counted in res->dropped).
 */
void
explain_parse(const char *in, size_t len, struct explain_result *res)
{
	struct dsn_block b;
	char val[EXPLAIN_TEXT_MAX];
	size_t i, valid;

	memset(res, 0, sizeof(*res));
	if (in == NULL)
		return;
	parse_dsn(in, len, res, &b, val, sizeof(val));
	if (res->n > 0 || res->dsn)
		return;
	res->dropped = 0;
	scan_replies(in, len, res);
	/* codes with a valid first digit win over stray numbers */
	for (i = 0, valid = 0; i < res->n; i++)
		valid += res->items[i].code / 100 >= 2 &&
		    res->items[i].code / 100 <= 5;
	if (valid > 0 && valid < res->n) {
		size_t j = 0;

		for (i = 0; i < res->n; i++)
			if (res->items[i].code / 100 >= 2 &&
			    res->items[i].code / 100 <= 5)
				res->items[j++] = res->items[i];
		res->n = j;
	}
	if (res->n == 0)
		scan_esc_only(in, len, res);
}

/* ---- rendering ---- */

#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_RED "\033[1;31m"
#define C_GREEN "\033[1;32m"
#define C_YELLOW "\033[1;33m"
#define C_CYAN "\033[36m"
#define C_OFF "\033[0m"

struct out {
	struct buf *b;
	int color;
	unsigned width;
	int err;
};

static void
put(struct out *o, const char *s)
{
	if (!o->err && buf_puts(o->b, s) < 0)
		o->err = 1;
}

static void
put_color(struct out *o, const char *color, const char *s)
{
	if (o->color)
		put(o, color);
	put(o, s);
	if (o->color)
		put(o, C_OFF);
}

/* text wrapped at o->width; the first line follows what is already there
 * at column col, later lines start with indent spaces */
static void
wrap(struct out *o, size_t col, size_t indent, const char *text)
{
	const char *p = text, *w;
	size_t wlen;
	int first = 1;
	char pad[64];

	if (indent >= sizeof(pad))
		indent = sizeof(pad) - 1;
	memset(pad, ' ', indent);
	pad[indent] = '\0';
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && *p != ' ')
			p++;
		wlen = (size_t)(p - w);
		if (!first && col + 1 + wlen > o->width) {
			put(o, "\n");
			put(o, pad);
			col = indent;
		} else if (!first) {
			put(o, " ");
			col++;
		}
		if (!o->err && buf_append(o->b, w, wlen) < 0)
			o->err = 1;
		col += wlen;
		first = 0;
	}
	put(o, "\n");
}

static void
labelled(struct out *o, const char *label, const char *color,
    const char *text)
{
	char lab[32];

	snprintf(lab, sizeof(lab), "%-11s", label);
	put_color(o, C_BOLD, lab);
	if (color != NULL && o->color)
		put(o, color);
	wrap(o, strlen(lab), 11, text);
	if (color != NULL && o->color) {
		/* the colour ends before the newline wrap() wrote */
		if (!o->err && o->b->len > 0)
			o->b->len--;
		put(o, C_OFF);
		put(o, "\n");
	}
}

static void
section(struct out *o, const char *title, const char *text)
{
	put(o, "\n");
	put_color(o, C_BOLD, title);
	put(o, "\n  ");
	wrap(o, 2, 2, text);
}

static void
digit_line(struct out *o, const char *tag, const char *name,
    const char *text)
{
	char head[16];

	snprintf(head, sizeof(head), "  %-7s", tag);
	put_color(o, C_CYAN, head);
	wrap(o, 9, 9, name);
	put(o, "         ");
	wrap(o, 9, 9, text);
}

static const char *
verdict_color(enum kb_verdict v)
{
	switch (v) {
	case KB_V_DELIVERED:
		return C_GREEN;
	case KB_V_RETRY:
	case KB_V_INTERMEDIATE:
		return C_YELLOW;
	default:
		return C_RED;
	}
}

static void
render_item(struct out *o, const struct explain_item *it)
{
	struct kb_view v;
	struct kb_esc_code c;
	const struct kb_hint *hints[4];
	const char *esc = it->esc[0] ? it->esc : NULL;
	char tmp[EXPLAIN_TEXT_MAX + 64];
	size_t nh, i;
	int d;

	kb_view(it->code, esc, &v);
	tmp[0] = '\0';
	if (it->code > 0)
		snprintf(tmp, sizeof(tmp), "%03d", it->code);
	if (esc != NULL)
		snprintf(tmp + strlen(tmp), sizeof(tmp) - strlen(tmp), "%s%s",
		    tmp[0] ? " " : "", esc);
	if (it->text[0] != '\0')
		snprintf(tmp + strlen(tmp), sizeof(tmp) - strlen(tmp), " %s",
		    it->text);
	labelled(o, "Reply:", NULL, tmp);
	if (it->recipient[0] != '\0')
		labelled(o, "Recipient:", NULL, it->recipient);
	if (it->remote_mta[0] != '\0')
		labelled(o, "Server:", NULL, it->remote_mta);
	if (it->action[0] != '\0')
		labelled(o, "Action:", NULL, it->action);
	labelled(o, "Verdict:", verdict_color(it->verdict),
	    kb_verdict_text(it->verdict));
	labelled(o, "In short:", NULL, v.summary);

	put(o, "\n");
	put_color(o, C_BOLD, "What the codes say");
	put(o, "\n");
	if (it->code > 0) {
		d = it->code / 100 % 10;
		snprintf(tmp, sizeof(tmp), "%dxx", d);
		digit_line(o, tmp, kb_first_digit_name(d), kb_first_digit(d));
		d = it->code / 10 % 10;
		snprintf(tmp, sizeof(tmp), "x%dx", d);
		digit_line(o, tmp, kb_second_digit_name(d),
		    kb_second_digit(d));
		snprintf(tmp, sizeof(tmp), "%03d", it->code);
		if (v.reply != NULL)
			digit_line(o, tmp, v.reply->title, v.reply->meaning);
		else
			digit_line(o, tmp, "Not a defined code",
			    "No RFC defines it; read it by its first digit.");
	}
	if (esc != NULL && kb_esc_parse(esc, strlen(esc), &c) == 0) {
		snprintf(tmp, sizeof(tmp), "%d.x.x", c.cls);
		digit_line(o, tmp, kb_class_name(c.cls), kb_class_text(c.cls));
		snprintf(tmp, sizeof(tmp), "x.%d.x", c.subject);
		digit_line(o, tmp, kb_subject_name(c.subject),
		    kb_subject_text(c.subject));
		snprintf(tmp, sizeof(tmp), "x.%d.%d", c.subject, c.detail);
		if (v.esc != NULL && v.esc_exact)
			digit_line(o, tmp, v.esc->title, v.esc->meaning);
		else
			digit_line(o, tmp, "Not in the registry",
			    "Read it by its class and subject.");
	}
	if (v.conflict)
		section(o, "Note", "The enhanced code's class disagrees "
		    "with the reply code; the reply code's first digit "
		    "decides (RFC 3463).");
	section(o, "Likely causes", v.causes);
	section(o, "What the sender should do", v.sender);
	section(o, "What the receiving administrator should check", v.admin);
	nh = kb_hints(it->text, hints, ARRAY_LEN(hints));
	if (nh > 0) {
		put(o, "\n");
		put_color(o, C_BOLD, "From the reply text");
		put(o, "\n");
		for (i = 0; i < nh; i++) {
			snprintf(tmp, sizeof(tmp), "  %s: ", hints[i]->who);
			put(o, tmp);
			wrap(o, strlen(tmp), 4, hints[i]->hint);
		}
	}
	if (it->truncated)
		section(o, "Note",
		    "Part of the input was too long and was cut.");
}

/*
 * explain_text - the explanation of every item in res for people, wrapped
 * at width columns, with ANSI colours when flags has EXPLAIN_COLOR.
 * Returns 0, or -1 when out is full.
 */
int
explain_text(struct buf *out, const struct explain_result *res,
    unsigned flags, unsigned width)
{
	struct out o = { out, (flags & EXPLAIN_COLOR) != 0, width, 0 };
	char head[80];
	size_t i;

	if (o.width < 40)
		o.width = 40;
	if (res->n == 0) {
		put(&o, "No SMTP reply code found in the input.\n");
		wrap(&o, 0, 0, "Give a code (550), a code with an enhanced "
		    "code (550 5.1.1), a whole reply line, or a bounce "
		    "message on standard input.");
		return o.err ? -1 : 0;
	}
	for (i = 0; i < res->n; i++) {
		if (res->n > 1) {
			snprintf(head, sizeof(head), "%s== %zu of %zu ==\n",
			    i > 0 ? "\n" : "", i + 1, res->n);
			put_color(&o, C_BOLD, head);
		}
		render_item(&o, &res->items[i]);
	}
	if (res->dropped > 0) {
		snprintf(head, sizeof(head), "\n(%zu more not shown)\n",
		    res->dropped);
		put(&o, head);
	}
	return o.err ? -1 : 0;
}

/*
 * explain_json_string - append s (len bytes) as a JSON string with
 * quotes; controls are escaped, invalid UTF-8 becomes U+FFFD.
 */
int
explain_json_string(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	int err = 0;

	err |= buf_putc(out, '"');
	while (i < len && !err) {
		if (p[i] == '"' || p[i] == '\\') {
			err |= buf_putc(out, '\\');
			err |= buf_putc(out, (char)p[i++]);
		} else if (p[i] == '\n') {
			err |= buf_puts(out, "\\n");
			i++;
		} else if (p[i] == '\t') {
			err |= buf_puts(out, "\\t");
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			err |= buf_printf(out, "\\u%04x", p[i++]);
		} else if ((k = utf8_len(p + i, len - i)) == 0) {
			err |= buf_puts(out, "\\ufffd");
			i++;
		} else {
			err |= buf_append(out, p + i, k);
			i += k;
		}
	}
	err |= buf_putc(out, '"');
	return err ? -1 : 0;
}

static void
jkey(struct out *o, const char *key, int *first)
{
	if (!*first)
		put(o, ",");
	*first = 0;
	if (!o->err && explain_json_string(o->b, key, strlen(key)) < 0)
		o->err = 1;
	put(o, ":");
}

static void
jstr(struct out *o, const char *key, const char *val, int *first)
{
	jkey(o, key, first);
	if (val == NULL || *val == '\0')
		put(o, "null");
	else if (!o->err && explain_json_string(o->b, val, strlen(val)) < 0)
		o->err = 1;
}

static void
jint(struct out *o, const char *key, int val, int *first)
{
	char n[24];

	jkey(o, key, first);
	snprintf(n, sizeof(n), "%d", val);
	put(o, n);
}

static void
jbool(struct out *o, const char *key, int val, int *first)
{
	jkey(o, key, first);
	put(o, val ? "true" : "false");
}

/* {"digit": d, "name": ..., "meaning": ...} */
static void
jpart(struct out *o, const char *key, const char *numkey, int num,
    const char *name, const char *meaning, int *first)
{
	int f = 1;

	jkey(o, key, first);
	put(o, "{");
	jint(o, numkey, num, &f);
	jstr(o, "name", name, &f);
	jstr(o, "meaning", meaning, &f);
	put(o, "}");
}

static void
json_item(struct out *o, const struct explain_item *it)
{
	struct kb_view v;
	struct kb_esc_code c;
	const struct kb_hint *hints[4];
	const char *esc = it->esc[0] ? it->esc : NULL;
	size_t nh, i;
	int first = 1, f;
	char reg[24];

	kb_view(it->code, esc, &v);
	put(o, "{");
	if (it->code > 0)
		jint(o, "code", it->code, &first);
	else
		jstr(o, "code", NULL, &first);
	jstr(o, "enhanced", esc, &first);
	jstr(o, "text", it->text, &first);
	jstr(o, "recipient", it->recipient, &first);
	jstr(o, "action", it->action, &first);
	jstr(o, "remote_mta", it->remote_mta, &first);
	jstr(o, "verdict", kb_verdict_name(it->verdict), &first);
	jstr(o, "verdict_text", kb_verdict_text(it->verdict), &first);
	jbool(o, "permanent", it->verdict == KB_V_FAILED, &first);
	jbool(o, "transient", it->verdict == KB_V_RETRY, &first);
	jstr(o, "summary", v.summary, &first);
	if (it->code > 0) {
		jpart(o, "first_digit", "digit", it->code / 100 % 10,
		    kb_first_digit_name(it->code / 100 % 10),
		    kb_first_digit(it->code / 100 % 10), &first);
		jpart(o, "second_digit", "digit", it->code / 10 % 10,
		    kb_second_digit_name(it->code / 10 % 10),
		    kb_second_digit(it->code / 10 % 10), &first);
	}
	jkey(o, "basic", &first);
	if (v.reply != NULL) {
		f = 1;
		put(o, "{");
		jint(o, "code", v.reply->code, &f);
		jstr(o, "title", v.reply->title, &f);
		jstr(o, "meaning", v.reply->meaning, &f);
		jstr(o, "reference", v.reply->ref, &f);
		jbool(o, "standard", !(v.reply->flags & KB_F_NONSTD), &f);
		put(o, "}");
	} else {
		put(o, "null");
	}
	if (esc != NULL && kb_esc_parse(esc, strlen(esc), &c) == 0) {
		jpart(o, "enhanced_class", "digit", c.cls,
		    kb_class_name(c.cls), kb_class_text(c.cls), &first);
		jpart(o, "enhanced_subject", "number", c.subject,
		    kb_subject_name(c.subject), kb_subject_text(c.subject),
		    &first);
		jkey(o, "enhanced_detail", &first);
		if (v.esc != NULL) {
			f = 1;
			put(o, "{");
			snprintf(reg, sizeof(reg), "X.%d.%d", v.esc->subject,
			    v.esc->detail);
			jstr(o, "registry_code", reg, &f);
			jbool(o, "exact", v.esc_exact, &f);
			jstr(o, "title", v.esc->title, &f);
			jstr(o, "meaning", v.esc->meaning, &f);
			jstr(o, "reference", v.esc->ref, &f);
			put(o, "}");
		} else {
			put(o, "null");
		}
	}
	jbool(o, "conflict", v.conflict, &first);
	jstr(o, "meaning", v.meaning, &first);
	jstr(o, "causes", v.causes, &first);
	jstr(o, "sender_action", v.sender, &first);
	jstr(o, "admin_action", v.admin, &first);
	jkey(o, "hints", &first);
	put(o, "[");
	nh = kb_hints(it->text, hints, ARRAY_LEN(hints));
	for (i = 0; i < nh; i++) {
		f = 1;
		put(o, i > 0 ? ",{" : "{");
		jstr(o, "source", hints[i]->who, &f);
		jstr(o, "hint", hints[i]->hint, &f);
		put(o, "}");
	}
	put(o, "]");
	jbool(o, "from_dsn", it->from_dsn, &first);
	jbool(o, "truncated", it->truncated, &first);
	put(o, "}");
}

/*
 * explain_json - res as JSON: one object for one item (or none found:
 * then verdict "unknown" and code null), an array for several. Ends with
 * a newline. Returns 0, or -1 when out is full.
 */
int
explain_json(struct buf *out, const struct explain_result *res)
{
	static const struct explain_item none;
	struct out o = { out, 0, 0, 0 };
	size_t i;

	if (res->n == 0) {
		json_item(&o, &none);
	} else if (res->n == 1) {
		json_item(&o, &res->items[0]);
	} else {
		put(&o, "[");
		for (i = 0; i < res->n; i++) {
			if (i > 0)
				put(&o, ",");
			json_item(&o, &res->items[i]);
		}
		put(&o, "]");
	}
	put(&o, "\n");
	return o.err ? -1 : 0;
}

/* a markdown table cell: no '|' and no newline */
static void
cell(struct out *o, const char *s)
{
	char c[2] = { 0, 0 };

	put(o, " ");
	for (; *s != '\0'; s++) {
		if (*s == '|')
			put(o, "\\|");
		else if (*s == '<')
			put(o, "&lt;");
		else if (*s == '>')
			put(o, "&gt;");
		else {
			c[0] = *s;
			put(o, c);
		}
	}
	put(o, " |");
}

static const char *
kind_of_first(int digit)
{
	switch (digit) {
	case 2:
		return "success";
	case 3:
		return "waiting for more";
	case 4:
		return "temporary: retried";
	case 5:
		return "permanent: failed";
	}
	return "invalid";
}

/*
 * explain_table_markdown - the knowledge base as two markdown tables
 * (basic codes, enhanced codes), for the README. Returns 0 or -1.
 */
int
explain_table_markdown(struct buf *out)
{
	struct out o = { out, 0, 0, 0 };
	const struct kb_reply *r;
	const struct kb_esc *e;
	char code[24];
	size_t i;

	put(&o, "| Code | Kind | In plain words | What the sender should do "
	    "|\n| --- | --- | --- | --- |\n");
	for (i = 0; (r = kb_reply_at(i)) != NULL; i++) {
		snprintf(code, sizeof(code), "%d%s", r->code,
		    r->flags & KB_F_NONSTD ? " (non-standard)" : "");
		put(&o, "|");
		cell(&o, code);
		cell(&o, kind_of_first(r->code / 100));
		cell(&o, r->summary);
		cell(&o, r->sender);
		put(&o, "\n");
	}
	put(&o, "\n| Enhanced code | Registry name | In plain words | "
	    "Reference |\n| --- | --- | --- | --- |\n");
	for (i = 0; (e = kb_esc_at(i)) != NULL; i++) {
		snprintf(code, sizeof(code), "X.%d.%d", e->subject, e->detail);
		put(&o, "|");
		cell(&o, code);
		cell(&o, e->title);
		cell(&o, e->summary);
		cell(&o, e->ref);
		put(&o, "\n");
	}
	return o.err ? -1 : 0;
}
