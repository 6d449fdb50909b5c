/* SPDX-License-Identifier: MIT */
/* test_dstree.c -- the shape of a keyed dataset: limits parsed and printed, the minimal tree, the shape's
 * invariants refused one by one, leaf splits that grow managers and the root (the proxy), and merges and
 * root adoptions that shrink it back only once their condition has held for settle_ms.
 *
 * The test plays the caller and its storage: it keeps the items (hash, bytes, leaf), applies every plan to
 * a table of rows as a database with immediate foreign keys would (a PUT's parent must exist, a DEL'd row
 * must have no kids and no items left), moves items for each DS_MOVE_ITEMS, and recounts only the leaves a
 * DS_MOVE_ITEMS names, as dstree.h asks.  After every plan the rows must equal the in-memory tree, every
 * item must sit in the leaf whose range holds its hash, and every leaf's counts must be right. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset/dstree.h"
#include "tests/check.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MS 1000000LL
/* Short names for the hash space in the tables of nodes below: its end, half and quarter. */
#define E DS_HASH_END
#define H (DS_HASH_END / 2)
#define Q (DS_HASH_END / 4)
/* A node row: id, parent, height, [lo, hi), and for NC a leaf's counts. */
#define ND(id_, parent_, height_, lo_, hi_) NC(id_, parent_, height_, lo_, hi_, 0, 0)
#define NC(id_, parent_, height_, lo_, hi_, items_, bytes_)                                                   \
	{ .id = id_, .parent = parent_, .height = height_, .lo = lo_, .hi = hi_, .items = items_, .bytes = bytes_ }

/* ---- limits ------------------------------------------------------------------------------------------ */

/* Field by field: the padding of a struct copy is anything. */
static int limits_eq(const struct ds_limits *a, const struct ds_limits *b)
{
	return a->kids == b->kids && a->items == b->items && a->bytes == b->bytes && a->settle_ms == b->settle_ms;
}

static void test_limits(void)
{
	static const char *const bad[][2] = {
		{ "", "empty" },
		{ ",", "empty term" },
		{ "kids:4,", "empty term" },
		{ ",kids:4", "empty term" },
		{ "kids:4,,items:9", "empty term" },
		{ "kids", "key:value" },
		{ "kids:", "no value" },
		{ ":4", "unknown key" },
		{ "leaves:4", "unknown key" },
		{ "Kids:4", "unknown key" },
		{ "kids:4,kids:5", "twice" },
		{ "kids:1", "kids must be 2 to 1024, not 1" },
		{ "kids:1025", "kids must be 2 to 1024" },
		{ "kids:99999999999999999999", "too large" },
		{ "kids: 4", "decimal" },
		{ "kids:4x", "decimal" },
		{ "kids:-4", "decimal" },
		{ "items:1", "items must be at least 2" },
		{ "items:+3", "decimal" },
		{ "items:abc", "decimal" },
		{ "items:18446744073709551616", "too large" },
		{ "bytes:0", "bytes must be at least 1" },
		{ "bytes:0K", "bytes must be at least 1" },
		{ "bytes:K", "decimal number of bytes" },
		{ "bytes:1X", "decimal number of bytes" },
		{ "bytes:1.5G", "decimal number of bytes" },
		{ "bytes:17179869184G", "too large" },
		{ "settle:3600.001", "at most 3600" },
		{ "settle:3601", "at most 3600" },
		{ "settle:1.2345", "fractional" },
		{ "settle:.5", "fractional" },
		{ "settle:5.", "fractional" },
		{ "settle:1,5", "key:value" },
		{ "settle:99999999999999999999", "too large" },
	};
	const struct ds_limits def = DS_LIMITS_DEFAULT;
	struct ds_limits l, back;
	char why[256], buf[128];

	CHECK_RC(ds_limits_parse("kids:4", &l, why, sizeof(why)), 0);
	CHECK(l.kids == 4 && l.items == def.items && l.bytes == def.bytes && l.settle_ms == def.settle_ms);
	CHECK_RC(ds_limits_parse("settle:0.2,bytes:64M,items:8,kids:1024", &l, why, sizeof(why)), 0);
	CHECK(l.kids == 1024 && l.items == 8 && l.bytes == 64ULL << 20 && l.settle_ms == 200);
	CHECK_RC(ds_limits_parse("bytes:3G", &l, why, sizeof(why)), 0);
	CHECK(l.bytes == 3ULL << 30 && l.kids == def.kids);
	CHECK_RC(ds_limits_parse("bytes:1k", &l, why, sizeof(why)), 0);
	CHECK(l.bytes == 1024);
	CHECK_RC(ds_limits_parse("bytes:12345,settle:5", &l, why, sizeof(why)), 0);
	CHECK(l.bytes == 12345 && l.settle_ms == 5000);
	CHECK_RC(ds_limits_parse("settle:0.005", &l, why, sizeof(why)), 0);
	CHECK(l.settle_ms == 5);
	CHECK_RC(ds_limits_parse("settle:3600.000,kids:2,items:2,bytes:1", &l, why, sizeof(why)), 0);
	CHECK(l.settle_ms == 3600000 && l.kids == 2 && l.items == 2 && l.bytes == 1);
	CHECK_RC(ds_limits_parse("settle:0", &l, why, sizeof(why)), 0);
	CHECK(l.settle_ms == 0);

	for (size_t i = 0; i < N(bad); i++) {
		l = (struct ds_limits){ 7, 7, 7, 7 };
		why[0] = 0;
		int rc = ds_limits_parse(bad[i][0], &l, why, sizeof(why));
		if (rc != -EINVAL || !strstr(why, bad[i][1]) || strncmp(why, "limits: ", 8) != 0)
			fprintf(stderr, "\"%s\": rc %d, why \"%s\", want \"%s\"\n", bad[i][0], rc, why, bad[i][1]);
		CHECK(rc == -EINVAL && strstr(why, bad[i][1]) != NULL);
		CHECK(l.kids == 7 && l.items == 7 && l.bytes == 7 && l.settle_ms == 7); /* untouched */
	}
	CHECK_RC(ds_limits_parse(NULL, &l, why, sizeof(why)), -EINVAL);

	CHECK_RC(ds_limits_format(&def, buf, sizeof(buf)), 0);
	CHECK(strcmp(buf, "kids:16,items:4096,bytes:67108864,settle:5") == 0);
	CHECK_RC(ds_limits_parse(buf, &back, why, sizeof(why)), 0);
	CHECK(limits_eq(&back, &def));
	{
		static const struct { uint32_t ms; const char *s; } st[] = {
			{ 200, "0.2" }, { 250, "0.25" }, { 5, "0.005" },
			{ 1001, "1.001" }, { 0, "0" }, { 3600000, "3600" },
		};
		for (size_t i = 0; i < N(st); i++) {
			struct ds_limits x = { 4, 8, 1000, st[i].ms };
			char want[64];
			snprintf(want, sizeof(want), "kids:4,items:8,bytes:1000,settle:%s", st[i].s);
			CHECK_RC(ds_limits_format(&x, buf, sizeof(buf)), 0);
			CHECK(strcmp(buf, want) == 0);
			CHECK_RC(ds_limits_parse(buf, &back, why, sizeof(why)), 0);
			CHECK(limits_eq(&back, &x));
		}
	}
	{
		size_t need = strlen("kids:16,items:4096,bytes:67108864,settle:5") + 1;
		CHECK_RC(ds_limits_format(&def, buf, need - 1), -ERANGE);
		CHECK_RC(ds_limits_format(&def, buf, need), 0);
		CHECK_RC(ds_limits_format(&def, NULL, 0), -ERANGE);
	}
}

