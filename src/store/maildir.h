/*
 * maildir - durable delivery into Maildir folders (tmp, fsync, link into
 * new, fsync the directory), so a 250 can follow.
 *
 * One message for several mailboxes is written once and hard-linked into
 * each new/ directory. Every function here blocks on the disk: call them
 * from a pool worker, never from the event loop.
 */
#ifndef TERN_MAILDIR_H
#define TERN_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/*
 * Fault injection for tests: when non-zero, every message write fails
 * with this errno after writing half of the data. Set it before any
 * delivery starts (at startup, from the environment, in test builds).
 */
extern int maildir_fault_errno;

/*
 * For tests: when non-zero, deliveries write their copies into tmp/ as on
 * a filesystem without O_TMPFILE.
 */
extern int maildir_no_tmpfile;

int maildir_create(const char *dir);
int maildir_deliver(const char *const *dirs, size_t ndirs,
    const struct iovec *iov, int iovcnt, const char *qid, int do_fsync);
int maildir_clean_tmp(const char *dir, time_t now);
int maildir_unique_name(char *out, size_t cap, const char *qid, size_t size);

#endif
