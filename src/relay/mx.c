/*
 * mx - MX and address lookups with c-ares, driven by libevent.
 *
 * Owns one c-ares channel (the configured dns_resolver, or the system's
 * /etc/resolv.conf when none is set), the libevent events for its
 * sockets and its timeout, and the queries in flight. A domain lookup
 * runs in two stages:
 *
 *   MX      one MX query for the domain
 *   ADDR    A and AAAA queries for each MX host (or for the domain
 *           itself when it has no MX records), all at once
 *
 * and ends in an mx_result, handed to the caller from a zero timer so
 * that no callback runs inside mx_lookup_*() or inside c-ares.
 *
 * What each DNS answer means for the mail (RFC 5321 5.1, RFC 7505):
 *   MX records              the hosts, by preference, ties shuffled
 *   only "MX 0 ."           556 5.1.10, nobody is tried
 *   no MX records (NODATA)  the domain is its own mail host
 *   NXDOMAIN                550 5.1.2, the domain does not exist
 *   SERVFAIL, timeout, ...  451 4.4.3, try again later
 *   hosts without addresses 550 5.4.4, or 451 4.4.3 if a lookup failed
 *   we are the best MX      554 5.4.6, the mail would loop
 *
 * A route or smarthost host is looked up with getaddrinfo semantics
 * (hosts file, then DNS); because it is local configuration, a failure
 * there defers (451 4.4.3) instead of bouncing.
 */
#include "mx.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "../conf/conf.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "reply_parse.h"

#define DNS_C_IN 1
#define DNS_T_A 1
#define DNS_T_MX 15
#define DNS_T_AAAA 28

#define DNS_TIMEOUT_MS 2000 /* first try; c-ares doubles it per round */
#define DNS_TRIES 2
#define HOST_ADDRS 8        /* addresses kept per host and family */

struct sockev {
	struct sockev *next;
	ares_socket_t fd;
	struct event *ev;
	struct mx *x;
};

struct mx {
	struct event_base *base;
	const struct conf *conf;
	ares_channel ch;
	int ch_ok;
	struct event *timer;
	struct sockev *socks;
};

enum { Q_DOMAIN, Q_HOST };

/* one host to resolve and what came back */
struct qhost {
	char name[256];
	unsigned pref;
	int literal;                 /* addrs[0] is already known */
	struct mx_addr lit;
	int st4, st6;                /* ARES_* status of the A/AAAA query */
	struct in_addr a4[HOST_ADDRS];
	size_t n4;
	struct in6_addr a6[HOST_ADDRS];
	size_t n6;
};

struct mx_query {
	struct mx *x;
	mx_cb cb;
	void *arg;
	int kind;
	int cancelled;
	int finished;                /* result is final, done_ev pending */
	unsigned outstanding;        /* c-ares callbacks still to come */
	char name[256];
	char port[16];
	int implicit;                /* no MX: the domain is its own host */
	struct qhost hosts[MX_MAX_HOSTS];
	size_t nhosts;
	struct event *done_ev;
	struct mx_result res;
};

/* one A or AAAA query in flight */
struct subq {
	struct mx_query *q;
	size_t host;
	int family;
};

static void mx_reschedule(struct mx *x);

/* ---- pure helpers ---- */

static int
name_eq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na > 0 && a[na - 1] == '.')
		na--;
	if (nb > 0 && b[nb - 1] == '.')
		nb--;
	return na == nb && str_ncasecmp_ascii(a, b, na) == 0;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct mx_rec *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/*
 * mx_order - put MX records in the order to try them: by preference,
 * ties in random order (rnd returns a random number). The null MX target
 * ("") is dropped when real hosts exist. If myname is one of the hosts,
 * it and every host of the same or a worse preference are dropped (RFC
 * 5321 5.1: we only pass mail to better MXs). Returns 0 with the records
 * to use in recs[0..*nout), 1 when the domain has only a null MX, 2 when
 * we are its best MX (the mail would loop).
 */
