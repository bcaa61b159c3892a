/*
 * queue_cmd - `tern queue`: look at the mail queue and act on it.
 *
 *   tern queue [list] [ID...]   what is queued, recipient by recipient
 *   tern queue flush [ID...]    try pending recipients now
 *   tern queue delete ID...     drop messages without a word to anyone
 *   tern queue bounce ID...     give up: pending recipients bounce
 *
 * The spool is read directly (src/queue/spool.h), from spool_dir of the
 * configuration or --spool. Changes are made the way ternd makes them:
 * under the message's lock, envelope written to a temp file, synced and
 * renamed. Then ternd gets SIGUSR1 (pid from spool_dir/ternd.pid) and
 * rescans; if it is not running, the change waits for its next start.
 * A bounce itself is written by ternd, which owns the DSN machinery.
 *
 * Exit status: 0; 1 when an ID given is not in the queue; sysexits.h
 * codes for bad usage, configuration and I/O errors.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../conf/conf.h"
#include "../explain/explain.h"
#include "../lib/buf.h"
#include "../lib/util.h"
#include "../queue/queue.h"
#include "../queue/sched.h"
#include "../queue/spool.h"


#define QUEUE_DEFAULT_CONF "/etc/tern/tern.conf"
#define BOUNCE_TEXT "deleted from the queue by the administrator"

const char queue_usage[] =
    "usage: tern queue [options] [list] [ID...]\n"
    "       tern queue [options] flush [ID...]\n"
    "       tern queue [options] delete ID...\n"
    "       tern queue [options] bounce ID...\n"
    "\n"
    "Show the mail queue (messages waiting to be sent on) and act on it.\n"
    "\n"
    "  list      each message: id, age, size, sender; each recipient:\n"
    "            state, attempts, next attempt, last reply (the default)\n"
    "  flush     try the pending recipients now (all messages, or IDs)\n"
    "  delete    remove messages; nobody is told\n"
    "  bounce    give up on the pending recipients: the sender gets a\n"
    "            bounce saying the administrator deleted the message\n"
    "\n"
    "Options:\n"
    "  -c FILE       configuration to take spool_dir from (default\n"
    "                " QUEUE_DEFAULT_CONF ")\n"
    "  --spool DIR   use this spool directory; no configuration needed\n"
    "  --json        one JSON object, times in ISO 8601 UTC (list)\n"
    "\n"
    "flush, delete and bounce change the spool and signal ternd\n"
    "(SIGUSR1, pid from spool_dir/ternd.pid) to rescan it.\n"
    "\n"
    "Exit status: 0; 1 when an ID is not in the queue; 64 usage;\n"
    "66 no spool; 69 ternd cannot be signalled; 74 I/O error;\n"
    "77 permission denied; 78 bad configuration.\n";

enum qcmd { QC_LIST, QC_FLUSH, QC_DELETE, QC_BOUNCE };

struct qopts {
	enum qcmd cmd;
	int json;
	const char *spool;
	char **ids;
	int nids;
	time_t now;
	size_t width;  /* 0: do not truncate */
};

static int
exit_for(int err)
{
	switch (err) {
	case ENOENT: return EX_NOINPUT;
	case EACCES:
	case EPERM: return EX_NOPERM;
	case ENOMEM: return EX_OSERR;
	}
	return EX_IOERR;
}

/* "2026-11-29T07:13:36Z" */
static void
fmt_iso(char *out, size_t cap, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "?");
}

/* "3m ago", "in 12m", "now" */
static void
fmt_rel(char *out, size_t cap, time_t t, time_t now)
{
	char d[32];

	if (t > now - 1 && t < now + 1) {
		snprintf(out, cap, "now");
		return;
	}
	sched_fmt_duration(d, sizeof(d), (long long)(t - now));
	if (t < now)
		snprintf(out, cap, "%s ago", d);
	else
		snprintf(out, cap, "in %s", d);
}

