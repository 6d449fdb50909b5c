/* SPDX-License-Identifier: MIT */
/* task.h -- tasks: ordinary programs the fabric runs for its users, next to their data (Dagger's @spawn
 * over Chunks, with nothing to link against).
 *
 * A user writes `spawn in=raw out=sum -- PROGRAM ARGS` to /fabric/ctl; the task is accepted (an id), its
 * outputs reserved, and it waits in a queue until its inputs are sealed and the tasks it comes `after` have
 * exited 0; then it is placed (core/task/place.h: scopes, then input bytes) and started (core/os/launch.h) with the
 * caller's identity.  Its outputs are variables only its own process tree may write; they are sealed when
 * it exits 0 having written every one, and dropped otherwise: a task never leaves a half-made output.
 *
 * How the program sees the fabric (documented for users in README.md):
 *   environment: exactly PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, HOME, USER and
 *     LOGNAME of its uid (HOME=/ when it has no passwd entry), LANG=C.UTF-8, FABRIC (the mount point),
 *     FABRIC_TASK (its id), FABRIC_NODE, FABRIC_INPUTS and FABRIC_OUTPUTS (absolute paths, one a line),
 *     FABRIC_PIECE (the first input that is a shard's piece, as `each=` makes them: its absolute path);
 *   working directory: FABRIC/vars, so in= and out= names are paths relative to it;
 *   stdin /dev/null; stdout and stderr captured into tasks/ID/stdout and stderr (TASK_OUTPUT_MAX bytes
 *     each are kept; beyond that the bytes are counted and dropped, and a last line says so).
 *
 * States: queued -> running -> exited (status 0) | failed (non-zero, could not start, or an output not
 * written) | killed | timed-out | lost (its daemon stopped while it ran); queued -> cancelled (a task it
 * needs failed) | killed.  Every task is a YP row (meta/yp.h), so a restart resumes the queue, marks the
 * tasks that were running lost, and keeps finished records until `forget` or the history bound.
 *
 * Locking: one mutex inside struct tasks; it is taken before the store's, never after.  The tasks' rows
 * are written under it straight to the store's YP (store_yp), whose own lock is innermost (meta/yp.h).
 * The store asks "is this pid one of task T's processes" (store_owner_hook) under its own lock, and that
 * question is answered under a second lock, taken with no other after it.  Functions return 0 or a negative errno; why gets a sentence. */
#ifndef FABRIC_CORE_TASK_H
#define FABRIC_CORE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/store/store.h"

#define TASK_OUTPUT_MAX (1u << 20)  /* bytes of stdout, and of stderr, kept per task */
#define TASK_HISTORY_DEFAULT 1000   /* finished task records kept; the oldest are forgotten first */
#define TASK_PENDING_MAX 10000      /* queued and running tasks at once: more is -EAGAIN */
#define TASK_ARGV_MAX 256           /* words of one program's command line */

struct cluster;
struct tasks;

struct task_config {
	struct store *st;
	const char *state_dir;  /* STATE: STATE/tasks/ holds the captured output */
	const char *mountpoint; /* FABRIC */
	unsigned max_running;   /* tasks running at once on this node; 0: the number of online CPUs */
	unsigned history;       /* finished records kept; 0: TASK_HISTORY_DEFAULT */
	/* Called, without any lock held, after task id's state changed (so a poll(2) on its status wakes). */
	void (*changed)(void *arg, uint64_t id);
	void *changed_arg;
	/* the cluster this node is in (NULL: a single node): task ids unique in it, every node's tasks under
	 * tasks/, spawns placed on any live node, kill and forget from any node (task_net.c) */
	struct cluster *cluster;
};

/* Load the tasks of the YP: the ones that were running are marked lost and what is left of their
 * processes is ended, the queued ones get their outputs reserved again.  Then start the thread that runs
 * them.  Call after store_init. */
int tasks_init(const struct task_config *cfg, struct tasks **out, char *msg, size_t msglen);
/* The mount is live and its data path settled: tasks may start from now on.  Until then they only queue,
 * so no program of a restart runs against a mount that is still coming up. */
void tasks_go(struct tasks *t);
/* Stop: running tasks are killed and recorded lost, queued ones stay queued for the next start. */
void tasks_destroy(struct tasks *t);

struct task_request {
	const char *const *argv; /* the program and its words */
	size_t argc;
	const char *inputs, *outputs, *after; /* comma-separated as written (NULL: none) */
	const char *scope;                    /* NULL: any */
	const char *timeout;                  /* seconds, as written (NULL: none) */
	uint32_t uid, gid;                    /* the caller's */
	pid_t pid;                            /* the caller's thread: its groups are read from /proc */
	uint32_t out_mode;                    /* the outputs' permission bits */
	const uint32_t *groups;               /* when not NULL: the caller's groups (another node's caller), */
	size_t ngroups;                       /*   instead of pid's */
	bool here;                            /* run on this node (placed by the node that asked): no forward */
	bool group; /* no program: a group (each='s), which ends exited once every after= task exited */
	uint64_t id; /* in a cluster, an id the task has already (one placed again after its node went down);
		      * 0: a new one */
};

/* Accept a task: *id on success.  In a cluster the task goes to the node place.h's rule chooses among the
 * live ones (ties: fewest tasks queued or running, then most free bytes, then this node) and is accepted
 * there; -EHOSTDOWN or that node's refusal when it cannot be.  -EINVAL (bad option, unknown name, cycle), -EEXIST (an output exists
 * or is reserved), -EXDEV / -EACCES (no place satisfies the scopes), -EAGAIN (TASK_PENDING_MAX). */
int tasks_spawn(struct tasks *t, const struct task_request *r, uint64_t *id, char *why, size_t whylen);
/* End a task's whole process tree, or take a queued one out of the queue.  uid: the caller's (only the
 * task's owner or root may).  -ESRCH when it has ended already, -ENOENT when there is no such task. */
int tasks_kill(struct tasks *t, uint64_t id, uint32_t uid, char *why, size_t whylen);
/* Remove a finished task's record and output.  -EBUSY while it is queued or running or a queued task
 * waits for it. */
int tasks_forget(struct tasks *t, uint64_t id, uint32_t uid, char *why, size_t whylen);

/* The ids of the known tasks, in id order, every node's in a cluster (malloc'd; the caller frees).
 * tasks_info, tasks_read, tasks_kill and tasks_forget take any of them; kill and forget of another node's
 * task are asked of that node. */
int tasks_ids(struct tasks *t, uint64_t **ids, size_t *n);

/* The files of tasks/ID/. */
enum task_file { TASK_DIR, TASK_CMD, TASK_STATUS, TASK_EXIT, TASK_NODE, TASK_STDOUT, TASK_STDERR, TASK_CTL,
		 TASK_NFILES };
extern const char *const task_file_names[TASK_NFILES]; /* "", "cmd", "status", ... */
struct task_info {
	uint32_t uid, gid;
	int64_t queued_ns, changed_ns;
	uint64_t version; /* grows at every state change */
	bool finished;
	uint64_t captured[2]; /* bytes of stdout and stderr kept so far */
};
int tasks_info(struct tasks *t, uint64_t id, struct task_info *out);
/* Bytes of a file of tasks/ID/ from off: count read, or -errno. */
ssize_t tasks_read(struct tasks *t, uint64_t id, enum task_file f, char *buf, size_t size, uint64_t off);
/* One line per task, tab-separated: ID STATE NODE EXIT COMMAND (the `tasks` verb), every node's, in id
 * order. */
int tasks_table(struct tasks *t, char **text, size_t *len);

#endif
