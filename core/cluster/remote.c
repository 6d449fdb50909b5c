/* SPDX-License-Identifier: MIT */
/* remote.c -- the other nodes' objects in memory (remote.h): three chained hash tables over one set of
 * entries, by (node, id), by (node, parent, name), and the children of each (node, parent). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster/remote.h"

#define BUCKETS (1u << 16) /* chains of ~16 at a million objects */

struct kids;

struct ent {
	struct remote_attr a;
	char *str[REMOTE_NSTR];
	bool stale; /* not in the listing under way (yet) */
	struct ent *next_id, *next_name;
	struct ent *next_kid, *prev_kid;
	struct kids *in;
};

struct kids {
	char node[NAMES_NODE_MAX + 1];
	int64_t parent;
	struct ent *first;
	struct kids *next;
};

struct remote_index {
	pthread_mutex_t lock;
	struct ent *by_id[BUCKETS], *by_name[BUCKETS];
	struct kids *kids[BUCKETS];
	char (*nodes)[NAMES_NODE_MAX + 1]; /* every node heard of, sorted: vars/ of "any node" */
	size_t nnodes;
};

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t h_id(const char *node, int64_t id)
{
	return fnv(fnv(2166136261u, node, strlen(node)), &id, sizeof(id)) % BUCKETS;
}

static uint32_t h_name(const char *node, int64_t parent, const char *name)
{
	return fnv(fnv(fnv(2166136261u, node, strlen(node)), &parent, sizeof(parent)), name, strlen(name)) % BUCKETS;
}

int remote_index_new(struct remote_index **out)
{
	struct remote_index *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	pthread_mutex_init(&x->lock, NULL);
	*out = x;
	return 0;
}

const char *const remote_str_names[REMOTE_NSTR] = { "type", "doc", "scope", "target", "refs" };

static void ent_free(struct ent *e)
{
	for (int i = 0; i < REMOTE_NSTR; i++)
		free(e->str[i]);
	free(e);
}

static void clear_locked(struct remote_index *x)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		for (struct ent *e = x->by_id[b], *n; e; e = n) {
			n = e->next_id;
			ent_free(e);
		}
		for (struct kids *k = x->kids[b], *n; k; k = n) {
			n = k->next;
			free(k);
		}
		x->by_id[b] = x->by_name[b] = NULL;
		x->kids[b] = NULL;
	}
}

void remote_index_free(struct remote_index *x)
{
	if (!x)
		return;
	clear_locked(x);
	free(x->nodes);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

void remote_clear(struct remote_index *x)
{
	pthread_mutex_lock(&x->lock);
	clear_locked(x);
	pthread_mutex_unlock(&x->lock);
}

static void unlink_names(struct remote_index *x, struct ent *e);

void remote_mark_stale(struct remote_index *x)
{
	pthread_mutex_lock(&x->lock);
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct ent *e = x->by_id[b]; e; e = e->next_id)
			e->stale = true;
	pthread_mutex_unlock(&x->lock);
}

void remote_sweep(struct remote_index *x, struct remote_attr **gone, size_t *n)
{
	size_t count = 0, k = 0;

	*gone = NULL;
	*n = 0;
	pthread_mutex_lock(&x->lock);
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct ent *e = x->by_id[b]; e; e = e->next_id)
			count += e->stale;
	if (count && !(*gone = malloc(count * sizeof(**gone)))) {
		pthread_mutex_unlock(&x->lock);
		return;
	}
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct ent **pp = &x->by_id[b]; *pp;) {
			struct ent *e = *pp;
			if (!e->stale) {
				pp = &e->next_id;
				continue;
			}
			*pp = e->next_id;
			unlink_names(x, e);
			(*gone)[k++] = e->a;
			ent_free(e);
		}
	*n = k;
	pthread_mutex_unlock(&x->lock);
}

static struct ent *find(struct remote_index *x, const char *node, int64_t id)
{
	for (struct ent *e = x->by_id[h_id(node, id)]; e; e = e->next_id)
		if (e->a.id == id && strcmp(e->a.node, node) == 0)
			return e;
	return NULL;
}

static struct kids *kids_of(struct remote_index *x, const char *node, int64_t parent, bool make)
{
	uint32_t b = h_id(node, parent);
	struct kids *k;

	for (k = x->kids[b]; k; k = k->next)
		if (k->parent == parent && strcmp(k->node, node) == 0)
			return k;
	if (!make || !(k = calloc(1, sizeof(*k))))
		return NULL;
	snprintf(k->node, sizeof(k->node), "%s", node);
	k->parent = parent;
	k->next = x->kids[b];
	x->kids[b] = k;
	return k;
}