/* "812B", "4.1K", "23M" (powers of 1024, like the config's sizes) */
static void
fmt_size(char *out, size_t cap, uint64_t n)
{
	static const char unit[] = "KMGT";
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(out, cap, "%lluB", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, v < 10 ? "%.1f%c" : "%.0f%c", v, unit[u]);
}

/* the recipient's state in words */
static const char *
state_word(const struct spool_rcpt *r)
{
	switch (r->state) {
	case SPOOL_PENDING:
		return r->attempts > 0 ? "deferred" : "queued";
	case SPOOL_DELIVERED:
		return "delivered";
	case SPOOL_FAILED:
		return "bouncing";
	case SPOOL_BOUNCED:
		return "bounced";
	}
	return "?";
}

/* append s with newlines and controls as spaces */
static int
put_flat(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (buf_putc(b, c < 0x20 || c == 0x7f ? ' ' : (char)c) < 0)
			return -1;
	}
	return 0;
}

/* print one line, cut to the terminal's width with "..." */
static void
print_line(const struct qopts *o, struct buf *b)
{
	size_t len = b->len, cols = 0, i, cut = len;

	if (len == 0) {
		putchar('\n');
		return;
	}
	/* count columns as UTF-8 characters, not bytes */
	for (i = 0; i < len; i++) {
		if (((unsigned char)b->data[i] & 0xc0) == 0x80)
			continue;
		if (o->width != 0 && cols == o->width - 3 && cut == len)
			cut = i;
		cols++;
	}
	if (o->width != 0 && cols > o->width)
		printf("%.*s...\n", (int)cut, b->data);
	else
		printf("%.*s\n", (int)len, b->data);
	buf_reset(b);
}

static void
list_text(const struct qopts *o, const struct spool_env *e, struct buf *b)
{
	char size[16], age[48], when[48];
	size_t i;

	fmt_size(size, sizeof(size), e->size);
	fmt_rel(age, sizeof(age), e->arrival, o->now);
	buf_printf(b, "%s  %5s  %-12s  from <", e->qid, size, age);
	put_flat(b, e->sender);
	buf_puts(b, e->sender[0] == '\0' ? "> (a bounce or report)" : ">");
	print_line(o, b);
	for (i = 0; i < e->nrcpts; i++) {
		const struct spool_rcpt *r = &e->rcpts[i];
		int reply = r->code > 0 || (r->text != NULL && *r->text != '\0');

		/* state and address, then what to expect next */
		buf_printf(b, "  %-9s  <", state_word(r));
		put_flat(b, r->addr);
		buf_putc(b, '>');
		if (r->state == SPOOL_PENDING) {
			fmt_rel(when, sizeof(when), r->next, o->now);
			buf_printf(b, "  %u attempt%s, next %s", r->attempts,
			    r->attempts == 1 ? "" : "s", r->next <= o->now ?
			    "now" : when);
		} else if (r->state == SPOOL_FAILED) {
			buf_puts(b, "  (bounce not sent yet)");
		} else if (r->state == SPOOL_DELIVERED && r->last != 0) {
			fmt_rel(when, sizeof(when), r->last, o->now);
			buf_printf(b, "  %s", when);
		}
		print_line(o, b);
		if (r->state == SPOOL_DELIVERED)
			continue; /* "250 Ok" says nothing more */
		/* the last reply, then where and when it came */
		if (reply) {
			buf_printf(b, "%13s", "");
			if (r->code > 0)
				buf_printf(b, "%d ", r->code);
			if (r->esc[0] != '\0')
				buf_printf(b, "%s ", r->esc);
			put_flat(b, r->text);
			print_line(o, b);
		}
		if (r->last != 0 || r->host != NULL) {
			buf_printf(b, "%13slast attempt", "");
			if (r->last != 0) {
				fmt_rel(when, sizeof(when), r->last, o->now);
				buf_printf(b, " %s", when);
			}
			if (r->host != NULL) {
				buf_puts(b, r->last != 0 ? ", " : " ");
				put_flat(b, r->host);
			}
			print_line(o, b);
		}
	}
	print_line(o, b); /* an empty line between messages */
}

