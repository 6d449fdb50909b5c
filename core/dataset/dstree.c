/* SPDX-License-Identifier: MIT */
/* dstree.c -- the shape of a keyed dataset: limits, growth by splitting, shrinking by merging and
 * adoption, and the invariants (see dstree.h).
 *
 * Atomicity comes from counting first: ds_split and ds_shrink work out how many nodes and plan entries the
 * operation can need, allocate all of it, and only then change the tree with helpers that cannot fail.
 * The tree is a flat array scanned in O(n) or sorted into keys in O(n log n): a dataset has at most a few
 * thousand nodes, and a flat array is what the caller rebuilds from rows anyway. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset/dstree.h"
#include "core/text/size.h"

static const struct ds_limits limits_default = DS_LIMITS_DEFAULT;

/* ---- limits ---------------------------------------------------------------------------------------- */

#define KIDS_MAX 1024
#define SETTLE_MAX_MS 3600000u

enum limit_key { LK_KIDS, LK_ITEMS, LK_BYTES, LK_SETTLE, LK_N };
static const char *const limit_names[LK_N] = { "kids", "items", "bytes", "settle" };

/* A plain decimal [s, e): no sign, no space (strtoull would take "-1" as UINT64_MAX). */
static int parse_u64(const char *s, const char *e, uint64_t *out)
{
	uint64_t v = 0;

	if (s == e)
		return -EINVAL;
	for (; s < e; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -EOVERFLOW;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* The same spellings as every other size (core/text/size.h): 4096, 64K, 512M, 2G. */
static int parse_bytes(const char *s, const char *e, uint64_t *out)
{
	char buf[32];

	if (e - s <= 0 || (size_t)(e - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = '\0';
	return size_parse(buf, out);
}

/* Seconds with up to 3 fractional digits, into milliseconds: "0.2" is 200, "5" is 5000. */
static int parse_settle(const char *s, const char *e, uint64_t *ms)
{
	const char *dot = memchr(s, '.', (size_t)(e - s));
	uint64_t whole, frac = 0;
	int rc = parse_u64(s, dot ? dot : e, &whole);

	if (rc)
		return rc;
	if (dot) {
		size_t nf = (size_t)(e - dot - 1);
		if (nf == 0 || nf > 3)
			return -EINVAL;
		rc = parse_u64(dot + 1, e, &frac);
		if (rc)
			return rc;
		for (; nf < 3; nf++)
			frac *= 10;
	}
	if (whole > (UINT64_MAX - 999) / 1000)
		return -EOVERFLOW;
	*ms = whole * 1000 + frac;
	return 0;
}

/* One value: parsed, range-checked, stored.  The sentences name the key so a long string is easy to fix. */
static int limit_value(enum limit_key k, const char *s, const char *e, struct ds_limits *l, char *why,
		       size_t whylen)
{
	static const char *const spelling[LK_N] = { "a decimal number", "a decimal number",
						    "a decimal number of bytes, with K, M or G if you like",
						    "seconds, a decimal with up to 3 fractional digits" };
	int len = (int)(e - s);
	uint64_t v = 0;
	int rc = k == LK_BYTES ? parse_bytes(s, e, &v) : k == LK_SETTLE ? parse_settle(s, e, &v) : parse_u64(s, e, &v);

	if (rc == -EOVERFLOW) {
		snprintf(why, whylen, "limits: %s %.*s is too large", limit_names[k], len, s);
		return -EINVAL;
	}
	if (rc) {
		snprintf(why, whylen, "limits: %s must be %s, not \"%.*s\"", limit_names[k], spelling[k], len, s);
		return -EINVAL;
	}
	switch (k) {
	case LK_KIDS:
		if (v < 2 || v > KIDS_MAX) {
			snprintf(why, whylen, "limits: kids must be 2 to %d, not %.*s", KIDS_MAX, len, s);
			return -EINVAL;
		}
		l->kids = (uint32_t)v;
		break;
	case LK_ITEMS:
		if (v < 2) {
			snprintf(why, whylen, "limits: items must be at least 2, not %.*s", len, s);
			return -EINVAL;
		}
		l->items = v;
		break;
	case LK_BYTES:
		if (v < 1) {
			snprintf(why, whylen, "limits: bytes must be at least 1, not %.*s", len, s);
			return -EINVAL;
		}
		l->bytes = v;
		break;
	case LK_SETTLE:
		if (v > SETTLE_MAX_MS) {
			snprintf(why, whylen, "limits: settle must be at most 3600 seconds, not %.*s", len, s);
			return -EINVAL;
		}
		l->settle_ms = (uint32_t)v;
		break;
	default:
		break;
	}
	return 0;
}

/* One "key:value" term [s, e); seen has a bit per key already given. */
static int limit_term(const char *s, const char *e, struct ds_limits *l, unsigned *seen, char *why,
		      size_t whylen)
{
	const char *colon = memchr(s, ':', (size_t)(e - s));
	size_t klen;

	if (s == e) {
		snprintf(why, whylen, "limits: an empty term (two commas in a row, or one at an end)");
		return -EINVAL;
	}
	if (!colon) {
		snprintf(why, whylen, "limits: \"%.*s\" is not key:value", (int)(e - s), s);
		return -EINVAL;
	}
	klen = (size_t)(colon - s);
	for (int k = 0; k < LK_N; k++) {
		if (strlen(limit_names[k]) != klen || memcmp(limit_names[k], s, klen) != 0)
			continue;
		if (*seen & (1u << k)) {
			snprintf(why, whylen, "limits: %s is given twice", limit_names[k]);
			return -EINVAL;
		}
		*seen |= 1u << k;
		if (colon + 1 == e) {
			snprintf(why, whylen, "limits: %s has no value", limit_names[k]);
			return -EINVAL;
		}
		return limit_value((enum limit_key)k, colon + 1, e, l, why, whylen);
	}
	snprintf(why, whylen, "limits: unknown key \"%.*s\" (known: kids, items, bytes, settle)", (int)klen, s);
	return -EINVAL;
}

int ds_limits_parse(const char *s, struct ds_limits *out, char *why, size_t whylen)
{
	struct ds_limits l = limits_default;
	unsigned seen = 0;

	if (!s || !*s) {
		snprintf(why, whylen, "limits: empty; give kids:K,items:N,bytes:B,settle:S or some of them");
		return -EINVAL;
	}
	for (const char *t = s;;) {
		const char *end = strchr(t, ',');
		int rc;

		if (!end)
			end = t + strlen(t);
		rc = limit_term(t, end, &l, &seen, why, whylen);
		if (rc)
			return rc;
		if (!*end)
			break;
		t = end + 1;
	}
	*out = l;
	return 0;
}

int ds_limits_format(const struct ds_limits *l, char *buf, size_t len)
{
	char settle[32];
	unsigned whole = l->settle_ms / 1000, frac = l->settle_ms % 1000;
	int digits = 3, n;

	if (frac) {
		for (; frac % 10 == 0; frac /= 10)
			digits--;
		snprintf(settle, sizeof(settle), "%u.%0*u", whole, digits, frac);
	} else {
		snprintf(settle, sizeof(settle), "%u", whole);
	}
	n = snprintf(buf, len, "kids:%u,items:%llu,bytes:%llu,settle:%s", l->kids, (unsigned long long)l->items,
		     (unsigned long long)l->bytes, settle);
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return 0;
}

/* Limits under which the rules below would break (a manager split in halves needs two kids). */
static bool limits_usable(const struct ds_limits *l)
{
	return l->kids >= 2 && l->items >= 2 && l->bytes >= 1;
}

/* ---- arrays ----------------------------------------------------------------------------------------- */

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *nv;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	nv = realloc(*v, c * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

static int tree_reserve(struct ds_tree *t, size_t more)
{
	void *v = t->v;
	int rc = grow(&v, &t->cap, t->n + more, sizeof(*t->v));

	t->v = v;
	return rc;
}

static int plan_reserve(struct ds_plan *p, size_t more)
{
	void *v = p->v;
	int rc = grow(&v, &p->cap, p->n + more, sizeof(*p->v));

	p->v = v;
	return rc;
}

/* The emitters and new_node run only after a reservation: they cannot fail, so the tree never stops half
 * way through an operation. */
static struct ds_change *emit(struct ds_plan *p, enum ds_change_kind kind)
{
	struct ds_change *c;

	assert(p->n < p->cap);
	c = &p->v[p->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	return c;
}

static void emit_put(struct ds_plan *p, const struct ds_node *n)
{
	struct ds_change *c = emit(p, DS_PUT);

	c->node = *n;
	c->node.low_since_ns = 0; /* never stored */
}

static void emit_del(struct ds_plan *p, const struct ds_node *n)
{
	struct ds_change *c = emit(p, DS_DEL);

	c->node = *n; /* the last row, for the caller's messages; only id matters */
	c->node.low_since_ns = 0;
}

static void emit_move(struct ds_plan *p, int64_t from, int64_t to, uint64_t lo, uint64_t hi)
{
	struct ds_change *c = emit(p, DS_MOVE_ITEMS);

	c->from = from;
	c->to = to;
	c->lo = lo;
	c->hi = hi;
}

static size_t new_node(struct ds_tree *t, int64_t parent, int height, uint64_t lo, uint64_t hi)
{
	struct ds_node *n;

	assert(t->n < t->cap);
	n = &t->v[t->n];
	memset(n, 0, sizeof(*n));
	n->id = t->next_id++;
	n->parent = parent;
	n->height = height;
	n->lo = lo;
	n->hi = hi;
	return t->n++;
}

/* Swapping with the last keeps the array dense; order means nothing. */
static void remove_at(struct ds_tree *t, size_t i)
{
	t->v[i] = t->v[--t->n];
}

/* t->n when there is no such node. */
static size_t find_at(const struct ds_tree *t, int64_t id)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].id == id)
			break;
	return i;
}

static size_t kid_count(const struct ds_tree *t, int64_t id)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n; i++)
		k += t->v[i].parent == id;
	return k;
}

/* Nodes sorted by (a, b): by (parent, lo) every manager's kids are one run in range order, adjacent
 * siblings are adjacent keys, and the root is the run of parent 0. */
struct key {
	int64_t a;
	uint64_t b;
	size_t i;
};

static int key_cmp(const void *x, const void *y)
{
	const struct key *p = x, *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	return p->i < q->i ? -1 : p->i > q->i;
}

/* Fills k (room for t->n) with the nodes by (parent, lo), or by id when by_id. */
static void keys_fill(const struct ds_tree *t, bool by_id, struct key *k)
{
	for (size_t i = 0; i < t->n; i++) {
		k[i].a = by_id ? t->v[i].id : t->v[i].parent;
		k[i].b = by_id ? 0 : t->v[i].lo;
		k[i].i = i;
	}
	qsort(k, t->n, sizeof(*k), key_cmp);
}

/* The run of keys with a == a: its length, its start in *first. */
static size_t keys_run(const struct key *k, size_t n, int64_t a, size_t *first)
{
	size_t lo = 0, hi = n, end;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (k[m].a < a)
			lo = m + 1;
		else
			hi = m;
	}
	for (end = lo; end < n && k[end].a == a; end++)
		;
	*first = lo;
	return end - lo;
}

