/* SPDX-License-Identifier: MIT */
/* size.h -- byte sizes as people write them: "4096", "512M", "2G", "1.5G" is not one of them.
 *
 * Used by `fabric mount --capacity` and, later, by control-file verbs, so every place accepts the same
 * spellings and refuses the same mistakes. */
#ifndef FABRIC_CORE_SIZE_H
#define FABRIC_CORE_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parse a decimal integer with an optional binary suffix K, M, G, T (also KiB/MiB/GiB/TiB, lower case
 * accepted).  Returns 0, -EINVAL (empty, sign, fraction, unknown suffix, junk) or -EOVERFLOW. */
int size_parse(const char *s, uint64_t *out);
/* "1.5 GiB"-style text for messages. */
void size_format(uint64_t bytes, char *buf, size_t len);

#endif
