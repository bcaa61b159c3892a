/*
 * util - allocation wrappers, fatal(), ASCII string helpers, and the
 * parsers for sizes ("25M") and durations ("5m") shared by config and CLI.
 */
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* xmalloc - malloc or die; for startup and config load only */
void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu bytes", n);
	return p;
}

/* xcalloc - calloc or die */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu elements", n);
	return p;
}

/* xrealloc - realloc or die */
void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal("out of memory allocating %zu bytes", n);
	return q;
}

/* xstrdup - strdup or die */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes of s, NUL-terminated, or die */
char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* fatal - log a broken invariant and exit */
void
fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERR, "ev=fatal msg=\"%s\"", msg);
	exit(1);
}

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* str_lower - lower-case ASCII letters in place (UTF-8 bytes untouched) */
void
str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)lower((unsigned char)*s);
}

/* str_casecmp_ascii - compare ignoring ASCII case, locale-free */
int
str_casecmp_ascii(const char *a, const char *b)
{
	int ca, cb;

	do {
		ca = lower((unsigned char)*a++);
		cb = lower((unsigned char)*b++);
	} while (ca == cb && ca != 0);
	return ca - cb;
}

/* str_ncasecmp_ascii - compare at most n bytes ignoring ASCII case */
int
str_ncasecmp_ascii(const char *a, const char *b, size_t n)
{
	int ca = 0, cb = 0;

	while (n-- > 0) {
		ca = lower((unsigned char)*a++);
		cb = lower((unsigned char)*b++);
		if (ca != cb || ca == 0)
			break;
	}
	return ca - cb;
}

/* str_has_prefix_ci - does s start with prefix, ignoring ASCII case */
int
str_has_prefix_ci(const char *s, const char *prefix)
{
	return str_ncasecmp_ascii(s, prefix, strlen(prefix)) == 0;
}

/* str_hash - FNV-1a of a NUL-terminated string, for hash tables */
uint32_t
str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* parse_size - "1024", "64k", "25M", "1G" (powers of 1024) into bytes; -1 on error */
int
parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K': mult = 1024ULL; p++; break;
	case 'm': case 'M': mult = 1024ULL * 1024; p++; break;
	case 'g': case 'G': mult = 1024ULL * 1024 * 1024; p++; break;
	default:
		return -1;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0')
		return -1;
	if (v != 0 && mult > UINT64_MAX / v)
		return -1;
	*out = v * mult;
	return 0;
}

/* parse_duration - "30", "30s", "5m", "2h", "5d" into seconds; -1 on error */
int
parse_duration(const char *s, unsigned *seconds)
{
	uint64_t v = 0, mult = 1; /* v * mult must not wrap on ILP32 */
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 100000000UL)
			return -1;
	}
	switch (*p) {
	case '\0': break;
	case 's': p++; break;
	case 'm': mult = 60; p++; break;
	case 'h': mult = 3600; p++; break;
	case 'd': mult = 86400; p++; break;
	default:
		return -1;
	}
	if (*p != '\0' || v * mult > 0xffffffffUL)
		return -1;
	*seconds = (unsigned)(v * mult);
	return 0;
}

/* now_usec - wall-clock time in microseconds */
uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static atomic_int cached_pid; /* 0: not known */
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void
pid_forget(void)
{
	atomic_store(&cached_pid, 0);
}

static void
pid_watch_forks(void)
{
	pthread_atfork(NULL, NULL, pid_forget);
}

/*
 * self_pid - getpid(), remembered: glibc does not cache it, and every
 * log line and every Maildir name would pay a system call for it. A
 * fork (daemon(), tern's children) forgets it in the child. Threads that
 * race to fill it in store the same value.
 */
pid_t
self_pid(void)
{
	int pid;

	pthread_once(&pid_once, pid_watch_forks);
	pid = atomic_load(&cached_pid);
	if (pid == 0) {
		pid = (int)getpid();
		atomic_store(&cached_pid, pid);
	}
	return (pid_t)pid;
}