static void
jstr(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, "\"%s\":", key);
	if (val == NULL)
		buf_puts(b, "null");
	else
		explain_json_string(b, val, strlen(val));
}

static void
jtime(struct buf *b, const char *key, time_t t)
{
	char iso[40];

	if (t == 0) {
		buf_printf(b, "\"%s\":null", key);
		return;
	}
	fmt_iso(iso, sizeof(iso), t);
	buf_printf(b, "\"%s\":\"%s\"", key, iso);
}

static void
list_json(const struct qopts *o, const struct spool_env *e, struct buf *b)
{
	size_t i;

	buf_puts(b, "{");
	jstr(b, "id", e->qid);
	buf_putc(b, ',');
	jtime(b, "arrival", e->arrival);
	buf_printf(b, ",\"age_seconds\":%lld,\"size\":%llu,",
	    (long long)(o->now - e->arrival), (unsigned long long)e->size);
	jstr(b, "sender", e->sender);
	buf_printf(b, ",\"flags\":[%s%s%s],\"delay_warning_sent\":%s,"
	    "\"recipients\":[", e->flags & QUEUE_F_8BITMIME ? "\"8bitmime\""
	    : "", (e->flags & QUEUE_F_8BITMIME) && (e->flags &
	    QUEUE_F_SMTPUTF8) ? "," : "", e->flags & QUEUE_F_SMTPUTF8 ?
	    "\"smtputf8\"" : "", e->warned ? "true" : "false");
	for (i = 0; i < e->nrcpts; i++) {
		const struct spool_rcpt *r = &e->rcpts[i];

		buf_puts(b, i ? ",{" : "{");
		jstr(b, "address", r->addr);
		buf_putc(b, ',');
		jstr(b, "state", spool_state_name(r->state));
		buf_printf(b, ",\"attempts\":%u,", r->attempts);
		jtime(b, "next_attempt", r->state == SPOOL_PENDING ? r->next :
		    0);
		buf_putc(b, ',');
		jtime(b, "last_attempt", r->last);
		buf_printf(b, ",\"expired\":%s,\"last_reply\":",
		    r->expired ? "true" : "false");
		if (r->code <= 0 && r->text == NULL && r->esc[0] == '\0') {
			buf_puts(b, "null}");
			continue;
		}
		buf_printf(b, "{\"code\":%d,", r->code);
		jstr(b, "esc", r->esc[0] ? r->esc : NULL);
		buf_putc(b, ',');
		jstr(b, "text", r->text);
		buf_printf(b, ",\"synthetic\":%s,", r->synthetic ? "true" :
		    "false");
		jstr(b, "remote", r->host);
		buf_puts(b, "}}");
	}
	buf_puts(b, "]}");
}

static int
wanted(const struct qopts *o, const char *qid, char *found)
{
	int i;

	if (o->nids == 0)
		return 1;
	for (i = 0; i < o->nids; i++) {
		if (strcmp(o->ids[i], qid) == 0) {
			found[i] = 1;
			return 1;
		}
	}
	return 0;
}

static int
report_missing(const struct qopts *o, const char *found)
{
	int i, rc = EX_OK;

	for (i = 0; i < o->nids; i++) {
		if (!found[i]) {
			fprintf(stderr, "tern queue: %s: not in the queue\n",
			    o->ids[i]);
			rc = 1;
		}
	}
	return rc;
}

