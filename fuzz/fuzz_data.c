/*
 * fuzz_data - libFuzzer target for the DATA scanner (src/smtp/data.c):
 * the end-of-data marker, dot-unstuffing and line-ending normalisation,
 * in DATA_DOT and DATA_RAW mode.
 *
 * Input layout:
 *   byte 0      bit 0: mode (0 DATA_DOT, 1 DATA_RAW);
 *               bits 1-2: limit (0 none, 1 byte 1, 2 64k, 3 byte 1 * 256)
 *   byte 1      parameter of the limit
 *   byte 2      number of split points k (low 5 bits)
 *   2k bytes    split offsets, 16 bits each, taken modulo the data length
 *   the rest    the message data
 *
 * Each input is scanned three times: by a simple line-by-line model
 * written here, by data_feed() given everything at once, and by
 * data_feed() given the pieces between the split points. It checks:
 * the three agree on where the data ends, on the bytes consumed, on the
 * content size, bare_seen and over-long line count; the scanner's two
 * runs end in the same state; without overflow both outputs equal the
 * model's; with overflow both are prefixes of it and no longer than the
 * limit; every output has CRLF line endings only. Nothing else: the
 * scanner owns no resources besides the output buffer freed here.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SPLITS 31

/* the target's own checks are not code under test: no coverage for them */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

/* a broken invariant: say which and abort, so libFuzzer saves the input */
static void
fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_data.c:%d: check failed: %s\n", line, what);
	abort();
}

#define CHECK(c) do { if (!(c)) fail(__LINE__, #c); } while (0)

/* what the model expects */
struct model {
	struct buf out;       /* the content, never limited */
	size_t used;          /* bytes consumed */
	int done;             /* the end marker was found */
	int bare_seen;
	uint64_t over1000;
};

static NOCOV void
model_emit(struct model *m, const char *s, size_t n)
{
	if (buf_append(&m->out, s, n) < 0)
		abort(); /* no ceiling: only ENOMEM */
}

/*
 * The specification, one line at a time: a line ends in CRLF, a bare CR
 * (one not followed by LF) or a bare LF. DATA_DOT: "." between two real
 * CRLFs (the start counts as one) ends the data; any other lone "." is
 * content; a leading dot of a longer line is dropped (RFC 5321 4.5.2).
 * Every line end is stored as CRLF. A trailing piece without a line end
 * is stored as far as it is known: a final CR and a lone dot are held
 * back. DATA_RAW: no dots and no end; a final CR is a bare CR once the
 * data is finished (data_finish()).
 */
static NOCOV void
model_scan(struct model *m, const char *in, size_t len, enum data_mode mode)
{
	size_t i = 0;
	int prev_crlf = 1;

	buf_init(&m->out, 0);
	m->done = 0;
	m->bare_seen = 0;
	m->over1000 = 0;
	while (i < len) {
		size_t j = i, next, cn;
		const char *c = in + i;
		int crlf, pending_cr = 0;

		while (j < len && in[j] != '\r' && in[j] != '\n')
			j++;
		cn = j - i;
		if (j == len || (in[j] == '\r' && j + 1 == len)) {
			/* no line end yet */
			pending_cr = j < len;
			if (mode == DATA_DOT && cn > 0 && c[0] == '.') {
				c++;
				cn--;
			}
			model_emit(m, c, cn);
			if (mode == DATA_RAW && pending_cr) {
				model_emit(m, "\r\n", 2);
				m->bare_seen = 1;
				if (cn > 998)
					m->over1000++;
			}
			break;
		}
		if (in[j] == '\r' && in[j + 1] == '\n') {
			crlf = 1;
			next = j + 2;
		} else {
			crlf = 0;
			next = j + 1;
		}
		if (mode == DATA_DOT && cn == 1 && c[0] == '.' && prev_crlf &&
		    crlf) {
			m->done = 1;
			m->used = next;
			return;
		}
		if (mode == DATA_DOT && cn > 1 && c[0] == '.') {
			c++;
			cn--;
		}
		model_emit(m, c, cn);
		model_emit(m, "\r\n", 2);
		if (cn > 998)
			m->over1000++;
		if (!crlf)
			m->bare_seen = 1;
		prev_crlf = crlf;
		i = next;
	}
	m->used = len;
}

