/*
 * conf - load, check and dump the configuration (tern.conf(5)).
 *
 * conf_load() works in three passes. It reads the file into raw settings:
 * the value text of each key plus the line each part of it came from.
 * Then -o overrides replace raw settings. Then every key is converted in
 * the order of the keys[] table, with its default if it was not set, so a
 * later key may rely on an earlier one (domains on hostname, mailboxes on
 * domains, aliases on both). Last come the implicit postmaster mailboxes
 * (RFC 5321 4.5.1) and the check that every alias reaches a mailbox.
 *
 * Any failure leaves exactly one message in struct conf_err, frees
 * everything and returns -1. Nothing here exits, except the x* helpers
 * when memory runs out, and nothing logs an error: the caller reports it.
 *
 * Some rules tie keys together. Where the later key in keys[] can check
 * them while it is converted, it does (retry_max against retry_first,
 * tls_key against tls_cert, routes against domains). The rest wait for
 * check_relations() after the last key: listener roles need tls_cert,
 * tls_key and users, and a wide relay_networks needs allow_open_relay.
 * Nothing here opens the TLS or users files: the server does, and
 * reports its own errors.
 *
 * A struct conf owns all its strings, except that each mbox's domain
 * points at the same string in c->domains. The lookups (conf_resolve,
 * conf_find_mbox, conf_is_local_domain, conf_relay_allowed,
 * conf_route_for) neither allocate nor write, so threads may call them
 * at the same time once loading is done.
 *
 * Limits, so that no input can make loading slow or huge: files of at
 * most 64M, 100 listen addresses, 1000 domains, 1000000 mailboxes after
 * expansion, 100000 aliases, alias chains 10 deep, and an alias may
 * expand through at most 100000 addresses; 1000 relay networks, 10000
 * routes and 100 certificate and key pairs.
 */
#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define CONF_MAX_FILE (64u * 1024 * 1024)
#define CONF_MAX_LISTEN 100
#define CONF_MAX_DOMAINS 1000
#define CONF_MAX_MBOXES 1000000
#define CONF_MAX_ALIASES 100000
#define CONF_MAX_WIDE_SLOTS 1000000 /* domain-wide aliases x domains */
#define CONF_ALIAS_DEPTH 10
#define CONF_ALIAS_VISITS 100000
#define CONF_MAX_NETS 1000
#define CONF_MAX_ROUTES 10000
#define CONF_MAX_TLS 100
#define CONF_QUOTE_MAX 72 /* room for one quoted piece of input */
#define CONF_ORIGIN 200 /* room for a quoted file name */

#define CONF_QUOTE(buf, s, n) quote_n((buf), sizeof(buf), (s), (n))

/*
 * The raw text of one setting. Continuation lines are joined with '\n';
 * lines[i] is the line number of the i-th '\n'-separated segment, or 0
 * when the text came from -o and has no line.
 */
struct val {
	char *s;
	size_t len, cap;
	unsigned *lines;
	size_t nlines, capl;
	char *origin; /* file name or "-o key=value", printable */
};

enum ktype {
	K_HOSTNAME, K_LISTEN, K_DOMAINS, K_MBOXES, K_ALIASES,
	K_PATH, K_SIZE, K_UINT, K_DURATION, K_BOOL, K_BARE,
	K_NETS,     /* relay_networks */
	K_PORT,     /* a port number, kept as text */
	K_TLS,      /* enum tls_policy */
	K_HOP,      /* smarthost: HOST[:PORT] [tls=POLICY], or empty */
	K_ROUTES,   /* DOMAIN: HOST[:PORT] [tls=POLICY] entries */
	K_RESOLVER, /* dns_resolver: ADDR[:PORT], or empty */
	K_FILES,    /* tls_cert, tls_key: lists of paths */
	K_OPTPATH,  /* a path, or empty for none (NULL) */
	K_TLSVER,   /* tls_min_version */
	K_CIPHERS,  /* an OpenSSL cipher list, or empty (NULL) */
};

struct keydef {
	const char *name;
	enum ktype type;
	const char *def; /* NULL: computed */
	size_t off;      /* of the field in struct conf */
	uint64_t min, max; /* K_HOP, K_ROUTES, K_RESOLVER: min is the port
	                      used when none is given */
	const char *note; /* why the limits are what they are */
};

#define CONF_OFF(field) offsetof(struct conf, field)

/* The order here is the order of conversion and of conf_dump(). */
static const struct keydef keys[] = {
	{ "hostname", K_HOSTNAME, NULL, CONF_OFF(hostname), 0, 0, NULL },
	{ "listen", K_LISTEN, "127.0.0.1:25", CONF_OFF(listen), 0, 0, NULL },
	{ "domains", K_DOMAINS, NULL, CONF_OFF(domains), 0, 0, NULL },
	{ "mailboxes", K_MBOXES, "postmaster", CONF_OFF(mboxes), 0, 0, NULL },
	{ "aliases", K_ALIASES, "", CONF_OFF(aliases), 0, 0, NULL },
	{ "maildir_root", K_PATH, "/var/mail/tern", CONF_OFF(maildir_root),
	    0, 0, NULL },
	{ "spool_dir", K_PATH, "/var/spool/tern", CONF_OFF(spool_dir),
	    0, 0, NULL },
	{ "max_message_size", K_SIZE, "25M", CONF_OFF(max_message_size),
	    65536, 2048ull * 1024 * 1024,
	    "RFC 5321 4.5.3.1.7 requires at least 64k" },
	{ "max_recipients", K_UINT, "1000", CONF_OFF(max_recipients),
	    100, 100000, "RFC 5321 4.5.3.1.8 requires at least 100" },
	{ "max_connections", K_UINT, "1000", CONF_OFF(max_connections),
	    1, 1000000, NULL },
	{ "max_connections_per_ip", K_UINT, "20",
	    CONF_OFF(max_connections_per_ip), 0, 1000000, "0 means no limit" },
	{ "command_timeout", K_DURATION, "5m", CONF_OFF(command_timeout),
	    1, 86400, NULL },
	{ "data_timeout", K_DURATION, "3m", CONF_OFF(data_timeout),
	    1, 86400, NULL },
	{ "max_errors", K_UINT, "20", CONF_OFF(max_errors), 1, 1000, NULL },
	{ "vrfy", K_BOOL, "no", CONF_OFF(vrfy), 0, 1, NULL },
	{ "expn", K_BOOL, "no", CONF_OFF(expn), 0, 1, NULL },
	{ "min_free_space", K_SIZE, "100M", CONF_OFF(min_free_space),
	    0, UINT64_MAX, NULL },
	{ "commit_workers", K_UINT, "32", CONF_OFF(commit_workers), 1, 256,
	    NULL },
	{ "bare_newline", K_BARE, "normalize", CONF_OFF(bare_newline), 0, 0,
	    NULL },
	{ "shutdown_timeout", K_DURATION, "30s", CONF_OFF(shutdown_timeout),
	    0, 86400, NULL },
	{ "max_hops", K_UINT, "50", CONF_OFF(max_hops), 1, 1000, NULL },
	{ "pregreet_delay", K_DURATION, "0", CONF_OFF(pregreet_delay), 0, 60,
	    "0 means no delay; clients give up after a long one" },
	{ "unsafe_no_fsync", K_BOOL, "no", CONF_OFF(unsafe_no_fsync), 0, 1,
	    NULL },

	/* relaying; relay_tls comes before the hops that default to it */
	{ "relay_networks", K_NETS, "127.0.0.0/8, ::1/128",
	    CONF_OFF(relay_networks), 0, 0, NULL },
	{ "allow_open_relay", K_BOOL, "no", CONF_OFF(allow_open_relay), 0, 1,
	    NULL },
	{ "relay_port", K_PORT, "25", CONF_OFF(relay_port), 1, 65535, NULL },
	{ "relay_tls", K_TLS, "may", CONF_OFF(relay_tls), 0, 0, NULL },
	{ "smarthost", K_HOP, "", CONF_OFF(smarthost), 25, 0, NULL },
	{ "routes", K_ROUTES, "", CONF_OFF(routes), 25, 0, NULL },
	{ "dns_resolver", K_RESOLVER, "", CONF_OFF(dns_resolver), 53, 0,
	    NULL },
	{ "relay_destination_concurrency", K_UINT, "4",
	    CONF_OFF(relay_destination_concurrency), 1, 100, NULL },
	{ "relay_connect_timeout", K_DURATION, "30s",
	    CONF_OFF(relay_connect_timeout), 1, 3600, NULL },
	{ "relay_command_timeout", K_DURATION, "5m",
	    CONF_OFF(relay_command_timeout), 1, 3600, NULL },
	{ "relay_data_timeout", K_DURATION, "10m",
	    CONF_OFF(relay_data_timeout), 1, 3600, NULL },
	{ "retry_first", K_DURATION, "5m", CONF_OFF(retry_first), 1, 86400,
	    NULL },
	{ "retry_max", K_DURATION, "1h", CONF_OFF(retry_max), 1,
	    30 * 86400, NULL },
	{ "max_queue_lifetime", K_DURATION, "5d", CONF_OFF(max_queue_lifetime),
	    1, 30 * 86400, NULL },
	{ "delay_warning_time", K_DURATION, "4h",
	    CONF_OFF(delay_warning_time), 0, 30 * 86400,
	    "0 means no delay warnings" },

	/* TLS and AUTH; tls_key comes after the tls_cert it pairs with */
	{ "tls_cert", K_FILES, "", CONF_OFF(tls_cert), 0, 0, NULL },
	{ "tls_key", K_FILES, "", CONF_OFF(tls_key), 0, 0, NULL },
	{ "tls_ca_file", K_OPTPATH, "", CONF_OFF(tls_ca_file), 0, 0, NULL },
	{ "tls_min_version", K_TLSVER, "TLSv1.2", CONF_OFF(tls_min_version),
	    0, 0, NULL },
	{ "tls_ciphers", K_CIPHERS, "", CONF_OFF(tls_ciphers), 0, 0, NULL },
	{ "users", K_OPTPATH, "", CONF_OFF(users), 0, 0, NULL },
	{ "auth_over_plaintext", K_BOOL, "no", CONF_OFF(auth_over_plaintext),
	    0, 1, NULL },
	{ "auth_max_failures", K_UINT, "5", CONF_OFF(auth_max_failures), 1,
	    1000, NULL },
	{ "received_auth", K_BOOL, "yes", CONF_OFF(received_auth), 0, 1,
	    NULL },
	{ "sender_login_match", K_BOOL, "yes", CONF_OFF(sender_login_match),
	    0, 1, NULL },
};

#define CONF_NKEYS ARRAY_LEN(keys)

/* an alias while loading: where it was written and which domain it has */
struct alias_def {
	struct alias a;
	const char *origin;
	unsigned line;
	size_t seq;     /* order of appearance, to name the first of twins */
	size_t dom;     /* index in c->domains, if !wide */
	int wide;       /* key without @domain */
};

/* memo for the alias check: one per (alias, domain it applies to) */
struct alias_slot {
	uint32_t visits; /* addresses passed through, saturated */
	uint8_t height;  /* aliases in the longest chain from here */
	uint8_t state;   /* SLOT_NEW, SLOT_BUSY, SLOT_DONE */
};

enum { SLOT_NEW, SLOT_BUSY, SLOT_DONE };

/* a route while loading: where it was written, to name both of twins */
struct route_def {
	struct conf_route r;
	size_t off;     /* in the value of routes */
	size_t seq;     /* order of appearance */
};

struct ctx {
	struct conf *c;
	struct conf_err *err;
	struct val set[CONF_NKEYS];
	int isset[CONF_NKEYS];
	struct val extra[CONF_NKEYS]; /* the text of a file:PATH value */
	struct alias_def *defs;
	size_t ndefs;
	struct alias_slot *slots;
	size_t *base; /* first slot of each alias */
	size_t chain[CONF_ALIAS_DEPTH + 2];
	size_t nchain;
	size_t mbox_cap, defs_cap;
	size_t *listen_off;  /* where each c->listen entry was written */
	size_t wide_net;     /* 1 + index of the first net wider than /8 or
	                        /16 in c->relay_networks; 0: none */
	size_t wide_off;     /* where it was written */
	struct route_def *rdefs;
	size_t nrdefs, rdefs_cap;
};

static const char *const tls_names[] = {
	[TLS_MAY] = "may",
	[TLS_NONE] = "none",
	[TLS_VERIFY] = "verify",
	[TLS_REQUIRE] = "require",
};

static const char *const role_names[] = {
	[LISTEN_SMTP] = "smtp",
	[LISTEN_SUBMISSION] = "submission",
	[LISTEN_SUBMISSIONS] = "submissions",
};

