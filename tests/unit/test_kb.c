/*
 * test_kb - the knowledge base and the explainer's parser.
 *
 * Checks that every basic code of RFC 5321 and the extensions tern speaks
 * and every enhanced code of RFC 3463 and the IANA registry is present
 * with every field filled in; that verdicts follow the first digit and
 * the class; that the digit meanings are those of RFC 5321 4.2.1; that
 * every reply ternd can send (src/smtp/reply.c) is explained; and, table
 * driven, that explain_parse() finds the right replies in pasted text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "explain/explain.h"
#include "explain/kb.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "smtp/reply.h"

static const int basic_codes[] = {
	211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451,
	452, 454, 455, 500, 501, 502, 503, 504, 521, 530, 534, 535, 538, 550,
	551, 552, 553, 554, 555, 556,
};

/* RFC 3463, RFC 3886, RFC 4468, RFC 4954, RFC 5248, RFC 6531, RFC 6710,
 * RFC 7293, RFC 7372, RFC 7505, RFC 8617, RFC 8689 and the registry */
static const char *const esc_codes[] = {
	"X.0.0",
	"X.1.0", "X.1.1", "X.1.2", "X.1.3", "X.1.4", "X.1.5", "X.1.6",
	"X.1.7", "X.1.8", "X.1.9", "X.1.10",
	"X.2.0", "X.2.1", "X.2.2", "X.2.3", "X.2.4",
	"X.3.0", "X.3.1", "X.3.2", "X.3.3", "X.3.4", "X.3.5", "X.3.6",
	"X.4.0", "X.4.1", "X.4.2", "X.4.3", "X.4.4", "X.4.5", "X.4.6",
	"X.4.7",
	"X.5.0", "X.5.1", "X.5.2", "X.5.3", "X.5.4", "X.5.5", "X.5.6",
	"X.6.0", "X.6.1", "X.6.2", "X.6.3", "X.6.4", "X.6.5", "X.6.6",
	"X.6.7", "X.6.8", "X.6.9", "X.6.10",
	"X.7.0", "X.7.1", "X.7.2", "X.7.3", "X.7.4", "X.7.5", "X.7.6",
	"X.7.7", "X.7.8", "X.7.9", "X.7.10", "X.7.11", "X.7.12", "X.7.13",
	"X.7.14", "X.7.15", "X.7.16", "X.7.17", "X.7.18", "X.7.19",
	"X.7.20", "X.7.21", "X.7.22", "X.7.23", "X.7.24", "X.7.25",
	"X.7.26", "X.7.27", "X.7.28", "X.7.29", "X.7.30",
};

static void
nonempty(const char *what, const char *where, const char *s)
{
	if (s == NULL || *s == '\0')
		fail_msg("%s: %s is empty", where, what);
}

static void
test_basic_codes_complete(void **state)
{
	const struct kb_reply *r;
	char where[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(basic_codes); i++) {
		r = kb_reply_find(basic_codes[i]);
		snprintf(where, sizeof(where), "%d", basic_codes[i]);
		if (r == NULL)
			fail_msg("basic code %d: got no entry, want one",
			    basic_codes[i]);
		assert_false(r->flags & KB_F_NONSTD);
	}
	for (i = 0; (r = kb_reply_at(i)) != NULL; i++) {
		snprintf(where, sizeof(where), "%d", r->code);
		nonempty("title", where, r->title);
		nonempty("summary", where, r->summary);
		nonempty("meaning", where, r->meaning);
		nonempty("causes", where, r->causes);
		nonempty("sender", where, r->sender);
		nonempty("admin", where, r->admin);
		nonempty("ref", where, r->ref);
		if (strlen(r->summary) > KB_SHORT_MAX)
			fail_msg("%d: summary is %zu chars, want <= %d",
			    r->code, strlen(r->summary), KB_SHORT_MAX);
		if (r->code < 200 || r->code > 599)
			fail_msg("%d: not a valid SMTP code", r->code);
		/* no duplicates */
		assert_ptr_equal(kb_reply_find(r->code), r);
	}
	assert_int_equal(kb_reply_count(), i);
}