/* every CR is followed by LF and every LF follows a CR */
static NOCOV int
crlf_only(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' && (i + 1 == b->len ||
		    b->data[i + 1] != '\n'))
			return 0;
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

/* a is b[0..a->len) */
static NOCOV int
is_prefix(const struct buf *a, const struct buf *b)
{
	return a->len <= b->len &&
	    (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static NOCOV int
buf_eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && is_prefix(a, b);
}

static NOCOV int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* LLVMFuzzerTestOneInput - scan with the model, whole and in pieces */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t splits[MAX_SPLITS + 1], k, len, used1, used2 = 0, prev = 0;
	struct data_scan s1, s2;
	struct buf out1, out2;
	struct model m;
	enum data_mode mode;
	uint64_t limit;
	const char *in;
	int done1, done2 = 0;

	if (size < 3)
		return 0;
	mode = (data[0] & 1) ? DATA_RAW : DATA_DOT;
	switch ((data[0] >> 1) & 3) {
	case 0: limit = UINT64_MAX; break;
	case 1: limit = data[1]; break;
	case 2: limit = 65536; break;
	default: limit = (uint64_t)data[1] * 256; break;
	}
	k = data[2] & MAX_SPLITS;
	if (size < 3 + 2 * k)
		return 0;
	in = (const char *)data + 3 + 2 * k;
	len = size - 3 - 2 * k;
	for (size_t i = 0; i < k; i++)
		splits[i] = ((size_t)data[3 + 2 * i] << 8 | data[4 + 2 * i]) %
		    (len + 1);
	qsort(splits, k, sizeof(splits[0]), cmp_size);
	splits[k++] = len;

	model_scan(&m, in, len, mode);

	/* whole */
	buf_init(&out1, 0);
	data_start(&s1, mode, limit);
	used1 = data_feed(&s1, in, len, &out1, &done1);
	if (mode == DATA_RAW)
		data_finish(&s1, &out1);

	/* in pieces; some may be empty */
	buf_init(&out2, 0);
	data_start(&s2, mode, limit);
	for (size_t i = 0; i < k && !done2; i++) {
		size_t n = splits[i] - prev, u;

		u = data_feed(&s2, in + prev, n, &out2, &done2);
		CHECK(u <= n);
		CHECK(done2 || u == n);
		used2 = prev + u;
		prev = splits[i];
	}
	if (mode == DATA_RAW)
		data_finish(&s2, &out2);

	/* where it ended */
	CHECK(mode == DATA_DOT || (!done1 && !done2));
	CHECK(done1 == m.done && done2 == m.done);
	CHECK(used1 == m.used && used2 == m.used);

	/* what it saw */
	CHECK(s1.size == m.out.len && s2.size == m.out.len);
	CHECK(s1.bare_seen == m.bare_seen && s2.bare_seen == m.bare_seen);
	CHECK(s1.lines_over_1000 == m.over1000);
	CHECK(s2.lines_over_1000 == m.over1000);
	CHECK(s1.overflow == (m.out.len > limit));
	CHECK(s2.overflow == s1.overflow);
	CHECK(s1.st == s2.st && s1.linelen == s2.linelen);
	CHECK(s1.mode == mode && s2.mode == mode && s1.limit == limit);

	/* what it stored */
	CHECK(crlf_only(&m.out));
	CHECK(crlf_only(&out1) && crlf_only(&out2));
	if (!s1.overflow) {
		CHECK(buf_eq(&out1, &m.out) && buf_eq(&out2, &m.out));
	} else {
		CHECK(out1.len <= limit && out2.len <= limit);
		CHECK(is_prefix(&out1, &m.out) && is_prefix(&out2, &m.out));
	}

	buf_free(&out1);
	buf_free(&out2);
	buf_free(&m.out);
	return 0;
}
