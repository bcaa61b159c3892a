/*
 * test_sched - the retry schedule as tables: backoff per attempt, the
 * clamp to the give-up time, expiry, the delay warning, the verdict of
 * a reply code and the duration format; plus the defaults taken from a
 * real configuration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "queue/sched.h"
#include "unit_conf.h"

#include "unit_check.h"

#define DAY 86400
#define T0 1764400000 /* an arrival time */

static void
test_params(void **state)
{
	static const struct {
		const char *name;
		unsigned first, max, life, warn;
		unsigned wfirst, wmax, wlife, wwarn;
	} cases[] = {
		{ "given", 60, 600, DAY, 3600, 60, 600, DAY, 3600 },
		{ "zeros take defaults, warn 0 is off", 0, 0, 0, 0,
		    300, 3600, 5 * DAY, 0 },
		{ "max below first is raised", 900, 60, DAY, 0,
		    900, 900, DAY, 0 },
	};
	struct sched_params p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sched_params_set(&p, cases[i].first, cases[i].max,
		    cases[i].life, cases[i].warn);
		CHECK_INT(cases[i].name, p.retry_first, cases[i].wfirst);
		CHECK_INT(cases[i].name, p.retry_max, cases[i].wmax);
		CHECK_INT(cases[i].name, p.lifetime, cases[i].wlife);
		CHECK_INT(cases[i].name, p.warn_after, cases[i].wwarn);
	}
}

static void
test_params_from_conf(void **state)
{
	static const char *const ov[] = { "retry_first=2m", "retry_max=30m",
		"max_queue_lifetime=2d", "delay_warning_time=0" };
	struct sched_params p;
	struct conf c;
	char why[512];

	(void)state;
	if (unit_conf_load(&c, UNIT_CONF_BASE, NULL, 0, why, sizeof(why)) < 0)
		fail_msg("conf: %s", why);
	sched_params_from_conf(&p, &c);
	CHECK_INT("default retry_first", p.retry_first, 300);
	CHECK_INT("default retry_max", p.retry_max, 3600);
	CHECK_INT("default lifetime", p.lifetime, 5 * DAY);
	CHECK_INT("default warning", p.warn_after, 4 * 3600);
	conf_free(&c);

	if (unit_conf_load(&c, UNIT_CONF_BASE, ov, 4, why, sizeof(why)) < 0)
		fail_msg("conf: %s", why);
	sched_params_from_conf(&p, &c);
	CHECK_INT("retry_first", p.retry_first, 120);
	CHECK_INT("retry_max", p.retry_max, 1800);
	CHECK_INT("lifetime", p.lifetime, 2 * DAY);
	CHECK_INT("warning off", p.warn_after, 0);
	conf_free(&c);
}

static void
test_backoff(void **state)
{
	static const struct {
		unsigned attempts, want;
	} cases[] = {
		{ 0, 300 }, { 1, 300 }, { 2, 600 }, { 3, 1200 }, { 4, 2400 },
		{ 5, 3600 }, { 6, 3600 }, { 100, 3600 }, { UINT_MAX, 3600 },
	};
	struct sched_params p;
	char name[64];
	size_t i;

	(void)state;
	sched_params_set(&p, 300, 3600, 5 * DAY, 4 * 3600);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "backoff after %u",
		    cases[i].attempts);
		CHECK_INT(name, sched_backoff(&p, cases[i].attempts),
		    cases[i].want);
	}
	/* a cap that is not a power-of-two multiple is still reached */
	sched_params_set(&p, 7, 100, DAY, 0);
	CHECK_INT("7s doubled 4 times", sched_backoff(&p, 5), 100);
	CHECK_INT("7s doubled 3 times", sched_backoff(&p, 4), 56);
}

static void
test_next_attempt(void **state)
{
	static const struct {
		const char *name;
		long long now_off;  /* now - arrival */
		unsigned attempts;
		long long want_off; /* next - arrival */
	} cases[] = {
		{ "first deferral", 10, 1, 310 },
		{ "third deferral", 1000, 3, 2200 },
		{ "long wait capped at retry_max", DAY, 9, DAY + 3600 },
		{ "clamped to the give-up time", 5 * DAY - 100, 9, 5 * DAY },
		{ "exactly at the give-up time", 5 * DAY, 9, 5 * DAY },
		{ "after it: now, never earlier", 6 * DAY, 9, 6 * DAY },
	};
	struct sched_params p;
	size_t i;

	(void)state;
	sched_params_set(&p, 300, 3600, 5 * DAY, 4 * 3600);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(cases[i].name, sched_next_attempt(&p, T0,
		    cases[i].attempts, T0 + cases[i].now_off) - T0,
		    cases[i].want_off);
}