static void
test_esc_codes_complete(void **state)
{
	const struct kb_esc *e;
	char where[32], code[16];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(esc_codes); i++)
		if (kb_esc_find(esc_codes[i]) == NULL)
			fail_msg("enhanced code %s: got no entry, want one",
			    esc_codes[i]);
	for (i = 0; (e = kb_esc_at(i)) != NULL; i++) {
		snprintf(where, sizeof(where), "X.%d.%d", e->subject,
		    e->detail);
		nonempty("title", where, e->title);
		nonempty("summary", where, e->summary);
		nonempty("meaning", where, e->meaning);
		nonempty("causes", where, e->causes);
		nonempty("sender", where, e->sender);
		nonempty("admin", where, e->admin);
		nonempty("ref", where, e->ref);
		if (strlen(e->summary) > KB_SHORT_MAX)
			fail_msg("%s: summary is %zu chars, want <= %d", where,
			    strlen(e->summary), KB_SHORT_MAX);
		snprintf(code, sizeof(code), "5.%d.%d", e->subject, e->detail);
		assert_ptr_equal(kb_esc_find(code), e);
	}
	assert_int_equal(kb_esc_count(), ARRAY_LEN(esc_codes));
}

static void
test_esc_fallback(void **state)
{
	const struct kb_esc *e;

	(void)state;
	e = kb_esc_best("5.1.99");
	assert_non_null(e);
	assert_int_equal(e->subject, 1);
	assert_int_equal(e->detail, 0);
	e = kb_esc_best("4.7.509");
	assert_non_null(e);
	assert_int_equal(e->subject, 7);
	assert_int_equal(e->detail, 0);
	assert_null(kb_esc_best("5.9.1"));
	assert_null(kb_esc_find("5.1.99"));
	assert_null(kb_esc_find("6.1.1"));
	assert_null(kb_esc_find("5.1"));
	assert_null(kb_esc_find("5.1.1.1"));
	assert_null(kb_esc_find("5.1234.1"));
	assert_null(kb_esc_find(NULL));
	/* unknown everything still gets a line, never NULL */
	assert_non_null(kb_short(599, "5.9.9"));
	assert_non_null(kb_short(0, NULL));
	assert_non_null(kb_short(999, NULL));
	assert_non_null(kb_short(-1, "garbage"));
	assert_string_equal(kb_short(550, "5.1.1"),
	    kb_esc_find("X.1.1")->summary);
	/* detail 0 says less than the basic code */
	assert_string_equal(kb_short(451, "4.3.0"),
	    kb_reply_find(451)->summary);
	/* some basic codes are more precise than their enhanced code */
	assert_string_equal(kb_short(503, "5.5.1"),
	    kb_reply_find(503)->summary);
	assert_string_equal(kb_short(550, NULL), kb_reply_find(550)->summary);
}

static void
test_verdicts(void **state)
{
	static const struct {
		int code;
		const char *esc;
		enum kb_verdict want;
	} cases[] = {
		{ 250, NULL, KB_V_DELIVERED },
		{ 250, "2.0.0", KB_V_DELIVERED },
		{ 354, NULL, KB_V_INTERMEDIATE },
		{ 334, NULL, KB_V_INTERMEDIATE },
		{ 421, "4.7.0", KB_V_RETRY },
		{ 450, NULL, KB_V_RETRY },
		{ 452, "4.5.3", KB_V_RETRY },
		{ 499, NULL, KB_V_RETRY },
		{ 550, "5.1.1", KB_V_FAILED },
		{ 556, "5.1.10", KB_V_FAILED },
		{ 599, NULL, KB_V_FAILED },
		/* the basic code decides when the two disagree (RFC 3463) */
		{ 550, "4.1.1", KB_V_FAILED },
		{ 450, "5.1.1", KB_V_RETRY },
		{ 0, "4.4.1", KB_V_RETRY },
		{ 0, "5.7.26", KB_V_FAILED },
		{ 0, "2.1.5", KB_V_DELIVERED },
		{ 150, NULL, KB_V_INVALID },
		{ 650, NULL, KB_V_INVALID },
		{ 0, NULL, KB_V_UNKNOWN },
		{ 0, "7.1.1", KB_V_UNKNOWN },
	};
	struct kb_view v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		enum kb_verdict got = kb_verdict_of(cases[i].code,
		    cases[i].esc);

		if (got != cases[i].want)
			fail_msg("%d %s: got %s, want %s", cases[i].code,
			    cases[i].esc ? cases[i].esc : "-",
			    kb_verdict_name(got),
			    kb_verdict_name(cases[i].want));
	}
	kb_view(550, "4.1.1", &v);
	assert_true(v.conflict);
	kb_view(550, "5.1.1", &v);
	assert_false(v.conflict);
	assert_string_equal(kb_class_name(4), "Persistent Transient Failure");
	assert_string_equal(kb_class_name(5), "Permanent Failure");
	assert_string_equal(kb_verdict_name(KB_V_RETRY), "retry");
	assert_string_equal(kb_verdict_name(KB_V_FAILED), "failed");
	assert_string_equal(kb_verdict_name(KB_V_DELIVERED), "delivered");
}

