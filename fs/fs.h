/* SPDX-License-Identifier: MIT */
/* fs.h -- the FUSE side of fabricd: low-level operations over core/store, the mount, and the daemon.
 *
 * Inode numbers are store ids (= YP objects.id): FUSE_ROOT_ID (1) is the store's root and 2 is vars/.
 * Ids are never reused (SQLite AUTOINCREMENT), so an inode number names one object forever, across
 * restarts too; generation is therefore always 0.  Lookup counts are kept by the store (store_lookup and
 * friends count one, fs_op_forget gives them back).  The names the daemon makes up (ctl, nodes/, tasks/)
 * have numbers far above any id; every inode has a kind, a table of operations that kind.c picks once per
 * request.  fi->fh of an open file is what its kind's open made (a struct store_handle for a variable);
 * of an open directory, a struct fs_dir snapshot.  Only this folder includes <fuse_lowlevel.h>. */
#ifndef FABRIC_FS_FS_H
#define FABRIC_FS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "core/ctl/ctl.h"
#include "core/dataset/dataset.h"
#include "core/store/store.h"
#include "core/task/task.h"

/* Cache lifetimes handed to the kernel.  Names and attributes of sealed objects change through this mount's
 * FUSE requests, which the kernel sees, or through the store on its own (control-file verbs, removals),
 * which notify.c reports to the kernel; so they are cached long.  A variable being written is not cached
 * for anybody else (size and state change under it, and it may be dropped), but its creator's kernel
 * keeps the attributes the create answered until the writer's close (fs_store_flush makes it forget
 * them); directories' attributes briefly; absent names for a second. */
#define FS_TTL_SEALED 3600.0
#define FS_TTL_WRITER 1.0
#define FS_TTL_DIR 1.0
#define FS_TTL_NEGATIVE 1.0

struct fs {
	struct store *store;
	struct fuse_session *se;
	const char *mountpoint;
	bool own_mount; /* mounted with mount(2): unmount with umount2 */
	const char *state_dir;
	struct tasks *tasks; /* NULL until the task runner starts (after the mount) */
	struct cluster *cluster; /* NULL: a single node (no --etcd) */
	struct datasets *datasets; /* the keeper of the datasets' trees (core/dataset/dataset.h) */
};

/* main.c: a line in the daemon's log (STATE/fabricd.log), with the time and pid. */
void fs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* kind.c -- the kinds of inode, and the FUSE callbacks that depend on the kind (its comment has the
 * table of kinds and their inode numbers).  Inode numbers of the names the daemon makes up, far above any
 * YP id: */
#define FS_TASK_BASE (1ULL << 61) /* tasks/ID/ and its files: FS_TASK_BASE | id << 3 | enum task_file */
#define FS_VIRT_BASE (1ULL << 62) /* the fixed names, and the end of the task range */
#define FS_CTL_INO (FS_VIRT_BASE + 0)
#define FS_NODES_INO (FS_VIRT_BASE + 1)
#define FS_NODE_INO (FS_VIRT_BASE + 2)
#define FS_NODESTAT_INO (FS_VIRT_BASE + 3)
#define FS_TASKS_INO (FS_VIRT_BASE + 4)
#define FS_EVENTS_INO (FS_VIRT_BASE + 5)
#define FS_EVENTS_JSON_INO (FS_VIRT_BASE + 6)
#define FS_PEER_BASE (FS_VIRT_BASE + 1024) /* nodes/PEER/ at FS_PEER_BASE + 2k, nodes/PEER/stat + 1 */
#define FS_PEERS_MAX 65536
#define FS_REMOTE_BASE (FS_VIRT_BASE + (1ULL << 32)) /* another node's object: FS_REMOTE_BASE + k */
#define FS_REMOTES_MAX (1ULL << 32)
#define FS_VARS_INO STORE_VARS_ID
#define FS_CTL_NAME "ctl"

/* An open directory (its fi->fh): the snapshot of its children taken at opendir.  ids are stored objects,
 * listed through the store; virt are made-up names, listed after them through their own kind. */
struct fs_dir {
	uint64_t *ids;
	size_t n;
	uint64_t *virt;
	size_t nvirt;
};

/* One kind of inode: the same operations for every kind, any of them but getattr may be NULL (kind.c says
 * what the callback answers then).  Operations shaped like their FUSE callback answer the request
 * themselves; getattr, setattr, name and list return 0 or -errno and leave the answer to the callback.
 * Operations on a name (lookup, mkdir, create, rmdir, unlink, rename, list) are the directory's kind's. */
