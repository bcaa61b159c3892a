/*
 * test_fsutil - path joining without truncation, complete writes, and
 * the group-committed directory fsync: errors reach every caller, and
 * many threads syncing one directory at once all get their answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fsutil.h"

#include "unit_check.h"

#define THREADS 16
#define ROUNDS 40

static void
test_path(void **state)
{
	char out[8];

	(void)state;
	CHECK_INT("fits", fs_path(out, sizeof(out), "a", "b", "c"), 0);
	assert_string_equal(out, "a/b/c");
	CHECK_INT("two parts", fs_path(out, sizeof(out), "ab", "cd", NULL), 0);
	assert_string_equal(out, "ab/cd");
	CHECK_INT("exactly full", fs_path(out, sizeof(out), "abc", "def", NULL),
	    0);
	assert_string_equal(out, "abc/def");
	errno = 0;
	CHECK_INT("one byte too long",
	    fs_path(out, sizeof(out), "abc", "defg", NULL), -1);
	CHECK_INT("errno", errno, ENAMETOOLONG);
}

static void
test_write_all(void **state)
{
	char path[] = "/tmp/tern-fsutil-XXXXXX", back[64];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	CHECK_INT("write", fs_write_all(fd, "hello, world", 12), 0);
	CHECK_INT("read back", pread(fd, back, sizeof(back), 0), 12);
	assert_memory_equal(back, "hello, world", 12);
	close(fd);
	unlink(path);
}

struct sync_arg {
	const char *dir;
	int id;
	int failures; /* calls that did not return 0 */
	int wrong_errno;
	int want_errno; /* 0: expect success */
};

static void *
sync_thread(void *p)
{
	struct sync_arg *a = p;
	char path[256];
	int i, fd;

	for (i = 0; i < ROUNDS; i++) {
		if (a->want_errno == 0) {
			snprintf(path, sizeof(path), "%s/f%d.%d", a->dir, a->id,
			    i);
			fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
			if (fd < 0) {
				a->failures++;
				continue;
			}
			close(fd);
		}
		errno = 0;
		if (fs_fsync_dir(a->dir) != 0) {
			a->failures++;
			if (errno != a->want_errno)
				a->wrong_errno++;
		}
	}
	return NULL;
}

/* run THREADS threads syncing dir at once; return total failures */
static int
sync_all(const char *dir, int want_errno, int *wrong_errno)
{
	struct sync_arg a[THREADS];
	pthread_t t[THREADS];
	int i, failures = 0;

	*wrong_errno = 0;
	for (i = 0; i < THREADS; i++) {
		a[i] = (struct sync_arg){ dir, i, 0, 0, want_errno };
		assert_int_equal(pthread_create(&t[i], NULL, sync_thread, &a[i]),
		    0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		failures += a[i].failures;
		*wrong_errno += a[i].wrong_errno;
	}
	return failures;
}

static void
test_fsync_dir_errors(void **state)
{
	char dir[] = "/tmp/tern-fsutil-XXXXXX", file[64];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/plain", dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	CHECK_INT("a directory", fs_fsync_dir(dir), 0);
	errno = 0;
	CHECK_INT("missing", fs_fsync_dir("/nonexistent/tern-fsutil"), -1);
	CHECK_INT("missing errno", errno, ENOENT);
	errno = 0;
	CHECK_INT("a file", fs_fsync_dir(file), -1);
	CHECK_INT("file errno", errno, ENOTDIR);
	unlink(file);
	rmdir(dir);
}

/* remove what sync_thread made */
static void
clean(const char *dir)
{
	char path[256];
	int i, j;

	for (i = 0; i < THREADS; i++)
		for (j = 0; j < ROUNDS; j++) {
			snprintf(path, sizeof(path), "%s/f%d.%d", dir, i, j);
			unlink(path);
		}
}

static void
test_fsync_dir_concurrent(void **state)
{
	char dir[] = "/tmp/tern-fsutil-XXXXXX";
	int wrong;

	(void)state;
	assert_non_null(mkdtemp(dir));
	CHECK_INT("failures", sync_all(dir, 0, &wrong), 0);
	clean(dir);
	/* a failing sync fails each caller it covers, with its errno */
	CHECK_INT("failures on a missing dir",
	    sync_all("/nonexistent/tern-fsutil", ENOENT, &wrong),
	    THREADS * ROUNDS);
	CHECK_INT("wrong errno", wrong, 0);
	/* and the path is usable again afterwards: no state left behind */
	CHECK_INT("again", sync_all(dir, 0, &wrong), 0);
	clean(dir);
	CHECK_INT("rmdir", rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_write_all),
		cmocka_unit_test(test_fsync_dir_errors),
		cmocka_unit_test(test_fsync_dir_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