static int
lower(int ch)
{
	return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch;
}

static int
is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n';
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_alpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int
word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && str_ncasecmp_ascii(s, w, n) == 0;
}

/* quote_n - a printable copy of n bytes of s for a message, cut if long */
static const char *
quote_n(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (o + 8 >= cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch < 0x20 || ch >= 0x7f || ch == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

/* errf - set the message: "ORIGIN[:LINE]: [key 'KEY': ]what" */
static int __attribute__((format(printf, 5, 6)))
errf(struct ctx *x, const char *origin, unsigned line, const char *key,
    const char *fmt, ...)
{
	char *msg = x->err->msg;
	size_t cap = sizeof(x->err->msg), n;
	va_list ap;
	int r;

	if (line != 0)
		r = snprintf(msg, cap, "%s:%u: ", origin, line);
	else
		r = snprintf(msg, cap, "%s: ", origin);
	n = r < 0 ? 0 : (size_t)r;
	if (key != NULL && n < cap) {
		r = snprintf(msg + n, cap - n, "key '%s': ", key);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n < cap) {
		va_start(ap, fmt);
		vsnprintf(msg + n, cap - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* val_line - the line of the segment that holds byte off of v's text */
static unsigned
val_line(const struct val *v, size_t off)
{
	size_t seg = 0, i;

	if (v->nlines == 0)
		return 0;
	for (i = 0; i < off && i < v->len; i++)
		if (v->s[i] == '\n')
			seg++;
	return seg < v->nlines ? v->lines[seg] : v->lines[v->nlines - 1];
}

/* verrf - an error about the text at byte off of v, a value of key */
static int __attribute__((format(printf, 5, 6)))
verrf(struct ctx *x, const struct val *v, size_t off, const char *key,
    const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return errf(x, v->origin, val_line(v, off), key, "%s", what);
}

static void
val_free(struct val *v)
{
	free(v->s);
	free(v->lines);
	free(v->origin);
	memset(v, 0, sizeof(*v));
}

static void
val_append(struct val *v, const char *s, size_t n)
{
	if (v->len + n + 1 > v->cap) {
		size_t ncap = v->cap ? v->cap : 64;

		while (ncap < v->len + n + 1)
			ncap *= 2;
		v->s = xrealloc(v->s, ncap);
		v->cap = ncap;
	}
	memcpy(v->s + v->len, s, n);
	v->len += n;
	v->s[v->len] = '\0';
}

/* val_segment - start a new segment (after '\n' unless first) at line */
static void
val_segment(struct val *v, const char *s, size_t n, unsigned line)
{
	if (v->nlines > 0)
		val_append(v, "\n", 1);
	else
		val_append(v, "", 0);
	if (v->nlines == v->capl) {
		v->capl = v->capl ? v->capl * 2 : 8;
		v->lines = xrealloc(v->lines, v->capl * sizeof(*v->lines));
	}
	v->lines[v->nlines++] = line;
	val_append(v, s, n);
}

/* val_init - a value of one segment; origin is copied */
static void
val_init(struct val *v, const char *origin, const char *s, size_t n,
    unsigned line)
{
	memset(v, 0, sizeof(*v));
	v->origin = xstrdup(origin);
	val_segment(v, s, n, line);
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* read_all - the whole file at path, NUL-terminated; -1 with errno */
static int
read_all(const char *path, char **data, size_t *len, const char **step)
{
	size_t cap = 4096, n = 0;
	char *p;
	int fd, saved;

	*step = "open";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	*step = "read";
	p = xmalloc(cap);
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			if (n > CONF_MAX_FILE) {
				saved = EFBIG;
				goto fail;
			}
			cap = cap > CONF_MAX_FILE / 2 ? CONF_MAX_FILE + 2 :
			    cap * 2;
			p = xrealloc(p, cap);
		}
		r = read(fd, p + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
fail:
	free(p);
	close(fd);
	errno = saved;
	return -1;
}

/* read_error - the text for a failed read_all() */
static const char *
read_error(int e)
{
	return e == EFBIG ? "larger than 64M" : strerror(e);
}

/*
 * next_line - the next line of data[0..len) without its end (LF or CRLF).
 * Returns 1 and sets *s, *n; 0 at the end; -1 (message set) if the line
 * holds a NUL or another control character, which no value may contain.
 */
static int
next_line(struct ctx *x, const char *origin, const char *key,
    const char *data, size_t len, size_t *pos, unsigned *lineno,
    const char **s, size_t *n)
{
	const char *p, *nl;
	size_t i, m;

	if (*pos >= len)
		return 0;
	p = data + *pos;
	nl = memchr(p, '\n', len - *pos);
	m = nl ? (size_t)(nl - p) : len - *pos;
	*pos += m + (nl ? 1 : 0);
	(*lineno)++;
	if (m > 0 && p[m - 1] == '\r')
		m--;
	for (i = 0; i < m; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\0')
			return errf(x, origin, *lineno, key,
			    "NUL byte in line; the file must be text");
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return errf(x, origin, *lineno, key,
			    "control character 0x%02x in line; only tab and "
			    "printable characters are allowed", ch);
	}
	*s = p;
	*n = m;
	return 1;
}

static const struct keydef *
key_find(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strlen(keys[i].name) == n &&
		    memcmp(keys[i].name, s, n) == 0)
			return &keys[i];
	return NULL;
}

static int
key_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (!(ch >= 'a' && ch <= 'z') && !is_digit(ch) && ch != '_')
			return 0;
	}
	return 1;
}

/* parse_file - split the configuration text into raw settings */
static int
parse_file(struct ctx *x, const char *origin, const char *data, size_t len)
{
	struct val *cur = NULL;
	size_t pos = 0;
	unsigned lineno = 0;
	const char *s;
	size_t n;
	int r;

	while ((r = next_line(x, origin, NULL, data, len, &pos, &lineno, &s,
	    &n)) > 0) {
		const char *t = s, *k;
		size_t tn = n, kn;
		const struct keydef *kd;
		char q[CONF_QUOTE_MAX];
		size_t i;

		trim(&t, &tn);
		if (tn == 0 || t[0] == '#')
			continue;
		if (s[0] == ' ' || s[0] == '\t') {
			if (cur == NULL)
				return errf(x, origin, lineno, NULL,
				    "continuation line (it starts with white "
				    "space) before any key");
			val_segment(cur, t, tn, lineno);
			continue;
		}
		k = t;
		for (kn = 0; kn < tn && t[kn] != '=' && !is_space(t[kn]); kn++)
			;
		if (!key_valid(k, kn))
			return errf(x, origin, lineno, CONF_QUOTE(q, k, kn),
			    "not a key name; key names are lower case "
			    "letters, digits and '_'");
		kd = key_find(k, kn);
		if (kd == NULL)
			return errf(x, origin, lineno, CONF_QUOTE(q, k, kn),
			    "unknown key; tern.conf(5) lists the keys");
		t += kn;
		tn -= kn;
		trim(&t, &tn);
		if (tn == 0 || t[0] != '=')
			return errf(x, origin, lineno, kd->name,
			    "expected '=' after the key name");
		t++;
		tn--;
		trim(&t, &tn);
		i = (size_t)(kd - keys);
		if (x->isset[i])
			return errf(x, origin, lineno, kd->name,
			    "set twice, on line %u and on line %u; keep one",
			    x->set[i].lines[0], lineno);
		x->isset[i] = 1;
		cur = &x->set[i];
		val_init(cur, origin, t, tn, lineno);
	}
	return r;
}

/* apply_override - "key=value" replaces the file's value of key */
static int
apply_override(struct ctx *x, const char *o)
{
	char q[CONF_QUOTE_MAX], origin[CONF_ORIGIN];
	const char *eq, *k = o, *v, *p;
	size_t kn, vn;
	const struct keydef *kd;
	size_t i;

	memcpy(origin, "-o ", 3);
	quote_n(origin + 3, sizeof(origin) - 3, o, strlen(o));
	eq = strchr(o, '=');
	if (eq == NULL)
		return errf(x, origin, 0, NULL,
		    "expected key=value, e.g. -o max_errors=10");
	kn = (size_t)(eq - o);
	trim(&k, &kn);
	if (!key_valid(k, kn))
		return errf(x, origin, 0, CONF_QUOTE(q, k, kn),
		    "not a key name; key names are lower case "
		    "letters, digits and '_'");
	kd = key_find(k, kn);
	if (kd == NULL)
		return errf(x, origin, 0, CONF_QUOTE(q, k, kn),
		    "unknown key; tern.conf(5) lists the keys");
	v = eq + 1;
	vn = strlen(v);
	for (p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
			return errf(x, origin, 0, kd->name,
			    "control character 0x%02x in the value", ch);
	}
	trim(&v, &vn);
	i = (size_t)(kd - keys);
	val_free(&x->set[i]);
	val_init(&x->set[i], origin, v, vn, 0);
	x->isset[i] = 1;
	return 0;
}

/* a piece of a value: s[0..n) at byte off of the value's text */
struct tok {
	const char *s;
	size_t n, off;
};

/* next_item - the next list item; items are separated by white space or ',' */
static int
next_item(const char *s, size_t len, size_t base, size_t *pos, struct tok *t)
{
	size_t i = *pos, start;

	while (i < len && (is_space((unsigned char)s[i]) || s[i] == ','))
		i++;
	if (i >= len) {
		*pos = i;
		return 0;
	}
	start = i;
	while (i < len && !is_space((unsigned char)s[i]) && s[i] != ',')
		i++;
	t->s = s + start;
	t->n = i - start;
	t->off = base + start;
	*pos = i;
	return 1;
}

/*
 * check_domain - is s[0..n) a domain name: LDH labels of 1..63, at most
 * 253 in all, no label starting or ending with '-', and not all digits
 * at the end (that is an IP address). NULL if fine, else why not.
 */
static const char *
check_domain(const char *s, size_t n)
{
	size_t i, lab = 0;
	int digits = 1;

	if (n == 0)
		return "is empty";
	if (n > 253)
		return "is longer than 253 characters";
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '.') {
			if (lab == 0)
				return "has an empty label (a leading, "
				    "trailing or doubled '.')";
			if (s[i - 1] == '-')
				return "has a label ending in '-'";
			lab = 0;
			digits = 1;
			continue;
		}
		if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
			return "may only hold letters, digits, '-' and '.'";
		if (ch == '-' && lab == 0)
			return "has a label starting with '-'";
		if (!is_digit(ch))
			digits = 0;
		if (++lab > 63)
			return "has a label longer than 63 characters";
	}
	if (lab == 0)
		return "has an empty label (a leading, trailing or doubled "
		    "'.')";
	if (s[n - 1] == '-')
		return "has a label ending in '-'";
	if (digits)
		return "ends in an all-numeric label; an IP address is not a "
		    "domain name";
	return NULL;
}

/*
 * check_local - is s[0..n) a local part we accept: an RFC 5322 dot-atom
 * of 1..64 octets without '/' (a mailbox becomes a directory name) and
 * not starting with '#' (that would be a misplaced comment).
 */
static const char *
check_local(const char *s, size_t n)
{
	static const char atext[] = "!#$%&'*+-=?^_`{|}~";
	size_t i;

	if (n == 0)
		return "is empty";
	if (n > 64)
		return "is longer than 64 octets (RFC 5321 4.5.3.1.1)";
	if (s[0] == '#')
		return "starts with '#'; a comment must start its own line";
	if (s[0] == '.' || s[n - 1] == '.')
		return "starts or ends with '.'";
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '/')
			return "contains '/', which cannot be in a mailbox "
			    "directory name";
		if (ch == '.' && s[i + 1] == '.')
			return "contains '..'";
		if (ch == '.' || is_alpha(ch) || is_digit(ch) ||
		    (ch != '\0' && strchr(atext, ch) != NULL))
			continue;
		return "may only hold letters, digits, '.' and "
		    "!#$%&'*+-=?^_`{|}~ (RFC 5322 dot-atom)";
	}
	return NULL;
}

/* domain_index - the index of s[0..n) in c->domains, or -1 */
static ssize_t
domain_index(const struct conf *c, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < c->ndomains; i++)
		if (strlen(c->domains[i]) == n &&
		    str_ncasecmp_ascii(c->domains[i], s, n) == 0)
			return (ssize_t)i;
	return -1;
}

