/*
 * buf - one growable byte buffer with a ceiling set by its owner.
 *
 * A buf never grows past its ceiling: buf_append() fails with ENOBUFS
 * instead, so a hostile peer cannot make a session allocate without bound.
 * The data is not NUL-terminated unless the caller appends a NUL.
 */
#ifndef TERN_BUF_H
#define TERN_BUF_H

#include <stddef.h>
#include <sys/types.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* ceiling for len; 0 means no ceiling */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);
const char *buf_cstr(struct buf *b);

#endif
