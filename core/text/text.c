/* SPDX-License-Identifier: MIT */
/* text.c -- the growing text buffer and the sentence of a refusal (text.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text/text.h"

int text_vprintf(struct text *x, const char *fmt, va_list ap)
{
	for (;;) {
		size_t room = x->cap - x->len;
		va_list aq;
		int n;

		if (x->rc)
			return x->rc;
		va_copy(aq, ap);
		n = vsnprintf(x->buf ? x->buf + x->len : NULL, x->buf ? room : 0, fmt, aq);
		va_end(aq);
		if (n < 0)
			return x->rc = -EINVAL;
		if (x->buf && (size_t)n < room) {
			x->len += (size_t)n;
			return 0;
		}
		size_t cap = x->cap ? x->cap : 256;
		while (cap < x->len + (size_t)n + 1)
			cap *= 2;
		char *nb = realloc(x->buf, cap);
		if (!nb) {
			if (x->buf)
				x->buf[x->len] = '\0';
			return x->rc = -ENOMEM;
		}
		x->buf = nb;
		x->cap = cap;
	}
}

int text_printf(struct text *x, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = text_vprintf(x, fmt, ap);
	va_end(ap);
	return rc;
}

void text_reset(struct text *x)
{
	x->len = 0;
	x->rc = 0;
	if (x->buf)
		x->buf[0] = '\0';
}

void text_free(struct text *x)
{
	free(x->buf);
	x->buf = NULL;
	x->len = x->cap = 0;
	x->rc = 0;
}

int text_take(struct text *x, char **buf, size_t *len)
{
	int rc = x->rc;

	if (rc) {
		text_free(x);
		return rc;
	}
	if (!x->buf) {
		x->buf = strdup("");
		if (!x->buf)
			return -ENOMEM;
	}
	*buf = x->buf;
	*len = x->len;
	x->buf = NULL;
	x->len = x->cap = 0;
	return 0;
}

int text_vsay(char *why, size_t whylen, int rc, const char *fmt, va_list ap)
{
	if (!why || !whylen)
		return rc;
	vsnprintf(why, whylen, fmt, ap);
	for (char *p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return rc;
}

int text_say(char *why, size_t whylen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = text_vsay(why, whylen, rc, fmt, ap);
	va_end(ap);
	return rc;
}

void text_log(void (*log)(const char *msg), const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log(msg);
}

int text_hostport(const char *spec, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(spec, ':');
	size_t n;

	if (!colon || colon == spec || !colon[1])
		return -EINVAL;
	n = (size_t)(colon - spec);
	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') { /* [::1]:PORT */
		spec++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen)
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}
