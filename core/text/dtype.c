/* SPDX-License-Identifier: MIT */
/* dtype.c -- parser and printer for datashape-style type strings ("40 * 20 * float64").
 *
 * Design notes:
 *  - One left-to-right pass with a byte offset into the string: no token buffer, no allocation and no
 *    mutable globals, so any FUSE worker thread may call it.
 *  - The whole string is screened first (length, control characters), so the grammar code only ever sees
 *    printable bytes and a stray newline is reported as a newline, not as a puzzling syntax error later.
 *  - Syntax is checked to the end before an overflow is reported: a type that is both misspelt and too
 *    big is reported as misspelt, since that is what the user has to fix first.
 *  - Dimensions follow datashape's lexer, [1-9][0-9]*.  A dimension too big for 64 bits is -EOVERFLOW,
 *    not -EINVAL: it is well-formed, its product just cannot fit, like "4294967296 * 4294967296 * uint8".
 *  - The result is built in a local and copied out only on success, so callers may parse straight into
 *    a live struct without it being half-overwritten by a bad string.
 */
#include "core/text/dtype.h"
#include "core/text/chars.h"
#include "core/text/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define INPUT_MAX 4096 /* longer strings are refused before parsing */
#define QUOTE_MAX 32   /* longest token quoted back in an error message */

struct scalar {
	const char *name;
	const char *canon; /* == name for a canonical entry, else the name an alias stands for */
	uint32_t size;
};

/* Canonical names first, in the order the error message lists them; aliases after. */
static const struct scalar scalars[] = {
	{ "bool", "bool", 1 },
	{ "int8", "int8", 1 },
	{ "int16", "int16", 2 },
	{ "int32", "int32", 4 },
	{ "int64", "int64", 8 },
	{ "uint8", "uint8", 1 },
	{ "uint16", "uint16", 2 },
	{ "uint32", "uint32", 4 },
	{ "uint64", "uint64", 8 },
	{ "float16", "float16", 2 },
	{ "float32", "float32", 4 },
	{ "float64", "float64", 8 },
	{ "complex64", "complex64", 8 },
	{ "complex128", "complex128", 16 },
	{ "int", "int32", 4 },
	{ "float", "float64", 8 }, /* datashape's meaning, not C's */
	{ "double", "float64", 8 },
	{ "real", "float64", 8 },
	{ "complex", "complex128", 16 },
	{ "byte", "uint8", 1 },
};
#define NSCALARS (sizeof(scalars) / sizeof(scalars[0]))

/* Tokens are maximal runs of identifier characters, so "3float64" or "0x10" is one bad dimension rather
 * than a good one followed by something puzzling. */
static size_t token_end(const char *s, size_t i)
{
	while (chars_is_ident_start(s[i]) || chars_is_digit(s[i]))
		i++;
	return i;
}

static const struct scalar *find_scalar(const char *tok, size_t n)
{
	for (size_t k = 0; k < NSCALARS; k++)
		if (strlen(scalars[k].name) == n && memcmp(scalars[k].name, tok, n) == 0)
			return &scalars[k];
	return NULL;
}

static int unknown_scalar(const char *tok, size_t n, size_t at, char *err, size_t errlen)
{
	int qn = n > QUOTE_MAX ? QUOTE_MAX : (int)n;
	const char *more = n > QUOTE_MAX ? "..." : "";
	char known[256], aliases[128];
	size_t kl = 0, al = 0;

	/* Users type "Float64" or "INT32" often enough that naming the real spelling beats the full list. */
	for (size_t k = 0; k < NSCALARS; k++)
		if (strlen(scalars[k].name) == n && strncasecmp(scalars[k].name, tok, n) == 0)
			return text_say(err, errlen, -EINVAL,
				    "unknown scalar type '%.*s' at offset %zu; names are case-sensitive, did you mean '%s'?",
				    qn, tok, at, scalars[k].name);

	known[0] = aliases[0] = '\0';
	for (size_t k = 0; k < NSCALARS; k++) {
		int canon = strcmp(scalars[k].name, scalars[k].canon) == 0;
		char *b = canon ? known : aliases;
		size_t *l = canon ? &kl : &al;
		size_t cap = canon ? sizeof(known) : sizeof(aliases);

		*l += snprintf(b + *l, cap - *l, "%s%s", *l ? ", " : "", scalars[k].name);
	}
	return text_say(err, errlen, -EINVAL, "unknown scalar type '%.*s%s' at offset %zu; known: %s (aliases: %s)",
		    qn, tok, more, at, known, aliases);
}

