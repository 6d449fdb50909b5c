/* SPDX-License-Identifier: MIT */
/* ops_outgoing.c -- an item written here into another node's dataset (kind outgoing).
 *
 * A dataset lives on the node that made it, with its items.  A create in another node's dataset here
 * gives the writer a file of its own, an inode of this kind, whose bytes gather in a memfd (no
 * passthrough: every write reaches the daemon, so this is for small items); the close that leaves bytes
 * in it sends them whole to the dataset's node (DATASET_ITEM_VERB, with their xxh3), which makes the
 * item there as the writer's uid and gid and seals it, and close(2) answers with that node's errno: a
 * key made there meanwhile EEXIST, bytes its type refuses EINVAL, a node down EHOSTDOWN.  A close that
 * leaves no bytes sends nothing (a shell's redirection closes its first descriptor before anything is
 * written); the release sends what was never sent (an empty item: `touch`), its failure only logged.
 * Once sent, the item is put in this mount's index of the other nodes' objects ahead of the catalog, so
 * this node reads its own write at once, and the kernel forgets the writer's inode for the name.
 *
 *   outgoing  FS_OUTGOING_BASE + k   k a slot of the table below, free again at the last release
 *
 * Who owns what: the table owns each entry and its memfd; an open file's fh is its entry's slot + 1. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cluster/remote.h"
#include "core/ctl/ctl.h"
#include "fs/fs.h"

struct outgoing {
	fuse_ino_t parent; /* the dataset's directory here (kind remote) */
	char node[NAMES_NODE_MAX + 1];
	int64_t dir;       /* and its id on its node */
	char dataset[NAMES_LEAF_MAX + 1], key[NAMES_LEAF_MAX + 1];
	int fd;            /* the bytes so far */
	uint32_t mode, uid, gid;
	int64_t made_ns;
	int opens;         /* under lock */
	pthread_mutex_t m; /* the send: two closes at once send once */
	atomic_bool sent;  /* read without m (a writer's check must not wait for a send) */
	int rc;            /* the send's answer, for a close after it */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct outgoing *slots[FS_OUTGOING_MAX];
static size_t next_slot; /* slots are taken round, so an inode number is not reused at once */

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The entry of ino, or NULL.  Lock held. */
static struct outgoing *entry(uint64_t ino)
{
	uint64_t k = ino - FS_OUTGOING_BASE;

	return ino >= FS_OUTGOING_BASE && k < FS_OUTGOING_MAX ? slots[k] : NULL;
}

static void stat_of(uint64_t ino, const struct outgoing *g, struct stat *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | (g->mode & 07777);
	st->st_nlink = 1;
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	st->st_blksize = 4096;
	if (fstat(g->fd, &sb) == 0)
		st->st_size = sb.st_size;
	st->st_mtim.tv_sec = g->made_ns / 1000000000;
	st->st_mtim.tv_nsec = g->made_ns % 1000000000;
	st->st_ctim = st->st_atim = st->st_mtim;
}

void fs_outgoing_create(fuse_req_t req, fuse_ino_t parent, const struct remote_attr *dir, const char *key,
			mode_t mode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e = { .entry_timeout = 0, .attr_timeout = 0 };
	struct outgoing *g;
	struct timespec now;
	size_t k;

	if (names_check_leaf(key, NULL, 0) != 0 || strcmp(key, FS_DSTREE_NAME) == 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	g = calloc(1, sizeof(*g));
	if (!g || (g->fd = memfd_create("fabric-outgoing", MFD_CLOEXEC)) < 0) {
		fuse_reply_err(req, g ? errno : ENOMEM);
		free(g);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	g->parent = parent;
	snprintf(g->node, sizeof(g->node), "%s", dir->node);
	g->dir = dir->id;
	snprintf(g->dataset, sizeof(g->dataset), "%s", dir->name);
	snprintf(g->key, sizeof(g->key), "%s", key);
	g->mode = (mode & ~ctx->umask) & 0777;
	g->uid = ctx->uid;
	g->gid = ctx->gid;
	g->made_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	g->opens = 1;
	pthread_mutex_init(&g->m, NULL);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < FS_OUTGOING_MAX; i++) {
		k = (next_slot + i) % FS_OUTGOING_MAX;
		if (!slots[k])
			break;
	}
	if (slots[k])
		k = FS_OUTGOING_MAX;
	else {
		slots[k] = g;
		next_slot = k + 1;
	}
	pthread_mutex_unlock(&lock);
	if (k == FS_OUTGOING_MAX) {
		close(g->fd);
		pthread_mutex_destroy(&g->m);
		free(g);
		fuse_reply_err(req, ENFILE);
		return;
	}
	e.ino = FS_OUTGOING_BASE + k;
	stat_of(e.ino, g, &e.attr);
	fi->fh = k + 1;
	fi->direct_io = 1; /* its bytes are the memfd's, never the page cache's */
	if (fuse_reply_create(req, &e, fi) == -ENOENT) { /* the caller was interrupted: nobody has it */
		pthread_mutex_lock(&lock);
		slots[k] = NULL;
		pthread_mutex_unlock(&lock);
		close(g->fd);
		pthread_mutex_destroy(&g->m);
		free(g);
	}
}

/* Send g's bytes to its dataset's node (core/ctl's client of DATASET_ITEM_VERB, which also puts the new
 * item in the index of other nodes' objects), then tell the kernel: 0, or -errno with why.  Called
 * without the lock (g is held open, so it stays). */
static int send_item(fuse_req_t req, struct outgoing *g, char *why, size_t whylen)
{
	struct fs *fs = fs_of(req);
	const struct dataset_item_out it = { g->node, g->dir, g->dataset, g->key, g->mode, g->uid, g->gid,
					     g->made_ns };
	int64_t id = 0;
	int rc = fs->cluster ? ctl_dataset_send_item(fs->cluster, &it, g->fd, &id, why, whylen)
			     : text_say(why, whylen, -EREMOTE, "this node is in no cluster");

	if (rc == 0)
		fs_remote_changed(fs, g->node, id, g->dir, g->key, false);
	return rc;
}

/* Send once: the first close with bytes, else the release. */
static int send_once(fuse_req_t req, struct outgoing *g, bool at_release)
{
	char why[512] = "";
	struct stat sb;
	int rc = 0;

	pthread_mutex_lock(&g->m);
	if (atomic_load(&g->sent))
		rc = g->rc;
	else if (at_release || (fstat(g->fd, &sb) == 0 && sb.st_size > 0)) {
		atomic_store(&g->sent, true);
		rc = g->rc = send_item(req, g, why, sizeof(why));
		if (rc)
			fs_log("datasets/%s/%s, written here for node %s: %s", g->dataset, g->key, g->node, why);
	}
	pthread_mutex_unlock(&g->m);
	return rc;
}

static bool sent(struct outgoing *g)
{
	return atomic_load(&g->sent);
}

static struct outgoing *held(struct fuse_file_info *fi)
{
	struct outgoing *g;

	pthread_mutex_lock(&lock);
	g = fi->fh && fi->fh <= FS_OUTGOING_MAX ? slots[fi->fh - 1] : NULL;
	pthread_mutex_unlock(&lock);
	return g;
}

static int outgoing_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	struct outgoing *g;

	(void)req;
	*ttl = 0;
	pthread_mutex_lock(&lock);
	g = entry(ino);
	if (g)
		stat_of(ino, g, st);
	pthread_mutex_unlock(&lock);
	return g ? 0 : -ENOENT;
}

