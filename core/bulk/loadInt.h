/* SPDX-License-Identifier: MIT */
/* loadInt.h -- what the files of core/bulk share: acting with a caller's credentials, loads in flight and
 * filling a variable's block from a file, and the loads of many objects (load_tree.c, load_tar.c) that
 * load_any (load.c) hands a directory or an archive to. */
#ifndef FABRIC_CORE_LOADINT_H
#define FABRIC_CORE_LOADINT_H

#include <sys/stat.h>
#include <sys/types.h>

#include "core/bulk/load.h"
#include "core/os/uring_copy.h"
#include "core/store/path.h"

#define LOAD_NGROUPS 64

/* groups as the store's permission checks and proc_groups take them; the kernel's gid_t is the same type */
struct load_creds {
	uid_t uid;
	gid_t gid;
	uint32_t groups[LOAD_NGROUPS];
	int ngroups;
};
_Static_assert(sizeof(gid_t) == sizeof(uint32_t) && (gid_t)-1 > 0, "gid_t is a 32-bit unsigned number");

/* Take on who's file-system identity (uid, gid, groups) in this thread, keeping the old one in saved;
 * load_unbecome(saved) gives it back.  load_creds_of reads who's groups once, for load_become_as. */
void load_become(const struct load_caller *who, struct load_creds *saved);
void load_creds_of(const struct load_caller *who, struct load_creds *c);
void load_become_as(const struct load_creds *as, struct load_creds *saved);
void load_unbecome(const struct load_creds *saved);

/* A load in flight, listed for user.fabric.loads (fabric put's progress bar) from load_inflight_begin to
 * load_inflight_end: its name, bytes done and bytes in all.  A load of many files is one entry: base is
 * the bytes of its files already read, to which the current file's read adds. */
struct load_inflight {
	char name[PATH_MAX_LEN + 1];
	uint64_t base, done, total;
	struct load_inflight *next;
};
void load_inflight_begin(struct load_inflight *l, const char *name, uint64_t total);
void load_inflight_end(struct load_inflight *l);

/* Fill the variable behind h (being written, its size already set to len) with the len bytes of fd from
 * offset off, read with io_uring: through ring when given (NULL: a ring for this read alone), counted in l
 * when given.  A variable of LOAD_BOUNCE bytes or more is read straight into a mapping of its block; a
 * smaller one, when bounce (LOAD_BOUNCE bytes) is given, into bounce and written into its block with one
 * pwrite: for a few pages the mapping costs more than the copy (its munmap interrupts every CPU that runs
 * a thread of the daemon, to flush their TLBs). */
#define LOAD_BOUNCE (64u << 10)
int load_fill(struct store_handle *h, struct uring_reader *ring, void *bounce, int fd, uint64_t off, uint64_t len,
	      struct load_inflight *l);
/* Is the file behind fd still size bytes, last changed at mtime, as it was when its load began? */
bool load_unchanged(int fd, uint64_t size, const struct timespec *mtime);
/* The same read into dst (len bytes), for a variable that has no block yet (store_put); LOAD_BOUNCE bytes
 * or fewer with pread. */
int load_read(struct uring_reader *ring, int fd, uint64_t off, void *dst, uint64_t len, struct load_inflight *l);

/* load_any's two other cases, each given FILE opened by the caller (read-only, not O_DIRECT) and what
 * fstat said of it; they close nothing.  load_tree: fd is the directory DIR; load_tar: fd is an archive
 * whose first block tar_is_header.  into 0: the new directory vars/NAME; else the existing directory of
 * that id (a dataset: load_into), NAME then only naming it in sentences. */
int load_tree(struct store *st, const struct load_caller *who, const char *name, uint64_t into, const char *dir,
	      int fd, const struct stat *sb, const char *doc, int mode, struct load_result *res, char *why,
	      size_t whylen);
int load_tar(struct store *st, const struct load_caller *who, const char *name, uint64_t into, const char *file,
	     int fd, const struct stat *sb, const char *doc, int mode, struct load_result *res, char *why,
	     size_t whylen);
/* load_into's third case: FILE.tsv (by its name), lines KEY<TAB>VALUE into the dataset into (load_tsv.c). */
int load_tsv(struct store *st, const struct load_caller *who, const char *name, uint64_t into, const char *file,
	     int fd, const struct stat *sb, const char *doc, int mode, struct load_result *res, char *why,
	     size_t whylen);

#endif
