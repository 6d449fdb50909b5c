/* SPDX-License-Identifier: MIT */
/* ctl_answer.c -- the shapes every verb answers in (ctlInt.h): the one-sentence refusal, JSON string
 * literals, and flat answers of named values as "key<TAB>value" lines or one JSON object.
 *
 * A flat answer is written once as data (struct ctl_field) so that its text and JSON forms cannot drift
 * apart: the same keys in the same order, whichever a user asks for. */
#include <stdarg.h>
#include <stdio.h>

#include "core/ctl/ctlInt.h"

int ctl_fail(struct text *ans, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	text_vsay(msg, sizeof(msg), rc, fmt, ap);
	va_end(ap);
	text_reset(ans);
	text_printf(ans, "%s\n", msg);
	return rc;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static int utf8_len(const unsigned char *p)
{
	int n = *p >= 0xf0 && *p <= 0xf4 ? 4 : *p >= 0xe0 && *p < 0xf0 ? 3 : *p >= 0xc2 && *p < 0xe0 ? 2 : 0;

	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Names are bytes, not always UTF-8: a byte that starts no valid sequence is written as the code point of
 * the same value (Latin-1), so the document stays valid JSON. */
int ctl_json_str(struct text *ans, const char *s)
{
	int rc = text_printf(ans, "\"");

	for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
		int n;
		if (*p == '"' || *p == '\\')
			rc = text_printf(ans, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			rc = text_printf(ans, "\\u%04x", *p);
		else if (*p < 0x80)
			rc = text_printf(ans, "%c", *p);
		else if ((n = utf8_len(p)) > 0) {
			rc = text_printf(ans, "%.*s", n, (const char *)p);
			p += n - 1;
		} else
			rc = text_printf(ans, "\\u%04x", *p);
	}
	return rc ? rc : text_printf(ans, "\"");
}

int ctl_fields(struct text *ans, bool json, bool open, const struct ctl_field *f, size_t n)
{
	int rc = json ? text_printf(ans, "{") : 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!json) {
			rc = f[i].str ? text_printf(ans, "%s\t%s\n", f[i].key, f[i].str)
				      : text_printf(ans, "%s\t%llu\n", f[i].key, (unsigned long long)f[i].num);
			continue;
		}
		rc = text_printf(ans, "%s\"%s\":", i ? "," : "", f[i].key);
		if (rc == 0)
			rc = f[i].str ? ctl_json_str(ans, f[i].str) : text_printf(ans, "%llu", (unsigned long long)f[i].num);
	}
	return rc || !json || open ? rc : text_printf(ans, "}\n");
}
