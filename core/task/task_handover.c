/* SPDX-License-Identifier: MIT */
/* task_handover.c -- which node runs a queued task of a cluster (see task_netInt.h).
 *
 * A task's record in etcd (/fabric/CLUSTER/tasks/ID) says which node has it, and only writes that compare
 * on the record's revision change it, so one node has each task at every moment:
 *   - its node writes the record with a compare on its own last write of it (after a restart, on a record
 *     that still names it; a task with no record yet is created);
 *   - a queued task starts only once its node wrote "go" into its record (the runner asks, task_run.c):
 *     from then on no other node places it again, and its node's death makes it lost, as a running one;
 *   - when a node is seen down, the first live node by name places its queued tasks without a go again,
 *     by the same rule as a spawn (their scopes allowing): it replaces the record with one naming the
 *     chosen node, compared on the revision it read, then asks that node to accept the task with its id;
 *     when that fails, the old record is put back (compared on its own claim) and the task waits for its
 *     node;
 *   - a node whose write loses (it was down, or cut off, and another node took its task meanwhile) drops
 *     its queued copy and its reserved outputs, and never writes that record again.
 * So a task runs at most once however nodes die, come back or are cut off; what it costs is one etcd write
 * before each start, and with every etcd member down no queued task starts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/os/etcd.h"
#include "core/store/store.h"
#include "core/task/task_netInt.h"

static void idtext(uint64_t id, char buf[24])
{
	snprintf(buf, 24, "%llu", (unsigned long long)id);
}

/* Another node has task id now: this node's copy goes, unless it started already. */
static void taken(struct task_net *n, uint64_t id)
{
	struct tasks *t = n->t;
	char idtxt[24];
	struct task *k;

	idtext(id, idtxt);
	pthread_mutex_lock(&n->lock);
	json_object_set_new(n->away, idtxt, json_true());
	json_object_del(n->mine, idtxt);
	pthread_mutex_unlock(&n->lock);
	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (k && k->state == T_QUEUED && !k->go) {
		cluster_say(n->c, "tasks: task %llu was placed on another node while this one was out of the cluster: "
			    "its copy here is dropped", (unsigned long long)id);
		task_give_away_locked(t, k);
	} else if (k)
		cluster_say(n->c, "tasks: the record of task %llu names another node, but it %s here; its record is no "
			    "longer kept", (unsigned long long)id, task_state_names[k->state]);
	pthread_mutex_unlock(&t->lock);
	task_flush_changes(t);
}

static void give_go(struct task_net *n, uint64_t id)
{
	struct task *k;

	pthread_mutex_lock(&n->t->lock);
	k = task_find(n->t, id);
	if (k && k->state == T_QUEUED && k->go_asked)
		k->go = true;
	pthread_mutex_unlock(&n->t->lock);
	task_wake(n->t);
}

int task_handover_write(struct task_net *n, uint64_t id, const char *val, bool go)
{
	char key[sizeof(n->prefix) + 24], idtxt[24], *old = NULL;
	int64_t rev, newrev = 0;
	size_t oldlen;
	int rc;

	task_net_key(n, id, key, sizeof(key));
	idtext(id, idtxt);
	pthread_mutex_lock(&n->lock);
	bool away = json_object_get(n->away, idtxt) != NULL;
	rev = json_integer_value(json_object_get(n->mine, idtxt));
	pthread_mutex_unlock(&n->lock);
	if (away)
		return -ESTALE;
	if (!val) { /* forgotten: a finished task, which no other node ever takes */
		rc = etcd_delete(n->etcd, key);
		if (rc == 0 || rc == -ENOENT) {
			pthread_mutex_lock(&n->lock);
			json_object_del(n->mine, idtxt);
			pthread_mutex_unlock(&n->lock);
			rc = 0;
		}
		return rc;
	}
	if (!rev) { /* not written by this run of the daemon: whose is it? */
		rc = etcd_get(n->etcd, key, &old, &oldlen, &rev);
		if (rc == -ENOENT) {
			rc = etcd_create(n->etcd, key, val, strlen(val), NULL, &newrev);
			rc = rc == -EEXIST ? -EAGAIN : rc; /* it came meanwhile: look again */
			goto done;
		}
		if (rc)
			return rc;
		json_t *j = json_loadb(old, oldlen, 0, NULL);
		bool ours = strcmp(task_net_jstr(j, "node"), store_node_name(n->t->st)) == 0;
		json_decref(j);
		free(old);
		if (!ours) {
			rc = -ESTALE;
			goto done;
		}
	}
	rc = etcd_replace(n->etcd, key, val, strlen(val), rev, &newrev);
done:
	if (rc == 0) {
		pthread_mutex_lock(&n->lock);
		json_object_set_new(n->mine, idtxt, json_integer(newrev));
		pthread_mutex_unlock(&n->lock);
		if (go)
			give_go(n, id);
	} else if (rc == -ESTALE)
		taken(n, id);
	return rc;
}

