/*
 * users - the AUTH user file: "name:hash" lines, the hash in crypt(3)
 * format (yescrypt "$y$", bcrypt "$2b$", sha512-crypt "$6$"). Names match
 * without regard to ASCII case. Loaded at start and on SIGHUP; read-only
 * afterwards, so worker threads may look names up concurrently.
 */
#ifndef TERN_USERS_H
#define TERN_USERS_H

#include <stddef.h>

struct users;

struct users *users_load(const char *path, char *err, size_t errlen);
const char *users_hash(const struct users *u, const char *name);
size_t users_count(const struct users *u);
void users_free(struct users *u);
int users_verify(const char *pass, const char *hash);

#endif
