/* SPDX-License-Identifier: MIT */
/* task_run.c -- the thread that runs the tasks (see task.h, taskInt.h).
 *
 * One thread does all of it, in a poll(2) loop over an eventfd (new work), and for each running task its
 * pidfd (it ended) and the read ends of its stdout and stderr pipes:
 *   - dispatch: in submission order, a queued task whose `after` tasks exited 0 and whose inputs are
 *     sealed starts, while fewer than max_running run; one whose inputs will never come (a task it waits
 *     for ended otherwise, an input was removed) is cancelled, saying which;
 *   - output: what a task writes to stdout and stderr is appended to STATE/tasks/ID.out and .err, up to
 *     TASK_OUTPUT_MAX bytes each, then counted and dropped (the pipe is always drained, so the program
 *     never blocks on a full pipe because nobody reads);
 *   - ends: the pidfd says the program exited; its exit decides the state, and its outputs are sealed or
 *     dropped (task_end);
 *   - timeouts: a running task past its deadline is killed, and recorded timed-out.
 * Starting a program (launch_start) happens with the tasks' lock dropped: FUSE requests that need it
 * (reads of tasks/) go on meanwhile; the task is already `running` then, so nobody else starts it.
 * Inputs being written by an ordinary writer are not announced to this thread: it looks again every
 * RECHECK_MS while a task waits for one. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/store/path.h"
#include "core/task/taskInt.h"

#define RECHECK_MS 50

/* While a task starts, its program may open its outputs before launch_start has returned its id (the
 * program runs as soon as it is exec'd).  Only one task starts at a time, so a process that descends
 * from a child of this daemon which is no running task's program belongs to the starting one.  Under
 * mlock. */
static bool starting_member(struct tasks *t, pid_t pid)
{
	pid_t top = launch_our_child_above(pid);

	if (!top)
		return false;
	for (unsigned i = 0; i < t->max_running; i++)
		if (t->members[i].task && !t->members[i].starting && t->members[i].id.pid == top)
			return false; /* another task's program */
	return true;
}

bool task_member(void *arg, uint64_t task, pid_t pid)
{
	struct tasks *t = arg;
	struct launch_id id = { 0 };
	bool found = false, yes = false;

	pthread_mutex_lock(&t->mlock);
	for (unsigned i = 0; i < t->max_running; i++) {
		if (t->members[i].task != task)
			continue;
		found = true;
		if (t->members[i].starting)
			yes = starting_member(t, pid);
		else
			id = t->members[i].id;
		break;
	}
	pthread_mutex_unlock(&t->mlock);
	return yes || (found && id.pid && launch_member(&id, pid));
}

/* Give task a member slot (starting), fill in its id (id), or free it (NULL, starting false). */
static void set_member(struct tasks *t, uint64_t task, const struct launch_id *id, bool starting)
{
	pthread_mutex_lock(&t->mlock);
	for (unsigned i = 0; i < t->max_running; i++) {
		struct member *m = &t->members[i];
		if (starting ? m->task == 0 : m->task == task) {
			m->task = id || starting ? task : 0;
			m->starting = starting;
			if (id)
				m->id = *id;
			break;
		}
	}
	pthread_mutex_unlock(&t->mlock);
}

/* ---- readiness ---- */

enum readiness { READY, WAIT, WAIT_RECHECK, NEVER };

static enum readiness dep_state(struct tasks *t, uint64_t id, char *why, size_t whylen)
{
	struct task *d = task_find(t, id);
	char node[NAMES_NODE_MAX + 1];
	int s;

	if (!d && (s = task_net_state(t, id, node, sizeof(node))) >= 0) { /* another node's: its record */
		if (s == T_EXITED)
			return READY;
		if (s == T_QUEUED || s == T_RUNNING) /* its end wakes this thread; its node's death does not */
			return WAIT_RECHECK;
		snprintf(why, whylen, "task %llu it waits for ended %s on node %s%s", (unsigned long long)id,
			 task_state_names[s], node, s == T_LOST ? " (the node went down while it ran)" : "");
		return NEVER;
	}
	if (!d) {
		snprintf(why, whylen, "task %llu it waits for is forgotten", (unsigned long long)id);
		return NEVER;
	}
	if (d->state == T_EXITED)
		return READY;
	if (d->state == T_QUEUED || d->state == T_RUNNING)
		return WAIT;
	snprintf(why, whylen, "task %llu it waits for ended %s%s%s", (unsigned long long)id,
		 task_state_names[d->state], *d->why ? ": " : "", d->why);
	return NEVER;
}

