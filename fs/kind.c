/* SPDX-License-Identifier: MIT */
/* kind.c -- the kinds of inode, and the FUSE callbacks that depend on the kind.
 *
 * Every inode is of one kind, and every kind is one table of the same operations (struct fs_kind_ops,
 * fs.h), as Redis' ae.c has one event backend and every backend defines the same functions.  fs_kind_of
 * picks the table from the inode number alone (no lock, no lookup); it is the only place that reads an
 * inode number's range.  Each callback here asks it once, for the inode the request is about (for an
 * operation on a name, the directory that holds the name), and calls that kind's operation, or gives the
 * answer written below for a kind that has no such operation.
 *
 *   kind      inode numbers (VB = FS_VIRT_BASE = 2^62)   what                              operations in
 *   root      FUSE_ROOT_ID (1)                           the store's root; it also holds   ops_dir.c ops_file.c
 *                                                        ctl, nodes/, tasks/, and the      ops_xattr.c
 *                                                        mount's own xattrs                ops_virtual.c
 *   store     every number not named in another row:     variables and directories of the  ops_dir.c ops_file.c
 *             the YP ids (below 2^61), and numbers       YP (2 is vars/; shards/ and their ops_xattr.c
 *             nothing hands out (the store: ENOENT)      pieces are stored objects too)
 *   ctl       FS_CTL_INO       VB + 0                    /fabric/ctl                       ops_ctl.c
 *   nodes     FS_NODES_INO     VB + 1                    nodes/ and nodes/NODE/            ops_virtual.c
 *             FS_NODE_INO      VB + 2
 *   nodestat  FS_NODESTAT_INO  VB + 3                    nodes/NODE/stat                   ops_virtual.c
 *   tasks     FS_TASKS_INO     VB + 4                    tasks/                            ops_task.c
 *   events    FS_EVENTS_INO    VB + 5, 6 (events.json)   the event stream                  ops_events.c
 *   task      FS_TASK_BASE | id << 3 | f, in [2^61, VB)  tasks/ID/ (f 0) and its files     ops_task.c
 *   peer      FS_PEER_BASE + 2k    VB + 1024 + 2k        nodes/PEER/ (another node of the  ops_peers.c
 *   peerstat  FS_PEER_BASE + 2k+1                        cluster) and nodes/PEER/stat
 *   remote    FS_REMOTE_BASE + k   VB + 2^32 + k         another node's object (in vars/)  ops_remote.c
 *   dstree    FS_DSTREE_BASE + d   VB + 2^34 + d         datasets/NAME/.tree (d: its dir)  ops_dataset.c
 *   outgoing  FS_OUTGOING_BASE + k VB + 2^41 + k         an item being written here into   ops_outgoing.c
 *                                                        another node's dataset
 *   rtree     FS_RTREE_BASE + k    VB + 2^42 + k         another node's datasets/NAME/.tree ops_rtree.c
 * Kinds ctl, nodes, nodestat, tasks and events take their names and attributes from ops_virtual.c's table.
 *
 * A kind without an operation gets (every kind has getattr):
 *   lookup ENOENT; list (opendir): no children
 *   mkdir create rmdir unlink rename symlink link: EPERM, names cannot be made or removed in a made-up
 *     directory; a rename also unless both directories' kinds rename alike, so no name moves in or out of
 *     the store; a link also unless the inode's kind links alike
 *   readlink: EINVAL, as readlink(2) of what is no symbolic link
 *   setattr: the attributes are fixed: mode and owner changes EPERM, anything else (the truncation of
 *     `> /fabric/ctl`, times) is answered with the attributes unchanged
 *   open EISDIR (only made-up directories have none); read write EBADF; flush release 0
 *   poll: ready, as a regular file always is
 *   getxattr ENODATA (ENOTSUP for any kind outside user.*, fs_op_getxattr), setxattr removexattr ENOTSUP,
 *   listxattr an empty list: made-up names are not objects
 * The callbacks that never depend on the kind stay with their kin (forget, readdir, releasedir, statfs
 * in ops_dir.c; fsync in ops_file.c); readdir gets its made-up entries through fs_kind_dirent. */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fs/fs.h"