/* The kids of id by lo into k (room for t->n), their number returned. */
static size_t kids_sorted(const struct ds_tree *t, int64_t id, struct key *k)
{
	size_t nk = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].parent == id)
			k[nk++] = (struct key){ id, t->v[i].lo, i };
	qsort(k, nk, sizeof(*k), key_cmp);
	return nk;
}

/* ---- the tree --------------------------------------------------------------------------------------- */

int ds_tree_new(struct ds_tree *t, int64_t first_id, struct ds_plan *p)
{
	size_t r, f;

	p->n = 0;
	memset(t, 0, sizeof(*t));
	if (first_id <= 0 || first_id > INT64_MAX - 2)
		return -EINVAL;
	if (tree_reserve(t, 2) != 0 || plan_reserve(p, 2) != 0) {
		ds_tree_free(t);
		return -ENOMEM;
	}
	t->next_id = first_id;
	r = new_node(t, 0, 0, 0, DS_HASH_END);
	f = new_node(t, t->v[r].id, -1, 0, DS_HASH_END);
	emit_put(p, &t->v[r]);
	emit_put(p, &t->v[f]);
	return 0;
}

int ds_tree_add(struct ds_tree *t, const struct ds_node *n)
{
	if (n->id <= 0 || n->id == INT64_MAX)
		return -EINVAL;
	if (find_at(t, n->id) != t->n)
		return -EEXIST;
	if (tree_reserve(t, 1) != 0)
		return -ENOMEM;
	t->v[t->n] = *n;
	t->v[t->n].low_since_ns = 0; /* a stored row says nothing about how long a node has been small */
	t->n++;
	if (t->next_id <= n->id)
		t->next_id = n->id + 1;
	return 0;
}

