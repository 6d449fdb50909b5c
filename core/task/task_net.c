/* SPDX-License-Identifier: MIT */
/* task_net.c -- the tasks of a cluster (see taskInt.h, task_net_*): every node runs its own tasks, and
 * every node sees and steers everybody's.
 *
 *   ids      unique in the cluster: each node takes blocks of TASK_ID_BLOCK ids from one etcd key
 *            (/fabric/CLUSTER/task_ids, the next free id, moved on with a compare-and-swap), never below
 *            an id its own YP already holds.  A restart takes a new block: ids are never reused.
 *   records  each node publishes each of its tasks as /fabric/CLUSTER/tasks/ID, JSON (jansson) with what
 *            tasks/ID/ shows: state, version, owner, outputs, and the texts of cmd, status, exit, node ("files") and
 *            the `tasks` row, written by a thread of this module after every change (task_net_changed),
 *            deleted when the task is forgotten; written only with a compare, so one node has each task
 *            (task_handover.c: the go before a start, a dead node's queued tasks placed again).  Every node lists the prefix once and follows it with a watch, so
 *            tasks/ID/ reads the same from any node and a poll(2) on status wakes on any node.
 *   calls    what must happen on the task's own node goes there over the transfer connection (CALL):
 *            task.spawn (a task placed on another node), task.kill, task.forget, task.read (stdout and
 *            stderr bytes).
 *   placing  a spawn picks among the live nodes with place.h's rule (scopes, then input bytes); ties go to
 *            the node with the fewest tasks queued or running, then to the one with the most free bytes,
 *            then to this node.  The uid, gid and groups go with the request; the node that runs it
 *            refuses a uid it has no account for.
 * Locking: net->lock guards the mirror and the queue and is taken after tasks->lock, never before it;
 * no etcd or network call is made with either held. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cluster/cluster.h"
#include "core/cluster/remote.h"
#include "core/cluster/transfer.h"
#include "core/os/etcd.h"
#include "core/os/proc.h"
#include "core/store/path.h"
#include "core/task/place.h"
#include "core/task/task_netInt.h"
#include "core/text/scope.h"
#include "core/text/text.h"

#define TASK_ID_BLOCK 1000

/* ---- the mirror ------------------------------------------------------------------------------------ */

static bool record_key(struct task_net *n, const char *key, char idtxt[24])
{
	size_t p = strlen(n->prefix);
	const char *s = key + p;

	if (strncmp(key, n->prefix, p) != 0 || !*s || strlen(s) >= 24 || strspn(s, "0123456789") != strlen(s))
		return false;
	memcpy(idtxt, s, strlen(s) + 1);
	return true;
}

/* A record put or deleted: the mirror follows, then the mount and the runner are told. */
static void heard(struct task_net *n, const char *key, const void *val, size_t len, int64_t mod_rev)
{
	char idtxt[24];
	json_t *j = NULL;
	const char *node;

	if (!record_key(n, key, idtxt))
		return;
	if (val && !(j = json_loadb(val, len, 0, NULL)))
		return;
	node = json_string_value(json_object_get(j, "node"));
	if (j && !node) {
		json_decref(j);
		return;
	}
	if (j && strcmp(node, store_node_name(n->t->st)) == 0) { /* ours (the tasks list has it, or will) */
		json_decref(j);
		j = NULL;
	} else if (j)
		json_object_set_new(j, "_rev", json_integer(mod_rev));
	pthread_mutex_lock(&n->lock);
	if (n->seen && j)
		json_object_set_new(n->seen, idtxt, json_true());
	if (j)
		json_object_set_new(n->remote, idtxt, j);
	else
		json_object_del(n->remote, idtxt);
	pthread_cond_broadcast(&n->heard);
	pthread_mutex_unlock(&n->lock);
	if (n->t->changed)
		n->t->changed(n->t->changed_arg, strtoull(idtxt, NULL, 10));
	task_wake(n->t); /* a task waiting for it may go, or never will */
}

static void on_event(void *arg, int kind, const char *key, const void *val, size_t len, int64_t mod_rev)
{
	struct task_net *n = arg;

	if (kind == ETCD_COMPACTED) {
		pthread_mutex_lock(&n->lock);
		n->relist = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		return;
	}
	heard(n, key, kind == ETCD_PUT ? val : NULL, kind == ETCD_PUT ? len : 0, mod_rev);
}

static int listed(void *arg, const char *key, const void *val, size_t len, int64_t mod_rev)
{
	heard(arg, key, val, len, mod_rev);
	return 0;
}

