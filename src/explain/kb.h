/*
 * kb - the knowledge base: what every SMTP reply code and every enhanced
 * status code means, in plain words.
 *
 * The data lives in kb.c as three reviewable C tables: basic reply codes
 * (RFC 5321 and the extensions tern speaks), enhanced status codes (RFC
 * 3463 and the IANA registry of RFC 5248), and hints keyed on texts that
 * real servers send. Each entry says what the code means, its typical
 * causes, what the sender should do and what the receiving administrator
 * should check. Whether a failure is transient or permanent is never
 * stored per entry: it follows from the first digit (RFC 5321 4.2.1) or
 * the class (RFC 3463 2), so it cannot be got wrong in one place.
 *
 * ternd logs kb_short(); the relay writes kb_describe() into bounces;
 * `tern explain` prints all of it. Everything here is pure and has no
 * state, so it is safe from any thread.
 */
#ifndef TERN_KB_H
#define TERN_KB_H

#include <stddef.h>

#include "../lib/buf.h"

/* what became of the mail, as far as this reply says */
enum kb_verdict {
	KB_V_UNKNOWN,      /* no usable code */
	KB_V_DELIVERED,    /* 2xx / 2.x.x: accepted by that server */
	KB_V_INTERMEDIATE, /* 3xx: the server waits for more input */
	KB_V_RETRY,        /* 4xx / 4.x.x: transient, will be retried */
	KB_V_FAILED,       /* 5xx / 5.x.x: permanent, failed for good */
	KB_V_INVALID,      /* 1xx or first digit 0, 6-9: not an SMTP reply */
};

/* a basic reply code: RFC 5321 4.2.2, 4.2.3 and extensions */
struct kb_reply {
	int code;
	const char *title;   /* the RFC's own wording */
	const char *summary; /* one line, at most KB_SHORT_MAX chars */
	const char *meaning;
	const char *causes;
	const char *sender;  /* what the sender should do */
	const char *admin;   /* what the receiving administrator should check */
	const char *ref;     /* where it is defined */
	unsigned flags;
};

#define KB_F_PREFER    0x1 /* more specific than any enhanced code */
#define KB_F_NONSTD    0x2 /* seen in the wild, not defined by an RFC */
#define KB_F_EXTENSION 0x4 /* defined by an extension, not RFC 5321 */

/* an enhanced status code X.subject.detail: RFC 3463, IANA registry */
struct kb_esc {
	int subject;
	int detail;
	const char *title;   /* the registry's wording */
	const char *summary; /* one line, at most KB_SHORT_MAX chars */
	const char *meaning;
	const char *causes;
	const char *sender;
	const char *admin;
	const char *ref;
};

/* an extra hint chosen by text that real servers put in their replies */
struct kb_hint {
	const char *pattern; /* case-insensitive substring of the reply text */
	const char *who;     /* which software or provider sends it */
	const char *hint;    /* what it really means and what to do */
};

#define KB_SHORT_MAX 100

/*
 * the explanation chosen for one (code, esc) pair: the most specific
 * entry leads (the enhanced code unless its detail is 0 or the basic code
 * is the more precise of the two), the other one adds to it
 */
struct kb_view {
	enum kb_verdict verdict;
	const struct kb_reply *reply; /* exact basic code, or NULL */
	const struct kb_esc *esc;     /* exact or X.Y.0 fallback, or NULL */
	int esc_exact;                /* esc matched subject and detail */
	int conflict;                 /* esc class disagrees with the code */
	const char *summary;          /* never NULL; the fields below too */
	const char *meaning;
	const char *causes;
	const char *sender;
	const char *admin;
};

/* an enhanced status code split into its three numbers */
struct kb_esc_code {
	int cls;
	int subject;
	int detail;
};

const char *kb_short(int code, const char *esc);
void kb_view(int code, const char *esc, struct kb_view *v);
int kb_describe(struct buf *out, int code, const char *esc,
    unsigned width);

const struct kb_reply *kb_reply_find(int code);
const struct kb_esc *kb_esc_find(const char *esc);
const struct kb_esc *kb_esc_best(const char *esc);
size_t kb_hints(const char *text, const struct kb_hint **out, size_t max);
int kb_esc_parse(const char *s, size_t len, struct kb_esc_code *out);

size_t kb_reply_count(void);
const struct kb_reply *kb_reply_at(size_t i);
size_t kb_esc_count(void);
const struct kb_esc *kb_esc_at(size_t i);
size_t kb_hint_count(void);

const char *kb_first_digit(int digit);
const char *kb_first_digit_name(int digit);
const char *kb_second_digit(int digit);
const char *kb_second_digit_name(int digit);
const char *kb_class_name(int cls);
const char *kb_class_text(int cls);
const char *kb_subject_name(int subject);
const char *kb_subject_text(int subject);

enum kb_verdict kb_verdict_of(int code, const char *esc);
const char *kb_verdict_name(enum kb_verdict v);
const char *kb_verdict_text(enum kb_verdict v);

#endif
