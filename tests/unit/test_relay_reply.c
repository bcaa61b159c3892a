/*
 * test_relay_reply - the relay client's pure protocol pieces: reading
 * replies (multi-line, enhanced codes, malformed lines), EHLO keywords,
 * and the DATA encoder (dot-stuffing, bare CR/LF, the end marker),
 * including the encoder fed through a tiny output buffer, and the table
 * of made-up results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/reply_parse.h"

#include "unit_check.h"

struct reply_case {
	const char *name;
	const char *lines[5]; /* fed in order until NULL */
	int want_rc;          /* of the last line fed */
	int code;
	const char *esc;
	const char *text;
};

static void
test_replies(void **state)
{
	static const struct reply_case cases[] = {
		{ "one line", { "250 OK" }, 1, 250, "", "OK" },
		{ "enhanced", { "250 2.1.5 Ok" }, 1, 250, "2.1.5", "Ok" },
		{ "bare code", { "250" }, 1, 250, "", "" },
		{ "code and space", { "354 " }, 1, 354, "", "" },
		{ "multi-line", { "250-first", "250-second", "250 last" }, 1,
		    250, "", "first\nsecond\nlast" },
		{ "multi enhanced", { "550-5.1.1 no such user",
		    "550 5.1.1 see https://x.test/" }, 1, 550, "5.1.1",
		    "no such user\nsee https://x.test/" },
		{ "class conflict ignored", { "550 4.1.1 odd" }, 1, 550, "",
		    "4.1.1 odd" },
		{ "three-digit parts", { "451 4.123.456 x" }, 1, 451,
		    "4.123.456", "x" },
		{ "four digits is text", { "451 4.1234.1 x" }, 1, 451, "",
		    "4.1234.1 x" },
		{ "esc without text", { "250 2.0.0" }, 1, 250, "2.0.0", "" },
		{ "esc glued to text", { "250 2.0.0Ok" }, 1, 250, "",
		    "2.0.0Ok" },
		{ "552 limit", { "552 5.3.4 too big" }, 1, 552, "5.3.4",
		    "too big" },
		{ "control chars", { "250 a\tb\x7f" "c" }, 1, 250, "",
		    "a?b?c" },
		{ "continues", { "220-mx.test ESMTP" }, 0, 220, "",
		    "mx.test ESMTP" },
		{ "code changes", { "250-a", "251 b" }, -1, 0, NULL, NULL },
		{ "1xx", { "150 no" }, -1, 0, NULL, NULL },
		{ "6xx", { "600 no" }, -1, 0, NULL, NULL },
		{ "two digits", { "25" }, -1, 0, NULL, NULL },
		{ "letters", { "2x0 no" }, -1, 0, NULL, NULL },
		{ "bad separator", { "250:ok" }, -1, 0, NULL, NULL },
		{ "line after end", { "250 ok", "250 again" }, -1, 0, NULL,
		    NULL },
	};
	struct relay_reply r;
	size_t i, j;
	int rc = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];

		reply_parse_init(&r);
		for (j = 0; j < 5 && c->lines[j] != NULL; j++)
			rc = reply_parse_line(&r, c->lines[j],
			    strlen(c->lines[j]));
		if (rc != c->want_rc)
			fail_msg("%s: rc got %d, want %d", c->name, rc,
			    c->want_rc);
		if (rc < 0)
			continue;
		CHECK_INT(c->name, r.code, c->code);
		CHECK_STR(c->name, r.esc, c->esc);
		CHECK_STR(c->name, r.text, c->text);
	}
}

static void
test_reply_long(void **state)
{
	struct relay_reply r;
	char line[600];
	int i, rc = 0;

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	reply_parse_init(&r);
	for (i = 0; i < 20; i++) {
		if (i == 19)
			line[3] = ' ';
		rc = reply_parse_line(&r, line, sizeof(line));
	}
	CHECK_INT("rc", rc, 1);
	CHECK_INT("truncated", r.truncated, 1);
	CHECK_INT("textlen", r.textlen, sizeof(r.text) - 1);
	CHECK_INT("nul", r.text[r.textlen], 0);
	CHECK_INT("too long line", reply_parse_line(&r, line,
	    REPLY_PARSE_LINE_MAX + 1), -1);
}

struct ehlo_case {
	const char *name;
	const char *lines[8];
	struct relay_caps want;
};

static void
test_ehlo(void **state)
{
	static const struct ehlo_case cases[] = {
		{ "none", { "250 mx.test" }, { 0 } },
		{ "greeting is not a keyword", { "250-PIPELINING hi",
		    "250 8BITMIME" }, { .eightbitmime = 1 } },
		{ "all", { "250-mx.test hello", "250-pipelining",
		    "250-8BITMIME", "250-SMTPUTF8", "250-STARTTLS",
		    "250-SIZE 1000000", "250-LIMITS RCPTMAX=7 MAILMAX=3",
		    "250 ENHANCEDSTATUSCODES" }, { 1, 1, 1, 1, 1, 1000000,
		    7 } },
		{ "size without value", { "250-mx", "250 SIZE" },
		    { .size = 1 } },
		{ "size zero", { "250-mx", "250 SIZE 0" }, { .size = 1 } },
		{ "size garbage", { "250-mx", "250 SIZE 12ab" },
		    { .size = 1 } },
		{ "prefix is not the keyword", { "250-mx",
		    "250-PIPELININGX", "250 SIZEX 5" }, { 0 } },
		{ "limits without rcptmax", { "250-mx",
		    "250 LIMITS MAILMAX=5" }, { 0 } },
	};
	struct relay_reply r;
	struct relay_caps got;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ehlo_case *c = &cases[i];

		reply_parse_init(&r);
		for (j = 0; j < 8 && c->lines[j] != NULL; j++)
			reply_parse_line(&r, c->lines[j], strlen(c->lines[j]));
		reply_parse_ehlo(&r, &got);
		CHECK_INT(c->name, got.pipelining, c->want.pipelining);
		CHECK_INT(c->name, got.eightbitmime, c->want.eightbitmime);
		CHECK_INT(c->name, got.smtputf8, c->want.smtputf8);
		CHECK_INT(c->name, got.starttls, c->want.starttls);
		CHECK_INT(c->name, got.size, c->want.size);
		CHECK_INT(c->name, got.size_max, c->want.size_max);
		CHECK_INT(c->name, got.rcptmax, c->want.rcptmax);
	}
}