/* The records as they are now, then a watch from there.  No lock held. */
static int follow(struct task_net *n, char *why, size_t whylen)
{
	int64_t rev = 0;
	const char *key;
	void *tmp;
	json_t *v;
	int rc;

	/* the old entries stay until the listing is in, so a dependency never looks forgotten meanwhile */
	pthread_mutex_lock(&n->lock);
	n->seen = json_object();
	pthread_mutex_unlock(&n->lock);
	rc = etcd_range(n->etcd, n->prefix, listed, n, &rev);
	pthread_mutex_lock(&n->lock);
	if (rc == 0 && n->seen)
		json_object_foreach_safe(n->remote, tmp, key, v)
			if (!json_object_get(n->seen, key))
				json_object_del(n->remote, key);
	json_decref(n->seen);
	n->seen = NULL;
	pthread_mutex_unlock(&n->lock);
	if (rc)
		return text_say(why, whylen, rc, "cannot list the cluster's tasks: %s", etcd_why());
	return etcd_watch_start(cluster_etcd_urls(n->c), n->prefix, rev + 1, on_event, n, &n->watch, why, whylen);
}

/* A copy of another node's record of task id, or NULL. */
static json_t *record_of(struct task_net *n, uint64_t id)
{
	char idtxt[24];
	json_t *j;

	if (!n)
		return NULL;
	snprintf(idtxt, sizeof(idtxt), "%llu", (unsigned long long)id);
	pthread_mutex_lock(&n->lock);
	j = json_deep_copy(json_object_get(n->remote, idtxt));
	pthread_mutex_unlock(&n->lock);
	return j;
}

const char *task_net_jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s ? s : "";
}

int task_net_state_of(json_t *j)
{
	const char *s = task_net_jstr(j, "state");

	for (int i = 0; i <= T_LOST; i++)
		if (strcmp(s, task_state_names[i]) == 0)
			return i;
	return T_LOST;
}

/* ---- publishing ------------------------------------------------------------------------------------ */

/* A JSON string of s: names and words may be any bytes, JSON strings are UTF-8, so a text that is not is
 * published with each byte past ASCII as '?' (what other nodes show of it; the task itself is unchanged). */
static json_t *jtext(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *c;

	if (j || !(c = malloc(len + 1)))
		return j;
	for (size_t i = 0; i < len; i++)
		c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_stringn(c, len);
	free(c);
	return j;
}

/* The texts of k's files, and its `tasks` row, into record j: "files" and "row", or under "lost" (lost). */
static void record_files(struct tasks *t, const struct task *k, json_t *j, bool lost)
{
	static const enum task_file files[] = { TASK_CMD, TASK_STATUS, TASK_EXIT, TASK_NODE };
	json_t *texts = json_object(), *into = lost ? json_object() : j;
	struct text row = { 0 };
	char *txt, *rowtxt = NULL;
	size_t len, rowlen;

	if (!texts || !into) {
		json_decref(texts);
		return;
	}
	json_object_set_new(into, "files", texts);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (task_text(t, k, files[i], &txt, &len) == 0) {
			json_object_set_new(texts, task_file_names[files[i]], jtext(txt, len));
			free(txt);
		}
	if (task_row(&row, k) == 0 && text_take(&row, &rowtxt, &rowlen) == 0) {
		json_object_set_new(into, "row", jtext(rowtxt, rowlen));
		free(rowtxt);
	}
	if (lost)
		json_object_set_new(j, "lost", into);
}

/* Task id's record as JSON text: *out malloc'd, or NULL when it is not (any more) one of this node's;
 * *go: the record gives a queued task its go.  A task that runs (or may: it has its go) carries what
 * every node shows of it once this node is seen down ("lost": its daemon took it along); a queued one
 * carries its request ("spawn"), for a live node to place it again then. */
