/* SPDX-License-Identifier: MIT */
/* ctl_answer.c -- the shapes every verb answers in (ctlInt.h): the one-sentence refusal, JSON values made
 * with jansson (every JSON answer is one document built with it and written whole), and flat answers of
 * named values as "key<TAB>value" lines or one JSON object.
 *
 * A flat answer is written once as data (struct ctl_field) so that its text and JSON forms cannot drift
 * apart: the same keys in the same order, whichever a user asks for. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Names are bytes, not always UTF-8, and jansson takes UTF-8 only: a byte that starts no valid sequence
 * becomes the code point of the same value (Latin-1), so the document stays valid JSON. */
json_t *ctl_jstr(const char *s)
{
	size_t o = 0;
	char *u;
	json_t *j;

	if (!s)
		return json_null();
	u = malloc(2 * strlen(s) + 1);
	if (!u)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int n = *p < 0x80 ? 1 : utf8_len(p);
		if (n > 0) {
			memcpy(u + o, p, (size_t)n);
			o += (size_t)n;
			p += n - 1;
		} else { /* U+0080..U+00FF in two bytes */
			u[o++] = (char)(0xc0 | (*p >> 6));
			u[o++] = (char)(0x80 | (*p & 0x3f));
		}
	}
	j = json_stringn(u, o);
	free(u);
	return j;
}

json_t *ctl_jnum(uint64_t n)
{
	return json_integer((json_int_t)n);
}

int ctl_json_done(struct text *ans, json_t *doc)
{
	char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = s ? text_printf(ans, "%s\n", s) : -ENOMEM;

	free(s);
	json_decref(doc);
	return rc;
}

int ctl_jset(json_t *obj, const char *key, json_t *v)
{
	return obj && v && json_object_set_new(obj, key, v) == 0 ? 0 : (json_decref(v), -ENOMEM);
}

int ctl_jpush(json_t *arr, json_t *v)
{
	return arr && v && json_array_append_new(arr, v) == 0 ? 0 : (json_decref(v), -ENOMEM);
}

json_t *ctl_fields_obj(const struct ctl_field *f, size_t n)
{
	json_t *o = json_object();
	int rc = o ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = ctl_jset(o, f[i].key, f[i].str ? ctl_jstr(f[i].str) : ctl_jnum(f[i].num));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int ctl_fields(struct text *ans, bool json, const struct ctl_field *f, size_t n)
{
	int rc = 0;

	if (json)
		return ctl_json_done(ans, ctl_fields_obj(f, n));
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = f[i].str ? text_printf(ans, "%s\t%s\n", f[i].key, f[i].str)
			      : text_printf(ans, "%s\t%llu\n", f[i].key, (unsigned long long)f[i].num);
	return rc;
}