static const struct fs_kind_ops kind_store = {
	.kind = "store",
	.symlink = fs_store_symlink,
	.link = fs_store_link,
	.readlink = fs_store_readlink,
	.lookup = fs_store_lookup,
	.list = fs_store_list,
	.mkdir = fs_store_mkdir,
	.create = fs_store_create,
	.rmdir = fs_store_rmdir,
	.unlink = fs_store_unlink,
	.rename = fs_store_rename,
	.getattr = fs_store_getattr,
	.setattr = fs_store_setattr,
	.open = fs_store_open,
	.read = fs_store_read,
	.write = fs_store_write,
	.flush = fs_store_flush,
	.release = fs_store_release,
	.setxattr = fs_store_setxattr,
	.getxattr = fs_store_getxattr,
	.listxattr = fs_store_listxattr,
	.removexattr = fs_store_removexattr,
};

/* A stored directory like the others, but for what the daemon adds to it. */
static const struct fs_kind_ops kind_root = {
	.kind = "root",
	.symlink = fs_store_symlink,
	.link = fs_store_link,
	.readlink = fs_store_readlink,
	.lookup = fs_root_lookup,
	.list = fs_root_list,
	.mkdir = fs_store_mkdir,
	.create = fs_store_create,
	.rmdir = fs_store_rmdir,
	.unlink = fs_store_unlink,
	.rename = fs_store_rename,
	.getattr = fs_store_getattr,
	.setattr = fs_store_setattr,
	.open = fs_store_open,
	.read = fs_store_read,
	.write = fs_store_write,
	.flush = fs_store_flush,
	.release = fs_store_release,
	.setxattr = fs_root_setxattr,
	.getxattr = fs_root_getxattr,
	.listxattr = fs_root_listxattr,
	.removexattr = fs_store_removexattr,
};

static const struct fs_kind_ops kind_ctl = {
	.kind = "ctl",
	.getattr = fs_vnode_getattr,
	.name = fs_vnode_name,
	.open = fs_ctl_open,
	.read = fs_ctl_read,
	.write = fs_ctl_write,
	.flush = fs_ctl_flush,
	.release = fs_ctl_release,
};

static const struct fs_kind_ops kind_nodes = {
	.kind = "nodes",
	.lookup = fs_nodes_lookup,
	.list = fs_nodes_list,
	.getattr = fs_vnode_getattr,
	.name = fs_vnode_name,
};

static const struct fs_kind_ops kind_peer = {
	.kind = "peer",
	.lookup = fs_peer_lookup,
	.list = fs_peer_list,
	.getattr = fs_peer_getattr,
	.name = fs_peer_name,
};

static const struct fs_kind_ops kind_peerstat = {
	.kind = "peerstat",
	.getattr = fs_peer_getattr,
	.name = fs_peer_name,
	.open = fs_peerstat_open,
	.read = fs_nodestat_read,
	.release = fs_nodestat_release,
};

static const struct fs_kind_ops kind_nodestat = {
	.kind = "nodestat",
	.getattr = fs_vnode_getattr,
	.name = fs_vnode_name,
	.open = fs_nodestat_open,
	.read = fs_nodestat_read,
	.release = fs_nodestat_release,
};

static const struct fs_kind_ops kind_tasks = {
	.kind = "tasks",
	.lookup = fs_tasks_lookup,
	.list = fs_tasks_list,
	.getattr = fs_vnode_getattr,
	.name = fs_vnode_name,
};

static const struct fs_kind_ops kind_task = {
	.kind = "task",
	.lookup = fs_task_lookup,
	.list = fs_task_list,
	.getattr = fs_task_getattr,
	.name = fs_task_name,
	.open = fs_task_open,
	.read = fs_task_read,
	.write = fs_task_write,
	.release = fs_task_release,
	.poll = fs_task_poll,
};

static const struct fs_kind_ops kind_events = {
	.kind = "events",
	.getattr = fs_vnode_getattr,
	.name = fs_vnode_name,
	.open = fs_events_open,
	.read = fs_events_read,
	.release = fs_events_release,
	.poll = fs_events_poll,
};

