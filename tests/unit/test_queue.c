/*
 * test_queue - the spool and the scheduler, under a fresh mkdtemp
 * directory per test.
 *
 * Spool: envelope format round trips (escapes, every field), corrupt
 * envelopes as a table, queue_store/queue_unstore byte for byte, all or
 * nothing on failure, the lock, quarantine, crash leftovers (message
 * files without envelope, temp envelopes).
 *
 * Scheduler: a real libevent loop and worker pool, a fake relay (each
 * relay_send is held until the test answers it) and a clock the test
 * moves forward: results per recipient, backoff, bounces and delay
 * warnings delivered to a local sender's Maildir, expiry, never a
 * bounce for the null sender, local recipients, changes made from
 * outside (flush, delete, bounce, also during a run), start-up
 * recovery, shutdown, and the bound on deliveries in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "event/pool.h"
#include "queue/queue.h"
#include "queue/spool.h"
#include "relay/relay.h"
#include "unit_conf.h"

#include "unit_check.h"

/*
 * The real relay client is not needed: queue_test_hooks() replaces it.
 * Weak, so that the library's relay_send wins if something else pulls
 * it in, and is never pulled in just for this reference.
 */
__attribute__((weak)) void
relay_send(struct relay *r, struct relay_msg *m)
{
	(void)r;
	(void)m;
	fail_msg("the real relay_send was called");
}

#define MAX_SENDS 256

struct fixture {
	char root[64];
	char spool[96];
	char mail[96];
	struct conf conf;
	struct event_base *base;
	struct pool *pool;
	struct queue *q;
};

static struct relay_msg *sends[MAX_SENDS]; /* relay_send calls unanswered */
static size_t nsends, total_sends;
static time_t clock_offset;

static time_t
fake_now(void)
{
	return time(NULL) + clock_offset;
}

static void
fake_send(struct relay *r, struct relay_msg *m)
{
	(void)r;
	if (nsends == MAX_SENDS)
		fail_msg("too many sends");
	sends[nsends++] = m;
	total_sends++;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup_dirs(struct fixture *f)
{
	snprintf(f->root, sizeof(f->root), "/tmp/tern-qtest-XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->root);
	snprintf(f->mail, sizeof(f->mail), "%s/mail", f->root);
	return 0;
}

/* load the configuration with these extra overrides */
static void
load_conf(struct fixture *f, const char *const *extra, size_t nextra)
{
	char sp[128], md[128], why[512];
	const char *ov[16];
	size_t n = 0, i;

	snprintf(sp, sizeof(sp), "spool_dir=%s", f->spool);
	snprintf(md, sizeof(md), "maildir_root=%s", f->mail);
	ov[n++] = sp;
	ov[n++] = md;
	for (i = 0; i < nextra && n < 16; i++)
		ov[n++] = extra[i];
	if (unit_conf_load(&f->conf, UNIT_CONF_BASE, ov, n, why,
	    sizeof(why)) < 0)
		fail_msg("conf: %s", why);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || setup_dirs(f) < 0)
		return -1;
	load_conf(f, NULL, 0);
	if (spool_prepare(f->spool) < 0)
		return -1;
	nsends = total_sends = 0;
	clock_offset = 0;
	*state = f;
	return 0;
}

static void
stop_queue(struct fixture *f);

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->q != NULL)
		stop_queue(f);
	conf_free(&f->conf);
	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		fail_msg("writing %s: %s", path, strerror(errno));
}

static char *
read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n)
		fail_msg("reading %s", path);
	fclose(fp);
	return buf;
}

static int
exists(const char *spool, const char *sub, const char *name)
{
	return spool_exists(spool, sub, name) == 1;
}

static size_t
count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* the i-th (by name) file in the Maildir new/ of user@example.test */
static char *
mailbox_msg(struct fixture *f, const char *user, size_t i)
{
	char dir[256], path[512];
	struct dirent **names;
	char *text = NULL;
	int n, k;

	snprintf(dir, sizeof(dir), "%s/example.test/%s/new", f->mail, user);
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return NULL;
	for (k = 0; k < n; k++) {
		if (names[k]->d_name[0] != '.' && i-- == 0 && text == NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    names[k]->d_name);
			text = read_text(path);
		}
		free(names[k]);
	}
	free(names);
	return text;
}

static size_t
mailbox_count(struct fixture *f, const char *user)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/example.test/%s/new", f->mail, user);
	return count_dir(dir);
}

static void
want_has(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("missing \"%s\" in:\n%s", needle, hay ? hay : "(null)");
}

/* store a test message; the qid is made from n */
static void
store(struct fixture *f, char *qid, int n, const char *sender,
    const char *const *rcpts, size_t nrcpts)
{
	char head[256];
	static const char body[] = "Subject: test\r\n\r\nHello.\r\n";
	struct iovec iov[2];

	snprintf(qid, SPOOL_QID_MAX + 1, "TESTQID%04d", n);
	snprintf(head, sizeof(head), "Return-Path: <%s>\r\nReceived: from "
	    "client ([192.0.2.9])\r\n\tby mail.example.test (tern) with "
	    "ESMTP id %s; Sat, 29 Nov 2025 07:13:36 +0000\r\n", sender, qid);
	iov[0].iov_base = head;
	iov[0].iov_len = strlen(head);
	iov[1].iov_base = (void *)(uintptr_t)body;
	iov[1].iov_len = sizeof(body) - 1;
	if (queue_store(&f->conf, qid, sender, rcpts, nrcpts, iov, 2, 0,
	    1) < 0)
		fail_msg("queue_store %s: %s", qid, strerror(errno));
}

static void
read_env(struct fixture *f, const char *qid, struct spool_env *e)
{
	char why[256];

	if (spool_env_read(f->spool, qid, e, why, sizeof(why)) < 0)
		fail_msg("reading envelope %s: %s", qid, why);
}

