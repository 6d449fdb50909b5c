/* SPDX-License-Identifier: MIT */
/* ops_shards.c -- shards/ in a cluster: every node's pieces under one shards/NAME/ (core/cluster/shard.h).
 *
 * Each node keeps its own shards/NAME/ directory and its piece in it; the others' come from core/cluster's
 * index of their names.  shards/ lists every shard of every node once; shards/NAME/ (this node's directory,
 * or another node's when this one has no piece) lists the piece of every node that has one; local is
 * this node's.  Another node's piece is of kind remote: stat and the user.fabric.* xattrs answer, an
 * open is EREMOTE (it changes in place on its node).  rm of a piece is asked of its node; rmdir of
 * shards/NAME removes every node's (empty) directory of it, and is ENOTEMPTY while any node has a piece. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster/cluster.h"
#include "core/cluster/remote.h"
#include "fs/fs.h"

static struct store *store_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->store;
}

static struct cluster *cluster_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->cluster;
}

/* node's directory of shard name: 0 with it in *d. */
static int shard_dir(struct remote_index *x, const char *node, const char *name, struct remote_attr *d)
{
	struct remote_attr sh;

	if (remote_child(x, node, STORE_ROOT_ID, "shards", &sh) != 0)
		return -ENOENT;
	return remote_child(x, node, sh.id, name, d);
}

/* node's piece of shard name: 0 with it in *p. */
static int piece(struct remote_index *x, const char *node, const char *name, struct remote_attr *p)
{
	struct remote_attr d;

	return shard_dir(x, node, name, &d) ? -ENOENT : remote_child(x, node, d.id, node, p);
}

/* Is this node's directory dir a shard's, and which (into name)? */
static bool local_shard(fuse_req_t req, fuse_ino_t dir, char *name, size_t len)
{
	struct store_attr a;

	return dir != store_shards_id(store_of(req)) &&
	       store_dir_entry(store_of(req), store_shards_id(store_of(req)), dir, name, len, &a, false) == 0;
}

bool fs_shards_remote_dir(fuse_req_t req, const char *node, int64_t id, char *name, size_t len)
{
	struct remote_index *x = cluster_remote(cluster_of(req));
	struct remote_attr sh, d;

	if (!x || remote_get(x, node, id, &d) != 0 || strcmp(d.kind, "dir") != 0 ||
	    remote_child(x, node, STORE_ROOT_ID, "shards", &sh) != 0 || d.parent != sh.id)
		return false;
	snprintf(name, len, "%s", d.name);
	return true;
}

/* Every node but skip's piece of shard name, added to d. */
static int add_pieces(fuse_req_t req, const char *name, const char *skip, struct fs_dir *d, size_t *cap)
{
	struct remote_index *x = cluster_remote(cluster_of(req));
	struct cluster_node *v = NULL;
	struct remote_attr p;
	size_t n = 0;
	int rc = x ? cluster_nodes(cluster_of(req), &v, &n) : 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!v[i].self && (!skip || strcmp(v[i].name, skip) != 0) && piece(x, v[i].name, name, &p) == 0)
			rc = fs_remote_add(d, cap, &p);
	free(v);
	return rc;
}

bool fs_shards_piece_lookup(fuse_req_t req, const char *shard, const char *name)
{
	struct remote_index *x = cluster_remote(cluster_of(req));
	struct cluster_node nd;
	struct remote_attr p;

	if (!x || cluster_node(cluster_of(req), name, &nd) != 0 || nd.self || piece(x, name, shard, &p) != 0)
		return false;
	fs_remote_reply(req, &p);
	return true;
}

bool fs_shards_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct remote_index *x = cluster_remote(cluster_of(req));
	char shard[NAMES_LEAF_MAX + 1];
	struct cluster_node *v = NULL;
	struct remote_attr d;
	size_t n = 0;
	bool found = false;

	if (!x)
		return false;
	if (local_shard(req, parent, shard, sizeof(shard)))
		return fs_shards_piece_lookup(req, shard, name);
	if (parent != store_shards_id(store_of(req)) || cluster_nodes(cluster_of(req), &v, &n) != 0)
		return false;
	for (size_t i = 0; i < n && !found; i++) /* a shard this node has no directory of: the first node's */
		if (!v[i].self && shard_dir(x, v[i].name, name, &d) == 0) {
			fs_remote_reply(req, &d);
			found = true;
		}
	free(v);
	return found;
}

