/*
 * explain_cmd - `tern explain`: read a code, a reply or a bounce from the
 * arguments or standard input, print what it means.
 *
 * All the knowledge and parsing is in src/explain; this file only reads
 * input, picks the output form (text, colour on a terminal, or JSON) and
 * writes it. Exit status: 0 when at least one reply was explained, 1 when
 * the input held no reply code, EX_USAGE for bad options.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "../explain/explain.h"
#include "../lib/buf.h"

#define INPUT_MAX (4u << 20) /* a bounce with attachments stays below */

const char explain_usage[] =
    "usage: tern explain [--json] [--color=auto|always|never] CODE...\n"
    "       tern explain [--json] < bounce-or-reply.txt\n"
    "       tern explain --table markdown\n"
    "\n"
    "Explain an SMTP reply in plain words: verdict (delivered, will be\n"
    "retried, failed for good), what each digit means, the likely cause\n"
    "and what to do.\n"
    "\n"
    "Input (arguments are joined with spaces; without arguments, or with\n"
    "\"-\", standard input is read):\n"
    "  550                     a basic reply code\n"
    "  550 5.1.1               a code with its enhanced status code\n"
    "  5.7.26                  an enhanced status code alone\n"
    "  '550-5.1.1 The email account ...'   whole reply lines, also\n"
    "                          multi-line replies and log lines\n"
    "  < bounce.eml            a bounce: RFC 3464 reports (one result per\n"
    "                          recipient) and common non-standard bounces\n"
    "\n"
    "Options:\n"
    "  --json                  one JSON object (an array for several)\n"
    "  --color=WHEN            auto (default: on a terminal, unless\n"
    "                          NO_COLOR is set), always or never\n"
    "  --no-color              same as --color=never\n"
    "  --table markdown        print the knowledge base as tables\n"
    "\n"
    "Exit status: 0 when a reply was explained, 1 when none was found.\n";

static int
read_all(FILE *f, struct buf *b)
{
	char chunk[8192];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > INPUT_MAX) {
			/* XXX the start of a bounce holds the reports */
			n = INPUT_MAX - b->len;
			if (buf_append(b, chunk, n) < 0)
				return -1;
			return 0;
		}
		if (buf_append(b, chunk, n) < 0)
			return -1;
	}
	return ferror(f) ? -1 : 0;
}

static int
write_out(struct buf *b)
{
	if (b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len)
		return -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

/* explain_main - `tern explain`; argv[0] is "explain" */
int
explain_main(int argc, char **argv)
{
	struct explain_result *res;
	struct buf in, out;
	int json = 0, color = -1, use_stdin = 0, i, rc = EX_OK, opts = 1;
	const char *table = NULL;

	buf_init(&in, INPUT_MAX + 1);
	buf_init(&out, 0);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
		} else if (opts && strcmp(a, "--json") == 0) {
			json = 1;
		} else if (opts && (strcmp(a, "--no-color") == 0 ||
		    strcmp(a, "--color=never") == 0)) {
			color = 0;
		} else if (opts && strcmp(a, "--color=always") == 0) {
			color = 1;
		} else if (opts && strcmp(a, "--color=auto") == 0) {
			color = -1;
		} else if (opts && strcmp(a, "--table") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tern explain: --table needs "
				    "a format (markdown)\n");
				return EX_USAGE;
			}
			table = argv[++i];
		} else if (opts && strncmp(a, "--table=", 8) == 0) {
			table = a + 8;
		} else if (strcmp(a, "-") == 0) {
			use_stdin = 1;
		} else if (opts && a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "tern explain: unknown option %s\n%s",
			    a, explain_usage);
			return EX_USAGE;
		} else {
			if (in.len > 0 && buf_putc(&in, ' ') < 0)
				goto nomem;
			if (buf_puts(&in, a) < 0)
				goto nomem;
		}
	}
	if (table != NULL) {
		if (strcmp(table, "markdown") != 0) {
			fprintf(stderr, "tern explain: unknown table format "
			    "\"%s\" (known: markdown)\n", table);
			return EX_USAGE;
		}
		if (explain_table_markdown(&out) < 0 || write_out(&out) < 0)
			goto ioerr;
		buf_free(&out);
		return EX_OK;
	}
	if (in.len == 0 || use_stdin) {
		if (in.len > 0 && buf_putc(&in, '\n') < 0)
			goto nomem;
		if (read_all(stdin, &in) < 0) {
			fprintf(stderr, "tern explain: reading standard input: "
			    "%s\n", strerror(errno));
			return EX_IOERR;
		}
	}
	if (color < 0)
		color = cli_color(stdout);
	if ((res = malloc(sizeof(*res))) == NULL)
		goto nomem;
	explain_parse(in.data != NULL ? in.data : "", in.len, res);
	if (json ? explain_json(&out, res) :
	    explain_text(&out, res, color ? EXPLAIN_COLOR : 0, 78) < 0) {
		free(res);
		goto nomem;
	}
	if (res->n == 0)
		rc = 1;
	free(res);
	if (write_out(&out) < 0)
		goto ioerr;
	buf_free(&in);
	buf_free(&out);
	return rc;
nomem:
	fprintf(stderr, "tern explain: out of memory\n");
	return EX_OSERR;
ioerr:
	fprintf(stderr, "tern explain: writing output: %s\n", strerror(errno));
	return EX_IOERR;
}