static const struct spool_rcpt *
rcpt_of(const struct spool_env *e, const char *addr)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		if (strcmp(e->rcpts[i].addr, addr) == 0)
			return &e->rcpts[i];
	fail_msg("no recipient %s", addr);
	return NULL;
}

static void
start_queue(struct fixture *f)
{
	f->base = event_base_new();
	f->pool = pool_new(f->base, 2);
	f->q = queue_new(f->base, &f->conf, f->pool, NULL);
	if (f->base == NULL || f->pool == NULL || f->q == NULL)
		fail_msg("setting up the loop");
	queue_test_hooks(f->q, fake_send, fake_now);
	if (queue_start(f->q) < 0)
		fail_msg("queue_start: %s", strerror(errno));
}

/* run the loop until the queue is idle with want sends waiting */
static void
settle(struct fixture *f, size_t want, const char *what)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	time_t deadline = time(NULL) + 10;

	while (time(NULL) < deadline) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		if (nsends == want && !queue_busy(f->q) &&
		    pool_pending(f->pool) == 0) {
			/* once more: a ready message may start a run */
			event_base_loop(f->base, EVLOOP_NONBLOCK);
			if (nsends == want && !queue_busy(f->q))
				return;
		}
		/* a run waits for its sends: that is idle too */
		if (nsends == want && want > 0 && pool_pending(f->pool) == 0)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("%s: timed out with %zu sends waiting, want %zu (busy %d)",
	    what, nsends, want, queue_busy(f->q));
}

/* the waiting send for domain (taken off the list) */
static struct relay_msg *
take_send(const char *domain)
{
	size_t i;

	for (i = 0; i < nsends; i++) {
		if (strcmp(sends[i]->domain, domain) == 0) {
			struct relay_msg *m = sends[i];

			sends[i] = sends[--nsends];
			return m;
		}
	}
	fail_msg("no send waiting for %s", domain);
	return NULL;
}

static void
answer(struct relay_msg *m, const char *addr, int code, const char *esc,
    const char *text)
{
	size_t i;

	for (i = 0; i < m->nrcpts; i++) {
		if (strcmp(m->rcpts[i].addr, addr) == 0) {
			m->rcpts[i].code = code;
			snprintf(m->rcpts[i].esc, sizeof(m->rcpts[i].esc), "%s",
			    esc);
			snprintf(m->rcpts[i].text, sizeof(m->rcpts[i].text),
			    "%s", text);
			return;
		}
	}
	fail_msg("%s is not a recipient of this send", addr);
}

static void
done(struct relay_msg *m, const char *remote)
{
	snprintf(m->remote, sizeof(m->remote), "%s", remote);
	m->done(m, m->arg);
}

static void
stop_queue(struct fixture *f)
{
	queue_shutdown(f->q);
	/* answer what is left as the real relay does at shutdown */
	while (nsends > 0) {
		struct relay_msg *m = sends[--nsends];

		for (size_t i = 0; i < m->nrcpts; i++)
			m->rcpts[i].code = 0;
		m->done(m, m->arg);
	}
	settle(f, 0, "shutdown");
	queue_free(f->q);
	pool_free(f->pool);
	event_base_free(f->base);
	f->q = NULL;
}

/* what `tern queue` does: edit an envelope under its lock */
static void
outside_edit(struct fixture *f, const char *qid,
    void (*edit)(struct spool_env *e))
{
	struct spool_env e;
	int fd = spool_lock(f->spool, qid);

	if (fd < 0)
		fail_msg("lock %s: %s", qid, strerror(errno));
	read_env(f, qid, &e);
	edit(&e);
	e.serial++;
	if (spool_env_write(f->spool, &e, 1) < 0)
		fail_msg("write %s", qid);
	spool_unlock(fd);
	spool_env_free(&e);
}

static void
edit_flush(struct spool_env *e)
{
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == SPOOL_PENDING)
			e->rcpts[i].next = fake_now();
}

static void
edit_bounce(struct spool_env *e)
{
	for (size_t i = 0; i < e->nrcpts; i++) {
		struct spool_rcpt *r = &e->rcpts[i];

		if (r->state != SPOOL_PENDING)
			continue;
		r->state = SPOOL_FAILED;
		r->code = 0;
		snprintf(r->esc, sizeof(r->esc), "5.0.0");
		free(r->text);
		r->text = strdup("deleted from the queue by the administrator");
		r->synthetic = 1;
	}
}

/* ------------------------------------------------------------------ */
/* the envelope format                                                 */

