/*
 * fuzz_addr - libFuzzer target for the address and parameter parser
 * (src/smtp/addr.c).
 *
 * Input layout:
 *   byte 0     bits 0-4: the max given to addr_parse_params() (capped at
 *              ADDR_PARAMS_MAX); bit 5: utf8 for addr_valid_domain()
 *   the rest   the text; the parsers that take C strings see it up to
 *              its first NUL, the ones that take a length see all of it
 *
 * addr_parse_path() runs with each of the eight flag combinations. For
 * an accepted path it checks that every field is NUL-terminated inside
 * its array, that lookup and domain are lower case, that text is
 * local@domain, that the domain is valid, that non-ASCII appears only
 * with ADDR_F_UTF8, that "<>" needs ADDR_F_NULL_OK and a path without
 * a domain ADDR_F_POSTMASTER, and that "<text>" parses back to the same
 * mailbox. Adding a flag never turns an accepted path into a rejected
 * one nor changes what was parsed. addr_parse_params() runs on mutable
 * copies of the whole text and of what follows the path; every key and
 * value it returns must lie in the copy and be well formed.
 * addr_utf8_valid() and addr_valid_domain() are compared with simple
 * models written from RFC 3629 / Unicode table 3-7 and RFC 5321 4.1.2;
 * addr_valid_literal() is checked for the shape of what it accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEXT_MAX 4096

/* the target's own checks are not code under test: no coverage for them */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

/* a broken invariant: say which and abort, so libFuzzer saves the input */
static void
fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_addr.c:%d: check failed: %s\n", line, what);
	abort();
}

#define CHECK(c) do { if (!(c)) fail(__LINE__, #c); } while (0)

static NOCOV int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* NUL-terminated inside an array of cap bytes */
static NOCOV int
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static NOCOV int
ascii(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 0x80)
			return 0;
	return 1;
}

static NOCOV int
no_upper(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 0;
	return 1;
}

/* Unicode 15 table 3-7: the well-formed UTF-8 byte sequences */
static NOCOV int
model_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], lo = 0x80, hi = 0xbf;
		size_t n;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c == 0xe0) {
			n = 2;
			lo = 0xa0;
		} else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
			n = 2;
		else if (c == 0xed) {
			n = 2;
			hi = 0x9f;
		} else if (c == 0xf0) {
			n = 3;
			lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3)
			n = 3;
		else if (c == 0xf4) {
			n = 3;
			hi = 0x8f;
		} else
			return 0;
		if (len - i < n + 1)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * RFC 5321 Domain: dot-separated labels of 1..63 letters, digits and
 * hyphens (octets >= 0x80 count as letters with utf8), no hyphen first
 * or last in a label, at most 255 octets
 */
static NOCOV int
model_domain(const unsigned char *s, size_t len, int utf8)
{
	size_t i = 0;

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	for (;;) {
		size_t j = i;

		while (j < len && s[j] != '.')
			j++;
		if (j == i || j - i > 63 || s[i] == '-' || s[j - 1] == '-')
			return 0;
		for (size_t k = i; k < j; k++)
			if (!is_alnum(s[k]) && s[k] != '-' &&
			    !(utf8 && s[k] >= 0x80))
				return 0;
		if (j == len)
			return 1;
		i = j + 1;
	}
}

/* the shape of an accepted address literal */
static NOCOV void
check_literal(const unsigned char *s, size_t len)
{
	CHECK(len >= 3 && s[0] == '[' && s[len - 1] == ']');
	for (size_t i = 1; i + 1 < len; i++)
		CHECK(s[i] >= 33 && s[i] <= 126 && s[i] != '[' &&
		    s[i] != ']' && s[i] != '\\');
}

/* a parsed, accepted path */
static NOCOV void
check_addr(const char *in, unsigned flags, const struct addr *a,
    const char *rest)
{
	size_t ln, dn;

	CHECK(rest > in && rest[-1] == '>' && rest <= in + strlen(in));
	CHECK(terminated(a->local, sizeof(a->local)));
	CHECK(terminated(a->lookup, sizeof(a->lookup)));
	CHECK(terminated(a->domain, sizeof(a->domain)));
	CHECK(terminated(a->text, sizeof(a->text)));
	if (a->null) {
		CHECK(flags & ADDR_F_NULL_OK);
		CHECK(a->text[0] == '\0' && a->domain[0] == '\0');
		CHECK(a->local[0] == '\0' && a->lookup[0] == '\0');
		return;
	}
	CHECK(!a->utf8 || (flags & ADDR_F_UTF8));
	CHECK(a->utf8 || ascii((const unsigned char *)a->text,
	    strlen(a->text)));
	CHECK(model_utf8((const unsigned char *)a->text, strlen(a->text)));
	CHECK(no_upper(a->lookup) && no_upper(a->domain));
	ln = strlen(a->local);
	dn = strlen(a->domain);
	/* RFC 5321 4.1.2 allows the empty Quoted-string <""@d> */
	CHECK(ln > 0 && (a->lookup[0] != '\0' || a->local[0] == '"'));
	if (dn == 0) {
		/* only "<postmaster>" has no domain */
		CHECK(flags & ADDR_F_POSTMASTER);
		CHECK(strcmp(a->lookup, "postmaster") == 0);
		CHECK(strcmp(a->text, a->local) == 0 && !a->literal);
		return;
	}
	CHECK(strlen(a->text) == ln + 1 + dn);
	CHECK(memcmp(a->text, a->local, ln) == 0 && a->text[ln] == '@');
	CHECK(strcasecmp(a->text + ln + 1, a->domain) == 0);
	if (a->literal) {
		CHECK(a->domain[0] == '[');
		CHECK(addr_valid_literal(a->text + ln + 1, dn));
		check_literal((const unsigned char *)a->domain, dn);
	} else {
		CHECK(dn <= ADDR_DOMAIN_MAX);
		CHECK(addr_valid_domain(a->text + ln + 1, dn,
		    (flags & ADDR_F_UTF8) != 0));
	}
	/* a local part is at most 64 octets as written (quotes count) */
	CHECK(ln <= ADDR_LOCAL_MAX);
}

