/*
 * server_auth - checking AUTH credentials for sessions.
 *
 * The engine collects a user name and password (PLAIN or LOGIN); here the
 * password is checked against the users file with crypt(3) on a pool
 * worker, since yescrypt is slow by design. Failures from one address are
 * remembered in its struct peer, which outlives its sessions: each failed
 * attempt delays its 535 a little more, and after
 * auth_max_failures in a row the address gets 421 4.7.0 on every AUTH for
 * the next AUTH_PENALTY seconds. Passwords are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/log.h"
#include "server_int.h"

#define AUTH_PENALTY 900  /* seconds an address stays blocked */
#define AUTH_DELAY_MAX 5  /* seconds, the longest delay of a 535 */

struct auth_job {
	struct pool_job job;
	struct smtp_conn *c;
	char user[256];
	char pass[1024];
	char *hash;
	int ok;
};

/* server_load_users - read the users file into *out (NULL: none); -1 */
int
server_load_users(struct server *s, struct users **out, char *err,
    size_t errlen)
{
	*out = NULL;
	if (s->conf->users == NULL)
		return 0;
	*out = users_load(s->conf->users, err, errlen);
	return *out == NULL ? -1 : 0;
}

/* failures in a row from c's address; forgiven after AUTH_PENALTY */
static unsigned
auth_fails(const struct smtp_conn *c)
{
	struct peer *e = c->peer;

	if (e->auth_fails > 0 && time(NULL) - e->auth_last > AUTH_PENALTY)
		e->auth_fails = 0;
	return e->auth_fails;
}

static void
job_free(struct auth_job *j)
{
	OPENSSL_cleanse(j->pass, sizeof(j->pass));
	free(j->hash);
	free(j);
}

static void
auth_work(struct pool_job *job)
{
	struct auth_job *j = (struct auth_job *)job;

	j->ok = users_verify(j->pass, j->hash);
	OPENSSL_cleanse(j->pass, sizeof(j->pass));
}

/* the 535 after its delay */
static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;

	job_free(c->auth);
	c->auth = NULL;
	if (c->gone) {
		conn_reap(c);
		return;
	}
	proto_auth_done(&c->proto, 0);
	conn_flush(c);
	if (!c->gone && !c->closing) {
		conn_reading(c, 1);
		conn_process(c);
	}
}

static void
too_many(struct smtp_conn *c, unsigned n)
{
	log_warn("conn=%s ev=auth-blocked client=%s failures=%u", c->id,
	    c->proto.client_ip, n);
	snprintf(c->proto.verb, sizeof(c->proto.verb), "AUTH");
	proto_reply(&c->proto, R_AUTH_TOO_MANY, NULL);
	conn_flush(c);
}

static void
auth_done(struct pool_job *job)
{
	struct auth_job *j = (struct auth_job *)job;
	struct smtp_conn *c = j->c;
	struct server *s = c->srv;
	struct timeval tv = { 0, 0 };
	unsigned n;

	if (c->gone) {
		job_free(j);
		c->auth = NULL;
		conn_reap(c);
		return;
	}
	log_info("conn=%s ev=auth client=%s user=\"%s\" result=%s", c->id,
	    c->proto.client_ip, j->user, j->ok ? "ok" : "failed");
	if (j->ok) {
		c->peer->auth_fails = 0;
		job_free(j);
		c->auth = NULL;
		proto_auth_done(&c->proto, 1);
		conn_flush(c);
		conn_reading(c, 1);
		conn_process(c);
		return;
	}
	n = auth_fails(c) + 1;
	c->peer->auth_fails = n;
	c->peer->auth_last = time(NULL);
	if (n >= s->conf->auth_max_failures) {
		job_free(j);
		c->auth = NULL;
		too_many(c, n);
		return;
	}
	tv.tv_sec = n < AUTH_DELAY_MAX ? n : AUTH_DELAY_MAX;
	/* slow the next guess down; the session waits with c->auth set */
	if (c->auth_ev == NULL)
		c->auth_ev = evtimer_new(s->base, delay_cb, c);
	if (c->auth_ev == NULL || evtimer_add(c->auth_ev, &tv) < 0)
		delay_cb(-1, 0, c);
}

/* server_auth_begin - the engine holds credentials: check them off the loop */
void
server_auth_begin(struct smtp_conn *c)
{
	struct server *s = c->srv;
	struct proto *p = &c->proto;
	unsigned n = auth_fails(c);
	const char *hash;
	struct auth_job *j;

	if (n >= s->conf->auth_max_failures) {
		too_many(c, n);
		return;
	}
	j = calloc(1, sizeof(*j));
	hash = users_hash(s->users, p->auth_try_user);
	if (j == NULL || (hash != NULL && (j->hash = strdup(hash)) == NULL)) {
		free(j);
		proto_auth_done(p, 0);
		conn_flush(c);
		return;
	}
	j->c = c;
	snprintf(j->user, sizeof(j->user), "%s", p->auth_try_user);
	memcpy(j->pass, p->auth_try_pass, sizeof(j->pass));
	j->job.work = auth_work;
	j->job.done = auth_done;
	c->auth = j;
	conn_reading(c, 0);
	pool_submit(s->pool, &j->job);
}
