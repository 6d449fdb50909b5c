/* SPDX-License-Identifier: MIT */
/* uring_direct.h -- many files written at once from memory with io_uring, with O_DIRECT where the file
 * system allows it: what `checkpoint` uses to put shm blocks on disk.
 *
 * Why not buffered io_uring writes (what checkpoint did before): buffered writes to a disk file system
 * run in io_uring's worker threads and copy every byte into the page cache, and one file at a time leaves
 * the disk idle between files.  Here the page-aligned body of each file goes to the disk straight from
 * the caller's mapping (no page-cache copy, no worker thread: an O_DIRECT write into blocks allocated
 * beforehand completes asynchronously), and writes of several files are kept in flight together (up to
 * URING_DIRECT_FILES files and URING_DIRECT_BYTES bytes), so small files do not wait on one another's
 * latency.
 *
 * A file takes O_DIRECT when statx(2) gives it a direct-I/O alignment (STATX_DIOALIGN, Linux 6.1+) that
 * divides the page size, and its source is page-aligned and at least a page long.  Its blocks are then
 * allocated up to its size first (fallocate, else ftruncate: a direct write that extends a file is done
 * synchronously by ext4), the unaligned tail (size modulo the page) is written buffered with pwrite, and
 * the body with O_DIRECT set on the fd.  Every other file (tmpfs, which reports no alignment; a file
 * system whose alignment is coarser than a page; a source in a malloc'd buffer) is written buffered
 * through the same ring, or with one pwrite when it is smaller than URING_DIRECT_SMALL.  A file system
 * that reports an alignment and then refuses a direct write (EINVAL) gets that file's rest buffered.
 *
 * O_DIRECT puts the bytes on the device but not the file's metadata (its size, its extents turning from
 * unwritten to written), nor does it flush the device's cache: the caller must still syncfs(2) or
 * fdatasync(2) before it relies on the files.
 *
 * Ownership: the caller owns each fd and source; both must stay valid until that file's done callback has
 * run (the source is read, never written).  Everything happens in the caller's thread: done is called
 * from inside uring_batch_add or uring_batch_finish, never concurrently.  Not thread-safe: one batch, one
 * thread. */
#ifndef FABRIC_CORE_URING_DIRECT_H
#define FABRIC_CORE_URING_DIRECT_H

#include <stdint.h>

#define URING_DIRECT_FILES 8            /* files in flight at once */
#define URING_DIRECT_BYTES (64u << 20)  /* bytes of write requests in flight, over all files */
#define URING_DIRECT_CHUNK (4u << 20)   /* bytes per write request */
#define URING_DIRECT_SMALL (64u << 10)  /* a buffered file below this is written with one pwrite, at once */

struct uring_batch;

/* A file added to the batch is done: all its bytes are written (rc 0), or it failed (rc -errno; what was
 * written of it is undefined).  The fd and the source are the caller's again. */
typedef void (*uring_batch_done_fn)(void *arg, void *cookie, int rc);

/* What the batch did so far: bytes and files written with O_DIRECT (a direct file's tail is counted in
 * buffered_bytes), and buffered. */
struct uring_batch_stats {
	uint64_t direct_bytes, buffered_bytes;
	uint64_t direct_files, buffered_files;
};

/* A new batch whose files end with done(arg, cookie, rc).  0, or -errno (io_uring refused). */
int uring_batch_open(struct uring_batch **b, uring_batch_done_fn done, void *arg);
/* Write len bytes of src to fd (open for writing, empty) from offset 0.  May wait for earlier files to
 * finish (their done runs then) to stay within the limits.  done is called exactly once for cookie:
 * before this returns (len 0, a small file, a failure to start) or later. */
void uring_batch_add(struct uring_batch *b, int fd, const void *src, uint64_t len, void *cookie);
/* Wait until every file added is done. */
void uring_batch_finish(struct uring_batch *b);
/* Finish, then free the batch; stats (may be NULL) gets what it did. */
void uring_batch_close(struct uring_batch *b, struct uring_batch_stats *stats);

#endif
