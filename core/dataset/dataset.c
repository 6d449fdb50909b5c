/* SPDX-License-Identifier: MIT */
/* dataset.c -- the keeper of the datasets' trees (dataset.h): making a dataset, the thread that applies
 * the tree's rules (dstree.h) to the YP's rows, and the views its readers get. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dataset/dataset.h"
#include "core/os/hash.h"
#include "core/text/dtype.h"
#include "meta/yp.h"

#define TICK_MS 200
#define SPLITS_PER_PASS 256 /* splits (and shrinks) in one pass: a bulk insert may need many, the next pass goes on */

/* What the keeper remembers of one dataset between passes. */
struct kept {
	uint64_t dir;
	struct ds_limits limits;
	char limits_text[128];
	struct ds_tree tree;   /* as last read, with the shrink timers (low_since_ns) */
	uint64_t fingerprint;  /* of the rows last read */
	uint64_t version;
	bool seen;             /* still a dataset at this pass */
};

struct datasets {
	struct store *st;
	struct yp *yp;
	void (*log)(const char *msg);
	void (*changed)(void *arg, uint64_t dir);
	void *changed_arg;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* the kept array and n (changed by the keeper's list), versions, limits_text,
			       * stop, kicked; each kept's tree is the keeper thread's alone */
	pthread_cond_t cond;
	bool stop, kicked;
	struct kept *kept;
	size_t n, cap;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- reading a tree ---- */

static int add_row(void *arg, const struct yp_ds_row *r)
{
	struct ds_node n = { .id = r->id, .parent = r->parent, .height = r->height, .lo = r->lo, .hi = r->hi,
			     .items = r->items, .bytes = r->bytes };

	return ds_tree_add(arg, &n);
}

/* The tree of dataset dir as the YP holds it now, into *t (zeroed first). */
static int read_tree(struct yp *yp, uint64_t dir, struct ds_tree *t)
{
	int rc;

	memset(t, 0, sizeof(*t));
	rc = yp_each_ds_row(yp, (int64_t)dir, add_row, t);
	if (rc == 0 && t->n == 0)
		rc = -ENOENT;
	if (rc)
		ds_tree_free(t);
	return rc;
}

/* Of the rows in the order the YP gave them (by height, then lo), so equal trees agree. */
static uint64_t fingerprint(const struct ds_tree *t)
{
	uint64_t h = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct ds_node *n = &t->v[i];
		int64_t f[7] = { n->id, n->parent, n->height, (int64_t)n->lo, (int64_t)n->hi, (int64_t)n->items,
				 (int64_t)n->bytes };
		h = h * 1000003 ^ hash64(f, sizeof(f));
	}
	return h;
}

/* ---- changing a tree ---- */

/* Write a plan's rows in the caller's transaction. */
static int apply(struct yp *yp, uint64_t dir, const struct ds_plan *p)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		const struct ds_change *c = &p->v[i];
		struct yp_ds_row r = { .id = c->node.id, .dataset = (int64_t)dir, .parent = c->node.parent,
				       .height = c->node.height, .lo = c->node.lo, .hi = c->node.hi };

		if (c->kind == DS_PUT)
			rc = yp_ds_put_row(yp, &r);
		else if (c->kind == DS_DEL)
			rc = yp_ds_del_row(yp, c->node.id);
		else
			rc = yp_ds_move_items(yp, c->from, c->to, c->lo, c->hi);
	}
	return rc;
}

/* New node ids come after every dataset's (their rows share one table); under the caller's transaction,
 * so nobody else takes one meanwhile. */
static int next_ids(struct yp *yp, struct ds_tree *t)
{
	int64_t max = 0;
	int rc = yp_ds_max_row(yp, &max);

	if (rc == 0 && t->next_id <= max)
		t->next_id = max + 1;
	return rc;
}

/* One change of k's shape, all in one transaction: a split of leaf (mid found inside it) or, leaf 0, the
 * shrink that is due.  1 when something changed, 0 when nothing was due, -errno. */