static int record_text(struct tasks *t, uint64_t id, char **out, bool *go)
{
	struct task *k;
	json_t *j;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	k = task_find(t, id);
	if (!k) {
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	*go = k->state == T_QUEUED && k->go_asked;
	j = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:[I,I]}", "id", (json_int_t)id, "node",
		      store_node_name(t->st), "state", task_state_names[k->state], "version", (json_int_t)k->version,
		      "uid", (json_int_t)k->uid, "gid", (json_int_t)k->gid, "queued_ns", (json_int_t)k->queued_ns,
		      "changed_ns", (json_int_t)(k->ended_ns ? k->ended_ns : k->started_ns ? k->started_ns : k->queued_ns),
		      "finished", task_finished(k), "captured", (json_int_t)k->out_len[0], (json_int_t)k->out_len[1]);
	json_object_set_new(j, "outputs", jtext(k->outputs ? k->outputs : "", k->outputs ? strlen(k->outputs) : 0));
	record_files(t, k, j, false);
	if (*go)
		json_object_set_new(j, "go", json_true());
	if (k->state == T_RUNNING || *go) {
		char why[200];
		struct task lost = *k;
		snprintf(why, sizeof(why), "its node %s went down while it %s: its processes ended with the daemon, "
			 "its outputs are dropped", store_node_name(t->st), k->state == T_RUNNING ? "ran" : "was starting");
		lost.state = T_LOST;
		lost.exit_status = -1;
		lost.why = why;
		lost.node = k->node && *k->node ? k->node : (char *)store_node_name(t->st);
		record_files(t, &lost, j, true);
	} else if (k->state == T_QUEUED)
		json_object_set_new(j, "spawn", task_wire_task(k));
	pthread_mutex_unlock(&t->lock);
	*out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return *out ? 0 : -ENOMEM;
}

void task_net_key(const struct task_net *n, uint64_t id, char *key, size_t len)
{
	snprintf(key, len, "%s%llu", n->prefix, (unsigned long long)id);
}

/* 0 (also for a task given away: it is no longer this node's to write), or -errno when etcd did not take
 * it (the caller tries again). */
static int publish(struct task_net *n, uint64_t id)
{
	char *val = NULL;
	bool go = false;
	int rc = record_text(n->t, id, &val, &go);

	if (rc == 0)
		rc = task_handover_write(n, id, val, go);
	free(val);
	return rc == -ESTALE ? 0 : rc;
}

/* Wait up to a second for a stop (lock held). */
static void pause_a_second(struct task_net *n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	if (!n->stop)
		pthread_cond_timedwait(&n->cond, &n->lock, &until);
}

static void *publisher(void *arg)
{
	struct task_net *n = arg;
	char why[512];

	struct timespec last = { 0 }, now;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->nq && !n->relist && !n->stop) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec != last.tv_sec) { /* nodes that went down: nothing in etcd says so */
				last = now;
				pthread_mutex_unlock(&n->lock);
				task_handover_sweep(n);
				pthread_mutex_lock(&n->lock);
				continue;
			}
			pause_a_second(n);
		}
		if (n->relist) {
			n->relist = false;
			pthread_mutex_unlock(&n->lock);
			etcd_watch_stop(n->watch);
			n->watch = NULL;
			int rc = follow(n, why, sizeof(why));
			if (rc)
				cluster_say(n->c, "tasks: cannot follow the cluster's tasks again (trying again): %s", why);
			pthread_mutex_lock(&n->lock);
			if (rc) {
				n->relist = true;
				pause_a_second(n);
				if (n->stop)
					break;
			}
			continue;
		}
		if (!n->nq) /* stopping, with everything published */
			break;
		uint64_t id = n->queue[--n->nq];
		pthread_mutex_unlock(&n->lock);
		int rc = publish(n, id);
		pthread_mutex_lock(&n->lock);
		if (rc && !n->stop) { /* etcd is away: keep it, and try again in a second */
			bool again = false;
			for (size_t i = 0; i < n->nq && !again; i++)
				again = n->queue[i] == id;
			if (!again && n->nq < n->qcap)
				n->queue[n->nq++] = id;
			cluster_say(n->c, "tasks: cannot publish task %llu (trying again): %s", (unsigned long long)id,
				    etcd_why());
			pause_a_second(n);
		}
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

