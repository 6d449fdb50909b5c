/* SPDX-License-Identifier: MIT */
/* task.c -- accepting, killing and forgetting tasks, and their rows in the yellow pages (see task.h).
 *
 * A spawn is checked whole before anything is kept: options, the program's words, inputs (they exist;
 * none is also an output), the `after` tasks (submitted before this one, so they can never form a cycle),
 * the placement (scopes), the outputs (free names in existing directories).  Then the row is written,
 * which gives the id, and the outputs are reserved in the task's name; if one cannot be, everything done
 * is undone and the spawn refused.  Nothing of a refused spawn remains but a burnt id. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bulk/load.h"
#include "core/text/names.h"
#include "core/store/path.h"
#include "core/task/place.h"
#include "core/text/scope.h"
#include "core/os/proc.h"
#include "core/task/taskInt.h"
#include "core/text/text.h"
#include "meta/yp.h"

const char *const task_state_names[] = { "queued", "running", "exited", "failed", "killed", "timed-out",
					 "cancelled", "lost" };
const char *const task_file_names[TASK_NFILES] = { "", "cmd", "status", "exit", "node", "stdout", "stderr",
						   "ctl" };

int64_t task_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct task *task_find(struct tasks *t, uint64_t id)
{
	for (struct task *k = t->first; k; k = k->next)
		if (k->id == id)
			return k;
	return NULL;
}

static bool finished(const struct task *k)
{
	return k->state != T_QUEUED && k->state != T_RUNNING;
}

const char *task_item(const char *p, char *item, size_t len)
{
	size_t n;

	if (!*p)
		return NULL;
	n = strcspn(p, "\n");
	snprintf(item, len, "%.*s", (int)n, p);
	return p[n] ? p + n + 1 : p + n;
}

/* Is name one of the '\n'-separated words of list? */
static bool in_list(const char *list, const char *name)
{
	char item[PATH_MAX_LEN + 1];

	for (const char *p = list; (p = task_item(p, item, sizeof(item))) != NULL;)
		if (strcmp(item, name) == 0)
			return true;
	return false;
}

bool task_is_output(const struct task *k, const char *name)
{
	return in_list(k->outputs, name);
}

bool task_needed(struct tasks *t, const struct task *k)
{
	char id[24], name[PATH_MAX_LEN + 1];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)k->id);
	for (struct task *q = t->first; q; q = q->next) {
		if (q->state != T_QUEUED || q == k)
			continue;
		if (in_list(q->after, id))
			return true;
		for (const char *p = q->inputs; (p = task_item(p, name, sizeof(name))) != NULL;)
			if (task_is_output(k, name))
				return true;
	}
	return false;
}

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
		for (size_t i = 0; i < n && t->changed; i++)
			t->changed(t->changed_arg, ids[i]);
	} while (n);
}

/* ---- the YP ---- */

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
		.ended_ns = k->ended_ns, .outputs_sealed = k->outputs_sealed,
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

static void task_free(struct task *k)
{
	if (!k)
		return;
	free(k->argv_blob);
	free(k->argv);
	free(k->inputs);
	free(k->outputs);
	free(k->after);
	free(k->scope);
	free(k->node);
	free(k->placed);
	free(k->why);
	free(k->groups);
	free(k->out_ids);
	free(k);
}

static void set_str(char **field, const char *value)
{
	char *c = strdup(value ? value : "");

	if (c) {
		free(*field);
		*field = c;
	}
}

static void remove_capture_files(struct tasks *t, uint64_t id)
{
	char path[4096];

	for (int w = 0; w < 2; w++) {
		task_output_path(t, id, w, path, sizeof(path));
		unlink(path);
	}
}

/* Drop k's record: row, files, memory.  Lock held; k finished. */
static int forget_locked(struct tasks *t, struct task *k)
{
	int rc = yp_task_delete(t->yp, (int64_t)k->id);

	if (rc && rc != -ENOENT)
		return rc;
	for (struct task **pp = &t->first, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp != k)
			continue;
		*pp = k->next;
		if (t->last == k)
			t->last = prev;
		break;
	}
	t->finished--;
	remove_capture_files(t, k->id);
	task_touch(t, k);
	task_free(k);
	return 0;
}