static int change(struct datasets *d, struct kept *k, int64_t leaf, int64_t now)
{
	struct ds_plan p = { 0 };
	uint64_t mid = 0;
	int rc = 0;

	/* a shrink makes no node and reads nothing: planned first, the YP is touched only when one is due
	 * (most passes), rather than a transaction begun and rolled back on every tick */
	if (!leaf && ((rc = ds_shrink(&k->tree, &k->limits, now, &p)) != 0 || p.n == 0)) {
		ds_plan_free(&p);
		return rc;
	}
	rc = yp_begin(d->yp);
	if (rc) {
		ds_plan_free(&p);
		return rc;
	}
	if (leaf) {
		struct ds_node *l = ds_find(&k->tree, leaf);
		rc = next_ids(d->yp, &k->tree);
		if (rc == 0)
			rc = l ? yp_ds_median(d->yp, leaf, l->lo, &mid) : -ENOENT;
		if (rc == 0)
			rc = ds_split(&k->tree, &k->limits, leaf, mid, &p);
	}
	if (rc == 0)
		rc = apply(d->yp, k->dir, &p);
	if (rc == 0 && p.n)
		rc = yp_commit(d->yp);
	else
		yp_rollback(d->yp);
	if (rc == 0 && p.n) {
		store_dataset_touch(d->st, k->dir); /* for other nodes' pollers; a failure there changes no tree */
		rc = 1;
	}
	ds_plan_free(&p);
	return rc;
}

/* Read k's tree again, keeping the shrink timers of the nodes that are still there; a changed tree is a
 * new version.  0, or -ENOENT when k is no dataset any more. */
static int refresh(struct datasets *d, struct kept *k)
{
	struct ds_tree t;
	uint64_t f;
	int rc = read_tree(d->yp, k->dir, &t);

	if (rc)
		return rc;
	for (size_t i = 0; i < t.n; i++) {
		struct ds_node *old = ds_find(&k->tree, t.v[i].id);
		if (old && old->height == t.v[i].height)
			t.v[i].low_since_ns = old->low_since_ns;
	}
	if (t.next_id < k->tree.next_id)
		t.next_id = k->tree.next_id;
	ds_tree_free(&k->tree);
	k->tree = t;
	f = fingerprint(&t);
	if (f != k->fingerprint) {
		k->fingerprint = f;
		pthread_mutex_lock(&d->lock);
		k->version++;
		pthread_mutex_unlock(&d->lock);
	}
	return 0;
}

static bool stopping(struct datasets *d)
{
	return __atomic_load_n(&d->stop, __ATOMIC_RELAXED);
}

/* The rules, for one dataset: every leaf past its limits split, then the shrink that is due.  On the
 * keeper's thread, without d->lock (only that thread touches k's tree; the version readers see changes
 * under the lock), so a long pass holds up no reader of a .tree and no mkdir. */
static void keep(struct datasets *d, struct kept *k)
{
	uint64_t version = k->version;
	int splits = 0, rc;
	char why[256];

	if (refresh(d, k) != 0)
		return;
	for (bool again = true; again && splits < SPLITS_PER_PASS && !stopping(d);) {
		again = false;
		for (size_t i = 0; i < k->tree.n; i++) {
			struct ds_node *l = &k->tree.v[i];
			if (l->height != -1 || !ds_leaf_over(&k->limits, l))
				continue;
			rc = change(d, k, l->id, 0);
			if (rc < 0 && rc != -ENOENT && rc != -EINVAL)
				text_log(d->log, "dataset %llu: split of leaf %lld failed: %s", (unsigned long long)k->dir,
					 (long long)l->id, strerror(-rc));
			if (refresh(d, k) != 0)
				return;
			if (rc == 1) {
				splits++;
				again = true;
			}
			break; /* the tree changed under i: from the start */
		}
	}
	/* every shrink that is due: each one restarts the clock of the nodes it made, so this ends */
	for (int shrinks = 0; shrinks < SPLITS_PER_PASS; shrinks++) {
		rc = change(d, k, 0, now_ns());
		if (rc < 0)
			text_log(d->log, "dataset %llu: shrink failed: %s", (unsigned long long)k->dir, strerror(-rc));
		if (rc != 1 || refresh(d, k) != 0)
			break;
	}
	if (ds_check(&k->tree, why, sizeof(why)) != 0)
		text_log(d->log, "dataset %llu: its tree is not sound: %s", (unsigned long long)k->dir, why);
	if (k->version != version && d->changed)
		d->changed(d->changed_arg, k->dir);
}

/* ---- the list of datasets ---- */

static struct kept *kept_of(struct datasets *d, uint64_t dir)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->kept[i].dir == dir)
			return &d->kept[i];
	return NULL;
}

