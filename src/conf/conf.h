/*
 * conf - the configuration: parse one file plus -o overrides, check it,
 * dump it normalised, and answer the lookups the server needs (is this
 * domain ours, which mailboxes does this address reach, may this client
 * relay, where does mail for that domain go).
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

/* what a listener is for (RFC 8314 and RFC 6409 ports) */
enum listen_role {
	LISTEN_SMTP,        /* port 25: STARTTLS offered, AUTH only after TLS */
	LISTEN_SUBMISSION,  /* port 587: STARTTLS, AUTH required before MAIL */
	LISTEN_SUBMISSIONS, /* port 465: implicit TLS, AUTH required */
};

struct conf_listen {
	char *host; /* "127.0.0.1", "::1", "0.0.0.0", "::" (no brackets) */
	char *port; /* "2525" */
	enum listen_role role; /* "ADDR:PORT/submission" in the file */
};

/* an address block, for relay_networks */
struct conf_net {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];  /* network byte order, host bits zero */
	unsigned prefix;         /* 0..32 or 0..128 */
};

enum tls_policy {
	TLS_MAY,     /* STARTTLS when offered, else plain (opportunistic) */
	TLS_NONE,    /* never STARTTLS */
	TLS_VERIFY,  /* STARTTLS required and the certificate must verify */
	TLS_REQUIRE, /* STARTTLS required, certificate not checked */
};

/* a next hop: a static route, the smarthost, or the DNS resolver */
struct conf_hop {
	char *host;  /* lower-case name or canonical address, no brackets;
	                NULL: not set (port is NULL too) */
	char *port;  /* "25" when not given ("53" for dns_resolver) */
	enum tls_policy tls; /* tls= or relay_tls; TLS_NONE for dns_resolver */
};

struct conf_route {
	char *domain; /* lower case; mail for it goes to hop */
	struct conf_hop hop;
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

	/* relaying: who may, where to, how often to retry; times in seconds */
	struct conf_net *relay_networks; /* default 127.0.0.0/8, ::1/128;
	                                    IPv4-mapped ones stored as IPv4 */
	size_t nrelay_networks;
	int allow_open_relay;          /* permit networks wider than /8, /16 */
	struct conf_hop smarthost;     /* non-local mail without a route goes
	                                  here if set */
	struct conf_route *routes;     /* sorted by domain */
	size_t nroutes;
	struct conf_hop dns_resolver;  /* host NULL: use /etc/resolv.conf */
	char *relay_port;              /* port for MX/A hosts, "25" */
	enum tls_policy relay_tls;     /* default for hosts without a route */
	unsigned relay_destination_concurrency; /* connections per domain */
	unsigned relay_connect_timeout;
	unsigned relay_command_timeout; /* RFC 5321 4.5.3.2: 5m */
	unsigned relay_data_timeout;    /* RFC 5321 4.5.3.2.6: final dot 10m */
	unsigned retry_first;          /* first retry after a deferral */
	unsigned retry_max;            /* longest wait between attempts */
	unsigned max_queue_lifetime;   /* then bounce */
	unsigned delay_warning_time;   /* delay DSN after this; 0 off */

	/* TLS and AUTH */
	char **tls_cert;               /* PEM chain files, one per pair (not
	                                  opened by conf_load) */
	char **tls_key;                /* PEM key files, paired by position */
	size_t ntls;
	char *tls_ca_file;             /* CAs for tls = verify; NULL: system */
	char *tls_min_version;         /* "TLSv1.2" (default) or "TLSv1.3" */
	char *tls_ciphers;             /* OpenSSL cipher list; NULL: default */
	char *users;                   /* file of "user:crypt-hash" lines */
	int auth_over_plaintext;       /* offer AUTH without TLS (tests only) */
	unsigned auth_max_failures;    /* per address, then 421 4.7.0 */
	int received_auth;             /* name the AUTH user in Received: */
	int sender_login_match;        /* on submission: MAIL FROM must be the
	                                  user's own address (553 5.7.1) */
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
int conf_relay_allowed(const struct conf *c, const char *ip);
const struct conf_hop *conf_route_for(const struct conf *c,
    const char *domain);
int conf_resolve(const struct conf *c, const char *local, const char *domain,
    const struct mbox **out, size_t max);
const struct mbox *conf_find_mbox(const struct conf *c, const char *local,
    const char *domain);

#endif