void task_net_changed(struct tasks *t, uint64_t id)
{
	struct task_net *n = t->net;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	bool queued = false;
	for (size_t i = 0; i < n->nq && !queued; i++)
		queued = n->queue[i] == id;
	if (!queued && n->nq == n->qcap) {
		size_t cap = n->qcap ? 2 * n->qcap : 64;
		uint64_t *q = realloc(n->queue, cap * sizeof(*q));
		if (q) {
			n->queue = q;
			n->qcap = cap;
		}
	}
	if (!queued && n->nq < n->qcap)
		n->queue[n->nq++] = id;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* ---- ids ------------------------------------------------------------------------------------------- */

/* A new block of ids from etcd: the key's next free id, moved on by TASK_ID_BLOCK (compare-and-swap). */
static int take_block(struct task_net *n, uint64_t floor)
{
	for (int tries = 0; tries < 8; tries++) { /* a few races lost at most: the asking node waits 60 s */
		char *val = NULL, next[32];
		int64_t rev = 0;
		uint64_t start = floor;
		size_t len;
		int rc = etcd_get(n->etcd, n->idkey, &val, &len, &rev);
		if (rc && rc != -ENOENT)
			return rc;
		if (rc == 0 && strtoull(val, NULL, 10) > start)
			start = strtoull(val, NULL, 10);
		free(val);
		snprintf(next, sizeof(next), "%llu", (unsigned long long)(start + TASK_ID_BLOCK));
		rc = rev ? etcd_replace(n->etcd, n->idkey, next, strlen(next), rev, NULL)
			 : etcd_create(n->etcd, n->idkey, next, strlen(next), NULL, NULL);
		if (rc == 0) {
			n->next = start;
			n->end = start + TASK_ID_BLOCK;
			return 0;
		}
		if (rc != -ESTALE && rc != -EEXIST)
			return rc;
	}
	return -EAGAIN;
}

int task_net_new_id(struct tasks *t, uint64_t *id)
{
	struct task_net *n = t->net;
	uint64_t floor = 1;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	for (struct task *k = t->first; k; k = k->next)
		if (k->id >= floor)
			floor = k->id + 1;
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_lock(&n->id_lock);
	if (n->next < floor || n->next >= n->end)
		rc = take_block(n, floor > n->end ? floor : n->end);
	if (rc == 0)
		*id = n->next++;
	pthread_mutex_unlock(&n->id_lock);
	return rc;
}

/* ---- what other nodes' tasks show here ------------------------------------------------------------- */

/* What rec shows: its own files and row, or, when its node is down and it ran there (or had its go), the
 * "lost" ones it carries (the daemon's death took the task along; its restart records it so). */
static json_t *view_of(struct task_net *n, json_t *rec)
{
	json_t *lost = json_object_get(rec, "lost");
	struct cluster_node nd;

	if (lost && cluster_node(n->c, task_net_jstr(rec, "node"), &nd) == 0 && !nd.up)
		return lost;
	return rec;
}

int task_net_info(struct tasks *t, uint64_t id, struct task_info *out)
{
	json_t *j = record_of(t->net, id), *cap;

	if (!j)
		return -ENOENT;
	cap = json_object_get(j, "captured");
	bool lost = view_of(t->net, j) != j;
	*out = (struct task_info){ (uint32_t)json_integer_value(json_object_get(j, "uid")),
				   (uint32_t)json_integer_value(json_object_get(j, "gid")),
				   json_integer_value(json_object_get(j, "queued_ns")),
				   json_integer_value(json_object_get(j, "changed_ns")),
				   (uint64_t)json_integer_value(json_object_get(j, "version")) + lost,
				   lost || json_is_true(json_object_get(j, "finished")),
				   { (uint64_t)json_integer_value(json_array_get(cap, 0)),
				     (uint64_t)json_integer_value(json_array_get(cap, 1)) } };
	json_decref(j);
	return 0;
}

/* The address of the node that runs task id (its record's), for a call there. */
static int owner_addr(struct tasks *t, uint64_t id, char addr[CLUSTER_ADDR_MAX + 1], char *why, size_t whylen)
{
	json_t *j = record_of(t->net, id);
	struct cluster_node nd;
	int rc = 0;

	if (!j)
		return text_say(why, whylen, -ENOENT, "no task %llu", (unsigned long long)id);
	if (cluster_node(t->net->c, task_net_jstr(j, "node"), &nd) != 0 || !nd.up)
		rc = text_say(why, whylen, -EHOSTDOWN, "task %llu runs on node %s, which is down", (unsigned long long)id,
			      task_net_jstr(j, "node"));
	else if (!cluster_secret(t->net->c))
		rc = text_say(why, whylen, -EACCES, "this node has no cluster secret to reach node %s with", nd.name);
	else
		snprintf(addr, CLUSTER_ADDR_MAX + 1, "%s", nd.addr);
	json_decref(j);
	return rc;
}

/* Call verb on the node at addr with JSON j (taken); *ans its answer. */
static int call(struct task_net *n, const char *addr, const char *verb, json_t *j, char **ans, size_t *anslen,
		char *why, size_t whylen)
{
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	json_decref(j);
	if (!body)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	rc = transfer_call(addr, cluster_secret(n->c), verb, body, 60, ans, anslen, why, whylen);
	free(body);
	return rc;
}

ssize_t task_net_read(struct tasks *t, uint64_t id, enum task_file f, char *buf, size_t size, uint64_t off)
{
	char addr[CLUSTER_ADDR_MAX + 1], why[512], *ans = NULL;
	json_t *j = record_of(t->net, id);
	size_t len;
	ssize_t n;
	int rc;

	if (!j)
		return -ENOENT;
	if (f != TASK_STDOUT && f != TASK_STDERR) { /* published with the record */
		const char *s = task_net_jstr(json_object_get(view_of(t->net, j), "files"), task_file_names[f]);
		len = strlen(s);
		n = off >= len ? 0 : (ssize_t)(len - off < size ? len - off : size);
		memcpy(buf, s + (n ? off : 0), (size_t)n);
		json_decref(j);
		return n;
	}
	json_decref(j);
	if ((rc = owner_addr(t, id, addr, why, sizeof(why))) != 0)
		return rc;
	rc = call(t->net, addr, "task.read", json_pack("{s:I, s:i, s:I, s:I}", "id", (json_int_t)id, "file", (int)f,
						       "off", (json_int_t)off, "size", (json_int_t)size),
		  &ans, &len, why, sizeof(why));
	if (rc)
		return rc == -ENOENT ? -ENOENT : -EIO;
	n = (ssize_t)(len < size ? len : size);
	memcpy(buf, ans, (size_t)n);
	free(ans);
	return n;
}

int task_net_steer(struct tasks *t, const char *verb, uint64_t id, uint32_t uid, char *why, size_t whylen)
{
	char addr[CLUSTER_ADDR_MAX + 1], *ans = NULL;
	size_t len;
	int rc;

	if (!t->net)
		return text_say(why, whylen, -ENOENT, "no task %llu", (unsigned long long)id);
	if ((rc = owner_addr(t, id, addr, why, whylen)) != 0)
		return rc;
	rc = call(t->net, addr, verb, json_pack("{s:I, s:I}", "id", (json_int_t)id, "uid", (json_int_t)uid), &ans,
		  &len, why, whylen);
	free(ans);
	return rc;
}

int task_net_ids(struct tasks *t, uint64_t **ids, size_t *n)
{
	struct task_net *net = t->net;
	const char *key;
	json_t *v;
	size_t more;

	if (!net)
		return 0;
	pthread_mutex_lock(&net->lock);
	more = json_object_size(net->remote);
	uint64_t *w = realloc(*ids, (*n + more + 1) * sizeof(uint64_t));
	if (w) {
		*ids = w;
		json_object_foreach(net->remote, key, v)
			w[(*n)++] = strtoull(key, NULL, 10);
	}
	pthread_mutex_unlock(&net->lock);
	return w ? 0 : -ENOMEM;
}

int task_net_rows(struct tasks *t, struct text *x)
{
	struct task_net *n = t->net;
	const char *key;
	json_t *v;

	if (!n)
		return 0;
	pthread_mutex_lock(&n->lock);
	json_object_foreach(n->remote, key, v)
		text_printf(x, "%s", task_net_jstr(view_of(n, v), "row"));
	pthread_mutex_unlock(&n->lock);
	return 0;
}

int task_net_state(struct tasks *t, uint64_t id, char *node, size_t nodelen)
{
	json_t *j = record_of(t->net, id);
	int s;

	if (!j)
		return -ENOENT;
	s = view_of(t->net, j) != j ? T_LOST : task_net_state_of(j);
	snprintf(node, nodelen, "%s", task_net_jstr(j, "node"));
	json_decref(j);
	return s;
}

int task_net_producer(struct tasks *t, const char *name, uint64_t *id)
{
	struct task_net *n = t->net;
	const char *key;
	json_t *v;
	int s = -ENOENT;

	if (!n)
		return -ENOENT;
	pthread_mutex_lock(&n->lock);
	json_object_foreach(n->remote, key, v)
		if (s < 0 && task_in_list(task_net_jstr(v, "outputs"), name)) {
			s = view_of(n, v) != v ? T_LOST : task_net_state_of(v);
			*id = strtoull(key, NULL, 10);
		}
	pthread_mutex_unlock(&n->lock);
	return s;
}

int task_net_input(struct tasks *t, const char *name, char node[NAMES_NODE_MAX + 1], uint64_t *size,
		   char scope[SCOPE_STR_MAX])
{
	struct remote_attr ra;
	struct remote_index *x = t->net ? cluster_remote(t->net->c) : NULL;
	ssize_t n;

	if (!x || strncmp(name, "shards/", 7) == 0 || remote_resolve(x, name, &ra) != 0)
		return -ENOENT;
	if (strcmp(ra.kind, "var") != 0 && strcmp(ra.kind, "mutable") != 0)
		return -EISDIR;
	snprintf(node, NAMES_NODE_MAX + 1, "%s", ra.node);
	*size = ra.size;
	if (scope) {
		n = remote_string(x, ra.node, ra.id, "scope", scope, SCOPE_STR_MAX - 1);
		scope[n > 0 ? n : 0] = '\0';
	}
	return 0;
}

/* ---- placing a spawn ------------------------------------------------------------------------------- */

struct cand {
	struct cluster_node nd;
	unsigned tasks; /* queued or running there */
};

static int by_load(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->tasks != y->tasks)
		return x->tasks < y->tasks ? -1 : 1;
	if (x->nd.free != y->nd.free)
		return x->nd.free > y->nd.free ? -1 : 1;
	return (int)y->nd.self - (int)x->nd.self;
}