int
mx_order(struct mx_rec *recs, size_t n, const char *myname,
    unsigned (*rnd)(void *), void *rndarg, size_t *nout)
{
	size_t i, j, k, m = 0;
	struct mx_rec tmp;

	for (i = 0; i < n; i++)
		if (recs[i].host[0] != '\0')
			recs[m++] = recs[i];
	if (m == 0 && n > 0) {
		*nout = 0;
		return 1;
	}
	qsort(recs, m, sizeof(recs[0]), rec_cmp);
	/* Fisher-Yates within each run of equal preference */
	for (i = 0; i < m; i = j) {
		for (j = i + 1; j < m && recs[j].pref == recs[i].pref; j++)
			;
		for (k = j - 1; k > i; k--) {
			size_t r = i + (size_t)rnd(rndarg) % (k - i + 1);

			tmp = recs[k];
			recs[k] = recs[r];
			recs[r] = tmp;
		}
	}
	if (myname != NULL && *myname != '\0') {
		for (i = 0; i < m; i++)
			if (name_eq(recs[i].host, myname))
				break;
		if (i < m) {
			unsigned mine = recs[i].pref;

			for (i = 0; i < m && recs[i].pref < mine; i++)
				;
			m = i;
			if (m == 0) {
				*nout = 0;
				return 2;
			}
		}
	}
	*nout = m;
	return 0;
}

static void
addr_fill(struct mx_addr *a, const char *host, int family, const void *ip,
    unsigned port, unsigned pref)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->pref = pref;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a->sa;

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		memcpy(&s->sin_addr, ip, sizeof(s->sin_addr));
		a->salen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->sa;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		memcpy(&s->sin6_addr, ip, sizeof(s->sin6_addr));
		a->salen = sizeof(*s);
	}
	inet_ntop(family, ip, a->ip, sizeof(a->ip));
}

