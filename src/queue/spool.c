/*
 * spool - the queue's files: envelope format (parse, format, atomic
 * replace), the per-message lock, the message file, listing, removal,
 * quarantine of corrupt envelopes and crash leftovers. The layout and
 * the envelope format are described at the top of queue.c.
 *
 * Shared by ternd's queue and `tern queue`; it knows nothing of the
 * event loop or the relay. Everything here blocks on the disk: pool
 * workers and the command-line tool only. Thread-safe.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "queue.h"

#define ENV_MAX (16u << 20)        /* an envelope larger than this is junk */
#define SPOOL_TMP_AGE 600          /* a temp envelope this old is junk */

/* ------------------------------------------------------------------ */
/* paths and small file helpers                                        */

/* spool_path - "spool/sub/name" (or "spool/sub"); -1 ENAMETOOLONG */
int
spool_path(char *out, size_t cap, const char *spool, const char *sub,
    const char *name)
{
	return fs_path(out, cap, spool, sub, name);
}

static int
fsync_sub(const char *spool, const char *sub)
{
	char path[PATH_MAX];

	if (spool_path(path, sizeof(path), spool, sub, NULL) < 0)
		return -1;
	return fs_fsync_dir(path);
}

/* read a whole regular file of at most max bytes; malloc'ed, NUL added */
static int
read_file(const char *path, size_t max, char **data, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	char *p;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto fail;
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? errno : EIO; /* shrank under us */
			free(p);
			close(fd);
			errno = err;
			return -1;
		}
		got += (size_t)r;
	}
	p[got] = '\0';
	close(fd);
	*data = p;
	*len = got;
	return 0;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* ------------------------------------------------------------------ */
/* the envelope format                                                 */

/* spool_qid_ok - is qid usable as a file name: [A-Za-z0-9_-]{1,64} */
int
spool_qid_ok(const char *qid)
{
	size_t n;

	for (n = 0; qid[n] != '\0'; n++) {
		char c = qid[n];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '-' || c == '_'))
			return 0;
	}
	return n > 0 && n <= SPOOL_QID_MAX;
}

static const char *const state_names[] = {
	[SPOOL_PENDING] = "pending",
	[SPOOL_DELIVERED] = "delivered",
	[SPOOL_FAILED] = "failed",
	[SPOOL_BOUNCED] = "bounced",
};

/* spool_state_name - "pending", "delivered", "failed" or "bounced" */
const char *
spool_state_name(enum spool_state s)
{
	return (unsigned)s < ARRAY_LEN(state_names) ? state_names[s] : "?";
}

static int
put_escaped(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int r;

		switch (c) {
		case '\\': r = buf_puts(b, "\\\\"); break;
		case '\n': r = buf_puts(b, "\\n"); break;
		case '\r': r = buf_puts(b, "\\r"); break;
		case '\t': r = buf_puts(b, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				r = buf_printf(b, "\\x%02x", c);
			else
				r = buf_putc(b, (char)c);
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* undo put_escaped on s[0..n); malloc'ed, or NULL (errno EINVAL: bad) */
static char *
unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] != '\\') {
			if (s[i] == '\0')
				goto bad;
			*o++ = s[i];
			continue;
		}
		if (++i >= n)
			goto bad;
		switch (s[i]) {
		case '\\': *o++ = '\\'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'x': {
			int h, l;

			if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 ||
			    (l = hexval(s[i + 2])) < 0 || (h == 0 && l == 0))
				goto bad;
			*o++ = (char)(h << 4 | l);
			i += 2;
			break;
		}
		default:
			goto bad;
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	errno = EINVAL;
	return NULL;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
parse_time(const char *s, time_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > (uint64_t)INT64_MAX / 2)
		return -1;
	*out = (time_t)v;
	return 0;
}

static int
parse_uint(const char *s, unsigned *out, unsigned max)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
parse_flags(const char *s, unsigned *out)
{
	*out = 0;
	while (*s != '\0') {
		size_t n = strcspn(s, " ");

		if (n == 8 && strncmp(s, "smtputf8", 8) == 0)
			*out |= QUEUE_F_SMTPUTF8;
		else if (n == 8 && strncmp(s, "8bitmime", 8) == 0)
			*out |= QUEUE_F_8BITMIME;
		else if (n != 0)
			return -1;
		s += n;
		while (*s == ' ')
			s++;
	}
	return 0;
}