/* Keep at most t->history finished records: the oldest go first, unless a queued task still needs one. */
void task_trim(struct tasks *t)
{
	for (struct task *k = t->first, *next; k && t->finished > t->history; k = next) {
		next = k->next;
		if (finished(k) && !task_needed(t, k))
			forget_locked(t, k);
	}
}

void task_check_seals(struct tasks *t, bool *recheck)
{
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
			continue;
		}
		k->outputs_sealed = true;
		task_persist(t, k, false);
	}
}

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
		set_str(&k->why, "it exited 0, but the daemon stopped before all its outputs were sealed; the "
			"unsealed ones were dropped");
	}
	task_persist(t, k, false);
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
	k->nout = 0;
	k->state = state;
	k->exit_status = exit_status;
	k->ended_ns = task_now_ns();
	set_str(&k->why, why);
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

/* ---- spawn ---- */

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

int task_resolve_input(struct store *st, const char *name, uint64_t *id, struct store_attr *a)
{
	if (strncmp(name, "shards/", 7) == 0)
		return path_resolve_at(st, STORE_ROOT_ID, name, id, a);
	return path_resolve(st, name, id, a);
}

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
	if (rc == -ENOENT)
		return text_say(c->why, c->whylen, -EINVAL, "in=%s: no such variable; inputs are names under vars/ "
			   "(or shards/NAME/PIECE), made before the spawn or reserved by an earlier task", name);
	if (rc)
		return text_say(c->why, c->whylen, -EINVAL, "in=%s: %s", name, strerror(-rc));
	if (a.dir)
		return text_say(c->why, c->whylen, -EINVAL, "in=%s is a directory; name its variables one by one", name);
	if (++c->nin > TASK_INPUTS_MAX)
		return text_say(c->why, c->whylen, -EINVAL, "more than %d inputs", TASK_INPUTS_MAX);
	return 0;
}

int task_place(struct tasks *t, const struct task *k, const char **node, char *why, size_t whylen)
{
	const char *cand[1] = { store_node_name(t->st) };
	struct place_input in[TASK_INPUTS_MAX];
	struct place_location loc[TASK_INPUTS_MAX];
	struct input_text {
		char name[PATH_MAX_LEN + 1];
		char scope[SCOPE_STR_MAX];
	} *txt = malloc(TASK_INPUTS_MAX * sizeof(*txt));
	size_t nin = 0, chosen = 0;
	int rc;

	if (!txt)
		return text_say(why, whylen, -ENOMEM, "out of memory placing the task");
	for (const char *p = k->inputs; nin < TASK_INPUTS_MAX && (p = task_item(p, txt[nin].name, PATH_MAX_LEN + 1));) {
		struct store_attr a;
		uint64_t id;
		ssize_t n;
		if (task_resolve_input(t->st, txt[nin].name, &id, &a) != 0)
			continue; /* gone since the spawn: readiness cancels the task for that */
		n = store_getxattr(t->st, id, "user.fabric.scope", txt[nin].scope, SCOPE_STR_MAX - 1);
		txt[nin].scope[n > 0 ? n : 0] = '\0';
		loc[nin] = (struct place_location){ cand[0], a.size };
		in[nin] = (struct place_input){ txt[nin].name, n > 0 ? txt[nin].scope : NULL, &loc[nin], 1 };
		nin++;
	}
	rc = place_task(cand, 1, *k->scope ? k->scope : NULL, in, nin, &chosen, why, whylen);
	free(txt);
	if (rc == -EXDEV) /* a user's mistake, not a device's: said as EINVAL */
		rc = -EINVAL;
	if (rc == 0)
		*node = cand[chosen];
	return rc;
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
		return text_say(c->why, c->whylen, -EINVAL, "out=%s: %s", name, strerror(-rc));
	if (!store_may_create(c->t->st, dir, c->k->uid, c->k->gid, c->groups, c->ngroups))
		return text_say(c->why, c->whylen, -EACCES, "out=%s: uid %u may not create names in its directory",
			   name, c->k->uid);
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
	if (!task_find(c->t, id))
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
		rc = store_reserve(c->t->st, dir, leaf, k->id, k->uid, k->gid, &k->out_ids[k->nout], c->why,
				   c->whylen);
		if (rc == -EEXIST) /* taken since check_output looked: say so as it would have */
			check_output(c, name);
	} else
		text_say(c->why, c->whylen, rc, "out=%s: %s", name, strerror(-rc));
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
static int reserve_outputs(struct tasks *t, struct task *k, char *why, size_t whylen)
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
		if (in_list(p, name))
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

