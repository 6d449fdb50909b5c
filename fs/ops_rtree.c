/* SPDX-License-Identifier: MIT */
/* ops_rtree.c -- datasets/NAME/.tree of another node's dataset (kind rtree): the same text as on the
 * dataset's node, asked of it at the open and at each read from offset 0 after the first (core/ctl's
 * `dataset tree`, which goes to that node and is answered there as the caller's uid and gid).  poll(2) is
 * ready once this node has heard of a change in the dataset since the file's last text: an item of it
 * made, renamed or removed, or its directory's row (its node's keeper touches it after a split or a merge),
 * each a key of the catalog that fs_remote_changed passes on here (fs_rtree_changed); else the handle waits
 * in a pollset keyed by the dataset's directory's inode.
 *
 *   rtree  FS_RTREE_BASE + k   k: the dataset's directory's place in ops_remote.c's table (its inode is
 *                              FS_REMOTE_BASE + k) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cluster/remote.h"
#include "core/ctl/ctl.h"
#include "core/text/names.h"
#include "fs/fs.h"

struct rtree_open {
	char name[NAMES_LEAF_MAX + 1];
	uint64_t dir;  /* the dataset's directory's inode */
	uint64_t seen; /* its changes heard of (watch) when the text was asked for */
	char *text;
	size_t len;
	bool fresh; /* made at the open: the first read from 0 takes it */
};

/* The other nodes' datasets whose .tree is open here, each with the number of changes heard of since its
 * first open; only these are counted (fs_rtree_changed is called for every name of the cluster). */
struct watched {
	uint64_t dir;
	unsigned nopen;
	uint64_t version;
	struct watched *next;
};
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watched *watching;
static struct fs_pollset polls = FS_POLLSET_INIT;

/* dir's count of changes after adding delta (+1: an open, -1: its release) to its opens; 0 on ENOMEM. */
static uint64_t watch(uint64_t dir, int delta)
{
	struct watched **pp, *w;
	uint64_t v = 0;

	pthread_mutex_lock(&watch_lock);
	for (pp = &watching; *pp && (*pp)->dir != dir; pp = &(*pp)->next) {
	}
	w = *pp;
	if (!w && delta > 0 && (w = calloc(1, sizeof(*w)))) {
		w->dir = dir;
		w->next = watching;
		watching = w;
		pp = &watching;
	}
	if (w) {
		w->nopen += delta;
		v = w->version;
		if (w->nopen == 0) {
			*pp = w->next;
			free(w);
		}
	}
	pthread_mutex_unlock(&watch_lock);
	return v;
}

void fs_rtree_changed(uint64_t dir)
{
	bool found = false;

	pthread_mutex_lock(&watch_lock);
	for (struct watched *w = watching; w && !found; w = w->next)
		if (w->dir == dir) {
			w->version++;
			found = true;
		}
	pthread_mutex_unlock(&watch_lock);
	if (found)
		fs_pollset_wake(&polls, dir);
}

static uint64_t dir_of(fuse_ino_t ino)
{
	return FS_REMOTE_BASE + (ino - FS_RTREE_BASE);
}

/* The text of `dataset tree NAME` as the caller gets it, into o; -errno when the command is refused. */
static int ask(fuse_req_t req, struct rtree_open *o)
{
	struct ctl_env env = fs_ctl_env(req);
	struct text ans = { 0 };
	char line[NAMES_LEAF_MAX + 32];
	int rc;

	snprintf(line, sizeof(line), "dataset tree %s", o->name);
	o->seen = watch(o->dir, 0); /* before the question: a change while it is answered makes a poll ready */
	rc = ctl_run(&env, line, strlen(line), &ans);
	if (rc) {
		fs_log("datasets/%s/.tree: %.*s", o->name, (int)(ans.len ? ans.len - 1 : 0), ans.buf ? ans.buf : "");
		text_free(&ans);
		return rc;
	}
	free(o->text);
	o->text = NULL;
	return text_take(&ans, &o->text, &o->len);
}

static int rtree_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	struct remote_attr a;

	*ttl = 0;
	if (!fs_remote_dataset_of(req, dir_of(ino), &a))
		return -ENOENT;
	fs_text_stat(st, ino, a.uid, a.gid, a.modified_ns);
	return 0;
}

bool fs_rtree_lookup(fuse_req_t req, fuse_ino_t parent)
{
	struct fuse_entry_param e = { .ino = FS_RTREE_BASE + (parent - FS_REMOTE_BASE), .entry_timeout = FS_TTL_DIR };
	double ttl;

	if (rtree_getattr(req, e.ino, &e.attr, &ttl) != 0)
		return false;
	fuse_reply_entry(req, &e);
	return true;
}

static void rtree_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct remote_attr a;
	struct rtree_open *o;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (!fs_remote_dataset_of(req, dir_of(ino), &a)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	snprintf(o->name, sizeof(o->name), "%s", a.name);
	o->dir = dir_of(ino);
	watch(o->dir, +1);
	rc = ask(req, o);
	if (rc) {
		watch(o->dir, -1);
		free(o->text);
		free(o);
		fuse_reply_err(req, -rc);
		return;
	}
	o->fresh = true;
	fi->fh = (uintptr_t)o;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		watch(o->dir, -1);
		free(o->text);
		free(o);
	}
}

static void rtree_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct rtree_open *o = (struct rtree_open *)(uintptr_t)fi->fh;
	int rc = off == 0 && !o->fresh ? ask(req, o) : 0;

	(void)ino;
	o->fresh = false;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_reply_slice(req, o->text, o->len, size, off);
}

static void rtree_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rtree_open *o = (struct rtree_open *)(uintptr_t)fi->fh;

	(void)ino;
	watch(o->dir, -1);
	free(o->text);
	free(o);
	fuse_reply_err(req, 0);
}

static void rtree_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct rtree_open *o = (struct rtree_open *)(uintptr_t)fi->fh;
	bool changed = watch(o->dir, 0) != o->seen;

	(void)ino;
	if (changed || !ph) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, changed ? POLLIN | POLLRDNORM : 0);
		return;
	}
	if (fs_pollset_add(&polls, o->dir, ph) != 0) {
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		return;
	}
	/* a change between the look above and the registration found no handle: look again */
	if (watch(o->dir, 0) != o->seen) {
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		fs_pollset_wake(&polls, o->dir);
		return;
	}
	fuse_reply_poll(req, 0);
}

static int rtree_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len)
{
	(void)req;
	(void)ino;
	snprintf(buf, len, "%s", FS_DSTREE_NAME);
	return 0;
}

const struct fs_kind_ops fs_kind_rtree = {
	.kind = "rtree",
	.getattr = rtree_getattr,
	.name = rtree_name,
	.open = rtree_open,
	.read = rtree_read,
	.release = rtree_release,
	.poll = rtree_poll,
};
