/* SPDX-License-Identifier: MIT */
/* names.c -- name rules for objects and nodes (see names.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/text/chars.h"
#include "core/text/names.h"
#include "core/text/text.h"

int names_check_leaf(const char *name, char *why, size_t whylen)
{
	size_t len = strlen(name);

	if (len > NAMES_LEAF_MAX) {
		text_say(why, whylen, 0, "name is longer than 255 bytes");
		return -ENAMETOOLONG;
	}
	if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		text_say(why, whylen, 0, "name is empty, '.' or '..'");
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '/') {
			text_say(why, whylen, 0, "name contains '/'");
			return -EINVAL;
		}
		if (*p < 0x20 || *p == 0x7f) {
			text_say(why, whylen, 0, "name contains a control character");
			return -EINVAL;
		}
		if (*p == '@') {
			text_say(why, whylen, 0, "'@' is reserved for versions (NAME@V)");
			return -EINVAL;
		}
	}
	return 0;
}

int names_check_node(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > NAMES_NODE_MAX)
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if (!chars_is_node(*p))
			return -EINVAL;
	return 0;
}

void names_default_node(char *buf, size_t len)
{
	char host[256] = "";
	size_t n = 0;

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	for (const char *p = host; *p && *p != '.' && n < NAMES_NODE_MAX && n + 1 < len; p++)
		buf[n++] = chars_is_node(*p) ? *p : '-';
	buf[n] = '\0';
	if (n == 0)
		snprintf(buf, len, "local");
}