struct shard_names {
	struct fuse_req *req;
	struct fs_dir *d;
	size_t *cap;
	char (*seen)[NAMES_LEAF_MAX + 1];
	size_t nseen, capseen;
};

/* One node's shard directory into the listing of shards/, once for all nodes, after this node's own. */
static int add_shard(void *arg, const struct remote_attr *a)
{
	struct shard_names *l = arg;
	struct store_attr mine;

	for (size_t i = 0; i < l->nseen; i++)
		if (strcmp(l->seen[i], a->name) == 0)
			return 0;
	if (store_lookup(store_of(l->req), store_shards_id(store_of(l->req)), a->name, &mine) == 0) {
		store_forget(store_of(l->req), mine.id, 1);
		return 0;
	}
	if (l->nseen == l->capseen) {
		size_t c = l->capseen ? 2 * l->capseen : 16;
		void *s = realloc(l->seen, c * sizeof(*l->seen));
		if (!s)
			return -ENOMEM;
		l->seen = s;
		l->capseen = c;
	}
	snprintf(l->seen[l->nseen++], sizeof(l->seen[0]), "%s", a->name);
	return fs_remote_add(l->d, l->cap, a);
}

int fs_shards_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	struct remote_index *x = cluster_remote(cluster_of(req));
	char shard[NAMES_LEAF_MAX + 1];
	struct cluster_node *v = NULL;
	struct remote_attr sh;
	size_t n = 0, cap = d->nvirt;
	int rc = 0;

	if (!x)
		return 0;
	if (local_shard(req, dir, shard, sizeof(shard)))
		return add_pieces(req, shard, NULL, d, &cap);
	if (dir != store_shards_id(store_of(req)) || (rc = cluster_nodes(cluster_of(req), &v, &n)) != 0)
		return rc;
	struct shard_names l = { .req = req, .d = d, .cap = &cap };
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!v[i].self && remote_child(x, v[i].name, STORE_ROOT_ID, "shards", &sh) == 0)
			rc = remote_children(x, v[i].name, sh.id, add_shard, &l);
	free(l.seen);
	free(v);
	return rc;
}

int fs_shards_remote_list(fuse_req_t req, const char *shard, const char *node, struct fs_dir *d, size_t *cap)
{
	return add_pieces(req, shard, node, d, cap);
}

int fs_shards_unlink(fuse_req_t req, const char *shard, const char *name)
{
	struct remote_index *x = cluster_remote(cluster_of(req));
	struct remote_attr d;

	if (!x || shard_dir(x, name, shard, &d) != 0)
		return -ENOENT;
	return fs_remote_remove(req, name, d.id, name, false);
}

int fs_shards_unlink_in(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char shard[NAMES_LEAF_MAX + 1];

	return local_shard(req, parent, shard, sizeof(shard)) ? fs_shards_unlink(req, shard, name) : -ENOENT;
}

int fs_shards_rmdir(fuse_req_t req, const char *name)
{
	struct remote_index *x = cluster_remote(cluster_of(req));
	struct cluster_node *v = NULL;
	struct remote_attr d, p, sh;
	size_t n = 0;
	int rc = x ? cluster_nodes(cluster_of(req), &v, &n) : 0, mine, removed = 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!v[i].self && piece(x, v[i].name, name, &p) == 0)
			rc = -ENOTEMPTY; /* a piece listed here: rm it first (rm -r does) */
	mine = rc ? rc : store_rmdir(store_of(req), store_shards_id(store_of(req)), name);
	/* the other nodes' directories go only when this node's went or it has none: a refusal here (EACCES,
	 * ENOTEMPTY, EBUSY) leaves every node's as it was */
	for (size_t i = 0; rc == 0 && (mine == 0 || mine == -ENOENT) && i < n; i++)
		if (!v[i].self && shard_dir(x, v[i].name, name, &d) == 0 &&
		    remote_child(x, v[i].name, STORE_ROOT_ID, "shards", &sh) == 0 &&
		    fs_remote_remove(req, v[i].name, sh.id, name, true) == 0)
			removed++;
	free(v);
	return rc ? rc : mine == 0 || removed ? 0 : mine;
}
