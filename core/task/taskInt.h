/* SPDX-License-Identifier: MIT */
/* taskInt.h -- what the task module's files share (see task.h).
 *
 * Which file does what:
 *   task.c         tasks_init and tasks_destroy, kill, forget and the reads (ids, info, read); the lookups
 *                  all files use (task_find, task_item, task_needed, ...)
 *   task_spawn.c   tasks_spawn: the options checked, the row written, the outputs reserved (also again at
 *                  a restart: task_reserve_outputs)
 *   task_place.c   where a task runs: its inputs' scopes and sizes from the store, for place.c's rule
 *   task_rows.c    a task as its YP row and back (task_persist, task_forget_row, task_load_rows)
 *   task_end.c     what follows an end: outputs sealed or dropped, the changes told, the history trimmed
 *   task_resume.c  what a restart does to the tasks it finds (task_resume)
 *   task_run.c     the one thread that starts tasks, drains their output, sees them end and cancels the
 *                  ones whose inputs will never come
 *   task_text.c    the files of tasks/ID/ and the `tasks` table
 *   place.c        the placement rule itself, a pure function (place.h)
 * These files call each other both ways (task.c's lookups serve all; task.c's kill and forget call
 * task_end.c, which calls task_run.c to cancel dependents, which calls back into the lookups): they are
 * one state machine over one table under one lock, split for reading, and a circle among them is the
 * price of that.  Nothing outside core/task/ is in such a circle.
 * Everything in struct tasks and struct task is guarded by tasks->lock, except the members table
 * (tasks->mlock, innermost: the store asks it under its own lock).  Rows are written under tasks->lock
 * through tasks->yp, whose own lock comes after every other (meta/yp.h). */
#ifndef FABRIC_CORE_TASKINT_H
#define FABRIC_CORE_TASKINT_H

#include <pthread.h>

#include "core/cluster/cluster.h"
#include "core/os/launch.h"
#include "core/task/task.h"
#include "core/text/names.h"
#include "core/text/scope.h"

#define TASK_GROUPS_MAX 256 /* supplementary groups a task keeps of its caller's */
#define TASK_INPUTS_MAX 64  /* inputs of one task */

enum task_state { T_QUEUED, T_RUNNING, T_EXITED, T_FAILED, T_KILLED, T_TIMED_OUT, T_CANCELLED, T_LOST };
extern const char *const task_state_names[];

struct task {
	uint64_t id;
	enum task_state state;
	int told; /* the state the event stream last heard of (-1: none) */
	char *argv_blob; /* the words, each followed by a NUL */
	size_t argv_len;
	char **argv; /* NULL-terminated, pointing into argv_blob */
	size_t argc;
	char *inputs, *outputs, *after; /* '\n'-separated, as in the YP */
	char *scope, *node, *placed, *why, *groups;
	uint32_t uid, gid;
	uint32_t out_mode; /* the outputs' mode (spawn's mode=, or 0666 less the caller's umask); not in the YP:
			    * a queued task whose daemon restarted reserves them 0644 */
	int64_t timeout_ms, exit_status;
	int64_t queued_ns, started_ns, ended_ns;
	uint64_t version;

	uint64_t *out_ids; /* the reserved outputs' variable ids */
	size_t nout;
	/* exited: the seals of its nseal outputs (out_ids) are committed, and the YP says so.  A restart
	 * finds a task whose end was recorded before the seals were (task_check_seals). */
	bool outputs_sealed;
	size_t nseal;

	/* while running */
	struct launch l;
	bool launched, kill_requested, timed_out;
	/* in a cluster a queued task starts only once its record in etcd says so (go), written with a
	 * compare on this node's last write of it: no other node has placed it again meanwhile (task_net.c) */
	bool go_asked, go;
	int out_file, err_file;
	uint64_t out_len[2], dropped[2]; /* stdout, stderr: bytes in the capture file, and dropped */

	struct task *next, *prev; /* the list, in submission order */
	struct task *hnext;       /* the same id bucket (tasks->byid) */
};

struct member {
	uint64_t task;
	bool starting; /* launch_start is under way: the id is not known yet */
	struct launch_id id;
};

struct tasks {
	pthread_mutex_t lock;
	struct store *st;
	struct yp *yp; /* the store's (store_yp): the rows of tasks; meta locks it itself, innermost */
	char *state_dir, *task_dir, *mountpoint;
	unsigned max_running, history, running, pending, finished;
	void (*changed)(void *arg, uint64_t id);
	void *changed_arg;

