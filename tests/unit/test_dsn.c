/*
 * test_dsn - RFC 3464 reports: the structure (headers, three parts in
 * order, CRLF only, line lengths, a boundary that no part contains), the
 * delivery-status fields for real and synthetic replies, the human part
 * (exact reply, kb explanation, 551 forward path), delay warnings,
 * character sets (RFC 6533 for non-ASCII addresses), and the small pure
 * helpers, as tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/kb.h"
#include "queue/dsn.h"

#include "unit_check.h"

#define ARRIVAL 1764400416 /* Sat, 29 Nov 2025 07:13:36 +0000 */

static const char orig[] =
    "Return-Path: <alice@example.test>\r\n"
    "Received: from client ([192.0.2.9])\r\n"
    "\tby mail.example.test (tern) with ESMTP id 6B0BD0A0BA3DF000;\r\n"
    "\tSat, 29 Nov 2025 07:13:36 +0000\r\n"
    "From: Alice <alice@example.test>\r\n"
    "Subject: Lunch on Friday?\r\n"
    "\r\n"
    "SECRET BODY LINE\r\n";

static struct dsn_rcpt bob = {
	.addr = "bob@example.org", .code = 550, .esc = "5.1.1",
	.text = "<bob@example.org>: Recipient address rejected:\n"
	    "User unknown in virtual mailbox table",
	.remote = "mx.example.org[192.0.2.1]:25",
	.last_attempt = ARRIVAL + 60,
};

static struct dsn_rcpt carol = {
	.addr = "carol@example.net", .code = 451, .esc = "4.4.1",
	.text = "connection refused by mx.example.net[192.0.2.7]:25",
	.synthetic = 1, .remote = "mx.example.net[192.0.2.7]:25",
	.last_attempt = ARRIVAL + 5 * 86400, .expired = 1,
};

static void
info_init(struct dsn_info *d, enum dsn_action a, const struct dsn_rcpt *r,
    size_t n)
{
	memset(d, 0, sizeof(*d));
	d->action = a;
	d->hostname = "mail.example.test";
	d->qid = "6B0BD0A0BA3DF000";
	d->dsn_qid = "6B0BD0A0BA3DF801";
	d->sender = "alice@example.test";
	d->arrival = ARRIVAL;
	d->now = ARRIVAL + 120;
	d->retry_until = ARRIVAL + 5 * 86400;
	d->rcpts = r;
	d->nrcpts = n;
	d->msg = orig;
	d->msglen = sizeof(orig) - 1;
}

/* build the report as a NUL-terminated string (caller frees) */
static char *
build(const struct dsn_info *d, unsigned *needs)
{
	struct buf b;
	unsigned dummy;

	buf_init(&b, 0);
	if (dsn_build(&b, d, needs != NULL ? needs : &dummy) < 0)
		fail_msg("dsn_build failed");
	buf_putc(&b, '\0');
	return b.data;
}

/* every line ends in CRLF, none longer than 998 octets (RFC 5322 2.1.1) */
static void
check_lines(const char *m)
{
	const char *p = m, *nl;
	size_t lineno = 1;

	for (; *p != '\0'; p = nl + 1, lineno++) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			fail_msg("line %zu: no line end at the end", lineno);
		if (nl == p || nl[-1] != '\r')
			fail_msg("line %zu: bare LF", lineno);
		if (memchr(p, '\r', (size_t)(nl - p) - 1) != NULL)
			fail_msg("line %zu: bare CR", lineno);
		if ((size_t)(nl - p) - 1 > 998)
			fail_msg("line %zu: %zu octets, more than 998", lineno,
			    (size_t)(nl - p) - 1);
	}
}

static void
want_has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("missing \"%s\" in:\n%s", needle, hay);
}

static void
want_not(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("unexpected \"%s\" in:\n%s", needle, hay);
}

/* the header section (up to the empty line), unfolded; caller frees */
static char *
headers_of(const char *m)
{
	const char *end = strstr(m, "\r\n\r\n");
	size_t n = end != NULL ? (size_t)(end - m) + 2 : strlen(m), i, o = 0;
	char *h = malloc(n + 1);

	for (i = 0; i < n; i++) {
		/* unfold: CRLF followed by white space joins the lines */
		if (m[i] == '\r' && i + 2 < n && m[i + 1] == '\n' &&
		    (m[i + 2] == ' ' || m[i + 2] == '\t')) {
			i += 1;
			continue;
		}
		h[o++] = m[i];
	}
	h[o] = '\0';
	return h;
}

