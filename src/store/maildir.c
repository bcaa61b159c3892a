/*
 * maildir - durable delivery into Maildir folders.
 *
 * A message is written once, into an unnamed file in the first mailbox's
 * new/ (O_TMPFILE), and fsync'ed; only then is it hard-linked into each
 * mailbox's new/ under a unique name, and the new/ directories are
 * fsync'ed. That is the Maildir protocol without tmp/: the file has no
 * name at all until it is complete, and writing it dirties no other
 * directory, which makes the durable chain about 15% faster than
 * tmp/ + rename on ext4. Where the filesystem has no O_TMPFILE (or /proc
 * is missing) the message goes the classic way, to tmp/tern-<qid>, and is
 * renamed into new/ when there is one mailbox, linked otherwise. Since a
 * name appears in new/ only for a complete, synced file, a reader
 * (Dovecot, mutt) never sees a partial message, and once
 * maildir_deliver() returns 0 a crash or power loss loses nothing. A
 * mailbox on another filesystem (link fails with EXDEV) gets its own copy
 * and is linked from it.
 *
 * Failure is all or nothing: every link and copy made so far is removed
 * and the errno of the first failure is returned, for the caller
 * to turn into a 4xx reply and a log line. An unnamed file is gone with
 * its process; leftovers of a crash in tmp/ are removed by
 * maildir_clean_tmp() at startup.
 *
 * Everything here blocks on the disk: pool workers only (and the event
 * loop itself when unsafe_no_fsync leaves nothing to wait for; see
 * commit_now). The functions are thread-safe; names stay unique across
 * threads of one process.
 */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/util.h"

#define MAILDIR_TMP_PREFIX "tern-"
#define MAILDIR_QID_MAX 64
#define MAILDIR_TMP_AGE (36 * 3600) /* Maildir rule for foreign tmp files */
#define MAILDIR_LINK_TRIES 8
#define MAILDIR_IOV_BATCH 64
#define MAILDIR_WRITE_MAX ((size_t)1 << 30) /* stay below SSIZE_MAX */

int maildir_fault_errno;
int maildir_no_tmpfile;

static pthread_once_t tmpfile_once = PTHREAD_ONCE_INIT;
static int tmpfile_ok;

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_esc[4 * 255 + 1];

static pthread_mutex_t stamp_lock = PTHREAD_MUTEX_INITIALIZER;
static long long stamp_sec;
static long stamp_usec;

/* one mailbox of a delivery; a copy is the file its links are made from */
struct slot {
	char name[NAME_MAX + 1]; /* our entry in new/, once linked */
	int linked;
	int fd;      /* an unnamed (O_TMPFILE) copy in this dir's new/, or -1 */
	int has_tmp; /* a copy of the message sits in this dir's tmp/ */
};

/* Queue ids become part of file names: keep them plain. */
static int
qid_ok(const char *qid)
{
	size_t n;

	for (n = 0; qid[n] != '\0'; n++) {
		char c = qid[n];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '-' || c == '_'))
			return 0;
	}
	return n > 0 && n <= MAILDIR_QID_MAX;
}

/* fsync the directory holding path's last component (path is restored) */
static int
fsync_parent(char *path)
{
	char *slash = strrchr(path, '/');
	int r, err;

	if (slash == NULL)
		return fs_fsync_dir(".");
	if (slash == path)
		return fs_fsync_dir("/");
	*slash = '\0';
	r = fs_fsync_dir(path);
	err = errno;
	*slash = '/';
	errno = err;
	return r;
}

/*
 * mkdir, then make the new entry durable. If the parent cannot be synced
 * the directory is removed again, so that a retry creates and syncs it
 * rather than trusting an entry that may not survive a crash.
 */