/* The task that reserved output `name`, if one still holds it. */
static struct task *producer_of(struct tasks *t, const struct task *k, const char *name)
{
	for (struct task *p = t->first; p && p != k; p = p->next)
		if (task_is_output(p, name))
			return p;
	return NULL;
}

/* cheap: decide from the tasks alone, without asking the store about inputs no task makes. */
static enum readiness input_state(struct tasks *t, const struct task *k, const char *name, bool cheap,
				  char *why, size_t whylen)
{
	struct store_reserved o = { 0 };
	struct task *p = producer_of(t, k, name);
	struct store_attr a;
	uint64_t id;

	if (p && (p->state == T_QUEUED || p->state == T_RUNNING))
		return WAIT;
	if (p && p->state != T_EXITED) {
		snprintf(why, whylen, "input '%.200s' was never made: task %llu ended %s", name, (unsigned long long)p->id,
			 task_state_names[p->state]);
		return NEVER;
	}
	uint64_t pid = 0;
	int ps = p ? -ENOENT : task_net_producer(t, name, &pid);
	if (ps == T_QUEUED || ps == T_RUNNING)
		return WAIT;
	if (ps >= 0 && ps != T_EXITED) {
		snprintf(why, whylen, "input '%.200s' was never made: task %llu ended %s", name, (unsigned long long)pid,
			 task_state_names[ps]);
		return NEVER;
	}
	if (cheap)
		return WAIT;
	if (task_resolve_input(t->st, name, &id, &a) != 0) {
		char node[NAMES_NODE_MAX + 1];
		uint64_t size;
		if (task_net_input(t, name, node, &size, NULL) == 0)
			return READY; /* another node's names are published sealed */
		if (ps == T_EXITED) /* made on its node: its name is on its way here */
			return WAIT_RECHECK;
		snprintf(why, whylen, "input '%.200s' no longer exists", name);
		return NEVER;
	}
	if (a.sealed)
		return READY;
	store_reserved_of(t->st, id, &o);
	/* a running producer's end wakes this thread; a seal still in flight after its producer's end (its
	 * last release comes after the exit), or an ordinary writer's seal, do not: look again soon */
	return o.owner ? WAIT : WAIT_RECHECK;
}

static enum readiness readiness(struct tasks *t, const struct task *k, bool cheap, char *why, size_t whylen)
{
	enum readiness worst = READY, r;
	char item[PATH_MAX_LEN + 1];

	for (const char *p = k->after; (p = task_item(p, item, sizeof(item))) != NULL;) {
		r = dep_state(t, strtoull(item, NULL, 10), why, whylen);
		if (r == NEVER)
			return NEVER;
		if (r > worst)
			worst = r;
	}
	for (const char *p = k->inputs; (p = task_item(p, item, sizeof(item))) != NULL;) {
		r = input_state(t, k, item, cheap, why, whylen);
		if (r == NEVER)
			return NEVER;
		if (r > worst)
			worst = r;
	}
	return worst;
}

/* ---- starting ---- */

static char *env_entry(const char *key, const char *value)
{
	size_t n = strlen(key) + strlen(value) + 2;
	char *e = malloc(n);

	if (e)
		snprintf(e, n, "%s=%s", key, value);
	return e;
}

/* FABRIC_INPUTS / FABRIC_OUTPUTS: each item as an absolute path, one a line. */
static char *abs_list(const struct tasks *t, const char *list, bool inputs)
{
	char item[PATH_MAX_LEN + 1];
	size_t cap = 1;
	char *out, *o;

	for (const char *p = list; *p; p++)
		cap += *p == '\n' ? strlen(t->mountpoint) + 7 : 1;
	cap += strlen(t->mountpoint) + 7;
	out = o = malloc(cap);
	if (!out)
		return NULL;
	*o = '\0';
	for (const char *p = list; (p = task_item(p, item, sizeof(item))) != NULL;) {
		bool from_root = inputs && strncmp(item, "shards/", 7) == 0;
		o += sprintf(o, "%s%s%s/%s", o == out ? "" : "\n", t->mountpoint, from_root ? "" : "/vars", item);
	}
	return out;
}

