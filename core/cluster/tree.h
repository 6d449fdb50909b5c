/* SPDX-License-Identifier: MIT */
/* tree.h -- a directory of this node's vars/ as a list of entries, for moving it whole to another node:
 * the walk (the directory first, parents before children), its fingerprint, and its removal.
 *
 * The fingerprint says "the same tree": the XXH3-128 over one line per entry, "PATH\tKIND\tXXH3-or-TARGET\n",
 * sorted by path (ids differ from node to node, names and bytes do not).  A move of a directory records
 * it, and the node that took the tree proves it holds that tree by computing it again (transfer.h HAS).
 *
 * Who owns what: tree_walk's entries are the walk's, valid during fn only. */
#ifndef FABRIC_CORE_TREE_H
#define FABRIC_CORE_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "core/os/hash.h"
#include "core/store/path.h"
#include "core/store/store.h"

struct tree_ent {
	const char *path;        /* under vars/: "d", "d/sub", "d/sub/x" */
	struct store_attr a;     /* its attributes (a.id is this node's id) */
	const char *kind;        /* "dir" | "var" | "mutable" | "link" */
	const char *xxh3;        /* a sealed variable's, else "" */
	const char *target;      /* a link's, else "" */
	const char *type, *doc, *refs, *scope; /* NULL when unset (scope: "any" when unset) */
};

/* fn for vars/NAME (a directory) and everything under it, parents first; a non-zero return stops the walk
 * and is returned.  -ENOTDIR when NAME is not a directory. */
int tree_walk(struct store *st, const char *name, int (*fn)(void *arg, const struct tree_ent *e), void *arg);
/* The fingerprint of vars/NAME's tree (above) into hex. */
int tree_fingerprint(struct store *st, const char *name, char hex[HASH_HEX_LEN + 1]);
/* Remove vars/NAME and everything under it, children first, if NAME is still object id.  0 or -errno (the
 * first failure; the walk goes on past it). */
int tree_remove(struct store *st, const char *name, uint64_t id);

#endif