/* the text of a scalar value; rejects empty and multi-line values */
static int
scalar(struct ctx *x, const struct keydef *k, const struct val *v,
    const char **s, size_t *n, size_t *off)
{
	const char *t = v->s, *nl;
	size_t tn = v->len;

	trim(&t, &tn);
	*s = t;
	*n = tn;
	*off = (size_t)(t - v->s);
	if (tn == 0)
		return verrf(x, v, 0, k->name, "the value is empty");
	nl = memchr(t, '\n', tn);
	if (nl != NULL)
		return verrf(x, v, (size_t)(nl + 1 - v->s), k->name,
		    "the value must be on one line");
	return 0;
}

static int
conv_hostname(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char q[CONF_QUOTE_MAX];
	const char *s, *why;
	size_t n, off;

	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	why = check_domain(s, n);
	if (why != NULL)
		return verrf(x, v, off, k->name, "'%s' %s; use a domain name "
		    "such as mail.example.org", CONF_QUOTE(q, s, n), why);
	x->c->hostname = xstrndup(s, n);
	return 0;
}

/* parse_port - s[0..n) as a port number 1..65535; -1 if it is not one */
static int
parse_port(const char *s, size_t n, unsigned long *port)
{
	unsigned long p = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]) || p > 65535)
			return -1;
		p = p * 10 + (unsigned long)(s[i] - '0');
	}
	if (n == 0 || p < 1 || p > 65535)
		return -1;
	*port = p;
	return 0;
}

/* conv_listen_one - "ADDR:PORT[/ROLE]"; "*" adds 0.0.0.0 and :: */
static int
conv_listen_one(struct ctx *x, const struct keydef *k, const struct val *v,
    const struct tok *t)
{
	char q[CONF_QUOTE_MAX], host[INET6_ADDRSTRLEN + 2];
	char canon[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *colon, *h = t->s, *p, *slash;
	size_t hn, pn, an, i, j;
	unsigned long port = 0;
	enum listen_role role = LISTEN_SMTP;
	int af;
	struct conf *c = x->c;

	/* an: the length of ADDR:PORT, without the role */
	slash = memchr(t->s, '/', t->n);
	an = slash != NULL ? (size_t)(slash - t->s) : t->n;
	if (slash != NULL) {
		const char *r = slash + 1;
		size_t rn = t->n - an - 1;

		for (i = 0; i < ARRAY_LEN(role_names); i++)
			if (word_is(r, rn, role_names[i]))
				break;
		if (i == ARRAY_LEN(role_names))
			return verrf(x, v, t->off, k->name, "'%s' has an "
			    "unknown role; use ADDR:PORT/smtp (the default), "
			    "/submission or /submissions",
			    CONF_QUOTE(q, t->s, t->n));
		role = (enum listen_role)i;
	}
	colon = NULL;
	for (i = an; i > 0; i--)
		if (t->s[i - 1] == ':') {
			colon = t->s + i - 1;
			break;
		}
	if (colon == NULL || an == 0 || t->s[an - 1] == ']')
		return verrf(x, v, t->off, k->name, "'%s' has no port; use "
		    "ADDR:PORT, e.g. 127.0.0.1:25, [::1]:25 or *:25",
		    CONF_QUOTE(q, t->s, t->n));
	hn = (size_t)(colon - t->s);
	p = colon + 1;
	pn = an - hn - 1;
	if (parse_port(p, pn, &port) < 0)
		return verrf(x, v, t->off, k->name, "'%s' has a bad port; "
		    "the port is a number from 1 to 65535",
		    CONF_QUOTE(q, t->s, t->n));
	if (hn == 1 && h[0] == '*') {
		af = 0;
	} else if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
		h++;
		hn -= 2;
		af = AF_INET6;
	} else if (memchr(h, ':', hn) != NULL || memchr(h, '[', hn) != NULL) {
		return verrf(x, v, t->off, k->name, "'%s': an IPv6 address "
		    "needs brackets, as in [::1]:25",
		    CONF_QUOTE(q, t->s, t->n));
	} else {
		af = AF_INET;
	}
	if (af != 0) {
		if (hn >= sizeof(host))
			goto bad;
		memcpy(host, h, hn);
		host[hn] = '\0';
		if (inet_pton(af, host, bin) != 1 ||
		    inet_ntop(af, bin, canon, sizeof(canon)) == NULL)
			goto bad;
	}
	for (j = 0; j < (af == 0 ? 2u : 1u); j++) {
		const char *hs = af == 0 ? (j == 0 ? "0.0.0.0" : "::") : canon;
		char ps[8];

		snprintf(ps, sizeof(ps), "%lu", port);
		for (i = 0; i < c->nlisten; i++)
			if (strcmp(c->listen[i].host, hs) == 0 &&
			    strcmp(c->listen[i].port, ps) == 0)
				return verrf(x, v, t->off, k->name,
				    "'%s' is listed twice",
				    CONF_QUOTE(q, t->s, t->n));
		if (c->nlisten == CONF_MAX_LISTEN)
			return verrf(x, v, t->off, k->name, "more than %d "
			    "addresses", CONF_MAX_LISTEN);
		c->listen = xrealloc(c->listen,
		    (c->nlisten + 1) * sizeof(*c->listen));
		x->listen_off = xrealloc(x->listen_off,
		    (c->nlisten + 1) * sizeof(*x->listen_off));
		c->listen[c->nlisten].host = xstrdup(hs);
		c->listen[c->nlisten].port = xstrdup(ps);
		c->listen[c->nlisten].role = role;
		x->listen_off[c->nlisten] = t->off;
		c->nlisten++;
	}
	return 0;
bad:
	return verrf(x, v, t->off, k->name, "'%s' is not an IP address; "
	    "use an IPv4 address, [IPv6] or * (all addresses)",
	    CONF_QUOTE(q, h, hn));
}

static int
conv_listen(struct ctx *x, const struct keydef *k, const struct val *v)
{
	struct tok t;
	size_t pos = 0;

	while (next_item(v->s, v->len, 0, &pos, &t))
		if (conv_listen_one(x, k, v, &t) < 0)
			return -1;
	if (x->c->nlisten == 0)
		return verrf(x, v, 0, k->name, "no address; use a list of "
		    "ADDR:PORT, e.g. 127.0.0.1:25, [::1]:25 or *:25");
	return 0;
}

static int
conv_domains(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char q[CONF_QUOTE_MAX];
	struct conf *c = x->c;
	struct tok t;
	size_t pos = 0;
	const char *why;

	while (next_item(v->s, v->len, 0, &pos, &t)) {
		why = check_domain(t.s, t.n);
		if (why != NULL)
			return verrf(x, v, t.off, k->name, "'%s' %s; use "
			    "domain names such as example.org",
			    CONF_QUOTE(q, t.s, t.n), why);
		if (domain_index(c, t.s, t.n) >= 0)
			return verrf(x, v, t.off, k->name, "'%s' is listed "
			    "twice", CONF_QUOTE(q, t.s, t.n));
		if (c->ndomains == CONF_MAX_DOMAINS)
			return verrf(x, v, t.off, k->name, "more than %d "
			    "domains", CONF_MAX_DOMAINS);
		c->domains = xrealloc(c->domains,
		    (c->ndomains + 1) * sizeof(*c->domains));
		c->domains[c->ndomains] = xstrndup(t.s, t.n);
		str_lower(c->domains[c->ndomains]);
		c->ndomains++;
	}
	if (c->ndomains == 0)
		return verrf(x, v, 0, k->name, "no domain; list the domains "
		    "whose mail is delivered here");
	return 0;
}

/*
 * file_value - if v is "file:PATH", read PATH into x->extra[] as one
 * segment per line (with cont, a line that starts with white space is
 * joined to the one before with a space) and point *vp at it. Comment
 * and blank lines are left out. Otherwise *vp is v.
 */
static int
file_value(struct ctx *x, const struct keydef *k, const struct val *v,
    const struct val **vp, int cont)
{
	char q[CONF_ORIGIN], *path, *data;
	struct val *e = &x->extra[k - keys];
	const char *s = v->s, *ls, *step;
	size_t n = v->len, len, pos = 0, off, ln;
	unsigned lineno = 0;
	int r;

	*vp = v;
	trim(&s, &n);
	if (n < 5 || memcmp(s, "file:", 5) != 0)
		return 0;
	off = (size_t)(s - v->s);
	s += 5;
	n -= 5;
	trim(&s, &n);
	if (n == 0)
		return verrf(x, v, off, k->name, "file: needs a path, as in "
		    "file:/etc/tern/%s", k->name);
	if (memchr(s, '\n', n) != NULL)
		return verrf(x, v, off, k->name, "file:PATH must be the "
		    "whole value, on one line");
	path = xstrndup(s, n);
	r = read_all(path, &data, &len, &step);
	free(path);
	if (r < 0) {
		int en = errno;

		return verrf(x, v, off, k->name, "cannot %s '%s': %s", step,
		    CONF_QUOTE(q, s, n), read_error(en));
	}
	val_free(e);
	e->origin = xstrdup(CONF_QUOTE(q, s, n));
	val_append(e, "", 0);
	while ((r = next_line(x, e->origin, k->name, data, len, &pos,
	    &lineno, &ls, &ln)) > 0) {
		int lead = ln > 0 && (ls[0] == ' ' || ls[0] == '\t');

		trim(&ls, &ln);
		if (ln == 0 || ls[0] == '#')
			continue;
		if (cont && lead) {
			if (e->nlines == 0) {
				r = errf(x, e->origin, lineno, k->name,
				    "continuation line (it starts with "
				    "white space) before any entry");
				break;
			}
			val_append(e, " ", 1);
			val_append(e, ls, ln);
			continue;
		}
		val_segment(e, ls, ln, lineno);
	}
	free(data);
	if (r < 0)
		return -1;
	*vp = e;
	return 0;
}

static int
mbox_cmp(const void *a, const void *b)
{
	const struct mbox *ma = a, *mb = b;
	int r = strcmp(ma->domain, mb->domain);

	return r != 0 ? r : strcmp(ma->user, mb->user);
}

static void
mbox_add(struct ctx *x, const char *user, size_t n, size_t dom)
{
	struct conf *c = x->c;

	if (c->nmboxes == x->mbox_cap) {
		x->mbox_cap = x->mbox_cap ? x->mbox_cap * 2 : 16;
		c->mboxes = xrealloc(c->mboxes,
		    x->mbox_cap * sizeof(*c->mboxes));
	}
	c->mboxes[c->nmboxes].domain = c->domains[dom];
	c->mboxes[c->nmboxes].user = xstrndup(user, n);
	str_lower(c->mboxes[c->nmboxes].user);
	c->nmboxes++;
}

/* mbox_sort - sort by (domain, user) and drop duplicates */
static void
mbox_sort(struct conf *c)
{
	size_t i, o = 0;

	if (c->nmboxes == 0)
		return;
	qsort(c->mboxes, c->nmboxes, sizeof(*c->mboxes), mbox_cmp);
	for (i = 1; i < c->nmboxes; i++) {
		if (mbox_cmp(&c->mboxes[o], &c->mboxes[i]) == 0)
			free(c->mboxes[i].user);
		else
			c->mboxes[++o] = c->mboxes[i];
	}
	c->nmboxes = o + 1;
}

/*
 * split_addr - check "user" or "user@domain" of a mailbox, alias key or
 * alias target; *dom is the local domain's index or -1 for no domain.
 * what names the thing in messages.
 */
static int
split_addr(struct ctx *x, const struct keydef *k, const struct val *v,
    const struct tok *t, const char *what, const char *nonlocal,
    size_t *un, ssize_t *dom)
{
	char q[CONF_QUOTE_MAX], q2[CONF_QUOTE_MAX];
	const char *at = memchr(t->s, '@', t->n), *why;

	*un = at ? (size_t)(at - t->s) : t->n;
	*dom = -1;
	why = check_local(t->s, *un);
	if (why != NULL)
		return verrf(x, v, t->off, k->name, "%s '%s': the local part "
		    "%s", what, CONF_QUOTE(q, t->s, t->n), why);
	if (at == NULL)
		return 0;
	*dom = domain_index(x->c, at + 1, t->n - *un - 1);
	if (*dom < 0)
		return verrf(x, v, t->off, k->name, "%s '%s': '%s' is not a "
		    "local domain (key 'domains')%s", what,
		    CONF_QUOTE(q, t->s, t->n),
		    CONF_QUOTE(q2, at + 1, t->n - *un - 1), nonlocal);
	return 0;
}

