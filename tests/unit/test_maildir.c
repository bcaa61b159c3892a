/*
 * test_maildir - Maildir delivery under a fresh mkdtemp directory per
 * test: names, byte-exact contents, hard links across mailboxes, copies
 * across filesystems, all-or-nothing failure (fault injection, EACCES)
 * and the tmp/ sweep. Every test runs twice: with unnamed copies
 * (O_TMPFILE, the default) and with copies in tmp/ (maildir_no_tmpfile),
 * the way taken on a filesystem without O_TMPFILE.
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
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/maildir.h"

#include "unit_check.h"

#define CHECK_ERR(what, r, err)                                             \
	do {                                                                \
		int r_ = (r);                                               \
		int e_ = errno;                                             \
		if (r_ != -1 || e_ != (err))                                \
			fail_msg("%s: got %d (errno %s), want -1 (errno %s)", \
			    (what), r_, errname(e_), errname(err));         \
	} while (0)

struct fixture {
	char root[64];
	char shm[64]; /* second filesystem, or "" */
	int fds;      /* descriptors open at setup */
};

static const char *
errname(int e)
{
	static char other[32];

	switch (e) {
	case 0: return "0";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case ENOSPC: return "ENOSPC";
	case EDQUOT: return "EDQUOT";
	case ENOTDIR: return "ENOTDIR";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EXDEV: return "EXDEV";
	case EPERM: return "EPERM";
	}
	snprintf(other, sizeof(other), "%d", e);
	return other;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path) < 0 ? -1 : 0;
}

static void
rm_rf(const char *path)
{
	/* make every directory writable first, for the EACCES test */
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
open_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct stat a, b;

	if (f == NULL)
		return -1;
	strcpy(f->root, "/tmp/tern-maildir-XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	strcpy(f->shm, "/dev/shm/tern-maildir-XXXXXX");
	if (stat(f->root, &a) < 0 || mkdtemp(f->shm) == NULL)
		f->shm[0] = '\0';
	else if (stat(f->shm, &b) < 0 || a.st_dev == b.st_dev) {
		rmdir(f->shm);
		f->shm[0] = '\0';
	}
	maildir_fault_errno = 0;
	f->fds = open_fds();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int fds = open_fds();

	maildir_fault_errno = 0;
	if (fds != f->fds) {
		/* a delivery left a copy's descriptor open */
		fprintf(stderr, "descriptors: got %d, want %d\n", fds, f->fds);
		return -1;
	}
	rm_rf(f->root);
	if (f->shm[0] != '\0')
		rm_rf(f->shm);
	free(f);
	return 0;
}

static void
join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);

	assert_true(n > 0 && (size_t)n < cap);
}

/* Number of entries in dir (without . and ..); name gets the last one. */
static int
count_entries(const char *dir, char *name, size_t cap)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		fail_msg("opendir %s: errno %s", dir, errname(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (name != NULL)
			snprintf(name, cap, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static void
check_count(const char *mbox, const char *sub, int want)
{
	char path[PATH_MAX];

	join(path, sizeof(path), mbox, sub);
	if (count_entries(path, NULL, 0) != want)
		fail_msg("%s: got %d entries, want %d", path,
		    count_entries(path, NULL, 0), want);
}

/* The single message in mbox/new: its path, stat and checked contents. */
static void
the_message(const char *mbox, const char *want, size_t wantlen,
    char *path, size_t cap, struct stat *st)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], sz[64];
	char *got;
	ssize_t n;
	int fd;

	join(dir, sizeof(dir), mbox, "new");
	CHECK_INT("files in new/", count_entries(dir, name, sizeof(name)), 1);
	join(path, cap, dir, name);
	assert_int_equal(stat(path, st), 0);
	CHECK_INT("file size", st->st_size, wantlen);
	snprintf(sz, sizeof(sz), ",S=%zu", wantlen);
	if (strlen(name) < strlen(sz) ||
	    strcmp(name + strlen(name) - strlen(sz), sz) != 0)
		fail_msg("name %s: got no %s suffix", name, sz);
	CHECK_INT("mode", st->st_mode & 07777, 0600);

	got = malloc(wantlen + 1);
	assert_non_null(got);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, got, wantlen + 1);
	close(fd);
	CHECK_INT("bytes read", n, wantlen);
	if (memcmp(got, want, wantlen) != 0)
		fail_msg("%s: contents differ from what was delivered", path);
	free(got);
}

