/* SPDX-License-Identifier: MIT */
/* hash.c -- XXH3-128 of buffers and of shm ranges (see hash.h).
 *
 * The range is mapped rather than read: the bytes already sit in shm pages, and hashing them through a
 * mapping touches each page once, with no copy.  The mapping starts at a page boundary below `off`
 * because mmap offsets must be page-aligned (packed objects start anywhere in a page). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/os/hash.h"

static void to_hex(XXH128_hash_t h, char hex[HASH_HEX_LEN + 1])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", c.digest[i]);
}

void hash_buf(const void *buf, size_t len, char hex[HASH_HEX_LEN + 1])
{
	to_hex(XXH3_128bits(buf, len), hex);
}

/* Up to this many bytes are read rather than mapped: a seal of a small variable then costs one pread
 * instead of mmap, madvise and munmap (three syscalls and a mapping for a few pages). */
#define HASH_READ_MAX (64u << 10)

int hash_fd(int fd, uint64_t off, uint64_t len, char hex[HASH_HEX_LEN + 1])
{
	struct stat st;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = off / pg * pg;
	void *map;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < off || (uint64_t)st.st_size - off < len)
		return -EIO;
	if (len == 0) {
		hash_buf("", 0, hex);
		return 0;
	}
	if (len <= HASH_READ_MAX) { /* a small one: one pread costs less than mapping and unmapping it */
		char *buf = malloc(len);
		ssize_t n = buf ? pread(fd, buf, len, (off_t)off) : -1;
		int rc = !buf ? -ENOMEM : n < 0 ? -errno : (uint64_t)n != len ? -EIO : 0;
		if (rc == 0)
			hash_buf(buf, len, hex);
		free(buf);
		return rc;
	}
	map = mmap(NULL, len + (off - start), PROT_READ, MAP_SHARED, fd, (off_t)start);
	if (map == MAP_FAILED)
		return -errno;
	madvise(map, len + (off - start), MADV_SEQUENTIAL);
	hash_buf((char *)map + (off - start), len, hex);
	munmap(map, len + (off - start));
	return 0;
}

struct hash_stream {
	XXH3_state_t *x;
};

int hash_stream_new(struct hash_stream **out)
{
	struct hash_stream *s = malloc(sizeof(*s));

	if (!s || !(s->x = XXH3_createState())) {
		free(s);
		return -ENOMEM;
	}
	XXH3_128bits_reset(s->x);
	*out = s;
	return 0;
}

void hash_stream_add(struct hash_stream *s, const void *buf, size_t len)
{
	XXH3_128bits_update(s->x, buf, len);
}

void hash_stream_end(struct hash_stream *s, char hex[HASH_HEX_LEN + 1])
{
	to_hex(XXH3_128bits_digest(s->x), hex);
	XXH3_freeState(s->x);
	free(s);
}

uint64_t hash64(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}
