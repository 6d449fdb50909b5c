/* SPDX-License-Identifier: MIT */
/* uring_direct.c -- many files written at once from memory, O_DIRECT where allowed (see uring_direct.h).
 *
 * One ring for the batch.  The files in flight form a list, oldest first; pump() hands out write requests
 * of URING_DIRECT_CHUNK bytes from the oldest file that has bytes left, then the next, while a request slot
 * is free and the bytes in flight stay within URING_DIRECT_BYTES (one request may always go).  Oldest first
 * keeps the disk writing one region after another and lets files end, and be renamed by the caller, in
 * about the order they came; several small files still share the budget.  Each request carries its struct
 * req through user_data; a short transfer or -EAGAIN is requeued with what is left, as in uring_copy.c.
 *
 * Direct requests start at multiples of the chunk and end at a page boundary (the body is the size
 * rounded down to a page), from a page-aligned source: aligned for any alignment that divides the page.
 * The tail lives in its own page of the page cache, which no direct write touches, so the two kinds of
 * write never meet in one page. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/os/uring_direct.h"

#define DEPTH 32 /* ring entries; requests in flight never exceed it */

struct file {
	struct file *next; /* the list of files in flight, oldest first */
	int fd;
	const char *src;
	uint64_t body;     /* bytes [0, body) go through the ring; a direct file's tail is written already */
	uint64_t queued;   /* offset of the next byte to hand out */
	unsigned inflight; /* its requests in flight */
	bool direct;       /* its fd has O_DIRECT (cleared if a direct write is refused) */
	bool started_direct;
	int rc;
	void *cookie;
};

struct req {
	struct file *f;
	uint64_t off, end; /* what this request still has to write */
	uint64_t charged;  /* what it counts in the batch's bytes in flight */
	bool direct;
	struct req *next_free;
};

struct uring_batch {
	struct io_uring ring;
	uring_batch_done_fn done;
	void *arg;
	struct file *head;
	unsigned nfiles;
	unsigned inflight;       /* requests */
	uint64_t inflight_bytes; /* bytes of those requests */
	struct req reqs[DEPTH];
	struct req *free;
	int broken; /* the ring failed: every file from now on fails with this */
	uint64_t page;
	struct uring_batch_stats stats;
};

/* May fd take O_DIRECT writes of whole pages from page-aligned memory?  Only what statx says: a file
 * system that does not report STATX_DIOALIGN (tmpfs, older kernels) is written buffered. */
static bool dio_ok(int fd, uint64_t page)
{
#ifdef STATX_DIOALIGN
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 || !(sx.stx_mask & STATX_DIOALIGN))
		return false;
	return sx.stx_dio_mem_align && sx.stx_dio_offset_align && page % sx.stx_dio_mem_align == 0 &&
	       page % sx.stx_dio_offset_align == 0;
#else
	(void)fd;
	(void)page;
	return false;
#endif
}

/* Allocate the file's blocks up to len and set its size: the direct writes then land inside the file
 * (ext4 does a direct write that extends the file synchronously, and one into a hole must allocate) and
 * the extents come out contiguous.  ftruncate where fallocate is not supported. */