/* The live nodes, least loaded first (by_load). */
static int candidates(struct tasks *t, struct cand **out, size_t *nout)
{
	struct cluster_node *v = NULL;
	struct cand *c;
	size_t n = 0, m = 0;
	int rc = cluster_nodes(t->net->c, &v, &n);

	if (rc)
		return rc;
	c = calloc(n ? n : 1, sizeof(*c));
	if (!c) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) /* without the secret no other node can be asked */
		if (v[i].up && (v[i].self || cluster_secret(t->net->c)))
			c[m++].nd = v[i];
	free(v);
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < m; i++)
		if (c[i].nd.self)
			c[i].tasks = t->pending;
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_lock(&t->net->lock);
	const char *key;
	json_t *rec;
	json_object_foreach(t->net->remote, key, rec) {
		int s = task_net_state_of(rec);
		for (size_t i = 0; i < m && (s == T_QUEUED || s == T_RUNNING); i++)
			if (!c[i].nd.self && strcmp(c[i].nd.name, task_net_jstr(rec, "node")) == 0)
				c[i].tasks++;
	}
	pthread_mutex_unlock(&t->net->lock);
	qsort(c, m, sizeof(*c), by_load);
	*out = c;
	*nout = m;
	return 0;
}

int task_net_place(struct tasks *t, const struct task_request *r, char node[NAMES_NODE_MAX + 1],
		   char addr[CLUSTER_ADDR_MAX + 1], char *why, size_t whylen)
{
	struct place_input in[TASK_INPUTS_MAX];
	struct place_location loc[TASK_INPUTS_MAX];
	struct input_text {
		char name[PATH_MAX_LEN + 1], node[NAMES_NODE_MAX + 1], scope[SCOPE_STR_MAX];
	} *txt = calloc(TASK_INPUTS_MAX, sizeof(*txt));
	const char *names[64];
	struct cand *c = NULL;
	size_t m = 0, nin = 0, chosen = 0;
	int rc;

	if (!txt)
		return text_say(why, whylen, -ENOMEM, "out of memory placing the task");
	rc = candidates(t, &c, &m);
	if (rc == 0 && m == 0)
		rc = -EHOSTDOWN;
	for (const char *p = r->inputs; rc == 0 && p && *p && nin < TASK_INPUTS_MAX;) {
		size_t len = strcspn(p, ",");
		struct store_attr a;
		uint64_t id, size = 0;
		if (len <= PATH_MAX_LEN) {
			memcpy(txt[nin].name, p, len);
			txt[nin].name[len] = '\0';
			if (task_resolve_input(t->st, txt[nin].name, &id, &a) == 0) {
				ssize_t n = store_getxattr(t->st, id, "user.fabric.scope", txt[nin].scope, SCOPE_STR_MAX - 1);
				txt[nin].scope[n > 0 ? n : 0] = '\0';
				snprintf(txt[nin].node, sizeof(txt[nin].node), "%s", store_node_name(t->st));
				size = a.size;
			} else if (task_net_input(t, txt[nin].name, txt[nin].node, &size, txt[nin].scope) != 0)
				txt[nin].node[0] = '\0'; /* unknown: the spawn's own checks say so */
			if (txt[nin].node[0]) {
				loc[nin] = (struct place_location){ txt[nin].node, size };
				in[nin] = (struct place_input){ txt[nin].name, txt[nin].scope[0] ? txt[nin].scope : NULL,
								 &loc[nin], 1 };
				nin++;
			}
		}
		p += len + (p[len] == ',');
	}
	for (size_t i = 0; i < m && i < 64; i++)
		names[i] = c[i].nd.name;
	if (rc == 0)
		rc = place_task(names, m < 64 ? m : 64, r->scope, in, nin, &chosen, why, whylen);
	if (rc == -EXDEV)
		rc = -EINVAL; /* as task_place says it: a user's mistake */
	if (rc == 0) {
		snprintf(node, NAMES_NODE_MAX + 1, "%s", c[chosen].nd.name);
		snprintf(addr, CLUSTER_ADDR_MAX + 1, "%s", c[chosen].nd.addr);
	} else if (rc == -EHOSTDOWN)
		text_say(why, whylen, rc, "no node of the cluster is up");
	free(c);
	free(txt);
	return rc;
}

