/* SPDX-License-Identifier: MIT */
/* store_xattr.c -- the user.fabric.* extended attributes: an object's yellow-pages entry, seen per file.
 *
 *   type       settable: a datashape type; stored canonically; on a sealed variable it must fit the size
 *   doc        settable: free text up to STORE_DOC_MAX bytes
 *   xxh3       read-only: XXH3-128 of the sealed bytes (absent while writing)
 *   node       read-only: the node that holds the bytes
 *   locations  read-only: "NODE SHM-NAME OFFSET LENGTH", one line per extent (joined by '\n', no final
 *              newline): the seed's get_locations.  A variable with its own block: that block, offset 0;
 *              one packed into a slab: the slab and where its bytes start in it right now
 *   scope      settable: where the object may be used (core/text/scope.h), canonical; while the variable is
 *              written any scope, once sealed only a narrower one (EPERM otherwise); opens from outside
 *              it get EACCES (store_open)
 *   state      read-only: writing | sealed
 *   kind       read-only: var | dir
 *   refs       settable: the names (paths under vars/) of the objects this one refers to, separated by
 *              spaces or newlines, kept one space apart; `move recursive` follows them.  Names only: a
 *              referent need not exist (yet), and removing it leaves the reference dangling, as a symlink
 * Anything else in user.* is -ENOTSUP (the fabric keeps no free-form xattrs); the read-only ones are
 * -EPERM to set or remove. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "core/text/dtype.h"
#include "core/text/names.h"
#include "core/text/scope.h"
#include "core/store/storeInt.h"
#include "meta/yp.h"

#define PREFIX "user.fabric."

enum xa { XA_TYPE, XA_DOC, XA_XXH3, XA_NODE, XA_LOCATIONS, XA_SCOPE, XA_STATE, XA_KIND, XA_REFS, XA_COUNT };

static const char *const xa_names[XA_COUNT] = {
	"type", "doc", "xxh3", "node", "locations", "scope", "state", "kind", "refs",
};

static int xa_find(const char *name)
{
	if (strncmp(name, PREFIX, strlen(PREFIX)) != 0)
		return -ENOTSUP;
	for (int i = 0; i < XA_COUNT; i++)
		if (strcmp(name + strlen(PREFIX), xa_names[i]) == 0)
			return i;
	return -ENOTSUP;
}

/* The value of attribute a of o into buf (NUL-terminated, its length returned), or -ENODATA. */
static int xa_value(struct store *st, const struct obj *o, int a, char *buf, size_t len)
{
	const char *v = NULL;
	int n;

	switch (a) {
	case XA_TYPE:
		v = o->type;
		break;
	case XA_DOC: /* an item without a doc of its own has its dataset's */
		v = o->doc ? o->doc : o->parent && o->parent->dataset ? o->parent->doc : NULL;
		break;
	case XA_REFS:
		v = o->refs;
		break;
	case XA_XXH3:
		v = (o->kind == OBJ_VAR && o->state == OBJ_SEALED && !o->mut) ? o->xxh3 : NULL;
		break;
	case XA_NODE:
		v = st->node;
		break;
	case XA_SCOPE:
		v = o->scope;
		break;
	case XA_STATE:
		v = o->kind != OBJ_VAR ? NULL : o->mut ? "mutable" : o->state == OBJ_SEALED ? "sealed" : "writing";
		break;
	case XA_KIND:
		v = o->kind == OBJ_DIR ? "dir" : o->kind == OBJ_LINK ? "link" : o->mut ? "mutable" : "var";
		break;
	case XA_LOCATIONS:
		if (o->kind != OBJ_VAR)
			return -ENODATA;
		n = snprintf(buf, len, "%s %s %llu %llu", st->node, o->shm_name, (unsigned long long)o->offset,
			     (unsigned long long)o->size);
		return n < 0 || (size_t)n >= len ? -ERANGE : n;
	}
	if (!v)
		return -ENODATA;
	n = snprintf(buf, len, "%s", v);
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

ssize_t store_getxattr(struct store *st, uint64_t id, const char *name, char *buf, size_t size)
{
	char val[STORE_DOC_MAX + 512];
	struct obj *o;
	int a = xa_find(name), n;

	if (a < 0)
		return -ENODATA;
	pthread_mutex_lock(&st->lock);
	o = store_settled(st, id);
	n = o ? xa_value(st, o, a, val, sizeof(val)) : -ENOENT;
	pthread_mutex_unlock(&st->lock);
	if (n < 0)
		return n;
	if (size == 0)
		return n;
	if ((size_t)n > size)
		return -ERANGE;
	memcpy(buf, val, (size_t)n);
	return n;
}

ssize_t store_listxattr(struct store *st, uint64_t id, char *buf, size_t size)
{
	char list[XA_COUNT * 32], val[STORE_DOC_MAX + 512];
	struct obj *o;
	size_t n = 0;

	pthread_mutex_lock(&st->lock);
	o = store_settled(st, id);
	for (int a = 0; o && a < XA_COUNT; a++)
		if (xa_value(st, o, a, val, sizeof(val)) >= 0)
			n += (size_t)snprintf(list + n, sizeof(list) - n, PREFIX "%s", xa_names[a]) + 1;
	pthread_mutex_unlock(&st->lock);
	if (!o)
		return -ENOENT;
	if (size == 0)
		return (ssize_t)n;
	if (n > size)
		return -ERANGE;
	memcpy(buf, list, n);
	return (ssize_t)n;
}

/* A new type for o: parsed, canonicalised, and on a sealed variable checked against its size. */
static int set_type(struct store *st, struct obj *o, const char *value, char **out)
{
	char err[256], canon[DTYPE_STR_MAX], path[512];
	struct dtype t;
	int rc;

	store_path(o, path, sizeof(path));
	if (o->kind != OBJ_VAR) {
		store_logf(st, "%s: only a variable has a type", path);
		return -EINVAL;
	}
	rc = dtype_parse(value, &t, err, sizeof(err));
	if (rc) {
		store_logf(st, "%s: user.fabric.type refused: %s", path, err);
		return -EINVAL;
	}
	if (o->state == OBJ_SEALED && t.nbytes != o->size) {
		store_logf(st, "%s: user.fabric.type '%s' is %llu bytes but the variable has %llu", path, value,
			   (unsigned long long)t.nbytes, (unsigned long long)o->size);
		return -EINVAL;
	}
	rc = dtype_format(&t, canon, sizeof(canon));
	if (rc)
		return rc;
	/* an item's own type narrows its dataset's (its size is checked at the seal, or just above) */
	if (store_item_type_locked(o->parent, canon, t.nbytes, canon, err, sizeof(err)) < 0) {
		store_logf(st, "%s: user.fabric.type refused: %s", path, err);
		return -EINVAL;
	}
	*out = strdup(canon);
	return *out ? 0 : -ENOMEM;
}

int store_scope_canon(struct store *st, const char *value, char *canon, size_t len, char *why, size_t whylen)
{
	struct scope s, here, both;
	char err[256];

	if (scope_parse(value, &s, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "scope refused: %s", err);
		return -EINVAL;
	}
	/* the bytes are here: a scope without this node would strand them */
	if (scope_place(&here, st->node, 0, 0) != 0 || scope_intersect(&s, &here, &both, NULL, 0) != 0) {
		snprintf(why, whylen, "scope '%s' leaves out this node (%s), where the bytes are", value, st->node);
		return -EINVAL;
	}
	return scope_format(&s, canon, len);
}

/* A new scope for o: parsed, canonical; after the seal only a narrower one (core/text/scope.h). */
static int set_scope(struct store *st, struct obj *o, const char *value, char **out)
{
	char canon[SCOPE_STR_MAX], path[512], why[512];
	struct scope s, old;
	int rc;

	store_path(o, path, sizeof(path));
	if (o->kind != OBJ_VAR) {
		store_logf(st, "%s: only a variable has a scope of its own", path);
		return -EINVAL;
	}
	rc = store_scope_canon(st, value, canon, sizeof(canon), why, sizeof(why));
	if (rc) {
		store_logf(st, "%s: %s", path, why);
		return rc;
	}
	if (o->state == OBJ_SEALED && (scope_parse(o->scope, &old, NULL, 0) != 0 ||
				       scope_parse(canon, &s, NULL, 0) != 0 || !scope_narrows(&old, &s))) {
		store_logf(st, "%s: scope '%s' is not inside '%s': a sealed variable's scope may be narrowed, never "
			   "widened", path, value, o->scope);
		return -EPERM;
	}
	*out = strdup(canon);
	return *out ? 0 : -ENOMEM;
}

/* value (size bytes, names apart by spaces or newlines) as names one space apart into canon: its length,
 * -EINVAL for a part no namespace name could be, -E2BIG when it does not fit. */
static int store_refs_canon(const char *value, size_t size, char *canon, size_t len)
{
	char name[NAMES_LEAF_MAX + 1];
	size_t n = 0, i = 0;

	while (i < size) {
		size_t start, end;
		while (i < size && (value[i] == ' ' || value[i] == '\n'))
			i++;
		if (i == size)
			break;
		start = i;
		while (i < size && value[i] != ' ' && value[i] != '\n')
			i++;
		end = i;
		/* each part of the path a name the namespace could hold */
		for (size_t p = start; p < end;) {
			size_t q = p;
			while (q < end && value[q] != '/')
				q++;
			if (q - p > NAMES_LEAF_MAX)
				return -ENAMETOOLONG;
			memcpy(name, value + p, q - p);
			name[q - p] = '\0';
			if (names_check_leaf(name, NULL, 0) != 0)
				return -EINVAL;
			p = q + 1;
			if (q < end && p == end)
				return -EINVAL; /* a trailing slash */
		}
		if (n + (n ? 1 : 0) + (end - start) + 1 > len)
			return -E2BIG;
		if (n)
			canon[n++] = ' ';
		memcpy(canon + n, value + start, end - start);
		n += end - start;
	}
	canon[n] = '\0';
	return (int)n;
}

/* Replace o's type or doc (*field) with value, in memory and in the YP. */
static int set_field(struct store *st, struct obj *o, char **field, char *value, int flags)
{
	char *old = *field;
	int rc;

	if ((flags & XATTR_CREATE) && old)
		rc = -EEXIST;
	else if ((flags & XATTR_REPLACE) && !old)
		rc = -ENODATA;
	else {
		*field = value;
		rc = o->unlinked ? 0 : store_persist(st, o);
		if (rc == 0) {
			free(old);
			return 0;
		}
		*field = old;
	}
	free(value);
	return rc;
}

int store_setxattr(struct store *st, uint64_t id, const char *name, const char *value, size_t size, int flags)
{
	int a = xa_find(name), rc = 0;
	char *text = NULL;
	struct obj *o;

	if (a < 0)
		return a;
	if (a != XA_TYPE && a != XA_DOC && a != XA_SCOPE && a != XA_REFS)
		return -EPERM;
	if (size > STORE_DOC_MAX)
		return -E2BIG;
	if (memchr(value, '\0', size))
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o) {
		rc = -ENOENT;
	} else if (o->id == STORE_ROOT_ID) {
		rc = -EPERM;
	} else if (a == XA_SCOPE) {
		char raw[STORE_DOC_MAX + 1];
		memcpy(raw, value, size);
		raw[size] = '\0';
		rc = set_scope(st, o, raw, &text);
		if (rc == 0) { /* a scope is never absent: replace, whatever the flags say about creating */
			char *old = o->scope;
			o->scope = text;
			rc = o->unlinked ? 0 : store_persist(st, o);
			if (rc == 0)
				free(old);
			else {
				o->scope = old;
				free(text);
			}
		}
	} else if (a == XA_TYPE) {
		char raw[STORE_DOC_MAX + 1];
		memcpy(raw, value, size);
		raw[size] = '\0';
		rc = set_type(st, o, raw, &text);
		if (rc == 0)
			rc = set_field(st, o, &o->type, text, flags);
	} else if (a == XA_REFS) {
		char canon[STORE_DOC_MAX + 1];
		int n = store_refs_canon(value, size, canon, sizeof(canon));
		if (n < 0)
			rc = n;
		else if (n == 0) /* no names: no references, as removexattr */
			rc = (flags & XATTR_REPLACE) && !o->refs ? -ENODATA : set_field(st, o, &o->refs, NULL, 0);
		else
			rc = (text = strdup(canon)) ? set_field(st, o, &o->refs, text, flags) : -ENOMEM;
	} else {
		text = strndup(value, size);
		rc = text ? set_field(st, o, &o->doc, text, flags) : -ENOMEM;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_removexattr(struct store *st, uint64_t id, const char *name)
{
	int a = xa_find(name), rc;
	struct obj *o;

	if (a < 0)
		return a;
	if (a != XA_TYPE && a != XA_DOC && a != XA_REFS)
		return -EPERM;
	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o) {
		rc = -ENOENT;
	} else {
		char **field = a == XA_TYPE ? &o->type : a == XA_DOC ? &o->doc : &o->refs;
		if (!*field) {
			rc = -ENODATA;
		} else {
			char *old = *field;
			*field = NULL;
			rc = o->unlinked ? 0 : store_persist(st, o);
			if (rc == 0)
				free(old);
			else
				*field = old;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}
