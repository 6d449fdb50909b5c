/* SPDX-License-Identifier: MIT */
/* size.c -- parsing and printing byte sizes (see size.h).
 *
 * Signs are refused rather than wrapped: strtoull("-1") is UINT64_MAX, which would turn a typo into an
 * enormous capacity.  Suffixes are binary (K = 1024), as dd and tmpfs's size= use them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/text/size.h"

int size_parse(const char *s, uint64_t *out)
{
	static const struct { const char *sfx; unsigned shift; } sfx[] = {
		{ "", 0 },     { "k", 10 },   { "kib", 10 }, { "m", 20 }, { "mib", 20 }, { "g", 30 },
		{ "gib", 30 }, { "t", 40 },   { "tib", 40 }, { "b", 0 },
	};
	uint64_t v = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EOVERFLOW;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcasecmp(p, sfx[i].sfx) != 0)
			continue;
		if (sfx[i].shift && v > (UINT64_MAX >> sfx[i].shift))
			return -EOVERFLOW;
		*out = v << sfx[i].shift;
		return 0;
	}
	return -EINVAL;
}

void size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
}
