/*
 * test_trace - the Return-Path:/Received: headers for a fixed time, byte
 * for byte (IPv4 and IPv6 clients, with and without the "for" clause,
 * the null sender), the RFC 5322 date, and the Received: counter used
 * for loop detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/trace.h"

/* 2023-11-14 22:13:20 UTC, a Tuesday */
#define WHEN 1700000000
#define DATE "Tue, 14 Nov 2023 22:13:20 +0000"

/* a printable copy of n bytes (CR, LF and other controls escaped) */
static const char *
esc(const char *s, size_t n)
{
	static char out[4][2048];
	static int k;
	char *o = out[k++ & 3];
	size_t j = 0;

	for (size_t i = 0; i < n && j + 8 < sizeof(out[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			j += (size_t)sprintf(o + j, "\\r");
		else if (c == '\n')
			j += (size_t)sprintf(o + j, "\\n");
		else if (c == '\t')
			j += (size_t)sprintf(o + j, "\\t");
		else if (c < 32 || c >= 127)
			j += (size_t)sprintf(o + j, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	o[j] = '\0';
	return o;
}

struct hdr_case {
	const char *name;
	struct trace_info ti;
	const char *want;
};

static void
test_headers(void **state)
{
	static const struct hdr_case cases[] = {
		{ "IPv4, one recipient",
		    { "alice@example.org", "client.example.org", "192.0.2.1",
			"mail.example.test", "ESMTP", "Q1A2B3",
			"bob@example.test", WHEN, NULL, NULL },
		    "Return-Path: <alice@example.org>\r\n"
		    "Received: from client.example.org ([192.0.2.1])\r\n"
		    "\tby mail.example.test (tern) with ESMTP id Q1A2B3\r\n"
		    "\tfor <bob@example.test>; " DATE "\r\n" },
		{ "IPv4, several recipients (no for)",
		    { "alice@example.org", "client.example.org", "192.0.2.1",
			"mail.example.test", "ESMTP", "Q1A2B3", NULL, WHEN, NULL, NULL },
		    "Return-Path: <alice@example.org>\r\n"
		    "Received: from client.example.org ([192.0.2.1])\r\n"
		    "\tby mail.example.test (tern) with ESMTP id Q1A2B3; "
		    DATE "\r\n" },
		{ "IPv6",
		    { "alice@example.org", "client.example.org", "2001:db8::1",
			"mail.example.test", "ESMTP", "Q9", "bob@example.test",
			WHEN, NULL, NULL },
		    "Return-Path: <alice@example.org>\r\n"
		    "Received: from client.example.org ([IPv6:2001:db8::1])\r\n"
		    "\tby mail.example.test (tern) with ESMTP id Q9\r\n"
		    "\tfor <bob@example.test>; " DATE "\r\n" },
		{ "TLS and AUTH comments",
		    { "alice@example.org", "client.example.org", "192.0.2.1",
			"mail.example.test", "ESMTPSA", "Q7", NULL, WHEN,
			"TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
			"alice" },
		    "Return-Path: <alice@example.org>\r\n"
		    "Received: from client.example.org ([192.0.2.1])\r\n"
		    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
		    "(256/256 bits))\r\n"
		    "\t(authenticated as alice)\r\n"
		    "\tby mail.example.test (tern) with ESMTPSA id Q7; " DATE
		    "\r\n" },
		{ "IPv4-mapped IPv6",
		    { "a@b.example", "h.example", "::ffff:192.0.2.7",
			"mail.example.test", "SMTP", "Q9", NULL, WHEN, NULL, NULL },
		    "Return-Path: <a@b.example>\r\n"
		    "Received: from h.example ([IPv6:::ffff:192.0.2.7])\r\n"
		    "\tby mail.example.test (tern) with SMTP id Q9; " DATE
		    "\r\n" },
		{ "null sender",
		    { "", "client.example.org", "192.0.2.1",
			"mail.example.test", "ESMTP", "Q2", "bob@example.test",
			WHEN, NULL, NULL },
		    "Return-Path: <>\r\n"
		    "Received: from client.example.org ([192.0.2.1])\r\n"
		    "\tby mail.example.test (tern) with ESMTP id Q2\r\n"
		    "\tfor <bob@example.test>; " DATE "\r\n" },
		{ "SMTPUTF8",
		    { "j\xc3\xb6rg@example.org", "c.example", "192.0.2.1",
			"mail.example.test", "UTF8SMTP", "Q3", NULL, 0, NULL, NULL },
		    "Return-Path: <j\xc3\xb6rg@example.org>\r\n"
		    "Received: from c.example ([192.0.2.1])\r\n"
		    "\tby mail.example.test (tern) with UTF8SMTP id Q3; "
		    "Thu, 01 Jan 1970 00:00:00 +0000\r\n" },
		{ "address literal HELO",
		    { "a@b.example", "[192.0.2.1]", "192.0.2.1",
			"mail.example.test", "ESMTP", "Q4", NULL, WHEN, NULL, NULL },
		    "Return-Path: <a@b.example>\r\n"
		    "Received: from [192.0.2.1] ([192.0.2.1])\r\n"
		    "\tby mail.example.test (tern) with ESMTP id Q4; " DATE
		    "\r\n" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hdr_case *c = &cases[i];
		struct buf b;
		int rc;

		buf_init(&b, 0);
		buf_puts(&b, "X"); /* appended after what is there */
		rc = trace_headers(&b, &c->ti);
		if (rc != 0 || b.len != strlen(c->want) + 1 ||
		    memcmp(b.data + 1, c->want, b.len - 1) != 0 ||
		    b.data[0] != 'X') {
			print_error("%s: got %d \"%s\", want 0 \"X%s\"\n",
			    c->name, rc, esc(b.data, b.len),
			    esc(c->want, strlen(c->want)));
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d header cases failed", bad);
}

static void
test_date(void **state)
{
	static const struct {
		time_t when;
		const char *want;
	} cases[] = {
		{ WHEN, DATE },
		{ 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 1234567890, "Fri, 13 Feb 2009 23:31:30 +0000" },
		{ (time_t)2147483648LL, "Tue, 19 Jan 2038 03:14:08 +0000" },
	};
	char out[64];
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = trace_date(out, sizeof(out), cases[i].when);

		if (rc != 0 || strcmp(out, cases[i].want) != 0) {
			print_error("trace_date(%lld): got %d \"%s\", want 0 "
			    "\"%s\"\n", (long long)cases[i].when, rc,
			    rc == 0 ? out : "", cases[i].want);
			bad++;
		}
	}
	/* exactly room for the date and its NUL, and one octet less */
	if (trace_date(out, strlen(DATE) + 1, WHEN) != 0 ||
	    strcmp(out, DATE) != 0) {
		print_error("trace_date with cap %zu: got failure, want "
		    "\"%s\"\n", strlen(DATE) + 1, DATE);
		bad++;
	}
	if (trace_date(out, strlen(DATE), WHEN) != -1) {
		print_error("trace_date with cap %zu: got 0, want -1\n",
		    strlen(DATE));
		bad++;
	}
	if (bad)
		fail_msg("%d date cases failed", bad);
}

struct count_case {
	const char *name;
	const char *msg;
	unsigned want;
};

static void
test_count_received(void **state)
{
	static const struct count_case cases[] = {
		{ "none", "Subject: x\r\n\r\nbody\r\n", 0 },
		{ "empty message", "", 0 },
		{ "two", "Received: a\r\nReceived: b\r\nSubject: x\r\n\r\n",
		    2 },
		{ "stops at the empty line",
		    "Received: a\r\nSubject: x\r\n\r\nReceived: c\r\n"
		    "Received: d\r\n", 1 },
		{ "case-insensitive",
		    "received: a\r\nRECEIVED: b\r\nReCeIvEd: c\r\n\r\n", 3 },
		{ "LF line endings",
		    "Received: a\nReceived: b\n\nReceived: c\n", 2 },
		{ "mixed endings", "Received: a\r\nReceived: b\n\r\n"
		    "Received: c\r\n", 2 },
		{ "folded header counts once",
		    "Received: from a\r\n\tby b\r\n\tfor c; date\r\n\r\n", 1 },
		{ "folded line starting with Received",
		    "X: y\r\n Received: z\r\n\r\n", 0 },
		{ "other names", "X-Received: a\r\nReceived-SPF: pass\r\n"
		    "Subject: Received: x\r\n\r\n", 0 },
		{ "body only", "\r\nReceived: a\r\n", 0 },
		{ "body only, LF", "\nReceived: a\n", 0 },
		{ "no final newline", "Received: a", 1 },
		{ "no empty line", "Received: a\r\nReceived: b\r\n", 2 },
		{ "name only", "Received:\r\n\r\n", 1 },
		{ "short line", "Rec\r\n\r\n", 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct count_case *c = &cases[i];
		unsigned got = trace_count_received(c->msg, strlen(c->msg));

		if (got != c->want) {
			print_error("%s: \"%s\": got %u, want %u\n", c->name,
			    esc(c->msg, strlen(c->msg)), got, c->want);
			bad++;
		}
	}
	/* the length bounds the scan: no NUL terminator is needed */
	{
		static const char msg[] = "Received: a\r\nReceived: b\r\n";
		unsigned got = trace_count_received(msg, 13);

		if (got != 1) {
			print_error("first 13 octets: got %u, want 1\n", got);
			bad++;
		}
	}
	/* many headers */
	{
		struct buf b;
		unsigned got;

		buf_init(&b, 0);
		for (int k = 0; k < 60; k++)
			buf_printf(&b, "Received: from h%d\r\n\tby x\r\n", k);
		buf_puts(&b, "\r\nReceived: body\r\n");
		got = trace_count_received(b.data, b.len);
		if (got != 60) {
			print_error("60 headers: got %u, want 60\n", got);
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d counting cases failed", bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_count_received),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