struct fs_kind_ops {
	const char *kind; /* its name in kind.c's table */
	void (*lookup)(fuse_req_t req, fuse_ino_t parent, const char *name);
	int (*list)(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d); /* fill d at opendir */
	void (*mkdir)(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
	void (*create)(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);
	void (*rmdir)(fuse_req_t req, fuse_ino_t parent, const char *name);
	void (*symlink)(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
	/* A second name newname in newparent for inode ino (called by newparent's kind). */
	void (*link)(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
	void (*readlink)(fuse_req_t req, fuse_ino_t ino);
	void (*unlink)(fuse_req_t req, fuse_ino_t parent, const char *name);
	void (*rename)(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags);
	/* The attributes and how long the kernel may keep them. */
	int (*getattr)(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl);
	int (*setattr)(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set, struct stat *st,
		       double *ttl);
	/* A made-up inode's name in its directory's listing. */
	int (*name)(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len);
	void (*open)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
	void (*read)(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
	void (*write)(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi);
	void (*flush)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
	void (*release)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
	void (*poll)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
	void (*setxattr)(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags);
	void (*getxattr)(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
	void (*listxattr)(fuse_req_t req, fuse_ino_t ino, size_t size);
	void (*removexattr)(fuse_req_t req, fuse_ino_t ino, const char *name);
};
/* The kind of inode ino: the one place that reads an inode number's range. */
const struct fs_kind_ops *fs_kind_of(uint64_t ino);
/* Attributes and name of a made-up inode, for a listing: -ENOENT when it is gone (a forgotten task). */
int fs_kind_dirent(fuse_req_t req, uint64_t ino, char *name, size_t len, struct stat *st);
/* Answer a poll "ready", as a regular file always is. */
void fs_poll_ready(fuse_req_t req, struct fuse_pollhandle *ph);
/* Reply to a read of size bytes at off of the len bytes of text with a copy of that slice: the reader may
 * have its bytes, close the file and so free text (its RELEASE on another thread) before this thread is
 * back from writing the reply. */
void fs_reply_slice(fuse_req_t req, const char *text, size_t len, size_t size, off_t off);
/* The attributes of a made-up read-only file (its text made at each read, so its size 0). */
void fs_text_stat(struct stat *st, uint64_t ino, uint32_t uid, uint32_t gid, int64_t mtime_ns);
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ops_dir.c -- the store's names, attributes and directories (kinds store and root); listings; statfs */
void fs_store_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_store_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
void fs_store_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_store_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_store_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
void fs_store_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_store_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_store_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_store_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned int flags);
int fs_store_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl);
int fs_store_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set, struct stat *st,
		     double *ttl);
/* Callbacks of every kind alike: */
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);
/* Fill a fuse_entry_param from store attributes (timeouts by state). */
void fs_entry_of(const struct store_attr *a, struct fuse_entry_param *e);

/* ops_file.c -- variables' bytes (kinds store and root); opens of a variable being written wait for its seal */
void fs_store_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);
void fs_store_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_store_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_store_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_store_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_store_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
/* The reaper thread that answers interrupted waiting opens: started before the session loop. */
int fs_files_start(void);
void fs_files_stop(void);

/* ops_xattr.c -- user.fabric.* of stored objects (kind store), and the root's own (kind root) */
void fs_store_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags);
void fs_store_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_store_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_store_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void fs_root_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags);
void fs_root_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_root_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
/* The answer to a getxattr or listxattr of a value made here: size 0 asks for its length only. */
void fs_reply_xattr_text(fuse_req_t req, size_t size, const char *text, size_t len);

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
/* Add FOPEN_* flags to the open reply to request `unique` (libfuse 3.14 has no field for them). */
void fs_pt_open_flags(uint64_t unique, uint32_t flags);
/* The reply to `unique` could not be sent: forget its patch (the open is still counted). */
void fs_pt_cancel(uint64_t unique);
void fs_pt_release(uint64_t ino);

/* ops_virtual.c -- the fixed names the daemon makes up (ctl, nodes/, nodes/NODE/, nodes/NODE/stat, tasks/, events):
 * their names and attributes for kinds ctl, nodes, nodestat and tasks, the root's made-up children, and the
 * stat file's bytes */
void fs_virt_init(void);
void fs_vnode_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_vnode_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
int fs_vnode_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl);
int fs_vnode_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len);
/* The root: its made-up children first, then the store's. */
void fs_root_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_root_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
void fs_nodestat_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* The open of a file whose bytes are the text a (made: its bytes were printed without a failure), taken
 * now: fi->fh holds a until fs_nodestat_release; ENOMEM (a freed) when !made or a is NULL. */
