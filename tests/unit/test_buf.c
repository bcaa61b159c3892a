/*
 * test_buf - the growable buffer: the ceiling (ENOBUFS, and nothing
 * appended on failure), growth, printf, consume, cstr and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"

#include "unit_check.h"

#define CHECK_MEM(what, got, glen, want)                                    \
	do {                                                                \
		size_t wl_ = strlen(want);                                  \
		if ((glen) != wl_ || memcmp((got), (want), wl_) != 0)       \
			fail_msg("%s: got \"%.*s\", want \"%s\"", (what),   \
			    (int)(glen), (got), (want));                    \
	} while (0)

/* The huge-allocation test wants NULL from malloc, not an ASan report. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

struct append_case {
	const char *name;
	size_t max;
	const char *before;
	const char *add;
	int want_rc;
	const char *want;
};

static void
test_append_ceiling(void **state)
{
	static const struct append_case cases[] = {
		{ "no ceiling", 0, "abc", "def", 0, "abcdef" },
		{ "below ceiling", 10, "abc", "def", 0, "abcdef" },
		{ "exactly at ceiling", 6, "abc", "def", 0, "abcdef" },
		{ "one over ceiling", 5, "abc", "def", -1, "abc" },
		{ "full buffer", 3, "abc", "d", -1, "abc" },
		{ "empty append on full", 3, "abc", "", 0, "abc" },
		{ "first append too big", 2, "", "abc", -1, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct append_case *c = &cases[i];
		struct buf b;
		int rc;

		buf_init(&b, c->max);
		CHECK_INT(c->name, buf_append(&b, c->before, strlen(c->before)),
		    0);
		errno = 0;
		rc = buf_append(&b, c->add, strlen(c->add));
		if (rc != c->want_rc)
			fail_msg("%s: got rc %d, want %d", c->name, rc,
			    c->want_rc);
		if (rc < 0 && errno != ENOBUFS)
			fail_msg("%s: got errno %d, want ENOBUFS", c->name,
			    errno);
		CHECK_MEM(c->name, b.data ? b.data : "", b.len, c->want);
		if (c->max != 0 && b.len > c->max)
			fail_msg("%s: got len %zu, want <= %zu", c->name, b.len,
			    c->max);
		buf_free(&b);
	}
}

static void
test_putc_puts(void **state)
{
	struct buf b;
	int i;

	(void)state;
	buf_init(&b, 5);
	for (i = 0; i < 5; i++)
		CHECK_INT("putc below ceiling", buf_putc(&b, (char)('a' + i)),
		    0);
	errno = 0;
	CHECK_INT("putc over ceiling", buf_putc(&b, 'x'), -1);
	CHECK_INT("errno", errno, ENOBUFS);
	CHECK_MEM("after putc", b.data, b.len, "abcde");
	buf_reset(&b);
	CHECK_INT("puts", buf_puts(&b, "hello"), 0);
	CHECK_INT("puts over", buf_puts(&b, "!"), -1);
	CHECK_MEM("after puts", b.data, b.len, "hello");
	buf_free(&b);

	/* growth past the first allocation, with NUL bytes kept */
	buf_init(&b, 0);
	for (i = 0; i < 10000; i++)
		CHECK_INT("putc", buf_putc(&b, (char)(i % 7)), 0);
	CHECK_INT("len", b.len, 10000);
	for (i = 0; i < 10000; i++)
		if (b.data[i] != (char)(i % 7))
			fail_msg("byte %d: got %d, want %d", i, b.data[i],
			    i % 7);
	buf_free(&b);
}