static int
do_list(const struct qopts *o)
{
	struct spool_env e;
	struct buf b;
	char **qids, why[256], *found;
	size_t n, i, shown = 0, npend = 0, nbounce = 0;
	int rc;

	if (spool_list(o->spool, &qids, &n) < 0) {
		fprintf(stderr, "tern queue: %s/env: %s\n", o->spool,
		    strerror(errno));
		return exit_for(errno);
	}
	found = calloc((size_t)o->nids + 1, 1);
	if (found == NULL) {
		spool_list_free(qids, n);
		return EX_OSERR;
	}
	buf_init(&b, 0);
	if (o->json) {
		buf_puts(&b, "{");
		jstr(&b, "spool", o->spool);
		buf_putc(&b, ',');
		jtime(&b, "now", o->now);
		buf_puts(&b, ",\"messages\":[");
	}
	for (i = 0; i < n; i++) {
		if (!wanted(o, qids[i], found))
			continue;
		if (spool_env_read(o->spool, qids[i], &e, why, sizeof(why)) < 0) {
			if (errno != ENOENT)
				fprintf(stderr, "tern queue: %s: unreadable "
				    "envelope: %s\n", qids[i], why);
			continue;
		}
		for (size_t k = 0; k < e.nrcpts; k++) {
			npend += e.rcpts[k].state == SPOOL_PENDING;
			nbounce += e.rcpts[k].state == SPOOL_FAILED;
		}
		if (o->json) {
			if (shown)
				buf_putc(&b, ',');
			list_json(o, &e, &b);
		} else {
			list_text(o, &e, &b);
		}
		shown++;
		spool_env_free(&e);
	}
	if (o->json) {
		buf_puts(&b, "]}\n");
		fwrite(b.data, 1, b.len, stdout);
	} else if (shown == 0 && o->nids == 0) {
		printf("The queue is empty.\n");
	} else if (o->nids == 0) {
		printf("%zu message%s; %zu recipient%s waiting", shown,
		    shown == 1 ? "" : "s", npend, npend == 1 ? "" : "s");
		if (nbounce > 0)
			printf(", %zu bounce%s not sent yet", nbounce,
			    nbounce == 1 ? "" : "s");
		printf(".\n");
	}
	buf_free(&b);
	rc = report_missing(o, found);
	free(found);
	spool_list_free(qids, n);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "tern queue: writing output: %s\n",
		    strerror(errno));
		return EX_IOERR;
	}
	return rc;
}

/*
 * Tell ternd to rescan. Returns 0 when signalled, 1 when it is not
 * running (no pid file, or no such process), -1 on other trouble.
 */
static int
signal_daemon(const struct qopts *o)
{
	char path[4096], buf[32];
	FILE *f;
	long pid;
	char *end;

	if (spool_path(path, sizeof(path), o->spool, SPOOL_PID_FILE, NULL) < 0)
		return -1;
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT) {
			printf("ternd is not running (no %s): the change takes "
			    "effect when it starts.\n", path);
			return 1;
		}
		fprintf(stderr, "tern queue: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		fprintf(stderr, "tern queue: %s: empty\n", path);
		return -1;
	}
	fclose(f);
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    pid <= 1) {
		fprintf(stderr, "tern queue: %s: not a process id\n", path);
		return -1;
	}
	if (kill((pid_t)pid, SIGUSR1) == 0) {
		printf("ternd (pid %ld) is rescanning the queue.\n", pid);
		return 0;
	}
	if (errno == ESRCH) {
		printf("ternd is not running (stale %s): the change takes "
		    "effect when it starts.\n", path);
		return 1;
	}
	fprintf(stderr, "tern queue: cannot signal ternd (pid %ld): %s; run "
	    "\"kill -USR1 %ld\" as its user\n", pid, strerror(errno), pid);
	return -1;
}