static void
test_one_mailbox(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "Subject: hi\r\n\r\nbody\r\n";
	struct iovec iov = { (void *)msg, sizeof(msg) - 1 };
	char mbox[PATH_MAX], path[PATH_MAX];
	const char *dirs[1];
	struct stat st;

	join(mbox, sizeof(mbox), f->root, "Maildir");
	assert_int_equal(maildir_create(mbox), 0);
	dirs[0] = mbox;
	CHECK_INT("deliver", maildir_deliver(dirs, 1, &iov, 1, "Q1A2B3", 1), 0);
	the_message(mbox, msg, sizeof(msg) - 1, path, sizeof(path), &st);
	CHECK_INT("link count", st.st_nlink, 1);
	if (strstr(path, "QQ1A2B3.") == NULL)
		fail_msg("name %s: got no Q<qid>. part", path);
	check_count(mbox, "tmp", 0);
	check_count(mbox, "cur", 0);
}

static void
test_three_mailboxes(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "From: a@example.org\r\n\r\nthree\r\n";
	struct iovec iov = { (void *)msg, sizeof(msg) - 1 };
	char mb[3][PATH_MAX], path[PATH_MAX];
	const char *dirs[3];
	struct stat st[3];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(mb[i], sizeof(mb[i]), "%s/user%d", f->root, i);
		dirs[i] = mb[i];
	}
	CHECK_INT("deliver", maildir_deliver(dirs, 3, &iov, 1, "ABC", 1), 0);
	for (i = 0; i < 3; i++) {
		the_message(mb[i], msg, sizeof(msg) - 1, path, sizeof(path),
		    &st[i]);
		CHECK_INT("link count", st[i].st_nlink, 3);
		CHECK_INT("same inode as user0", st[i].st_ino, st[0].st_ino);
		check_count(mb[i], "tmp", 0);
	}
}

static void
test_other_filesystem(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "Subject: exdev\r\n\r\ncopied\r\n";
	struct iovec iov = { (void *)msg, sizeof(msg) - 1 };
	char mb[4][PATH_MAX], path[PATH_MAX];
	const char *dirs[4];
	struct stat st[4];
	int i;

	if (f->shm[0] == '\0')
		skip(); /* no second filesystem to link across */
	/* 0 and 2 on disk, 1 and 3 on tmpfs: two writes, two links each */
	for (i = 0; i < 4; i++) {
		snprintf(mb[i], sizeof(mb[i]), "%s/user%d",
		    i % 2 ? f->shm : f->root, i);
		dirs[i] = mb[i];
	}
	CHECK_INT("deliver", maildir_deliver(dirs, 4, &iov, 1, "X1", 1), 0);
	for (i = 0; i < 4; i++) {
		the_message(mb[i], msg, sizeof(msg) - 1, path, sizeof(path),
		    &st[i]);
		CHECK_INT("link count", st[i].st_nlink, 2);
		check_count(mb[i], "tmp", 0);
	}
	CHECK_INT("user2 inode", st[2].st_ino, st[0].st_ino);
	CHECK_INT("user3 inode", st[3].st_ino, st[1].st_ino);
}

