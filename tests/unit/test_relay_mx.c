/*
 * test_relay_mx - the pure parts of the MX lookup: ordering MX records
 * (preference, shuffled ties, null MX, ourselves as an MX) and address
 * literals. The DNS conversation itself is tested end to end against a
 * real DNS server in tests/integ/test_relay_client.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "relay/mx.h"

#include "unit_check.h"

static unsigned
rnd_seq(void *arg)
{
	unsigned *s = arg;

	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void
fill(struct mx_rec *r, const char *const *hosts, const unsigned *prefs,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(r[i].host, sizeof(r[i].host), "%s", hosts[i]);
		r[i].pref = prefs[i];
	}
}

struct order_case {
	const char *name;
	const char *hosts[6];
	unsigned prefs[6];
	size_t n;
	const char *myname;
	int want_rc;
	const char *want[6]; /* in order; ties checked as sets below */
	size_t nwant;
};

static void
test_order(void **state)
{
	static const struct order_case cases[] = {
		{ "by preference", { "c", "a", "b" }, { 30, 10, 20 }, 3, NULL,
		    0, { "a", "b", "c" }, 3 },
		{ "null MX", { "" }, { 0 }, 1, NULL, 1, { NULL }, 0 },
		{ "null MX among real ones is skipped", { "", "a" }, { 0, 10 },
		    2, NULL, 0, { "a" }, 1 },
		{ "we are the best MX", { "me.test", "b" }, { 10, 20 }, 2,
		    "me.test", 2, { NULL }, 0 },
		{ "we are a backup MX", { "a", "me.test.", "c", "d" },
		    { 10, 20, 20, 30 }, 4, "ME.test", 0, { "a" }, 1 },
		{ "not us", { "a", "b" }, { 10, 20 }, 2, "other.test", 0,
		    { "a", "b" }, 2 },
		{ "empty", { NULL }, { 0 }, 0, NULL, 0, { NULL }, 0 },
	};
	struct mx_rec r[6];
	size_t i, j, nout;
	unsigned seed = 7;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct order_case *c = &cases[i];

		fill(r, c->hosts, c->prefs, c->n);
		nout = 99;
		rc = mx_order(r, c->n, c->myname, rnd_seq, &seed, &nout);
		CHECK_INT(c->name, rc, c->want_rc);
		CHECK_INT(c->name, nout, c->nwant);
		for (j = 0; j < c->nwant; j++)
			CHECK_STR(c->name, r[j].host, c->want[j]);
	}
}

/* equal preferences come out in every order, better ones always first */
static void
test_order_shuffle(void **state)
{
	static const char *const hosts[] = { "z", "a1", "a2", "a3", "b" };
	static const unsigned prefs[] = { 50, 10, 10, 10, 20 };
	struct mx_rec r[5];
	int seen_first[3] = { 0, 0, 0 };
	unsigned seed = 1;
	size_t nout, k;
	int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		fill(r, hosts, prefs, 5);
		CHECK_INT("rc", mx_order(r, 5, NULL, rnd_seq, &seed, &nout), 0);
		CHECK_INT("nout", nout, 5);
		for (k = 0; k < 3; k++)
			if (r[k].host[0] != 'a')
				fail_msg("position %zu: got %s, want an a*", k,
				    r[k].host);
		CHECK_STR("4th", r[3].host, "b");
		CHECK_STR("5th", r[4].host, "z");
		seen_first[r[0].host[1] - '1'] = 1;
	}
	for (k = 0; k < 3; k++)
		if (!seen_first[k])
			fail_msg("a%zu never came first", k + 1);
}

struct lit_case {
	const char *in;
	const char *port;
	int want_rc;
	int family;
	const char *ip;
	unsigned port_num;
};

static void
check_addr(const char *what, const struct mx_addr *a, int family,
    const char *ip, unsigned port)
{
	unsigned got_port;

	CHECK_INT(what, a->sa.ss_family, family);
	CHECK_STR(what, a->ip, ip);
	got_port = family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)&a->sa)->sin_port) :
	    ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
	CHECK_INT(what, got_port, port);
	CHECK_INT(what, a->salen, family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

static void
test_literals(void **state)
{
	static const struct lit_case hosts[] = {
		{ "192.0.2.1", "25", 0, AF_INET, "192.0.2.1", 25 },
		{ "::1", "2525", 0, AF_INET6, "::1", 2525 },
		{ "2001:db8::1", NULL, 0, AF_INET6, "2001:db8::1", 25 },
		{ "mx.test", "25", -1, 0, NULL, 0 },
		{ "192.0.2.1", "0", -1, 0, NULL, 0 },
		{ "192.0.2.1", "65536", -1, 0, NULL, 0 },
		{ "192.0.2.1", "2x", -1, 0, NULL, 0 },
		{ "[192.0.2.1]", "25", -1, 0, NULL, 0 },
	};
	static const struct lit_case domains[] = {
		{ "[192.0.2.1]", "25", 0, AF_INET, "192.0.2.1", 25 },
		{ "[IPv6:2001:db8::1]", "2525", 0, AF_INET6, "2001:db8::1",
		    2525 },
		{ "[ipv6:::1]", "25", 0, AF_INET6, "::1", 25 },
		{ "[2001:db8::1]", "25", -1, 0, NULL, 0 },
		{ "[IPv6:192.0.2.1]", "25", -1, 0, NULL, 0 },
		{ "192.0.2.1", "25", -1, 0, NULL, 0 },
		{ "[]", "25", -1, 0, NULL, 0 },
		{ "[example.test]", "25", -1, 0, NULL, 0 },
	};
	struct mx_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		CHECK_INT(hosts[i].in, mx_literal(hosts[i].in, hosts[i].port,
		    &a), hosts[i].want_rc);
		if (hosts[i].want_rc == 0)
			check_addr(hosts[i].in, &a, hosts[i].family,
			    hosts[i].ip, hosts[i].port_num);
	}
	for (i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		CHECK_INT(domains[i].in, mx_domain_literal(domains[i].in,
		    domains[i].port, &a), domains[i].want_rc);
		if (domains[i].want_rc == 0) {
			check_addr(domains[i].in, &a, domains[i].family,
			    domains[i].ip, domains[i].port_num);
			CHECK_STR(domains[i].in, a.host, domains[i].in);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_shuffle),
		cmocka_unit_test(test_literals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