void ds_tree_free(struct ds_tree *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

void ds_plan_free(struct ds_plan *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

struct ds_node *ds_find(struct ds_tree *t, int64_t id)
{
	size_t i = find_at(t, id);

	return i < t->n ? &t->v[i] : NULL;
}

/* t->n when there is no root. */
static size_t root_at(const struct ds_tree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].parent == 0)
			break;
	return i;
}

struct ds_node *ds_root(struct ds_tree *t)
{
	size_t i = root_at(t);

	return i < t->n ? &t->v[i] : NULL;
}

struct ds_node *ds_leaf_of(struct ds_tree *t, uint64_t hash)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].height == -1 && t->v[i].lo <= hash && hash < t->v[i].hi)
			return &t->v[i];
	return NULL;
}

bool ds_leaf_over(const struct ds_limits *l, const struct ds_node *leaf)
{
	return leaf->items > l->items || leaf->bytes > l->bytes;
}

int ds_height(const struct ds_tree *t)
{
	size_t r = root_at(t);

	return r < t->n ? t->v[r].height : -1;
}

/* ---- growth ----------------------------------------------------------------------------------------- */

/* The root's kids go down into a new manager P over the whole range, and the root grows a level: the
 * root stays the root (its id is what the caller's dataset row points at) with P its only kid.  P's id. */
