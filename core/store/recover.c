/* SPDX-License-Identifier: MIT */
/* recover.c -- crash recovery at every start: the YP and the shm blocks reconciled, and the namespace
 * loaded from the YP (store_recover, called by store_init in store_life.c).
 *
 * RECOVERY (every start; a no-op after a clean unmount with nothing to clean)
 * The YP and the shm blocks are reconciled before anything is served:
 *   1. rows of objects that were being written, or unlinked while open, are deleted with their blocks:
 *      nothing half-written survives a crash, and their space comes back;
 *   2. blocks no extent points into are deleted (a crash between two steps of a change);
 *   3. shm objects with this state dir's prefix that the YP does not know are removed (orphans);
 *   4. every sealed variable must have its block with its recorded size; after an unclean stop (the
 *      node's `clean` flag was not set) its XXH3-128 is recomputed and compared too.  One that fails is
 *      marked 'lost' in the YP, logged by name, and left out of the namespace.
 *      A packed variable (its extent is in a slab block) must have its slab, SLAB_BLOCK_SIZE long, and an
 *      extent of its size at a page-aligned offset inside it that no other variable's overlaps; after an
 *      unclean stop the XXH3-128 of [offset, offset + size) is compared.  Each slab's free pages are
 *      rebuilt from the extents of the variables that pass, and it is charged as a whole.  A lost packed
 *      variable loses its extent too (its pages are free for others), so a slab left with no variable is
 *      removed at once (but one, kept warm); steps 2 and 3 remove slabs no extent points into.
 * The clean flag is cleared while a daemon runs and set again by store_destroy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/text/size.h"

#define PATH_MAX_BUF 4096
#include "core/store/storeInt.h"
#include "meta/yp.h"

struct loaded {
	struct obj *o;
	uint64_t parent;
	uint64_t length; /* of its extent */
	uint64_t alias_of; /* an alias's object */
};

struct load_ctx {
	struct store *st;
	struct loaded *v;
	size_t n, cap;
	uint64_t *drop; /* object ids to delete */
	size_t ndrop, capdrop;
	int rc;
};

