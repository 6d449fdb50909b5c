/* SPDX-License-Identifier: MIT */
/* ops_task.c -- /fabric/tasks/: one directory per task, made up from core/task/task.h.
 *
 *   tasks/                                         kind tasks (its attributes: ops_virtual.c)
 *   tasks/ID/                                      kind task, as are its files:
 *   tasks/ID/cmd status exit node stdout stderr   read-only (0444), owned by the task's uid and gid
 *   tasks/ID/ctl                                   write "kill" (0200: its owner, and root)
 * Inode numbers: FS_TASK_BASE | id << 3 | file (enum task_file; TASK_DIR is the directory), so every
 * name maps to its inode without a table, and a forgotten task's inodes are never reused (task ids are
 * not).  Files are direct_io: their bytes are made (status) or read (stdout) at each read; st_size is 0
 * but for stdout and stderr, which say how much is captured so far.
 *
 * poll(2) on status: an open file remembers the version of the status its last read saw; poll is ready
 * once the task's version differs, else the poll handle is kept and notified when the task changes
 * (fs_task_changed, the task module's `changed` callback).  So `fabric wait` sleeps in poll. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs.h"

struct task_open {
	uint64_t id;
	enum task_file f;
	uint64_t seen; /* status: the version the last read showed */
	char line[64]; /* ctl: the pending command */
	size_t linelen;
};

static struct fs_pollset polls = FS_POLLSET_INIT;

static struct tasks *tasks_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->tasks;
}

static uint64_t ino_of(uint64_t id, enum task_file f)
{
	return FS_TASK_BASE | id << 3 | (uint64_t)f;
}

static void split(uint64_t ino, uint64_t *id, enum task_file *f)
{
	*id = (ino - FS_TASK_BASE) >> 3;
	*f = (enum task_file)(ino & 7);
}

static void ts_of(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

/* Attributes of a task inode; false when the task is gone. */
static bool task_attr(struct tasks *t, uint64_t ino, struct stat *st)
{
	struct task_info info;
	enum task_file f;
	uint64_t id;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_blksize = 4096;
	split(ino, &id, &f);
	if (!t || tasks_info(t, id, &info) != 0)
		return false;
	st->st_uid = info.uid;
	st->st_gid = info.gid;
	st->st_nlink = f == TASK_DIR ? 2 : 1;
	st->st_mode = f == TASK_DIR ? S_IFDIR | 0555 : f == TASK_CTL ? S_IFREG | 0200 : S_IFREG | 0444;
	if (f == TASK_STDOUT || f == TASK_STDERR) /* so ls -l and tail -f see them grow */
		st->st_size = (off_t)info.captured[f == TASK_STDERR];
	ts_of(info.queued_ns, &st->st_ctim);
	ts_of(info.changed_ns, &st->st_mtim);
	st->st_atim = st->st_mtim;
	return true;
}

/* A task's times and sizes move: its attributes are not cached. */
int fs_task_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	*ttl = 0.0;
	return task_attr(tasks_of(req), ino, st) ? 0 : -ENOENT;
}

static void reply_entry(fuse_req_t req, uint64_t ino)
{
	struct fuse_entry_param e = { .ino = ino, .entry_timeout = FS_TTL_DIR };

	if (!task_attr(tasks_of(req), ino, &e.attr)) {
		struct fuse_entry_param neg = { .ino = 0, .entry_timeout = FS_TTL_NEGATIVE };
		fuse_reply_entry(req, &neg);
		return;
	}
	fuse_reply_entry(req, &e);
}

/* tasks/ID: a name is a task id in decimal, without leading zeros, that fits the inode number. */
void fs_tasks_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char *end;
	uint64_t id = strtoull(name, &end, 10);

	(void)parent;
	if (end == name || *end || name[0] == '0' || id >= 1ULL << 57) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, ino_of(id, TASK_DIR));
}

void fs_task_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t id;
	enum task_file f;

	split(parent, &id, &f);
	for (int i = 1; i < TASK_NFILES; i++) {
		if (f == TASK_DIR && strcmp(name, task_file_names[i]) == 0) {
			reply_entry(req, ino_of(id, (enum task_file)i));
			return;
		}
	}
	fuse_reply_err(req, f == TASK_DIR ? ENOENT : ENOTDIR);
}