static void
test_printf(void **state)
{
	char want[1200];
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	CHECK_INT("printf", buf_printf(&b, "%d %s", 250, "OK"), 0);
	CHECK_INT("empty printf", buf_printf(&b, "%s", ""), 0);
	CHECK_INT("printf", buf_printf(&b, "|%05x", 0xab), 0);
	CHECK_MEM("printf", b.data, b.len, "250 OK|000ab");
	buf_reset(&b);
	memset(want, 'y', 1000);
	want[1000] = '\0';
	CHECK_INT("long printf", buf_printf(&b, "%s", want), 0);
	CHECK_MEM("long printf", b.data, b.len, want);
	buf_free(&b);

	/* over the ceiling: ENOBUFS and nothing added */
	buf_init(&b, 10);
	CHECK_INT("printf", buf_printf(&b, "%s", "12345"), 0);
	errno = 0;
	CHECK_INT("printf over", buf_printf(&b, "%s", "678901"), -1);
	CHECK_INT("errno", errno, ENOBUFS);
	CHECK_MEM("printf over", b.data, b.len, "12345");
	CHECK_INT("printf to ceiling", buf_printf(&b, "%d", 67890), 0);
	CHECK_MEM("printf to ceiling", b.data, b.len, "1234567890");
	buf_free(&b);
}

struct consume_case {
	const char *in;
	size_t n;
	const char *want;
};

static void
test_consume(void **state)
{
	static const struct consume_case cases[] = {
		{ "abcdef", 0, "abcdef" },
		{ "abcdef", 1, "bcdef" },
		{ "abcdef", 5, "f" },
		{ "abcdef", 6, "" },
		{ "abcdef", 100, "" },
		{ "", 3, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;

		buf_init(&b, 0);
		buf_puts(&b, cases[i].in);
		buf_consume(&b, cases[i].n);
		CHECK_MEM(cases[i].in, buf_cstr(&b), b.len, cases[i].want);
		CHECK_INT("cstr length", strlen(buf_cstr(&b)),
		    strlen(cases[i].want));
		buf_free(&b);
	}
}

static void
test_cstr(void **state)
{
	struct buf b;
	char *data;
	size_t cap;

	(void)state;
	buf_init(&b, 4);
	if (strcmp(buf_cstr(&b), "") != 0)
		fail_msg("fresh buffer: got \"%s\", want \"\"", buf_cstr(&b));
	CHECK_INT("len", b.len, 0);
	buf_puts(&b, "abcd"); /* exactly at the ceiling: the NUL still fits */
	if (strcmp(buf_cstr(&b), "abcd") != 0)
		fail_msg("full buffer: got \"%s\", want \"abcd\"",
		    buf_cstr(&b));
	CHECK_INT("len after cstr", b.len, 4);

	/* reset keeps the storage */
	data = b.data;
	cap = b.cap;
	buf_reset(&b);
	CHECK_INT("len after reset", b.len, 0);
	if (b.data != data || b.cap != cap)
		fail_msg("reset: got new storage, want the old one kept");
	if (strcmp(buf_cstr(&b), "") != 0)
		fail_msg("after reset: got \"%s\", want \"\"", buf_cstr(&b));

	/* free, then use again */
	buf_free(&b);
	if (b.data != NULL || b.len != 0 || b.cap != 0)
		fail_msg("free: got data %p len %zu cap %zu, want NULL 0 0",
		    (void *)b.data, b.len, b.cap);
	buf_puts(&b, "ok");
	if (strcmp(buf_cstr(&b), "ok") != 0)
		fail_msg("reuse: got \"%s\", want \"ok\"", buf_cstr(&b));
	buf_free(&b);
}

static void
test_reserve_limits(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	buf_puts(&b, "x");
	errno = 0;
	CHECK_INT("reserve SIZE_MAX", buf_reserve(&b, SIZE_MAX), -1);
	CHECK_INT("errno", errno, ENOBUFS);

	/*
	 * No ceiling and a request past SIZE_MAX / 2: doubling the capacity
	 * used to wrap to 0 and loop forever. The alarm turns a hang into a
	 * failure.
	 */
	alarm(10);
	errno = 0;
	CHECK_INT("reserve half the address space", buf_reserve(&b,
	    SIZE_MAX / 2 + 1), -1);
	CHECK_INT("errno", errno, ENOMEM);
	alarm(0);
	CHECK_MEM("contents kept", b.data, b.len, "x");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_ceiling),
		cmocka_unit_test(test_putc_puts),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_cstr),
		cmocka_unit_test(test_reserve_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
