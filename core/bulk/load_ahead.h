/* SPDX-License-Identifier: MIT */
/* load_ahead.h -- a thread that opens and reads a tree's files ahead of the store's work on them.
 *
 * A `load NAME DIR` spends about as long on each file's opening, checking and reading (as the caller,
 * on the source's file system) as on making its variable (store, slab pages, the group commit).  Done one
 * after the other on one thread they leave the second CPU idle; here a thread of its own opens and
 * checks each file and reads a small one (load_many_small) into a buffer, up to LOAD_AHEAD files ahead,
 * while the load's thread makes the variables in order.  The thread takes on the caller's identity once
 * (credentials are per thread for the raw system calls load_become uses) and creates nothing anywhere.
 *
 * Who owns what: the files array is the caller's and must outlive load_ahead_stop; a buffer handed out by
 * load_ahead_next is the reader's and valid until the next call; an fd handed out (a file too big for a
 * buffer) is the caller's to read and close.  Only the load's thread calls these functions. */
#ifndef FABRIC_CORE_LOAD_AHEAD_H
#define FABRIC_CORE_LOAD_AHEAD_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/bulk/load_many.h"

#define LOAD_AHEAD 32 /* files opened (and small ones read) ahead of the store, at most */

/* A file of the tree as the walk saw it: path relative to the tree's root fd. */
struct load_ahead_file {
	const char *path;
	uint64_t size;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	bool direct; /* open with O_DIRECT (falls back to buffered where the file system refuses it) */
};

/* Which step failed for a file. */
enum load_ahead_step {
	LOAD_AHEAD_OPEN,     /* openat2: the errno says why */
	LOAD_AHEAD_CHANGED,  /* not the inode, kind or size the walk saw */
	LOAD_AHEAD_READ,     /* the read: the errno says why */
	LOAD_AHEAD_CHANGING, /* its size or time changed while it was read */
};

struct load_ahead;

/* Start reading files[0..n) of the tree at root (an fd, RESOLVE_BENEATH from it) as m's caller. */
int load_ahead_start(struct load_many *m, int root, const struct load_ahead_file *files, size_t n,
		     struct load_ahead **out);
/* The next file, in order: 0 with either *buf (a small file's bytes) or *fd (>= 0, opened, checked, not
 * read); or -errno with *step saying what failed.  Past the last file: -ENOENT with *step OPEN. */
int load_ahead_next(struct load_ahead *a, const void **buf, int *fd, enum load_ahead_step *step);
/* Stop the thread, close what it opened and nobody took, free a. */
void load_ahead_stop(struct load_ahead *a);

#endif
