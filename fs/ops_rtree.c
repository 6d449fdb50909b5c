/* SPDX-License-Identifier: MIT */
/* ops_rtree.c -- datasets/NAME/.tree of another node's dataset (kind rtree): the same text as on the
 * dataset's node, asked of it at the open and at each read from offset 0 after the first (core/ctl's
 * `dataset tree`, which goes to that node and is answered there as the caller's uid and gid).  Unlike a
 * local .tree, poll(2) answers ready at once: no node tells this one of another node's tree changing.
 *
 *   rtree  FS_RTREE_BASE + k   k: the dataset's directory's place in ops_remote.c's table (its inode is
 *                              FS_REMOTE_BASE + k) */
#include <errno.h>
#include <fcntl.h>
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
	char *text;
	size_t len;
	bool fresh; /* made at the open: the first read from 0 takes it */
};

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
	rc = ask(req, o);
	if (rc) {
		free(o->text);
		free(o);
		fuse_reply_err(req, -rc);
		return;
	}
	o->fresh = true;
	fi->fh = (uintptr_t)o;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
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
	free(o->text);
	free(o);
	fuse_reply_err(req, 0);
}

static void rtree_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	(void)ino;
	(void)fi;
	fs_poll_ready(req, ph);
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
