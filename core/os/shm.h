/* SPDX-License-Identifier: MIT */
/* shm.h -- POSIX shared-memory objects that hold the fabric's bytes.
 *
 * A block is one shm object in /dev/shm named PREFIX + decimal block id, where PREFIX is
 * "fabric.NODE.INST." (INST: a random id made when a state dir is first used).  The prefix is what lets
 * several nodes share a machine, and what lets a restarted daemon find and remove blocks it no longer
 * knows (orphans) without touching anybody else's.  A variable has a block of its own whose byte 0 is the
 * variable's byte 0, so the kernel can later serve it to readers directly (passthrough).
 *
 * Ownership: each function that returns an fd gives it to the caller, who closes it.  Blocks outlive the
 * daemon: they are removed only by shm_remove (object freed) or by the orphan sweep at start. */
#ifndef FABRIC_CORE_SHM_H
#define FABRIC_CORE_SHM_H

#include <stddef.h>
#include <stdint.h>

#define SHM_NAME_MAX 128 /* bytes in a block name, NUL included */
#define SHM_DIR "/dev/shm"

/* PREFIX for a node and instance id: "fabric.NODE.INST." */
int shm_prefix(const char *node, const char *inst, char *buf, size_t len);
/* A fresh random instance id: 8 lowercase hex digits. */
void shm_new_instance(char inst[9]);
/* Block name PREFIX + id, without the leading '/' that shm_open wants (it is added inside). */
int shm_block_name(const char *prefix, uint64_t id, char *buf, size_t len);

/* Create a new, empty block (fails with -EEXIST when the name is taken).  Mode 0600: only the daemon
 * and root read blocks directly; programs read through the mount. */
int shm_create(const char *name, int *fd);
/* Open an existing block read-write. */
int shm_open_block(const char *name, int *fd);
/* Remove a block's name; mappings and open fds keep its pages until they go. -ENOENT is not an error. */
int shm_remove(const char *name);
/* Call fn for each block in /dev/shm whose name starts with prefix; stops at the first non-zero return
 * and returns it. */
int shm_each(const char *prefix, int (*fn)(void *arg, const char *name), void *arg);
/* Size of /dev/shm in bytes (the default capacity is half of it). */
int shm_fs_size(uint64_t *bytes);

#endif