static void
test_digit_meanings(void **state)
{
	(void)state;
	/* RFC 5321 4.2.1 */
	assert_non_null(strstr(kb_first_digit_name(1), "not valid in SMTP"));
	assert_non_null(strstr(kb_first_digit(1), "Not valid in SMTP"));
	assert_string_equal(kb_first_digit_name(2),
	    "Positive Completion reply");
	assert_string_equal(kb_first_digit_name(3),
	    "Positive Intermediate reply");
	assert_string_equal(kb_first_digit_name(4),
	    "Transient Negative Completion reply");
	assert_string_equal(kb_first_digit_name(5),
	    "Permanent Negative Completion reply");
	assert_string_equal(kb_second_digit_name(0), "Syntax");
	assert_string_equal(kb_second_digit_name(1), "Information");
	assert_string_equal(kb_second_digit_name(2), "Connections");
	assert_string_equal(kb_second_digit_name(3), "Unspecified");
	assert_string_equal(kb_second_digit_name(4), "Unspecified");
	assert_string_equal(kb_second_digit_name(5), "Mail system");
	/* the folklore: x0z is not only syntax errors, x5z is not server
	 * health */
	assert_non_null(strstr(kb_second_digit(0), "unimplemented"));
	assert_non_null(strstr(kb_second_digit(5), "requested transfer"));
	assert_non_null(kb_second_digit(6));
	assert_non_null(kb_first_digit(0));
	assert_non_null(kb_first_digit(-3));
	assert_non_null(kb_subject_name(8));
	assert_string_equal(kb_subject_name(7), "Security or Policy Status");
}

/* every reply ternd can send has a specific explanation */
static void
test_reply_table_agrees(void **state)
{
	const struct reply_def *d;
	const struct kb_reply *r;
	const struct kb_esc *e;
	const char *s;
	int id;

	(void)state;
	for (id = 0; id < R__COUNT; id++) {
		d = reply_get((enum reply_id)id);
		r = kb_reply_find(d->code);
		if (r == NULL || (r->flags & KB_F_NONSTD))
			fail_msg("%s: code %d not explained", reply_name(id),
			    d->code);
		if (d->esc != NULL) {
			e = kb_esc_find(d->esc);
			if (e == NULL)
				fail_msg("%s: enhanced code %s not explained",
				    reply_name(id), d->esc);
			if (d->esc[0] - '0' != d->code / 100)
				fail_msg("%s: class %c disagrees with %d",
				    reply_name(id), d->esc[0], d->code);
		}
		s = kb_short(d->code, d->esc);
		if (s == NULL || *s == '\0' || strlen(s) > KB_SHORT_MAX)
			fail_msg("%s: kb_short empty or too long",
			    reply_name(id));
		if (strstr(s, "not in the knowledge base") != NULL)
			fail_msg("%s: kb_short is generic: %s",
			    reply_name(id), s);
	}
}

