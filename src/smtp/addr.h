/*
 * addr - RFC 5321 paths, mailboxes, domains and ESMTP parameters.
 *
 * Pure parsing of what follows "MAIL FROM:" / "RCPT TO:", with the
 * RFC 6531 extensions (UTF-8 in local parts and domains) allowed only
 * when the caller says the transaction declared SMTPUTF8. Source routes
 * (<@a,@b:user@d>) are checked and ignored (RFC 5321 4.1.1.3 and
 * Appendix C). Nothing here allocates.
 */
#ifndef TERN_ADDR_H
#define TERN_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX 256   /* RFC 5321 4.5.3.1.3, with the brackets */
#define ADDR_PARAMS_MAX 16

enum addr_err {
	ADDR_OK,
	ADDR_ESYNTAX,  /* not "<...>" at all: a command syntax error (501) */
	ADDR_EBAD,     /* inside the brackets, not a valid mailbox (553) */
	ADDR_ELONG,    /* local part, domain or path longer than allowed */
	ADDR_EUTF8,    /* non-ASCII without SMTPUTF8 (553 5.6.7) */
};

#define ADDR_F_NULL_OK 0x1    /* "<>" is allowed (reverse-path) */
#define ADDR_F_UTF8 0x2       /* SMTPUTF8 declared: UTF-8 allowed */
#define ADDR_F_POSTMASTER 0x4 /* "<postmaster>" without domain allowed */

struct addr {
	int null;                     /* the null reverse-path "<>" */
	int utf8;                     /* has non-ASCII octets */
	int literal;                  /* domain is an address literal */
	char local[ADDR_PATH_MAX + 1];  /* as written, quotes included */
	char lookup[ADDR_PATH_MAX + 1]; /* unquoted, lower-cased ASCII */
	char domain[ADDR_DOMAIN_MAX + 1]; /* lower-cased ASCII; "" for null */
	char text[ADDR_PATH_MAX + 1];   /* "local@domain" as written, no <> */
};

struct param {
	const char *key; /* NUL-terminated, as written */
	const char *val; /* NULL when the parameter has no "=value" */
};

enum addr_err addr_parse_path(const char *s, unsigned flags, struct addr *a,
    const char **rest, const char **why);
int addr_parse_params(char *s, struct param *out, size_t max, size_t *n);
int addr_valid_domain(const char *s, size_t len, int utf8);
int addr_valid_literal(const char *s, size_t len);
int addr_utf8_valid(const char *s, size_t len);
int addr_is_ascii(const char *s, size_t len);

#endif
