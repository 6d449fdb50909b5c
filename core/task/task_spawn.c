/* SPDX-License-Identifier: MIT */
/* task_spawn.c -- accepting a task: the spawn's options checked, its row written, its outputs reserved
 * (see task.h, tasks_spawn).
 *
 * A spawn is checked whole before anything is kept: options, the program's words, inputs (they exist;
 * none is also an output), the `after` tasks (submitted before this one, so they can never form a cycle),
 * the placement (scopes), the outputs (free names in existing directories).  Then the row is written,
 * which gives the id, and the outputs are reserved in the task's name; if one cannot be, everything done
 * is undone and the spawn refused.  Nothing of a refused spawn remains but a burnt id.  A restart reserves
 * a queued task's outputs again the same way (task_reserve_outputs, from task_resume.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/os/proc.h"
#include "core/store/path.h"
#include "core/task/taskInt.h"
#include "core/text/names.h"
#include "core/text/scope.h"
#include "core/text/text.h"

/* Split a comma-separated option value into a '\n'-separated list, refusing empty items. */
static int split_list(const char *opt, const char *value, char **out, char *why, size_t whylen)
{
	size_t len = value ? strlen(value) : 0;
	char *l = malloc(len + 1);

	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		l[i] = value[i] == ',' ? '\n' : value[i];
	l[len] = '\0';
	if (len && (l[0] == '\n' || l[len - 1] == '\n' || strstr(l, "\n\n"))) {
		free(l);
		return text_say(why, whylen, -EINVAL, "%s= has an empty item in '%s'; separate names with single commas",
			   opt, value);
	}
	*out = l;
	return 0;
}

/* Call fn on each item of a '\n'-separated list, stopping at the first non-zero result. */
static int each_item(const char *list, int (*fn)(void *arg, const char *item), void *arg)
{
	char item[PATH_MAX_LEN + 1];
	int rc = 0;

	for (const char *p = list; rc == 0 && *p; p = task_item(p, item, sizeof(item)))
		if (strcspn(p, "\n") > PATH_MAX_LEN)
			return -ENAMETOOLONG;
	for (const char *p = list; rc == 0 && (p = task_item(p, item, sizeof(item))) != NULL;)
		rc = fn(arg, item);
	return rc;
}

/* Groups as the YP keeps them: "1,2,3". */
static char *groups_text(const uint32_t *groups, size_t n)
{
	char *out = malloc(n * 11 + 1), *o = out;

	if (!out)
		return NULL;
	*o = '\0';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s%u", i ? "," : "", groups[i]);
	return out;
}

struct spawn_check {
	struct tasks *t;
	struct task *k;
	char *why;
	size_t whylen;
	size_t nin;
	uint32_t groups[TASK_GROUPS_MAX]; /* the caller's */
	size_t ngroups;
};

static int check_input(void *arg, const char *name)
{
	struct spawn_check *c = arg;
	struct store_attr a;
	uint64_t id;
	int rc;

	if (task_is_output(c->k, name))
		return text_say(c->why, c->whylen, -EINVAL, "'%s' is both an input and an output of this task: a task "
			   "cannot wait for itself", name);
	rc = task_resolve_input(c->t->st, name, &id, &a);
	if (rc == -ENOENT && c->t->net) { /* another node's, or one another node's task makes */
		char node[NAMES_NODE_MAX + 1];
		uint64_t size, producer;
		int r = task_net_input(c->t, name, node, &size, NULL);
		if (r == -EISDIR)
			return text_say(c->why, c->whylen, -EINVAL, "in=%s is a directory on node %s; name its variables one "
					"by one", name, node);
		if (r == 0 || task_net_producer(c->t, name, &producer) >= 0)
			return ++c->nin > TASK_INPUTS_MAX ? text_say(c->why, c->whylen, -EINVAL, "more than %d inputs",
								     TASK_INPUTS_MAX) : 0;
	}
	if (rc == -ENOENT)
		return text_say(c->why, c->whylen, -EINVAL, "in=%s: no such variable; inputs are names under vars/ "
			   "(or shards/NAME/PIECE), made before the spawn or reserved by an earlier task", name);
	if (rc)
		return text_say(c->why, c->whylen, -EINVAL, "in=%s: %s", name, path_error(rc));
	if (a.dir)
		return text_say(c->why, c->whylen, -EINVAL, "in=%s is a directory; name its variables one by one", name);
	if (++c->nin > TASK_INPUTS_MAX)
		return text_say(c->why, c->whylen, -EINVAL, "more than %d inputs", TASK_INPUTS_MAX);
	return 0;
}

