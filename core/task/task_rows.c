/* SPDX-License-Identifier: MIT */
/* task_rows.c -- a task as its row in the yellow pages (meta/yp.h, table tasks), and back (see
 * taskInt.h).
 *
 * Rows go through t->yp, the store's YP (store_yp), with tasks->lock held (or, at tasks_init, before
 * anyone else can see t); meta serialises its connection itself, innermost.  Each write is one statement,
 * none in a transaction: a task's row and the store's changes for it (its reserved outputs, their seals)
 * are ordered, not atomic, and the order is what makes a crash safe.  The row is written before the
 * outputs are reserved (a spawn refused after that leaves a burnt id), a task is recorded running before
 * its program starts (a crash then makes it lost, never run twice), and exited before its outputs' seals,
 * whose mark is written after them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/task/taskInt.h"
#include "meta/yp.h"

/* k as its row (pid and its start time only once it is launched). */
static struct yp_task row_of(const struct task *k)
{
	return (struct yp_task){
		.id = (int64_t)k->id, .state = task_state_names[k->state], .argv = k->argv_blob,
		.argv_len = k->argv_len, .inputs = k->inputs, .outputs = k->outputs, .after = k->after,
		.scope = k->scope, .node = k->node, .placed = k->placed, .why = k->why, .uid = k->uid,
		.gid = k->gid, .groups = k->groups, .timeout_ms = k->timeout_ms, .exit_status = k->exit_status,
		.pid = k->launched ? k->l.id.pid : 0, .pid_start = k->launched ? k->l.id.start_time : 0,
		.pidns = k->launched ? k->l.id.pidns : 0, .queued_ns = k->queued_ns, .started_ns = k->started_ns,
		.ended_ns = k->ended_ns, .outputs_sealed = k->outputs_sealed, .keep_id = k->id != 0,
	};
}

int task_persist(struct tasks *t, struct task *k, bool insert)
{
	struct yp_task r = row_of(k);
	int rc;

	if (!insert)
		return yp_task_update(t->yp, &r);
	rc = yp_task_insert(t->yp, &r);
	if (rc == 0)
		k->id = (uint64_t)r.id;
	return rc;
}

int task_forget_row(struct tasks *t, const struct task *k)
{
	return yp_task_delete(t->yp, (int64_t)k->id);
}

static char *dup_n(const char *s, size_t n)
{
	char *c = malloc(n + 1);

	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

static int load_row(void *arg, const struct yp_task *r)
{
	struct tasks *t = arg;
	struct task *k = calloc(1, sizeof(*k));
	size_t argc = 0;

	if (!k)
		return -ENOMEM;
	k->id = (uint64_t)r->id;
	for (int s = 0; s <= T_LOST; s++)
		if (strcmp(r->state, task_state_names[s]) == 0)
			k->state = (enum task_state)s;
	k->told = (int)k->state; /* the past is no news */
	k->argv_blob = dup_n(r->argv, r->argv_len);
	k->argv_len = r->argv_len;
	for (size_t i = 0; i < r->argv_len; i++)
		argc += r->argv[i] == '\0';
	k->argv = calloc(argc + 1, sizeof(char *));
	if (!k->argv_blob || !k->argv) {
		task_free(k);
		return -ENOMEM;
	}
	for (size_t i = 0, w = 0; i < r->argv_len; i += strlen(k->argv_blob + i) + 1)
		k->argv[w++] = k->argv_blob + i;
	k->argc = argc;
	k->inputs = strdup(r->inputs);
	k->outputs = strdup(r->outputs);
	k->after = strdup(r->after);
	k->scope = strdup(r->scope);
	k->node = strdup(r->node);
	k->placed = strdup(r->placed);
	k->why = strdup(r->why);
	k->groups = strdup(r->groups);
	k->uid = r->uid;
	k->out_mode = 0644; /* not recorded: see struct task */
	k->gid = r->gid;
	k->timeout_ms = r->timeout_ms;
	k->exit_status = r->exit_status;
	k->l.id = (struct launch_id){ (pid_t)r->pid, r->pid_start, r->pidns };
	k->l.pidfd = k->l.out_fd = k->l.err_fd = -1;
	k->out_file = k->err_file = -1;
	k->queued_ns = r->queued_ns;
	k->started_ns = r->started_ns;
	k->ended_ns = r->ended_ns;
	k->outputs_sealed = r->outputs_sealed;
	for (int w = 0; w < 2; w++) { /* what an earlier daemon captured */
		char path[4096];
		struct stat sb;
		task_output_path(t, k->id, w, path, sizeof(path));
		k->out_len[w] = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	}
	if (!k->inputs || !k->outputs || !k->after || !k->scope || !k->node || !k->placed || !k->why ||
	    !k->groups) {
		task_free(k);
		return -ENOMEM;
	}
	task_link(t, k);
	return 0;
}

int task_load_rows(struct tasks *t)
{
	return yp_each_task(t->yp, load_row, t);
}