static int64_t push_down(struct ds_tree *t, size_t ri, struct ds_plan *p)
{
	size_t pi = new_node(t, t->v[ri].id, t->v[ri].height, t->v[ri].lo, t->v[ri].hi);
	int64_t rid = t->v[ri].id, pid = t->v[pi].id;

	t->v[ri].height++;
	t->v[ri].low_since_ns = 0;
	emit_put(p, &t->v[pi]);
	emit_put(p, &t->v[ri]);
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].parent != rid || i == pi)
			continue;
		t->v[i].parent = pid;
		emit_put(p, &t->v[i]);
	}
	return pid;
}

/* A non-root manager with k >= 2 kids gives kids [k/2, k) by lo to a new manager beside it under the same
 * parent, which the caller has made sure has room. */
static void split_manager(struct ds_tree *t, int64_t id, struct ds_plan *p, struct key *k)
{
	size_t mi = find_at(t, id), nk = kids_sorted(t, id, k), first = nk / 2;
	size_t m2 = new_node(t, t->v[mi].parent, t->v[mi].height, t->v[k[first].i].lo, t->v[mi].hi);

	t->v[mi].hi = t->v[m2].lo;
	t->v[mi].low_since_ns = 0;
	emit_put(p, &t->v[mi]);
	emit_put(p, &t->v[m2]);
	for (size_t j = first; j < nk; j++) {
		t->v[k[j].i].parent = t->v[m2].id;
		emit_put(p, &t->v[k[j].i]);
	}
}

