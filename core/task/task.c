/* SPDX-License-Identifier: MIT */
/* task.c -- the task module's front (see task.h, taskInt.h): tasks_init and tasks_destroy, the calls on
 * one task by id (kill, forget) and the reads (ids, info, read), and the small lookups every file of the
 * module uses.
 *
 * Each call takes tasks->lock for what it looks at; kill and forget call task_flush_changes once it is
 * dropped, so what they ended is sealed or dropped, and told to pollers, outside it.  A kill ends a queued
 * task on the spot; a running one's process tree is only signalled: the thread (task_run.c) sees it exit
 * and records it killed.  A start (tasks_init) loads the rows (task_rows.c), settles what a restart finds
 * (task_resume.c) and only then starts the thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/event/events.h"
#include "core/store/path.h"
#include "core/task/taskInt.h"
#include "core/text/text.h"

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

void task_tell(struct tasks *t, struct task *k)
{
	char path[40], code[24] = "";

	if (k->told == (int)k->state)
		return;
	k->told = (int)k->state;
	if (k->state > T_RUNNING && k->exit_status >= 0)
		snprintf(code, sizeof(code), "%lld", (long long)k->exit_status);
	snprintf(path, sizeof(path), "tasks/%llu", (unsigned long long)k->id);
	struct event_field f[3] = { { "state", task_state_names[k->state], false } };
	size_t nf = 1;
	if (k->node && k->node[0]) /* none while queued: not placed yet */
		f[nf++] = (struct event_field){ "node", k->node, false };
	if (code[0])
		f[nf++] = (struct event_field){ "exit", code, true };
	events_post(store_events(t->st), EV_TASK, path, NULL, f, nf);
}

static struct task **bucket(struct tasks *t, uint64_t id)
{
	return &t->byid[id % TASK_BUCKETS];
}

struct task *task_find(struct tasks *t, uint64_t id)
{
	for (struct task *k = *bucket(t, id); k; k = k->hnext)
		if (k->id == id)
			return k;
	return NULL;
}

void task_link(struct tasks *t, struct task *k)
{
	struct task **b = bucket(t, k->id);

	k->next = NULL;
	k->prev = t->last;
	if (t->last)
		t->last->next = k;
	else
		t->first = k;
	t->last = k;
	k->hnext = *b;
	*b = k;
	if (k->state == T_QUEUED && !t->queued_from)
		t->queued_from = k;
	t->seals_pending |= k->state == T_EXITED && !k->outputs_sealed;
}

void task_unlink(struct tasks *t, struct task *k)
{
	for (struct task **pp = bucket(t, k->id); *pp; pp = &(*pp)->hnext)
		if (*pp == k) {
			*pp = k->hnext;
			break;
		}
	if (t->queued_from == k)
		t->queued_from = k->next;
	if (k->prev)
		k->prev->next = k->next;
	else
		t->first = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		t->last = k->prev;
	k->next = k->prev = k->hnext = NULL;
}

bool task_finished(const struct task *k)
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
bool task_in_list(const char *list, const char *name)
{
	char item[PATH_MAX_LEN + 1];

	for (const char *p = list; (p = task_item(p, item, sizeof(item))) != NULL;)
		if (strcmp(item, name) == 0)
			return true;
	return false;
}

bool task_is_output(const struct task *k, const char *name)
{
	return task_in_list(k->outputs, name);
}

bool task_needed(struct tasks *t, const struct task *k)
{
	char id[24], name[PATH_MAX_LEN + 1];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)k->id);
	for (struct task *q = t->queued_from; q; q = q->next) { /* none before queued_from is queued */
		if (q->state != T_QUEUED || q == k)
			continue;
		if (task_in_list(q->after, id))
			return true;
		for (const char *p = q->inputs; (p = task_item(p, name, sizeof(name))) != NULL;)
			if (task_is_output(k, name))
				return true;
	}
	return false;
}

void task_free(struct task *k)
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

void task_set_str(char **field, const char *value)
{
	char *c = strdup(value ? value : "");

	if (c) {
		free(*field);
		*field = c;
	}
}

/* Kill the tasks of a group that was just killed; those that ended already are left as they are. */
static void kill_members(struct tasks *t, char *members, uint32_t uid)
{
	char item[32], w[256];

	for (const char *p = members; p && (p = task_item(p, item, sizeof(item))) != NULL;)
		tasks_kill(t, strtoull(item, NULL, 10), uid, w, sizeof(w));
	free(members);
}

