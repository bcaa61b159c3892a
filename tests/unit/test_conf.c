/*
 * test_conf - unit tests for src/conf/conf.c.
 *
 * Most cases are rows of a table: a configuration text, optional -o
 * overrides, and what we want: either one section of conf_dump()'s
 * output ("key = value", plus continuation lines for aliases) or an
 * error message prefix "ERR FILE:LINE: key 'KEY': ...". The file is
 * always written as DIR/t.conf under a fresh mkdtemp() directory, and DIR/
 * is cut from messages so they can be compared. "@D@" in an input
 * stands for DIR, for file:PATH values. Other tests cover lookups,
 * the postmaster rule, the example configuration and random input.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "lib/log.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

static char dir[64];

struct conf_case {
	const char *name;
	const char *input; /* file text; NULL: no file */
	const char *ov[4]; /* -o overrides, NULL-terminated */
	const char *want;  /* dump section, or "ERR " + message prefix */
};

/* helper files, written into dir before the tests run */
static const struct {
	const char *name, *text;
} files[] = {
	{ "users", "# users of the test domains\nalice\n\n  bob\nCarol@b.test\n"
	    "dave, erin\n" },
	{ "users-bad", "alice\n# ok so far\nfr/ank\n" },
	{ "users-nul", "alice\nb\0b\n" },
	{ "users-nonlocal", "alice@c.test\n" },
	{ "aliases", "# aliases(5) style\nabuse: alice\nteam@a.test: alice,\n"
	    "    bob\n\n  # a comment inside\n\tcarol\nsales: team@a.test\n" },
	{ "aliases-bad", "abuse: alice\nteam alice\n" },
	{ "aliases-cont", "  alice: bob\n" },
	{ "aliases-dup", "abuse: alice\n\nabuse: bob\n" },
};

/* put - write n bytes to dir/name; the path goes to path */
static void
put(const char *name, const char *text, size_t n, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* subst - copy s with "@D@" replaced by dir */
static char *
subst(const char *s)
{
	size_t n = strlen(s) + 1, o = 0;
	const char *p;
	char *out;

	for (p = s; (p = strstr(p, "@D@")) != NULL; p += 3)
		n += strlen(dir);
	out = malloc(n);
	assert_non_null(out);
	while (*s) {
		if (strncmp(s, "@D@", 3) == 0) {
			memcpy(out + o, dir, strlen(dir));
			o += strlen(dir);
			s += 3;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return out;
}

/* unsubst - cut every "DIR/" out of msg */
static void
unsubst(char *msg)
{
	char pre[80], *p;
	size_t n;

	snprintf(pre, sizeof(pre), "%s/", dir);
	n = strlen(pre);
	while ((p = strstr(msg, pre)) != NULL)
		memmove(p, p + n, strlen(p + n) + 1);
}

/* load - write input to dir/t.conf (unless NULL) and load it with ov */
static int
load(const char *input, const char *const *ov, struct conf *c,
    struct conf_err *err)
{
	char path[128];
	size_t n = 0;
	int r;

	while (ov != NULL && n < 4 && ov[n] != NULL)
		n++;
	if (input != NULL) {
		char *text = subst(input);

		put("t.conf", text, strlen(text), path, sizeof(path));
		free(text);
	}
	r = conf_load(c, input ? path : NULL, ov, n, err);
	if (r < 0)
		unsubst(err->msg);
	return r;
}

/* section - the dump lines of key: "key = ..." and continuation lines */
static void
section(const char *dump, const char *key, char *out, size_t cap)
{
	size_t kn = strlen(key), n;
	const char *p = dump, *e;

	out[0] = '\0';
	for (; *p; p = strchr(p, '\n') + 1) {
		if (strncmp(p, key, kn) == 0 && p[kn] == ' ')
			break;
		if (strchr(p, '\n') == NULL)
			return;
	}
	if (*p == '\0')
		return;
	e = strchr(p, '\n');
	while (e != NULL && e[1] == ' ')
		e = strchr(e + 1, '\n');
	n = e ? (size_t)(e - p) : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* check - run one table row; 0 if it passed, else print got/want */
static int
check(const struct conf_case *tc)
{
	struct conf c;
	struct conf_err err;
	char got[4096], key[64];
	char *dump;
	size_t kn;

	if (load(tc->input, tc->ov, &c, &err) < 0) {
		snprintf(got, sizeof(got), "ERR %s", err.msg);
	} else {
		assert_int_equal(conf_dump(&c, &dump), 0);
		kn = strcspn(tc->want, " ");
		snprintf(key, sizeof(key), "%.*s", (int)kn, tc->want);
		section(dump, key, got, sizeof(got));
		free(dump);
		conf_free(&c);
	}
	if (strncmp(tc->want, "ERR ", 4) == 0 ?
	    strncmp(got, tc->want, strlen(tc->want)) == 0 :
	    strcmp(got, tc->want) == 0)
		return 0;
	print_error("case %s:\n  got  %s\n  want %s\n", tc->name, got,
	    tc->want);
	return -1;
}

static void
run_table(const struct conf_case *tab, size_t n)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < n; i++)
		if (check(&tab[i]) < 0)
			bad++;
	if (bad)
		fail();
}

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))
#define RUN(tab) run_table((tab), NITEMS(tab))
#define H "hostname = mx.a.test\n"
#define HD "hostname = mx.a.test\ndomains = a.test, b.test\n"
/* what a submission or submissions listener needs besides itself */
#define TLSU "tls_cert = c.pem\ntls_key = k.pem\nusers = u\n"

/* the file format itself */
static const struct conf_case format_cases[] = {
	{ "comments and blanks", "# c\n\n   # indented comment\n" H
	    "\t\n# end\n", { NULL }, "hostname = mx.a.test" },
	{ "no spaces around =", "hostname=mx.a.test\n", { NULL },
	    "hostname = mx.a.test" },
	{ "spaces trimmed", "hostname   =\t mx.a.test  \t\n", { NULL },
	    "hostname = mx.a.test" },
	{ "CRLF lines", "hostname = mx.a.test\r\nmax_hops = 7\r\n", { NULL },
	    "max_hops = 7" },
	{ "no final newline", H "max_hops = 7", { NULL }, "max_hops = 7" },
	{ "continuation", H "domains = a.test,\n  b.test\n\tc.test\n",
	    { NULL }, "domains = a.test, b.test, c.test" },
	{ "continuation over comment and blank", H "domains = a.test\n"
	    "# comment\n\n  b.test\n", { NULL }, "domains = a.test, b.test" },
	{ "value starts on next line", "hostname =\n  mx.a.test\n", { NULL },
	    "hostname = mx.a.test" },
	{ "empty file, defaults", H, { NULL }, "max_recipients = 1000" },
	{ "unknown key", H "max_hop = 3\n", { NULL },
	    "ERR t.conf:2: key 'max_hop': unknown key" },
	{ "duplicate key names both lines", "listen = 127.0.0.1:25\n" H
	    "listen = 127.0.0.1:26\n", { NULL },
	    "ERR t.conf:3: key 'listen': set twice, on line 1 and on line 3" },
	{ "upper case key", "Hostname = x.test\n", { NULL },
	    "ERR t.conf:1: key 'Hostname': not a key name" },
	{ "key with dash", "max-hops = 3\n", { NULL },
	    "ERR t.conf:1: key 'max-hops': not a key name" },
	{ "missing =", H "max_hops 3\n", { NULL },
	    "ERR t.conf:2: key 'max_hops': expected '=' after the key name" },
	{ "key alone", H "vrfy\n", { NULL },
	    "ERR t.conf:2: key 'vrfy': expected '='" },
	{ "= alone", "= 3\n", { NULL },
	    "ERR t.conf:1: key '': not a key name" },
	{ "continuation first", "  hostname = x.test\n", { NULL },
	    "ERR t.conf:1: continuation line (it starts with white space) "
	    "before any key" },
	{ "control character", H "max_hops = 3\x01\n", { NULL },
	    "ERR t.conf:2: control character 0x01 in line" },
	{ "lone CR", H "max_hops = 3\r4\n", { NULL },
	    "ERR t.conf:2: control character 0x0d in line" },
	{ "DEL", H "\x7f\n", { NULL },
	    "ERR t.conf:2: control character 0x7f in line" },
	{ "scalar on two lines", H "max_hops = 3\n  4\n", { NULL },
	    "ERR t.conf:3: key 'max_hops': the value must be on one line" },
	{ "empty scalar", H "max_hops =\n", { NULL },
	    "ERR t.conf:2: key 'max_hops': the value is empty" },
	{ "non-ASCII key", "h\xc3\xa9 = 1\n", { NULL },
	    "ERR t.conf:1: key 'h\\xc3\\xa9': not a key name" },
};

static void
test_format(void **state)
{
	(void)state;
	RUN(format_cases);
}

/* -o key=value */
static const struct conf_case override_cases[] = {
	{ "replaces file value", H "max_hops = 3\n", { "max_hops=9", NULL },
	    "max_hops = 9" },
	{ "sets unset key", H, { "vrfy = yes", NULL }, "vrfy = yes" },
	{ "last one wins", H, { "max_hops=9", "max_hops=10", NULL },
	    "max_hops = 10" },
	{ "no file", NULL, { "hostname=mx.a.test", "domains=a.test", NULL },
	    "domains = a.test" },
	{ "list value", H, { "listen=127.0.0.1:25, [::1]:25", NULL },
	    "listen = 127.0.0.1:25, [::1]:25" },
	{ "newline in value", HD, { "aliases=x: postmaster\ny: x", NULL },
	    "aliases =\n    x: postmaster\n    y: x" },
	{ "replaces broken file value", H "max_hops = 0\n",
	    { "max_hops=1", NULL }, "max_hops = 1" },
	{ "bad value", H, { "max_errors=0", NULL },
	    "ERR -o max_errors=0: key 'max_errors': '0' is out of range; "
	    "allowed is 1 to 1000" },
	{ "unknown key", H, { "max_error=3", NULL },
	    "ERR -o max_error=3: key 'max_error': unknown key" },
	{ "no =", H, { "max_errors", NULL },
	    "ERR -o max_errors: expected key=value" },
	{ "empty key", H, { "=3", NULL }, "ERR -o =3: key '': not a key name" },
	{ "control character", H, { "max_errors=3\x01", NULL },
	    "ERR -o max_errors=3\\x01: key 'max_errors': control character "
	    "0x01" },
	{ "file error before override", H "bogus = 1\n", { "max_hops=1",
	    NULL }, "ERR t.conf:2: key 'bogus': unknown key" },
};

static void
test_overrides(void **state)
{
	(void)state;
	RUN(override_cases);
}

