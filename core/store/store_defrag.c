/* SPDX-License-Identifier: MIT */
/* store_defrag.c -- compacting the slabs (store_defragment), and the one move of a packed variable from
 * one slab to another that it and store_deallocate (store_blocks.c) are made of.
 *
 * store_defragment moves packed variables from the emptiest slabs into holes of fuller ones.  Each move
 * holds the store lock: reserve the new pages, copy, commit the new extent (one transaction per variable,
 * so a crash loses at most the move in flight, which is then simply not done), switch obj->slab/offset
 * under slab_lock taken for writing, and only then give the old pages back.  Readers look the place up
 * under slab_lock at every read (store_read), so a move between two reads is invisible to them.  The plan
 * (which slabs are fullest, which variables go) is a snapshot of ids taken once under the lock, which is
 * let go between moves: each move checks again that its variable is still where the plan saw it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/storeInt.h"
#include "meta/yp.h"

struct defrag_obj {
	uint64_t id;
	size_t rank; /* of its slab in the order below */
	uint64_t offset;
};

struct defrag_slab {
	uint64_t id;
	uint32_t used;
};

static int by_used_desc(const void *a, const void *b)
{
	const struct defrag_slab *x = a, *y = b;

	if (x->used != y->used)
		return x->used > y->used ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_rank_desc(const void *a, const void *b)
{
	const struct defrag_obj *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Move packed variable o to pages already reserved at off in d.  Called with the lock held; see
 * the order above.  On failure the reservation is given back and o stays where it was. */
int store_move_packed(struct store *st, struct obj *o, struct slab *d, uint64_t off)
{
	struct slab *s = o->slab;
	uint64_t soff = o->offset;
	int rc = slab_copy_in(d, off, s->fd, soff, o->size);

	if (rc == 0)
		rc = yp_begin(st->yp);
	if (rc == 0) {
		rc = store_slab_row(st, d);
		if (rc == 0)
			rc = yp_extent_move(st->yp, (int64_t)o->id, (int64_t)d->id, off, o->size);
		if (rc == 0)
			rc = yp_commit(st->yp);
		else
			yp_rollback(st->yp);
	}
	if (rc) {
		slab_put(d, off, o->size);
		return rc;
	}
	d->in_yp = true;
	pthread_rwlock_wrlock(&st->slab_lock);
	o->slab = d;
	o->offset = off;
	pthread_rwlock_unlock(&st->slab_lock);
	o->block_id = d->id;
	snprintf(o->shm_name, sizeof(o->shm_name), "%s", d->shm_name);
	slab_put(s, soff, o->size); /* no reader can be in the old place any more */
	return 0;
}

/* A snapshot of the slabs, fullest first, and of the packed variables, those of the emptiest slab first.
 * Called with the lock held; ids only, since the lock is let go between moves. */
static int defrag_plan(struct store *st, struct defrag_slab **slabs, size_t *nslabs, struct defrag_obj **objs,
		       size_t *nobjs)
{
	size_t ns = st->slabs.n ? st->slabs.n : 1;
	struct defrag_slab *sv = malloc(ns * sizeof(*sv));
	size_t *rank_of = malloc(ns * sizeof(*rank_of)); /* by index in st->slabs (sorted by id) */
	struct defrag_obj *ov = NULL;
	size_t n = 0, cap = 0;

	if (!sv || !rank_of) {
		free(sv);
		free(rank_of);
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->slabs.n; i++)
		sv[i] = (struct defrag_slab){ st->slabs.v[i]->id, st->slabs.v[i]->used };
	qsort(sv, st->slabs.n, sizeof(*sv), by_used_desc);
	for (size_t r = 0; r < st->slabs.n; r++) {
		size_t lo = 0, hi = st->slabs.n;
		while (lo + 1 < hi) { /* the slab with id sv[r].id: it is there */
			size_t mid = lo + (hi - lo) / 2;
			if (st->slabs.v[mid]->id <= sv[r].id)
				lo = mid;
			else
				hi = mid;
		}
		rank_of[lo] = r;
	}
	for (size_t b = 0; b < st->nbuckets; b++) {
		for (struct obj *o = st->by_id[b]; o; o = o->by_id_next) {
			size_t rank, lo = 0, hi = st->slabs.n;
			if (o->kind != OBJ_VAR || !o->packed || !o->slab || o->data_gone)
				continue;
			while (lo + 1 < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (st->slabs.v[mid]->id <= o->slab->id)
					lo = mid;
				else
					hi = mid;
			}
			rank = rank_of[lo];
			if (n == cap) {
				size_t c = cap ? cap * 2 : 256;
				struct defrag_obj *nv = realloc(ov, c * sizeof(*nv));
				if (!nv) {
					free(sv);
					free(rank_of);
					free(ov);
					return -ENOMEM;
				}
				ov = nv;
				cap = c;
			}
			ov[n++] = (struct defrag_obj){ o->id, rank, o->offset };
		}
	}
	free(rank_of);
	if (n)
		qsort(ov, n, sizeof(*ov), by_rank_desc);
	*slabs = sv;
	*nslabs = st->slabs.n;
	*objs = ov;
	*nobjs = n;
	return 0;
}

/* Free pages in the slabs ranked before `rank` (the fuller ones). */
static uint64_t free_before(struct store *st, const struct defrag_slab *sv, size_t rank)
{
	uint64_t total = 0;

	for (size_t j = 0; j < rank; j++) {
		struct slab *d = slab_find(&st->slabs, sv[j].id);
		if (d)
			total += slab_free_pages(d);
	}
	return total;
}

/* One variable of the source slab: into the first fuller slab with a hole for it.  *first is the first
 * rank that may still have a free page (the fullest fill up first; it only moves on).  Lock held. */
static int defrag_one(struct store *st, const struct defrag_slab *sv, const struct defrag_obj *d, size_t *first,
		      bool *moved)
{
	struct obj *o = ns_by_id(st, d->id);
	uint64_t off;

	*moved = false;
	if (!o || o->kind != OBJ_VAR || !o->packed || !o->slab || o->data_gone || o->slab->id != sv[d->rank].id)
		return 0; /* gone or moved since the plan */
	while (*first < d->rank) {
		struct slab *f = slab_find(&st->slabs, sv[*first].id);
		if (f && slab_free_pages(f) > 0)
			break;
		++*first;
	}
	for (size_t j = o->size ? *first : 0; j < d->rank; j++) { /* an empty variable fits anywhere */
		struct slab *dst = slab_find(&st->slabs, sv[j].id);
		if (!dst || slab_free_pages(dst) < slab_pages_for(o->size) || slab_place(dst, o->size, &off))
			continue;
		int rc = store_move_packed(st, o, dst, off);
		if (rc) {
			char path[512];
			store_path(o, path, sizeof(path));
			store_logf(st, "defragment: moving %s into %s failed (%s)", path, dst->shm_name, strerror(-rc));
			return rc;
		}
		*moved = true;
		return 0;
	}
	return 0;
}

/* Remove every empty slab but one (store_slab_maybe_free keeps the last).  Lock held. */
static uint64_t free_empty_slabs(struct store *st)
{
	uint64_t freed = 0;

	for (size_t i = st->slabs.n; i-- > 0;)
		if (i < st->slabs.n && store_slab_maybe_free(st, st->slabs.v[i]))
			freed++;
	return freed;
}

int store_defragment(struct store *st, uint64_t *bytes_moved, uint64_t *blocks_freed)
{
	struct defrag_slab *sv = NULL;
	struct defrag_obj *ov = NULL;
	uint64_t moved_bytes = 0, freed = 0;
	size_t nslabs = 0, nobjs = 0, i = 0, first = 0;
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = defrag_plan(st, &sv, &nslabs, &ov, &nobjs);
	pthread_mutex_unlock(&st->lock);
	/* Sources from the emptiest slab on; the variables of one source are consecutive in ov. */
	while (rc == 0 && i < nobjs) {
		size_t rank = ov[i].rank, end = i;
		struct slab *src;
		while (end < nobjs && ov[end].rank == rank)
			end++;
		if (rank == 0 || rank >= nslabs)
			break; /* the fullest slab is nobody's source; rank nslabs cannot happen */
		pthread_mutex_lock(&st->lock);
		src = slab_find(&st->slabs, sv[rank].id);
		/* Not even the pages add up: no fuller slab can take this one's variables, nor any later's. */
		if (src && free_before(st, sv, rank) < src->used) {
			pthread_mutex_unlock(&st->lock);
			break;
		}
		pthread_mutex_unlock(&st->lock);
		for (; rc == 0 && i < end; i++) {
			bool moved;
			pthread_mutex_lock(&st->lock);
			rc = defrag_one(st, sv, &ov[i], &first, &moved);
			if (moved) {
				struct obj *o = ns_by_id(st, ov[i].id);
				moved_bytes += o ? o->size : 0;
			}
			pthread_mutex_unlock(&st->lock);
		}
	}
	pthread_mutex_lock(&st->lock);
	freed = free_empty_slabs(st);
	pthread_mutex_unlock(&st->lock);
	free(sv);
	free(ov);
	if (bytes_moved)
		*bytes_moved = moved_bytes;
	if (blocks_freed)
		*blocks_freed = freed;
	return rc;
}
