/*
 * test_addr - RFC 5321 path parsing (null path, quoted and escaped local
 * parts, source routes, address literals, domain and length limits,
 * UTF-8 with and without SMTPUTF8, <postmaster>), the text left after
 * the path, lower-cased lookup forms, and ESMTP parameter splitting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/addr.h"

#define NUL_OK ADDR_F_NULL_OK
#define UTF8 ADDR_F_UTF8
#define PM ADDR_F_POSTMASTER

/* a printable copy of s (controls and non-ASCII escaped) */
static const char *
esc(const char *s)
{
	static char out[4][2048];
	static int k;
	char *o = out[k++ & 3];
	size_t j = 0;

	if (s == NULL)
		return "(null)";
	for (; *s && j + 8 < sizeof(out[0]); s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 32 || c >= 127)
			j += (size_t)sprintf(o + j, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	o[j] = '\0';
	return o;
}

static const char *
errname(enum addr_err e)
{
	switch (e) {
	case ADDR_OK: return "ADDR_OK";
	case ADDR_ESYNTAX: return "ADDR_ESYNTAX";
	case ADDR_EBAD: return "ADDR_EBAD";
	case ADDR_ELONG: return "ADDR_ELONG";
	case ADDR_EUTF8: return "ADDR_EUTF8";
	}
	return "ADDR_?";
}

struct path_case {
	const char *name;
	unsigned flags;
	const char *in;
	enum addr_err want;
	/* for ADDR_OK only: */
	const char *local, *lookup, *domain, *text;
	int null, utf8, literal;
	/* NULL: not checked */
	const char *rest;
};

#define OKP(nm, fl, in, lo, lk, dom, tx, rest) \
	{ nm, fl, in, ADDR_OK, lo, lk, dom, tx, 0, 0, 0, rest }
#define OKLIT(nm, fl, in, lo, lk, dom, tx) \
	{ nm, fl, in, ADDR_OK, lo, lk, dom, tx, 0, 0, 1, "" }
#define OKU8(nm, fl, in, lo, lk, dom, tx) \
	{ nm, fl, in, ADDR_OK, lo, lk, dom, tx, 0, 1, 0, "" }
#define ERR(nm, fl, in, e) \
	{ nm, fl, in, e, NULL, NULL, NULL, NULL, 0, 0, 0, NULL }

static const struct path_case path_cases[] = {
	/* plain mailboxes and the text after '>' */
	OKP("plain", 0, "<alice@example.test>", "alice", "alice",
	    "example.test", "alice@example.test", ""),
	OKP("case kept in text, lowered in lookup", 0,
	    "<Alice@Example.TEST>", "Alice", "alice", "example.test",
	    "Alice@Example.TEST", ""),
	OKP("rest after '>'", 0, "<a@x.example> SIZE=10 BODY=8BITMIME", "a",
	    "a", "x.example", "a@x.example", " SIZE=10 BODY=8BITMIME"),
	OKP("rest without space", 0, "<a@x.example>junk", "a", "a",
	    "x.example", "a@x.example", "junk"),
	OKP("dotted local part", 0, "<first.last@x.example>", "first.last",
	    "first.last", "x.example", "first.last@x.example", ""),
	OKP("atext specials", 0, "<a!#$%&'*+/=?^_`{|}~-b@x.example>",
	    "a!#$%&'*+/=?^_`{|}~-b", "a!#$%&'*+/=?^_`{|}~-b", "x.example",
	    "a!#$%&'*+/=?^_`{|}~-b@x.example", ""),
	OKP("hyphen inside labels", 0, "<u@a-b.c--d.example>", "u", "u",
	    "a-b.c--d.example", "u@a-b.c--d.example", ""),
	OKP("single-label domain", 0, "<u@localhost>", "u", "u",
	    "localhost", "u@localhost", ""),
	OKP("digits in domain", 0, "<u@1.example>", "u", "u", "1.example",
	    "u@1.example", ""),
	/* the null path */
	{ "null path allowed", NUL_OK, "<>", ADDR_OK, "", "", "", "", 1, 0,
	    0, "" },
	{ "null path then params", NUL_OK, "<> SIZE=1", ADDR_OK, "", "",
	    "", "", 1, 0, 0, " SIZE=1" },
	ERR("null path not allowed", 0, "<>", ADDR_EBAD),
	ERR("null path not allowed for rcpt", UTF8 | PM, "<>", ADDR_EBAD),
	/* quoted local parts */
	OKP("quoted with space", 0, "<\"a b\"@x.example>", "\"a b\"", "a b",
	    "x.example", "\"a b\"@x.example", ""),
	OKP("needless quotes removed", 0, "<\"alice\"@x.example>", "alice",
	    "alice", "x.example", "alice@x.example", ""),
	OKP("needless quotes, case kept", 0, "<\"Alice.B\"@x.example>",
	    "Alice.B", "alice.b", "x.example", "Alice.B@x.example", ""),
	OKP("escaped quote", 0, "<\"a\\\"b\"@x.example>", "\"a\\\"b\"",
	    "a\"b", "x.example", "\"a\\\"b\"@x.example", ""),
	OKP("escaped backslash", 0, "<\"a\\\\b\"@x.example>",
	    "\"a\\\\b\"", "a\\b", "x.example", "\"a\\\\b\"@x.example", ""),
	OKP("escaped plain letter", 0, "<\"a\\lice\"@x.example>", "alice",
	    "alice", "x.example", "alice@x.example", ""),
	OKP("quoted '>' does not end the path", 0, "<\"a>b\"@x.example> X",
	    "\"a>b\"", "a>b", "x.example", "\"a>b\"@x.example", " X"),
	OKP("quoted '@'", 0, "<\"a@b\"@x.example>", "\"a@b\"", "a@b",
	    "x.example", "\"a@b\"@x.example", ""),
	OKP("quoted double dot", 0, "<\"a..b\"@x.example>", "\"a..b\"",
	    "a..b", "x.example", "\"a..b\"@x.example", ""),
	ERR("unterminated quote", 0, "<\"abc@x.example>", ADDR_EBAD),
	ERR("quote then text", 0, "<\"a\"b@x.example>", ADDR_EBAD),
	ERR("control char in quotes", 0, "<\"a\x01\"@x.example>", ADDR_EBAD),
	ERR("escaped control char", 0, "<\"a\\\x01\"@x.example>", ADDR_EBAD),
	/* dot-string rules */
	ERR("leading dot", 0, "<.a@x.example>", ADDR_EBAD),
	ERR("trailing dot", 0, "<a.@x.example>", ADDR_EBAD),
	ERR("double dot", 0, "<a..b@x.example>", ADDR_EBAD),
	ERR("space in local part", 0, "<a b@x.example>", ADDR_EBAD),
	ERR("comma in local part", 0, "<a,b@x.example>", ADDR_EBAD),
	ERR("two @", 0, "<a@b@x.example>", ADDR_EBAD),
	ERR("no local part", 0, "<@x.example>", ADDR_EBAD),
	ERR("no domain", 0, "<a@>", ADDR_EBAD),
	ERR("no @domain", 0, "<alice>", ADDR_EBAD),
	/* source routes: checked, then ignored (RFC 5321 4.1.1.3, C) */
	OKP("source route", 0, "<@a.example,@b.example:u@c.example>", "u",
	    "u", "c.example", "u@c.example", ""),
	OKP("one-hop source route", 0, "<@a.example:u@c.example>", "u", "u",
	    "c.example", "u@c.example", ""),
	OKP("source route via literal", 0, "<@[192.0.2.1]:u@c.example>", "u",
	    "u", "c.example", "u@c.example", ""),
	ERR("route without ':'", 0, "<@a.example u@c.example>", ADDR_EBAD),
	ERR("route missing domain", 0, "<@:u@c.example>", ADDR_EBAD),
	ERR("route hop without '@'", 0, "<@a.example,b.example:u@c.example>",
	    ADDR_EBAD),
	ERR("route empty hop", 0, "<@a.example,:u@c.example>", ADDR_EBAD),
	ERR("route bad domain", 0, "<@-a.example:u@c.example>", ADDR_EBAD),
	ERR("route bad literal", 0, "<@[1.2.3.256]:u@c.example>", ADDR_EBAD),
	ERR("route then nothing", 0, "<@a.example:>", ADDR_EBAD),
	/* address literals */
	OKLIT("IPv4 literal", 0, "<u@[192.0.2.1]>", "u", "u", "[192.0.2.1]",
	    "u@[192.0.2.1]"),
	OKLIT("IPv6 literal", 0, "<u@[IPv6:2001:db8::1]>", "u", "u",
	    "[ipv6:2001:db8::1]", "u@[IPv6:2001:db8::1]"),
	OKLIT("IPv6 with IPv4 tail", 0, "<u@[IPv6:::ffff:192.0.2.1]>", "u",
	    "u", "[ipv6:::ffff:192.0.2.1]", "u@[IPv6:::ffff:192.0.2.1]"),
	/* RFC 5234 2.3: ABNF strings are case-insensitive ("IPv6:") */
	OKLIT("IPv6 tag in lower case", 0, "<u@[ipv6:2001:db8::1]>", "u",
	    "u", "[ipv6:2001:db8::1]", "u@[ipv6:2001:db8::1]"),
	OKLIT("general literal", 0, "<u@[x-tag:any.thing]>", "u", "u",
	    "[x-tag:any.thing]", "u@[x-tag:any.thing]"),
	ERR("IPv4 octet 256", 0, "<u@[1.2.3.256]>", ADDR_EBAD),
	ERR("IPv4 three parts", 0, "<u@[1.2.3]>", ADDR_EBAD),
	ERR("IPv6 garbage", 0, "<u@[IPv6:zz]>", ADDR_EBAD),
	ERR("IPv6 garbage, tag upper case", 0, "<u@[IPV6:zz]>", ADDR_EBAD),
	ERR("IPv6 garbage, tag lower case", 0, "<u@[ipv6:zz]>", ADDR_EBAD),
	ERR("IPv6 with IPv4 literal inside", 0, "<u@[IPv6:192.0.2.1]>",
	    ADDR_EBAD),
	ERR("empty literal", 0, "<u@[]>", ADDR_EBAD),
	ERR("general literal without content", 0, "<u@[x:]>", ADDR_EBAD),
	ERR("general literal without tag", 0, "<u@[:abc]>", ADDR_EBAD),
	ERR("general tag ends with '-'", 0, "<u@[x-:abc]>", ADDR_EBAD),
	ERR("space in general literal", 0, "<u@[x:a b]>", ADDR_EBAD),
	ERR("unclosed literal", 0, "<u@[192.0.2.1>", ADDR_EBAD),
	/* domains */
	ERR("hyphen at label start", 0, "<u@-a.example>", ADDR_EBAD),
	ERR("hyphen at label end", 0, "<u@a-.example>", ADDR_EBAD),
	ERR("hyphen at domain end", 0, "<u@a.example->", ADDR_EBAD),
	ERR("hyphen before dot", 0, "<u@a.b-.example>", ADDR_EBAD),
	ERR("empty label", 0, "<u@a..example>", ADDR_EBAD),
	ERR("leading dot in domain", 0, "<u@.example>", ADDR_EBAD),
	ERR("trailing dot in domain", 0, "<u@example.>", ADDR_EBAD),
	ERR("underscore in domain", 0, "<u@a_b.example>", ADDR_EBAD),
	/* brackets */
	ERR("no brackets", 0, "alice@example.test", ADDR_ESYNTAX),
	ERR("no brackets, null ok", NUL_OK, "alice@example.test",
	    ADDR_ESYNTAX),
	ERR("empty input", NUL_OK, "", ADDR_ESYNTAX),
	ERR("leading space", 0, " <a@x.example>", ADDR_ESYNTAX),
	ERR("missing '>'", 0, "<alice@example.test", ADDR_ESYNTAX),
	ERR("missing '>' on null path", NUL_OK, "<", ADDR_ESYNTAX),
	ERR("only '>'", 0, ">", ADDR_ESYNTAX),
	/* UTF-8 (RFC 6531) */
	ERR("UTF-8 local without SMTPUTF8", 0, "<j\xc3\xb6rg@x.example>",
	    ADDR_EUTF8),
	ERR("UTF-8 domain without SMTPUTF8", 0, "<u@b\xc3\xbc" "cher.example>",
	    ADDR_EUTF8),
	OKU8("UTF-8 local", UTF8, "<j\xc3\xb6rg@x.example>", "j\xc3\xb6rg",
	    "j\xc3\xb6rg", "x.example", "j\xc3\xb6rg@x.example"),
	OKU8("UTF-8 domain, ASCII lowered", UTF8,
	    "<J\xc3\xb6rg@B\xc3\xbc" "cher.Example>", "J\xc3\xb6rg",
	    "j\xc3\xb6rg", "b\xc3\xbc" "cher.example",
	    "J\xc3\xb6rg@B\xc3\xbc" "cher.Example"),
	OKU8("UTF-8 quoted local", UTF8, "<\"j\xc3\xb6 rg\"@x.example>",
	    "\"j\xc3\xb6 rg\"", "j\xc3\xb6 rg", "x.example",
	    "\"j\xc3\xb6 rg\"@x.example"),
	OKU8("4-octet UTF-8", UTF8, "<\xf0\x9f\x90\xa6@x.example>",
	    "\xf0\x9f\x90\xa6", "\xf0\x9f\x90\xa6", "x.example",
	    "\xf0\x9f\x90\xa6@x.example"),
	ERR("overlong 2-octet", UTF8, "<\xc0\xaf@x.example>", ADDR_EBAD),
	ERR("overlong 3-octet", UTF8, "<\xe0\x80\xaf@x.example>", ADDR_EBAD),
	ERR("overlong 4-octet", UTF8, "<\xf0\x80\x80\xaf@x.example>",
	    ADDR_EBAD),
	ERR("surrogate", UTF8, "<\xed\xa0\x80@x.example>", ADDR_EBAD),
	ERR("above U+10FFFF", UTF8, "<\xf4\x90\x80\x80@x.example>",
	    ADDR_EBAD),
	ERR("lone continuation", UTF8, "<a\x80@x.example>", ADDR_EBAD),
	ERR("truncated before '@'", UTF8, "<j\xc3@x.example>", ADDR_EBAD),
	ERR("truncated before '>'", UTF8, "<u@x.exampl\xc3>", ADDR_EBAD),
	ERR("truncated 3-octet", UTF8, "<\xe2\x82@x.example>", ADDR_EBAD),
	ERR("invalid UTF-8 without SMTPUTF8", 0, "<\xc0\xaf@x.example>",
	    ADDR_EBAD),
	ERR("0xff", UTF8, "<\xff@x.example>", ADDR_EBAD),
	/* <postmaster> (RFC 5321 4.1.1.3) */
	{ "postmaster alone", PM, "<postmaster>", ADDR_OK, "postmaster",
	    "postmaster", "", "postmaster", 0, 0, 0, "" },
	{ "Postmaster alone, any case", PM, "<PostMaster>", ADDR_OK,
	    "PostMaster", "postmaster", "", "PostMaster", 0, 0, 0, "" },
	ERR("postmaster without the flag", 0, "<postmaster>", ADDR_EBAD),
	ERR("other local part alone", PM, "<postmaste>", ADDR_EBAD),
	OKP("postmaster with domain", PM, "<Postmaster@Example.test>",
	    "Postmaster", "postmaster", "example.test",
	    "Postmaster@Example.test", ""),
};

static int
str_eq(const char *got, const char *want)
{
	return want == NULL || strcmp(got, want) == 0;
}

static int
run_path_case(const struct path_case *c)
{
	struct addr a;
	const char *rest = NULL, *why = NULL;
	enum addr_err e;
	int bad = 0;

	e = addr_parse_path(c->in, c->flags, &a, &rest, &why);
	if (e != c->want) {
		print_error("%s: \"%s\": got %s (%s), want %s\n", c->name,
		    esc(c->in), errname(e), why ? why : "", errname(c->want));
		return 1;
	}
	if (why == NULL || (e != ADDR_OK && why[0] == '\0')) {
		print_error("%s: \"%s\": got no reason, want one\n", c->name,
		    esc(c->in));
		bad++;
	}
	if (c->rest != NULL && (rest == NULL || strcmp(rest, c->rest) != 0)) {
		print_error("%s: rest: got \"%s\", want \"%s\"\n", c->name,
		    esc(rest), esc(c->rest));
		bad++;
	}
	if (e != ADDR_OK)
		return bad;
#define FIELD(f)                                                           \
	if (!str_eq(a.f, c->f)) {                                           \
		print_error("%s: " #f ": got \"%s\", want \"%s\"\n", c->name, \
		    esc(a.f), esc(c->f));                                  \
		bad++;                                                      \
	}
	FIELD(local)
	FIELD(lookup)
	FIELD(domain)
	FIELD(text)
#undef FIELD
	if (a.null != c->null || a.utf8 != c->utf8 ||
	    a.literal != c->literal) {
		print_error("%s: null/utf8/literal: got %d/%d/%d, want "
		    "%d/%d/%d\n", c->name, a.null, a.utf8, a.literal, c->null,
		    c->utf8, c->literal);
		bad++;
	}
	return bad;
}

static void
test_parse_path(void **state)
{
	size_t n = sizeof(path_cases) / sizeof(path_cases[0]);
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < n; i++)
		bad += run_path_case(&path_cases[i]) ? 1 : 0;
	if (bad)
		fail_msg("%d of %zu path cases failed", bad, n);
}