struct start_plan {
	char *env[16];
	uint32_t groups[TASK_GROUPS_MAX];
	size_t ngroups;
	char cwd[4096];
};

static void plan_free(struct start_plan *p)
{
	for (size_t i = 0; i < sizeof(p->env) / sizeof(p->env[0]); i++)
		free(p->env[i]);
}

static int plan(struct tasks *t, const struct task *k, struct start_plan *p)
{
	char id[24], buf[4096];
	struct passwd pw, *res = NULL;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(id, sizeof(id), "%llu", (unsigned long long)k->id);
	getpwuid_r(k->uid, &pw, buf, sizeof(buf), &res);
	p->env[n++] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	p->env[n++] = env_entry("HOME", res && res->pw_dir ? res->pw_dir : "/");
	if (res) {
		p->env[n++] = env_entry("USER", res->pw_name);
		p->env[n++] = env_entry("LOGNAME", res->pw_name);
	}
	p->env[n++] = strdup("LANG=C.UTF-8");
	p->env[n++] = env_entry("FABRIC", t->mountpoint);
	p->env[n++] = env_entry("FABRIC_TASK", id);
	p->env[n++] = env_entry("FABRIC_NODE", store_node_name(t->st));
	char *ins = abs_list(t, k->inputs, true), *outs = abs_list(t, k->outputs, false);
	p->env[n++] = ins ? env_entry("FABRIC_INPUTS", ins) : NULL;
	p->env[n++] = outs ? env_entry("FABRIC_OUTPUTS", outs) : NULL;
	free(ins);
	free(outs);
	char piece[PATH_MAX_LEN + 1];
	for (const char *q = k->inputs; (q = task_item(q, piece, sizeof(piece))) != NULL;)
		if (strncmp(piece, "shards/", 7) == 0) { /* a map over pieces (each=) names its piece first */
			char *abs = malloc(strlen(t->mountpoint) + strlen(piece) + 2);
			if (abs)
				sprintf(abs, "%s/%s", t->mountpoint, piece);
			p->env[n++] = abs ? env_entry("FABRIC_PIECE", abs) : NULL;
			free(abs);
			break;
		}
	for (size_t i = 0; i < n; i++)
		if (!p->env[i])
			return -ENOMEM;
	for (const char *g = k->groups; *g && p->ngroups < TASK_GROUPS_MAX;) {
		char *end;
		p->groups[p->ngroups++] = (uint32_t)strtoul(g, &end, 10);
		g = *end == ',' ? end + 1 : end;
		if (end == g && *g)
			break;
	}
	snprintf(p->cwd, sizeof(p->cwd), "%s/vars", t->mountpoint);
	return 0;
}