static int
mkdir_durable(char *path)
{
	int err;

	if (mkdir(path, 0700) < 0)
		return -1;
	if (fsync_parent(path) < 0) {
		err = errno;
		rmdir(path);
		errno = err;
		return -1;
	}
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* mkdir -p; parents are made only when the direct mkdir says ENOENT */
static int
mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	char *p;
	int err;

	if (len == 0) {
		errno = ENOENT;
		return -1;
	}
	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';

	if (mkdir_durable(buf) == 0)
		return 0;
	if (errno == EEXIST)
		return is_dir(buf);
	if (errno != ENOENT)
		return -1;
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir_durable(buf) < 0 && errno != EEXIST) {
			err = errno;
			*p = '/';
			errno = err;
			return -1;
		}
		*p = '/';
	}
	if (mkdir_durable(buf) == 0)
		return 0;
	if (errno == EEXIST)
		return is_dir(buf);
	return -1;
}

/*
 * maildir_create - make dir and its tmp, new and cur (mode 0700), durably
 *
 * Like mkdir -p; each directory it creates is fsync'ed into its parent.
 * An existing Maildir costs three stat calls. Returns 0, or -1 with errno.
 */
int
maildir_create(const char *dir)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (fs_path(path, sizeof(path), dir, sub[i], NULL) < 0)
			return -1;
		if (is_dir(path) == 0)
			continue;
		if (errno != ENOENT)
			return -1;
		if (mkdir_p(path) < 0)
			return -1;
	}
	return 0;
}

/*
 * Maildirs known to exist, so that a delivery does not stat tmp, new and
 * cur each time: a direct-mapped cache of paths, bounded, shared by the
 * workers. An entry goes stale when a Maildir is removed while ternd
 * runs; the delivery then fails with ENOENT and maildir_deliver() tries
 * once more after forgetting it, which creates the Maildir again.
 */
#define MAILDIR_KNOWN_SLOTS 1024

static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static char *known[MAILDIR_KNOWN_SLOTS];

static char **
known_slot(const char *dir)
{
	return &known[str_hash(dir) % MAILDIR_KNOWN_SLOTS];
}

static int
known_has(const char *dir)
{
	char **slot = known_slot(dir);
	int r;

	pthread_mutex_lock(&known_lock);
	r = *slot != NULL && strcmp(*slot, dir) == 0;
	pthread_mutex_unlock(&known_lock);
	return r;
}

/* remember dir (best effort: without memory it is just not cached) */
static void
known_add(const char *dir)
{
	char *copy = strdup(dir), **slot;

	if (copy == NULL)
		return;
	pthread_mutex_lock(&known_lock);
	slot = known_slot(dir);
	free(*slot);
	*slot = copy;
	pthread_mutex_unlock(&known_lock);
}

static void
known_forget(const char *dir)
{
	char **slot;

	pthread_mutex_lock(&known_lock);
	slot = known_slot(dir);
	if (*slot != NULL && strcmp(*slot, dir) == 0) {
		free(*slot);
		*slot = NULL;
	}
	pthread_mutex_unlock(&known_lock);
}

/* maildir_create() unless dir is known to exist */
static int
maildir_ensure(const char *dir)
{
	if (known_has(dir))
		return 0;
	if (maildir_create(dir) < 0)
		return -1;
	known_add(dir);
	return 0;
}