static void
test_env_round_trip(void **state)
{
	struct spool_rcpt r[4] = {
		{ .addr = "bob@far.example", .state = SPOOL_PENDING,
		    .attempts = 3, .next = 1764401016, .last = 1764400716,
		    .code = 451, .esc = "4.7.1",
		    .text = "Greylisted,\nplease \\ try\tlater \x01 caf\xc3\xa9",
		    .host = "mx.far.example[192.0.2.7]:25" },
		{ .addr = "\"odd local\"@far.example",
		    .state = SPOOL_DELIVERED, .attempts = 1, .code = 250,
		    .esc = "2.0.0", .text = "ok" },
		{ .addr = "c@away.example", .state = SPOOL_FAILED,
		    .code = 0, .esc = "5.0.0", .synthetic = 1,
		    .text = "deleted", .expired = 1 },
		{ .addr = "d@away.example", .state = SPOOL_BOUNCED },
	};
	struct spool_env e = {
		.serial = 7, .qid = "ABC-def_123", .arrival = 1764400416,
		.sender = "alice@example.test",
		.flags = QUEUE_F_8BITMIME | QUEUE_F_SMTPUTF8,
		.size = 123456789012ULL, .warned = 1, .rcpts = r, .nrcpts = 4,
	};
	struct spool_env back;
	struct buf a, b;
	char why[256];
	size_t i;

	(void)state;
	buf_init(&a, 0);
	buf_init(&b, 0);
	if (spool_env_format(&a, &e) < 0)
		fail_msg("format");
	if (memchr(a.data, '\r', a.len) != NULL ||
	    memchr(a.data, '\x01', a.len) != NULL)
		fail_msg("control characters were not escaped:\n%.*s",
		    (int)a.len, a.data);
	if (spool_env_parse(&back, a.data, a.len, why, sizeof(why)) < 0)
		fail_msg("parse: %s\n%.*s", why, (int)a.len, a.data);
	CHECK_INT("serial", back.serial, 7);
	CHECK_STR("qid", back.qid, "ABC-def_123");
	CHECK_INT("arrival", back.arrival, 1764400416);
	CHECK_STR("sender", back.sender, "alice@example.test");
	CHECK_INT("flags", back.flags, QUEUE_F_8BITMIME | QUEUE_F_SMTPUTF8);
	CHECK_INT("size", back.size, 123456789012LL);
	CHECK_INT("warned", back.warned, 1);
	CHECK_INT("nrcpts", back.nrcpts, 4);
	for (i = 0; i < 4; i++) {
		CHECK_STR("addr", back.rcpts[i].addr, r[i].addr);
		CHECK_INT("state", back.rcpts[i].state, r[i].state);
		CHECK_INT("attempts", back.rcpts[i].attempts, r[i].attempts);
		CHECK_INT("last", back.rcpts[i].last, r[i].last);
		CHECK_INT("code", back.rcpts[i].code, r[i].code);
		CHECK_STR("esc", back.rcpts[i].esc, r[i].esc);
		CHECK_STR("text", back.rcpts[i].text, r[i].text);
		CHECK_STR("host", back.rcpts[i].host, r[i].host);
		CHECK_INT("synthetic", back.rcpts[i].synthetic,
		    r[i].synthetic);
		CHECK_INT("expired", back.rcpts[i].expired, r[i].expired);
	}
	CHECK_INT("next", back.rcpts[0].next, 1764401016);
	if (spool_env_format(&b, &back) < 0)
		fail_msg("format again");
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		fail_msg("second format differs:\n%.*s\n---\n%.*s",
		    (int)a.len, a.data, (int)b.len, b.data);
	spool_env_free(&back);
	buf_free(&a);
	buf_free(&b);
}

static void
test_env_minimal(void **state)
{
	/* the documented minimum, as a person or a script might write it */
	static const char text[] =
	    "tern-queue 1\nqid Q1\narrival 1000\nsender \n"
	    "rcpt a@b.example\nend\n";
	struct spool_env e;
	char why[256];

	(void)state;
	if (spool_env_parse(&e, text, sizeof(text) - 1, why, sizeof(why)) < 0)
		fail_msg("parse: %s", why);
	CHECK_STR("null sender", e.sender, "");
	CHECK_INT("serial", e.serial, 0);
	CHECK_INT("state", e.rcpts[0].state, SPOOL_PENDING);
	CHECK_INT("next defaults to arrival", e.rcpts[0].next, 1000);
	CHECK_INT("code", e.rcpts[0].code, 0);
	CHECK_STR("text", e.rcpts[0].text, NULL);
	CHECK_STR("host", e.rcpts[0].host, NULL);
	spool_env_free(&e);
}

static void
test_env_corrupt(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		const char *why; /* part of the reason */
	} cases[] = {
		{ "empty", "", "empty" },
		{ "not an envelope", "hello\n", "version" },
		{ "future version", "tern-queue 2\nqid Q\narrival 1\nsender \n"
		    "rcpt a@b\nend\n", "version" },
		{ "cut short", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "rcpt a@b\n", "end" },
		{ "cut mid-line", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "rcpt a@b\nen", "line end" },
		{ "no recipients", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "end\n", "recipients" },
		{ "no qid", "tern-queue 1\narrival 1\nsender \nrcpt a@b\n"
		    "end\n", "qid" },
		{ "no sender", "tern-queue 1\nqid Q\narrival 1\nrcpt a@b\n"
		    "end\n", "sender" },
		{ "unknown key", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "colour blue\nrcpt a@b\nend\n", "unknown key" },
		{ "recipient key before rcpt", "tern-queue 1\nqid Q\n"
		    "arrival 1\nsender \nstate pending\nrcpt a@b\nend\n",
		    "unknown key" },
		{ "bad number", "tern-queue 1\nqid Q\narrival 12x\nsender \n"
		    "rcpt a@b\nend\n", "bad number" },
		{ "negative", "tern-queue 1\nqid Q\narrival -1\nsender \n"
		    "rcpt a@b\nend\n", "bad number" },
		{ "bad state", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "rcpt a@b\nstate lost\nend\n", "state" },
		{ "bad escape", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "rcpt a@b\ntext x\\q\nend\n", "escape" },
		{ "NUL escape", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "rcpt a@b\ntext x\\x00\nend\n", "escape" },
		{ "bad qid", "tern-queue 1\nqid ../etc\narrival 1\nsender \n"
		    "rcpt a@b\nend\n", "queue id" },
		{ "code too big", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "rcpt a@b\ncode 1000\nend\n", "bad number" },
		{ "text after end", "tern-queue 1\nqid Q\narrival 1\n"
		    "sender \nrcpt a@b\nend\nrcpt c@d\n", "after" },
		{ "unknown flag", "tern-queue 1\nqid Q\narrival 1\nsender \n"
		    "flags binarymime\nrcpt a@b\nend\n", "flag" },
	};
	struct spool_env e;
	char why[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		errno = 0;
		if (spool_env_parse(&e, cases[i].text, strlen(cases[i].text),
		    why, sizeof(why)) == 0) {
			spool_env_free(&e);
			fail_msg("%s: parsed, want an error", cases[i].name);
		}
		if (errno != EINVAL)
			fail_msg("%s: errno %d, want EINVAL", cases[i].name,
			    errno);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("%s: reason \"%s\", want it to mention \"%s\"",
			    cases[i].name, why, cases[i].why);
	}
}