static const struct conf_case hostname_cases[] = {
	{ "plain", "hostname = mx.a.test\n", { NULL }, "hostname = mx.a.test" },
	{ "case kept", "hostname = MX.A.test\n", { NULL },
	    "hostname = MX.A.test" },
	{ "one label", "hostname = localhost\n", { NULL },
	    "hostname = localhost" },
	{ "hyphen and digits", "hostname = mx-1.a2.test\n", { NULL },
	    "hostname = mx-1.a2.test" },
	{ "63-char label", "hostname = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".test\n", { NULL }, "hostname = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".test" },
	{ "64-char label", "hostname = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".test\n", { NULL }, "ERR t.conf:1: key 'hostname': 'aaaa" },
	{ "underscore", "hostname = mx_1.test\n", { NULL },
	    "ERR t.conf:1: key 'hostname': 'mx_1.test' may only hold "
	    "letters, digits, '-' and '.'" },
	{ "double dot", "hostname = mx..test\n", { NULL },
	    "ERR t.conf:1: key 'hostname': 'mx..test' has an empty label" },
	{ "trailing dot", "hostname = mx.test.\n", { NULL },
	    "ERR t.conf:1: key 'hostname': 'mx.test.' has an empty label" },
	{ "leading hyphen", "hostname = -mx.test\n", { NULL },
	    "ERR t.conf:1: key 'hostname': '-mx.test' has a label starting "
	    "with '-'" },
	{ "trailing hyphen", "hostname = mx-.test\n", { NULL },
	    "ERR t.conf:1: key 'hostname': 'mx-.test' has a label ending "
	    "in '-'" },
	{ "IP address", "hostname = 192.0.2.1\n", { NULL },
	    "ERR t.conf:1: key 'hostname': '192.0.2.1' ends in an "
	    "all-numeric label" },
	{ "two words", "hostname = mx a.test\n", { NULL },
	    "ERR t.conf:1: key 'hostname': 'mx a.test' may only hold" },
	{ "empty", "hostname =\n", { NULL },
	    "ERR t.conf:1: key 'hostname': the value is empty" },
	{ "UTF-8", "hostname = m\xc3\xbc.test\n", { NULL },
	    "ERR t.conf:1: key 'hostname': 'm\\xc3\\xbc.test' may only hold" },
};

static void
test_hostname(void **state)
{
	(void)state;
	RUN(hostname_cases);
}

static void
test_hostname_long(void **state)
{
	/* 254 characters in labels of 63 or fewer */
	char text[400], want[400];
	struct conf_case tc = { "254 chars", text, { NULL }, want };
	size_t i, o;

	(void)state;
	o = (size_t)snprintf(text, sizeof(text), "hostname = ");
	for (i = 0; i < 254; i++)
		text[o++] = (i % 50 == 49) ? '.' : 'a';
	text[o] = '\0';
	snprintf(want, sizeof(want), "ERR t.conf:1: key 'hostname': '");
	assert_int_equal(check(&tc), 0);
	text[o - 1] = '\0'; /* 253 */
	snprintf(want, sizeof(want), "%s", text);
	assert_int_equal(check(&tc), 0);
}

static void
test_hostname_default(void **state)
{
	struct conf c;
	struct conf_err err;
	char host[256] = "";
	int r;

	(void)state;
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	r = conf_load(&c, NULL, NULL, 0, &err);
	if (r < 0) {
		/* the system name is not a domain name: the message says so */
		assert_non_null(strstr(err.msg, "key 'hostname': the system "
		    "host name"));
		return;
	}
	assert_string_equal(c.hostname, host);
	assert_int_equal(c.ndomains, 1);
	assert_int_equal(conf_is_local_domain(&c, host), 1);
	conf_free(&c);
}

static const struct conf_case listen_cases[] = {
	{ "default", H, { NULL }, "listen = 127.0.0.1:25" },
	{ "IPv4", H "listen = 192.0.2.1:2525\n", { NULL },
	    "listen = 192.0.2.1:2525" },
	{ "IPv6", H "listen = [::1]:25\n", { NULL }, "listen = [::1]:25" },
	{ "IPv6 canonical", H "listen = [0:0:0:0:0:0:0:1]:25\n", { NULL },
	    "listen = [::1]:25" },
	{ "star", H "listen = *:25\n", { NULL },
	    "listen = 0.0.0.0:25, [::]:25" },
	{ "list", H "listen = 127.0.0.1:25, [::1]:25\n  127.0.0.1:587\n",
	    { NULL }, "listen = 127.0.0.1:25, [::1]:25, 127.0.0.1:587" },
	{ "port leading zeros", H "listen = 127.0.0.1:0025\n", { NULL },
	    "listen = 127.0.0.1:25" },
	{ "port 65535", H "listen = 127.0.0.1:65535\n", { NULL },
	    "listen = 127.0.0.1:65535" },
	{ "no port", H "listen = 127.0.0.1\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1' has no port" },
	{ "IPv6 no port", H "listen = [::1]\n", { NULL },
	    "ERR t.conf:2: key 'listen': '[::1]' has no port" },
	{ "empty port", H "listen = 127.0.0.1:\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:' has a bad port" },
	{ "port 0", H "listen = 127.0.0.1:0\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:0' has a bad port" },
	{ "port 65536", H "listen = 127.0.0.1:65536\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:65536' has a bad port" },
	{ "port name", H "listen = 127.0.0.1:smtp\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:smtp' has a bad port" },
	{ "port sign", H "listen = 127.0.0.1:+25\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:+25' has a bad port" },
	{ "IPv6 without brackets", H "listen = ::1:25\n", { NULL },
	    "ERR t.conf:2: key 'listen': '::1:25': an IPv6 address needs "
	    "brackets" },
	{ "host name", H "listen = localhost:25\n", { NULL },
	    "ERR t.conf:2: key 'listen': 'localhost' is not an IP address" },
	{ "bad IPv4", H "listen = 192.0.2.256:25\n", { NULL },
	    "ERR t.conf:2: key 'listen': '192.0.2.256' is not an IP address" },
	{ "short IPv4", H "listen = 127.1:25\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.1' is not an IP address" },
	{ "IPv4 in brackets", H "listen = [127.0.0.1]:25\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1' is not an IP address" },
	{ "zone id", H "listen = [fe80::1%eth0]:25\n", { NULL },
	    "ERR t.conf:2: key 'listen': 'fe80::1%eth0' is not an IP" },
	{ "duplicate", H "listen = 127.0.0.1:25\n  127.0.0.1:025\n", { NULL },
	    "ERR t.conf:3: key 'listen': '127.0.0.1:025' is listed twice" },
	{ "star and any", H "listen = [::]:25, *:25\n", { NULL },
	    "ERR t.conf:2: key 'listen': '*:25' is listed twice" },
	{ "empty", H "listen =\n", { NULL },
	    "ERR t.conf:2: key 'listen': no address" },

	/* roles */
	{ "role smtp not shown", H "listen = 127.0.0.1:25/smtp\n", { NULL },
	    "listen = 127.0.0.1:25" },
	{ "role submission", H TLSU "listen = 127.0.0.1:587/submission\n",
	    { NULL }, "listen = 127.0.0.1:587/submission" },
	{ "role submissions", H TLSU "listen = 127.0.0.1:465/submissions\n",
	    { NULL }, "listen = 127.0.0.1:465/submissions" },
	{ "role case folded", H TLSU "listen = [::1]:465/SubmissionS\n",
	    { NULL }, "listen = [::1]:465/submissions" },
	{ "role with star", H TLSU "listen = *:465/submissions, *:25\n",
	    { NULL }, "listen = 0.0.0.0:465/submissions, [::]:465/submissions, "
	    "0.0.0.0:25, [::]:25" },
	{ "roles mixed", H TLSU "listen = *:25\n  [::1]:587/submission "
	    "127.0.0.1:465/submissions\n", { NULL }, "listen = 0.0.0.0:25, "
	    "[::]:25, [::1]:587/submission, 127.0.0.1:465/submissions" },
	{ "role unknown", H "listen = 127.0.0.1:465/smtps\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:465/smtps' has an unknown "
	    "role; use ADDR:PORT/smtp (the default), /submission or "
	    "/submissions" },
	{ "role empty", H "listen = 127.0.0.1:25/\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:25/' has an unknown role" },
	{ "role twice", H "listen = 127.0.0.1:25/smtp/smtp\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1:25/smtp/smtp' has an "
	    "unknown role" },
	{ "role without port", H "listen = 127.0.0.1/smtp\n", { NULL },
	    "ERR t.conf:2: key 'listen': '127.0.0.1/smtp' has no port" },
	{ "role alone", H "listen = /smtp\n", { NULL },
	    "ERR t.conf:2: key 'listen': '/smtp' has no port" },
	{ "role IPv6 without port", H "listen = [::1]/smtp\n", { NULL },
	    "ERR t.conf:2: key 'listen': '[::1]/smtp' has no port" },
	{ "same address, other role", H TLSU "listen = 127.0.0.1:25, "
	    "127.0.0.1:25/submission\n", { NULL }, "ERR t.conf:5: key "
	    "'listen': '127.0.0.1:25/submission' is listed twice" },
	{ "submissions needs TLS", H "listen = 127.0.0.1:25\n"
	    "  127.0.0.1:465/submissions\nusers = u\n", { NULL },
	    "ERR t.conf:3: key 'listen': listener 127.0.0.1:465/submissions "
	    "needs tls_cert and tls_key" },
	{ "submission needs TLS", H "listen = [::1]:587/submission\n"
	    "users = u\nauth_over_plaintext = yes\n", { NULL },
	    "ERR t.conf:2: key 'listen': listener [::1]:587/submission needs "
	    "tls_cert and tls_key" },
	{ "submission needs users", H "listen = *:587/submission\n"
	    "tls_cert = c.pem\ntls_key = k.pem\n", { NULL },
	    "ERR t.conf:2: key 'listen': listener 0.0.0.0:587/submission needs "
	    "users (AUTH is mandatory there)" },
	{ "submissions needs users", H "tls_cert = c.pem\ntls_key = k.pem\n"
	    "listen = 127.0.0.1:465/submissions\n", { NULL },
	    "ERR t.conf:4: key 'listen': listener 127.0.0.1:465/submissions "
	    "needs users" },
	{ "smtp needs neither", H "listen = 127.0.0.1:25/smtp\n", { NULL },
	    "listen = 127.0.0.1:25" },
	{ "role by override", H, { "listen=127.0.0.1:465/submissions",
	    NULL }, "ERR -o listen=127.0.0.1:465/submissions: key 'listen': "
	    "listener 127.0.0.1:465/submissions needs tls_cert and tls_key" },
	{ "TLS by override", H "listen = 127.0.0.1:465/submissions\n",
	    { "tls_cert=c.pem", "tls_key=k.pem", "users=u", NULL },
	    "listen = 127.0.0.1:465/submissions" },
	{ "only commas", H "listen = , ,\n", { NULL },
	    "ERR t.conf:2: key 'listen': no address" },
};

static void
test_listen(void **state)
{
	(void)state;
	RUN(listen_cases);
}

static const struct conf_case domains_cases[] = {
	{ "default is hostname", "hostname = MX.A.test\n", { NULL },
	    "domains = mx.a.test" },
	{ "list, lower case, order kept", H "domains = B.test a.TEST,c.test\n",
	    { NULL }, "domains = b.test, a.test, c.test" },
	{ "duplicate", H "domains = a.test\n  b.test, A.Test\n", { NULL },
	    "ERR t.conf:3: key 'domains': 'A.Test' is listed twice" },
	{ "bad name", H "domains = a.test, b_c.test\n", { NULL },
	    "ERR t.conf:2: key 'domains': 'b_c.test' may only hold" },
	{ "address literal", H "domains = [192.0.2.1]\n", { NULL },
	    "ERR t.conf:2: key 'domains': '[192.0.2.1]' may only hold" },
	{ "empty", H "domains =\n", { NULL },
	    "ERR t.conf:2: key 'domains': no domain" },
};

static void
test_domains(void **state)
{
	(void)state;
	RUN(domains_cases);
}

static const struct conf_case mailboxes_cases[] = {
	{ "default", HD, { NULL },
	    "mailboxes = postmaster@a.test, postmaster@b.test" },
	{ "every domain", HD "mailboxes = alice\n", { NULL },
	    "mailboxes = alice@a.test, postmaster@a.test, alice@b.test, "
	    "postmaster@b.test" },
	{ "one domain, case folded", HD "mailboxes = Bob@B.TEST\n", { NULL },
	    "mailboxes = postmaster@a.test, bob@b.test, postmaster@b.test" },
	{ "deduplicated", HD "mailboxes = x@a.test, X, x\n  x@A.test\n",
	    { NULL }, "mailboxes = postmaster@a.test, x@a.test, "
	    "postmaster@b.test, x@b.test" },
	{ "atext", HD "mailboxes = a.b+c-d_e=f!g#h$i%j&k'l*m?n^o`p{q|r}s~t"
	    "@a.test\n", { NULL }, "mailboxes = "
	    "a.b+c-d_e=f!g#h$i%j&k'l*m?n^o`p{q|r}s~t@a.test, "
	    "postmaster@a.test, postmaster@b.test" },
	{ "64 octets", HD "mailboxes = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@b.test\n", { NULL }, "mailboxes = postmaster@a.test, "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@b.test, postmaster@b.test" },
	{ "from a file", HD "mailboxes = file:@D@/users\n", { NULL },
	    "mailboxes = alice@a.test, bob@a.test, dave@a.test, erin@a.test, "
	    "postmaster@a.test, alice@b.test, bob@b.test, carol@b.test, "
	    "dave@b.test, erin@b.test, postmaster@b.test" },
	{ "empty list", HD "mailboxes =\n", { NULL },
	    "mailboxes = postmaster@a.test, postmaster@b.test" },
	{ "65 octets", HD "mailboxes = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\n", { NULL }, "ERR t.conf:3: key 'mailboxes': mailbox 'aaaa" },
	{ "slash", HD "mailboxes = alice\n  a/b\n", { NULL },
	    "ERR t.conf:4: key 'mailboxes': mailbox 'a/b': the local part "
	    "contains '/'" },
	{ "dot", HD "mailboxes = .\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox '.': the local part "
	    "starts or ends with '.'" },
	{ "dot dot", HD "mailboxes = ..\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox '..': the local part "
	    "starts or ends with '.'" },
	{ "inner dot dot", HD "mailboxes = a..b\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox 'a..b': the local part "
	    "contains '..'" },
	{ "quote", HD "mailboxes = a\"b\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox 'a\"b': the local part "
	    "may only hold" },
	{ "UTF-8", HD "mailboxes = j\xc3\xb6rg\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox 'j\\xc3\\xb6rg': the "
	    "local part may only hold" },
	{ "comment not at line start", HD "mailboxes = alice # old\n",
	    { NULL }, "ERR t.conf:3: key 'mailboxes': mailbox '#': the local "
	    "part starts with '#'" },
	{ "empty local part", HD "mailboxes = @a.test\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox '@a.test': the local "
	    "part is empty" },
	{ "domain not local", HD "mailboxes = alice@c.test\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox 'alice@c.test': 'c.test' "
	    "is not a local domain (key 'domains')" },
	{ "two @", HD "mailboxes = a@b@a.test\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': mailbox 'a@b@a.test': 'b@a.test' "
	    "is not a local domain" },
	{ "file missing", HD "mailboxes = file:@D@/nope\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': cannot open 'nope': No such file" },
	{ "file is a directory", HD "mailboxes = file:@D@\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': cannot read '" },
	{ "file without path", HD "mailboxes = file:\n", { NULL },
	    "ERR t.conf:3: key 'mailboxes': file: needs a path" },
	{ "file line error", HD "mailboxes = file:@D@/users-bad\n", { NULL },
	    "ERR users-bad:3: key 'mailboxes': mailbox 'fr/ank': the local "
	    "part contains '/'" },
	{ "file NUL", HD "mailboxes = file:@D@/users-nul\n", { NULL },
	    "ERR users-nul:2: key 'mailboxes': NUL byte in line" },
	{ "file domain not local", HD "mailboxes = file:@D@/users-nonlocal\n",
	    { NULL }, "ERR users-nonlocal:1: key 'mailboxes': mailbox "
	    "'alice@c.test': 'c.test' is not a local domain" },
	{ "file on two lines", HD "mailboxes = file:@D@/users\n  more\n",
	    { NULL }, "ERR t.conf:3: key 'mailboxes': file:PATH must be the "
	    "whole value" },
};

static void
test_mailboxes(void **state)
{
	(void)state;
	RUN(mailboxes_cases);
}

static const struct conf_case aliases_cases[] = {
	{ "default none", HD, { NULL }, "aliases =" },
	{ "inline, sorted, case folded", HD "mailboxes = alice, bob\n"
	    "aliases = Sales: BOB; abuse: alice, bob@b.test\n", { NULL },
	    "aliases =\n    abuse: alice, bob@b.test\n    sales: bob" },
	{ "continuation lines", HD "mailboxes = alice, bob\naliases =\n"
	    "    abuse: alice\n    team@a.test: alice, bob\n", { NULL },
	    "aliases =\n    abuse: alice\n    team@a.test: alice, bob" },
	{ "entry ending in comma goes on", HD "mailboxes = alice, bob\n"
	    "aliases =\n    team: alice,\n      bob\n    x: bob\n", { NULL },
	    "aliases =\n    team: alice, bob\n    x: bob" },
	{ "comma continuation over a comment", HD "mailboxes = alice, bob\n"
	    "aliases =\n  team: alice,\n  # bob is new\n  bob\n  x: team\n",
	    { NULL }, "aliases =\n    team: alice, bob\n    x: team" },
	{ "comma continuation, error line", HD "mailboxes = alice, bob\n"
	    "aliases =\n  team: alice,\n  b/ob\n", { NULL },
	    "ERR t.conf:6: key 'aliases': alias target 'b/ob': the local part "
	    "contains '/'" },
	{ "no comma, no continuation", HD "mailboxes = alice, bob\n"
	    "aliases =\n  team: alice\n  bob\n", { NULL },
	    "ERR t.conf:6: key 'aliases': 'bob' has no ':'" },
	{ "targets by space", HD "mailboxes = alice, bob\n"
	    "aliases = team: alice bob\n", { NULL },
	    "aliases =\n    team: alice, bob" },
	{ "chain", HD "mailboxes = alice\naliases = a: b; b: c; c: alice\n",
	    { NULL }, "aliases =\n    a: b\n    b: c\n    c: alice" },
	{ "from a file", HD "mailboxes = alice, bob, carol\n"
	    "aliases = file:@D@/aliases\n", { NULL }, "aliases =\n"
	    "    abuse: alice\n    sales: team@a.test\n"
	    "    team@a.test: alice, bob, carol" },
	{ "alias shadows mailbox", HD "mailboxes = alice, bob\n"
	    "aliases = bob: alice\n", { NULL }, "aliases =\n    bob: alice" },
	{ "chain of 10", HD "mailboxes = z\naliases = a1: a2; a2: a3; "
	    "a3: a4; a4: a5; a5: a6; a6: a7; a7: a8; a8: a9; a9: a10; a10: z\n",
	    { NULL }, "aliases =\n    a1: a2\n    a10: z\n    a2: a3\n"
	    "    a3: a4\n    a4: a5\n    a5: a6\n    a6: a7\n    a7: a8\n"
	    "    a8: a9\n    a9: a10" },
	{ "domain-wide target only in one domain, shadowed", HD
	    "mailboxes = alice@a.test, bob@b.test\n"
	    "aliases = x: alice\n  x@b.test: bob\n", { NULL },
	    "aliases =\n    x: alice\n    x@b.test: bob" },
	{ "chain of 11", HD "mailboxes = z\naliases = a1: a2; a2: a3; "
	    "a3: a4; a4: a5; a5: a6; a6: a7; a7: a8; a8: a9; a9: a10; a10: "
	    "a11; a11: z\n", { NULL }, "ERR t.conf:4: key 'aliases': alias "
	    "'a1' expands through more than 10 aliases in a row" },
	{ "chain of 11 found late", HD "mailboxes = z\naliases =\n"
	    "  b1: b2; b2: b3; b3: b4; b4: b5; b5: b6; b6: z\n"
	    "  c1: c2; c2: c3; c3: c4; c4: c5; c5: c6; c6: b1\n", { NULL },
	    "ERR t.conf:6: key 'aliases': alias 'c1' expands through more "
	    "than 10 aliases in a row" },
	{ "cycle", HD "mailboxes = z\naliases =\n  a: b\n  b: c, z\n  c: a\n",
	    { NULL }, "ERR t.conf:7: key 'aliases': alias 'a' loops back to "
	    "itself (a -> b -> c -> a)" },
	{ "self", HD "mailboxes = alice\naliases = alice: alice\n", { NULL },
	    "ERR t.conf:4: key 'aliases': alias 'alice' loops back to itself "
	    "(alice -> alice)" },
	{ "cycle across domains", HD "aliases = a@a.test: a@b.test\n"
	    "  a@b.test: a@a.test\n", { NULL }, "ERR t.conf:4: key 'aliases': "
	    "alias 'a@a.test' loops back to itself" },
	{ "dangling", HD "mailboxes = alice\naliases =\n  team: alice, bob\n",
	    { NULL }, "ERR t.conf:5: key 'aliases': alias 'team': target "
	    "'bob' is neither a mailbox nor an alias in domain a.test" },
	{ "dangling in one domain", HD "mailboxes = alice@a.test\n"
	    "aliases = x: alice\n", { NULL }, "ERR t.conf:4: key 'aliases': "
	    "alias 'x': target 'alice' is neither a mailbox nor an alias in "
	    "domain b.test" },
	{ "dangling via chain", HD "mailboxes = alice\naliases = a: b\n"
	    "  b: nobody\n", { NULL }, "ERR t.conf:5: key 'aliases': alias "
	    "'b': target 'nobody' is neither" },
	{ "relay target", HD "aliases = x: someone@example.org\n", { NULL },
	    "ERR t.conf:3: key 'aliases': alias target 'someone@example.org': "
	    "'example.org' is not a local domain (key 'domains'); an alias "
	    "cannot forward to other domains (yet)" },
	{ "key in other domain", HD "aliases = x@c.test: postmaster\n",
	    { NULL }, "ERR t.conf:3: key 'aliases': alias 'x@c.test': 'c.test' "
	    "is not a local domain" },
	{ "no colon", HD "aliases = x postmaster\n", { NULL },
	    "ERR t.conf:3: key 'aliases': 'x postmaster' has no ':'" },
	{ "no target", HD "aliases = x:\n", { NULL },
	    "ERR t.conf:3: key 'aliases': alias 'x' has no target" },
	{ "no key", HD "aliases = : postmaster\n", { NULL },
	    "ERR t.conf:3: key 'aliases': '' is not an address before ':'" },
	{ "bad key", HD "aliases = a/b: postmaster\n", { NULL },
	    "ERR t.conf:3: key 'aliases': alias 'a/b': the local part "
	    "contains '/'" },
	{ "bad target", HD "aliases = x: |/bin/sh\n", { NULL },
	    "ERR t.conf:3: key 'aliases': alias target '|/bin/sh': the local "
	    "part contains '/'" },
	{ "twice", HD "aliases =\n  x: postmaster\n  y: postmaster\n"
	    "  X: postmaster\n", { NULL }, "ERR t.conf:6: key 'aliases': alias "
	    "'x' is defined twice, first on line 4" },
	{ "twice on one line", HD "aliases = x: postmaster; x: postmaster\n",
	    { NULL }, "ERR t.conf:3: key 'aliases': alias 'x' is defined "
	    "twice, first on line 3" },
	{ "file error line", HD "aliases = file:@D@/aliases-bad\n", { NULL },
	    "ERR aliases-bad:2: key 'aliases': 'team alice' has no ':'" },
	{ "file continuation first", HD "aliases = file:@D@/aliases-cont\n",
	    { NULL }, "ERR aliases-cont:1: key 'aliases': continuation line" },
	{ "file twice", HD "mailboxes = alice, bob\n"
	    "aliases = file:@D@/aliases-dup\n", { NULL },
	    "ERR aliases-dup:3: key 'aliases': alias 'abuse' is defined twice, "
	    "first on line 1" },
	{ "file dangling", HD "aliases = file:@D@/aliases\n", { NULL },
	    "ERR aliases:2: key 'aliases': alias 'abuse': target 'alice' is "
	    "neither" },
	{ "override twice", HD, { "aliases=x: postmaster; x: postmaster",
	    NULL }, "ERR -o aliases=x: postmaster; x: postmaster: key "
	    "'aliases': alias 'x' is defined twice" },
};

static void
test_aliases(void **state)
{
	(void)state;
	RUN(aliases_cases);
}

/* the numbers, words and paths */
static const struct conf_case scalar_cases[] = {
	{ "maildir_root default", H, { NULL }, "maildir_root = /var/mail/tern" },
	{ "maildir_root relative", H "maildir_root = var/my mail\n", { NULL },
	    "maildir_root = var/my mail" },
	{ "maildir_root empty", H "maildir_root =   \n", { NULL },
	    "ERR t.conf:2: key 'maildir_root': the value is empty" },
	{ "spool_dir default", H, { NULL }, "spool_dir = /var/spool/tern" },
	{ "spool_dir", H "spool_dir = ./spool\n", { NULL },
	    "spool_dir = ./spool" },
	{ "spool_dir empty", H "spool_dir =\n", { NULL },
	    "ERR t.conf:2: key 'spool_dir': the value is empty" },

	{ "size default", H, { NULL }, "max_message_size = 26214400" },
	{ "size minimum", H "max_message_size = 64k\n", { NULL },
	    "max_message_size = 65536" },
	{ "size bytes", H "max_message_size = 65536\n", { NULL },
	    "max_message_size = 65536" },
	{ "size lower m", H "max_message_size = 10m\n", { NULL },
	    "max_message_size = 10485760" },
	{ "size MB", H "max_message_size = 10MB\n", { NULL },
	    "max_message_size = 10485760" },
	{ "size maximum", H "max_message_size = 2G\n", { NULL },
	    "max_message_size = 2147483648" },
	{ "size too small", H "max_message_size = 65535\n", { NULL },
	    "ERR t.conf:2: key 'max_message_size': '65535' is out of range; "
	    "allowed is 64k to 2G; RFC 5321 4.5.3.1.7 requires at least 64k" },
	{ "size too big", H "max_message_size = 2049M\n", { NULL },
	    "ERR t.conf:2: key 'max_message_size': '2049M' is out of range" },
	{ "size overflow", H "max_message_size = 99999999999999999999G\n",
	    { NULL }, "ERR t.conf:2: key 'max_message_size': "
	    "'99999999999999999999G' is not a size" },
	{ "size word", H "max_message_size = big\n", { NULL },
	    "ERR t.conf:2: key 'max_message_size': 'big' is not a size; use "
	    "bytes or a number with k, M or G" },
	{ "size T", H "max_message_size = 1T\n", { NULL },
	    "ERR t.conf:2: key 'max_message_size': '1T' is not a size" },
	{ "size negative", H "max_message_size = -1\n", { NULL },
	    "ERR t.conf:2: key 'max_message_size': '-1' is not a size" },
	{ "size space", H "max_message_size = 25 M\n", { NULL },
	    "ERR t.conf:2: key 'max_message_size': '25 M' is not a size" },
	{ "min_free_space default", H, { NULL },
	    "min_free_space = 104857600" },
	{ "min_free_space 0", H "min_free_space = 0\n", { NULL },
	    "min_free_space = 0" },
	{ "min_free_space 1G", H "min_free_space = 1G\n", { NULL },
	    "min_free_space = 1073741824" },
	{ "min_free_space bad", H "min_free_space = lots\n", { NULL },
	    "ERR t.conf:2: key 'min_free_space': 'lots' is not a size" },

	{ "recipients default", H, { NULL }, "max_recipients = 1000" },
	{ "recipients 100", H "max_recipients = 100\n", { NULL },
	    "max_recipients = 100" },
	{ "recipients 100000", H "max_recipients = 100000\n", { NULL },
	    "max_recipients = 100000" },
	{ "recipients 99", H "max_recipients = 99\n", { NULL },
	    "ERR t.conf:2: key 'max_recipients': '99' is out of range; allowed "
	    "is 100 to 100000; RFC 5321 4.5.3.1.8 requires at least 100" },
	{ "recipients 100001", H "max_recipients = 100001\n", { NULL },
	    "ERR t.conf:2: key 'max_recipients': '100001' is out of range" },
	{ "recipients huge", H "max_recipients = 99999999999999999999999\n",
	    { NULL }, "ERR t.conf:2: key 'max_recipients': "
	    "'99999999999999999999999' is out of range" },
	{ "recipients negative", H "max_recipients = -100\n", { NULL },
	    "ERR t.conf:2: key 'max_recipients': '-100' is not a number; use "
	    "decimal digits, 100 to 100000" },
	{ "recipients suffix", H "max_recipients = 1k\n", { NULL },
	    "ERR t.conf:2: key 'max_recipients': '1k' is not a number" },
	{ "connections default", H, { NULL }, "max_connections = 1000" },
	{ "connections 1", H "max_connections = 1\n", { NULL },
	    "max_connections = 1" },
	{ "connections 1000000", H "max_connections = 1000000\n", { NULL },
	    "max_connections = 1000000" },
	{ "connections 0", H "max_connections = 0\n", { NULL },
	    "ERR t.conf:2: key 'max_connections': '0' is out of range; allowed "
	    "is 1 to 1000000" },
	{ "connections 1000001", H "max_connections = 1000001\n", { NULL },
	    "ERR t.conf:2: key 'max_connections': '1000001' is out of range" },
	{ "per ip default", H, { NULL }, "max_connections_per_ip = 20" },
	{ "per ip 0", H "max_connections_per_ip = 0\n", { NULL },
	    "max_connections_per_ip = 0" },
	{ "per ip too big", H "max_connections_per_ip = 1000001\n", { NULL },
	    "ERR t.conf:2: key 'max_connections_per_ip': '1000001' is out of "
	    "range; allowed is 0 to 1000000; 0 means no limit" },
	{ "per ip word", H "max_connections_per_ip = none\n", { NULL },
	    "ERR t.conf:2: key 'max_connections_per_ip': 'none' is not a "
	    "number" },
	{ "errors default", H, { NULL }, "max_errors = 20" },
	{ "errors 1", H "max_errors = 1\n", { NULL }, "max_errors = 1" },
	{ "errors 1000", H "max_errors = 1000\n", { NULL },
	    "max_errors = 1000" },
	{ "errors 0", H "max_errors = 0\n", { NULL },
	    "ERR t.conf:2: key 'max_errors': '0' is out of range; allowed is "
	    "1 to 1000" },
	{ "errors 1001", H "max_errors = 1001\n", { NULL },
	    "ERR t.conf:2: key 'max_errors': '1001' is out of range" },
	{ "workers default", H, { NULL }, "commit_workers = 32" },
	{ "workers 1", H "commit_workers = 1\n", { NULL },
	    "commit_workers = 1" },
	{ "workers 256", H "commit_workers = 256\n", { NULL },
	    "commit_workers = 256" },
	{ "workers 0", H "commit_workers = 0\n", { NULL },
	    "ERR t.conf:2: key 'commit_workers': '0' is out of range; allowed "
	    "is 1 to 256" },
	{ "workers 257", H "commit_workers = 257\n", { NULL },
	    "ERR t.conf:2: key 'commit_workers': '257' is out of range" },
	{ "hops default", H, { NULL }, "max_hops = 50" },
	{ "hops 1", H "max_hops = 1\n", { NULL }, "max_hops = 1" },
	{ "hops 1000", H "max_hops = 1000\n", { NULL }, "max_hops = 1000" },
	{ "hops 0", H "max_hops = 0\n", { NULL },
	    "ERR t.conf:2: key 'max_hops': '0' is out of range; allowed is 1 "
	    "to 1000" },
	{ "hops 1001", H "max_hops = 1001\n", { NULL },
	    "ERR t.conf:2: key 'max_hops': '1001' is out of range" },

	{ "command_timeout default", H, { NULL }, "command_timeout = 300s" },
	{ "command_timeout 1s", H "command_timeout = 1s\n", { NULL },
	    "command_timeout = 1s" },
	{ "command_timeout plain", H "command_timeout = 90\n", { NULL },
	    "command_timeout = 90s" },
	{ "command_timeout 24h", H "command_timeout = 24h\n", { NULL },
	    "command_timeout = 86400s" },
	{ "command_timeout 1d", H "command_timeout = 1d\n", { NULL },
	    "command_timeout = 86400s" },
	{ "command_timeout 0", H "command_timeout = 0s\n", { NULL },
	    "ERR t.conf:2: key 'command_timeout': '0s' is out of range; "
	    "allowed is 1s to 24h" },
	{ "command_timeout 86401", H "command_timeout = 86401\n", { NULL },
	    "ERR t.conf:2: key 'command_timeout': '86401' is out of range" },
	{ "command_timeout unit", H "command_timeout = 5x\n", { NULL },
	    "ERR t.conf:2: key 'command_timeout': '5x' is not a duration; use "
	    "seconds or a number with s, m, h or d" },
	{ "command_timeout upper", H "command_timeout = 5M\n", { NULL },
	    "ERR t.conf:2: key 'command_timeout': '5M' is not a duration" },
	{ "data_timeout default", H, { NULL }, "data_timeout = 180s" },
	{ "data_timeout 10m", H "data_timeout = 10m\n", { NULL },
	    "data_timeout = 600s" },
	{ "data_timeout 0", H "data_timeout = 0\n", { NULL },
	    "ERR t.conf:2: key 'data_timeout': '0' is out of range" },
	{ "data_timeout 2d", H "data_timeout = 2d\n", { NULL },
	    "ERR t.conf:2: key 'data_timeout': '2d' is out of range" },
	{ "shutdown_timeout default", H, { NULL }, "shutdown_timeout = 30s" },
	{ "shutdown_timeout 0", H "shutdown_timeout = 0\n", { NULL },
	    "shutdown_timeout = 0s" },
	{ "shutdown_timeout 2m", H "shutdown_timeout = 2m\n", { NULL },
	    "shutdown_timeout = 120s" },
	{ "shutdown_timeout 25h", H "shutdown_timeout = 25h\n", { NULL },
	    "ERR t.conf:2: key 'shutdown_timeout': '25h' is out of range; "
	    "allowed is 0s to 24h" },

	{ "pregreet_delay default", H, { NULL }, "pregreet_delay = 0s" },
	{ "pregreet_delay 6s", H "pregreet_delay = 6s\n", { NULL },
	    "pregreet_delay = 6s" },
	{ "pregreet_delay 1m", H "pregreet_delay = 1m\n", { NULL },
	    "pregreet_delay = 60s" },
	{ "pregreet_delay 61", H "pregreet_delay = 61\n", { NULL },
	    "ERR t.conf:2: key 'pregreet_delay': '61' is out of range; allowed "
	    "is 0s to 1m" },
	{ "pregreet_delay word", H "pregreet_delay = off\n", { NULL },
	    "ERR t.conf:2: key 'pregreet_delay': 'off' is not a duration" },

	{ "vrfy default", H, { NULL }, "vrfy = no" },
	{ "vrfy yes", H "vrfy = yes\n", { NULL }, "vrfy = yes" },
	{ "vrfy true", H "vrfy = true\n", { NULL }, "vrfy = yes" },
	{ "vrfy On", H "vrfy = On\n", { NULL }, "vrfy = yes" },
	{ "vrfy 1", H "vrfy = 1\n", { NULL }, "vrfy = yes" },
	{ "vrfy no", H "vrfy = no\n", { NULL }, "vrfy = no" },
	{ "vrfy FALSE", H "vrfy = FALSE\n", { NULL }, "vrfy = no" },
	{ "vrfy off", H "vrfy = off\n", { NULL }, "vrfy = no" },
	{ "vrfy 0", H "vrfy = 0\n", { NULL }, "vrfy = no" },
	{ "vrfy maybe", H "vrfy = maybe\n", { NULL },
	    "ERR t.conf:2: key 'vrfy': 'maybe' is not a boolean; use yes or "
	    "no (or true/false, on/off, 1/0)" },
	{ "vrfy 2", H "vrfy = 2\n", { NULL },
	    "ERR t.conf:2: key 'vrfy': '2' is not a boolean" },
	{ "expn default", H, { NULL }, "expn = no" },
	{ "expn yes", H "expn = yes\n", { NULL }, "expn = yes" },
	{ "expn bad", H "expn = y\n", { NULL },
	    "ERR t.conf:2: key 'expn': 'y' is not a boolean" },
	{ "unsafe_no_fsync default", H, { NULL }, "unsafe_no_fsync = no" },
	{ "unsafe_no_fsync yes", H "unsafe_no_fsync = yes\n", { NULL },
	    "unsafe_no_fsync = yes" },
	{ "unsafe_no_fsync bad", H "unsafe_no_fsync = please\n", { NULL },
	    "ERR t.conf:2: key 'unsafe_no_fsync': 'please' is not a boolean" },
	{ "bare_newline default", H, { NULL }, "bare_newline = normalize" },
	{ "bare_newline reject", H "bare_newline = reject\n", { NULL },
	    "bare_newline = reject" },
	{ "bare_newline Normalize", H "bare_newline = Normalize\n", { NULL },
	    "bare_newline = normalize" },
	{ "bare_newline bad", H "bare_newline = strip\n", { NULL },
	    "ERR t.conf:2: key 'bare_newline': 'strip' is not a policy; use "
	    "normalize or reject" },
};

static void
test_scalars(void **state)
{
	(void)state;
	RUN(scalar_cases);
}


/* relaying: who may, where to, how often */
static const struct conf_case relay_cases[] = {
	{ "relay_networks default", H, { NULL },
	    "relay_networks = 127.0.0.0/8, ::1/128" },
	{ "relay_networks empty", H "relay_networks =\n", { NULL },
	    "relay_networks =" },
	{ "relay_networks only commas", H "relay_networks = ,\n", { NULL },
	    "relay_networks =" },
	{ "relay_networks list", H "relay_networks = 192.0.2.0/24,\n"
	    "  2001:DB8::/32 10.0.0.0/8\n", { NULL },
	    "relay_networks = 192.0.2.0/24, 2001:db8::/32, 10.0.0.0/8" },
	{ "relay_networks bare addresses", H "relay_networks = 192.0.2.7 "
	    "2001:db8::7\n", { NULL },
	    "relay_networks = 192.0.2.7/32, 2001:db8::7/128" },
	{ "relay_networks brackets", H "relay_networks = [::1]/128, "
	    "[2001:db8::]/48 [fe80::1]\n", { NULL },
	    "relay_networks = ::1/128, 2001:db8::/48, fe80::1/128" },
	{ "relay_networks mapped is IPv4", H "relay_networks = "
	    "::ffff:192.0.2.0/120, ::ffff:10.1.2.3\n", { NULL },
	    "relay_networks = 192.0.2.0/24, 10.1.2.3/32" },
	{ "relay_networks /8 and /16", H "relay_networks = 10.0.0.0/8 "
	    "fc00::/16\n", { NULL },
	    "relay_networks = 10.0.0.0/8, fc00::/16" },
	{ "relay_networks /32 /128", H "relay_networks = 192.0.2.1/32 "
	    "::1/128\n", { NULL }, "relay_networks = 192.0.2.1/32, ::1/128" },
	{ "relay_networks prefix leading zero", H "relay_networks = "
	    "10.0.0.0/08\n", { NULL }, "relay_networks = 10.0.0.0/8" },
	{ "relay_networks host bits", H "relay_networks = 10.1.2.3/8\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': 10.1.2.3/8 has "
	    "host bits set; did you mean 10.0.0.0/8?" },
	{ "relay_networks host bits v6", H "relay_networks = ::1/128\n"
	    "  2001:db8::1/64\n", { NULL }, "ERR t.conf:3: key "
	    "'relay_networks': 2001:db8::1/64 has host bits set; did you mean "
	    "2001:db8::/64?" },
	{ "relay_networks host bits odd prefix", H "relay_networks = "
	    "192.0.2.128/25, 192.0.2.64/25\n", { NULL }, "ERR t.conf:2: key "
	    "'relay_networks': 192.0.2.64/25 has host bits set; did you mean "
	    "192.0.2.0/25?" },
	{ "relay_networks open v4", H "relay_networks = 0.0.0.0/0\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': 0.0.0.0/0 would "
	    "make this server an open relay; set allow_open_relay = yes if "
	    "you really mean it" },
	{ "relay_networks /7", H "relay_networks = 127.0.0.1\n"
	    "  10.0.0.0/7\n", { NULL }, "ERR t.conf:3: key 'relay_networks': "
	    "10.0.0.0/7 would make this server an open relay" },
	{ "relay_networks open v6", H "relay_networks = ::/0\n", { NULL },
	    "ERR t.conf:2: key 'relay_networks': ::/0 would make this server "
	    "an open relay" },
	{ "relay_networks /15", H "relay_networks = fc00::/15\n", { NULL },
	    "ERR t.conf:2: key 'relay_networks': fc00::/15 would make" },
	{ "relay_networks open mapped", H "relay_networks = ::ffff:0:0/96\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': 0.0.0.0/0 would "
	    "make" },
	{ "relay_networks open allowed", H "relay_networks = 0.0.0.0/0 ::/0\n"
	    "allow_open_relay = yes\n", { NULL },
	    "relay_networks = 0.0.0.0/0, ::/0" },
	{ "relay_networks open allowed by -o", H "relay_networks = "
	    "0.0.0.0/0\n", { "allow_open_relay=yes", NULL },
	    "relay_networks = 0.0.0.0/0" },
	{ "relay_networks open, -o", H, { "relay_networks=0.0.0.0/1",
	    NULL }, "ERR -o relay_networks=0.0.0.0/1: key 'relay_networks': "
	    "0.0.0.0/1 would make" },
	{ "relay_networks prefix too long", H "relay_networks = "
	    "10.0.0.0/33\n", { NULL }, "ERR t.conf:2: key 'relay_networks': "
	    "'10.0.0.0/33' has a bad prefix length; use ADDR/PREFIX with "
	    "PREFIX from 0 to 32" },
	{ "relay_networks v6 prefix too long", H "relay_networks = ::/129\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': '::/129' has a bad "
	    "prefix length; use ADDR/PREFIX with PREFIX from 0 to 128" },
	{ "relay_networks empty prefix", H "relay_networks = 10.0.0.0/\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': '10.0.0.0/' has a "
	    "bad prefix length" },
	{ "relay_networks prefix sign", H "relay_networks = 10.0.0.0/+8\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': '10.0.0.0/+8' has "
	    "a bad prefix length" },
	{ "relay_networks huge prefix", H "relay_networks = "
	    "10.0.0.0/99999999999999999999\n", { NULL }, "ERR t.conf:2: key "
	    "'relay_networks': '10.0.0.0/99999999999999999999' has a bad" },
	{ "relay_networks two slashes", H "relay_networks = 10.0.0.0/8/8\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': '10.0.0.0/8/8' has "
	    "a bad prefix length" },
	{ "relay_networks name", H "relay_networks = localhost\n", { NULL },
	    "ERR t.conf:2: key 'relay_networks': 'localhost' is not an IP "
	    "address or network; use ADDR/PREFIX such as 192.0.2.0/24" },
	{ "relay_networks short v4", H "relay_networks = 10/8\n", { NULL },
	    "ERR t.conf:2: key 'relay_networks': '10/8' is not an IP address" },
	{ "relay_networks v4 in brackets", H "relay_networks = "
	    "[10.0.0.0]/8\n", { NULL }, "ERR t.conf:2: key 'relay_networks': "
	    "'[10.0.0.0]/8' is not an IP address" },
	{ "relay_networks empty brackets", H "relay_networks = []\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': '[]' is not an IP "
	    "address" },
	{ "relay_networks slash alone", H "relay_networks = /8\n", { NULL },
	    "ERR t.conf:2: key 'relay_networks': '/8' is not an IP address" },
	{ "relay_networks zone", H "relay_networks = fe80::1%eth0\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': 'fe80::1%eth0' is "
	    "not an IP address" },
	{ "relay_networks twice", H "relay_networks = 10.0.0.0/8, "
	    "::ffff:10.0.0.0/104\n", { NULL }, "ERR t.conf:2: key "
	    "'relay_networks': '::ffff:10.0.0.0/104' is listed twice" },
	{ "relay_networks UTF-8", H "relay_networks = 10.0.0.\xc3\xa9\n",
	    { NULL }, "ERR t.conf:2: key 'relay_networks': '10.0.0.\\xc3\\xa9' "
	    "is not an IP address" },
	{ "allow_open_relay default", H, { NULL }, "allow_open_relay = no" },
	{ "allow_open_relay yes", H "allow_open_relay = yes\n", { NULL },
	    "allow_open_relay = yes" },
	{ "allow_open_relay bad", H "allow_open_relay = sure\n", { NULL },
	    "ERR t.conf:2: key 'allow_open_relay': 'sure' is not a boolean" },

	{ "smarthost default", H, { NULL }, "smarthost =" },
	{ "smarthost blank", H "smarthost =   \n", { NULL }, "smarthost =" },
	{ "smarthost name", H "smarthost = Relay.ISP.test\n", { NULL },
	    "smarthost = relay.isp.test:25 tls=may" },
	{ "smarthost port", H "smarthost = relay.isp.test:0587\n", { NULL },
	    "smarthost = relay.isp.test:587 tls=may" },
	{ "smarthost tls", H "smarthost = relay.isp.test:587   TLS=Require\n",
	    { NULL }, "smarthost = relay.isp.test:587 tls=require" },
	{ "smarthost tls from relay_tls", H "relay_tls = verify\n"
	    "smarthost = relay.isp.test\n", { NULL },
	    "smarthost = relay.isp.test:25 tls=verify" },
	{ "smarthost tls over relay_tls", H "relay_tls = verify\n"
	    "smarthost = relay.isp.test tls=none\n", { NULL },
	    "smarthost = relay.isp.test:25 tls=none" },
	{ "smarthost IPv4", H "smarthost = 192.0.2.25:2525\n", { NULL },
	    "smarthost = 192.0.2.25:2525 tls=may" },
	{ "smarthost IPv6", H "smarthost = [2001:DB8:0::25]\n", { NULL },
	    "smarthost = [2001:db8::25]:25 tls=may" },
	{ "smarthost IPv6 port", H "smarthost = [::1]:2525 tls=verify\n",
	    { NULL }, "smarthost = [::1]:2525 tls=verify" },
	{ "smarthost one label", H "smarthost = relay\n", { NULL },
	    "smarthost = relay:25 tls=may" },
	{ "smarthost IPv6 without brackets", H "smarthost = 2001:db8::25\n",
	    { NULL }, "ERR t.conf:2: key 'smarthost': '2001:db8::25': an IPv6 "
	    "address needs brackets, as in [2001:db8::1]:25" },
	{ "smarthost name in brackets", H "smarthost = [relay.isp.test]:587\n",
	    { NULL }, "ERR t.conf:2: key 'smarthost': '[relay.isp.test]:587': "
	    "brackets are only for IPv6 addresses; write relay.isp.test "
	    "without them" },
	{ "smarthost IPv4 in brackets", H "smarthost = [192.0.2.1]\n",
	    { NULL }, "ERR t.conf:2: key 'smarthost': '[192.0.2.1]': brackets "
	    "are only for IPv6 addresses" },
	{ "smarthost junk in brackets", H "smarthost = [a_b]\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': '[a_b]' is not an IPv6 address" },
	{ "smarthost empty brackets", H "smarthost = []:25\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': '[]:25' is not an IPv6 address" },
	{ "smarthost unclosed", H "smarthost = [::1:25\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': '[::1:25' has '[' but no ']'" },
	{ "smarthost junk after ]", H "smarthost = [::1]x\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': '[::1]x': only :PORT may follow "
	    "']'" },
	{ "smarthost bad port", H "smarthost = relay.isp.test:smtp\n",
	    { NULL }, "ERR t.conf:2: key 'smarthost': 'relay.isp.test:smtp' "
	    "has a bad port; the port is a number from 1 to 65535" },
	{ "smarthost empty port", H "smarthost = [::1]:\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': '[::1]:' has a bad port" },
	{ "smarthost port 65536", H "smarthost = a.test:65536\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': 'a.test:65536' has a bad port" },
	{ "smarthost no host", H "smarthost = :25\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': ':25' has no host" },
	{ "smarthost bad name", H "smarthost = relay_1.isp.test\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': 'relay_1.isp.test' may only hold "
	    "letters, digits, '-' and '.'; use a host name such as "
	    "smtp.example.org or an IP address" },
	{ "smarthost bad IPv4", H "smarthost = 192.0.2.256\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': '192.0.2.256' ends in an "
	    "all-numeric label" },
	{ "smarthost bad tls", H "smarthost = a.test tls=always\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': 'tls=always' is not a TLS policy; "
	    "use tls=none, tls=may, tls=verify or tls=require" },
	{ "smarthost empty tls", H "smarthost = a.test tls=\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': 'tls=' is not a TLS policy" },
	{ "smarthost tls twice", H "smarthost = a.test tls=may tls=none\n",
	    { NULL }, "ERR t.conf:2: key 'smarthost': 'tls=none': tls= is "
	    "given twice" },
	{ "smarthost unknown option", H "smarthost = a.test auth=yes\n",
	    { NULL }, "ERR t.conf:2: key 'smarthost': 'auth=yes' is not an "
	    "option; after HOST[:PORT] only tls=none, tls=may, tls=verify or "
	    "tls=require may follow" },
	{ "smarthost two hosts", H "smarthost = a.test, b.test\n", { NULL },
	    "ERR t.conf:2: key 'smarthost': 'a.test,' may only hold" },
	{ "smarthost on two lines", H "smarthost = a.test\n  tls=none\n",
	    { NULL }, "ERR t.conf:3: key 'smarthost': the value must be on one "
	    "line" },

	{ "dns_resolver default", H, { NULL }, "dns_resolver =" },
	{ "dns_resolver IPv4", H "dns_resolver = 127.0.0.53\n", { NULL },
	    "dns_resolver = 127.0.0.53:53" },
	{ "dns_resolver IPv6 port", H "dns_resolver = [::1]:5353\n", { NULL },
	    "dns_resolver = [::1]:5353" },
	{ "dns_resolver name", H "dns_resolver = dns.isp.test\n", { NULL },
	    "ERR t.conf:2: key 'dns_resolver': 'dns.isp.test' is not an IP "
	    "address; dns_resolver must be an address" },
	{ "dns_resolver name and port", H "dns_resolver = ns:53\n", { NULL },
	    "ERR t.conf:2: key 'dns_resolver': 'ns' is not an IP address" },
	{ "dns_resolver IPv6 bare", H "dns_resolver = ::1\n", { NULL },
	    "ERR t.conf:2: key 'dns_resolver': '::1': an IPv6 address needs "
	    "brackets, as in [2001:db8::1]:53" },
	{ "dns_resolver option", H "dns_resolver = 127.0.0.1 tls=none\n",
	    { NULL }, "ERR t.conf:2: key 'dns_resolver': 'tls=none' after the "
	    "address; dns_resolver takes only ADDR[:PORT]" },
	{ "dns_resolver bad port", H "dns_resolver = 127.0.0.1:0\n", { NULL },
	    "ERR t.conf:2: key 'dns_resolver': '127.0.0.1:0' has a bad port" },

	{ "routes default", H, { NULL }, "routes =" },
	{ "routes sorted, defaults filled", HD "routes =\n"
	    "    Z.test: mx.z.test\n    c.test: [2001:db8::1]:2525 tls=none\n"
	    "    m.test: 192.0.2.1:587 tls=verify\n", { NULL }, "routes =\n"
	    "    c.test: [2001:db8::1]:2525 tls=none\n"
	    "    m.test: 192.0.2.1:587 tls=verify\n"
	    "    z.test: mx.z.test:25 tls=may" },
	{ "routes by ';'", HD "routes = y.test: a.test; x.test: b.test;\n",
	    { NULL }, "routes =\n    x.test: b.test:25 tls=may\n"
	    "    y.test: a.test:25 tls=may" },
	{ "routes tls from relay_tls", H "relay_tls = require\n"
	    "routes = x.test: relay.test\n", { NULL },
	    "routes =\n    x.test: relay.test:25 tls=require" },
	{ "routes subdomain of local", HD "routes = sub.a.test: relay.test\n",
	    { NULL }, "routes =\n    sub.a.test: relay.test:25 tls=may" },
	{ "routes to a local host name", HD "routes = x.test: a.test\n",
	    { NULL }, "routes =\n    x.test: a.test:25 tls=may" },
	{ "routes by -o", H, { "routes=x.test: [::1]:2525", NULL },
	    "routes =\n    x.test: [::1]:2525 tls=may" },
	{ "routes no colon", H "routes =\n  x.test relay.test\n", { NULL },
	    "ERR t.conf:3: key 'routes': 'x.test relay.test' has no ':'; write "
	    "\"DOMAIN: HOST[:PORT] [tls=POLICY]\"" },
	{ "routes no host", H "routes = x.test:\n", { NULL },
	    "ERR t.conf:2: key 'routes': route for 'x.test' has no host" },
	{ "routes no domain", H "routes = : relay.test\n", { NULL },
	    "ERR t.conf:2: key 'routes': route ': relay.test': the domain '' "
	    "is empty" },
	{ "routes bad domain", H "routes = *.x.test: relay.test\n", { NULL },
	    "ERR t.conf:2: key 'routes': route '*.x.test: relay.test': the "
	    "domain '*.x.test' may only hold" },
	{ "routes local domain", HD "routes = x.test: r.test\n  B.Test: "
	    "r.test\n", { NULL }, "ERR t.conf:4: key 'routes': route for "
	    "'B.Test': it is a local domain (key 'domains')" },
	{ "routes default domain is local", H "routes = mx.a.test: r.test\n",
	    { NULL }, "ERR t.conf:2: key 'routes': route for 'mx.a.test': it "
	    "is a local domain" },
	{ "routes twice", H "routes =\n  x.test: a.test\n  y.test: b.test\n"
	    "  X.TEST: c.test\n", { NULL }, "ERR t.conf:5: key 'routes': "
	    "'x.test' has two routes, the first on line 3; keep one" },
	{ "routes twice on one line", H "routes = x.test: a.test; x.test: "
	    "a.test\n", { NULL }, "ERR t.conf:2: key 'routes': 'x.test' has "
	    "two routes, the first on line 2" },
	{ "routes twice by -o", H, { "routes=x.test: a.test; x.test: b.test",
	    NULL }, "ERR -o routes=x.test: a.test; x.test: b.test: key "
	    "'routes': 'x.test' has two routes; keep one" },
	{ "routes bad host", H "routes = x.test: relay.test.\n", { NULL },
	    "ERR t.conf:2: key 'routes': 'relay.test.' has an empty label" },
	{ "routes IPv6 without brackets", H "routes = x.test: ::1\n",
	    { NULL }, "ERR t.conf:2: key 'routes': '::1': an IPv6 address "
	    "needs brackets" },
	{ "routes bad tls", H "routes =\n  x.test: a.test\n"
	    "  y.test: b.test tls=maybe\n", { NULL }, "ERR t.conf:4: key "
	    "'routes': 'tls=maybe' is not a TLS policy" },
	{ "routes two hosts", H "routes = x.test: a.test b.test\n", { NULL },
	    "ERR t.conf:2: key 'routes': 'b.test' is not an option" },

	{ "relay_port default", H, { NULL }, "relay_port = 25" },
	{ "relay_port 2525", H "relay_port = 02525\n", { NULL },
	    "relay_port = 2525" },
	{ "relay_port 65535", H "relay_port = 65535\n", { NULL },
	    "relay_port = 65535" },
	{ "relay_port 0", H "relay_port = 0\n", { NULL },
	    "ERR t.conf:2: key 'relay_port': '0' is not a port; use a number "
	    "from 1 to 65535" },
	{ "relay_port 65536", H "relay_port = 65536\n", { NULL },
	    "ERR t.conf:2: key 'relay_port': '65536' is not a port" },
	{ "relay_port name", H "relay_port = smtp\n", { NULL },
	    "ERR t.conf:2: key 'relay_port': 'smtp' is not a port" },
	{ "relay_port empty", H "relay_port =\n", { NULL },
	    "ERR t.conf:2: key 'relay_port': the value is empty" },
	{ "relay_tls default", H, { NULL }, "relay_tls = may" },
	{ "relay_tls none", H "relay_tls = none\n", { NULL },
	    "relay_tls = none" },
	{ "relay_tls Verify", H "relay_tls = Verify\n", { NULL },
	    "relay_tls = verify" },
	{ "relay_tls require", H "relay_tls = require\n", { NULL },
	    "relay_tls = require" },
	{ "relay_tls bad", H "relay_tls = yes\n", { NULL },
	    "ERR t.conf:2: key 'relay_tls': 'yes' is not a TLS policy; use "
	    "may, none, verify or require" },
	{ "relay_tls empty", H "relay_tls =\n", { NULL },
	    "ERR t.conf:2: key 'relay_tls': the value is empty" },

	{ "concurrency default", H, { NULL },
	    "relay_destination_concurrency = 4" },
	{ "concurrency 1", H "relay_destination_concurrency = 1\n", { NULL },
	    "relay_destination_concurrency = 1" },
	{ "concurrency 100", H "relay_destination_concurrency = 100\n",
	    { NULL }, "relay_destination_concurrency = 100" },
	{ "concurrency 0", H "relay_destination_concurrency = 0\n", { NULL },
	    "ERR t.conf:2: key 'relay_destination_concurrency': '0' is out of "
	    "range; allowed is 1 to 100" },
	{ "concurrency 101", H "relay_destination_concurrency = 101\n",
	    { NULL }, "ERR t.conf:2: key 'relay_destination_concurrency': "
	    "'101' is out of range" },
	{ "connect_timeout default", H, { NULL },
	    "relay_connect_timeout = 30s" },
	{ "connect_timeout 1s", H "relay_connect_timeout = 1\n", { NULL },
	    "relay_connect_timeout = 1s" },
	{ "connect_timeout 1h", H "relay_connect_timeout = 1h\n", { NULL },
	    "relay_connect_timeout = 3600s" },
	{ "connect_timeout 0", H "relay_connect_timeout = 0\n", { NULL },
	    "ERR t.conf:2: key 'relay_connect_timeout': '0' is out of range; "
	    "allowed is 1s to 1h" },
	{ "connect_timeout 61m", H "relay_connect_timeout = 61m\n", { NULL },
	    "ERR t.conf:2: key 'relay_connect_timeout': '61m' is out of "
	    "range" },
	{ "command_timeout default", H, { NULL },
	    "relay_command_timeout = 300s" },
	{ "command_timeout 10m", H "relay_command_timeout = 10m\n", { NULL },
	    "relay_command_timeout = 600s" },
	{ "command_timeout 2h", H "relay_command_timeout = 2h\n", { NULL },
	    "ERR t.conf:2: key 'relay_command_timeout': '2h' is out of range; "
	    "allowed is 1s to 1h" },
	{ "data_timeout default", H, { NULL }, "relay_data_timeout = 600s" },
	{ "data_timeout 20m", H "relay_data_timeout = 20m\n", { NULL },
	    "relay_data_timeout = 1200s" },
	{ "data_timeout bad", H "relay_data_timeout = 10 m\n", { NULL },
	    "ERR t.conf:2: key 'relay_data_timeout': '10 m' is not a "
	    "duration" },
	{ "retry_first default", H, { NULL }, "retry_first = 300s" },
	{ "retry_first 1s", H "retry_first = 1s\n", { NULL },
	    "retry_first = 1s" },
	{ "retry_first 1d", H "retry_first = 1d\nretry_max = 1d\n", { NULL },
	    "retry_first = 86400s" },
	{ "retry_first 0", H "retry_first = 0\n", { NULL },
	    "ERR t.conf:2: key 'retry_first': '0' is out of range; allowed is "
	    "1s to 24h" },
	{ "retry_first 25h", H "retry_first = 25h\n", { NULL },
	    "ERR t.conf:2: key 'retry_first': '25h' is out of range" },
	{ "retry_first over default max", H "retry_first = 2h\n", { NULL },
	    "ERR t.conf:2: key 'retry_first': '2h' does not fit retry_max's "
	    "default of 1h; set retry_max too, to at least retry_first" },
	{ "retry_max default", H, { NULL }, "retry_max = 3600s" },
	{ "retry_max equal", H "retry_first = 10m\nretry_max = 600\n",
	    { NULL }, "retry_max = 600s" },
	{ "retry_max 30d", H "retry_max = 30d\n", { NULL },
	    "retry_max = 2592000s" },
	{ "retry_max 31d", H "retry_max = 31d\n", { NULL },
	    "ERR t.conf:2: key 'retry_max': '31d' is out of range; allowed is "
	    "1s to 30d" },
	{ "retry_max below first", H "retry_first = 10m\nretry_max = 9m\n",
	    { NULL }, "ERR t.conf:3: key 'retry_max': '9m' is shorter than "
	    "retry_first (10m)" },
	{ "retry_max below default first", H "retry_max = 1m\n", { NULL },
	    "ERR t.conf:2: key 'retry_max': '1m' is shorter than retry_first "
	    "(5m)" },
	{ "retry_max below first by -o", H "retry_max = 10m\n",
	    { "retry_first=11m", NULL }, "ERR t.conf:2: key 'retry_max': "
	    "'10m' is shorter than retry_first (11m)" },
	{ "lifetime default", H, { NULL }, "max_queue_lifetime = 432000s" },
	{ "lifetime 30d", H "max_queue_lifetime = 30d\n", { NULL },
	    "max_queue_lifetime = 2592000s" },
	{ "lifetime 1s, no warnings", H "max_queue_lifetime = 1s\n"
	    "delay_warning_time = 0\n", { NULL }, "max_queue_lifetime = 1s" },
	{ "lifetime 0", H "max_queue_lifetime = 0\n", { NULL },
	    "ERR t.conf:2: key 'max_queue_lifetime': '0' is out of range; "
	    "allowed is 1s to 30d" },
	{ "lifetime 31d", H "max_queue_lifetime = 31d\n", { NULL },
	    "ERR t.conf:2: key 'max_queue_lifetime': '31d' is out of range" },
	{ "lifetime under default warning", H "max_queue_lifetime = 4h\n",
	    { NULL }, "ERR t.conf:2: key 'max_queue_lifetime': '4h' does not "
	    "fit delay_warning_time's default of 4h; set delay_warning_time "
	    "too" },
	{ "warning default", H, { NULL }, "delay_warning_time = 14400s" },
	{ "warning 0", H "delay_warning_time = 0\n", { NULL },
	    "delay_warning_time = 0s" },
	{ "warning just under", H "max_queue_lifetime = 1d\n"
	    "delay_warning_time = 86399\n", { NULL },
	    "delay_warning_time = 86399s" },
	{ "warning equal", H "max_queue_lifetime = 1d\n"
	    "delay_warning_time = 24h\n", { NULL }, "ERR t.conf:3: key "
	    "'delay_warning_time': '24h' is not shorter than "
	    "max_queue_lifetime (24h)" },
	{ "warning over default lifetime", H "delay_warning_time = 6d\n",
	    { NULL }, "ERR t.conf:2: key 'delay_warning_time': '6d' is not "
	    "shorter than max_queue_lifetime (5d)" },
	{ "warning 31d", H "delay_warning_time = 31d\n", { NULL },
	    "ERR t.conf:2: key 'delay_warning_time': '31d' is out of range; "
	    "allowed is 0s to 30d; 0 means no delay warnings" },
};

static void
test_relay(void **state)
{
	(void)state;
	RUN(relay_cases);
}

/* TLS and AUTH */
static const struct conf_case tls_auth_cases[] = {
	{ "tls_cert default", H, { NULL }, "tls_cert =" },
	{ "tls_key default", H, { NULL }, "tls_key =" },
	{ "tls pair", H "tls_cert = /etc/letsencrypt/live/mx.a.test/"
	    "fullchain.pem\ntls_key = /etc/letsencrypt/live/mx.a.test/"
	    "privkey.pem\n", { NULL },
	    "tls_key = /etc/letsencrypt/live/mx.a.test/privkey.pem" },
	{ "tls two pairs", H "tls_cert = rsa.pem,\n  ecdsa.pem\n"
	    "tls_key = rsa.key ecdsa.key\n", { NULL },
	    "tls_cert = rsa.pem, ecdsa.pem" },
	{ "tls files need not exist", H "tls_cert = /nonexistent/c.pem\n"
	    "tls_key = /nonexistent/k.pem\n", { NULL },
	    "tls_cert = /nonexistent/c.pem" },
	{ "tls one file for both", H "tls_cert = both.pem\n"
	    "tls_key = both.pem\n", { NULL }, "tls_key = both.pem" },
	{ "tls_key missing", H "tls_cert = a.pem, b.pem\n", { NULL },
	    "ERR t.conf:2: key 'tls_cert': tls_cert lists 2 files but tls_key "
	    "0; list one key file per certificate file, in the same order" },
	{ "tls_key short", H "tls_cert = a.pem b.pem\ntls_key = a.key\n",
	    { NULL }, "ERR t.conf:3: key 'tls_key': tls_cert lists 2 files but "
	    "tls_key 1" },
	{ "tls_cert missing", H "tls_key = a.key\n", { NULL },
	    "ERR t.conf:2: key 'tls_key': tls_cert lists 0 files but tls_key "
	    "1" },
	{ "tls_key long", H "tls_cert = a.pem\ntls_key = a.key b.key\n",
	    { NULL }, "ERR t.conf:3: key 'tls_key': tls_cert lists 1 file but "
	    "tls_key 2" },
	{ "tls_key by -o", H "tls_cert = a.pem\n", { "tls_key=a.key", NULL },
	    "tls_key = a.key" },
	{ "tls_cert comment", H "tls_cert = a.pem # the chain\n", { NULL },
	    "ERR t.conf:2: key 'tls_cert': '#' starts with '#'; a comment must "
	    "start its own line" },
	{ "tls_key comment", H "tls_cert = a.pem\ntls_key = #a.key\n",
	    { NULL }, "ERR t.conf:3: key 'tls_key': '#a.key' starts with '#'" },
	{ "tls_ca_file default", H, { NULL }, "tls_ca_file =" },
	{ "tls_ca_file", H "tls_ca_file = /etc/ssl/certs/ca-certificates.crt"
	    "\n", { NULL },
	    "tls_ca_file = /etc/ssl/certs/ca-certificates.crt" },
	{ "tls_ca_file two lines", H "tls_ca_file = a\n  b\n", { NULL },
	    "ERR t.conf:3: key 'tls_ca_file': the value must be on one line" },
	{ "tls_ca_file comment", H "tls_ca_file = # none\n", { NULL },
	    "ERR t.conf:2: key 'tls_ca_file': '# none' starts with '#'" },
	{ "tls_min_version default", H, { NULL },
	    "tls_min_version = TLSv1.2" },
	{ "tls_min_version 1.3", H "tls_min_version = tlsv1.3\n", { NULL },
	    "tls_min_version = TLSv1.3" },
	{ "tls_min_version 1.2", H "tls_min_version = TLSv1.2\n", { NULL },
	    "tls_min_version = TLSv1.2" },
	{ "tls_min_version 1.1", H "tls_min_version = TLSv1.1\n", { NULL },
	    "ERR t.conf:2: key 'tls_min_version': 'TLSv1.1' is too old (RFC "
	    "8996 retires TLS 1.0 and 1.1); use TLSv1.2 or TLSv1.3" },
	{ "tls_min_version SSLv3", H "tls_min_version = SSLv3\n", { NULL },
	    "ERR t.conf:2: key 'tls_min_version': 'SSLv3' is too old" },
	{ "tls_min_version 1.2 bare", H "tls_min_version = 1.2\n", { NULL },
	    "ERR t.conf:2: key 'tls_min_version': '1.2' is not a TLS version; "
	    "use TLSv1.2 or TLSv1.3" },
	{ "tls_min_version empty", H "tls_min_version =\n", { NULL },
	    "ERR t.conf:2: key 'tls_min_version': the value is empty" },
	{ "tls_ciphers default", H, { NULL }, "tls_ciphers =" },
	{ "tls_ciphers", H "tls_ciphers = ECDHE+AESGCM:ECDHE+CHACHA20:"
	    "!aNULL\n", { NULL },
	    "tls_ciphers = ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL" },
	{ "tls_ciphers with spaces", H "tls_ciphers = HIGH !aNULL "
	    "@SECLEVEL=2\n", { NULL }, "tls_ciphers = HIGH !aNULL @SECLEVEL=2" },
	{ "tls_ciphers bad", H "tls_ciphers = HIGH;!MD5\n", { NULL },
	    "ERR t.conf:2: key 'tls_ciphers': 'HIGH;!MD5' is not a cipher "
	    "list; an OpenSSL cipher list holds letters, digits, spaces and "
	    "-_:+!@=., only" },
	{ "tls_ciphers two lines", H "tls_ciphers = HIGH\n  :!MD5\n", { NULL },
	    "ERR t.conf:3: key 'tls_ciphers': the value must be on one line" },
	{ "users default", H, { NULL }, "users =" },
	{ "users", H "users = /etc/tern/users\n", { NULL },
	    "users = /etc/tern/users" },
	{ "users file need not exist", H "users = /nonexistent\n", { NULL },
	    "users = /nonexistent" },
	{ "users two lines", H "users = a\n  b\n", { NULL },
	    "ERR t.conf:3: key 'users': the value must be on one line" },
	{ "auth_over_plaintext default", H, { NULL },
	    "auth_over_plaintext = no" },
	{ "auth_over_plaintext yes", H "auth_over_plaintext = on\n", { NULL },
	    "auth_over_plaintext = yes" },
	{ "auth_over_plaintext bad", H "auth_over_plaintext = tests\n",
	    { NULL }, "ERR t.conf:2: key 'auth_over_plaintext': 'tests' is "
	    "not a boolean" },
	{ "auth_max_failures default", H, { NULL }, "auth_max_failures = 5" },
	{ "auth_max_failures 1", H "auth_max_failures = 1\n", { NULL },
	    "auth_max_failures = 1" },
	{ "auth_max_failures 1000", H "auth_max_failures = 1000\n", { NULL },
	    "auth_max_failures = 1000" },
	{ "auth_max_failures 0", H "auth_max_failures = 0\n", { NULL },
	    "ERR t.conf:2: key 'auth_max_failures': '0' is out of range; "
	    "allowed is 1 to 1000" },
	{ "auth_max_failures 1001", H "auth_max_failures = 1001\n", { NULL },
	    "ERR t.conf:2: key 'auth_max_failures': '1001' is out of range" },
	{ "received_auth default", H, { NULL }, "received_auth = yes" },
	{ "received_auth no", H "received_auth = no\n", { NULL },
	    "received_auth = no" },
	{ "received_auth bad", H "received_auth = never\n", { NULL },
	    "ERR t.conf:2: key 'received_auth': 'never' is not a boolean" },
	{ "sender_login_match default", H, { NULL },
	    "sender_login_match = yes" },
	{ "sender_login_match off", H "sender_login_match = off\n", { NULL },
	    "sender_login_match = no" },
	{ "sender_login_match bad", H "sender_login_match = strict\n",
	    { NULL }, "ERR t.conf:2: key 'sender_login_match': 'strict' is not "
	    "a boolean" },
};

static void
test_tls_auth(void **state)
{
	(void)state;
	RUN(tls_auth_cases);
}

/* conf_relay_allowed: may a client at this address relay? */
struct relay_allowed_case {
	const char *name, *conf, *ip;
	int want;
};

#define NETS(s) H "relay_networks = " s "\n"
#define OPEN H "allow_open_relay = yes\nrelay_networks = "

static const struct relay_allowed_case relay_allowed_cases[] = {
	{ "default v4 loopback", H, "127.0.0.1", 1 },
	{ "default v4 loopback, other", H, "127.255.0.9", 1 },
	{ "default v6 loopback", H, "::1", 1 },
	{ "default mapped loopback", H, "::ffff:127.0.0.1", 1 },
	{ "default other v4", H, "192.0.2.1", 0 },
	{ "default other v6", H, "2001:db8::1", 0 },
	{ "default ::2", H, "::2", 0 },
	{ "/24 inside", NETS("192.0.2.0/24"), "192.0.2.255", 1 },
	{ "/24 first", NETS("192.0.2.0/24"), "192.0.2.0", 1 },
	{ "/24 outside", NETS("192.0.2.0/24"), "192.0.3.0", 0 },
	{ "/25 odd bits in", NETS("192.0.2.128/25"), "192.0.2.200", 1 },
	{ "/25 odd bits out", NETS("192.0.2.128/25"), "192.0.2.127", 0 },
	{ "/32 exact", NETS("192.0.2.7/32"), "192.0.2.7", 1 },
	{ "/32 next", NETS("192.0.2.7/32"), "192.0.2.8", 0 },
	{ "bare v4 is /32", NETS("192.0.2.7"), "192.0.2.6", 0 },
	{ "/32 mapped", NETS("192.0.2.7"), "::ffff:192.0.2.7", 1 },
	{ "/32 mapped upper case", NETS("192.0.2.7"), "::FFFF:192.0.2.7", 1 },
	{ "v4 net, v6 client", NETS("192.0.2.0/24"), "::192.0.2.1", 0 },
	{ "mapped net, v4 client", NETS("::ffff:192.0.2.0/120"),
	    "192.0.2.9", 1 },
	{ "/128 exact", NETS("2001:db8::7/128"), "2001:db8::7", 1 },
	{ "/128 next", NETS("2001:db8::7/128"), "2001:db8::8", 0 },
	{ "bare v6 is /128", NETS("[2001:db8::7]"), "2001:db8::7", 1 },
	{ "/48 inside", NETS("2001:db8:1::/48"), "2001:db8:1:ffff::1", 1 },
	{ "/48 outside", NETS("2001:db8:1::/48"), "2001:db8:2::1", 0 },
	{ "/61 odd bits", NETS("2001:db8:0:8::/61"), "2001:db8:0:f::1", 1 },
	{ "/61 odd bits out", NETS("2001:db8:0:8::/61"), "2001:db8:0:7::1", 0 },
	{ "v6 net, v4 client", NETS("::/16"), "10.0.0.1", 0 },
	{ "/0 v4 everyone", OPEN "0.0.0.0/0\n", "203.0.113.9", 1 },
	{ "/0 v4 mapped", OPEN "0.0.0.0/0\n", "::ffff:203.0.113.9", 1 },
	{ "/0 v4 not v6", OPEN "0.0.0.0/0\n", "2001:db8::1", 0 },
	{ "/0 v6 everyone", OPEN "::/0\n", "2001:db8::1", 1 },
	{ "/0 v6 not v4", OPEN "::/0\n", "203.0.113.9", 0 },
	{ "/0 v6 not mapped", OPEN "::/0\n", "::ffff:203.0.113.9", 0 },
	{ "/8 edge in", NETS("10.0.0.0/8"), "10.255.255.255", 1 },
	{ "/8 edge out", NETS("10.0.0.0/8"), "11.0.0.0", 0 },
	{ "second entry", NETS("192.0.2.0/24, 2001:db8::/32"),
	    "2001:db8:ffff::1", 1 },
	{ "empty list v4", NETS(""), "127.0.0.1", 0 },
	{ "empty list v6", NETS(""), "::1", 0 },
	{ "not an address", H, "localhost", 0 },
	{ "empty string", H, "", 0 },
	{ "brackets", H, "[::1]", 0 },
	{ "with port", H, "127.0.0.1:25", 0 },
	{ "trailing junk", H, "127.0.0.1 ", 0 },
	{ "NULL", H, NULL, 0 },
};

static void
test_relay_allowed(void **state)
{
	struct conf c;
	struct conf_err err;
	size_t i;
	int bad = 0, got;

	(void)state;
	for (i = 0; i < NITEMS(relay_allowed_cases); i++) {
		const struct relay_allowed_case *tc = &relay_allowed_cases[i];

		if (load(tc->conf, NULL, &c, &err) < 0)
			fail_msg("case %s: load: %s", tc->name, err.msg);
		got = conf_relay_allowed(&c, tc->ip);
		if (got != tc->want) {
			print_error("case %s: got %d, want %d\n", tc->name,
			    got, tc->want);
			bad++;
		}
		conf_free(&c);
	}
	if (bad)
		fail();
}

/* conf_route_for: where mail for a domain goes */
struct route_case {
	const char *name, *conf, *domain;
	const char *want; /* "host port tls", or "" for NULL (MX lookup) */
};

#define ROUTES H "routes = b.test: [::1]:2525 tls=none; " \
	"d.test: relay.d.test; a.test: 192.0.2.1:587 tls=verify\n"
#define SMART "smarthost = smart.test:587 tls=require\n"

static const struct route_case route_cases[] = {
	{ "route", ROUTES, "b.test", "::1 2525 none" },
	{ "route default port and tls", ROUTES, "d.test",
	    "relay.d.test 25 may" },
	{ "route first", ROUTES, "a.test", "192.0.2.1 587 verify" },
	{ "route case", ROUTES, "B.TeSt", "::1 2525 none" },
	{ "no route, no smarthost", ROUTES, "c.test", "" },
	{ "no subdomain match", ROUTES, "x.b.test", "" },
	{ "no parent match", ROUTES, "test", "" },
	{ "no prefix match", ROUTES, "b.tes", "" },
	{ "no longer match", ROUTES, "b.testx", "" },
	{ "no trailing dot", ROUTES, "b.test.", "" },
	{ "empty domain", ROUTES, "", "" },
	{ "NULL domain", ROUTES, NULL, "" },
	{ "route over smarthost", ROUTES SMART, "b.test", "::1 2525 none" },
	{ "smarthost fallback", ROUTES SMART, "c.test",
	    "smart.test 587 require" },
	{ "smarthost, no routes", H SMART, "anything.test",
	    "smart.test 587 require" },
	{ "smarthost for NULL", H SMART, NULL, "smart.test 587 require" },
	{ "nothing", H, "a.test", "" },
	{ "relay_tls default", H "relay_tls = none\n"
	    "smarthost = [2001:db8::1]\n", "x.test", "2001:db8::1 25 none" },
};

static void
test_route_for(void **state)
{
	static const char *const tls[] = { [TLS_MAY] = "may",
	    [TLS_NONE] = "none", [TLS_VERIFY] = "verify",
	    [TLS_REQUIRE] = "require" };
	struct conf c;
	struct conf_err err;
	const struct conf_hop *h;
	char got[256];
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < NITEMS(route_cases); i++) {
		const struct route_case *tc = &route_cases[i];

		if (load(tc->conf, NULL, &c, &err) < 0)
			fail_msg("case %s: load: %s", tc->name, err.msg);
		h = conf_route_for(&c, tc->domain);
		got[0] = '\0';
		if (h != NULL)
			snprintf(got, sizeof(got), "%s %s %s", h->host,
			    h->port, tls[h->tls]);
		if (strcmp(got, tc->want) != 0) {
			print_error("case %s: got \"%s\", want \"%s\"\n",
			    tc->name, got, tc->want);
			bad++;
		}
		/* the hop lives in c */
		if (h != NULL && h != &c.smarthost) {
			size_t j;

			for (j = 0; j < c.nroutes && h != &c.routes[j].hop;
			    j++)
				;
			assert_true(j < c.nroutes);
		}
		conf_free(&c);
	}
	if (bad)
		fail();
}

/* conf_resolve: which mailboxes an address reaches */
struct resolve_case {
	const char *name, *local, *domain;
	size_t max;
	const char *want; /* "a@x b@y", "" for unknown, "-1" */
};

static const char resolve_conf[] = HD
    "mailboxes = alice, bob, carol@b.test, Info\n"
    "aliases =\n"
    "    abuse: alice\n"
    "    abuse@b.test: carol\n"
    "    team@a.test: alice, bob, alice, Bob@A.test\n"
    "    all: team@a.test, carol@b.test, bob\n"
    "    info@b.test: bob, info@a.test\n"
    "    sales: all, team@a.test\n";

static const struct resolve_case resolve_cases[] = {
	{ "mailbox", "alice", "a.test", 8, "alice@a.test" },
	{ "mailbox case", "ALICE", "A.Test", 8, "alice@a.test" },
	{ "mailbox other domain", "bob", "b.test", 8, "bob@b.test" },
	{ "mailbox only in one domain", "carol", "a.test", 8, "" },
	{ "unknown", "zed", "a.test", 8, "" },
	{ "not local", "alice", "c.test", 8, "" },
	{ "domain-wide alias", "abuse", "a.test", 8, "alice@a.test" },
	{ "domain alias over domain-wide", "abuse", "b.test", 8,
	    "carol@b.test" },
	{ "alias case", "AbUsE", "B.TEST", 8, "carol@b.test" },
	{ "dedup", "team", "a.test", 8, "alice@a.test bob@a.test" },
	{ "alias of one domain only", "team", "b.test", 8, "" },
	{ "target in same domain", "all", "b.test", 8,
	    "alice@a.test bob@a.test bob@b.test carol@b.test" },
	{ "nested dedup", "sales", "a.test", 8,
	    "alice@a.test bob@a.test carol@b.test" },
	{ "alias shadows mailbox", "info", "b.test", 8,
	    "info@a.test bob@b.test" },
	{ "mailbox where no alias", "info", "a.test", 8, "info@a.test" },
	{ "postmaster", "Postmaster", "b.test", 8, "postmaster@b.test" },
	{ "max exact", "team", "a.test", 2, "alice@a.test bob@a.test" },
	{ "more than max", "team", "a.test", 1, "-1" },
	{ "max 0", "alice", "a.test", 0, "-1" },
	{ "max 0 unknown", "zed", "a.test", 0, "" },
	{ "@ in local", "abuse@b.test", "a.test", 8, "" },
	{ "empty local", "", "a.test", 8, "" },
};

static void
test_resolve(void **state)
{
	struct conf c;
	struct conf_err err;
	const struct mbox *out[8];
	char got[256];
	size_t i, j, o;
	int n, bad = 0;

	(void)state;
	if (load(resolve_conf, NULL, &c, &err) < 0)
		fail_msg("load: %s", err.msg);
	for (i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]);
	    i++) {
		const struct resolve_case *tc = &resolve_cases[i];

		n = conf_resolve(&c, tc->local, tc->domain, out, tc->max);
		got[0] = '\0';
		if (n < 0)
			snprintf(got, sizeof(got), "%d", n);
		for (j = 0, o = 0; n > 0 && j < (size_t)n; j++)
			o += (size_t)snprintf(got + o, sizeof(got) - o,
			    "%s%s@%s", j ? " " : "", out[j]->user,
			    out[j]->domain);
		if (strcmp(got, tc->want) != 0) {
			print_error("case %s: got \"%s\", want \"%s\"\n",
			    tc->name, got, tc->want);
			bad++;
		}
		/* every pointer points into c.mboxes */
		for (j = 0; n > 0 && j < (size_t)n; j++)
			assert_true(out[j] >= c.mboxes &&
			    out[j] < c.mboxes + c.nmboxes);
	}
	conf_free(&c);
	if (bad)
		fail();
}