/* change one message under its lock; 0 done, 1 nothing to do, -1 error */
static int
edit_one(const struct qopts *o, const char *qid)
{
	struct spool_env e;
	char why[256], text[1200];
	size_t i, changed = 0;
	int fd, r = 0;

	fd = spool_lock(o->spool, qid);
	if (fd < 0) {
		if (errno == ENOENT)
			return -2;
		fprintf(stderr, "tern queue: %s: %s\n", qid, strerror(errno));
		return -1;
	}
	if (o->cmd == QC_DELETE) {
		if (spool_remove(o->spool, qid, 1) < 0) {
			r = errno == ENOENT ? -2 : -1;
			if (r == -1)
				fprintf(stderr, "tern queue: %s: %s\n", qid,
				    strerror(errno));
		}
		spool_unlock(fd);
		if (r == 0)
			printf("%s: deleted\n", qid);
		return r;
	}
	if (spool_env_read(o->spool, qid, &e, why, sizeof(why)) < 0) {
		spool_unlock(fd);
		if (errno == ENOENT)
			return -2;
		fprintf(stderr, "tern queue: %s: unreadable envelope: %s\n",
		    qid, why);
		return -1;
	}
	for (i = 0; i < e.nrcpts; i++) {
		struct spool_rcpt *rc = &e.rcpts[i];

		if (rc->state != SPOOL_PENDING)
			continue;
		if (o->cmd == QC_FLUSH) {
			if (rc->next > o->now) {
				rc->next = o->now;
				changed++;
			}
			continue;
		}
		/* bounce: keep what the last attempt said, for the sender */
		if (rc->code > 0)
			snprintf(text, sizeof(text), "%s; the last attempt got: "
			    "%d%s%s %s", BOUNCE_TEXT, rc->code,
			    rc->esc[0] ? " " : "", rc->esc,
			    rc->text != NULL ? rc->text : "");
		else
			snprintf(text, sizeof(text), "%s", BOUNCE_TEXT);
		free(rc->text);
		rc->text = strdup(text);
		free(rc->host);
		rc->host = NULL;
		rc->code = 0;
		snprintf(rc->esc, sizeof(rc->esc), "5.0.0");
		rc->synthetic = 1;
		rc->expired = 0;
		rc->state = SPOOL_FAILED;
		changed++;
	}
	if (changed > 0) {
		e.serial++;
		if (spool_env_write(o->spool, &e, 1) < 0) {
			fprintf(stderr, "tern queue: %s: writing the envelope: "
			    "%s\n", qid, strerror(errno));
			r = -1;
		}
	}
	spool_unlock(fd);
	if (r == 0 && o->cmd == QC_BOUNCE)
		printf(changed ? "%s: %zu recipient%s will bounce\n" :
		    "%s: no pending recipient to bounce\n", qid, changed,
		    changed == 1 ? "" : "s");
	else if (r == 0 && o->cmd == QC_FLUSH && o->nids > 0)
		printf(changed ? "%s: %zu recipient%s to try now\n" :
		    "%s: nothing waiting for a retry\n", qid, changed,
		    changed == 1 ? "" : "s");
	spool_env_free(&e);
	return r < 0 ? r : changed > 0 ? 0 : 1;
}

static int
do_edit(const struct qopts *o)
{
	char **qids = NULL;
	size_t n = 0, i, nchanged = 0;
	int rc = EX_OK, r, j;

	if (o->nids == 0) {
		/* flush everything */
		if (spool_list(o->spool, &qids, &n) < 0) {
			fprintf(stderr, "tern queue: %s/env: %s\n", o->spool,
			    strerror(errno));
			return exit_for(errno);
		}
		for (i = 0; i < n; i++) {
			r = edit_one(o, qids[i]);
			if (r == 0)
				nchanged++;
			else if (r == -1)
				rc = EX_IOERR;
		}
		spool_list_free(qids, n);
		printf("%zu message%s to try now.\n", nchanged,
		    nchanged == 1 ? "" : "s");
	} else {
		for (j = 0; j < o->nids; j++) {
			r = edit_one(o, o->ids[j]);
			if (r == 0)
				nchanged++;
			else if (r == -2) {
				fprintf(stderr, "tern queue: %s: not in the "
				    "queue\n", o->ids[j]);
				if (rc == EX_OK)
					rc = 1;
			} else if (r == -1) {
				rc = EX_IOERR;
			}
		}
	}
	if (nchanged > 0 && signal_daemon(o) < 0 && rc == EX_OK)
		rc = EX_UNAVAILABLE;
	return rc;
}

