/* SPDX-License-Identifier: MIT */
/* chars.h -- the ASCII character classes every parser of core/text/ uses, and how a message shows a
 * character.  ASCII only, never <ctype.h>: that follows the locale, and a type, a scope or a node name
 * must mean the same in every process that reads it. */
#ifndef FABRIC_CORE_TEXT_CHARS_H
#define FABRIC_CORE_TEXT_CHARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

static inline bool chars_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool chars_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A letter or '_': what may start an identifier. */
static inline bool chars_is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A character of a node name: [A-Za-z0-9_-] (names_check_node). */
static inline bool chars_is_node(char c)
{
	return chars_is_ident_start(c) || chars_is_digit(c) || c == '-';
}

/* The index of the first control character (below 0x20 but tab, or 0x7f) in s[0..n), or n when none: a
 * type or scope holding one would break the line-oriented answers that print it. */
static inline size_t chars_find_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return i;
	}
	return n;
}

/* The index of the first non-blank at or after s[i]. */
static inline size_t chars_skip_blanks(const char *s, size_t i)
{
	while (chars_is_blank(s[i]))
		i++;
	return i;
}

/* The character c for a message: "end of string", "space", "tab", 'x', or "byte 0xNN".  buf holds 16
 * bytes; the result is buf or a literal. */
static inline const char *chars_show(char c, char *buf)
{
	unsigned char u = (unsigned char)c;

	if (u == '\0')
		return "end of string";
	if (u == ' ')
		return "space";
	if (u == '\t')
		return "tab";
	if (u > 0x20 && u < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", u);
	return buf;
}

#endif
