/* SPDX-License-Identifier: MIT */
/* tree.c -- a directory's tree: walk, fingerprint, removal (tree.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster/tree.h"
#include "core/text/names.h"
#include "core/text/scope.h"

/* A user.fabric.* string of id into buf (len bytes), or NULL when unset. */
static const char *xattr_in(struct store *st, uint64_t id, const char *name, char *buf, size_t len)
{
	ssize_t n = store_getxattr(st, id, name, buf, len - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static int emit(struct store *st, const char *path, const struct store_attr *a,
		int (*fn)(void *arg, const struct tree_ent *e), void *arg)
{
	char xxh3[64], target[PATH_MAX_LEN + 1], type[512], scope[SCOPE_STR_MAX + 1];
	char *doc = malloc(STORE_DOC_MAX + 1), *refs = malloc(STORE_DOC_MAX + 1);
	struct tree_ent e = { .path = path, .a = *a, .xxh3 = "", .target = "" };
	int rc;

	if (!doc || !refs) {
		free(doc);
		free(refs);
		return -ENOMEM;
	}
	e.kind = a->dir ? "dir" : a->link ? "link" : a->mut ? "mutable" : "var";
	if (!a->dir && !a->link && !a->mut && xattr_in(st, a->id, "user.fabric.xxh3", xxh3, sizeof(xxh3)))
		e.xxh3 = xxh3;
	if (a->link) {
		ssize_t n = store_readlink(st, a->id, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		e.target = target;
	}
	e.type = xattr_in(st, a->id, "user.fabric.type", type, sizeof(type));
	e.doc = xattr_in(st, a->id, "user.fabric.doc", doc, STORE_DOC_MAX + 1);
	e.refs = xattr_in(st, a->id, "user.fabric.refs", refs, STORE_DOC_MAX + 1);
	e.scope = xattr_in(st, a->id, "user.fabric.scope", scope, sizeof(scope));
	rc = fn(arg, &e);
	free(doc);
	free(refs);
	return rc;
}

/* Recursive, one level a directory: a path of PATH_MAX_LEN bytes nests ~2,000 of them, so a level's frame
 * stays small (its path on the heap) and the deepest tree fits any thread's stack. */
static int walk_dir(struct store *st, uint64_t dir, const char *path, int (*fn)(void *arg, const struct tree_ent *e),
		    void *arg)
{
	char name[NAMES_LEAF_MAX + 1], *sub = malloc(PATH_MAX_LEN);
	struct store_attr a;
	uint64_t *ids = NULL;
	size_t n = 0;
	int rc = sub ? store_dir_list(st, dir, &ids, &n) : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (store_dir_entry(st, dir, ids[i], name, sizeof(name), &a, false) != 0)
			continue; /* gone meanwhile */
		if ((size_t)snprintf(sub, PATH_MAX_LEN, "%s/%s", path, name) >= PATH_MAX_LEN) {
			rc = -ENAMETOOLONG;
			break;
		}
		rc = emit(st, sub, &a, fn, arg);
		if (rc == 0 && a.dir)
			rc = walk_dir(st, a.id, sub, fn, arg);
	}
	free(ids);
	free(sub);
	return rc;
}

int tree_walk(struct store *st, const char *name, int (*fn)(void *arg, const struct tree_ent *e), void *arg)
{
	struct store_attr a;
	uint64_t id;
	int rc = path_resolve(st, name, &id, &a);

	if (rc)
		return rc;
	if (!a.dir)
		return -ENOTDIR;
	rc = emit(st, name, &a, fn, arg);
	return rc ? rc : walk_dir(st, id, name, fn, arg);
}

struct lines {
	char **v;
	size_t n, cap;
	size_t skip; /* the length of the tree's own name: paths are hashed from inside it */
};

static int add_line(void *arg, const struct tree_ent *e)
{
	struct lines *l = arg;
	char *s;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **w = realloc(l->v, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		l->v = w;
		l->cap = cap;
	}
	if (asprintf(&s, ".%s\t%s\t%s\n", e->path + l->skip, e->kind, e->a.link ? e->target : e->xxh3) < 0)
		return -ENOMEM;
	l->v[l->n++] = s;
	return 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tree_fingerprint(struct store *st, const char *name, char hex[HASH_HEX_LEN + 1])
{
	struct lines l = { .skip = strlen(name) };
	struct hash_stream *hs = NULL;
	int rc = tree_walk(st, name, add_line, &l);

	if (rc == 0)
		rc = hash_stream_new(&hs);
	if (rc == 0) {
		if (l.n)
			qsort(l.v, l.n, sizeof(*l.v), line_cmp);
		for (size_t i = 0; i < l.n; i++)
			hash_stream_add(hs, l.v[i], strlen(l.v[i]));
		hash_stream_end(hs, hex);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return rc;
}

struct doomed {
	struct {
		char *path;
		bool dir;
	} *v;
	size_t n, cap;
};

static int add_doomed(void *arg, const struct tree_ent *e)
{
	struct doomed *d = arg;

	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		void *w = realloc(d->v, cap * sizeof(*d->v));
		if (!w)
			return -ENOMEM;
		d->v = w;
		d->cap = cap;
	}
	if (!(d->v[d->n].path = strdup(e->path)))
		return -ENOMEM;
	d->v[d->n++].dir = e->a.dir;
	return 0;
}

int tree_remove(struct store *st, const char *name, uint64_t id)
{
	struct doomed d = { 0 };
	struct store_attr a;
	char leaf[NAMES_LEAF_MAX + 1];
	uint64_t got, dir;
	int rc = path_resolve(st, name, &got, &a);

	if (rc == 0 && got != id)
		rc = -ENOENT; /* another object has the name now: not the tree that moved */
	if (rc == 0)
		rc = tree_walk(st, name, add_doomed, &d);
	for (size_t i = d.n; i-- > 0;) { /* children before their directory */
		int r = path_parent(st, d.v[i].path, &dir, leaf, sizeof(leaf));
		if (r == 0)
			r = d.v[i].dir ? store_rmdir(st, dir, leaf) : store_unlink(st, dir, leaf);
		if (r && !rc)
			rc = r;
		free(d.v[i].path);
	}
	free(d.v);
	return rc;
}
