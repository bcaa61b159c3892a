/*
 * unit_conf - a struct conf for engine tests, from a few lines of
 * configuration text.
 *
 * The text is written to a temporary file and loaded with conf_load(),
 * so a test runs on exactly the structure ternd would build (sorted
 * mailboxes, checked aliases, implicit postmaster, defaults filled in).
 * Overrides are "key=value" strings, as with ternd -o. The file is gone
 * again before unit_conf_load() returns; free the conf with conf_free().
 * Header-only: each test program includes it once.
 */
#ifndef TERN_UNIT_CONF_H
#define TERN_UNIT_CONF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

/* the configuration engine tests start from; overrides adjust it */
#define UNIT_CONF_BASE                                                      \
	"hostname = mail.example.test\n"                                    \
	"listen = 127.0.0.1:2525\n"                                         \
	"domains = example.test, other.test\n"                              \
	"mailboxes = alice, bob, carol, postmaster\n"                       \
	"aliases =\n"                                                       \
	"    team: alice, bob\n"                                            \
	"    both: alice, team\n"                                           \
	"    sales@other.test: carol\n"                                     \
	"maildir_root = /nonexistent/mail\n"                                \
	"spool_dir = /nonexistent/spool\n"                                  \
	"max_message_size = 64k\n"                                          \
	"max_recipients = 100\n"                                            \
	"min_free_space = 1M\n"

/*
 * unit_conf_load - load text (plus overrides) into c. Returns 0, or -1
 * with the reason in why (conf_load's message, or the temp file error).
 */
static inline int
unit_conf_load(struct conf *c, const char *text, const char *const *ov,
    size_t nov, char *why, size_t cap)
{
	char path[64];
	struct conf_err err;
	const char *dir = getenv("TMPDIR");
	size_t len = strlen(text);
	int fd, r;

	snprintf(path, sizeof(path), "%s/tern-unit-conf-XXXXXX",
	    dir != NULL && *dir != '\0' && strlen(dir) < 32 ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		snprintf(why, cap, "mkstemp %s failed", path);
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len) {
		snprintf(why, cap, "write %s failed", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	r = conf_load(c, path, ov, nov, &err);
	unlink(path);
	if (r < 0)
		snprintf(why, cap, "%s", err.msg);
	return r;
}

#endif