int tasks_kill(struct tasks *t, uint64_t id, uint32_t uid, char *why, size_t whylen)
{
	struct task *k;
	char *members = NULL;
	int rc = 0;

	if (!task_local(t, id) && t->net)
		return task_net_steer(t, "task.kill", id, uid, why, whylen);
	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (!k)
		rc = text_say(why, whylen, -ENOENT, "no task %llu", (unsigned long long)id);
	else if (uid != 0 && uid != k->uid)
		rc = text_say(why, whylen, -EPERM, "task %llu belongs to uid %u; only it or root may kill it",
			 (unsigned long long)id, k->uid);
	else if (task_finished(k))
		rc = text_say(why, whylen, -ESRCH, "task %llu has ended already (%s); nothing to kill",
			 (unsigned long long)id, task_state_names[k->state]);
	else if (k->state == T_QUEUED && k->argc == 0) { /* a group: its tasks go with it */
		members = strdup(k->after ? k->after : "");
		task_end(t, k, T_KILLED, -1, "killed, with the tasks of its group that had not ended");
	} else if (k->state == T_QUEUED)
		task_end(t, k, T_KILLED, -1, "killed while it was queued; it never ran");
	else {
		k->kill_requested = true;
		if (k->launched)
			launch_kill(&k->l);
		/* the thread sees it exit, and records it killed */
	}
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
	kill_members(t, members, uid);
	return rc;
}

int tasks_forget(struct tasks *t, uint64_t id, uint32_t uid, char *why, size_t whylen)
{
	struct task *k;
	int rc;

	if (!task_local(t, id) && t->net)
		return task_net_steer(t, "task.forget", id, uid, why, whylen);
	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (!k)
		rc = text_say(why, whylen, -ENOENT, "no task %llu", (unsigned long long)id);
	else if (uid != 0 && uid != k->uid)
		rc = text_say(why, whylen, -EPERM, "task %llu belongs to uid %u; only it or root may forget it",
			 (unsigned long long)id, k->uid);
	else if (!task_finished(k))
		rc = text_say(why, whylen, -EBUSY, "task %llu is %s; kill it first, or wait for it", (unsigned long long)id,
			 task_state_names[k->state]);
	else if (task_needed(t, k))
		rc = text_say(why, whylen, -EBUSY, "a queued task waits for task %llu; forget it once that one has started",
			 (unsigned long long)id);
	else {
		rc = task_forget_locked(t, k);
		if (rc)
			text_say(why, whylen, rc, "its row could not be removed: %s", strerror(-rc));
	}
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
	return rc;
}

bool task_local(struct tasks *t, uint64_t id)
{
	bool here;

	pthread_mutex_lock(&t->lock);
	here = task_find(t, id) != NULL;
	pthread_mutex_unlock(&t->lock);
	return here;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int tasks_ids(struct tasks *t, uint64_t **ids, size_t *n)
{
	int rc = tasks_local_ids(t, ids, n);

	if (rc == 0 && t->net && (rc = task_net_ids(t, ids, n)) != 0) {
		free(*ids);
		*ids = NULL;
	}
	if (rc == 0)
		qsort(*ids, *n, sizeof(**ids), by_id);
	return rc;
}

int tasks_local_ids(struct tasks *t, uint64_t **ids, size_t *n)
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
					   k->version, task_finished(k), { k->out_len[0], k->out_len[1] } };
	pthread_mutex_unlock(&t->lock);
	return k ? 0 : t->net ? task_net_info(t, id, out) : -ENOENT;
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
	if (rc == -ENOENT && t->net)
		return task_net_read(t, id, f, buf, size, off);
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

int tasks_init(const struct task_config *cfg, struct tasks **out, char *msg, size_t msglen)
{
	struct tasks *t = calloc(1, sizeof(*t));
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
	rc = task_load_rows(t);
	if (rc) {
		text_say(msg, msglen, rc, "cannot read the tasks from the yellow pages: %s", strerror(-rc));
		goto fail;
	}
	store_owner_hook(t->st, task_member, t);
	pthread_mutex_lock(&t->lock);
	task_resume(t);
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
	if (cfg->cluster && (rc = task_net_start(t, cfg->cluster, msg, msglen)) != 0)
		goto fail;
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
	task_net_stop(t); /* after the runner: the tasks it recorded lost are published */
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
