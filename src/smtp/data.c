/*
 * data - DATA terminator, dot-unstuffing and line-ending scanner.
 *
 * States (DATA_DOT mode):
 *   BOL       at the start of a line that followed a real CRLF
 *   BOL_BARE  at the start of a line that followed a bare CR or LF
 *   TEXT      inside a line
 *   CR        a CR was seen; the next byte decides CRLF or bare CR
 *   DOT       BOL then '.'        (held: stuffing or the end marker)
 *   DOT_BARE  BOL_BARE then '.'
 *   DOTCR     BOL '.' CR          (LF now ends the data)
 *   DOTCR_BARE BOL_BARE '.' CR
 * A line holding only "." ends the data only if both line endings around
 * it are real CRLFs. Any other lone-dot line is content and is stored as
 * ".\r\n". A leading dot followed by other text is removed (RFC 5321
 * 4.5.2). In DATA_RAW mode only TEXT and CR are used.
 */
#include "data.h"

enum {
	ST_BOL,
	ST_BOL_BARE,
	ST_TEXT,
	ST_CR,
	ST_DOT,
	ST_DOT_BARE,
	ST_DOTCR,
	ST_DOTCR_BARE,
};

/* data_start - reset s for a new message (or the first BDAT chunk) */
void
data_start(struct data_scan *s, enum data_mode mode, uint64_t limit)
{
	s->mode = mode;
	s->st = mode == DATA_DOT ? ST_BOL : ST_TEXT;
	s->bare_seen = 0;
	s->overflow = 0;
	s->size = 0;
	s->limit = limit;
	s->lines_over_1000 = 0;
	s->linelen = 0;
}

/* store n content bytes unless the limit is passed */
static void
emit(struct data_scan *s, struct buf *out, const char *p, size_t n)
{
	s->size += n;
	if (s->overflow)
		return;
	if (s->size > s->limit || buf_append(out, p, n) < 0)
		s->overflow = 1;
}

static void
end_line(struct data_scan *s, struct buf *out, int bare)
{
	/* RFC 5321 4.5.3.1.6: 1000 octets with the CRLF */
	if (s->linelen > 998)
		s->lines_over_1000++;
	s->linelen = 0;
	if (bare)
		s->bare_seen = 1;
	emit(s, out, "\r\n", 2);
}

/*
 * data_feed - scan len bytes of message data into out.
 * Returns the bytes consumed; in DATA_DOT mode it stops right after the
 * end marker and sets *done. Bytes after the marker are not consumed.
 */
size_t
data_feed(struct data_scan *s, const char *in, size_t len, struct buf *out,
    int *done)
{
	size_t i = 0;

	*done = 0;
	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		switch (s->st) {
		case ST_TEXT: {
			/* fast path: copy a run of ordinary bytes at once */
			size_t j = i;

			while (j < len && in[j] != '\r' && in[j] != '\n')
				j++;
			if (j > i) {
				s->linelen += j - i;
				emit(s, out, in + i, j - i);
				i = j;
				continue;
			}
			if (c == '\r') {
				s->st = ST_CR;
			} else {
				end_line(s, out, 1);
				s->st = s->mode == DATA_DOT ? ST_BOL_BARE : ST_TEXT;
			}
			i++;
			break;
		}
		case ST_CR:
			if (c == '\n') {
				end_line(s, out, 0);
				s->st = s->mode == DATA_DOT ? ST_BOL : ST_TEXT;
				i++;
			} else {
				/* bare CR: a line ending; look at c again */
				end_line(s, out, 1);
				s->st = s->mode == DATA_DOT ? ST_BOL_BARE : ST_TEXT;
			}
			break;
		case ST_BOL:
		case ST_BOL_BARE:
			if (c == '.') {
				s->st = s->st == ST_BOL ? ST_DOT : ST_DOT_BARE;
				i++;
			} else {
				s->st = ST_TEXT;
			}
			break;
		case ST_DOT:
		case ST_DOT_BARE:
			if (c == '\r') {
				s->st = s->st == ST_DOT ? ST_DOTCR : ST_DOTCR_BARE;
				i++;
			} else if (c == '\n') {
				/* ".<LF>": a lone dot line, not the end */
				s->linelen = 1;
				emit(s, out, ".", 1);
				end_line(s, out, 1);
				s->st = ST_BOL_BARE;
				i++;
			} else {
				/* RFC 5321 4.5.2: drop the leading dot */
				s->st = ST_TEXT;
			}
			break;
		case ST_DOTCR:
		case ST_DOTCR_BARE:
			if (c == '\n' && s->st == ST_DOTCR) {
				s->st = ST_BOL;
				*done = 1;
				return i + 1;
			}
			/* ".<CR>" then something else, or after a bare ending */
			s->linelen = 1;
			emit(s, out, ".", 1);
			if (c == '\n') {
				/* "<LF>.<CR><LF>": a real CRLF after a bare one */
				end_line(s, out, 0);
				s->st = ST_BOL;
				i++;
			} else {
				end_line(s, out, 1);
				s->st = ST_BOL_BARE;
			}
			break;
		}
	}
	return i;
}

/*
 * data_finish - end of a BDAT LAST message: a CR left at the very end is
 * a bare CR and is stored as CRLF.
 */
void
data_finish(struct data_scan *s, struct buf *out)
{
	if (s->st == ST_CR) {
		end_line(s, out, 1);
		s->st = ST_TEXT;
	}
}
