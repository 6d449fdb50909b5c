/* SPDX-License-Identifier: MIT */
/* text.h -- the two ways the fabric builds text: a growing buffer for answers and file contents, and the
 * one-sentence "why" that every refusal fills in.
 *
 * core/text/ is the bottom room of core: values parsed and printed (types, scopes, names, sizes) and the
 * text they are printed into, with no I/O and no state.  Every other room of core may use it; it uses
 * nothing of core.
 *
 * Ownership: a struct text owns its buf (NULL until the first byte, always NUL-terminated after it);
 * text_free gives it back, text_take hands it to the caller, who frees it.  A zeroed struct text is an
 * empty buffer. */
#ifndef FABRIC_CORE_TEXT_TEXT_H
#define FABRIC_CORE_TEXT_TEXT_H

#include <stdarg.h>
#include <stddef.h>

struct text {
	char *buf;
	size_t len, cap;
	int rc; /* the first failure (-ENOMEM, -EINVAL); once set, the text is cut there and printf does nothing */
};

/* Append printf-style.  Returns 0, or the buffer's failure (sticky: later calls return it too). */
int text_printf(struct text *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int text_vprintf(struct text *x, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Empty the buffer (keeping its memory) and forget a failure. */
void text_reset(struct text *x);
/* Free the buffer; x is empty afterwards.  Accepts an empty x. */
void text_free(struct text *x);
/* Hand the buffer to the caller (*buf: a NUL-terminated string, "" when nothing was written; the caller
 * frees it), leaving x empty.  On a failure met while printing, frees it and returns that failure. */
int text_take(struct text *x, char **buf, size_t *len);

/* The sentence of a refusal: printf into why (when why is not NULL and whylen not 0), one line (a newline
 * in a quoted word becomes a blank, so line-oriented answers stay whole), and return rc, so a refusal is
 * `return text_say(why, whylen, -EINVAL, "...", ...)`. */
int text_say(char *why, size_t whylen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int text_vsay(char *why, size_t whylen, int rc, const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* A log line, printf-style, handed to log (a module's log callback; NULL: nothing is said). */
void text_log(void (*log)(const char *msg), const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "HOST:PORT" or "[V6]:PORT" split at its last colon: host (brackets dropped) into host, *port pointing
 * into spec.  -EINVAL when there is no host, no port, or the host does not fit. */
int text_hostport(const char *spec, char *host, size_t hostlen, const char **port);

#endif