static int outgoing_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set, struct stat *st,
			    double *ttl)
{
	struct outgoing *g;
	int rc = 0;

	pthread_mutex_lock(&lock);
	g = entry(ino);
	if (!g)
		rc = -ENOENT;
	else if ((to_set & FUSE_SET_ATTR_SIZE) && sent(g))
		rc = -EROFS; /* it is the other node's now */
	else if ((to_set & FUSE_SET_ATTR_SIZE) && ftruncate(g->fd, attr->st_size) < 0)
		rc = -errno;
	if (rc == 0 && (to_set & FUSE_SET_ATTR_MODE))
		g->mode = attr->st_mode & 0777;
	pthread_mutex_unlock(&lock);
	return rc ? rc : outgoing_getattr(req, ino, st, ttl);
}

static void outgoing_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct outgoing *g;

	pthread_mutex_lock(&lock);
	g = entry(ino);
	if (g && sent(g))
		g = NULL; /* it is the other node's now: opened there */
	if (g)
		g->opens++;
	pthread_mutex_unlock(&lock);
	if (!g) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fi->fh = ino - FS_OUTGOING_BASE + 1;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void outgoing_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct outgoing *g = held(fi);
	char *buf = g ? malloc(size ? size : 1) : NULL;
	ssize_t n = buf ? pread(g->fd, buf, size, off) : -1;

	(void)ino;
	if (n < 0)
		fuse_reply_err(req, g && buf ? errno : EBADF);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void outgoing_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	struct outgoing *g = held(fi);
	ssize_t n;

	(void)ino;
	if (!g || sent(g)) {
		fuse_reply_err(req, g ? EROFS : EBADF);
		return;
	}
	n = pwrite(g->fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void outgoing_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct outgoing *g = held(fi);

	(void)ino;
	fuse_reply_err(req, g ? -send_once(req, g, false) : 0);
}

static void outgoing_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct outgoing *g = held(fi);
	bool last;

	if (!g) {
		fuse_reply_err(req, 0);
		return;
	}
	pthread_mutex_lock(&lock);
	last = --g->opens == 0;
	pthread_mutex_unlock(&lock);
	if (last) {
		send_once(req, g, true);
		pthread_mutex_lock(&lock);
		slots[ino - FS_OUTGOING_BASE] = NULL;
		pthread_mutex_unlock(&lock);
		close(g->fd);
		pthread_mutex_destroy(&g->m);
		free(g);
	}
	fuse_reply_err(req, 0);
}

static void outgoing_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA); /* it has no attributes until its node has it */
}

static void outgoing_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

const struct fs_kind_ops fs_kind_outgoing = {
	.kind = "outgoing",
	.getattr = outgoing_getattr,
	.setattr = outgoing_setattr,
	.open = outgoing_open,
	.read = outgoing_read,
	.write = outgoing_write,
	.flush = outgoing_flush,
	.release = outgoing_release,
	.getxattr = outgoing_getxattr,
	.listxattr = outgoing_listxattr,
};
