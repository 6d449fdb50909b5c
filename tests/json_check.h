/* SPDX-License-Identifier: MIT */
/* json_check.h -- a strict JSON checker for tests: json_ok(s, len) says whether s is exactly one JSON
 * document (RFC 8259 grammar, blanks around it allowed, no NUL inside, well-formed UTF-8).  Shared by
 * test_ctl.c and the fuzz target, which both check the control file's json answers. */
#ifndef FABRIC_TESTS_JSON_CHECK_H
#define FABRIC_TESTS_JSON_CHECK_H

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static const char *j_value(const char *p, int depth);

static const char *j_ws(const char *p)
{
	while (p && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *j_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL; /* a raw control character, or the end of the text */
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 5;
				continue;
			}
			if (!*p || !strchr("\"\\/bfnrt", *p))
				return NULL;
		}
		p++;
	}
}

static const char *j_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

static const char *j_value(const char *p, int depth)
{
	p = j_ws(p);
	if (depth > 64)
		return NULL;
	switch (*p) {
	case '{':
		p = j_ws(p + 1);
		if (*p == '}')
			return p + 1;
		for (;;) {
			p = j_string(j_ws(p));
			if (!p)
				return NULL;
			p = j_ws(p);
			if (*p++ != ':')
				return NULL;
			p = j_ws(j_value(p, depth + 1));
			if (!p)
				return NULL;
			if (*p == '}')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '[':
		p = j_ws(p + 1);
		if (*p == ']')
			return p + 1;
		for (;;) {
			p = j_ws(j_value(p, depth + 1));
			if (!p)
				return NULL;
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '"':
		return j_string(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return j_number(p);
	}
}

/* Is s[0..len) well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF)? */
static bool utf8_ok(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned c = s[i], n, cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Is s[0..len) exactly one JSON document (blanks around it allowed, no NUL inside, UTF-8 as RFC 8259
 * requires of JSON exchanged between systems)? */
static bool json_ok(const char *s, size_t len)
{
	const char *end;

	if (!s || strlen(s) != len || !utf8_ok((const unsigned char *)s, len))
		return false;
	end = j_ws(j_value(s, 0));
	return end && *end == '\0';
}

#endif