/* Until the task runner starts, tasks/ is empty. */
int fs_tasks_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	struct tasks *t = tasks_of(req);
	int rc;

	(void)dir;
	if (!t)
		return 0;
	rc = tasks_ids(t, &d->virt, &d->nvirt);
	for (size_t i = 0; rc == 0 && i < d->nvirt; i++)
		d->virt[i] = ino_of(d->virt[i], TASK_DIR);
	return rc;
}

int fs_task_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	uint64_t id;
	enum task_file f;

	(void)req;
	split(dir, &id, &f);
	d->virt = malloc((TASK_NFILES - 1) * sizeof(uint64_t));
	if (!d->virt)
		return -ENOMEM;
	for (int i = 1; i < TASK_NFILES; i++)
		d->virt[i - 1] = ino_of(id, (enum task_file)i);
	d->nvirt = TASK_NFILES - 1;
	return 0;
}

int fs_task_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len)
{
	uint64_t id;
	enum task_file f;

	(void)req;
	split(ino, &id, &f);
	if (f == TASK_DIR)
		snprintf(buf, len, "%llu", (unsigned long long)id);
	else
		snprintf(buf, len, "%s", task_file_names[f]);
	return 0;
}

void fs_task_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct task_open *o;
	struct stat st;
	uint64_t id;
	enum task_file f;

	split(ino, &id, &f);
	if (!task_attr(tasks_of(req), ino, &st)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (f == TASK_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((f == TASK_CTL) != ((fi->flags & O_ACCMODE) == O_WRONLY)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	o->id = id;
	o->f = f;
	fi->fh = (uintptr_t)o;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		free(o);
}

void fs_task_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct task_open *o = (struct task_open *)(uintptr_t)fi->fh;
	struct tasks *t = tasks_of(req);
	struct task_info info;
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (o->f == TASK_STATUS && tasks_info(t, o->id, &info) == 0)
		o->seen = info.version; /* taken before the bytes: a change in between shows at the next poll */
	n = tasks_read(t, o->id, o->f, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/* tasks/ID/ctl: "kill" (a newline is optional); the write fails with the errno of the refusal. */
void fs_task_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct task_open *o = (struct task_open *)(uintptr_t)fi->fh;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	size_t len = size;
	char why[512];
	int rc;

	(void)ino;
	(void)off;
	if (o->f != TASK_CTL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (len == 4 && memcmp(buf, "kill", 4) == 0) {
		rc = tasks_kill(tasks_of(req), o->id, ctx->uid, why, sizeof(why));
		if (rc)
			fprintf(stderr, "fabricd: tasks/%llu/ctl: %s\n", (unsigned long long)o->id, why);
	} else {
		rc = -EINVAL;
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

void fs_task_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	free((void *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void fs_task_changed(void *arg, uint64_t id)
{
	(void)arg;
	fs_pollset_wake(&polls, id);
}

void fs_task_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct task_open *o = (struct task_open *)(uintptr_t)fi->fh;
	struct task_info info;

	(void)ino;
	if (o->f != TASK_STATUS) { /* the other files are always ready, as a regular file is */
		fs_poll_ready(req, ph);
		return;
	}
	if (tasks_info(tasks_of(req), o->id, &info) != 0) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLERR);
		return;
	}
	if (info.version != o->seen || !ph) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, info.version != o->seen ? POLLIN | POLLRDNORM : 0);
		return;
	}
	if (fs_pollset_add(&polls, o->id, ph) != 0) {
		fuse_reply_poll(req, POLLIN | POLLRDNORM); /* the caller reads again: no wakeup is lost */
		return;
	}
	/* a change between the look above and the registration would have found no handle: look again */
	if (tasks_info(tasks_of(req), o->id, &info) != 0 || info.version != o->seen) {
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		fs_task_changed(NULL, o->id);
		return;
	}
	fuse_reply_poll(req, 0);
}
