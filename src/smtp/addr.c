/*
 * addr - path and parameter parsing (RFC 5321 4.1.2, 4.1.3, 4.5.3.1;
 * RFC 6531 3.3 for UTF-8).
 *
 * addr_parse_path() reads "<path>" from the start of s and leaves *rest
 * after the closing bracket, where ESMTP parameters may follow. On error
 * *why says, in a few words, what was wrong (it ends up in the reply).
 */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext */
static int
is_atext(int c)
{
	return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* addr_is_ascii - 1 if no octet has the high bit set */
int
addr_is_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] & 0x80)
			return 0;
	return 1;
}

/* addr_utf8_valid - 1 if s is well-formed UTF-8 (no overlongs, surrogates) */
int
addr_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i];
		size_t n;
		unsigned min, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1; min = 0x80; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2; min = 0x800; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3; min = 0x10000; cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * addr_valid_domain - RFC 5321 Domain: labels of letters, digits and
 * hyphens, not starting or ending with a hyphen, 1..63 octets each, at
 * most 255 in all. With utf8, octets >= 0x80 count as letters (U-labels,
 * RFC 6531); their UTF-8 form is checked by the caller.
 */
int
addr_valid_domain(const char *s, size_t len, int utf8)
{
	size_t i, lab = 0;
	int prev = '.';

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '.') {
			if (prev == '.' || prev == '-')
				return 0;
			lab = 0;
		} else if (is_alpha(c) || is_digit(c) || (utf8 && c >= 0x80)) {
			if (++lab > 63)
				return 0;
		} else if (c == '-') {
			if (prev == '.')
				return 0;
			if (++lab > 63)
				return 0;
		} else {
			return 0;
		}
		prev = c;
	}
	return prev != '.' && prev != '-';
}

/*
 * addr_valid_literal - "[1.2.3.4]", "[IPv6:...]" or a general literal
 * "[tag:content]" (RFC 5321 4.1.3); s includes the brackets.
 */
int
addr_valid_literal(const char *s, size_t len)
{
	char tmp[64];
	unsigned char bin[16];
	const char *colon;
	size_t i, n;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	s++;
	n = len - 2;
	if (memchr(s, '\0', n) != NULL)
		return 0;
	if (n >= sizeof(tmp)) {
		/* too long for any IP literal; an IPv6 tag never goes general */
		if (n > 5 && strncasecmp(s, "IPv6:", 5) == 0)
			return 0;
		goto general;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1)
		return 1;
	/* RFC 5234 2.3: the "IPv6:" tag is case-insensitive */
	if (n > 5 && strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, bin) == 1;
general:
	/* General-address-literal = Standardized-tag ":" 1*dcontent */
	colon = memchr(s, ':', n);
	if (colon == NULL || colon == s || colon == s + n - 1)
		return 0;
	{
		int letter = 0;

		for (i = 0; s + i < colon; i++) {
			if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
				return 0;
			letter |= is_alpha(s[i]);
		}
		/* Standardized-tag = Ldh-str: not all digits, not ending '-' */
		if (s[i - 1] == '-' || !letter)
			return 0;
	}
	for (i++; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return 0;
	}
	return 1;
}

/* parse one "@domain" of a source route; returns the length or 0 */
static size_t
adl_domain(const char *s, const char *end, int utf8)
{
	size_t n = 0;

	while (s + n < end && s[n] != ',' && s[n] != ':')
		n++;
	if (n == 0)
		return 0;
	if (s[0] == '[')
		return addr_valid_literal(s, n) ? n : 0;
	return addr_valid_domain(s, n, utf8) ? n : 0;
}