/* Take e out of the name table and its parent's children. */
static void unlink_names(struct remote_index *x, struct ent *e)
{
	for (struct ent **pp = &x->by_name[h_name(e->a.node, e->a.parent, e->a.name)]; *pp; pp = &(*pp)->next_name)
		if (*pp == e) {
			*pp = e->next_name;
			break;
		}
	if (e->prev_kid)
		e->prev_kid->next_kid = e->next_kid;
	else if (e->in)
		e->in->first = e->next_kid;
	if (e->next_kid)
		e->next_kid->prev_kid = e->prev_kid;
	e->next_kid = e->prev_kid = NULL;
	e->in = NULL;
}

static int link_names(struct remote_index *x, struct ent *e)
{
	uint32_t b = h_name(e->a.node, e->a.parent, e->a.name);
	struct kids *k = kids_of(x, e->a.node, e->a.parent, true);

	if (!k)
		return -ENOMEM;
	e->next_name = x->by_name[b];
	x->by_name[b] = e;
	e->in = k;
	e->next_kid = k->first;
	if (k->first)
		k->first->prev_kid = e;
	k->first = e;
	return 0;
}

static int note_node(struct remote_index *x, const char *node)
{
	size_t i = 0;

	while (i < x->nnodes && strcmp(x->nodes[i], node) < 0)
		i++;
	if (i < x->nnodes && strcmp(x->nodes[i], node) == 0)
		return 0;
	void *v = realloc(x->nodes, (x->nnodes + 1) * sizeof(*x->nodes));
	if (!v)
		return -ENOMEM;
	x->nodes = v;
	memmove(&x->nodes[i + 1], &x->nodes[i], (x->nnodes - i) * sizeof(*x->nodes));
	snprintf(x->nodes[i], sizeof(x->nodes[i]), "%s", node);
	x->nnodes++;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int remote_put(struct remote_index *x, const struct remote_attr *a, const char *const str[REMOTE_NSTR])
{
	struct ent *e;
	int rc;

	pthread_mutex_lock(&x->lock);
	rc = note_node(x, a->node);
	e = rc ? NULL : find(x, a->node, a->id);
	if (rc == 0 && !e) {
		e = calloc(1, sizeof(*e));
		if (e) {
			e->a = *a;
			uint32_t b = h_id(a->node, a->id);
			e->next_id = x->by_id[b];
			x->by_id[b] = e;
		}
	} else if (e) {
		unlink_names(x, e);
		for (int i = 0; i < REMOTE_NSTR; i++) {
			free(e->str[i]);
			e->str[i] = NULL;
		}
		e->a = *a;
	}
	if (!e) {
		pthread_mutex_unlock(&x->lock);
		return -ENOMEM;
	}
	for (int i = 0; i < REMOTE_NSTR; i++)
		e->str[i] = dup_or_null(str[i]); /* a NULL on ENOMEM: that string unset, the entry whole */
	e->stale = false;
	rc = link_names(x, e);
	pthread_mutex_unlock(&x->lock);
	return rc;
}

int remote_move(struct remote_index *x, const char *node, int64_t id, int64_t parent, const char *name)
{
	struct ent *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&x->lock);
	e = find(x, node, id);
	if (e) {
		unlink_names(x, e);
		e->a.parent = parent;
		snprintf(e->a.name, sizeof(e->a.name), "%s", name);
		rc = link_names(x, e);
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

void remote_remove(struct remote_index *x, const char *node, int64_t id)
{
	pthread_mutex_lock(&x->lock);
	for (struct ent **pp = &x->by_id[h_id(node, id)]; *pp; pp = &(*pp)->next_id) {
		struct ent *e = *pp;
		if (e->a.id != id || strcmp(e->a.node, node) != 0)
			continue;
		*pp = e->next_id;
		unlink_names(x, e);
		ent_free(e);
		break;
	}
	pthread_mutex_unlock(&x->lock);
}

int remote_get(struct remote_index *x, const char *node, int64_t id, struct remote_attr *out)
{
	struct ent *e;

	pthread_mutex_lock(&x->lock);
	e = find(x, node, id);
	if (e)
		*out = e->a;
	pthread_mutex_unlock(&x->lock);
	return e ? 0 : -ENOENT;
}

static struct ent *child(struct remote_index *x, const char *node, int64_t parent, const char *name)
{
	for (struct ent *e = x->by_name[h_name(node, parent, name)]; e; e = e->next_name)
		if (e->a.parent == parent && strcmp(e->a.name, name) == 0 && strcmp(e->a.node, node) == 0)
			return e;
	return NULL;
}

int remote_child(struct remote_index *x, const char *node, int64_t parent, const char *name,
		 struct remote_attr *out)
{
	struct ent *e = NULL;

	pthread_mutex_lock(&x->lock);
	if (node)
		e = child(x, node, parent, name);
	for (size_t i = 0; !node && !e && i < x->nnodes; i++)
		e = child(x, x->nodes[i], parent, name);
	if (e)
		*out = e->a;
	pthread_mutex_unlock(&x->lock);
	return e ? 0 : -ENOENT;
}

int remote_children(struct remote_index *x, const char *node, int64_t parent,
		    int (*fn)(void *arg, const struct remote_attr *a), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&x->lock);
	for (size_t i = 0; rc == 0 && i < (node ? 1 : x->nnodes); i++) {
		struct kids *k = kids_of(x, node ? node : x->nodes[i], parent, false);
		for (struct ent *e = k ? k->first : NULL; rc == 0 && e; e = e->next_kid)
			rc = fn(arg, &e->a);
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* The id of node's top-level directory called top (a child of its root), or 0.  Lock held. */
static int64_t top_of(struct remote_index *x, const char *node, const char *top)
{
	struct ent *e = child(x, node, REMOTE_ROOT_ID, top);

	return e && strcmp(e->a.kind, "dir") == 0 ? e->a.id : 0;
}

int remote_child_in(struct remote_index *x, const char *top, const char *name, struct remote_attr *out)
{
	struct ent *e = NULL;
	int64_t dir;

	pthread_mutex_lock(&x->lock);
	for (size_t i = 0; !e && i < x->nnodes; i++)
		if ((dir = top_of(x, x->nodes[i], top)) != 0)
			e = child(x, x->nodes[i], dir, name);
	if (e)
		*out = e->a;
	pthread_mutex_unlock(&x->lock);
	return e ? 0 : -ENOENT;
}

int remote_children_in(struct remote_index *x, const char *top, int (*fn)(void *arg, const struct remote_attr *a),
		       void *arg)
{
	int64_t dir;
	int rc = 0;

	pthread_mutex_lock(&x->lock);
	for (size_t i = 0; rc == 0 && i < x->nnodes; i++) {
		struct kids *k = (dir = top_of(x, x->nodes[i], top)) ? kids_of(x, x->nodes[i], dir, false) : NULL;
		for (struct ent *e = k ? k->first : NULL; rc == 0 && e; e = e->next_kid)
			rc = fn(arg, &e->a);
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

bool remote_is_top(struct remote_index *x, const char *node, int64_t id, const char *top)
{
	bool yes;

	pthread_mutex_lock(&x->lock);
	yes = id && top_of(x, node, top) == id;
	pthread_mutex_unlock(&x->lock);
	return yes;
}

ssize_t remote_string(struct remote_index *x, const char *node, int64_t id, const char *which, char *buf,
		      size_t len)
{
	struct ent *e;
	ssize_t rc;

	pthread_mutex_lock(&x->lock);
	e = find(x, node, id);
	const char *v = NULL;
	for (int i = 0; e && i < REMOTE_NSTR; i++)
		if (strcmp(which, remote_str_names[i]) == 0)
			v = e->str[i];
	if (!e)
		rc = -ENOENT;
	else if (!v)
		rc = -ENODATA;
	else if (len == 0)
		rc = (ssize_t)strlen(v);
	else if (strlen(v) > len)
		rc = -ERANGE;
	else {
		memcpy(buf, v, strlen(v));
		rc = (ssize_t)strlen(v);
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

int remote_resolve(struct remote_index *x, const char *path, struct remote_attr *out)
{
	char part[NAMES_LEAF_MAX + 1], node[NAMES_NODE_MAX + 1] = "";
	int64_t parent = 2;

	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || n > NAMES_LEAF_MAX)
			return -ENOENT;
		memcpy(part, p, n);
		part[n] = '\0';
		if (!x || remote_child(x, node[0] ? node : NULL, parent, part, out) != 0)
			return -ENOENT;
		snprintf(node, sizeof(node), "%s", out->node);
		parent = out->id;
		p += n + (p[n] == '/');
	}
	return parent == 2 ? -ENOENT : 0;
}
