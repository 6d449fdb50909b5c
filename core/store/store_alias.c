/* SPDX-License-Identifier: MIT */
/* store_alias.c -- hard links (dataClay's aliases): a second name for an object.
 *
 * DESIGN
 * An object keeps one name of its own (o->parent, o->name), which every message and the YP row's
 * parent and name say; each further name is an alias: a struct obj of kind OBJ_ALIAS that is only a name
 * in the namespace, pointing at its object (a->of), with a YP row of kind 'alias' whose alias_of is the
 * object's id.  Lookups and readdir answer with the object itself (its inode, its attributes), so scope,
 * type, doc, mode and bytes are one and the same under every name, and st_nlink counts the names.
 * When the object's own name goes while an alias remains (unlink, or a rename over it), the first alias
 * is promoted: the object takes the alias's directory and name, and the alias row goes, in one
 * transaction; the bytes stay.  When the object goes under every name at once (it is dropped: a failed
 * writer, the end of its scope's processes, its owner's failure), its aliases go with it, rows first.
 * The YP cascades too (alias_of ... ON DELETE CASCADE), so a crash between the two leaves no alias of a
 * deleted row.
 *
 * Like store_obj.c, this file calls only ns.c and store_obj.c, so every other file may call it.  Every
 * function runs with store->lock held; a _rows function writes inside the caller's transaction, and its
 * twin changes memory after the commit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/storeInt.h"
#include "meta/yp.h"

/* Alias `name` in dir for o (a variable or a symbolic link), committed when this returns.  *out is linked
 * under dir. */
int store_alias_new(struct store *st, struct obj *dir, const char *name, struct obj *o, struct obj **out)
{
	int64_t now = store_now_ns();
	struct yp_obj row = { .id = (int64_t)store_new_id(st), .parent = (int64_t)dir->id, .name = name, .kind = "alias", .state = "sealed",
			      .scope = "any", .node = st->node_id, .created_ns = now, .modified_ns = now,
			      .alias_of = (int64_t)o->id };
	struct yp_obj of;
	struct obj *a;
	int rc = yp_begin(st->yp);

	if (rc)
		return rc;
	if (!o->in_yp) { /* being written: alias_of needs a row to name (state 'writing': a crash drops both) */
		store_fill_yp(o, &of);
		of.node = st->node_id;
		rc = yp_obj_insert(st->yp, &of);
	}
	if (rc == 0)
		rc = yp_obj_insert(st->yp, &row);
	if (rc == 0)
		rc = yp_commit(st->yp);
	else
		yp_rollback(st->yp);
	if (rc)
		return rc;
	o->in_yp = true;
	a = ns_new(st, (uint64_t)row.id, OBJ_ALIAS, name);
	if (!a)
		return -ENOMEM; /* the rows stand; the next start links the alias */
	a->state = OBJ_SEALED;
	a->created_ns = a->modified_ns = now;
	a->of = o;
	a->alias_next = o->aliases;
	o->aliases = a;
	o->naliases++;
	ns_link(st, dir, a, NULL);
	dir->modified_ns = now;
	*out = a;
	return 0;
}

int store_alias_remove_rows(struct store *st, struct obj *a)
{
	return yp_obj_delete(st->yp, (int64_t)a->id);
}

/* Take alias a off its object's chain and out of memory. */
void store_alias_remove(struct store *st, struct obj *a)
{
	struct obj *o = a->of;

	for (struct obj **pp = &o->aliases; *pp; pp = &(*pp)->alias_next)
		if (*pp == a) {
			*pp = a->alias_next;
			o->naliases--;
			break;
		}
	if (a->parent)
		a->parent->modified_ns = store_now_ns();
	ns_free(st, a);
}

/* The first alias's row goes before o's row takes its name: both under the unique index of names. */
int store_alias_promote_rows(struct store *st, struct obj *o)
{
	struct obj *a = o->aliases;
	struct yp_obj row;
	int rc = store_alias_remove_rows(st, a);

	if (rc)
		return rc;
	store_fill_yp(o, &row);
	row.parent = (int64_t)a->parent->id;
	row.name = a->name;
	return yp_obj_update(st->yp, &row);
}

void store_alias_promote(struct store *st, struct obj *o)
{
	struct obj *a = o->aliases, *dir = a->parent;

	if (o->parent) {
		o->parent->modified_ns = store_now_ns();
		ns_unlink(st, o);
	}
	st->ev_quiet++; /* the name stays, only the object behind it is another of its names' */
	ns_unlink(st, a); /* with its name still set: the name hash and the kernel's cache need it */
	free(o->name);
	o->name = a->name; /* handed over: no allocation that could fail after the commit */
	a->name = NULL;
	o->aliases = a->alias_next;
	o->naliases--;
	ns_free(st, a);
	ns_link(st, dir, o, NULL);
	st->ev_quiet--;
}

int store_alias_drop_rows(struct store *st, struct obj *o)
{
	int rc = 0;

	for (struct obj *a = o->aliases; rc == 0 && a; a = a->alias_next)
		rc = store_alias_remove_rows(st, a);
	return rc;
}

void store_alias_drop(struct store *st, struct obj *o)
{
	while (o->aliases)
		store_alias_remove(st, o->aliases);
}
