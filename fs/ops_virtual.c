/* SPDX-License-Identifier: MIT */
/* ops_virtual.c -- the names the daemon makes up rather than stores: /fabric/ctl and /fabric/nodes/.
 *
 *   ctl                 the control file (ops_ctl.c)
 *   nodes/NODE/stat     this node's `stat` answer (capacity, used, free, per block), as a file
 *   tasks/              one directory per task (ops_task.c)
 * They live in a small table of their own inode numbers, above any YP id (FS_VIRT_BASE and up), so every
 * operation can tell them apart with one comparison.  They hold no lookup references (forget is a no-op
 * for them) and refuse changes: names cannot be made, removed or renamed in nodes/ (EPERM).  A `stat`
 * file's bytes are taken when it is opened, so a reader sees one consistent answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/ctl/ctl.h"
#include "fs/fs.h"

struct vnode {
	uint64_t ino, parent;
	const char *name; /* NULL: this node's name */
	mode_t mode;
};

static const struct vnode vnodes[] = {
	{ FS_CTL_INO, FUSE_ROOT_ID, FS_CTL_NAME, S_IFREG | 0666 },
	{ FS_NODES_INO, FUSE_ROOT_ID, "nodes", S_IFDIR | 0555 },
	{ FS_NODE_INO, FS_NODES_INO, NULL, S_IFDIR | 0555 },
	{ FS_NODESTAT_INO, FS_NODE_INO, "stat", S_IFREG | 0444 },
	{ FS_TASKS_INO, FUSE_ROOT_ID, "tasks", S_IFDIR | 0555 },
};
#define NVNODES (sizeof(vnodes) / sizeof(vnodes[0]))

static struct timespec born; /* virtual files are as old as the mount */

void fs_virt_init(void)
{
	clock_gettime(CLOCK_REALTIME, &born);
}

static bool in_table(uint64_t ino)
{
	return ino >= FS_VIRT_BASE && ino < FS_VIRT_BASE + NVNODES;
}

bool fs_virt_is(uint64_t ino)
{
	return in_table(ino) || fs_task_is(ino);
}

static const struct vnode *find(uint64_t ino)
{
	return in_table(ino) ? &vnodes[ino - FS_VIRT_BASE] : NULL;
}

static struct tasks *tasks_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->tasks;
}

static const char *name_of(fuse_req_t req, const struct vnode *v)
{
	return v->name ? v->name : store_node_name(((struct fs *)fuse_req_userdata(req))->store);
}

static void attr_of(const struct vnode *v, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = v->ino;
	st->st_mode = v->mode;
	st->st_nlink = S_ISDIR(v->mode) ? 2 : 1;
	st->st_blksize = 4096;
	st->st_mtim = st->st_ctim = st->st_atim = born;
}

double fs_virt_ttl(uint64_t ino)
{
	return fs_task_is(ino) ? 0.0 : FS_TTL_SEALED; /* a task's times move; the fixed names never change */
}

bool fs_virt_getattr(fuse_req_t req, uint64_t ino, struct stat *st)
{
	const struct vnode *v = find(ino);

	if (v)
		attr_of(v, st);
	else if (fs_task_is(ino))
		return fs_task_getattr(tasks_of(req), ino, st);
	return v != NULL;
}

bool fs_virt_lookup(fuse_req_t req, uint64_t parent, const char *name)
{
	if (parent == FS_TASKS_INO || fs_task_is(parent)) {
		fs_task_lookup(req, parent, name);
		return true;
	}
	for (size_t i = 0; i < NVNODES; i++) {
		if (vnodes[i].parent != parent || strcmp(name_of(req, &vnodes[i]), name) != 0)
			continue;
		struct fuse_entry_param e = { .ino = vnodes[i].ino, .attr_timeout = FS_TTL_SEALED,
					      .entry_timeout = FS_TTL_SEALED };
		attr_of(&vnodes[i], &e.attr);
		fuse_reply_entry(req, &e);
		return true;
	}
	if (!fs_virt_is(parent))
		return false;
	fuse_reply_err(req, ENOENT);
	return true;
}

int fs_virt_children(fuse_req_t req, uint64_t dir, uint64_t **inos, size_t *n)
{
	if (dir == FS_TASKS_INO || fs_task_is(dir))
		return fs_task_children(tasks_of(req), dir, inos, n);
	*n = 0;
	*inos = malloc(NVNODES * sizeof(uint64_t));
	if (!*inos)
		return -ENOMEM;
	for (size_t i = 0; i < NVNODES; i++)
		if (vnodes[i].parent == dir)
			(*inos)[(*n)++] = vnodes[i].ino;
	return 0;
}

size_t fs_virt_direntry(fuse_req_t req, uint64_t ino, char *buf, size_t size, off_t next, bool plus)
{
	const struct vnode *v = find(ino);
	struct fuse_entry_param e = { 0 }; /* ino 0: no lookup reference handed out */
	char name[32];

	if (!v) {
		if (!fs_task_getattr(tasks_of(req), ino, &e.attr))
			return 0; /* forgotten meanwhile: skipped */
		fs_task_name(ino, name, sizeof(name));
		return plus ? fuse_add_direntry_plus(req, buf, size, name, &e, next)
			    : fuse_add_direntry(req, buf, size, name, &e.attr, next);
	}
	attr_of(v, &e.attr);
	return plus ? fuse_add_direntry_plus(req, buf, size, name_of(req, v), &e, next)
		    : fuse_add_direntry(req, buf, size, name_of(req, v), &e.attr, next);
}

/* nodes/NODE/stat: the `stat` answer, taken at open. */
void fs_virt_open(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi)
{
	struct ctl_env env = fs_ctl_env(req);
	struct text *a;

	if (ino == FS_CTL_INO) {
		fs_ctl_open(req, fi);
		return;
	}
	if (fs_task_is(ino)) {
		fs_task_open(req, ino, fi);
		return;
	}
	if (ino != FS_NODESTAT_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	a = calloc(1, sizeof(*a));
	if (!a || ctl_run(&env, "stat", 4, a) != 0) {
		if (a)
			text_free(a);
		free(a);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)a;
	fi->direct_io = 1; /* its size is only known once open: st_size says 0 */
	if (fuse_reply_open(req, fi) == -ENOENT) {
		text_free(a);
		free(a);
	}
}

void fs_virt_read(fuse_req_t req, uint64_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct text *a = (struct text *)(uintptr_t)fi->fh;

	if (ino == FS_CTL_INO) {
		fs_ctl_read(req, size, fi);
		return;
	}
	if (fs_task_is(ino)) {
		fs_task_read(req, size, off, fi);
		return;
	}
	if ((size_t)off >= a->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, a->buf + off, a->len - (size_t)off < size ? a->len - (size_t)off : size);
}

void fs_virt_release(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi)
{
	struct text *a = (struct text *)(uintptr_t)fi->fh;

	if (ino == FS_CTL_INO) {
		fs_ctl_release(req, fi);
		return;
	}
	if (fs_task_is(ino)) {
		fs_task_release(req, fi);
		return;
	}
	text_free(a);
	free(a);
	fuse_reply_err(req, 0);
}