/*
 * split the report at its boundary: parts[k] gets part k's headers and
 * body (malloc'ed, unfolded headers); returns the number of parts
 */
static size_t
split_parts(const char *m, char **parts, size_t max, char *bnd, size_t cap)
{
	char *h = headers_of(m), *b, delim[160];
	const char *p, *q;
	size_t n = 0;

	b = strstr(h, "boundary=\"");
	if (b == NULL)
		fail_msg("no boundary in:\n%s", h);
	b += 10;
	snprintf(bnd, cap, "%.*s", (int)strcspn(b, "\""), b);
	free(h);
	snprintf(delim, sizeof(delim), "\r\n--%s", bnd);
	p = strstr(m, delim);
	while (p != NULL && n < max) {
		p += strlen(delim);
		if (strncmp(p, "--", 2) == 0)
			break;
		p += 2; /* CRLF after the delimiter */
		q = strstr(p, delim);
		if (q == NULL)
			fail_msg("part %zu not closed", n + 1);
		parts[n] = strndup(p, (size_t)(q - p));
		n++;
		p = q;
	}
	if (p == NULL || strncmp(p, "--\r\n", 4) != 0)
		fail_msg("no closing delimiter --%s--", bnd);
	return n;
}

static void
free_parts(char **parts, size_t n)
{
	while (n > 0)
		free(parts[--n]);
}

static void
test_failed_structure(void **state)
{
	struct dsn_rcpt r[2] = { bob, carol };
	struct dsn_info d;
	char *m, *h, *parts[4], bnd[128];
	unsigned needs = 99;
	size_t n, k;

	(void)state;
	info_init(&d, DSN_FAILED, r, 2);
	m = build(&d, &needs);
	check_lines(m);
	CHECK_INT("needs for ASCII", needs, 0);
	h = headers_of(m);
	want_has(h, "From: Mail Delivery System <MAILER-DAEMON@"
	    "mail.example.test>\r\n");
	want_has(h, "To: <alice@example.test>\r\n");
	want_has(h, "Subject: Undelivered Mail Returned to Sender\r\n");
	want_has(h, "Auto-Submitted: auto-replied\r\n");
	want_has(h, "MIME-Version: 1.0\r\n");
	want_has(h, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\tboundary=\"");
	want_has(h, "Date: Sat, 29 Nov 2025 07:15:36 +0000\r\n");
	want_has(h, "Message-ID: <6B0BD0A0BA3DF801.dsn@mail.example.test>");
	want_not(h, "Return-Path:");
	free(h);

	n = split_parts(m, parts, 4, bnd, sizeof(bnd));
	CHECK_INT("parts", n, 3);
	want_has(parts[0], "Content-Type: text/plain; charset=us-ascii\r\n");
	want_has(parts[1], "Content-Type: message/delivery-status\r\n");
	want_has(parts[2], "Content-Type: text/rfc822-headers\r\n");
	for (k = 0; k < n; k++)
		if (strstr(parts[k], bnd) != NULL)
			fail_msg("part %zu contains the boundary", k + 1);
	/* the original's headers, not its body */
	want_has(parts[2], "Subject: Lunch on Friday?\r\n");
	want_has(parts[2], "Return-Path: <alice@example.test>\r\n");
	want_not(m, "SECRET BODY LINE");
	free_parts(parts, n);
	free(m);
}

