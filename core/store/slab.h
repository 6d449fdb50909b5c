/* SPDX-License-Identifier: MIT */
/* slab.h -- slab blocks: shm blocks that hold many small sealed objects, each at a page-aligned offset.
 *
 * A variable is written into a shm block of its own (byte 0 = its byte 0, which FUSE passthrough and a
 * zero-copy mmap need).  Small ones are moved at seal into a slab (core/store/store_seal.c), so that a node with a
 * million small variables keeps a few hundred shm objects and open fds instead of a million, and starts
 * up by opening a few hundred files.  This module keeps the node's slabs: for each, its shm object (open
 * for as long as the slab lives) and a bitmap of its pages, and it places byte ranges in them.  It knows
 * nothing of objects, the yellow pages or capacity.
 *
 * Who owns what:
 *   - struct slab_set owns its slabs (and their fds): slab_create and slab_adopt add one, slab_remove
 *     takes one out (removing its shm object), slab_set_destroy frees them all (leaving the shm objects,
 *     which outlive the daemon like every block).  A struct slab * stays valid until slab_remove or
 *     slab_set_destroy.
 *   - the store decides which object goes where, writes the rows (blocks.kind = 'slab', extents (object,
 *     block, offset, length)), and charges each slab's SLAB_BLOCK_SIZE to the allocator as a whole when
 *     it creates or adopts it; `charge` and `in_yp` are the store's fields, kept here for it.  Objects in
 *     a slab are not charged separately.
 *   - every function here is called with the store's lock held (the bitmap and counters are not locked
 *     here), except slab_read, slab_write and slab_copy_in, which only move bytes: the caller makes sure nobody changes
 *     the ranges they touch (core/store/storeInt.h, "slab_lock").
 *
 * A range of len bytes takes ceil(len / SLAB_PAGE) whole pages, so every object starts page-aligned (a
 * reader may map it, and a page is what tmpfs allocates anyway).  An empty object takes no page (offset
 * 0) but still counts in nobjs: a slab is empty when nobjs is 0. */
#ifndef FABRIC_CORE_SLAB_H
#define FABRIC_CORE_SLAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/store/alloc.h"
#include "core/os/shm.h"

/* 4 MiB: 64 times the largest packed object (STORE_SLAB_THRESHOLD, core/store/store.h), so even objects just
 * under the threshold share a slab by the dozen and a hole left by one fits most others; a 1024-bit
 * bitmap (128 bytes) per slab; and a whole slab, charged at once, is still small next to a capacity
 * (0.4% of 1 GiB).  Larger slabs would strand more capacity in a half-empty slab (defragment helps, but
 * only whole slabs give capacity back); smaller ones would make more shm objects, which is what slabs
 * are for avoiding.  Making one costs a shm_open and an ftruncate: tmpfs allocates pages on first
 * write. */
#define SLAB_BLOCK_SIZE (4u << 20)
#define SLAB_PAGE ALLOC_PAGE
#define SLAB_PAGES (SLAB_BLOCK_SIZE / SLAB_PAGE)

struct slab {
	uint64_t id; /* blocks.id in the YP; the shm object is PREFIX + id */
	char shm_name[SHM_NAME_MAX];
	int fd;          /* read-write, open from slab_create/slab_adopt to slab_remove/slab_set_destroy */
	uint64_t charge; /* the store's: what the allocator holds for this slab */
	bool in_yp;      /* the store's: its blocks row is committed */
	uint32_t used;   /* pages taken */
	uint32_t nobjs;  /* ranges placed (empty ones included) */
	uint64_t map[SLAB_PAGES / 64]; /* bit set: page taken */
};

/* A node's slabs, sorted by id (ids only grow, so new slabs go at the end). */
struct slab_set {
	struct slab **v;
	size_t n, cap;
};

void slab_set_init(struct slab_set *ss);
/* Close and free every slab; their shm objects stay.  A zeroed set is fine. */
void slab_set_destroy(struct slab_set *ss);
/* The slab with this block id, or NULL. */
struct slab *slab_find(const struct slab_set *ss, uint64_t id);

/* A new slab: creates the shm object `shm_name` (-EEXIST if taken), SLAB_BLOCK_SIZE long, all pages free.
 * id must be larger than every id in the set. */
int slab_create(struct slab_set *ss, uint64_t id, const char *shm_name, struct slab **out);
/* An existing slab found at start: opens its shm object (-ENOENT when gone, -EIO when it is not
 * SLAB_BLOCK_SIZE long); all pages free until slab_take marks the objects' ranges. */
int slab_adopt(struct slab_set *ss, uint64_t id, const char *shm_name, struct slab **out);
/* Take s out of the set, remove its shm object, close and free it.  The caller has given back its charge
 * and deleted its row (or will leave that to the next start). */
void slab_remove(struct slab_set *ss, struct slab *s);

/* Pages a range of len bytes takes. */
uint32_t slab_pages_for(uint64_t len);
/* Place len bytes in s: the lowest run of free pages that fits (first fit); *off is its byte offset.
 * -ENOSPC when no run fits.  Counts one more object. */
int slab_place(struct slab *s, uint64_t len, uint64_t *off);
/* Mark a known range taken (rebuilding the bitmap from the extents at start): -EINVAL when off is not
 * page-aligned or the range passes the end, -EEXIST when a page is taken already (nothing changed). */
int slab_take(struct slab *s, uint64_t off, uint64_t len);
/* Give back a range placed or taken before.  Counts one object less. */
void slab_put(struct slab *s, uint64_t off, uint64_t len);
/* Free pages in s (not necessarily one run). */
uint32_t slab_free_pages(const struct slab *s);

/* Bytes: read up to size bytes at off of the slab (short only at the slab's end); write len bytes of buf,
 * or copy len bytes from src_fd at src_off, into the slab at off.  Return bytes read / 0, or -errno. */
ssize_t slab_read(const struct slab *s, void *buf, size_t size, uint64_t off);
int slab_write(struct slab *s, uint64_t off, const void *buf, uint64_t len);
int slab_copy_in(struct slab *s, uint64_t off, int src_fd, uint64_t src_off, uint64_t len);

#endif