int ds_split(struct ds_tree *t, const struct ds_limits *l, int64_t leaf, uint64_t mid, struct ds_plan *p)
{
	size_t li, nfull = 0, nnew = 1, nput = 3, step;
	bool at_root = false;
	int64_t *chain = NULL, id;
	struct key *k;

	p->n = 0;
	if (!limits_usable(l))
		return -EINVAL;
	li = find_at(t, leaf);
	if (li == t->n || t->v[li].height != -1)
		return -ENOENT;
	if (!(t->v[li].lo < mid && mid < t->v[li].hi))
		return -EINVAL;

	/* The full managers from the leaf's parent up, counted on the tree as it is: each must split, so the
	 * leaf's parent gets room.  Splitting them from the top down means each finds room in its parent. */
	for (id = t->v[li].parent, step = 0; step < t->n; step++) {
		size_t mi = find_at(t, id), nk = kid_count(t, id);
		if (mi == t->n)
			return -EINVAL; /* a parent that is not there: ds_check says more */
		if (nk < l->kids)
			break;
		nfull++;
		nnew++;
		nput += nk + 2;
		if (t->v[mi].parent == 0) {
			at_root = true; /* the root pushes its kids down first: one more node, every kid moved */
			nnew++;
			nput += nk + 2;
			break;
		}
		id = t->v[mi].parent;
	}
	if (tree_reserve(t, nnew) != 0 || plan_reserve(p, nput) != 0)
		return -ENOMEM;
	k = malloc((t->n + nnew) * sizeof(*k));
	if (nfull)
		chain = malloc(nfull * sizeof(*chain));
	if (!k || (nfull && !chain)) {
		free(k);
		free(chain);
		return -ENOMEM;
	}
	for (size_t i = 0, at = li; i < nfull; i++) {
		at = find_at(t, t->v[at].parent);
		chain[i] = t->v[at].id;
	}

	for (size_t i = nfull; i-- > 0;) {
		id = chain[i];
		if (at_root && i == nfull - 1)
			id = push_down(t, find_at(t, id), p);
		split_manager(t, id, p, k);
	}
	free(chain);
	free(k);

	{
		struct ds_node *a = &t->v[li]; /* appends never moved it: the room was reserved */
		size_t bi = new_node(t, a->parent, -1, mid, a->hi);
		struct ds_node *b = &t->v[bi];

		a->hi = mid;
		/* How many items move is the caller's to count (dstree.h, "Counts"). */
		a->items = a->bytes = 0;
		a->low_since_ns = 0;
		emit_put(p, a);
		emit_put(p, b);
		emit_move(p, a->id, b->id, mid, b->hi);
	}
	return 0;
}

/* ---- shrinking -------------------------------------------------------------------------------------- */

struct shrink {
	const struct ds_tree *t;
	const struct ds_limits *l;
	const struct key *k; /* by (parent, lo) */
	int64_t now_ns, settle_ns;
};

static size_t kids_of(const struct shrink *s, int64_t id, size_t *first)
{
	return keys_run(s->k, s->t->n, id, first);
}

/* The condition a node must hold for settle_ms before it takes part in a shrink. */
static bool qualifies(const struct shrink *s, const struct ds_node *x)
{
	size_t first, nk = kids_of(s, x->id, &first);
	uint64_t most = s->l->kids / 4 > 1 ? s->l->kids / 4 : 1;

	if (x->parent == 0)
		return x->height >= 1 && nk == 1 && s->t->v[s->k[first].i].height >= 0;
	if (x->height < 0)
		return x->items <= s->l->items / 4 && x->bytes <= s->l->bytes / 4;
	return nk <= most;
}

static bool due(const struct shrink *s, const struct ds_node *x)
{
	return x->low_since_ns != 0 && s->now_ns - x->low_since_ns >= s->settle_ns;
}

/* Low siblings still must not make a node the limits would split or make room in at once. */
static bool fits_merged(const struct shrink *s, const struct ds_node *a, const struct ds_node *b)
{
	size_t f;

	if (a->height < 0)
		return a->items + b->items <= s->l->items / 2 && a->bytes + b->bytes <= s->l->bytes / 2;
	return kids_of(s, a->id, &f) + kids_of(s, b->id, &f) <= s->l->kids;
}

/* Every kid of node from goes under node to, each a PUT. */
static void reparent(struct ds_tree *t, int64_t from, int64_t to, struct ds_plan *p)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].parent != from)
			continue;
		t->v[i].parent = to;
		emit_put(p, &t->v[i]);
	}
}

