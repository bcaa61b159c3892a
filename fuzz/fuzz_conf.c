/*
 * fuzz_conf - libFuzzer target for the configuration parser
 * (src/conf/conf.c): conf_load() on a file plus -o overrides, the
 * lookups, conf_dump() and conf_free().
 *
 * Input layout, in up to three parts separated by a line "%%":
 *   the configuration file text
 *   -o overrides, separated by NUL bytes (at most 8)
 *   the text of a file "inc" that values may name as file:inc
 *
 * The file and "inc" live in a directory made once per process; each run
 * rewrites them (O_TRUNC). So that no input can make the loader read
 * anything else (a FIFO or /dev/zero would hang a run), "file:inc"
 * becomes "file:<that directory>/inc" and every other "file:" becomes
 * "File:", which is not a file reference.
 *
 * Bad input must give -1 and a message, never a crash or a leak. A
 * loaded configuration must keep its promises: domains lower case and
 * local; every mailbox's domain is one of c->domains and its lookups
 * find it; mailboxes, aliases and routes sorted; every alias reaches a
 * mailbox; relay networks have no host bits and allow their own address;
 * numbers within their ranges. And conf_dump() text must load back to
 * a configuration that dumps the same text (conf.h: "the text loads
 * back to the same conf").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OVERRIDES 8
#define RESOLVE_MAX 64

static char dir[200];
static char conf_path[256], dump_path[256], inc_path[256];

/* the target's own checks are not code under test: no coverage for them */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

/* a broken invariant: say which and abort, so libFuzzer saves the input */
static void
fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_conf.c:%d: check failed: %s\n", line, what);
	abort();
}

#define CHECK(c) do { if (!(c)) fail(__LINE__, #c); } while (0)

static void
cleanup(void)
{
	unlink(conf_path);
	unlink(dump_path);
	unlink(inc_path);
	rmdir(dir);
}

/* LLVMFuzzerInitialize - the scratch directory for this process */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/fuzz-conf-XXXXXX",
	    tmp != NULL && *tmp != '\0' && strlen(tmp) < 100 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		exit(1);
	}
	/* conf_load() logs the implicit postmaster boxes: not every run */
	log_set_level(LOG_LVL_ERR);
	snprintf(conf_path, sizeof(conf_path), "%s/tern.conf", dir);
	snprintf(dump_path, sizeof(dump_path), "%s/dump.conf", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/inc", dir);
	atexit(cleanup);
	return 0;
}

static NOCOV void
put(struct buf *b, const void *s, size_t n)
{
	if (buf_append(b, s, n) < 0)
		abort(); /* no ceiling: only ENOMEM */
}

/* s[0..n) with file: references confined to the scratch directory */
static NOCOV void
confine(struct buf *out, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (n - i >= 5 && memcmp(s + i, "file:", 5) == 0) {
			if (n - i >= 8 && memcmp(s + i + 5, "inc", 3) == 0) {
				put(out, "file:", 5);
				put(out, dir, strlen(dir));
				put(out, "/", 1);
			} else {
				put(out, "F", 1);
				i++;
				continue;
			}
			put(out, "inc", 3);
			i += 8;
			continue;
		}
		put(out, s + i, 1);
		i++;
	}
}

static NOCOV void
write_file(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		perror(path);
		abort();
	}
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			perror(path);
			abort();
		}
		s += w;
		n -= (size_t)w;
	}
	close(fd);
}

/* the first "\n%%\n" in s[0..n), or NULL; the text after it in *next */
static NOCOV const char *
part_end(const char *s, size_t n, const char **next)
{
	for (size_t i = 0; i + 4 <= n; i++) {
		if (memcmp(s + i, "\n%%\n", 4) == 0) {
			*next = s + i + 4;
			return s + i + 1; /* keep the line's LF */
		}
	}
	*next = NULL;
	return s + n;
}

static NOCOV int
has_upper(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 1;
	return 0;
}

/* a relay network: host bits zero, and its own address is allowed */
static NOCOV void
check_net(const struct conf *c, const struct conf_net *n)
{
	char ip[INET6_ADDRSTRLEN];
	size_t bytes = n->family == AF_INET ? 4 : 16;

	CHECK(n->family == AF_INET || n->family == AF_INET6);
	CHECK(n->prefix <= bytes * 8);
	for (size_t b = n->prefix; b < bytes * 8; b++)
		CHECK(!(n->addr[b / 8] & (0x80 >> (b % 8))));
	CHECK(inet_ntop(n->family, n->addr, ip, sizeof(ip)) != NULL);
	CHECK(conf_relay_allowed(c, ip));
}

