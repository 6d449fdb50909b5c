/* SPDX-License-Identifier: MIT */
/* store_obj.c -- what the store's files do to one object, and to a slab, besides their own job: its path
 * for messages, its YP row and attributes, taking it out of the namespace, its bytes going (rows, shm
 * block or slab pages, charge) and then the struct itself; a slab's row and its removal; the log and the
 * clock.
 *
 * These are the bottom of the room: they call ns.c, slab.c and alloc.c and nothing else of the store, so
 * every other file may call them without making a circle.  All but store_now_ns and store_logf touch
 * objects or slabs, so they run with store->lock held (or inside store_init, before anybody else can
 * reach the store). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/store/storeInt.h"
#include "meta/yp.h"

int64_t store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Ids are never handed out twice: next_id starts past every id the YP has or had (yp_obj_max_id). */
uint64_t store_new_id(struct store *st)
{
	return st->next_id++;
}

void store_logf(struct store *st, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st->log)
		st->log(msg);
	else
		fprintf(stderr, "fabric: %s\n", msg);
}

/* "vars/run1/w" for messages; unlinked objects show as "(unlinked) w". */
void store_path(const struct obj *o, char *buf, size_t len)
{
	const struct obj *chain[64];
	size_t n = 0, at = 0;

	if (o->unlinked) {
		snprintf(buf, len, "(unlinked) %s", o->name);
		return;
	}
	for (const struct obj *p = o; p && p->id != STORE_ROOT_ID && n < 64; p = p->parent)
		chain[n++] = p;
	buf[0] = '\0';
	while (n-- > 0 && at < len) {
		int w = snprintf(buf + at, len - at, "%s%s", at ? "/" : "", chain[n]->name);
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

void store_fill_yp(const struct obj *o, struct yp_obj *row)
{
	static const char *const kinds[] = { [OBJ_DIR] = "dir", [OBJ_VAR] = "var", [OBJ_LINK] = "link",
					     [OBJ_ALIAS] = "alias" };

	memset(row, 0, sizeof(*row));
	row->id = (int64_t)o->id;
	row->parent = o->parent ? (int64_t)o->parent->id : 0;
	row->name = o->name;
	row->kind = o->kind == OBJ_VAR && o->mut ? "mutable" : kinds[o->kind];
	row->state = o->unlinked ? "deleted" : o->state == OBJ_SEALED ? "sealed" : "writing";
	row->type = o->type;
	row->doc = o->doc;
	row->refs = o->refs;
	row->xxh3 = o->xxh3[0] ? o->xxh3 : NULL;
	row->scope = o->scope;
	row->size = o->size;
	row->mode = o->mode;
	row->uid = o->uid;
	row->gid = o->gid;
	row->created_ns = o->created_ns;
	row->modified_ns = o->modified_ns;
	row->sealed_ns = o->sealed_ns;
	row->target = o->target;
	row->alias_of = o->kind == OBJ_ALIAS ? (int64_t)o->of->id : 0;
}

int store_persist(struct store *st, struct obj *o)
{
	struct yp_obj row;

	if (!o->in_yp)
		return 0; /* a variable being written: its row comes with its seal */
	store_fill_yp(o, &row);
	return yp_obj_update(st->yp, &row);
}

void store_attr_of(const struct obj *o, struct store_attr *out)
{
	memset(out, 0, sizeof(*out));
	out->id = o->id;
	out->uid = o->uid;
	out->gid = o->gid;
	out->mtime_ns = o->modified_ns;
	out->ctime_ns = o->modified_ns;
	if (o->kind == OBJ_DIR) {
		out->dir = true;
		out->mode = S_IFDIR | o->mode;
		out->nlink = 2 + (uint32_t)o->nsubdirs;
		out->size = 4096;
		return;
	}
	if (o->kind == OBJ_LINK) { /* as every Linux file system shows a link: 0777, its target's length */
		out->link = true;
		out->sealed = true; /* it never changes: the kernel may cache it as long as a sealed variable */
		out->mode = S_IFLNK | 0777;
		out->nlink = (o->unlinked ? 0 : 1) + o->naliases;
		out->size = strlen(o->target);
		return;
	}
	out->sealed = o->state == OBJ_SEALED;
	out->mut = o->mut;
	out->mode = S_IFREG | (out->sealed && !o->mut ? o->mode & ~0222u : o->mode);
	out->nlink = (o->unlinked ? 0 : 1) + o->naliases; /* its own name and its aliases (store_alias.c) */
	out->size = o->size;
	/* Writes through passthrough grow the block without telling us: its size is the truth until seal. */
	if (!out->sealed && o->fd >= 0) {
		struct stat sb;
		if (fstat(o->fd, &sb) == 0)
			out->size = (uint64_t)sb.st_size;
	}
}

/* Rows of a variable whose bytes are going (inside the caller's transaction): its object row (extents
 * cascade) and its own block.  A packed variable's slab stays; store_free_bytes frees its pages after. */
int store_drop_rows(struct store *st, struct obj *o)
{
	int rc = yp_obj_delete(st->yp, (int64_t)o->id);

	if (rc == 0 && o->kind == OBJ_VAR && !o->packed && o->block_id)
		rc = yp_block_delete(st->yp, (int64_t)o->block_id);
	return rc;
}

/* Memory side of a variable's bytes going, once its rows are gone (or left for the next start): its own
 * block and charge, or its pages in its slab, and the slab itself when that leaves it empty. */
void store_free_bytes(struct store *st, struct obj *o)
{
	if (o->kind != OBJ_VAR)
		return;
	if (o->packed && o->slab) {
		struct slab *s = o->slab;
		slab_put(s, o->offset, o->size);
		o->slab = NULL; /* no handle is open: no reader can be looking */
		store_slab_maybe_free(st, s);
	} else if (!o->packed && o->shm_name[0]) {
		shm_remove(o->shm_name);
	}
	alloc_release(&st->alloc, &o->charge);
}

/* An unlinked object's last handle is gone: remove its rows, its bytes and its charge.  A YP failure is
 * logged and left for the next start, which removes rows in state 'deleted'. */
void store_release_data(struct store *st, struct obj *o)
{
	int rc;

	if (o->data_gone)
		return;
	rc = yp_begin(st->yp);
	if (rc == 0) {
		rc = store_drop_rows(st, o);
		if (rc == 0)
			rc = yp_commit(st->yp);
		else
			yp_rollback(st->yp);
	}
	if (rc)
		store_logf(st, "could not remove the rows of unlinked object %llu (%s); the next start will",
			   (unsigned long long)o->id, strerror(-rc));
	store_free_bytes(st, o);
	o->data_gone = true;
}

/* Inside the caller's transaction: the blocks row of slab s, if it has none yet (a slab is made in
 * memory first and gets its row with the first object committed into it).  The caller sets s->in_yp
 * after the commit. */
int store_slab_row(struct store *st, struct slab *s)
{
	if (s->in_yp)
		return 0;
	return yp_block_insert(st->yp, (int64_t)s->id, st->node_id, s->shm_name, SLAB_BLOCK_SIZE, "slab");
}

/* See storeInt.h. */
int store_slab_remove(struct store *st, struct slab *s, bool keep_on_error)
{
	int rc = 0;

	if (s->in_yp) {
		rc = yp_begin(st->yp);
		if (rc == 0) {
			rc = yp_block_delete(st->yp, (int64_t)s->id);
			if (rc == 0)
				rc = yp_commit(st->yp);
			else
				yp_rollback(st->yp);
		}
		if (rc && keep_on_error)
			return rc;
	}
	alloc_release(&st->alloc, &s->charge);
	slab_remove(&st->slabs, s);
	return rc;
}

/* Remove slab s if it is empty, unless it is the node's only slab: one empty slab is kept warm, so that
 * a node whose small variables come and go does not make and remove a 4 MiB block (and fault its pages
 * in again) every time.  A slab that never got its row goes anyway.  Its row goes in a transaction of its
 * own (a failure is logged: the next start removes a slab no extent points into), then its shm object
 * and its charge.  Returns whether it went. */
bool store_slab_maybe_free(struct store *st, struct slab *s)
{
	char name[SHM_NAME_MAX];
	int rc;

	if (s->nobjs != 0 || (st->slabs.n <= 1 && s->in_yp))
		return false;
	snprintf(name, sizeof(name), "%s", s->shm_name);
	rc = store_slab_remove(st, s, false);
	if (rc)
		store_logf(st, "could not remove the row of empty slab %s (%s); the next start will", name,
			   strerror(-rc));
	return true;
}

struct obj *store_settled(struct store *st, uint64_t id)
{
	struct obj *o;

	while ((o = ns_by_id(st, id)) && o->seal_queued) {
		st->seal_hurry = true;
		pthread_cond_signal(&st->seal_cond);
		pthread_cond_wait(&st->seal_idle, &st->lock);
	}
	return o;
}

void store_maybe_free(struct store *st, struct obj *o)
{
	if (o->unlinked && o->nlookup == 0 && o->nopen == 0 && !o->waiters)
		ns_free(st, o);
}

/* Take o out of the namespace in memory; the caller has written the YP already. */
void store_mark_unlinked(struct store *st, struct obj *o)
{
	struct obj *dir = o->parent;

	if (o->kind == OBJ_DIR && dir)
		dir->nsubdirs--;
	if (dir)
		ns_unlink(st, o);
	o->unlinked = true;
}
