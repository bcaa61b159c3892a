/*
 * log - event lines to stderr or syslog.
 *
 * The logger is called from the event loop and from commit workers, so a
 * line is formatted into a local buffer and written with one write(2),
 * which keeps lines from different threads whole.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int log_syslog;
static enum log_level log_level = LOG_LVL_INFO;
static const char *log_ident = "ternd";

/* log_open - choose the destination; ident names the program in each line */
void
log_open(const char *ident, int use_syslog)
{
	log_ident = ident;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* log_set_level - lines above lvl are dropped */
void
log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

/* log_msg - write one event line */
void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *name[] = { "error", "warning", "info", "debug" };
	char line[2048];
	size_t n = 0;
	va_list ap;
	int r;

	if (lvl > log_level)
		return;
	if (!log_syslog) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%d]: %s: ",
		    ts.tv_nsec / 1000000, log_ident, (int)self_pid(), name[lvl]);
		if (r > 0)
			n += (size_t)r;
	}
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (log_syslog) {
		line[n] = '\0';
		syslog(prio[lvl], "%s", line);
		return;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report a failing log */
	}
}
