/* SPDX-License-Identifier: MIT */
/* ops_virtual.c -- the fixed names the daemon makes up rather than stores, and the node stat file.
 *
 *   ctl                 the control file (kind ctl; its bytes: ops_ctl.c)
 *   nodes/ nodes/NODE/  fixed directories (kind nodes)
 *   nodes/NODE/stat     this node's `stat` answer (capacity, used, free, per block), as a file (kind nodestat)
 *   tasks/              one directory per task (kind tasks; what is in it: ops_task.c)
 *   events events.json  the event stream (kind events; its lines: ops_events.c)
 * They live in a small table of their own inode numbers, above any YP id (FS_VIRT_BASE and up), which
 * gives the names and attributes of all four kinds, and the root's made-up children (kind root).  They
 * hold no lookup references (forget is a no-op for them) and refuse changes (kind.c).  A `stat` file's
 * bytes are taken when it is opened, so a reader sees one consistent answer. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
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
	{ FS_EVENTS_INO, FUSE_ROOT_ID, "events", S_IFREG | 0444 },
	{ FS_EVENTS_JSON_INO, FUSE_ROOT_ID, "events.json", S_IFREG | 0444 },
};
#define NVNODES (sizeof(vnodes) / sizeof(vnodes[0]))

static struct timespec born; /* virtual files are as old as the mount */

void fs_virt_init(void)
{
	clock_gettime(CLOCK_REALTIME, &born);
}

static const struct vnode *find(uint64_t ino)
{
	return ino >= FS_VIRT_BASE && ino < FS_VIRT_BASE + NVNODES ? &vnodes[ino - FS_VIRT_BASE] : NULL;
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
	if (v->ino == FS_CTL_INO) /* any command line lies inside it: writes may run in parallel (ops_ctl.c) */
		st->st_size = CTL_LINE_MAX + 1;
}

/* The fixed names never change: cached long. */
int fs_vnode_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	const struct vnode *v = find(ino);

	(void)req;
	if (!v)
		return -ENOENT;
	attr_of(v, st);
	*ttl = FS_TTL_SEALED;
	return 0;
}

int fs_vnode_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len)
{
	const struct vnode *v = find(ino);

	if (!v)
		return -ENOENT;
	snprintf(buf, len, "%s", name_of(req, v));
	return 0;
}

/* Answers the lookup and returns true when (parent, name) is in the table. */
static bool lookup_table(fuse_req_t req, uint64_t parent, const char *name)
{
	for (size_t i = 0; i < NVNODES; i++) {
		if (vnodes[i].parent != parent || strcmp(name_of(req, &vnodes[i]), name) != 0)
			continue;
		struct fuse_entry_param e = { .ino = vnodes[i].ino, .attr_timeout = FS_TTL_SEALED,
					      .entry_timeout = FS_TTL_SEALED };
		attr_of(&vnodes[i], &e.attr);
		fuse_reply_entry(req, &e);
		return true;
	}
	return false;
}

void fs_vnode_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!lookup_table(req, parent, name))
		fuse_reply_err(req, ENOENT);
}

int fs_vnode_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	(void)req;
	d->nvirt = 0;
	d->virt = malloc(NVNODES * sizeof(uint64_t));
	if (!d->virt)
		return -ENOMEM;
	for (size_t i = 0; i < NVNODES; i++)
		if (vnodes[i].parent == dir)
			d->virt[d->nvirt++] = vnodes[i].ino;
	return 0;
}

/* The made-up names are looked up first: they shadow a stored object of the same name. */
void fs_root_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!lookup_table(req, parent, name))
		fs_store_lookup(req, parent, name);
}

int fs_root_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	int rc = fs_vnode_list(req, dir, d);

	return rc ? rc : fs_store_list(req, dir, d);
}

/* nodes/NODE/stat: the `stat` answer, taken at open. */
void fs_nodestat_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctl_env env = fs_ctl_env(req);
	struct text *a;

	(void)ino;
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	a = calloc(1, sizeof(*a));
	fs_text_open(req, fi, a, a && ctl_run(&env, "stat", 4, a) == 0);
}

/* The texts of the open files, so that a read is only ever answered from one that is still open: the
 * release of a file may reach the daemon while a read of it is still being answered (seen with many
 * short-lived readers under ASan), and the read must not touch what the release freed. */
struct open_text {
	struct text t;
	struct open_text *next;
};
static pthread_mutex_t texts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_text *texts;

void fs_text_open(fuse_req_t req, struct fuse_file_info *fi, struct text *a, bool made)
{
	struct open_text *o = made && a ? calloc(1, sizeof(*o)) : NULL;

	if (!o) {
		if (a)
			text_free(a);
		free(a);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	o->t = *a; /* the text's bytes are o's from here on */
	free(a);
	pthread_mutex_lock(&texts_lock);
	o->next = texts;
	texts = o;
	pthread_mutex_unlock(&texts_lock);
	fi->fh = (uintptr_t)o;
	fi->direct_io = 1; /* its size is only known once open: st_size says 0 */
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_nodestat_release(NULL, 0, fi);
}

void fs_nodestat_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct open_text *o;
	char *copy = NULL;
	size_t n = 0;

	(void)ino;
	pthread_mutex_lock(&texts_lock);
	for (o = texts; o && (uintptr_t)o != fi->fh; o = o->next) {
	}
	if (o && (size_t)off < o->t.len) {
		n = o->t.len - (size_t)off < size ? o->t.len - (size_t)off : size;
		if ((copy = malloc(n)) != NULL)
			memcpy(copy, o->t.buf + off, n);
	}
	pthread_mutex_unlock(&texts_lock);
	if (!o)
		fuse_reply_err(req, EBADF);
	else if (n && !copy)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, copy, n);
	free(copy);
}

void fs_nodestat_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_text **pp, *o = NULL;

	(void)ino;
	pthread_mutex_lock(&texts_lock);
	for (pp = &texts; *pp && (uintptr_t)*pp != fi->fh; pp = &(*pp)->next) {
	}
	if (*pp) {
		o = *pp;
		*pp = o->next;
	}
	pthread_mutex_unlock(&texts_lock);
	if (o) {
		text_free(&o->t);
		free(o);
	}
	if (req)
		fuse_reply_err(req, 0);
}
