/* SPDX-License-Identifier: MIT */
/* checkpoint.h -- checkpoint every sealed variable of the node to a directory on disk, and restore them
 * from it: the way a fabric survives a reboot (which wipes /dev/shm).
 *
 * As for load (load.h): they run in the daemon on behalf of a control-file user (struct load_caller), so
 * every file they open on disk is opened with that user's uid and gid, not the daemon's: root's daemon must
 * not become a way to read or write files its users could not.  Bytes move with io_uring between the disk
 * and the shm blocks; restored variables are made and sealed through the store's public API.
 *
 * Layout: DIR/manifest.tsv (one line per variable, directory and dataset: path, kind, size, xxh3, type,
 * doc, mode, uid, gid; tab-separated, with \t \n \\ escaped in text fields; written to a temporary name
 * and renamed, so a checkpoint is whole or absent) and DIR/data/XXH3 (the bytes, named by their hash: a
 * second checkpoint writes only what changed, and identical variables are stored once).  A path is under
 * vars/ ("run1/w"), or from the mount root when it starts with '/' ("/datasets/NAME/KEY"): the keyed
 * datasets come after vars/, each as a line of kind "dataset" (its limits in the xxh3 column) before its
 * items. */
#ifndef FABRIC_CORE_CHECKPOINT_H
#define FABRIC_CORE_CHECKPOINT_H

#include <stddef.h>

#include "core/bulk/load.h"
#include "core/store/store.h"

/* Write every sealed variable to dir (created when missing). */
int load_checkpoint(struct store *st, const struct load_caller *who, const char *dir, struct load_result *res,
		    char *why, size_t whylen);
/* A dataset to make again, as the manifest says (NULL fields: none). */
struct load_dataset {
	const char *name, *type, *doc, *limits;
	uint32_t mode, uid, gid;
};
/* Makes it (datasets belong to a layer above this one): 0, or -errno with a sentence in why. */
typedef int load_make_dataset(void *arg, const struct load_dataset *d, char *why, size_t whylen);
/* Bring back every variable of dir's manifest that is not in the fabric (missing directories are made,
 * missing datasets by make_ds: without it, or when it fails, their items are skipped and said so); one
 * whose name is taken by different bytes is skipped and named in `why`-style lines appended to report
 * (may be NULL).  Each restored variable's xxh3 must equal the manifest's, else it is dropped. */
int load_restore(struct store *st, const struct load_caller *who, const char *dir, load_make_dataset *make_ds,
		 void *make_arg, struct load_result *res, char *report, size_t reportlen, char *why, size_t whylen);
/* The same for only the n variables named in paths (as the manifest names them): what a mount found lost.  Names the
 * checkpoint does not hold are counted in res->skipped and named in report ("missing"). */
int load_restore_only(struct store *st, const struct load_caller *who, const char *dir, const char *const *paths,
		      size_t n, struct load_result *res, char *report, size_t reportlen, char *why, size_t whylen);

#endif
