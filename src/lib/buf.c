/*
 * buf - growable byte buffer with a ceiling.
 *
 * Owns only its own storage. Growth doubles the capacity up to the
 * ceiling; callers decide what a failed append means (usually a reply).
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* buf_init - start an empty buffer that may hold at most max bytes */
void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* buf_free - release the storage; the buf may be reused after buf_init */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* buf_reset - forget the contents but keep the storage */
void
buf_reset(struct buf *b)
{
	b->len = 0;
}

/* buf_reserve - make room for extra more bytes (plus a NUL); -1 ENOBUFS/ENOMEM */
int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1) {
		errno = ENOBUFS;
		return -1;
	}
	need = b->len + extra;
	if (b->max != 0 && need > b->max) {
		errno = ENOBUFS;
		return -1;
	}
	if (need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need + 1) {
		if (ncap > SIZE_MAX / 2) {
			/* doubling would wrap to 0 and never end */
			ncap = need + 1;
			break;
		}
		ncap *= 2;
	}
	if (b->max != 0 && ncap > b->max + 1)
		ncap = b->max + 1;
	p = realloc(b->data, ncap);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

/* buf_append - add n bytes; on failure nothing is added */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* buf_putc - add one byte */
int
buf_putc(struct buf *b, char c)
{
	if (b->len + 1 < b->cap && (b->max == 0 || b->len < b->max)) {
		b->data[b->len++] = c;
		return 0;
	}
	return buf_append(b, &c, 1);
}

/* buf_puts - add a C string without its NUL */
int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* buf_printf - add formatted text; on failure nothing is added */
int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* buf_consume - drop the first n bytes */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

/* buf_cstr - the contents as a NUL-terminated string (valid until the next change) */
const char *
buf_cstr(struct buf *b)
{
	if (b->data == NULL || b->len + 1 > b->cap) {
		if (buf_reserve(b, 0) < 0)
			return "";
	}
	b->data[b->len] = '\0';
	return b->data;
}
