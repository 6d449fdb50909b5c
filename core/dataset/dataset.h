/* SPDX-License-Identifier: MIT */
/* dataset.h -- keyed datasets (DistZero's datasets): datasets/NAME/KEY, one item per key, over a tree of
 * managers and leaves that grows and shrinks by the four rules of dstree.h.
 *
 * What lives where: an item is a variable in the dataset's directory (core/store: written once, sealed,
 * read and mapped like any other, packed into slabs when small); which leaf holds it is a row the YP's
 * triggers keep with the object's own (meta/yp.h, schema 8), so an item is filed, refiled or gone in the
 * same transaction as its object; the tree's rows are written only here, each change of shape in one
 * transaction (a crash leaves the old tree or the new, and an item always in exactly one leaf).
 *
 * The keeper (one thread, datasets_start) looks at every dataset five times a second, and when told of a
 * change: a leaf past its limits is split at once (its parent making room, the root growing a level when
 * full); merges and the root's adoption wait for their condition to hold for the dataset's settle time.
 * The limits are the dataset's own (limits= at make, default DS_LIMITS_DEFAULT).
 *
 * Who owns what: struct datasets is the fs's (datasets_start .. datasets_stop, after the store is up and
 * before it goes); it holds its own lock, never the store's while it writes the YP. */
#ifndef FABRIC_CORE_DATASET_H
#define FABRIC_CORE_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dataset/dstree.h"
#include "core/store/store.h"
#include "core/text/text.h"

struct datasets;

/* changed(arg, dir) is called (from the keeper's thread, no lock held) whenever a dataset's tree or its
 * counts changed: the fs wakes the pollers of its .tree. */
int datasets_start(struct store *st, void (*log)(const char *msg), void (*changed)(void *arg, uint64_t dir),
		   void *arg, struct datasets **out);
void datasets_stop(struct datasets *d);

/* What a new dataset is: its type (a datashape, every item's: see store_dataset_make), doc, limits
 * (ds_limits_parse's text); NULL for none, or the defaults. */
struct dataset_spec {
	const char *type, *doc, *limits;
};
/* Make datasets/NAME as spec says, owned by uid:gid with mode: 0 with its directory's id in *id, or -errno
 * with a sentence in why. */
int datasets_make(struct datasets *d, const char *name, const struct dataset_spec *spec, uint32_t mode,
		  uint32_t uid, uint32_t gid, uint64_t *id, char *why, size_t whylen);
/* Look now rather than at the next tick (after many items came at once). */
void datasets_kick(struct datasets *d);

/* One node of a tree as a reader sees it: a manager's items and bytes are its subtree's. */
struct dataset_node {
	int64_t id, parent;
	int height;
	uint64_t lo, hi;
	uint32_t kids;
	uint64_t items, bytes;
};
struct dataset_view {
	char limits[128];
	int height;
	size_t n;                 /* nodes, depth first from the root, kids by lo */
	struct dataset_node *v;
	uint64_t version;         /* changes whenever anything here does */
};
/* The tree of the dataset whose directory is dir, from the YP as it is now: 0, -ENOENT (no such
 * dataset), -ENOMEM.  dataset_view_free frees v. */
int datasets_view(struct datasets *d, uint64_t dir, struct dataset_view *out);
void dataset_view_free(struct dataset_view *v);
/* The version a view taken now would carry (0 for no such dataset): the .tree file's poll. */
uint64_t datasets_version(struct datasets *d, uint64_t dir);
/* The .tree file's text of a view: a header line, then one tab-separated line per node. */
int dataset_view_text(const struct dataset_view *v, const char *name, const char *node, struct text *out);

#endif
