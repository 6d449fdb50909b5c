/* SPDX-License-Identifier: MIT */
/* ops_events.c -- the mount's event stream: `events` (text lines) and `events.json` (JSON lines) in the
 * root (kind events), over core/event's ring (the store's, store_events).
 *
 * Each open file is a reader with a cursor of its own, starting at the first event after its open, and
 * the credentials of the process that opened it (uid, gid, groups, pid): it gets only the events of
 * objects that process could read (mode bits as access(2), scope as at open).  A read answers at once
 * with the lines waiting (whole lines, as many as fit); with none, it waits like a read of a pipe, or
 * answers EAGAIN under O_NONBLOCK; poll(2) says POLLIN when a line waits.  Waiting reads and poll handles
 * are answered by a thread of this file's, woken by every post (never by the poster: it may hold the
 * store's lock) and by an INTERRUPT (a signal to the reader: EINTR, as for the waiting opens of
 * ops_file.c, whose request lock forbids replying from the interrupt callback).  A reader further behind
 * than the ring keeps (EVENTS_KEEP) gets one `lost` line counting what it missed. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/event/events.h"
#include "core/os/proc.h"
#include "core/text/scope.h"
#include "fs/fs.h"

#define READER_GROUPS_MAX 64

struct reader {
	uint64_t cursor;
	bool json;
	uint32_t uid, gid, groups[READER_GROUPS_MAX];
	size_t ngroups;
	pid_t pid, tgid;
	const char *node;
	fuse_req_t req; /* a read waiting for a line, of size bytes */
	size_t size;
	struct fuse_pollhandle *ph;
	struct reader *next;
};

static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER; /* the list, and every reader on it */
static struct reader *readers;
static struct events *stream;
/* open readers: with none, a post wakes nobody (a burst of seals posted a thread wake-up each).  Counted
 * before a reader takes its cursor, read by the poster after linking its event: a post that sees 0 comes
 * before every cursor taken after it, so nobody who could want it misses a wake-up. */
static atomic_int nreaders;

static pthread_mutex_t poke_lock = PTHREAD_MUTEX_INITIALIZER; /* the thread's wake-up: never under readers_lock */
static pthread_cond_t poke_cond = PTHREAD_COND_INITIALIZER;
static bool poked, stopping, running;
static pthread_t thread;

static bool may_see(void *arg, const struct event_view *e)
{
	const struct reader *r = arg;
	struct store_attr a = { .mode = e->access.mode, .uid = e->access.uid, .gid = e->access.gid };
	struct scope s;

	if (e->access.everyone)
		return true;
	if (!store_attr_allows(&a, r->uid, r->gid, r->groups, r->ngroups, 04))
		return false;
	if (!e->access.scope)
		return true;
	return scope_parse(e->access.scope, &s, NULL, 0) == 0 && scope_allows(&s, r->node, r->tgid, r->pid);
}

/* The lines waiting for r, at most size bytes, into out: 0 (none), > 0, or -errno.  readers_lock held. */
static int take(struct reader *r, size_t size, struct text *out)
{
	return events_read(stream, &r->cursor, r->json, size, may_see, r, out);
}

static struct reader *find(uint64_t fh)
{
	struct reader *r = readers;

	while (r && (uintptr_t)r != fh)
		r = r->next;
	return r;
}

static void poke(void)
{
	pthread_mutex_lock(&poke_lock);
	poked = true;
	pthread_cond_signal(&poke_cond);
	pthread_mutex_unlock(&poke_lock);
}

static void on_post(void *arg)
{
	(void)arg;
	if (atomic_load(&nreaders) > 0)
		poke();
}

static void on_interrupt(fuse_req_t req, void *data)
{
	(void)req;
	(void)data;
	poke();
}

/* Answer what can be answered: waiting reads with lines, interrupted ones with EINTR, poll handles. */
static void serve(void)
{
	struct text out = { 0 };

	pthread_mutex_lock(&readers_lock);
	for (struct reader *r = readers; r; r = r->next) {
		if (r->req) {
			text_reset(&out);
			int n = take(r, r->size, &out);
			if (n > 0)
				fuse_reply_buf(r->req, out.buf, out.len);
			else if (n < 0)
				fuse_reply_err(r->req, -n);
			else if (fuse_req_interrupted(r->req))
				fuse_reply_err(r->req, EINTR);
			else
				continue;
			r->req = NULL;
		} else if (r->ph && events_ready(stream, &r->cursor, may_see, r)) {
			fuse_lowlevel_notify_poll(r->ph);
			fuse_pollhandle_destroy(r->ph);
			r->ph = NULL;
		}
	}
	pthread_mutex_unlock(&readers_lock);
	text_free(&out);
}