static int note_ds(void *arg, int64_t dir, const char *limits)
{
	struct datasets *d = arg;
	struct kept *k = kept_of(d, (uint64_t)dir);

	if (!k) {
		if (d->n == d->cap) {
			size_t cap = d->cap ? 2 * d->cap : 8;
			struct kept *v = realloc(d->kept, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			d->kept = v;
			d->cap = cap;
		}
		k = &d->kept[d->n++];
		memset(k, 0, sizeof(*k));
		k->dir = (uint64_t)dir;
		k->version = 1;
	}
	k->seen = true;
	if (strcmp(k->limits_text, limits) != 0) {
		snprintf(k->limits_text, sizeof(k->limits_text), "%s", limits);
		if (ds_limits_parse(limits, &k->limits, NULL, 0) != 0)
			k->limits = (struct ds_limits)DS_LIMITS_DEFAULT;
	}
	return 0;
}

/* Bring the list up to the YP's datasets (a dropped one leaves it). */
static void list(struct datasets *d)
{
	for (size_t i = 0; i < d->n; i++)
		d->kept[i].seen = false;
	if (yp_each_ds(d->yp, note_ds, d) != 0)
		return;
	for (size_t i = 0; i < d->n;) {
		if (d->kept[i].seen) {
			i++;
			continue;
		}
		ds_tree_free(&d->kept[i].tree);
		d->kept[i] = d->kept[--d->n];
	}
}

static void *keeper(void *arg)
{
	struct datasets *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		struct timespec until;
		size_t n;

		list(d); /* the one place the array changes, under the lock: keep may then go without it */
		n = d->n;
		pthread_mutex_unlock(&d->lock);
		for (size_t i = 0; i < n && !stopping(d); i++)
			keep(d, &d->kept[i]);
		pthread_mutex_lock(&d->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!d->stop && !d->kicked && pthread_cond_timedwait(&d->cond, &d->lock, &until) == 0)
			;
		d->kicked = false;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int datasets_start(struct store *st, void (*log)(const char *msg), void (*changed)(void *arg, uint64_t dir),
		   void *arg, struct datasets **out)
{
	struct datasets *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->st = st;
	d->yp = store_yp(st);
	d->log = log;
	d->changed = changed;
	d->changed_arg = arg;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	rc = -pthread_create(&d->thread, NULL, keeper, d);
	if (rc) {
		pthread_cond_destroy(&d->cond);
		pthread_mutex_destroy(&d->lock);
		free(d);
		return rc;
	}
	d->running = true;
	*out = d;
	return 0;
}

void datasets_stop(struct datasets *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	__atomic_store_n(&d->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (d->running)
		pthread_join(d->thread, NULL);
	for (size_t i = 0; i < d->n; i++)
		ds_tree_free(&d->kept[i].tree);
	free(d->kept);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void datasets_kick(struct datasets *d)
{
	pthread_mutex_lock(&d->lock);
	d->kicked = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* ---- making one ---- */

struct make {
	const char *limits;
};

/* The dataset's own rows, in the transaction of its directory's. */
static int first_rows(void *arg, struct yp *yp, uint64_t id)
{
	struct make *m = arg;
	struct ds_tree t = { 0 };
	struct ds_plan p = { 0 };
	int64_t max = 0;
	int rc = yp_ds_add(yp, (int64_t)id, m->limits);

	if (rc == 0)
		rc = yp_ds_max_row(yp, &max);
	if (rc == 0)
		rc = ds_tree_new(&t, max + 1, &p);
	if (rc == 0)
		rc = apply(yp, id, &p);
	ds_plan_free(&p);
	ds_tree_free(&t);
	return rc;
}

int datasets_make(struct datasets *d, const char *name, const struct dataset_spec *spec, uint32_t mode,
		  uint32_t uid, uint32_t gid, uint64_t *id, char *why, size_t whylen)
{
	struct ds_limits l = DS_LIMITS_DEFAULT;
	char canon[128], err[256];
	struct make m = { canon };
	struct dtype t;
	int rc = spec->limits ? ds_limits_parse(spec->limits, &l, why, whylen) : 0;

	if (rc)
		return rc;
	if (spec->type && dtype_parse(spec->type, &t, err, sizeof(err)))
		return text_say(why, whylen, -EINVAL, "type=%s refused: %s", spec->type, err);
	rc = ds_limits_format(&l, canon, sizeof(canon));
	if (rc == 0)
		rc = store_dataset_make(d->st, name, spec->type, spec->doc, mode, uid, gid, first_rows, &m, id);
	if (rc == -E2BIG)
		return text_say(why, whylen, rc, "doc= is longer than %d bytes", STORE_DOC_MAX);
	if (rc == -EEXIST)
		return text_say(why, whylen, rc, "datasets/%s exists", name);
	if (rc == -EINVAL || rc == -ENAMETOOLONG)
		return text_say(why, whylen, rc, "'%s' cannot be a dataset's name (see the daemon's log)", name);
	if (rc)
		return text_say(why, whylen, rc, "cannot make datasets/%s: %s", name, strerror(-rc));
	datasets_kick(d);
	return 0;
}

/* ---- views ---- */

struct tree_walk {
	const struct ds_tree *t;
	struct dataset_view *out;
};

/* Depth first from node i; a manager's counts its subtree's.  Kids by lo. */
static void walk(struct tree_walk *w, size_t i, uint64_t *items, uint64_t *bytes)
{
	const struct ds_tree *t = w->t;
	struct dataset_node *n = &w->out->v[w->out->n++];
	uint64_t lo = t->v[i].lo;

	*n = (struct dataset_node){ .id = t->v[i].id, .parent = t->v[i].parent, .height = t->v[i].height,
				    .lo = t->v[i].lo, .hi = t->v[i].hi, .items = t->v[i].items, .bytes = t->v[i].bytes };
	while (t->v[i].height >= 0 && lo < t->v[i].hi) { /* the kids, one after another by their ranges */
		size_t k = t->n;
		for (size_t j = 0; j < t->n; j++)
			if (t->v[j].parent == t->v[i].id && t->v[j].lo == lo)
				k = j;
		if (k == t->n)
			break; /* not sound: ds_check says so in the log */
		uint64_t ki = 0, kb = 0;
		walk(w, k, &ki, &kb);
		n->items += ki;
		n->bytes += kb;
		n->kids++;
		lo = t->v[k].hi;
	}
	*items = n->items;
	*bytes = n->bytes;
}

int datasets_view(struct datasets *d, uint64_t dir, struct dataset_view *out)
{
	struct ds_tree t;
	struct ds_node *root;
	uint64_t items, bytes;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_tree(d->yp, dir, &t);
	if (rc)
		return rc;
	out->v = calloc(t.n, sizeof(*out->v));
	root = ds_root(&t);
	if (!out->v || !root) {
		rc = out->v ? -EIO : -ENOMEM;
		ds_tree_free(&t);
		free(out->v);
		out->v = NULL;
		return rc;
	}
	walk(&(struct tree_walk){ &t, out }, (size_t)(root - t.v), &items, &bytes);
	out->height = root->height;
	pthread_mutex_lock(&d->lock);
	struct kept *k = kept_of(d, dir);
	if (k) {
		snprintf(out->limits, sizeof(out->limits), "%s", k->limits_text);
		out->version = k->version;
	}
	pthread_mutex_unlock(&d->lock);
	ds_tree_free(&t);
	return 0;
}

void dataset_view_free(struct dataset_view *v)
{
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

uint64_t datasets_version(struct datasets *d, uint64_t dir)
{
	uint64_t v = 0;

	pthread_mutex_lock(&d->lock);
	struct kept *k = kept_of(d, dir);
	if (k)
		v = k->version;
	pthread_mutex_unlock(&d->lock);
	return v;
}

int dataset_view_text(const struct dataset_view *v, const char *name, const char *node, struct text *out)
{
	size_t leaves = 0;
	int rc;

	for (size_t i = 0; i < v->n; i++)
		leaves += v->v[i].height == -1;
	rc = text_printf(out, "# dataset %s: height %d, %zu managers, %zu leaves, %llu items, %llu bytes; limits %s\n"
			      "id\tparent\theight\tkind\tlo\thi\tkids\titems\tbytes\tnode\n",
			 name, v->height, v->n - leaves, leaves, v->n ? (unsigned long long)v->v[0].items : 0ULL,
			 v->n ? (unsigned long long)v->v[0].bytes : 0ULL, v->limits);
	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		const struct dataset_node *n = &v->v[i];
		rc = text_printf(out, "%lld\t%lld\t%d\t%s\t%016llx\t%016llx\t%u\t%llu\t%llu\t%s\n", (long long)n->id,
				 (long long)n->parent, n->height, n->height < 0 ? "leaf" : "manager",
				 (unsigned long long)n->lo, (unsigned long long)n->hi, n->kids,
				 (unsigned long long)n->items, (unsigned long long)n->bytes, node);
	}
	return rc;
}
