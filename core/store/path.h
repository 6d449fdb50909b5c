/* SPDX-License-Identifier: MIT */
/* path.h -- names under vars/ as commands give them ("run1/w"), turned into store ids.
 *
 * The control file and the bulk verbs name objects by path; the filesystem names them by (parent, leaf).
 * This is the one place that walks from one to the other, through the store's public lookups, so it
 * obeys the same rules as a FUSE request. */
#ifndef FABRIC_CORE_PATH_H
#define FABRIC_CORE_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "core/store/store.h"

#define PATH_MAX_LEN 4096

/* Resolve a path under vars/ ("" or "." is vars/ itself; empty components are skipped) to an id and its
 * attributes.  No lookup reference is kept.  -ENOENT, -ENOTDIR, -ENAMETOOLONG, and -ELOOP when the path
 * names a symbolic link or goes through one: the daemon never follows links for a caller. */
int path_resolve(struct store *st, const char *path, uint64_t *id, struct store_attr *attr);
/* The same from directory `from` (STORE_ROOT_ID: paths from the mount root, "shards/ctr/local"). */
int path_resolve_at(struct store *st, uint64_t from, const char *path, uint64_t *id, struct store_attr *attr);
/* Split "a/b/c" into the id of directory "a/b" (which must exist) and the leaf "c" (copied into leaf,
 * NAMES_LEAF_MAX + 1 bytes).  -EINVAL for a path with no leaf. */
int path_parent(struct store *st, const char *path, uint64_t *dir, char *leaf, size_t leaflen);
/* The same from directory `from`. */
int path_parent_at(struct store *st, uint64_t from, const char *path, uint64_t *dir, char *leaf, size_t leaflen);
/* What a failure of the calls above means, for a sentence: strerror's, but for -ELOOP, whose strerror
 * ("too many levels") would mislead. */
const char *path_error(int rc);

#endif
