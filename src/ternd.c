/*
 * ternd - the tern mail server daemon.
 *
 *   ternd [-c FILE] [-o key=value]... [-n [-p]] [-d] [-v]
 *
 * Loads the configuration, prepares every Maildir (creating missing ones,
 * cleaning tmp/ leftovers of a crash), opens the listeners and runs the
 * event loop until SIGTERM or SIGINT. SIGTERM lets messages being
 * transferred finish (up to shutdown_timeout), then exits. SIGHUP loads
 * the TLS certificates and the users file again.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "conf/conf.h"
#include "event/pool.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"
#include "relay/relay.h"
#include "smtp/server.h"
#include "store/commit.h"
#include "store/maildir.h"

#define TERND_DEFAULT_CONF "/etc/tern/tern.conf"
#define MAX_OVERRIDES 256

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ternd [-c FILE] [-o key=value]... [-n [-p]] [-d] [-v]\n"
	    "  -c FILE        configuration file (default %s)\n"
	    "  -o key=value   override a configuration key (repeatable)\n"
	    "  -n             check the configuration and exit\n"
	    "  -p             with -n: print the configuration, defaults "
	    "included\n"
	    "  -d             run in the background and log to syslog\n"
	    "  -v             log every reply (debug level)\n"
	    "  -h             this help\n"
	    "See ternd(8) and tern.conf(5).\n", TERND_DEFAULT_CONF);
}

/* everything the signal handlers act on */
struct daemon {
	struct event_base *base;
	const struct conf *conf;
	struct server *server;
	struct queue *queue;
	struct relay *relay;
	struct event *stop_ev;    /* polls for the end of in-flight work */
	time_t stop_deadline;
};

/* all sessions are gone: wait for deliveries and disk jobs, then exit */
static void
stop_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	if (!server_idle(d->server))
		return;
	if (queue_busy(d->queue) || relay_busy(d->relay)) {
		if (time(NULL) < d->stop_deadline)
			return;
		/* the spool still holds their state: nothing is lost */
		log_warn("ev=stop-forced msg=\"deliveries still running; they "
		    "are retried after the restart\"");
	}
	event_base_loopexit(d->base, NULL);
}

static void
sessions_done(void *arg)
{
	stop_poll_cb(-1, 0, arg);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tick = { 0, 100000 };

	if (sig == SIGHUP) {
		log_info("ev=signal sig=HUP");
		server_reload(d->server);
		return;
	}
	if (sig == SIGUSR1) {
		log_info("ev=signal sig=USR1 msg=\"rescanning the queue\"");
		queue_rescan(d->queue);
		return;
	}
	log_info("ev=signal sig=%s", sig == SIGTERM ? "TERM" : "INT");
	if (d->stop_ev != NULL)
		return;
	d->stop_deadline = time(NULL) + (time_t)d->conf->shutdown_timeout + 5;
	queue_shutdown(d->queue);
	relay_shutdown(d->relay);
	d->stop_ev = event_new(d->base, -1, EV_PERSIST, stop_poll_cb, d);
	if (d->stop_ev != NULL)
		event_add(d->stop_ev, &tick);
	server_shutdown(d->server, sessions_done, d);
}

/* spool_dir/ternd.pid, for `tern queue` to signal us */
static void
write_pid(const struct conf *cf)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ternd.pid", cf->spool_dir);
	f = fopen(path, "we");
	if (f == NULL) {
		log_warn("ev=pidfile-failed path=%s error=\"%s\"", path,
		    strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* create each mailbox's Maildir and clean crash leftovers in tmp/ */
static int
prepare_maildirs(const struct conf *cf)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < cf->nmboxes; i++) {
		char *dir = commit_maildir_path(cf, &cf->mboxes[i]);
		int n;

		if (dir == NULL)
			return -1;
		if (maildir_create(dir) < 0) {
			log_err("ev=maildir-failed dir=%s error=\"%s\"", dir,
			    strerror(errno));
			free(dir);
			return -1;
		}
		n = maildir_clean_tmp(dir, now);
		if (n > 0)
			log_info("ev=tmp-cleaned dir=%s removed=%d", dir, n);
		free(dir);
	}
	return 0;
}

/* allow as many descriptors as the hard limit permits */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * glibc gives the top of the heap back to the kernel as soon as 128 KB of
 * it are free. Every message's buffer (tens of KB, freed after each
 * commit) then moves the heap's end up and down many times a second, and
 * shrinking the memory of a process whose threads run on other CPUs is a
 * TLB shoot-down there: about 15% of ternd's CPU per 50 KB message in the
 * benchmark. Keep up to TRIM_KEEP of free heap, and take blocks up to
 * MMAP_FROM (message buffers) from the heap rather than from mmap, whose
 * every munmap is a shoot-down too. Setting them also turns off glibc's
 * own adjustment of both, which grows the mmap threshold only up to the
 * largest block freed so far.
 */