static void
test_failed_status_fields(void **state)
{
	struct dsn_rcpt r[2] = { bob, carol };
	struct dsn_info d;
	char *m, *parts[4], bnd[128], *st;
	size_t n;

	(void)state;
	info_init(&d, DSN_FAILED, r, 2);
	m = build(&d, NULL);
	n = split_parts(m, parts, 4, bnd, sizeof(bnd));
	CHECK_INT("parts", n, 3);
	/* unfold the whole part to compare fields whole */
	{
		char *body = strstr(parts[1], "\r\n\r\n");

		st = headers_of(body + 4);
		/* headers_of stops at the first empty line: per-message */
		want_has(st, "Reporting-MTA: dns; mail.example.test\r\n");
		want_has(st, "Arrival-Date: Sat, 29 Nov 2025 07:13:36 "
		    "+0000\r\n");
		want_has(st, "X-Tern-Queue-ID: 6B0BD0A0BA3DF000\r\n");
		free(st);
		st = headers_of(strstr(body + 4, "\r\n\r\n") + 4);
		want_has(st, "Final-Recipient: rfc822; bob@example.org\r\n");
		want_has(st, "Action: failed\r\n");
		want_has(st, "Status: 5.1.1\r\n");
		want_has(st, "Remote-MTA: dns; mx.example.org\r\n");
		/* the exact remote reply, its lines joined */
		want_has(st, "Diagnostic-Code: smtp; 550 5.1.1 "
		    "<bob@example.org>: Recipient address rejected: User "
		    "unknown in virtual mailbox table\r\n");
		want_has(st, "Last-Attempt-Date: Sat, 29 Nov 2025 07:14:36 "
		    "+0000\r\n");
		want_not(st, "Will-Retry-Until");
		free(st);
		st = strstr(body + 4, "Final-Recipient: rfc822; carol");
		if (st == NULL)
			fail_msg("no second recipient");
		st = headers_of(st);
		/* expired: the last temporary status, Action failed */
		want_has(st, "Action: failed\r\n");
		want_has(st, "Status: 4.4.1\r\n");
		/* tern's own words are not an SMTP diagnostic */
		want_has(st, "Diagnostic-Code: X-Tern; connection refused by "
		    "mx.example.net[192.0.2.7]:25\r\n");
		want_not(st, "smtp;");
		free(st);
	}
	free_parts(parts, n);
	free(m);
}

static void
test_failed_text(void **state)
{
	struct dsn_rcpt r[2] = { bob, carol };
	struct dsn_info d;
	char *m, *parts[4], bnd[128], want[256];
	size_t n;

	(void)state;
	info_init(&d, DSN_FAILED, r, 2);
	m = build(&d, NULL);
	n = split_parts(m, parts, 4, bnd, sizeof(bnd));
	want_has(parts[0], "This is the mail server mail.example.test.");
	want_has(parts[0], "could not be delivered");
	want_has(parts[0], "Queue ID:    6B0BD0A0BA3DF000\r\n");
	want_has(parts[0], "Subject:     Lunch on Friday?\r\n");
	want_has(parts[0], "<bob@example.org>\r\nResult:      failed for "
	    "good");
	want_has(parts[0], "Server:      mx.example.org[192.0.2.1]:25\r\n");
	/* the reply exactly as sent, one line per line */
	want_has(parts[0], "Its reply:   550-5.1.1 <bob@example.org>: "
	    "Recipient address rejected:\r\n             550 5.1.1 User "
	    "unknown in virtual mailbox table\r\n");
	/* the plain-language explanation from the knowledge base */
	snprintf(want, sizeof(want), "550 5.1.1: %s.", kb_short(550, "5.1.1"));
	want_has(parts[0], want);
	want_has(parts[0], "Meaning:");
	want_has(parts[0], "What the sender should do:");
	want_not(parts[0], "Verdict:");
	/* synthetic reason and the queue giving up */
	want_has(parts[0], "Reason:      connection refused by");
	want_has(parts[0], "tern has given up");
	want_has(parts[0], "temporary failure, but it did not go away");
	free_parts(parts, n);
	free(m);
}

static void
test_reason_wrapped(void **state)
{
	struct dsn_rcpt r = {
		.addr = "soft@far.example", .code = 0, .esc = "5.0.0",
		.text = "deleted from the queue by the administrator; the last "
		    "attempt got: 451 4.7.1 Greylisted, try again later",
		.synthetic = 1,
	};
	struct dsn_info d;
	char *m;

	(void)state;
	info_init(&d, DSN_FAILED, &r, 1);
	m = build(&d, NULL);
	/* tern's own words wrap under their label, like the rest */
	want_has(m, "Reason:      deleted from the queue by the administrator; "
	    "the last\r\n             attempt got: 451 4.7.1 Greylisted, try "
	    "again later\r\n");
	/* and the field folds before 78 columns */
	want_has(m, "Diagnostic-Code: X-Tern; deleted from the queue by the "
	    "administrator; the last\r\n attempt got: 451 4.7.1 Greylisted, "
	    "try again later\r\n");
	want_has(m, "Status: 5.0.0\r\n");
	free(m);
}