static const struct fs_kind_ops kind_dstree = {
	.kind = "dstree",
	.getattr = fs_dstree_getattr,
	.name = fs_dstree_name,
	.open = fs_dstree_open,
	.read = fs_dstree_read,
	.release = fs_dstree_release,
	.poll = fs_dstree_poll,
};

const struct fs_kind_ops *fs_kind_of(uint64_t ino)
{
	if (ino >= FS_TASK_BASE && ino < FS_VIRT_BASE)
		return &kind_task;
	if (ino >= FS_REMOTE_BASE && ino < FS_REMOTE_BASE + FS_REMOTES_MAX)
		return &fs_kind_remote;
	if (ino >= FS_DSTREE_BASE && ino < FS_DSTREE_BASE + FS_DSTREES_MAX)
		return &kind_dstree;
	if (ino >= FS_OUTGOING_BASE && ino < FS_OUTGOING_BASE + FS_OUTGOING_MAX)
		return &fs_kind_outgoing;
	if (ino >= FS_RTREE_BASE && ino < FS_RTREE_BASE + FS_REMOTES_MAX)
		return &fs_kind_rtree;
	if (ino >= FS_PEER_BASE && ino < FS_PEER_BASE + 2 * FS_PEERS_MAX)
		return (ino - FS_PEER_BASE) % 2 ? &kind_peerstat : &kind_peer;
	switch (ino) {
	case FUSE_ROOT_ID:
		return &kind_root;
	case FS_CTL_INO:
		return &kind_ctl;
	case FS_NODES_INO:
	case FS_NODE_INO:
		return &kind_nodes;
	case FS_NODESTAT_INO:
		return &kind_nodestat;
	case FS_TASKS_INO:
		return &kind_tasks;
	case FS_EVENTS_INO:
	case FS_EVENTS_JSON_INO:
		return &kind_events;
	default:
		return &kind_store;
	}
}

int fs_kind_dirent(fuse_req_t req, uint64_t ino, char *name, size_t len, struct stat *st)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);
	double ttl;
	int rc = k->name ? k->getattr(req, ino, st, &ttl) : -ENOENT;

	return rc ? rc : k->name(req, ino, name, len);
}

void fs_poll_ready(fuse_req_t req, struct fuse_pollhandle *ph)
{
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
}

void fs_text_stat(struct stat *st, uint64_t ino, uint32_t uid, uint32_t gid, int64_t mtime_ns)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = mtime_ns % 1000000000;
	st->st_ctim = st->st_atim = st->st_mtim;
}

void fs_reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off)
{
	size_t n = (size_t)off >= len ? 0 : len - (size_t)off < size ? len - (size_t)off : size;
	char *copy = n ? malloc(n) : NULL;

	if (n && !copy) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (n)
		memcpy(copy, text + off, n);
	fuse_reply_buf(req, copy, n);
	free(copy);
}

static void reply_attr_or_err(fuse_req_t req, int rc, const struct stat *st, double ttl)
{
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, st, ttl);
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct fs_kind_ops *k = fs_kind_of(parent);

	if (k->lookup)
		k->lookup(req, parent, name);
	else
		fuse_reply_err(req, ENOENT);
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double ttl = 0;
	int rc = fs_kind_of(ino)->getattr(req, ino, &st, &ttl);

	(void)fi;
	reply_attr_or_err(req, rc, &st, ttl);
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);
	struct stat st;
	double ttl = 0;
	int rc;

	(void)fi;
	if (k->setattr) {
		rc = k->setattr(req, ino, attr, to_set, &st, &ttl);
	} else { /* `> /fabric/ctl` truncates: nothing to truncate, nothing else to change */
		rc = k->getattr(req, ino, &st, &ttl);
		if (rc == 0 && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
			rc = -EPERM;
	}
	reply_attr_or_err(req, rc, &st, ttl);
}

/* A name another node holds in vars/ is taken: one name, one object, in the cluster's vars/; so is the
 * name of another node's dataset in datasets/. */
