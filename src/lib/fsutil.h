/*
 * fsutil - the small file-system steps durable storage is made of:
 * joining paths without silent truncation, fsync of a directory (shared
 * by concurrent callers: group commit), and writes that finish or fail.
 * Used by the Maildir store and the queue's spool; all of them block, so
 * call them from pool workers.
 */
#ifndef TERN_FSUTIL_H
#define TERN_FSUTIL_H

#include <stddef.h>

int fs_path(char *out, size_t cap, const char *a, const char *b,
    const char *c);
int fs_fsync_dir(const char *path);
int fs_write_all(int fd, const void *p, size_t n);

#endif
