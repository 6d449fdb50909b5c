/* SPDX-License-Identifier: MIT */
/* store_open.c -- opening variables: making one (store_create), opening one (store_open), the opens that
 * wait for a variable being written, and handles.
 *
 * WAITING OPENS
 * A variable being written is a future (SEALING in store_seal.c tells when it is done).  An open by any
 * process but its writers' while it is written, or by anybody while its seal is being taken (o->sealing),
 * does not fail: it is queued on o as a struct waiter and the caller gets STORE_WAITING (O_NONBLOCK gets
 * -EAGAIN instead).  A process that still holds its own write descriptor never waits for itself: its
 * opens go through.  The last writer's release answers the queue with store_take_waiters, under the
 * lock, right after the seal or the drop: a handle for each reader, -EROFS for each writer, -ENOENT for
 * all when the variable was dropped; then, outside the lock, store_wake_waiters calls their wake().  A
 * waiter is made and freed in this file; store_cancel_wait withdraws one whose request was interrupted.
 * Opens for writing of a sealed variable get -EROFS (but a mutable object's: it is written in place).
 *
 * VARIABLES BEING WRITTEN have no rows in the YP (o->in_yp false): the id (inode number) comes from
 * store_new_id, the block from st->next_block, and the object row, its block's row and its extent are
 * written with the seal, in its one transaction (store_seal.c).  Recovery does not need them: a crash
 * drops a variable being written anyway, and its shm block, which no row names, is an orphan that the
 * next start removes.  So creating a variable touches no SQLite at all, and `sqlite3` shows a variable
 * from its seal on.  The one exception is a variable that gets a second name while written (a hard link,
 * whose row must name its object's): store_alias_new writes its object's row first, state 'writing'.
 *
 * SCOPE
 * A variable whose scope is not "any" opens only for a thread inside it (EACCES otherwise), checked at
 * every open.  One whose scope names only processes of this node, all ended, is removed when somebody
 * else tries to open it (ENOENT then) or when its last handle closes (store_release). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/text/scope.h"
#include "core/os/proc.h"
#include "core/store/storeInt.h"

static pid_t handle_tgid(struct store_handle *h)
{
	if (!h->tgid)
		h->tgid = proc_tgid(h->pid);
	return h->tgid;
}

/* Does pid belong to a process that holds a write handle of o? */
static bool is_writer_process(struct obj *o, pid_t pid)
{
	pid_t tgid = 0;

	for (struct store_handle *h = o->handles; h; h = h->next) {
		if (!h->writer)
			continue;
		if (h->pid == pid)
			return true;
		if (!tgid)
			tgid = proc_tgid(pid);
		if (tgid && handle_tgid(h) == tgid)
			return true;
	}
	return false;
}

/* May thread pid (0: unknown) use o, by o's scope?  The scope names processes by their pid (the thread
 * group) and threads by their id; the FUSE request gives the thread. */
static bool in_scope(struct store *st, struct obj *o, pid_t pid)
{
	struct scope s;

	if (scope_parse(o->scope, &s, NULL, 0) != 0)
		return false;
	return scope_allows(&s, st->node, pid ? proc_tgid(pid) : 0, pid);
}

/* Has every process o's scope names ended?  True only for a scope made of process: and exact: terms of
 * this node (data like a C pointer, meaningless once its process is gone); such a variable is removed
 * when its last handle closes, or when somebody else tries to open it. */
bool store_owners_gone(struct store *st, struct obj *o)
{
	struct scope s;

	if (strncmp(o->scope, "process:", 8) != 0 && strncmp(o->scope, "exact:", 6) != 0 &&
	    strncmp(o->scope, "union:", 6) != 0)
		return false;
	if (scope_parse(o->scope, &s, NULL, 0) != 0)
		return false;
	for (unsigned i = 0; i < s.nterms; i++) {
		const struct scope_term *t = &s.terms[i];
		if (t->kind != SCOPE_PROCESS && t->kind != SCOPE_EXACT)
			return false;
		if (strcmp(t->node, st->node) != 0 || kill(t->pid, 0) == 0 || errno != ESRCH)
			return false;
	}
	return true;
}

