/*
 * passwd_cmd - `tern passwd`: print a crypt(3) hash of a new password for
 * the users file (`user:HASH`), made by libcrypt with the strongest
 * method it prefers (yescrypt on Debian) and a random salt.
 *
 * The password is read from the terminal without echo (asked twice), or
 * as one line from standard input when that is not a terminal.
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"

const char passwd_usage[] =
    "usage: tern passwd [USER]\n"
    "  Prints a password hash for the users file (see tern.conf(5)):\n"
    "  USER:HASH when USER is given, else just HASH. The password is read\n"
    "  from the terminal (twice, not echoed) or from standard input.\n"
    "example:\n"
    "  tern passwd alice@example.org >> /etc/tern/users\n";

/* read one line into buf without echo when on a terminal; -1 at EOF */
static int
read_secret(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO);
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		} else {
			tty = 0;
		}
	}
	if (fgets(buf, (int)cap, stdin) == NULL) {
		if (tty)
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		return -1;
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

/* passwd_main - tern passwd [USER] */
int
passwd_main(int argc, char **argv)
{
	char pw[1024], again[1024];
	const char *user = argc > 1 ? argv[1] : NULL;
	char *setting, *hash;
	int rc = EX_OK;

	if (argc > 2 || (user != NULL && (user[0] == '-' ||
	    strchr(user, ':') != NULL))) {
		fputs(passwd_usage, stderr);
		return EX_USAGE;
	}
	if (read_secret("New password: ", pw, sizeof(pw)) < 0 || pw[0] == '\0') {
		fprintf(stderr, "tern passwd: no password given\n");
		return EX_DATAERR;
	}
	if (isatty(STDIN_FILENO)) {
		if (read_secret("Again: ", again, sizeof(again)) < 0 ||
		    strcmp(pw, again) != 0) {
			fprintf(stderr, "tern passwd: the passwords differ\n");
			OPENSSL_cleanse(pw, sizeof(pw));
			OPENSSL_cleanse(again, sizeof(again));
			return EX_DATAERR;
		}
		OPENSSL_cleanse(again, sizeof(again));
	}
	/* NULL prefix: libcrypt's preferred method, salt from the kernel */
	setting = crypt_gensalt_ra(NULL, 0, NULL, 0);
	hash = setting ? crypt(pw, setting) : NULL;
	if (hash == NULL || hash[0] == '*') {
		fprintf(stderr, "tern passwd: cannot hash: %s\n",
		    strerror(errno));
		rc = EX_SOFTWARE;
	} else if (user != NULL) {
		printf("%s:%s\n", user, hash);
	} else {
		printf("%s\n", hash);
	}
	free(setting);
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}