#define TRIM_KEEP (16 * 1024 * 1024)
#define MMAP_FROM (4 * 1024 * 1024)

static void
malloc_tune(void)
{
	mallopt(M_MMAP_THRESHOLD, MMAP_FROM);
	mallopt(M_TRIM_THRESHOLD, TRIM_KEEP);
}

int
main(int argc, char **argv)
{
	const char *path = TERND_DEFAULT_CONF;
	const char *overrides[MAX_OVERRIDES];
	size_t nover = 0;
	int check = 0, print = 0, daemonize = 0, verbose = 0, ch, rc = 0;
	struct conf conf;
	struct conf_err err;
	struct event_base *base;
	struct event *sigterm, *sigint, *sighup, *sigusr1;
	struct pool *pool;
	struct daemon d;

	while ((ch = getopt(argc, argv, "c:o:npdvh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'o':
			if (nover == MAX_OVERRIDES) {
				fprintf(stderr, "ternd: too many -o options\n");
				return 2;
			}
			overrides[nover++] = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			print = 1;
			break;
		case 'd':
			daemonize = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	malloc_tune();
	log_open("ternd", 0);
	if (verbose)
		log_set_level(LOG_LVL_DEBUG);
	if (conf_load(&conf, path, overrides, nover, &err) < 0) {
		fprintf(stderr, "ternd: %s\n", err.msg);
		return 1;
	}
	if (check) {
		if (print) {
			char *dump;

			if (conf_dump(&conf, &dump) < 0) {
				fprintf(stderr, "ternd: cannot print config\n");
				conf_free(&conf);
				return 1;
			}
			fputs(dump, stdout);
			free(dump);
		} else {
			fprintf(stderr, "ternd: %s: configuration ok\n", path);
		}
		conf_free(&conf);
		return 0;
	}
	if (conf.unsafe_no_fsync)
		log_warn("ev=unsafe-no-fsync msg=\"fsync is OFF: a crash can "
		    "lose acknowledged mail; for benchmarks only\"");
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	if (prepare_maildirs(&conf) < 0) {
		conf_free(&conf);
		return 1;
	}
	if (daemonize) {
		if (daemon(1, 0) < 0) {
			fprintf(stderr, "ternd: daemon: %s\n", strerror(errno));
			return 1;
		}
		log_open("ternd", 1);
	}
	if (evthread_use_pthreads() < 0)
		fatal("libevent has no pthread support");
	base = event_base_new();
	if (base == NULL)
		fatal("cannot create event base");
	pool = pool_new(base, conf.commit_workers);
	if (pool == NULL)
		fatal("cannot start %u commit workers", conf.commit_workers);
	memset(&d, 0, sizeof(d));
	d.base = base;
	d.conf = &conf;
	d.server = server_new(base, &conf, pool);
	d.relay = relay_new(base, &conf);
	d.queue = d.relay ? queue_new(base, &conf, pool, d.relay) : NULL;
	if (d.queue == NULL)
		fatal("cannot create the queue and relay client");
	server_set_queue(d.server, d.queue);
	/* certificates, users and the spool are checked before any port opens */
	if (server_reload(d.server) < 0 || queue_start(d.queue) < 0 ||
	    server_listen(d.server) < 0) {
		rc = 1;
		goto out;
	}
	write_pid(&conf);
	sigterm = evsignal_new(base, SIGTERM, signal_cb, &d);
	sigint = evsignal_new(base, SIGINT, signal_cb, &d);
	sighup = evsignal_new(base, SIGHUP, signal_cb, &d);
	sigusr1 = evsignal_new(base, SIGUSR1, signal_cb, &d);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	evsignal_add(sigusr1, NULL);
	log_info("ev=start hostname=%s config=%s domains=%zu mailboxes=%zu "
	    "workers=%u", conf.hostname, path, conf.ndomains, conf.nmboxes,
	    conf.commit_workers);
	event_base_dispatch(base);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(sigusr1);
	if (d.stop_ev != NULL)
		event_free(d.stop_ev);
	log_info("ev=stop");
out:
	/* in order: nothing may call into what is already freed */
	if (d.queue != NULL)
		queue_shutdown(d.queue);
	if (d.relay != NULL)
		relay_shutdown(d.relay);
	pool_free(pool);
	queue_free(d.queue);
	relay_free(d.relay);
	server_free(d.server);
	event_base_free(base);
	conf_free(&conf);
	libevent_global_shutdown();
	return rc;
}