/* spool_env_free - release what e holds (e itself is the caller's) */
void
spool_env_free(struct spool_env *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->nrcpts; i++) {
		free(e->rcpts[i].addr);
		free(e->rcpts[i].text);
		free(e->rcpts[i].host);
	}
	free(e->rcpts);
	free(e->sender);
	memset(e, 0, sizeof(*e));
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* spool_env_copy - deep copy; 0, or -1 (ENOMEM) with dst empty */
int
spool_env_copy(struct spool_env *dst, const struct spool_env *src)
{
	size_t i;

	*dst = *src;
	dst->sender = NULL;
	dst->rcpts = calloc(src->nrcpts ? src->nrcpts : 1,
	    sizeof(*dst->rcpts));
	dst->nrcpts = 0;
	if (dst->rcpts == NULL || (dst->sender = strdup(src->sender != NULL ? src->sender : "")) == NULL)
		goto fail;
	for (i = 0; i < src->nrcpts; i++) {
		const struct spool_rcpt *s = &src->rcpts[i];
		struct spool_rcpt *d = &dst->rcpts[i];

		*d = *s;
		d->addr = strdup(s->addr);
		d->text = dup_or_null(s->text);
		d->host = dup_or_null(s->host);
		dst->nrcpts = i + 1;
		if (d->addr == NULL || (s->text != NULL && d->text == NULL) ||
		    (s->host != NULL && d->host == NULL))
			goto fail;
	}
	return 0;
fail:
	spool_env_free(dst);
	errno = ENOMEM;
	return -1;
}

/* spool_env_done - 1 if every recipient is final (delivered or bounced) */
int
spool_env_done(const struct spool_env *e)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state != SPOOL_DELIVERED &&
		    e->rcpts[i].state != SPOOL_BOUNCED)
			return 0;
	return 1;
}

/* spool_env_format - append e in the envelope format; 0, or -1 (ENOMEM) */
int
spool_env_format(struct buf *out, const struct spool_env *e)
{
	size_t i;

	if (buf_printf(out, "tern-queue %d\nserial %u\nqid %s\narrival %lld\n"
	    "sender ", SPOOL_VERSION, e->serial, e->qid,
	    (long long)e->arrival) < 0 || put_escaped(out, e->sender) < 0 ||
	    buf_printf(out, "\nflags%s%s\nsize %llu\nwarned %d\n",
	    e->flags & QUEUE_F_8BITMIME ? " 8bitmime" : "",
	    e->flags & QUEUE_F_SMTPUTF8 ? " smtputf8" : "",
	    (unsigned long long)e->size, e->warned ? 1 : 0) < 0)
		return -1;
	for (i = 0; i < e->nrcpts; i++) {
		const struct spool_rcpt *r = &e->rcpts[i];

		if (buf_puts(out, "rcpt ") < 0 ||
		    put_escaped(out, r->addr) < 0 ||
		    buf_printf(out, "\nstate %s\nattempts %u\nnext %lld\n"
		    "last %lld\ncode %d\nesc ", spool_state_name(r->state),
		    r->attempts, (long long)r->next, (long long)r->last,
		    r->code) < 0 || put_escaped(out, r->esc) < 0 ||
		    buf_printf(out, "\nsynthetic %d\nexpired %d\nhost ",
		    r->synthetic ? 1 : 0, r->expired ? 1 : 0) < 0 ||
		    put_escaped(out, r->host) < 0 ||
		    buf_puts(out, "\ntext ") < 0 ||
		    put_escaped(out, r->text) < 0 || buf_putc(out, '\n') < 0)
			return -1;
	}
	return buf_puts(out, "end\n");
}

static int
set_str(char **dst, const char *v)
{
	char *p = strdup(v);

	if (p == NULL)
		return -1;
	free(*dst);
	*dst = p;
	return 0;
}

/*
 * spool_env_parse - read an envelope from text[0..len). Returns 0, or
 * -1 with errno EINVAL (corrupt; the reason in why) or ENOMEM. e is
 * empty after a failure; free it with spool_env_free() after success.
 */