static NOCOV int
same_addr(const struct addr *a, const struct addr *b)
{
	return a->null == b->null && a->utf8 == b->utf8 &&
	    a->literal == b->literal && strcmp(a->local, b->local) == 0 &&
	    strcmp(a->lookup, b->lookup) == 0 &&
	    strcmp(a->domain, b->domain) == 0 && strcmp(a->text, b->text) == 0;
}

/* "<text>" must parse back to the same mailbox */
static NOCOV void
check_roundtrip(unsigned flags, const struct addr *a)
{
	char again[ADDR_PATH_MAX + 3];
	struct addr b;
	const char *rest, *why;
	enum addr_err e;

	if (a->null)
		return;
	snprintf(again, sizeof(again), "<%s>", a->text);
	e = addr_parse_path(again, flags, &b, &rest, &why);
	if (e != ADDR_OK) {
		fprintf(stderr, "reparse of %s failed: %s\n", again, why);
		fail(__LINE__, "reparse of <text> is ADDR_OK");
	}
	CHECK(*rest == '\0');
	CHECK(strcmp(a->lookup, b.lookup) == 0);
	CHECK(strcmp(a->domain, b.domain) == 0);
	CHECK(strcmp(a->text, b.text) == 0);
	CHECK(a->literal == b.literal);
	/* a source route may have carried the only non-ASCII octets */
	CHECK(!b.utf8 || a->utf8);
	CHECK(b.utf8 == !ascii((const unsigned char *)b.text,
	    strlen(b.text)));
}

/* parameters split in place from a copy of s */
static NOCOV void
check_params(const char *s, size_t max)
{
	struct param prm[ADDR_PARAMS_MAX + 1];
	char copy[TEXT_MAX + 1];
	size_t n = (size_t)-1, len = strlen(s);
	int r;

	memcpy(copy, s, len + 1);
	r = addr_parse_params(copy, prm, max, &n);
	CHECK(r == 0 || r == -1);
	CHECK(n <= max);
	if (r < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *k = prm[i].key, *v = prm[i].val;

		CHECK(k >= copy && k < copy + len);
		CHECK(is_alnum((unsigned char)k[0]));
		for (const char *c = k; *c; c++)
			CHECK(is_alnum((unsigned char)*c) || *c == '-');
		if (v == NULL)
			continue;
		CHECK(v > k && v < copy + len && v[-1] == '\0');
		CHECK(*v != '\0');
		for (const char *c = v; *c; c++)
			CHECK((unsigned char)*c > 32 && *c != '=' &&
			    *c != 127);
	}
}

/* LLVMFuzzerTestOneInput - every parser on the text, with every flag */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned extra[] = {
		ADDR_F_NULL_OK, ADDR_F_UTF8, ADDR_F_POSTMASTER
	};
	char text[TEXT_MAX + 1];
	struct addr res[8];
	enum addr_err err[8];
	const char *rest[8], *why;
	const unsigned char *raw;
	size_t max, len;
	int utf8;

	if (size < 1 || size - 1 > TEXT_MAX)
		return 0;
	max = data[0] & 0x1f;
	if (max > ADDR_PARAMS_MAX)
		max = ADDR_PARAMS_MAX;
	utf8 = (data[0] >> 5) & 1;
	raw = data + 1;
	len = size - 1;
	memcpy(text, raw, len);
	text[len] = '\0';

	for (unsigned f = 0; f < 8; f++) {
		why = NULL;
		rest[f] = NULL;
		err[f] = addr_parse_path(text, f, &res[f], &rest[f], &why);
		CHECK(err[f] >= ADDR_OK && err[f] <= ADDR_EUTF8);
		CHECK(why != NULL && strlen(why) < 128);
		CHECK(err[f] == ADDR_OK || why[0] != '\0');
		/* "not <...>" does not depend on the flags */
		CHECK((err[f] == ADDR_ESYNTAX) == (err[0] == ADDR_ESYNTAX));
		if (err[f] != ADDR_OK)
			continue;
		check_addr(text, f, &res[f], rest[f]);
		check_roundtrip(f, &res[f]);
		check_params(rest[f], max);
	}
	/* a flag only widens what is accepted, and never changes the result */
	for (unsigned f = 0; f < 8; f++) {
		if (err[f] != ADDR_OK)
			continue;
		for (size_t i = 0; i < 3; i++) {
			unsigned g = f | extra[i];

			CHECK(err[g] == ADDR_OK);
			CHECK(same_addr(&res[f], &res[g]));
			CHECK(rest[f] == rest[g]);
		}
	}
	check_params(text, max);

	CHECK(addr_utf8_valid((const char *)raw, len) == model_utf8(raw, len));
	CHECK(addr_valid_domain((const char *)raw, len, utf8) ==
	    model_domain(raw, len, utf8));
	if (addr_valid_literal((const char *)raw, len))
		check_literal(raw, len);
	CHECK(addr_is_ascii((const char *)raw, len) == ascii(raw, len));
	return 0;
}