/* ---- the caller and its storage ---------------------------------------------------------------------- */

#define MAX_ITEMS 2000
#define MAX_ROWS 4096

struct item {
	uint64_t hash, bytes;
	int64_t leaf;
	int live;
};

struct world {
	struct ds_tree t;
	struct ds_limits l;
	struct ds_plan p;
	struct ds_node rows[MAX_ROWS]; /* the dataset's node table */
	size_t nrows;
	struct item items[MAX_ITEMS];
	size_t nitems;
	unsigned splits, proxies, leaf_merges, manager_merges, adoptions;
};

static struct ds_node *row(struct world *w, int64_t id)
{
	for (size_t i = 0; i < w->nrows; i++)
		if (w->rows[i].id == id)
			return &w->rows[i];
	return NULL;
}

static void recount(struct world *w, int64_t leaf)
{
	struct ds_node *n = ds_find(&w->t, leaf), *r = row(w, leaf);
	uint64_t items = 0, bytes = 0;

	for (size_t i = 0; i < w->nitems; i++)
		if (w->items[i].live && w->items[i].leaf == leaf) {
			items++;
			bytes += w->items[i].bytes;
		}
	CHECK(n != NULL && r != NULL);
	if (n && r) {
		n->items = r->items = items;
		n->bytes = r->bytes = bytes;
	}
}

/* The plan, in order, into the rows and items, as one transaction with immediate foreign keys would take
 * it; then the recounts dstree.h asks for.  Returns the number of DS_DELs. */
static unsigned apply(struct world *w)
{
	int64_t named[64];
	size_t nnamed = 0;
	unsigned dels = 0;

	for (size_t c = 0; c < w->p.n; c++) {
		const struct ds_change *ch = &w->p.v[c];
		struct ds_node *r;
		switch (ch->kind) {
		case DS_PUT:
			CHECK(ch->node.parent == 0 || row(w, ch->node.parent) != NULL);
			r = row(w, ch->node.id);
			if (!r) {
				CHECK(w->nrows < MAX_ROWS);
				if (w->nrows == MAX_ROWS)
					return dels;
				r = &w->rows[w->nrows++];
			}
			*r = ch->node;
			break;
		case DS_DEL:
			dels++;
			r = row(w, ch->node.id);
			CHECK(r != NULL);
			for (size_t i = 0; i < w->nrows; i++)
				CHECK(w->rows[i].parent != ch->node.id);
			for (size_t i = 0; i < w->nitems; i++)
				CHECK(!w->items[i].live || w->items[i].leaf != ch->node.id);
			if (r)
				*r = w->rows[--w->nrows];
			break;
		case DS_MOVE_ITEMS:
			CHECK(row(w, ch->from) && row(w, ch->to) && row(w, ch->from)->height == -1 &&
			      row(w, ch->to)->height == -1);
			CHECK(ch->lo < ch->hi);
			for (size_t i = 0; i < w->nitems; i++)
				if (w->items[i].live && w->items[i].leaf == ch->from && w->items[i].hash >= ch->lo &&
				    w->items[i].hash < ch->hi)
					w->items[i].leaf = ch->to;
			if (nnamed + 2 <= N(named)) {
				named[nnamed++] = ch->from;
				named[nnamed++] = ch->to;
			}
			break;
		}
	}
	for (size_t i = 0; i < nnamed; i++)
		if (ds_find(&w->t, named[i]))
			recount(w, named[i]);
	return dels;
}

