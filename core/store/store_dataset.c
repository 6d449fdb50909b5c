/* SPDX-License-Identifier: MIT */
/* store_dataset.c -- the namespace's side of keyed datasets (store.h): datasets/ and what a dataset's
 * directory may hold.  The tree of a dataset and its rules are core/dataset's; the item rows follow the
 * objects through meta's triggers, so nothing here writes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/storeInt.h"
#include "core/text/dtype.h"
#include "core/text/text.h"
#include "meta/yp.h"

static int mark(void *arg, int64_t dir, const char *limits)
{
	struct obj *o = ns_by_id(arg, (uint64_t)dir);

	(void)limits;
	if (o && o->kind == OBJ_DIR)
		o->dataset = true;
	return 0;
}

int store_datasets_load(struct store *st)
{
	return yp_each_ds(st->yp, mark, st);
}

int store_dataset_allows(struct store *st, const struct obj *dir, enum obj_kind kind, const char *name)
{
	if (dir->id == st->datasets_id)
		return -EPERM; /* datasets are made by store_dataset_make */
	if (!dir->dataset)
		return 0;
	if (kind != OBJ_VAR)
		return -EPERM;
	if (strcmp(name, ".tree") == 0) {
		store_logf(st, "refused key \".tree\": it names the dataset's tree");
		return -EINVAL;
	}
	return 0;
}

int store_item_type_locked(const struct obj *dir, const char *own, uint64_t size, char *canon, char *why,
			   size_t whylen)
{
	struct dtype base, t;
	int rc;

	if (!dir || !dir->dataset || !dir->type || dtype_parse(dir->type, &base, NULL, 0))
		return 0;
	if (own) {
		rc = dtype_parse(own, &t, why, whylen);
		if (rc)
			return -EINVAL;
		if (!dtype_narrows(&t, &base))
			return text_say(why, whylen, -EINVAL, "type '%s' does not narrow the dataset's '%s'", own,
					dir->type);
		if (t.nbytes != size)
			return text_say(why, whylen, -EINVAL, "its type '%s' is %llu bytes, it holds %llu", own,
					(unsigned long long)t.nbytes, (unsigned long long)size);
	} else if (dtype_fit(&base, size, &t)) {
		return text_say(why, whylen, -EINVAL, "%llu bytes are not a whole number of the dataset's '%s' (%llu "
				"bytes each)", (unsigned long long)size, dir->type, (unsigned long long)base.nbytes);
	}
	rc = dtype_format(&t, canon, DTYPE_STR_MAX);
	return rc ? rc : 1;
}

