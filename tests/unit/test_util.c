/*
 * test_util - size and duration parsers (valid and invalid tables,
 * overflow edges), locale-free ASCII case handling, the string hash,
 * the x* allocators and fatal().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"

#include "unit_check.h"

#define SENTINEL 0x5a5a5a5aU

struct size_case {
	const char *in;
	uint64_t want;
};

static void
test_parse_size(void **state)
{
	static const struct size_case valid[] = {
		{ "0", 0 },
		{ "1024", 1024 },
		{ "64k", 64 * 1024ULL },
		{ "64K", 64 * 1024ULL },
		{ "64kb", 64 * 1024ULL },
		{ "25M", 25 * 1024ULL * 1024 },
		{ "25mB", 25 * 1024ULL * 1024 },
		{ "1G", 1024ULL * 1024 * 1024 },
		{ "1gb", 1024ULL * 1024 * 1024 },
		{ "007", 7 },
		{ "0G", 0 },
		{ "17179869183G", 17179869183ULL * 1024 * 1024 * 1024 },
		{ "1844674407370955160", 1844674407370955160ULL },
	};
	static const char *const invalid[] = {
		"", "k", "M", "-1", "+1", " 1", "1 ", "1.5M", "1T", "1KK",
		"1kbb", "1x", "0x10", "1k ", "17179869184G",
		"18446744073709551616", "99999999999999999999999",
	};
	uint64_t got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		got = SENTINEL;
		if (parse_size(valid[i].in, &got) != 0)
			fail_msg("\"%s\": got -1, want %llu", valid[i].in,
			    (unsigned long long)valid[i].want);
		if (got != valid[i].want)
			fail_msg("\"%s\": got %llu, want %llu", valid[i].in,
			    (unsigned long long)got,
			    (unsigned long long)valid[i].want);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		got = SENTINEL;
		if (parse_size(invalid[i], &got) != -1)
			fail_msg("\"%s\": got %llu, want -1", invalid[i],
			    (unsigned long long)got);
		if (got != SENTINEL)
			fail_msg("\"%s\": got output changed on error",
			    invalid[i]);
	}
}

struct duration_case {
	const char *in;
	unsigned want;
};

static void
test_parse_duration(void **state)
{
	static const struct duration_case valid[] = {
		{ "0", 0 },
		{ "30", 30 },
		{ "30s", 30 },
		{ "5m", 300 },
		{ "2h", 7200 },
		{ "5d", 432000 },
		{ "100000000", 100000000 },
		{ "49710d", 49710U * 86400 }, /* most days in 32 bits */
		{ "1193046h", 1193046U * 3600 },
	};
	static const char *const invalid[] = {
		"", "s", "m", "-5", "+5", " 5", "5 ", "5 m", "5ms", "5M", "5H",
		"5w", "1.5h", "100000001", "4294967296", "49711d", "1193047h",
		"99999999999999999999",
	};
	unsigned got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		got = SENTINEL;
		if (parse_duration(valid[i].in, &got) != 0)
			fail_msg("\"%s\": got -1, want %u", valid[i].in,
			    valid[i].want);
		if (got != valid[i].want)
			fail_msg("\"%s\": got %u, want %u", valid[i].in, got,
			    valid[i].want);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		got = SENTINEL;
		if (parse_duration(invalid[i], &got) != -1)
			fail_msg("\"%s\": got %u, want -1", invalid[i], got);
		if (got != SENTINEL)
			fail_msg("\"%s\": got output changed on error",
			    invalid[i]);
	}
}

struct cmp_case {
	const char *a;
	const char *b;
	size_t n;  /* for the bounded compare */
	int want;  /* sign of the full compare */
	int want_n; /* sign of the compare of at most n bytes */
};

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