static int
port_num(const char *port, unsigned *out)
{
	unsigned long v;
	char *end;

	if (port == NULL || *port == '\0') {
		*out = 25;
		return 0;
	}
	v = strtoul(port, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/*
 * mx_literal - if s is an IPv4 or IPv6 address (no brackets), fill a
 * with it and the port. Returns 0, or -1 when s is not an address or
 * the port is bad.
 */
int
mx_literal(const char *s, const char *port, struct mx_addr *a)
{
	unsigned char ip[16];
	unsigned p;

	if (port_num(port, &p) != 0)
		return -1;
	if (inet_pton(AF_INET, s, ip) == 1)
		addr_fill(a, s, AF_INET, ip, p, 0);
	else if (inet_pton(AF_INET6, s, ip) == 1)
		addr_fill(a, s, AF_INET6, ip, p, 0);
	else
		return -1;
	return 0;
}

/*
 * mx_domain_literal - an address-literal domain (RFC 5321 4.1.3):
 * "[192.0.2.1]" or "[IPv6:2001:db8::1]". Returns 0 with a filled, or -1
 * when the domain is not one.
 */
int
mx_domain_literal(const char *domain, const char *port, struct mx_addr *a)
{
	char tmp[64];
	size_t n = strlen(domain);
	unsigned char ip[16];
	unsigned p;

	if (n < 3 || domain[0] != '[' || domain[n - 1] != ']' ||
	    n - 2 >= sizeof(tmp) || port_num(port, &p) != 0)
		return -1;
	memcpy(tmp, domain + 1, n - 2);
	tmp[n - 2] = '\0';
	if (str_has_prefix_ci(tmp, "IPv6:")) {
		if (inet_pton(AF_INET6, tmp + 5, ip) != 1)
			return -1;
		addr_fill(a, domain, AF_INET6, ip, p, 0);
	} else {
		if (inet_pton(AF_INET, tmp, ip) != 1)
			return -1;
		addr_fill(a, domain, AF_INET, ip, p, 0);
	}
	return 0;
}

/* ---- c-ares on libevent ---- */

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sockev *s = arg;
	struct mx *x = s->x;

	ares_process_fd(x->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	mx_reschedule(x);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mx *x = arg;

	ares_process_fd(x->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	mx_reschedule(x);
}

static void
mx_reschedule(struct mx *x)
{
	struct timeval tv, *tvp;

	if (!x->ch_ok)
		return;
	tvp = ares_timeout(x->ch, NULL, &tv);
	if (tvp != NULL)
		evtimer_add(x->timer, tvp);
	else
		evtimer_del(x->timer);
}

/* c-ares tells which sockets to watch for what */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct mx *x = data;
	struct sockev **pp, *s;
	short what = EV_PERSIST;

	for (pp = &x->socks; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			break;
	s = *pp;
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable) {
		if (s != NULL) {
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			log_err("ev=dns_error what=\"out of memory\"");
			return;
		}
		s->fd = fd;
		s->x = x;
		s->next = x->socks;
		x->socks = s;
	}
	if (readable)
		what |= EV_READ;
	if (writable)
		what |= EV_WRITE;
	s->ev = event_new(x->base, fd, what, sock_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) != 0)
		log_err("ev=dns_error what=\"cannot watch socket\"");
}

/*
 * mx_new - a resolver on base: conf->dns_resolver if it is set (an IP
 * address and port), else the system's resolv.conf. Returns NULL with a
 * message in err on failure.
 */
struct mx *
mx_new(struct event_base *base, const struct conf *conf, char *err,
    size_t errlen)
{
	struct mx *x;
	struct ares_options o;
	int rc, mask;
	char csv[300];
	char lookups[] = "fb";

	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return NULL;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		snprintf(err, errlen, "out of memory");
		ares_library_cleanup();
		return NULL;
	}
	x->base = base;
	x->conf = conf;
	x->timer = evtimer_new(base, timer_cb, x);
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = x;
	o.timeout = DNS_TIMEOUT_MS;
	o.tries = DNS_TRIES;
	o.lookups = lookups;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_LOOKUPS;
	if (x->timer == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = ares_init_options(&x->ch, &o, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		goto fail;
	}
	x->ch_ok = 1;
	if (conf->dns_resolver.host != NULL) {
		const char *h = conf->dns_resolver.host;
		const char *p = conf->dns_resolver.port != NULL ?
		    conf->dns_resolver.port : "53";

		if (strchr(h, ':') != NULL)
			snprintf(csv, sizeof(csv), "[%s]:%s", h, p);
		else
			snprintf(csv, sizeof(csv), "%s:%s", h, p);
		rc = ares_set_servers_ports_csv(x->ch, csv);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "dns_resolver %s: %s", csv,
			    ares_strerror(rc));
			goto fail;
		}
	}
	return x;
fail:
	mx_free(x);
	return NULL;
}

/* mx_free - cancel every lookup (their callbacks are not called) */
void
mx_free(struct mx *x)
{
	struct sockev *s;

	if (x == NULL)
		return;
	if (x->ch_ok) {
		/* the callbacks see ARES_EDESTRUCTION and free their queries */
		ares_destroy(x->ch);
		x->ch_ok = 0;
	}
	while ((s = x->socks) != NULL) {
		x->socks = s->next;
		if (s->ev != NULL)
			event_free(s->ev);
		free(s);
	}
	if (x->timer != NULL)
		event_free(x->timer);
	free(x);
	ares_library_cleanup();
}

/* ---- queries ---- */

static void
query_free(struct mx_query *q)
{
	if (q->done_ev != NULL)
		event_free(q->done_ev);
	free(q);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mx_query *q = arg;
	mx_cb cb = q->cb;
	void *cbarg = q->arg;
	struct mx_result res = q->res;

	/* the caller may free everything in cb: this query is gone first */
	query_free(q);
	cb(&res, cbarg);
}

static void
finish(struct mx_query *q)
{
	struct timeval zero = { 0, 0 };

	q->finished = 1;
	evtimer_add(q->done_ev, &zero);
}

static void
fail(struct mx_query *q, enum relay_synth id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct mx_query *q, enum relay_synth id, const char *fmt, ...)
{
	const struct relay_synth_def *def = reply_parse_synth(id);
	va_list ap;

	q->res.code = def->code;
	snprintf(q->res.esc, sizeof(q->res.esc), "%s", def->esc);
	va_start(ap, fmt);
	vsnprintf(q->res.text, sizeof(q->res.text), fmt, ap);
	va_end(ap);
	q->res.naddrs = 0;
	finish(q);
}