static int open_capture(struct tasks *t, uint64_t id, int which)
{
	char path[4096];

	task_output_path(t, id, which, path, sizeof(path));
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/* Start k (queued, ready).  Called with the lock held; drops it around launch_start. */
static void start(struct tasks *t, struct task *k)
{
	struct start_plan *p = malloc(sizeof(*p));
	const char *node;
	struct launch l;
	char why[1024], placed[512] = "";
	int rc;

	k->state = T_RUNNING;
	k->started_ns = task_now_ns();
	t->running++;
	/* placement again, now that the inputs are whole: only where and why are new */
	rc = task_place(t, k, &node, placed, sizeof(placed));
	if (rc) {
		free(p);
		t->running--;
		task_end(t, k, T_CANCELLED, -1, placed);
		return;
	}
	free(k->node);
	k->node = strdup(node);
	free(k->placed);
	k->placed = strdup(placed);
	rc = !p || !k->node || !k->placed ? -ENOMEM : plan(t, k, p);
	if (rc) {
		snprintf(why, sizeof(why), "could not prepare its start: %s", strerror(-rc));
		goto failed;
	}
	struct launch_spec spec = { (const char *const *)k->argv, (const char *const *)p->env, p->cwd, k->uid,
				    k->gid, p->groups, p->ngroups };
	/* recorded running before it starts: a crash from here on makes it lost, never run twice */
	rc = task_persist(t, k, false);
	if (rc) {
		snprintf(why, sizeof(why), "could not record its start in the yellow pages: %s", strerror(-rc));
		goto failed;
	}
	set_member(t, k->id, NULL, true);
	pthread_mutex_unlock(&t->lock);
	rc = launch_start(&spec, &l, why, sizeof(why));
	set_member(t, k->id, rc ? NULL : &l.id, false);
	pthread_mutex_lock(&t->lock);
	if (rc)
		goto failed;
	k->l = l;
	k->launched = true;
	if (k->kill_requested)
		launch_kill(&k->l);
	/* without a PID namespace, what a restart must kill is found by pid: record it (with one, the
	 * tree dies with the daemon, and one transaction per start is saved) */
	if (!l.id.pidns)
		task_persist(t, k, false);
	task_touch(t, k);
	plan_free(p);
	free(p);
	return;
failed:
	if (k->err_file < 0)
		k->err_file = open_capture(t, k->id, 1);
	if (k->err_file >= 0) {
		int n = dprintf(k->err_file, "fabric: %s\n", why);
		k->out_len[1] += n > 0 ? (uint64_t)n : 0;
	}
	if (p)
		plan_free(p);
	free(p);
	t->running--;
	if (k->out_file >= 0)
		close(k->out_file);
	if (k->err_file >= 0)
		close(k->err_file);
	k->out_file = k->err_file = -1;
	task_end(t, k, T_FAILED, W_EXITCODE(127, 0), why);
}

/* Is no node but this one in k's scope?  Such a task is never placed again elsewhere (task_handover.c
 * places a dead node's queued task only on a live node its scope allows), so it needs no go from the
 * cluster to run at most once, and spares the etcd write (most of a local spawn's time in a cluster). */
static bool bound_here(struct tasks *t, const struct task *k)
{
	struct scope s;

	if (!k->scope || !*k->scope || scope_parse(k->scope, &s, NULL, 0) != 0 || s.nterms == 0)
		return false;
	for (unsigned i = 0; i < s.nterms; i++)
		if (s.terms[i].kind == SCOPE_ANY || strcmp(s.terms[i].node, store_node_name(t->st)) != 0)
			return false;
	return true;
}

static void dispatch(struct tasks *t, bool *recheck)
{
	char why[1024];
	bool again = true;

	*recheck = false;
	while (again) {
		again = false;
		while (t->queued_from && t->queued_from->state != T_QUEUED) /* none before it is queued */
			t->queued_from = t->queued_from->next;
		for (struct task *k = t->queued_from; k; k = k->next) {
			if (k->state != T_QUEUED)
				continue;
			why[0] = '\0';
			enum readiness r = readiness(t, k, false, why, sizeof(why));
			if (r == NEVER) {
				task_end(t, k, T_CANCELLED, -1, why);
				again = true; /* its dependents go too */
				break;
			}
			if (r == WAIT_RECHECK)
				*recheck = true;
			if (r == READY && k->argc == 0) { /* a group: its tasks exited */
				task_set_str(&k->node, store_node_name(t->st));
				task_set_str(&k->placed, "a group stays on the node that made it");
				task_end(t, k, T_EXITED, 0, "");
				again = true;
				break;
			}
			if (r == READY && t->net && !k->go && bound_here(t, k))
				k->go = true;
			if (r == READY && t->net && !k->go) { /* the cluster's go first (task_net.c) */
				if (!k->go_asked) {
					k->go_asked = true;
					task_touch(t, k);
				}
				continue;
			}
			if (r == READY && t->running < t->max_running && t->go && !t->stopping) {
				start(t, k); /* the lock was dropped: look again from the start */
				again = true;
				break;
			}
			if (t->running >= t->max_running)
				break;
		}
	}
}

/* k ended other than exited: cancel at once every queued task that needed it, and the ones that needed
 * those, in one pass (a task only waits for earlier ones), even while every run slot is taken (dispatch
 * then looks no further than the first queued task). */
void task_cancel_dependents(struct tasks *t, struct task *k)
{
	char why[1024];

	if (t->cancelling)
		return; /* the pass under way reaches them */
	t->cancelling = true;
	for (struct task *q = k->next; q; q = q->next) {
		why[0] = '\0';
		if (q->state == T_QUEUED && readiness(t, q, true, why, sizeof(why)) == NEVER)
			task_end(t, q, T_CANCELLED, -1, why);
	}
	t->cancelling = false;
}

/* ---- running ---- */

/* The capture files are made at the first byte: most tasks of a pipeline print nothing, and a file
 * made on disk per stream per task was the largest cost of a short task (ext4 inode allocation). */
static void capture(struct tasks *t, struct task *k, int which)
{
	char buf[65536];
	int fd = which ? k->l.err_fd : k->l.out_fd, *file = which ? &k->err_file : &k->out_file;
	ssize_t n;

	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				break;
			return;
		}
		uint64_t keep = k->out_len[which] >= TASK_OUTPUT_MAX ? 0 : TASK_OUTPUT_MAX - k->out_len[which];
		if (keep > (uint64_t)n)
			keep = (uint64_t)n;
		if (keep && *file < 0)
			*file = open_capture(t, k->id, which);
		if (keep && *file >= 0 && write(*file, buf, keep) == (ssize_t)keep)
			k->out_len[which] += keep;
		else
			keep = 0;
		k->dropped[which] += (uint64_t)n - keep;
	}
	/* end of file: every writer of the pipe is gone */
	close(fd);
	if (which)
		k->l.err_fd = -1;
	else
		k->l.out_fd = -1;
}