/* Remove a sealed variable whose owner processes are gone.  Lock held. */
void store_drop_orphan(struct store *st, struct obj *o)
{
	char path[512];

	store_path(o, path, sizeof(path));
	if (store_unlink_locked(st, o) == 0)
		store_logf(st, "%s: removed: every process of its scope '%s' has ended", path, o->scope);
}

int store_new_handle(struct obj *o, bool writer, pid_t pid, struct store_handle **out)
{
	struct store_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->o = o;
	h->writer = writer;
	h->pid = pid;
	h->next = o->handles;
	o->handles = h;
	o->nopen++;
	if (writer)
		o->nwriters++;
	*out = h;
	return 0;
}

int store_make_var_locked(struct store *st, struct obj *dir, const char *name, uint32_t mode, uint32_t uid,
			  uint32_t gid, bool own_block, struct obj **out)
{
	struct obj *o;
	char shm_name[SHM_NAME_MAX];
	int64_t now = store_now_ns();
	uint64_t block;
	int fd = -1, rc;

	if (dir->unlinked)
		return -ENOENT;
	if (dir->kind != OBJ_DIR)
		return -ENOTDIR;
	if (dir->id == STORE_ROOT_ID || store_under_shards(st, dir))
		return -EPERM;
	rc = store_dataset_allows(st, dir, OBJ_VAR, name);
	if (rc)
		return rc;
	if (ns_child(st, dir, name))
		return -EEXIST;
	block = own_block ? st->next_block : 0;
	shm_name[0] = '\0';
	rc = own_block ? shm_block_name(st->prefix, block, shm_name, sizeof(shm_name)) : 0;
	if (rc == 0 && own_block)
		rc = shm_create(shm_name, &fd);
	if (rc)
		return rc;
	o = ns_new(st, store_new_id(st), OBJ_VAR, name);
	if (!o) {
		if (own_block) {
			close(fd);
			shm_remove(shm_name);
		}
		return -ENOMEM;
	}
	st->next_block += own_block;
	o->in_yp = false; /* its rows come with its seal (see VARIABLES BEING WRITTEN above) */
	o->state = OBJ_WRITING;
	o->mode = mode & STORE_VAR_MODE_BITS;
	o->uid = uid;
	o->gid = gid;
	o->created_ns = o->modified_ns = now;
	o->block_id = block;
	snprintf(o->shm_name, sizeof(o->shm_name), "%s", shm_name);
	o->fd = fd;
	ns_link(st, dir, o, NULL);
	dir->modified_ns = now;
	*out = o;
	return 0;
}