static int
is_tempfail(int st)
{
	return st != ARES_SUCCESS && st != ARES_ENODATA &&
	    st != ARES_ENOTFOUND;
}

static int
addr_seen(const struct mx_result *r, const struct mx_addr *a)
{
	size_t i;

	for (i = 0; i < r->naddrs; i++)
		if (strcmp(r->addrs[i].ip, a->ip) == 0)
			return 1;
	return 0;
}

static void
add_addr(struct mx_query *q, const char *host, int family, const void *ip,
    unsigned port, unsigned pref)
{
	struct mx_addr a;

	if (q->res.naddrs >= MX_MAX_ADDRS)
		return;
	addr_fill(&a, host, family, ip, port, pref);
	if (!addr_seen(&q->res, &a))
		q->res.addrs[q->res.naddrs++] = a;
}

/* all A/AAAA answers are in: list the addresses in order, or explain */
static void
assemble(struct mx_query *q)
{
	size_t i, j;
	unsigned port = 25;
	int temp = 0, tst = ARES_SUCCESS;
	const char *tname = "";

	port_num(q->port, &port);
	q->res.naddrs = 0;
	for (i = 0; i < q->nhosts; i++) {
		struct qhost *h = &q->hosts[i];

		if (h->literal) {
			if (!addr_seen(&q->res, &h->lit) &&
			    q->res.naddrs < MX_MAX_ADDRS)
				q->res.addrs[q->res.naddrs++] = h->lit;
			continue;
		}
		/* IPv4 first: it reaches more hosts that have both */
		for (j = 0; j < h->n4; j++)
			add_addr(q, h->name, AF_INET, &h->a4[j], port, h->pref);
		for (j = 0; j < h->n6; j++)
			add_addr(q, h->name, AF_INET6, &h->a6[j], port,
			    h->pref);
		if (h->n4 + h->n6 == 0 && (is_tempfail(h->st4) ||
		    is_tempfail(h->st6)) && !temp) {
			temp = 1;
			tst = is_tempfail(h->st4) ? h->st4 : h->st6;
			tname = h->name;
		}
	}
	if (q->res.naddrs > 0) {
		q->res.code = 0;
		finish(q);
	} else if (temp) {
		fail(q, RSY_DNS_TEMP, "DNS lookup of the address of %s "
		    "failed: %s", tname, ares_strerror(tst));
	} else if (q->implicit) {
		fail(q, RSY_NO_ADDRESS, "%s has no MX and no address records",
		    q->name);
	} else {
		fail(q, RSY_NO_ADDRESS, "no MX host of %s has an address "
		    "(%s%s)", q->name, q->hosts[0].name,
		    q->nhosts > 1 ? ", ..." : "");
	}
}

static void
addr_answer(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct subq *s = arg;
	struct mx_query *q = s->q;
	struct qhost *h = &q->hosts[s->host];
	int family = s->family;
	int n, i;

	free(s);
	q->outstanding--;
	if (q->cancelled || status == ARES_EDESTRUCTION) {
		if (q->outstanding == 0 && q->cancelled)
			query_free(q);
		return;
	}
	if (family == AF_INET) {
		struct ares_addrttl a[HOST_ADDRS];

		n = HOST_ADDRS;
		if (status == ARES_SUCCESS)
			status = ares_parse_a_reply(abuf, alen, NULL, a, &n);
		if (status == ARES_SUCCESS)
			for (i = 0; i < n && h->n4 < HOST_ADDRS; i++)
				h->a4[h->n4++] = a[i].ipaddr;
		h->st4 = status;
	} else {
		struct ares_addr6ttl a[HOST_ADDRS];

		n = HOST_ADDRS;
		if (status == ARES_SUCCESS)
			status = ares_parse_aaaa_reply(abuf, alen, NULL, a, &n);
		if (status == ARES_SUCCESS)
			for (i = 0; i < n && h->n6 < HOST_ADDRS; i++)
				memcpy(&h->a6[h->n6++], &a[i].ip6addr,
				    sizeof(struct in6_addr));
		h->st6 = status;
	}
	if (q->outstanding == 0)
		assemble(q);
}

