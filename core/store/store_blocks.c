/* SPDX-License-Identifier: MIT */
/* store_blocks.c -- the node's blocks as the Data Fabric design's verbs see them: stat per block,
 * allocate (capacity, and slab blocks made ahead), deallocate (a slab block, its variables moved out
 * first when asked).
 *
 * A variable's own block is made at its create and goes with it, so it is never allocated or deallocated
 * by hand: allocate adds capacity and makes floor(SIZE / SLAB_BLOCK_SIZE) empty slab blocks for small
 * variables to come; deallocate removes one slab block and takes its size off the capacity.  Slab blocks
 * no variable points into are removed at the next start (RECOVERY in recover.c), so blocks made ahead
 * last until a restart; the capacity added stays (it is in the node's row). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/storeInt.h"
#include "meta/yp.h"

/* The longest run of free pages in s. */
static uint32_t largest_free(const struct slab *s)
{
	uint32_t best = 0, run = 0;

	for (uint32_t p = 0; p < SLAB_PAGES; p++) {
		bool taken = s->map[p / 64] & (1ULL << (p % 64));
		run = taken ? 0 : run + 1;
		if (run > best)
			best = run;
	}
	return best;
}

int store_block_stats(struct store *st, int (*fn)(void *arg, const struct store_block_info *b), void *arg)
{
	struct store_block_info own = { .slab = false };
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	for (size_t b = 0; b < st->nbuckets; b++)
		for (struct obj *o = st->by_id[b]; o; o = o->by_id_next)
			if (o->kind == OBJ_VAR && !o->packed && !o->data_gone && o->block_id) {
				own.objects++;
				own.size += o->size;
				own.used += o->charge;
			}
	rc = fn(arg, &own);
	for (size_t i = 0; rc == 0 && i < st->slabs.n; i++) {
		struct slab *s = st->slabs.v[i];
		struct store_block_info info = { .id = s->id, .slab = true, .size = SLAB_BLOCK_SIZE,
						 .used = (uint64_t)s->used * SLAB_PAGE, .objects = s->nobjs,
						 .largest_free = (uint64_t)largest_free(s) * SLAB_PAGE };
		snprintf(info.shm_name, sizeof(info.shm_name), "%s", s->shm_name);
		rc = fn(arg, &info);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Write the allocator's capacity into the node's row.  Lock held. */
static int persist_capacity(struct store *st)
{
	struct yp_node n;
	int rc = yp_node_get(st->yp, &n);

	if (rc == 0) {
		n.capacity = st->alloc.capacity;
		rc = yp_node_update(st->yp, &n);
	}
	return rc;
}

int store_allocate(struct store *st, uint64_t size, uint64_t *ids, size_t maxids, size_t *nids)
{
	uint64_t cap, used;
	size_t want = (size_t)(size / SLAB_BLOCK_SIZE);
	int rc;

	*nids = 0;
	if (size == 0)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	alloc_totals(&st->alloc, &cap, &used);
	if (cap > UINT64_MAX - size) {
		pthread_mutex_unlock(&st->lock);
		return -EOVERFLOW;
	}
	alloc_set_capacity(&st->alloc, cap + size);
	rc = persist_capacity(st);
	for (size_t k = 0; rc == 0 && k < want && *nids < maxids; k++) {
		char name[SHM_NAME_MAX];
		uint64_t charge = 0;
		struct slab *s;

		rc = shm_block_name(st->prefix, st->next_block, name, sizeof(name));
		if (rc == 0)
			rc = alloc_resize(&st->alloc, &charge, SLAB_BLOCK_SIZE);
		if (rc)
			break;
		rc = slab_create(&st->slabs, st->next_block, name, &s);
		if (rc) {
			alloc_release(&st->alloc, &charge);
			break;
		}
		st->next_block++;
		s->charge = charge;
		rc = store_slab_row(st, s);
		if (rc) {
			s->in_yp = false;
			store_slab_maybe_free(st, s);
			break;
		}
		s->in_yp = true;
		ids[(*nids)++] = s->id;
	}
	if (rc) { /* the capacity stays added; say what could not be made */
		store_logf(st, "allocate: made %zu of %zu slab blocks: %s", *nids, want, strerror(-rc));
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Move every variable out of slab s into the other slabs.  Lock held.  -ENOSPC when they lack room
 * (what moved stays moved). */
static int evacuate(struct store *st, struct slab *s, uint64_t *moved)
{
	for (size_t b = 0; b < st->nbuckets; b++) {
		for (struct obj *o = st->by_id[b]; o; o = o->by_id_next) {
			bool placed = false;
			if (o->kind != OBJ_VAR || !o->packed || o->slab != s || o->data_gone)
				continue;
			for (size_t i = 0; !placed && i < st->slabs.n; i++) {
				struct slab *d = st->slabs.v[i];
				uint64_t off;
				if (d == s || slab_free_pages(d) < slab_pages_for(o->size) || slab_place(d, o->size, &off))
					continue;
				int rc = store_move_packed(st, o, d, off);
				if (rc)
					return rc;
				*moved += o->size;
				placed = true;
			}
			if (!placed)
				return -ENOSPC;
		}
	}
	return 0;
}

int store_deallocate(struct store *st, uint64_t block, bool move, uint64_t *moved, char *why, size_t whylen)
{
	struct slab *s;
	uint64_t cap, used;
	int rc = 0;

	*moved = 0;
	pthread_mutex_lock(&st->lock);
	s = slab_find(&st->slabs, block);
	if (!s) {
		bool own = false;
		for (size_t b = 0; !own && b < st->nbuckets; b++)
			for (struct obj *o = st->by_id[b]; !own && o; o = o->by_id_next)
				own = o->kind == OBJ_VAR && !o->packed && !o->data_gone && o->block_id == block;
		snprintf(why, whylen, own ? "block %llu is a variable's own block: remove the variable instead"
					  : "no block %llu on this node; see: stat", (unsigned long long)block);
		rc = own ? -EBUSY : -ENOENT;
		goto out_unlock;
	}
	if (s->nobjs && !move) {
		snprintf(why, whylen, "block %llu holds %u variable(s); add `move` to move them into other blocks first",
			 (unsigned long long)block, s->nobjs);
		rc = -EBUSY;
		goto out_unlock;
	}
	rc = s->nobjs ? evacuate(st, s, moved) : 0;
	if (rc) {
		snprintf(why, whylen, "could not move every variable out of block %llu (%s); %s",
			 (unsigned long long)block, strerror(-rc),
			 rc == -ENOSPC ? "the other blocks lack room: allocate more first" : "see the daemon log");
		goto out_unlock;
	}
	rc = store_slab_remove(st, s, true);
	if (rc) {
		snprintf(why, whylen, "the yellow pages refused to drop block %llu (%s)", (unsigned long long)block,
			 strerror(-rc));
		goto out_unlock;
	}
	alloc_totals(&st->alloc, &cap, &used);
	alloc_set_capacity(&st->alloc, cap > SLAB_BLOCK_SIZE ? cap - SLAB_BLOCK_SIZE : 0);
	rc = persist_capacity(st);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_charge(struct store *st, uint64_t *charge, uint64_t bytes)
{
	int rc;

	pthread_mutex_lock(&st->lock); /* the allocator is the store's, under its lock */
	uint64_t was = *charge;
	rc = alloc_resize(&st->alloc, charge, bytes);
	st->ncharges += !was && *charge;
	st->ncharges -= was && !*charge;
	st->charged += *charge - was; /* modulo 2^64: a shrink subtracts */
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void store_uncharge(struct store *st, uint64_t *charge)
{
	pthread_mutex_lock(&st->lock);
	st->ncharges -= *charge != 0;
	st->charged -= *charge;
	alloc_release(&st->alloc, charge);
	pthread_mutex_unlock(&st->lock);
}

void store_counts(struct store *st, struct store_counts *out)
{
	pthread_mutex_lock(&st->lock);
	*out = (struct store_counts){ st->nvars, st->nmut, st->ncharges, st->charged };
	pthread_mutex_unlock(&st->lock);
}