static int by_id(const void *a, const void *b)
{
	const struct ds_node *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_lo(const void *a, const void *b)
{
	const struct ds_node *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The rows are the tree, the tree is sound, every item is where its hash says and every leaf's counts are
 * right; with within_limits, no manager has more than l.kids kids and no leaf is over.  0 or -1. */
static int verify(struct world *w, int within_limits)
{
	static struct ds_node mem[MAX_ROWS], leaves[MAX_ROWS];
	static uint64_t cnt[MAX_ROWS], byt[MAX_ROWS], kids[MAX_ROWS];
	size_t nleaves = 0;
	int before = check_failures;
	char why[256];

	if (ds_check(&w->t, why, sizeof(why)) != 0) {
		fprintf(stderr, "ds_check: %s\n", why);
		CHECK(0);
		return -1;
	}
	CHECK(w->t.n == w->nrows);
	if (w->t.n != w->nrows || w->t.n > MAX_ROWS)
		return -1;
	memcpy(mem, w->t.v, w->t.n * sizeof(*mem));
	qsort(mem, w->t.n, sizeof(*mem), by_id);
	qsort(w->rows, w->nrows, sizeof(*w->rows), by_id);
	for (size_t i = 0; i < w->nrows; i++) {
		const struct ds_node *a = &mem[i], *b = &w->rows[i];
		CHECK(a->id == b->id && a->parent == b->parent && a->height == b->height && a->lo == b->lo &&
		      a->hi == b->hi && a->items == b->items && a->bytes == b->bytes);
		if (a->height == -1)
			leaves[nleaves++] = *a;
	}
	qsort(leaves, nleaves, sizeof(*leaves), by_lo);
	memset(cnt, 0, nleaves * sizeof(*cnt));
	memset(byt, 0, nleaves * sizeof(*byt));
	for (size_t i = 0; i < w->nitems; i++) {
		const struct item *it = &w->items[i];
		size_t lo = 0, hi = nleaves;
		if (!it->live)
			continue;
		while (hi - lo > 1) {
			size_t m = (lo + hi) / 2;
			if (leaves[m].lo <= it->hash)
				lo = m;
			else
				hi = m;
		}
		CHECK(leaves[lo].lo <= it->hash && it->hash < leaves[lo].hi && it->leaf == leaves[lo].id);
		cnt[lo]++;
		byt[lo] += it->bytes;
	}
	for (size_t j = 0; j < nleaves; j++) {
		CHECK(leaves[j].items == cnt[j] && leaves[j].bytes == byt[j]);
		if (within_limits)
			CHECK(!ds_leaf_over(&w->l, &leaves[j]));
	}
	if (within_limits) {
		memset(kids, 0, w->t.n * sizeof(*kids));
		for (size_t i = 0; i < w->t.n; i++) {
			struct ds_node key = { .id = mem[i].parent };
			const struct ds_node *par;
			if (!mem[i].parent)
				continue;
			par = bsearch(&key, mem, w->t.n, sizeof(*mem), by_id);
			if (par)
				kids[par - mem]++;
		}
		for (size_t i = 0; i < w->t.n; i++)
			CHECK(kids[i] <= w->l.kids);
	}
	return check_failures == before ? 0 : -1;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The caller's split of an over-full leaf: at the median of its items' hashes. */
static int split_leaf(struct world *w, struct ds_node *leaf)
{
	static uint64_t h[MAX_ITEMS];
	size_t nh = 0;
	int64_t id = leaf->id, root = ds_root(&w->t)->id;
	int height = ds_height(&w->t);
	uint64_t mid, hi = leaf->hi;

	for (size_t i = 0; i < w->nitems; i++)
		if (w->items[i].live && w->items[i].leaf == id)
			h[nh++] = w->items[i].hash;
	qsort(h, nh, sizeof(*h), cmp_u64);
	mid = h[nh / 2];
	CHECK_RC(ds_split(&w->t, &w->l, id, mid, &w->p), 0);
	CHECK(w->p.n >= 3);
	if (w->p.n < 3)
		return -1;
	{
		const struct ds_change *a = &w->p.v[w->p.n - 3], *b = &w->p.v[w->p.n - 2], *m = &w->p.v[w->p.n - 1];
		CHECK(a->kind == DS_PUT && a->node.id == id && a->node.hi == mid);
		CHECK(b->kind == DS_PUT && b->node.height == -1 && b->node.lo == mid && b->node.hi == hi);
		CHECK(b->node.parent == ds_find(&w->t, id)->parent && row(w, b->node.id) == NULL);
		CHECK(m->kind == DS_MOVE_ITEMS && m->from == id && m->to == b->node.id && m->lo == mid && m->hi == hi);
	}
	if (ds_height(&w->t) != height) {
		/* the root made room by pushing its kids down into a proxy, then the proxy split */
		const struct ds_change *px = &w->p.v[0], *r = &w->p.v[1];
		CHECK(ds_height(&w->t) == height + 1);
		CHECK(px->kind == DS_PUT && px->node.parent == root && px->node.height == height &&
		      px->node.lo == 0 && px->node.hi == DS_HASH_END && row(w, px->node.id) == NULL);
		CHECK(r->kind == DS_PUT && r->node.id == root && r->node.height == height + 1 && r->node.parent == 0);
		w->proxies++;
	}
	CHECK(ds_root(&w->t)->id == root); /* the dataset's row keeps pointing at its root */
	CHECK(apply(w) == 0);
	w->splits++;
	return verify(w, 1);
}

static int insert(struct world *w, uint64_t hash, uint64_t bytes)
{
	struct item *it = &w->items[w->nitems++];
	struct ds_node *leaf = ds_leaf_of(&w->t, hash), *r;

	CHECK(leaf != NULL);
	*it = (struct item){ hash, bytes, leaf->id, 1 };
	/* the caller keeps counts current as items come */
	r = row(w, leaf->id);
	leaf->items++;
	leaf->bytes += bytes;
	r->items++;
	r->bytes += bytes;
	for (int again = 1; again;) {
		again = 0;
		for (size_t i = 0; i < w->t.n; i++)
			if (w->t.v[i].height == -1 && ds_leaf_over(&w->l, &w->t.v[i])) {
				if (split_leaf(w, &w->t.v[i]) != 0)
					return -1;
				again = 1;
				break;
			}
	}
	return 0;
}

static void world_new(struct world *w, const char *limits)
{
	char why[256];

	memset(w, 0, sizeof(*w));
	CHECK_RC(ds_limits_parse(limits, &w->l, why, sizeof(why)), 0);
	CHECK_RC(ds_tree_new(&w->t, 1, &w->p), 0);
	apply(w);
}

static size_t count_leaves(const struct ds_tree *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->v[i].height == -1;
	return n;
}

/* One ds_shrink at now, its plan applied and checked: at most one shrink, of the kind its DEL says. */
static int shrink_at(struct world *w, int64_t now)
{
	int height = ds_height(&w->t);
	size_t leaves = count_leaves(&w->t);
	unsigned dels;

	CHECK_RC(ds_shrink(&w->t, &w->l, now, &w->p), 0);
	if (w->p.n == 0)
		return 0;
	{
		const struct ds_change *d = &w->p.v[w->p.n - 1];
		CHECK(d->kind == DS_DEL);
		if (ds_height(&w->t) == height - 1) {
			w->adoptions++;
			CHECK(d->node.parent == ds_root(&w->t)->id && d->node.height == height - 1);
		} else if (d->node.height == -1) {
			w->leaf_merges++;
			CHECK(count_leaves(&w->t) == leaves - 1);
			CHECK(w->p.n == 3 && w->p.v[1].kind == DS_MOVE_ITEMS && w->p.v[1].from == d->node.id);
		} else {
			w->manager_merges++;
		}
	}
	dels = apply(w);
	CHECK(dels == 1);
	return verify(w, 1);
}

/* ---- cases ------------------------------------------------------------------------------------------- */

static void test_minimal(void)
{
	struct ds_tree t;
	struct ds_plan p = { 0 };
	struct ds_limits l;
	char why[256];

	memset(&t, 0xa5, sizeof(t)); /* whatever it held */
	CHECK_RC(ds_tree_new(&t, 100, &p), 0);
	CHECK(t.n == 2 && t.next_id == 102 && p.n == 2);
	CHECK(p.v[0].kind == DS_PUT && p.v[0].node.id == 100 && p.v[0].node.parent == 0 && p.v[0].node.height == 0 &&
	      p.v[0].node.lo == 0 && p.v[0].node.hi == DS_HASH_END);
	CHECK(p.v[1].kind == DS_PUT && p.v[1].node.id == 101 && p.v[1].node.parent == 100 &&
	      p.v[1].node.height == -1 && p.v[1].node.lo == 0 && p.v[1].node.hi == DS_HASH_END);
	CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
	CHECK(ds_height(&t) == 0);
	CHECK(ds_root(&t) && ds_root(&t)->id == 100);
	CHECK(ds_leaf_of(&t, 0) && ds_leaf_of(&t, 0)->id == 101);
	CHECK(ds_leaf_of(&t, DS_HASH_END - 1) && ds_leaf_of(&t, DS_HASH_END - 1)->id == 101);
	CHECK(ds_leaf_of(&t, DS_HASH_END) == NULL);
	CHECK(ds_find(&t, 100) && ds_find(&t, 7) == NULL);
	ds_tree_free(&t);
	CHECK_RC(ds_tree_new(&t, 0, &p), -EINVAL);
	CHECK(t.n == 0 && t.v == NULL);
	CHECK_RC(ds_tree_new(&t, 100, &p), 0);

	CHECK_RC(ds_limits_parse("kids:4,items:8,bytes:1000,settle:0.2", &l, why, sizeof(why)), 0);
	{
		struct ds_node n = { .height = -1, .items = 8, .bytes = 1000 };
		CHECK(!ds_leaf_over(&l, &n));
		n.items = 9;
		CHECK(ds_leaf_over(&l, &n));
		n.items = 1;
		n.bytes = 1001;
		CHECK(ds_leaf_over(&l, &n));
	}

	/* refusals change nothing */
	CHECK_RC(ds_split(&t, &l, 101, 0, &p), -EINVAL);
	CHECK(p.n == 0);
	CHECK_RC(ds_split(&t, &l, 101, DS_HASH_END, &p), -EINVAL);
	CHECK_RC(ds_split(&t, &l, 101, DS_HASH_END + 5, &p), -EINVAL);
	CHECK_RC(ds_split(&t, &l, 100, H, &p), -ENOENT);
	CHECK_RC(ds_split(&t, &l, 999, H, &p), -ENOENT);
	{
		struct ds_limits one = l;
		one.kids = 1;
		CHECK_RC(ds_split(&t, &one, 101, H, &p), -EINVAL);
		CHECK_RC(ds_shrink(&t, &one, 1, &p), -EINVAL);
	}
	CHECK_RC(ds_shrink(&t, &l, 0, &p), -EINVAL);
	CHECK(t.n == 2 && t.next_id == 102 && p.n == 0);
	CHECK_RC(ds_check(&t, why, sizeof(why)), 0);

	/* the minimal tree has nothing to shrink, however long */
	CHECK_RC(ds_shrink(&t, &l, 1, &p), 0);
	CHECK_RC(ds_shrink(&t, &l, 3600 * 1000 * MS, &p), 0);
	CHECK(p.n == 0 && t.n == 2);

	/* a split under a parent with room: L keeps [0, mid), L2 [mid, end), and the move between them */
	ds_find(&t, 101)->items = 9;
	CHECK_RC(ds_split(&t, &l, 101, H, &p), 0);
	CHECK(p.n == 3 && t.n == 3 && t.next_id == 103);
	CHECK(p.v[0].kind == DS_PUT && p.v[0].node.id == 101 && p.v[0].node.lo == 0 && p.v[0].node.hi == H);
	CHECK(p.v[1].kind == DS_PUT && p.v[1].node.id == 102 && p.v[1].node.parent == 100 && p.v[1].node.lo == H &&
	      p.v[1].node.hi == DS_HASH_END);
	CHECK(p.v[2].kind == DS_MOVE_ITEMS && p.v[2].from == 101 && p.v[2].to == 102 && p.v[2].lo == H &&
	      p.v[2].hi == DS_HASH_END);
	CHECK(ds_find(&t, 101)->items == 0 && ds_find(&t, 102)->items == 0); /* the caller recounts both */
	CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
	CHECK(ds_height(&t) == 0);

	/* both leaves low; the merge waits until both have been low for settle_ms */
	{
		int64_t t0 = 1000 * MS;
		struct ds_node *a = ds_find(&t, 101), *b = ds_find(&t, 102);
		a->items = 2; /* items:8, so 2 is still low */
		b->items = 1;
		CHECK_RC(ds_shrink(&t, &l, t0, &p), 0);
		CHECK(p.n == 0 && a->low_since_ns == t0 && b->low_since_ns == t0);
		CHECK_RC(ds_shrink(&t, &l, t0 + 199 * MS, &p), 0);
		CHECK(p.n == 0);
		a->items = 3; /* no longer low: its clock stops */
		CHECK_RC(ds_shrink(&t, &l, t0 + 199 * MS + 1, &p), 0);
		CHECK(p.n == 0 && a->low_since_ns == 0 && b->low_since_ns == t0);
		a->items = 0;
		CHECK_RC(ds_shrink(&t, &l, t0 + 250 * MS, &p), 0);
		CHECK(p.n == 0 && a->low_since_ns == t0 + 250 * MS);
		CHECK_RC(ds_shrink(&t, &l, t0 + 449 * MS, &p), 0); /* b is due, a not yet */
		CHECK(p.n == 0);
		CHECK_RC(ds_shrink(&t, &l, t0 + 450 * MS, &p), 0);
		CHECK(p.n == 3 && t.n == 2);
		CHECK(p.v[0].kind == DS_PUT && p.v[0].node.id == 101 && p.v[0].node.lo == 0 &&
		      p.v[0].node.hi == DS_HASH_END);
		CHECK(p.v[1].kind == DS_MOVE_ITEMS && p.v[1].from == 102 && p.v[1].to == 101 && p.v[1].lo == H &&
		      p.v[1].hi == DS_HASH_END);
		CHECK(p.v[2].kind == DS_DEL && p.v[2].node.id == 102);
		CHECK(ds_find(&t, 101)->low_since_ns == 0 && ds_find(&t, 102) == NULL);
		CHECK(ds_find(&t, 101)->items == 1); /* the sum; the caller recounts anyway */
		CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
	}
	ds_tree_free(&t);
	CHECK(t.v == NULL && t.n == 0);
	ds_plan_free(&p);
	CHECK(p.v == NULL && p.n == 0);
}

static int add_all(struct ds_tree *t, const struct ds_node *n, size_t nn)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < nn; i++) {
		int rc = ds_tree_add(t, &n[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Broken trees, one invariant each, every one refused with a sentence. */
static void test_check(void)
{
	static const struct {
		struct ds_node n[5];
		size_t nn;
		const char *want;
	} bad[] = {
		{ { ND(1, 0, 0, 0, E), ND(2, 0, 0, 0, E) }, 2, "2 roots" },
		{ { ND(2, 1, -1, 0, E) }, 1, "0 roots" },
		{ { ND(1, 0, 0, 0, E - 1), ND(2, 1, -1, 0, E - 1) }, 2, "not a manager over everything" },
		{ { ND(1, 0, -1, 0, E) }, 1, "not a manager over everything" },
		{ { ND(1, 0, 0, 0, E), ND(2, 9, -1, 0, E) }, 2, "parent 9 does not exist" },
		{ { ND(1, 0, 1, 0, E), ND(2, 1, -1, 0, E) }, 2, "of height 1, not 0" },
		{ { ND(1, 0, 0, 0, E), ND(2, 1, -1, 0, H), ND(3, 1, -1, H + 1, E) }, 3, "gap" },
		{ { ND(1, 0, 0, 0, E), ND(2, 1, -1, 0, H + 1), ND(3, 1, -1, H, E) }, 3, "overlap" },
		{ { ND(1, 0, 0, 0, E), ND(2, 1, -1, 0, H) }, 2, "not at its hi" },
		{ { ND(1, 0, 0, 0, E), ND(2, 1, -1, 5, E) }, 2, "gap" },
		{ { ND(1, 0, 1, 0, E), ND(2, 1, 0, 0, H), ND(3, 1, 0, H, E), ND(4, 2, -1, 0, H) },
		  4, "manager 3 has no kids" },
		{ { NC(1, 0, 0, 0, E, 3, 0), ND(2, 1, -1, 0, E) }, 2, "carries counts" },
		{ { ND(1, 0, 0, 0, E), ND(2, 1, -1, 0, E), ND(3, 2, -2, 0, E) }, 3, "height -2" },
		{ { ND(1, 0, 0, 0, E), ND(2, 1, -1, H, H) }, 2, "range" },
	};
	struct ds_tree t;
	char why[256];

	for (size_t i = 0; i < N(bad); i++) {
		why[0] = 0;
		CHECK_RC(add_all(&t, bad[i].n, bad[i].nn), 0);
		int rc = ds_check(&t, why, sizeof(why));
		if (rc != -EINVAL || !strstr(why, bad[i].want))
			fprintf(stderr, "broken tree %zu: rc %d, why \"%s\", want \"%s\"\n", i, rc, why, bad[i].want);
		CHECK(rc == -EINVAL && strstr(why, bad[i].want) != NULL);
		ds_tree_free(&t);
	}
	/* next_id must stay above every id, whatever order rows come in */
	{
		static const struct ds_node ok[] = { NC(7, 3, -1, H, E, 4, 40), ND(3, 0, 0, 0, E),
						     NC(5, 3, -1, 0, H, 1, 10) };
		struct ds_node dup = ok[1];
		CHECK_RC(add_all(&t, ok, N(ok)), 0);
		CHECK(t.next_id == 8);
		CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
		CHECK_RC(ds_tree_add(&t, &dup), -EEXIST);
		dup.id = 0;
		CHECK_RC(ds_tree_add(&t, &dup), -EINVAL);
		t.next_id = 7;
		CHECK_RC(ds_check(&t, why, sizeof(why)), -EINVAL);
		CHECK(strstr(why, "next_id") != NULL);
		ds_tree_free(&t);
	}
}

/* Managers merging, then the root adopting its only kid's kids, each after its own settle. */
static void test_adopt(void)
{
	static const struct ds_node n[] = { ND(1, 0, 1, 0, E), ND(2, 1, 0, 0, H),
					    ND(3, 1, 0, H, E), NC(4, 2, -1, 0, H, 3, 30),
					    NC(5, 3, -1, H, E, 3, 30) };
	struct ds_tree t;
	struct ds_plan p = { 0 };
	struct ds_limits l;
	char why[256];
	int64_t t0 = 5 * MS, settle;

	CHECK_RC(ds_limits_parse("kids:4,items:8,settle:0.2", &l, why, sizeof(why)), 0);
	settle = l.settle_ms * MS;
	CHECK_RC(add_all(&t, n, N(n)), 0);
	CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
	CHECK(ds_height(&t) == 1);

	/* leaves of 3 items (more than 8/4) never merge; managers of one kid do */
	CHECK_RC(ds_shrink(&t, &l, t0, &p), 0);
	CHECK(p.n == 0);
	CHECK(ds_find(&t, 2)->low_since_ns == t0 && ds_find(&t, 4)->low_since_ns == 0);
	CHECK(ds_find(&t, 1)->low_since_ns == 0); /* two kids: the root is not adopting */
	CHECK_RC(ds_shrink(&t, &l, t0 + settle, &p), 0);
	CHECK(p.n == 3);
	CHECK(p.v[0].kind == DS_PUT && p.v[0].node.id == 2 && p.v[0].node.lo == 0 && p.v[0].node.hi == E);
	CHECK(p.v[1].kind == DS_PUT && p.v[1].node.id == 5 && p.v[1].node.parent == 2);
	CHECK(p.v[2].kind == DS_DEL && p.v[2].node.id == 3);
	CHECK_RC(ds_check(&t, why, sizeof(why)), 0);

	/* the root now has one manager kid: its own clock starts */
	CHECK_RC(ds_shrink(&t, &l, t0 + settle + 1, &p), 0);
	CHECK(p.n == 0 && ds_find(&t, 1)->low_since_ns == t0 + settle + 1);
	CHECK_RC(ds_shrink(&t, &l, t0 + 2 * settle, &p), 0);
	CHECK(p.n == 0);
	CHECK_RC(ds_shrink(&t, &l, t0 + 2 * settle + 1, &p), 0);
	CHECK(p.n == 4 && ds_height(&t) == 0 && t.n == 3);
	CHECK(p.v[0].kind == DS_PUT && p.v[0].node.id == 1 && p.v[0].node.height == 0);
	CHECK(p.v[1].kind == DS_PUT && p.v[1].node.parent == 1 && p.v[2].kind == DS_PUT && p.v[2].node.parent == 1);
	CHECK(p.v[3].kind == DS_DEL && p.v[3].node.id == 2);
	CHECK(ds_find(&t, 4)->parent == 1 && ds_find(&t, 5)->parent == 1 && ds_find(&t, 2) == NULL);
	CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
	CHECK_RC(ds_shrink(&t, &l, t0 + 10 * settle, &p), 0);
	CHECK(p.n == 0); /* 3 items each: not low */
	ds_tree_free(&t);
	ds_plan_free(&p);
}

/* Which shrink goes first: the root's adoption, then merges from the lowest lo up. */
static void test_shrink_order(void)
{
	static const struct ds_node n[] = {
		ND(1, 0, 1, 0, E),      ND(2, 1, 0, 0, E),          ND(3, 2, -1, 0, Q),
		ND(4, 2, -1, Q, 2 * Q), ND(5, 2, -1, 2 * Q, 3 * Q), ND(6, 2, -1, 3 * Q, E),
	};
	struct ds_tree t;
	struct ds_plan p = { 0 };
	struct ds_limits l;
	char why[256];
	int64_t t0 = 1, settle;

	CHECK_RC(ds_limits_parse("kids:4,items:8,settle:1", &l, why, sizeof(why)), 0);
	settle = l.settle_ms * MS;
	CHECK_RC(add_all(&t, n, N(n)), 0);
	CHECK_RC(ds_shrink(&t, &l, t0, &p), 0);
	CHECK(p.n == 0);
	/* everything is due at once: the adoption first */
	CHECK_RC(ds_shrink(&t, &l, t0 + settle, &p), 0);
	CHECK(p.n == 6 && p.v[5].kind == DS_DEL && p.v[5].node.id == 2 && ds_height(&t) == 0);
	/* then the leaves at lo 0; the merged leaf starts over, so next is the pair at 2Q */
	CHECK_RC(ds_shrink(&t, &l, t0 + settle, &p), 0);
	CHECK(p.n == 3 && p.v[0].node.id == 3 && p.v[0].node.hi == 2 * Q && p.v[2].node.id == 4);
	CHECK_RC(ds_shrink(&t, &l, t0 + settle, &p), 0);
	CHECK(p.n == 3 && p.v[0].node.id == 5 && p.v[0].node.hi == E && p.v[2].node.id == 6);
	CHECK_RC(ds_shrink(&t, &l, t0 + settle, &p), 0);
	CHECK(p.n == 0);
	CHECK_RC(ds_shrink(&t, &l, t0 + 2 * settle, &p), 0);
	CHECK(p.n == 3 && p.v[0].node.id == 3 && p.v[0].node.hi == E && p.v[2].node.id == 5);
	CHECK(t.n == 2);
	CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
	ds_tree_free(&t);
	ds_plan_free(&p);
}

/* Making room, the two growth rules exactly: a full manager gives its upper half to a new one beside it;
 * a full root pushes its kids down into a proxy first. */
static void test_make_room(void)
{
	struct ds_tree t;
	struct ds_plan p = { 0 };
	struct ds_limits l;
	char why[256];

	CHECK_RC(ds_limits_parse("kids:4,items:8", &l, why, sizeof(why)), 0);

	/* a full non-root manager 2 splits at its third kid; leaf 4 then gets its new sibling under 2 */
	{
		static const struct ds_node n[] = {
			ND(1, 0, 1, 0, E),              ND(2, 1, 0, 0, 3 * Q),
			ND(3, 1, 0, 3 * Q, E),          NC(4, 2, -1, 0, Q, 9, 9),
			ND(5, 2, -1, Q, 2 * Q),         ND(6, 2, -1, 2 * Q, 2 * Q + 5),
			ND(7, 2, -1, 2 * Q + 5, 3 * Q), ND(8, 3, -1, 3 * Q, E),
		};
		CHECK_RC(add_all(&t, n, N(n)), 0);
		CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
		CHECK_RC(ds_split(&t, &l, 4, 100, &p), 0);
		CHECK(p.n == 7 && t.n == 10 && ds_height(&t) == 1);
		if (p.n == 7) {
			CHECK(p.v[0].kind == DS_PUT && p.v[0].node.id == 2 && p.v[0].node.hi == 2 * Q);
			CHECK(p.v[1].kind == DS_PUT && p.v[1].node.id == 9 && p.v[1].node.parent == 1 &&
			      p.v[1].node.height == 0 && p.v[1].node.lo == 2 * Q && p.v[1].node.hi == 3 * Q);
			CHECK(p.v[2].kind == DS_PUT && p.v[2].node.id == 6 && p.v[2].node.parent == 9);
			CHECK(p.v[3].kind == DS_PUT && p.v[3].node.id == 7 && p.v[3].node.parent == 9);
			CHECK(p.v[4].kind == DS_PUT && p.v[4].node.id == 4 && p.v[4].node.hi == 100);
			CHECK(p.v[5].kind == DS_PUT && p.v[5].node.id == 10 && p.v[5].node.parent == 2 &&
			      p.v[5].node.lo == 100 && p.v[5].node.hi == Q);
			CHECK(p.v[6].kind == DS_MOVE_ITEMS && p.v[6].from == 4 && p.v[6].to == 10);
		}
		CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
		ds_tree_free(&t);
	}
	/* a full root: proxy 3 takes its four leaves, then splits into 3 and 4, and leaf 2 splits under 3 */
	{
		static const struct ds_node n[] = {
			ND(1, 0, 0, 0, E), NC(2, 1, -1, 0, Q, 9, 9), ND(5, 1, -1, Q, 2 * Q),
			ND(6, 1, -1, 2 * Q, 3 * Q), ND(7, 1, -1, 3 * Q, E),
		};
		CHECK_RC(add_all(&t, n, N(n)), 0);
		t.next_id = 3;
		CHECK_RC(ds_check(&t, why, sizeof(why)), -EINVAL); /* ids 5..7 are not below next_id 3 */
		t.next_id = 8;
		CHECK_RC(ds_split(&t, &l, 2, 100, &p), 0);
		CHECK(p.n == 13 && t.n == 8 && ds_height(&t) == 1);
		if (p.n == 13) {
			CHECK(p.v[0].kind == DS_PUT && p.v[0].node.id == 8 && p.v[0].node.parent == 1 &&
			      p.v[0].node.height == 0 && p.v[0].node.lo == 0 && p.v[0].node.hi == E);
			CHECK(p.v[1].kind == DS_PUT && p.v[1].node.id == 1 && p.v[1].node.height == 1);
			for (int i = 2; i < 6; i++)
				CHECK(p.v[i].kind == DS_PUT && p.v[i].node.parent == 8 && p.v[i].node.height == -1);
			CHECK(p.v[6].kind == DS_PUT && p.v[6].node.id == 8 && p.v[6].node.hi == 2 * Q);
			CHECK(p.v[7].kind == DS_PUT && p.v[7].node.id == 9 && p.v[7].node.parent == 1 &&
			      p.v[7].node.lo == 2 * Q && p.v[7].node.hi == E);
			CHECK(p.v[8].kind == DS_PUT && p.v[8].node.id == 6 && p.v[8].node.parent == 9);
			CHECK(p.v[9].kind == DS_PUT && p.v[9].node.id == 7 && p.v[9].node.parent == 9);
			CHECK(p.v[10].kind == DS_PUT && p.v[10].node.id == 2 && p.v[10].node.hi == 100);
			CHECK(p.v[11].kind == DS_PUT && p.v[11].node.id == 10 && p.v[11].node.parent == 8);
			CHECK(p.v[12].kind == DS_MOVE_ITEMS && p.v[12].from == 2 && p.v[12].to == 10);
		}
		CHECK(ds_find(&t, 5)->parent == 8 && ds_find(&t, 1)->parent == 0);
		CHECK_RC(ds_check(&t, why, sizeof(why)), 0);
		ds_tree_free(&t);
	}
	ds_plan_free(&p);
}

/* 1,000 items one by one with kids:4,items:8: leaves split, managers split, the root grows by proxies;
 * then all but two go and the tree shrinks back to the minimal one. */
static void test_grow_shrink(void)
{
	static struct world w;
	int64_t now = 1000 * MS, settle;
	int grown;
	size_t most_leaves, most_nodes;

	world_new(&w, "kids:4,items:8,settle:0.2");
	settle = w.l.settle_ms * MS;
	if (verify(&w, 1) != 0)
		return;
	for (int i = 0; i < 1000; i++) {
		uint64_t h;
		int dup;
		do {
			h = rnd() >> 2;
			dup = 0;
			for (size_t j = 0; j < w.nitems; j++)
				dup |= w.items[j].hash == h;
		} while (dup);
		if (insert(&w, h, 100 + rnd() % 900) != 0)
			return;
		if (i == 8)
			CHECK(w.splits == 1 && ds_height(&w.t) == 0 && count_leaves(&w.t) == 2);
	}
	grown = ds_height(&w.t);
	most_leaves = count_leaves(&w.t);
	most_nodes = w.t.n;
	CHECK(grown >= 3);
	CHECK(w.proxies == (unsigned)grown); /* the root grows only by pushing its kids down */
	CHECK(w.splits == most_leaves - 1);
	CHECK(most_leaves >= 1000 / 8);
	printf("test_dstree: 1000 items: %u splits, height %d, %zu leaves, %zu nodes\n", w.splits, grown,
	       most_leaves, most_nodes);

	/* all but two items go; the caller recounts the leaves it deleted from */
	for (size_t i = 2; i < w.nitems; i++)
		w.items[i].live = 0;
	for (size_t i = 0; i < w.t.n; i++)
		if (w.t.v[i].height == -1)
			recount(&w, w.t.v[i].id);
	if (verify(&w, 1) != 0)
		return;

	/* settle is respected: nothing before it has passed */
	CHECK_RC(ds_shrink(&w.t, &w.l, now, &w.p), 0);
	CHECK(w.p.n == 0);
	CHECK_RC(ds_shrink(&w.t, &w.l, now + settle - 1, &w.p), 0);
	CHECK(w.p.n == 0 && w.t.n == most_nodes);
	if (shrink_at(&w, now + settle) != 0)
		return;
	CHECK(w.p.n > 0 && w.t.n == most_nodes - 1);

	for (int step = 0; step < 20000 && w.t.n > 2; step++) {
		now += 50 * MS; /* the daemon's tick */
		if (shrink_at(&w, now) != 0)
			return;
	}
	CHECK(w.t.n == 2 && ds_height(&w.t) == 0 && count_leaves(&w.t) == 1);
	CHECK(w.adoptions == (unsigned)grown);
	CHECK(w.leaf_merges == most_leaves - 1);
	CHECK(w.manager_merges > 0);
	CHECK(w.leaf_merges + w.manager_merges + w.adoptions == most_nodes - 2);
	CHECK(ds_leaf_of(&w.t, w.items[0].hash)->items == 2);
	CHECK_RC(ds_shrink(&w.t, &w.l, now + 100 * settle, &w.p), 0);
	CHECK(w.p.n == 0);
	printf("test_dstree: shrunk back: %u leaf merges, %u manager merges, %u adoptions\n", w.leaf_merges,
	       w.manager_merges, w.adoptions);

	/* and it grows again from there */
	for (size_t i = 2; i < 40; i++) {
		w.items[i].live = 0;
		w.nitems = i;
		if (insert(&w, rnd() >> 2, 10) != 0)
			return;
	}
	CHECK(ds_height(&w.t) >= 1 && verify(&w, 1) == 0);
	ds_tree_free(&w.t);
	ds_plan_free(&w.p);
}

int main(void)
{
	test_limits();
	test_minimal();
	test_check();
	test_adopt();
	test_make_room();
	test_shrink_order();
	test_grow_shrink();
	printf("test_dstree: %s\n", check_failures ? "FAILED" : "all passed");
	return CHECK_DONE();
}