static int
send_addr_query(struct mx_query *q, size_t host, int family)
{
	struct subq *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	s->q = q;
	s->host = host;
	s->family = family;
	q->outstanding++;
	/* may call addr_answer at once (e.g. a bad name) */
	ares_query(q->x->ch, q->hosts[host].name, DNS_C_IN,
	    family == AF_INET ? DNS_T_A : DNS_T_AAAA, addr_answer, s);
	return 0;
}

/* stage ADDR: A and AAAA for every host that is not a literal */
static void
resolve_hosts(struct mx_query *q)
{
	size_t i;
	unsigned port = 25;

	port_num(q->port, &port);
	/* hold a reference so answers given at once cannot finish early */
	q->outstanding++;
	for (i = 0; i < q->nhosts; i++) {
		struct qhost *h = &q->hosts[i];

		if (mx_literal(h->name, q->port, &h->lit) == 0) {
			h->literal = 1;
			h->lit.pref = h->pref;
			continue;
		}
		h->st4 = h->st6 = ARES_ENODATA;
		if (send_addr_query(q, i, AF_INET) != 0 ||
		    send_addr_query(q, i, AF_INET6) != 0)
			h->st4 = ARES_ENOMEM;
	}
	q->outstanding--;
	if (q->outstanding == 0)
		assemble(q);
	mx_reschedule(q->x);
}

static unsigned
rnd_cb(void *arg)
{
	return arc4random();
}

static void
mx_answer(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct mx_query *q = arg;
	struct ares_mx_reply *list = NULL, *r;
	struct mx_rec recs[64];
	size_t n = 0, i, nout;
	int rc;

	q->outstanding--;
	if (q->cancelled || status == ARES_EDESTRUCTION) {
		if (q->outstanding == 0 && q->cancelled)
			query_free(q);
		return;
	}
	if (status == ARES_SUCCESS) {
		status = ares_parse_mx_reply(abuf, alen, &list);
		for (r = list; r != NULL && n < ARRAY_LEN(recs); r = r->next) {
			snprintf(recs[n].host, sizeof(recs[n].host), "%s",
			    strcmp(r->host, ".") == 0 ? "" : r->host);
			recs[n].pref = r->priority;
			n++;
		}
		if (list != NULL)
			ares_free_data(list);
		if (status == ARES_SUCCESS && n == 0)
			status = ARES_ENODATA;
	}
	if (status == ARES_ENODATA) {
		/* RFC 5321 5.1: no MX, the domain is an implicit MX */
		q->implicit = 1;
		snprintf(q->hosts[0].name, sizeof(q->hosts[0].name), "%s",
		    q->name);
		q->hosts[0].pref = 0;
		q->nhosts = 1;
		resolve_hosts(q);
		return;
	}
	if (status == ARES_ENOTFOUND) {
		fail(q, RSY_NXDOMAIN, "domain %s does not exist (DNS: no "
		    "such domain)", q->name);
		return;
	}
	if (status != ARES_SUCCESS) {
		fail(q, RSY_DNS_TEMP, "DNS lookup of the MX records of %s "
		    "failed: %s", q->name, ares_strerror(status));
		return;
	}
	rc = mx_order(recs, n, q->x->conf->hostname, rnd_cb, NULL, &nout);
	if (rc == 1) {
		fail(q, RSY_NULL_MX, "domain %s does not accept mail "
		    "(null MX, RFC 7505)", q->name);
		return;
	}
	if (rc == 2) {
		fail(q, RSY_LOOP, "mail for %s loops back to myself "
		    "(%s is its best MX)", q->name, q->x->conf->hostname);
		return;
	}
	for (i = 0; i < nout && i < MX_MAX_HOSTS; i++) {
		snprintf(q->hosts[i].name, sizeof(q->hosts[i].name), "%.255s",
		    recs[i].host);
		q->hosts[i].pref = recs[i].pref;
	}
	q->nhosts = i;
	resolve_hosts(q);
}