static int check_output(void *arg, const char *name)
{
	struct spawn_check *c = arg;
	char leaf[NAMES_LEAF_MAX + 1];
	struct store_attr a;
	uint64_t dir, id;
	int rc = path_parent(c->t->st, name, &dir, leaf, sizeof(leaf));

	if (rc == -ENOENT || rc == -ENOTDIR)
		return text_say(c->why, c->whylen, -EINVAL, "out=%s: its directory does not exist; make it first (mkdir)",
			   name);
	if (rc)
		return text_say(c->why, c->whylen, -EINVAL, "out=%s: %s", name, path_error(rc));
	if (!store_may_create(c->t->st, dir, c->k->uid, c->k->gid, c->groups, c->ngroups))
		return text_say(c->why, c->whylen, -EACCES, "out=%s: uid %u may not create names in its directory",
			   name, c->k->uid);
	if (c->t->net) {
		char node[NAMES_NODE_MAX + 1];
		uint64_t size, producer;
		int ps;
		if (task_net_input(c->t, name, node, &size, NULL) != -ENOENT)
			return text_say(c->why, c->whylen, -EEXIST, "out=%s exists on node %s; remove it or give the output "
					"another name", name, node);
		ps = task_net_producer(c->t, name, &producer);
		if ((ps == T_QUEUED || ps == T_RUNNING) && producer != c->k->id) /* not its own old record */
			return text_say(c->why, c->whylen, -EEXIST, "out=%s is reserved as an output of task %llu", name,
					(unsigned long long)producer);
	}
	if (path_resolve(c->t->st, name, &id, &a) == 0) {
		struct store_reserved o = { 0 };
		store_reserved_of(c->t->st, id, &o);
		if (o.owner)
			return text_say(c->why, c->whylen, -EEXIST, "out=%s is reserved as an output of task %llu", name,
				   (unsigned long long)o.owner);
		return text_say(c->why, c->whylen, -EEXIST, "out=%s exists; remove it or give the output another name",
			   name);
	}
	return 0;
}

static int check_after(void *arg, const char *item)
{
	struct spawn_check *c = arg;
	char *end;
	unsigned long long id = strtoull(item, &end, 10);

	if (*end || end == item)
		return text_say(c->why, c->whylen, -EINVAL, "after=%s is not a task id (a number)", item);
	char node[NAMES_NODE_MAX + 1];
	if (!task_find(c->t, id) && task_net_state(c->t, id, node, sizeof(node)) < 0)
		return text_say(c->why, c->whylen, -EINVAL, "after=%s names no task here (a task can only wait for "
			   "one submitted before it, so a cycle cannot form)", item);
	return 0;
}

static int parse_timeout(const char *s, int64_t *ms, char *why, size_t whylen)
{
	char *end;
	double v;

	*ms = 0;
	if (!s)
		return 0;
	v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v <= 0 || v > 1e7)
		return text_say(why, whylen, -EINVAL, "timeout=%s: give seconds, a number above 0 and at most 10000000",
			   s);
	*ms = (int64_t)(v * 1000); /* whole milliseconds, rounded up: a timeout is never shorter than asked */
	if ((double)*ms < v * 1000)
		(*ms)++;
	return 0;
}

