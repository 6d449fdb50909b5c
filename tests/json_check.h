/* SPDX-License-Identifier: MIT */
/* json_check.h -- a strict JSON check for tests: json_ok(s, len) says whether s is exactly one JSON
 * document (blanks around it allowed, no NUL inside, well-formed UTF-8), as jansson parses it.  Shared by
 * test_ctl.c and the fuzz target, which both check the control file's json answers. */
#ifndef FABRIC_TESTS_JSON_CHECK_H
#define FABRIC_TESTS_JSON_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

static inline bool json_ok(const char *s, size_t len)
{
	json_t *j;

	if (!s || memchr(s, '\0', len))
		return false;
	j = json_loadb(s, len, JSON_DECODE_ANY, NULL);
	json_decref(j);
	return j != NULL;
}

#endif
