/* SPDX-License-Identifier: MIT */
/* catalog.c -- the cluster's names (catalog.h): the publisher thread of this node's objects, the catch-up at
 * start, and the mirror of the other nodes' objects kept by a listing and a watch. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cluster/catalog.h"
#include "core/cluster/remote.h"
#include "core/event/events.h"
#include "core/os/etcd.h"
#include "core/os/hash.h"
#include "core/store/store.h"
#include "core/text/names.h"
#include "core/text/text.h"
#include "meta/yp.h"

#define RETRY_MS 1000 /* how long the publisher waits before trying a failed txn again */

struct catalog {
	struct catalog_config cfg;
	char cluster[NAMES_NODE_MAX + 1], node[NAMES_NODE_MAX + 1];
	char prefix[96], own[168]; /* /fabric/C/objects/ and /fabric/C/objects/NODE/ (names of 64 bytes at most) */
	struct yp *yp;
	struct remote_index *remote; /* the other nodes' objects in memory, for the mount */
	struct etcd *etcd;
	struct etcd_watch *watch;

	pthread_mutex_t lock; /* the queue and the flags (a leaf: taken inside YP commits) */
	pthread_cond_t cond;
	int64_t *queue;
	size_t nqueue, cap;
	bool resync, relist, stop;
	pthread_t thread;
	bool running;
	bool warned; /* said once that etcd does not take the names; said again when it does */
};

#define say(n, ...) text_log((n)->cfg.log, __VA_ARGS__)

/* ---- one object as its key ---------------------------------------------------------------------- */

/* An alias row (a hard link's second name) is published too, by its own id, with its own parent and name
 * over its object's row (row_value): another node sees it as a name of the same bytes (an inode of its
 * own there), reads it by that id (the owner answers with the object: store_object_of) and removes or
 * renames it by name.  It is published while its object is. */
static bool is_alias(const struct yp_obj *o)
{
	return strcmp(o->kind, "alias") == 0;
}

static bool published(const struct yp_obj *o)
{
	if (o->id <= YP_VARS_ID || o->parent == 0 || is_alias(o))
		return false;
	return strcmp(o->state, "sealed") == 0; /* dirs, links and mutable objects are born sealed */
}

static void key_of(const struct catalog *n, int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s%lld", n->own, (long long)id);
}

/* The key's value for row o under (parent, name) (o's own, or an alias's), malloc'd JSON; NULL on ENOMEM. */
static char *value_as(const struct yp_obj *o, int64_t parent, const char *name)
{
	json_t *j = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:I, s:i, s:I, s:I, s:I, s:I, s:s?, s:s?, s:I, s:s?}",
			      "parent", (json_int_t)parent, "name", name, "kind", o->kind, "type", o->type,
			      "doc", o->doc, "xxh3", o->xxh3, "scope", o->scope ? o->scope : "any", "size",
			      (json_int_t)o->size, "mode", (int)o->mode, "uid", (json_int_t)o->uid, "gid",
			      (json_int_t)o->gid, "modified_ns", (json_int_t)o->modified_ns, "sealed_ns",
			      (json_int_t)o->sealed_ns, "target", o->target, "shm", o->shm_name, "offset",
			      (json_int_t)o->offset, "refs", o->refs);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

static char *value_of(const struct yp_obj *o)
{
	return value_as(o, o->parent, o->name);
}

struct row_value {
	int64_t datasets; /* in: this node's datasets/ */
	int64_t alias_of; /* the row is an alias of this object: its value comes from that row (take_object) */
	int64_t parent;   /* an alias's own parent and name */
	char *value;      /* NULL: not published (the key goes) */
	int rc;
	int64_t top;      /* published, directly in vars/ or datasets/ (that directory's id; 0: neither): name,
			   * when and xxh3 are for the one-winner rule */
	char name[NAMES_LEAF_MAX + 1];
	int64_t when;
	char xxh3[40];
};

/* When an object came to be, for the one-winner rule: its seal (a directory's or a link's making: they are
 * born sealed), else its last change (one made before directories had a seal's time). */