static void
test_forward_path(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* NULL: none */
	} cases[] = {
		{ "User not local; please try <dave@new.example.com>",
		    "dave@new.example.com" },
		{ "5.1.6 moved to <a@b.example> since May", "a@b.example" },
		{ "User not local", NULL },
		{ "please try <>", NULL },
		{ "please try <a b@c>", NULL },
		{ "unclosed <a@b", NULL },
	};
	struct dsn_rcpt r = bob;
	struct dsn_info d;
	char out[128], *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = dsn_forward_path(cases[i].text, out, sizeof(out));

		if (cases[i].want == NULL && got == 0)
			fail_msg("\"%s\": got \"%s\", want none",
			    cases[i].text, out);
		if (cases[i].want != NULL && (got < 0 ||
		    strcmp(out, cases[i].want) != 0))
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    cases[i].text, got < 0 ? "(none)" : out,
			    cases[i].want);
	}
	r.code = 551;
	r.esc = "5.1.6";
	r.text = "User not local; please try <dave@new.example.com>";
	info_init(&d, DSN_FAILED, &r, 1);
	m = build(&d, NULL);
	want_has(m, "Try instead: <dave@new.example.com>\r\n");
	want_has(m, "Diagnostic-Code: smtp; 551 5.1.6 User not local; please "
	    "try\r\n <dave@new.example.com>\r\n");
	free(m);
}

static void
test_delayed(void **state)
{
	struct dsn_rcpt r = {
		.addr = "bob@example.org", .code = 451, .esc = "4.7.1",
		.text = "Greylisted, please try again later",
		.remote = "mx.example.org[192.0.2.1]:25",
		.last_attempt = ARRIVAL + 4 * 3600,
	};
	struct dsn_info d;
	char *m;

	(void)state;
	info_init(&d, DSN_DELAYED, &r, 1);
	m = build(&d, NULL);
	check_lines(m);
	want_has(m, "Subject: Delayed Mail (still being retried)\r\n");
	want_has(m, "This is only a warning");
	want_has(m, "You do not need to send it again");
	want_has(m, "by Thu, 04 Dec 2025 07:13:36 +0000, you will get");
	want_has(m, "Last reply:  451 4.7.1 Greylisted, please try again "
	    "later\r\n");
	want_has(m, "Action: delayed\r\n");
	want_has(m, "Status: 4.7.1\r\n");
	want_has(m, "Will-Retry-Until: Thu, 04 Dec 2025 07:13:36 +0000\r\n");
	want_has(m, "Content-Description: Delayed Message Headers");
	want_not(m, "Action: failed");
	free(m);
}

static void
test_status(void **state)
{
	static const struct {
		int code;
		const char *esc;
		enum dsn_action a;
		const char *want;
	} cases[] = {
		{ 550, "5.1.1", DSN_FAILED, "5.1.1" },
		{ 550, "4.1.1", DSN_FAILED, "5.1.1" }, /* the code decides */
		{ 451, "5.7.1", DSN_FAILED, "4.7.1" },
		{ 451, "", DSN_FAILED, "4.0.0" },
		{ 554, NULL, DSN_FAILED, "5.0.0" },
		{ 550, "X.7.26", DSN_FAILED, "5.7.26" },
		{ 550, "5.1", DSN_FAILED, "5.0.0" },
		{ 0, "5.0.0", DSN_FAILED, "5.0.0" },
		{ 0, "X.4.7", DSN_DELAYED, "4.4.7" },
		{ 0, "", DSN_FAILED, "5.0.0" },
		{ 0, "", DSN_DELAYED, "4.0.0" },
		{ 421, "4.4.2", DSN_DELAYED, "4.4.2" },
	};
	char out[32], name[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dsn_status(out, sizeof(out), cases[i].code, cases[i].esc,
		    cases[i].a);
		snprintf(name, sizeof(name), "%d %s", cases[i].code,
		    cases[i].esc != NULL ? cases[i].esc : "(null)");
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", name, out,
			    cases[i].want);
	}
}