int
spool_env_parse(struct spool_env *e, const char *text, size_t len,
    char *why, size_t cap)
{
	size_t pos = 0, lineno = 0, ncap = 0;
	int have_qid = 0, have_arrival = 0, have_sender = 0, ended = 0;
	struct spool_rcpt *r = NULL;
	char *val = NULL;
	unsigned v;

	memset(e, 0, sizeof(*e));
	while (pos < len) {
		const char *line = text + pos, *nl, *sp;
		size_t ll, kl;

		nl = memchr(line, '\n', len - pos);
		if (nl == NULL) {
			snprintf(why, cap, "line %zu: no line end (file cut "
			    "short?)", lineno + 1);
			goto bad;
		}
		ll = (size_t)(nl - line);
		pos += ll + 1;
		lineno++;
		if (ended) {
			snprintf(why, cap, "line %zu: text after \"end\"",
			    lineno);
			goto bad;
		}
		sp = memchr(line, ' ', ll);
		kl = sp != NULL ? (size_t)(sp - line) : ll;
		free(val);
		val = sp != NULL ? unescape(sp + 1, ll - kl - 1) :
		    strdup("");
		if (val == NULL) {
			if (errno == ENOMEM)
				goto nomem;
			snprintf(why, cap, "line %zu: bad escape", lineno);
			goto bad;
		}
#define KEY(k) (kl == sizeof(k) - 1 && memcmp(line, k, kl) == 0)
		if (lineno == 1) {
			if (!KEY("tern-queue") || strcmp(val, "1") != 0) {
				snprintf(why, cap, "line 1: not a version %d "
				    "envelope (\"tern-queue %d\")",
				    SPOOL_VERSION, SPOOL_VERSION);
				goto bad;
			}
			continue;
		}
		if (KEY("end")) {
			ended = 1;
		} else if (KEY("rcpt")) {
			if (e->nrcpts == ncap) {
				size_t nc = ncap ? ncap * 2 : 4;
				void *p = realloc(e->rcpts,
				    nc * sizeof(*e->rcpts));

				if (p == NULL)
					goto nomem;
				e->rcpts = p;
				ncap = nc;
			}
			r = &e->rcpts[e->nrcpts++];
			memset(r, 0, sizeof(*r));
			r->next = -1;
			if (*val == '\0') {
				snprintf(why, cap, "line %zu: empty recipient",
				    lineno);
				goto bad;
			}
			r->addr = val;
			val = NULL;
		} else if (r == NULL) {
			if (KEY("serial")) {
				if (parse_uint(val, &e->serial, UINT_MAX) < 0)
					goto badnum;
			} else if (KEY("qid")) {
				if (!spool_qid_ok(val)) {
					snprintf(why, cap, "line %zu: bad queue "
					    "id", lineno);
					goto bad;
				}
				snprintf(e->qid, sizeof(e->qid), "%s", val);
				have_qid = 1;
			} else if (KEY("arrival")) {
				if (parse_time(val, &e->arrival) < 0)
					goto badnum;
				have_arrival = 1;
			} else if (KEY("sender")) {
				if (set_str(&e->sender, val) < 0)
					goto nomem;
				have_sender = 1;
			} else if (KEY("flags")) {
				if (parse_flags(val, &e->flags) < 0) {
					snprintf(why, cap, "line %zu: unknown "
					    "flag", lineno);
					goto bad;
				}
			} else if (KEY("size")) {
				if (parse_u64(val, &e->size) < 0)
					goto badnum;
			} else if (KEY("warned")) {
				if (parse_uint(val, &v, 1) < 0)
					goto badnum;
				e->warned = (int)v;
			} else {
				goto badkey;
			}
		} else if (KEY("state")) {
			size_t i;

			for (i = 0; i < ARRAY_LEN(state_names); i++)
				if (strcmp(val, state_names[i]) == 0)
					break;
			if (i == ARRAY_LEN(state_names)) {
				snprintf(why, cap, "line %zu: unknown state",
				    lineno);
				goto bad;
			}
			r->state = (enum spool_state)i;
		} else if (KEY("attempts")) {
			if (parse_uint(val, &r->attempts, UINT_MAX) < 0)
				goto badnum;
		} else if (KEY("next")) {
			if (parse_time(val, &r->next) < 0)
				goto badnum;
		} else if (KEY("last")) {
			if (parse_time(val, &r->last) < 0)
				goto badnum;
		} else if (KEY("code")) {
			if (parse_uint(val, &v, 999) < 0)
				goto badnum;
			r->code = (int)v;
		} else if (KEY("esc")) {
			if (strlen(val) >= sizeof(r->esc)) {
				snprintf(why, cap, "line %zu: enhanced code too "
				    "long", lineno);
				goto bad;
			}
			memcpy(r->esc, val, strlen(val) + 1);
		} else if (KEY("synthetic")) {
			if (parse_uint(val, &v, 1) < 0)
				goto badnum;
			r->synthetic = (int)v;
		} else if (KEY("expired")) {
			if (parse_uint(val, &v, 1) < 0)
				goto badnum;
			r->expired = (int)v;
		} else if (KEY("host")) {
			free(r->host);
			r->host = NULL;
			if (*val != '\0' && set_str(&r->host, val) < 0)
				goto nomem;
		} else if (KEY("text")) {
			free(r->text);
			r->text = NULL;
			if (*val != '\0' && set_str(&r->text, val) < 0)
				goto nomem;
		} else {
			goto badkey;
		}
#undef KEY
	}
	free(val);
	val = NULL;
	if (lineno == 0) {
		snprintf(why, cap, "empty file");
		goto bad;
	}
	if (!ended || !have_qid || !have_arrival || !have_sender ||
	    e->nrcpts == 0) {
		snprintf(why, cap, "missing %s", !ended ? "\"end\" (file cut "
		    "short?)" : !have_qid ? "qid" : !have_arrival ? "arrival" :
		    !have_sender ? "sender" : "recipients");
		goto bad;
	}
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].next < 0)
			e->rcpts[i].next = e->arrival;
	return 0;
