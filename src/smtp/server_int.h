/*
 * server_int - what server.c, server_tls.c and server_auth.c share: the
 * session and server structures and the functions that cross files.
 * Private to src/smtp/server*.c.
 */
#ifndef TERN_SERVER_INT_H
#define TERN_SERVER_INT_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "../conf/conf.h"
#include "../conf/users.h"
#include "../event/pool.h"
#include "proto.h"

#define READ_HIGH (256 * 1024)   /* input buffered before reads pause */
#define WRITE_HIGH (256 * 1024)  /* unsent output before input pauses */
#define IPTAB_SIZE 1024
#define SPACE_INTERVAL 2         /* seconds between free-space checks */
#define CLOSE_CHECKS_MAX 500     /* 10 s of 20 ms polls for a last reply */

/* what the server remembers about one client address */
struct peer {
	struct peer *next;
	unsigned conns;      /* sessions open now */
	unsigned auth_fails; /* failed AUTH attempts in a row */
	time_t auth_last;    /* when the last one failed */
	char ip[64];
};

struct auth_job;

/* what a listener is for: handed to accept_cb */
struct listener {
	struct server *srv;
	struct evconnlistener *l;
	enum listen_role role;
};

struct smtp_conn {
	struct server *srv;
	struct bufferevent *bev;
	struct event *rev;         /* plain sessions: reads (server_read.c) */
	struct evbuffer_cb_entry *rev_cb;
	struct timeval read_tv;    /* its timeout */
	int rev_on;                /* reading wanted */
	struct proto proto;
	char id[16];
	struct peer *peer;         /* its address's entry (never NULL) */
	enum listen_role role;
	struct commit_req *commit; /* in flight, or NULL */
	struct auth_job *auth;     /* password check in flight, or NULL */
	struct event *auth_ev;     /* delays a failed AUTH's 535 */
	int handshaking;           /* TLS handshake in progress */
	struct event *close_ev;    /* waits for the last bytes to leave */
	int tls_shut;              /* close_notify sent */
	unsigned close_checks;
	uint64_t commit_start;
	int closing;               /* send what is queued, then free */
	int gone;                  /* the client is gone: free, send nothing */
	int reaping;
	int pregreet;              /* waiting out pregreet_delay */
	struct event *greet_ev;
	uint64_t line_since;       /* when the unfinished command began */
	struct smtp_conn *prev, *next;
	struct smtp_conn *reap_next;
};

struct server {
	struct event_base *base;
	const struct conf *conf;
	struct pool *pool;
	struct listener *listeners;
	size_t nlisteners;
	SSL_CTX *tls;              /* NULL: no certificate, no STARTTLS */
	struct users *users;       /* NULL: no AUTH */
	int loaded;                /* secrets loaded once (later: reloads) */
	struct queue *queue;       /* told about messages queued for relay */
	void (*on_idle)(void *);   /* after shutdown, when no session is left */
	void *on_idle_arg;
	struct event *reap_ev;
	struct event *space_ev;
	struct event *resume_ev;
	struct event *shutdown_ev;
	struct pool_job space_job;
	int space_busy;
	uint64_t space_now;      /* written by the worker, read in done */
	uint64_t free_space;
	struct smtp_conn *conns;
	struct smtp_conn *reap;
	unsigned nconns;
	int shutting_down;
	int accept_paused;
	unsigned long next_id;
	struct peer *peers[IPTAB_SIZE]; /* by address: sessions, AUTH failures */
};


void conn_process(struct smtp_conn *c);
void conn_flush(struct smtp_conn *c);
void conn_drop(struct smtp_conn *c);
void conn_reap(struct smtp_conn *c);
void conn_set_callbacks(struct smtp_conn *c);
void conn_event(struct smtp_conn *c, short what);
struct peer *peer_get(struct server *s, const char *ip);
void peer_release(struct server *s, struct peer *e);

/* server_read.c */
int conn_read_init(struct smtp_conn *c, evutil_socket_t fd);
void conn_read_free(struct smtp_conn *c);
void conn_reading(struct smtp_conn *c, int on);
void conn_read_timeout(struct smtp_conn *c, const struct timeval *tv);

/* server_tls.c */
int server_load_tls(struct server *s, int strict, SSL_CTX **out, char *err,
    size_t errlen);
int server_tls_accept(struct smtp_conn *c, evutil_socket_t fd);
void server_starttls(struct smtp_conn *c);
void server_tls_connected(struct smtp_conn *c);
void server_tls_error(struct smtp_conn *c);

/* server_auth.c */
int server_load_users(struct server *s, struct users **out, char *err,
    size_t errlen);
void server_auth_begin(struct smtp_conn *c);

#endif
