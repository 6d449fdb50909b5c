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

#include "core/text/scope.h"
#include "core/store/storeInt.h"
#include "meta/yp.h"

/* Make mutable object `name` in dir (checked by the caller), scope canonical.  Lock held. */
static int make_mutable_locked(struct store *st, struct obj *dir, const char *name, uint64_t size,
			       const char *canon, uint32_t mode, uint32_t uid, uint32_t gid, char *why, size_t whylen)
{
	char shm_name[SHM_NAME_MAX];
	struct yp_obj row;
	struct obj *o;
	int64_t now = store_now_ns();
	uint64_t block, charge = 0;
	int fd = -1, rc;

	if (ns_child(st, dir, name)) {
		snprintf(why, whylen, "the name is taken");
		return -EEXIST;
	}
	rc = alloc_resize(&st->alloc, &charge, size);
	if (rc) {
		snprintf(why, whylen, "not enough capacity for %llu bytes; see: stat", (unsigned long long)size);
		return rc;
	}
	block = st->next_block;
	rc = shm_block_name(st->prefix, block, shm_name, sizeof(shm_name));
	if (rc == 0)
		rc = yp_begin(st->yp);
	if (rc)
		goto out_release;
	row = (struct yp_obj){ .id = (int64_t)store_new_id(st), .parent = (int64_t)dir->id, .name = name, .kind = "mutable", .state = "sealed",
			       .scope = canon, .node = st->node_id, .size = size, .mode = mode & STORE_VAR_MODE_BITS, .uid = uid,
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
		snprintf(why, whylen, "out of memory");
		rc = -ENOMEM;
		goto out_release;
	}
	o->mut = true;
	o->state = OBJ_SEALED;
	o->mode = mode & STORE_VAR_MODE_BITS;
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
	return 0;

out_release:
	alloc_release(&st->alloc, &charge);
	return rc;
}

static int check_size(uint64_t size, char *why, size_t whylen)
{
	if (size == 0 || size > (uint64_t)INT64_MAX) {
		snprintf(why, whylen, "a mutable object needs a size of at least one byte");
		return -EINVAL;
	}
	return 0;
}

int store_mutable(struct store *st, uint64_t parent, const char *name, uint64_t size, const char *scope,
		  uint32_t mode, uint32_t uid, uint32_t gid, char *why, size_t whylen)
{
	char canon[SCOPE_STR_MAX] = "any";
	struct obj *dir;
	int rc;

	rc = names_check_leaf(name, why, whylen);
	if (rc == 0)
		rc = check_size(size, why, whylen);
	if (rc == 0 && scope)
		rc = store_scope_canon(st, scope, canon, sizeof(canon), why, whylen);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	if (!dir || dir->unlinked || dir->kind != OBJ_DIR || dir->id == STORE_ROOT_ID || store_under_shards(st, dir) ||
	    dir->dataset || dir->id == st->datasets_id) {
		rc = !dir || dir->unlinked ? -ENOENT : dir->kind != OBJ_DIR ? -ENOTDIR : -EPERM;
		snprintf(why, whylen, "its directory is not usable (%s)", strerror(-rc));
	} else {
		rc = make_mutable_locked(st, dir, name, size, canon, mode, uid, gid, why, whylen);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

uint64_t store_shards_id(const struct store *st)
{
	return st->shards_id; /* set once, at the start */
}

/* shards/NAME, and in it one mutable piece per node, named by the node and scoped to it (one node today:
 * this one).  Under the lock from start to end, so nobody sees a shard without its piece. */
int store_shard(struct store *st, const char *name, uint64_t size, uint32_t mode, uint32_t dir_mode, uint32_t uid,
		uint32_t gid, char *why, size_t whylen)
{
	char scope[SCOPE_NODE_MAX + 8];
	struct obj *shards, *dir;
	struct yp_obj row;
	int64_t now = store_now_ns();
	int rc;

	rc = names_check_leaf(name, why, whylen);
	if (rc == 0)
		rc = check_size(size, why, whylen);
	if (rc == 0 && strcmp(name, "local") == 0) {
		snprintf(why, whylen, "'local' names this node's piece inside a shard; choose another name");
		rc = -EINVAL;
	}
	if (rc)
		return rc;
	snprintf(scope, sizeof(scope), "node:%s", st->node);
	pthread_mutex_lock(&st->lock);
	shards = ns_by_id(st, st->shards_id);
	if (!shards) {
		snprintf(why, whylen, "this store has no shards/ directory");
		rc = -EIO;
		goto out_unlock;
	}
	if (ns_child(st, shards, name)) {
		snprintf(why, whylen, "shards/%s exists", name);
		rc = -EEXIST;
		goto out_unlock;
	}
	row = (struct yp_obj){ .id = (int64_t)store_new_id(st), .parent = (int64_t)shards->id, .name = name, .kind = "dir", .state = "sealed",
			       .scope = "any", .node = st->node_id, .mode = dir_mode & 07777, .uid = uid, .gid = gid,
			       .created_ns = now, .modified_ns = now };
	rc = yp_obj_insert(st->yp, &row);
	if (rc) {
		snprintf(why, whylen, "the yellow pages refused shards/%s (%s)", name, strerror(-rc));
		goto out_unlock;
	}
	dir = ns_new(st, (uint64_t)row.id, OBJ_DIR, name);
	if (!dir) {
		yp_obj_delete(st->yp, row.id);
		snprintf(why, whylen, "out of memory");
		rc = -ENOMEM;
		goto out_unlock;
	}
	dir->state = OBJ_SEALED;
	dir->mode = dir_mode & 07777;
	dir->uid = uid;
	dir->gid = gid;
	dir->created_ns = dir->modified_ns = now;
	ns_link(st, shards, dir, NULL);
	shards->nsubdirs++;
	rc = make_mutable_locked(st, dir, st->node, size, scope, mode, uid, gid, why, whylen);
	if (rc) { /* no shard without its piece */
		if (yp_obj_delete(st->yp, (int64_t)dir->id) == 0) {
			shards->nsubdirs--;
			store_mark_unlinked(st, dir);
			dir->data_gone = true;
			store_maybe_free(st, dir);
		}
	}
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}