badnum:
	snprintf(why, cap, "line %zu: bad number", lineno);
	goto bad;
badkey:
	snprintf(why, cap, "line %zu: unknown key", lineno);
bad:
	free(val);
	spool_env_free(e);
	errno = EINVAL;
	return -1;
nomem:
	free(val);
	spool_env_free(e);
	snprintf(why, cap, "out of memory");
	errno = ENOMEM;
	return -1;
}

/* ------------------------------------------------------------------ */
/* envelope files                                                      */

/* spool_prepare - create spool, msg/, env/ (and corrupt/ lazily) */
int
spool_prepare(const char *spool)
{
	static const char *const sub[] = { "msg", "env" };
	char path[PATH_MAX];
	size_t i;

	if (mkdir(spool, 0700) < 0 && errno != EEXIST)
		return -1;
	for (i = 0; i < ARRAY_LEN(sub); i++) {
		if (spool_path(path, sizeof(path), spool, sub[i], NULL) < 0)
			return -1;
		if (mkdir(path, 0700) == 0) {
			if (fs_fsync_dir(spool) < 0)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
	}
	return 0;
}

/*
 * spool_env_read - read env/<qid>. Returns 0, or -1 with errno ENOENT
 * (not queued), EINVAL (corrupt, reason in why) or another error.
 */
int
spool_env_read(const char *spool, const char *qid, struct spool_env *e,
    char *why, size_t cap)
{
	char path[PATH_MAX];
	char *data;
	size_t len;
	int r, err;

	memset(e, 0, sizeof(*e));
	if (!spool_qid_ok(qid)) {
		snprintf(why, cap, "bad queue id");
		errno = EINVAL;
		return -1;
	}
	if (spool_path(path, sizeof(path), spool, "env", qid) < 0)
		return -1;
	if (read_file(path, ENV_MAX, &data, &len) < 0) {
		snprintf(why, cap, "%s", strerror(errno));
		if (errno == EFBIG)
			errno = EINVAL;
		return -1;
	}
	r = spool_env_parse(e, data, len, why, cap);
	err = errno;
	free(data);
	if (r == 0 && strcmp(e->qid, qid) != 0) {
		snprintf(why, cap, "qid %s does not match the file name",
		    e->qid);
		spool_env_free(e);
		err = EINVAL;
		r = -1;
	}
	errno = err;
	return r;
}

/*
 * spool_env_write - replace env/<e->qid> atomically: temp file, fsync,
 * rename, fsync env/ (the syncs only with do_fsync). 0, or -1 with errno.
 */
int
spool_env_write(const char *spool, const struct spool_env *e, int do_fsync)
{
	static atomic_uint counter;
	char tmp[PATH_MAX], path[PATH_MAX], name[128];
	struct stat st;
	struct buf b;
	int fd, err;

	buf_init(&b, ENV_MAX);
	if (spool_env_format(&b, e) < 0) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	snprintf(name, sizeof(name), ".tmp-%s-%ld-%u", e->qid,
	    (long)self_pid(), atomic_fetch_add(&counter, 1));
	if (spool_path(tmp, sizeof(tmp), spool, "env", name) < 0 ||
	    spool_path(path, sizeof(path), spool, "env", e->qid) < 0) {
		buf_free(&b);
		return -1;
	}
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		buf_free(&b);
		errno = err;
		return -1;
	}
	/*
	 * root running `tern queue` on the spool of a ternd that runs as
	 * another user: the envelope stays the spool owner's, or ternd
	 * could no longer read it
	 */
	if (geteuid() == 0 && spool_path(path, sizeof(path), spool, "env",
	    NULL) == 0 && stat(path, &st) == 0 && st.st_uid != 0 &&
	    fchown(fd, st.st_uid, st.st_gid) < 0)
		goto fail;
	if (spool_path(path, sizeof(path), spool, "env", e->qid) < 0 ||
	    fs_write_all(fd, b.data, b.len) < 0 || (do_fsync && fsync(fd) < 0))
		goto fail;
	if (close(fd) < 0 && errno != EINTR) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	buf_free(&b);
	if (do_fsync && fsync_sub(spool, "env") < 0)
		return -1; /* renamed, but maybe not durable: report it */
	return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	buf_free(&b);
	errno = err;
	return -1;
}