/* what a loaded configuration promises */
static NOCOV void
check_conf(const struct conf *c)
{
	const struct mbox *boxes[RESOLVE_MAX];

	CHECK(c->hostname != NULL && c->hostname[0] != '\0');
	CHECK(c->maildir_root != NULL && c->spool_dir != NULL);
	CHECK(c->nlisten > 0);
	for (size_t i = 0; i < c->nlisten; i++)
		CHECK(c->listen[i].host != NULL && c->listen[i].port != NULL);
	CHECK(c->ndomains > 0);
	for (size_t i = 0; i < c->ndomains; i++) {
		CHECK(!has_upper(c->domains[i]));
		CHECK(conf_is_local_domain(c, c->domains[i]));
		for (size_t j = 0; j < i; j++)
			CHECK(strcasecmp(c->domains[i], c->domains[j]) != 0);
	}
	for (size_t i = 0; i < c->nmboxes; i++) {
		const struct mbox *m = &c->mboxes[i];
		size_t d;

		for (d = 0; d < c->ndomains; d++)
			if (m->domain == c->domains[d])
				break;
		CHECK(d < c->ndomains);
		CHECK(m->user[0] != '\0' && !has_upper(m->user));
		CHECK(conf_find_mbox(c, m->user, m->domain) == m);
		if (i > 0) {
			const struct mbox *p = m - 1;
			int r = strcmp(p->domain, m->domain);

			CHECK(r < 0 ||
			    (r == 0 && strcmp(p->user, m->user) < 0));
		}
	}
	for (size_t i = 0; i < c->naliases; i++) {
		const struct alias *a = &c->aliases[i];
		const char *at = strchr(a->key, '@');
		char local[512];
		int k;

		CHECK(!has_upper(a->key) && a->ntargets > 0);
		CHECK(i == 0 || strcmp(c->aliases[i - 1].key, a->key) < 0);
		if (strlen(a->key) >= sizeof(local))
			continue;
		snprintf(local, sizeof(local), "%.*s",
		    (int)(at ? at - a->key : (long)strlen(a->key)), a->key);
		k = conf_resolve(c, local, at ? at + 1 : c->domains[0], boxes,
		    RESOLVE_MAX);
		/* every alias reaches a mailbox (or more than we asked for) */
		CHECK(k != 0);
		for (int j = 0; j < k; j++)
			CHECK(boxes[j] >= c->mboxes &&
			    boxes[j] < c->mboxes + c->nmboxes);
	}
	for (size_t i = 0; i < c->nrelay_networks; i++)
		check_net(c, &c->relay_networks[i]);
	for (size_t i = 0; i < c->nroutes; i++) {
		const struct conf_route *r = &c->routes[i];

		CHECK(r->domain != NULL && !has_upper(r->domain));
		CHECK(r->hop.host != NULL && r->hop.port != NULL);
		CHECK(i == 0 || strcmp(c->routes[i - 1].domain, r->domain) < 0);
		CHECK(conf_route_for(c, r->domain) == &r->hop);
	}
	CHECK(c->relay_port != NULL);
	for (size_t i = 0; i < c->ntls; i++)
		CHECK(c->tls_cert[i] != NULL && c->tls_key[i] != NULL);
	CHECK(c->max_message_size >= 65536);
	CHECK(c->max_message_size <= 2048ull * 1024 * 1024);
	CHECK(c->max_recipients >= 100 && c->max_recipients <= 100000);
	CHECK(c->max_errors >= 1 && c->max_errors <= 1000);
	CHECK(c->command_timeout >= 1 && c->data_timeout >= 1);
	CHECK(c->commit_workers >= 1 && c->commit_workers <= 256);
	CHECK(c->max_hops >= 1 && c->max_hops <= 1000);
	CHECK(c->vrfy == 0 || c->vrfy == 1);
	CHECK(c->expn == 0 || c->expn == 1);
	CHECK(conf_is_local_domain(c, "no-such-domain.invalid") == 0);
}

/* conf_dump() text loads back and dumps the same */
static void
check_dump(const struct conf *c)
{
	struct conf c2;
	struct conf_err err;
	char *d1, *d2;

	CHECK(conf_dump(c, &d1) == 0 && d1 != NULL);
	write_file(dump_path, d1, strlen(d1));
	if (conf_load(&c2, dump_path, NULL, 0, &err) < 0) {
		fprintf(stderr, "dump does not load: %s\n--- dump\n%s---\n",
		    err.msg, d1);
		fail(__LINE__, "conf_dump() text loads");
	}
	CHECK(conf_dump(&c2, &d2) == 0 && d2 != NULL);
	if (strcmp(d1, d2) != 0) {
		fprintf(stderr, "--- dump\n%s--- dump of its reload\n%s---\n",
		    d1, d2);
		fail(__LINE__, "the dump of a reloaded dump is the same");
	}
	free(d1);
	free(d2);
	conf_free(&c2);
}

/* LLVMFuzzerTestOneInput - load the input, check it, dump and reload */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *ov[MAX_OVERRIDES];
	size_t ovoff[MAX_OVERRIDES], nov = 0;
	const char *s = (const char *)data, *end, *next, *inc = NULL;
	struct buf file, ovs;
	struct conf c;
	struct conf_err err;
	size_t inclen = 0;

	buf_init(&file, 0);
	buf_init(&ovs, 0);
	end = part_end(s, size, &next);
	confine(&file, s, (size_t)(end - s));
	if (next != NULL) {
		const char *ostart = next;
		size_t rest = size - (size_t)(next - s);

		end = part_end(ostart, rest, &next);
		/* overrides: NUL-separated, each confined */
		for (const char *o = ostart; o < end && nov < MAX_OVERRIDES;) {
			const char *z = memchr(o, '\0', (size_t)(end - o));
			size_t n = z ? (size_t)(z - o) : (size_t)(end - o);

			ovoff[nov++] = ovs.len;
			confine(&ovs, o, n);
			put(&ovs, "", 1);
			o += n + 1;
		}
		if (next != NULL) {
			inc = next;
			inclen = size - (size_t)(next - s);
		}
	}
	for (size_t i = 0; i < nov; i++)
		ov[i] = ovs.data + ovoff[i];
	write_file(conf_path, file.data ? file.data : "", file.len);
	write_file(inc_path, inc ? inc : "", inclen);

	memset(&err, 0x55, sizeof(err));
	if (conf_load(&c, conf_path, ov, nov, &err) == 0) {
		check_conf(&c);
		check_dump(&c);
		conf_free(&c);
	} else {
		/* one message, and nothing left behind in c */
		CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		CHECK(err.msg[0] != '\0');
		CHECK(c.domains == NULL && c.mboxes == NULL &&
		    c.hostname == NULL && c.path == NULL);
	}
	buf_free(&file);
	buf_free(&ovs);
	return 0;
}