static struct mx_query *
query_new(struct mx *x, int kind, const char *name, const char *port,
    mx_cb cb, void *arg)
{
	struct mx_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->done_ev = evtimer_new(x->base, done_cb, q);
	if (q->done_ev == NULL) {
		free(q);
		return NULL;
	}
	q->x = x;
	q->kind = kind;
	q->cb = cb;
	q->arg = arg;
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->port, sizeof(q->port), "%s", port != NULL ? port : "25");
	return q;
}

/*
 * mx_lookup_domain - the addresses to try for mail to domain, with port
 * on each. cb gets the result on the loop later. Returns a handle for
 * mx_cancel, or NULL when out of memory.
 */
struct mx_query *
mx_lookup_domain(struct mx *x, const char *domain, const char *port,
    mx_cb cb, void *arg)
{
	struct mx_query *q = query_new(x, Q_DOMAIN, domain, port, cb, arg);
	struct mx_addr lit;

	if (q == NULL)
		return NULL;
	if (mx_domain_literal(domain, port, &lit) == 0) {
		q->res.addrs[0] = lit;
		q->res.naddrs = 1;
		finish(q);
		return q;
	}
	if (strlen(domain) > 253) {
		fail(q, RSY_NXDOMAIN, "domain %.64s... is too long", domain);
		return q;
	}
	q->outstanding++;
	ares_query(x->ch, domain, DNS_C_IN, DNS_T_MX, mx_answer, q);
	mx_reschedule(x);
	return q;
}

static void
host_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct mx_query *q = arg;
	struct ares_addrinfo_node *n;
	unsigned port = 25;
	int pass;

	q->outstanding--;
	if (q->cancelled || status == ARES_EDESTRUCTION) {
		if (ai != NULL)
			ares_freeaddrinfo(ai);
		if (q->outstanding == 0 && q->cancelled)
			query_free(q);
		return;
	}
	port_num(q->port, &port);
	/* IPv4 first, as for MX hosts */
	for (pass = 0; status == ARES_SUCCESS && ai != NULL && pass < 2;
	    pass++) {
		for (n = ai->nodes; n != NULL; n = n->ai_next) {
			const void *sa = n->ai_addr;

			if (pass == 0 && n->ai_family == AF_INET)
				add_addr(q, q->name, AF_INET, &((const struct
				    sockaddr_in *)sa)->sin_addr, port, 0);
			else if (pass == 1 && n->ai_family == AF_INET6)
				add_addr(q, q->name, AF_INET6, &((const struct
				    sockaddr_in6 *)sa)->sin6_addr, port, 0);
		}
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	if (q->res.naddrs > 0) {
		finish(q);
		return;
	}
	/* a route is our own configuration: never bounce because of it */
	fail(q, RSY_DNS_TEMP, "DNS lookup of the address of %s failed: %s",
	    q->name, status == ARES_SUCCESS ? "no address" :
	    ares_strerror(status));
}

/*
 * mx_lookup_host - the addresses of one host (a route or the
 * smarthost), or the literal itself. Same contract as mx_lookup_domain.
 */
struct mx_query *
mx_lookup_host(struct mx *x, const char *host, const char *port, mx_cb cb,
    void *arg)
{
	struct mx_query *q = query_new(x, Q_HOST, host, port, cb, arg);
	struct ares_addrinfo_hints hints;
	struct mx_addr lit;

	if (q == NULL)
		return NULL;
	if (mx_literal(host, port, &lit) == 0) {
		q->res.addrs[0] = lit;
		q->res.naddrs = 1;
		finish(q);
		return q;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	q->outstanding++;
	ares_getaddrinfo(x->ch, host, NULL, &hints, host_answer, q);
	mx_reschedule(x);
	return q;
}

/* mx_cancel - forget a lookup; its callback will not be called */
void
mx_cancel(struct mx_query *q)
{
	if (q == NULL)
		return;
	q->cancelled = 1;
	if (q->outstanding == 0)
		query_free(q);
}