static void
test_expiry_and_warning(void **state)
{
	static const struct {
		const char *name;
		unsigned warn;
		int warned;
		long long age;
		int want_expired, want_warn;
	} cases[] = {
		{ "young", 4 * 3600, 0, 60, 0, 0 },
		{ "warning due", 4 * 3600, 0, 4 * 3600, 0, 1 },
		{ "warning already sent", 4 * 3600, 1, 5 * 3600, 0, 0 },
		{ "warnings off", 0, 0, 3 * DAY, 0, 0 },
		{ "one second before expiry", 4 * 3600, 1, 5 * DAY - 1, 0, 0 },
		{ "expired", 4 * 3600, 1, 5 * DAY, 1, 0 },
		{ "warning after lifetime is off", 6 * DAY, 0, 5 * DAY, 1, 0 },
	};
	struct sched_params p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sched_params_set(&p, 300, 3600, 5 * DAY, cases[i].warn);
		CHECK_INT(cases[i].name, sched_expired(&p, T0,
		    T0 + cases[i].age), cases[i].want_expired);
		CHECK_INT(cases[i].name, sched_warning_due(&p, T0,
		    cases[i].warned, T0 + cases[i].age), cases[i].want_warn);
	}
	sched_params_set(&p, 300, 3600, 5 * DAY, 4 * 3600);
	CHECK_INT("warn_at", sched_warn_at(&p, T0), T0 + 4 * 3600);
	CHECK_INT("give_up_at", sched_give_up_at(&p, T0), T0 + 5 * DAY);
	sched_params_set(&p, 300, 3600, 5 * DAY, 0);
	CHECK_INT("warn_at off", sched_warn_at(&p, T0), 0);
}

static void
test_verdict(void **state)
{
	static const struct {
		int code;
		enum sched_verdict want;
	} cases[] = {
		{ 250, SCHED_DELIVERED }, { 251, SCHED_DELIVERED },
		{ 252, SCHED_DELIVERED },
		{ 421, SCHED_DEFER }, { 450, SCHED_DEFER }, { 451, SCHED_DEFER },
		{ 452, SCHED_DEFER }, { 499, SCHED_DEFER },
		{ 550, SCHED_FAIL }, { 551, SCHED_FAIL }, { 552, SCHED_FAIL },
		{ 553, SCHED_FAIL }, { 554, SCHED_FAIL }, { 556, SCHED_FAIL },
		/* no reply or nonsense: trouble on the way, so retried */
		{ 0, SCHED_DEFER }, { -1, SCHED_DEFER }, { 199, SCHED_DEFER },
		{ 354, SCHED_DEFER }, { 600, SCHED_DEFER }, { 999, SCHED_DEFER },
	};
	char name[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "verdict of %d", cases[i].code);
		if (sched_verdict_of(cases[i].code) != cases[i].want)
			fail_msg("%s: got %s, want %s", name,
			    sched_verdict_name(sched_verdict_of(cases[i].code)),
			    sched_verdict_name(cases[i].want));
	}
}

static void
test_fmt_duration(void **state)
{
	static const struct {
		long long secs;
		const char *want;
	} cases[] = {
		{ 0, "0s" }, { 45, "45s" }, { 60, "1m" }, { 65, "1m 5s" },
		{ 720, "12m" }, { -720, "12m" }, { 3600, "1h" },
		{ 3900, "1h 5m" }, { 3930, "1h 5m" }, { DAY, "1d" },
		{ DAY + 4 * 3600, "1d 4h" }, { 5 * DAY, "5d" },
		{ 400 * DAY + 59, "400d" },
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sched_fmt_duration(out, sizeof(out), cases[i].secs) < 0)
			fail_msg("%lld: failed", cases[i].secs);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%lld: got \"%s\", want \"%s\"",
			    cases[i].secs, out, cases[i].want);
	}
	CHECK_INT("too small a buffer", sched_fmt_duration(out, 3, 3900), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_params_from_conf),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_next_attempt),
		cmocka_unit_test(test_expiry_and_warning),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_fmt_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
