/*
 * server - SMTP sessions on the event loop: accepts connections, moves
 * bytes between sockets and the protocol engine, enforces connection
 * limits and timeouts, starts commits and sends their replies, and
 * drains everything on shutdown.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

struct event_base;
struct conf;
struct pool;
struct server;
struct queue;

struct server *server_new(struct event_base *base, const struct conf *conf,
    struct pool *pool);
int server_listen(struct server *s);
int server_reload(struct server *s);
void server_set_queue(struct server *s, struct queue *q);
void server_shutdown(struct server *s, void (*on_idle)(void *), void *arg);
int server_idle(const struct server *s);
void server_free(struct server *s);

#endif