/* ------------------------------------------------------------------ */
/* store, unstore and the files                                        */

static void
test_store_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@far.example", "carol@away.example" };
	static const char part1[] = "Return-Path: <a@example.test>\r\n";
	static const char part2[] = "Subject: x\r\n\r\nbody\r\n";
	struct iovec iov[2] = {
		{ (void *)(uintptr_t)part1, sizeof(part1) - 1 },
		{ (void *)(uintptr_t)part2, sizeof(part2) - 1 },
	};
	struct spool_env e;
	char path[256], *msg;
	size_t len;
	time_t before = time(NULL);

	if (queue_store(&f->conf, "STORE1", "a@example.test", rcpts, 2, iov,
	    2, QUEUE_F_8BITMIME, 1) < 0)
		fail_msg("queue_store: %s", strerror(errno));
	if (spool_read_msg(f->spool, "STORE1", &msg, &len) < 0)
		fail_msg("read msg");
	CHECK_INT("size", len, 51);
	if (memcmp(msg, "Return-Path: <a@example.test>\r\nSubject: x\r\n\r\n"
	    "body\r\n", 51) != 0)
		fail_msg("message bytes differ: %s", msg);
	free(msg);
	read_env(f, "STORE1", &e);
	CHECK_STR("sender", e.sender, "a@example.test");
	CHECK_INT("size", e.size, 51);
	CHECK_INT("flags", e.flags, QUEUE_F_8BITMIME);
	CHECK_INT("serial", e.serial, 1);
	if (e.arrival < before || e.arrival > time(NULL))
		fail_msg("arrival %lld not now", (long long)e.arrival);
	CHECK_INT("nrcpts", e.nrcpts, 2);
	CHECK_STR("rcpt 2", e.rcpts[1].addr, "carol@away.example");
	CHECK_INT("pending", e.rcpts[1].state, SPOOL_PENDING);
	CHECK_INT("due now", e.rcpts[1].next, e.arrival);
	spool_env_free(&e);

	/* the same id again: refused, the first one intact */
	errno = 0;
	CHECK_INT("second store", queue_store(&f->conf, "STORE1", "x@y",
	    rcpts, 1, iov, 1, 0, 1), -1);
	CHECK_INT("errno", errno, EEXIST);
	read_env(f, "STORE1", &e);
	CHECK_STR("sender kept", e.sender, "a@example.test");
	spool_env_free(&e);

	/* unstore: both files gone */
	CHECK_INT("unstore", queue_unstore(&f->conf, "STORE1"), 0);
	CHECK_INT("env gone", exists(f->spool, "env", "STORE1"), 0);
	CHECK_INT("msg gone", exists(f->spool, "msg", "STORE1"), 0);
	snprintf(path, sizeof(path), "%s/env", f->spool);
	CHECK_INT("no temp files", count_dir(path), 0);

	/* bad arguments */
	errno = 0;
	CHECK_INT("bad qid", queue_store(&f->conf, "../x", "", rcpts, 1, iov,
	    1, 0, 1), -1);
	CHECK_INT("errno", errno, EINVAL);
	CHECK_INT("no rcpts", queue_store(&f->conf, "Q2", "", rcpts, 0, iov,
	    1, 0, 1), -1);
}

static void
test_store_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@far.example" };
	struct iovec iov = { (void *)(uintptr_t)"x\r\n", 3 };
	char path[256];

	/* env/ is not a directory: the envelope cannot be written */
	snprintf(path, sizeof(path), "%s/env", f->spool);
	if (rmdir(path) < 0)
		fail_msg("rmdir %s", path);
	write_file(path, "not a directory\n");
	CHECK_INT("store", queue_store(&f->conf, "FAIL1", "a@b", rcpts, 1,
	    &iov, 1, 0, 1), -1);
	CHECK_INT("msg removed again", exists(f->spool, "msg", "FAIL1"), 0);
	unlink(path);

	/* a spool that does not exist yet is created */
	snprintf(path, sizeof(path), "%s/msg", f->spool);
	rmdir(path);
	rmdir(f->spool);
	CHECK_INT("store creates the spool", queue_store(&f->conf, "NEW1",
	    "a@b", rcpts, 1, &iov, 1, 0, 1), 0);
	CHECK_INT("env", exists(f->spool, "env", "NEW1"), 1);
}

static void
test_lock_write_remove(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@far.example" };
	struct iovec iov = { (void *)(uintptr_t)"x\r\n", 3 };
	struct spool_env e;
	int fd;

	errno = 0;
	CHECK_INT("lock of a missing message", spool_lock(f->spool, "NONE"),
	    -1);
	CHECK_INT("errno", errno, ENOENT);
	if (queue_store(&f->conf, "LOCK1", "a@b", rcpts, 1, &iov, 1, 0, 1) < 0)
		fail_msg("store");
	fd = spool_lock(f->spool, "LOCK1");
	if (fd < 0)
		fail_msg("lock");
	read_env(f, "LOCK1", &e);
	e.rcpts[0].state = SPOOL_DELIVERED;
	e.serial++;
	CHECK_INT("write", spool_env_write(f->spool, &e, 1), 0);
	spool_env_free(&e);
	spool_unlock(fd);
	read_env(f, "LOCK1", &e);
	CHECK_INT("serial", e.serial, 2);
	if (geteuid() == 0) {
		/* root edits a spool owned by another user: owner kept */
		char dir[256], path[256];
		struct stat st;

		snprintf(dir, sizeof(dir), "%s/env", f->spool);
		snprintf(path, sizeof(path), "%s/env/LOCK1", f->spool);
		if (chown(dir, 4242, 4243) < 0)
			fail_msg("chown %s", dir);
		CHECK_INT("write as root", spool_env_write(f->spool, &e, 1), 0);
		if (stat(path, &st) < 0)
			fail_msg("stat %s", path);
		CHECK_INT("owner", st.st_uid, 4242);
		CHECK_INT("group", st.st_gid, 4243);
	}
	CHECK_INT("state", e.rcpts[0].state, SPOOL_DELIVERED);
	CHECK_INT("done", spool_env_done(&e), 1);
	spool_env_free(&e);
	CHECK_INT("remove", spool_remove(f->spool, "LOCK1", 1), 0);
	errno = 0;
	CHECK_INT("remove again", spool_remove(f->spool, "LOCK1", 1), -1);
	CHECK_INT("errno", errno, ENOENT);
}

