/*
 * server_read - how a plain (not TLS) session reads its socket.
 *
 * libevent's bufferevent asks the kernel how many bytes are readable
 * (ioctl FIONREAD) before every read, which costs as many system calls
 * as the reads themselves: two more per message. So a plain session
 * reads with an event of its own, into the same input evbuffer of its
 * bufferevent, and hands EOF, errors and the read timeout to conn_event()
 * just as the bufferevent would (reading stopped first). Input beyond
 * READ_HIGH pauses reading until the engine has taken some, as the
 * bufferevent's watermark did. Writing, the write timeout and TLS stay
 * with the bufferevent: a TLS session, and a plain one from STARTTLS on,
 * reads through it as before. conn_reading() switches reading for both.
 */
#include <errno.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "server_int.h"

#define READ_CHUNK (16 * 1024) /* bytes asked of one readv */

/* add or remove the read event as wanted and as the watermark allows */
static void
rev_apply(struct smtp_conn *c)
{
	if (c->rev_on &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) < READ_HIGH)
		event_add(c->rev, &c->read_tv);
	else
		event_del(c->rev);
}

/* the engine took input: resume reading if the watermark had paused it */
static void
input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	if (info->orig_size >= READ_HIGH && evbuffer_get_length(in) < READ_HIGH)
		rev_apply(arg);
}

/* what a bufferevent reports on EOF, error and timeout, the same way */
static void
read_event(struct smtp_conn *c, short what)
{
	conn_reading(c, 0);
	conn_event(c, BEV_EVENT_READING | what);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	ssize_t r;
	size_t left;
	int n, i, err = 0;

	if (what & EV_TIMEOUT) {
		read_event(c, BEV_EVENT_TIMEOUT);
		return;
	}
	if (evbuffer_get_length(in) >= READ_HIGH) {
		rev_apply(c); /* paused until input_cb */
		return;
	}
	/* a socket bufferevent keeps its input's end frozen but to itself */
	evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, READ_CHUNK, v, 2);
	r = -1;
	if (n > 0) {
		for (i = 0; i < n; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
		}
		do {
			r = readv(fd, iov, n);
		} while (r < 0 && errno == EINTR);
		err = r < 0 ? errno : 0;
	}
	if (r > 0) {
		left = (size_t)r;
		for (i = 0; i < n; i++) {
			if (v[i].iov_len > left)
				v[i].iov_len = left;
			left -= v[i].iov_len;
		}
		if (evbuffer_commit_space(in, v, n) < 0) {
			r = -1; /* cannot happen with the vectors reserved */
			err = EIO;
		}
	}
	evbuffer_freeze(in, 0);
	if (r < 0 && n > 0 && (err == EAGAIN || err == EWOULDBLOCK))
		return;
	if (r <= 0) {
		/* n <= 0: no memory for the input */
		read_event(c, r == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
		return;
	}
	conn_process(c);
}

/* conn_read_init - read c's socket fd ourselves; -1 when out of memory */
int
conn_read_init(struct smtp_conn *c, evutil_socket_t fd)
{
	c->rev = event_new(c->srv->base, fd, EV_READ | EV_PERSIST, read_cb, c);
	if (c->rev == NULL)
		return -1;
	c->rev_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), input_cb,
	    c);
	if (c->rev_cb == NULL) {
		event_free(c->rev);
		c->rev = NULL;
		return -1;
	}
	return 0;
}

/* conn_read_free - stop reading c's socket ourselves (STARTTLS, free) */
void
conn_read_free(struct smtp_conn *c)
{
	if (c->rev == NULL)
		return;
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->rev_cb);
	event_free(c->rev);
	c->rev = NULL;
	c->rev_cb = NULL;
	c->rev_on = 0;
}

/* conn_reading - read the client's input (on) or stop */
void
conn_reading(struct smtp_conn *c, int on)
{
	if (c->rev == NULL) {
		if (on)
			bufferevent_enable(c->bev, EV_READ);
		else
			bufferevent_disable(c->bev, EV_READ);
		return;
	}
	c->rev_on = on;
	rev_apply(c);
}

/* conn_read_timeout - the read timeout from now on (also restarts it) */
void
conn_read_timeout(struct smtp_conn *c, const struct timeval *tv)
{
	if (c->rev == NULL)
		return;
	c->read_tv = *tv;
	rev_apply(c);
}