static int
conv_mboxes(struct ctx *x, const struct keydef *k, const struct val *v0)
{
	struct conf *c = x->c;
	const struct val *v;
	struct tok t;
	size_t pos = 0, un, d;
	ssize_t dom;

	if (file_value(x, k, v0, &v, 0) < 0)
		return -1;
	while (next_item(v->s, v->len, 0, &pos, &t)) {
		if (split_addr(x, k, v, &t, "mailbox", "", &un, &dom) < 0)
			return -1;
		if (c->nmboxes + (dom < 0 ? c->ndomains : 1) > CONF_MAX_MBOXES)
			return verrf(x, v, t.off, k->name, "more than %d "
			    "mailboxes", CONF_MAX_MBOXES);
		if (dom >= 0)
			mbox_add(x, t.s, un, (size_t)dom);
		else
			for (d = 0; d < c->ndomains; d++)
				mbox_add(x, t.s, un, d);
	}
	mbox_sort(c);
	return 0;
}

/* by key, then by order of appearance: twins sort first-written first */
static int
key_seq_cmp(const char *ka, size_t sa, const char *kb, size_t sb)
{
	int r = strcmp(ka, kb);

	if (r != 0)
		return r;
	return sa < sb ? -1 : sa > sb;
}

static int
def_cmp(const void *a, const void *b)
{
	const struct alias_def *da = a, *db = b;

	return key_seq_cmp(da->a.key, da->seq, db->a.key, db->seq);
}

/* conv_alias_one - one "key: target, ..." entry at byte base of v */
static int
conv_alias_one(struct ctx *x, const struct keydef *k, const struct val *v,
    const char *s, size_t n, size_t base, unsigned line)
{
	static const char relay[] = "; an alias cannot forward to other "
	    "domains (yet)";
	char q[CONF_QUOTE_MAX];
	const char *colon = memchr(s, ':', n);
	struct alias_def *d;
	struct tok key, t;
	size_t un, pos, cap = 0;
	ssize_t dom;

	if (colon == NULL)
		return verrf(x, v, base, k->name, "'%s' has no ':'; write "
		    "\"address: target, target\"", CONF_QUOTE(q, s, n));
	key.s = s;
	key.n = (size_t)(colon - s);
	key.off = base;
	trim(&key.s, &key.n);
	if (key.n == 0 || memchr(key.s, ' ', key.n) != NULL ||
	    memchr(key.s, '\t', key.n) != NULL)
		return verrf(x, v, base, k->name, "'%s' is not an address "
		    "before ':'; write \"address: target, target\"",
		    CONF_QUOTE(q, key.s, key.n));
	if (split_addr(x, k, v, &key, "alias", "", &un, &dom) < 0)
		return -1;
	if (x->ndefs == CONF_MAX_ALIASES)
		return verrf(x, v, base, k->name, "more than %d aliases",
		    CONF_MAX_ALIASES);
	if (x->ndefs == x->defs_cap) {
		x->defs_cap = x->defs_cap ? x->defs_cap * 2 : 16;
		x->defs = xrealloc(x->defs, x->defs_cap * sizeof(*x->defs));
	}
	d = &x->defs[x->ndefs++];
	memset(d, 0, sizeof(*d));
	d->a.key = xstrndup(key.s, key.n);
	str_lower(d->a.key);
	d->origin = v->origin;
	d->line = line;
	d->seq = x->ndefs;
	d->wide = dom < 0;
	d->dom = dom < 0 ? 0 : (size_t)dom;
	pos = (size_t)(colon + 1 - s);
	while (next_item(s, n, base, &pos, &t)) {
		if (split_addr(x, k, v, &t, "alias target", relay, &un,
		    &dom) < 0)
			return -1;
		if (d->a.ntargets == cap) {
			cap = cap ? cap * 2 : 4;
			d->a.targets = xrealloc(d->a.targets,
			    cap * sizeof(*d->a.targets));
		}
		d->a.targets[d->a.ntargets] = xstrndup(t.s, t.n);
		str_lower(d->a.targets[d->a.ntargets]);
		d->a.ntargets++;
	}
	if (d->a.ntargets == 0)
		return verrf(x, v, base, k->name, "alias '%s' has no target",
		    CONF_QUOTE(q, key.s, key.n));
	return 0;
}

static int
conv_aliases(struct ctx *x, const struct keydef *k, const struct val *v0)
{
	struct conf *c = x->c;
	const struct val *v;
	size_t i, start, end, seg = 0;

	if (file_value(x, k, v0, &v, 1) < 0)
		return -1;
	/*
	 * Entries are separated by newlines or ';', except that an entry
	 * ending in ',' goes on over the next line. seg counts the newlines
	 * passed, for the entry's line number.
	 */
	for (start = 0; start < v->len; start = end + 1) {
		const char *s;
		size_t n, first = seg;
		unsigned line;

		for (end = start; end < v->len && v->s[end] != ';'; end++) {
			if (v->s[end] != '\n')
				continue;
			seg++;
			s = v->s + start;
			n = end - start;
			trim(&s, &n);
			if (n == 0 || s[n - 1] != ',')
				break;
		}
		s = v->s + start;
		n = end - start;
		trim(&s, &n);
		if (n == 0)
			continue;
		line = v->nlines == 0 ? 0 : v->lines[first < v->nlines ?
		    first : v->nlines - 1];
		if (conv_alias_one(x, k, v, s, n, (size_t)(s - v->s),
		    line) < 0)
			return -1;
	}
	if (x->ndefs == 0)
		return 0;
	qsort(x->defs, x->ndefs, sizeof(*x->defs), def_cmp);
	for (i = 1; i < x->ndefs; i++) {
		const struct alias_def *a = &x->defs[i - 1], *b = &x->defs[i];

		if (strcmp(a->a.key, b->a.key) != 0)
			continue;
		if (a->line == 0)
			return errf(x, b->origin, b->line, k->name,
			    "alias '%s' is defined twice",
			    b->a.key);
		return errf(x, b->origin, b->line, k->name,
		    "alias '%s' is defined twice, first on line %u",
		    b->a.key, a->line);
	}
	c->aliases = xcalloc(x->ndefs, sizeof(*c->aliases));
	for (i = 0; i < x->ndefs; i++) {
		c->aliases[i] = x->defs[i].a;
		/* c owns the strings now */
		memset(&x->defs[i].a, 0, sizeof(x->defs[i].a));
	}
	c->naliases = x->ndefs;
	return 0;
}

static int
conv_path(struct ctx *x, const struct keydef *k, const struct val *v)
{
	const char *s;
	size_t n, off;

	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	*(char **)(void *)((char *)x->c + k->off) = xstrndup(s, n);
	return 0;
}

/* fmt_size - bytes as the shortest exact size text ("64k", "2G") */
static void
fmt_size(char *out, size_t cap, uint64_t v)
{
	if (v != 0 && v % (1024ull * 1024 * 1024) == 0)
		snprintf(out, cap, "%lluG",
		    (unsigned long long)(v / (1024ull * 1024 * 1024)));
	else if (v != 0 && v % (1024ull * 1024) == 0)
		snprintf(out, cap, "%lluM",
		    (unsigned long long)(v / (1024ull * 1024)));
	else if (v != 0 && v % 1024 == 0)
		snprintf(out, cap, "%lluk", (unsigned long long)(v / 1024));
	else
		snprintf(out, cap, "%llu", (unsigned long long)v);
}

/* fmt_duration - seconds as the shortest exact duration text */
static void
fmt_duration(char *out, size_t cap, uint64_t v)
{
	/* "24h" rather than "1d", as the older messages have it */
	if (v > 86400 && v % 86400 == 0)
		snprintf(out, cap, "%llud", (unsigned long long)(v / 86400));
	else if (v != 0 && v % 3600 == 0)
		snprintf(out, cap, "%lluh", (unsigned long long)(v / 3600));
	else if (v != 0 && v % 60 == 0)
		snprintf(out, cap, "%llum", (unsigned long long)(v / 60));
	else
		snprintf(out, cap, "%llus", (unsigned long long)v);
}

static int
conv_number(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char q[CONF_QUOTE_MAX], tmp[64], lo[24], hi[24];
	const char *s;
	size_t n, off, i;
	uint64_t num = 0;
	unsigned sec;
	int bad = 0, toolong;

	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	toolong = n >= sizeof(tmp);
	if (!toolong) {
		memcpy(tmp, s, n);
		tmp[n] = '\0';
	}
	switch (k->type) {
	case K_UINT:
		for (i = 0; !bad && i < n; i++) {
			if (!is_digit((unsigned char)s[i]))
				bad = 1;
			else if (num <= UINT32_MAX)
				num = num * 10 + (uint64_t)(s[i] - '0');
		}
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)k->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)k->max);
		if (bad)
			return verrf(x, v, off, k->name, "'%s' is not a "
			    "number; use decimal digits, %s to %s",
			    CONF_QUOTE(q, s, n), lo, hi);
		break;
	case K_SIZE:
		if (toolong || parse_size(tmp, &num) < 0)
			return verrf(x, v, off, k->name, "'%s' is not a size; "
			    "use bytes or a number with k, M or G (powers of "
			    "1024), e.g. 25M", CONF_QUOTE(q, s, n));
		fmt_size(lo, sizeof(lo), k->min);
		fmt_size(hi, sizeof(hi), k->max);
		break;
	default: /* K_DURATION */
		if (toolong || parse_duration(tmp, &sec) < 0)
			return verrf(x, v, off, k->name, "'%s' is not a "
			    "duration; use seconds or a number with s, m, h "
			    "or d, e.g. 5m", CONF_QUOTE(q, s, n));
		num = sec;
		fmt_duration(lo, sizeof(lo), k->min);
		fmt_duration(hi, sizeof(hi), k->max);
		break;
	}
	if (num < k->min || num > k->max)
		return verrf(x, v, off, k->name, "'%s' is out of range; "
		    "allowed is %s to %s%s%s", CONF_QUOTE(q, s, n), lo, hi,
		    k->note ? "; " : "", k->note ? k->note : "");
	if (k->type == K_SIZE)
		*(uint64_t *)(void *)((char *)x->c + k->off) = num;
	else
		*(unsigned *)(void *)((char *)x->c + k->off) = (unsigned)num;
	return 0;
}

static int
conv_word(struct ctx *x, const struct keydef *k, const struct val *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	char q[CONF_QUOTE_MAX];
	const char *s;
	size_t n, off, i;

	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	if (k->type == K_BARE) {
		if (word_is(s, n, "normalize"))
			x->c->bare_newline = BARE_NEWLINE_NORMALIZE;
		else if (word_is(s, n, "reject"))
			x->c->bare_newline = BARE_NEWLINE_REJECT;
		else
			return verrf(x, v, off, k->name, "'%s' is not a "
			    "policy; use normalize or reject",
			    CONF_QUOTE(q, s, n));
		return 0;
	}
	for (i = 0; i < ARRAY_LEN(yes); i++) {
		if (word_is(s, n, yes[i]) || word_is(s, n, no[i])) {
			*(int *)(void *)((char *)x->c + k->off) =
			    word_is(s, n, yes[i]);
			return 0;
		}
	}
	return verrf(x, v, off, k->name, "'%s' is not a boolean; use yes or "
	    "no (or true/false, on/off, 1/0)", CONF_QUOTE(q, s, n));
}

/* field - the member of struct conf that k describes */
static void *
field(struct ctx *x, const struct keydef *k)
{
	return (char *)x->c + k->off;
}

/* key_index - the index in keys[] of the key called name */
static size_t
key_index(const char *name)
{
	size_t i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return i;
	fatal("conf: no key %s", name);
}

/* is_v4mapped - is a (16 bytes) in ::ffff:0:0/96, IPv4 seen over IPv6 */
static int
is_v4mapped(const unsigned char *a)
{
	static const unsigned char pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	return memcmp(a, pre, sizeof(pre)) == 0;
}