/* The root r takes the kids of its only kid c and drops a level. */
static int adopt(struct ds_tree *t, size_t r, size_t c, size_t nk, struct ds_plan *p)
{
	if (plan_reserve(p, nk + 2) != 0)
		return -ENOMEM;
	t->v[r].height = t->v[c].height;
	t->v[r].low_since_ns = 0;
	emit_put(p, &t->v[r]);
	reparent(t, t->v[c].id, t->v[r].id, p);
	emit_del(p, &t->v[c]);
	remove_at(t, c);
	return 0;
}

/* b's range (and its items or kids) join a's, the sibling just before it; b goes. */
static int merge(struct ds_tree *t, size_t a, size_t b, size_t nkb, struct ds_plan *p)
{
	struct ds_node *A = &t->v[a], *B = &t->v[b];

	if (plan_reserve(p, nkb + 3) != 0)
		return -ENOMEM;
	A->hi = B->hi;
	A->low_since_ns = 0;
	if (A->height < 0) {
		A->items += B->items; /* a guess the caller replaces by its recount (dstree.h) */
		A->bytes += B->bytes;
		emit_put(p, A);
		emit_move(p, B->id, A->id, B->lo, B->hi);
	} else {
		emit_put(p, A);
		reparent(t, B->id, A->id, p);
	}
	emit_del(p, B);
	remove_at(t, b);
	return 0;
}