static size_t
term_width(void)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO))
		return 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 80;
}

/* queue_main - `tern queue`; argv[0] is "queue" */
int
queue_main(int argc, char **argv)
{
	const char *conf_path = QUEUE_DEFAULT_CONF, *spool = NULL;
	struct qopts o;
	struct conf conf;
	struct conf_err err;
	struct stat st;
	int i, have_cmd = 0, have_conf = 0, conf_loaded = 0, opts = 1, rc;

	memset(&o, 0, sizeof(o));
	o.ids = calloc((size_t)argc + 1, sizeof(*o.ids));
	if (o.ids == NULL)
		return EX_OSERR;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
		} else if (opts && strcmp(a, "--json") == 0) {
			o.json = 1;
		} else if (opts && (strcmp(a, "-c") == 0 ||
		    strcmp(a, "--spool") == 0)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tern queue: %s needs an "
				    "argument\n%s", a, queue_usage);
				free(o.ids);
				return EX_USAGE;
			}
			if (a[1] == 'c') {
				conf_path = argv[++i];
				have_conf = 1;
			} else {
				spool = argv[++i];
			}
		} else if (opts && strncmp(a, "--spool=", 8) == 0) {
			spool = a + 8;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "tern queue: unknown option %s\n%s", a,
			    queue_usage);
			free(o.ids);
			return EX_USAGE;
		} else if (!have_cmd && o.nids == 0 &&
		    (strcmp(a, "list") == 0 || strcmp(a, "flush") == 0 ||
		    strcmp(a, "delete") == 0 || strcmp(a, "bounce") == 0)) {
			have_cmd = 1;
			o.cmd = a[0] == 'l' ? QC_LIST : a[0] == 'f' ? QC_FLUSH :
			    a[0] == 'd' ? QC_DELETE : QC_BOUNCE;
		} else if (!spool_qid_ok(a)) {
			fprintf(stderr, "tern queue: \"%s\" is not a queue id "
			    "(nor list, flush, delete or bounce)\n", a);
			free(o.ids);
			return EX_USAGE;
		} else {
			o.ids[o.nids++] = argv[i];
		}
	}
	if ((o.cmd == QC_DELETE || o.cmd == QC_BOUNCE) && o.nids == 0) {
		fprintf(stderr, "tern queue: %s needs at least one queue id\n"
		    "%s", o.cmd == QC_DELETE ? "delete" : "bounce",
		    queue_usage);
		free(o.ids);
		return EX_USAGE;
	}
	if (o.json && o.cmd != QC_LIST) {
		fprintf(stderr, "tern queue: --json is for listing only\n");
		free(o.ids);
		return EX_USAGE;
	}
	if (spool == NULL || have_conf) {
		if (conf_load(&conf, conf_path, NULL, 0, &err) < 0) {
			fprintf(stderr, "tern queue: %s%s\n", err.msg,
			    have_conf ? "" : " (give -c FILE or --spool DIR)");
			free(o.ids);
			return EX_CONFIG;
		}
		conf_loaded = 1;
		if (spool == NULL)
			spool = conf.spool_dir;
	}
	o.spool = spool;
	o.now = time(NULL);
	o.width = term_width();
	if (stat(spool, &st) < 0) {
		fprintf(stderr, "tern queue: spool %s: %s\n", spool,
		    strerror(errno));
		rc = exit_for(errno);
	} else if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "tern queue: spool %s: not a directory\n",
		    spool);
		rc = EX_NOINPUT;
	} else if (o.cmd == QC_LIST) {
		rc = do_list(&o);
	} else {
		rc = do_edit(&o);
	}
	if (conf_loaded)
		conf_free(&conf);
	free(o.ids);
	return rc;
}
