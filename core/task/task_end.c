/* SPDX-License-Identifier: MIT */
/* task_end.c -- what follows a task's end (see taskInt.h): its outputs sealed (it exited 0) or dropped,
 * its row saved, the tasks that wait for it woken or cancelled; the changes told to pollers once the lock
 * is dropped; and finished records forgotten past the history bound.
 *
 * A seal hashes every byte, so it must not hold up everybody else's tasks: task_end queues the outputs,
 * and task_flush_changes seals or drops them after tasks->lock is dropped.  So a task's end is recorded
 * before its outputs' seals are committed; task_check_seals writes the mark (outputs_sealed) once they
 * are, and a restart that finds an exited task without it settles it (task_resume.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/task/taskInt.h"

void task_wake(struct tasks *t)
{
	uint64_t one = 1;

	if (write(t->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: the thread will look */
	}
}

void task_touch(struct tasks *t, struct task *k)
{
	k->version++;
	task_tell(t, k);
	if (t->nchanged == t->changed_cap) {
		size_t cap = t->changed_cap ? t->changed_cap * 2 : 16;
		uint64_t *n = realloc(t->changed_ids, cap * sizeof(*n));
		if (!n)
			return; /* a poller then wakes at its next read instead */
		t->changed_ids = n;
		t->changed_cap = cap;
	}
	t->changed_ids[t->nchanged++] = k->id;
}

/* Outputs to finish once the lock is dropped (the caller finishes them itself when memory runs out). */
static bool defer_finish(struct tasks *t, uint64_t id, bool ok)
{
	if (t->nfin == t->fin_cap) {
		size_t cap = t->fin_cap ? t->fin_cap * 2 : 16;
		struct finishing *n = realloc(t->fin, cap * sizeof(*n));
		if (!n)
			return false;
		t->fin = n;
		t->fin_cap = cap;
	}
	t->fin[t->nfin++] = (struct finishing){ id, ok };
	return true;
}

void task_flush_changes(struct tasks *t)
{
	struct finishing f;
	uint64_t ids[64];
	bool finished_some = false;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&t->lock);
		n = t->nfin;
		if (n)
			f = t->fin[--t->nfin];
		pthread_mutex_unlock(&t->lock);
		if (!n)
			break;
		store_reserved_end(t->st, f.id, f.ok);
		finished_some = true;
	}
	if (finished_some)
		task_wake(t); /* a task waiting for one of these inputs to be sealed may go now */
	do {
		pthread_mutex_lock(&t->lock);
		n = t->nchanged < 64 ? t->nchanged : 64;
		if (n)
			memcpy(ids, t->changed_ids + t->nchanged - n, n * sizeof(*ids));
		t->nchanged -= n;
		pthread_mutex_unlock(&t->lock);
		for (size_t i = 0; i < n; i++) {
			if (t->changed)
				t->changed(t->changed_arg, ids[i]);
			task_net_changed(t, ids[i]);
		}
	} while (n);
}

static void remove_capture_files(struct tasks *t, uint64_t id)
{
	char path[4096];

	for (int w = 0; w < 2; w++) {
		task_output_path(t, id, w, path, sizeof(path));
		unlink(path);
	}
}

static void unlink_task(struct tasks *t, struct task *k)
{
	task_unlink(t, k);
	remove_capture_files(t, k->id);
	task_touch(t, k);
	task_free(k);
}

/* Drop k's record: row, files, memory.  Lock held; k finished. */
int task_forget_locked(struct tasks *t, struct task *k)
{
	int rc = task_forget_row(t, k);

	if (rc && rc != -ENOENT)
		return rc;
	t->finished--;
	unlink_task(t, k);
	return 0;
}

void task_give_away_locked(struct tasks *t, struct task *k)
{
	for (size_t i = 0; i < k->nout; i++)
		if (!defer_finish(t, k->out_ids[i], false))
			store_reserved_end(t->st, k->out_ids[i], false);
	k->nout = 0;
	if (task_forget_row(t, k) != 0)
		fprintf(stderr, "fabricd: task %llu: its row could not be removed from the YP\n",
			(unsigned long long)k->id);
	t->pending--;
	unlink_task(t, k);
}

/* Keep at most t->history finished records: the oldest go first, unless a queued task still needs one. */
void task_trim(struct tasks *t)
{
	bool waits = false; /* does a queued task wait for another (after=) or for inputs at all? */

	if (t->finished <= t->history)
		return;
	for (struct task *q = t->queued_from; q && !waits; q = q->next)
		waits = q->state == T_QUEUED && ((q->after && *q->after) || (q->inputs && *q->inputs));
	for (struct task *k = t->first, *next; k && t->finished > t->history; k = next) {
		next = k->next;
		if (task_finished(k) && (!waits || !task_needed(t, k)))
			task_forget_locked(t, k);
	}
}

void task_check_seals(struct tasks *t, bool *recheck)
{
	bool pending_any = false;

	if (!t->seals_pending)
		return;
	for (struct task *k = t->first; k; k = k->next) {
		bool pending = false;
		if (k->state != T_EXITED || k->outputs_sealed)
			continue;
		for (size_t i = 0; i < k->nseal && !pending; i++) {
			struct store_attr a;
			/* gone: dropped by a write that failed at its last release, or sealed and removed since */
			pending = store_getattr(t->st, k->out_ids[i], &a) == 0 && !a.sealed;
		}
		if (pending) {
			*recheck = true;
			pending_any = true;
			continue;
		}
		k->outputs_sealed = true;
		task_persist(t, k, false);
	}
	t->seals_pending = pending_any;
}

void task_end(struct tasks *t, struct task *k, enum task_state state, int64_t exit_status, const char *why)
{
	bool ok = state == T_EXITED;

	for (size_t i = 0; i < k->nout; i++)
		if (!defer_finish(t, k->out_ids[i], ok))
			store_reserved_end(t->st, k->out_ids[i], ok);
	/* its end is recorded now, its outputs' seals after (task_check_seals marks them) */
	k->nseal = ok ? k->nout : 0;
	k->outputs_sealed = k->nseal == 0;
	t->seals_pending |= !k->outputs_sealed;
	k->nout = 0;
	k->state = state;
	k->exit_status = exit_status;
	k->ended_ns = task_now_ns();
	task_set_str(&k->why, why);
	if (task_persist(t, k, false) != 0)
		fprintf(stderr, "fabricd: task %llu: its end (%s) could not be recorded in the YP\n",
			(unsigned long long)k->id, task_state_names[state]);
	t->pending--;
	t->finished++;
	task_touch(t, k);
	if (state != T_EXITED)
		task_cancel_dependents(t, k);
	task_wake(t); /* tasks waiting for this one may go now, or be cancelled */
}
