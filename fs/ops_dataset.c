/* SPDX-License-Identifier: MIT */
/* ops_dataset.c -- datasets/ (core/dataset/dataset.h): mkdir there makes a dataset with the default
 * limits (`dataset make` takes others); datasets/NAME/.tree, kind dstree, shows its tree.
 *
 * .tree is found by its name and not listed (so `rm -r` and `tar` of a dataset see its items only, and
 * no program trips over a name it cannot remove); read-only (0444, the dataset's owner), direct_io, st_size 0: its text is made at the open and
 * again at each read from offset 0, so `cat` sees one consistent tree and a reader that preads at 0 after
 * a poll sees the new one.  poll(2) is ready once the tree's version differs from the one the file's last
 * text showed; else the handle waits in a pollset until core/dataset says the tree changed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/text/names.h"
#include "fs/fs.h"

struct tree_open {
	uint64_t dir;
	uint64_t seen; /* the version its text shows */
	char *text;
	size_t len;
};

static struct fs_pollset polls = FS_POLLSET_INIT;

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static uint64_t dir_of(fuse_ino_t ino)
{
	return ino - FS_DSTREE_BASE;
}

void fs_dataset_mkdir(fuse_req_t req, const char *name, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs *fs = fs_of(req);
	struct store_attr a;
	uint64_t id;
	char why[512];
	const struct dataset_spec none = { 0 }; /* mkdir: untyped, the default limits */
	int rc = datasets_make(fs->datasets, name, &none, mode & ~ctx->umask & 07777, ctx->uid, ctx->gid, &id, why,
			       sizeof(why));

	if (rc == 0)
		rc = store_lookup(fs->store, store_datasets_id(fs->store), name, &a);
	else if (rc != -EEXIST)
		fs_log("mkdir datasets/%s: %s", name, why);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct fuse_entry_param e;
	fs_entry_of(&a, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		store_forget(fs->store, a.id, 1);
}

/* The attributes of dir's .tree: its dataset's owner, read-only. */
static int tree_attr(fuse_req_t req, uint64_t dir, struct stat *st)
{
	struct store_attr a;
	int rc = store_getattr(fs_of(req)->store, dir, &a);

	if (rc)
		return rc;
	if (!store_is_dataset(fs_of(req)->store, dir, NULL))
		return -ENOENT;
	fs_text_stat(st, FS_DSTREE_BASE + dir, a.uid, a.gid, a.mtime_ns);
	return 0;
}

bool fs_dstree_lookup(fuse_req_t req, fuse_ino_t parent)
{
	struct fuse_entry_param e = { .ino = FS_DSTREE_BASE + parent };

	if (parent >= FS_DSTREES_MAX || !store_is_dataset(fs_of(req)->store, parent, NULL))
		return false;
	if (tree_attr(req, parent, &e.attr) != 0)
		return false;
	e.attr_timeout = 0; /* its size and times are made up: ask again */
	e.entry_timeout = FS_TTL_DIR;
	fuse_reply_entry(req, &e);
	return true;
}

int fs_dstree_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	*ttl = 0;
	return tree_attr(req, dir_of(ino), st);
}

int fs_dstree_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len)
{
	(void)req;
	(void)ino;
	snprintf(buf, len, "%s", FS_DSTREE_NAME);
	return 0;
}

/* The file's text made again from the tree as it is now. */
static int make_text(fuse_req_t req, struct tree_open *o)
{
	struct fs *fs = fs_of(req);
	struct dataset_view v;
	struct text t = { 0 };
	char name[NAMES_LEAF_MAX + 1];
	int rc;

	if (!store_is_dataset(fs->store, o->dir, name))
		return -ENOENT;
	rc = datasets_view(fs->datasets, o->dir, &v);
	if (rc)
		return rc;
	rc = dataset_view_text(&v, name, store_node_name(fs->store), &t);
	o->seen = v.version;
	dataset_view_free(&v);
	if (rc == 0) {
		free(o->text);
		o->text = NULL;
		rc = text_take(&t, &o->text, &o->len);
	}
	text_free(&t);
	return rc;
}

void fs_dstree_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tree_open *o;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	o->dir = dir_of(ino);
	rc = make_text(req, o);
	if (rc) {
		free(o);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)o;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		free(o->text);
		free(o);
	}
}

void fs_dstree_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct tree_open *o = (struct tree_open *)(uintptr_t)fi->fh;
	int rc = off == 0 && o->seen != datasets_version(fs_of(req)->datasets, o->dir) ? make_text(req, o) : 0;

	(void)ino;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_reply_slice(req, o->text, o->len, size, off);
}

void fs_dstree_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tree_open *o = (struct tree_open *)(uintptr_t)fi->fh;

	(void)ino;
	free(o->text);
	free(o);
	fuse_reply_err(req, 0);
}

void fs_dstree_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct tree_open *o = (struct tree_open *)(uintptr_t)fi->fh;
	struct datasets *d = fs_of(req)->datasets;

	(void)ino;
	if (datasets_version(d, o->dir) != o->seen || !ph) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, datasets_version(d, o->dir) != o->seen ? POLLIN | POLLRDNORM : 0);
		return;
	}
	if (fs_pollset_add(&polls, o->dir, ph) != 0) {
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		return;
	}
	/* a change between the look above and the registration found no handle: look again */
	if (datasets_version(d, o->dir) != o->seen) {
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		fs_dataset_changed(NULL, o->dir);
		return;
	}
	fuse_reply_poll(req, 0);
}

void fs_dataset_changed(void *arg, uint64_t dir)
{
	(void)arg;
	fs_pollset_wake(&polls, dir);
}