static void
test_missing_maildir_created(void **state)
{
	struct fixture *f = *state;
	static const char *const sub[] = { "", "tmp", "new", "cur" };
	struct iovec iov = { (void *)"x\r\n", 3 };
	char mbox[PATH_MAX], path[PATH_MAX];
	const char *dirs[1] = { mbox };
	struct stat st;
	size_t i;

	snprintf(mbox, sizeof(mbox), "%s/home/u/Maildir/", f->root);
	CHECK_INT("deliver", maildir_deliver(dirs, 1, &iov, 1, "M1", 1), 0);
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		join(path, sizeof(path), mbox, sub[i]);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			fail_msg("%s: got no directory", path);
		CHECK_INT(path, st.st_mode & 0777, 0700);
	}
	/* idempotent, and a plain file in the way is ENOTDIR */
	CHECK_INT("create again", maildir_create(mbox), 0);
	join(path, sizeof(path), f->root, "file");
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK_ERR("create over a file", maildir_create(path), ENOTDIR);
	join(path, sizeof(path), mbox, "cur");
	rmdir(path);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK_ERR("cur is a file", maildir_create(mbox), ENOTDIR);
}

/*
 * Deliveries remember which Maildirs exist; one removed (or moved away)
 * while the process runs must be made again, not fail every delivery.
 */
static void
test_removed_maildir_recreated(void **state)
{
	struct fixture *f = *state;
	struct iovec iov = { (void *)"x\r\n", 3 };
	char mbox[PATH_MAX], moved[PATH_MAX];
	const char *dirs[1] = { mbox };

	snprintf(mbox, sizeof(mbox), "%s/gone", f->root);
	snprintf(moved, sizeof(moved), "%s/moved", f->root);
	CHECK_INT("first", maildir_deliver(dirs, 1, &iov, 1, "G1", 1), 0);
	check_count(mbox, "new", 1);
	rm_rf(mbox);
	CHECK_INT("after removal", maildir_deliver(dirs, 1, &iov, 1, "G2", 1),
	    0);
	check_count(mbox, "new", 1);
	check_count(mbox, "cur", 0);
	check_count(mbox, "tmp", 0);
	/* only new/ gone: the rename fails, and the retry makes it again */
	CHECK_INT("rename away", rename(mbox, moved), 0);
	CHECK_INT("mkdir", mkdir(mbox, 0700), 0);
	join(moved, sizeof(moved), mbox, "tmp");
	CHECK_INT("mkdir tmp", mkdir(moved, 0700), 0);
	CHECK_INT("without new", maildir_deliver(dirs, 1, &iov, 1, "G3", 1),
	    0);
	check_count(mbox, "new", 1);
	check_count(mbox, "tmp", 0);
}

struct iov_case {
	const char *name;
	size_t npieces;
	size_t piece;   /* bytes per piece */
	size_t empties; /* every n-th piece is empty; 0: none */
};

static void
test_iov_pieces(void **state)
{
	static const struct iov_case cases[] = {
		{ "empty message", 0, 0, 0 },
		{ "one piece", 1, 100, 0 },
		{ "header and body", 2, 700, 0 },
		{ "with empty pieces", 9, 13, 3 },
		{ "more pieces than one writev", 300, 7, 0 },
		{ "big pieces", 3, 1 << 20, 0 },
	};
	struct fixture *f = *state;
	struct iovec iov[300];
	char mbox[PATH_MAX], path[PATH_MAX], qid[16];
	const char *dirs[1] = { mbox };
	struct stat st;
	size_t c, i, total, pos;
	char *all;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct iov_case *k = &cases[c];

		all = malloc(k->npieces * k->piece + 1);
		assert_non_null(all);
		for (i = 0, pos = 0; i < k->npieces; i++) {
			size_t len = (k->empties && i % k->empties == 0) ?
			    0 : k->piece;
			size_t j;

			for (j = 0; j < len; j++)
				all[pos + j] = (char)('a' + (pos + j) % 26 +
				    (i % 2 ? 0 : 'A' - 'a'));
			iov[i].iov_base = all + pos;
			iov[i].iov_len = len;
			pos += len;
		}
		total = pos;
		snprintf(mbox, sizeof(mbox), "%s/case%zu", f->root, c);
		snprintf(qid, sizeof(qid), "C%zu", c);
		if (maildir_deliver(dirs, 1, iov, (int)k->npieces, qid, 1) != 0)
			fail_msg("%s: got -1 (errno %s), want 0", k->name,
			    errname(errno));
		the_message(mbox, all, total, path, sizeof(path), &st);
		free(all);
	}
}