/*
 * spool_lock - take the lock that guards rewrites of qid's envelope:
 * flock on msg/<qid>, blocking. Returns the descriptor for
 * spool_unlock(), or -1 (ENOENT: the message is gone).
 */
int
spool_lock(const char *spool, const char *qid)
{
	char path[PATH_MAX];
	int fd, err;

	if (spool_path(path, sizeof(path), spool, "msg", qid) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* spool_unlock - release a lock from spool_lock() */
void
spool_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}

/*
 * spool_remove - remove a message: envelope first (synced: from then on
 * it is not queued), then the message file. 0, or -1 with errno (ENOENT
 * if there was no envelope; the message file is removed anyway).
 */
int
spool_remove(const char *spool, const char *qid, int do_fsync)
{
	char path[PATH_MAX];
	int r = 0, err = 0;

	if (spool_path(path, sizeof(path), spool, "env", qid) < 0)
		return -1;
	if (unlink(path) < 0) {
		err = errno;
		r = -1;
	} else if (do_fsync && fsync_sub(spool, "env") < 0) {
		return -1;
	}
	if (spool_path(path, sizeof(path), spool, "msg", qid) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT && r == 0) {
		err = errno;
		r = -1;
	}
	errno = err;
	return r;
}

/* rename from into corrupt/<qid><ext>, never over an existing file */
static int
move_corrupt(const char *spool, const char *from, const char *qid,
    const char *ext)
{
	char to[PATH_MAX], name[SPOOL_QID_MAX + 32];
	int i;

	for (i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s%s", qid, ext);
		else
			snprintf(name, sizeof(name), "%s-%d%s", qid, i, ext);
		if (spool_path(to, sizeof(to), spool, "corrupt", name) < 0)
			return -1;
		if (link(from, to) == 0)
			return unlink(from) < 0 && errno != ENOENT ? -1 : 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/*
 * spool_quarantine - move env/<qid> and msg/<qid> (either may be
 * missing) to corrupt/<qid>.env and .msg, for a person to look at.
 * 0, or -1 with errno.
 */
int
spool_quarantine(const char *spool, const char *qid)
{
	char path[PATH_MAX];
	int r = 0;

	if (spool_path(path, sizeof(path), spool, "corrupt", NULL) < 0)
		return -1;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (spool_path(path, sizeof(path), spool, "env", qid) < 0)
		return -1;
	if (move_corrupt(spool, path, qid, ".env") < 0 && errno != ENOENT)
		r = -1;
	if (spool_path(path, sizeof(path), spool, "msg", qid) < 0)
		return -1;
	if (move_corrupt(spool, path, qid, ".msg") < 0 && errno != ENOENT)
		r = -1;
	fsync_sub(spool, "env");
	fsync_sub(spool, "corrupt");
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* spool_list_free - free a list from spool_list() */
void
spool_list_free(char **qids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(qids[i]);
	free(qids);
}

/* list the names in spool/sub that are queue ids, sorted */
static int
list_sub(const char *spool, const char *sub, char ***qids, size_t *n)
{
	char path[PATH_MAX];
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	DIR *d;
	int err;

	*qids = NULL;
	*n = 0;
	if (spool_path(path, sizeof(path), spool, sub, NULL) < 0)
		return -1;
	if ((d = opendir(path)) == NULL)
		return -1;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' || !spool_qid_ok(de->d_name))
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **p = realloc(v, nc * sizeof(*v));

			if (p == NULL)
				goto fail;
			v = p;
			cap = nc;
		}
		if ((v[cnt] = strdup(de->d_name)) == NULL)
			goto fail;
		cnt++;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*qids = v;
	*n = cnt;
	return 0;
fail:
	err = errno ? errno : ENOMEM;
	closedir(d);
	spool_list_free(v, cnt);
	errno = err;
	return -1;
}

/*
 * spool_list - the queue ids with an envelope, sorted (by arrival, as
 * queue ids start with the time). Names that are not queue ids (an
 * editor's backup, a temp file) are skipped. 0, or -1 with errno.
 */
int
spool_list(const char *spool, char ***qids, size_t *n)
{
	return list_sub(spool, "env", qids, n);
}

/* spool_read_msg - the message file of qid, malloc'ed. 0, or -1 + errno */
int
spool_read_msg(const char *spool, const char *qid, char **data, size_t *len)
{
	char path[PATH_MAX];

	if (spool_path(path, sizeof(path), spool, "msg", qid) < 0)
		return -1;
	return read_file(path, SIZE_MAX - 1, data, len);
}


/*
 * spool_write_msg - create msg/<qid>, which must not exist, with the
 * iov data; with do_fsync the file and msg/ are synced. *size gets the
 * byte count. 0, or -1 with errno (EEXIST: the id is taken); nothing is
 * left behind on failure.
 */
int
spool_write_msg(const char *spool, const char *qid, const struct iovec *iov,
    int iovcnt, int do_fsync, uint64_t *size)
{
	char path[PATH_MAX];
	uint64_t total = 0;
	int fd, err, k;

	if (spool_path(path, sizeof(path), spool, "msg", qid) < 0)
		return -1;
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT && spool_prepare(spool) == 0)
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	for (k = 0; k < iovcnt; k++) {
		if (fs_write_all(fd, iov[k].iov_base, iov[k].iov_len) < 0)
			goto fail;
		total += iov[k].iov_len;
	}
	if (do_fsync && fsync(fd) < 0)
		goto fail;
	/* NFS and some quota setups report write errors only here */
	if (close(fd) < 0 && errno != EINTR) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (do_fsync && fsync_sub(spool, "msg") < 0)
		goto fail;
	*size = total;
	return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	errno = err;
	return -1;
}

/* spool_unlink - remove spool/sub/name; 0, or -1 with errno */
int
spool_unlink(const char *spool, const char *sub, const char *name)
{
	char path[PATH_MAX];

	if (spool_path(path, sizeof(path), spool, sub, name) < 0)
		return -1;
	return unlink(path);
}

/* spool_exists - 1 if spool/sub/name exists, 0 if not, -1 on error */
int
spool_exists(const char *spool, const char *sub, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (spool_path(path, sizeof(path), spool, sub, name) < 0)
		return -1;
	if (stat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/*
 * spool_clean_tmp - remove temporary envelopes left by a crash: those
 * older than SPOOL_TMP_AGE at now (younger ones may be in the making).
 * Returns how many went.
 */
int
spool_clean_tmp(const char *spool, time_t now)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d;

	if (spool_path(path, sizeof(path), spool, "env", NULL) < 0 ||
	    (d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
		    st.st_mtime < now - SPOOL_TMP_AGE &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0) {
			log_info("ev=spool-tmp-removed file=%s", de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

/*
 * spool_clean_orphans - remove message files that have no envelope and
 * were last written before `before` (the daemon's start: a file written
 * since may be a queue_store() in progress). Such a file was never
 * acknowledged: the crash came before its envelope. Returns how many
 * went.
 */
int
spool_clean_orphans(const char *spool, time_t before)
{
	char path[PATH_MAX];
	struct stat st;
	char **qids;
	size_t n, i;
	int removed = 0;

	if (list_sub(spool, "msg", &qids, &n) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (spool_exists(spool, "env", qids[i]) != 0)
			continue;
		if (spool_path(path, sizeof(path), spool, "msg", qids[i]) < 0 ||
		    stat(path, &st) < 0 || st.st_mtime >= before)
			continue;
		if (unlink(path) == 0) {
			log_info("qid=%s ev=orphan-removed reason=\"message "
			    "without envelope (crash before the 250)\"",
			    qids[i]);
			removed++;
		}
	}
	spool_list_free(qids, n);
	return removed;
}
