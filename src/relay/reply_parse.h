/*
 * reply_parse - the pure protocol pieces of the relay client, with no
 * sockets: reading a remote server's replies (multi-line too, RFC 5321
 * 4.2.1), its EHLO keywords, encoding message data for DATA
 * (dot-stuffing, RFC 5321 4.5.2, and CRLF-only line ends), and the
 * table of results tern makes up when no reply decides.
 *
 * client.c feeds it lines and bytes; the unit tests feed it tables.
 */
#ifndef TERN_RELAY_REPLY_PARSE_H
#define TERN_RELAY_REPLY_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define REPLY_PARSE_TEXT_MAX 4096 /* whole reply text kept, then cut */
#define REPLY_PARSE_LINE_MAX 4096 /* a longer reply line is an error;
                                     RFC 5321 4.5.3.1.5 allows 512 */

/* one reply, built line by line */
struct relay_reply {
	int code;        /* 200..599; 0 until the first line */
	char esc[16];    /* "5.1.1" from the first line, or "" */
	char text[REPLY_PARSE_TEXT_MAX]; /* lines' texts joined with "\n",
	                                    codes and enhanced codes removed */
	size_t textlen;
	unsigned nlines;
	int truncated;   /* text was cut at REPLY_PARSE_TEXT_MAX - 1 */
	int complete;    /* the "code SP" line was seen */
};

/* what the server announced in its EHLO reply */
struct relay_caps {
	int pipelining;   /* RFC 2920 */
	int eightbitmime; /* RFC 6152 */
	int smtputf8;     /* RFC 6531 */
	int starttls;     /* RFC 3207 */
	int size;         /* RFC 1870 SIZE announced */
	uint64_t size_max;/* its limit; 0: none given */
	unsigned rcptmax; /* RFC 9422 LIMITS RCPTMAX=; 0: not given */
};

/* state of the DATA encoder across calls */
struct relay_enc {
	size_t pos;       /* next input byte */
	int bol;          /* the output is at the start of a line */
};

#define RELAY_ENC_END_MAX 5 /* "\r\n.\r\n" */

/*
 * The results tern makes up itself when no reply from the next hop
 * decides a recipient (relay_rcpt.synthetic = 1). Like the server's
 * reply table, call sites name one and never spell out digits.
 */
enum relay_synth {
	RSY_CONNECT,     /* 451 4.4.1 connect failed or timed out */
	RSY_LOST,        /* 451 4.4.2 connection lost mid-dialogue */
	RSY_TIMEOUT,     /* 451 4.4.2 no reply in time */
	RSY_PROTOCOL,    /* 451 4.5.0 the server broke the protocol */
	RSY_REFUSED,     /* 451 4.4.0 5xx greeting or HELO: soft by policy */
	RSY_TLS_FAILED,  /* 451 4.7.5 handshake or certificate check failed */
	RSY_TLS_MISSING, /* 451 4.7.4 TLS required, not available */
	RSY_LOCAL,       /* 451 4.3.0 our own trouble (memory) */
	RSY_DNS_TEMP,    /* 451 4.4.3 DNS failed: SERVFAIL, timeout */
	RSY_NXDOMAIN,    /* 550 5.1.2 the domain does not exist */
	RSY_NO_ADDRESS,  /* 550 5.4.4 no host with an address */
	RSY_NULL_MX,     /* 556 5.1.10 the domain takes no mail (RFC 7505) */
	RSY_LOOP,        /* 554 5.4.6 we are the best MX */
	RSY_TOO_BIG,     /* 552 5.3.4 over the server's SIZE */
	RSY_NEED_UTF8,   /* 553 5.6.7 needs SMTPUTF8, server lacks it */
	RSY_BAD_SENDER,  /* 553 5.1.7 sender cannot be sent safely */
	RSY_BAD_RCPT,    /* 553 5.1.3 recipient cannot be sent safely */
	RSY__COUNT
};

struct relay_synth_def {
	int code;
	const char *esc;
	const char *what; /* one line for logs and tern explain */
};

const struct relay_synth_def *reply_parse_synth(enum relay_synth id);

void reply_parse_init(struct relay_reply *r);
int reply_parse_line(struct relay_reply *r, const char *line, size_t len);
void reply_parse_ehlo(const struct relay_reply *r, struct relay_caps *caps);
int reply_parse_esc(const char *s, size_t len, int cls, size_t *esclen);

void reply_parse_enc_init(struct relay_enc *e);
size_t reply_parse_enc_run(struct relay_enc *e, const char *in, size_t len,
    char *out, size_t cap);
size_t reply_parse_enc_end(struct relay_enc *e, char *out, size_t cap);

#endif
