/*
 * loadgen - SMTP load generator that measures each message's latency
 * from the final "." to the server's 250 (smtp-source does not).
 *
 *   loadgen -p PORT [-s ADDR] [-c CONNS] [-m MSGS] [-k ROUNDS]
 *           [-b BYTES] [-P] [-f FROM] [-r RCPT] [-T SECONDS] [-L FILE]
 *           [-S USEC] [-G MS]
 *   loadgen -p PORT [-s ADDR] -I N [-T SECONDS]
 *
 * Load mode: CONNS connections at once; each sends MSGS messages (MAIL,
 * RCPT, DATA, BYTES of body, ".") and QUIT, then the slot opens the next
 * connection, ROUNDS times. So CONNS*ROUNDS*MSGS messages in all. With
 * -P the client pipelines MAIL, RCPT and DATA in one write (RFC 2920)
 * and fails with "unsupported" if the server does not offer PIPELINING;
 * without it every command waits for its reply. Prints one JSON line;
 * -L writes every latency in microseconds, one per line. -S starts the
 * CONNS connections USEC apart instead of all at once (OpenSMTPD 6.8
 * loses sessions when dozens connect in the same millisecond); -G
 * opens a connection again when its greeting has not come in MS
 * milliseconds (counted as "retries").
 *
 * Idle mode (-I N): open N sessions (greeting and EHLO, at most 256
 * connects in flight), print a JSON line {"idle_ready":..} when all are
 * up, hold them until stdin reaches EOF or SECONDS pass, then send NOOP
 * on each and count the 250s (sessions the server kept), and QUIT.
 *
 * One thread, epoll, non-blocking sockets. Every loop is bounded: the
 * whole run stops after SECONDS (-T, default 120) whatever happens.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state {
	S_FREE, S_CONNECT, S_GREET, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_PIPE,
	S_BODY, S_QUIT, S_IDLE, S_NOOP
};

struct conn {
	int fd;
	enum state st;
	int slot;
	long round;     /* connections this slot has made */
	long msgs;      /* messages done on this connection */
	int pipe_left;  /* replies still due in S_PIPE */
	int pipe_bad;
	int pipelining; /* offered by the server */
	const char *wp; /* pending output */
	size_t wlen;
	char cmd[1024]; /* command output buffer */
	int body_pending; /* body follows the commands in wp */
	uint64_t t_dot;   /* when the final "." was written */
	char rbuf[16384];
	size_t rlen;
	int ehlo_pipe;   /* PIPELINING seen in this EHLO reply */
	uint64_t t_open; /* when connect() was called */
	int want_out;
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static int conns = 1, pipelining;
static long msgs = 1, rounds = 1;
static size_t body_bytes = 1024;
static const char *from = "bench@client.test", *rcpt = "alice@bench.test";
static const char *helo = "client.test";
static double limit_s = 120;
static const char *latfile;
static long idle_n;
static long ramp_us;     /* delay between the first connections */
static int next_slot;    /* slots not started yet: next_slot..conns-1 */
static uint64_t t_start;
static long greet_ms;    /* retry a connection whose greeting is late */
static long retries;

static int ep;
static struct conn *cs;
static char *body;
static size_t body_len;
static uint64_t *lat;
static long nlat, latcap;
static long acked, failed, conn_errors, sent;
static long active_slots, idle_ready, idle_failed, idle_alive;
static int unsupported;
static char first_error[256];

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
note_error(const char *fmt, const char *arg)
{
	if (first_error[0] == '\0') {
		snprintf(first_error, sizeof(first_error), fmt, arg);
		/* keep the JSON string plain */
		for (char *p = first_error; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
				*p = ' ';
	}
}

static void
make_body(void)
{
	static const char line[] =
	    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789ab";
	size_t cap = body_bytes + 512, n;

	body = malloc(cap);
	if (body == NULL)
		exit(1);
	n = (size_t)snprintf(body, cap, "From: <%s>\r\nTo: <%s>\r\n"
	    "Subject: tern benchmark\r\nMessage-ID: <bench@client.test>\r\n"
	    "\r\n", from, rcpt);
	while (n + 3 < body_bytes) {
		size_t k = body_bytes - 3 - n;

		if (k > sizeof(line) - 1)
			k = sizeof(line) - 1;
		memcpy(body + n, line, k);
		n += k;
		body[n - 1] = '\n';
		if (k >= 2)
			body[n - 2] = '\r';
		else
			body[n - 1] = 'x';
	}
	if (n < 2 || body[n - 1] != '\n')
		n += (size_t)snprintf(body + n, cap - n, "\r\n");
	memcpy(body + n, ".\r\n", 3);
	body_len = n + 3;
}

static void
set_events(struct conn *c, int out)
{
	struct epoll_event ev;

	if (c->want_out == out)
		return;
	c->want_out = out;
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct conn *c, int error);
static void slot_next(int slot, long round);

/* write what is pending; 0 ok (maybe partial), -1 on error */
static int
flush(struct conn *c)
{
	while (c->wlen > 0 || c->body_pending) {
		ssize_t w;

		if (c->wlen == 0) {
			c->wp = body;
			c->wlen = body_len;
			c->body_pending = 0;
			c->t_dot = 1; /* body in progress */
		}
		w = send(c->fd, c->wp, c->wlen, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				set_events(c, 1);
				return 0;
			}
			note_error("send: %s", strerror(errno));
			return -1;
		}
		c->wp += w;
		c->wlen -= (size_t)w;
		if (c->wlen == 0 && c->t_dot == 1)
			c->t_dot = now_us();
	}
	set_events(c, 0);
	return 0;
}

