/* SPDX-License-Identifier: MIT */
/* load.h -- load a file from disk into a new variable, a directory tree or a tar archive into a new
 * directory of them, and who asks for bulk moves (struct load_caller); checkpoint and restore, the other
 * bulk moves, are in core/bulk/checkpoint.h.
 *
 * Load is the Data Fabric design's insert-from-disk.  It runs in the daemon on behalf of a control-file
 * user, so every file it opens on disk is opened with that user's uid and gid (not the daemon's): root's
 * daemon must not become a way to read files its users could not.  Bytes move with io_uring
 * (core/os/uring_copy.h) straight between the disk and the shm block.  The variable is made and sealed
 * through the store's public API, so the usual rules hold: a load that fails leaves no variable, capacity
 * is charged up front. */
#ifndef FABRIC_CORE_LOAD_H
#define FABRIC_CORE_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/store/store.h"

/* Who asked: files are opened with these credentials; new variables belong to them. */
struct load_caller {
	uint32_t uid, gid;
	pid_t pid;
};

/* The mode an object made for who gets, as open(2) would give it: base & ~who's umask (022 when who's
 * process is gone). */
uint32_t load_caller_mode(const struct load_caller *who, uint32_t base);
/* May who create a name in directory dir (store_may_create, with who's groups)? */
bool load_caller_may_create(struct store *st, const struct load_caller *who, uint64_t dir);

struct load_result {
	uint64_t size; /* load of one file: the variable's size and xxh3 (and id, load_bytes_at) */
	char xxh3[33];
	uint64_t id;
	bool many;     /* load_any made a directory of objects: count and bytes below, and the next three */
	uint64_t count, bytes, skipped; /* variables and bytes moved (loaded, checkpointed, restored), skipped */
	uint64_t unreadable;            /* checkpoint: variables left out because the caller may not read them */
	uint64_t dirs, links, hard_links; /* load of many: directories made (NAME too), symbolic links, second
					     names of a variable made by hard links */
};

/* Load the file at the absolute path `file` into a new variable `name` (a path under vars/, whose
 * directories must exist) with optional type and doc.  Its mode is mode, or (mode < 0) the file's own
 * permission bits less who's umask, as cp(1) gives.  why gets one sentence on failure. */
int load_file(struct store *st, const struct load_caller *who, const char *name, const char *file,
	      const char *type, const char *doc, int mode, struct load_result *res, char *why, size_t whylen);
/* The len bytes of buf as the new variable name (a path from directory `from`), made as who (mode as
 * given), sealed, and proved against xxh3 when it is not NULL (a mismatch is removed: EIO); a dataset's
 * type refuses it up front (EINVAL).  res gets its size, xxh3 and id. */
int load_bytes_at(struct store *st, const struct load_caller *who, uint64_t from, const char *name, const void *buf,
		  size_t len, const char *xxh3, uint32_t mode, struct load_result *res, char *why, size_t whylen);
/* The same with name a path from directory `from` (STORE_ROOT_ID: "datasets/NAME/KEY"). */
int load_file_at(struct store *st, const struct load_caller *who, uint64_t from, const char *name, const char *file,
		 const char *type, const char *doc, int mode, struct load_result *res, char *why, size_t whylen);
/* load, as the verb does it: what the absolute path `file` holds becomes `name`.  A directory becomes a new
 * directory `name` holding its tree (core/bulk/load_tree.c); a tar archive, known by its first header
 * (not by its file name), a new directory holding its members (load_tar.c); anything else one variable
 * (load_file).  Many objects come all or nothing: a failure leaves none of them.  type is for one file
 * only (a DIR's files get theirs from its fabric.manifest, load_many.h); doc and mode (mode >= 0) are
 * given to every variable made. */
int load_any(struct store *st, const struct load_caller *who, const char *name, const char *file,
	     const char *type, const char *doc, int mode, struct load_result *res, char *why, size_t whylen);
/* load_any of a directory or a tar archive into the existing directory dir_id (a dataset's: its files are
 * its items, and a member that would need a directory or a link there is refused by the store, EPERM,
 * the whole request undone), all or nothing; shown names it in sentences ("datasets/NAME"). */
int load_into(struct store *st, const struct load_caller *who, uint64_t dir_id, const char *shown,
	      const char *file, const char *doc, int mode, struct load_result *res, char *why, size_t whylen);
/* Call fn for each load in flight: its variable's name, bytes read so far, bytes in all. */
int load_each_inflight(int (*fn)(void *arg, const char *name, uint64_t done, uint64_t total), void *arg);

#endif