int store_item_type(struct store *st, uint64_t dir, const char *own, uint64_t size, char *canon, char *why,
		    size_t whylen)
{
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = store_item_type_locked(ns_by_id(st, dir), own, size, canon, why, whylen);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* A dataset's type, canonical, into canon; "" for none. */
static int dataset_type(struct store *st, const char *type, char *canon)
{
	char err[256];
	struct dtype t;

	canon[0] = '\0';
	if (!type)
		return 0;
	if (dtype_parse(type, &t, err, sizeof(err))) {
		store_logf(st, "refused dataset type '%.64s': %s", type, err);
		return -EINVAL;
	}
	return dtype_format(&t, canon, DTYPE_STR_MAX);
}

int store_dataset_make(struct store *st, const char *name, const char *type, const char *doc, uint32_t mode,
		       uint32_t uid, uint32_t gid, int (*rows)(void *arg, struct yp *yp, uint64_t id), void *arg,
		       uint64_t *id)
{
	struct obj *dir, *o;
	int64_t now = store_now_ns();
	struct yp_obj row;
	char why[128], canon[DTYPE_STR_MAX], *tcopy, *dcopy;
	int rc = names_check_leaf(name, why, sizeof(why));

	if (rc) {
		if (rc == -EINVAL)
			store_logf(st, "refused dataset name \"%.64s\": %s", name, why);
		return rc;
	}
	rc = dataset_type(st, type, canon);
	if (rc)
		return rc;
	if (doc && strlen(doc) > STORE_DOC_MAX)
		return -E2BIG;
	tcopy = canon[0] ? strdup(canon) : NULL;
	dcopy = doc ? strdup(doc) : NULL;
	if ((canon[0] && !tcopy) || (doc && !dcopy)) {
		free(tcopy);
		free(dcopy);
		return -ENOMEM;
	}
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, st->datasets_id);
	if (!dir) {
		rc = -ENOENT;
		goto out;
	}
	if (ns_child(st, dir, name)) {
		rc = -EEXIST;
		goto out;
	}
	row = (struct yp_obj){ .id = (int64_t)store_new_id(st), .parent = (int64_t)dir->id, .name = name, .kind = "dir",
			       .state = "sealed", .scope = "any", .node = st->node_id, .mode = mode & 07777,
			       .uid = uid, .gid = gid, .created_ns = now, .modified_ns = now, .sealed_ns = now,
			       .type = canon[0] ? canon : NULL, .doc = doc };
	rc = yp_begin(st->yp);
	if (rc)
		goto out;
	rc = yp_obj_insert(st->yp, &row);
	if (rc == 0)
		rc = rows(arg, st->yp, (uint64_t)row.id);
	if (rc == 0)
		rc = yp_commit(st->yp);
	else
		yp_rollback(st->yp);
	if (rc)
		goto out;
	o = ns_new(st, (uint64_t)row.id, OBJ_DIR, name);
	if (!o) { /* the rows are in: the next start finds the dataset */
		rc = -ENOMEM;
		goto out;
	}
	o->state = OBJ_SEALED;
	o->dataset = true;
	o->type = tcopy;
	o->doc = dcopy;
	tcopy = dcopy = NULL;
	o->mode = mode & 07777;
	o->uid = uid;
	o->gid = gid;
	o->created_ns = o->modified_ns = o->sealed_ns = now; /* born sealed: the one-winner rule's time */
	ns_link(st, dir, o, NULL);
	dir->nsubdirs++;
	dir->modified_ns = now;
	*id = o->id;
out:
	pthread_mutex_unlock(&st->lock);
	free(tcopy);
	free(dcopy);
	return rc;
}

struct limits_of {
	int64_t id;
	char *buf;
	size_t len;
	bool found;
};

static int limits_of(void *arg, int64_t dir, const char *limits)
{
	struct limits_of *l = arg;

	if (dir != l->id)
		return 0;
	l->found = true;
	return snprintf(l->buf, l->len, "%s", limits) >= (int)l->len ? -ERANGE : 0;
}

int store_dataset_limits(struct store *st, uint64_t id, char *buf, size_t len)
{
	struct limits_of l = { (int64_t)id, buf, len, false };
	int rc = yp_each_ds(st->yp, limits_of, &l);

	return rc ? rc : l.found ? 0 : -ENOENT;
}

int store_dataset_touch(struct store *st, uint64_t id)
{
	struct obj *o;
	int rc;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || !o->dataset || o->unlinked) {
		rc = -ENOENT;
	} else {
		o->modified_ns = store_now_ns();
		rc = store_persist(st, o);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

uint64_t store_datasets_id(const struct store *st)
{
	return st->datasets_id;
}

bool store_is_dataset(struct store *st, uint64_t id, char *name)
{
	struct obj *o;
	bool yes;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	yes = o && o->dataset && !o->unlinked;
	if (yes && name)
		strcpy(name, o->name);
	pthread_mutex_unlock(&st->lock);
	return yes;
}

int store_datasets(struct store *st, uint64_t **ids, size_t *n)
{
	struct obj *dir;
	uint64_t *v = NULL;
	size_t k = 0;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, st->datasets_id);
	if (dir && dir->nchildren && !(v = calloc(dir->nchildren, sizeof(*v))))
		rc = -ENOMEM;
	for (struct obj *c = dir && v ? dir->first_child : NULL; c && k < dir->nchildren; c = c->next_sib)
		if (c->dataset)
			v[k++] = c->id;
	pthread_mutex_unlock(&st->lock);
	*ids = v;
	*n = k;
	return rc;
}
