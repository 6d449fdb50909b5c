/* SPDX-License-Identifier: MIT */
/* shard.h -- a shard across the nodes of a cluster: one mutable piece on every node (Dagger's @shard).
 *
 * `shard NAME SIZE [nodes=N,...]` makes shards/NAME with a piece shards/NAME/NODE on every node that is up
 * (or the listed ones, each of which must be up), each piece made by its own node (transfer.h SHARD) and
 * scoped to it: all or nothing, a piece made before a failure is removed again.  `shard NAME extend`
 * gives a piece, of the shard's size, mode and owner, to every node that is up and has none (a node
 * that joined later: never silently).  Every node lists every piece under shards/NAME/ (fs/ops_remote.c)
 * and resolves shards/NAME/local to its own; another node's piece is listed with its size and scope but
 * never read from here (EREMOTE): it changes in place on its node, so a copy would be stale the moment
 * it was made, and a task that needs it runs there (`each=`, to come).
 *
 * Who owns what: the call is the caller's thread's; out gets one "NODE\tshards/NAME/NODE\tSIZE" line
 * for each piece made. */
#ifndef FABRIC_CORE_SHARD_H
#define FABRIC_CORE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/text/text.h"

struct cluster;
struct store;

struct shard_req {
	const char *name;
	uint64_t size;         /* for a new shard */
	const char *nodes;     /* "n1,n2" or NULL: every node that is up */
	bool extend;           /* give a piece to every node up that has none (size, mode, owner the shard's) */
	uint32_t mode, dir_mode, uid, gid;
};

int shard_make(struct cluster *c, struct store *st, const struct shard_req *r, struct text *out, char *why,
	       size_t whylen);
/* The nodes that hold a piece of shard name (this node's first, then the others' as the catalog has
 * them), one "NODE\n" line each into out: 0, or -ENOENT when no node has one. */
int shard_pieces(struct cluster *c, struct store *st, const char *name, struct text *out);

#endif