/* Wait (up to 5 s: etcd is slow, not gone) for another node's record of task id to reach the mirror. */
static void await_record(struct task_net *n, uint64_t id)
{
	struct timespec until;
	char idtxt[24];

	snprintf(idtxt, sizeof(idtxt), "%llu", (unsigned long long)id);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&n->lock);
	while (!json_object_get(n->remote, idtxt) && pthread_cond_timedwait(&n->heard, &n->lock, &until) == 0) {
	}
	pthread_mutex_unlock(&n->lock);
}

int task_net_forward(struct tasks *t, const struct task_request *r, const char *addr, uint64_t *id, char *why,
		     size_t whylen)
{
	uint32_t groups[TASK_GROUPS_MAX];
	size_t ng = r->groups ? r->ngroups : proc_groups(r->pid, groups, TASK_GROUPS_MAX);
	json_t *j = task_wire_request(r, r->groups ? r->groups : groups, ng);
	char *ans = NULL;
	size_t len;
	int rc;

	if (!j) {
		return text_say(why, whylen, -EINVAL, "a word or name of this task is not UTF-8, so it cannot go to "
				"another node; give scope=node:%s to run it here", store_node_name(t->st));
	}
	rc = call(t->net, addr, "task.spawn", j, &ans, &len, why, whylen);
	if (rc == 0) {
		json_t *a = json_loadb(ans, len, 0, NULL);
		*id = (uint64_t)json_integer_value(json_object_get(a, "task"));
		rc = *id ? 0 : text_say(why, whylen, -EPROTO, "the node at %s answered no task id", addr);
		json_decref(a);
	}
	free(ans);
	if (rc == 0) /* so that tasks/ID is there for the caller the moment it has the id */
		await_record(t->net, *id);
	return rc;
}