/* Parse the dimension token s[start, end) into *v.  Returns 0, -EINVAL, or -EOVERFLOW (with no message:
 * the caller reports overflow only once the syntax is known to be good). */
static int parse_dim(const char *s, size_t start, size_t end, uint64_t *v, char *err, size_t errlen)
{
	int qn = end - start > QUOTE_MAX ? QUOTE_MAX : (int)(end - start);
	const char *more = end - start > QUOTE_MAX ? "..." : "";
	uint64_t x = 0;
	int fits = 1;

	for (size_t j = start; j < end; j++)
		if (!chars_is_digit(s[j]))
			return text_say(err, errlen, -EINVAL,
				    "dimension '%.*s%s' at offset %zu is not a positive decimal integer",
				    qn, s + start, more, start);
	if (s[start] == '0' && end - start == 1)
		return text_say(err, errlen, -EINVAL, "zero dimension at offset %zu; dimensions must be at least 1",
			    start);
	if (s[start] == '0')
		return text_say(err, errlen, -EINVAL, "dimension '%.*s%s' at offset %zu has a leading zero",
			    qn, s + start, more, start);
	for (size_t j = start; j < end && fits; j++) {
		unsigned d = (unsigned)(s[j] - '0');

		if (x > (UINT64_MAX - d) / 10)
			fits = 0;
		else
			x = x * 10 + d;
	}
	*v = x;
	return fits ? 0 : -EOVERFLOW;
}

int dtype_parse(const char *s, struct dtype *out, char *err, size_t errlen)
{
	struct dtype t = { .count = 1 };
	const struct scalar *sc;
	size_t n, i, start, end;
	size_t over_at = 0; /* offset of the first dimension that overflowed */
	int over = 0;       /* 0, or which overflow: 1 a dimension alone, 2 the element count */
	char cb[16];

	if (err && errlen)
		err[0] = '\0';
	if (!s || !out)
		return text_say(err, errlen, -EINVAL, "no type string or no result to parse it into");

	n = strnlen(s, INPUT_MAX + 1);
	if (n > INPUT_MAX)
		return text_say(err, errlen, -EINVAL, "type string is longer than %d bytes", INPUT_MAX);
	if ((i = chars_find_control(s, n)) < n)
		return text_say(err, errlen, -EINVAL, "control character 0x%02x at offset %zu", (unsigned char)s[i], i);

	i = chars_skip_blanks(s, 0);
	if (s[i] == '\0')
		return text_say(err, errlen, -EINVAL, "type string is empty or only whitespace");

	for (;;) {
		char c = s[i];
		uint64_t v = 0;
		int rc;

		if (chars_is_ident_start(c))
			break;
		if (c == '*')
			return text_say(err, errlen, -EINVAL,
				    t.ndims ? "'*' at offset %zu follows another '*' with no dimension between them"
					    : "leading '*' at offset %zu; a dimension must come before it",
				    i);
		if (c == '+' || c == '-')
			return text_say(err, errlen, -EINVAL,
				    "sign '%c' at offset %zu; dimensions are positive decimal integers without a sign",
				    c, i);
		if (!chars_is_digit(c))
			return text_say(err, errlen, -EINVAL,
				    "unexpected %s at offset %zu; expected a dimension or a scalar type",
				    chars_show(c, cb), i);

		start = i;
		end = token_end(s, i);
		if (t.ndims == DTYPE_MAX_DIMS)
			return text_say(err, errlen, -EINVAL, "dimension at offset %zu is one more than the %d allowed",
				    start, DTYPE_MAX_DIMS);
		rc = parse_dim(s, start, end, &v, err, errlen);
		if (rc == -EINVAL)
			return rc;
		if (rc == -EOVERFLOW && !over) {
			over = 1;
			over_at = start;
		} else if (!over && __builtin_mul_overflow(t.count, v, &t.count)) {
			over = 2;
			over_at = start;
		}
		t.dims[t.ndims++] = v;

		i = chars_skip_blanks(s, end);
		if (s[i] != '*')
			return text_say(err, errlen, -EINVAL,
				    "expected '*' after the dimension at offset %zu, found %s at offset %zu",
				    start, chars_show(s[i], cb), i);
		start = i;
		i = chars_skip_blanks(s, i + 1);
		if (s[i] == '\0')
			return text_say(err, errlen, -EINVAL, "trailing '*' at offset %zu; a scalar type must follow it",
				    start);
	}

	start = i;
	end = token_end(s, i);
	sc = find_scalar(s + start, end - start);
	if (!sc)
		return unknown_scalar(s + start, end - start, start, err, errlen);
	i = chars_skip_blanks(s, end);
	if (s[i] == '*')
		return text_say(err, errlen, -EINVAL,
			    "'*' at offset %zu after the scalar type '%s'; dimensions must come before the scalar",
			    i, sc->name);
	if (s[i] != '\0')
		return text_say(err, errlen, -EINVAL,
			    "unexpected %s at offset %zu after the scalar type '%s'; nothing may follow it",
			    chars_show(s[i], cb), i, sc->name);

	if (over == 1)
		return text_say(err, errlen, -EOVERFLOW, "dimension at offset %zu does not fit in 64 bits", over_at);
	if (over == 2)
		return text_say(err, errlen, -EOVERFLOW,
			    "element count overflows 64 bits at the dimension at offset %zu", over_at);
	if (__builtin_mul_overflow(t.count, (uint64_t)sc->size, &t.nbytes))
		return text_say(err, errlen, -EOVERFLOW,
			    "%" PRIu64 " elements of %s (%" PRIu32 " bytes each) need more than 2^64-1 bytes",
			    t.count, sc->canon, sc->size);

	/* Every canonical name is at most 10 characters, well inside scalar[16]. */
	memcpy(t.scalar, sc->canon, strlen(sc->canon) + 1);
	t.elem_size = sc->size;
	*out = t;
	return 0;
}