int ds_shrink(struct ds_tree *t, const struct ds_limits *l, int64_t now_ns, struct ds_plan *p)
{
	struct shrink s = { t, l, NULL, now_ns, (int64_t)l->settle_ms * 1000000 };
	size_t r, first, nk, best = SIZE_MAX;
	struct key *k;
	int rc = 0;

	p->n = 0;
	if (!limits_usable(l) || now_ns <= 0)
		return -EINVAL;
	r = root_at(t);
	if (r == t->n)
		return -EINVAL;
	k = malloc((t->n ? t->n : 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	keys_fill(t, false, k);
	s.k = k;

	for (size_t i = 0; i < t->n; i++) {
		bool q = qualifies(&s, &t->v[i]);
		if (!q)
			t->v[i].low_since_ns = 0;
		else if (t->v[i].low_since_ns == 0)
			t->v[i].low_since_ns = now_ns;
	}

	/* Adoption first: it is the one shrink that lowers the tree. */
	nk = kids_of(&s, t->v[r].id, &first);
	if (due(&s, &t->v[r]) && nk == 1) {
		size_t c = k[first].i, f;
		rc = adopt(t, r, c, kids_of(&s, t->v[c].id, &f), p);
		free(k);
		return rc;
	}

	/* Adjacent keys with the same parent are adjacent siblings; the lowest lo goes first, leaves before
	 * managers at the same lo (the leaves are what holds storage). */
	for (size_t j = 0; j + 1 < t->n; j++) {
		const struct ds_node *a = &t->v[k[j].i], *b = &t->v[k[j + 1].i];
		if (k[j].a == 0 || k[j].a != k[j + 1].a || a->hi != b->lo || a->height != b->height)
			continue;
		if (!due(&s, a) || !due(&s, b) || !fits_merged(&s, a, b))
			continue;
		if (best == SIZE_MAX || a->lo < t->v[k[best].i].lo ||
		    (a->lo == t->v[k[best].i].lo && a->height < t->v[k[best].i].height))
			best = j;
	}
	if (best != SIZE_MAX) {
		size_t a = k[best].i, b = k[best + 1].i;
		rc = merge(t, a, b, kids_of(&s, t->v[b].id, &first), p);
	}
	free(k);
	return rc;
}

/* ---- invariants ------------------------------------------------------------------------------------- */

static int check_node(const struct ds_tree *t, const struct ds_node *x, const struct key *byid, char *why,
		      size_t whylen)
{
	size_t f;

	if (x->height < -1) {
		snprintf(why, whylen, "node %lld has height %d", (long long)x->id, x->height);
		return -EINVAL;
	}
	if (x->lo >= x->hi || x->hi > DS_HASH_END) {
		snprintf(why, whylen, "node %lld has the range [%#llx, %#llx)", (long long)x->id,
			 (unsigned long long)x->lo, (unsigned long long)x->hi);
		return -EINVAL;
	}
	if (x->height >= 0 && (x->items || x->bytes)) {
		snprintf(why, whylen, "manager %lld carries counts (%llu items, %llu bytes)", (long long)x->id,
			 (unsigned long long)x->items, (unsigned long long)x->bytes);
		return -EINVAL;
	}
	if (x->parent == 0)
		return 0;
	if (keys_run(byid, t->n, x->parent, &f) == 0) {
		snprintf(why, whylen, "node %lld's parent %lld does not exist", (long long)x->id,
			 (long long)x->parent);
		return -EINVAL;
	}
	if (t->v[byid[f].i].height != x->height + 1) {
		snprintf(why, whylen, "node %lld of height %d is under node %lld of height %d, not %d",
			 (long long)x->id, x->height, (long long)x->parent, t->v[byid[f].i].height, x->height + 1);
		return -EINVAL;
	}
	return 0;
}

/* The kids of manager m, by lo, must tile its range from lo to hi. */
static int check_kids(const struct ds_tree *t, const struct ds_node *m, const struct key *byplace, char *why,
		      size_t whylen)
{
	size_t f, nk = keys_run(byplace, t->n, m->id, &f);
	uint64_t at = m->lo;

	if (nk == 0) {
		snprintf(why, whylen, "manager %lld has no kids", (long long)m->id);
		return -EINVAL;
	}
	for (size_t j = f; j < f + nk; j++) {
		const struct ds_node *c = &t->v[byplace[j].i];
		if (c->lo != at) {
			snprintf(why, whylen, "manager %lld's kids %s at %#llx: kid %lld starts at %#llx",
				 (long long)m->id, c->lo > at ? "leave a gap" : "overlap", (unsigned long long)at,
				 (long long)c->id, (unsigned long long)c->lo);
			return -EINVAL;
		}
		at = c->hi;
	}
	if (at != m->hi) {
		snprintf(why, whylen, "manager %lld's kids end at %#llx, not at its hi %#llx", (long long)m->id,
			 (unsigned long long)at, (unsigned long long)m->hi);
		return -EINVAL;
	}
	return 0;
}

int ds_check(const struct ds_tree *t, char *why, size_t whylen)
{
	struct key *byid, *byplace;
	size_t nroots, f;
	int rc = 0;

	byid = malloc((t->n ? 2 * t->n : 1) * sizeof(*byid));
	if (!byid)
		return -ENOMEM;
	byplace = byid + t->n;
	keys_fill(t, true, byid);
	keys_fill(t, false, byplace);

	nroots = keys_run(byplace, t->n, 0, &f);
	if (nroots != 1) {
		snprintf(why, whylen, "the tree has %zu roots, not 1", nroots);
		rc = -EINVAL;
	} else {
		const struct ds_node *r = &t->v[byplace[f].i];
		if (r->lo != 0 || r->hi != DS_HASH_END || r->height < 0) {
			snprintf(why, whylen,
				 "the root %lld is [%#llx, %#llx) of height %d, not a manager over everything",
				 (long long)r->id, (unsigned long long)r->lo, (unsigned long long)r->hi, r->height);
			rc = -EINVAL;
		}
	}
	for (size_t j = 0; rc == 0 && j < t->n; j++) {
		int64_t id = byid[j].a;
		if (id <= 0 || id >= t->next_id || (j > 0 && byid[j - 1].a == id)) {
			snprintf(why, whylen, "node id %lld is %s", (long long)id,
				 id <= 0 ? "not positive" : id >= t->next_id ? "not below next_id" : "not unique");
			rc = -EINVAL;
		}
	}
	/* With every parent one level up, there is no cycle and every node leads to the one root. */
	for (size_t i = 0; rc == 0 && i < t->n; i++)
		rc = check_node(t, &t->v[i], byid, why, whylen);
	for (size_t i = 0; rc == 0 && i < t->n; i++)
		if (t->v[i].height >= 0)
			rc = check_kids(t, &t->v[i], byplace, why, whylen);
	free(byid);
	return rc;
}