/* ---- serving the calls of other nodes -------------------------------------------------------------- */

static int answer_json(json_t *j, char **ans, size_t *anslen)
{
	*ans = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!*ans)
		return -ENOMEM;
	*anslen = strlen(*ans);
	return 0;
}

static bool has_account(uint32_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	return getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res;
}

static int serve_spawn(struct tasks *t, json_t *j, char **ans, size_t *anslen, char *why, size_t whylen)
{
	struct task_wire w = { 0 };
	struct task_request r;
	uint64_t id = 0;
	int rc = task_wire_parse(j, &r, &w, why, whylen);

	if (rc == 0 && r.uid != 0 && !has_account(r.uid))
		rc = text_say(why, whylen, -EACCES, "uid %u has no account on node %s, so no task can run as it there",
			      r.uid, store_node_name(t->st));
	/* after= ids of the asking node's (or a third node's) tasks: their records may still be on their way */
	for (const char *p = r.after; rc == 0 && p && *p;) {
		uint64_t a = strtoull(p, NULL, 10);
		if (a && !task_local(t, a))
			await_record(t->net, a);
		p += strcspn(p, ",");
		p += *p == ',';
	}
	r.here = true;
	if (rc == 0)
		rc = tasks_spawn(t, &r, &id, why, whylen);
	task_wire_free(&w);
	return rc ? rc : answer_json(json_pack("{s:I}", "task", (json_int_t)id), ans, anslen);
}

static int serve_read(struct tasks *t, json_t *j, char **ans, size_t *anslen, char *why, size_t whylen)
{
	uint64_t id = (uint64_t)json_integer_value(json_object_get(j, "id"));
	int f = (int)json_integer_value(json_object_get(j, "file"));
	json_int_t size = json_integer_value(json_object_get(j, "size"));
	ssize_t n;

	if ((f != TASK_STDOUT && f != TASK_STDERR) || size <= 0 || size > (4 << 20))
		return text_say(why, whylen, -EINVAL, "a read this node does not serve");
	if (!(*ans = malloc((size_t)size)))
		return -ENOMEM;
	n = tasks_read(t, id, (enum task_file)f, *ans, (size_t)size,
		       (uint64_t)json_integer_value(json_object_get(j, "off")));
	if (n < 0) {
		free(*ans);
		*ans = NULL;
		return text_say(why, whylen, (int)n, "task %llu: %s", (unsigned long long)id, strerror((int)-n));
	}
	*anslen = (size_t)n;
	return 0;
}