int dtype_format(const struct dtype *t, char *buf, size_t len)
{
	size_t off = 0;

	if (!t || !buf || t->ndims > DTYPE_MAX_DIMS)
		return -EINVAL;
	/* snprintf counts what it would have written, so off tracks the full length even once buf is full;
	 * NULL/0 keeps the pointer from running past the end of buf. */
	for (uint32_t k = 0; k < t->ndims; k++)
		off += (size_t)snprintf(off < len ? buf + off : NULL, off < len ? len - off : 0,
					"%" PRIu64 " * ", t->dims[k]);
	off += (size_t)snprintf(off < len ? buf + off : NULL, off < len ? len - off : 0, "%.*s",
				(int)strnlen(t->scalar, sizeof(t->scalar)), t->scalar);
	if (off >= len) {
		if (len)
			buf[0] = '\0';
		return -ERANGE;
	}
	return 0;
}

bool dtype_narrows(const struct dtype *t, const struct dtype *base)
{
	uint32_t extra;

	if (strcmp(t->scalar, base->scalar) != 0 || t->ndims < base->ndims)
		return false;
	extra = t->ndims - base->ndims;
	return memcmp(t->dims + extra, base->dims, base->ndims * sizeof(base->dims[0])) == 0;
}

int dtype_fit(const struct dtype *base, uint64_t size, struct dtype *out)
{
	uint64_t n;

	if (base->nbytes == 0 || base->ndims >= DTYPE_MAX_DIMS)
		return -EOVERFLOW;
	if (size == 0 || size % base->nbytes)
		return -EINVAL;
	*out = *base;
	n = size / base->nbytes;
	if (n == 1)
		return 0;
	memmove(out->dims + 1, out->dims, out->ndims * sizeof(out->dims[0]));
	out->dims[0] = n;
	out->ndims++;
	out->count = base->count * n; /* n * base->nbytes == size fits, so this does */
	out->nbytes = size;
	return 0;
}
