/* SPDX-License-Identifier: MIT */
/* ops_peers.c -- nodes/ in a cluster: the other nodes (peers) beside this one, from core/cluster.
 *
 *   nodes/PEER/         kind peer      (FS_PEER_BASE + 2k)
 *   nodes/PEER/stat     kind peerstat  (FS_PEER_BASE + 2k + 1): node, state up|down, addr, capacity, free,
 *                                      since_ns, as the cluster's table has them when it is opened
 * k is the peer's place in a table of names seen since the mount, which only grows (a node once known
 * stays a member of the cluster, listed as down while it is), so an inode number always means one node.
 * nodes/ itself and nodes/THIS-NODE/ stay ops_virtual.c's; this file adds the peers to nodes/'s lookups
 * and listings, and tells the kernel when one appears or changes state (fs_peers_changed, the cluster's
 * callback). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/cluster/cluster.h"
#include "fs/fs.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char (*names)[NAMES_NODE_MAX + 1]; /* the table: k -> name */
static size_t nnames, cap;

static struct cluster *cluster_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->cluster;
}

/* The peer's place in the table, added when new; -ENOSPC past FS_PEERS_MAX, -ENOMEM. */
static int64_t index_of(const char *name)
{
	int64_t k = -1;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nnames && k < 0; i++)
		if (strcmp(names[i], name) == 0)
			k = (int64_t)i;
	if (k < 0 && nnames == FS_PEERS_MAX)
		k = -ENOSPC;
	if (k == -1 && nnames == cap) {
		size_t c = cap ? cap * 2 : 16;
		void *v = realloc(names, c * sizeof(*names));
		if (v) {
			names = v;
			cap = c;
		} else {
			k = -ENOMEM;
		}
	}
	if (k == -1) {
		snprintf(names[nnames], sizeof(names[nnames]), "%s", name);
		k = (int64_t)nnames++;
	}
	pthread_mutex_unlock(&lock);
	return k;
}

/* The peer an inode number names (into name), or -ENOENT. */
static int peer_of(uint64_t ino, char *name, size_t len)
{
	size_t k = (size_t)(ino - FS_PEER_BASE) / 2;
	int rc = -ENOENT;

	pthread_mutex_lock(&lock);
	if (ino >= FS_PEER_BASE && k < nnames) {
		snprintf(name, len, "%s", names[k]);
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

static void attr_of(uint64_t ino, struct stat *st)
{
	bool dir = (ino - FS_PEER_BASE) % 2 == 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = dir ? S_IFDIR | 0555 : S_IFREG | 0444;
	st->st_nlink = dir ? 2 : 1;
	st->st_blksize = 4096;
	clock_gettime(CLOCK_REALTIME, &st->st_mtim);
	st->st_ctim = st->st_atim = st->st_mtim;
}

/* A known peer (not this node) named name: its dir's inode number, or -ENOENT. */
static int64_t peer_dir(fuse_req_t req, const char *name)
{
	struct cluster *c = cluster_of(req);
	struct cluster_node nd;
	int64_t k;

	if (!c || cluster_node(c, name, &nd) != 0 || nd.self)
		return -ENOENT;
	k = index_of(name);
	return k < 0 ? k : (int64_t)(FS_PEER_BASE + 2 * (uint64_t)k);
}

static void reply_entry(fuse_req_t req, uint64_t ino)
{
	/* the names never go (a node once known stays listed); what a peer's stat says is read at open */
	struct fuse_entry_param e = { .ino = ino, .attr_timeout = FS_TTL_SEALED, .entry_timeout = FS_TTL_SEALED };

	attr_of(ino, &e.attr);
	fuse_reply_entry(req, &e);
}

void fs_nodes_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int64_t ino;

	if (parent != FS_NODES_INO || strcmp(name, store_node_name(((struct fs *)fuse_req_userdata(req))->store)) == 0) {
		fs_vnode_lookup(req, parent, name);
		return;
	}
	ino = peer_dir(req, name);
	if (ino < 0)
		fuse_reply_err(req, -ino);
	else
		reply_entry(req, (uint64_t)ino);
}

int fs_nodes_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	struct cluster *c = cluster_of(req);
	struct cluster_node *v;
	size_t n;
	int rc = fs_vnode_list(req, dir, d);

	if (rc || dir != FS_NODES_INO || !c)
		return rc;
	rc = cluster_nodes(c, &v, &n);
	if (rc)
		return rc;
	uint64_t *more = realloc(d->virt, (d->nvirt + n + 1) * sizeof(*more));
	if (!more) {
		free(v);
		return -ENOMEM;
	}
	d->virt = more;
	for (size_t i = 0; i < n; i++) {
		int64_t k = v[i].self ? -1 : index_of(v[i].name);
		if (k >= 0)
			d->virt[d->nvirt++] = FS_PEER_BASE + 2 * (uint64_t)k;
	}
	free(v);
	return 0;
}

void fs_peer_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (strcmp(name, "stat") != 0)
		fuse_reply_err(req, ENOENT);
	else
		reply_entry(req, parent + 1);
}

int fs_peer_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	(void)req;
	d->nvirt = 0;
	d->virt = malloc(sizeof(uint64_t));
	if (!d->virt)
		return -ENOMEM;
	d->virt[d->nvirt++] = dir + 1;
	return 0;
}

int fs_peer_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	char name[NAMES_NODE_MAX + 1];

	(void)req;
	if (peer_of(ino, name, sizeof(name)) != 0)
		return -ENOENT;
	attr_of(ino, st);
	*ttl = FS_TTL_SEALED;
	return 0;
}

int fs_peer_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len)
{
	(void)req;
	if ((ino - FS_PEER_BASE) % 2 == 1) {
		snprintf(buf, len, "stat");
		return 0;
	}
	return peer_of(ino, buf, len);
}

/* nodes/PEER/stat: the cluster's line for the peer, taken at open (read and released as nodes/NODE/stat
 * is: fs_nodestat_read, fs_nodestat_release). */
void fs_peerstat_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cluster *c = cluster_of(req);
	char name[NAMES_NODE_MAX + 1];
	struct cluster_node nd;
	struct text *a;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (!c || peer_of(ino, name, sizeof(name)) != 0 || cluster_node(c, name, &nd) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	a = calloc(1, sizeof(*a));
	fs_text_open(req, fi, a, a && cluster_node_text(&nd, a) == 0);
}

void fs_peers_changed(void *arg, const char *node)
{
	(void)arg;
	fs_notify_begin(); /* a name that appeared: the kernel may hold it as absent */
	fs_notify_name_changed(NULL, FS_NODES_INO, node);
	fs_notify_end();
}

void fs_peers_free(void)
{
	pthread_mutex_lock(&lock);
	free(names);
	names = NULL;
	nnames = cap = 0;
	pthread_mutex_unlock(&lock);
}
