/* SPDX-License-Identifier: MIT */
/* uring_copy.h -- bulk bytes from a file on disk into a mapped shm block, with io_uring (writes the other
 * way, for `checkpoint`, are uring_direct.h's).
 *
 * `load` and `restore` move whole objects from disk into shm.  Doing it with io_uring
 * keeps several requests in flight (the disk stays busy while the CPU does nothing), and reading straight
 * into the block's mapping, with O_DIRECT where the file system allows it, moves each byte once: disk ->
 * shm, no page-cache copy, no bounce buffer.
 *
 * Ownership: the caller owns the fds and the mapping; both must stay valid until the call returns.  The
 * mapping must be writable for `len` bytes rounded up to a page, because O_DIRECT moves whole blocks. */
#ifndef FABRIC_CORE_URING_COPY_H
#define FABRIC_CORE_URING_COPY_H

#include <stdint.h>

#define URING_CHUNK (1u << 20) /* bytes per read request */
#define URING_DEPTH 8          /* requests in flight */

/* Progress: called from the caller's thread with the bytes done so far; may be NULL. */
typedef void (*uring_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Read len bytes of fd, from offset 0, into dst.  -EIO when the file is shorter than len (it shrank). */
int uring_read_into(int fd, void *dst, uint64_t len, uring_progress_fn progress, void *arg);
/* A ring kept for many reads: setting one up and down costs ~48 us here, more than reading a 4 KiB file
 * does, so a load of many files reads them all through one. */
struct uring_reader;
int uring_reader_new(struct uring_reader **out);
void uring_reader_free(struct uring_reader *r); /* NULL is fine */
/* Read len bytes of fd from offset off into dst: uring_read_into's rules, from anywhere in the file (an
 * O_DIRECT fd needs off aligned as O_DIRECT wants it). */
int uring_reader_read(struct uring_reader *r, int fd, uint64_t off, void *dst, uint64_t len,
		      uring_progress_fn progress, void *arg);
/* Open path for reading, with O_DIRECT when the file system takes it (buffered otherwise). */
int uring_open_source(const char *path, int *fd);

#endif