static int served(void *arg, const char *verb, const char *req, size_t len, char **ans, size_t *anslen, char *why,
		  size_t whylen)
{
	struct tasks *t = arg;
	json_t *j = json_loadb(req, len, 0, NULL);
	uint64_t id = (uint64_t)json_integer_value(json_object_get(j, "id"));
	uint32_t uid = 0;
	int rc;

	if (!json_is_object(j) || (strcmp(verb, "task.spawn") != 0 && task_wire_id(json_object_get(j, "uid"), &uid) != 0 &&
				   strcmp(verb, "task.read") != 0))
		rc = text_say(why, whylen, -EPROTO, "a request this node does not understand");
	else if (strcmp(verb, "task.spawn") == 0)
		rc = serve_spawn(t, j, ans, anslen, why, whylen);
	else if (!task_local(t, id)) /* never passed on: another node asks the task's own */
		rc = text_say(why, whylen, -ENOENT, "no task %llu on node %s", (unsigned long long)id,
			      store_node_name(t->st));
	else if (strcmp(verb, "task.read") == 0)
		rc = serve_read(t, j, ans, anslen, why, whylen);
	else if (strcmp(verb, "task.kill") == 0)
		rc = tasks_kill(t, id, uid, why, whylen);
	else
		rc = tasks_forget(t, id, uid, why, whylen);
	if (rc == 0 && !*ans)
		rc = answer_json(json_pack("{s:I}", "task", (json_int_t)id), ans, anslen);
	json_decref(j);
	return rc;
}

/* ---- life ------------------------------------------------------------------------------------------ */

int task_net_start(struct tasks *t, struct cluster *c, char *why, size_t whylen)
{
	struct task_net *n = calloc(1, sizeof(*n));
	int rc;

	if (!n)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	n->t = t;
	n->c = c;
	n->remote = json_object();
	n->mine = json_object();
	n->away = json_object();
	n->noted = json_object();
	pthread_mutex_init(&n->lock, NULL);
	pthread_mutex_init(&n->id_lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	pthread_cond_init(&n->heard, NULL);
	snprintf(n->prefix, sizeof(n->prefix), "/fabric/%s/tasks/", cluster_name(c));
	snprintf(n->idkey, sizeof(n->idkey), "/fabric/%s/task_ids", cluster_name(c));
	t->net = n;
	rc = n->remote && n->mine && n->away && n->noted ? etcd_open(cluster_etcd_urls(c), &n->etcd, why, whylen) : -ENOMEM;
	if (rc == 0)
		rc = follow(n, why, whylen);
	if (rc == 0 && (rc = -pthread_create(&n->thread, NULL, publisher, n)) != 0)
		text_say(why, whylen, rc, "cannot start the tasks' publisher: %s", strerror(-rc));
	n->thread_started = rc == 0;
	for (const char *const *v = (const char *const[]){ "task.spawn", "task.kill", "task.forget", "task.read", NULL };
	     rc == 0 && *v; v++)
		if ((rc = cluster_handle(c, *v, served, t)) != 0 && rc != -ENOTCONN)
			text_say(why, whylen, rc, "cannot serve %s: %s", *v, strerror(-rc));
		else
			rc = 0; /* no secret: nothing served, nothing asked */
	if (rc == 0) { /* what a restart changed (running ones now lost), and what was never published */
		uint64_t *ids = NULL;
		size_t nids = 0;
		if (tasks_local_ids(t, &ids, &nids) == 0)
			for (size_t i = 0; i < nids; i++)
				task_net_changed(t, ids[i]);
		free(ids);
	}
	if (rc) {
		task_net_stop(t);
		return rc;
	}
	return 0;
}

void task_net_stop(struct tasks *t)
{
	struct task_net *n = t->net;

	if (!n)
		return;
	cluster_unhandle(n->c, t); /* no other node's call runs on t from here on */
	if (n->thread_started) { /* it publishes what is queued first, such as the lost ends of a stop */
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
	}
	etcd_watch_stop(n->watch); /* after the thread: a relist there starts a new one */
	t->net = NULL;
	etcd_close(n->etcd);
	json_decref(n->remote);
	json_decref(n->mine);
	json_decref(n->away);
	json_decref(n->noted);
	free(n->queue);
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->id_lock);
	pthread_cond_destroy(&n->cond);
	pthread_cond_destroy(&n->heard);
	free(n);
}
