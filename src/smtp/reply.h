/*
 * reply - the one table of every reply ternd sends.
 *
 * Each situation has an id; the table gives its basic code, its enhanced
 * status code (RFC 3463) and its text. Call sites name an id and never
 * spell out digits. The same table feeds the explainer and its tests, so
 * what the server says and what `tern explain` knows cannot drift apart.
 *
 * A text may hold one "%s", replaced by the caller's detail (an address,
 * a queue id, the host name). Without "%s" a detail is appended after a
 * space.
 */
#ifndef TERN_REPLY_H
#define TERN_REPLY_H

#include "../lib/buf.h"

enum reply_id {
	R_GREETING,       /* 220 <host> ESMTP */
	R_EHLO,           /* 250-<host> + keywords (built by the engine) */
	R_HELO,           /* 250 <host> */
	R_HELP,           /* 214 multi-line */
	R_HELP_TOPIC,     /* 214 one command's syntax */
	R_QUIT,           /* 221 */
	R_OKAY,             /* 250 2.0.0 Ok (NOOP, RSET) */
	R_MAIL_OK,
	R_RCPT_OK,
	R_QUEUED,
	R_BDAT_OK,
	R_VRFY_OK,
	R_VRFY_CANNOT,
	R_EXPN_OK,
	R_DATA_GO,        /* 354 */
	R_SHUTDOWN,       /* 421 4.3.2 */
	R_TIMEOUT,        /* 421 4.4.2 */
	R_CONN_LIMIT,     /* 421 4.7.0 */
	R_CONN_LIMIT_IP,  /* 421 4.7.0 */
	R_TOO_MANY_ERRORS,/* 421 4.7.0 */
	R_LOCAL_ERR,      /* 451 4.3.0 */
	R_NO_SPACE,       /* 452 4.3.1 */
	R_RCPT_MAX,       /* 452 4.5.3 */
	R_CMD_UNKNOWN,    /* 500 5.5.2 */
	R_LINE_TOO_LONG,  /* 500 5.5.2 */
	R_BAD_BYTES,      /* 500 5.5.2 NUL or bad UTF-8 in a command */
	R_SYNTAX_HELO,
	R_SYNTAX_EHLO,
	R_BAD_HELO_DOMAIN,
	R_SYNTAX_MAIL,
	R_SYNTAX_RCPT,
	R_SYNTAX_DATA,
	R_SYNTAX_RSET,
	R_SYNTAX_QUIT,
	R_SYNTAX_VRFY,
	R_SYNTAX_EXPN,
	R_SYNTAX_BDAT,
	R_BAD_PARAM,      /* 501 5.5.4 malformed parameter value */
	R_DUP_PARAM,      /* 501 5.5.4 */
	R_NOT_IMPL,       /* 502 5.5.1 */
	R_EXPN_DISABLED,  /* 502 5.5.1 */
	R_NEED_HELO,      /* 503 5.5.1 */
	R_NESTED_MAIL,
	R_NEED_MAIL,
	R_NEED_RCPT,
	R_DATA_AFTER_BDAT,
	R_BDAT_ABORTED,
	R_HELP_UNKNOWN,   /* 504 5.5.4 */
	R_PREGREET,       /* 521 5.5.1 */
	R_RCPT_UNKNOWN,   /* 550 5.1.1 */
	R_VRFY_UNKNOWN,   /* 550 5.1.1 */
	R_RELAY_DENIED,   /* 550 5.7.1 */
	R_BARE_NEWLINE,   /* 550 5.5.2 */
	R_TOO_BIG,        /* 552 5.3.4 after data */
	R_SIZE_TOO_BIG,   /* 552 5.3.4 at MAIL SIZE= */
	R_BAD_SENDER,     /* 553 5.1.7 */
	R_BAD_RCPT,       /* 553 5.1.3 */
	R_SENDER_UTF8,    /* 553 5.6.7 */
	R_RCPT_UTF8,      /* 553 5.6.7 */
	R_NO_VALID_RCPT,  /* 554 5.5.1 */
	R_TOO_MANY_HOPS,  /* 554 5.4.6 */
	R_PARAM_UNKNOWN,  /* 555 5.5.4 */
	/* STARTTLS (RFC 3207) */
	R_TLS_GO,         /* 220 2.0.0 */
	R_SYNTAX_STARTTLS,/* 501 5.5.4 */
	R_TLS_ACTIVE,     /* 503 5.5.1 */
	R_TLS_UNAVAILABLE,/* 454 4.7.0 */
	/* AUTH (RFC 4954) */
	R_AUTH_CHALLENGE, /* 334 */
	R_AUTH_OK,        /* 235 2.7.0 */
	R_AUTH_FAILED,    /* 535 5.7.8 */
	R_AUTH_BAD64,     /* 501 5.5.2 */
	R_AUTH_CANCELLED, /* 501 5.0.0 */
	R_SYNTAX_AUTH,    /* 501 5.5.4 */
	R_AUTH_ALREADY,   /* 503 5.5.1 */
	R_AUTH_IN_TXN,    /* 503 5.5.1 */
	R_AUTH_DISABLED,  /* 503 5.5.1 */
	R_AUTH_MECH,      /* 504 5.5.4 */
	R_AUTH_TOO_LONG,  /* 500 5.5.6 */
	R_AUTH_NEED_TLS,  /* 538 5.7.11 */
	R_AUTH_REQUIRED,  /* 530 5.7.0 */
	R_AUTH_TOO_MANY,  /* 421 4.7.0 */
	R_SENDER_NOT_OWNED, /* 553 5.7.1 */
	R__COUNT
};

#define RF_ERROR 0x1 /* counts toward max_errors */
#define RF_CLOSE 0x2 /* the connection is closed after this reply */
#define RF_HOST  0x4 /* the detail is the server's host name (220/221/421) */

struct reply_def {
	int code;
	const char *esc; /* NULL: greeting, replies to EHLO/HELO, 3xx only */
	const char *text;
	unsigned flags;
};

const struct reply_def *reply_get(enum reply_id id);
const char *reply_name(enum reply_id id);
int reply_format(struct buf *out, enum reply_id id, const char *detail);
int reply_format_lines(struct buf *out, enum reply_id id,
    const char *const *lines, unsigned n);

#endif