/* The words of the program into one NUL-separated blob, checked. */
static int take_argv(struct task *k, const struct task_request *r, char *why, size_t whylen)
{
	size_t len = 0;
	char *p;

	if (r->argc == 0 && r->group) {
		if (!r->after || !*r->after)
			return text_say(why, whylen, -EINVAL, "a group of no tasks");
		k->argv = calloc(1, sizeof(char *));
		return k->argv ? 0 : -ENOMEM;
	}
	if (r->argc == 0)
		return text_say(why, whylen, -EINVAL, "no program after '--'; usage: spawn [in=...] [out=...] -- PROGRAM "
			   "[ARGS...]");
	if (r->argc > TASK_ARGV_MAX)
		return text_say(why, whylen, -E2BIG, "the program has more than %d words", TASK_ARGV_MAX);
	if (r->argv[0][0] == '\0')
		return text_say(why, whylen, -EINVAL, "the program's name is empty");
	for (size_t i = 0; i < r->argc; i++)
		len += strlen(r->argv[i]) + 1;
	k->argv_blob = malloc(len);
	k->argv = calloc(r->argc + 1, sizeof(char *));
	if (!k->argv_blob || !k->argv)
		return -ENOMEM;
	p = k->argv_blob;
	for (size_t i = 0; i < r->argc; i++) {
		size_t n = strlen(r->argv[i]) + 1;
		memcpy(p, r->argv[i], n);
		k->argv[i] = p;
		p += n;
	}
	k->argv_len = len;
	k->argc = r->argc;
	return 0;
}

static int reserve_output(void *arg, const char *name)
{
	struct spawn_check *c = arg;
	struct task *k = c->k;
	char leaf[NAMES_LEAF_MAX + 1];
	uint64_t dir;
	int rc = path_parent(c->t->st, name, &dir, leaf, sizeof(leaf));

	if (rc == 0) {
		rc = store_reserve(c->t->st, dir, leaf, k->id, k->out_mode, k->uid, k->gid, &k->out_ids[k->nout],
				   c->why, c->whylen);
		if (rc == -EEXIST) /* taken since check_output looked: say so as it would have */
			check_output(c, name);
	} else
		text_say(c->why, c->whylen, rc, "out=%s: %s", name, path_error(rc));
	if (rc == 0)
		k->nout++;
	return rc;
}

static size_t count_items(const char *list)
{
	size_t n = *list ? 1 : 0;

	for (const char *p = list; *p; p++)
		n += *p == '\n';
	return n;
}

/* Reserve k's outputs (it has its id): all of them, or none.  Lock held. */
int task_reserve_outputs(struct tasks *t, struct task *k, char *why, size_t whylen)
{
	struct spawn_check c = { .t = t, .k = k, .why = why, .whylen = whylen };
	int rc;

	free(k->out_ids);
	k->nout = 0;
	k->out_ids = calloc(count_items(k->outputs) + 1, sizeof(uint64_t));
	if (!k->out_ids)
		return -ENOMEM;
	rc = each_item(k->outputs, reserve_output, &c);
	if (rc) {
		for (size_t i = 0; i < k->nout; i++)
			store_reserved_end(t->st, k->out_ids[i], false);
		k->nout = 0;
	}
	return rc;
}

static int check_spawn(struct tasks *t, struct task *k, const struct task_request *r, char *why, size_t whylen)
{
	struct spawn_check *c = calloc(1, sizeof(*c));
	char name[PATH_MAX_LEN + 1];
	const char *node;
	int rc;

	if (!c)
		return -ENOMEM;
	*c = (struct spawn_check){ .t = t, .k = k, .why = why, .whylen = whylen };
	if (r->groups) {
		c->ngroups = r->ngroups < TASK_GROUPS_MAX ? r->ngroups : TASK_GROUPS_MAX;
		memcpy(c->groups, r->groups, c->ngroups * sizeof(uint32_t));
	} else
		c->ngroups = proc_groups(r->pid, c->groups, TASK_GROUPS_MAX);
	k->groups = groups_text(c->groups, c->ngroups);
	if (!k->groups) {
		free(c);
		return -ENOMEM;
	}
	rc = take_argv(k, r, why, whylen);
	if (rc == 0)
		rc = parse_timeout(r->timeout, &k->timeout_ms, why, whylen);
	if (rc == 0 && r->scope) {
		struct scope s;
		char err[256];
		if (scope_parse(r->scope, &s, err, sizeof(err)) != 0)
			rc = text_say(why, whylen, -EINVAL, "scope=%s: %s", r->scope, err);
	}
	if (rc == 0)
		rc = split_list("in", r->inputs, &k->inputs, why, whylen);
	if (rc == 0)
		rc = split_list("out", r->outputs, &k->outputs, why, whylen);
	if (rc == 0)
		rc = split_list("after", r->after, &k->after, why, whylen);
	for (const char *p = k->outputs; rc == 0 && p && (p = task_item(p, name, sizeof(name))) != NULL;)
		if (task_in_list(p, name))
			rc = text_say(why, whylen, -EINVAL, "out=%s is given twice", name);
	if (rc == 0)
		rc = each_item(k->after, check_after, c);
	if (rc == 0)
		rc = each_item(k->inputs, check_input, c);
	if (rc == 0)
		rc = each_item(k->outputs, check_output, c);
	if (rc == 0)
		rc = task_place(t, k, &node, why, whylen); /* refused now rather than at start */
	free(c);
	return rc;
}