/* Place task id (record rec, on node `from`, which is down) again. */
static void adopt(struct task_net *n, uint64_t id, json_t *rec)
{
	char key[sizeof(n->prefix) + 24], why[1024], node[NAMES_NODE_MAX + 1], addr[CLUSTER_ADDR_MAX + 1];
	const char *from = task_net_jstr(rec, "node");
	int64_t rev = json_integer_value(json_object_get(rec, "_rev")), crev = 0;
	struct task_wire w = { 0 };
	struct task_request r;
	char *claim = NULL, *back = NULL;
	uint64_t got = 0;
	json_t *j;
	int rc;

	why[0] = '\0';
	task_net_key(n, id, key, sizeof(key));
	rc = task_wire_parse(json_object_get(rec, "spawn"), &r, &w, why, sizeof(why));
	r.id = id;
	if (rc == 0)
		rc = task_net_place(n->t, &r, node, addr, why, sizeof(why));
	if (rc) {
		cluster_say(n->c, "tasks: task %llu, queued on node %s, which is down, waits for it: %s",
			    (unsigned long long)id, from, why);
		task_wire_free(&w);
		return;
	}
	json_object_del(rec, "_rev");
	back = json_dumps(rec, JSON_COMPACT);
	j = json_deep_copy(rec);
	json_object_set_new(j, "from", json_string(from));
	json_object_set_new(j, "node", json_string(node));
	claim = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	rc = claim && back ? etcd_replace(n->etcd, key, claim, strlen(claim), rev, &crev) : -ENOMEM;
	if (rc == 0) { /* it is ours to place now */
		if (strcmp(node, store_node_name(n->t->st)) == 0) {
			r.here = true;
			rc = tasks_spawn(n->t, &r, &got, why, sizeof(why));
		} else
			rc = task_net_forward(n->t, &r, addr, &got, why, sizeof(why));
		if (rc == 0)
			cluster_say(n->c, "tasks: task %llu was queued on node %s, which went down: placed again on node %s",
				    (unsigned long long)id, from, node);
		else if (etcd_replace(n->etcd, key, back, strlen(back), crev, NULL) == 0)
			cluster_say(n->c, "tasks: task %llu, queued on node %s, which is down, could not be placed again "
				    "on node %s (%s): it waits for node %s", (unsigned long long)id, from, node, why, from);
		else
			cluster_say(n->c, "tasks: task %llu could not be placed on node %s (%s), and its record could not be "
				    "put back: %s", (unsigned long long)id, node, why, etcd_why());
	}
	free(claim);
	free(back);
	task_wire_free(&w);
}

static int by_number(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void task_handover_sweep(struct task_net *n)
{
	struct cluster_node *v = NULL;
	size_t nv = 0, ntell = 0, nadopt = 0;
	uint64_t *tell = NULL, *take = NULL;
	const char *key;
	bool first = false;
	void *tmp;
	json_t *rec;

	if (cluster_nodes(n->c, &v, &nv) != 0)
		return;
	for (size_t i = 0; i < nv; i++)
		if (v[i].up) { /* sorted by name */
			first = v[i].self && cluster_secret(n->c);
			break;
		}
	pthread_mutex_lock(&n->lock);
	size_t cap = json_object_size(n->remote) + json_object_size(n->noted) + 1;
	tell = calloc(cap, sizeof(*tell));
	take = calloc(cap, sizeof(*take));
	json_object_foreach_safe(n->noted, tmp, key, rec)
		if (!json_object_get(n->remote, key))
			json_object_del(n->noted, key);
	json_object_foreach(n->remote, key, rec) {
		const char *node = task_net_jstr(rec, "node");
		bool down = false;
		for (size_t i = 0; i < nv; i++)
			if (strcmp(v[i].name, node) == 0)
				down = !v[i].up;
		bool queued = task_net_state_of(rec) == T_QUEUED && !json_is_true(json_object_get(rec, "go")) &&
			      json_object_get(rec, "spawn");
		bool affected = down && (queued || json_object_get(rec, "lost"));
		bool noted = json_object_get(n->noted, key) != NULL;
		if (!tell || !take || affected == noted)
			continue;
		tell[ntell++] = strtoull(key, NULL, 10);
		if (noted)
			json_object_del(n->noted, key);
		else
			json_object_set_new(n->noted, key, json_true());
		if (affected && queued && first)
			take[nadopt++] = strtoull(key, NULL, 10);
	}
	pthread_mutex_unlock(&n->lock);
	free(v);
	for (size_t i = 0; i < ntell; i++) /* their status reads otherwise now: pollers look again */
		if (n->t->changed)
			n->t->changed(n->t->changed_arg, tell[i]);
	if (ntell)
		task_wake(n->t); /* tasks waiting for them may be cancelled now */
	qsort(take, nadopt, sizeof(*take), by_number); /* a task's after= ids are lower than its own */
	for (size_t i = 0; i < nadopt; i++) {
		char idtxt[24];
		idtext(take[i], idtxt);
		pthread_mutex_lock(&n->lock);
		rec = json_deep_copy(json_object_get(n->remote, idtxt));
		pthread_mutex_unlock(&n->lock);
		if (rec)
			adopt(n, take[i], rec);
		json_decref(rec);
	}
	free(tell);
	free(take);
}
