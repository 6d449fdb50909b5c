/* SPDX-License-Identifier: MIT */
/* store_put.c -- a small variable made from bytes in hand, straight into a slab.
 *
 * A bulk load (core/bulk/) has each small file's bytes in a buffer before the variable exists.  The way
 * every variable is written (a shm block of its own, sized, filled, then at seal hashed again, probed for
 * writers with a lease, copied into a slab, its block removed: store_seal.c) costs such a file a dozen
 * system calls and a shm object made and removed, for bytes that nobody but the daemon has ever seen.
 * Here the variable never has a block of its own: store_put_begin makes its name (state writing, with
 * o->sealing set from the start, so that an open waits for its seal exactly as for any variable whose
 * last writer has closed it) and reserves its pages in a slab; store_put_bytes writes them and takes the
 * xxh3 from the buffer; store_put_end hands the seal to the group commit (store_sealer.c) as a job whose
 * bytes are already in the slab, so its one transaction inserts the object row and its extent there, and
 * nothing counts as sealed before that commit.  A crash before it leaves slab pages no extent names: free
 * again at the next start.  The job is this module's handle (struct store_put), freed by the sealer after
 * the commit, or here when the put is abandoned. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/storeInt.h"

struct store_put {
	struct seal_job j; /* first: the sealer frees the job, which is the whole put */
	uint64_t len;
	bool filled;
};

uint64_t store_put_max(const struct store *st)
{
	return st->slab_threshold;
}

int store_put_begin(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		    uint32_t gid, uint64_t len, uint64_t *id, struct store_put **out)
{
	struct store_put *p;
	struct obj *dir, *o;
	char why[128];
	int rc;

	if (len >= st->slab_threshold)
		return -EFBIG;
	rc = names_check_leaf(name, why, sizeof(why));
	if (rc) {
		if (rc == -EINVAL)
			store_logf(st, "refused name \"%.64s\": %s", name, why);
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->len = len;
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	rc = dir ? store_make_var_locked(st, dir, name, mode, uid, gid, false, &o) : -ENOENT;
	if (rc == 0) {
		rc = store_slab_reserve(st, len, &p->j.p.s, &p->j.p.off);
		if (rc) {
			p->j.p.s = NULL;
			store_unlink_locked(st, o);
		}
	}
	if (rc == 0) {
		o->size = len;
		o->sealing = true; /* opens wait for the seal, writes and truncates are refused */
		o->nopen++;        /* the put's hold, given to the queue at store_put_end */
		p->j.o = o;
		*id = o->id;
		*out = p;
	}
	pthread_mutex_unlock(&st->lock);
	if (rc)
		free(p);
	return rc;
}

int store_put_bytes(struct store *st, struct store_put *p, const void *buf)
{
	struct obj *o = p->j.o;
	char hex[HASH_HEX_LEN + 1];
	int rc = slab_write(p->j.p.s, p->j.p.off, buf, p->len); /* the pages are the put's: no lock */

	if (rc)
		return rc;
	hash_buf(buf, p->len, hex);
	pthread_mutex_lock(&st->lock);
	memcpy(o->xxh3, hex, sizeof(hex));
	o->modified_ns = store_now_ns();
	p->filled = true;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void store_put_end(struct store *st, struct store_put *p, bool ok)
{
	struct obj *o = p->j.o;
	struct seal_job *j = &p->j;

	pthread_mutex_lock(&st->lock);
	o->nopen--; /* the put's hold: the queue takes one of its own */
	if (ok && p->filled && store_seal_enqueue(st, j)) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	o->nopen++;
	if (ok && p->filled) { /* no thread commits: sealed alone, as a release without the sealer is */
		store_seal_end(st, j, false);
	} else {
		if (!o->unlinked)
			store_unlink_locked(st, o);
		store_pack_abort(st, &j->p, p->len);
		o->sealing = false;
		o->xxh3[0] = '\0';
		j->ws = store_take_waiters(o, -ENOENT);
	}
	store_release_tail(st, o, NULL, j->ws != NULL);
	pthread_mutex_unlock(&st->lock);
	store_seal_after(j);
	free(p);
}
