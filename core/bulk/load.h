/* SPDX-License-Identifier: MIT */
/* load.h -- bulk moves between disk and the fabric: load a file into a new variable, checkpoint every
 * sealed variable of the node to a directory, restore them from it.
 *
 * These are the Data Fabric design's insert-from-disk and the way a fabric survives a reboot (which wipes
 * /dev/shm).  They run in the daemon on behalf of a control-file user, so every file they open on disk is
 * opened with that user's uid and gid (not the daemon's): root's daemon must not become a way to read or
 * write files its users could not.  Bytes move with io_uring (core/os/uring_copy.h) straight between the
 * disk and the shm blocks.  Variables are made and sealed through the store's public API, so the usual
 * rules hold: a load that fails leaves no variable, capacity is charged up front.
 *
 * Checkpoint layout: DIR/manifest.tsv (one line per variable: path, size, xxh3, type, doc, mode, uid,
 * gid; tab-separated, with \t \n \\ escaped in text fields; written to a temporary name and renamed, so a
 * checkpoint is whole or absent) and DIR/data/XXH3 (the bytes, named by their hash: a second checkpoint
 * writes only what changed, and identical variables are stored once). */
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
	uint64_t size;
	char xxh3[33];
	uint64_t count, bytes, skipped; /* checkpoint/restore: variables and bytes moved, variables skipped */
};

/* Load the file at the absolute path `file` into a new variable `name` (a path under vars/, whose
 * directories must exist) with optional type and doc.  Its mode is mode, or (mode < 0) the file's own
 * permission bits less who's umask, as cp(1) gives.  why gets one sentence on failure. */
int load_file(struct store *st, const struct load_caller *who, const char *name, const char *file,
	      const char *type, const char *doc, int mode, struct load_result *res, char *why, size_t whylen);
/* Call fn for each load in flight: its variable's name, bytes read so far, bytes in all. */
int load_each_inflight(int (*fn)(void *arg, const char *name, uint64_t done, uint64_t total), void *arg);
/* Write every sealed variable to dir (created when missing). */
int load_checkpoint(struct store *st, const struct load_caller *who, const char *dir, struct load_result *res,
		    char *why, size_t whylen);
/* Bring back every variable of dir's manifest that is not in the fabric (missing directories are made);
 * one whose name is taken by different bytes is skipped and named in `why`-style lines appended to
 * report (may be NULL).  Each restored variable's xxh3 must equal the manifest's, else it is dropped. */
int load_restore(struct store *st, const struct load_caller *who, const char *dir, struct load_result *res,
		 char *report, size_t reportlen, char *why, size_t whylen);
/* The same for only the n variables named in paths (under vars/): what a mount found lost.  Names the
 * checkpoint does not hold are counted in res->skipped and named in report ("missing"). */
int load_restore_only(struct store *st, const struct load_caller *who, const char *dir, const char *const *paths,
		      size_t n, struct load_result *res, char *report, size_t reportlen, char *why, size_t whylen);

#endif