static void
test_quarantine(void **state)
{
	struct fixture *f = *state;
	char path[256];

	snprintf(path, sizeof(path), "%s/env/BAD1", f->spool);
	write_file(path, "garbage\n");
	snprintf(path, sizeof(path), "%s/msg/BAD1", f->spool);
	write_file(path, "message\r\n");
	CHECK_INT("quarantine", spool_quarantine(f->spool, "BAD1"), 0);
	CHECK_INT("env moved", exists(f->spool, "corrupt", "BAD1.env"), 1);
	CHECK_INT("msg moved", exists(f->spool, "corrupt", "BAD1.msg"), 1);
	CHECK_INT("env gone", exists(f->spool, "env", "BAD1"), 0);
	/* the same id again never overwrites the first */
	snprintf(path, sizeof(path), "%s/env/BAD1", f->spool);
	write_file(path, "garbage 2\n");
	CHECK_INT("quarantine 2", spool_quarantine(f->spool, "BAD1"), 0);
	CHECK_INT("second env", exists(f->spool, "corrupt", "BAD1-1.env"), 1);
	snprintf(path, sizeof(path), "%s/corrupt/BAD1.env", f->spool);
	{
		char *t = read_text(path);

		CHECK_STR("first kept", t, "garbage\n");
		free(t);
	}
}

static void
age_file(const char *path, time_t when)
{
	struct timeval tv[2] = { { when, 0 }, { when, 0 } };

	if (utimes(path, tv) < 0)
		fail_msg("utimes %s", path);
}

static void
test_crash_leftovers(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@far.example" };
	struct iovec iov = { (void *)(uintptr_t)"x\r\n", 3 };
	time_t now = time(NULL);
	char path[256];

	/* a message without envelope from before the start: never acked */
	snprintf(path, sizeof(path), "%s/msg/ORPHAN1", f->spool);
	write_file(path, "x\r\n");
	age_file(path, now - 3600);
	/* one written since: a queue_store in progress, kept */
	snprintf(path, sizeof(path), "%s/msg/INFLIGHT1", f->spool);
	write_file(path, "x\r\n");
	age_file(path, now + 5);
	/* a message with its envelope, however old, kept */
	if (queue_store(&f->conf, "KEEP1", "a@b", rcpts, 1, &iov, 1, 0, 1) < 0)
		fail_msg("store");
	snprintf(path, sizeof(path), "%s/msg/KEEP1", f->spool);
	age_file(path, now - 7200);
	CHECK_INT("orphans removed", spool_clean_orphans(f->spool, now), 1);
	CHECK_INT("orphan", exists(f->spool, "msg", "ORPHAN1"), 0);
	CHECK_INT("in flight", exists(f->spool, "msg", "INFLIGHT1"), 1);
	CHECK_INT("queued", exists(f->spool, "msg", "KEEP1"), 1);

	/* temp envelopes: old ones go, fresh ones may be in the making */
	snprintf(path, sizeof(path), "%s/env/.tmp-OLD-1-1", f->spool);
	write_file(path, "x");
	age_file(path, now - 3600);
	snprintf(path, sizeof(path), "%s/env/.tmp-NEW-1-2", f->spool);
	write_file(path, "x");
	CHECK_INT("tmp removed", spool_clean_tmp(f->spool, now), 1);
	CHECK_INT("old tmp", exists(f->spool, "env", ".tmp-OLD-1-1"), 0);
	CHECK_INT("new tmp", exists(f->spool, "env", ".tmp-NEW-1-2"), 1);
}

/* ------------------------------------------------------------------ */
/* the scheduler                                                       */

