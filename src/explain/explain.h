/*
 * explain - find SMTP replies in what a user pastes, and explain them.
 *
 * Input is anything: a bare code ("550"), a code with an enhanced code
 * ("550 5.1.1"), a bare enhanced code, one or more reply lines (also
 * multi-line replies, also flattened onto one line), a log line, or a
 * whole bounce message. RFC 3464 delivery-status reports are read field
 * by field (one item per recipient); other bounces (qmail, Exim, older
 * Sendmail, Exchange texts) are scanned for reply lines and "(#X.Y.Z)".
 *
 * Everything here is pure: bytes in, a result struct out, and text or
 * JSON appended to a buf. No I/O, no allocation besides the caller's buf,
 * bounded loops, so it is unit tested and fuzzed directly.
 */
#ifndef TERN_EXPLAIN_H
#define TERN_EXPLAIN_H

#include <stddef.h>

#include "../lib/buf.h"
#include "kb.h"

#define EXPLAIN_MAX_ITEMS 32
#define EXPLAIN_TEXT_MAX 2048
#define EXPLAIN_ADDR_MAX 320
#define EXPLAIN_ESC_MAX 12 /* "5.123.123" + NUL fits */

/* one reply found in the input (one per recipient in a bounce) */
struct explain_item {
	int code;                        /* basic code, 0 if none */
	char esc[EXPLAIN_ESC_MAX];       /* enhanced code, "" if none */
	char text[EXPLAIN_TEXT_MAX];     /* reply text, lines joined */
	char recipient[EXPLAIN_ADDR_MAX]; /* "" if unknown */
	char action[16];                 /* DSN Action:, "" if none */
	char remote_mta[256];            /* DSN Remote-MTA:, "" if none */
	int truncated;                   /* text or an address was cut */
	int from_dsn;                    /* read from an RFC 3464 report */
	enum kb_verdict verdict;
};

struct explain_result {
	struct explain_item items[EXPLAIN_MAX_ITEMS];
	size_t n;
	size_t dropped; /* items beyond EXPLAIN_MAX_ITEMS */
	int dsn;        /* the input held an RFC 3464 report */
};

/* flags for explain_text() */
#define EXPLAIN_COLOR 0x1

void explain_parse(const char *in, size_t len, struct explain_result *res);
int explain_text(struct buf *out, const struct explain_result *res,
    unsigned flags, unsigned width);
int explain_json(struct buf *out, const struct explain_result *res);
int explain_json_string(struct buf *out, const char *s, size_t len);
int explain_table_markdown(struct buf *out);

#endif