/* net_text - "ADDR/PREFIX" of n, for dumps and messages */
static void
net_text(const struct conf_net *n, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(n->family, n->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(out, cap, "%s/%u", a, n->prefix);
}

/* net_match - are the first prefix bits of a and b the same? */
static int
net_match(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* conv_net_one - "ADDR/PREFIX" or "ADDR" ("[IPv6]" too) of relay_networks */
static int
conv_net_one(struct ctx *x, const struct keydef *k, const struct val *v,
    const struct tok *t)
{
	char q[CONF_QUOTE_MAX], host[INET6_ADDRSTRLEN + 2];
	char got[INET6_ADDRSTRLEN + 8], want[INET6_ADDRSTRLEN + 8];
	struct conf *c = x->c;
	const char *slash = memchr(t->s, '/', t->n), *h = t->s;
	size_t hn = slash != NULL ? (size_t)(slash - t->s) : t->n, i;
	unsigned maxp, b;
	struct conf_net n, m;
	int bracket = 0;

	memset(&n, 0, sizeof(n));
	if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
		h++;
		hn -= 2;
		bracket = 1;
	}
	if (hn == 0 || hn >= sizeof(host))
		goto bad;
	memcpy(host, h, hn);
	host[hn] = '\0';
	if (!bracket && inet_pton(AF_INET, host, n.addr) == 1)
		n.family = AF_INET;
	else if (inet_pton(AF_INET6, host, n.addr) == 1)
		n.family = AF_INET6;
	else
		goto bad;
	maxp = n.family == AF_INET ? 32 : 128;
	n.prefix = maxp;
	if (slash != NULL) {
		const char *p = slash + 1;
		size_t pn = t->n - (size_t)(p - t->s);

		n.prefix = 0;
		for (i = 0; i < pn && i < 4; i++) {
			if (!is_digit((unsigned char)p[i]))
				break;
			n.prefix = n.prefix * 10 + (unsigned)(p[i] - '0');
		}
		if (pn == 0 || i < pn || n.prefix > maxp)
			return verrf(x, v, t->off, k->name, "'%s' has a bad "
			    "prefix length; use ADDR/PREFIX with PREFIX from "
			    "0 to %u, e.g. %s", CONF_QUOTE(q, t->s, t->n),
			    maxp, maxp == 32 ? "192.0.2.0/24" :
			    "2001:db8::/32");
	}
	m = n;
	for (b = m.prefix; b < maxp; b++)
		m.addr[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
	if (memcmp(m.addr, n.addr, sizeof(n.addr)) != 0) {
		net_text(&n, got, sizeof(got));
		net_text(&m, want, sizeof(want));
		return verrf(x, v, t->off, k->name, "%s has host bits set; "
		    "did you mean %s?", got, want);
	}
	/* a client seen as ::ffff:a.b.c.d is matched as IPv4 */
	if (n.family == AF_INET6 && n.prefix >= 96 && is_v4mapped(n.addr)) {
		n.family = AF_INET;
		n.prefix -= 96;
		memmove(n.addr, n.addr + 12, 4);
		memset(n.addr + 4, 0, 12);
	}
	for (i = 0; i < c->nrelay_networks; i++) {
		const struct conf_net *o = &c->relay_networks[i];

		if (o->family == n.family && o->prefix == n.prefix &&
		    memcmp(o->addr, n.addr, sizeof(n.addr)) == 0)
			return verrf(x, v, t->off, k->name, "'%s' is listed "
			    "twice", CONF_QUOTE(q, t->s, t->n));
	}
	if (c->nrelay_networks == CONF_MAX_NETS)
		return verrf(x, v, t->off, k->name, "more than %d networks",
		    CONF_MAX_NETS);
	if (x->wide_net == 0 && n.prefix < (n.family == AF_INET ? 8u : 16u)) {
		x->wide_net = c->nrelay_networks + 1;
		x->wide_off = t->off;
	}
	c->relay_networks = xrealloc(c->relay_networks,
	    (c->nrelay_networks + 1) * sizeof(*c->relay_networks));
	c->relay_networks[c->nrelay_networks++] = n;
	return 0;
bad:
	return verrf(x, v, t->off, k->name, "'%s' is not an IP address or "
	    "network; use ADDR/PREFIX such as 192.0.2.0/24 or 2001:db8::/32, "
	    "or one address", CONF_QUOTE(q, t->s, t->n));
}

/* conv_nets - relay_networks; an empty list means nobody relays */
static int
conv_nets(struct ctx *x, const struct keydef *k, const struct val *v)
{
	struct tok t;
	size_t pos = 0;

	while (next_item(v->s, v->len, 0, &pos, &t))
		if (conv_net_one(x, k, v, &t) < 0)
			return -1;
	return 0;
}

static int
conv_port(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char q[CONF_QUOTE_MAX], ps[8];
	const char *s;
	size_t n, off;
	unsigned long port;

	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	if (parse_port(s, n, &port) < 0)
		return verrf(x, v, off, k->name, "'%s' is not a port; use a "
		    "number from 1 to 65535", CONF_QUOTE(q, s, n));
	snprintf(ps, sizeof(ps), "%lu", port);
	*(char **)field(x, k) = xstrdup(ps);
	return 0;
}

/* tls_word - s[0..n) as a TLS policy; -1 if it is none */
static int
tls_word(const char *s, size_t n, enum tls_policy *out)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(tls_names); i++)
		if (word_is(s, n, tls_names[i])) {
			*out = (enum tls_policy)i;
			return 0;
		}
	return -1;
}

static int
conv_tls(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char q[CONF_QUOTE_MAX];
	const char *s;
	size_t n, off;

	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	if (tls_word(s, n, (enum tls_policy *)field(x, k)) < 0)
		return verrf(x, v, off, k->name, "'%s' is not a TLS policy; "
		    "use may, none, verify or require", CONF_QUOTE(q, s, n));
	return 0;
}

/*
 * parse_hop - "HOST[:PORT]" or "[IPv6][:PORT]", the n bytes at byte off
 * of v, into h (host and port allocated only on success). HOST is a
 * domain name or an IP address; with ip_only, an IP address.
 */
static int
parse_hop(struct ctx *x, const struct keydef *k, const struct val *v,
    size_t off, size_t n, int ip_only, struct conf_hop *h)
{
	char q[CONF_QUOTE_MAX], host[INET6_ADDRSTRLEN + 2];
	char canon[INET6_ADDRSTRLEN], ps[8];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *s = v->s + off, *hs = s, *p = NULL, *end = s + n, *why;
	size_t hn, colons = 0, i;
	unsigned long port = k->min;
	int af = 0;

	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL)
			return verrf(x, v, off, k->name, "'%s' has '[' but no "
			    "']'; write an IPv6 address as [2001:db8::1]:25",
			    CONF_QUOTE(q, s, n));
		hs = s + 1;
		hn = (size_t)(close - hs);
		if (close + 1 < end && close[1] != ':')
			return verrf(x, v, off, k->name, "'%s': only :PORT "
			    "may follow ']'", CONF_QUOTE(q, s, n));
		if (close + 1 < end)
			p = close + 2;
		if (hn == 0 || hn >= sizeof(host))
			goto notv6;
		memcpy(host, hs, hn);
		host[hn] = '\0';
		if (inet_pton(AF_INET6, host, bin) != 1)
			goto notv6;
		af = AF_INET6;
	} else {
		for (i = 0; i < n; i++)
			if (s[i] == ':') {
				colons++;
				p = s + i + 1;
			}
		if (colons > 1)
			return verrf(x, v, off, k->name, "'%s': an IPv6 "
			    "address needs brackets, as in [2001:db8::1]:%lu",
			    CONF_QUOTE(q, s, n), (unsigned long)k->min);
		hn = p != NULL ? (size_t)(p - 1 - s) : n;
		if (hn == 0)
			return verrf(x, v, off, k->name, "'%s' has no host; "
			    "use HOST[:PORT]", CONF_QUOTE(q, s, n));
		if (hn < sizeof(host)) {
			memcpy(host, hs, hn);
			host[hn] = '\0';
			if (inet_pton(AF_INET, host, bin) == 1)
				af = AF_INET;
		}
		if (af == 0 && ip_only)
			return verrf(x, v, off, k->name, "'%s' is not an IP "
			    "address; %s must be an address, such as "
			    "127.0.0.1 or [::1], since a name would need a "
			    "resolver to find it", CONF_QUOTE(q, hs, hn),
			    k->name);
		if (af == 0 && (why = check_domain(hs, hn)) != NULL)
			return verrf(x, v, off, k->name, "'%s' %s; use a host "
			    "name such as smtp.example.org or an IP address",
			    CONF_QUOTE(q, hs, hn), why);
	}
	if (p != NULL && parse_port(p, (size_t)(end - p), &port) < 0)
		return verrf(x, v, off, k->name, "'%s' has a bad port; the "
		    "port is a number from 1 to 65535", CONF_QUOTE(q, s, n));
	if (af != 0) {
		if (inet_ntop(af, bin, canon, sizeof(canon)) == NULL)
			fatal("inet_ntop failed");
		h->host = xstrdup(canon);
	} else {
		h->host = xstrndup(hs, hn);
		str_lower(h->host);
	}
	snprintf(ps, sizeof(ps), "%lu", port);
	h->port = xstrdup(ps);
	return 0;
notv6:
	if (hn > 0 && hn < sizeof(host) && (inet_pton(AF_INET, host, bin) ==
	    1 || check_domain(hs, hn) == NULL))
		return verrf(x, v, off, k->name, "'%s': brackets are only for "
		    "IPv6 addresses; write %s without them",
		    CONF_QUOTE(q, s, n), host);
	return verrf(x, v, off, k->name, "'%s' is not an IPv6 address; "
	    "use [2001:db8::1] or [2001:db8::1]:PORT", CONF_QUOTE(q, s, n));
}

/* is_blank - space or tab: the separators inside one line */
static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * conv_hop_text - the n bytes at byte off of v, one line: HOST[:PORT]
 * and then (with opts) options; only "tls=POLICY" exists, default
 * relay_tls. Fills h; on failure h may hold allocated strings.
 */
static int
conv_hop_text(struct ctx *x, const struct keydef *k, const struct val *v,
    size_t off, size_t n, int opts, struct conf_hop *h)
{
	char q[CONF_QUOTE_MAX];
	const char *s = v->s + off;
	size_t hn = 0, i, wn;
	int tls_set = 0;

	while (hn < n && !is_blank((unsigned char)s[hn]))
		hn++;
	if (parse_hop(x, k, v, off, hn, !opts, h) < 0)
		return -1;
	h->tls = opts ? x->c->relay_tls : TLS_NONE;
	for (i = hn; i < n; i += wn) {
		const char *w;

		if (is_blank((unsigned char)s[i])) {
			wn = 1;
			continue;
		}
		w = s + i;
		for (wn = 0; i + wn < n && !is_blank((unsigned char)w[wn]);
		    wn++)
			;
		if (!opts)
			return verrf(x, v, off + i, k->name, "'%s' after the "
			    "address; %s takes only ADDR[:PORT]",
			    CONF_QUOTE(q, w, wn), k->name);
		if (wn < 4 || str_ncasecmp_ascii(w, "tls=", 4) != 0)
			return verrf(x, v, off + i, k->name, "'%s' is not an "
			    "option; after HOST[:PORT] only tls=none, "
			    "tls=may, tls=verify or tls=require may follow",
			    CONF_QUOTE(q, w, wn));
		if (tls_set)
			return verrf(x, v, off + i, k->name, "'%s': tls= is "
			    "given twice", CONF_QUOTE(q, w, wn));
		if (tls_word(w + 4, wn - 4, &h->tls) < 0)
			return verrf(x, v, off + i, k->name, "'%s' is not a "
			    "TLS policy; use tls=none, tls=may, tls=verify "
			    "or tls=require", CONF_QUOTE(q, w, wn));
		tls_set = 1;
	}
	return 0;
}

/* conv_hop - smarthost or dns_resolver; empty means not set */
static int
conv_hop(struct ctx *x, const struct keydef *k, const struct val *v)
{
	const char *s = v->s, *nl;
	size_t n = v->len;

	trim(&s, &n);
	if (n == 0)
		return 0;
	nl = memchr(s, '\n', n);
	if (nl != NULL)
		return verrf(x, v, (size_t)(nl + 1 - v->s), k->name,
		    "the value must be on one line");
	return conv_hop_text(x, k, v, (size_t)(s - v->s), n,
	    k->type == K_HOP, (struct conf_hop *)field(x, k));
}

static int
rdef_cmp(const void *a, const void *b)
{
	const struct route_def *ra = a, *rb = b;

	return key_seq_cmp(ra->r.domain, ra->seq, rb->r.domain, rb->seq);
}

