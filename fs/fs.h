/* SPDX-License-Identifier: MIT */
/* fs.h -- the FUSE side of fabricd: low-level operations over core/store, the mount, and the daemon.
 *
 * Inode numbers are store ids (= YP objects.id): FUSE_ROOT_ID (1) is the store's root and 2 is vars/.
 * Ids are never reused (SQLite AUTOINCREMENT), so an inode number names one object forever, across
 * restarts too; generation is therefore always 0.  Lookup counts are kept by the store (store_lookup and
 * friends count one, fs_op_forget gives them back).  fi->fh of an open file is its struct store_handle;
 * of an open directory, a struct fs_dir snapshot.  Only this folder includes <fuse_lowlevel.h>. */
#ifndef FABRIC_FS_FS_H
#define FABRIC_FS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "core/ctl/ctl.h"
#include "core/store/store.h"
#include "core/task/task.h"

/* Cache lifetimes handed to the kernel.  Names and attributes of sealed objects change through this mount's
 * FUSE requests, which the kernel sees, or through the store on its own (control-file verbs, removals),
 * which notify.c reports to the kernel; so they are cached long.  A variable being written is not cached
 * at all (size and state change under it, and it may be dropped); directories' attributes briefly;
 * absent names for a second. */
#define FS_TTL_SEALED 3600.0
#define FS_TTL_DIR 1.0
#define FS_TTL_NEGATIVE 1.0

struct fs {
	struct store *store;
	struct fuse_session *se;
	const char *mountpoint;
	bool own_mount; /* mounted with mount(2): unmount with umount2 */
	const char *state_dir;
	struct tasks *tasks; /* NULL until the task runner starts (after the mount) */
};

/* ops_dir.c -- names, attributes, directories, statfs */
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);
/* Fill a fuse_entry_param from store attributes (timeouts by state). */
void fs_entry_of(const struct store_attr *a, struct fuse_entry_param *e);

/* ops_file.c -- variables' bytes; opens of a variable being written wait for its seal */
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
/* The reaper thread that answers interrupted waiting opens: started before the session loop. */
int fs_files_start(void);
void fs_files_stop(void);

/* ops_xattr.c -- user.fabric.* */
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* passthrough.c -- the zero-copy data path (FUSE passthrough via fuse_session_custom_io) */
enum fs_open_mode { FS_OPEN_FAILED, FS_OPEN_CACHED, FS_OPEN_DIRECT, FS_OPEN_PASSTHROUGH };
/* devfd: /dev/fuse when the daemon mounted it itself (else -1); wanted: not --no-passthrough. */
void fs_pt_setup(int devfd, bool wanted, bool strict);
ssize_t fs_io_read(int fd, void *buf, size_t len, void *userdata);
ssize_t fs_io_writev(int fd, struct iovec *iov, int count, void *userdata);
/* After the mount: wait for INIT, probe a backing file, settle the data path (fs_pt_datapath). */
int fs_pt_wait_ready(double timeout_s, char *why, size_t whylen);
const char *fs_pt_datapath(void);
/* The unique id of the request this worker thread is handling. */
uint64_t fs_pt_current_unique(void);
/* Count a new open of ino and say how it goes: the inode's first open decides (passthrough onto fd when
 * fd >= 0 and passthrough is active; direct for writers under --strict-seal; else cached), the others
 * follow until its last release.  For passthrough, the reply to request `unique` is patched on its way
 * out.  FS_OPEN_FAILED: out of memory, nothing counted. */
enum fs_open_mode fs_pt_open(uint64_t ino, uint64_t unique, int fd, bool writer);
/* The reply to `unique` could not be sent: forget its patch (the open is still counted). */
void fs_pt_cancel(uint64_t unique);
void fs_pt_release(uint64_t ino);

