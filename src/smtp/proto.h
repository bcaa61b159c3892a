/*
 * proto - the SMTP protocol engine: a pure state machine.
 *
 * Bytes from the client go in (proto_feed), reply text comes out (the
 * out buffer) and the engine's state says what the server must do next:
 * nothing, commit a complete message (PS_COMMIT), or close (PS_CLOSED).
 * It never touches a socket, a file or the clock, so it is unit-tested
 * and fuzzed by feeding it bytes.
 *
 * States:
 *   PS_INIT    greeted; HELO/EHLO not yet given
 *   PS_READY   HELO/EHLO given, no transaction
 *   PS_MAIL    MAIL accepted; RCPT, DATA or BDAT may follow
 *   PS_DATA    reading DATA content up to <CRLF>.<CRLF>
 *   PS_BDAT    reading the octets of one BDAT chunk
 *   PS_COMMIT  a complete message waits for the server's commit
 *   PS_AUTH    inside an AUTH exchange: the next line is a response
 *   PS_AUTH_CHECK  credentials wait for the server's verdict
 *   PS_STARTTLS  220 sent to STARTTLS: the server starts TLS, discards
 *              whatever plaintext followed, then calls proto_tls_started
 *   PS_CLOSED  221 or 421 sent; further input is ignored
 */
#ifndef TERN_PROTO_H
#define TERN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "../conf/conf.h"
#include "../lib/buf.h"
#include "addr.h"
#include "data.h"
#include "reply.h"

#define PROTO_LINE_MAX 512       /* RFC 5321 4.5.3.1.4, with CRLF */
#define PROTO_LINE_MAX_PATH 1024 /* MAIL/RCPT with parameters */
#define PROTO_LINE_MAX_AUTH 12288 /* RFC 4954 4: AUTH exchange lines */
#define PROTO_OUT_HIGH 65536     /* stop reading while this much is unsent */
#define PROTO_SPACE_UNKNOWN UINT64_MAX

enum proto_state {
	PS_INIT,
	PS_READY,
	PS_MAIL,
	PS_DATA,
	PS_BDAT,
	PS_COMMIT,
	PS_AUTH,
	PS_AUTH_CHECK,
	PS_STARTTLS,
	PS_CLOSED,
};

enum proto_role {
	PROTO_ROLE_SMTP,        /* MX: AUTH optional, only over TLS */
	PROTO_ROLE_SUBMISSION,  /* AUTH required before MAIL */
};

struct proto_txn {
	int active;                   /* MAIL accepted */
	char sender[ADDR_PATH_MAX + 1]; /* "" for the null sender */
	int smtputf8;
	int body8bit;
	uint64_t declared_size;       /* SIZE=, 0 if not given */
	unsigned rcpt_tries;          /* RCPT commands, accepted or not */
	char **rcpts;                 /* accepted recipients, as written */
	size_t nrcpts;
	size_t caprcpts;
	char **remote;                /* recipients to relay: point into rcpts */
	size_t nremote;
	size_t capremote;
	const struct mbox **boxes;    /* distinct mailboxes they reach */
	size_t nboxes;
	size_t capboxes;
	int used_bdat;
	struct data_scan scan;
	struct buf body;              /* content as stored (CRLF endings) */
};

struct proto;
typedef void (*proto_hook)(struct proto *p, enum reply_id id,
    const char *detail);

struct proto {
	const struct conf *conf;
	enum proto_state state;
	int esmtp;                    /* EHLO (not HELO) was used */
	char helo[ADDR_DOMAIN_MAX + 1];
	char client_ip[64];
	char verb[16];                /* command being answered, for logs */
	struct buf line;              /* a command line being assembled */
	unsigned long lines;          /* command lines completed so far */
	int line_skip;                /* discarding an over-long line (2: an
	                                 AUTH line, which gets 500 5.5.6) */
	struct buf out;               /* replies not yet written */
	unsigned errors;
	struct proto_txn txn;
	uint64_t bdat_left;           /* octets of the chunk still to read */
	int bdat_last;
	uint64_t bdat_size;
	enum reply_id bdat_err;       /* reply for a refused chunk, or R__COUNT */
	int bdat_failed;              /* a BDAT failed in this transaction */
	int shutdown;                 /* 421 4.3.2 once the transfer ends */
	int relay_ok;                 /* may send to other domains now */
	int relay_net;                /* the client is in relay_networks */
	enum proto_role role;
	int tls;                      /* the session is encrypted */
	int tls_offered;              /* a certificate exists for STARTTLS */
	char tls_info[160];           /* "TLSv1.3 with cipher ..." */
	int auth_offered;             /* a users file exists */
	char auth_user[256];          /* logged-in user, "" if none */
	int auth_mech;                /* exchange in progress: AUTH_M_* */
	char auth_try_user[256];      /* credentials for the server to check */
	char auth_try_pass[1024];
	uint64_t free_space;          /* bytes free on the store, or UNKNOWN */
	proto_hook hook;              /* told about every reply (logging) */
	void *hook_arg;
};

void proto_init(struct proto *p, const struct conf *conf,
    const char *client_ip);
void proto_free(struct proto *p);
void proto_greet(struct proto *p);
size_t proto_feed(struct proto *p, const char *in, size_t len);
void proto_commit_done(struct proto *p, enum reply_id id, const char *qid);
void proto_timeout(struct proto *p);
void proto_shutdown(struct proto *p);
void proto_reply(struct proto *p, enum reply_id id, const char *detail);
void proto_tls_started(struct proto *p, const char *info);
void proto_auth_done(struct proto *p, int ok);
const char *proto_with(const struct proto *p);

#endif
