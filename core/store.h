/* SPDX-License-Identifier: MIT */
/* store.h -- one node's object store: the namespace, write-once variables in shm, and their yellow pages.
 *
 * This is the library the daemon's FUSE layer (fs/) drives, and that tests and tools can drive directly:
 * it knows nothing of FUSE.  Objects are named by 64-bit ids, which are their YP row ids and, in fs/,
 * their inode numbers; STORE_ROOT_ID is the mount root and STORE_VARS_ID is vars/.
 *
 * Lifecycle of a variable:  writing --(last writer's release)--> sealed --(unlink, last close)--> gone.
 * A variable being written is a future: an open by any process other than its writers waits (see
 * store_open) until it is sealed, or fails when it is dropped.  A writer that hits ENOSPC, or whose last
 * close is its process dying of a signal or exiting non-zero, gets its variable dropped, never sealed.
 *
 * References: the caller (the kernel, through fs/) holds lookup references, counted by every call that
 * returns attributes "for an entry" (lookup, create, mkdir, dir_entry with lookup) and given back with
 * store_forget.  An id stays valid while it has lookup references or open handles, even after unlink.
 *
 * Errors: every int function returns 0 (or a byte count where said) or a negative errno.  Threads: all
 * functions may be called concurrently; the store serialises what must be. */
#ifndef FABRIC_CORE_STORE_H
#define FABRIC_CORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_ROOT_ID 1
#define STORE_VARS_ID 2
#define STORE_WAITING 1 /* store_open: the answer comes later, through the waiter callback */
#define STORE_DOC_MAX 4096

struct store;
struct store_handle;

struct store_config {
	const char *state_dir; /* holds yp.db; must exist */
	const char *node;      /* node name; NULL: the one the state dir has, else names_default_node() */
	uint64_t capacity;     /* 0: the state dir's, else half of /dev/shm */
	/* Log sink for events nobody asked about (drops, recovery); NULL: stderr. */
	void (*log)(const char *msg);
};

struct store_attr {
	uint64_t id;
	bool dir;
	bool sealed;   /* for variables: sealed (read-only) vs writing */
	uint32_t mode; /* with the file type bits; a sealed variable has no write bits */
	uint32_t uid, gid, nlink;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
};

/* Attribute changes for store_setattr; a field is used when its flag is in `set`. */
enum {
	STORE_SET_MODE = 1,
	STORE_SET_UID = 2,
	STORE_SET_GID = 4,
	STORE_SET_SIZE = 8,
	STORE_SET_MTIME = 16,
};
struct store_setattr {
	unsigned set;
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime_ns;
};

/* Open a state dir: open/create the YP, recover from any crash (drop half-written objects, remove orphan
 * blocks, verify sealed ones), load the namespace.  On failure msg gets one sentence for the user. */
int store_init(const struct store_config *cfg, struct store **out, char *msg, size_t msglen);
/* Record a clean shutdown and free everything; open handles are abandoned (their variables are
 * dropped at the next start).  NULL is fine. */
void store_destroy(struct store *st);
const char *store_node_name(const struct store *st);

/* Names.  parent and the result are ids; *out is filled and counts one lookup reference. */
int store_lookup(struct store *st, uint64_t parent, const char *name, struct store_attr *out);
int store_getattr(struct store *st, uint64_t id, struct store_attr *out);
void store_forget(struct store *st, uint64_t id, uint64_t nlookup);
int store_mkdir(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		uint32_t gid, struct store_attr *out);
int store_rmdir(struct store *st, uint64_t parent, const char *name);
int store_unlink(struct store *st, uint64_t parent, const char *name);
/* flags: 0 (replace a variable or an empty directory) or RENAME_NOREPLACE; RENAME_EXCHANGE is -EINVAL. */
int store_rename(struct store *st, uint64_t parent, const char *name, uint64_t newparent, const char *newname,
		 unsigned flags);
int store_setattr(struct store *st, uint64_t id, const struct store_setattr *sa, struct store_attr *out);

/* Directories: a snapshot of the child ids of dir (malloc'd, the caller frees), and the name and
 * attributes of one child if it is still in dir (-ENOENT otherwise); lookup: count a lookup reference. */
int store_dir_list(struct store *st, uint64_t dir, uint64_t **ids, size_t *n);
int store_dir_entry(struct store *st, uint64_t dir, uint64_t child, char *name, size_t namelen,
		    struct store_attr *out, bool lookup);

/* Files.  flags are open(2) flags; pid is the calling thread (FUSE gives its id).  store_create makes a new
 * variable, opened for writing.  store_open returns 0 with *h, -errno, or STORE_WAITING: then *h is not
 * set and wake(arg, rc, h) is called once, later, from another thread, when the variable is sealed (rc 0
 * and an open handle h, or -EROFS for a writer) or dropped (rc -ENOENT).  store_cancel_wait withdraws a
 * waiting open (returns false when wake has been or is being called). */
int store_create(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		 uint32_t gid, int flags, pid_t pid, struct store_attr *out, struct store_handle **h);
int store_open(struct store *st, uint64_t id, int flags, pid_t pid,
	       void (*wake)(void *arg, int rc, struct store_handle *h), void *arg, struct store_handle **h);
bool store_cancel_wait(struct store *st, uint64_t id, void *arg);
/* Read/write through a handle: bytes done, or -errno.  A write that would pass the capacity fails with
 * -ENOSPC and dooms the variable (dropped at release). */
ssize_t store_read(struct store *st, struct store_handle *h, void *buf, size_t size, uint64_t off);
/* The block's fd behind h, for replies that move bytes without a copy through the caller (splice).
 * Valid until h is released; the caller must not close it or change its size. */
int store_handle_fd(const struct store_handle *h);
ssize_t store_write(struct store *st, struct store_handle *h, const void *buf, size_t size, uint64_t off);
/* A close(2) of a descriptor of h by thread pid.  If the last such close before the release comes from
 * a process that is dying (signal, or exit status other than 0), a writer's variable is dropped.  For a
 * writer it also charges what the block holds now (writes may have bypassed the daemon): -ENOSPC, for
 * close(2) to return, when that passes the capacity; the variable is then dropped at release. */
int store_flush(struct store *st, struct store_handle *h, pid_t pid);
/* The last reference to the open file is gone: the last writer's release seals (or drops) the variable
 * and wakes the opens that waited for it.  h is freed. */
void store_release(struct store *st, struct store_handle *h);

/* Extended attributes user.fabric.*: get returns the value's length (with size 0: the length it needs),
 * -ENODATA when unset, -ERANGE when size is too small; list returns the length of NUL-separated names. */
ssize_t store_getxattr(struct store *st, uint64_t id, const char *name, char *buf, size_t size);
int store_setxattr(struct store *st, uint64_t id, const char *name, const char *value, size_t size, int flags);
ssize_t store_listxattr(struct store *st, uint64_t id, char *buf, size_t size);
int store_removexattr(struct store *st, uint64_t id, const char *name);

void store_statfs(struct store *st, uint64_t *capacity, uint64_t *used, uint64_t *objects);

#endif