	struct task *first, *last;
	/* Lookups and the runner's passes need not walk the list (10,000 tasks may wait): tasks by id; the
	 * first task that may be queued (none before it is: a task never becomes queued again, and new ones
	 * come last); whether an exited task's outputs may still be sealing (task_check_seals). */
#define TASK_BUCKETS 4096
	struct task *byid[TASK_BUCKETS];
	struct task *queued_from;
	bool seals_pending;

	pthread_mutex_t mlock;
	struct member *members; /* max_running of them; task 0: free */

	pthread_t thread;
	bool thread_started, stopping;
	bool go; /* tasks_go: the mount is ready for programs */
	bool cancelling; /* task_cancel_dependents is under way */
	int wake_fd; /* eventfd: new work for the thread */

	struct task_net *net; /* the cluster's side (task_net.c); NULL on a single node */

	uint64_t *changed_ids; /* told to `changed` once the lock is dropped */
	size_t nchanged, changed_cap;
	/* outputs of ended tasks, sealed (ok) or dropped once the lock is dropped: a seal hashes every byte,
	 * which must not hold up everybody else's tasks */
	struct finishing {
		uint64_t id;
		bool ok;
	} *fin;
	size_t nfin, fin_cap;
};

/* task.c */
struct task *task_find(struct tasks *t, uint64_t id);
/* k joins the list (last) and the index by id; task_unlink takes it out of both (it is not freed). */
void task_link(struct tasks *t, struct task *k);
void task_unlink(struct tasks *t, struct task *k);
/* Post k's state to the event stream (core/event) when it is new there: "task tasks/ID state=S
 * [node=N] [exit=E]".  t->lock held (task_touch calls it at every change). */
void task_tell(struct tasks *t, struct task *k);
bool task_local(struct tasks *t, uint64_t id); /* one of this node's?  Takes the lock. */
int tasks_local_ids(struct tasks *t, uint64_t **ids, size_t *n); /* this node's, in submission order */
bool task_finished(const struct task *k); /* neither queued nor running */
void task_free(struct task *k);
/* *field = a copy of value (NULL: ""); left as it was when memory runs out. */
void task_set_str(char **field, const char *value);
/* Does some queued task wait for k (after= or an input k makes)? */
bool task_needed(struct tasks *t, const struct task *k);
bool task_is_output(const struct task *k, const char *name);
/* Is name one of the '\n'-separated words of list? */
bool task_in_list(const char *list, const char *name);
int64_t task_now_ns(void);
/* The next item of a '\n'-separated list at p, copied into item (cut to len); returns where the one
 * after it starts, or NULL at the end:  for (p = list; (p = task_item(p, buf, sizeof(buf)));) ... */
const char *task_item(const char *p, char *item, size_t len);

/* task_end.c */
/* Mark k's state changed: version, time, and a `changed` call once the lock is dropped. */
void task_touch(struct tasks *t, struct task *k);
/* Seal or drop the outputs of the tasks that ended, then tell `changed` about the touched tasks; called
 * without the lock. */
void task_flush_changes(struct tasks *t);
/* End a task that never ran or has been reaped: state, reason, outputs sealed (exited) or dropped, row
 * saved, history trimmed.  Lock held. */
void task_end(struct tasks *t, struct task *k, enum task_state state, int64_t exit_status, const char *why);
void task_wake(struct tasks *t);
/* Drop k's record: row, capture files, memory.  Lock held; k finished. */
int task_forget_locked(struct tasks *t, struct task *k);
/* Drop queued task k, which another node runs now (placed again there while this one was down): its
 * reserved outputs, row and memory, nothing published.  Lock held. */
void task_give_away_locked(struct tasks *t, struct task *k);
/* Forget the oldest finished records past the history bound (not while a queued task needs them).  Lock
 * held; frees tasks, so no task pointer may be kept across it. */
void task_trim(struct tasks *t);
/* Exited tasks whose outputs' seals were still in flight: record them sealed once they are; *recheck
 * when some are not yet.  Lock held. */
void task_check_seals(struct tasks *t, bool *recheck);

/* task_spawn.c */
/* Reserve k's outputs (it has its id): all of them, or none.  Lock held. */
int task_reserve_outputs(struct tasks *t, struct task *k, char *why, size_t whylen);