/* conv_route_one - "DOMAIN: HOST[:PORT] [tls=POLICY]", n bytes at off */
static int
conv_route_one(struct ctx *x, const struct keydef *k, const struct val *v,
    size_t off, size_t n)
{
	char q[CONF_QUOTE_MAX], q2[CONF_QUOTE_MAX];
	const char *s = v->s + off, *colon = memchr(s, ':', n), *d, *h, *why;
	size_t dn, hn;
	struct route_def *rd;

	if (colon == NULL)
		return verrf(x, v, off, k->name, "'%s' has no ':'; write "
		    "\"DOMAIN: HOST[:PORT] [tls=POLICY]\"",
		    CONF_QUOTE(q, s, n));
	d = s;
	dn = (size_t)(colon - s);
	trim(&d, &dn);
	why = check_domain(d, dn);
	if (why != NULL)
		return verrf(x, v, off, k->name, "route '%s': the domain '%s' "
		    "%s; use a domain name such as example.org",
		    CONF_QUOTE(q, s, n), CONF_QUOTE(q2, d, dn), why);
	if (domain_index(x->c, d, dn) >= 0)
		return verrf(x, v, off, k->name, "route for '%s': it is a "
		    "local domain (key 'domains'), whose mail is delivered "
		    "here", CONF_QUOTE(q, d, dn));
	h = colon + 1;
	hn = n - (size_t)(h - s);
	trim(&h, &hn);
	if (hn == 0)
		return verrf(x, v, off, k->name, "route for '%s' has no host; "
		    "write \"DOMAIN: HOST[:PORT] [tls=POLICY]\"",
		    CONF_QUOTE(q, d, dn));
	if (x->nrdefs == CONF_MAX_ROUTES)
		return verrf(x, v, off, k->name, "more than %d routes",
		    CONF_MAX_ROUTES);
	if (x->nrdefs == x->rdefs_cap) {
		x->rdefs_cap = x->rdefs_cap ? x->rdefs_cap * 2 : 16;
		x->rdefs = xrealloc(x->rdefs, x->rdefs_cap *
		    sizeof(*x->rdefs));
	}
	rd = &x->rdefs[x->nrdefs++];
	memset(rd, 0, sizeof(*rd));
	rd->r.domain = xstrndup(d, dn);
	str_lower(rd->r.domain);
	rd->off = off;
	rd->seq = x->nrdefs;
	return conv_hop_text(x, k, v, (size_t)(h - v->s), hn, 1, &rd->r.hop);
}

/* conv_routes - entries separated by newlines or ';', sorted by domain */
static int
conv_routes(struct ctx *x, const struct keydef *k, const struct val *v)
{
	struct conf *c = x->c;
	size_t start, end, i;

	for (start = 0; start < v->len; start = end + 1) {
		const char *s;
		size_t n;

		for (end = start; end < v->len && v->s[end] != ';' &&
		    v->s[end] != '\n'; end++)
			;
		s = v->s + start;
		n = end - start;
		trim(&s, &n);
		if (n == 0)
			continue;
		if (conv_route_one(x, k, v, (size_t)(s - v->s), n) < 0)
			return -1;
	}
	if (x->nrdefs == 0)
		return 0;
	qsort(x->rdefs, x->nrdefs, sizeof(*x->rdefs), rdef_cmp);
	for (i = 1; i < x->nrdefs; i++) {
		const struct route_def *a = &x->rdefs[i - 1];
		const struct route_def *b = &x->rdefs[i];
		unsigned line = val_line(v, a->off);

		if (strcmp(a->r.domain, b->r.domain) != 0)
			continue;
		if (line == 0)
			return verrf(x, v, b->off, k->name, "'%s' has two "
			    "routes; keep one", b->r.domain);
		return verrf(x, v, b->off, k->name, "'%s' has two routes, the "
		    "first on line %u; keep one", b->r.domain, line);
	}
	c->routes = xcalloc(x->nrdefs, sizeof(*c->routes));
	for (i = 0; i < x->nrdefs; i++) {
		c->routes[i] = x->rdefs[i].r;
		/* c owns the strings now */
		memset(&x->rdefs[i].r, 0, sizeof(x->rdefs[i].r));
	}
	c->nroutes = x->nrdefs;
	return 0;
}

/* files_free - n strings of a and a itself */
static void
files_free(char **a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

/*
 * conv_files - tls_cert or tls_key: a list of paths, paired by
 * position. tls_cert sets c->ntls; tls_key must list as many. The files
 * are not opened here.
 */
static int
conv_files(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char q[CONF_QUOTE_MAX];
	struct conf *c = x->c;
	int is_cert = k->off == CONF_OFF(tls_cert);
	char **a = NULL;
	size_t na = 0, pos = 0;
	struct tok t;

	while (next_item(v->s, v->len, 0, &pos, &t)) {
		if (t.s[0] == '#') {
			files_free(a, na);
			return verrf(x, v, t.off, k->name, "'%s' starts with "
			    "'#'; a comment must start its own line",
			    CONF_QUOTE(q, t.s, t.n));
		}
		if (na == CONF_MAX_TLS) {
			files_free(a, na);
			return verrf(x, v, t.off, k->name, "more than %d "
			    "files", CONF_MAX_TLS);
		}
		a = xrealloc(a, (na + 1) * sizeof(*a));
		a[na++] = xstrndup(t.s, t.n);
	}
	if (is_cert) {
		c->tls_cert = a;
		c->ntls = na;
		return 0;
	}
	if (na != c->ntls) {
		size_t ci = key_index("tls_cert"), ki = (size_t)(k - keys);
		int at_key = x->isset[ki] || !x->isset[ci];

		files_free(a, na);
		return verrf(x, at_key ? v : &x->set[ci], 0,
		    at_key ? k->name : keys[ci].name, "tls_cert lists %zu "
		    "file%s but tls_key %zu; list one key file per "
		    "certificate file, in the same order", c->ntls,
		    c->ntls == 1 ? "" : "s", na);
	}
	c->tls_key = a;
	return 0;
}

/* conv_optpath - a path, or nothing (NULL) */
static int
conv_optpath(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char q[CONF_QUOTE_MAX];
	const char *s = v->s, *nl;
	size_t n = v->len;

	trim(&s, &n);
	if (n == 0)
		return 0;
	nl = memchr(s, '\n', n);
	if (nl != NULL)
		return verrf(x, v, (size_t)(nl + 1 - v->s), k->name,
		    "the value must be on one line");
	if (s[0] == '#')
		return verrf(x, v, (size_t)(s - v->s), k->name, "'%s' starts "
		    "with '#'; a comment must start its own line",
		    CONF_QUOTE(q, s, n));
	*(char **)field(x, k) = xstrndup(s, n);
	return 0;
}

static int
conv_tlsver(struct ctx *x, const struct keydef *k, const struct val *v)
{
	static const char *const old[] = { "SSLv2", "SSLv3", "TLSv1",
	    "TLSv1.0", "TLSv1.1" };
	char q[CONF_QUOTE_MAX];
	const char *s;
	size_t n, off, i;

	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	if (word_is(s, n, "TLSv1.2") || word_is(s, n, "TLSv1.3")) {
		x->c->tls_min_version = xstrdup(s[n - 1] == '2' ? "TLSv1.2" :
		    "TLSv1.3");
		return 0;
	}
	for (i = 0; i < ARRAY_LEN(old); i++)
		if (word_is(s, n, old[i]))
			return verrf(x, v, off, k->name, "'%s' is too old "
			    "(RFC 8996 retires TLS 1.0 and 1.1); use TLSv1.2 "
			    "or TLSv1.3", CONF_QUOTE(q, s, n));
	return verrf(x, v, off, k->name, "'%s' is not a TLS version; use "
	    "TLSv1.2 or TLSv1.3", CONF_QUOTE(q, s, n));
}

/* conv_ciphers - an OpenSSL cipher list; its meaning is OpenSSL's */
static int
conv_ciphers(struct ctx *x, const struct keydef *k, const struct val *v)
{
	static const char extra[] = "-_:+!@=.,";
	char q[CONF_QUOTE_MAX];
	const char *s = v->s, *nl;
	size_t n = v->len, i;

	trim(&s, &n);
	if (n == 0)
		return 0;
	nl = memchr(s, '\n', n);
	if (nl != NULL)
		return verrf(x, v, (size_t)(nl + 1 - v->s), k->name,
		    "the value must be on one line");
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (!is_alpha(ch) && !is_digit(ch) && !is_blank(ch) &&
		    strchr(extra, ch) == NULL)
			return verrf(x, v, (size_t)(s - v->s), k->name, "'%s' "
			    "is not a cipher list; an OpenSSL cipher list "
			    "holds letters, digits, spaces and %s only, e.g. "
			    "HIGH:!aNULL", CONF_QUOTE(q, s, n), extra);
	}
	x->c->tls_ciphers = xstrndup(s, n);
	return 0;
}

/*
 * check_order - the durations that depend on one set before them:
 * retry_max >= retry_first, delay_warning_time < max_queue_lifetime
 * (unless 0). When the later key kept its default, blame the earlier.
 */
static int
check_order(struct ctx *x, const struct keydef *k, const struct val *v)
{
	char a[24], b[24], q[CONF_QUOTE_MAX];
	const struct conf *c = x->c;
	size_t ki = (size_t)(k - keys), pi;
	const char *s;
	size_t n, off;

	if (k->off == CONF_OFF(retry_max)) {
		if (c->retry_max >= c->retry_first)
			return 0;
		pi = key_index("retry_first");
	} else if (k->off == CONF_OFF(delay_warning_time)) {
		if (c->delay_warning_time == 0 ||
		    c->delay_warning_time < c->max_queue_lifetime)
			return 0;
		pi = key_index("max_queue_lifetime");
	} else {
		return 0;
	}
	fmt_duration(a, sizeof(a), *(const unsigned *)(const void *)
	    ((const char *)c + keys[pi].off));
	fmt_duration(b, sizeof(b), *(const unsigned *)(const void *)
	    ((const char *)c + k->off));
	if (!x->isset[ki] && x->isset[pi]) {
		v = &x->set[pi];
		if (scalar(x, &keys[pi], v, &s, &n, &off) < 0)
			return -1;
		return verrf(x, v, off, keys[pi].name, "'%s' does not fit "
		    "%s's default of %s; %s", CONF_QUOTE(q, s, n), k->name, b,
		    k->off == CONF_OFF(retry_max) ? "set retry_max too, to "
		    "at least retry_first" : "set delay_warning_time too, "
		    "shorter than max_queue_lifetime or 0 (no warnings)");
	}
	if (scalar(x, k, v, &s, &n, &off) < 0)
		return -1;
	if (k->off == CONF_OFF(retry_max))
		return verrf(x, v, off, k->name, "'%s' is shorter than "
		    "retry_first (%s); the longest wait between attempts "
		    "must be at least the first", CONF_QUOTE(q, s, n), a);
	return verrf(x, v, off, k->name, "'%s' is not shorter than "
	    "max_queue_lifetime (%s); the warning must come before the "
	    "bounce, or use 0 for no warnings", CONF_QUOTE(q, s, n), a);
}

/*
 * check_relations - the rules that wait for later keys: a wide
 * relay_networks needs allow_open_relay; submission and submissions
 * listeners need a certificate and users to authenticate.
 */
static int
check_relations(struct ctx *x)
{
	char text[INET6_ADDRSTRLEN + 40];
	const struct conf *c = x->c;
	size_t ni = key_index("relay_networks"), li = key_index("listen"), i;

	if (x->wide_net != 0 && !c->allow_open_relay && x->isset[ni]) {
		net_text(&c->relay_networks[x->wide_net - 1], text,
		    sizeof(text));
		return verrf(x, &x->set[ni], x->wide_off, keys[ni].name,
		    "%s would make this server an open relay; set "
		    "allow_open_relay = yes if you really mean it (without "
		    "it, networks may be at most /8 for IPv4, /16 for IPv6)",
		    text);
	}
	for (i = 0; i < c->nlisten && x->isset[li]; i++) {
		const struct conf_listen *l = &c->listen[i];
		int v6 = strchr(l->host, ':') != NULL;

		if (l->role == LISTEN_SMTP)
			continue;
		snprintf(text, sizeof(text), "%s%s%s:%s/%s", v6 ? "[" : "",
		    l->host, v6 ? "]" : "", l->port, role_names[l->role]);
		if (c->ntls == 0)
			return verrf(x, &x->set[li], x->listen_off[i],
			    keys[li].name, "listener %s needs tls_cert and "
			    "tls_key; set both, to a certificate chain and its "
			    "key", text);
		if (c->users == NULL)
			return verrf(x, &x->set[li], x->listen_off[i],
			    keys[li].name, "listener %s needs users (AUTH is "
			    "mandatory there); set users to a file made with "
			    "tern passwd", text);
	}
	return 0;
}

/*
 * fold_cmp - compare the n bytes of q, ASCII-lower-cased, with the start
 * of *s (lower case already) as strcmp would; advance *s past them if
 * equal. Lets lookups compare without copying or allocating.
 */
static int
fold_cmp(const char **s, const char *q, size_t n)
{
	const unsigned char *a = (const unsigned char *)q;
	const unsigned char *b = (const unsigned char *)*s;
	size_t i;

	for (i = 0; i < n; i++) {
		int ca = lower(a[i]), cb = b[i];

		if (cb == 0)
			return 1;
		if (ca != cb)
			return ca - cb;
	}
	*s += n;
	return 0;
}

/* a lookup key: local part and domain, neither NUL-terminated */
struct addr {
	const char *l, *d;
	size_t ln, dn;
	int wide; /* alias keys: compare "local" only */
};

