/* SPDX-License-Identifier: MIT */
/* dtype.h -- datashape-style type strings ("40 * 20 * float64") for the variables a fabric stores, so the
 * filesystem can tell an object's element size, element count and total bytes, and check that a type fits
 * the object it is attached to.
 *
 * Grammar (whitespace -- spaces and tabs -- is allowed around every token):
 *     type      := { dimension '*' } scalar
 *     dimension := [1-9][0-9]*                  a positive decimal integer that fits in 64 bits
 *     scalar    := bool | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
 *                | float16 | float32 | float64 | complex64 | complex128
 *                | int (int32) | float, double, real (float64) | complex (complex128) | byte (uint8)
 * Names are case-sensitive.  Aliases are accepted but never printed: dtype_format writes the canonical name.
 * Both functions are reentrant; neither allocates. */
#ifndef FABRIC_CORE_DTYPE_H
#define FABRIC_CORE_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DTYPE_MAX_DIMS 32
/* Longest canonical string dtype_format writes, NUL included.  Any type dtype_parse accepts needs far
 * less (the dimensions' product must fit in 64 bits, which bounds their total digits); only a struct
 * filled in by hand with huge dimensions can exceed it. */
#define DTYPE_STR_MAX 512

struct dtype {
	char scalar[16];           /* canonical scalar name, e.g. "float64" */
	uint32_t elem_size;        /* bytes per element */
	uint32_t ndims;            /* 0 for a scalar */
	uint64_t dims[DTYPE_MAX_DIMS];
	uint64_t count;            /* product of dims; 1 for a scalar */
	uint64_t nbytes;           /* count * elem_size */
};

/* Parse s.  Returns 0, or -EINVAL (malformed; err gets one sentence naming what is wrong and where,
 * e.g. "unknown scalar type 'flaot64' at offset 0; known: bool, int8, ...") or -EOVERFLOW (dimensions whose
 * product in bytes does not fit in 64 bits).  err may be NULL; errlen bounds it (always NUL-terminated when
 * errlen > 0; set to "" on success).  *out is written only on success.  s longer than 4096 bytes or holding
 * control characters other than tab is refused; a NULL s or out is -EINVAL. */
int dtype_parse(const char *s, struct dtype *out, char *err, size_t errlen);

/* Canonical form: dims joined by " * ", then the scalar: "40 * 20 * float64".  Returns 0 or -ERANGE if len
 * is too small (buf is then set to "" when len > 0); -EINVAL for a NULL t or buf, or t->ndims over
 * DTYPE_MAX_DIMS. */
int dtype_format(const struct dtype *t, char *buf, size_t len);

/* Does t narrow base: the same scalar, with base's dimensions as its last ones?  "3 * 2 * float64"
 * narrows "2 * float64" and so does "2 * float64" itself; "2 * 3 * float64" and "2 * float32" do not.
 * A keyed dataset's items may carry such a type (core/store/store_dataset.c). */
bool dtype_narrows(const struct dtype *t, const struct dtype *base);

/* The type of size bytes of base's values: base itself when size is base->nbytes, "N * base" when it is
 * N > 1 of them.  -EINVAL when size is 0 or not a whole number of them, -EOVERFLOW when base already
 * has DTYPE_MAX_DIMS dimensions or base->nbytes is 0. */
int dtype_fit(const struct dtype *base, uint64_t size, struct dtype *out);

#endif
