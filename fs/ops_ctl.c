/* SPDX-License-Identifier: MIT */
/* ops_ctl.c -- /fabric/ctl, the control file (kind ctl, kind.c), in the Plan 9 manner.
 *
 * Open it, write one command line, read back that command's answer on the same open file:
 *     exec 3<>/fabric/ctl; echo "locate w" >&3; cat <&3
 * Each open file has its own answer, so concurrent users never see each other's.  A write holds one line;
 * a line may arrive in several writes (it runs when its newline comes, or at the next read or close when
 * it never does).  Success: the write returns its length and the answer is read back.  Failure: the write
 * (or the close, for a line run at close) fails with the command's errno and the answer says why.
 * A new command replaces the previous answer; reads return the answer from where the last read stopped
 * (the file offset is ignored: shells keep one offset for reading and writing).  The file is direct_io and
 * not seekable, so every read and write reaches the daemon. */
#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ctl/ctl.h"
#include "fs/fs.h"

struct ctl_file {
	pthread_mutex_t lock;
	char line[CTL_LINE_MAX + 2];
	size_t linelen;
	bool overlong; /* the pending line passed CTL_LINE_MAX: refuse it whole at its end */
	struct text ans;
	size_t readpos;
};

struct ctl_env fs_ctl_env(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs *fs = fuse_req_userdata(req);

	return (struct ctl_env){ fs->store, fs->state_dir, { ctx->uid, ctx->gid, ctx->pid }, fs->tasks, fs->cluster,
				 fs->datasets };
}

void fs_ctl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctl_file *c = calloc(1, sizeof(*c));

	(void)ino;
	if (!c) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&c->lock, NULL);
	fi->fh = (uintptr_t)c;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	/* The kernel holds ctl's inode lock through each write, so one slow command (a move, a load) would
	 * hold up every other caller's: parallel direct writes take it shared, for writes inside st_size. */
	fs_pt_open_flags(fs_pt_current_unique(), FOPEN_PARALLEL_DIRECT_WRITES);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fs_pt_cancel(fs_pt_current_unique());
		pthread_mutex_destroy(&c->lock);
		free(c);
	}
}

/* Run the pending line for the request's caller; called with c->lock held.  Returns the command's
 * result. */
static int run_pending(fuse_req_t req, struct ctl_file *c)
{
	struct ctl_env env = fs_ctl_env(req);
	int rc;

	if (c->overlong) {
		text_reset(&c->ans);
		text_printf(&c->ans, "the line is longer than %d bytes; give long values in a file instead\n",
				  CTL_LINE_MAX);
		rc = -E2BIG;
	} else {
		fs_notify_begin();
		rc = ctl_run(&env, c->line, c->linelen, &c->ans);
		fs_notify_end();
	}
	c->linelen = 0;
	c->overlong = false;
	c->readpos = 0;
	return rc;
}

void fs_ctl_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct ctl_file *c = (struct ctl_file *)(uintptr_t)fi->fh;
	const char *nl = memchr(buf, '\n', size);
	size_t take = nl ? (size_t)(nl - buf) : size;
	int rc = 0;

	(void)ino;
	(void)off; /* not seekable: lines come in order */
	pthread_mutex_lock(&c->lock);
	if (nl && nl + 1 != buf + size) {
		text_reset(&c->ans);
		text_printf(&c->ans, "one command per write: this write holds more than one line\n");
		c->readpos = 0;
		c->linelen = 0;
		rc = -EINVAL;
	} else {
		if (c->linelen + take > CTL_LINE_MAX)
			c->overlong = true;
		else {
			memcpy(c->line + c->linelen, buf, take);
			c->linelen += take;
		}
		if (nl)
			rc = run_pending(req, c);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

void fs_ctl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ctl_file *c = (struct ctl_file *)(uintptr_t)fi->fh;
	size_t n;

	(void)ino;
	(void)off; /* the answer is read from where the last read stopped */
	pthread_mutex_lock(&c->lock);
	if (c->linelen || c->overlong)
		run_pending(req, c); /* a line without its newline: its answer says how it went */
	n = c->ans.len > c->readpos ? c->ans.len - c->readpos : 0;
	if (n > size)
		n = size;
	fuse_reply_buf(req, c->ans.buf ? c->ans.buf + c->readpos : "", n);
	c->readpos += n;
	pthread_mutex_unlock(&c->lock);
}

void fs_ctl_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctl_file *c = (struct ctl_file *)(uintptr_t)fi->fh;
	int rc = 0;

	(void)ino;
	pthread_mutex_lock(&c->lock);
	if (c->linelen || c->overlong)
		rc = run_pending(req, c);
	pthread_mutex_unlock(&c->lock);
	fuse_reply_err(req, -rc);
}

void fs_ctl_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctl_file *c = (struct ctl_file *)(uintptr_t)fi->fh;

	(void)ino;
	/* a read's reply is written under the lock, and its reader may close the file (this RELEASE) before
	 * that thread is back from writing it: wait for it */
	pthread_mutex_lock(&c->lock);
	pthread_mutex_unlock(&c->lock);
	text_free(&c->ans);
	pthread_mutex_destroy(&c->lock);
	free(c);
	fuse_reply_err(req, 0);
}