static int push_id(uint64_t **v, size_t *n, size_t *cap, uint64_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		uint64_t *nv = realloc(*v, c * sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = id;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* 'var' and 'mutable' are both OBJ_VAR (o->mut tells them apart) */
static enum obj_kind kind_of_row(const char *kind)
{
	if (strcmp(kind, "dir") == 0)
		return OBJ_DIR;
	if (strcmp(kind, "link") == 0)
		return OBJ_LINK;
	return strcmp(kind, "alias") == 0 ? OBJ_ALIAS : OBJ_VAR;
}

/* One YP row: drop it, skip it (lost), or make its in-memory object. */
static int load_row(void *arg, const struct yp_obj *r)
{
	struct load_ctx *c = arg;
	struct obj *o;

	if (strcmp(r->state, "writing") == 0 || strcmp(r->state, "deleted") == 0)
		return push_id(&c->drop, &c->ndrop, &c->capdrop, (uint64_t)r->id);
	if (strcmp(r->state, "lost") == 0)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct loaded *nv = realloc(c->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->v = nv;
		c->cap = cap;
	}
	o = ns_new(c->st, (uint64_t)r->id, kind_of_row(r->kind), r->name);
	if (!o)
		return -ENOMEM;
	if (o->kind == OBJ_LINK && !(o->target = strdup(r->target ? r->target : "")))
		return -ENOMEM;
	o->mut = strcmp(r->kind, "mutable") == 0;
	o->state = OBJ_SEALED;
	o->mode = r->mode;
	o->uid = r->uid;
	o->gid = r->gid;
	o->created_ns = r->created_ns;
	o->modified_ns = r->modified_ns;
	o->sealed_ns = r->sealed_ns;
	o->size = r->size;
	if (r->scope && strcmp(r->scope, "any") != 0) {
		free(o->scope);
		o->scope = strdup(r->scope);
	}
	o->type = dup_or_null(r->type);
	o->doc = dup_or_null(r->doc);
	o->refs = dup_or_null(r->refs);
	if (r->xxh3)
		snprintf(o->xxh3, sizeof(o->xxh3), "%s", r->xxh3);
	o->block_id = (uint64_t)r->block;
	if (r->shm_name)
		snprintf(o->shm_name, sizeof(o->shm_name), "%s", r->shm_name);
	o->packed = r->block_kind && strcmp(r->block_kind, "slab") == 0;
	o->offset = r->offset;
	o->unlinked = true; /* until linked below */
	c->v[c->n++] = (struct loaded){ o, (uint64_t)r->parent, r->length, (uint64_t)r->alias_of };
	return 0;
}

/* Is a sealed variable's block there, the right size, and (when asked) the same bytes? */
static const char *verify_var(struct obj *o, bool full)
{
	char hex[HASH_HEX_LEN + 1];
	struct stat sb;
	const char *why = NULL;
	int fd;

	if (!o->block_id || !o->shm_name[0])
		return "it has no block";
	if (shm_open_block(o->shm_name, &fd) < 0)
		return "its shm block is gone";
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != o->size)
		why = "its shm block has the wrong size";
	else if (full && (hash_fd(fd, 0, o->size, hex) < 0 || strcmp(hex, o->xxh3) != 0))
		why = "its bytes no longer match their xxh3";
	close(fd);
	return why;
}

/* Is a sealed packed variable's slab there (adopted and charged on first sight), its extent inside it
 * and clear of every other's, and (when asked) its bytes the same?  Takes its pages when it passes. */
static const char *verify_packed(struct store *st, struct obj *o, uint64_t length, bool full)
{
	char hex[HASH_HEX_LEN + 1];
	struct slab *s = slab_find(&st->slabs, o->block_id);
	int rc;

	if (!s) {
		rc = slab_adopt(&st->slabs, o->block_id, o->shm_name, &s);
		if (rc == -ENOENT)
			return "its slab block is gone";
		if (rc == -EIO)
			return "its slab block has the wrong size";
		if (rc)
			return "its slab block cannot be opened";
		alloc_adopt(&st->alloc, &s->charge, SLAB_BLOCK_SIZE);
	}
	if (length != o->size)
		return "its extent's length is not its size";
	rc = slab_take(s, o->offset, o->size);
	if (rc == -EEXIST)
		return "its pages in its slab overlap another variable's";
	if (rc)
		return "its extent does not lie within its slab";
	if (full && (hash_fd(s->fd, o->offset, o->size, hex) < 0 || strcmp(hex, o->xxh3) != 0)) {
		slab_put(s, o->offset, o->size);
		return "its bytes no longer match their xxh3";
	}
	o->slab = s;
	return NULL;
}

/* A lost variable stays in the YP with state 'lost'; a packed one also loses its extent, since its pages
 * in the slab go back to the free space. */
static int mark_lost(struct store *st, struct obj *o)
{
	struct yp_obj row;
	int rc;

	store_fill_yp(o, &row);
	row.state = "lost";
	row.parent = 0;
	rc = yp_obj_update(st->yp, &row);
	if (rc == 0 && o->packed)
		rc = yp_extent_delete(st->yp, (int64_t)o->id);
	return rc;
}

struct block_ctx {
	struct store *st;
	uint64_t *unused, *known;
	size_t nunused, capunused, nknown, capknown;
};

static int collect_block(void *arg, int64_t id, const char *shm_name, int used)
{
	struct block_ctx *b = arg;

	(void)shm_name;
	if (!used)
		return push_id(&b->unused, &b->nunused, &b->capunused, (uint64_t)id);
	return push_id(&b->known, &b->nknown, &b->capknown, (uint64_t)id);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int sweep_orphan(void *arg, const char *name)
{
	struct block_ctx *b = arg;
	const char *num = name + strlen(b->st->prefix);
	char *end;
	uint64_t id = strtoull(num, &end, 10);

	if (*num && *end == '\0' && b->nknown && bsearch(&id, b->known, b->nknown, sizeof(id), cmp_u64))
		return 0;
	store_logf(b->st, "removing orphan shm block %s", name);
	shm_remove(name);
	return 0;
}

/* Steps 1-3 of RECOVERY: rows and blocks nothing may keep. */
static int clean_rows_and_blocks(struct store *st, struct load_ctx *c)
{
	struct block_ctx b = { .st = st };
	int rc = yp_begin(st->yp);

	for (size_t i = 0; rc == 0 && i < c->ndrop; i++)
		rc = yp_obj_delete(st->yp, (int64_t)c->drop[i]);
	if (rc == 0)
		rc = yp_each_block(st->yp, collect_block, &b);
	for (size_t i = 0; rc == 0 && i < b.nunused; i++)
		rc = yp_block_delete(st->yp, (int64_t)b.unused[i]);
	if (rc == 0)
		rc = yp_commit(st->yp);
	else
		yp_rollback(st->yp);
	if (rc == 0) {
		if (c->ndrop)
			store_logf(st, "dropped %zu object(s) that were being written or unlinked at the last stop",
				   c->ndrop);
		if (b.nknown)
			qsort(b.known, b.nknown, sizeof(*b.known), cmp_u64);
		rc = shm_each(st->prefix, sweep_orphan, &b);
	}
	free(b.unused);
	free(b.known);
	return rc;
}

struct lost_slabs {
	struct store *st;
	uint64_t *ids;
	char (*names)[SHM_NAME_MAX];
	size_t n, cap;
};

static int collect_lost_slab(void *arg, int64_t id, const char *shm_name, int used)
{
	struct lost_slabs *l = arg;

	if (used || slab_find(&l->st->slabs, (uint64_t)id))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		uint64_t *ids = realloc(l->ids, cap * sizeof(*ids));
		char(*names)[SHM_NAME_MAX] = ids ? realloc(l->names, cap * sizeof(*names)) : NULL;
		if (ids)
			l->ids = ids;
		if (!ids || !names)
			return -ENOMEM;
		l->names = names;
		l->cap = cap;
	}
	l->ids[l->n] = (uint64_t)id;
	snprintf(l->names[l->n], SHM_NAME_MAX, "%s", shm_name);
	l->n++;
	return 0;
}

/* After step 4: blocks no extent points into any more (a slab that could not be opened, whose variables
 * were all lost and so lost their extents) go, row and shm object, unless in memory (one kept warm). */
static int drop_lost_slabs(struct store *st)
{
	struct lost_slabs l = { .st = st };
	int rc = yp_each_block(st->yp, collect_lost_slab, &l);

	if (rc == 0 && l.n)
		rc = yp_begin(st->yp);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rc = yp_block_delete(st->yp, (int64_t)l.ids[i]);
	if (rc == 0 && l.n)
		rc = yp_commit(st->yp);
	else if (l.n)
		yp_rollback(st->yp);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		store_logf(st, "removing block %s: every variable in it was lost", l.names[i]);
		shm_remove(l.names[i]);
	}
	free(l.ids);
	free(l.names);
	return rc;
}

