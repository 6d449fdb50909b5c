/* SPDX-License-Identifier: MIT */
/* ns.c -- the in-memory namespace: objects by id and by (parent, name), and each directory's children.
 *
 * The YP is the durable copy; this is the one every lookup reads, so that `stat` of 100,000 names never
 * touches SQLite.  Two chained hash tables share one bucket count and grow together by doubling at a
 * load factor of 1.  A directory keeps its children on a doubly linked list for readdir.  Every function
 * here is called with store->lock held. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/storeInt.h"

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static size_t name_bucket(const struct store *st, uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(mix(h) & (st->nbuckets - 1));
}

static size_t id_bucket(const struct store *st, uint64_t id)
{
	return (size_t)(mix(id) & (st->nbuckets - 1));
}

int ns_init(struct store *st)
{
	st->nbuckets = 1024;
	st->by_name = calloc(st->nbuckets, sizeof(*st->by_name));
	st->by_id = calloc(st->nbuckets, sizeof(*st->by_id));
	if (!st->by_name || !st->by_id) {
		free(st->by_name);
		free(st->by_id);
		return -ENOMEM;
	}
	return 0;
}

/* Handles and waiters are normally gone before their object; at store_destroy they are abandoned
 * (the kernel connection is gone with them) and freed here. */
static void free_obj(struct obj *o)
{
	while (o->handles) {
		struct store_handle *h = o->handles;
		o->handles = h->next;
		free(h);
	}
	while (o->waiters) {
		struct waiter *w = o->waiters;
		o->waiters = w->next;
		free(w);
	}
	free(o->name);
	free(o->type);
	free(o->doc);
	free(o->refs);
	free(o->scope);
	free(o->target);
	free(o);
}

void ns_destroy(struct store *st)
{
	for (size_t b = 0; b < st->nbuckets; b++) {
		struct obj *o = st->by_id[b];
		while (o) {
			struct obj *next = o->by_id_next;
			free_obj(o);
			o = next;
		}
	}
	free(st->by_name);
	free(st->by_id);
}

static void name_insert(struct store *st, struct obj *o)
{
	size_t b = name_bucket(st, o->parent->id, o->name);

	o->by_name_next = st->by_name[b];
	st->by_name[b] = o;
}

static void name_remove(struct store *st, struct obj *o)
{
	struct obj **pp = &st->by_name[name_bucket(st, o->parent->id, o->name)];

	while (*pp && *pp != o)
		pp = &(*pp)->by_name_next;
	if (*pp)
		*pp = o->by_name_next;
	o->by_name_next = NULL;
}

/* Doubling rehashes both tables; on allocation failure the tables stay as they are (only slower). */
static void grow(struct store *st)
{
	size_t n = st->nbuckets * 2;
	struct obj **by_id = calloc(n, sizeof(*by_id));
	struct obj **by_name = calloc(n, sizeof(*by_name));
	size_t old = st->nbuckets;
	struct obj **old_id = st->by_id;

	if (!by_id || !by_name) {
		free(by_id);
		free(by_name);
		return;
	}
	free(st->by_name);
	st->by_id = by_id;
	st->by_name = by_name;
	st->nbuckets = n;
	for (size_t b = 0; b < old; b++) {
		struct obj *o = old_id[b];
		while (o) {
			struct obj *next = o->by_id_next;
			size_t nb = id_bucket(st, o->id);
			o->by_id_next = st->by_id[nb];
			st->by_id[nb] = o;
			if (o->parent)
				name_insert(st, o);
			o = next;
		}
	}
	free(old_id);
}

struct obj *ns_new(struct store *st, uint64_t id, enum obj_kind kind, const char *name)
{
	struct obj *o = calloc(1, sizeof(*o));
	size_t b;

	if (!o)
		return NULL;
	o->name = strdup(name);
	o->scope = strdup("any");
	if (!o->name || !o->scope) {
		free_obj(o);
		return NULL;
	}
	o->id = id;
	o->kind = kind;
	o->fd = -1;
	o->in_yp = true; /* but for a variable being written (store_make_var_locked) */
	if (st->nobjs >= st->nbuckets)
		grow(st);
	b = id_bucket(st, id);
	o->by_id_next = st->by_id[b];
	st->by_id[b] = o;
	st->nobjs++;
	return o;
}

void ns_free(struct store *st, struct obj *o)
{
	struct obj **pp = &st->by_id[id_bucket(st, o->id)];

	if (o->parent)
		ns_unlink(st, o);
	while (*pp && *pp != o)
		pp = &(*pp)->by_id_next;
	if (*pp)
		*pp = o->by_id_next;
	st->nobjs--;
	free_obj(o);
}

struct obj *ns_by_id(struct store *st, uint64_t id)
{
	struct obj *o = st->by_id[id_bucket(st, id)];

	while (o && o->id != id)
		o = o->by_id_next;
	return o;
}

struct obj *ns_child(struct store *st, struct obj *dir, const char *name)
{
	struct obj *o = st->by_name[name_bucket(st, dir->id, name)];

	while (o && !(o->parent == dir && strcmp(o->name, name) == 0))
		o = o->by_name_next;
	return o;
}

/* A name appears in or leaves dir: tell the cache, unless the kernel holds no lookup of dir (a directory
 * a bulk load made, say), so it cannot hold names under it either. */
static void changed(struct store *st, struct obj *dir, const char *name)
{
	if (st->name_changed && !st->names_quiet && (dir->id == STORE_ROOT_ID || dir->nlookup > 0))
		st->name_changed(st->name_changed_arg, dir->id, name);
}

void ns_link(struct store *st, struct obj *dir, struct obj *o, const char *name)
{
	if (name && strcmp(name, o->name) != 0) {
		char *copy = strdup(name);
		if (copy) { /* on ENOMEM the old name stays: callers strdup first (see store_rename) */
			free(o->name);
			o->name = copy;
		}
	}
	o->parent = dir;
	name_insert(st, o);
	changed(st, dir, o->name);
	o->prev_sib = NULL;
	o->next_sib = dir->first_child;
	if (dir->first_child)
		dir->first_child->prev_sib = o;
	dir->first_child = o;
	dir->nchildren++;
	if (o->kind == OBJ_VAR)
		st->nvars++;
	if (o->kind == OBJ_VAR && o->mut)
		st->nmut++;
	store_event(st, o, EV_CREATED, NULL, 0);
}

void ns_unlink(struct store *st, struct obj *o)
{
	struct obj *dir = o->parent;

	store_event(st, o, EV_REMOVED, NULL, 0);
	changed(st, dir, o->name);
	name_remove(st, o);
	if (o->prev_sib)
		o->prev_sib->next_sib = o->next_sib;
	else
		dir->first_child = o->next_sib;
	if (o->next_sib)
		o->next_sib->prev_sib = o->prev_sib;
	o->prev_sib = o->next_sib = NULL;
	dir->nchildren--;
	o->parent = NULL;
	if (o->kind == OBJ_VAR)
		st->nvars--;
	if (o->kind == OBJ_VAR && o->mut)
		st->nmut--;
}

bool ns_is_ancestor(const struct obj *a, const struct obj *o)
{
	for (; o; o = o->parent)
		if (o == a)
			return true;
	return false;
}
