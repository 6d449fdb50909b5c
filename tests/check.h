/* SPDX-License-Identifier: MIT */
/* check.h -- tiny assertion macros for the unit-test programs.
 *
 * Each tests/test_<module>.c is one program: it runs its cases, prints every failed CHECK with file:line,
 * and exits 0 when all passed, 1 when one failed, 77 when it had to skip (liburing's convention, which
 * tests/run.sh understands). */
#ifndef FABRIC_TESTS_CHECK_H
#define FABRIC_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

static int check_failures;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                    \
		}                                                                            \
	} while (0)

/* CHECK_RC(expr, want): an int-returning call gave exactly want (0 or a negative errno). */
#define CHECK_RC(expr, want)                                                                  \
	do {                                                                                  \
		int check_rc_ = (expr);                                                       \
		if (check_rc_ != (want)) {                                                    \
			fprintf(stderr, "%s:%d: %s returned %d, want %d\n", __FILE__, __LINE__, \
				#expr, check_rc_, (int)(want));                               \
			check_failures++;                                                     \
		}                                                                             \
	} while (0)

#define CHECK_DONE() (check_failures ? T_EXIT_FAIL : T_EXIT_PASS)

#endif