static int
send_cmd(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	memcpy(c->cmd, s, n);
	c->wp = c->cmd;
	c->wlen = n;
	return flush(c);
}

static int
start_message(struct conn *c)
{
	int n;

	c->t_dot = 0;
	if (c->pipelining && pipelining) {
		n = snprintf(c->cmd, sizeof(c->cmd), "MAIL FROM:<%s>\r\n"
		    "RCPT TO:<%s>\r\nDATA\r\n", from, rcpt);
		c->pipe_left = 3;
		c->pipe_bad = 0;
		c->st = S_PIPE;
	} else {
		n = snprintf(c->cmd, sizeof(c->cmd), "MAIL FROM:<%s>\r\n",
		    from);
		c->st = S_MAIL;
	}
	c->wp = c->cmd;
	c->wlen = (size_t)n;
	sent++;
	return flush(c);
}

static int
after_message(struct conn *c)
{
	c->msgs++;
	if (c->msgs < msgs)
		return start_message(c);
	c->st = S_QUIT;
	return send_cmd(c, "QUIT\r\n");
}

/* one complete reply with this code; ml is the reply's text lines */
static int
on_reply(struct conn *c, int code)
{
	char tmp[64];

	switch (c->st) {
	case S_GREET:
		if (code != 220)
			goto bad;
		c->ehlo_pipe = 0;
		c->st = S_EHLO;
		snprintf(c->cmd, sizeof(c->cmd), "EHLO %s\r\n", helo);
		c->wp = c->cmd;
		c->wlen = strlen(c->cmd);
		return flush(c);
	case S_EHLO:
		if (code != 250)
			goto bad;
		c->pipelining = c->ehlo_pipe;
		if (idle_n > 0) {
			c->st = S_IDLE;
			idle_ready++;
			return 0;
		}
		if (pipelining && !c->pipelining) {
			unsupported = 1;
			note_error("%s", "server does not offer PIPELINING");
			return -1;
		}
		return start_message(c);
	case S_MAIL:
		if (code != 250)
			goto badmsg;
		c->st = S_RCPT;
		snprintf(c->cmd, sizeof(c->cmd), "RCPT TO:<%s>\r\n", rcpt);
		c->wp = c->cmd;
		c->wlen = strlen(c->cmd);
		return flush(c);
	case S_RCPT:
		if (code != 250 && code != 251)
			goto badmsg;
		c->st = S_DATA;
		return send_cmd(c, "DATA\r\n");
	case S_DATA:
		if (code != 354)
			goto badmsg;
		c->st = S_BODY;
		c->body_pending = 1;
		return flush(c);
	case S_PIPE:
		c->pipe_left--;
		if (c->pipe_left > 0) {
			if (code / 100 != 2)
				c->pipe_bad = 1;
			return 0;
		}
		if (code != 354 || c->pipe_bad)
			goto badmsg;
		c->st = S_BODY;
		c->body_pending = 1;
		return flush(c);
	case S_BODY:
		if (c->t_dot <= 1) {
			note_error("%s", "reply before the end of data");
			return -1;
		}
		if (code / 100 != 2)
			goto badmsg;
		acked++;
		if (nlat < latcap)
			lat[nlat++] = now_us() - c->t_dot;
		return after_message(c);
	case S_QUIT:
		c->st = S_FREE;
		conn_close(c, 0);
		return 1;
	case S_NOOP:
		if (code == 250)
			idle_alive++;
		c->st = S_QUIT;
		return send_cmd(c, "QUIT\r\n");
	default:
		snprintf(tmp, sizeof(tmp), "%d", code);
		note_error("unexpected reply %s", tmp);
		return -1;
	}
badmsg:
	failed++;
bad:
	snprintf(tmp, sizeof(tmp), "%d in state %d", code, (int)c->st);
	note_error("server replied %s", tmp);
	return -1;
}

