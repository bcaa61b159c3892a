/*
 * unit_check - the assertions every unit test uses: each names what it
 * checks and prints what it got next to what it wanted. Include after
 * <cmocka.h> (fail_msg) and <string.h>.
 */
#ifndef TERN_UNIT_CHECK_H
#define TERN_UNIT_CHECK_H

#define CHECK_INT(what, got, want)                                          \
	do {                                                                \
		long long g_ = (long long)(got), w_ = (long long)(want);    \
		if (g_ != w_)                                               \
			fail_msg("%s: got %lld, want %lld", (what), g_, w_); \
	} while (0)

/* NULL is a value too: it equals only NULL */
#define CHECK_STR(what, got, want)                                          \
	do {                                                                \
		const char *g_ = (got), *w_ = (want);                       \
		if ((g_ == NULL) != (w_ == NULL) ||                         \
		    (g_ != NULL && strcmp(g_, w_) != 0))                    \
			fail_msg("%s: got \"%s\", want \"%s\"", (what),     \
			    g_ ? g_ : "(null)", w_ ? w_ : "(null)");        \
	} while (0)

#endif