static bool taken(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fuse_req_userdata(req);
	bool vars = parent == FS_VARS_INO, datasets = parent == store_datasets_id(fs->store);

	if (!(vars && fs_remote_holds_top(req, name)) && !(datasets && fs_remote_holds_dataset(req, name)))
		return false;
	fuse_reply_err(req, EEXIST);
	return true;
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	const struct fs_kind_ops *k = fs_kind_of(parent);

	if (taken(req, parent, name))
		return;
	if (k->mkdir)
		k->mkdir(req, parent, name, mode);
	else
		fuse_reply_err(req, EPERM);
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(parent);

	if (taken(req, parent, name))
		return;
	if (k->create)
		k->create(req, parent, name, mode, fi);
	else
		fuse_reply_err(req, EPERM);
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct fs_kind_ops *k = fs_kind_of(parent);

	if (k->rmdir)
		k->rmdir(req, parent, name);
	else
		fuse_reply_err(req, EPERM);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct fs_kind_ops *k = fs_kind_of(parent);

	if (k->unlink)
		k->unlink(req, parent, name);
	else
		fuse_reply_err(req, EPERM);
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	const struct fs_kind_ops *k = fs_kind_of(parent);

	if (taken(req, newparent, newname))
		return;
	const struct fs_kind_ops *nk = fs_kind_of(newparent);

	/* between this node's directories and another node's: the two kinds' renames know of each other
	 * (another node's name is asked of it; anything else crossing is EXDEV, and mv(1) copies) */
	if (k->rename && nk->rename && (nk->rename == k->rename || k == &fs_kind_remote || nk == &fs_kind_remote))
		k->rename(req, parent, name, newparent, newname, flags);
	else
		fuse_reply_err(req, EPERM);
}

void fs_op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	const struct fs_kind_ops *k = fs_kind_of(parent);

	if (taken(req, parent, name))
		return;
	if (k->symlink)
		k->symlink(req, target, parent, name);
	else
		fuse_reply_err(req, EPERM);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	const struct fs_kind_ops *k = fs_kind_of(newparent);

	if (taken(req, newparent, newname))
		return;
	if (k->link && fs_kind_of(ino)->link == k->link)
		k->link(req, ino, newparent, newname);
	else
		fuse_reply_err(req, EPERM);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->readlink)
		k->readlink(req, ino);
	else
		fuse_reply_err(req, EINVAL);
}

/* The snapshot taken here is read by readdir and freed by releasedir (ops_dir.c). */
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);
	struct fs_dir *d = calloc(1, sizeof(*d));
	int rc;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = k->list ? k->list(req, ino, d) : 0;
	if (rc) {
		free(d->ids);
		free(d->virt);
		free(d);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		free(d->ids);
		free(d->virt);
		free(d);
	}
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->open)
		k->open(req, ino, fi);
	else
		fuse_reply_err(req, EISDIR);
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->read)
		k->read(req, ino, size, off, fi);
	else
		fuse_reply_err(req, EBADF);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->write)
		k->write(req, ino, buf, size, off, fi);
	else
		fuse_reply_err(req, EBADF);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->flush)
		k->flush(req, ino, fi);
	else
		fuse_reply_err(req, 0);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->release)
		k->release(req, ino, fi);
	else
		fuse_reply_err(req, 0);
}

void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->poll)
		k->poll(req, ino, fi, ph);
	else
		fs_poll_ready(req, ph);
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->setxattr)
		k->setxattr(req, ino, name, value, size, flags);
	else
		fuse_reply_err(req, ENOTSUP);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	/* Only user.* names are kept.  security.selinux and system.posix_acl_access are asked of every name
	 * ls -l shows: ENOTSUP makes coreutils, libselinux and libacl remember the device and stop asking
	 * (2 requests for a listing instead of 2 a name), where ENODATA made them ask again each time.
	 * (ENOSYS would turn off every getxattr of the connection, user.fabric.* included.) */
	if (strncmp(name, "user.", 5) != 0)
		fuse_reply_err(req, ENOTSUP);
	else if (k->getxattr)
		k->getxattr(req, ino, name, size);
	else
		fuse_reply_err(req, ENODATA);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->listxattr)
		k->listxattr(req, ino, size);
	else
		fs_reply_xattr_text(req, size, "", 0);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	const struct fs_kind_ops *k = fs_kind_of(ino);

	if (k->removexattr)
		k->removexattr(req, ino, name);
	else
		fuse_reply_err(req, ENOTSUP);
}
