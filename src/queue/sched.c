/*
 * sched - the retry schedule: exponential backoff from retry_first,
 * doubling up to retry_max, no attempt past max_queue_lifetime, one
 * delay warning after delay_warning_time; and the verdict of a reply
 * code. Pure functions; the queue (queue.c) applies them on the loop
 * and `tern queue` uses the duration format.
 *
 * RFC 5321 4.5.4.1 asks for at least 30 minutes between retries and
 * 4-5 days before giving up; the defaults start lower (5m) because most
 * deferrals today are greylisting, which lets the second try through
 * after a few minutes, and double from there up to an hour.
 */
#include "sched.h"

#include <stdio.h>

#include "../conf/conf.h"

/*
 * sched_params_set - fill p; a zero retry_first, retry_max or lifetime
 * takes the default (a zero lifetime would bounce everything at once),
 * warn_after 0 turns delay warnings off. retry_max is at least
 * retry_first.
 */
void
sched_params_set(struct sched_params *p, unsigned retry_first,
    unsigned retry_max, unsigned lifetime, unsigned warn_after)
{
	p->retry_first = retry_first ? retry_first : SCHED_RETRY_FIRST_DEFAULT;
	p->retry_max = retry_max ? retry_max : SCHED_RETRY_MAX_DEFAULT;
	if (p->retry_max < p->retry_first)
		p->retry_max = p->retry_first;
	p->lifetime = lifetime ? lifetime : SCHED_LIFETIME_DEFAULT;
	p->warn_after = warn_after;
}

/* sched_params_from_conf - the schedule that configuration c asks for */
void
sched_params_from_conf(struct sched_params *p, const struct conf *c)
{
	sched_params_set(p, c->retry_first, c->retry_max,
	    c->max_queue_lifetime, c->delay_warning_time);
}

/*
 * sched_backoff - seconds to wait after the attempts-th failed attempt:
 * retry_first * 2^(attempts-1), at most retry_max (attempts 0 counts
 * as 1)
 */
unsigned
sched_backoff(const struct sched_params *p, unsigned attempts)
{
	unsigned long long d = p->retry_first;
	unsigned i;

	for (i = 1; i < attempts && d < p->retry_max; i++)
		d *= 2;
	return d > p->retry_max ? p->retry_max : (unsigned)d;
}

/* sched_give_up_at - when a message that arrived at arrival expires */
time_t
sched_give_up_at(const struct sched_params *p, time_t arrival)
{
	return arrival + (time_t)p->lifetime;
}

/* sched_expired - 1 if a temporary failure at now is final */
int
sched_expired(const struct sched_params *p, time_t arrival, time_t now)
{
	return now >= sched_give_up_at(p, arrival);
}

/*
 * sched_next_attempt - when to try again after the attempts-th failed
 * attempt at now: now + backoff, but never after the give-up time, so
 * the last attempt happens exactly then
 */
time_t
sched_next_attempt(const struct sched_params *p, time_t arrival,
    unsigned attempts, time_t now)
{
	time_t next = now + (time_t)sched_backoff(p, attempts);
	time_t end = sched_give_up_at(p, arrival);

	if (next > end)
		next = end > now ? end : now;
	return next;
}

/* sched_warn_at - when the delay warning is due; 0 when warnings are off */
time_t
sched_warn_at(const struct sched_params *p, time_t arrival)
{
	if (p->warn_after == 0 || p->warn_after >= p->lifetime)
		return 0;
	return arrival + (time_t)p->warn_after;
}

/* sched_warning_due - 1 if a message not yet warned about needs it now */
int
sched_warning_due(const struct sched_params *p, time_t arrival, int warned,
    time_t now)
{
	time_t at = sched_warn_at(p, arrival);

	return !warned && at != 0 && now >= at;
}

/*
 * sched_verdict_of - the fate a reply code decides. Only the first digit
 * counts (RFC 5321 4.2.1; an enhanced code that disagrees loses, RFC
 * 3463). No reply (0), 1xx, 3xx and codes outside 200-599 are protocol
 * trouble on the way and so temporary.
 */
enum sched_verdict
sched_verdict_of(int code)
{
	if (code >= 200 && code <= 299)
		return SCHED_DELIVERED;
	if (code >= 500 && code <= 599)
		return SCHED_FAIL;
	return SCHED_DEFER;
}

/* sched_verdict_name - "delivered", "deferred" or "failed" */
const char *
sched_verdict_name(enum sched_verdict v)
{
	switch (v) {
	case SCHED_DELIVERED: return "delivered";
	case SCHED_DEFER: return "deferred";
	case SCHED_FAIL: return "failed";
	}
	return "?";
}

/*
 * sched_fmt_duration - a duration for people, in its two largest units:
 * "45s", "12m", "1h 5m", "2d 4h", "5d" (the sign is dropped). Returns 0,
 * or -1 if it does not fit in cap.
 */
int
sched_fmt_duration(char *out, size_t cap, long long secs)
{
	static const struct { long long len; char unit; } u[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	long long a, b;
	size_t i;
	int n;

	if (secs < 0)
		secs = -secs;
	for (i = 0; i + 1 < sizeof(u) / sizeof(u[0]); i++)
		if (secs >= u[i].len)
			break;
	a = secs / u[i].len;
	b = i + 1 < sizeof(u) / sizeof(u[0]) ?
	    (secs % u[i].len) / u[i + 1].len : 0;
	if (b != 0)
		n = snprintf(out, cap, "%lld%c %lld%c", a, u[i].unit, b,
		    u[i + 1].unit);
	else
		n = snprintf(out, cap, "%lld%c", a, u[i].unit);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}
