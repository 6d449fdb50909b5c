/* SPDX-License-Identifier: MIT */
/* task_netInt.h -- what the cluster side of the task module shares among its files (see taskInt.h's
 * task_net_* for what the rest of the module calls):
 *   task_net.c       the mirror of the other nodes' records, publishing this node's, ids, calls, placing
 *   task_handover.c  who runs a queued task: the go a node takes in etcd before it starts one, and the
 *                    queued tasks of a node that went down placed again on a live one
 *   task_wire.c      a spawn request as JSON and back (a forwarded spawn, a record's "spawn")
 * struct task_net is owned by task_net.c (task_net_start .. task_net_stop); everything in it after the
 * etcd client is guarded by its lock, taken after tasks->lock and never before it. */
#ifndef FABRIC_CORE_TASK_NETINT_H
#define FABRIC_CORE_TASK_NETINT_H

#include <jansson.h>
#include <pthread.h>

#include "core/cluster/cluster.h"
#include "core/task/taskInt.h"

struct etcd;
struct etcd_watch;

struct task_net {
	struct tasks *t;
	struct cluster *c;
	struct etcd *etcd;
	struct etcd_watch *watch;
	char prefix[CLUSTER_NAME_MAX + 32], idkey[CLUSTER_NAME_MAX + 32];

	pthread_mutex_t id_lock; /* the block of ids: next..end */
	uint64_t next, end;

	pthread_mutex_t lock;
	json_t *remote; /* "ID" -> record, the other nodes' tasks ("_rev": its etcd mod_revision) */
	json_t *seen;   /* while listing: the ids the listing had (the others are dropped after it) */
	json_t *mine;   /* "ID" -> mod_revision of this node's last write of its record */
	json_t *away;   /* "ID" -> true: this node's tasks another node took over (never published again) */
	json_t *noted;  /* "ID" -> true: another node's task whose node is down, told to pollers */
	uint64_t *queue; /* ids to publish */
	size_t nq, qcap;
	bool stop, relist;
	pthread_cond_t cond;
	pthread_cond_t heard; /* a record came or went (task_net_forward waits for its task's) */
	pthread_t thread;
	bool thread_started;
};

/* task_net.c */
const char *task_net_jstr(json_t *j, const char *k); /* "" for a missing member */
int task_net_state_of(json_t *j);                    /* a record's enum task_state */
/* Record id's key: "/fabric/CLUSTER/tasks/ID". */
void task_net_key(const struct task_net *n, uint64_t id, char *key, size_t len);

/* task_handover.c */
/* Write this node's record val of task id (NULL: delete it), with a compare on this node's last write
 * (or, after a restart, on a record naming this node): 0, -ESTALE when another node has it now (the task
 * was given away here), another -errno when etcd did not take it (try again).  A record with "go" true
 * gives the runner its go. */
int task_handover_write(struct task_net *n, uint64_t id, const char *val, bool go);
/* Once a second, from the publisher: tell pollers of tasks whose node went down, and place the queued
 * ones again (this node does it when it is the first live node by name). */
void task_handover_sweep(struct task_net *n);

/* task_wire.c */
/* A spawn request as JSON (groups: the caller's; id included when not 0), or NULL when a word or name is
 * not UTF-8 (a JSON string cannot carry it unchanged). */
json_t *task_wire_request(const struct task_request *r, const uint32_t *groups, size_t ngroups);
/* Queued task k's request as JSON (for another node to place it again), or NULL.  Lock held. */
json_t *task_wire_task(const struct task *k);
/* A request back from JSON: r points into j and into w (free it with task_wire_free); r->here false. */
struct task_wire {
	const char **words;
	uint32_t *groups;
};
int task_wire_parse(json_t *j, struct task_request *r, struct task_wire *w, char *why, size_t whylen);
void task_wire_free(struct task_wire *w);
/* A uid or gid member: 0 with *v, or -EPROTO when it is missing or not one. */
int task_wire_id(json_t *j, uint32_t *v);

#endif