static void
test_describe(void **state)
{
	struct buf b;
	const char *t;
	char *line, *save;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(kb_describe(&b, 550, "5.1.1", 72), 0);
	t = buf_cstr(&b);
	assert_non_null(strstr(t, "550 5.1.1: "));
	assert_non_null(strstr(t, "Failed for good"));
	assert_non_null(strstr(t, "Likely causes:"));
	assert_non_null(strstr(t, "What the sender should do:"));
	assert_non_null(strstr(t, "What the receiving administrator should "
	    "check:"));
	for (line = strtok_r(b.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strlen(line) > 72)
			fail_msg("line of %zu chars, want <= 72: %s",
			    strlen(line), line);
	buf_reset(&b);
	assert_int_equal(kb_describe(&b, 451, NULL, 0), 0);
	assert_non_null(strstr(buf_cstr(&b), "Will be retried"));
	buf_free(&b);
}

/* explain_parse: name, input, want (items "code esc verdict rcpt") */
struct parse_case {
	const char *name;
	const char *in;
	size_t n;
	const char *want[4];
	const char *text0; /* substring of the first item's text, or NULL */
};

static const struct parse_case parse_cases[] = {
	{ "bare code", "550", 1, { "550 - failed -" }, NULL },
	{ "code and esc", "550 5.1.1", 1, { "550 5.1.1 failed -" }, NULL },
	{ "esc alone", "5.7.26", 1, { "0 5.7.26 failed -" }, NULL },
	{ "transient", "451 4.7.1 Greylisted, try again", 1,
	    { "451 4.7.1 retry -" }, "Greylisted, try again" },
	{ "1xx invalid", "150 going on", 1, { "150 - invalid -" }, NULL },
	{ "unknown 6xx", "699", 1, { "699 - invalid -" }, NULL },
	{ "multi-line gmail",
	    "550-5.1.1 The email account that you tried to reach does not\r\n"
	    "550-5.1.1 exist. Please try double-checking the recipient's\r\n"
	    "550 5.1.1 email address. https://support.google.com/mail/?p=x\r\n",
	    1, { "550 5.1.1 failed -" },
	    "does not exist. Please try double-checking the recipient's email "
	    "address." },
	{ "flattened multi-line",
	    "550-5.1.1 The email account that you tried to reach does not "
	    "exist. Please try 550-5.1.1 double-checking 550 5.1.1 done", 1,
	    { "550 5.1.1 failed -" }, "Please try double-checking done" },
	{ "postfix log line",
	    "Mar  1 10:00:00 mx postfix/smtp[123]: 4F2C: to=<a@example.net>, "
	    "relay=mx.example.net[192.0.2.1]:25, delay=1, dsn=5.1.1, "
	    "status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 "
	    "<a@example.net>: Recipient address rejected: User unknown (in "
	    "reply to RCPT TO command))", 1,
	    { "550 5.1.1 failed a@example.net" },
	    "User unknown (in reply to RCPT TO command)" },
	{ "postfix log, no code",
	    "status=deferred (connect to mx[192.0.2.1]:25: Connection "
	    "refused) dsn=4.4.1", 1, { "0 4.4.1 retry -" }, NULL },
	{ "qmail (#5.1.1)",
	    "<nobody@example.com>:\nSorry, no mailbox here by that name. "
	    "(#5.1.1)\n", 1, { "0 5.1.1 failed nobody@example.com" }, NULL },
	{ "exchange quoted",
	    "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound;"
	    " Recipient not found by SMTP address lookup'", 1,
	    { "550 5.1.10 failed -" },
	    "Recipient not found by SMTP address lookup" },
	{ "no code", "hello world, nothing to see 12345", 0, { NULL }, NULL },
	{ "header number ignored",
	    "Content-Length: 250\nX-Foo: bar 550 baz\n", 0, { NULL }, NULL },
	{ "empty", "", 0, { NULL }, NULL },
	{ "dsn two recipients",
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.org\n\n"
	    "Final-Recipient: rfc822; a@example.com\n"
	    "Action: failed\nStatus: 5.1.1\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <a@example.com>: Recipient\n"
	    "    address rejected: User unknown\n\n"
	    "Final-Recipient: rfc822;b@example.com\n"
	    "Action: delayed\nStatus: 4.2.2\n"
	    "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\n\n"
	    "Content-Type: message/rfc822\n\n"
	    "Final-Recipient: rfc822; c@example.com\nAction: failed\n", 2,
	    { "550 5.1.1 failed a@example.com",
	      "452 4.2.2 retry b@example.com" },
	    "Recipient address rejected: User unknown" },
	{ "dsn status without diagnostic",
	    "Final-Recipient: rfc822; x@example.com\nAction: failed\n"
	    "Status: 5.4.4\n", 1, { "0 5.4.4 failed x@example.com" }, NULL },
	{ "sendmail transcript",
	    "   ----- Transcript of session follows -----\n"
	    "... while talking to mx.example.com.:\n"
	    ">>> RCPT To:<bob@example.com>\n"
	    "<<< 550 5.1.1 <bob@example.com>... User unknown\n"
	    "550 5.1.1 <bob@example.com>... User unknown\n", 1,
	    { "550 5.1.1 failed bob@example.com" }, NULL },
	{ "mbox Status header is not a DSN",
	    "Status: RO\nSubject: hi\n\n421 4.3.2 shutting down\n", 1,
	    { "421 4.3.2 retry -" }, NULL },
};

static void
item_str(const struct explain_item *it, char *s, size_t n)
{
	snprintf(s, n, "%d %s %s %s", it->code, it->esc[0] ? it->esc : "-",
	    kb_verdict_name(it->verdict),
	    it->recipient[0] ? it->recipient : "-");
}

static void
test_parse_cases(void **state)
{
	static struct explain_result res;
	char got[512];
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_LEN(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		explain_parse(c->in, strlen(c->in), &res);
		if (res.n != c->n)
			fail_msg("%s: got %zu items, want %zu", c->name, res.n,
			    c->n);
		for (k = 0; k < res.n; k++) {
			item_str(&res.items[k], got, sizeof(got));
			if (strcmp(got, c->want[k]) != 0)
				fail_msg("%s: item %zu: got \"%s\", want "
				    "\"%s\"", c->name, k, got, c->want[k]);
		}
		if (c->text0 != NULL && strstr(res.items[0].text, c->text0) ==
		    NULL)
			fail_msg("%s: got text \"%s\", want it to contain "
			    "\"%s\"", c->name, res.items[0].text, c->text0);
	}
}

/* hostile input: long lines, NULs, control bytes, invalid UTF-8 */
static void
test_parse_hostile(void **state)
{
	static struct explain_result res;
	struct buf out;
	char *big;
	size_t n = 1 << 20, i;

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = "550-5.1.1 \x1b[31m\xff\0\n"[i % 18];
	explain_parse(big, n, &res);
	assert_true(res.n <= EXPLAIN_MAX_ITEMS);
	buf_init(&out, 0);
	assert_int_equal(explain_text(&out, &res, 0, 78), 0);
	assert_null(memchr(out.data, '\x1b', out.len));
	buf_reset(&out);
	assert_int_equal(explain_json(&out, &res), 0);
	assert_null(memchr(out.data, '\x1b', out.len));
	for (i = 0; i < n; i++)
		big[i] = i % 100 == 99 ? '\n' : "550 "[i % 4];
	explain_parse(big, n, &res);
	assert_true(res.n <= EXPLAIN_MAX_ITEMS);
	memset(big, '5', n);
	explain_parse(big, n, &res);
	free(big);
	buf_free(&out);
}

static void
test_json_string(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(explain_json_string(&b, "a\"b\\c\n\x01\xff\xc3\xa9",
	    10), 0);
	assert_string_equal(buf_cstr(&b),
	    "\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\"");
	buf_free(&b);
}

static void
test_table_markdown(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(explain_table_markdown(&b), 0);
	assert_non_null(strstr(buf_cstr(&b), "| 550 |"));
	assert_non_null(strstr(buf_cstr(&b), "| X.7.26 |"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_codes_complete),
		cmocka_unit_test(test_esc_codes_complete),
		cmocka_unit_test(test_esc_fallback),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_digit_meanings),
		cmocka_unit_test(test_reply_table_agrees),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_parse_cases),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_table_markdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