/* In a cluster: the node this task goes to; *forwarded once it was accepted there (*id). */
static int place_in_cluster(struct tasks *t, const struct task_request *r, uint64_t *id, bool *forwarded, char *why,
			    size_t whylen)
{
	char node[NAMES_NODE_MAX + 1], addr[CLUSTER_ADDR_MAX + 1];
	int rc = task_net_place(t, r, node, addr, why, whylen);

	*forwarded = false;
	if (rc || strcmp(node, store_node_name(t->st)) == 0)
		return rc;
	*forwarded = true;
	rc = task_net_forward(t, r, addr, id, why, whylen);
	if (rc)
		text_say(why + strlen(why), whylen - strlen(why), 0, " (asked of node %s, where it was placed)", node);
	return rc;
}

int tasks_spawn(struct tasks *t, const struct task_request *r, uint64_t *id, char *why, size_t whylen)
{
	struct task *k;
	bool forwarded = false;
	uint64_t given = r->id;
	int rc;

	if (t->net && !r->here && ((rc = place_in_cluster(t, r, id, &forwarded, why, whylen)) != 0 || forwarded))
		return rc;
	if (t->net && !given && (rc = task_net_new_id(t, &given)) != 0)
		return text_say(why, whylen, rc, "cannot take a task id from the cluster: %s", strerror(-rc));
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->id = given;
	k->state = T_QUEUED;
	k->told = -1;
	k->uid = r->uid;
	k->out_mode = r->out_mode;
	k->gid = r->gid;
	k->exit_status = -1;
	k->out_file = k->err_file = -1;
	k->l.pidfd = k->l.out_fd = k->l.err_fd = -1;
	k->scope = strdup(r->scope ? r->scope : "");
	k->node = strdup("");
	k->placed = strdup("");
	k->why = strdup("");
	pthread_mutex_lock(&t->lock);
	if (t->stopping)
		rc = text_say(why, whylen, -ESHUTDOWN, "the fabric is being unmounted");
	else if (t->pending >= TASK_PENDING_MAX)
		rc = text_say(why, whylen, -EAGAIN, "%u tasks are queued or running already, the most this node keeps; "
			 "wait for some to end", t->pending);
	else if (!k->scope || !k->node || !k->placed || !k->why)
		rc = -ENOMEM;
	else if (given && task_find(t, given))
		rc = text_say(why, whylen, -EEXIST, "task %llu is here already", (unsigned long long)given);
	else
		rc = check_spawn(t, k, r, why, whylen);
	if (rc == 0) {
		k->queued_ns = task_now_ns();
		rc = task_persist(t, k, true);
		if (rc)
			text_say(why, whylen, rc, "the task could not be recorded in the yellow pages: %s", strerror(-rc));
	}
	if (rc == 0) {
		rc = task_reserve_outputs(t, k, why, whylen);
		if (rc)
			task_forget_row(t, k);
	}
	if (rc == 0) {
		task_link(t, k);
		t->pending++;
		*id = k->id;
		task_touch(t, k);
		task_wake(t);
		k = NULL;
	}
	pthread_mutex_unlock(&t->lock);
	task_free(k);
	task_flush_changes(t);
	return rc;
}