static void
test_casecmp(void **state)
{
	static const struct cmp_case cases[] = {
		{ "", "", 0, 0, 0 },
		{ "MAIL", "mail", 4, 0, 0 },
		{ "Mail From", "mAIL fROM", 9, 0, 0 },
		{ "abc", "ABD", 2, -1, 0 },
		{ "abd", "ABC", 3, 1, 1 },
		{ "abc", "abcd", 3, -1, 0 },
		{ "abcd", "abc", 4, 1, 1 },
		{ "a", "", 1, 1, 1 },
		{ "x", "y", 0, -1, 0 },
		/* '[' sits between 'Z' and 'a': compared lower-cased */
		{ "[", "A", 1, -1, -1 },
		/* bytes >= 0x80 are not letters: no locale folding */
		{ "\xc3\x89", "\xc3\xa9", 2, -1, -1 },
		{ "\xc3\xa9", "\xc3\xa9", 2, 0, 0 },
		/* high bytes compare as unsigned */
		{ "\xff", "a", 1, 1, 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cmp_case *c = &cases[i];
		int got = sign(str_casecmp_ascii(c->a, c->b));
		int got_n = sign(str_ncasecmp_ascii(c->a, c->b, c->n));

		if (got != c->want)
			fail_msg("casecmp(\"%s\", \"%s\"): got %d, want %d",
			    c->a, c->b, got, c->want);
		if (got_n != c->want_n)
			fail_msg("ncasecmp(\"%s\", \"%s\", %zu): got %d, "
			    "want %d", c->a, c->b, c->n, got_n, c->want_n);
		if (sign(str_casecmp_ascii(c->b, c->a)) != -c->want)
			fail_msg("casecmp(\"%s\", \"%s\"): got no mirror sign",
			    c->b, c->a);
	}
}

struct prefix_case {
	const char *s;
	const char *prefix;
	int want;
};

static void
test_prefix_and_lower(void **state)
{
	static const struct prefix_case cases[] = {
		{ "EHLO mx.example.org", "ehlo ", 1 },
		{ "ehlo", "EHLO", 1 },
		{ "EH", "ehlo", 0 },
		{ "HELO x", "ehlo", 0 },
		{ "anything", "", 1 },
		{ "", "", 1 },
		{ "", "a", 0 },
	};
	char s[] = "MAIL From:<Ann@Example.ORG> \xc3\x89T\xc3\x89";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = str_has_prefix_ci(cases[i].s, cases[i].prefix) != 0;

		if (got != cases[i].want)
			fail_msg("has_prefix_ci(\"%s\", \"%s\"): got %d, "
			    "want %d", cases[i].s, cases[i].prefix, got,
			    cases[i].want);
	}
	str_lower(s);
	if (strcmp(s, "mail from:<ann@example.org> \xc3\x89t\xc3\x89") != 0)
		fail_msg("str_lower: got \"%s\", want only ASCII lowered",
		    s);
}

static void
test_alloc(void **state)
{
	char *p;
	int *v;

	(void)state;
	p = xstrndup("hello", 3);
	if (strcmp(p, "hel") != 0)
		fail_msg("xstrndup(\"hello\", 3): got \"%s\", want \"hel\"", p);
	free(p);
	p = xstrndup("hi", 10);
	if (strcmp(p, "hi") != 0)
		fail_msg("xstrndup(\"hi\", 10): got \"%s\", want \"hi\"", p);
	free(p);
	p = xstrdup("");
	CHECK_INT("xstrdup(\"\") length", strlen(p), 0);
	free(p);
	v = xcalloc(4, sizeof(*v));
	CHECK_INT("xcalloc zeroed", v[0] | v[1] | v[2] | v[3], 0);
	v = xrealloc(v, 8 * sizeof(*v));
	v[7] = 7;
	free(v);
	free(xmalloc(0)); /* never NULL, even for 0 bytes */
	CHECK_INT("ARRAY_LEN", ARRAY_LEN("abc"), 4);
}

static void
test_fatal_exits(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(STDERR_FILENO); /* keep the test output clean */
		fatal("broken invariant %d", 42);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		fail_msg("fatal: got status %#x, want exit 1", status);
}

static void
test_now_usec(void **state)
{
	uint64_t a, b;

	(void)state;
	a = now_usec();
	b = now_usec();
	/* after 2001 and not running backwards between two calls */
	if (a < 1000000000ULL * 1000000 || b < a)
		fail_msg("now_usec: got %llu then %llu, want a plausible clock",
		    (unsigned long long)a, (unsigned long long)b);
}

/* the published FNV-1a 32-bit test vectors */
/* self_pid is getpid(), and a child after fork gets its own */
static void
test_self_pid(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	CHECK_INT("parent", self_pid(), getpid());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(self_pid() == getpid() ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	CHECK_INT("child's self_pid() is its getpid()", WEXITSTATUS(status), 0);
	CHECK_INT("parent after fork", self_pid(), getpid());
}

static void
test_str_hash(void **state)
{
	(void)state;
	CHECK_INT("empty", str_hash(""), 0x811c9dc5u);
	CHECK_INT("a", str_hash("a"), 0xe40c292cu);
	CHECK_INT("foobar", str_hash("foobar"), 0xbf9cf968u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_casecmp),
		cmocka_unit_test(test_prefix_and_lower),
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_fatal_exits),
		cmocka_unit_test(test_self_pid),
		cmocka_unit_test(test_now_usec),
		cmocka_unit_test(test_str_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
