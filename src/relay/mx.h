/*
 * mx - where to connect for a domain or a host: asynchronous DNS with
 * c-ares on the libevent loop.
 *
 * A domain's MX records are sorted by preference, equal preferences in
 * random order (RFC 5321 5.1), each host resolved to its A and AAAA
 * addresses. A domain without MX records is its own mail host (implicit
 * MX). A null MX ("MX 0 .", RFC 7505), a domain that does not exist,
 * and DNS failures end in a result code for every recipient instead of
 * addresses. A route or smarthost host is resolved to A/AAAA (the hosts
 * file first, then DNS); an address literal is used as it is.
 *
 * Results are always delivered from the event loop, never from inside
 * mx_lookup_*().
 */
#ifndef TERN_RELAY_MX_H
#define TERN_RELAY_MX_H

#include <stddef.h>
#include <sys/socket.h>

struct conf;
struct event_base;
struct mx;
struct mx_query;

#define MX_MAX_ADDRS 10 /* addresses tried per destination */
#define MX_MAX_HOSTS 10 /* MX hosts resolved per domain */

/* one address to try, in order */
struct mx_addr {
	char host[256];               /* the MX or route host name, or the
	                                 literal */
	char ip[48];                  /* printable address */
	struct sockaddr_storage sa;   /* with the port set */
	socklen_t salen;
	unsigned pref;                /* MX preference; 0 for routes */
};

/* the answer: addresses, or a code that decides every recipient */
struct mx_result {
	int code;        /* 0: naddrs > 0; else 4xx/5xx for all recipients */
	char esc[16];
	char text[512];  /* what went wrong, for the bounce or the log */
	struct mx_addr addrs[MX_MAX_ADDRS];
	size_t naddrs;
};

/* one MX record, for mx_order() */
struct mx_rec {
	char host[256];  /* "" for the null MX target "." */
	unsigned pref;
};

typedef void (*mx_cb)(const struct mx_result *res, void *arg);

struct mx *mx_new(struct event_base *base, const struct conf *conf,
    char *err, size_t errlen);
struct mx_query *mx_lookup_domain(struct mx *x, const char *domain,
    const char *port, mx_cb cb, void *arg);
struct mx_query *mx_lookup_host(struct mx *x, const char *host,
    const char *port, mx_cb cb, void *arg);
void mx_cancel(struct mx_query *q);
void mx_free(struct mx *x);

/* pure helpers, exposed for the unit tests */
int mx_order(struct mx_rec *recs, size_t n, const char *myname,
    unsigned (*rnd)(void *), void *rndarg, size_t *nout);
int mx_literal(const char *s, const char *port, struct mx_addr *a);
int mx_domain_literal(const char *domain, const char *port,
    struct mx_addr *a);

#endif