struct enc_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct enc_case enc_cases[] = {
	{ "empty", "", ".\r\n" },
	{ "one line", "a\r\n", "a\r\n.\r\n" },
	{ "no final CRLF", "a", "a\r\n.\r\n" },
	{ "leading dot", ".a\r\n", "..a\r\n.\r\n" },
	{ "dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
	{ "dot at end without CRLF", "a\r\n.", "a\r\n..\r\n.\r\n" },
	{ "dot inside line", "a.b\r\n", "a.b\r\n.\r\n" },
	{ "bare LF", "a\nb\n", "a\r\nb\r\n.\r\n" },
	{ "bare LF dot smuggle", "a\n.\nMAIL FROM:<x>\r\n",
	    "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n" },
	{ "bare CR", "a\rb\r\n", "a\r\nb\r\n.\r\n" },
	{ "bare CR before dot", "a\r.\r\n", "a\r\n..\r\n.\r\n" },
	{ "CR CR LF", "a\r\r\n", "a\r\n\r\n.\r\n" },
	{ "LF CR", "a\n\rb", "a\r\n\r\nb\r\n.\r\n" },
	{ "double dot", "..\r\n", "...\r\n.\r\n" },
};

static void
enc_all(const char *in, size_t len, size_t cap, char *out, size_t *olen)
{
	struct relay_enc e;
	char tmp[64];
	size_t n;

	reply_parse_enc_init(&e);
	*olen = 0;
	while (e.pos < len) {
		n = reply_parse_enc_run(&e, in, len, tmp, cap);
		if (n == 0)
			fail_msg("no progress with cap %zu", cap);
		memcpy(out + *olen, tmp, n);
		*olen += n;
	}
	n = reply_parse_enc_end(&e, tmp, sizeof(tmp));
	memcpy(out + *olen, tmp, n);
	*olen += n;
	out[*olen] = '\0';
}

static void
test_encode(void **state)
{
	char out[256];
	size_t i, olen, cap;

	(void)state;
	for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const struct enc_case *c = &enc_cases[i];

		/* 3 is the smallest output room the encoder needs */
		for (cap = 3; cap <= 64; cap += 61) {
			enc_all(c->in, strlen(c->in), cap, out, &olen);
			if (olen != strlen(c->want) ||
			    memcmp(out, c->want, olen) != 0)
				fail_msg("%s (cap %zu): got \"%s\", want "
				    "\"%s\"", c->name, cap, out, c->want);
		}
	}
}

/* whatever the input, the output has no bare CR or LF and no lone dot
   line before the end */
static void
test_encode_fuzz(void **state)
{
	static const char alphabet[] = "\r\n.a";
	char in[40], out[200];
	size_t olen, i, j;
	unsigned seed = 1;

	(void)state;
	for (i = 0; i < 20000; i++) {
		size_t len = (seed = seed * 1103515245 + 12345) % sizeof(in);

		for (j = 0; j < len; j++) {
			seed = seed * 1103515245 + 12345;
			in[j] = alphabet[(seed >> 16) % 4];
		}
		enc_all(in, len, 5, out, &olen);
		for (j = 0; j < olen; j++) {
			if (out[j] == '\r' && (j + 1 >= olen ||
			    out[j + 1] != '\n'))
				fail_msg("bare CR at %zu", j);
			if (out[j] == '\n' && (j == 0 || out[j - 1] != '\r'))
				fail_msg("bare LF at %zu", j);
		}
		if (olen < 3 || strcmp(out + olen - 3, ".\r\n") != 0)
			fail_msg("no end marker");
		if (strstr(out, "\r\n.\r\n") != out + olen - 5 &&
		    !(olen == 3))
			fail_msg("end marker inside the data: %zu", i);
	}
}

/* every made-up result has text, a 4xx/5xx code and a matching class */
static void
test_synth_table(void **state)
{
	const struct relay_synth_def *d;
	size_t esc_n;
	int i;

	(void)state;
	for (i = 0; i < RSY__COUNT; i++) {
		char name[32];

		snprintf(name, sizeof(name), "entry %d", i);
		d = reply_parse_synth((enum relay_synth)i);
		if (d == NULL || d->esc == NULL || d->what == NULL ||
		    d->what[0] == '\0')
			fail_msg("%s: incomplete", name);
		if (d->code < 400 || d->code > 559)
			fail_msg("%s: code %d is not 4xx/5xx", name, d->code);
		if (!reply_parse_esc(d->esc, strlen(d->esc),
		    '0' + d->code / 100, &esc_n) || esc_n != strlen(d->esc))
			fail_msg("%s: esc \"%s\" does not fit %d", name,
			    d->esc, d->code);
	}
	if (reply_parse_synth(RSY__COUNT) != NULL)
		fail_msg("out of range: got an entry, want NULL");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_reply_long),
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_fuzz),
		cmocka_unit_test(test_synth_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