static int
alias_key_cmp(const void *key, const void *elem)
{
	const struct addr *a = key;
	const char *s = ((const struct alias *)elem)->key;
	int r;

	if ((r = fold_cmp(&s, a->l, a->ln)) != 0)
		return r;
	if (!a->wide) {
		if ((r = fold_cmp(&s, "@", 1)) != 0)
			return r;
		if ((r = fold_cmp(&s, a->d, a->dn)) != 0)
			return r;
	}
	return *s ? -1 : 0;
}

static int
mbox_key_cmp(const void *key, const void *elem)
{
	const struct addr *a = key;
	const struct mbox *m = elem;
	const char *s = m->domain;
	int r;

	if ((r = fold_cmp(&s, a->d, a->dn)) != 0)
		return r;
	if (*s)
		return -1;
	s = m->user;
	if ((r = fold_cmp(&s, a->l, a->ln)) != 0)
		return r;
	return *s ? -1 : 0;
}

/* alias_lookup - alias "l@d", else alias "l", else NULL */
static const struct alias *
alias_lookup(const struct conf *c, const struct addr *a)
{
	struct addr k = *a;
	const struct alias *r;

	if (c->naliases == 0)
		return NULL;
	k.wide = 0;
	r = bsearch(&k, c->aliases, c->naliases, sizeof(*c->aliases),
	    alias_key_cmp);
	if (r != NULL)
		return r;
	k.wide = 1;
	return bsearch(&k, c->aliases, c->naliases, sizeof(*c->aliases),
	    alias_key_cmp);
}

static const struct mbox *
mbox_lookup(const struct conf *c, const struct addr *a)
{
	if (c->nmboxes == 0)
		return NULL;
	return bsearch(a, c->mboxes, c->nmboxes, sizeof(*c->mboxes),
	    mbox_key_cmp);
}

/* target_addr - the address a target names, in domain d unless it has one */
static void
target_addr(const char *t, const char *d, size_t dn, struct addr *a)
{
	const char *at = strchr(t, '@');

	a->l = t;
	a->wide = 0;
	if (at != NULL) {
		a->ln = (size_t)(at - t);
		a->d = at + 1;
		a->dn = strlen(at + 1);
	} else {
		a->ln = strlen(t);
		a->d = d;
		a->dn = dn;
	}
}

/* postmaster - RFC 5321 4.5.1: every local domain takes postmaster mail */
static void
postmaster(struct ctx *x)
{
	struct conf *c = x->c;
	struct buf added;
	size_t d;

	buf_init(&added, 0);
	for (d = 0; d < c->ndomains; d++) {
		struct addr a = { "postmaster", c->domains[d], 10,
		    strlen(c->domains[d]), 0 };

		if (alias_lookup(c, &a) != NULL || mbox_lookup(c, &a) != NULL)
			continue;
		mbox_add(x, "postmaster", 10, d);
		if (buf_printf(&added, "%s%s", added.len ? "," : "",
		    c->domains[d]) < 0)
			fatal("out of memory");
	}
	if (added.len > 0) {
		mbox_sort(c);
		log_info("ev=conf_postmaster domains=%s msg=\"added implicit "
		    "mailbox postmaster (RFC 5321 4.5.1)\"", buf_cstr(&added));
	}
	buf_free(&added);
}

/* chain_text - the alias chain being checked, "a -> b -> c", for messages */
static void
chain_text(struct ctx *x, char *out, size_t cap, const char *last)
{
	size_t i, o = 0;
	int r;

	out[0] = '\0';
	for (i = 0; i < x->nchain && o < cap; i++) {
		r = snprintf(out + o, cap - o, "%s -> ",
		    x->c->aliases[x->chain[i]].key);
		if (r < 0)
			return;
		o += (size_t)r;
	}
	if (o < cap)
		snprintf(out + o, cap - o, "%s", last);
}

/*
 * alias_check - does alias ai, applied to domain d at chain depth depth,
 * reach only existing mailboxes, without loops, at most CONF_ALIAS_DEPTH
 * aliases deep and through at most CONF_ALIAS_VISITS addresses? Results
 * are kept per (alias, domain) so each pair is walked once.
 */
static int
alias_check(struct ctx *x, size_t ai, size_t d, unsigned depth)
{
	char ch[200];
	const struct conf *c = x->c;
	const struct alias *al = &c->aliases[ai];
	const struct alias_def *def = &x->defs[ai];
	struct alias_slot *sl;
	uint64_t visits = 1;
	unsigned height = 1;
	size_t i;

	sl = &x->slots[x->base[ai] + (def->wide ? d : 0)];
	if (sl->state == SLOT_BUSY) {
		chain_text(x, ch, sizeof(ch), al->key);
		def = &x->defs[x->chain[x->nchain - 1]];
		return errf(x, def->origin, def->line, "aliases", "alias "
		    "'%s' loops back to itself (%s)", al->key, ch);
	}
	if (sl->state == SLOT_DONE && depth + sl->height - 1 <=
	    CONF_ALIAS_DEPTH)
		return 0;
	if (sl->state == SLOT_DONE || depth > CONF_ALIAS_DEPTH) {
		size_t root = x->nchain > 0 ? x->chain[0] : ai;

		chain_text(x, ch, sizeof(ch), al->key);
		def = &x->defs[root];
		return errf(x, def->origin, def->line, "aliases", "alias "
		    "'%s' expands through more than %d aliases in a row "
		    "(%s ...)", c->aliases[root].key, CONF_ALIAS_DEPTH, ch);
	}
	sl->state = SLOT_BUSY;
	x->chain[x->nchain++] = ai;
	for (i = 0; i < al->ntargets; i++) {
		const struct alias *next;
		struct addr a;
		ssize_t td;

		target_addr(al->targets[i], c->domains[d],
		    strlen(c->domains[d]), &a);
		td = a.d == c->domains[d] ? (ssize_t)d :
		    domain_index(c, a.d, a.dn);
		if (td < 0)
			fatal("alias target domain vanished");
		next = alias_lookup(c, &a);
		if (next != NULL) {
			size_t ni = (size_t)(next - c->aliases);
			const struct alias_slot *ns;

			if (alias_check(x, ni, (size_t)td, depth + 1) < 0)
				return -1;
			ns = &x->slots[x->base[ni] +
			    (x->defs[ni].wide ? (size_t)td : 0)];
			visits += ns->visits;
			if (ns->height + 1u > height)
				height = ns->height + 1u;
		} else if (mbox_lookup(c, &a) != NULL) {
			visits++;
		} else {
			return errf(x, def->origin, def->line, "aliases",
			    "alias '%s': target '%s' is neither a mailbox nor "
			    "an alias in domain %s", al->key, al->targets[i],
			    c->domains[td]);
		}
		if (visits > CONF_ALIAS_VISITS)
			return errf(x, def->origin, def->line, "aliases",
			    "alias '%s' expands through more than %d "
			    "addresses", al->key, CONF_ALIAS_VISITS);
	}
	x->nchain--;
	sl->visits = (uint32_t)visits;
	sl->height = (uint8_t)height;
	sl->state = SLOT_DONE;
	return 0;
}

/* check_aliases - walk every alias from every domain it serves */
static int
check_aliases(struct ctx *x)
{
	const struct conf *c = x->c;
	size_t i, d, nslots = 0, nwide = 0;

	if (c->naliases == 0)
		return 0;
	x->base = xcalloc(c->naliases, sizeof(*x->base));
	for (i = 0; i < c->naliases; i++) {
		x->base[i] = nslots;
		nslots += x->defs[i].wide ? c->ndomains : 1;
		nwide += x->defs[i].wide ? 1 : 0;
	}
	if (nwide * c->ndomains > CONF_MAX_WIDE_SLOTS)
		return errf(x, x->defs[0].origin, x->defs[0].line, "aliases",
		    "%zu aliases without @domain times %zu domains is more "
		    "than %d", nwide, c->ndomains, CONF_MAX_WIDE_SLOTS);
	x->slots = xcalloc(nslots, sizeof(*x->slots));
	for (i = 0; i < c->naliases; i++) {
		const struct alias_def *def = &x->defs[i];

		if (!def->wide) {
			x->nchain = 0;
			if (alias_check(x, i, def->dom, 1) < 0)
				return -1;
			continue;
		}
		for (d = 0; d < c->ndomains; d++) {
			struct addr a = { c->aliases[i].key, c->domains[d],
			    strlen(c->aliases[i].key), strlen(c->domains[d]),
			    0 };

			/* "key@d" shadows "key" in d */
			if (alias_lookup(c, &a) != &c->aliases[i])
				continue;
			x->nchain = 0;
			if (alias_check(x, i, d, 1) < 0)
				return -1;
		}
	}
	return 0;
}

/* default_value - the default text of k, which lives in buf */
static const char *
default_value(struct ctx *x, const struct keydef *k, char *buf, size_t cap)
{
	if (k->def != NULL)
		return k->def;
	if (k->type == K_HOSTNAME) {
		memset(buf, 0, cap);
		if (gethostname(buf, cap - 1) < 0)
			buf[0] = '\0';
		return buf;
	}
	/* K_DOMAINS: the host name */
	snprintf(buf, cap, "%s", x->c->hostname);
	return buf;
}

static int
convert(struct ctx *x, const struct keydef *k, const struct val *v)
{
	switch (k->type) {
	case K_HOSTNAME:
		return conv_hostname(x, k, v);
	case K_LISTEN:
		return conv_listen(x, k, v);
	case K_DOMAINS:
		return conv_domains(x, k, v);
	case K_MBOXES:
		return conv_mboxes(x, k, v);
	case K_ALIASES:
		return conv_aliases(x, k, v);
	case K_PATH:
		return conv_path(x, k, v);
	case K_SIZE:
	case K_UINT:
		return conv_number(x, k, v);
	case K_DURATION:
		if (conv_number(x, k, v) < 0)
			return -1;
		return check_order(x, k, v);
	case K_BOOL:
	case K_BARE:
		return conv_word(x, k, v);
	case K_NETS:
		return conv_nets(x, k, v);
	case K_PORT:
		return conv_port(x, k, v);
	case K_TLS:
		return conv_tls(x, k, v);
	case K_HOP:
	case K_RESOLVER:
		return conv_hop(x, k, v);
	case K_ROUTES:
		return conv_routes(x, k, v);
	case K_FILES:
		return conv_files(x, k, v);
	case K_OPTPATH:
		return conv_optpath(x, k, v);
	case K_TLSVER:
		return conv_tlsver(x, k, v);
	case K_CIPHERS:
		return conv_ciphers(x, k, v);
	}
	return -1;
}

/* hop_free - the strings of h, and domain (NULL or a route's) */
static void
hop_free(struct conf_hop *h, char *domain)
{
	free(h->host);
	free(h->port);
	free(domain);
}

static void
ctx_free(struct ctx *x)
{
	size_t i, j;

	for (i = 0; i < CONF_NKEYS; i++) {
		val_free(&x->set[i]);
		val_free(&x->extra[i]);
	}
	for (i = 0; i < x->ndefs; i++) {
		free(x->defs[i].a.key);
		for (j = 0; j < x->defs[i].a.ntargets; j++)
			free(x->defs[i].a.targets[j]);
		free(x->defs[i].a.targets);
	}
	free(x->defs);
	free(x->slots);
	free(x->base);
	free(x->listen_off);
	for (i = 0; i < x->nrdefs; i++)
		hop_free(&x->rdefs[i].r.hop, x->rdefs[i].r.domain);
	free(x->rdefs);
}

static int
load(struct ctx *x, const char *path, const char *const *overrides,
    size_t noverrides)
{
	char q[CONF_QUOTE_MAX], origin[CONF_ORIGIN], *data, hbuf[256];
	const char *step;
	size_t len, i;
	int r;

	snprintf(origin, sizeof(origin), "(no file)");
	if (path != NULL) {
		CONF_QUOTE(origin, path, strlen(path));
		if (read_all(path, &data, &len, &step) < 0) {
			int e = errno;

			return errf(x, origin, 0, NULL, "cannot %s: %s", step,
			    read_error(e));
		}
		r = parse_file(x, origin, data, len);
		free(data);
		if (r < 0)
			return -1;
	}
	for (i = 0; i < noverrides; i++)
		if (apply_override(x, overrides[i] ? overrides[i] : "") < 0)
			return -1;
	for (i = 0; i < CONF_NKEYS; i++) {
		const struct keydef *k = &keys[i];
		struct val dv;

		if (x->isset[i]) {
			r = convert(x, k, &x->set[i]);
		} else {
			const char *d = default_value(x, k, hbuf, sizeof(hbuf));

			val_init(&dv, origin, d, strlen(d), 0);
			r = convert(x, k, &dv);
			val_free(&dv);
			if (r < 0 && k->type == K_HOSTNAME)
				return errf(x, origin, 0, k->name, "the system "
				    "host name '%s' is not a domain name; set "
				    "hostname", CONF_QUOTE(q, d, strlen(d)));
		}
		if (r < 0)
			return -1;
	}
	if (check_relations(x) < 0)
		return -1;
	postmaster(x);
	return check_aliases(x);
}