/* fill dst with n copies of c; returns dst + n */
static char *
fill(char *dst, int c, size_t n)
{
	memset(dst, c, n);
	return dst + n;
}

/* "<" local(ll) "@" domain(dl) ">" with labels of at most 63 */
static void
make_path(char *out, size_t ll, size_t dl)
{
	char *p = out;

	*p++ = '<';
	p = fill(p, 'l', ll);
	*p++ = '@';
	while (dl > 0) {
		size_t k = dl > 64 ? 63 : (dl == 64 ? 62 : dl);

		p = fill(p, 'd', k);
		dl -= k;
		if (dl > 0) {
			*p++ = '.';
			dl--;
		}
	}
	*p++ = '>';
	*p = '\0';
}

struct len_case {
	const char *name;
	size_t local, domain;
	enum addr_err want;
};

/* RFC 5321 4.5.3.1: local part 64, domain 255, path 256 octets */
static void
test_lengths(void **state)
{
	static const struct len_case cases[] = {
		{ "local part of 64", 64, 10, ADDR_OK },
		{ "local part of 65", 65, 10, ADDR_ELONG },
		{ "path of exactly 256", 64, 189, ADDR_OK },
		{ "path of 257", 64, 190, ADDR_ELONG },
		{ "path of 257, short local part", 1, 253, ADDR_ELONG },
		{ "domain of 300", 1, 300, ADDR_ELONG },
	};
	char in[1024];
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct len_case *c = &cases[i];
		struct addr a;
		const char *rest, *why;
		enum addr_err e;

		make_path(in, c->local, c->domain);
		e = addr_parse_path(in, 0, &a, &rest, &why);
		if (e != c->want) {
			print_error("%s (%zu octets): got %s (%s), want %s\n",
			    c->name, strlen(in), errname(e), why,
			    errname(c->want));
			bad++;
		} else if (e == ADDR_OK && (strlen(a.local) != c->local ||
			       strlen(a.domain) != c->domain ||
			       strlen(a.text) != c->local + 1 + c->domain)) {
			print_error("%s: got local %zu, domain %zu, text %zu "
			    "octets, want %zu, %zu, %zu\n", c->name,
			    strlen(a.local), strlen(a.domain), strlen(a.text),
			    c->local, c->domain, c->local + 1 + c->domain);
			bad++;
		}
	}

	/* a label of 63 is fine, 64 is not */
	{
		struct addr a;
		const char *rest, *why;
		enum addr_err e;
		char *p = in;

		memcpy(p, "<u@", 3);
		p += 3;
		p = fill(p, 'a', 63);
		memcpy(p, ".example>", 10);
		e = addr_parse_path(in, 0, &a, &rest, &why);
		if (e != ADDR_OK) {
			print_error("label of 63: got %s (%s), want ADDR_OK\n",
			    errname(e), why);
			bad++;
		}
		p = in + 3;
		p = fill(p, 'a', 64);
		memcpy(p, ".example>", 10);
		e = addr_parse_path(in, 0, &a, &rest, &why);
		if (e != ADDR_EBAD) {
			print_error("label of 64: got %s (%s), want "
			    "ADDR_EBAD\n", errname(e), why);
			bad++;
		}
		/* quoted local part: 64 with the quotes is fine, 65 not */
		p = in;
		memcpy(p, "<\"", 2);
		p += 2;
		p = fill(p, 'q', 62);
		memcpy(p, "\"@x.example>", 13);
		e = addr_parse_path(in, 0, &a, &rest, &why);
		if (e != ADDR_OK) {
			print_error("quoted local part of 64: got %s (%s), "
			    "want ADDR_OK\n", errname(e), why);
			bad++;
		}
		p = in + 2;
		p = fill(p, 'q', 63);
		memcpy(p, "\"@x.example>", 13);
		e = addr_parse_path(in, 0, &a, &rest, &why);
		if (e != ADDR_ELONG) {
			print_error("quoted local part of 65: got %s (%s), "
			    "want ADDR_ELONG\n", errname(e), why);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d length cases failed", bad);
}

/* addr_utf8_valid, addr_is_ascii, addr_valid_domain, addr_valid_literal */
struct pred_case {
	const char *name;
	int (*fn)(const char *, size_t);
	const char *in;
	int want;
};

static int
domain_ascii(const char *s, size_t n)
{
	return addr_valid_domain(s, n, 0);
}

static int
domain_utf8(const char *s, size_t n)
{
	return addr_valid_domain(s, n, 1);
}

static void
test_predicates(void **state)
{
	static const struct pred_case cases[] = {
		{ "ascii", addr_is_ascii, "abc", 1 },
		{ "ascii empty", addr_is_ascii, "", 1 },
		{ "not ascii", addr_is_ascii, "a\xc3\xb6", 0 },
		{ "utf8 ascii", addr_utf8_valid, "abc", 1 },
		{ "utf8 2-octet", addr_utf8_valid, "\xc3\xb6", 1 },
		{ "utf8 3-octet", addr_utf8_valid, "\xe2\x82\xac", 1 },
		{ "utf8 4-octet", addr_utf8_valid, "\xf0\x9f\x90\xa6", 1 },
		{ "utf8 U+10FFFF", addr_utf8_valid, "\xf4\x8f\xbf\xbf", 1 },
		{ "utf8 U+D7FF", addr_utf8_valid, "\xed\x9f\xbf", 1 },
		{ "utf8 U+E000", addr_utf8_valid, "\xee\x80\x80", 1 },
		{ "utf8 overlong NUL", addr_utf8_valid, "\xc0\x80", 0 },
		{ "utf8 overlong 0xc1", addr_utf8_valid, "\xc1\xbf", 0 },
		{ "utf8 overlong 3", addr_utf8_valid, "\xe0\x9f\xbf", 0 },
		{ "utf8 overlong 4", addr_utf8_valid, "\xf0\x8f\xbf\xbf", 0 },
		{ "utf8 surrogate D800", addr_utf8_valid, "\xed\xa0\x80", 0 },
		{ "utf8 surrogate DFFF", addr_utf8_valid, "\xed\xbf\xbf", 0 },
		{ "utf8 above max", addr_utf8_valid, "\xf4\x90\x80\x80", 0 },
		{ "utf8 f5", addr_utf8_valid, "\xf5\x80\x80\x80", 0 },
		{ "utf8 truncated 2", addr_utf8_valid, "a\xc3", 0 },
		{ "utf8 truncated 4", addr_utf8_valid, "\xf0\x9f\x90", 0 },
		{ "utf8 bad continuation", addr_utf8_valid, "\xc3\x28", 0 },
		{ "domain", domain_ascii, "a-b.example", 1 },
		{ "domain one label", domain_ascii, "localhost", 1 },
		{ "domain empty", domain_ascii, "", 0 },
		{ "domain leading hyphen", domain_ascii, "-a.example", 0 },
		{ "domain trailing hyphen", domain_ascii, "a-.example", 0 },
		{ "domain last label hyphen", domain_ascii, "a.example-", 0 },
		{ "domain empty label", domain_ascii, "a..b", 0 },
		{ "domain trailing dot", domain_ascii, "a.b.", 0 },
		{ "domain non-ASCII", domain_ascii, "b\xc3\xbc.example", 0 },
		{ "domain U-label", domain_utf8, "b\xc3\xbc.example", 1 },
		{ "literal v4", addr_valid_literal, "[192.0.2.1]", 1 },
		{ "literal v6", addr_valid_literal, "[IPv6:::1]", 1 },
		{ "literal v6 bad", addr_valid_literal, "[IPv6:1::2::3]", 0 },
		{ "literal general", addr_valid_literal, "[tag:x]", 1 },
		{ "literal no brackets", addr_valid_literal, "192.0.2.1", 0 },
		{ "literal v4 bad", addr_valid_literal, "[256.0.0.1]", 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pred_case *c = &cases[i];
		int got = c->fn(c->in, strlen(c->in));

		if (got != c->want) {
			print_error("%s: \"%s\": got %d, want %d\n", c->name,
			    esc(c->in), got, c->want);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d predicate cases failed", bad);
}

struct params_case {
	const char *name;
	const char *in;
	size_t max;
	int want_rc;
	size_t want_n;
	const char *want[8][2]; /* key, value (NULL: no "=value") */
};

static void
test_parse_params(void **state)
{
	static const struct params_case cases[] = {
		{ "two", "SIZE=10 BODY=8BITMIME", 16, 0, 2,
		    { { "SIZE", "10" }, { "BODY", "8BITMIME" } } },
		{ "leading space", " SIZE=10", 16, 0, 1, { { "SIZE", "10" } } },
		{ "many spaces", "   SIZE=10    BODY=7BIT   ", 16, 0, 2,
		    { { "SIZE", "10" }, { "BODY", "7BIT" } } },
		{ "no value", "SMTPUTF8", 16, 0, 1, { { "SMTPUTF8", NULL } } },
		{ "mixed", "SMTPUTF8 SIZE=1 X-FOO", 16, 0, 3,
		    { { "SMTPUTF8", NULL }, { "SIZE", "1" },
			{ "X-FOO", NULL } } },
		{ "hyphen in keyword", "X-Y-Z=1", 16, 0, 1,
		    { { "X-Y-Z", "1" } } },
		{ "UTF-8 value", "X=j\xc3\xb6rg", 16, 0, 1,
		    { { "X", "j\xc3\xb6rg" } } },
		{ "punctuation value", "ENVID=a+2Bb<c>", 16, 0, 1,
		    { { "ENVID", "a+2Bb<c>" } } },
		{ "empty", "", 16, 0, 0, { { NULL, NULL } } },
		{ "only spaces", "    ", 16, 0, 0, { { NULL, NULL } } },
		{ "exactly max", "A B C", 3, 0, 3,
		    { { "A", NULL }, { "B", NULL }, { "C", NULL } } },
		{ "'=' without value", "SIZE=", 16, -1, 0, { { NULL, NULL } } },
		{ "'=' then space", "SIZE= BODY=7BIT", 16, -1, 0,
		    { { NULL, NULL } } },
		{ "no keyword", "=10", 16, -1, 0, { { NULL, NULL } } },
		{ "keyword starts with '-'", "-X=1", 16, -1, 0,
		    { { NULL, NULL } } },
		{ "underscore in keyword", "SI_ZE=1", 16, -1, 0,
		    { { NULL, NULL } } },
		{ "'=' in value", "SIZE=1=2", 16, -1, 0, { { NULL, NULL } } },
		{ "DEL in value", "X=a\x7f", 16, -1, 0, { { NULL, NULL } } },
		{ "tab in value", "X=a\tb", 16, -1, 0, { { NULL, NULL } } },
		{ "control in keyword", "X\x01=1", 16, -1, 0,
		    { { NULL, NULL } } },
		{ "too many", "A B C D", 3, -1, 0, { { NULL, NULL } } },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct params_case *c = &cases[i];
		struct param prm[ADDR_PARAMS_MAX];
		char tmp[256];
		size_t n = 99;
		int rc;

		snprintf(tmp, sizeof(tmp), "%s", c->in);
		rc = addr_parse_params(tmp, prm, c->max, &n);
		if (rc != c->want_rc) {
			print_error("%s: \"%s\": got %d, want %d\n", c->name,
			    esc(c->in), rc, c->want_rc);
			bad++;
			continue;
		}
		if (rc != 0)
			continue;
		if (n != c->want_n) {
			print_error("%s: got %zu params, want %zu\n", c->name,
			    n, c->want_n);
			bad++;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			const char *wk = c->want[k][0], *wv = c->want[k][1];
			const char *gv = prm[k].val;

			if (strcmp(prm[k].key, wk) != 0 ||
			    (wv == NULL) != (gv == NULL) ||
			    (wv != NULL && strcmp(gv, wv) != 0)) {
				print_error("%s: param %zu: got %s=%s, want "
				    "%s=%s\n", c->name, k, esc(prm[k].key),
				    gv ? esc(gv) : "(none)", wk,
				    wv ? esc(wv) : "(none)");
				bad++;
			}
		}
	}

	/* ADDR_PARAMS_MAX parameters fit, one more does not */
	{
		struct param prm[ADDR_PARAMS_MAX];
		char tmp[256] = "";
		size_t n;

		for (int k = 0; k < ADDR_PARAMS_MAX; k++)
			strcat(tmp, "P=1 ");
		if (addr_parse_params(tmp, prm, ADDR_PARAMS_MAX, &n) != 0 ||
		    n != ADDR_PARAMS_MAX) {
			print_error("%d params: got failure or n=%zu, want 0 "
			    "and %d\n", ADDR_PARAMS_MAX, n, ADDR_PARAMS_MAX);
			bad++;
		}
		tmp[0] = '\0';
		for (int k = 0; k <= ADDR_PARAMS_MAX; k++)
			strcat(tmp, "P=1 ");
		if (addr_parse_params(tmp, prm, ADDR_PARAMS_MAX, &n) != -1) {
			print_error("%d params: got 0, want -1\n",
			    ADDR_PARAMS_MAX + 1);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d parameter cases failed", bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_parse_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