static int64_t when_of(int64_t sealed_ns, int64_t modified_ns)
{
	return sealed_ns ? sealed_ns : modified_ns;
}

/* o's value, under the alias's parent and name when r->alias_of (o is then the alias's object). */
static int take_object(void *arg, const struct yp_obj *o)
{
	struct row_value *r = arg;
	int64_t parent = r->alias_of ? r->parent : o->parent;

	if (!r->alias_of)
		snprintf(r->name, sizeof(r->name), "%s", o->name);
	if (published(o) && !(r->value = value_as(o, parent, r->name)))
		r->rc = -ENOMEM;
	if (r->value && (parent == YP_VARS_ID || parent == r->datasets)) {
		r->top = parent;
		r->when = when_of(o->sealed_ns, o->modified_ns);
		snprintf(r->xxh3, sizeof(r->xxh3), "%s", o->xxh3 ? o->xxh3 : "");
	}
	return 0;
}

static int take_row(void *arg, const struct yp_obj *o)
{
	struct row_value *r = arg;

	if (!is_alias(o))
		return take_object(arg, o);
	if (o->parent && o->alias_of) { /* its object's row is read once this lookup is over (row_value) */
		r->alias_of = o->alias_of;
		r->parent = o->parent;
		snprintf(r->name, sizeof(r->name), "%s", o->name);
	}
	return 0;
}

/* Row id's value (NULL in r->value: not published, or no such row): 0, or a YP failure (logged). */
static int row_value(struct catalog *n, int64_t id, struct row_value *r)
{
	int rc;

	*r = (struct row_value){ .datasets = (int64_t)store_datasets_id(n->cfg.st) };
	rc = yp_obj_find(n->yp, id, take_row, r);
	if (rc == 0 && r->alias_of)
		rc = yp_obj_find(n->yp, r->alias_of, take_object, r);
	return rc == -ENOENT ? 0 : rc ? rc : r->rc;
}

/* ---- a txn of up to ETCD_TXN_MAX puts and deletes ------------------------------------------------ */

struct batch {
	struct etcd_op ops[ETCD_TXN_MAX];
	char keys[ETCD_TXN_MAX][192]; /* own + an id */
	char *vals[ETCD_TXN_MAX];
	size_t n, bytes;
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->vals[i]);
	b->n = b->bytes = 0;
}

/* Send the batch, retrying until it goes or the module stops (then it is dropped: the next start's
 * catch-up puts it right). */
static void batch_send(struct catalog *n, struct batch *b)
{
	while (b->n) {
		int rc = etcd_batch(n->etcd, b->ops, b->n);
		if (rc == 0) {
			if (n->warned)
				say(n, "cluster %s: etcd takes this node's names again", n->cluster);
			n->warned = false;
			break;
		}
		if (!n->warned)
			say(n, "cluster %s: cannot publish this node's names (%s); trying again every %d ms", n->cluster,
			    etcd_why(), RETRY_MS);
		n->warned = true;
		pthread_mutex_lock(&n->lock);
		if (!n->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += RETRY_MS / 1000;
			pthread_cond_timedwait(&n->cond, &n->lock, &ts);
		}
		bool stop = n->stop;
		pthread_mutex_unlock(&n->lock);
		if (stop)
			break;
	}
	batch_clear(b);
}

/* Add a put (value, taken) or a delete (value NULL) of id's key; sends a full batch first. */
static int batch_add(struct catalog *n, struct batch *b, int64_t id, char *value)
{
	size_t len = value ? strlen(value) : 0;

	if (b->n == ETCD_TXN_MAX || b->bytes + len > (1u << 20))
		batch_send(n, b);
	key_of(n, id, b->keys[b->n], sizeof(b->keys[b->n]));
	b->vals[b->n] = value;
	b->ops[b->n] = (struct etcd_op){ .key = b->keys[b->n], .val = value, .len = len };
	b->n++;
	b->bytes += len + 240;
	return 0;
}

/* ---- publishing ----------------------------------------------------------------------------------- */

