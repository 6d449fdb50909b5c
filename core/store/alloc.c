/* SPDX-License-Identifier: MIT */
/* alloc.c -- capacity accounting (see alloc.h).
 *
 * A mutex guards the two totals: charges change on create, on writes that grow an object by a page
 * or more, on truncate and on free, which is rare next to the copies they account for.  Charges are whole
 * pages because tmpfs, which backs /dev/shm, allocates whole pages: a 1-byte object really costs 4 KiB. */
#include <errno.h>
#include <pthread.h>

#include "core/store/alloc.h"

uint64_t alloc_charge_for(uint64_t size)
{
	if (size > UINT64_MAX - (ALLOC_PAGE - 1))
		return UINT64_MAX - (UINT64_MAX % ALLOC_PAGE);
	return (size + ALLOC_PAGE - 1) / ALLOC_PAGE * ALLOC_PAGE;
}

void alloc_init(struct alloc *a, uint64_t capacity)
{
	pthread_mutex_init(&a->lock, NULL);
	a->capacity = capacity;
	a->used = 0;
}

void alloc_destroy(struct alloc *a)
{
	pthread_mutex_destroy(&a->lock);
}

void alloc_set_capacity(struct alloc *a, uint64_t capacity)
{
	pthread_mutex_lock(&a->lock);
	a->capacity = capacity;
	pthread_mutex_unlock(&a->lock);
}

int alloc_resize(struct alloc *a, uint64_t *charge, uint64_t new_size)
{
	uint64_t want = alloc_charge_for(new_size);
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	if (want > *charge) {
		uint64_t grow = want - *charge;
		if (a->used > a->capacity || grow > a->capacity - a->used)
			rc = -ENOSPC;
		else
			a->used += grow;
	} else {
		a->used -= *charge - want;
	}
	if (rc == 0)
		*charge = want;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void alloc_adopt(struct alloc *a, uint64_t *charge, uint64_t size)
{
	pthread_mutex_lock(&a->lock);
	*charge = alloc_charge_for(size);
	a->used += *charge;
	pthread_mutex_unlock(&a->lock);
}

void alloc_release(struct alloc *a, uint64_t *charge)
{
	pthread_mutex_lock(&a->lock);
	a->used -= *charge;
	*charge = 0;
	pthread_mutex_unlock(&a->lock);
}

void alloc_totals(struct alloc *a, uint64_t *capacity, uint64_t *used)
{
	pthread_mutex_lock(&a->lock);
	*capacity = a->capacity;
	*used = a->used;
	pthread_mutex_unlock(&a->lock);
}
