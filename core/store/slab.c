/* SPDX-License-Identifier: MIT */
/* slab.c -- slab blocks and the placement of small objects in them (see slab.h).
 *
 * DESIGN
 * Free space is a bitmap of pages per slab (SLAB_PAGES bits, 1 = taken), not a free list: a slab has only
 * 1024 pages, so a first-fit scan is a few dozen word operations, and the bitmap is rebuilt at start from
 * the extents alone (slab_take), with overlaps found for free.  First fit (lowest offset) keeps the live
 * objects towards the front of each slab, which is what defragment wants too.  `used` and `nobjs` let the
 * store skip a slab without scanning it, and say when it is empty.
 *
 * The bytes of a slab are reached through its fd only (pread, copy_file_range), never through a mapping
 * kept here: a range is written once, while no extent points to it, and read afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store/slab.h"

void slab_set_init(struct slab_set *ss)
{
	memset(ss, 0, sizeof(*ss));
}

static void free_slab(struct slab *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

void slab_set_destroy(struct slab_set *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		free_slab(ss->v[i]);
	free(ss->v);
	memset(ss, 0, sizeof(*ss));
}

static size_t find_index(const struct slab_set *ss, uint64_t id, bool *found)
{
	size_t lo = 0, hi = ss->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ss->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < ss->n && ss->v[lo]->id == id;
	return lo;
}

struct slab *slab_find(const struct slab_set *ss, uint64_t id)
{
	bool found;
	size_t i = find_index(ss, id, &found);

	return found ? ss->v[i] : NULL;
}

/* Insert s at its place by id (at start slabs are adopted in object order, not id order). */
static int add(struct slab_set *ss, struct slab *s)
{
	bool found;
	size_t i;

	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 16;
		struct slab **nv = realloc(ss->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ss->v = nv;
		ss->cap = cap;
	}
	i = find_index(ss, s->id, &found);
	if (found)
		return -EEXIST;
	memmove(ss->v + i + 1, ss->v + i, (ss->n - i) * sizeof(*ss->v));
	ss->v[i] = s;
	ss->n++;
	return 0;
}

static struct slab *new_slab(uint64_t id, const char *shm_name)
{
	struct slab *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->fd = -1;
	snprintf(s->shm_name, sizeof(s->shm_name), "%s", shm_name);
	return s;
}

int slab_create(struct slab_set *ss, uint64_t id, const char *shm_name, struct slab **out)
{
	struct slab *s = new_slab(id, shm_name);
	int rc;

	if (!s)
		return -ENOMEM;
	rc = shm_create(shm_name, &s->fd);
	if (rc) {
		free(s);
		return rc;
	}
	if (ftruncate(s->fd, SLAB_BLOCK_SIZE) < 0)
		rc = -errno;
	if (rc == 0)
		rc = add(ss, s);
	if (rc) {
		shm_remove(shm_name);
		free_slab(s);
		return rc;
	}
	*out = s;
	return 0;
}

int slab_adopt(struct slab_set *ss, uint64_t id, const char *shm_name, struct slab **out)
{
	struct slab *s = new_slab(id, shm_name);
	struct stat sb;
	int rc;

	if (!s)
		return -ENOMEM;
	rc = shm_open_block(shm_name, &s->fd);
	if (rc == 0 && fstat(s->fd, &sb) < 0)
		rc = -errno;
	else if (rc == 0 && (uint64_t)sb.st_size != SLAB_BLOCK_SIZE)
		rc = -EIO;
	if (rc == 0)
		rc = add(ss, s);
	if (rc) {
		free_slab(s);
		return rc;
	}
	s->in_yp = true;
	*out = s;
	return 0;
}

void slab_remove(struct slab_set *ss, struct slab *s)
{
	bool found;
	size_t i = find_index(ss, s->id, &found);

	if (found && ss->v[i] == s) {
		memmove(ss->v + i, ss->v + i + 1, (ss->n - i - 1) * sizeof(*ss->v));
		ss->n--;
	}
	shm_remove(s->shm_name);
	free_slab(s);
}

