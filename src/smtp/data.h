/*
 * data - the message-data scanner: finds the end of DATA, removes
 * dot-stuffing and turns every line ending into CRLF.
 *
 * Only <CR><LF>.<CR><LF> ends DATA (RFC 5321 4.1.1.4); a bare CR or LF
 * never does, so no byte sequence can end one message and start another
 * (SMTP smuggling). Bare CR and LF are stored as CRLF and remembered in
 * bare_seen, so the caller can refuse the message under a strict policy.
 * The same scanner, in raw mode, normalises BDAT chunks (no dots, no end
 * marker: RFC 3030 counts bytes). Pure: no I/O, no allocation beyond
 * the output buffer it is given.
 */
#ifndef TERN_DATA_H
#define TERN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

enum data_mode { DATA_DOT, DATA_RAW };

struct data_scan {
	enum data_mode mode;
	int st;          /* scanner state, private */
	int bare_seen;   /* a bare CR or LF was in the data */
	int overflow;    /* content passed limit; the rest was not stored */
	uint64_t size;   /* content octets seen (as stored, after unstuffing) */
	uint64_t limit;  /* store at most this many octets */
	uint64_t lines_over_1000; /* text lines longer than RFC 5321 allows */
	uint64_t linelen;
};

void data_start(struct data_scan *s, enum data_mode mode, uint64_t limit);
size_t data_feed(struct data_scan *s, const char *in, size_t len,
    struct buf *out, int *done);
void data_finish(struct data_scan *s, struct buf *out);

#endif