static void
test_same_qid_twice(void **state)
{
	struct fixture *f = *state;
	struct iovec iov = { (void *)"hello\r\n", 7 };
	char mbox[PATH_MAX], dir[PATH_MAX];
	const char *dirs[1] = { mbox };

	join(mbox, sizeof(mbox), f->root, "m");
	CHECK_INT("first", maildir_deliver(dirs, 1, &iov, 1, "SAME", 1), 0);
	CHECK_INT("second", maildir_deliver(dirs, 1, &iov, 1, "SAME", 0), 0);
	join(dir, sizeof(dir), mbox, "new");
	CHECK_INT("files in new/", count_entries(dir, NULL, 0), 2);
	check_count(mbox, "tmp", 0);
}

static void
test_unique_name(void **state)
{
	char a[256], b[256], host[256], want[512];
	long long sec;
	long usec, pid;
	size_t size;
	int n;

	(void)state;
	assert_int_equal(maildir_unique_name(a, sizeof(a), "Q9", 1234), 0);
	n = 0;
	if (sscanf(a, "%lld.M%6ldP%ldQQ9.%255[^,],S=%zu%n", &sec, &usec, &pid,
	    host, &size, &n) != 5 || (size_t)n != strlen(a))
		fail_msg("name %s: got no "
		    "<sec>.M<usec>P<pid>Q<qid>.<host>,S=<size>", a);
	CHECK_INT("pid", pid, getpid());
	CHECK_INT("size", size, 1234);
	if (strchr(a, '/') != NULL || strchr(a, ':') != NULL)
		fail_msg("name %s: got '/' or ':'", a);

	snprintf(want, sizeof(want), "%s", a);
	CHECK_ERR("cap too small", maildir_unique_name(b, strlen(want), "Q9",
	    1234), ENAMETOOLONG);
	CHECK_ERR("qid with /", maildir_unique_name(b, sizeof(b), "a/b", 1),
	    EINVAL);
	CHECK_ERR("qid with :", maildir_unique_name(b, sizeof(b), "a:b", 1),
	    EINVAL);
	CHECK_ERR("qid with .", maildir_unique_name(b, sizeof(b), "a.b", 1),
	    EINVAL);
	CHECK_ERR("empty qid", maildir_unique_name(b, sizeof(b), "", 1),
	    EINVAL);
}

#define NAME_THREADS 4
#define NAMES_PER_THREAD 20000

struct name_batch {
	char (*names)[64];
	int failed;
};