/* ops_virtual.c -- names the daemon makes up: ctl, nodes/, nodes/NODE/, nodes/NODE/stat, tasks/ */
#define FS_VIRT_BASE (1ULL << 62) /* far above any YP id */
#define FS_CTL_INO (FS_VIRT_BASE + 0)
#define FS_NODES_INO (FS_VIRT_BASE + 1)
#define FS_NODE_INO (FS_VIRT_BASE + 2)
#define FS_NODESTAT_INO (FS_VIRT_BASE + 3)
#define FS_TASKS_INO (FS_VIRT_BASE + 4)
#define FS_CTL_NAME "ctl"
void fs_virt_init(void);
/* Virtual: the fixed names above, and everything under tasks/ (ops_task.c). */
bool fs_virt_is(uint64_t ino);
bool fs_virt_getattr(fuse_req_t req, uint64_t ino, struct stat *st);
/* How long the kernel may keep a virtual inode's attributes. */
double fs_virt_ttl(uint64_t ino);
/* Answers the lookup and returns true when (parent, name) is virtual or parent is a virtual dir. */
bool fs_virt_lookup(fuse_req_t req, uint64_t parent, const char *name);
/* The virtual children of dir (the root has some too), malloc'd: the caller frees *inos. */
int fs_virt_children(fuse_req_t req, uint64_t dir, uint64_t **inos, size_t *n);
size_t fs_virt_direntry(fuse_req_t req, uint64_t ino, char *buf, size_t size, off_t next, bool plus);
void fs_virt_open(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi);
void fs_virt_read(fuse_req_t req, uint64_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_virt_release(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi);

/* ops_task.c -- tasks/ID/{cmd,status,exit,node,stdout,stderr,ctl}; poll(2) on status */
bool fs_task_is(uint64_t ino);
bool fs_task_getattr(struct tasks *t, uint64_t ino, struct stat *st);
void fs_task_lookup(fuse_req_t req, uint64_t parent, const char *name);
int fs_task_children(struct tasks *t, uint64_t dir, uint64_t **inos, size_t *n);
void fs_task_name(uint64_t ino, char *buf, size_t len);
void fs_task_open(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi);
void fs_task_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void fs_task_write(fuse_req_t req, const char *buf, size_t size, struct fuse_file_info *fi);
void fs_task_release(fuse_req_t req, struct fuse_file_info *fi);
void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
/* core/task/task.h's `changed`: wake the polls of task id's status. */
void fs_task_changed(void *arg, uint64_t id);

/* ops_ctl.c -- /fabric/ctl: write a command line, read its answer (per open file) */
/* What a control command runs against, for the request's caller (its uid, gid and pid). */
struct ctl_env fs_ctl_env(fuse_req_t req);
void fs_ctl_open(fuse_req_t req, struct fuse_file_info *fi);
void fs_ctl_read(fuse_req_t req, size_t size, struct fuse_file_info *fi);
void fs_ctl_write(fuse_req_t req, const char *buf, size_t size, struct fuse_file_info *fi);
void fs_ctl_flush(fuse_req_t req, struct fuse_file_info *fi);
void fs_ctl_release(fuse_req_t req, struct fuse_file_info *fi);

/* notify.c -- tell the kernel about names it did not see change (ctl verbs, the store's own removals) */
void fs_notify_name_changed(void *arg, uint64_t parent, const char *name); /* store_config.name_changed */
void fs_notify_begin(void); /* around work on this thread whose name changes the kernel does not see */
void fs_notify_end(void);
int fs_notify_start(struct fuse_session *se);
void fs_notify_stop(void);

/* mount.c -- the mount point */
/* A mount point left by a dead daemon ("Transport endpoint is not connected") is detached; returns 0,
 * or -errno when the directory is unusable for another reason. */
int fs_clear_dead_mount(const char *mountpoint);
/* Create the session with our options, and mount it: as root with mount(2) on our own /dev/fuse fd
 * (which passthrough needs), else through libfuse (fusermount3). */
int fs_mount(struct fs *fs, const char *mountpoint, const char *fsname, bool passthrough, bool strict);
void fs_unmount(struct fs *fs);

#endif