static void
test_sched_results(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "r1@far.example", "r2@far.example",
		"r3@away.example" };
	struct relay_msg *m;
	struct spool_env e;
	char qid[SPOOL_QID_MAX + 1], *dsn;
	const struct spool_rcpt *r;

	store(f, qid, 1, "alice@example.test", rcpts, 3);
	start_queue(f);
	settle(f, 2, "first run");

	/* one send per domain, Return-Path stripped, flags passed */
	m = take_send("far.example");
	CHECK_INT("far rcpts", m->nrcpts, 2);
	CHECK_STR("sender", m->sender, "alice@example.test");
	if (strncmp(m->data, "Received: from client", 21) != 0)
		fail_msg("data should start at Received:, got %.30s", m->data);
	answer(m, "r1@far.example", 250, "2.0.0", "Ok: queued as X");
	answer(m, "r2@far.example", 451, "4.7.1", "Greylisted, try later");
	done(m, "mx.far.example[192.0.2.1]:25");
	m = take_send("away.example");
	answer(m, "r3@away.example", 550, "5.1.1", "User unknown");
	done(m, "mx.away.example[192.0.2.3]:25");
	settle(f, 0, "results");

	read_env(f, qid, &e);
	r = rcpt_of(&e, "r1@far.example");
	CHECK_INT("r1 delivered", r->state, SPOOL_DELIVERED);
	CHECK_INT("r1 attempts", r->attempts, 1);
	r = rcpt_of(&e, "r2@far.example");
	CHECK_INT("r2 pending", r->state, SPOOL_PENDING);
	CHECK_INT("r2 code", r->code, 451);
	CHECK_STR("r2 esc", r->esc, "4.7.1");
	CHECK_STR("r2 text", r->text, "Greylisted, try later");
	CHECK_STR("r2 host", r->host, "mx.far.example[192.0.2.1]:25");
	CHECK_INT("r2 backoff", r->next - r->last, 300);
	r = rcpt_of(&e, "r3@away.example");
	CHECK_INT("r3 bounced", r->state, SPOOL_BOUNCED);
	spool_env_free(&e);

	/* the bounce went to alice's Maildir (a local sender) */
	CHECK_INT("alice's mailbox", mailbox_count(f, "alice"), 1);
	dsn = mailbox_msg(f, "alice", 0);
	want_has(dsn, "Return-Path: <>\r\n");
	want_has(dsn, "Subject: Undelivered Mail Returned to Sender");
	want_has(dsn, "Final-Recipient: rfc822; r3@away.example\r\n");
	want_has(dsn, "Status: 5.1.1\r\n");
	want_has(dsn, "Remote-MTA: dns; mx.away.example\r\n");
	want_has(dsn, "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n");
	want_has(dsn, "Its reply:   550 5.1.1 User unknown");
	if (strstr(dsn, "r2@far.example") != NULL ||
	    strstr(dsn, "r1@far.example") != NULL)
		fail_msg("the bounce names recipients that did not fail");
	free(dsn);
	/* only the original is left in the spool */
	{
		char **ids;
		size_t n;

		spool_list(f->spool, &ids, &n);
		CHECK_INT("queued messages", n, 1);
		spool_list_free(ids, n);
	}

	/* later: only r2 is tried, then the message is done */
	clock_offset = 301;
	queue_rescan(f->q);
	settle(f, 1, "retry");
	m = take_send("far.example");
	CHECK_INT("only r2", m->nrcpts, 1);
	CHECK_STR("r2", m->rcpts[0].addr, "r2@far.example");
	answer(m, "r2@far.example", 250, "2.0.0", "Ok");
	done(m, "mx.far.example[192.0.2.1]:25");
	settle(f, 0, "done");
	CHECK_INT("env removed", exists(f->spool, "env", qid), 0);
	CHECK_INT("msg removed", exists(f->spool, "msg", qid), 0);
	CHECK_INT("no new bounce", mailbox_count(f, "alice"), 1);
}

static void
test_sched_backoff_and_expiry(void **state)
{
	struct fixture *f = *state;
	static const char *const ov[] = { "retry_first=5m", "retry_max=20m",
		"max_queue_lifetime=2h", "delay_warning_time=1h" };
	const char *rcpts[] = { "x@far.example" };
	struct relay_msg *m;
	struct spool_env e;
	char qid[SPOOL_QID_MAX + 1], *text;
	long long waits[8];
	int i;

	conf_free(&f->conf);
	load_conf(f, ov, 4);
	store(f, qid, 2, "alice@example.test", rcpts, 1);
	start_queue(f);
	/* deferrals: 5m, 10m, 20m, 20m ... */
	for (i = 0; i < 4; i++) {
		settle(f, 1, "attempt");
		m = take_send("far.example");
		answer(m, "x@far.example", 451, "4.4.1", "try later");
		done(m, "mx.far.example[192.0.2.1]:25");
		settle(f, 0, "deferred");
		read_env(f, qid, &e);
		waits[i] = (long long)(e.rcpts[0].next - e.rcpts[0].last);
		CHECK_INT("attempts", e.rcpts[0].attempts, i + 1);
		CHECK_INT("no warning yet", e.warned, 0);
		clock_offset = e.rcpts[0].next - time(NULL);
		spool_env_free(&e);
		queue_rescan(f->q);
	}
	CHECK_INT("wait 1", waits[0], 300);
	CHECK_INT("wait 2", waits[1], 600);
	CHECK_INT("wait 3", waits[2], 1200);
	CHECK_INT("wait 4", waits[3], 1200);
	CHECK_INT("no mail for alice yet", mailbox_count(f, "alice"), 0);

	/* past an hour: the delay warning goes out, once */
	settle(f, 1, "attempt 5");
	read_env(f, qid, &e);
	clock_offset = e.arrival + 3600 + 10 - time(NULL);
	spool_env_free(&e);
	m = take_send("far.example");
	answer(m, "x@far.example", 451, "4.4.1", "try later");
	done(m, "mx.far.example[192.0.2.1]:25");
	settle(f, 0, "warning");
	CHECK_INT("warning delivered", mailbox_count(f, "alice"), 1);
	text = mailbox_msg(f, "alice", 0);
	want_has(text, "Subject: Delayed Mail (still being retried)");
	want_has(text, "Action: delayed\r\n");
	want_has(text, "Will-Retry-Until:");
	want_has(text, "Final-Recipient: rfc822; x@far.example");
	free(text);
	read_env(f, qid, &e);
	CHECK_INT("warned", e.warned, 1);

	/* at the end of the lifetime: one last attempt, then a bounce */
	clock_offset = e.arrival + 7200 - time(NULL);
	spool_env_free(&e);
	queue_rescan(f->q);
	settle(f, 1, "last attempt");
	m = take_send("far.example");
	answer(m, "x@far.example", 451, "4.4.1", "still down");
	done(m, "mx.far.example[192.0.2.1]:25");
	settle(f, 0, "expired");
	CHECK_INT("message gone", exists(f->spool, "env", qid), 0);
	CHECK_INT("bounce delivered", mailbox_count(f, "alice"), 2);
	text = mailbox_msg(f, "alice", 1);
	if (text == NULL || strstr(text, "Action: failed") == NULL)
		fail_msg("second message is not the bounce:\n%s",
		    text ? text : "(none)");
	want_has(text, "Status: 4.4.1\r\n");
	want_has(text, "tern has given up");
	want_has(text, "Diagnostic-Code: smtp; 451 4.4.1 still down");
	free(text);
}