static void close_capture(struct task *k)
{
	for (int w = 0; w < 2; w++) {
		int *file = w ? &k->err_file : &k->out_file;
		int *fd = w ? &k->l.err_fd : &k->l.out_fd;
		if (*file >= 0 && k->dropped[w]) {
			int n = dprintf(*file, "\n[fabric: %llu more bytes of %s were dropped; the first %u are kept]\n",
					(unsigned long long)k->dropped[w], w ? "stderr" : "stdout", TASK_OUTPUT_MAX);
			k->out_len[w] += n > 0 ? (uint64_t)n : 0;
		}
		if (*file >= 0)
			close(*file);
		if (*fd >= 0)
			close(*fd);
		*file = *fd = -1;
	}
}

/* k's program exited: reap it and end the task.  Lock held. */
static void ended(struct tasks *t, struct task *k)
{
	enum task_state state;
	char why[1024] = "";
	int status = 0;

	capture(t, k, 0);
	capture(t, k, 1);
	launch_reap(&k->l, &status);
	set_member(t, k->id, NULL, false);
	close_capture(k);
	t->running--;
	if (k->kill_requested) {
		state = T_KILLED;
		snprintf(why, sizeof(why), "killed on request");
	} else if (k->timed_out) {
		state = T_TIMED_OUT;
		snprintf(why, sizeof(why), "ran past its timeout of %.3f s and was killed", k->timeout_ms / 1000.0);
	} else if (WIFSIGNALED(status)) {
		state = T_KILLED;
		snprintf(why, sizeof(why), "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else if (WEXITSTATUS(status) != 0) {
		state = T_FAILED;
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
	} else {
		char name[PATH_MAX_LEN + 1];
		const char *q = k->outputs;
		state = T_EXITED;
		/* out_ids are in the order of the outputs list */
		for (size_t i = 0; i < k->nout && state == T_EXITED && (q = task_item(q, name, sizeof(name))); i++) {
			struct store_reserved o = { 0 };
			if (store_reserved_of(t->st, k->out_ids[i], &o) != 0 || !o.written) {
				state = T_FAILED;
				snprintf(why, sizeof(why), "exited 0 without writing its output '%.200s'", name);
			} else if (o.doomed) {
				state = T_FAILED;
				snprintf(why, sizeof(why), "a write to its output '%.200s' failed (the fabric's capacity "
					 "ran out)", name);
			}
		}
	}
	task_end(t, k, state, status, why);
}

/* The running tasks this thread launched (the members table: at most max_running), into v.  Lock held. */
static size_t running_tasks(struct tasks *t, struct task **v)
{
	size_t n = 0;

	pthread_mutex_lock(&t->mlock);
	for (unsigned i = 0; i < t->max_running; i++) {
		struct task *k = t->members[i].task ? task_find(t, t->members[i].task) : NULL;
		if (k && k->state == T_RUNNING && k->launched)
			v[n++] = k;
	}
	pthread_mutex_unlock(&t->mlock);
	return n;
}

static void *thread_main(void *arg)
{
	struct tasks *t = arg;
	struct pollfd *fds = NULL;
	struct task **who = NULL, **run = calloc(t->max_running ? t->max_running : 1, sizeof(*run));
	size_t cap = 0;

	if (!run) {
		fprintf(stderr, "fabricd: the task runner is out of memory\n");
		return NULL;
	}
	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		bool recheck;
		size_t n = 1;
		int timeout = -1;
		int64_t now;

		task_trim(t); /* here, where no task pointer is held across it */
		dispatch(t, &recheck);
		task_check_seals(t, &recheck);
		if (cap < 1 + 3 * (size_t)t->running) {
			cap = 1 + 3 * (size_t)t->running + 16;
			free(fds);
			free(who);
			fds = calloc(cap, sizeof(*fds));
			who = calloc(cap, sizeof(*who));
			if (!fds || !who) {
				fprintf(stderr, "fabricd: the task runner is out of memory\n");
				break;
			}
		}
		fds[0] = (struct pollfd){ .fd = t->wake_fd, .events = POLLIN };
		now = task_now_ns();
		size_t nrun = running_tasks(t, run);
		for (size_t r = 0; r < nrun; r++) {
			struct task *k = run[r];
			int f[3] = { k->l.pidfd, k->l.out_fd, k->l.err_fd };
			for (int i = 0; i < 3; i++) {
				if (f[i] < 0)
					continue;
				fds[n] = (struct pollfd){ .fd = f[i], .events = POLLIN };
				who[n++] = k;
			}
			if (k->timeout_ms && !k->timed_out && !k->kill_requested) {
				int64_t left = (k->started_ns + k->timeout_ms * 1000000 - now) / 1000000 + 1;
				if (timeout < 0 || left < timeout)
					timeout = left > 0 ? (int)left : 0;
			}
		}
		if (recheck && (timeout < 0 || timeout > RECHECK_MS))
			timeout = RECHECK_MS;
		pthread_mutex_unlock(&t->lock);
		task_flush_changes(t);
		int r = poll(fds, n, timeout);
		pthread_mutex_lock(&t->lock);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "fabricd: the task runner's poll failed: %s\n", strerror(errno));
			break;
		}
		if (fds[0].revents) {
			uint64_t v;
			if (read(t->wake_fd, &v, sizeof(v)) < 0) {
				/* nothing to take: another look is harmless */
			}
		}
		for (size_t i = 1; i < n; i++) {
			struct task *k = who[i];
			if (!fds[i].revents || k->state != T_RUNNING)
				continue;
			if (fds[i].fd == k->l.out_fd)
				capture(t, k, 0);
			else if (fds[i].fd == k->l.err_fd)
				capture(t, k, 1);
			else if (fds[i].fd == k->l.pidfd)
				ended(t, k);
		}
		now = task_now_ns();
		nrun = running_tasks(t, run);
		for (size_t r = 0; r < nrun; r++) {
			struct task *k = run[r];
			if (k->timeout_ms && !k->timed_out && !k->kill_requested &&
			    now >= k->started_ns + k->timeout_ms * 1000000) {
				k->timed_out = true;
				launch_kill(&k->l);
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
	free(fds);
	free(who);
	free(run);
	return NULL;
}

void tasks_go(struct tasks *t)
{
	pthread_mutex_lock(&t->lock);
	t->go = true;
	pthread_mutex_unlock(&t->lock);
	task_wake(t);
}

int task_run_start(struct tasks *t)
{
	int rc = pthread_create(&t->thread, NULL, thread_main, t);

	if (rc)
		return -rc;
	t->thread_started = true;
	return 0;
}

/* Kill what runs, wait for it, record it lost; what is queued stays queued. */
void task_run_stop(struct tasks *t)
{
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_mutex_unlock(&t->lock);
	if (t->thread_started) {
		task_wake(t);
		pthread_join(t->thread, NULL);
		t->thread_started = false;
	}
	pthread_mutex_lock(&t->lock);
	for (struct task *k = t->first; k; k = k->next) {
		int status;
		if (k->state != T_RUNNING || !k->launched)
			continue;
		launch_kill(&k->l);
		launch_reap(&k->l, &status);
		set_member(t, k->id, NULL, false);
		close_capture(k);
		t->running--;
		task_end(t, k, T_LOST, -1, "the fabric was unmounted while it ran; it was killed and its outputs "
			 "dropped");
	}
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
}
