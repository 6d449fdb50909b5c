/* SPDX-License-Identifier: MIT */
/* uring_copy.c -- io_uring reads from files into mappings (see uring_copy.h).
 *
 * The loop is liburing's io_uring-cp.c shape: queue up to URING_DEPTH chunk requests, submit, reap a
 * completion, and requeue what is left of a chunk on a short transfer or -EAGAIN; each request carries
 * its struct chunk through user_data.  With O_DIRECT every request is block-aligned: chunks start at
 * multiples of URING_CHUNK and the last one is rounded up to a page (the mapping covers it); the kernel
 * stops at end of file, and a short read there is the end, not an error, once len bytes are in.  A
 * buffered read moves exactly len bytes: a read from the middle of a file (a tar member) must not bring
 * the bytes after it into the variable's last page. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/os/uring_copy.h"

struct chunk {
	uint64_t off; /* file offset of the next byte to move */
	uint64_t end; /* file offset past the chunk's last byte */
};

#define PAGE 4096u

int uring_open_source(const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (*fd < 0 && errno == EINVAL)
		*fd = open(path, O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

struct uring_reader {
	struct io_uring ring;
	bool broken; /* its ring could not be made anew: every read fails */
};

/* Chunk offsets are offsets into mem; the file offset is base more. */
static void queue(struct io_uring *ring, int fd, uint64_t base, char *mem, struct chunk *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	/* the ring has URING_DEPTH entries and at most URING_DEPTH chunks are out: never NULL */
	io_uring_prep_read(sqe, fd, mem + c->off, (unsigned)(c->end - c->off), base + c->off);
	io_uring_sqe_set_data(sqe, c);
}

/* Read on ring; *stuck tells that requests were left in flight (a wait failed): the ring must go. */
static int copy_on(struct io_uring *ring, int fd, uint64_t base, char *mem, uint64_t len,
		   uring_progress_fn progress, void *arg, bool *stuck)
{
	struct chunk chunks[URING_DEPTH];
	uint64_t next = 0, done = 0, total = len;
	int flags = fcntl(fd, F_GETFL);
	/* O_DIRECT reads run to a page boundary; buffered reads move exactly len bytes */
	uint64_t limit = flags > 0 && (flags & O_DIRECT) ? (len + PAGE - 1) / PAGE * PAGE : len;
	uint64_t chunk = URING_CHUNK;
	int inflight = 0, rc = 0;

	if (len == 0)
		return 0;
	for (int i = 0; i < URING_DEPTH && next < limit; i++) {
		chunks[i].off = next;
		chunks[i].end = next + chunk < limit ? next + chunk : limit;
		next = chunks[i].end;
		queue(ring, fd, base, mem, &chunks[i]);
		inflight++;
	}
	while (inflight > 0) {
		struct io_uring_cqe *cqe;
		struct chunk *c;
		int res, err;

		err = io_uring_submit_and_wait(ring, 1);
		if (err >= 0)
			err = io_uring_wait_cqe(ring, &cqe);
		if (err < 0) {
			rc = rc ? rc : err;
			*stuck = true;
			break; /* the ring's teardown cancels what is left */
		}
		c = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		inflight--;
		if (rc) /* after a failure: only drain what is in flight */
			continue;
		if (res == -EAGAIN || res == -EINTR) {
			queue(ring, fd, base, mem, c);
			inflight++;
			continue;
		}
		if (res < 0 || (res == 0 && c->off < len)) {
			rc = res < 0 ? res : -EIO; /* an error, or the file ended early (it shrank) */
			continue;
		}
		if (res == 0)
			c->off = c->end;
		c->off += (uint64_t)res;
		done += (uint64_t)res;
		if (c->off < c->end && c->off < len) { /* short transfer: the rest of the chunk */
			queue(ring, fd, base, mem, c);
			inflight++;
			continue;
		}
		if (progress)
			progress(arg, done < total ? done : total, total);
		if (next < limit) {
			c->off = next;
			c->end = next + chunk < limit ? next + chunk : limit;
			next = c->end;
			queue(ring, fd, base, mem, c);
			inflight++;
		}
	}
	return rc;
}

int uring_read_into(int fd, void *dst, uint64_t len, uring_progress_fn progress, void *arg)
{
	struct io_uring ring;
	bool stuck = false;
	int rc;

	if (len == 0)
		return 0;
	rc = io_uring_queue_init(URING_DEPTH, &ring, 0);
	if (rc < 0)
		return rc;
	rc = copy_on(&ring, fd, 0, dst, len, progress, arg, &stuck); /* a ring of its own for one read */
	io_uring_queue_exit(&ring);
	return rc;
}

int uring_reader_new(struct uring_reader **out)
{
	struct uring_reader *r = malloc(sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	rc = io_uring_queue_init(URING_DEPTH, &r->ring, 0);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->broken = false;
	*out = r;
	return 0;
}

void uring_reader_free(struct uring_reader *r)
{
	if (!r)
		return;
	if (!r->broken)
		io_uring_queue_exit(&r->ring);
	free(r);
}

/* A read that left requests in flight would have them complete into the next one's chunks: the ring is
 * torn down (which cancels them) and made anew. */
int uring_reader_read(struct uring_reader *r, int fd, uint64_t off, void *dst, uint64_t len,
		      uring_progress_fn progress, void *arg)
{
	bool stuck = false;
	int rc = r->broken ? -EIO : copy_on(&r->ring, fd, off, dst, len, progress, arg, &stuck);

	if (stuck) {
		io_uring_queue_exit(&r->ring);
		r->broken = io_uring_queue_init(URING_DEPTH, &r->ring, 0) < 0;
	}
	return rc;
}

