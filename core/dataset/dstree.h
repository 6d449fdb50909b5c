/* SPDX-License-Identifier: MIT */
/* dstree.h -- the shape of a keyed dataset (DistZero's design): a singly rooted tree of managers over
 * leaves, each node covering a half-open range of key hashes, grown by splitting full nodes and shrunk by
 * merging and adopting once a node has been small "for long enough".
 *
 * Pure logic over an in-memory tree: no items, no I/O.  Every key hashes into [0, DS_HASH_END).  Leaves
 * (height -1) hold the items and carry only their counts here; a manager of height h has kids of height
 * h-1 whose ranges partition its own, sorted by lo, with no gap and no overlap; the root covers everything.
 *
 * Every operation both changes the in-memory tree and lists, in a plan, the row changes the caller applies
 * to storage in ONE transaction, so a crash leaves the old tree or the new.  The plan is in an order a
 * database with immediate foreign keys (node.parent -> node.id, item.leaf -> node.id) accepts: a row is
 * PUT before anything refers to it, items leave a leaf before its DEL, a manager's kids leave it before
 * its DEL.  A node may be PUT more than once in a plan; each PUT is its whole row at that point, the last
 * one its final row.  Applied in order, the plan's rows equal the in-memory tree's.
 *
 * Counts: the module never knows how many items a DS_MOVE_ITEMS moves.  The items and bytes in the PUT of
 * a leaf named by a DS_MOVE_ITEMS (from or to) are a guess (a split says 0 for both leaves, a merge the
 * sum); the caller recounts every such leaf that still exists after applying the plan, in the same
 * transaction (SELECT COUNT/SUM), and stores the counts both in its row and in ds_find(t, id).  Between
 * operations the caller keeps every leaf's counts current as it adds and removes items.
 *
 * Errors and atomicity: functions return 0 or a negative errno.  ds_split and ds_shrink allocate all they
 * need before changing a row, so on an error no node's row has changed and the plan is empty (ds_shrink
 * may have updated low_since_ns, which no row carries: PUTs say 0).
 *
 * Who owns what: the tree owns t->v (ds_tree_free); a plan owns p->v (ds_plan_free).  A plan must be
 * zero-initialised before its first use; each operation empties it (keeping its buffer) and fills it with
 * that operation's changes only.  Pointers returned by ds_find, ds_root and ds_leaf_of point into t->v:
 * valid until the next call that changes the tree.  Not thread-safe: one caller at a time per tree. */
#ifndef FABRIC_CORE_DSTREE_H
#define FABRIC_CORE_DSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_HASH_END (1ULL << 62)

struct ds_limits {
	uint32_t kids;      /* most kids a manager has (>= 2) */
	uint64_t items;     /* a leaf with more items than this splits (>= 2) */
	uint64_t bytes;     /* ... or with more bytes than this (>= 1) */
	uint32_t settle_ms; /* how long a shrink condition must hold before the merge or adoption is done */
};
#define DS_LIMITS_DEFAULT { 16, 4096, 64ULL << 20, 5000 }

struct ds_node {
	int64_t id;            /* > 0, unique */
	int64_t parent;        /* 0 for the root */
	int height;            /* -1 leaf, >= 0 manager */
	uint64_t lo, hi;       /* [lo, hi) */
	uint64_t items, bytes; /* leaves only (managers: 0) */
	int64_t low_since_ns;  /* in memory only: when its shrink condition was first seen to hold; 0: not holding */
};

struct ds_tree {
	struct ds_node *v; /* every node, any order */
	size_t n, cap;
	int64_t next_id;   /* the id the next new node gets */
};

enum ds_change_kind { DS_PUT, DS_DEL, DS_MOVE_ITEMS };

struct ds_change {
	enum ds_change_kind kind;
	struct ds_node node; /* DS_PUT: the node's whole new row (insert or replace); DS_DEL: node.id is deleted */
	int64_t from, to;    /* DS_MOVE_ITEMS: the items of leaf `from` whose hash is in [lo, hi) go to leaf `to` */
	uint64_t lo, hi;
};

struct ds_plan {
	struct ds_change *v;
	size_t n, cap;
};

