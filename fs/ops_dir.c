/* SPDX-License-Identifier: MIT */
/* ops_dir.c -- names, attributes and directories of stored objects (kinds store and root, kind.c), over
 * core/store; the listing of any open directory; statfs.
 *
 * Each operation turns its arguments into one store call and its result into exactly one fuse_reply_*.
 * readdir works on a snapshot of the directory's child ids taken at opendir (by the directory's kind), so
 * entries added or removed meanwhile neither repeat nor shift others (the offset is an index into the
 * snapshot); each entry is re-checked when it is listed, against the store or, for a made-up name, its
 * kind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/fs.h"

static struct store *store_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->store;
}

static void stat_of(const struct store_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->id;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static double ttl_of(const struct store_attr *a)
{
	if (a->dir)
		return FS_TTL_DIR;
	return a->sealed ? FS_TTL_SEALED : 0.0;
}

void fs_entry_of(const struct store_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->id;
	stat_of(a, &e->attr);
	e->attr_timeout = ttl_of(a);
	/* A directory's name is as stable as a sealed variable's; a variable being written is re-looked-up
	 * each time, so that a drop or its seal is seen at once. */
	e->entry_timeout = (a->dir || a->sealed) ? FS_TTL_SEALED : 0.0;
}

static void reply_entry_or_err(fuse_req_t req, int rc, const struct store_attr *a)
{
	struct fuse_entry_param e;

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_entry_of(a, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT) /* the caller was interrupted: give the reference back */
		store_forget(store_of(req), a->id, 1);
}

void fs_store_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct store_attr a;
	int rc;

	if (strcmp(name, FS_DSTREE_NAME) == 0 && fs_dstree_lookup(req, parent))
		return;
	rc = store_lookup(store_of(req), parent, name, &a);

	if (rc == -ENOENT && parent == FS_VARS_INO && fs_remote_lookup_top(req, name))
		return; /* another node's name */
	if (rc == -ENOENT && parent == store_datasets_id(store_of(req)) && fs_remote_lookup_dataset(req, name))
		return; /* another node's dataset */
	if (rc == -ENOENT && fs_shards_lookup(req, parent, name))
		return; /* another node's shard or piece */
	if (rc == -ENOENT) {
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = FS_TTL_NEGATIVE };
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry_or_err(req, rc, &a);
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	store_forget(store_of(req), ino, nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		store_forget(store_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

int fs_store_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	struct store_attr a;
	int rc = store_getattr(store_of(req), ino, &a);

	if (rc)
		return rc;
	stat_of(&a, st);
	*ttl = ttl_of(&a);
	return 0;
}

int fs_store_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set, struct stat *st,
		     double *ttl)
{
	struct store_setattr sa = { 0 };
	struct store_attr a;
	int rc;

	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.set |= STORE_SET_MODE;
		sa.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.set |= STORE_SET_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.set |= STORE_SET_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.set |= STORE_SET_SIZE;
		sa.size = (uint64_t)attr->st_size;
		sa.pid = fuse_req_ctx(req)->pid;
	}
	if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.set |= STORE_SET_MTIME;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			sa.mtime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
		} else {
			sa.mtime_ns = (int64_t)attr->st_mtim.tv_sec * 1000000000 + attr->st_mtim.tv_nsec;
		}
	}
	rc = store_setattr(store_of(req), ino, &sa, &a);
	if (rc)
		return rc;
	stat_of(&a, st);
	*ttl = ttl_of(&a);
	return 0;
}

void fs_store_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store_attr a;
	int rc;

	if (parent == store_datasets_id(store_of(req))) {
		fs_dataset_mkdir(req, name, mode);
		return;
	}
	rc = store_mkdir(store_of(req), parent, name, mode & ~ctx->umask, ctx->uid, ctx->gid, &a);
	reply_entry_or_err(req, rc, &a);
}

/* The fabric holds variables, directories and links only: no device nodes, fifos or sockets. */
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EPERM);
}

/* Owned by the caller, as mkdir's directories are; a link has no mode of its own (0777). */
void fs_store_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store_attr a;
	int rc = store_symlink(store_of(req), parent, name, target, ctx->uid, ctx->gid, &a);

	reply_entry_or_err(req, rc, &a);
}

void fs_store_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct store_attr a;

	reply_entry_or_err(req, store_link(store_of(req), ino, newparent, newname, &a), &a);
}

