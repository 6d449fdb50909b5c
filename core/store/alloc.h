/* SPDX-License-Identifier: MIT */
/* alloc.h -- capacity accounting for one node's shared memory.
 *
 * The fabric promises a capacity (`fabric mount --capacity`); every byte of shm an object holds is charged
 * here first, rounded up to whole pages, so a full fabric answers ENOSPC before the kernel's tmpfs does and
 * before anything already stored is disturbed.  The allocator does not place bytes: blocks are shm objects
 * of their own (core/os/shm.h); this module only says yes or no and keeps the totals.  Thread-safe. */
#ifndef FABRIC_CORE_ALLOC_H
#define FABRIC_CORE_ALLOC_H

#include <pthread.h>
#include <stdint.h>

#define ALLOC_PAGE 4096u

struct alloc {
	pthread_mutex_t lock;
	uint64_t capacity; /* bytes the node may hold */
	uint64_t used;     /* bytes charged, a multiple of ALLOC_PAGE */
};

/* Bytes an object of `size` bytes is charged: size rounded up to whole pages. */
uint64_t alloc_charge_for(uint64_t size);

void alloc_init(struct alloc *a, uint64_t capacity);
void alloc_destroy(struct alloc *a);
/* Change the capacity (a remount with another --capacity); what is stored stays. */
void alloc_set_capacity(struct alloc *a, uint64_t capacity);
/* Change a charge from `old_charge` to the charge of `new_size`; on success *charge holds the new charge.
 * Returns 0, or -ENOSPC (nothing changed) when growing would pass the capacity. */
int alloc_resize(struct alloc *a, uint64_t *charge, uint64_t new_size);
/* Charge an object found at start, even past the capacity (a smaller --capacity than before). */
void alloc_adopt(struct alloc *a, uint64_t *charge, uint64_t size);
/* Give back a whole charge (an object freed); *charge becomes 0. */
void alloc_release(struct alloc *a, uint64_t *charge);
void alloc_totals(struct alloc *a, uint64_t *capacity, uint64_t *used);

#endif