void fs_text_open(fuse_req_t req, struct fuse_file_info *fi, struct text *a, bool made);
void fs_nodestat_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_nodestat_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* ops_peers.c -- the other nodes of a cluster in nodes/: nodes/ (kind nodes) looks up and lists them
 * beside this node; nodes/PEER/ (kind peer) and nodes/PEER/stat (kind peerstat) */
void fs_nodes_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_nodes_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
void fs_peer_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_peer_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
int fs_peer_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl);
int fs_peer_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len);
void fs_peerstat_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* core/cluster's `changed`: a node appeared or went up or down; fs_peers_free at exit */
void fs_peers_changed(void *arg, const char *node);
void fs_peers_free(void);

/* ops_remote.c -- the other nodes' names in this mount: vars/ (kind store) looks them up and lists them
 * after its own (a local name hides another node's; one another node holds is taken, EEXIST); their
 * objects are of kind remote; fs_remote_changed is core/cluster's names_changed */
extern const struct fs_kind_ops fs_kind_remote;
bool fs_remote_lookup_top(fuse_req_t req, const char *name); /* replied when true */
bool fs_remote_holds_top(fuse_req_t req, const char *name);
/* rm (dir false) or rmdir of another node's name in vars/, asked of its node: 0 or -errno (-ENOENT: no
 * other node holds it). */
int fs_remote_remove_top(fuse_req_t req, const char *name, bool dir);
/* mv of another node's name in vars/: asked of its node (newparent vars/ or one of its directories), else
 * -EXDEV.  0 or -errno (-ENOENT: no other node holds it). */
int fs_remote_rename_top(fuse_req_t req, const char *name, fuse_ino_t newparent, const char *newname,
			 unsigned flags);
int fs_remote_list_top(fuse_req_t req, struct fs_dir *d);
/* The same for datasets/: every other node's datasets beside this node's own (each in the node that made
 * it, its items there; a local one hides another node's of the same name, and a new one that another node
 * holds is taken, EEXIST). */
#define FS_REMOTE_DATASETS "datasets"
bool fs_remote_lookup_dataset(fuse_req_t req, const char *name); /* replied when true */
bool fs_remote_holds_dataset(fuse_req_t req, const char *name);
int fs_remote_list_datasets(fuse_req_t req, struct fs_dir *d);
/* What ops_shards.c shares of ops_remote.c: an entry reply for another node's object, its inode added to
 * a listing (cap: d->virt's room), an rm or rmdir of one of its names asked of its node. */
struct remote_attr;
void fs_remote_reply(fuse_req_t req, const struct remote_attr *a);
int fs_remote_add(struct fs_dir *d, size_t *cap, const struct remote_attr *a);
int fs_remote_remove(fuse_req_t req, const char *node, int64_t parent, const char *name, bool dir);

/* ops_shards.c -- shards/ in a cluster: every node's pieces under one shards/NAME/.  lookup (replied when
 * true) and list of shards/ and of this node's shards/NAME/; the same for another node's shards/NAME/
 * (remote_dir: is (node, id) one, and which); rm of another node's piece; rmdir of shards/NAME
 * everywhere. */
bool fs_shards_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_shards_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
bool fs_shards_remote_dir(fuse_req_t req, const char *node, int64_t id, char *name, size_t len);
bool fs_shards_piece_lookup(fuse_req_t req, const char *shard, const char *name);
int fs_shards_remote_list(fuse_req_t req, const char *shard, const char *node, struct fs_dir *d, size_t *cap);
int fs_shards_unlink(fuse_req_t req, const char *shard, const char *name);
int fs_shards_unlink_in(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_shards_rmdir(fuse_req_t req, const char *name);
void fs_remote_changed(void *arg, const char *node, int64_t id, int64_t parent, const char *name, bool gone);
void fs_remote_free(void);

/* ops_task.c -- tasks/ (kind tasks) and tasks/ID/{cmd,status,exit,node,stdout,stderr,ctl} (kind task);
 * poll(2) on status */
void fs_tasks_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_tasks_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
void fs_task_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
int fs_task_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d);
int fs_task_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl);
int fs_task_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len);
void fs_task_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_task_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_task_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_task_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_task_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
/* core/task/task.h's `changed`: wake the polls of task id's status. */
void fs_task_changed(void *arg, uint64_t id);

/* pollset.c -- poll handles kept until their key's object changes (a task, a dataset's tree) */
struct fs_poller;
struct fs_pollset {
	pthread_mutex_t lock;
	struct fs_poller *head;
};
#define FS_POLLSET_INIT { PTHREAD_MUTEX_INITIALIZER, NULL }
/* Keep ph under key; on -ENOMEM ph is destroyed (the caller answers ready: its reader looks again). */
int fs_pollset_add(struct fs_pollset *s, uint64_t key, struct fuse_pollhandle *ph);
/* Notify and drop every handle kept under key. */
void fs_pollset_wake(struct fs_pollset *s, uint64_t key);