int tasks_spawn(struct tasks *t, const struct task_request *r, uint64_t *id, char *why, size_t whylen)
{
	struct task *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	k->state = T_QUEUED;
	k->uid = r->uid;
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
	else
		rc = check_spawn(t, k, r, why, whylen);
	if (rc == 0) {
		k->queued_ns = task_now_ns();
		rc = task_persist(t, k, true);
		if (rc)
			text_say(why, whylen, rc, "the task could not be recorded in the yellow pages: %s", strerror(-rc));
	}
	if (rc == 0) {
		rc = reserve_outputs(t, k, why, whylen);
		if (rc)
			yp_task_delete(t->yp, (int64_t)k->id);
	}
	if (rc == 0) {
		if (t->last)
			t->last->next = k;
		else
			t->first = k;
		t->last = k;
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

int tasks_kill(struct tasks *t, uint64_t id, uint32_t uid, char *why, size_t whylen)
{
	struct task *k;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (!k)
		rc = text_say(why, whylen, -ENOENT, "no task %llu", (unsigned long long)id);
	else if (uid != 0 && uid != k->uid)
		rc = text_say(why, whylen, -EPERM, "task %llu belongs to uid %u; only it or root may kill it",
			 (unsigned long long)id, k->uid);
	else if (finished(k))
		rc = text_say(why, whylen, -ESRCH, "task %llu has ended already (%s); nothing to kill",
			 (unsigned long long)id, task_state_names[k->state]);
	else if (k->state == T_QUEUED)
		task_end(t, k, T_KILLED, -1, "killed while it was queued; it never ran");
	else {
		k->kill_requested = true;
		if (k->launched)
			launch_kill(&k->l);
		/* the thread sees it exit, and records it killed */
	}
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
	return rc;
}

int tasks_forget(struct tasks *t, uint64_t id, uint32_t uid, char *why, size_t whylen)
{
	struct task *k;
	int rc;

	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (!k)
		rc = text_say(why, whylen, -ENOENT, "no task %llu", (unsigned long long)id);
	else if (uid != 0 && uid != k->uid)
		rc = text_say(why, whylen, -EPERM, "task %llu belongs to uid %u; only it or root may forget it",
			 (unsigned long long)id, k->uid);
	else if (!finished(k))
		rc = text_say(why, whylen, -EBUSY, "task %llu is %s; kill it first, or wait for it", (unsigned long long)id,
			 task_state_names[k->state]);
	else if (task_needed(t, k))
		rc = text_say(why, whylen, -EBUSY, "a queued task waits for task %llu; forget it once that one has started",
			 (unsigned long long)id);
	else {
		rc = forget_locked(t, k);
		if (rc)
			text_say(why, whylen, rc, "its row could not be removed: %s", strerror(-rc));
	}
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
	return rc;
}

int tasks_ids(struct tasks *t, uint64_t **ids, size_t *n)
{
	size_t cnt = 0, i = 0;

	pthread_mutex_lock(&t->lock);
	for (struct task *k = t->first; k; k = k->next)
		cnt++;
	*ids = malloc((cnt ? cnt : 1) * sizeof(uint64_t));
	if (!*ids) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	for (struct task *k = t->first; k; k = k->next)
		(*ids)[i++] = k->id;
	*n = i;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int tasks_info(struct tasks *t, uint64_t id, struct task_info *out)
{
	struct task *k;

	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (k)
		*out = (struct task_info){ k->uid, k->gid, k->queued_ns,
					   k->ended_ns ? k->ended_ns : k->started_ns ? k->started_ns : k->queued_ns,
					   k->version, finished(k), { k->out_len[0], k->out_len[1] } };
	pthread_mutex_unlock(&t->lock);
	return k ? 0 : -ENOENT;
}

ssize_t tasks_read(struct tasks *t, uint64_t id, enum task_file f, char *buf, size_t size, uint64_t off)
{
	char path[4096], *text = NULL;
	struct task *k;
	size_t len = 0;
	ssize_t n;
	int rc = 0, fd;

	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (!k)
		rc = -ENOENT;
	else if (f == TASK_STDOUT || f == TASK_STDERR)
		task_output_path(t, id, f == TASK_STDERR, path, sizeof(path));
	else
		rc = task_text(t, k, f, &text, &len);
	pthread_mutex_unlock(&t->lock);
	if (rc)
		return rc;
	if (text) {
		n = off >= len ? 0 : (ssize_t)(len - off < size ? len - off : size);
		memcpy(buf, text + (n ? off : 0), (size_t)n);
		free(text);
		return n;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* not started yet: nothing captured */
	n = pread(fd, buf, size, (off_t)off);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/* ---- start and stop ---- */

struct load_ctx {
	struct tasks *t;
	int rc;
};

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
	struct load_ctx *lc = arg;
	struct tasks *t = lc->t;
	struct task *k = calloc(1, sizeof(*k));
	size_t argc = 0;

	if (!k)
		return -ENOMEM;
	k->id = (uint64_t)r->id;
	for (int s = 0; s <= T_LOST; s++)
		if (strcmp(r->state, task_state_names[s]) == 0)
			k->state = (enum task_state)s;
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
	if (t->last)
		t->last->next = k;
	else
		t->first = k;
	t->last = k;
	return 0;
}

/* What a restart does to the tasks it finds: see tasks_init. */
static void resume(struct tasks *t)
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
			if (reserve_outputs(t, k, why, sizeof(why)) != 0) {
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

int tasks_init(const struct task_config *cfg, struct tasks **out, char *msg, size_t msglen)
{
	struct tasks *t = calloc(1, sizeof(*t));
	struct load_ctx lc = { t, 0 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char dir[4096];
	int rc;

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->mlock, NULL);
	t->st = cfg->st;
	t->yp = store_yp(cfg->st);
	t->max_running = cfg->max_running ? cfg->max_running : cpus > 0 ? (unsigned)cpus : 1;
	t->history = cfg->history ? cfg->history : TASK_HISTORY_DEFAULT;
	t->changed = cfg->changed;
	t->changed_arg = cfg->changed_arg;
	t->state_dir = strdup(cfg->state_dir);
	t->mountpoint = strdup(cfg->mountpoint ? cfg->mountpoint : "");
	snprintf(dir, sizeof(dir), "%s/tasks", cfg->state_dir);
	t->task_dir = strdup(dir);
	t->members = calloc(t->max_running, sizeof(*t->members));
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!t->state_dir || !t->mountpoint || !t->task_dir || !t->members || t->wake_fd < 0) {
		rc = -ENOMEM;
		text_say(msg, msglen, rc, "out of memory starting the task runner");
		goto fail;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		text_say(msg, msglen, rc, "cannot make %s: %s", dir, strerror(errno));
		goto fail;
	}
	rc = yp_each_task(t->yp, load_row, &lc);
	if (rc) {
		text_say(msg, msglen, rc, "cannot read the tasks from the yellow pages: %s", strerror(-rc));
		goto fail;
	}
	store_owner_hook(t->st, task_member, t);
	pthread_mutex_lock(&t->lock);
	resume(t);
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
	rc = task_run_start(t);
	if (rc) {
		text_say(msg, msglen, rc, "cannot start the task runner thread: %s", strerror(-rc));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	store_owner_hook(t->st, NULL, NULL);
	tasks_destroy(t);
	return rc;
}

void tasks_destroy(struct tasks *t)
{
	if (!t)
		return;
	task_run_stop(t);
	store_owner_hook(t->st, NULL, NULL);
	for (struct task *k = t->first, *next; k; k = next) {
		next = k->next;
		task_free(k);
	}
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	free(t->members);
	free(t->changed_ids);
	free(t->fin);
	free(t->state_dir);
	free(t->task_dir);
	free(t->mountpoint);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->mlock);
	free(t);
}