/* parse complete reply lines; returns -1 on error, 1 if c was closed */
static int
on_input(struct conn *c)
{
	size_t off = 0;

	for (;;) {
		char *nl = memchr(c->rbuf + off, '\n', c->rlen - off);
		char *line = c->rbuf + off;
		size_t len;
		int r;

		if (nl == NULL)
			break;
		len = (size_t)(nl - line) + 1;
		off += len;
		if (len < 4 || line[0] < '2' || line[0] > '5') {
			note_error("%s", "malformed reply line");
			return -1;
		}
		if (c->st == S_EHLO && len >= 14 &&
		    strncasecmp(line + 4, "PIPELINING", 10) == 0)
			c->ehlo_pipe = 1;
		if (line[3] == '-')
			continue;
		r = on_reply(c, (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0'));
		if (r != 0)
			return r;
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (c->rlen == sizeof(c->rbuf)) {
		note_error("%s", "reply line too long");
		return -1;
	}
	return 0;
}

static void
conn_close(struct conn *c, int error)
{
	int slot = c->slot;
	long round = c->round;
	enum state st = c->st;

	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->st = S_FREE;
	if (error) {
		conn_errors++;
		if (st == S_IDLE || st == S_GREET || st == S_EHLO ||
		    st == S_CONNECT) {
			if (idle_n > 0 && st != S_IDLE)
				idle_failed++;
		}
	}
	if (idle_n > 0)
		return;
	if (error && unsupported)
		return;
	slot_next(slot, round + 1);
}

static int
conn_open(struct conn *c)
{
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_error("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->rlen = 0;
	c->wlen = 0;
	c->body_pending = 0;
	c->msgs = 0;
	c->want_out = 1;
	c->st = S_CONNECT;
	c->t_open = now_us();
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		note_error("epoll_ctl: %s", strerror(errno));
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0 &&
	    errno != EINPROGRESS) {
		note_error("connect: %s", strerror(errno));
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void
slot_next(int slot, long round)
{
	struct conn *c = &cs[slot];

	while (round < rounds) {
		c->slot = slot;
		c->round = round;
		if (conn_open(c) == 0)
			return;
		conn_errors++;
		round++;
	}
	active_slots--;
}

/*
 * A session whose greeting has not come after greet_ms is closed and
 * opened again for the same round (OpenSMTPD 6.8 sometimes never sends
 * it when many clients connect at once); counted in "retries".
 */
static void
check_greetings(void)
{
	uint64_t t = now_us();

	for (int i = 0; i < conns; i++) {
		struct conn *c = &cs[i];

		if (c->fd < 0 || (c->st != S_CONNECT && c->st != S_GREET) ||
		    t < c->t_open + (uint64_t)greet_ms * 1000u)
			continue;
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		retries++;
		if (conn_open(c) < 0) {
			conn_errors++;
			c->st = S_FREE;
			slot_next(c->slot, c->round + 1);
		}
	}
}

static void
on_event(struct conn *c, uint32_t ev)
{
	int r;

	if (c->st == S_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err != 0) {
			note_error("connect: %s", strerror(err));
			conn_close(c, 1);
			return;
		}
		if (!(ev & (EPOLLOUT | EPOLLIN)))
			return;
		c->st = S_GREET;
		set_events(c, 0);
	}
	if (ev & EPOLLOUT) {
		if (flush(c) < 0) {
			conn_close(c, 1);
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			ssize_t n = recv(c->fd, c->rbuf + c->rlen,
			    sizeof(c->rbuf) - c->rlen, 0);

			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				note_error("recv: %s", strerror(errno));
				conn_close(c, 1);
				return;
			}
			if (n == 0) {
				if (c->st == S_QUIT || c->st == S_FREE) {
					conn_close(c, 0);
					return;
				}
				note_error("%s", "server closed the connection");
				conn_close(c, 1);
				return;
			}
			c->rlen += (size_t)n;
			r = on_input(c);
			if (r < 0) {
				conn_close(c, 1);
				return;
			}
			if (r > 0)
				return; /* closed */
			if (c->rlen < sizeof(c->rbuf) && (size_t)n <
			    sizeof(c->rbuf))
				break;
		}
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double p)
{
	long i;

	if (nlat == 0)
		return 0;
	i = (long)(p * (double)nlat);
	if (i >= nlat)
		i = nlat - 1;
	return (double)lat[i] / 1000.0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -p PORT [-s ADDR] [-c CONNS] "
	    "[-m MSGS] [-k ROUNDS] [-b BYTES] [-P] [-f FROM] [-r RCPT]\n"
	    "               [-T SECONDS] [-L FILE] [-S USEC] [-G MS] | -I N\n");
	exit(2);
}

static void
parse_addr(const char *host, const char *port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
	int p = atoi(port);

	memset(&addr, 0, sizeof(addr));
	if (p <= 0 || p > 65535)
		usage();
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		addrlen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		addrlen = sizeof(*a6);
	} else {
		fprintf(stderr, "loadgen: %s: not an IP address\n", host);
		exit(2);
	}
}

/* run the loop until done() or the deadline; 1 if the deadline hit */
static int
loop(uint64_t deadline, int (*done)(void))
{
	struct epoll_event evs[256];

	while (!done()) {
		uint64_t t = now_us();
		int n, i, to;

		if (t >= deadline)
			return 1;
		/* ramp: start the next slots whose time has come */
		while (idle_n == 0 && next_slot < conns &&
		    t >= t_start + (uint64_t)next_slot * (uint64_t)ramp_us) {
			next_slot++;
			slot_next(next_slot - 1, 0);
		}
		to = (int)((deadline - t) / 1000) + 1;
		if (to > 100)
			to = 100;
		if (idle_n == 0 && next_slot < conns)
			to = 1;
		if (idle_n == 0 && greet_ms > 0)
			check_greetings();
		n = epoll_wait(ep, evs, 256, to);
		for (i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		if (unsupported)
			return 0;
	}
	return 0;
}

static int
load_done(void)
{
	return active_slots <= 0;
}

static long idle_opened;

static int
idle_up(void)
{
	/* keep at most 256 connects in flight: the listen backlog */
	while (idle_opened < idle_n &&
	    idle_opened - idle_ready - idle_failed < 256) {
		struct conn *c = &cs[idle_opened];

		c->slot = (int)idle_opened;
		idle_opened++;
		if (conn_open(c) < 0) {
			idle_failed++;
			conn_errors++;
		}
	}
	return idle_ready + idle_failed >= idle_n;
}

static long idle_closed_target;

static int
idle_noop_done(void)
{
	long live = 0;

	for (long i = 0; i < idle_n; i++)
		if (cs[i].fd >= 0)
			live++;
	return live == 0 || live <= idle_closed_target;
}

static int
run_idle(uint64_t t0, uint64_t deadline)
{
	struct pollfd pf = { STDIN_FILENO, POLLIN, 0 };
	int timed_out;
	char buf[256];

	timed_out = loop(deadline, idle_up);
	printf("{\"idle_ready\":%ld,\"idle_failed\":%ld,\"setup_s\":%.3f}\n",
	    idle_ready, idle_failed, (double)(now_us() - t0) / 1e6);
	fflush(stdout);
	/* hold: serve nothing, wait for EOF on stdin or the deadline */
	while (!timed_out) {
		struct epoll_event evs[64];
		int n, i;

		if (now_us() >= deadline)
			break;
		if (poll(&pf, 1, 100) > 0) {
			ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));

			if (r <= 0)
				break;
		}
		/* sessions the server closes meanwhile are counted lost */
		n = epoll_wait(ep, evs, 64, 0);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->st == S_IDLE)
				on_event(c, evs[i].events);
		}
	}
	/* are they still served? NOOP each, count the 250s */
	for (long i = 0; i < idle_n; i++) {
		struct conn *c = &cs[i];

		if (c->fd < 0 || c->st != S_IDLE)
			continue;
		c->st = S_NOOP;
		if (send_cmd(c, "NOOP\r\n") < 0)
			conn_close(c, 1);
	}
	idle_closed_target = 0;
	loop(now_us() + 20000000u, idle_noop_done);
	for (long i = 0; i < idle_n; i++)
		if (cs[i].fd >= 0)
			conn_close(&cs[i], 0);
	return timed_out;
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL;
	struct rusage ru;
	uint64_t t0, t1;
	int ch, timed_out = 0;
	long n;

	while ((ch = getopt(argc, argv, "s:p:c:m:k:b:Pf:r:T:L:I:H:S:G:")) != -1) {
		switch (ch) {
		case 's': host = optarg; break;
		case 'p': port = optarg; break;
		case 'c': conns = atoi(optarg); break;
		case 'm': msgs = atol(optarg); break;
		case 'k': rounds = atol(optarg); break;
		case 'b': body_bytes = (size_t)atol(optarg); break;
		case 'P': pipelining = 1; break;
		case 'f': from = optarg; break;
		case 'r': rcpt = optarg; break;
		case 'H': helo = optarg; break;
		case 'T': limit_s = atof(optarg); break;
		case 'L': latfile = optarg; break;
		case 'I': idle_n = atol(optarg); break;
		case 'S': ramp_us = atol(optarg); break;
		case 'G': greet_ms = atol(optarg); break;
		default: usage();
		}
	}
	if (port == NULL || conns < 1 || conns > 100000 || msgs < 1 ||
	    rounds < 1 || limit_s <= 0 || limit_s > 3600 || idle_n < 0 ||
	    idle_n > 1000000)
		usage();
	parse_addr(host, port);
	make_body();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return 1;
	n = idle_n > 0 ? idle_n : conns;
	cs = calloc((size_t)n, sizeof(*cs));
	for (long i = 0; i < n; i++)
		cs[i].fd = -1;
	latcap = idle_n > 0 ? 1 : (long)conns * msgs * rounds;
	lat = malloc(sizeof(*lat) * (size_t)latcap);
	if (cs == NULL || lat == NULL)
		return 1;

	t0 = now_us();
	if (idle_n > 0) {
		timed_out = run_idle(t0, t0 + (uint64_t)(limit_s * 1e6));
		t1 = now_us();
		getrusage(RUSAGE_SELF, &ru);
		printf("{\"idle\":%ld,\"idle_ready\":%ld,\"idle_failed\":%ld,"
		    "\"idle_alive\":%ld,\"held_s\":%.3f,\"timed_out\":%d,"
		    "\"first_error\":\"%s\"}\n", idle_n, idle_ready,
		    idle_failed, idle_alive, (double)(t1 - t0) / 1e6,
		    timed_out, first_error);
		return idle_alive == idle_n ? 0 : 1;
	}

	active_slots = conns;
	t_start = t0;
	next_slot = 0;
	timed_out = loop(t0 + (uint64_t)(limit_s * 1e6), load_done);
	t1 = now_us();
	if (timed_out) {
		/* say where the connections were stuck */
		static const char *names[] = { "free", "connect", "greet",
		    "ehlo", "mail", "rcpt", "data", "pipe", "body", "quit",
		    "idle", "noop" };
		int hist[12] = { 0 };

		for (int i = 0; i < conns; i++)
			hist[cs[i].st]++;
		fprintf(stderr, "loadgen: timed out; connections by state:");
		for (int i = 0; i < 12; i++)
			if (hist[i])
				fprintf(stderr, " %s=%d", names[i], hist[i]);
		fprintf(stderr, "\n");
	}
	getrusage(RUSAGE_SELF, &ru);
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_u64);
	if (latfile != NULL) {
		FILE *f = fopen(latfile, "w");

		if (f != NULL) {
			for (long i = 0; i < nlat; i++)
				fprintf(f, "%llu\n", (unsigned long long)lat[i]);
			fclose(f);
		}
	}
	printf("{\"conns\":%d,\"msgs_per_conn\":%ld,\"rounds\":%ld,"
	    "\"bytes\":%zu,\"pipelining\":%d,\"sent\":%ld,\"acked\":%ld,"
	    "\"failed\":%ld,\"conn_errors\":%ld,\"elapsed_s\":%.4f,"
	    "\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	    "\"cpu_s\":%.4f,\"retries\":%ld,\"unsupported\":%d,\"timed_out\":%d,"
	    "\"first_error\":\"%s\"}\n", conns, msgs, rounds, body_len,
	    pipelining, sent, acked, failed, conn_errors,
	    (double)(t1 - t0) / 1e6,
	    t1 > t0 ? (double)acked * 1e6 / (double)(t1 - t0) : 0.0,
	    pct(0.50), pct(0.99), nlat ? (double)lat[nlat - 1] / 1000.0 : 0.0,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	    retries, unsupported, timed_out, first_error);
	if (unsupported)
		return 3;
	return (timed_out || failed || conn_errors ||
	    acked != (long)conns * msgs * rounds) ? 1 : 0;
}
