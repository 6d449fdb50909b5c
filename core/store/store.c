/* SPDX-License-Identifier: MIT */
/* store.c -- names and attributes: lookup, mkdir, symlink, link, readlink, rmdir, unlink, rename,
 * setattr, readdir, statfs.
 *
 * DESIGN
 * Each operation takes store->lock, checks everything it can in memory, writes the YP in one transaction,
 * and only then changes memory, so a failed commit leaves both as they were.  The namespace rules:
 *   - the root holds vars/ only; nothing is created, removed or renamed in the root itself (EPERM);
 *   - names obey names_check_leaf (ENAMETOOLONG, EINVAL for '@' and control characters), links' too;
 *   - a symbolic link (OBJ_LINK) is a row of its own kind holding its target; the store never follows one
 *     (the kernel does, for callers of the mount; path.c refuses one with ELOOP);
 *   - a hard link is an alias (store_alias.c): lookups and readdir answer with the object it names; an
 *     unlink or rename over one of several names takes that name only;
 *   - unlink is POSIX: the name goes at once, the bytes when the last open handle closes
 *     (store_release_data), and the YP row in between says state 'deleted' with no parent, so a crash
 *     in between is cleaned up at the next start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/store/storeInt.h"
#include "core/text/dtype.h"
#include "meta/yp.h"

static void link_child(struct store *st, struct obj *dir, struct obj *o)
{
	ns_link(st, dir, o, NULL);
	if (o->kind == OBJ_DIR)
		dir->nsubdirs++;
	dir->modified_ns = store_now_ns();
}

/* A directory in which names may be made or removed: vars/ or below it. */
static int writable_dir(struct store *st, uint64_t id, struct obj **out)
{
	struct obj *dir = ns_by_id(st, id);

	if (!dir || dir->unlinked)
		return -ENOENT;
	if (dir->kind != OBJ_DIR)
		return -ENOTDIR;
	if (dir->id == STORE_ROOT_ID)
		return -EPERM;
	*out = dir;
	return 0;
}

/* What unlink and rmdir remove: the child called name of a writable directory parent.  Lock held. */
static int existing_child(struct store *st, uint64_t parent, const char *name, struct obj **dir, struct obj **o)
{
	int rc = writable_dir(st, parent, dir);

	*o = rc ? NULL : ns_child(st, *dir, name);
	return rc ? rc : *o ? 0 : -ENOENT;
}

bool store_attr_allows(const struct store_attr *a, uint32_t uid, uint32_t gid, const uint32_t *groups,
		       size_t ngroups, unsigned want)
{
	unsigned shift = 0; /* other */

	if (uid == 0)
		return true;
	if (uid == a->uid)
		shift = 6;
	else if (gid == a->gid)
		shift = 3;
	for (size_t i = 0; shift == 0 && i < ngroups; i++)
		if (groups[i] == a->gid)
			shift = 3;
	return ((a->mode >> shift) & want & 07) == (want & 07);
}

bool store_may_create(struct store *st, uint64_t dir, uint32_t uid, uint32_t gid, const uint32_t *groups,
		      size_t ngroups)
{
	struct store_attr a;
	struct obj *d;
	bool ok;

	pthread_mutex_lock(&st->lock);
	d = ns_by_id(st, dir);
	if (d)
		store_attr_of(d, &a);
	ok = d && d->kind == OBJ_DIR && store_attr_allows(&a, uid, gid, groups, ngroups, 03);
	pthread_mutex_unlock(&st->lock);
	return ok;
}

bool store_under_shards(struct store *st, const struct obj *dir)
{
	struct obj *shards = st->shards_id ? ns_by_id(st, st->shards_id) : NULL;

	return shards && ns_is_ancestor(shards, dir);
}

static int check_name(struct store *st, const char *name)
{
	char why[128];
	int rc = names_check_leaf(name, why, sizeof(why));

	if (rc == -EINVAL)
		store_logf(st, "refused name \"%.64s\": %s", name, why);
	return rc;
}

