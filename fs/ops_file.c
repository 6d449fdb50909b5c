/* SPDX-License-Identifier: MIT */
/* ops_file.c -- variables' bytes (kinds store and root, kind.c): create, open, read, write, flush, release.
 *
 * WAITING OPENS
 * An open of a variable that another process is still writing is answered only when the variable is
 * sealed (core/store/store_open.c explains why).  The low-level API lets a reply come from any thread, later:
 * fs_store_open keeps the request in a struct pending_open on a list and returns; the store's wake callback,
 * run by the releasing thread after the seal, answers it with the handle the store opened for it.
 * A signal to the waiting process makes the kernel send INTERRUPT; libfuse then calls on_interrupt with
 * the request's lock held, where replying would free the request under libfuse's feet, so on_interrupt
 * only pokes the reaper thread, which withdraws the wait from the store and answers EINTR.  Whoever
 * takes a pending_open off the list (wake or reaper, under pending_lock) is the one that replies.
 *
 * Reads are served from the block's fd (splice when the kernel allows); sealed variables are opened
 * with keep_cache, since their bytes never change. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"

struct pending_open {
	fuse_req_t req;
	uint64_t unique; /* of the OPEN: the reply comes from another thread */
	struct fuse_file_info fi;
	fuse_ino_t ino;
	struct store *st;
	struct pending_open *prev, *next;
};

static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending_open *pending_head;
static sem_t reaper_sem;
static pthread_t reaper_thread;
static bool reaper_running, reaper_stop;

static struct store *store_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->store;
}

static void pending_remove(struct pending_open *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		pending_head = p->next;
	if (p->next)
		p->next->prev = p->prev;
}

/* Reply to an open (request `unique`) with a store handle: settle its data path with passthrough.c,
 * and give everything back if the caller is gone. */
static void reply_open(fuse_req_t req, uint64_t unique, fuse_ino_t ino, struct store *st,
		       struct fuse_file_info *fi, struct store_handle *h)
{
	bool writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct store_attr a;
	bool got = store_getattr(st, ino, &a) == 0, sealed = got && a.sealed, mut = got && a.mut;
	/* --strict-seal concerns sealing; a mutable object's writers share its pages like everybody */
	enum fs_open_mode mode = fs_pt_open(ino, unique, store_handle_fd(h), writer && !mut);

	if (mode == FS_OPEN_FAILED) {
		store_release(st, h);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = mode == FS_OPEN_DIRECT;
	fi->keep_cache = mode == FS_OPEN_CACHED && sealed && !mut; /* never with passthrough: EIO */
	if (mode == FS_OPEN_CACHED && mut)
		fi->direct_io = 1; /* a cached copy would go stale under the other writers */
	fi->noflush = !writer;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fs_pt_cancel(unique);
		fs_pt_release(ino);
		store_release(st, h);
	}
}

static void on_wake(void *arg, int rc, struct store_handle *h)
{
	struct pending_open *p = arg;

	pthread_mutex_lock(&pending_lock);
	pending_remove(p);
	pthread_mutex_unlock(&pending_lock);
	if (rc)
		fuse_reply_err(p->req, -rc);
	else
		reply_open(p->req, p->unique, p->ino, p->st, &p->fi, h);
	free(p);
}

static void on_interrupt(fuse_req_t req, void *data)
{
	(void)req;
	(void)data;
	sem_post(&reaper_sem);
}

static void *reaper(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&reaper_sem) < 0 && errno == EINTR)
			;
		if (__atomic_load_n(&reaper_stop, __ATOMIC_ACQUIRE))
			return NULL;
		pthread_mutex_lock(&pending_lock);
		for (struct pending_open *p = pending_head, *next; p; p = next) {
			next = p->next;
			if (!fuse_req_interrupted(p->req) || !store_cancel_wait(p->st, p->ino, p))
				continue;
			pending_remove(p);
			fuse_reply_err(p->req, EINTR);
			free(p);
		}
		pthread_mutex_unlock(&pending_lock);
	}
}

int fs_files_start(void)
{
	int rc;

	if (sem_init(&reaper_sem, 0, 0) < 0)
		return -errno;
	rc = pthread_create(&reaper_thread, NULL, reaper, NULL);
	if (rc)
		return -rc;
	reaper_running = true;
	return 0;
}

void fs_files_stop(void)
{
	if (!reaper_running)
		return;
	__atomic_store_n(&reaper_stop, true, __ATOMIC_RELEASE);
	sem_post(&reaper_sem);
	pthread_join(reaper_thread, NULL);
	reaper_running = false;
}