static void
test_sched_null_sender(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "y@far.example" };
	struct relay_msg *m;
	char qid[SPOOL_QID_MAX + 1];
	char **ids;
	size_t n;

	store(f, qid, 3, "", rcpts, 1);
	start_queue(f);
	settle(f, 1, "run");
	m = take_send("far.example");
	CHECK_STR("null sender", m->sender, "");
	answer(m, "y@far.example", 550, "5.1.1", "No such user");
	done(m, "mx.far.example[192.0.2.1]:25");
	settle(f, 0, "failed");
	/* never bounce a bounce: nothing queued, the message is done */
	spool_list(f->spool, &ids, &n);
	CHECK_INT("spool empty", n, 0);
	spool_list_free(ids, n);
	CHECK_INT("sends", total_sends, 1);
}

static void
test_sched_local_rcpt_and_remote_bounce(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "bob@example.test", "nobody@example.test" };
	struct relay_msg *m;
	char qid[SPOOL_QID_MAX + 1], *text;
	const char *data;

	store(f, qid, 4, "sender@far.example", rcpts, 2);
	start_queue(f);
	/* bob gets it locally; nobody fails; the bounce goes out by relay */
	settle(f, 1, "bounce to a remote sender");
	CHECK_INT("bob", mailbox_count(f, "bob"), 1);
	text = mailbox_msg(f, "bob", 0);
	want_has(text, "Return-Path: <sender@far.example>\r\n");
	free(text);
	m = take_send("far.example");
	CHECK_STR("bounce sender", m->sender, "");
	CHECK_INT("bounce rcpts", m->nrcpts, 1);
	CHECK_STR("bounce rcpt", m->rcpts[0].addr, "sender@far.example");
	data = m->data;
	if (strncmp(data, "Received: by mail.example.test (tern)", 37) != 0)
		fail_msg("bounce data starts with %.40s", data);
	want_has(data, "Final-Recipient: rfc822; nobody@example.test\r\n");
	want_has(data, "Diagnostic-Code: X-Tern; no such mailbox here");
	want_has(data, "Status: 5.1.1\r\n");
	if (strstr(data, "Remote-MTA") != NULL)
		fail_msg("a local failure has no Remote-MTA:\n%s", data);
	answer(m, "sender@far.example", 250, "2.0.0", "Ok");
	done(m, "mx.far.example[192.0.2.1]:25");
	settle(f, 0, "bounce sent");
	{
		char **ids;
		size_t n;

		spool_list(f->spool, &ids, &n);
		CHECK_INT("spool empty", n, 0);
		spool_list_free(ids, n);
	}
}

static void
test_sched_outside_changes(void **state)
{
	struct fixture *f = *state;
	const char *r4[] = { "z@far.example" };
	const char *r5[] = { "a@far.example", "b@away.example" };
	struct relay_msg *m, *m2;
	struct spool_env e;
	char q4[SPOOL_QID_MAX + 1], q5[SPOOL_QID_MAX + 1], *text;
	size_t before;

	store(f, q4, 5, "alice@example.test", r4, 1);
	start_queue(f);
	settle(f, 1, "first");
	m = take_send("far.example");
	answer(m, "z@far.example", 451, "4.7.1", "later");
	done(m, "mx");
	settle(f, 0, "deferred");

	/* flush: due now, tried at once */
	outside_edit(f, q4, edit_flush);
	queue_rescan(f->q);
	settle(f, 1, "flushed");
	m = take_send("far.example");
	answer(m, "z@far.example", 451, "4.7.1", "later");
	done(m, "mx");
	settle(f, 0, "deferred again");

	/* delete: dropped, never tried again */
	CHECK_INT("delete", spool_remove(f->spool, q4, 1), 0);
	queue_rescan(f->q);
	settle(f, 0, "deleted");
	before = total_sends;
	clock_offset = 86400;
	queue_rescan(f->q);
	settle(f, 0, "a day later");
	CHECK_INT("no more sends", total_sends, before);
	clock_offset = 0;

	/* bounce while a run is under way: merged when it ends */
	store(f, q5, 6, "alice@example.test", r5, 2);
	outside_edit(f, q5, edit_flush); /* serial 2 before the daemon saw it */
	queue_rescan(f->q);
	settle(f, 2, "both domains");
	outside_edit(f, q5, edit_bounce);
	m = take_send("far.example");
	m2 = take_send("away.example");
	answer(m, "a@far.example", 250, "2.0.0", "Ok");
	done(m, "mx");
	answer(m2, "b@away.example", 451, "4.2.0", "busy");
	done(m2, "mx");
	settle(f, 0, "merged");
	/* a delivered, b bounced by the administrator, message done */
	CHECK_INT("message done", exists(f->spool, "env", q5), 0);
	CHECK_INT("bounce to alice", mailbox_count(f, "alice"), 1);
	text = mailbox_msg(f, "alice", 0);
	want_has(text, "Final-Recipient: rfc822; b@away.example\r\n");
	want_has(text, "deleted from the queue by the administrator");
	want_has(text, "Status: 5.0.0\r\n");
	if (strstr(text, "a@far.example") != NULL)
		fail_msg("the delivered recipient is in the bounce");
	free(text);

	/* deleted while a run is under way: not written back */
	store(f, q4, 7, "alice@example.test", r4, 1);
	queue_rescan(f->q);
	settle(f, 1, "run");
	CHECK_INT("delete", spool_remove(f->spool, q4, 1), 0);
	m = take_send("far.example");
	answer(m, "z@far.example", 451, "4.7.1", "later");
	done(m, "mx");
	settle(f, 0, "after delete");
	CHECK_INT("not resurrected", exists(f->spool, "env", q4), 0);
	(void)e;
}