/* ops_dataset.c -- datasets/: mkdir makes a dataset; datasets/NAME/.tree (kind dstree), its tree, read
 * whole at each read from offset 0, poll(2) waking when it changes */
#define FS_DSTREE_BASE (FS_VIRT_BASE + (1ULL << 34)) /* datasets/NAME/.tree: FS_DSTREE_BASE + its dir's id */
#define FS_DSTREES_MAX (1ULL << 40)
#define FS_DSTREE_NAME ".tree"
void fs_dataset_mkdir(fuse_req_t req, const char *name, mode_t mode);

/* ops_rtree.c -- datasets/NAME/.tree of another node's dataset (kind rtree), asked of its node */
#define FS_RTREE_BASE (FS_VIRT_BASE + (1ULL << 42)) /* + the dataset's directory's remote slot */
extern const struct fs_kind_ops fs_kind_rtree;
/* Lookup of .tree in parent (kind remote): true when answered (parent is another node's dataset). */
bool fs_rtree_lookup(fuse_req_t req, fuse_ino_t parent);
/* Something in the remote dataset whose directory is inode dir changed (fs_remote_changed): its .tree's
 * pollers wake. */
void fs_rtree_changed(uint64_t dir);
/* Is ino (kind remote) another node's dataset?  Its attributes into *a when it is. */
bool fs_remote_dataset_of(fuse_req_t req, fuse_ino_t ino, struct remote_attr *a);

/* ops_outgoing.c -- an item written here into another node's dataset (kind outgoing): its bytes gather
 * here and go to the dataset's node at the first close that leaves some (or at the release) */
#define FS_OUTGOING_BASE (FS_VIRT_BASE + (1ULL << 41)) /* past the .tree range */
#define FS_OUTGOING_MAX 4096                            /* written at once */
extern const struct fs_kind_ops fs_kind_outgoing;
/* A create of key in dir, another node's dataset, whose inode here is parent. */
void fs_outgoing_create(fuse_req_t req, fuse_ino_t parent, const struct remote_attr *dir, const char *key,
			mode_t mode, struct fuse_file_info *fi);
/* Lookup of .tree in parent: true when answered (parent is a dataset). */
bool fs_dstree_lookup(fuse_req_t req, fuse_ino_t parent);
int fs_dstree_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl);
int fs_dstree_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len);
void fs_dstree_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_dstree_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_dstree_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_dstree_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
/* core/dataset's `changed`: wake the polls of dir's .tree. */
void fs_dataset_changed(void *arg, uint64_t dir);

/* ops_events.c -- events and events.json in the root (kind events): the event stream, a reader's lines from
 * its open on; reads wait for a line (EAGAIN under O_NONBLOCK), poll(2) wakes on one */
int fs_events_start(struct store *st);
void fs_events_stop(void); /* before the session goes: answers the waiting reads */
void fs_events_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_events_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_events_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
void fs_events_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* ops_ctl.c -- /fabric/ctl (kind ctl): write a command line, read its answer (per open file) */
/* What a control command runs against, for the request's caller (its uid, gid and pid). */
struct ctl_env fs_ctl_env(fuse_req_t req);
void fs_ctl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_ctl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_ctl_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi);
void fs_ctl_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_ctl_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* notify.c -- tell the kernel about names it did not see change (ctl verbs, the store's own removals) */
void fs_notify_name_changed(void *arg, uint64_t parent, const char *name); /* store_config.name_changed */
void fs_notify_begin(void); /* around work on this thread whose name changes the kernel does not see */
void fs_notify_end(void);
/* The same as one call, for core/cluster's changing hook: begin or end. */
void fs_notify_changing(bool begin);
int fs_notify_start(struct fuse_session *se);
void fs_notify_stop(void);

/* mount.c -- the mount point */
/* A mount point left by a dead daemon ("Transport endpoint is not connected") is detached; returns 0,
 * or -errno when the directory is unusable for another reason. */
int fs_clear_dead_mount(const char *mountpoint);
/* Create the session with our options, and mount it: as root with mount(2) on our own /dev/fuse fd
 * (which passthrough needs), else through libfuse (fusermount3). */
int fs_mount(struct fs *fs, const char *mountpoint, const char *fsname, bool passthrough, bool strict,
	     bool noexec);
void fs_unmount(struct fs *fs);

#endif