static void *
make_names(void *arg)
{
	struct name_batch *nb = arg;
	int i;

	for (i = 0; i < NAMES_PER_THREAD; i++)
		if (maildir_unique_name(nb->names[i], sizeof(nb->names[i]),
		    "SAME", 1) < 0)
			nb->failed = 1;
	return NULL;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Many threads, one qid, one size: still no name twice. */
static void
test_unique_name_threads(void **state)
{
	struct name_batch nb[NAME_THREADS];
	pthread_t t[NAME_THREADS];
	char (*all)[64];
	size_t i, n = (size_t)NAME_THREADS * NAMES_PER_THREAD;

	(void)state;
	all = calloc(n, sizeof(*all));
	assert_non_null(all);
	for (i = 0; i < NAME_THREADS; i++) {
		nb[i].names = all + i * NAMES_PER_THREAD;
		nb[i].failed = 0;
		assert_int_equal(pthread_create(&t[i], NULL, make_names,
		    &nb[i]), 0);
	}
	for (i = 0; i < NAME_THREADS; i++) {
		pthread_join(t[i], NULL);
		if (nb[i].failed)
			fail_msg("thread %zu: got maildir_unique_name failing",
			    i);
	}
	qsort(all, n, sizeof(*all), cmp_name);
	for (i = 1; i < n; i++)
		if (strcmp(all[i - 1], all[i]) == 0)
			fail_msg("got %s twice, want unique names", all[i]);
	free(all);
}

#define HOST_CHILD_ENV "TEST_MAILDIR_HOST_CHILD"

/*
 * Runs in a fresh exec of this program (the host name is read once per
 * process): set a host name with '/' and ':' in a private UTS namespace
 * and check how it appears in a name. Exit 77 means "cannot test".
 */
static int
host_child(void)
{
	static const char host[] = "mx/1:a";
	char name[256];

	if (unshare(CLONE_NEWUTS) < 0 || sethostname(host, strlen(host)) < 0)
		return 77;
	if (maildir_unique_name(name, sizeof(name), "H", 1) < 0)
		return 1;
	if (strstr(name, "QH.mx\\0571\\072a,S=1") == NULL) {
		fprintf(stderr, "got %s, want host mx\\0571\\072a\n", name);
		return 1;
	}
	return 0;
}

static void
test_unique_name_host_escape(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv(HOST_CHILD_ENV, "1", 1);
		execl("/proc/self/exe", "test_maildir", (char *)NULL);
		_exit(78);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77 || WEXITSTATUS(status) == 78)
		skip(); /* no UTS namespace, or cannot re-exec */
	CHECK_INT("child exit", WEXITSTATUS(status), 0);
}

static void
test_fault_injection(void **state)
{
	static const int faults[] = { ENOSPC, EIO, EDQUOT };
	struct fixture *f = *state;
	struct iovec iov[2] = {
		{ (void *)"Received: x\r\n", 13 },
		{ (void *)"Subject: y\r\n\r\nz\r\n", 17 },
	};
	char mb[4][PATH_MAX];
	const char *dirs[4];
	size_t c, i, ndirs;

	for (c = 0; c < sizeof(faults) / sizeof(faults[0]); c++) {
		for (ndirs = 1; ndirs <= 4; ndirs += 3) {
			for (i = 0; i < ndirs; i++) {
				snprintf(mb[i], sizeof(mb[i]), "%s/%s%zu",
				    i == 3 && f->shm[0] ? f->shm : f->root,
				    errname(faults[c]), i);
				dirs[i] = mb[i];
			}
			maildir_fault_errno = faults[c];
			CHECK_ERR(errname(faults[c]),
			    maildir_deliver(dirs, ndirs, iov, 2, "F1", 1),
			    faults[c]);
			maildir_fault_errno = 0;
			for (i = 0; i < ndirs; i++) {
				check_count(mb[i], "new", 0);
				check_count(mb[i], "tmp", 0);
				check_count(mb[i], "cur", 0);
			}
		}
	}
}

static void
test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct iovec iov = { (void *)"x", 1 };
	const char *dirs[1] = { f->root };

	CHECK_ERR("no dirs", maildir_deliver(dirs, 0, &iov, 1, "A", 1), EINVAL);
	CHECK_ERR("bad qid", maildir_deliver(dirs, 1, &iov, 1, "../x", 1),
	    EINVAL);
	CHECK_ERR("negative iovcnt", maildir_deliver(dirs, 1, &iov, -1, "A", 1),
	    EINVAL);
}

/*
 * A stale tmp file with our name is not ours to remove: EEXIST, untouched
 * (unnamed copies never go near tmp/, so there the delivery succeeds).
 */