int store_create(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		 uint32_t gid, int flags, pid_t pid, struct store_attr *out, struct store_handle **h)
{
	struct obj *dir, *o;
	char why[128];
	int rc;

	(void)flags;
	rc = names_check_leaf(name, why, sizeof(why));
	if (rc) {
		if (rc == -EINVAL)
			store_logf(st, "refused name \"%.64s\": %s", name, why);
		return rc;
	}
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	rc = dir ? store_make_var_locked(st, dir, name, mode, uid, gid, true, &o) : -ENOENT;
	if (rc == 0) {
		rc = store_new_handle(o, true, pid, h);
		if (rc) /* its name, row and block go as those of an abandoned writer: at once */
			store_unlink_locked(st, o);
	}
	if (rc == 0) {
		o->nlookup++;
		store_attr_of(o, out);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_open(struct store *st, uint64_t id, int flags, pid_t pid,
	       void (*wake)(void *arg, int rc, struct store_handle *h), void *arg, struct store_handle **h)
{
	bool writer = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC), held, member;
	struct waiter *w;
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || o->data_gone) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (o->kind == OBJ_DIR) {
		rc = -EISDIR;
		goto out_unlock;
	}
	if (o->kind == OBJ_LINK) { /* the kernel follows links itself; what reaches here is O_NOFOLLOW's */
		rc = -ELOOP;
		goto out_unlock;
	}
	if (strcmp(o->scope, "any") != 0 && !in_scope(st, o, pid)) {
		rc = -EACCES;
		if (o->state == OBJ_SEALED && !o->unlinked && o->nopen == 0 && store_owners_gone(st, o)) {
			store_drop_orphan(st, o);
			rc = -ENOENT;
		}
		goto out_unlock;
	}
	held = o->owner && o->state == OBJ_WRITING;
	member = held && st->owner_member && st->owner_member(st->owner_arg, o->owner, pid);
	if (held && writer && !member) {
		rc = -EBUSY; /* reserved: only its owner's processes write it */
		goto out_unlock;
	}
	if (o->sealing || (o->state == OBJ_WRITING && !member && !is_writer_process(o, pid))) {
		if (o->sealing && st->sealer_on) { /* maybe queued for a batch's commit: no waiting for the batch */
			st->seal_hurry = true;
			pthread_cond_signal(&st->seal_cond);
		}
		if (flags & O_NONBLOCK) {
			rc = -EAGAIN;
			goto out_unlock;
		}
		w = malloc(sizeof(*w));
		if (!w) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		*w = (struct waiter){ .wake = wake, .arg = arg, .flags = flags, .pid = pid, .next = o->waiters };
		o->waiters = w;
		rc = STORE_WAITING;
		goto out_unlock;
	}
	if (writer && o->state == OBJ_SEALED && !o->mut) {
		rc = -EROFS;
		goto out_unlock;
	}
	if (o->fd < 0 && !o->packed) { /* a packed variable is read through its slab's fd */
		rc = shm_open_block(o->shm_name, &o->fd);
		if (rc) {
			store_logf(st, "cannot open block %s of object %llu: %s", o->shm_name,
				   (unsigned long long)o->id, strerror(-rc));
			rc = -EIO;
			goto out_unlock;
		}
	}
	if (writer && (flags & O_TRUNC))
		rc = store_truncate_locked(st, o, 0);
	if (rc == 0)
		rc = store_new_handle(o, writer, pid, h);
	if (rc == 0 && writer && held)
		o->owner_wrote = true;
	if (rc && o->nopen == 0 && o->fd >= 0) {
		close(o->fd);
		o->fd = -1;
	}
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

bool store_cancel_wait(struct store *st, uint64_t id, void *arg)
{
	bool found = false;
	struct obj *o;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	for (struct waiter **pp = o ? &o->waiters : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->arg == arg) {
			struct waiter *w = *pp;
			*pp = w->next;
			free(w);
			found = true;
			break;
		}
	}
	if (o)
		store_maybe_free(st, o);
	pthread_mutex_unlock(&st->lock);
	return found;
}

/* Answer the opens that waited for o's seal: each gets its own handle, opened here under the lock so
 * that o's bytes cannot go between the seal and their open. */
struct waiter *store_take_waiters(struct obj *o, int rc)
{
	struct waiter *ws = o->waiters;

	o->waiters = NULL;
	for (struct waiter *w = ws; w; w = w->next) {
		w->h = NULL;
		if (rc)
			w->rc = rc;
		else if ((w->flags & O_ACCMODE) != O_RDONLY || (w->flags & O_TRUNC))
			w->rc = -EROFS;
		else
			w->rc = store_new_handle(o, false, w->pid, &w->h);
	}
	return ws;
}

/* Called without the lock: a wake() may call back into the store (fs/ looks at the variable's attributes
 * to answer the open, and releases the handle when the caller is gone). */
void store_wake_waiters(struct waiter *ws)
{
	while (ws) {
		struct waiter *next = ws->next;
		ws->wake(ws->arg, ws->rc, ws->h);
		free(ws);
		ws = next;
	}
}
