/* SPDX-License-Identifier: MIT */
/* hash.h -- the xxh3 fingerprint of a sealed object.
 *
 * XXH3-128 over the object's bytes, taken once at seal and kept in the yellow pages, so a restart after a
 * crash can prove every sealed object unchanged.  Printed as 32 lowercase hex digits in xxHash's canonical
 * (big-endian) order: exactly what `xxh128sum FILE` prints for the same bytes. */
#ifndef FABRIC_CORE_HASH_H
#define FABRIC_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_HEX_LEN 32 /* digits, without the NUL */

/* Hash `len` bytes of the file `fd` from offset `off` into hex (HASH_HEX_LEN + 1 bytes).  Maps the range
 * read-only for the duration of the call.  Returns 0 or a negative errno (-EIO when the file is shorter). */
int hash_fd(int fd, uint64_t off, uint64_t len, char hex[HASH_HEX_LEN + 1]);
/* Hash a buffer the caller owns. */
void hash_buf(const void *buf, size_t len, char hex[HASH_HEX_LEN + 1]);
/* The XXH3-128 of bytes that come in pieces (a transfer hashes each piece as it arrives, while it is in
 * the cache): hash_stream_new, hash_stream_add for each piece in order, hash_stream_end (frees s). */
struct hash_stream;
int hash_stream_new(struct hash_stream **s);
void hash_stream_add(struct hash_stream *s, const void *buf, size_t len);
void hash_stream_end(struct hash_stream *s, char hex[HASH_HEX_LEN + 1]);
/* XXH3-64 of a buffer: a cheap fingerprint for telling whether two small values differ (no proof). */
uint64_t hash64(const void *buf, size_t len);

#endif