static void
test_stale_tmp_file(void **state)
{
	struct fixture *f = *state;
	struct iovec iov = { (void *)"x", 1 };
	char mbox[PATH_MAX], path[PATH_MAX];
	const char *dirs[1] = { mbox };
	struct stat st;

	join(mbox, sizeof(mbox), f->root, "m");
	assert_int_equal(maildir_create(mbox), 0);
	join(path, sizeof(path), mbox, "tmp/tern-S1");
	close(open(path, O_CREAT | O_WRONLY, 0600));
	if (maildir_no_tmpfile) {
		CHECK_ERR("deliver", maildir_deliver(dirs, 1, &iov, 1, "S1",
		    1), EEXIST);
		check_count(mbox, "new", 0);
	} else {
		CHECK_INT("deliver", maildir_deliver(dirs, 1, &iov, 1, "S1",
		    1), 0);
		check_count(mbox, "new", 1);
	}
	CHECK_INT("stale file kept", stat(path, &st), 0);
	check_count(mbox, "tmp", 1);
}

static void
test_unwritable(void **state)
{
	struct fixture *f = *state;
	struct iovec iov = { (void *)"x\r\n", 3 };
	char mb[3][PATH_MAX], path[PATH_MAX];
	const char *dirs[3];
	int i;

	if (geteuid() == 0)
		skip(); /* root ignores directory permissions */
	for (i = 0; i < 3; i++) {
		snprintf(mb[i], sizeof(mb[i]), "%s/u%d", f->root, i);
		dirs[i] = mb[i];
		assert_int_equal(maildir_create(mb[i]), 0);
	}
	/* the last mailbox refuses the link: the first two are rolled back */
	join(path, sizeof(path), mb[2], "new");
	assert_int_equal(chmod(path, 0500), 0);
	CHECK_ERR("new/ read-only", maildir_deliver(dirs, 3, &iov, 1, "P1", 1),
	    EACCES);
	for (i = 0; i < 3; i++) {
		check_count(mb[i], "new", 0);
		check_count(mb[i], "tmp", 0);
	}
	/* the first mailbox refuses the copy, in new/ or in tmp/ */
	chmod(path, 0700);
	join(path, sizeof(path), mb[0], maildir_no_tmpfile ? "tmp" : "new");
	assert_int_equal(chmod(path, 0500), 0);
	CHECK_ERR("copy refused", maildir_deliver(dirs, 3, &iov, 1, "P2", 1),
	    EACCES);
	for (i = 0; i < 3; i++) {
		check_count(mb[i], "new", 0);
		check_count(mb[i], "tmp", 0);
	}
	/* a parent that cannot hold a new Maildir */
	join(path, sizeof(path), f->root, "ro");
	assert_int_equal(mkdir(path, 0500), 0);
	join(mb[0], sizeof(mb[0]), path, "Maildir");
	CHECK_ERR("create under read-only", maildir_create(mb[0]), EACCES);
}

/* Set or clear the immutable flag of a directory; -1 where unsupported. */
static int
set_immutable(const char *path, int on)
{
	int fd, flags, r = -1;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return r;
}

/*
 * A delivery to n mailboxes whose last new/ refuses the message (an
 * immutable new/ refuses links and renames even to root: EPERM) is
 * rolled back everywhere.
 */
static void
refused_by_last(struct fixture *f, int n)
{
	struct iovec iov = { (void *)"x\r\n", 3 };
	char mb[3][PATH_MAX], path[PATH_MAX];
	const char *dirs[3];
	int i, r, err;

	assert_true(n >= 1 && n <= 3);
	for (i = 0; i < n; i++) {
		snprintf(mb[i], sizeof(mb[i]), "%s/u%d", f->root, i);
		dirs[i] = mb[i];
		assert_int_equal(maildir_create(mb[i]), 0);
	}
	join(path, sizeof(path), mb[n - 1], "new");
	if (set_immutable(path, 1) < 0)
		skip(); /* no CAP_LINUX_IMMUTABLE, or no such flag here */
	r = maildir_deliver(dirs, (size_t)n, &iov, 1, "R1", 1);
	err = errno;
	set_immutable(path, 0);
	errno = err;
	CHECK_ERR("immutable new/", r, EPERM);
	for (i = 0; i < n; i++) {
		check_count(mb[i], "new", 0);
		check_count(mb[i], "tmp", 0);
	}
}

