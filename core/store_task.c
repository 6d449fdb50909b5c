/* SPDX-License-Identifier: MIT */
/* store_task.c -- variables reserved as tasks' outputs (see store.h), and the YP for the task module.
 *
 * A reserved output is an ordinary variable being written, with obj->task set: store_open lets only the
 * task's processes write it, and store_release does not seal it.  The task's end is played as one more
 * writer's release: store_task_finish opens a writer handle of its own, clears obj->task (and dooms the
 * variable when the task failed), and releases it.  So sealing, dropping, packing and waking the waiting
 * readers all take the one path every variable takes, and whichever comes last -- the task's end or its
 * writers' releases, which the kernel may send after the task's exit is seen -- does the seal. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/storeInt.h"

void store_task_hooks(struct store *st, bool (*member)(void *arg, uint64_t task, pid_t pid), void *arg)
{
	pthread_mutex_lock(&st->lock);
	st->task_member = member;
	st->task_arg = arg;
	pthread_mutex_unlock(&st->lock);
}

int store_task_reserve(struct store *st, uint64_t parent, const char *name, uint64_t task, uint32_t uid,
		       uint32_t gid, uint64_t *id, char *why, size_t whylen)
{
	struct obj *dir, *o, *old;
	int rc = names_check_leaf(name, why, whylen);

	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	old = dir ? ns_child(st, dir, name) : NULL;
	if (old && old->task)
		snprintf(why, whylen, "'%s' is reserved as an output of task %llu", name,
			 (unsigned long long)old->task);
	else if (old)
		snprintf(why, whylen, "'%s' exists; remove it or give the output another name", name);
	rc = dir ? store_make_var_locked(st, dir, name, 0644, uid, gid, &o) : -ENOENT;
	if (rc == 0) {
		o->task = task;
		close(o->fd); /* opened again by the task's first open */
		o->fd = -1;
		*id = o->id;
	} else if (!old) {
		snprintf(why, whylen, "cannot reserve output '%s': %s", name, strerror(-rc));
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_task_output(struct store *st, uint64_t id, struct store_task_output *out)
{
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || o->unlinked || o->kind != OBJ_VAR)
		rc = -ENOENT;
	else
		*out = (struct store_task_output){ o->task, o->task_written, o->doomed };
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_task_finish(struct store *st, uint64_t id, bool ok)
{
	struct store_handle *h = NULL;
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || !o->task || o->data_gone) {
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
		/* cannot seal it without its bytes: drop it like a failed task's */
		o->task = 0;
		store_unlink_locked(st, o);
		pthread_mutex_unlock(&st->lock);
		return rc ? rc : -ENOMEM;
	}
	o->task = 0;
	pthread_mutex_unlock(&st->lock);
	store_release(st, h);
	return rc;
}

int store_yp_call(struct store *st, int (*fn)(struct yp *yp, void *arg), void *arg)
{
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = fn(st->yp, arg);
	pthread_mutex_unlock(&st->lock);
	return rc;
}