/*
 * conf_load - read path (NULL: no file, defaults only), apply overrides
 * ("key=value", later ones win), check everything and fill c. Returns 0,
 * or -1 with err->msg set and c zeroed. Free c with conf_free().
 */
int
conf_load(struct conf *c, const char *path, const char *const *overrides,
    size_t noverrides, struct conf_err *err)
{
	struct ctx x;
	int r;

	memset(c, 0, sizeof(*c));
	memset(&x, 0, sizeof(x));
	err->msg[0] = '\0';
	x.c = c;
	x.err = err;
	if (path != NULL)
		c->path = xstrdup(path);
	r = load(&x, path, overrides, noverrides);
	ctx_free(&x);
	if (r < 0) {
		if (err->msg[0] == '\0')
			snprintf(err->msg, sizeof(err->msg), "%s: cannot load",
			    path ? path : "(no file)");
		conf_free(c);
		return -1;
	}
	return 0;
}

/* conf_free - release everything conf_load() allocated; c is zeroed */
void
conf_free(struct conf *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	free(c->path);
	free(c->hostname);
	for (i = 0; i < c->nlisten; i++) {
		free(c->listen[i].host);
		free(c->listen[i].port);
	}
	free(c->listen);
	for (i = 0; i < c->nmboxes; i++)
		free(c->mboxes[i].user);
	free(c->mboxes);
	for (i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	for (i = 0; i < c->naliases; i++) {
		free(c->aliases[i].key);
		for (j = 0; j < c->aliases[i].ntargets; j++)
			free(c->aliases[i].targets[j]);
		free(c->aliases[i].targets);
	}
	free(c->aliases);
	free(c->maildir_root);
	free(c->spool_dir);
	free(c->relay_networks);
	hop_free(&c->smarthost, NULL);
	for (i = 0; i < c->nroutes; i++)
		hop_free(&c->routes[i].hop, c->routes[i].domain);
	free(c->routes);
	hop_free(&c->dns_resolver, NULL);
	free(c->relay_port);
	if (c->tls_cert != NULL)
		files_free(c->tls_cert, c->ntls);
	if (c->tls_key != NULL)
		files_free(c->tls_key, c->ntls);
	free(c->tls_ca_file);
	free(c->tls_min_version);
	free(c->tls_ciphers);
	free(c->users);
	memset(c, 0, sizeof(*c));
}

/*
 * conf_dump - every key, in the order of tern.conf(5), as "key = value"
 * lines with defaults filled in: the text loads back to the same conf.
 * *out is malloc'ed (the caller frees it). Returns 0, or -1 (ENOMEM).
 */
/* dump_hop - "HOST:PORT" ("[IPv6]:PORT"), and " tls=POLICY" with tls */
static int
dump_hop(struct buf *b, const struct conf_hop *h, int tls)
{
	int v6 = strchr(h->host, ':') != NULL, r;

	r = buf_printf(b, "%s%s%s:%s", v6 ? "[" : "", h->host, v6 ? "]" : "",
	    h->port);
	if (tls)
		r |= buf_printf(b, " tls=%s", tls_names[h->tls]);
	return r;
}

int
conf_dump(const struct conf *c, char **out)
{
	char net[INET6_ADDRSTRLEN + 8];
	struct buf b;
	size_t i, j, mark;
	int r = 0;

	*out = NULL;
	buf_init(&b, 0);
	for (i = 0; i < CONF_NKEYS; i++) {
		const struct keydef *k = &keys[i];
		const void *f = (const char *)c + k->off;

		if (k->type == K_ALIASES) {
			r |= buf_puts(&b, "aliases =\n");
			for (j = 0; j < c->naliases; j++) {
				const struct alias *a = &c->aliases[j];
				size_t t;

				r |= buf_printf(&b, "    %s:", a->key);
				for (t = 0; t < a->ntargets; t++)
					r |= buf_printf(&b, "%s %s",
					    t ? "," : "", a->targets[t]);
				r |= buf_putc(&b, '\n');
			}
			continue;
		}
		if (k->type == K_ROUTES) {
			r |= buf_puts(&b, "routes =\n");
			for (j = 0; j < c->nroutes; j++) {
				r |= buf_printf(&b, "    %s: ",
				    c->routes[j].domain);
				r |= dump_hop(&b, &c->routes[j].hop, 1);
				r |= buf_putc(&b, '\n');
			}
			continue;
		}
		r |= buf_printf(&b, "%s = ", k->name);
		mark = b.len;
		switch (k->type) {
		case K_HOSTNAME:
		case K_PATH:
			if (*(char *const *)f != NULL)
				r |= buf_puts(&b, *(char *const *)f);
			break;
		case K_LISTEN:
			for (j = 0; j < c->nlisten; j++) {
				const struct conf_listen *l = &c->listen[j];
				int v6 = strchr(l->host, ':') != NULL;

				r |= buf_printf(&b, "%s%s%s%s:%s",
				    j ? ", " : "", v6 ? "[" : "", l->host,
				    v6 ? "]" : "", l->port);
				if (l->role != LISTEN_SMTP)
					r |= buf_printf(&b, "/%s",
					    role_names[l->role]);
			}
			break;
		case K_DOMAINS:
			for (j = 0; j < c->ndomains; j++)
				r |= buf_printf(&b, "%s%s", j ? ", " : "",
				    c->domains[j]);
			break;
		case K_MBOXES:
			for (j = 0; j < c->nmboxes; j++)
				r |= buf_printf(&b, "%s%s@%s", j ? ", " : "",
				    c->mboxes[j].user, c->mboxes[j].domain);
			break;
		case K_SIZE:
			r |= buf_printf(&b, "%llu",
			    (unsigned long long)*(const uint64_t *)f);
			break;
		case K_UINT:
			r |= buf_printf(&b, "%u", *(const unsigned *)f);
			break;
		case K_DURATION:
			r |= buf_printf(&b, "%us", *(const unsigned *)f);
			break;
		case K_BOOL:
			r |= buf_puts(&b, *(const int *)f ? "yes" : "no");
			break;
		case K_BARE:
			r |= buf_puts(&b, c->bare_newline ==
			    BARE_NEWLINE_REJECT ? "reject" : "normalize");
			break;
		case K_NETS:
			for (j = 0; j < c->nrelay_networks; j++) {
				net_text(&c->relay_networks[j], net,
				    sizeof(net));
				r |= buf_printf(&b, "%s%s", j ? ", " : "", net);
			}
			break;
		case K_PORT:
		case K_OPTPATH:
		case K_TLSVER:
		case K_CIPHERS:
			if (*(char *const *)f != NULL)
				r |= buf_puts(&b, *(char *const *)f);
			break;
		case K_TLS:
			r |= buf_puts(&b, tls_names[*(const enum tls_policy *)
			    f]);
			break;
		case K_HOP:
		case K_RESOLVER:
			if (((const struct conf_hop *)f)->host != NULL)
				r |= dump_hop(&b, f, k->type == K_HOP);
			break;
		case K_FILES:
			for (j = 0; j < c->ntls; j++)
				r |= buf_printf(&b, "%s%s", j ? ", " : "",
				    (*(char **const *)f)[j]);
			break;
		case K_ALIASES:
		case K_ROUTES:
			break;
		}
		/* "key =", not "key = ", for an empty value */
		if (r == 0 && b.len == mark)
			b.len--;
		r |= buf_putc(&b, '\n');
	}
	if (r != 0) {
		buf_free(&b);
		return -1;
	}
	buf_cstr(&b);
	*out = b.data;
	return 0;
}

/* conf_is_local_domain - 1 if mail for domain is delivered here, else 0 */
int
conf_is_local_domain(const struct conf *c, const char *domain)
{
	size_t i;

	if (domain == NULL)
		return 0;
	for (i = 0; i < c->ndomains; i++)
		if (str_casecmp_ascii(c->domains[i], domain) == 0)
			return 1;
	return 0;
}

/*
 * conf_relay_allowed - 1 if a client at ip (IPv4 or IPv6 text, as
 * inet_ntop() writes it) is in relay_networks, else 0. An IPv4-mapped
 * IPv6 address (::ffff:192.0.2.1) counts as the IPv4 address.
 */
int
conf_relay_allowed(const struct conf *c, const char *ip)
{
	unsigned char a[sizeof(struct in6_addr)];
	int af;
	size_t i;

	if (ip == NULL)
		return 0;
	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, ip, a) == 1) {
		af = AF_INET;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		af = AF_INET6;
		if (is_v4mapped(a)) {
			af = AF_INET;
			memmove(a, a + 12, 4);
		}
	} else {
		return 0;
	}
	for (i = 0; i < c->nrelay_networks; i++) {
		const struct conf_net *n = &c->relay_networks[i];

		if (n->family == af && net_match(n->addr, a, n->prefix))
			return 1;
	}
	return 0;
}

static int
route_key_cmp(const void *key, const void *elem)
{
	const char *d = key, *s = ((const struct conf_route *)elem)->domain;
	int r;

	if ((r = fold_cmp(&s, d, strlen(d))) != 0)
		return r;
	return *s ? -1 : 0;
}

/*
 * conf_route_for - where mail for domain goes: its route (exact domain,
 * any case), else the smarthost, else NULL: look up its MX records. The
 * result points into c.
 */
const struct conf_hop *
conf_route_for(const struct conf *c, const char *domain)
{
	const struct conf_route *r = NULL;

	if (domain != NULL && c->nroutes > 0)
		r = bsearch(domain, c->routes, c->nroutes, sizeof(*c->routes),
		    route_key_cmp);
	if (r != NULL)
		return &r->hop;
	return c->smarthost.host != NULL ? &c->smarthost : NULL;
}

/* conf_find_mbox - the mailbox local@domain (any case), or NULL */
const struct mbox *
conf_find_mbox(const struct conf *c, const char *local, const char *domain)
{
	struct addr a;

	if (local == NULL || domain == NULL || strchr(local, '@') != NULL)
		return NULL;
	a.l = local;
	a.ln = strlen(local);
	a.d = domain;
	a.dn = strlen(domain);
	a.wide = 0;
	return mbox_lookup(c, &a);
}

/* out_add - insert m into out[0..*n), kept sorted by address; no twins */
static int
out_add(const struct mbox **out, size_t max, size_t *n, const struct mbox *m)
{
	size_t lo = 0, hi = *n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (out[mid] == m)
			return 0;
		if (out[mid] < m)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (*n == max)
		return -1;
	memmove(out + lo + 1, out + lo, (*n - lo) * sizeof(*out));
	out[lo] = m;
	(*n)++;
	return 0;
}

static int
resolve(const struct conf *c, const struct addr *a, const struct mbox **out,
    size_t max, size_t *n, unsigned depth)
{
	const struct alias *al = alias_lookup(c, a);
	const struct mbox *m;
	size_t i;

	if (al == NULL) {
		m = mbox_lookup(c, a);
		return m != NULL ? out_add(out, max, n, m) : 0;
	}
	/* conf_load() allows no deeper chain; this guards the stack anyway */
	if (depth >= CONF_ALIAS_DEPTH)
		return 0;
	for (i = 0; i < al->ntargets; i++) {
		struct addr t;

		target_addr(al->targets[i], a->d, a->dn, &t);
		if (resolve(c, &t, out, max, n, depth + 1) < 0)
			return -1;
	}
	return 0;
}

/*
 * conf_resolve - the distinct mailboxes local@domain reaches: the alias
 * local@domain, else the alias local, else the mailbox itself. Fills
 * out[] with pointers into c->mboxes, in mailbox order. Returns how many
 * (0: no such address here), or -1 if there are more than max.
 */
int
conf_resolve(const struct conf *c, const char *local, const char *domain,
    const struct mbox **out, size_t max)
{
	struct addr a;
	size_t n = 0;

	/* an '@' in local could only match an alias key by accident */
	if (local == NULL || domain == NULL || strchr(local, '@') != NULL ||
	    !conf_is_local_domain(c, domain))
		return 0;
	a.l = local;
	a.ln = strlen(local);
	a.d = domain;
	a.dn = strlen(domain);
	a.wide = 0;
	if (resolve(c, &a, out, max, &n, 0) < 0)
		return -1;
	return (int)n;
}