static void
test_lookups(void **state)
{
	struct conf c;
	struct conf_err err;
	const struct mbox *m;

	(void)state;
	if (load(resolve_conf, NULL, &c, &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(conf_is_local_domain(&c, "a.test"), 1);
	assert_int_equal(conf_is_local_domain(&c, "B.TeSt"), 1);
	assert_int_equal(conf_is_local_domain(&c, "c.test"), 0);
	assert_int_equal(conf_is_local_domain(&c, "a.test."), 0);
	assert_int_equal(conf_is_local_domain(&c, ""), 0);
	assert_int_equal(conf_is_local_domain(&c, NULL), 0);
	m = conf_find_mbox(&c, "BOB", "A.TEST");
	assert_non_null(m);
	assert_string_equal(m->user, "bob");
	assert_string_equal(m->domain, "a.test");
	assert_ptr_equal(m->domain, c.domains[0]);
	m = conf_find_mbox(&c, "carol", "b.test");
	assert_non_null(m);
	assert_null(conf_find_mbox(&c, "carol", "a.test"));
	assert_null(conf_find_mbox(&c, "abuse", "a.test")); /* an alias */
	assert_null(conf_find_mbox(&c, "bo", "a.test"));
	assert_null(conf_find_mbox(&c, "bobb", "a.test"));
	assert_null(conf_find_mbox(&c, "bob", "a.tes"));
	assert_null(conf_find_mbox(&c, "bob@a.test", "a.test"));
	/* sorted by (domain, user), one each */
	for (size_t i = 1; i < c.nmboxes; i++) {
		int r = strcmp(c.mboxes[i - 1].domain, c.mboxes[i].domain);

		if (r == 0)
			r = strcmp(c.mboxes[i - 1].user, c.mboxes[i].user);
		assert_true(r < 0);
	}
	for (size_t i = 1; i < c.naliases; i++)
		assert_true(strcmp(c.aliases[i - 1].key, c.aliases[i].key) < 0);
	assert_int_equal(c.ndomains, 2);
	assert_string_equal(c.domains[0], "a.test");
	conf_free(&c);
	conf_free(&c); /* twice is harmless */
}

/* RFC 5321 4.5.1: postmaster works in every domain */
static const struct conf_case postmaster_cases[] = {
	{ "added where missing", HD "mailboxes = alice\n", { NULL },
	    "mailboxes = alice@a.test, postmaster@a.test, alice@b.test, "
	    "postmaster@b.test" },
	{ "mailbox in one domain", HD "mailboxes = postmaster@b.test, x\n",
	    { NULL }, "mailboxes = postmaster@a.test, x@a.test, "
	    "postmaster@b.test, x@b.test" },
	{ "alias in one domain", HD "mailboxes = x\n"
	    "aliases = postmaster@a.test: x\n", { NULL },
	    "mailboxes = x@a.test, postmaster@b.test, x@b.test" },
	{ "domain-wide alias", HD "mailboxes = x\naliases = postmaster: x\n",
	    { NULL }, "mailboxes = x@a.test, x@b.test" },
	{ "alias to implicit postmaster", HD "mailboxes = x\n"
	    "aliases = abuse: postmaster\n", { NULL },
	    "mailboxes = postmaster@a.test, x@a.test, postmaster@b.test, "
	    "x@b.test" },
	{ "postmaster alias must resolve", HD "mailboxes = x@a.test\n"
	    "aliases = postmaster: x\n", { NULL }, "ERR t.conf:4: key "
	    "'aliases': alias 'postmaster': target 'x' is neither a mailbox "
	    "nor an alias in domain b.test" },
};

static void
test_postmaster(void **state)
{
	struct conf c;
	struct conf_err err;
	const struct mbox *out[4];

	(void)state;
	RUN(postmaster_cases);
	if (load(HD "mailboxes = alice\n", NULL, &c, &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(conf_resolve(&c, "postmaster", "b.test", out, 4), 1);
	assert_string_equal(out[0]->user, "postmaster");
	assert_string_equal(out[0]->domain, "b.test");
	assert_non_null(conf_find_mbox(&c, "POSTMASTER", "a.test"));
	conf_free(&c);
}

/* the implicit postmaster mailboxes are logged once, on one line */
static void
test_postmaster_log(void **state)
{
	struct conf c;
	struct conf_err err;
	char path[128], text[1024];
	FILE *f;
	size_t n;
	int saved, fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(load(HD "mailboxes = x\n", NULL, &c, &err), 0);
	conf_free(&c);
	assert_int_equal(load(HD "mailboxes = postmaster\n", NULL, &c, &err),
	    0);
	conf_free(&c);
	log_set_level(LOG_LVL_WARN);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	unlink(path);
	text[n] = '\0';
	assert_non_null(strstr(text, "info: ev=conf_postmaster "
	    "domains=a.test,b.test "));
	assert_int_equal(strchr(text, '\n') - text + 1, (long)n);
}

/* the example configuration shipped in etc/ */
static void
test_example(void **state)
{
	struct conf c;
	struct conf_err err;
	const struct mbox *out[4];

	(void)state;
	if (conf_load(&c, SRCDIR "/etc/tern.conf", NULL, 0, &err) < 0)
		fail_msg("etc/tern.conf: %s", err.msg);
	assert_string_equal(c.hostname, "mail.example.test");
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.listen[0].host, "127.0.0.1");
	assert_string_equal(c.listen[0].port, "2525");
	assert_int_equal(conf_is_local_domain(&c, "localhost"), 1);
	assert_int_equal(conf_resolve(&c, "team", "example.test", out, 4), 2);
	assert_int_equal(conf_resolve(&c, "abuse", "localhost", out, 4), 1);
	assert_string_equal(out[0]->user, "postmaster");
	assert_int_equal(c.max_connections, 500);
	assert_int_equal(c.max_message_size, 25 * 1024 * 1024);
	assert_int_equal(c.command_timeout, 300);
	assert_int_equal(c.bare_newline, BARE_NEWLINE_NORMALIZE);
	conf_free(&c);
}

/* every field, not only the dump, for one full configuration */
static void
test_fields(void **state)
{
	struct conf c;
	struct conf_err err;

	(void)state;
	if (load(HD "listen = *:2525\nmaildir_root = m\nspool_dir = s\n"
	    "max_message_size = 1M\nmax_recipients = 200\n"
	    "max_connections = 300\nmax_connections_per_ip = 0\n"
	    "command_timeout = 1m\ndata_timeout = 2m\nmax_errors = 5\n"
	    "vrfy = yes\nexpn = on\nmin_free_space = 1k\ncommit_workers = 3\n"
	    "bare_newline = reject\nshutdown_timeout = 1h\nmax_hops = 30\n"
	    "unsafe_no_fsync = true\npregreet_delay = 3s\n", NULL, &c,
	    &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[0].host, "0.0.0.0");
	assert_string_equal(c.listen[1].host, "::");
	assert_string_equal(c.listen[1].port, "2525");
	assert_string_equal(c.maildir_root, "m");
	assert_string_equal(c.spool_dir, "s");
	assert_int_equal(c.max_message_size, 1024 * 1024);
	assert_int_equal(c.max_recipients, 200);
	assert_int_equal(c.max_connections, 300);
	assert_int_equal(c.max_connections_per_ip, 0);
	assert_int_equal(c.command_timeout, 60);
	assert_int_equal(c.data_timeout, 120);
	assert_int_equal(c.max_errors, 5);
	assert_int_equal(c.vrfy, 1);
	assert_int_equal(c.expn, 1);
	assert_int_equal(c.min_free_space, 1024);
	assert_int_equal(c.commit_workers, 3);
	assert_int_equal(c.bare_newline, BARE_NEWLINE_REJECT);
	assert_int_equal(c.shutdown_timeout, 3600);
	assert_int_equal(c.max_hops, 30);
	assert_int_equal(c.unsafe_no_fsync, 1);
	assert_int_equal(c.pregreet_delay, 3);
	assert_non_null(c.path);
	conf_free(&c);
}

/* the relay, TLS and AUTH fields themselves, set and by default */
static void
test_fields_relay(void **state)
{
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct conf c;
	struct conf_err err;

	(void)state;
	if (load(HD "listen = 127.0.0.1:25, [::1]:587/submission\n"
	    "  *:465/submissions\n"
	    "relay_networks = 192.0.2.0/24, 2001:db8::/32, ::ffff:10.0.0.1\n"
	    "allow_open_relay = yes\nrelay_port = 2525\nrelay_tls = verify\n"
	    "smarthost = Smart.test:587\n"
	    "routes = y.test: [::1]:26 tls=none; x.test: 192.0.2.9\n"
	    "dns_resolver = 127.0.0.53\nrelay_destination_concurrency = 9\n"
	    "relay_connect_timeout = 1m\nrelay_command_timeout = 2m\n"
	    "relay_data_timeout = 3m\nretry_first = 1m\nretry_max = 2h\n"
	    "max_queue_lifetime = 2d\ndelay_warning_time = 0\n"
	    "tls_cert = a.pem, b.pem\ntls_key = a.key b.key\n"
	    "tls_ca_file = ca.pem\ntls_min_version = TLSv1.3\n"
	    "tls_ciphers = HIGH\nusers = /etc/tern/users\n"
	    "auth_over_plaintext = yes\nauth_max_failures = 7\n"
	    "received_auth = no\nsender_login_match = no\n", NULL, &c,
	    &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(c.nlisten, 4);
	assert_int_equal(c.listen[0].role, LISTEN_SMTP);
	assert_int_equal(c.listen[1].role, LISTEN_SUBMISSION);
	assert_string_equal(c.listen[1].host, "::1");
	assert_int_equal(c.listen[2].role, LISTEN_SUBMISSIONS);
	assert_int_equal(c.listen[3].role, LISTEN_SUBMISSIONS);
	assert_string_equal(c.listen[3].host, "::");
	assert_int_equal(c.nrelay_networks, 3);
	assert_int_equal(c.relay_networks[0].family, AF_INET);
	assert_int_equal(c.relay_networks[0].prefix, 24);
	assert_memory_equal(c.relay_networks[0].addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(c.relay_networks[1].family, AF_INET6);
	assert_int_equal(c.relay_networks[1].prefix, 32);
	assert_memory_equal(c.relay_networks[1].addr, v6, 16);
	assert_int_equal(c.relay_networks[2].family, AF_INET);
	assert_int_equal(c.relay_networks[2].prefix, 32);
	assert_memory_equal(c.relay_networks[2].addr, "\x0a\x00\x00\x01", 4);
	assert_int_equal(c.allow_open_relay, 1);
	assert_string_equal(c.relay_port, "2525");
	assert_int_equal(c.relay_tls, TLS_VERIFY);
	assert_string_equal(c.smarthost.host, "smart.test");
	assert_string_equal(c.smarthost.port, "587");
	assert_int_equal(c.smarthost.tls, TLS_VERIFY);
	assert_int_equal(c.nroutes, 2);
	assert_string_equal(c.routes[0].domain, "x.test");
	assert_string_equal(c.routes[0].hop.host, "192.0.2.9");
	assert_string_equal(c.routes[0].hop.port, "25");
	assert_int_equal(c.routes[0].hop.tls, TLS_VERIFY);
	assert_string_equal(c.routes[1].domain, "y.test");
	assert_string_equal(c.routes[1].hop.host, "::1");
	assert_string_equal(c.routes[1].hop.port, "26");
	assert_int_equal(c.routes[1].hop.tls, TLS_NONE);
	assert_string_equal(c.dns_resolver.host, "127.0.0.53");
	assert_string_equal(c.dns_resolver.port, "53");
	assert_int_equal(c.relay_destination_concurrency, 9);
	assert_int_equal(c.relay_connect_timeout, 60);
	assert_int_equal(c.relay_command_timeout, 120);
	assert_int_equal(c.relay_data_timeout, 180);
	assert_int_equal(c.retry_first, 60);
	assert_int_equal(c.retry_max, 7200);
	assert_int_equal(c.max_queue_lifetime, 2 * 86400);
	assert_int_equal(c.delay_warning_time, 0);
	assert_int_equal(c.ntls, 2);
	assert_string_equal(c.tls_cert[0], "a.pem");
	assert_string_equal(c.tls_cert[1], "b.pem");
	assert_string_equal(c.tls_key[0], "a.key");
	assert_string_equal(c.tls_key[1], "b.key");
	assert_string_equal(c.tls_ca_file, "ca.pem");
	assert_string_equal(c.tls_min_version, "TLSv1.3");
	assert_string_equal(c.tls_ciphers, "HIGH");
	assert_string_equal(c.users, "/etc/tern/users");
	assert_int_equal(c.auth_over_plaintext, 1);
	assert_int_equal(c.auth_max_failures, 7);
	assert_int_equal(c.received_auth, 0);
	assert_int_equal(c.sender_login_match, 0);
	conf_free(&c);

	if (load(H, NULL, &c, &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(c.listen[0].role, LISTEN_SMTP);
	assert_int_equal(c.nrelay_networks, 2);
	assert_int_equal(c.relay_networks[0].family, AF_INET);
	assert_int_equal(c.relay_networks[0].prefix, 8);
	assert_int_equal(c.relay_networks[0].addr[0], 127);
	assert_int_equal(c.relay_networks[1].family, AF_INET6);
	assert_int_equal(c.relay_networks[1].prefix, 128);
	assert_int_equal(c.relay_networks[1].addr[15], 1);
	assert_int_equal(c.allow_open_relay, 0);
	assert_null(c.smarthost.host);
	assert_null(c.smarthost.port);
	assert_null(c.routes);
	assert_int_equal(c.nroutes, 0);
	assert_null(c.dns_resolver.host);
	assert_null(c.dns_resolver.port);
	assert_string_equal(c.relay_port, "25");
	assert_int_equal(c.relay_tls, TLS_MAY);
	assert_int_equal(c.relay_destination_concurrency, 4);
	assert_int_equal(c.relay_connect_timeout, 30);
	assert_int_equal(c.relay_command_timeout, 300);
	assert_int_equal(c.relay_data_timeout, 600);
	assert_int_equal(c.retry_first, 300);
	assert_int_equal(c.retry_max, 3600);
	assert_int_equal(c.max_queue_lifetime, 5 * 86400);
	assert_int_equal(c.delay_warning_time, 4 * 3600);
	assert_null(c.tls_cert);
	assert_null(c.tls_key);
	assert_int_equal(c.ntls, 0);
	assert_null(c.tls_ca_file);
	assert_string_equal(c.tls_min_version, "TLSv1.2");
	assert_null(c.tls_ciphers);
	assert_null(c.users);
	assert_int_equal(c.auth_over_plaintext, 0);
	assert_int_equal(c.auth_max_failures, 5);
	assert_int_equal(c.received_auth, 1);
	assert_int_equal(c.sender_login_match, 1);
	conf_free(&c);

	/* empty relay_networks: an empty array, nobody relays */
	if (load(H "relay_networks =\n", NULL, &c, &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(c.nrelay_networks, 0);
	assert_null(c.relay_networks);
	conf_free(&c);
}

/* inputs for the round trip: a dump loads back to the same dump */
static const char *const roundtrip_inputs[] = {
	resolve_conf,
	H,
	HD "listen = *:25, [::1]:587/submission, 127.0.0.1:465/submissions\n"
	    "relay_networks = 192.0.2.0/24 2001:DB8::/32, ::ffff:10.0.0.0/104\n"
	    "  [::1] 198.51.100.7\n"
	    "relay_port = 0026\nrelay_tls = Require\n"
	    "smarthost = [2001:db8:0:0::25]:0587 TLS=none\n"
	    "routes = z.test: MX.Z.test; c.test: [::1]:2525 tls=verify\n"
	    "  m.test: 192.0.2.1\n"
	    "dns_resolver = [::1]\nrelay_destination_concurrency = 20\n"
	    "relay_connect_timeout = 1m\nrelay_command_timeout = 1h\n"
	    "relay_data_timeout = 90\nretry_first = 1d\nretry_max = 30d\n"
	    "max_queue_lifetime = 30d\ndelay_warning_time = 29d\n"
	    "tls_cert = /etc/letsencrypt/live/mx.a.test/fullchain.pem\n"
	    "  ecdsa.pem\n"
	    "tls_key = /etc/letsencrypt/live/mx.a.test/privkey.pem, "
	    "ecdsa.key\n"
	    "tls_ca_file = /etc/ssl/my ca.pem\ntls_min_version = tlsv1.3\n"
	    "tls_ciphers = ECDHE+AESGCM:!aNULL @SECLEVEL=2\n"
	    "users = /etc/tern/users file\nauth_over_plaintext = 1\n"
	    "auth_max_failures = 1000\nreceived_auth = off\n"
	    "sender_login_match = false\n",
	H "relay_networks =\nallow_open_relay = yes\n",
	H "relay_networks = 0.0.0.0/0, ::/0\nallow_open_relay = yes\n"
	    "smarthost = 192.0.2.1\ndns_resolver = 127.0.0.1:5353\n"
	    "delay_warning_time = 0\nmax_queue_lifetime = 1s\n",
};

static void
test_dump_roundtrip(void **state)
{
	struct conf c;
	struct conf_err err;
	char *d1, *d2;
	size_t i;

	(void)state;
	for (i = 0; i < NITEMS(roundtrip_inputs); i++) {
		if (load(roundtrip_inputs[i], NULL, &c, &err) < 0)
			fail_msg("input %zu: load: %s", i, err.msg);
		assert_int_equal(conf_dump(&c, &d1), 0);
		conf_free(&c);
		if (load(d1, NULL, &c, &err) < 0)
			fail_msg("input %zu: reload: %s\n%s", i, err.msg, d1);
		assert_int_equal(conf_dump(&c, &d2), 0);
		assert_string_equal(d1, d2);
		/* every key is there, in the documented order */
		assert_true(strncmp(d1, "hostname = ", 11) == 0);
		assert_true(strstr(d1, "\nlisten = ") <
		    strstr(d1, "\ndomains = "));
		assert_true(strstr(d1, "\nmax_hops = ") <
		    strstr(d1, "\nunsafe_no_fsync = "));
		assert_true(strstr(d1, "\nunsafe_no_fsync = ") <
		    strstr(d1, "\nrelay_networks ="));
		assert_true(strstr(d1, "\nrelay_tls = ") <
		    strstr(d1, "\nsmarthost ="));
		assert_true(strstr(d1, "\ndelay_warning_time = ") <
		    strstr(d1, "\ntls_cert ="));
		assert_true(strstr(d1, "\ntls_cert =") <
		    strstr(d1, "\ntls_key ="));
		assert_true(strstr(d1, "\nusers =") <
		    strstr(d1, "\nsender_login_match = "));
		/* an empty value has no trailing space */
		assert_null(strstr(d1, " \n"));
		free(d1);
		free(d2);
		conf_free(&c);
	}
}

/* file-level errors */
static void
test_file_errors(void **state)
{
	struct conf c;
	struct conf_err err;
	char path[128], want[256], *big;
	size_t n = 300000;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(conf_load(&c, path, NULL, 0, &err), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or "
	    "directory", path);
	assert_string_equal(err.msg, want);
	assert_null(c.hostname);
	assert_int_equal(conf_load(&c, dir, NULL, 0, &err), -1);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	assert_string_equal(err.msg, want);

	/* one huge line is an error, not a crash */
	big = malloc(n + 32);
	assert_non_null(big);
	memcpy(big, "hostname = ", 11);
	memset(big + 11, 'a', n);
	big[11 + n] = '\0';
	assert_int_equal(load(big, NULL, &c, &err), -1);
	assert_non_null(strstr(err.msg, "t.conf:1: key 'hostname': 'aaaa"));
	assert_non_null(strstr(err.msg, "...' is longer than 253"));
	free(big);

	/* NUL bytes */
	put("nul.conf", "hostname = a\0b\n", 15, path, sizeof(path));
	assert_int_equal(conf_load(&c, path, NULL, 0, &err), -1);
	unsubst(err.msg);
	assert_string_equal(err.msg, "nul.conf:1: NUL byte in line; the file "
	    "must be text");
}

/* the limits that keep loading bounded */
static void
test_limits(void **state)
{
	struct conf c;
	struct conf_err err;
	size_t cap = 1 << 16, o, i;
	char *text = malloc(cap);

	(void)state;
	assert_non_null(text);

	o = (size_t)snprintf(text, cap, H "domains =");
	for (i = 0; i < 1001; i++)
		o += (size_t)snprintf(text + o, cap - o, " d%zu.test", i);
	assert_int_equal(load(text, NULL, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:2: key 'domains': more than 1000 "
	    "domains");

	o = (size_t)snprintf(text, cap, H "listen =");
	for (i = 0; i < 101; i++)
		o += (size_t)snprintf(text + o, cap - o, " 127.0.0.1:%zu",
		    i + 1);
	assert_int_equal(load(text, NULL, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:2: key 'listen': more than 100 "
	    "addresses");

	/* 300 x 401 addresses passed through */
	o = (size_t)snprintf(text, cap, H "mailboxes = m\naliases = b:");
	for (i = 0; i < 400; i++)
		o += (size_t)snprintf(text + o, cap - o, " m");
	o += (size_t)snprintf(text + o, cap - o, "\n  c:");
	for (i = 0; i < 300; i++)
		o += (size_t)snprintf(text + o, cap - o, " b");
	assert_int_equal(load(text, NULL, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:4: key 'aliases': alias 'c' "
	    "expands through more than 100000 addresses");
	/* 200 x 401 is fine, and resolves to one mailbox */
	o = (size_t)snprintf(text, cap, H "mailboxes = m\naliases = b:");
	for (i = 0; i < 400; i++)
		o += (size_t)snprintf(text + o, cap - o, " m");
	o += (size_t)snprintf(text + o, cap - o, "\n  c:");
	for (i = 0; i < 200; i++)
		o += (size_t)snprintf(text + o, cap - o, " b");
	assert_int_equal(load(text, NULL, &c, &err), 0);
	{
		const struct mbox *out[1];

		assert_int_equal(conf_resolve(&c, "c", "mx.a.test", out, 1),
		    1);
	}
	conf_free(&c);

	/* 1001 aliases without @domain times 1000 domains */
	o = (size_t)snprintf(text, cap, H "domains =");
	for (i = 0; i < 1000; i++)
		o += (size_t)snprintf(text + o, cap - o, " d%zu.test", i);
	o += (size_t)snprintf(text + o, cap - o, "\naliases =");
	for (i = 0; i < 1001; i++)
		o += (size_t)snprintf(text + o, cap - o, " a%zu: postmaster;",
		    i);
	assert_true(o < cap);
	assert_int_equal(load(text, NULL, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:3: key 'aliases': 1001 aliases "
	    "without @domain times 1000 domains is more than 1000000");
	free(text);
}

/* the limits of the relay and TLS lists */
static void
test_limits_relay(void **state)
{
	struct conf c;
	struct conf_err err;
	size_t cap = 1 << 20, o, i;
	char *text = malloc(cap);

	(void)state;
	assert_non_null(text);

	o = (size_t)snprintf(text, cap, H "relay_networks =");
	for (i = 0; i < 1000; i++)
		o += (size_t)snprintf(text + o, cap - o, " 10.%zu.%zu.0/24",
		    i / 256, i % 256);
	assert_int_equal(load(text, NULL, &c, &err), 0);
	assert_int_equal(c.nrelay_networks, 1000);
	assert_int_equal(conf_relay_allowed(&c, "10.3.231.9"), 1);
	assert_int_equal(conf_relay_allowed(&c, "10.3.232.9"), 0);
	conf_free(&c);
	o += (size_t)snprintf(text + o, cap - o, " 192.0.2.0/24");
	assert_int_equal(load(text, NULL, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:2: key 'relay_networks': more "
	    "than 1000 networks");

	o = (size_t)snprintf(text, cap, H "routes =");
	for (i = 0; i < 10000; i++)
		o += (size_t)snprintf(text + o, cap - o, " d%zu.test: r.test;",
		    i);
	assert_true(o < cap);
	assert_int_equal(load(text, NULL, &c, &err), 0);
	assert_int_equal(c.nroutes, 10000);
	assert_string_equal(conf_route_for(&c, "D9999.test")->host, "r.test");
	assert_null(conf_route_for(&c, "d10000.test"));
	conf_free(&c);
	o += (size_t)snprintf(text + o, cap - o, " x.test: r.test");
	assert_int_equal(load(text, NULL, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:2: key 'routes': more than "
	    "10000 routes");

	o = (size_t)snprintf(text, cap, H "tls_cert =");
	for (i = 0; i < 101; i++)
		o += (size_t)snprintf(text + o, cap - o, " c%zu.pem", i);
	assert_int_equal(load(text, NULL, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:2: key 'tls_cert': more than 100 "
	    "files");
	free(text);
}

/* random bytes and mangled valid files: an error or a conf, never a crash */
static void
test_random(void **state)
{
	static const char base[] = HD "mailboxes = alice, bob\n"
	    "aliases =\n  a: alice; b: a, bob\n  c@b.test: b\n"
	    "listen = *:25, [::1]:26/submission\nmax_hops = 10\n"
	    "relay_networks = 10.0.0.0/8 [::1]/128\n"
	    "smarthost = [::1]:26 tls=none\n"
	    "routes = x.test: 192.0.2.1:25; y.test: r.test\n"
	    "retry_max = 2h\ntls_cert = c\ntls_key = k\nusers = u\n";
	static const char *const probes[] = { "127.0.0.1", "::1",
	    "::ffff:10.1.2.3", "10.0.0.1", "x" };
	struct conf c;
	struct conf_err err;
	char path[128], buf[512];
	uint32_t seed = 12345;
	size_t i, j, n;

	(void)state;
	for (i = 0; i < 3000; i++) {
		if (i % 2 == 0) {
			n = sizeof(base) - 1;
			memcpy(buf, base, n);
			for (j = 0; j < 1 + i % 5; j++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % n] = (char)(seed >> 24);
			}
		} else {
			seed = seed * 1103515245u + 12345u;
			n = (seed >> 8) % sizeof(buf);
			for (j = 0; j < n; j++) {
				seed = seed * 1103515245u + 12345u;
				buf[j] = (char)(seed >> 24);
			}
		}
		put("r.conf", buf, n, path, sizeof(path));
		if (conf_load(&c, path, NULL, 0, &err) == 0) {
			char *d;

			assert_int_equal(conf_dump(&c, &d), 0);
			free(d);
			for (j = 0; j < NITEMS(probes); j++) {
				int r = conf_relay_allowed(&c, probes[j]);

				assert_true(r == 0 || r == 1);
				(void)conf_route_for(&c, probes[j]);
			}
			(void)conf_route_for(&c, "y.test");
			conf_free(&c);
		} else {
			assert_true(err.msg[0] != '\0');
		}
	}
}

static int
setup(void **state)
{
	char path[128];
	size_t i;

	(void)state;
	/* quiet: the implicit postmaster notes would fill the output */
	log_set_level(LOG_LVL_WARN);
	snprintf(dir, sizeof(dir), "/tmp/test_conf.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t n = strlen(files[i].text);

		if (strcmp(files[i].name, "users-nul") == 0)
			n = 10; /* "alice\nb\0b\n" */
		put(files[i].name, files[i].text, n, path, sizeof(path));
	}
	return 0;
}

static int
teardown(void **state)
{
	static const char *const made[] = { "t.conf", "r.conf", "nul.conf" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		unlink(path);
	}
	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, made[i]);
		unlink(path);
	}
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_hostname_long),
		cmocka_unit_test(test_hostname_default),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_mailboxes),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_tls_auth),
		cmocka_unit_test(test_relay_allowed),
		cmocka_unit_test(test_route_for),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_postmaster),
		cmocka_unit_test(test_postmaster_log),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_fields_relay),
		cmocka_unit_test(test_dump_roundtrip),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_limits_relay),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