static void
test_sched_startup_recovery(void **state)
{
	struct fixture *f = *state;
	char path[256];
	struct relay_msg *m;
	time_t now = time(NULL);

	/* a valid envelope written by hand in the documented format */
	snprintf(path, sizeof(path), "%s/env/HAND1", f->spool);
	write_file(path, "tern-queue 1\nserial 1\nqid HAND1\narrival 1000\n"
	    "sender \\x7fweird@far.example\nflags\nsize 9\nwarned 1\n"
	    "rcpt h@far.example\nstate pending\nattempts 0\nnext 0\nend\n");
	snprintf(path, sizeof(path), "%s/msg/HAND1", f->spool);
	write_file(path, "Subject: x\r\n\r\nhi\r\n");
	/* corrupt: moved aside with its message */
	snprintf(path, sizeof(path), "%s/env/CORRUPT1", f->spool);
	write_file(path, "tern-queue 1\nqid CORRUPT1\n");
	snprintf(path, sizeof(path), "%s/msg/CORRUPT1", f->spool);
	write_file(path, "x\r\n");
	/* an envelope whose message is missing */
	snprintf(path, sizeof(path), "%s/env/NOMSG1", f->spool);
	write_file(path, "tern-queue 1\nqid NOMSG1\narrival 1\nsender \n"
	    "rcpt n@far.example\nend\n");
	/* a message never acknowledged */
	snprintf(path, sizeof(path), "%s/msg/ORPHAN2", f->spool);
	write_file(path, "x\r\n");
	age_file(path, now - 60);

	start_queue(f);
	settle(f, 1, "start-up");
	CHECK_INT("corrupt env", exists(f->spool, "corrupt", "CORRUPT1.env"),
	    1);
	CHECK_INT("corrupt msg", exists(f->spool, "corrupt", "CORRUPT1.msg"),
	    1);
	CHECK_INT("missing msg", exists(f->spool, "corrupt", "NOMSG1.env"), 1);
	CHECK_INT("orphan", exists(f->spool, "msg", "ORPHAN2"), 0);
	m = take_send("far.example");
	CHECK_STR("hand-written rcpt", m->rcpts[0].addr, "h@far.example");
	CHECK_STR("escaped sender", m->sender, "\x7fweird@far.example");
	answer(m, "h@far.example", 250, "2.0.0", "Ok");
	done(m, "mx");
	settle(f, 0, "delivered");
	CHECK_INT("done", exists(f->spool, "env", "HAND1"), 0);
}

static void
test_sched_submitted_and_shutdown(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "s@far.example" };
	char qid[SPOOL_QID_MAX + 1];
	struct relay_msg *m;
	struct spool_env e;

	start_queue(f);
	settle(f, 0, "empty start");
	store(f, qid, 8, "alice@example.test", rcpts, 1);
	queue_submitted(f->q, qid);
	settle(f, 1, "submitted");
	/* shut down with a delivery in flight: it finishes and is written */
	queue_shutdown(f->q);
	CHECK_INT("busy while in flight", queue_busy(f->q), 1);
	m = take_send("far.example");
	answer(m, "s@far.example", 451, "4.3.2", "shutting down");
	done(m, "mx");
	settle(f, 0, "stopped");
	CHECK_INT("idle", queue_busy(f->q), 0);
	read_env(f, qid, &e);
	CHECK_INT("result written", e.rcpts[0].attempts, 1);
	CHECK_INT("pending", e.rcpts[0].state, SPOOL_PENDING);
	spool_env_free(&e);
	/* nothing new starts after shutdown */
	queue_submitted(f->q, qid);
	queue_rescan(f->q);
	settle(f, 0, "after shutdown");
	CHECK_INT("sends", total_sends, 1);
}

static void
test_sched_many(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "a@one.example", "b@two.example",
		"c@three.example", "d@four.example" };
	char qid[SPOOL_QID_MAX + 1];
	struct timespec ts = { 0, 1000 * 1000 };
	time_t deadline;
	size_t most = 0, answered = 0;
	char **ids;
	size_t n;
	int i;

	for (i = 0; i < 60; i++)
		store(f, qid, 100 + i, "alice@example.test", rcpts, 4);
	start_queue(f);
	/* answer whatever is in flight until everything is delivered */
	deadline = time(NULL) + 30;
	while (answered < 240 && time(NULL) < deadline) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		if (nsends > most)
			most = nsends;
		while (nsends > 0) {
			struct relay_msg *m = sends[--nsends];

			CHECK_INT("one recipient per domain", m->nrcpts, 1);
			m->rcpts[0].code = 250;
			snprintf(m->rcpts[0].esc, sizeof(m->rcpts[0].esc),
			    "2.0.0");
			done(m, "mx");
			answered++;
		}
		nanosleep(&ts, NULL);
	}
	settle(f, 0, "all delivered");
	CHECK_INT("answered", answered, 240);
	CHECK_INT("sends", total_sends, 240);
	/* deliveries in flight never passed the bound (it is reached:
	 * 32 runs of 4 domains want 128) */
	if (most > 64)
		fail_msg("%zu deliveries in flight at once, more than 64",
		    most);
	spool_list(f->spool, &ids, &n);
	CHECK_INT("spool empty", n, 0);
	spool_list_free(ids, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_round_trip),
		cmocka_unit_test(test_env_minimal),
		cmocka_unit_test(test_env_corrupt),
		cmocka_unit_test_setup_teardown(test_store_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_all_or_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_write_remove, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_leftovers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sched_results, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sched_backoff_and_expiry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_null_sender, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_sched_local_rcpt_and_remote_bounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_outside_changes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_startup_recovery,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sched_submitted_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_many, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