static int prealloc(int fd, uint64_t len)
{
	if (fallocate(fd, 0, 0, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	return ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
}

static int pwrite_all(int fd, const char *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len > (1u << 30) ? (1u << 30) : (size_t)len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void queue(struct uring_batch *b, struct req *r)
{
	/* at most DEPTH requests are out and the ring has DEPTH entries: never NULL */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	r->direct = r->f->direct;
	r->charged = r->end - r->off;
	io_uring_prep_write(sqe, r->f->fd, r->f->src + r->off, (unsigned)(r->end - r->off), r->off);
	io_uring_sqe_set_data(sqe, r);
	b->inflight++;
	b->inflight_bytes += r->charged;
	r->f->inflight++;
}

static void pump(struct uring_batch *b)
{
	for (struct file *f = b->head; f && b->free; f = f->next) {
		while (f->rc == 0 && f->queued < f->body && b->free) {
			uint64_t n = f->body - f->queued;
			struct req *r;

			if (n > URING_DIRECT_CHUNK)
				n = URING_DIRECT_CHUNK;
			if (b->inflight_bytes && b->inflight_bytes + n > URING_DIRECT_BYTES)
				return;
			r = b->free;
			b->free = r->next_free;
			r->f = f;
			r->off = f->queued;
			r->end = f->queued + n;
			f->queued += n;
			queue(b, r);
		}
	}
}

static void file_done(struct uring_batch *b, struct file *f)
{
	for (struct file **pp = &b->head; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	b->nfiles--;
	if (f->rc == 0) {
		if (f->started_direct)
			b->stats.direct_files++;
		else
			b->stats.buffered_files++;
	}
	b->done(b->arg, f->cookie, f->rc);
	free(f);
}

static void complete(struct uring_batch *b, struct req *r, int res)
{
	struct file *f = r->f;

	b->inflight--;
	b->inflight_bytes -= r->charged;
	f->inflight--;
	if (f->rc == 0) {
		if (res == -EAGAIN || res == -EINTR) {
			queue(b, r);
			return;
		}
		if (res == -EINVAL && r->direct) {
			/* the file system reported an alignment, then refused a direct write: the rest buffered */
			int fl = fcntl(f->fd, F_GETFL);

			if (f->direct && (fl < 0 || fcntl(f->fd, F_SETFL, fl & ~O_DIRECT) < 0)) {
				f->rc = -errno;
			} else {
				f->direct = false;
				queue(b, r);
				return;
			}
		} else if (res <= 0) {
			f->rc = res < 0 ? res : -EIO; /* a write that moves nothing would loop forever */
		} else {
			if (r->direct)
				b->stats.direct_bytes += (uint64_t)res;
			else
				b->stats.buffered_bytes += (uint64_t)res;
			r->off += (uint64_t)res;
			if (r->off < r->end) { /* short write: the rest */
				queue(b, r);
				return;
			}
		}
	}
	r->next_free = b->free;
	b->free = r;
	if (f->inflight == 0 && (f->rc || f->queued >= f->body))
		file_done(b, f);
}

/* The ring itself failed: no completion can be waited for.  Every file in flight fails (requests still
 * in the kernel hold their own references to the files; the memory they read stays pinned). */
static void break_batch(struct uring_batch *b, int err)
{
	b->broken = err;
	while (b->head) {
		b->head->rc = b->head->rc ? b->head->rc : err;
		b->head->inflight = 0;
		file_done(b, b->head);
	}
}

/* Submit what is queued, take every completion there is (waiting for one when wait), hand out more. */
static void progress(struct uring_batch *b, bool wait)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int err;

	if (b->broken)
		return;
	err = wait && b->inflight ? io_uring_submit_and_wait(&b->ring, 1) : io_uring_submit(&b->ring);
	if (err < 0 && err != -EINTR) {
		break_batch(b, err);
		return;
	}
	io_uring_for_each_cqe(&b->ring, head, cqe)
	{
		complete(b, io_uring_cqe_get_data(cqe), cqe->res);
		seen++;
	}
	io_uring_cq_advance(&b->ring, seen);
	pump(b);
	if (!b->inflight && b->head) /* cannot happen: a file in flight always has a request out */
		break_batch(b, -EIO);
	else if (seen || !wait)
		io_uring_submit(&b->ring);
}

int uring_batch_open(struct uring_batch **bp, uring_batch_done_fn done, void *arg)
{
	struct uring_batch *b = calloc(1, sizeof(*b));
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	if (!b)
		return -ENOMEM;
	rc = io_uring_queue_init(DEPTH, &b->ring, 0);
	if (rc < 0) {
		free(b);
		return rc;
	}
	b->done = done;
	b->arg = arg;
	b->page = page > 0 ? (uint64_t)page : 4096;
	for (int i = DEPTH - 1; i >= 0; i--) {
		b->reqs[i].next_free = b->free;
		b->free = &b->reqs[i];
	}
	*bp = b;
	return 0;
}

void uring_batch_add(struct uring_batch *b, int fd, const void *src, uint64_t len, void *cookie)
{
	struct file *f;
	bool direct;
	int rc;

	while (b->nfiles >= URING_DIRECT_FILES && !b->broken)
		progress(b, true);
	if (b->broken || len == 0) {
		b->stats.buffered_files += !b->broken;
		b->done(b->arg, cookie, b->broken);
		return;
	}
	direct = (uintptr_t)src % b->page == 0 && len >= b->page && dio_ok(fd, b->page);
	if (!direct && len < URING_DIRECT_SMALL) { /* a few KiB into the page cache: now, not via a worker */
		rc = pwrite_all(fd, src, len, 0);
		if (rc == 0) {
			b->stats.buffered_bytes += len;
			b->stats.buffered_files++;
		}
		b->done(b->arg, cookie, rc);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		b->done(b->arg, cookie, -ENOMEM);
		return;
	}
	f->fd = fd;
	f->src = src;
	f->body = len;
	f->cookie = cookie;
	if (direct) {
		uint64_t body = len / b->page * b->page;
		int fl;

		rc = prealloc(fd, len);
		if (rc == 0 && body < len) {
			rc = pwrite_all(fd, f->src + body, len - body, body);
			b->stats.buffered_bytes += rc == 0 ? len - body : 0;
		}
		if (rc) {
			free(f);
			b->done(b->arg, cookie, rc);
			return;
		}
		f->body = body;
		fl = fcntl(fd, F_GETFL);
		/* refused (EINVAL): the body goes buffered, into the file already sized */
		f->direct = f->started_direct = fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
	}
	{
		struct file **pp = &b->head;

		while (*pp)
			pp = &(*pp)->next;
		*pp = f;
	}
	b->nfiles++;
	pump(b);
	progress(b, false); /* start its writes; finish what has finished meanwhile */
}

void uring_batch_finish(struct uring_batch *b)
{
	while (b->head && !b->broken)
		progress(b, true);
}

void uring_batch_close(struct uring_batch *b, struct uring_batch_stats *stats)
{
	if (!b)
		return;
	uring_batch_finish(b);
	if (stats)
		*stats = b->stats;
	io_uring_queue_exit(&b->ring);
	free(b);
}