static void *server(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&poke_lock);
	for (;;) {
		while (!poked && !stopping)
			pthread_cond_wait(&poke_cond, &poke_lock);
		if (stopping)
			break;
		poked = false;
		pthread_mutex_unlock(&poke_lock);
		serve();
		pthread_mutex_lock(&poke_lock);
	}
	pthread_mutex_unlock(&poke_lock);
	return NULL;
}

int fs_events_start(struct store *st)
{
	int rc;

	stream = store_events(st);
	if (!stream)
		return 0; /* no ring: the files open and stay empty */
	rc = pthread_create(&thread, NULL, server, NULL);
	if (rc)
		return -rc;
	running = true;
	events_set_wake(stream, on_post, NULL);
	return 0;
}

void fs_events_stop(void)
{
	if (!running)
		return;
	events_set_wake(stream, NULL, NULL);
	pthread_mutex_lock(&poke_lock);
	stopping = true;
	pthread_cond_signal(&poke_cond);
	pthread_mutex_unlock(&poke_lock);
	pthread_join(thread, NULL);
	running = false;
	pthread_mutex_lock(&readers_lock);
	while (readers) { /* the session is ending: its waiting reads get their answer (the kernel may be gone) */
		struct reader *r = readers;
		readers = r->next;
		if (r->req)
			fuse_reply_err(r->req, ENODEV);
		if (r->ph)
			fuse_pollhandle_destroy(r->ph);
		free(r);
	}
	pthread_mutex_unlock(&readers_lock);
}

void fs_events_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs *fs = fuse_req_userdata(req);
	struct reader *r;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r->json = ino == FS_EVENTS_JSON_INO;
	r->uid = ctx->uid;
	r->gid = ctx->gid;
	r->pid = ctx->pid;
	r->tgid = ctx->pid ? proc_tgid(ctx->pid) : 0;
	r->ngroups = ctx->pid ? proc_groups(ctx->pid, r->groups, READER_GROUPS_MAX) : 0;
	r->node = store_node_name(fs->store);
	atomic_fetch_add(&nreaders, 1);
	r->cursor = stream ? events_next(stream) : 1;
	fi->fh = (uintptr_t)r;
	fi->direct_io = 1; /* a stream: no size, no cache, no offsets */
	fi->nonseekable = 1;
	pthread_mutex_lock(&readers_lock);
	r->next = readers;
	readers = r;
	pthread_mutex_unlock(&readers_lock);
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_events_release(NULL, ino, fi);
}

void fs_events_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct text out = { 0 };
	struct reader *r;
	int n = 0;

	(void)ino;
	(void)off;
	pthread_mutex_lock(&readers_lock);
	r = find(fi->fh);
	if (!r || r->req) { /* a second read at once on one open file: the first holds the place */
		pthread_mutex_unlock(&readers_lock);
		fuse_reply_err(req, r ? EBUSY : EBADF);
		return;
	}
	if (stream)
		n = take(r, size, &out);
	if (n == 0 && !(fi->flags & O_NONBLOCK)) {
		r->req = req;
		r->size = size;
		fuse_req_interrupt_func(req, on_interrupt, NULL);
		pthread_mutex_unlock(&readers_lock);
		poke(); /* a post between take and here found no waiting read */
		return;
	}
	pthread_mutex_unlock(&readers_lock);
	if (n < 0)
		fuse_reply_err(req, -n);
	else if (n == 0)
		fuse_reply_err(req, EAGAIN);
	else
		fuse_reply_buf(req, out.buf, out.len);
	text_free(&out);
}

void fs_events_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct reader *r;
	unsigned revents = 0;

	(void)ino;
	pthread_mutex_lock(&readers_lock);
	r = find(fi->fh);
	if (!r) {
		pthread_mutex_unlock(&readers_lock);
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, EBADF);
		return;
	}
	if (stream && events_ready(stream, &r->cursor, may_see, r))
		revents = POLLIN | POLLRDNORM;
	if (ph) {
		if (r->ph)
			fuse_pollhandle_destroy(r->ph);
		r->ph = revents ? NULL : ph;
		if (revents)
			fuse_pollhandle_destroy(ph);
	}
	pthread_mutex_unlock(&readers_lock);
	fuse_reply_poll(req, revents);
}

void fs_events_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct reader **pp, *r = NULL;

	(void)ino;
	pthread_mutex_lock(&readers_lock);
	for (pp = &readers; *pp && (uintptr_t)*pp != fi->fh; pp = &(*pp)->next) {
	}
	if (*pp) {
		r = *pp;
		*pp = r->next;
	}
	pthread_mutex_unlock(&readers_lock);
	if (r) {
		atomic_fetch_sub(&nreaders, 1);
		if (r->ph)
			fuse_pollhandle_destroy(r->ph);
		free(r);
	}
	if (req)
		fuse_reply_err(req, 0);
}
