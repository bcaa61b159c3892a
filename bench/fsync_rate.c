/*
 * fsync_rate - how many durable Maildir-style deliveries per second the
 * disk under DIR allows, without any SMTP: the floor of what a server
 * that fsyncs can acknowledge.
 *
 *   fsync_rate -d DIR [-t THREADS] [-s SECONDS] [-n MAX] [-b BYTES] [-u]
 *              [-k] [-x]
 *
 * Each thread repeats the chain a durable Maildir delivery needs:
 *   open(tmp/N, O_CREAT|O_EXCL) + write BYTES + fsync + close,
 *   rename(tmp/N, new/N), fsync(new/)
 * in one shared tmp/ and new/ (one mailbox, as the benchmark's), for
 * SECONDS or until MAX chains in total. With -x the chain is ternd's
 * own instead (the file has no name until it is synced):
 *   open(new/, O_TMPFILE) + write BYTES + fsync,
 *   linkat(/proc/self/fd/N, new/N), close, fsync(new/)
 * With -u both fsyncs are left out:
 * the file-system work alone, the ceiling for unsafe_no_fsync. Prints one
 * JSON line:
 *   {"threads":T,"ops":N,"seconds":S,"rate":R,"p50_ms":..,"p99_ms":..,
 *    "cpu_ms":..}
 * where cpu_ms is the process's user + system CPU time per chain: what
 * the disk path costs in CPU before any SMTP.
 * The files are removed afterwards, unless -k keeps them: on ext4 without
 * a journal, freshly deleted inodes slow down every inode allocation for
 * a minute or more (recently_deleted()), so a caller that measures again
 * removes them only when it has finished. Bounded in time and count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static double seconds = 3.0;
static int sync_on = 1;
static int keep_files;
static long max_ops = 200000;
static size_t bytes = 1024;
static int unnamed; /* -x */
static char *payload;
static atomic_long ops_done;
static atomic_int failed;
static double t_end;

struct worker {
	pthread_t th;
	int id;
	long n;
	double *lat; /* seconds per chain */
	long cap;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "fsync_rate: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	char tmp[4096], new[4096], newdir[4096];
	int dfd, fd;

	snprintf(newdir, sizeof(newdir), "%s/new", dir);
	while (now() < t_end && !atomic_load(&failed)) {
		long k = atomic_fetch_add(&ops_done, 1);
		double t0;

		if (k >= max_ops) {
			atomic_fetch_sub(&ops_done, 1);
			break;
		}
		t0 = now();
		snprintf(tmp, sizeof(tmp), "%s/tmp/f%d.%ld", dir, w->id, w->n);
		snprintf(new, sizeof(new), "%s/new/f%d.%ld", dir, w->id, w->n);
		fd = unnamed ? open(newdir, O_TMPFILE | O_WRONLY | O_CLOEXEC,
		    0600) : open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
		    0600);
		if (fd < 0)
			die(unnamed ? newdir : tmp);
		if (write(fd, payload, bytes) != (ssize_t)bytes)
			die("write");
		if (sync_on && fsync(fd) < 0)
			die("fsync");
		if (unnamed) {
			snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d", fd);
			if (linkat(AT_FDCWD, tmp, AT_FDCWD, new,
			    AT_SYMLINK_FOLLOW) < 0)
				die("linkat");
		}
		if (close(fd) < 0)
			die("close");
		if (!unnamed && rename(tmp, new) < 0)
			die("rename");
		if (sync_on) {
			dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0)
				die(newdir);
			if (fsync(dfd) < 0)
				die("fsync dir");
			close(dfd);
		}
		if (w->n < w->cap)
			w->lat[w->n] = now() - t0;
		w->n++;
	}
	return NULL;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int threads = 1, ch, i;
	struct worker *w;
	struct rusage ru;
	double t0, el, *all, cpu;
	long total = 0, nl = 0, k;
	char path[4096];

	while ((ch = getopt(argc, argv, "d:t:s:n:b:ukx")) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'n': max_ops = atol(optarg); break;
		case 'b': bytes = (size_t)atol(optarg); break;
		case 'u': sync_on = 0; break;
		case 'k': keep_files = 1; break;
		case 'x': unnamed = 1; break;
		default:
			fprintf(stderr, "usage: fsync_rate -d DIR [-t THREADS] "
			    "[-s SECONDS] [-n MAX] [-b BYTES] [-u] [-k] [-x]\n");
			return 2;
		}
	}
	if (dir == NULL || threads < 1 || threads > 256 || seconds <= 0 ||
	    seconds > 600 || max_ops < 1) {
		fprintf(stderr, "fsync_rate: need -d DIR, 1..256 threads, "
		    "0..600 s\n");
		return 2;
	}
	payload = malloc(bytes ? bytes : 1);
	memset(payload, 'x', bytes);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/new", dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		die(path);

	w = calloc((size_t)threads, sizeof(*w));
	t0 = now();
	t_end = t0 + seconds;
	for (i = 0; i < threads; i++) {
		w[i].id = i;
		w[i].cap = max_ops;
		w[i].lat = malloc(sizeof(double) * (size_t)max_ops);
		if (w[i].lat == NULL)
			die("malloc");
		pthread_create(&w[i].th, NULL, run, &w[i]);
	}
	for (i = 0; i < threads; i++)
		pthread_join(w[i].th, NULL);
	el = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;

	for (i = 0; i < threads; i++)
		total += w[i].n;
	all = malloc(sizeof(double) * (size_t)(total ? total : 1));
	for (i = 0; i < threads; i++)
		for (k = 0; k < w[i].n && k < w[i].cap; k++)
			all[nl++] = w[i].lat[k];
	qsort(all, (size_t)nl, sizeof(double), cmp_d);

	/* clean up what we made */
	for (i = 0; i < threads && !keep_files; i++) {
		for (k = 0; k < w[i].n; k++) {
			snprintf(path, sizeof(path), "%s/new/f%d.%ld", dir, i, k);
			unlink(path);
		}
	}
	printf("{\"threads\":%d,\"bytes\":%zu,\"ops\":%ld,\"seconds\":%.3f,"
	    "\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"cpu_ms\":%.4f}\n",
	    threads, bytes, total, el, el > 0 ? (double)total / el : 0.0,
	    nl ? all[nl / 2] * 1e3 : 0.0,
	    nl ? all[(long)((double)nl * 0.99)] * 1e3 : 0.0,
	    total ? cpu * 1e3 / (double)total : 0.0);
	return 0;
}
