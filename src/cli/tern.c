/*
 * tern - the command-line tool: `tern VERB [options]`.
 *
 * One table maps verb names to their main function and usage text; add a
 * row to add a verb. Invoked as `sendmail`
 * (argv[0]'s base name), tern behaves as `tern send`, so it can be
 * installed in sendmail's place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "../lib/util.h"


struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *summary;
};

static const struct verb verbs[] = {
	{ "explain", explain_main, explain_usage,
	    "explain an SMTP reply code, reply line or bounce message" },
	{ "send", send_main, send_usage,
	    "submit a message (sendmail-compatible)" },
	{ "passwd", passwd_main, passwd_usage,
	    "print a password hash for the AUTH users file" },
	{ "probe", probe_main, probe_usage,
	    "walk through an SMTP dialogue with a server and judge it" },
	{ "queue", queue_main, queue_usage,
	    "list the mail queue; flush, delete or bounce messages" },
};

#ifndef TERN_VERSION
#define TERN_VERSION "0.1.0"
#endif

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: tern VERB [options] [arguments]\n\nVerbs:\n");
	for (i = 0; i < ARRAY_LEN(verbs); i++)
		fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\n`tern VERB --help` shows a verb's options; "
	    "man tern(1) has examples.\n");
}

/* cli_want_help - does argv (after the verb) ask for help? */
int
cli_want_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/* cli_color - colour on f: only on a terminal, and only without NO_COLOR */
int
cli_color(FILE *f)
{
	const char *nc = getenv("NO_COLOR");

	if (nc != NULL && *nc != '\0')
		return 0;
	return isatty(fileno(f));
}

static const struct verb *
find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct verb *v;
	const char *base;

	base = argc > 0 && argv[0] != NULL ? strrchr(argv[0], '/') : NULL;
	base = base != NULL ? base + 1 : argc > 0 && argv[0] ? argv[0] : "";
	if (strcmp(base, "sendmail") == 0)
		return send_main(argc, argv);

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && (v = find_verb(argv[2])) != NULL) {
			fputs(v->usage, stdout);
			return EX_OK;
		}
		usage(stdout);
		return EX_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("tern %s\n", TERN_VERSION);
		return EX_OK;
	}
	if ((v = find_verb(argv[1])) == NULL) {
		fprintf(stderr, "tern: unknown verb \"%s\"\n", argv[1]);
		usage(stderr);
		return EX_USAGE;
	}
	/* sendmail's options include -h-like letters; send parses its own */
	if (v->run != send_main && cli_want_help(argc - 1, argv + 1)) {
		fputs(v->usage, stdout);
		return EX_OK;
	}
	return v->run(argc - 1, argv + 1);
}