static void
test_header_len(void **state)
{
	static const struct {
		const char *msg;
		size_t want;
	} cases[] = {
		{ "A: b\r\n\r\nbody\r\n", 6 },
		{ "A: b\r\nC: d\r\n", 12 },   /* no body */
		{ "\r\nbody\r\n", 0 },
		{ "A: b\n\nbody\n", 5 },
		{ "A: b\r\n\tcont\r\n\r\nx", 13 },
		{ "", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(cases[i].msg, dsn_header_len(cases[i].msg,
		    strlen(cases[i].msg)), cases[i].want);
}

static void
test_charsets(void **state)
{
	static const char orig8[] =
	    "Subject: Caf\xc3\xa9 \xe0 midi\r\nFrom: a@example.test\r\n\r\nx\r\n";
	struct dsn_rcpt r = bob;
	struct dsn_info d;
	unsigned needs;
	char *m;

	(void)state;
	/* a non-ASCII recipient: RFC 6533 types, SMTPUTF8 needed */
	r.addr = "j\xc3\xb6rg@example.org";
	info_init(&d, DSN_FAILED, &r, 1);
	m = build(&d, &needs);
	check_lines(m);
	CHECK_INT("needs", needs, DSN_NEEDS_SMTPUTF8 | DSN_NEEDS_8BITMIME);
	want_has(m, "Content-Type: message/global-delivery-status\r\n");
	want_has(m, "Content-Type: message/global-headers\r\n");
	want_has(m, "Final-Recipient: utf-8; j\xc3\xb6rg@example.org\r\n");
	free(m);

	/* raw 8-bit headers, ASCII addresses: 8BITMIME only */
	r = bob;
	info_init(&d, DSN_FAILED, &r, 1);
	d.msg = orig8;
	d.msglen = sizeof(orig8) - 1;
	m = build(&d, &needs);
	CHECK_INT("needs", needs, DSN_NEEDS_8BITMIME);
	want_has(m, "Content-Type: text/rfc822-headers\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n");
	/* invalid UTF-8 in the subject is not copied into the text part */
	want_has(m, "Subject:     Caf?? ? midi\r\n");
	free(m);

	/* a UTF-8 reply text: text part in UTF-8, status part ASCII */
	r = bob;
	r.text = "Postfach voll f\xc3\xbcr Empf\xc3\xa4nger";
	r.code = 552;
	r.esc = "5.2.2";
	info_init(&d, DSN_FAILED, &r, 1);
	m = build(&d, &needs);
	CHECK_INT("needs", needs, DSN_NEEDS_8BITMIME);
	want_has(m, "Content-Type: text/plain; charset=utf-8\r\n");
	want_has(m, "552 5.2.2 Postfach voll f\xc3\xbcr Empf\xc3\xa4nger");
	want_has(m, "Diagnostic-Code: smtp; 552 5.2.2 Postfach voll f??r "
	    "Empf??nger");
	free(m);
}

static void
test_hostile_input(void **state)
{
	static char longword[3000];
	struct dsn_rcpt r = bob;
	struct dsn_info d;
	char *m, *parts[4], bnd[128];
	size_t n;
	static const char evil[] =
	    "Subject: x\r\nX-Trap: --=_tern_6B0BD0A0BA3DF801\r\n\r\nbody\r\n";

	(void)state;
	/* a reply that tries to start a header or a part of its own */
	r.text = "no\r\nBcc: victim@example.com\r\n\r\n--=_tern_x";
	info_init(&d, DSN_FAILED, &r, 1);
	m = build(&d, NULL);
	check_lines(m);
	if (strstr(m, "\r\nBcc:") != NULL)
		fail_msg("the reply text injected a header line");
	free(m);

	/* a word too long to fold still keeps lines below 998 octets */
	memset(longword, 'A', sizeof(longword) - 1);
	r = bob;
	r.text = longword;
	info_init(&d, DSN_FAILED, &r, 1);
	m = build(&d, NULL);
	check_lines(m);
	free(m);

	/* original headers that contain our boundary: another is chosen */
	r = bob;
	info_init(&d, DSN_FAILED, &r, 1);
	d.msg = evil;
	d.msglen = sizeof(evil) - 1;
	m = build(&d, NULL);
	n = split_parts(m, parts, 4, bnd, sizeof(bnd));
	CHECK_INT("parts", n, 3);
	if (strcmp(bnd, "=_tern_6B0BD0A0BA3DF801") == 0)
		fail_msg("boundary found in the original headers was used");
	want_has(parts[2], "X-Trap: --=_tern_6B0BD0A0BA3DF801\r\n");
	free_parts(parts, n);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_structure),
		cmocka_unit_test(test_failed_status_fields),
		cmocka_unit_test(test_failed_text),
		cmocka_unit_test(test_reason_wrapped),
		cmocka_unit_test(test_forward_path),
		cmocka_unit_test(test_delayed),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_header_len),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_hostile_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