/* task_place.c */
/* Where k runs (core/task/place.h): its scope= met with every input's scope, then the candidate holding most
 * of its input bytes; *node is that node's name, why says why (or why not: -EINVAL for scopes that do
 * not meet, -EACCES for an input scoped to a process).  Inputs gone since the spawn are left out. */
int task_place(struct tasks *t, const struct task *k, const char **node, char *why, size_t whylen);
/* An input's path: under vars/, or from the mount root for shards/ pieces ("shards/ctr/local"). */
int task_resolve_input(struct store *st, const char *name, uint64_t *id, struct store_attr *a);

/* task_rows.c */
/* Write k's row: insert (which sets k->id) or update every column but id and argv. */
int task_persist(struct tasks *t, struct task *k, bool insert);
int task_forget_row(struct tasks *t, const struct task *k);
/* Every row of the YP as a struct task appended to t's list, in id order; at tasks_init. */
int task_load_rows(struct tasks *t);

/* task_resume.c */
/* What a restart does to the loaded tasks (see task_resume.c).  Lock held. */
void task_resume(struct tasks *t);

/* task_run.c */
int task_run_start(struct tasks *t);
void task_run_stop(struct tasks *t);
bool task_member(void *arg, uint64_t task, pid_t pid); /* store_owner_hook */
/* k ended other than exited: cancel the queued tasks that needed it.  Lock held. */
void task_cancel_dependents(struct tasks *t, struct task *k);

/* task_net.c: the tasks of a cluster (see its head).  None of these is called with tasks->lock held but
 * task_net_state, task_net_producer and task_net_input, which take only the net's lock, the cluster's
 * table lock or the remote index's after it (all leaves; no network call). */
struct task_net;
struct text;
int task_net_start(struct tasks *t, struct cluster *c, char *why, size_t whylen); /* sets t->net */
void task_net_stop(struct tasks *t); /* publishes what is queued, then stops; t->net NULL after */
int task_net_new_id(struct tasks *t, uint64_t *id); /* an id unique in the cluster */
void task_net_changed(struct tasks *t, uint64_t id); /* publish this node's task id (again) */
/* Another node's task, from its published record: -ENOENT when there is none. */
int task_net_info(struct tasks *t, uint64_t id, struct task_info *out);
ssize_t task_net_read(struct tasks *t, uint64_t id, enum task_file f, char *buf, size_t size, uint64_t off);
/* Its state (enum task_state; node gets its node's name; T_LOST for one running on a node that is
 * down), or -ENOENT. */
int task_net_state(struct tasks *t, uint64_t id, char *node, size_t nodelen);
/* The state of another node's task that reserved output name (*id its id), or -ENOENT. */
int task_net_producer(struct tasks *t, const char *name, uint64_t *id);
/* kill or forget ("task.kill", "task.forget") another node's task, asked of its node. */
int task_net_steer(struct tasks *t, const char *verb, uint64_t id, uint32_t uid, char *why, size_t whylen);
int task_net_ids(struct tasks *t, uint64_t **ids, size_t *n); /* appends the other nodes' */
int task_net_rows(struct tasks *t, struct text *x);            /* appends their `tasks` rows */
/* An input on another node (as the catalog says): its node, size and (scope not NULL) scope; -ENOENT,
 * -EISDIR for a directory. */
int task_net_input(struct tasks *t, const char *name, char node[NAMES_NODE_MAX + 1], uint64_t *size,
		   char scope[SCOPE_STR_MAX]);
/* Where r runs among the live nodes: its node and address, or the refusal. */
int task_net_place(struct tasks *t, const struct task_request *r, char node[NAMES_NODE_MAX + 1],
		   char addr[CLUSTER_ADDR_MAX + 1], char *why, size_t whylen);
/* Ask the node at addr to accept r (placed there): *id its id. */
int task_net_forward(struct tasks *t, const struct task_request *r, const char *addr, uint64_t *id, char *why,
		     size_t whylen);

/* task_text.c */
/* k's line of the `tasks` table. */
int task_row(struct text *x, const struct task *k);
/* The text of a small file of tasks/ID/ (cmd, status, exit, node) into a malloc'd buffer. */
int task_text(struct tasks *t, const struct task *k, enum task_file f, char **buf, size_t *len);
/* Path of the file holding k's stdout (which 0) or stderr (1). */
void task_output_path(const struct tasks *t, uint64_t id, int which, char *buf, size_t len);
/* The exit code `fabric wait` gives for a finished task. */
int task_exit_code(const struct task *k);

#endif
