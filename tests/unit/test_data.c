/*
 * test_data - the DATA scanner: the end marker, dot-unstuffing, every
 * SMTP-smuggling line ending (none may end the data, all are stored as
 * CRLF), the size limit, over-long lines, and BDAT raw mode. Every input
 * is also fed byte by byte and split at every point, and must give the
 * same result as when fed whole. An exhaustive check over short strings
 * of CR, LF, '.' and 'a' compares the scanner with a simple model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"

#define NOLIMIT UINT64_MAX

/* a printable copy of n bytes (CR, LF and other controls escaped) */
static const char *
esc(const char *s, size_t n)
{
	static char out[4][4096];
	static int k;
	char *o = out[k++ & 3];
	size_t j = 0;

	if (s == NULL)
		n = 0;
	for (size_t i = 0; i < n && j + 8 < sizeof(out[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			j += (size_t)sprintf(o + j, "\\r");
		else if (c == '\n')
			j += (size_t)sprintf(o + j, "\\n");
		else if (c == '"' || c == '\\')
			j += (size_t)sprintf(o + j, "\\%c", c);
		else if (c < 32 || c >= 127)
			j += (size_t)sprintf(o + j, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	if (j + 8 >= sizeof(out[0]))
		j += (size_t)sprintf(o + j, "...");
	o[j] = '\0';
	return o;
}

/* equal byte strings; either may be NULL when empty */
static int
mem_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* what one scan produced */
struct result {
	struct buf out;
	size_t used;
	int done;
	int bare_seen;
	int overflow;
	uint64_t size;
	uint64_t over1000;
};

static void
result_free(struct result *r)
{
	buf_free(&r->out);
}

/*
 * scan in with the given chunk boundaries: split is a list of chunk
 * lengths (0-terminated); the last chunk takes what is left. Feeding
 * stops at the end marker, as the engine does. finish: call data_finish.
 */
static void
scan(enum data_mode mode, uint64_t limit, const char *in, size_t len,
    const size_t *split, int finish, struct result *r)
{
	struct data_scan s;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 0);
	data_start(&s, mode, limit);
	while (off < len && !r->done) {
		size_t n = len - off, got;

		if (split != NULL && *split != 0) {
			size_t want = *split++;

			if (want < n)
				n = want;
		}
		got = data_feed(&s, in + off, n, &r->out, &r->done);
		if (got > n)
			fail_msg("data_feed consumed %zu of %zu", got, n);
		if (got < n && !r->done)
			fail_msg("data_feed stopped at %zu of %zu without the "
			    "end marker", got, n);
		off += got;
	}
	if (finish)
		data_finish(&s, &r->out);
	r->used = off;
	r->bare_seen = s.bare_seen;
	r->overflow = s.overflow;
	r->size = s.size;
	r->over1000 = s.lines_over_1000;
}

/* 1 if every CR in out is followed by LF and every LF follows a CR */
static int
crlf_clean(const char *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (out[i] == '\r' && (i + 1 == len || out[i + 1] != '\n'))
			return 0;
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

/* compare two results; prints the first difference; 0 when equal */
static int
same(const char *name, const char *how, const struct result *a,
    const struct result *b, int cmp_out)
{
	if (a->used != b->used || a->done != b->done ||
	    a->bare_seen != b->bare_seen || a->overflow != b->overflow ||
	    a->size != b->size || a->over1000 != b->over1000) {
		print_error("%s: %s: got used=%zu done=%d bare=%d overflow=%d "
		    "size=%llu over1000=%llu, want (as fed whole) used=%zu "
		    "done=%d bare=%d overflow=%d size=%llu over1000=%llu\n",
		    name, how, b->used, b->done, b->bare_seen, b->overflow,
		    (unsigned long long)b->size,
		    (unsigned long long)b->over1000, a->used, a->done,
		    a->bare_seen, a->overflow, (unsigned long long)a->size,
		    (unsigned long long)a->over1000);
		return 1;
	}
	if (cmp_out && !mem_eq(a->out.data, a->out.len, b->out.data,
			   b->out.len)) {
		print_error("%s: %s: got \"%s\", want (as fed whole) \"%s\"\n",
		    name, how, esc(b->out.data, b->out.len),
		    esc(a->out.data, a->out.len));
		return 1;
	}
	return 0;
}

/*
 * feed in whole, byte by byte, and split in two at every point; all must
 * agree (the stored bytes too, unless the limit was passed: then only
 * the counters must agree, and nothing past the limit may be stored).
 */
static int
check_splits(const char *name, enum data_mode mode, uint64_t limit,
    const char *in, size_t len, int finish, struct result *whole)
{
	size_t ones[8192];
	int bad = 0;

	scan(mode, limit, in, len, NULL, finish, whole);
	if (len < sizeof(ones) / sizeof(ones[0])) {
		struct result r;

		for (size_t i = 0; i < len; i++)
			ones[i] = 1;
		ones[len] = 0;
		scan(mode, limit, in, len, ones, finish, &r);
		bad += same(name, "byte by byte", whole, &r, !whole->overflow);
		result_free(&r);
	}
	for (size_t k = 1; k < len && !bad; k++) {
		size_t sp[2] = { k, 0 };
		struct result r;
		char how[64];

		snprintf(how, sizeof(how), "split at %zu", k);
		scan(mode, limit, in, len, sp, finish, &r);
		bad += same(name, how, whole, &r, !whole->overflow);
		result_free(&r);
	}
	return bad;
}

struct dot_case {
	const char *name;
	const char *in;
	const char *want;  /* the stored content */
	size_t want_used;  /* bytes consumed; (size_t)-1: all of in */
	int want_done;
	int want_bare;
};

#define ALL ((size_t)-1)
#define TAIL "b\r\n.\r\n"

static const struct dot_case dot_cases[] = {
	{ "end marker", "Hello\r\n.\r\n", "Hello\r\n", ALL, 1, 0 },
	{ "bytes after the end are not consumed",
	    "Hello\r\n.\r\nMAIL FROM:<a@b>\r\n", "Hello\r\n", 10, 1, 0 },
	{ "only the end marker", ".\r\n", "", ALL, 1, 0 },
	{ "only the end marker, then more", ".\r\nQUIT\r\n", "", 3, 1, 0 },
	{ "empty line then end", "\r\n.\r\n", "\r\n", ALL, 1, 0 },
	{ "header and body", "Subject: x\r\n\r\nbody\r\n.\r\n",
	    "Subject: x\r\n\r\nbody\r\n", ALL, 1, 0 },
	{ "no end yet", "Hello\r\n", "Hello\r\n", ALL, 0, 0 },
	{ "no end, line open", "Hello", "Hello", ALL, 0, 0 },
	{ "stuffed dot", "..x\r\n.\r\n", ".x\r\n", ALL, 1, 0 },
	{ "unstuffed leading dot dropped", ".x\r\n.\r\n", "x\r\n", ALL, 1,
	    0 },
	{ "stuffed lone dot", "a\r\n..\r\n.\r\n", "a\r\n.\r\n", ALL, 1, 0 },
	{ "three dots", "a\r\n...\r\n.\r\n", "a\r\n..\r\n", ALL, 1, 0 },
	{ "dot inside a line", "a.b\r\n.\r\n", "a.b\r\n", ALL, 1, 0 },
	{ "dot at line end", "a.\r\n.\r\n", "a.\r\n", ALL, 1, 0 },
	{ "dot then space", "a\r\n. \r\n.\r\n", "a\r\n \r\n", ALL, 1, 0 },
	{ "end after CR CR LF", "a\r\r\n.\r\n", "a\r\n\r\n", ALL, 1, 1 },
	/* smuggling: none of these ends the data */
	{ "LF . LF", "a\n.\n" TAIL, "a\r\n.\r\nb\r\n", ALL, 1, 1 },
	{ "CR . CR", "a\r.\r" TAIL, "a\r\n.\r\nb\r\n", ALL, 1, 1 },
	{ "LF . CRLF", "a\n.\r\n" TAIL, "a\r\n.\r\nb\r\n", ALL, 1, 1 },
	{ "CR . LF", "a\r.\n" TAIL, "a\r\n.\r\nb\r\n", ALL, 1, 1 },
	{ "CRLF . LF", "a\r\n.\n" TAIL, "a\r\n.\r\nb\r\n", ALL, 1, 1 },
	{ "CRLF . CR", "a\r\n.\r" TAIL, "a\r\n.\r\nb\r\n", ALL, 1, 1 },
	{ "CR . CRLF", "a\r.\r\n" TAIL, "a\r\n.\r\nb\r\n", ALL, 1, 1 },
	{ "CRLF . CR CRLF", "a\r\n.\r\r\n" TAIL, "a\r\n.\r\n\r\nb\r\n", ALL,
	    1, 1 },
	{ "LF . CR CRLF", "a\n.\r\r\n" TAIL, "a\r\n.\r\n\r\nb\r\n", ALL, 1,
	    1 },
	{ ". LF at start", ".\n" TAIL, ".\r\nb\r\n", ALL, 1, 1 },
	{ ". CR at start", ".\r" TAIL, ".\r\nb\r\n", ALL, 1, 1 },
	{ ". CR CR LF at start", ".\r\r\n" TAIL, ".\r\n\r\nb\r\n", ALL, 1, 1 },
	{ "LF . LF, no end", "a\n.\n", "a\r\n.\r\n", ALL, 0, 1 },
	{ "LF . CRLF, no end", "a\n.\r\n", "a\r\n.\r\n", ALL, 0, 1 },
	{ "smuggled command", "a\n.\r\nMAIL FROM:<x@y>\r\n" TAIL,
	    "a\r\n.\r\nMAIL FROM:<x@y>\r\nb\r\n", ALL, 1, 1 },
	{ "bare LF in text", "a\nb\r\n.\r\n", "a\r\nb\r\n", ALL, 1, 1 },
	{ "bare CR in text", "a\rb\r\n.\r\n", "a\r\nb\r\n", ALL, 1, 1 },
	{ "bare LF stuffed dot", "a\n..x\r\n.\r\n", "a\r\n.x\r\n", ALL, 1,
	    1 },
	{ "bare LF, unstuffed dot", "a\n.x\r\n.\r\n", "a\r\nx\r\n", ALL, 1,
	    1 },
	{ "LF LF", "a\n\n" TAIL, "a\r\n\r\nb\r\n", ALL, 1, 1 },
	{ "CR CR", "a\r\r" TAIL, "a\r\n\r\nb\r\n", ALL, 1, 1 },
	{ "LF CR", "a\n\r" TAIL, "a\r\n\r\nb\r\n", ALL, 1, 1 },
	{ "8-bit kept", "\xc3\xa9\xffz\r\n.\r\n", "\xc3\xa9\xffz\r\n", ALL,
	    1, 0 },
};

static void
test_dot_cases(void **state)
{
	size_t ncases = sizeof(dot_cases) / sizeof(dot_cases[0]);
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < ncases; i++) {
		const struct dot_case *c = &dot_cases[i];
		size_t len = strlen(c->in), wlen = strlen(c->want);
		size_t want_used = c->want_used == ALL ? len : c->want_used;
		struct result r;
		int b = 0;

		b += check_splits(c->name, DATA_DOT, NOLIMIT, c->in, len, 0,
		    &r);
		if (!mem_eq(r.out.data, r.out.len, c->want, wlen)) {
			print_error("%s: \"%s\": got \"%s\", want \"%s\"\n",
			    c->name, esc(c->in, len),
			    esc(r.out.data, r.out.len), esc(c->want, wlen));
			b++;
		}
		if (r.used != want_used || r.done != c->want_done ||
		    r.bare_seen != c->want_bare) {
			print_error("%s: \"%s\": got used=%zu done=%d bare=%d, "
			    "want used=%zu done=%d bare=%d\n", c->name,
			    esc(c->in, len), r.used, r.done, r.bare_seen,
			    want_used, c->want_done, c->want_bare);
			b++;
		}
		if (!crlf_clean(r.out.data, r.out.len)) {
			print_error("%s: got \"%s\", want only CRLF line "
			    "endings\n", c->name, esc(r.out.data, r.out.len));
			b++;
		}
		if (r.size != r.out.len) {
			print_error("%s: got size %llu, want %zu (the stored "
			    "octets)\n", c->name, (unsigned long long)r.size,
			    r.out.len);
			b++;
		}
		result_free(&r);
		bad += b ? 1 : 0;
	}
	/* a NUL octet is content like any other */
	{
		static const char in[] = "a\0b\r\n\0\r\n.\r\n";
		static const char want[] = "a\0b\r\n\0\r\n";
		struct result r;

		bad += check_splits("NUL kept", DATA_DOT, NOLIMIT, in,
		    sizeof(in) - 1, 0, &r);
		if (!r.done ||
		    !mem_eq(r.out.data, r.out.len, want, sizeof(want) - 1)) {
			print_error("NUL kept: got \"%s\" done=%d, want \"%s\" "
			    "done=1\n", esc(r.out.data, r.out.len), r.done,
			    esc(want, sizeof(want) - 1));
			bad++;
		}
		result_free(&r);
	}
	if (bad)
		fail_msg("%d of %zu DATA cases failed", bad, ncases + 1);
}

/*
 * The model: the data ends at the first "<CRLF>.<CRLF>", counting the
 * CRLF of the DATA command before the first line. Before it, a line ends
 * at CRLF, or at a CR or LF alone (bare); each line is stored with CRLF,
 * without its leading dot unless the line is just ".". Of an unfinished
 * last line, what is known is stored: not a CR that may yet become CRLF,
 * and not a leading dot that may yet turn out to be the end marker.
 */
static void
model(const char *in, size_t len, struct buf *out, size_t *used, int *done,
    int *bare)
{
	char pre[64];
	const char *m = NULL;
	size_t clen, i, start;

	memcpy(pre, "\r\n", 2);
	memcpy(pre + 2, in, len);
	for (i = 0; i + 5 <= len + 2; i++) {
		if (memcmp(pre + i, "\r\n.\r\n", 5) == 0) {
			m = pre + i;
			break;
		}
	}
	*done = m != NULL;
	*used = m ? (size_t)(m - pre) + 5 - 2 : len;
	clen = m ? (size_t)(m - pre) : len; /* content with its last CRLF */
	*bare = 0;
	buf_reset(out);
	for (start = 0, i = 0; i < clen;) {
		size_t tlen;

		if (in[i] == '\r' && i + 1 < clen && in[i + 1] == '\n') {
			tlen = 2;
		} else if (in[i] == '\r' && i + 1 == clen && !m) {
			break; /* a CR still waiting for its LF */
		} else if (in[i] == '\r' || in[i] == '\n') {
			*bare = 1;
			tlen = 1;
		} else {
			i++;
			continue;
		}
		if (i - start > 1 && in[start] == '.')
			start++;
		buf_append(out, in + start, i - start);
		buf_append(out, "\r\n", 2);
		i += tlen;
		start = i;
	}
	/* the unfinished last line */
	if (i > start) {
		if (in[start] == '.')
			start++;
		buf_append(out, in + start, i - start);
	}
}

/* every string of CR, LF, '.', 'a' up to 8 octets: scanner == model */
static void
test_exhaustive(void **state)
{
	static const char alpha[4] = { '\r', '\n', '.', 'a' };
	char in[16];
	struct buf want;
	int bad = 0;
	long tried = 0;

	(void)state;
	buf_init(&want, 0);
	for (size_t len = 1; len <= 8 && bad < 10; len++) {
		size_t total = (size_t)1 << (2 * len);

		for (size_t v = 0; v < total && bad < 10; v++) {
			struct result r;
			size_t used;
			int done, bare, b = 0;

			for (size_t i = 0; i < len; i++)
				in[i] = alpha[(v >> (2 * i)) & 3];
			tried++;
			model(in, len, &want, &used, &done, &bare);
			b += check_splits("exhaustive", DATA_DOT, NOLIMIT, in,
			    len, 0, &r);
			if (r.done != done || r.used != used) {
				print_error("\"%s\": got done=%d used=%zu, "
				    "want done=%d used=%zu\n", esc(in, len),
				    r.done, r.used, done, used);
				b++;
			}
			if (!crlf_clean(r.out.data, r.out.len)) {
				print_error("\"%s\": got \"%s\", want only "
				    "CRLF line endings\n", esc(in, len),
				    esc(r.out.data, r.out.len));
				b++;
			}
			if (r.bare_seen != bare || !mem_eq(r.out.data,
				r.out.len, want.data, want.len)) {
				print_error("\"%s\": got \"%s\" bare=%d, want "
				    "\"%s\" bare=%d\n", esc(in, len),
				    esc(r.out.data, r.out.len), r.bare_seen,
				    esc(want.data, want.len), bare);
				b++;
			}
			result_free(&r);
			bad += b ? 1 : 0;
		}
	}
	buf_free(&want);
	if (bad)
		fail_msg("%d of %ld inputs differ from the model", bad, tried);
}

struct limit_case {
	const char *name;
	uint64_t limit;
	const char *in;
	uint64_t want_size;
	int want_overflow;
	const char *want; /* stored content when not overflowed */
};

static void
test_limit(void **state)
{
	static const struct limit_case cases[] = {
		{ "under the limit", 100, "0123456789\r\n.\r\n", 12, 0,
		    "0123456789\r\n" },
		{ "exactly the limit", 12, "0123456789\r\n.\r\n", 12, 0,
		    "0123456789\r\n" },
		{ "one over", 11, "0123456789\r\n.\r\n", 12, 1, NULL },
		{ "far over", 10, "0123456789ABCDEF\r\nmore\r\nlines\r\n.\r\n",
		    31, 1, NULL },
		{ "size after unstuffing", 4, "..x\r\n.\r\n", 4, 0, ".x\r\n" },
		{ "size counts CRLF for a bare LF", 5, "a\nb\r\n.\r\n", 6, 1,
		    NULL },
		{ "zero limit, empty message", 0, ".\r\n", 0, 0, "" },
		{ "zero limit, one line", 0, "a\r\n.\r\n", 3, 1, NULL },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct limit_case *c = &cases[i];
		size_t len = strlen(c->in);
		struct result r;
		int b = 0;

		b += check_splits(c->name, DATA_DOT, c->limit, c->in, len, 0,
		    &r);
		if (r.size != c->want_size || r.overflow != c->want_overflow ||
		    !r.done || r.used != len) {
			print_error("%s: got size=%llu overflow=%d done=%d "
			    "used=%zu, want size=%llu overflow=%d done=1 "
			    "used=%zu\n", c->name, (unsigned long long)r.size,
			    r.overflow, r.done, r.used,
			    (unsigned long long)c->want_size,
			    c->want_overflow, len);
			b++;
		}
		if (r.out.len > c->limit) {
			print_error("%s: got %zu octets stored, want at most "
			    "%llu\n", c->name, r.out.len,
			    (unsigned long long)c->limit);
			b++;
		}
		if (c->want != NULL && !mem_eq(r.out.data, r.out.len, c->want,
			strlen(c->want))) {
			print_error("%s: got \"%s\", want \"%s\"\n", c->name,
			    esc(r.out.data, r.out.len),
			    esc(c->want, strlen(c->want)));
			b++;
		}
		result_free(&r);
		bad += b ? 1 : 0;
	}

	/* a big message over a small limit: counted, cut, end still found */
	{
		size_t n = 200000, len;
		char *in = malloc(n + 16);
		struct result r;

		for (size_t k = 0; k < n; k++)
			in[k] = (k % 100 == 98) ? '\r' :
			    (k % 100 == 99) ? '\n' : 'x';
		memcpy(in + n, ".\r\nNOOP\r\n", 9);
		len = n + 9;
		scan(DATA_DOT, 65536, in, len, NULL, 0, &r);
		if (!r.done || r.used != n + 3 || !r.overflow ||
		    r.size != n || r.out.len > 65536) {
			print_error("200000 octets over 65536: got done=%d "
			    "used=%zu overflow=%d size=%llu stored=%zu, want "
			    "done=1 used=%zu overflow=1 size=%zu stored<=65536"
			    "\n", r.done, r.used, r.overflow,
			    (unsigned long long)r.size, r.out.len, n + 3, n);
			bad++;
		}
		result_free(&r);
		free(in);
	}
	if (bad)
		fail_msg("%d limit cases failed", bad);
}

/* RFC 5321 4.5.3.1.6: 1000 octets per line with the CRLF */
static void
test_long_lines(void **state)
{
	static const struct {
		const char *name;
		size_t lens[3]; /* text lengths of up to 3 lines */
		int stuffed;    /* lines start with a stuffed dot */
		const char *ending;
		uint64_t want;
	} cases[] = {
		{ "998 + CRLF", { 998 }, 0, "\r\n", 0 },
		{ "999 + CRLF", { 999 }, 0, "\r\n", 1 },
		{ "two long, one short", { 2000, 5, 1500 }, 0, "\r\n", 2 },
		{ "stuffed dot not counted", { 998 }, 1, "\r\n", 0 },
		{ "stuffed, one over", { 999 }, 1, "\r\n", 1 },
		{ "bare LF ending", { 999, 3 }, 0, "\n", 1 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf in;
		struct result r;

		buf_init(&in, 0);
		for (int l = 0; l < 3 && cases[i].lens[l] > 0; l++) {
			if (cases[i].stuffed)
				buf_putc(&in, '.');
			for (size_t k = 0; k < cases[i].lens[l]; k++)
				buf_putc(&in, (char)('a' + k % 26));
			buf_puts(&in, cases[i].ending);
		}
		buf_puts(&in, "\r\n.\r\n");
		scan(DATA_DOT, NOLIMIT, in.data, in.len, NULL, 0, &r);
		if (r.over1000 != cases[i].want || !r.done) {
			print_error("%s: got lines_over_1000=%llu done=%d, "
			    "want %llu done=1\n", cases[i].name,
			    (unsigned long long)r.over1000, r.done,
			    (unsigned long long)cases[i].want);
			bad++;
		}
		result_free(&r);
		/* the same, byte by byte */
		{
			struct result w;

			bad += check_splits(cases[i].name, DATA_DOT, NOLIMIT,
			    in.data, in.len, 0, &w);
			result_free(&w);
		}
		buf_free(&in);
	}
	if (bad)
		fail_msg("%d long-line cases failed", bad);
}

struct raw_case {
	const char *name;
	const char *chunks[4]; /* fed one after the other */
	int finish;
	const char *want;
	int want_bare;
};

/* BDAT: no dots, no end marker, every line ending stored as CRLF */
static void
test_raw(void **state)
{
	static const struct raw_case cases[] = {
		{ "plain", { "abc\r\ndef\r\n" }, 1, "abc\r\ndef\r\n", 0 },
		{ "no dot handling", { "..x\r\n.\r\n.y\r\n" }, 1,
		    "..x\r\n.\r\n.y\r\n", 0 },
		{ "end marker is content", { "a\r\n.\r\nb" }, 1,
		    "a\r\n.\r\nb", 0 },
		{ "bare LF", { "a\nb" }, 1, "a\r\nb", 1 },
		{ "bare CR", { "a\rb" }, 1, "a\r\nb", 1 },
		{ "CR CR LF", { "a\r\r\nb" }, 1, "a\r\n\r\nb", 1 },
		{ "LF CR", { "a\n\rb" }, 1, "a\r\n\r\nb", 1 },
		{ "CR | LF across chunks", { "a\r", "\nb" }, 1, "a\r\nb", 0 },
		{ "CR | CR LF across chunks", { "a\r", "\r\nb" }, 1,
		    "a\r\n\r\nb", 1 },
		{ "CR | text across chunks", { "a\r", "b" }, 1, "a\r\nb", 1 },
		{ "trailing CR finished", { "a\r" }, 1, "a\r\n", 1 },
		{ "trailing CR not yet finished", { "a\r" }, 0, "a", 0 },
		{ "trailing CRLF", { "a\r\n" }, 1, "a\r\n", 0 },
		{ "empty chunks", { "", "a", "", "b" }, 1, "ab", 0 },
		{ "smuggling bytes are content", { "x\n.\nMAIL\r\n" }, 1,
		    "x\r\n.\r\nMAIL\r\n", 1 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct raw_case *c = &cases[i];
		struct data_scan s;
		struct buf out, all;
		int done = 0, b = 0;

		buf_init(&out, 0);
		buf_init(&all, 0);
		data_start(&s, DATA_RAW, NOLIMIT);
		for (int k = 0; k < 4 && c->chunks[k] != NULL; k++) {
			size_t n = strlen(c->chunks[k]);

			buf_puts(&all, c->chunks[k]);
			if (data_feed(&s, c->chunks[k], n, &out, &done) != n ||
			    done) {
				print_error("%s: chunk %d: got not all "
				    "consumed or done=%d, want all and "
				    "done=0\n", c->name, k, done);
				b++;
			}
		}
		if (c->finish)
			data_finish(&s, &out);
		if (!mem_eq(out.data, out.len, c->want, strlen(c->want)) ||
		    s.bare_seen != c->want_bare) {
			print_error("%s: got \"%s\" bare=%d, want \"%s\" "
			    "bare=%d\n", c->name, esc(out.data, out.len),
			    s.bare_seen, esc(c->want, strlen(c->want)),
			    c->want_bare);
			b++;
		}
		if (c->finish && !crlf_clean(out.data, out.len)) {
			print_error("%s: got \"%s\", want only CRLF\n", c->name,
			    esc(out.data, out.len));
			b++;
		}
		if (s.size != out.len) {
			print_error("%s: got size %llu, want %zu\n", c->name,
			    (unsigned long long)s.size, out.len);
			b++;
		}
		/* however the same bytes are cut, the result is the same */
		if (c->finish) {
			struct result r;

			b += check_splits(c->name, DATA_RAW, NOLIMIT, all.data,
			    all.len, 1, &r);
			if (!mem_eq(r.out.data, r.out.len, out.data,
				out.len)) {
				print_error("%s: fed whole: got \"%s\", want "
				    "\"%s\"\n", c->name,
				    esc(r.out.data, r.out.len),
				    esc(out.data, out.len));
				b++;
			}
			result_free(&r);
		}
		buf_free(&out);
		buf_free(&all);
		bad += b ? 1 : 0;
	}

	/* raw mode honours the limit too */
	{
		struct result r;

		scan(DATA_RAW, 4, "abcdef", 6, NULL, 1, &r);
		if (!r.overflow || r.size != 6 || r.out.len > 4 || r.done) {
			print_error("raw limit: got overflow=%d size=%llu "
			    "stored=%zu done=%d, want 1, 6, <=4, 0\n",
			    r.overflow, (unsigned long long)r.size, r.out.len,
			    r.done);
			bad++;
		}
		result_free(&r);
	}
	if (bad)
		fail_msg("%d raw cases failed", bad);
}

/* data_start resets everything from a previous message */
static void
test_restart(void **state)
{
	struct data_scan s;
	struct buf out;
	int done;

	(void)state;
	buf_init(&out, 0);
	data_start(&s, DATA_DOT, 3);
	data_feed(&s, "abcdef\n", 7, &out, &done);
	data_start(&s, DATA_DOT, 100);
	buf_reset(&out);
	if (data_feed(&s, ".\r\n", 3, &out, &done) != 3 || !done ||
	    s.bare_seen || s.overflow || s.size != 0 ||
	    s.lines_over_1000 != 0 || out.len != 0)
		fail_msg("after data_start: got done=%d bare=%d overflow=%d "
		    "size=%llu, want 1 0 0 0", done, s.bare_seen, s.overflow,
		    (unsigned long long)s.size);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_cases),
		cmocka_unit_test(test_exhaustive),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
