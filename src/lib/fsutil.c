/*
 * fsutil - path joining, directory fsync and complete writes.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* fs_path - "a/b/c" (or "a/b" when c is NULL); -1 ENAMETOOLONG, never cut */
int
fs_path(char *out, size_t cap, const char *a, const char *b, const char *c)
{
	int n;

	if (c != NULL)
		n = snprintf(out, cap, "%s/%s/%s", a, b, c);
	else
		n = snprintf(out, cap, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* fs_fsync_dir - make the entries of directory path durable */
int
fs_fsync_dir(const char *path)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fsync(fd) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (close(fd) < 0 && errno != EINTR)
		return -1;
	return 0;
}

/* fs_write_all - write n bytes, retrying short writes and EINTR */
int
fs_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