/* yp_watch_objects' callback: inside a commit, with meta's mutex held; only the queue's lock here. */
static void changed(void *arg, const int64_t *ids, size_t count)
{
	struct catalog *n = arg;

	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < count && !n->resync; i++) {
		if (ids[i] == 0) { /* meta lost track: look at everything */
			n->resync = true;
			break;
		}
		if (n->nqueue == n->cap) {
			size_t cap = n->cap ? n->cap * 2 : 1024;
			int64_t *q = realloc(n->queue, cap * sizeof(*q));
			if (!q) {
				n->resync = true;
				break;
			}
			n->queue = q;
			n->cap = cap;
		}
		n->queue[n->nqueue++] = ids[i];
	}
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* ---- one name, one object: the one-winner rule for vars/ and datasets/ ---------------------------- */

/* Another node holds our top-level name too (both made it within the publication window, or while apart):
 * the one that came first keeps it (its seal's time, a directory's making: when_of; then the node's
 * name: the same answer on both nodes, which both see both keys), and the other renames its own to
 * NAME~NODE (~NODE~2, ...), logged.  Only the loser acts, on its own object.  dir is vars/ or this
 * node's datasets/ (a dataset is every node's by name, like a top-level name of vars/).  Returns true
 * when this node's object was renamed. */
static bool lose_name(struct catalog *n, int64_t dir, const char *name, int64_t mine, const char *my_xxh3,
		      const char *other, int64_t theirs, const char *their_xxh3)
{
	const char *top = dir == YP_VARS_ID ? "vars" : "datasets";
	char newname[NAMES_LEAF_MAX + 1];
	int rc = -EEXIST;

	if (my_xxh3[0] && strcmp(my_xxh3, their_xxh3) == 0)
		return false; /* the same bytes: a move under way (its old copy goes at its end), no conflict */
	if (yp_move_between(n->yp, name, other) == 1)
		return false; /* a move between the two (a directory's) is under way: no conflict either */
	if (mine < theirs || (mine == theirs && strcmp(n->node, other) < 0))
		return false; /* ours first: the other node renames its own */
	for (int k = 1; k < 100 && rc == -EEXIST; k++) {
		int w = k == 1 ? snprintf(newname, sizeof(newname), "%s~%s", name, n->node)
			       : snprintf(newname, sizeof(newname), "%s~%s~%d", name, n->node, k);
		if (w < 0 || (size_t)w >= sizeof(newname))
			return false;
		if (n->cfg.changing)
			n->cfg.changing(true);
		rc = store_rename(n->cfg.st, (uint64_t)dir, name, (uint64_t)dir, newname, 1 /* RENAME_NOREPLACE */);
		if (n->cfg.changing)
			n->cfg.changing(false);
	}
	say(n, rc == 0 ? "cluster %s: node %s made %s/%s first; this node's is %s/%s now"
		       : "cluster %s: node %s made %s/%s first; renaming this node's to %s/%s failed",
	    n->cluster, other, top, name, top, rc == 0 ? newname : "a free name");
	return rc == 0;
}

