/* SPDX-License-Identifier: MIT */
/* task_resume.c -- what a restart does to the tasks the YP holds (see task.h, tasks_init; called with the
 * rows loaded and tasks->lock held, before the thread starts).
 *
 * A task that was running is lost and its outputs dropped; what is left of its processes is killed, found
 * by the pid and start time its row kept (a task with a PID namespace of its own kept none: its tree died
 * with the daemon).  A queued one gets its
 * outputs reserved again, or is cancelled saying why.  One recorded exited before its outputs' seals
 * were is settled: it stays exited if they all were committed, and is lost otherwise. */
#include <stdio.h>

#include "core/store/path.h"
#include "core/task/taskInt.h"

/* At a start: a task recorded exited before its outputs' seals were.  They were either all committed
 * (the mark is what the daemon did not live to write) or some were not, and recovery dropped those
 * (the task is lost then: a dependent must not find half of its inputs). */
static void settle_seals(struct tasks *t, struct task *k)
{
	char name[PATH_MAX_LEN + 1];
	struct store_attr a;
	bool all = true;
	uint64_t id;

	for (const char *p = k->outputs; all && (p = task_item(p, name, sizeof(name))) != NULL;)
		all = path_resolve(t->st, name, &id, &a) == 0 && a.sealed;
	k->outputs_sealed = true;
	if (!all) {
		k->state = T_LOST;
		k->exit_status = -1;
		task_set_str(&k->why, "it exited 0, but the daemon stopped before all its outputs were sealed; the "
			"unsealed ones were dropped");
	}
	task_persist(t, k, false);
}

/* What a restart does to the tasks it finds: see tasks_init. */
void task_resume(struct tasks *t)
{
	char why[512];

	for (struct task *k = t->first; k; k = k->next) {
		if (k->state == T_RUNNING) {
			int n = k->l.id.pid ? launch_kill_leftovers(&k->l.id) : 0;
			t->pending++;
			fprintf(stderr, "fabricd: task %llu was running when its daemon stopped: lost%s\n",
				(unsigned long long)k->id, n > 0 ? "; its leftover processes were killed" : "");
			task_end(t, k, T_LOST, -1, "the daemon stopped while it ran; its processes were ended and "
				 "its outputs dropped");
		} else if (k->state == T_QUEUED) {
			t->pending++;
			if (task_reserve_outputs(t, k, why, sizeof(why)) != 0) {
				char msg[600];
				snprintf(msg, sizeof(msg), "its outputs could not be reserved again at restart: %s", why);
				task_end(t, k, T_CANCELLED, -1, msg);
			}
		} else {
			t->finished++;
			if (k->state == T_EXITED && !k->outputs_sealed)
				settle_seals(t, k);
		}
	}
}
