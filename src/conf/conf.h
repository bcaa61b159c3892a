/*
 * conf - the configuration: parse one file plus -o overrides, check it,
 * dump it normalised, and answer the lookups the server needs (is this
 * domain ours, which mailboxes does this address reach).
 *
 * File format (see man/tern.conf.5): "key = value" lines; '#' starts a
 * comment line; a line that starts with white space continues the
 * previous value. List values are separated by white space or commas.
 * A value "file:PATH" for mailboxes or aliases reads that file instead.
 * Relative paths (file:PATH, maildir_root, spool_dir) are used as given,
 * so they are relative to the directory ternd runs in.
 *
 * Errors come back in struct conf_err as "FILE:LINE: key 'KEY': what is
 * wrong and what is allowed" ("-o key=value: key 'KEY': ..." for an
 * override); conf_load() never exits on bad input.
 *
 * A struct conf is immutable once loaded; the server and the commit
 * workers read it concurrently without locks. Each mbox's domain points
 * at the matching string in domains[]. conf_resolve() and the other
 * lookups fold ASCII case and never allocate.
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stddef.h>
#include <stdint.h>

enum bare_newline_policy {
	BARE_NEWLINE_NORMALIZE, /* store every line ending as CRLF */
	BARE_NEWLINE_REJECT,    /* 550 5.5.2 after the end of data */
};

struct conf_listen {
	char *host; /* "127.0.0.1", "::1", "0.0.0.0", "::" (no brackets) */
	char *port; /* "2525" */
};

/* a local mailbox: its Maildir is <maildir_root>/<domain>/<user>/ */
struct mbox {
	char *domain; /* lower case */
	char *user;   /* lower case */
};

/* an alias: key "user@domain" or "user" (every local domain) */
struct alias {
	char *key;      /* lower case */
	char **targets; /* addresses as written (lower-cased) */
	size_t ntargets;
};

struct conf {
	char *path;     /* the file loaded, for messages */
	char *hostname; /* FQDN used in 220/221/421 and Received: */
	struct conf_listen *listen;
	size_t nlisten;
	char **domains; /* lower case, in file order; domains[0] is primary */
	size_t ndomains;
	struct mbox *mboxes; /* sorted by domain, then user */
	size_t nmboxes;
	struct alias *aliases; /* sorted by key */
	size_t naliases;
	char *maildir_root;
	char *spool_dir;
	uint64_t max_message_size;     /* bytes; advertised in EHLO SIZE */
	unsigned max_recipients;       /* per message; at least 100 */
	unsigned max_connections;      /* whole server */
	unsigned max_connections_per_ip;
	unsigned command_timeout;      /* seconds */
	unsigned data_timeout;         /* seconds, between data reads */
	unsigned max_errors;           /* 421 4.7.0 after this many */
	int vrfy;                      /* 1: VRFY answers 250/550 */
	int expn;                      /* 1: EXPN lists alias targets */
	uint64_t min_free_space;       /* bytes free below which 452 4.3.1 */
	unsigned commit_workers;       /* threads that write and fsync */
	enum bare_newline_policy bare_newline;
	unsigned shutdown_timeout;     /* seconds SIGTERM waits for transfers */
	unsigned max_hops;             /* Received: headers before 554 5.4.6 */
	int unsafe_no_fsync;           /* benchmarks only */
	unsigned pregreet_delay;       /* seconds to wait before the 220; 0 off */
};

/* where a configuration error was found */
struct conf_err {
	char msg[512]; /* "FILE:LINE: key 'k': what is wrong" */
};

int conf_load(struct conf *c, const char *path, const char *const *overrides,
    size_t noverrides, struct conf_err *err);
void conf_free(struct conf *c);
int conf_dump(const struct conf *c, char **out);

int conf_is_local_domain(const struct conf *c, const char *domain);
int conf_resolve(const struct conf *c, const char *local, const char *domain,
    const struct mbox **out, size_t max);
const struct mbox *conf_find_mbox(const struct conf *c, const char *local,
    const char *domain);

#endif