void fs_store_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t fmode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store *st = store_of(req);
	struct fuse_entry_param e;
	struct store_handle *h;
	struct store_attr a;
	enum fs_open_mode mode;
	uint64_t unique;
	int rc;

	if (!S_ISREG(fmode) && (fmode & S_IFMT)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rc = store_create(st, parent, name, fmode & ~ctx->umask, ctx->uid, ctx->gid, fi->flags, ctx->pid, &a, &h);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_entry_of(&a, &e);
	/* the writer's own attributes, kept by its kernel while it writes (the size through passthrough and
	 * through the kernel's own writes): no GETATTR at the open that follows; its close forgets them
	 * (fs_store_flush), so what stat says once it is closed comes from the store, sealed */
	e.attr_timeout = FS_TTL_WRITER;
	unique = fs_pt_current_unique();
	mode = fs_pt_open(a.id, unique, store_handle_fd(h), true);
	if (mode == FS_OPEN_FAILED) {
		store_release(st, h);
		store_unlink(st, parent, name);
		store_forget(st, a.id, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = mode == FS_OPEN_DIRECT;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		fs_pt_cancel(unique);
		fs_pt_release(a.id);
		store_release(st, h);
		store_forget(st, a.id, 1);
	}
}

void fs_store_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct store *st = store_of(req);
	struct pending_open *p;
	struct store_handle *h;
	uint64_t p_unique;
	int rc;

	p = calloc(1, sizeof(*p));
	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*p = (struct pending_open){ .req = req, .unique = fs_pt_current_unique(), .fi = *fi, .ino = ino, .st = st };
	/* Held across store_open so that a wake from another thread finds p on the list. */
	pthread_mutex_lock(&pending_lock);
	fs_notify_begin(); /* an open may remove a variable whose owner processes ended */
	rc = store_open(st, ino, fi->flags, fuse_req_ctx(req)->pid, on_wake, p, &h);
	fs_notify_end();
	if (rc == STORE_WAITING) {
		p->next = pending_head;
		if (pending_head)
			pending_head->prev = p;
		pending_head = p;
		fuse_req_interrupt_func(req, on_interrupt, NULL);
		pthread_mutex_unlock(&pending_lock);
		return;
	}
	pthread_mutex_unlock(&pending_lock);
	p_unique = p->unique;
	free(p);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_open(req, p_unique, ino, st, fi, h);
}

/* Reads reach the daemon only without passthrough.  A variable with a block of its own is answered from
 * the block's fd (libfuse splices when it can, else reads into a buffer of its own); a small object
 * packed into a slab block (store_handle_fd gives -1) is copied out by the store, which knows where it
 * lies right now.  A read at or past the end answers short or empty. */
void fs_store_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct store_handle *h = (struct store_handle *)(uintptr_t)fi->fh;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	char *mem;
	ssize_t n;

	(void)ino;
	buf.buf[0].fd = store_handle_fd(h);
	if (buf.buf[0].fd >= 0) {
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	mem = malloc(size ? size : 1);
	if (!mem) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = store_read(store_of(req), h, mem, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, mem, (size_t)n);
	free(mem);
}

void fs_store_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct store_handle *h = (struct store_handle *)(uintptr_t)fi->fh;
	ssize_t n;

	(void)ino;
	n = store_write(store_of(req), h, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* A writer's close also makes the kernel forget the attributes its create left cached (FS_TTL_WRITER): a
 * stat after close(2) then asks the store, which hurries the seal and answers with the sealed mode.  An
 * attribute invalidation takes no lock a FLUSH holds, so it may be sent from here, before the reply. */
void fs_store_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct store_handle *h = (struct store_handle *)(uintptr_t)fi->fh;
	int rc = store_flush(store_of(req), h, fuse_req_ctx(req)->pid);

	if (store_handle_writes(h))
		fuse_lowlevel_notify_inval_inode(((struct fs *)fuse_req_userdata(req))->se, ino, -1, 0);
	fuse_reply_err(req, -rc);
}

/* The inode's open count in passthrough.c goes first, so that opens woken by this release's seal decide
 * their data path afresh. */
void fs_store_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_pt_release(ino);
	fs_notify_begin(); /* so may a release, and a drop of a doomed variable */
	store_release_async(store_of(req), (struct store_handle *)(uintptr_t)fi->fh);
	fs_notify_end();
	fuse_reply_err(req, 0);
}

/* Shared memory has no disk behind it: what is written is as durable as it will get. */
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}