/* An alias goes with what it names (a lost object, one under a lost directory); the YP's cascade took
 * those whose object's row was deleted in step 1. */
static int link_alias(struct store *st, struct loaded *l)
{
	struct obj *a = l->o, *of = ns_by_id(st, l->alias_of), *dir = ns_by_id(st, l->parent);

	if (!of || of->unlinked || of->kind == OBJ_DIR || of->kind == OBJ_ALIAS || !dir || dir->unlinked ||
	    dir->kind != OBJ_DIR) {
		store_logf(st, "alias %llu '%s' removed: the object it named is gone", (unsigned long long)a->id,
			   a->name);
		return yp_obj_delete(st->yp, (int64_t)a->id);
	}
	a->unlinked = false;
	a->of = of;
	a->alias_next = of->aliases;
	of->aliases = a;
	of->naliases++;
	ns_link(st, dir, a, NULL);
	return 0;
}

/* Step 4, and the namespace: link every loaded object under its parent. */
static int link_loaded(struct store *st, struct load_ctx *c, bool full_verify,
		       void (*report)(void *arg, const char *path), void *report_arg)
{
	size_t lost = 0, *lost_at = calloc(c->n ? c->n : 1, sizeof(*lost_at));
	int rc = lost_at ? yp_begin(st->yp) : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		struct obj *o = c->v[i].o;
		struct obj *dir;
		const char *why = NULL;

		if (o->id == STORE_ROOT_ID) {
			o->unlinked = false;
			continue;
		}
		if (o->kind == OBJ_ALIAS)
			continue; /* below, once every object is where it will be */
		dir = ns_by_id(st, c->v[i].parent);
		if (!dir || dir->kind != OBJ_DIR)
			why = "its directory is gone";
		else if (o->kind == OBJ_VAR && o->packed)
			why = verify_packed(st, o, c->v[i].length, full_verify);
		else if (o->kind == OBJ_VAR)
			why = verify_var(o, full_verify && !o->mut); /* a mutable object's bytes change */
		if (why) {
			store_logf(st, "object %llu '%s' is lost: %s", (unsigned long long)o->id, o->name, why);
			rc = mark_lost(st, o);
			lost_at[lost++] = i;
			continue;
		}
		o->unlinked = false;
		ns_link(st, dir, o, NULL);
		if (o->kind == OBJ_DIR)
			dir->nsubdirs++;
		else if (!o->packed)
			alloc_adopt(&st->alloc, &o->charge, o->size);
	}
	for (size_t i = 0; rc == 0 && i < c->n; i++)
		if (c->v[i].o->kind == OBJ_ALIAS)
			rc = link_alias(st, &c->v[i]);
	if (rc == 0)
		rc = yp_commit(st->yp);
	else
		yp_rollback(st->yp);
	/* Slabs whose every variable was lost: those opened above go now (but one, kept warm), and so do
	 * the rows of those that could not be opened (and their shm objects, if there). */
	for (size_t i = st->slabs.n; rc == 0 && i-- > 0;)
		if (i < st->slabs.n)
			store_slab_maybe_free(st, st->slabs.v[i]);
	if (rc == 0 && lost)
		rc = drop_lost_slabs(st);
	/* Name the lost variables by path (their directories are linked by now) for whoever can bring them
	 * back, before they leave memory. */
	for (size_t k = 0; report && rc == 0 && k < lost; k++) {
		struct obj *o = c->v[lost_at[k]].o, *dir = ns_by_id(st, c->v[lost_at[k]].parent);
		char dpath[PATH_MAX_BUF], path[PATH_MAX_BUF + NAMES_LEAF_MAX + 2];
		if (o->kind != OBJ_VAR || !dir || dir->unlinked)
			continue;
		store_path(dir, dpath, sizeof(dpath));
		/* store_path says "vars/a/b"; commands name things under vars/, and the rest (a dataset's
		 * items) from the root with a leading slash, as a checkpoint's manifest does */
		if (strcmp(dpath, "vars") == 0)
			snprintf(path, sizeof(path), "%s", o->name);
		else if (strncmp(dpath, "vars/", 5) == 0)
			snprintf(path, sizeof(path), "%s/%s", dpath + 5, o->name);
		else
			snprintf(path, sizeof(path), "/%s/%s", dpath, o->name);
		report(report_arg, path);
	}
	free(lost_at);
	/* Objects left unlinked (lost, or under a lost directory) are freed from memory. */
	for (size_t i = 0; i < c->n; i++) {
		struct obj *o = c->v[i].o;
		if (o->unlinked) {
			o->data_gone = true;
			ns_free(st, o);
		}
	}
	if (lost)
		store_logf(st, "%zu object(s) lost; they stay in the YP with state 'lost'", lost);
	return rc;
}

/* See storeInt.h. */
int store_recover(struct store *st, bool full_verify, void (*lost)(void *arg, const char *path),
		  void *lost_arg)
{
	struct load_ctx c = { .st = st };
	int rc = yp_each_object(st->yp, load_row, &c);

	if (rc == 0)
		rc = clean_rows_and_blocks(st, &c);
	if (rc == 0)
		rc = link_loaded(st, &c, full_verify, lost, lost_arg);
	free(c.v);
	free(c.drop);
	return rc;
}
