/* SPDX-License-Identifier: MIT */
/* store_reserve.c -- variables reserved for an owner (see store.h; core/task/ makes tasks the owners of
 * their outputs).
 *
 * A reserved variable is an ordinary variable being written, with obj->owner set: store_open lets only the
 * owner's processes write it, and store_release does not seal it.  The owner's end is played as one more
 * writer's release: store_reserved_end opens a writer handle of its own, clears obj->owner (and dooms the
 * variable when the owner failed), and releases it.  So sealing, dropping, packing and waking the waiting
 * readers all take the one path every variable takes, and whichever comes last -- the owner's end or its
 * writers' releases, which the kernel may send after the owner's end is seen -- does the seal.
 * store_yp hands the owner's module the YP, for its own rows. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/store/storeInt.h"

void store_owner_hook(struct store *st, bool (*member)(void *arg, uint64_t owner, pid_t pid), void *arg)
{
	pthread_mutex_lock(&st->lock);
	st->owner_member = member;
	st->owner_arg = arg;
	pthread_mutex_unlock(&st->lock);
}

int store_reserve(struct store *st, uint64_t parent, const char *name, uint64_t owner, uint32_t mode,
		  uint32_t uid, uint32_t gid, uint64_t *id, char *why, size_t whylen)
{
	struct obj *dir, *o, *old;
	int rc = names_check_leaf(name, why, whylen);

	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	old = dir ? ns_child(st, dir, name) : NULL;
	if (old && old->owner)
		snprintf(why, whylen, "'%s' is reserved by owner %llu", name, (unsigned long long)old->owner);
	else if (old)
		snprintf(why, whylen, "'%s' exists; remove it or give the output another name", name);
	rc = dir ? store_make_var_locked(st, dir, name, mode, uid, gid, true, &o) : -ENOENT;
	if (rc == 0) {
		o->owner = owner;
		close(o->fd); /* opened again by the owner's first open */
		o->fd = -1;
		*id = o->id;
	} else if (!old) {
		snprintf(why, whylen, "cannot reserve output '%s': %s", name, strerror(-rc));
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_reserved_of(struct store *st, uint64_t id, struct store_reserved *out)
{
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || o->unlinked || o->kind != OBJ_VAR)
		rc = -ENOENT;
	else
		*out = (struct store_reserved){ o->owner, o->owner_wrote, o->doomed };
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_reserved_end(struct store *st, uint64_t id, bool ok)
{
	struct store_handle *h = NULL;
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || !o->owner || o->data_gone) {
		pthread_mutex_unlock(&st->lock);
		return -ENOENT;
	}
	if (ok && o->doomed)
		rc = -ENOSPC;
	if (!ok)
		o->doomed = true;
	if (o->fd < 0)
		rc = shm_open_block(o->shm_name, &o->fd) ? -EIO : rc;
	if (o->fd < 0 || store_new_handle(o, true, 0, &h) != 0) {
		/* cannot seal it without its bytes: drop it as if its owner failed */
		o->owner = 0;
		store_unlink_locked(st, o);
		pthread_mutex_unlock(&st->lock);
		return rc ? rc : -ENOMEM;
	}
	o->owner = 0;
	pthread_mutex_unlock(&st->lock);
	store_release_async(st, h); /* committed with other seals; lookups and stats of it wait for that */
	return rc;
}

struct yp *store_yp(struct store *st)
{
	return st->yp; /* set by store_init, never changed: no lock */
}
