/*
 * relay_driver - run relay_send() from the command line, for the
 * end-to-end tests of the relay client (tests/integ/test_relay_client.py)
 * until the queue drives it.
 *
 *   relay_driver [-o key=value]... [-8] [-u] [-n COUNT] [-w MS] [-v]
 *       CONF DOMAIN SENDER MSGFILE RCPT...
 *
 * Loads CONF (plus overrides), sends the message in MSGFILE (stored
 * form: CRLF lines, not dot-stuffed) from SENDER ("" for <>) to the
 * recipients, COUNT times at once (default 1), and prints one JSON
 * line per recipient and message:
 *   {"msg":0,"rcpt":"a@b","code":250,"esc":"2.0.0","text":"...",
 *    "synthetic":0,"remote":"host[ip]:port","tls":""}
 * then shuts the relay down cleanly. -w MS sends the copies MS
 * milliseconds apart instead of all at once. -8 and -u set QUEUE_F_8BITMIME and
 * QUEUE_F_SMTPUTF8. -v logs at debug level to stderr. Exit status 0,
 * or 2 on bad usage or configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "queue/queue.h"
#include "relay/relay.h"

struct run {
	struct event_base *base;
	struct relay *relay;
	struct event *poll_ev;
	struct event *send_ev;
	struct relay_msg *msgs;
	unsigned count, sent, left;
	long wait_ms;
};

static void
send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct timeval tv = {
		run->wait_ms / 1000, (run->wait_ms % 1000) * 1000
	};

	relay_send(run->relay, &run->msgs[run->sent++]);
	if (run->sent < run->count)
		evtimer_add(run->send_ev, &tv);
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			printf("\\n");
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct timeval tv = { 0, 20000 };

	if (!relay_busy(run->relay)) {
		event_base_loopbreak(run->base);
		return;
	}
	evtimer_add(run->poll_ev, &tv);
}

static void
done(struct relay_msg *m, void *arg)
{
	struct run *run = arg;
	size_t i;
	struct timeval tv = { 0, 0 };
	static unsigned seq;

	for (i = 0; i < m->nrcpts; i++) {
		const struct relay_rcpt *rc = &m->rcpts[i];

		printf("{\"msg\":%u,\"rcpt\":", seq);
		json_str(rc->addr);
		printf(",\"code\":%d,\"esc\":", rc->code);
		json_str(rc->esc);
		printf(",\"text\":");
		json_str(rc->text);
		printf(",\"synthetic\":%d,\"remote\":", rc->synthetic);
		json_str(m->remote);
		printf(",\"tls\":");
		json_str(m->tls);
		printf("}\n");
	}
	fflush(stdout);
	seq++;
	if (--run->left == 0) {
		relay_shutdown(run->relay);
		evtimer_add(run->poll_ev, &tv);
	}
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, n;
	char buf[65536];

	*len = 0;
	if (f == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (*len + n > cap) {
			cap = (*len + n) * 2;
			data = realloc(data, cap);
			if (data == NULL)
				exit(2);
		}
		memcpy(data + *len, buf, n);
		*len += n;
	}
	fclose(f);
	return data != NULL ? data : calloc(1, 1);
}

int
main(int argc, char **argv)
{
	const char *overrides[64];
	size_t nover = 0, len, i, nr;
	unsigned flags = 0, count = 1, k;
	long wait_ms = 0;
	struct conf conf;
	struct conf_err err;
	struct run run;
	struct relay_msg *msgs;
	char *data;
	int ch;

	log_open("relay_driver", 0);
	log_set_level(LOG_LVL_WARN);
	while ((ch = getopt(argc, argv, "o:8un:w:v")) != -1) {
		switch (ch) {
		case 'o':
			if (nover < 64)
				overrides[nover++] = optarg;
			break;
		case '8':
			flags |= QUEUE_F_8BITMIME;
			break;
		case 'u':
			flags |= QUEUE_F_SMTPUTF8;
			break;
		case 'n':
			count = (unsigned)atoi(optarg);
			break;
		case 'w':
			wait_ms = atol(optarg);
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 5 || count == 0) {
		fprintf(stderr, "usage: relay_driver [-o k=v] [-8] [-u] [-n N] "
		    "[-v] CONF DOMAIN SENDER MSGFILE RCPT...\n");
		return 2;
	}
	memset(&conf, 0, sizeof(conf));
	if (conf_load(&conf, argv[0], overrides, nover, &err) != 0) {
		fprintf(stderr, "relay_driver: %s\n", err.msg);
		return 2;
	}
	if ((data = read_file(argv[3], &len)) == NULL) {
		perror(argv[3]);
		return 2;
	}
	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	run.relay = relay_new(run.base, &conf);
	if (run.relay == NULL) {
		fprintf(stderr, "relay_driver: relay_new failed\n");
		return 2;
	}
	run.poll_ev = evtimer_new(run.base, poll_cb, &run);
	run.left = count;
	nr = (size_t)argc - 4;
	msgs = calloc(count, sizeof(*msgs));
	for (k = 0; k < count; k++) {
		struct relay_msg *m = &msgs[k];

		m->domain = argv[1];
		m->sender = argv[2];
		m->data = data;
		m->len = len;
		m->flags = flags;
		m->nrcpts = nr;
		m->rcpts = calloc(nr, sizeof(*m->rcpts));
		for (i = 0; i < nr; i++)
			m->rcpts[i].addr = argv[4 + i];
		m->done = done;
		m->arg = &run;
	}
	run.msgs = msgs;
	run.count = count;
	run.wait_ms = wait_ms;
	if (wait_ms > 0) {
		struct timeval zero = { 0, 0 };

		run.send_ev = evtimer_new(run.base, send_cb, &run);
		evtimer_add(run.send_ev, &zero);
	} else {
		for (k = 0; k < count; k++)
			relay_send(run.relay, &msgs[k]);
	}
	event_base_dispatch(run.base);
	if (run.send_ev != NULL)
		event_free(run.send_ev);
	relay_free(run.relay);
	event_free(run.poll_ev);
	event_base_free(run.base);
	for (k = 0; k < count; k++)
		free(msgs[k].rcpts);
	free(msgs);
	free(data);
	conf_free(&conf);
	return 0;
}