/* Maildir spec: '/' and ':' in the host name become \057 and \072. */
static void
host_init(void)
{
	char host[256];
	const char *s;
	char *d = host_esc;

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (s = host; *s != '\0'; s++) {
		if (*s == '/') {
			memcpy(d, "\\057", 4);
			d += 4;
		} else if (*s == ':') {
			memcpy(d, "\\072", 4);
			d += 4;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/*
 * The clock, made strictly increasing within the process, so that two
 * names made in one microsecond (or across a clock step back) differ.
 */
static void
unique_stamp(long long *sec, long *usec)
{
	struct timespec ts;
	long long s;
	long u;

	clock_gettime(CLOCK_REALTIME, &ts);
	s = (long long)ts.tv_sec;
	u = ts.tv_nsec / 1000;
	pthread_mutex_lock(&stamp_lock);
	if (s < stamp_sec || (s == stamp_sec && u <= stamp_usec)) {
		s = stamp_sec;
		u = stamp_usec + 1;
		if (u >= 1000000) {
			s++;
			u = 0;
		}
	}
	stamp_sec = s;
	stamp_usec = u;
	pthread_mutex_unlock(&stamp_lock);
	*sec = s;
	*usec = u;
}

/*
 * maildir_unique_name - a file name for new/
 *
 * The name is <sec>.M<usec>P<pid>Q<qid>.<host>,S=<size>, where size is
 * the file's total byte count; names from one process never repeat.
 * Returns 0, or -1 with EINVAL (qid not [A-Za-z0-9_-]{1,64}) or
 * ENAMETOOLONG (does not fit in cap bytes).
 */
int
maildir_unique_name(char *out, size_t cap, const char *qid, size_t size)
{
	long long sec;
	long usec;
	int n;

	if (!qid_ok(qid)) {
		errno = EINVAL;
		return -1;
	}
	pthread_once(&host_once, host_init);
	unique_stamp(&sec, &usec);
	n = snprintf(out, cap, "%lld.M%06ldP%ldQ%s.%s,S=%zu", sec, usec,
	    (long)self_pid(), qid, host_esc, size);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * writev all of iov to fd, across short writes and EINTR, without
 * copying or changing the caller's iovec.
 */
static int
write_iov(int fd, const struct iovec *iov, int iovcnt, size_t total)
{
	struct iovec v[MAILDIR_IOV_BATCH];
	size_t left = total, off = 0, want, len, r;
	int fault = maildir_fault_errno;
	int i = 0, k, n;
	ssize_t w;
	size_t o;

	if (fault != 0)
		left = total / 2;
	while (left > 0) {
		want = 0;
		n = 0;
		for (k = i, o = off; k < iovcnt && n < MAILDIR_IOV_BATCH &&
		    want < left && want < MAILDIR_WRITE_MAX; k++, o = 0) {
			len = iov[k].iov_len - o;
			if (len == 0)
				continue;
			if (len > left - want)
				len = left - want;
			if (len > MAILDIR_WRITE_MAX - want)
				len = MAILDIR_WRITE_MAX - want;
			v[n].iov_base = (char *)iov[k].iov_base + o;
			v[n].iov_len = len;
			want += len;
			n++;
		}
		w = writev(fd, v, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO; /* not expected of a regular file */
			return -1;
		}
		r = (size_t)w;
		left -= r;
		while (r > 0) {
			len = iov[i].iov_len - off;
			if (r < len) {
				off += r;
				r = 0;
			} else {
				r -= len;
				i++;
				off = 0;
			}
		}
	}
	if (fault != 0) {
		errno = fault;
		return -1;
	}
	return 0;
}

/*
 * Create path (which must not exist), write the message, fsync, close.
 * On failure the file is gone again.
 */
static int
write_file(const char *path, const struct iovec *iov, int iovcnt,
    size_t total, int do_fsync)
{
	int fd, err;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1; /* EEXIST: not ours, leave it */
	if (write_iov(fd, iov, iovcnt, total) < 0 ||
	    (do_fsync && fsync(fd) < 0)) {
		err = errno;
		close(fd);
		unlink(path);
		errno = err;
		return -1;
	}
	/* NFS and some quota setups report write errors only here. */
	if (close(fd) < 0 && errno != EINTR) {
		err = errno;
		unlink(path);
		errno = err;
		return -1;
	}
	return 0;
}

/* An unnamed file needs /proc to be linked without CAP_DAC_READ_SEARCH. */
static void
tmpfile_init(void)
{
	tmpfile_ok = access("/proc/self/fd", F_OK) == 0;
}

/*
 * Write the message into an unnamed file in dir/new (O_TMPFILE) and
 * fsync it. Returns its descriptor; -1 with errno, where ENOTSUP means
 * "not here, use tmp/" (the filesystem has no O_TMPFILE, or no /proc).
 */
static int
write_unnamed(const char *dir, const struct iovec *iov, int iovcnt,
    size_t total, int do_fsync)
{
	char path[PATH_MAX];
	int fd, err;

	pthread_once(&tmpfile_once, tmpfile_init);
	if (!tmpfile_ok || maildir_no_tmpfile) {
		errno = ENOTSUP;
		return -1;
	}
	if (fs_path(path, sizeof(path), dir, "new", NULL) < 0)
		return -1;
	fd = open(path, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* EISDIR: a kernel that predates O_TMPFILE */
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			errno = ENOTSUP;
		return -1;
	}
	if (write_iov(fd, iov, iovcnt, total) < 0 ||
	    (do_fsync && fsync(fd) < 0)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Make dir's own copy of the message: unnamed in new/ where the
 * filesystem allows it, else in tmp/tmpname. Either way it is complete
 * and (with do_fsync) synced before any name in new/ points to it.
 */
static int
make_copy(const char *dir, struct slot *s, const char *tmpname,
    const struct iovec *iov, int iovcnt, size_t total, int do_fsync)
{
	char path[PATH_MAX];

	s->fd = write_unnamed(dir, iov, iovcnt, total, do_fsync);
	if (s->fd >= 0)
		return 0;
	if (errno != ENOTSUP)
		return -1;
	if (fs_path(path, sizeof(path), dir, "tmp", tmpname) < 0 ||
	    write_file(path, iov, iovcnt, total, do_fsync) < 0)
		return -1;
	s->has_tmp = 1;
	return 0;
}

static int
has_copy(const struct slot *s)
{
	return s->fd >= 0 || s->has_tmp;
}

/* the name to link s's copy from, and linkat()'s flags for it */
static int
copy_source(char *src, size_t cap, const char *dir, const struct slot *s,
    const char *tmpname, int *flags)
{
	int n;

	if (s->has_tmp) {
		*flags = 0;
		return fs_path(src, cap, dir, "tmp", tmpname);
	}
	*flags = AT_SYMLINK_FOLLOW;
	n = snprintf(src, cap, "/proc/self/fd/%d", s->fd);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Another process made s->name in dir/new (EEXIST): pick a new name and
 * its path dst, at most MAILDIR_LINK_TRIES times in all (*tries).
 */
static int
pick_anew(char *dst, size_t cap, const char *dir, struct slot *s,
    const char *qid, size_t total, int *tries)
{
	if (++*tries >= MAILDIR_LINK_TRIES)
		return -1; /* errno is still EEXIST */
	if (maildir_unique_name(s->name, sizeof(s->name), qid, total) < 0)
		return -1;
	return fs_path(dst, cap, dir, "new", s->name);
}

/*
 * Link the message into dirs[i]/new from the first copy on the same
 * filesystem; make dirs[i] a copy of its own when every link says EXDEV.
 * One mailbox with its copy in tmp/ has the file renamed instead.
 */
static int
link_one(const char *const *dirs, size_t ndirs, struct slot *st, size_t i,
    const char *tmpname, const struct iovec *iov, int iovcnt, size_t total,
    const char *qid, int do_fsync)
{
	char src[PATH_MAX], dst[PATH_MAX];
	int tries = 0, flags;
	size_t j;

	if (fs_path(dst, sizeof(dst), dirs[i], "new", st[i].name) < 0)
		return -1;
	if (ndirs == 1 && st[0].has_tmp) {
		/*
		 * Move the file instead of linking it now and unlinking it
		 * later, one directory operation less. RENAME_NOREPLACE
		 * keeps link()'s promise never to replace an existing file;
		 * a filesystem without it (EINVAL) takes the link path.
		 */
		if (fs_path(src, sizeof(src), dirs[0], "tmp", tmpname) < 0)
			return -1;
		while (renameat2(AT_FDCWD, src, AT_FDCWD, dst,
		    RENAME_NOREPLACE) < 0) {
			if (errno == EINVAL)
				goto again;
			if (errno != EEXIST || pick_anew(dst, sizeof(dst),
			    dirs[0], &st[0], qid, total, &tries) < 0)
				return -1;
		}
		st[0].linked = 1;
		st[0].has_tmp = 0;
		return 0;
	}
again:
	for (j = 0; j < ndirs; j++) {
		if (!has_copy(&st[j]))
			continue;
		if (copy_source(src, sizeof(src), dirs[j], &st[j], tmpname,
		    &flags) < 0)
			return -1;
		if (linkat(AT_FDCWD, src, AT_FDCWD, dst, flags) == 0) {
			st[i].linked = 1;
			return 0;
		}
		if (errno == EEXIST) {
			if (pick_anew(dst, sizeof(dst), dirs[i], &st[i], qid,
			    total, &tries) < 0)
				return -1;
			goto again;
		}
		if (errno != EXDEV)
			return -1;
	}
	if (has_copy(&st[i])) {
		/* dirs[i]'s own copy is on another filesystem than new/ */
		errno = EXDEV;
		return -1;
	}
	if (make_copy(dirs[i], &st[i], tmpname, iov, iovcnt, total,
	    do_fsync) < 0)
		return -1;
	goto again;
}

static void
unlink_in(const char *dir, const char *sub, const char *name)
{
	char path[PATH_MAX];

	if (fs_path(path, sizeof(path), dir, sub, name) == 0)
		unlink(path);
}

/*
 * Let go of every copy: close the unnamed ones (they vanish with their
 * last descriptor unless linked) and unlink those in tmp/.
 */
static void
drop_copies(const char *const *dirs, size_t ndirs, struct slot *st,
    const char *tmpname)
{
	size_t i;

	for (i = 0; i < ndirs; i++) {
		if (st[i].fd >= 0)
			close(st[i].fd);
		st[i].fd = -1;
		if (st[i].has_tmp)
			unlink_in(dirs[i], "tmp", tmpname);
		st[i].has_tmp = 0;
	}
}

/* one attempt of maildir_deliver(); all or nothing */
static int
deliver_once(const char *const *dirs, size_t ndirs, const struct iovec *iov,
    int iovcnt, size_t total, const char *tmpname, const char *name,
    const char *qid, int do_fsync)
{
	char path[PATH_MAX];
	struct slot *st;
	size_t i;
	int err;

	for (i = 0; i < ndirs; i++)
		if (maildir_ensure(dirs[i]) < 0)
			return -1;

	st = calloc(ndirs, sizeof(*st));
	if (st == NULL)
		return -1;
	for (i = 0; i < ndirs; i++)
		st[i].fd = -1;
	if (make_copy(dirs[0], &st[0], tmpname, iov, iovcnt, total,
	    do_fsync) < 0)
		goto fail;
	for (i = 0; i < ndirs; i++) {
		snprintf(st[i].name, sizeof(st[i].name), "%s", name);
		if (link_one(dirs, ndirs, st, i, tmpname, iov, iovcnt, total,
		    qid, do_fsync) < 0)
			goto fail;
	}
	/*
	 * Unnamed copies are closed before the directories are synced, so
	 * that a late write error still rolls the delivery back. Once the
	 * links are synced a tmp/ file left by a failing unlink does not
	 * fail the delivery (maildir_clean_tmp() takes it later).
	 */
	for (i = 0; i < ndirs; i++) {
		if (st[i].fd >= 0 && close(st[i].fd) < 0 && errno != EINTR) {
			st[i].fd = -1;
			goto fail;
		}
		st[i].fd = -1;
	}
	if (do_fsync) {
		for (i = 0; i < ndirs; i++) {
			if (fs_path(path, sizeof(path), dirs[i], "new",
			    NULL) < 0 || fs_fsync_dir(path) < 0)
				goto fail;
		}
	}
	drop_copies(dirs, ndirs, st, tmpname);
	free(st);
	return 0;

fail:
	err = errno;
	for (i = 0; i < ndirs; i++)
		if (st[i].linked)
			unlink_in(dirs[i], "new", st[i].name);
	drop_copies(dirs, ndirs, st, tmpname);
	free(st);
	errno = err;
	return -1;
}

/*
 * maildir_deliver - store one message durably in every Maildir of dirs
 *
 * The message is the concatenation of iov[0..iovcnt-1]; dirs holds
 * ndirs >= 1 distinct Maildir paths, created when missing. With do_fsync
 * the message is on stable storage when this returns 0. On failure
 * nothing is left in any new/ or tmp/ and -1 is returned with the errno
 * of the first failure (ENOSPC and EDQUOT mean "insufficient storage").
 * Once every link is made and synced, the delivery counts as done: a
 * failing unlink of the tmp file does not fail it (the leftover goes at
 * the next maildir_clean_tmp()).
 */
int
maildir_deliver(const char *const *dirs, size_t ndirs,
    const struct iovec *iov, int iovcnt, const char *qid, int do_fsync)
{
	char tmpname[sizeof(MAILDIR_TMP_PREFIX) + MAILDIR_QID_MAX];
	char name[NAME_MAX + 1];
	size_t total = 0, i;
	int k;

	if (dirs == NULL || ndirs == 0 || iovcnt < 0 ||
	    (iov == NULL && iovcnt > 0) || qid == NULL || !qid_ok(qid)) {
		errno = EINVAL;
		return -1;
	}
	for (k = 0; k < iovcnt; k++) {
		if (iov[k].iov_len > SIZE_MAX - total) {
			errno = EFBIG;
			return -1;
		}
		total += iov[k].iov_len;
	}
	snprintf(tmpname, sizeof(tmpname), "%s%s", MAILDIR_TMP_PREFIX, qid);
	if (maildir_unique_name(name, sizeof(name), qid, total) < 0)
		return -1;
	if (deliver_once(dirs, ndirs, iov, iovcnt, total, tmpname, name, qid,
	    do_fsync) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* a cached Maildir may have been removed: check them all again */
	for (i = 0; i < ndirs; i++)
		known_forget(dirs[i]);
	return deliver_once(dirs, ndirs, iov, iovcnt, total, tmpname, name,
	    qid, do_fsync);
}

/*
 * maildir_clean_tmp - remove crash leftovers from dir/tmp
 *
 * Removes our own tern-* files of any age, and other files whose mtime
 * and atime are both more than 36 hours before now (the Maildir rule;
 * fresher ones may be another writer's delivery in progress).
 * Directories are left alone. Call it before deliveries start: a tern-*
 * file of a delivery in progress would go too. Returns the number of
 * files removed, or -1 with the errno of the first failure (the scan
 * still goes on past single failures).
 */
int
maildir_clean_tmp(const char *dir, time_t now)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, removed = 0, err = 0;
	time_t cutoff = now - MAILDIR_TMP_AGE;

	if (fs_path(path, sizeof(path), dir, "tmp", NULL) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0 && err == 0)
				err = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && err == 0)
				err = errno;
			continue;
		}
		if (S_ISDIR(st.st_mode))
			continue;
		if (strncmp(de->d_name, MAILDIR_TMP_PREFIX,
		    strlen(MAILDIR_TMP_PREFIX)) != 0 &&
		    (st.st_mtime >= cutoff || st.st_atime >= cutoff))
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0) {
			if (errno != ENOENT && err == 0)
				err = errno;
			continue;
		}
		removed++;
	}
	closedir(d);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return removed;
}