/* a quoted-string local part (RFC 5321 4.1.2 QcontentSMTP); len or 0 */
static size_t
quoted_local(const char *s, const char *end, int utf8, char *unq, size_t *ulen)
{
	size_t i = 1, u = 0;

	if (s >= end || *s != '"')
		return 0;
	while (s + i < end) {
		int c = (unsigned char)s[i];

		if (c == '"') {
			*ulen = u;
			return i + 1;
		}
		if (c == '\\') {
			if (s + i + 1 >= end)
				return 0;
			c = (unsigned char)s[i + 1];
			if (c < 32 || c > 126)
				return 0;
			i += 2;
		} else if ((c >= 32 && c <= 126) || (utf8 && c >= 0x80)) {
			i++;
		} else if (c >= 0x80) {
			i++; /* reported as ADDR_EUTF8 by the caller */
		} else {
			return 0;
		}
		if (u < ADDR_PATH_MAX)
			unq[u++] = (char)c;
	}
	return 0;
}

/* a dot-string local part; returns its length or 0 */
static size_t
dot_local(const char *s, const char *end)
{
	size_t i = 0;
	int prev = '.';

	while (s + i < end && s[i] != '@') {
		int c = (unsigned char)s[i];

		if (c == '.') {
			if (prev == '.')
				return 0;
		} else if (!is_atext(c) && c < 0x80) {
			return 0;
		}
		prev = c;
		i++;
	}
	if (i == 0 || prev == '.')
		return 0;
	return i;
}

/* is a dot-string, so a quoted local part can be written without quotes */
static int
plain_dot_string(const char *s, size_t n)
{
	return n > 0 && dot_local(s, s + n) == n && addr_is_ascii(s, n);
}

static enum addr_err
fail(enum addr_err e, const char **why, const char *msg)
{
	*why = msg;
	return e;
}

/*
 * addr_parse_path - parse "<path>" at s (RFC 5321 Reverse-path or
 * Forward-path). flags: ADDR_F_NULL_OK, ADDR_F_UTF8, ADDR_F_POSTMASTER.
 * Fills *a; *rest points after '>'. Returns ADDR_OK or the error kind,
 * with a short reason in *why.
 */
