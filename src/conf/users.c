/*
 * users - load the AUTH user file and check passwords with libcrypt.
 *
 * users_verify() is slow on purpose (that is what yescrypt is for): call
 * it from a pool worker, never from the event loop.
 */
#include "users.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/util.h"

struct user {
	char *name;
	char *hash;
};

struct users {
	struct user *v;
	size_t n;
};

static int
user_cmp(const void *a, const void *b)
{
	return str_casecmp_ascii(((const struct user *)a)->name,
	    ((const struct user *)b)->name);
}

/* a hash crypt(3) can check: "$id$..." of a method libcrypt knows */
static int
hash_usable(const char *h)
{
	return h[0] == '$' && strlen(h) > 10 && strchr(h, ':') == NULL;
}

/*
 * users_load - read path; NULL with err ("FILE:LINE: ...") on a bad line,
 * an unknown hash format or a duplicate name.
 */
struct users *
users_load(const char *path, char *err, size_t errlen)
{
	struct users *u;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return NULL;
	}
	u = xcalloc(1, sizeof(*u));
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *colon, *name, *hash, *end;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		name = line + strspn(line, " \t");
		if (*name == '\0' || *name == '#')
			continue;
		colon = strchr(name, ':');
		if (colon == NULL || colon == name) {
			snprintf(err, errlen, "%s:%u: expected name:hash", path,
			    lineno);
			goto fail;
		}
		*colon = '\0';
		hash = colon + 1;
		/* tolerate passwd-style trailing fields: name:hash:... */
		if ((end = strchr(hash, ':')) != NULL)
			*end = '\0';
		if (!hash_usable(hash) || crypt_checksalt(hash) != CRYPT_SALT_OK) {
			snprintf(err, errlen, "%s:%u: user '%s': the hash is not "
			    "a crypt(3) hash this system supports; make one with "
			    "`tern passwd`", path, lineno, name);
			goto fail;
		}
		u->v = xrealloc(u->v, (u->n + 1) * sizeof(*u->v));
		u->v[u->n].name = xstrdup(name);
		u->v[u->n].hash = xstrdup(hash);
		u->n++;
	}
	qsort(u->v, u->n, sizeof(*u->v), user_cmp);
	for (size_t i = 1; i < u->n; i++) {
		if (user_cmp(&u->v[i - 1], &u->v[i]) == 0) {
			snprintf(err, errlen, "%s: user '%s' is listed twice",
			    path, u->v[i].name);
			goto fail;
		}
	}
	free(line);
	fclose(f);
	return u;
fail:
	free(line);
	fclose(f);
	users_free(u);
	return NULL;
}

/* users_hash - the hash for name, or NULL */
const char *
users_hash(const struct users *u, const char *name)
{
	struct user key = { (char *)(uintptr_t)name, NULL };
	const struct user *f;

	if (u == NULL)
		return NULL;
	f = bsearch(&key, u->v, u->n, sizeof(*u->v), user_cmp);
	return f ? f->hash : NULL;
}

/* users_count - how many users */
size_t
users_count(const struct users *u)
{
	return u ? u->n : 0;
}

/* users_free - release the table */
void
users_free(struct users *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].name);
		OPENSSL_cleanse(u->v[i].hash, strlen(u->v[i].hash));
		free(u->v[i].hash);
	}
	free(u->v);
	free(u);
}

/*
 * users_verify - 1 if pass matches hash (crypt_r, thread-safe), else 0.
 * With hash NULL it still spends the time of a check, so a missing user
 * cannot be told from a wrong password by the delay.
 */
int
users_verify(const char *pass, const char *hash)
{
	/* a fixed yescrypt hash of a random password, for missing users */
	static const char dummy[] =
	    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7TzSH3pnJ4W8/ZoNmXozuSNXtthrr8jA";
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h = hash ? hash : dummy;
	const char *r;
	int ok = 0;

	if (cd == NULL)
		return 0;
	r = crypt_r(pass, h, cd);
	if (r != NULL && r[0] != '*' && strlen(r) == strlen(h))
		ok = CRYPTO_memcmp(r, h, strlen(h)) == 0;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return hash != NULL && ok;
}
