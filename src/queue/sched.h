/*
 * sched - the retry schedule of the queue, as pure functions of the
 * configuration, the message's arrival time, the number of attempts and
 * the current time. No I/O, no clock: the caller passes "now".
 *
 *   - after the n-th failed attempt (n >= 1) the next one comes
 *     retry_first * 2^(n-1) seconds later, at most retry_max;
 *   - no attempt is planned past arrival + max_queue_lifetime: the last
 *     one happens at that moment, and a temporary failure then is final;
 *   - one delay warning goes out at arrival + delay_warning_time (0: off)
 *     while recipients are still pending.
 *
 * How a reply code decides a recipient's fate (RFC 5321 4.2.1: only the
 * first digit counts) also lives here, so the rules are tested in one
 * place.
 */
#ifndef TERN_SCHED_H
#define TERN_SCHED_H

#include <stddef.h>
#include <time.h>

struct conf;

#define SCHED_RETRY_FIRST_DEFAULT 300u         /* 5m */
#define SCHED_RETRY_MAX_DEFAULT 3600u          /* 1h */
#define SCHED_LIFETIME_DEFAULT (5u * 86400u)   /* 5d */
#define SCHED_WARN_DEFAULT (4u * 3600u)        /* 4h */

struct sched_params {
	unsigned retry_first; /* seconds after the first failed attempt */
	unsigned retry_max;   /* longest wait between attempts */
	unsigned lifetime;    /* give up this long after arrival */
	unsigned warn_after;  /* delay warning this long after arrival; 0 off */
};

/* what a reply code means for the recipient it answers */
enum sched_verdict {
	SCHED_DELIVERED, /* 2xx: done (251: forwarded by that server) */
	SCHED_DEFER,     /* 4xx, no reply, or nonsense: try again later */
	SCHED_FAIL,      /* 5xx: failed for good, bounce now */
};

void sched_params_set(struct sched_params *p, unsigned retry_first,
    unsigned retry_max, unsigned lifetime, unsigned warn_after);
void sched_params_from_conf(struct sched_params *p, const struct conf *c);

unsigned sched_backoff(const struct sched_params *p, unsigned attempts);
time_t sched_give_up_at(const struct sched_params *p, time_t arrival);
int sched_expired(const struct sched_params *p, time_t arrival, time_t now);
time_t sched_next_attempt(const struct sched_params *p, time_t arrival,
    unsigned attempts, time_t now);
time_t sched_warn_at(const struct sched_params *p, time_t arrival);
int sched_warning_due(const struct sched_params *p, time_t arrival,
    int warned, time_t now);

enum sched_verdict sched_verdict_of(int code);
const char *sched_verdict_name(enum sched_verdict v);

int sched_fmt_duration(char *out, size_t cap, long long secs);

#endif
