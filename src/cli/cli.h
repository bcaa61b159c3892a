/*
 * cli - the verbs of the `tern` command and what they share.
 *
 * tern.c holds the verb table and dispatches; each verb lives in its own
 * file with a <verb>_main() that gets argv starting at the verb's name
 * and returns an exit status from sysexits.h (0 on success).
 */
#ifndef TERN_CLI_H
#define TERN_CLI_H

#include <stdio.h>

int explain_main(int argc, char **argv);
int send_main(int argc, char **argv);
int probe_main(int argc, char **argv);
int passwd_main(int argc, char **argv);
int queue_main(int argc, char **argv);

extern const char explain_usage[];
extern const char send_usage[];
extern const char probe_usage[];
extern const char passwd_usage[];
extern const char queue_usage[];

int cli_want_help(int argc, char **argv);
int cli_color(FILE *f);

#endif
