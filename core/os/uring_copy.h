/* SPDX-License-Identifier: MIT */
/* uring_copy.h -- bulk bytes between a file on disk and a mapped shm block, with io_uring.
 *
 * `load`, `checkpoint` and `restore` move whole objects between disk and shm.  Doing it with io_uring
 * keeps several requests in flight (the disk stays busy while the CPU does nothing), and reading straight
 * into the block's mapping, with O_DIRECT where the file system allows it, moves each byte once: disk ->
 * shm, no page-cache copy, no bounce buffer.
 *
 * Ownership: the caller owns the fds and the mapping; both must stay valid until the call returns.  The
 * mapping must be writable (reads) or readable (writes) for `len` bytes rounded up to a page, because
 * O_DIRECT moves whole blocks. */
#ifndef FABRIC_CORE_URING_COPY_H
#define FABRIC_CORE_URING_COPY_H

#include <stdint.h>

#define URING_CHUNK (1u << 20)        /* bytes per read request */
/* Buffered writes to a disk file system run in io_uring's worker threads, one file at a time, so fewer,
 * larger requests cost less handing over: with 1 MiB requests the writes of a 1 GiB checkpoint took 1.07 s
 * (strace) against ~0.35 s for cp's; with 8 MiB whole checkpoints took 0.97-2.2 s against 1.95-2.1 s,
 * within this VM's disk noise. */
#define URING_WRITE_CHUNK (8u << 20)
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
/* Write len bytes of src into fd from offset 0 (the file is extended as needed, not truncated). */
int uring_write_from(int fd, const void *src, uint64_t len, uring_progress_fn progress, void *arg);
/* Open path for reading, with O_DIRECT when the file system takes it (buffered otherwise). */
int uring_open_source(const char *path, int *fd);

#endif