/* Our object about to be published under a top-level name another node holds. */
static bool publish_loses(struct catalog *n, const struct row_value *r)
{
	struct remote_attr a;

	if (!r->top)
		return false;
	if ((r->top == YP_VARS_ID ? remote_child(n->remote, NULL, YP_VARS_ID, r->name, &a)
				  : remote_child_in(n->remote, "datasets", r->name, &a)) != 0)
		return false;
	return lose_name(n, r->top, r->name, r->when, r->xxh3, a.node, a.when, a.xxh3);
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Each id once (etcd refuses a txn that names one key twice, and a row read now is the last word). */
static size_t unique_ids(int64_t *ids, size_t count)
{
	size_t n = 0;

	if (count)
		qsort(ids, count, sizeof(*ids), id_cmp);
	for (size_t i = 0; i < count; i++)
		if (n == 0 || ids[n - 1] != ids[i])
			ids[n++] = ids[i];
	return n;
}

/* ids (malloc'd, count of them) and their objects' aliases, whose keys carry the objects' rows too:
 * one array, each id once, to *out (ids itself, or what realloc made of it). */
static size_t with_aliases(struct catalog *n, int64_t *ids, size_t count, int64_t **out)
{
	size_t total = count;

	*out = ids;
	for (size_t i = 0; i < count; i++) {
		int64_t *al = NULL, *w;
		size_t k = 0;
		if (yp_obj_aliases(n->yp, ids[i], &al, &k) != 0 || k == 0) {
			free(al);
			continue;
		}
		w = realloc(*out, (total + k) * sizeof(*w));
		if (w) {
			memcpy(w + total, al, k * sizeof(*w));
			*out = w;
			ids = w; /* ids[i] onwards are read from the new array */
			total += k;
		}
		free(al);
	}
	return unique_ids(*out, total);
}

/* *ids (malloc'd: it may be replaced by a longer array, the caller frees what is there after) */
static void publish_ids(struct catalog *n, int64_t **idsp, size_t count)
{
	struct batch *b = calloc(1, sizeof(*b));
	int64_t *ids;

	count = with_aliases(n, *idsp, count, idsp);
	ids = *idsp;

	if (!b) {
		pthread_mutex_lock(&n->lock);
		n->resync = true;
		pthread_mutex_unlock(&n->lock);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		struct row_value r;
		if (row_value(n, ids[i], &r) != 0) {
			free(r.value);
			continue; /* a YP failure was logged; the next start's catch-up puts the key right */
		}
		if (publish_loses(n, &r)) { /* renamed: its new name comes with the rename's own commit */
			free(r.value);
			continue;
		}
		batch_add(n, b, ids[i], r.value); /* NULL: gone or not published: the key goes */
	}
	batch_send(n, b);
	free(b);
}

/* The catch-up: every key this node has in etcd against its YP. */
struct had {
	int64_t id;
	uint64_t h;
	bool seen;
};
struct catchup {
	struct catalog *n;
	struct had *v;
	size_t len, cap;
	struct batch *b;
	int rc;
};

static int had_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct had *)a)->id, y = ((const struct had *)b)->id;

	return x < y ? -1 : x > y;
}

static int listed_own(void *arg, const char *key, const void *val, size_t len, int64_t rev)
{
	struct catchup *c = arg;
	char *end;
	long long id = strtoll(key + strlen(c->n->own), &end, 10);

	(void)rev;
	if (*end || id <= 0)
		return 0;
	if (c->len == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct had *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->len++] = (struct had){ id, hash64(val, len), false };
	return 0;
}

static int compare_row(void *arg, const struct yp_obj *o)
{
	struct catchup *c = arg;
	struct had key = { .id = o->id }, *h;
	struct row_value r;
	char *value;

	if (is_alias(o)) { /* its object's row, another statement than this walk's */
		int rc = row_value(c->n, o->id, &r);
		if (rc || !r.value)
			return rc;
		value = r.value;
	} else if (!published(o)) {
		return 0;
	} else if (!(value = value_of(o))) {
		return -ENOMEM;
	}
	h = c->len ? bsearch(&key, c->v, c->len, sizeof(*c->v), had_cmp) : NULL;
	if (h)
		h->seen = true;
	if (h && h->h == hash64(value, strlen(value))) {
		free(value);
		return 0;
	}
	batch_add(c->n, c->b, o->id, value);
	return 0;
}

static int catch_up(struct catalog *n)
{
	struct catchup c = { .n = n };
	int rc;

	c.b = calloc(1, sizeof(*c.b));
	if (!c.b)
		return -ENOMEM;
	rc = etcd_range(n->etcd, n->own, listed_own, &c, NULL);
	if (rc == 0) {
		if (c.len)
			qsort(c.v, c.len, sizeof(*c.v), had_cmp);
		rc = yp_each_object(n->yp, compare_row, &c);
	}
	for (size_t i = 0; rc == 0 && i < c.len; i++)
		if (!c.v[i].seen)
			batch_add(n, c.b, c.v[i].id, NULL);
	if (rc == 0)
		batch_send(n, c.b);
	batch_clear(c.b);
	free(c.b);
	free(c.v);
	return rc;
}

/* ---- mirroring ------------------------------------------------------------------------------------ */