void fs_store_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[STORE_LINK_MAX];
	ssize_t n = store_readlink(store_of(req), ino, buf, sizeof(buf) - 1);

	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* rm or rmdir in vars/ of a name that is another node's: asked of its node; rm of another node's piece of
 * a shard likewise. */
static int or_remove_remote(fuse_req_t req, int rc, fuse_ino_t parent, const char *name, bool dir)
{
	if (rc == -ENOENT && parent == FS_VARS_INO)
		return fs_remote_remove_top(req, name, dir);
	return rc == -ENOENT && !dir ? fs_shards_unlink_in(req, parent, name) : rc;
}

void fs_store_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent == store_shards_id(store_of(req)) && ((struct fs *)fuse_req_userdata(req))->cluster) {
		fuse_reply_err(req, -fs_shards_rmdir(req, name)); /* every node's directory of the shard */
		return;
	}
	fuse_reply_err(req, -or_remove_remote(req, store_rmdir(store_of(req), parent, name), parent, name, true));
}

void fs_store_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -or_remove_remote(req, store_unlink(store_of(req), parent, name), parent, name, false));
}

void fs_store_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned int flags)
{
	struct store_attr a;
	int rc;

	if (fs_kind_of(newparent) == &fs_kind_remote) { /* into another node's directory */
		rc = store_lookup(store_of(req), parent, name, &a);
		if (rc == 0) {
			store_forget(store_of(req), a.id, 1);
			rc = -EXDEV; /* this node's own: mv(1) copies, and the copy is refused there */
		} else if (parent == FS_VARS_INO) {
			rc = fs_remote_rename_top(req, name, newparent, newname, flags);
		}
		fuse_reply_err(req, -rc);
		return;
	}
	rc = store_rename(store_of(req), parent, name, newparent, newname, flags);
	if (rc == -ENOENT && parent == FS_VARS_INO)
		rc = fs_remote_rename_top(req, name, newparent, newname, flags);
	fuse_reply_err(req, -rc);
}

int fs_store_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	int rc = store_dir_list(store_of(req), dir, &d->ids, &d->n);

	if (rc == 0 && dir == FS_VARS_INO)
		return fs_remote_list_top(req, d);
	if (rc == 0 && dir == store_datasets_id(store_of(req)))
		return fs_remote_list_datasets(req, d);
	return rc == 0 ? fs_shards_list(req, dir, d) : rc;
}

/* Offsets: 0 ".", 1 "..", then 2 + i for the snapshot's i-th child, then the virtual children; each
 * entry's off is the next one. */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi,
			   bool plus)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	struct store *st = store_of(req);
	char *buf = malloc(size), name[256];
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (uint64_t i = (uint64_t)off; i < 2 + d->n + d->nvirt; i++) {
		struct fuse_entry_param e;
		struct store_attr a;
		size_t len;

		if (i >= 2 + d->n) {
			memset(&e, 0, sizeof(e)); /* ino 0: no lookup reference handed out */
			if (fs_kind_dirent(req, d->virt[i - 2 - d->n], name, sizeof(name), &e.attr) != 0)
				continue; /* forgotten meanwhile: skipped */
			len = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1)
				   : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, (off_t)i + 1);
		} else if (i < 2) {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = ino;
			e.attr.st_mode = S_IFDIR;
			snprintf(name, sizeof(name), "%s", i == 0 ? "." : "..");
			/* readdirplus gives "." and ".." without a lookup reference: ino 0 tells the kernel so */
			len = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1)
				   : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, (off_t)i + 1);
		} else {
			if (store_dir_entry(st, ino, d->ids[i - 2], name, sizeof(name), &a, plus) != 0)
				continue;
			fs_entry_of(&a, &e);
			len = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1)
				   : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, (off_t)i + 1);
			if (len > size - used && plus)
				store_forget(st, a.id, 1); /* did not fit: no reference was handed out */
		}
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;

	(void)ino;
	free(d->ids);
	free(d->virt);
	free(d);
	fuse_reply_err(req, 0);
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	uint64_t cap, used, objects;
	struct statvfs sv = { 0 };

	(void)ino;
	store_statfs(store_of(req), &cap, &used, &objects);
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = cap / 4096;
	sv.f_bfree = used > cap ? 0 : (cap - used) / 4096;
	sv.f_bavail = sv.f_bfree;
	sv.f_files = objects + sv.f_bfree;
	sv.f_ffree = sv.f_bfree;
	sv.f_favail = sv.f_bfree;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}