uint32_t slab_pages_for(uint64_t len)
{
	if (len > SLAB_BLOCK_SIZE)
		return SLAB_PAGES + 1; /* fits nowhere */
	return (uint32_t)((len + SLAB_PAGE - 1) / SLAB_PAGE);
}

static bool page_taken(const struct slab *s, uint32_t p)
{
	return (s->map[p / 64] >> (p % 64)) & 1;
}

static void mark(struct slab *s, uint32_t first, uint32_t n, bool taken)
{
	for (uint32_t p = first; p < first + n; p++) {
		if (taken)
			s->map[p / 64] |= UINT64_C(1) << (p % 64);
		else
			s->map[p / 64] &= ~(UINT64_C(1) << (p % 64));
	}
}

/* The first page of the lowest run of n free pages, or SLAB_PAGES. */
static uint32_t first_fit(const struct slab *s, uint32_t n)
{
	uint32_t run = 0;

	for (uint32_t p = 0; p < SLAB_PAGES; p++) {
		if (p % 64 == 0 && s->map[p / 64] == UINT64_MAX) { /* a full word: skip it */
			run = 0;
			p += 63;
			continue;
		}
		if (page_taken(s, p)) {
			run = 0;
			continue;
		}
		if (++run == n)
			return p + 1 - n;
	}
	return SLAB_PAGES;
}

int slab_place(struct slab *s, uint64_t len, uint64_t *off)
{
	uint32_t n = slab_pages_for(len), first;

	if (n == 0) {
		*off = 0;
		s->nobjs++;
		return 0;
	}
	if (n > SLAB_PAGES - s->used)
		return -ENOSPC;
	first = first_fit(s, n);
	if (first == SLAB_PAGES)
		return -ENOSPC;
	mark(s, first, n, true);
	s->used += n;
	s->nobjs++;
	*off = (uint64_t)first * SLAB_PAGE;
	return 0;
}

int slab_take(struct slab *s, uint64_t off, uint64_t len)
{
	uint32_t n = slab_pages_for(len), first;

	if (off % SLAB_PAGE || off > SLAB_BLOCK_SIZE || len > SLAB_BLOCK_SIZE - off)
		return -EINVAL;
	first = (uint32_t)(off / SLAB_PAGE);
	for (uint32_t p = first; p < first + n; p++)
		if (page_taken(s, p))
			return -EEXIST;
	mark(s, first, n, true);
	s->used += n;
	s->nobjs++;
	return 0;
}

void slab_put(struct slab *s, uint64_t off, uint64_t len)
{
	uint32_t n = slab_pages_for(len);

	mark(s, (uint32_t)(off / SLAB_PAGE), n, false);
	s->used -= n;
	s->nobjs--;
}

uint32_t slab_free_pages(const struct slab *s)
{
	return SLAB_PAGES - s->used;
}

ssize_t slab_read(const struct slab *s, void *buf, size_t size, uint64_t off)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = pread(s->fd, (char *)buf + done, size - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* copy_file_range moves the bytes inside the kernel (tmpfs to tmpfs: one copy, no buffer here); where
 * it is refused (an old kernel, another filesystem), pread + pwrite through a buffer. */
int slab_write(struct slab *s, uint64_t off, const void *buf, uint64_t len)
{
	for (uint64_t w = 0; w < len;) {
		ssize_t m = pwrite(s->fd, (const char *)buf + w, (size_t)(len - w), (off_t)(off + w));
		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0)
			return -errno;
		w += (uint64_t)m;
	}
	return 0;
}

int slab_copy_in(struct slab *s, uint64_t off, int src_fd, uint64_t src_off, uint64_t len)
{
	char buf[16384];
	loff_t in = (loff_t)src_off, out = (loff_t)off;
	uint64_t left = len;

	while (left > 0) {
		ssize_t n = copy_file_range(src_fd, &in, s->fd, &out, left, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the source is shorter than it should be */
		left -= (uint64_t)n;
	}
	while (left > 0) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t n = pread(src_fd, buf, want, in);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		int rc = slab_write(s, (uint64_t)out, buf, (uint64_t)n);
		if (rc)
			return rc;
		in += n;
		out += n;
		left -= (uint64_t)n;
	}
	return 0;
}