enum addr_err
addr_parse_path(const char *s, unsigned flags, struct addr *a,
    const char **rest, const char **why)
{
	const char *p, *end, *at, *dom;
	size_t n, ln, dn, ulen = 0;
	int utf8 = (flags & ADDR_F_UTF8) != 0;

	memset(a, 0, sizeof(*a));
	*why = "";
	if (*s != '<')
		return fail(ADDR_ESYNTAX, why, "address must be in <...>");
	/* the first '>' outside a quoted string ends the path */
	end = NULL;
	for (p = s + 1; *p != '\0'; p++) {
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '\0')
				return fail(ADDR_EBAD, why, "unterminated quoted string");
		} else if (*p == '>') {
			end = p;
			break;
		}
	}
	if (end == NULL)
		return fail(ADDR_ESYNTAX, why, "missing '>'");
	*rest = end + 1;
	n = (size_t)(end - s) + 1;
	if (n > ADDR_PATH_MAX)
		return fail(ADDR_ELONG, why, "path longer than 256 octets");
	p = s + 1;
	if (p == end) {
		if (!(flags & ADDR_F_NULL_OK))
			return fail(ADDR_EBAD, why, "empty address");
		a->null = 1;
		return ADDR_OK;
	}
	if (!addr_utf8_valid(p, (size_t)(end - p)))
		return fail(ADDR_EBAD, why, "invalid UTF-8");
	a->utf8 = !addr_is_ascii(p, (size_t)(end - p));
	if (a->utf8 && !utf8)
		return fail(ADDR_EUTF8, why, "non-ASCII address");
	/* source route: @a,@b: ... (checked, then ignored) */
	if (*p == '@') {
		for (;;) {
			if (*p != '@')
				return fail(ADDR_EBAD, why, "bad source route");
			p++;
			n = adl_domain(p, end, utf8);
			if (n == 0)
				return fail(ADDR_EBAD, why, "bad source route");
			p += n;
			if (*p == ':') {
				p++;
				break;
			}
			if (*p != ',')
				return fail(ADDR_EBAD, why, "bad source route");
			p++;
		}
	}
	if (*p == '"') {
		ln = quoted_local(p, end, utf8, a->lookup, &ulen);
		if (ln == 0)
			return fail(ADDR_EBAD, why, "bad quoted local part");
	} else {
		ln = dot_local(p, end);
		if (ln == 0)
			return fail(ADDR_EBAD, why, "bad local part");
	}
	at = p + ln;
	if (at == end) {
		/* RFC 5321 4.1.1.3: "<Postmaster>" needs no domain */
		if ((flags & ADDR_F_POSTMASTER) && ln == 10 &&
		    strncasecmp(p, "postmaster", 10) == 0) {
			memcpy(a->local, p, ln);
			memcpy(a->lookup, "postmaster", 11);
			memcpy(a->text, p, ln);
			return ADDR_OK;
		}
		return fail(ADDR_EBAD, why, "missing @domain");
	}
	if (*at != '@')
		return fail(ADDR_EBAD, why, "bad local part");
	dom = at + 1;
	dn = (size_t)(end - dom);
	if (ln > ADDR_LOCAL_MAX)
		return fail(ADDR_ELONG, why, "local part longer than 64 octets");
	if (dn == 0)
		return fail(ADDR_EBAD, why, "missing domain");
	if (*dom == '[') {
		if (!addr_valid_literal(dom, dn))
			return fail(ADDR_EBAD, why, "bad address literal");
		a->literal = 1;
	} else if (dn > ADDR_DOMAIN_MAX) {
		return fail(ADDR_ELONG, why, "domain longer than 255 octets");
	} else if (!addr_valid_domain(dom, dn, utf8)) {
		return fail(ADDR_EBAD, why, "bad domain");
	}
	memcpy(a->local, p, ln);
	a->local[ln] = '\0';
	if (*p == '"') {
		char unq[ADDR_PATH_MAX + 1];

		memcpy(unq, a->lookup, ulen);
		unq[ulen] = '\0';
		/* "alice" is the same mailbox as alice: write it plainly */
		if (plain_dot_string(unq, ulen))
			memcpy(a->local, unq, ulen + 1);
		for (size_t i = 0; i < ulen; i++)
			a->lookup[i] = (char)lower((unsigned char)unq[i]);
		a->lookup[ulen] = '\0';
	} else {
		for (size_t i = 0; i < ln; i++)
			a->lookup[i] = (char)lower((unsigned char)p[i]);
		a->lookup[ln] = '\0';
	}
	for (size_t i = 0; i < dn; i++)
		a->domain[i] = (char)lower((unsigned char)dom[i]);
	a->domain[dn] = '\0';
	/* the path bound (256 with brackets) keeps local@domain within text */
	ln = strlen(a->local);
	memcpy(a->text, a->local, ln);
	a->text[ln] = '@';
	memcpy(a->text + ln + 1, dom, dn);
	a->text[ln + 1 + dn] = '\0';
	return ADDR_OK;
}

/*
 * addr_parse_params - split "KEY[=VALUE] ..." (RFC 5321 4.1.2
 * esmtp-param) in place. Returns 0, or -1 on bad syntax or more than max.
 */
int
addr_parse_params(char *s, struct param *out, size_t max, size_t *n)
{
	*n = 0;
	for (;;) {
		char *k;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			return 0;
		if (*n == max)
			return -1;
		k = s;
		if (!is_alpha(*s) && !is_digit(*s))
			return -1;
		while (is_alpha(*s) || is_digit(*s) || *s == '-')
			s++;
		out[*n].key = k;
		out[*n].val = NULL;
		if (*s == '=') {
			*s++ = '\0';
			out[*n].val = s;
			if (*s == '\0' || *s == ' ')
				return -1;
			while (*s != '\0' && *s != ' ') {
				unsigned char c = (unsigned char)*s;

				/* esmtp-value: %d33-60 / %d62-126, UTF-8 (RFC 6531) */
				if (c < 33 || c == '=' || c == 127)
					return -1;
				s++;
			}
		}
		if (*s == ' ') {
			*s++ = '\0';
		} else if (*s != '\0') {
			return -1;
		}
		(*n)++;
	}
}