static const char *str(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t num(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Key "/fabric/C/objects/NODE/ID": NODE into node and ID; false for a key of this node or not ours. */
static bool other_key(const struct catalog *n, const char *key, char *node, size_t nlen, int64_t *id)
{
	const char *rest = key + strlen(n->prefix), *slash;
	char *end;

	if (strncmp(key, n->prefix, strlen(n->prefix)) != 0 || !(slash = strchr(rest, '/')) ||
	    (size_t)(slash - rest) >= nlen)
		return false;
	snprintf(node, nlen, "%.*s", (int)(slash - rest), rest);
	*id = strtoll(slash + 1, &end, 10);
	return *end == '\0' && *id > YP_VARS_ID && names_check_node(node) == 0 && strcmp(node, n->node) != 0;
}

/* Tell the mount that object (node, id), (node, parent)'s child name, appeared or changed, or went. */
static void tell(struct catalog *n, const char *node, int64_t id, int64_t parent, const char *name, bool gone)
{
	if (n->cfg.changed)
		n->cfg.changed(n->cfg.changed_arg, node, id, parent, name, gone);
}

struct mine {
	bool published;
	int64_t when;
	char xxh3[40];
};

static int take_mine(void *arg, const struct yp_obj *o)
{
	struct mine *m = arg;

	m->published = published(o);
	m->when = when_of(o->sealed_ns, o->modified_ns);
	snprintf(m->xxh3, sizeof(m->xxh3), "%s", o->xxh3 ? o->xxh3 : "");
	return 0;
}

/* Another node's top-level name (of vars/ or datasets/: dir is this node's) arrived: when this node holds
 * it too (published), the rule decides. */
static void mirror_conflict(struct catalog *n, int64_t dir, const char *node, const char *name, int64_t theirs,
			    const char *their_xxh3)
{
	struct store_attr a;
	struct mine m = { false, 0, "" };

	if (store_lookup(n->cfg.st, (uint64_t)dir, name, &a) != 0)
		return;
	store_forget(n->cfg.st, a.id, 1);
	if (yp_obj_find(n->yp, (int64_t)a.id, take_mine, &m) == 0 && m.published)
		lose_name(n, dir, name, m.when, m.xxh3, node, theirs, their_xxh3);
}

/* The path in this mount of another node's (parent, name), through the mirror's directories: false when
 * one of them is not mirrored (a shard's piece, say: its directory is not another node's name). */
static bool remote_path(struct catalog *n, const char *node, int64_t parent, const char *name, char *buf,
			size_t len)
{
	char tail[4096], next[4096];

	snprintf(tail, sizeof(tail), "%s", name);
	for (int depth = 0; parent != YP_VARS_ID; depth++) {
		struct remote_attr p;
		if (depth >= 64 || remote_get(n->remote, node, parent, &p) != 0)
			return false;
		if (snprintf(next, sizeof(next), "%s/%s", p.name, tail) >= (int)sizeof(next))
			return false;
		memcpy(tail, next, sizeof(tail));
		parent = p.parent;
	}
	snprintf(buf, len, "vars/%s", tail);
	return true;
}

/* Another node's name as an event: sealed when it appears (names are published at seal), renamed, removed;
 * seen by who could read it, as a local object's. */
static void remote_event(struct catalog *n, enum event_kind kind, const char *node, const struct remote_attr *a,
			 const char *scope, const struct remote_attr *to)
{
	char path[4096], topath[4096], size[24];
	struct event_access acc = { .uid = a->uid, .gid = a->gid, .mode = a->mode & 07777, .scope = scope };
	struct event_field f[3];
	size_t nf = 0;

	if (!remote_path(n, node, a->parent, a->name, path, sizeof(path)))
		return;
	if (kind == EV_RENAMED) {
		if (!remote_path(n, node, to->parent, to->name, topath, sizeof(topath)))
			return;
		f[nf++] = (struct event_field){ "to", topath, false };
	} else if (kind == EV_SEALED) {
		snprintf(size, sizeof(size), "%llu", (unsigned long long)a->size);
		f[nf++] = (struct event_field){ "size", size, true };
		if (a->xxh3[0])
			f[nf++] = (struct event_field){ "xxh3", a->xxh3, false };
	}
	f[nf++] = (struct event_field){ "node", node, false };
	events_post(store_events(n->cfg.st), kind, path, &acc, f, nf);
}

/* A mirrored row into the in-memory index (its attributes in *a). */
static int index_put(struct catalog *n, const struct yp_remote *r, struct remote_attr *a)
{
	const char *strs[REMOTE_NSTR] = { [REMOTE_TYPE] = r->type, [REMOTE_DOC] = r->doc, [REMOTE_SCOPE] = r->scope,
					  [REMOTE_TARGET] = r->target, [REMOTE_REFS] = r->refs };

	*a = (struct remote_attr){ .id = r->id, .parent = r->parent, .size = r->size, .mode = r->mode, .uid = r->uid,
				   .gid = r->gid, .modified_ns = r->modified_ns,
				   .when = when_of(r->sealed_ns, r->modified_ns), .offset = r->offset };
	snprintf(a->node, sizeof(a->node), "%s", r->node);
	snprintf(a->name, sizeof(a->name), "%s", r->name);
	snprintf(a->kind, sizeof(a->kind), "%s", r->kind);
	snprintf(a->xxh3, sizeof(a->xxh3), "%s", r->xxh3 ? r->xxh3 : "");
	snprintf(a->shm, sizeof(a->shm), "%s", r->shm ? r->shm : "");
	return remote_put(n->remote, a, strs);
}

static int preloaded(void *arg, const struct yp_remote *r)
{
	struct remote_attr a;

	index_put(arg, r, &a); /* a row it cannot take (ENOMEM) comes with the listing */
	return 0;
}

/* Another node's key into the mirror; check: put it to the one-winner rule too (never inside a YP
 * transaction: the rule calls the store, whose lock comes before meta's). */
static int mirror_put(struct catalog *n, const char *key, const void *val, size_t len, bool check)
{
	char node[NAMES_NODE_MAX + 1];
	struct remote_attr a, old;
	struct yp_remote r;
	bool had;
	int64_t id;
	json_t *j;
	int rc;

	if (!other_key(n, key, node, sizeof(node), &id) || !(j = json_loadb(val, len, 0, NULL)))
		return 0;
	r = (struct yp_remote){ .node = node, .id = id, .parent = num(j, "parent"), .name = str(j, "name"),
				.kind = str(j, "kind"), .type = str(j, "type"), .doc = str(j, "doc"),
				.xxh3 = str(j, "xxh3"), .scope = str(j, "scope"), .target = str(j, "target"),
				.size = (uint64_t)num(j, "size"), .mode = (uint32_t)num(j, "mode"),
				.uid = (uint32_t)num(j, "uid"), .gid = (uint32_t)num(j, "gid"),
				.modified_ns = num(j, "modified_ns"), .sealed_ns = num(j, "sealed_ns"),
				.shm = str(j, "shm"), .offset = (uint64_t)num(j, "offset"), .refs = str(j, "refs") };
	if (!r.name || !r.kind || names_check_leaf(r.name, NULL, 0) != 0) {
		json_decref(j);
		return 0; /* not a key this fabric wrote */
	}
	rc = yp_remote_put(n->yp, &r);
	had = remote_get(n->remote, node, id, &old) == 0;
	if (index_put(n, &r, &a) == 0) {
		bool renamed = had && (old.parent != a.parent || strcmp(old.name, a.name) != 0);
		if (renamed)
			tell(n, node, id, old.parent, old.name, false); /* renamed: the old name went */
		tell(n, node, id, a.parent, a.name, false);
		if (check && (renamed || !had)) /* the watch's news, not a listing's catch-up */
			remote_event(n, renamed ? EV_RENAMED : EV_SEALED, node, renamed ? &old : &a, r.scope, &a);
	}
	if (check && a.parent == YP_VARS_ID)
		mirror_conflict(n, YP_VARS_ID, node, a.name, when_of(r.sealed_ns, r.modified_ns), a.xxh3);
	else if (check && remote_is_top(n->remote, node, a.parent, "datasets"))
		mirror_conflict(n, (int64_t)store_datasets_id(n->cfg.st), node, a.name,
				when_of(r.sealed_ns, r.modified_ns), a.xxh3);
	json_decref(j);
	return rc;
}

static void mirror_delete(struct catalog *n, const char *node, int64_t id)
{
	struct remote_attr old;
	bool had = remote_get(n->remote, node, id, &old) == 0;

	if (had) { /* while its directories are still mirrored */
		char scope[512];
		ssize_t len = remote_string(n->remote, node, id, "scope", scope, sizeof(scope) - 1);
		bool scoped = len > 0;
		if (scoped)
			scope[len] = '\0';
		remote_event(n, EV_REMOVED, node, &old, scoped ? scope : NULL, NULL);
	}
	yp_remote_delete(n->yp, node, id);
	remote_remove(n->remote, node, id);
	if (had)
		tell(n, node, id, old.parent, old.name, true);
}

/* A listing into the YP, MIRROR_TXN rows a transaction: meta's mutex is held through a transaction, so
 * one for the whole listing would hold every writer of the YP for as long as etcd takes to answer. */
#define MIRROR_TXN 1000
struct filling {
	struct catalog *n;
	size_t rows;
	bool in_txn;
};

static int listed_other(void *arg, const char *key, const void *val, size_t len, int64_t rev)
{
	struct filling *f = arg;
	int rc = 0;

	(void)rev;
	if (!f->in_txn) {
		rc = yp_begin(f->n->yp);
		f->in_txn = rc == 0;
	}
	if (rc == 0) /* inside a YP transaction: no store call here (its lock comes before meta's) */
		rc = mirror_put(f->n, key, val, len, false);
	if (rc == 0 && ++f->rows % MIRROR_TXN == 0) {
		f->in_txn = false;
		rc = yp_commit(f->n->yp);
	}
	return rc;
}

static void on_event(void *arg, int kind, const char *key, const void *val, size_t len, int64_t rev)
{
	struct catalog *n = arg;
	char node[NAMES_NODE_MAX + 1];
	int64_t id;

	(void)rev;
	if (kind == ETCD_COMPACTED) {
		pthread_mutex_lock(&n->lock);
		n->relist = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
	} else if (kind == ETCD_PUT) {
		mirror_put(n, key, val, len, true);
	} else if (other_key(n, key, node, sizeof(node), &id)) {
		mirror_delete(n, node, id);
	}
}

/* After a listing: each of this node's top-level names (of vars/, then of datasets/) that another node
 * holds too goes to the rule. */
static void conflict_sweep(struct catalog *n)
{
	int64_t dirs[2] = { YP_VARS_ID, (int64_t)store_datasets_id(n->cfg.st) };

	for (int d = 0; d < 2; d++) {
		uint64_t *ids = NULL;
		size_t count = 0;
		if (!dirs[d] || store_dir_list(n->cfg.st, (uint64_t)dirs[d], &ids, &count) != 0)
			continue;
		for (size_t i = 0; i < count; i++) {
			char name[NAMES_LEAF_MAX + 1];
			struct remote_attr r;
			struct store_attr a;
			if (store_dir_entry(n->cfg.st, (uint64_t)dirs[d], ids[i], name, sizeof(name), &a, false) != 0)
				continue;
			if ((d == 0 ? remote_child(n->remote, NULL, YP_VARS_ID, name, &r)
				    : remote_child_in(n->remote, "datasets", name, &r)) == 0)
				mirror_conflict(n, dirs[d], r.node, name, r.when, r.xxh3);
		}
		free(ids);
	}
}

/* Every other node's key into the YP (emptied first), then the watch from the listing's revision on. */
static int mirror(struct catalog *n, char *why, size_t whylen)
{
	struct filling f = { n, 0, false };
	int64_t rev = 0;
	int rc = yp_remote_clear(n->yp);

	if (rc)
		return text_say(why, whylen, rc, "cannot write the mirror of the cluster's names into the YP");
	/* the index keeps serving what it had (the last mirror, at a start) while the listing replaces it; what
	 * the listing no longer has goes after it */
	remote_mark_stale(n->remote);
	rc = etcd_range(n->etcd, n->prefix, listed_other, &f, &rev);
	if (f.in_txn && rc == 0)
		rc = yp_commit(n->yp);
	else if (f.in_txn)
		yp_rollback(n->yp);
	if (rc)
		return text_say(why, whylen, rc, "cannot list the names of cluster %s: %s", n->cluster, etcd_why());
	struct remote_attr *gone = NULL;
	size_t ngone = 0;
	remote_sweep(n->remote, &gone, &ngone);
	for (size_t i = 0; i < ngone; i++)
		tell(n, gone[i].node, gone[i].id, gone[i].parent, gone[i].name, true);
	free(gone);
	conflict_sweep(n);
	return etcd_watch_start(n->cfg.etcd, n->prefix, rev + 1, on_event, n, &n->watch, why, whylen);
}

/* ---- the thread ------------------------------------------------------------------------------------ */

static void *publisher(void *arg)
{
	struct catalog *n = arg;
	char why[512];

	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->nqueue && !n->resync && !n->relist && !n->stop)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stop && !n->nqueue)
			break;
		bool resync = n->resync, relist = n->relist;
		int64_t *ids = n->queue;
		size_t count = n->nqueue;
		n->queue = NULL;
		n->nqueue = n->cap = 0;
		n->resync = n->relist = false;
		pthread_mutex_unlock(&n->lock);
		if (resync && catch_up(n) != 0)
			say(n, "cluster %s: the catch-up of this node's names failed (%s); it is tried again at the next "
			    "start", n->cluster, etcd_why());
		else if (!resync)
			publish_ids(n, &ids, count);
		free(ids);
		if (relist) {
			etcd_watch_stop(n->watch);
			n->watch = NULL;
			if (mirror(n, why, sizeof(why)) != 0)
				say(n, "cluster %s: %s", n->cluster, why);
		}
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int catalog_start(const struct catalog_config *cfg, struct catalog **out, char *why, size_t whylen)
{
	struct catalog *n = calloc(1, sizeof(*n));
	int rc;

	if (!n)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	n->cfg = *cfg;
	snprintf(n->cluster, sizeof(n->cluster), "%s", cfg->cluster);
	snprintf(n->node, sizeof(n->node), "%s", cfg->node);
	snprintf(n->prefix, sizeof(n->prefix), "/fabric/%s/objects/", n->cluster);
	snprintf(n->own, sizeof(n->own), "%s%s/", n->prefix, n->node);
	n->yp = store_yp(cfg->st);
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	rc = remote_index_new(&n->remote);
	if (rc)
		text_say(why, whylen, rc, "out of memory");
	else
		rc = etcd_open(cfg->etcd, &n->etcd, why, whylen);
	if (rc == 0) /* the last mirror at once: the other nodes' names are in the mount before the listing ends */
		yp_each_remote(n->yp, preloaded, n);
	if (rc == 0) {
		/* the watch of the YP first, so nothing committed between the catch-up's look and it is missed */
		yp_watch_objects(n->yp, changed, n);
		n->resync = n->relist = true; /* the thread's first round: catch up, list and watch */
	}
	if (rc == 0) {
		rc = -pthread_create(&n->thread, NULL, publisher, n);
		n->running = rc == 0;
		if (rc)
			text_say(why, whylen, rc, "cannot start the publisher of this node's names");
	}
	if (rc) {
		catalog_stop(n);
		return rc;
	}
	*out = n;
	return 0;
}

struct remote_index *catalog_remote(struct catalog *n)
{
	return n ? n->remote : NULL;
}

void catalog_stop(struct catalog *n)
{
	if (!n)
		return;
	if (n->yp)
		yp_watch_objects(n->yp, NULL, NULL);
	if (n->running) {
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
	}
	etcd_watch_stop(n->watch);
	etcd_close(n->etcd);
	remote_index_free(n->remote);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n->queue);
	free(n);
}