/* a link that fails after others succeeded */
static void
test_link_failure_rolls_back(void **state)
{
	refused_by_last(*state, 3);
}

/* one mailbox: the message is renamed into new/, not linked */
static void
test_rename_failure_rolls_back(void **state)
{
	refused_by_last(*state, 1);
}

struct tmp_file {
	const char *name;
	int dir;          /* a directory instead of a file */
	time_t mtime_age; /* seconds before now */
	time_t atime_age;
	int want_removed;
};

static void
test_clean_tmp(void **state)
{
	static const struct tmp_file files[] = {
		{ "tern-ABC", 0, 0, 0, 1 },
		{ "tern-OLD", 0, 40 * 3600, 40 * 3600, 1 },
		{ "1700000000.M1P2.dovecot", 0, 0, 0, 0 },
		{ "1600000000.M1P2.old", 0, 37 * 3600, 37 * 3600, 1 },
		{ "just-under", 0, 35 * 3600, 35 * 3600, 0 },
		{ "old-but-read", 0, 37 * 3600, 60, 0 },
		{ "fresh-but-unread", 0, 60, 37 * 3600, 0 },
		{ "olddir", 1, 37 * 3600, 37 * 3600, 0 },
	};
	struct fixture *f = *state;
	char mbox[PATH_MAX], path[PATH_MAX + 64];
	struct timespec ts[2];
	struct stat st;
	time_t now = time(NULL);
	size_t i;
	int want = 0;

	join(mbox, sizeof(mbox), f->root, "m");
	assert_int_equal(maildir_create(mbox), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/tmp/%s", mbox, files[i].name);
		if (files[i].dir)
			assert_int_equal(mkdir(path, 0700), 0);
		else
			close(open(path, O_CREAT | O_WRONLY, 0600));
		ts[0].tv_sec = now - files[i].atime_age;
		ts[0].tv_nsec = 0;
		ts[1].tv_sec = now - files[i].mtime_age;
		ts[1].tv_nsec = 0;
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
		want += files[i].want_removed;
	}
	CHECK_INT("removed", maildir_clean_tmp(mbox, now), want);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/tmp/%s", mbox, files[i].name);
		if ((stat(path, &st) < 0) != files[i].want_removed)
			fail_msg("%s: got %s, want %s", files[i].name,
			    files[i].want_removed ? "kept" : "removed",
			    files[i].want_removed ? "removed" : "kept");
	}
	CHECK_INT("second sweep", maildir_clean_tmp(mbox, now), 0);
	join(path, sizeof(path), f->root, "nothing");
	CHECK_ERR("missing maildir", maildir_clean_tmp(path, now), ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_mailbox, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_three_mailboxes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_filesystem, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_maildir_created,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_iov_pieces, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_same_qid_twice, setup,
		    teardown),
		cmocka_unit_test(test_unique_name),
		cmocka_unit_test(test_unique_name_threads),
		cmocka_unit_test(test_unique_name_host_escape),
		cmocka_unit_test_setup_teardown(test_removed_maildir_recreated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_injection, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_link_failure_rolls_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_failure_rolls_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_tmp, setup,
		    teardown),
	};

	int failed;

	if (getenv(HOST_CHILD_ENV) != NULL)
		return host_child();
	failed = cmocka_run_group_tests_name("unnamed copies", tests, NULL,
	    NULL);
	maildir_no_tmpfile = 1;
	failed += cmocka_run_group_tests_name("copies in tmp/", tests, NULL,
	    NULL);
	return failed;
}