int store_lookup(struct store *st, uint64_t parent, const char *name, struct store_attr *out)
{
	struct obj *dir, *o;
	int rc = 0;

	if (strlen(name) > NAMES_LEAF_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	if (!dir || dir->unlinked)
		rc = -ENOENT;
	else if (dir->kind != OBJ_DIR)
		rc = -ENOTDIR;
	else if (!(o = ns_child(st, dir, name)) &&
		 !(strcmp(name, "local") == 0 && dir->parent && dir->parent->id == st->shards_id &&
		   (o = ns_child(st, dir, st->node)))) /* shards/NAME/local: this node's piece */
		rc = -ENOENT;
	else {
		o = store_named(o);
		if (o->seal_queued) { /* answer with its sealed attributes (store_settled), then look again */
			uint64_t id = o->id;
			store_settled(st, id);
			pthread_mutex_unlock(&st->lock);
			return store_lookup(st, parent, name, out);
		}
		o->nlookup++;
		store_attr_of(o, out);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_getattr(struct store *st, uint64_t id, struct store_attr *out)
{
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = store_settled(st, id);
	if (o)
		store_attr_of(o, out);
	else
		rc = -ENOENT;
	pthread_mutex_unlock(&st->lock);
	return rc;
}

uint64_t store_object_of(struct store *st, uint64_t id)
{
	struct obj *o;
	uint64_t of;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	of = o && !o->unlinked ? store_named(o)->id : 0;
	pthread_mutex_unlock(&st->lock);
	return of;
}

void store_forget(struct store *st, uint64_t id, uint64_t nlookup)
{
	struct obj *o;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (o) {
		o->nlookup = nlookup > o->nlookup ? 0 : o->nlookup - nlookup;
		store_maybe_free(st, o);
	}
	pthread_mutex_unlock(&st->lock);
}

/* Make a directory or a link `name` in parent (mkdir, symlink): the same rules, one row, one commit. */
static int make_named(struct store *st, uint64_t parent, const char *name, enum obj_kind kind, uint32_t mode,
		      uint32_t uid, uint32_t gid, const char *target, struct store_attr *out)
{
	struct yp_obj row = { 0 };
	struct obj *dir, *o;
	int64_t now = store_now_ns();
	int rc = check_name(st, name);

	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	rc = writable_dir(st, parent, &dir);
	if (rc == 0 && store_under_shards(st, dir))
		rc = -EPERM; /* shards/ holds what the shard verb makes */
	if (rc == 0)
		rc = store_dataset_allows(st, dir, kind, name);
	if (rc)
		goto out_unlock;
	if (ns_child(st, dir, name)) {
		rc = -EEXIST;
		goto out_unlock;
	}
	row = (struct yp_obj){ .id = (int64_t)store_new_id(st), .parent = (int64_t)dir->id, .name = name, .kind = kind == OBJ_DIR ? "dir" : "link",
			       .state = "sealed", .scope = "any", .node = st->node_id, .mode = mode & 07777,
			       .uid = uid, .gid = gid, .created_ns = now, .modified_ns = now, .sealed_ns = now,
			       .target = target, .size = target ? strlen(target) : 0 };
	rc = yp_obj_insert(st->yp, &row);
	if (rc)
		goto out_unlock;
	o = ns_new(st, (uint64_t)row.id, kind, name);
	if (o && target && !(o->target = strdup(target))) {
		ns_free(st, o);
		o = NULL;
	}
	if (!o) {
		yp_obj_delete(st->yp, row.id);
		rc = -ENOMEM;
		goto out_unlock;
	}
	o->state = OBJ_SEALED;
	o->mode = mode & 07777;
	o->uid = uid;
	o->gid = gid;
	o->size = row.size;
	o->created_ns = o->modified_ns = o->sealed_ns = now; /* born sealed: the one-winner rule's time */
	link_child(st, dir, o);
	o->nlookup++;
	store_attr_of(o, out);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_mkdir(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		uint32_t gid, struct store_attr *out)
{
	return make_named(st, parent, name, OBJ_DIR, mode, uid, gid, NULL, out);
}

/* A link is its target and nothing else: mode 0777 as on every Linux file system, sealed at birth. */
int store_symlink(struct store *st, uint64_t parent, const char *name, const char *target, uint32_t uid,
		  uint32_t gid, struct store_attr *out)
{
	size_t len = strlen(target);

	if (len == 0)
		return -ENOENT;
	if (len >= STORE_LINK_MAX)
		return -ENAMETOOLONG;
	return make_named(st, parent, name, OBJ_LINK, 0777, uid, gid, target, out);
}

int store_link(struct store *st, uint64_t id, uint64_t newparent, const char *newname, struct store_attr *out)
{
	struct obj *o, *dir, *a;
	int rc = check_name(st, newname);

	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || o->unlinked) {
		rc = -ENOENT; /* as link(2) of an open file whose last name is gone */
		goto out_unlock;
	}
	o = store_named(o);
	rc = writable_dir(st, newparent, &dir);
	if (rc == 0 && (o->kind == OBJ_DIR || store_under_shards(st, dir) || store_under_shards(st, o->parent)))
		rc = -EPERM; /* POSIX for directories; shards/ holds the shard verb's pieces and nothing else */
	else if (rc == 0 && (dir->dataset || dir->id == st->datasets_id || (o->parent && o->parent->dataset)))
		rc = -EPERM; /* an item has one name: its key */
	else if (rc == 0 && o->owner)
		rc = -EBUSY; /* reserved: its names are its owner's until it ends */
	else if (rc == 0 && ns_child(st, dir, newname))
		rc = -EEXIST;
	if (rc == 0)
		rc = store_alias_new(st, dir, newname, o, &a);
	if (rc == 0) {
		o->nlookup++;
		store_attr_of(o, out);
	}
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

ssize_t store_readlink(struct store *st, uint64_t id, char *buf, size_t size)
{
	struct obj *o;
	ssize_t rc;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o)
		rc = -ENOENT;
	else if (o->kind != OBJ_LINK)
		rc = -EINVAL;
	else if ((rc = (ssize_t)strlen(o->target)) > (ssize_t)size)
		rc = -ERANGE;
	else
		memcpy(buf, o->target, (size_t)rc);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_rmdir(struct store *st, uint64_t parent, const char *name)
{
	struct obj *dir, *o;
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = existing_child(st, parent, name, &dir, &o);
	if (rc)
		goto out_unlock;
	if (o->kind != OBJ_DIR)
		rc = -ENOTDIR;
	else if (o->nchildren)
		rc = -ENOTEMPTY;
	else
		rc = yp_obj_delete(st->yp, (int64_t)o->id);
	if (rc)
		goto out_unlock;
	store_mark_unlinked(st, o);
	o->data_gone = true;
	dir->modified_ns = store_now_ns();
	store_maybe_free(st, o);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Write the YP side of removing o's name (inside the caller's transaction): rows gone when nothing has o
 * open, else state 'deleted' with no parent until the last close. */
static int unlink_rows(struct store *st, struct obj *o)
{
	struct yp_obj row;

	if (o->nopen == 0 && !o->waiters)
		return store_drop_rows(st, o);
	store_fill_yp(o, &row);
	row.parent = 0;
	row.state = "deleted";
	return yp_obj_update(st->yp, &row);
}

/* Memory side of removing a variable's name, after the commit. */
static void unlink_var(struct store *st, struct obj *o)
{
	store_mark_unlinked(st, o);
	if (o->nopen == 0 && !o->waiters) {
		o->data_gone = true; /* rows are gone already */
		store_free_bytes(st, o);
	}
	store_maybe_free(st, o);
}

/* See storeInt.h: every name of o goes, its aliases' first. */
int store_unlink_locked(struct store *st, struct obj *o)
{
	struct obj *dir = o->parent;
	int rc = yp_begin(st->yp);

	if (rc)
		return rc;
	rc = store_alias_drop_rows(st, o);
	if (rc == 0)
		rc = unlink_rows(st, o);
	if (rc) {
		yp_rollback(st->yp);
		return rc;
	}
	rc = yp_commit(st->yp);
	if (rc)
		return rc;
	if (dir)
		dir->modified_ns = store_now_ns();
	store_alias_drop(st, o);
	unlink_var(st, o);
	return 0;
}

/* One name of a variable or link goes, as unlink(2) or a rename over it takes it (lock held): an alias
 * by itself; the object's own name, when it has aliases, by promoting one of them; its last name with the
 * object (the bytes at its last close).  The YP side, inside the caller's transaction, and the memory
 * side after its commit. */
static int name_gone_rows(struct store *st, struct obj *e)
{
	if (e->kind == OBJ_ALIAS)
		return store_alias_remove_rows(st, e);
	return e->aliases ? store_alias_promote_rows(st, e) : unlink_rows(st, e);
}

static void name_gone(struct store *st, struct obj *e)
{
	if (e->kind == OBJ_ALIAS)
		store_alias_remove(st, e);
	else if (e->aliases)
		store_alias_promote(st, e);
	else
		unlink_var(st, e);
}

int store_dataset_drop(struct store *st, uint64_t id, uint64_t *items)
{
	struct obj *o, *c, *next;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || !o->dataset || o->unlinked || !o->parent || o->parent->id != st->datasets_id)
		rc = -ENOENT;
	for (c = rc ? NULL : o->first_child; c; c = c->next_sib)
		if (store_named(c)->owner)
			rc = -EBUSY; /* a task's output: it ends with its task */
	if (rc == 0)
		rc = yp_begin(st->yp);
	if (rc)
		goto out;
	for (c = o->first_child; rc == 0 && c; c = c->next_sib)
		rc = name_gone_rows(st, c);
	if (rc == 0)
		rc = yp_obj_delete(st->yp, (int64_t)o->id); /* its dataset rows go with it (cascade) */
	if (rc) {
		yp_rollback(st->yp);
		goto out;
	}
	rc = yp_commit(st->yp);
	if (rc)
		goto out;
	*items = o->nchildren;
	st->ev_quiet++; /* one event and one kernel notification for the dataset, not one an item */
	st->names_quiet = true;
	for (c = o->first_child; c; c = next) {
		next = c->next_sib;
		name_gone(st, c);
	}
	st->names_quiet = false;
	st->ev_quiet--;
	o->parent->modified_ns = store_now_ns();
	store_mark_unlinked(st, o);
	o->data_gone = true;
	store_maybe_free(st, o);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_unlink(struct store *st, uint64_t parent, const char *name)
{
	struct obj *dir, *o;
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = existing_child(st, parent, name, &dir, &o);
	if (rc)
		goto out_unlock;
	if (o->kind == OBJ_DIR)
		rc = -EISDIR;
	else if (store_named(o)->owner)
		rc = -EBUSY; /* reserved: it ends with its owner */
	else if ((rc = yp_begin(st->yp)) == 0) {
		rc = name_gone_rows(st, o);
		if (rc)
			yp_rollback(st->yp);
		else
			rc = yp_commit(st->yp);
	}
	if (rc == 0) {
		dir->modified_ns = store_now_ns();
		name_gone(st, o);
	}
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* e and target are names (an alias is checked as the object it names). */
static int rename_check(struct store *st, struct obj *e, struct obj *dst, struct obj *target_name, unsigned flags)
{
	struct obj *o = store_named(e), *target = target_name ? store_named(target_name) : NULL;

	if (target && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (o->owner || (target && target->owner))
		return -EBUSY; /* a reserved variable keeps its name until its owner ends */
	if (o->kind == OBJ_DIR && ns_is_ancestor(o, dst))
		return -EINVAL;
	if (!target)
		return 0;
	if (o->kind == OBJ_DIR && target->kind != OBJ_DIR)
		return -ENOTDIR;
	if (o->kind != OBJ_DIR && target->kind == OBJ_DIR)
		return -EISDIR;
	if (target->kind == OBJ_DIR && target->nchildren)
		return -ENOTEMPTY;
	(void)st;
	return 0;
}

/* A sealed variable renamed into a typed dataset must fit its type: the type it takes there into *type
 * (malloc'd; NULL when it keeps its own), or -EPERM, as for anything else a dataset does not hold (rename's
 * EINVAL says "a directory into itself", and mv reports it so). */
static int item_type_for(struct store *st, struct obj *o, struct obj *dst, char **type)
{
	char canon[DTYPE_STR_MAX], why[512], path[512];
	int rc = store_item_type_locked(dst, o->type, o->size, canon, why, sizeof(why));

	if (rc < 0) {
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: cannot become an item of a dataset: %s", path, why);
		return -EPERM;
	}
	if (rc == 0 || (o->type && strcmp(o->type, canon) == 0))
		return 0;
	*type = strdup(canon);
	return *type ? 0 : -ENOMEM;
}

int store_rename(struct store *st, uint64_t parent, const char *name, uint64_t newparent, const char *newname,
		 unsigned flags)
{
	struct obj *src, *dst, *o, *target;
	struct yp_obj row;
	char *copy = NULL, *newtype = NULL, from[4096], to[4096];
	int rc;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	rc = check_name(st, newname);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	rc = writable_dir(st, parent, &src);
	if (rc == 0)
		rc = writable_dir(st, newparent, &dst);
	if (rc == 0 && (store_under_shards(st, src) || store_under_shards(st, dst)))
		rc = -EPERM;
	if (rc)
		goto out_unlock;
	o = ns_child(st, src, name);
	if (!o) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (o->dataset || dst->id == st->datasets_id) /* a dataset is renamed within datasets/ only */
		rc = o->dataset && dst == src ? 0 : -EPERM;
	else
		rc = store_dataset_allows(st, dst, store_named(o)->kind, newname);
	if (rc == 0 && dst->dataset && (o->kind == OBJ_ALIAS || store_named(o)->mut))
		rc = -EPERM; /* an item is a variable with one name */
	if (rc == 0 && dst != src && o->state == OBJ_SEALED)
		rc = item_type_for(st, o, dst, &newtype);
	if (rc)
		goto out_unlock;
	target = ns_child(st, dst, newname);
	if (target && store_named(target) == store_named(o))
		goto out_unlock; /* two names of one object: POSIX says rename does nothing */
	rc = rename_check(st, o, dst, target, flags);
	if (rc)
		goto out_unlock;
	copy = strdup(newname);
	if (!copy) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	rc = yp_begin(st->yp);
	if (rc)
		goto out_unlock;
	if (target)
		rc = target->kind == OBJ_DIR ? yp_obj_delete(st->yp, (int64_t)target->id) : name_gone_rows(st, target);
	if (rc == 0) {
		store_fill_yp(o, &row);
		row.parent = (int64_t)dst->id;
		row.name = newname;
		if (newtype)
			row.type = newtype;
		rc = yp_obj_update(st->yp, &row);
	}
	if (rc) {
		yp_rollback(st->yp);
		goto out_unlock;
	}
	rc = yp_commit(st->yp);
	if (rc)
		goto out_unlock;
	if (target && target->kind == OBJ_DIR) {
		store_mark_unlinked(st, target);
		target->data_gone = true;
		store_maybe_free(st, target);
	} else if (target) {
		name_gone(st, target);
	}
	if (o->kind == OBJ_DIR)
		src->nsubdirs--;
	store_path(o, from, sizeof(from));
	st->ev_quiet++;
	ns_unlink(st, o);
	free(o->name);
	o->name = copy;
	copy = NULL;
	if (newtype) {
		free(o->type);
		o->type = newtype;
		newtype = NULL;
	}
	src->modified_ns = store_now_ns();
	link_child(st, dst, o);
	st->ev_quiet--;
	store_path(o, to, sizeof(to));
	struct event_field f = { "to", to, false };
	store_event_at(st, o, from, EV_RENAMED, &f, 1);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	free(copy);
	free(newtype);
	return rc;
}

int store_setattr(struct store *st, uint64_t id, const struct store_setattr *sa, struct store_attr *out)
{
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (o->id == STORE_ROOT_ID && (sa->set & (STORE_SET_MODE | STORE_SET_UID | STORE_SET_GID))) {
		rc = -EPERM;
		goto out_unlock;
	}
	if (sa->set & STORE_SET_SIZE) {
		if (o->kind == OBJ_DIR)
			rc = -EISDIR;
		else if (o->owner && !(st->owner_member && st->owner_member(st->owner_arg, o->owner, sa->pid)))
			rc = -EBUSY; /* reserved: as for opens, only its owner writes it */
		else /* even to the known size: passthrough writes may have grown the block past it */
			rc = store_truncate_locked(st, o, sa->size);
		if (rc)
			goto out_unlock;
	}
	if (sa->set & STORE_SET_MODE)
		o->mode = sa->mode & (o->kind == OBJ_VAR ? STORE_VAR_MODE_BITS : 07777);
	if (sa->set & STORE_SET_UID)
		o->uid = sa->uid;
	if (sa->set & STORE_SET_GID)
		o->gid = sa->gid;
	/* chmod and chown change no bytes: only a set time (touch, cp -a, tar, rsync) or a truncate (above)
	 * moves mtime, so the time a copy tool set survives the chmod it sends after it */
	if (sa->set & STORE_SET_MTIME) {
		o->modified_ns = sa->mtime_ns;
		/* while it is written, its block's own mtime is the variable's (the seal takes it from there):
		 * writes through passthrough move it as the kernel's would, and a set time moves it too */
		if (o->state == OBJ_WRITING && o->fd >= 0)
			futimens(o->fd, (const struct timespec[2]){ { .tv_nsec = UTIME_OMIT },
								  { .tv_sec = sa->mtime_ns / 1000000000,
								    .tv_nsec = sa->mtime_ns % 1000000000 } });
	}
	if (!o->unlinked)
		rc = store_persist(st, o);
	if (rc == 0)
		store_attr_of(o, out);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_dir_list(struct store *st, uint64_t dir_id, uint64_t **ids, size_t *n)
{
	struct obj *dir;
	uint64_t *list = NULL;
	size_t i = 0;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, dir_id);
	if (!dir || dir->unlinked) {
		rc = -ENOENT;
	} else if (dir->kind != OBJ_DIR) {
		rc = -ENOTDIR;
	} else {
		list = malloc((dir->nchildren ? dir->nchildren : 1) * sizeof(*list));
		if (!list)
			rc = -ENOMEM;
		for (struct obj *c = dir->first_child; list && c; c = c->next_sib)
			list[i++] = c->id;
	}
	pthread_mutex_unlock(&st->lock);
	*ids = list;
	*n = i;
	return rc;
}

int store_dir_entry(struct store *st, uint64_t dir, uint64_t child, char *name, size_t namelen,
		    struct store_attr *out, bool lookup)
{
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, child);
	if (!o || !o->parent || o->parent->id != dir) {
		rc = -ENOENT;
	} else {
		snprintf(name, namelen, "%s", o->name);
		o = store_named(o); /* an alias lists as its object: its inode, its attributes */
		store_attr_of(o, out);
		if (lookup)
			o->nlookup++;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void store_statfs(struct store *st, uint64_t *capacity, uint64_t *used, uint64_t *objects)
{
	alloc_totals(&st->alloc, capacity, used);
	pthread_mutex_lock(&st->lock);
	*objects = st->nvars;
	pthread_mutex_unlock(&st->lock);
}

const char *store_node_name(const struct store *st)
{
	return st->node;
}

const char *store_shm_prefix(const struct store *st)
{
	return st->prefix; /* set by store_init, never changed */
}
