/*
 * util - small helpers with no mail knowledge: allocation that aborts
 * (startup and config load only), fatal errors, ASCII case handling.
 */
#ifndef TERN_UTIL_H
#define TERN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

void str_lower(char *s);
int str_casecmp_ascii(const char *a, const char *b);
int str_ncasecmp_ascii(const char *a, const char *b, size_t n);
int str_has_prefix_ci(const char *s, const char *prefix);
uint32_t str_hash(const char *s);
int parse_size(const char *s, uint64_t *out);
int parse_duration(const char *s, unsigned *seconds);
uint64_t now_usec(void);
pid_t self_pid(void);

#endif
