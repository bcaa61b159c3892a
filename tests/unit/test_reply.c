/*
 * test_reply - the reply table and its formatter: every entry walked
 * (3-digit code 2xx-5xx, enhanced code present exactly where RFC 2034
 * wants it and of the same class, text present, host name first on the
 * greeting-type replies), reply_format with and without a detail,
 * multi-line replies, the 512-octet line limit and reply_name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/reply.h"

#define HOST "mail.example.test"

/* a printable copy of n bytes (CR, LF and other controls escaped) */
static const char *
esc(const char *s, size_t n)
{
	static char out[4][8192];
	static int k;
	char *o = out[k++ & 3];
	size_t j = 0;

	for (size_t i = 0; i < n && j + 8 < sizeof(out[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			j += (size_t)sprintf(o + j, "\\r");
		else if (c == '\n')
			j += (size_t)sprintf(o + j, "\\n");
		else if (c == '"' || c == '\\')
			j += (size_t)sprintf(o + j, "\\%c", c);
		else if (c < 32 || c >= 127)
			j += (size_t)sprintf(o + j, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	o[j] = '\0';
	return o;
}

/* the entries that must not carry an enhanced code (RFC 2034 3-4) */
static int
no_esc_allowed(enum reply_id id, int code)
{
	return id == R_GREETING || id == R_EHLO || id == R_HELO ||
	    id == R_SYNTAX_HELO || id == R_SYNTAX_EHLO ||
	    id == R_BAD_HELO_DOMAIN || code / 100 == 3;
}

/* "d.d{1,3}.d{1,3}": a syntactically valid RFC 3463 status code */
static int
esc_valid(const char *e)
{
	int n1 = 0, n2 = 0, n3 = 0, part = 0;

	for (const char *p = e; *p; p++) {
		if (*p == '.') {
			part++;
			continue;
		}
		if (*p < '0' || *p > '9')
			return 0;
		if (part == 0)
			n1++;
		else if (part == 1)
			n2++;
		else if (part == 2)
			n3++;
		else
			return 0;
	}
	return part == 2 && n1 == 1 && n2 >= 1 && n2 <= 3 && n3 >= 1 &&
	    n3 <= 3;
}

static void
test_table_walk(void **state)
{
	int bad = 0;

	(void)state;
	for (int i = 0; i < R__COUNT; i++) {
		const struct reply_def *r = reply_get((enum reply_id)i);
		const char *name = reply_name((enum reply_id)i);

		if (r->code < 200 || r->code > 599) {
			print_error("%s: got code %d, want 200..599\n", name,
			    r->code);
			bad++;
		}
		if (r->text == NULL || r->text[0] == '\0') {
			print_error("%s: got empty text, want some text\n",
			    name);
			bad++;
		}
		if (no_esc_allowed((enum reply_id)i, r->code)) {
			if (r->esc != NULL) {
				print_error("%s: got enhanced code %s, want "
				    "none (greeting, EHLO/HELO, 3xx)\n", name,
				    r->esc);
				bad++;
			}
			continue;
		}
		if (r->esc == NULL) {
			print_error("%s: got no enhanced code, want one\n",
			    name);
			bad++;
			continue;
		}
		if (!esc_valid(r->esc)) {
			print_error("%s: got enhanced code \"%s\", want "
			    "class.subject.detail\n", name, r->esc);
			bad++;
		}
		if (r->esc[0] - '0' != r->code / 100) {
			print_error("%s: got class %c for code %d, want %d\n",
			    name, r->esc[0], r->code, r->code / 100);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d table entries are wrong", bad);
}

/* flags that follow from the code: RFC 5321 3.8, 4.3.1 */
static void
test_table_flags(void **state)
{
	int bad = 0;

	(void)state;
	for (int i = 0; i < R__COUNT; i++) {
		const struct reply_def *r = reply_get((enum reply_id)i);
		const char *name = reply_name((enum reply_id)i);
		/* 220 to STARTTLS is not a greeting: no host name there */
		int greeting_type = (r->code == 220 && i != R_TLS_GO) ||
		    r->code == 221 || r->code == 421;

		if (greeting_type && !(r->flags & RF_HOST)) {
			print_error("%s: got no RF_HOST on %d, want RF_HOST\n",
			    name, r->code);
			bad++;
		}
		if ((r->code == 221 || r->code == 421) &&
		    !(r->flags & RF_CLOSE)) {
			print_error("%s: got no RF_CLOSE on %d, want "
			    "RF_CLOSE\n", name, r->code);
			bad++;
		}
		if ((r->flags & RF_CLOSE) && r->code != 221 &&
		    r->code != 421 && r->code != 521) {
			print_error("%s: got RF_CLOSE on %d, want it only on "
			    "221/421/521\n", name, r->code);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d table entries have wrong flags", bad);
}

/* RF_HOST entries: the host name is the first word of the text */
static void
test_host_first(void **state)
{
	int bad = 0;

	(void)state;
	for (int i = 0; i < R__COUNT; i++) {
		const struct reply_def *r = reply_get((enum reply_id)i);
		const char *name = reply_name((enum reply_id)i);
		struct buf b;
		const char *text;
		size_t hl = strlen(HOST);

		if (!(r->flags & RF_HOST))
			continue;
		buf_init(&b, 0);
		if (reply_format(&b, (enum reply_id)i, HOST) < 0)
			fail_msg("%s: reply_format failed", name);
		buf_cstr(&b);
		text = b.data + 4;
		if (r->esc != NULL)
			text += strlen(r->esc) + 1;
		if (strncmp(text, HOST, hl) != 0 ||
		    (text[hl] != ' ' && text[hl] != '\r')) {
			print_error("%s: got \"%s\", want the text to start "
			    "with the word \"%s\"\n", name, esc(b.data, b.len),
			    HOST);
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d RF_HOST entries do not start with the host", bad);
}

struct fmt_case {
	const char *name;
	enum reply_id id;
	const char *detail;
	const char *want;
};

static void
test_format(void **state)
{
	static const struct fmt_case cases[] = {
		{ "greeting", R_GREETING, HOST,
		    "220 " HOST " ESMTP tern\r\n" },
		{ "helo", R_HELO, HOST, "250 " HOST "\r\n" },
		{ "quit", R_QUIT, HOST,
		    "221 2.0.0 " HOST " closing connection\r\n" },
		{ "shutdown", R_SHUTDOWN, HOST, "421 4.3.2 " HOST
		    " Service shutting down, closing connection\r\n" },
		{ "no detail, no %s", R_OKAY, NULL, "250 2.0.0 Ok\r\n" },
		{ "detail appended", R_OKAY, "extra",
		    "250 2.0.0 Ok extra\r\n" },
		{ "empty detail not appended", R_OKAY, "",
		    "250 2.0.0 Ok\r\n" },
		{ "detail substituted", R_QUEUED, "5F1C02",
		    "250 2.0.0 Ok: queued as 5F1C02\r\n" },
		{ "substituted in the middle", R_MAIL_OK, "a@b.example",
		    "250 2.1.0 Sender <a@b.example> ok\r\n" },
		{ "null sender", R_MAIL_OK, "",
		    "250 2.1.0 Sender <> ok\r\n" },
		{ "%s without detail", R_MAIL_OK, NULL,
		    "250 2.1.0 Sender <> ok\r\n" },
		{ "3xx has no enhanced code", R_DATA_GO, NULL,
		    "354 End data with <CR><LF>.<CR><LF>\r\n" },
		{ "3xx detail appended", R_DATA_GO, "go",
		    "354 End data with <CR><LF>.<CR><LF> go\r\n" },
		{ "bdat count", R_BDAT_OK, "1024",
		    "250 2.0.0 1024 octets received\r\n" },
		{ "rcpt unknown", R_RCPT_UNKNOWN, "x@example.test",
		    "550 5.1.1 <x@example.test>: Recipient address rejected: "
		    "no such mailbox here\r\n" },
		{ "line too long", R_LINE_TOO_LONG, NULL,
		    "500 5.5.2 Error: line too long\r\n" },
		{ "rcpt max", R_RCPT_MAX, NULL, "452 4.5.3 Too many recipients "
		    "for one message; send the rest in another\r\n" },
		{ "too big", R_TOO_BIG, NULL, "552 5.3.4 Error: message size "
		    "exceeds fixed maximum message size\r\n" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fmt_case *c = &cases[i];
		struct buf b;

		buf_init(&b, 0);
		if (reply_format(&b, c->id, c->detail) != 0 ||
		    b.len != strlen(c->want) ||
		    memcmp(b.data, c->want, b.len) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n", c->name,
			    esc(b.data, b.len), esc(c->want, strlen(c->want)));
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d format cases failed", bad);
}

struct lines_case {
	const char *name;
	enum reply_id id;
	unsigned n;
	const char *lines[4];
	const char *want;
};

static void
test_format_lines(void **state)
{
	static const struct lines_case cases[] = {
		{ "ehlo", R_EHLO, 3, { HOST " Hello c", "PIPELINING",
		    "CHUNKING" },
		    "250-" HOST " Hello c\r\n250-PIPELINING\r\n"
		    "250 CHUNKING\r\n" },
		{ "help, same esc on every line", R_HELP, 3,
		    { "one", "two", "three" },
		    "214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three\r\n" },
		{ "one line", R_EXPN_OK, 1, { "<a@b.example>" },
		    "250 2.1.5 <a@b.example>\r\n" },
		{ "empty last line keeps the space", R_HELP, 2, { "x", "" },
		    "214-2.0.0 x\r\n214 2.0.0 \r\n" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lines_case *c = &cases[i];
		struct buf b;

		buf_init(&b, 0);
		if (reply_format_lines(&b, c->id, c->lines, c->n) != 0 ||
		    b.len != strlen(c->want) ||
		    memcmp(b.data, c->want, b.len) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n", c->name,
			    esc(b.data, b.len), esc(c->want, strlen(c->want)));
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d multi-line cases failed", bad);
}

/*
 * check that out holds well-formed reply lines of one reply: each at most
 * 512 octets with its CRLF, no other CR or LF, the same code on each, '-'
 * after the code on all lines but the last. Returns the number of lines,
 * or -1 with a message in why.
 */
static int
check_reply(const char *out, size_t len, int code, char *why, size_t cap)
{
	size_t pos = 0;
	int lines = 0;

	while (pos < len) {
		const char *lf = memchr(out + pos, '\n', len - pos);
		size_t ll;

		if (lf == NULL) {
			snprintf(why, cap, "line %d has no LF", lines + 1);
			return -1;
		}
		ll = (size_t)(lf - (out + pos)) + 1;
		lines++;
		if (ll > 512) {
			snprintf(why, cap, "line %d is %zu octets, want <= 512",
			    lines, ll);
			return -1;
		}
		if (ll < 6 || out[pos + ll - 2] != '\r') {
			snprintf(why, cap, "line %d does not end in CRLF",
			    lines);
			return -1;
		}
		if (memchr(out + pos, '\r', ll - 2) != NULL) {
			snprintf(why, cap, "line %d has a bare CR", lines);
			return -1;
		}
		if (atoi(out + pos) != code) {
			snprintf(why, cap, "line %d has code %.3s, want %d",
			    lines, out + pos, code);
			return -1;
		}
		if (out[pos + 3] != (pos + ll == len ? ' ' : '-')) {
			snprintf(why, cap, "line %d has '%c' after the code",
			    lines, out[pos + 3]);
			return -1;
		}
		pos += ll;
	}
	return lines;
}

/* RFC 5321 4.5.3.1.5: no reply line over 512 octets, whatever the detail */
static void
test_long_detail(void **state)
{
	char detail[2001], why[128];
	const char *lines[3];
	int bad = 0;

	(void)state;
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (int i = 0; i < R__COUNT; i++) {
		const struct reply_def *r = reply_get((enum reply_id)i);
		const char *name = reply_name((enum reply_id)i);
		struct buf b;

		buf_init(&b, 0);
		if (reply_format(&b, (enum reply_id)i, detail) != 0) {
			print_error("%s: got reply_format -1, want 0\n", name);
			bad++;
		} else if (check_reply(b.data, b.len, r->code, why,
			       sizeof(why)) != 1) {
			print_error("%s: got \"%.60s...\": %s\n", name,
			    esc(b.data, b.len), why);
			bad++;
		}
		buf_free(&b);
	}
	lines[0] = "short";
	lines[1] = detail;
	lines[2] = detail;
	for (int i = 0; i < R__COUNT; i++) {
		const struct reply_def *r = reply_get((enum reply_id)i);
		struct buf b;
		int n;

		buf_init(&b, 0);
		if (reply_format_lines(&b, (enum reply_id)i, lines, 3) != 0)
			fail_msg("%s: reply_format_lines failed",
			    reply_name((enum reply_id)i));
		n = check_reply(b.data, b.len, r->code, why, sizeof(why));
		if (n != 3) {
			print_error("%s multi-line: got %d lines (%s), want 3 "
			    "lines of <= 512 octets\n",
			    reply_name((enum reply_id)i), n, n < 0 ? why : "");
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d long-detail cases failed", bad);
}

/* a full buffer: -1 and nothing appended */
static void
test_format_full(void **state)
{
	const char *lines[2] = { "one", "two" };
	struct buf b;

	(void)state;
	buf_init(&b, 20);
	buf_append(&b, "abc", 3);
	if (reply_format(&b, R_RCPT_MAX, NULL) != -1)
		fail_msg("reply_format into a full buffer: got 0, want -1");
	if (b.len != 3)
		fail_msg("reply_format into a full buffer: got len %zu, "
		    "want 3", b.len);
	if (reply_format_lines(&b, R_HELP, lines, 2) != -1)
		fail_msg("reply_format_lines into a full buffer: got 0, "
		    "want -1");
	if (b.len != 3)
		fail_msg("reply_format_lines into a full buffer: got len "
		    "%zu, want 3", b.len);
	buf_free(&b);
}

static void
test_names(void **state)
{
	int bad = 0;

	(void)state;
	for (int i = 0; i < R__COUNT; i++) {
		const char *n = reply_name((enum reply_id)i);

		if (n == NULL || strncmp(n, "R_", 2) != 0 || strlen(n) < 3 ||
		    strcmp(n, "R_?") == 0) {
			print_error("reply_name(%d): got \"%s\", want R_...\n",
			    i, n ? n : "(null)");
			bad++;
			continue;
		}
		for (int j = 0; j < i; j++) {
			if (strcmp(n, reply_name((enum reply_id)j)) == 0) {
				print_error("reply_name(%d): got \"%s\", want "
				    "a name not used by %d\n", i, n, j);
				bad++;
			}
		}
	}
	if (strcmp(reply_name(R_GREETING), "R_GREETING") != 0)
		fail_msg("reply_name(R_GREETING): got \"%s\", want "
		    "\"R_GREETING\"", reply_name(R_GREETING));
	if (strcmp(reply_name(R_PARAM_UNKNOWN), "R_PARAM_UNKNOWN") != 0)
		fail_msg("reply_name(R_PARAM_UNKNOWN): got \"%s\", want "
		    "\"R_PARAM_UNKNOWN\"", reply_name(R_PARAM_UNKNOWN));
	if (strcmp(reply_name(R__COUNT), "R_?") != 0)
		fail_msg("reply_name(R__COUNT): got \"%s\", want \"R_?\"",
		    reply_name(R__COUNT));
	if (strcmp(reply_name((enum reply_id)-1), "R_?") != 0)
		fail_msg("reply_name(-1): got \"%s\", want \"R_?\"",
		    reply_name((enum reply_id)-1));
	if (bad)
		fail_msg("%d reply names are wrong", bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_walk),
		cmocka_unit_test(test_table_flags),
		cmocka_unit_test(test_host_first),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_lines),
		cmocka_unit_test(test_long_detail),
		cmocka_unit_test(test_format_full),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