/* "kids:K,items:N,bytes:B,settle:S", terms in any order, any subset; a missing term keeps its
 * DS_LIMITS_DEFAULT value.  B is a size as core/text/size.h spells them (4096, 64K, 512M, 2G, 1T, 4KiB);
 * S is seconds, a decimal with up to 3 fractional digits ("0.2", "5").  -EINVAL with one
 * sentence in why for an empty string or term, an unknown or repeated key, a missing ':' or value, junk,
 * overflow, or a value out of range (kids 2..1024, items >= 2, bytes >= 1, settle <= 3600 s); *out is
 * untouched then. */
int ds_limits_parse(const char *s, struct ds_limits *out, char *why, size_t whylen);
/* The canonical text ds_limits_parse reads back: "kids:16,items:4096,bytes:67108864,settle:5" (settle with
 * its trailing fractional zeros dropped).  -ERANGE when buf cannot hold it all. */
int ds_limits_format(const struct ds_limits *l, char *buf, size_t len);

/* Make t (whatever it held is forgotten, not freed) the minimal tree: a root manager of height 0 over
 * [0, DS_HASH_END) with id first_id (> 0) and one leaf kid over the same range, id first_id + 1.  p gets
 * the two DS_PUTs. */
int ds_tree_new(struct ds_tree *t, int64_t first_id, struct ds_plan *p);
/* Append a copy of a node loaded from storage (rebuilding a tree from its rows, t zero-initialised first);
 * its low_since_ns starts at 0 and next_id stays above every id.  -EINVAL for an id <= 0, -EEXIST for an
 * id already there.  Call ds_check once all are added. */
int ds_tree_add(struct ds_tree *t, const struct ds_node *n);
void ds_tree_free(struct ds_tree *t);
void ds_plan_free(struct ds_plan *p);

/* NULL when there is no such node / no root / no leaf holding hash. */
struct ds_node *ds_find(struct ds_tree *t, int64_t id);
struct ds_node *ds_root(struct ds_tree *t);
struct ds_node *ds_leaf_of(struct ds_tree *t, uint64_t hash);
/* The leaf holds more items or more bytes than the limits allow: the caller splits it. */
bool ds_leaf_over(const struct ds_limits *l, const struct ds_node *leaf);

/* Split leaf `leaf` [lo, hi) at mid (the median of its items' hashes; lo < mid < hi, else -EINVAL): it
 * keeps [lo, mid), a new leaf beside it gets [mid, hi), and the plan ends with the PUTs of both and the
 * DS_MOVE_ITEMS of [mid, hi) between them (both leaves' counts 0 until the caller recounts).
 * A parent with l->kids kids or more first makes room, DistZero's two growth rules:
 *   - a full non-root manager splits in two: a new manager beside it under the same parent takes the upper
 *     half of its kids by lo (kids [k/2, k)); a full grandparent makes room the same way first;
 *   - a full root first pushes all its kids down into a new manager (a proxy) of its old height and grows
 *     a level; then the proxy splits as above.  The root keeps its id.
 * Each full manager splits once, so a tree grown under larger limits comes back within smaller ones
 * gradually.  -ENOENT when leaf is no leaf of t; -EINVAL for limits below ds_limits_parse's minimums or a
 * leaf whose ancestors are missing (ds_check says more). */
int ds_split(struct ds_tree *t, const struct ds_limits *l, int64_t leaf, uint64_t mid, struct ds_plan *p);
/* Called periodically (every 200 ms, say) with a monotonic now_ns > 0: notes which nodes are small now,
 * then does at most one shrink whose condition has held for l->settle_ms: the root adopting the kids of
 * its only kid when that kid is a manager, else the merge of two adjacent low siblings (the lowest lo
 * first, leaves before managers at the same lo).  A leaf is low with items <= l->items/4 and bytes <=
 * l->bytes/4, a non-root manager with at most max(1, l->kids/4) kids; merged, they must still fit in half
 * the leaf limits or in l->kids.  An empty plan: nothing was due.  -EINVAL for now_ns <= 0, limits below
 * ds_limits_parse's minimums, or a tree without a root. */
int ds_shrink(struct ds_tree *t, const struct ds_limits *l, int64_t now_ns, struct ds_plan *p);

/* Every invariant of the shape (not the limits, which may have changed since the tree grew): one root,
 * parent 0, over [0, DS_HASH_END); parents exist and are one level up; each manager's kids partition its
 * range; managers carry no counts; ids are unique and below next_id.  0, or -EINVAL with why, or -ENOMEM. */
int ds_check(const struct ds_tree *t, char *why, size_t whylen);
/* The root's height: 0 for the minimal tree, -1 for a tree without a root. */
int ds_height(const struct ds_tree *t);

#endif
