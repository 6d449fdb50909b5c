/* SPDX-License-Identifier: MIT */
/* store_mutable.c -- mutable objects (Dagger's @mutable): made whole at once, never sealed, never copied
 * or moved, written in place.
 *
 * A mutable object is a variable-like object in a block of its own whose size is fixed at creation, so
 * every program inside its scope can map it shared and writable and see the others' writes (with
 * passthrough they all map the same shm pages).  In the YP it is kind 'mutable', state 'sealed' (it is
 * complete, not being written) with no xxh3 (its bytes change).  Recovery checks only that its block is
 * there with its size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/scope.h"
#include "core/storeInt.h"
#include "meta/yp.h"

int store_mutable(struct store *st, uint64_t parent, const char *name, uint64_t size, const char *scope,
		  uint32_t mode, uint32_t uid, uint32_t gid, char *why, size_t whylen)
{
	char canon[SCOPE_STR_MAX] = "any", shm_name[SHM_NAME_MAX];
	struct yp_obj row;
	struct obj *dir, *o;
	int64_t now = store_now_ns();
	uint64_t block, charge = 0;
	int fd = -1, rc;

	rc = names_check_leaf(name, why, whylen);
	if (rc)
		return rc;
	if (size == 0 || size > (uint64_t)INT64_MAX) {
		snprintf(why, whylen, "a mutable object needs a size of at least one byte");
		return -EINVAL;
	}
	if (scope && (rc = store_scope_canon(st, scope, canon, sizeof(canon), why, whylen)))
		return rc;
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	if (!dir || dir->unlinked || dir->kind != OBJ_DIR || dir->id == STORE_ROOT_ID)
		rc = !dir || dir->unlinked ? -ENOENT : dir->kind != OBJ_DIR ? -ENOTDIR : -EPERM;
	else if (ns_child(st, dir, name))
		rc = -EEXIST;
	if (rc) {
		snprintf(why, whylen, rc == -EEXIST ? "the name is taken" : "its directory is not usable (%s)",
			 strerror(-rc));
		goto out_unlock;
	}
	rc = alloc_resize(&st->alloc, &charge, size);
	if (rc) {
		snprintf(why, whylen, "not enough capacity for %llu bytes; see: stat", (unsigned long long)size);
		goto out_unlock;
	}
	block = st->next_block;
	rc = shm_block_name(st->prefix, block, shm_name, sizeof(shm_name));
	if (rc == 0)
		rc = yp_begin(st->yp);
	if (rc)
		goto out_release;
	row = (struct yp_obj){ .parent = (int64_t)dir->id, .name = name, .kind = "mutable", .state = "sealed",
			       .scope = canon, .node = st->node_id, .size = size, .mode = mode & 07777, .uid = uid,
			       .gid = gid, .created_ns = now, .modified_ns = now };
	rc = yp_block_insert(st->yp, (int64_t)block, st->node_id, shm_name, size, "dedicated");
	if (rc == 0)
		rc = yp_obj_insert(st->yp, &row);
	if (rc == 0)
		rc = yp_extent_set(st->yp, row.id, (int64_t)block, 0, size);
	if (rc == 0)
		rc = shm_create(shm_name, &fd);
	if (rc == 0 && ftruncate(fd, (off_t)size) < 0)
		rc = -errno;
	if (rc == 0)
		rc = yp_commit(st->yp);
	else
		yp_rollback(st->yp);
	if (fd >= 0)
		close(fd);
	if (rc) {
		snprintf(why, whylen, "could not make its block (%s)", strerror(-rc));
		if (fd >= 0)
			shm_remove(shm_name);
		goto out_release;
	}
	st->next_block++;
	o = ns_new(st, (uint64_t)row.id, OBJ_VAR, name);
	if (!o) { /* the rows stand; the next start loads it */
		rc = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto out_release;
	}
	o->mut = true;
	o->state = OBJ_SEALED;
	o->mode = mode & 07777;
	o->uid = uid;
	o->gid = gid;
	o->created_ns = o->modified_ns = o->sealed_ns = now;
	o->size = size;
	o->block_id = block;
	o->charge = charge;
	snprintf(o->shm_name, sizeof(o->shm_name), "%s", shm_name);
	if (strcmp(canon, "any") != 0) {
		char *copy = strdup(canon);
		if (copy) {
			free(o->scope);
			o->scope = copy;
		}
	}
	ns_link(st, dir, o, NULL);
	dir->modified_ns = now;
	pthread_mutex_unlock(&st->lock);
	return 0;

out_release:
	alloc_release(&st->alloc, &charge);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}
