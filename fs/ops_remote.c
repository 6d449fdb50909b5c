/* SPDX-License-Identifier: MIT */
/* ops_remote.c -- the other nodes' names in this mount (kind remote), from core/cluster's index of them.
 *
 * The rule is ownership by directory: a directory and what is in it belong to the node that made it.
 * vars/ is everybody's: this node's own names, then every other node's top-level names, listed and
 * looked up beside them (a local name hides another node's of the same name; a new local name that
 * another node holds is refused, EEXIST).  A directory another node made shows that node's names in it.
 * Another node's objects are read-only here.  The first open of a variable fetches its bytes from its
 * node (core/cluster/transfer.h) into a replica, a shm object of this node's prefix (so the next start
 * removes it), proved by the xxh3 the catalog says; the open waits for it (a second open of the same
 * variable waits for the first's fetch), then it is served like this node's own variables (passthrough,
 * mmap).  Writes are EROFS, a mutable object is EREMOTE (it changes in place on its node), a node that
 * is down EHOSTDOWN.  rm, rmdir and mv of another node's name are asked of its node (transfer_delete,
 * transfer_rename; a mv to a place that is not that node's is EXDEV, so mv(1) copies); no name can be
 * made in another node's directory (EPERM) but a new item of another node's dataset (ops_outgoing.c).  stat, readdir, readlink and the user.fabric.* xattrs (type, doc, scope,
 * xxh3, node, state, kind, locations: its node's copy and the replicas here) answer from memory.
 *
 *   remote  FS_REMOTE_BASE + k   another node's object; k its place in a table of (node, id) seen since the
 *                                mount, which only grows, so an inode number always means one object
 *
 * Cache lifetimes: names as long as sealed ones (FS_TTL_SEALED), since the cluster's watch tells the
 * kernel of every change (fs_remote_changed); attributes FS_TTL_DIR. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cluster/cluster.h"
#include "core/cluster/remote.h"
#include "core/cluster/transfer.h"
#include "core/os/shm.h"
#include "fs/fs.h"

struct slot {
	char node[NAMES_NODE_MAX + 1];
	int64_t id;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;
static size_t nslots, cap;
/* (node, id) -> slot + 1 (0: empty), open addressing, at most half full: a listing of 333,334 names
 * took 144 s with the linear search it replaces */
static uint32_t *where;
static size_t nwhere;

static size_t h_slot(const char *node, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;

	for (const char *p = node; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29));
}

static size_t find_slot(const char *node, int64_t id)
{
	if (!nwhere)
		return SIZE_MAX;
	for (size_t b = h_slot(node, id) & (nwhere - 1);; b = (b + 1) & (nwhere - 1)) {
		if (!where[b])
			return SIZE_MAX;
		struct slot *s = &slots[where[b] - 1];
		if (s->id == id && strcmp(s->node, node) == 0)
			return where[b] - 1;
	}
}

/* Room in where for one more slot (rehashed when it would be over half full): false on ENOMEM. */
static bool where_room(void)
{
	size_t n = nwhere ? nwhere : 512;
	uint32_t *w;

	while ((nslots + 1) * 2 > n)
		n *= 2;
	if (n == nwhere)
		return true;
	if (!(w = calloc(n, sizeof(*w))))
		return false;
	for (size_t i = 0; i < nslots; i++) {
		size_t b = h_slot(slots[i].node, slots[i].id) & (n - 1);
		while (w[b])
			b = (b + 1) & (n - 1);
		w[b] = (uint32_t)(i + 1);
	}
	free(where);
	where = w;
	nwhere = n;
	return true;
}

static struct remote_index *index_of(fuse_req_t req)
{
	return cluster_remote(((struct fs *)fuse_req_userdata(req))->cluster);
}

/* The inode number of (node, id); a new one when it has none and make is set, else 0 (as when the table
 * is full or memory is out). */
static uint64_t number(const char *node, int64_t id, bool make)
{
	uint64_t ino = 0;

	pthread_mutex_lock(&lock);
	size_t at = find_slot(node, id);
	if (at != SIZE_MAX)
		ino = FS_REMOTE_BASE + at;
	if (!ino && make && nslots < FS_REMOTES_MAX - 1 && where_room()) {
		if (nslots == cap) {
			size_t c = cap ? cap * 2 : 256;
			void *v = realloc(slots, c * sizeof(*slots));
			if (v) {
				slots = v;
				cap = c;
			}
		}
		if (nslots < cap) {
			snprintf(slots[nslots].node, sizeof(slots[nslots].node), "%s", node);
			slots[nslots].id = id;
			size_t b = h_slot(node, id) & (nwhere - 1);
			while (where[b])
				b = (b + 1) & (nwhere - 1);
			where[b] = (uint32_t)(nslots + 1);
			ino = FS_REMOTE_BASE + nslots++;
		}
	}
	pthread_mutex_unlock(&lock);
	return ino;
}

/* Which object an inode number is: -ENOENT for none. */
static int slot_of(uint64_t ino, struct slot *out)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&lock);
	if (ino >= FS_REMOTE_BASE && ino - FS_REMOTE_BASE < nslots) {
		*out = slots[ino - FS_REMOTE_BASE];
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

static uint64_t ino_of(const char *node, int64_t id)
{
	return number(node, id, true);
}

/* The inode of an already numbered (node, id), or 0: the kernel cannot know one without a number. */
static uint64_t known_ino(const char *node, int64_t id)
{
	return number(node, id, false);
}

static void stat_of(uint64_t ino, const struct remote_attr *a, struct stat *st)
{
	bool dir = strcmp(a->kind, "dir") == 0, link = strcmp(a->kind, "link") == 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	/* sealed variables lose their write bits, as this node's own do; mutable objects are written on
	 * their node only: read-only here too */
	st->st_mode = dir ? S_IFDIR | (a->mode & 07777) : link ? S_IFLNK | 0777 : S_IFREG | (a->mode & 07555);
	st->st_nlink = dir ? 2 : 1;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = dir ? 0 : (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
	st->st_mtim.tv_sec = a->modified_ns / 1000000000;
	st->st_mtim.tv_nsec = a->modified_ns % 1000000000;
	st->st_atim = st->st_ctim = st->st_mtim;
}

void fs_remote_reply(fuse_req_t req, const struct remote_attr *a)
{
	struct fuse_entry_param e = { .entry_timeout = FS_TTL_SEALED, .attr_timeout = FS_TTL_DIR };

	e.ino = ino_of(a->node, a->id);
	if (!e.ino) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	stat_of(e.ino, a, &e.attr);
	fuse_reply_entry(req, &e);
}

bool fs_remote_lookup_top(fuse_req_t req, const char *name)
{
	struct remote_index *x = index_of(req);
	struct remote_attr a;

	if (!x || remote_child(x, NULL, FS_VARS_INO, name, &a) != 0)
		return false;
	fs_remote_reply(req, &a);
	return true;
}

bool fs_remote_holds_top(fuse_req_t req, const char *name)
{
	struct remote_index *x = index_of(req);
	struct remote_attr a;

	return x && remote_child(x, NULL, FS_VARS_INO, name, &a) == 0;
}

bool fs_remote_lookup_dataset(fuse_req_t req, const char *name)
{
	struct remote_index *x = index_of(req);
	struct remote_attr a;

	if (!x || remote_child_in(x, FS_REMOTE_DATASETS, name, &a) != 0)
		return false;
	fs_remote_reply(req, &a);
	return true;
}

bool fs_remote_holds_dataset(fuse_req_t req, const char *name)
{
	struct remote_index *x = index_of(req);
	struct remote_attr a;

	return x && remote_child_in(x, FS_REMOTE_DATASETS, name, &a) == 0;
}

struct listing {
	struct fs_dir *d;
	size_t cap;
	struct store *st; /* a local name hides another node's */
	uint64_t dir;     /* in this local directory */
};

int fs_remote_add(struct fs_dir *d, size_t *cap, const struct remote_attr *a)
{
	uint64_t ino;

	if (d->nvirt == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		uint64_t *v = realloc(d->virt, c * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->virt = v;
		*cap = c;
	}
	ino = ino_of(a->node, a->id);
	if (ino)
		d->virt[d->nvirt++] = ino;
	return 0;
}

static int listed(void *arg, const struct remote_attr *a)
{
	struct listing *l = arg;
	struct store_attr mine;

	if (l->st && store_lookup(l->st, l->dir, a->name, &mine) == 0) {
		store_forget(l->st, mine.id, 1);
		return 0;
	}
	return fs_remote_add(l->d, &l->cap, a);
}

int fs_remote_list_top(fuse_req_t req, struct fs_dir *d)
{
	struct remote_index *x = index_of(req);
	struct listing l = { d, d->nvirt, ((struct fs *)fuse_req_userdata(req))->store, FS_VARS_INO };

	return x ? remote_children(x, NULL, FS_VARS_INO, listed, &l) : 0;
}

int fs_remote_list_datasets(fuse_req_t req, struct fs_dir *d)
{
	struct remote_index *x = index_of(req);
	struct store *st = ((struct fs *)fuse_req_userdata(req))->store;
	struct listing l = { d, d->nvirt, st, store_datasets_id(st) };

	return x ? remote_children_in(x, FS_REMOTE_DATASETS, listed, &l) : 0;
}

/* rm or rmdir of another node's name: asked of its node, which removes it (its catalog then tells
 * everybody); here it goes from the index at once, so a listing right after the rm does not show it.
 * node NULL: a name in vars/, of whichever node holds it. */
int fs_remote_remove(fuse_req_t req, const char *node, int64_t parent, const char *name, bool dir)
{
	struct fs *fs = fuse_req_userdata(req);
	struct remote_index *x = index_of(req);
	struct cluster_node nd;
	struct remote_attr a;
	char why[512];
	int rc;

	if (!x || remote_child(x, node, parent, name, &a) != 0)
		return -ENOENT;
	if (dir != (strcmp(a.kind, "dir") == 0))
		return dir ? -ENOTDIR : -EISDIR;
	if (!cluster_secret(fs->cluster))
		return -EREMOTE; /* no way to ask its node */
	if (cluster_node(fs->cluster, a.node, &nd) != 0 || !nd.up)
		return -EHOSTDOWN;
	rc = transfer_delete(nd.addr, cluster_secret(fs->cluster), a.id, a.parent, a.name, why, sizeof(why));
	if (rc) {
		fs_log("rm %s (%s's object %lld): %s", a.name, a.node, (long long)a.id, why);
		return rc;
	}
	remote_remove(x, a.node, a.id);
	fs_remote_changed(NULL, a.node, a.id, a.parent, a.name, true);
	return 0;
}

int fs_remote_remove_top(fuse_req_t req, const char *name, bool dir)
{
	return fs_remote_remove(req, NULL, FS_VARS_INO, name, dir);
}

/* mv of another node's name: asked of its node when the new place is its too (vars/, or one of its
 * directories); anywhere else EXDEV, so that mv(1) copies the bytes here and removes the old name. */
static int rename_remote(fuse_req_t req, const char *node, int64_t parent, const char *name, fuse_ino_t newparent,
			 const char *newname, unsigned flags)
{
	struct fs *fs = fuse_req_userdata(req);
	struct remote_index *x = index_of(req);
	struct cluster_node nd;
	struct remote_attr a;
	struct slot to = { "", FS_VARS_INO };
	char why[512];
	int rc;

	if (!x || remote_child(x, node, parent, name, &a) != 0)
		return -ENOENT;
	if (newparent != FS_VARS_INO && (slot_of(newparent, &to) != 0 || strcmp(to.node, a.node) != 0))
		return -EXDEV;
	if (!cluster_secret(fs->cluster))
		return -EREMOTE;
	if (cluster_node(fs->cluster, a.node, &nd) != 0 || !nd.up)
		return -EHOSTDOWN;
	rc = transfer_rename(nd.addr, cluster_secret(fs->cluster), a.id, a.parent, a.name, to.id, newname, flags,
			     why, sizeof(why));
	if (rc) {
		fs_log("mv %s %s (%s's object %lld): %s", a.name, newname, a.node, (long long)a.id, why);
		return rc;
	}
	remote_move(x, a.node, a.id, to.id, newname);
	fs_remote_changed(NULL, a.node, a.id, a.parent, a.name, false);
	fs_remote_changed(NULL, a.node, a.id, to.id, newname, false);
	return 0;
}

int fs_remote_rename_top(fuse_req_t req, const char *name, fuse_ino_t newparent, const char *newname,
			 unsigned flags)
{
	return rename_remote(req, NULL, FS_VARS_INO, name, newparent, newname, flags);
}

/* ---- kind remote ---- */

static int attr_of(fuse_req_t req, fuse_ino_t ino, struct slot *s, struct remote_attr *a)
{
	struct remote_index *x = index_of(req);
	int rc = slot_of(ino, s);

	return rc ? rc : !x ? -ENOENT : remote_get(x, s->node, s->id, a);
}

bool fs_remote_dataset_of(fuse_req_t req, fuse_ino_t ino, struct remote_attr *a)
{
	struct slot s;

	return attr_of(req, ino, &s, a) == 0 && strcmp(a->kind, "dir") == 0 &&
	       remote_is_top(index_of(req), a->node, a->parent, FS_REMOTE_DATASETS);
}

static void remote_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char shard[NAMES_LEAF_MAX + 1];
	struct remote_attr a;
	struct slot s;

	if (slot_of(parent, &s) != 0 || !index_of(req)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strcmp(name, FS_DSTREE_NAME) == 0 && fs_rtree_lookup(req, parent))
		return; /* another node's dataset's tree */
	if (remote_child(index_of(req), s.node, s.id, name, &a) == 0)
		fs_remote_reply(req, &a);
	else if (!fs_shards_remote_dir(req, s.node, s.id, shard, sizeof(shard)) ||
		 !fs_shards_piece_lookup(req, shard, name)) /* a shard's: every node's piece */
		fuse_reply_err(req, ENOENT);
}

static int remote_list(fuse_req_t req, fuse_ino_t dir, struct fs_dir *d)
{
	char shard[NAMES_LEAF_MAX + 1];
	struct listing l = { d, 0, NULL, 0 };
	struct slot s;
	int rc;

	d->nvirt = 0;
	d->virt = NULL;
	if (slot_of(dir, &s) != 0 || !index_of(req))
		return -ENOENT;
	rc = remote_children(index_of(req), s.node, s.id, listed, &l);
	if (rc == 0 && fs_shards_remote_dir(req, s.node, s.id, shard, sizeof(shard)))
		rc = fs_shards_remote_list(req, shard, s.node, d, &l.cap);
	return rc;
}

/* A name made in another node's directory: only a new item of another node's dataset (its bytes go
 * there at the close: ops_outgoing.c); anywhere else EPERM, the rule of ownership by directory. */
static void remote_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  struct fuse_file_info *fi)
{
	struct remote_attr dir;

	if (!fs_remote_dataset_of(req, parent, &dir)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fs_outgoing_create(req, parent, &dir, name, mode, fi);
}

static void remote_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char shard[NAMES_LEAF_MAX + 1];
	struct slot s;
	bool known = slot_of(parent, &s) == 0;
	int rc = !known ? -ENOENT : fs_remote_remove(req, s.node, s.id, name, false);

	if (rc == -ENOENT && known && fs_shards_remote_dir(req, s.node, s.id, shard, sizeof(shard)))
		rc = fs_shards_unlink(req, shard, name);
	fuse_reply_err(req, -rc);
}

static void remote_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct slot s;

	fuse_reply_err(req, slot_of(parent, &s) != 0 ? ENOENT : -fs_remote_remove(req, s.node, s.id, name, true));
}

static void remote_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			  const char *newname, unsigned int flags)
{
	struct slot s;

	fuse_reply_err(req, slot_of(parent, &s) != 0 ? ENOENT
			    : -rename_remote(req, s.node, s.id, name, newparent, newname, flags));
}

static int remote_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *ttl)
{
	struct remote_attr a;
	struct slot s;
	int rc = attr_of(req, ino, &s, &a);

	if (rc)
		return rc;
	stat_of(ino, &a, st);
	*ttl = FS_TTL_DIR;
	return 0;
}

static int remote_name(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len)
{
	struct remote_attr a;
	struct slot s;
	int rc = attr_of(req, ino, &s, &a);

	if (rc == 0)
		snprintf(buf, len, "%s", a.name);
	return rc;
}

/* ---- replicas: another node's variable fetched here at its first open, then served like our own ---- */

struct replica {
	char node[NAMES_NODE_MAX + 1];
	int64_t id;
	char xxh3[40];
	char shm_name[SHM_NAME_MAX];
	int fd; /* read-only; -1 while it is fetched, or when the fetch failed */
	uint64_t size;
	uint64_t charge; /* what the store's allocator holds for it: replicas count as used */
	uint64_t used;   /* the open count's clock when it was last opened: the least recently used goes first */
	bool fetching;
	unsigned opens;
	struct replica *next;
};

static uint64_t clock_of_opens; /* under lock */
static struct store *replica_store; /* the store the replicas are charged to (the daemon's one), for drops
				     * that come without a request: the catalog's watch */

static pthread_cond_t fetched = PTHREAD_COND_INITIALIZER;
static struct replica *replicas; /* under lock */
static uint64_t next_replica;

/* Capacity for a replica of bytes: taken from the store, and when it is spent, made by dropping the least
 * recently used replicas nobody has open (never a variable of this node's own).  0 or -ENOSPC. */
static int make_room(struct store *st, struct replica *r, uint64_t bytes)
{
	int rc;

	while ((rc = store_charge(st, &r->charge, bytes)) == -ENOSPC) {
		struct replica **victim = NULL;
		pthread_mutex_lock(&lock);
		for (struct replica **pp = &replicas; *pp; pp = &(*pp)->next)
			if (*pp != r && !(*pp)->fetching && (*pp)->opens == 0 && (*pp)->fd >= 0 &&
			    (!victim || (*pp)->used < (*victim)->used))
				victim = pp;
		struct replica *v = victim ? *victim : NULL;
		if (v)
			*victim = v->next;
		pthread_mutex_unlock(&lock);
		if (!v)
			return -ENOSPC;
		fs_log("dropped the replica of %s's variable %lld (%llu bytes) to make room", v->node, (long long)v->id,
		       (unsigned long long)v->size);
		close(v->fd);
		shm_remove(v->shm_name);
		store_uncharge(st, &v->charge);
		free(v);
	}
	return rc;
}

/* The replica of a's bytes, there or being fetched, or NULL.  Lock held. */
static struct replica *replica_find(const struct remote_attr *a)
{
	struct replica *r;

	for (r = replicas; r; r = r->next)
		if (r->id == a->id && strcmp(r->node, a->node) == 0 && strcmp(r->xxh3, a->xxh3) == 0 &&
		    (r->fetching || r->fd >= 0))
			break;
	return r;
}

/* The replica of a's bytes when it is there already (no fetch to wait for), counted open; else NULL. */
static struct replica *replica_ready(const struct remote_attr *a)
{
	struct replica *r;

	pthread_mutex_lock(&lock);
	r = replica_find(a);
	if (r && r->fetching)
		r = NULL;
	if (r) {
		r->opens++;
		r->used = ++clock_of_opens;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/* The replica of a's variable, fetched now unless there is one of the same bytes (one fetch at a time
 * for each: a second open waits for the first's); counted open.  -errno with why. */
static int replica_of(fuse_req_t req, const struct remote_attr *a, struct replica **out, char *why, size_t whylen)
{
	struct fs *fs = fuse_req_userdata(req);
	struct cluster_node nd;
	struct replica *r;
	int rc = 0;

	pthread_mutex_lock(&lock);
	while ((r = replica_find(a)) && r->fetching)
		pthread_cond_wait(&fetched, &lock);
	if (r) {
		r->opens++;
		r->used = ++clock_of_opens;
		pthread_mutex_unlock(&lock);
		*out = r;
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		pthread_mutex_unlock(&lock);
		return -ENOMEM;
	}
	snprintf(r->node, sizeof(r->node), "%s", a->node);
	r->id = a->id;
	snprintf(r->xxh3, sizeof(r->xxh3), "%s", a->xxh3);
	snprintf(r->shm_name, sizeof(r->shm_name), "%sr%llu", store_shm_prefix(fs->store),
		 (unsigned long long)++next_replica);
	r->fd = -1;
	r->fetching = true;
	r->next = replicas;
	replicas = r;
	replica_store = fs->store;
	pthread_mutex_unlock(&lock);

	if (!cluster_secret(fs->cluster))
		rc = text_say(why, whylen, -EREMOTE, "this node was mounted without the cluster's secret (--secret): "
			      "it cannot fetch %s's variables", a->node);
	else if (cluster_node(fs->cluster, a->node, &nd) != 0 || !nd.up)
		rc = text_say(why, whylen, -EHOSTDOWN, "node %s, which holds it, is down", a->node);
	else if (make_room(fs->store, r, a->size) != 0)
		rc = text_say(why, whylen, -ENOSPC, "no room for a replica of %llu bytes: this node's own variables "
			      "and the replicas in use hold its capacity", (unsigned long long)a->size);
	else
		rc = transfer_fetch(nd.addr, cluster_secret(fs->cluster), a->id, a->xxh3[0] ? a->xxh3 : NULL,
				    r->shm_name, &r->fd, &r->size, why, whylen);
	if (rc)
		store_uncharge(fs->store, &r->charge);
	pthread_mutex_lock(&lock);
	r->fetching = false;
	if (rc == 0) {
		r->opens++;
		r->used = ++clock_of_opens;
	}
	pthread_cond_broadcast(&fetched);
	pthread_mutex_unlock(&lock);
	*out = r;
	return rc;
}

/* The open's answer, once its replica is there (rc 0) or could not be had. */
static void finish_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, uint64_t unique,
			struct replica *r, int rc)
{
	enum fs_open_mode mode;

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	mode = fs_pt_open(ino, unique, r->fd, false);
	if (mode == FS_OPEN_FAILED) {
		pthread_mutex_lock(&lock);
		r->opens--;
		pthread_mutex_unlock(&lock);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)r;
	fi->direct_io = mode == FS_OPEN_DIRECT;
	fi->keep_cache = mode == FS_OPEN_CACHED; /* its bytes never change */
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fs_pt_cancel(unique);
		fs_pt_release(ino);
		pthread_mutex_lock(&lock);
		r->opens--;
		pthread_mutex_unlock(&lock);
	}
}

/* An open that waits for a fetch does it in a thread of its own, so the daemon's request threads stay
 * free for everybody else (a fetch of a big variable takes seconds). */
struct fetching {
	fuse_req_t req;
	fuse_ino_t ino;
	struct fuse_file_info fi;
	uint64_t unique;
	struct remote_attr a;
};

static void fetch_and_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, uint64_t unique,
			   const struct remote_attr *a)
{
	char why[512] = "";
	struct replica *r = NULL;
	int rc = replica_of(req, a, &r, why, sizeof(why));

	if (rc)
		fs_log("%s: %s's variable %lld: %s", a->name, a->node, (long long)a->id, why);
	finish_open(req, ino, fi, unique, r, rc);
}

static void *fetch_main(void *arg)
{
	struct fetching *f = arg;

	fetch_and_open(f->req, f->ino, &f->fi, f->unique, &f->a);
	free(f);
	return NULL;
}

static void remote_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct remote_attr a;
	struct replica *r;
	struct fetching *f;
	struct slot s;
	pthread_attr_t at;
	pthread_t t;
	uint64_t unique = fs_pt_current_unique();
	int rc = attr_of(req, ino, &s, &a);

	if (rc == 0 && strcmp(a.kind, "dir") == 0)
		rc = -EISDIR;
	else if (rc == 0 && (fi->flags & O_ACCMODE) != O_RDONLY)
		rc = -EROFS; /* a sealed variable, as this node's own: written nowhere; a mutable one on its node */
	else if (rc == 0 && strcmp(a.kind, "var") != 0)
		rc = -EREMOTE; /* a mutable object is written in place on its node: no copy of it goes stale here */
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((r = replica_ready(&a)) != NULL) { /* nothing to wait for: no thread (one costs ~100 us here) */
		finish_open(req, ino, fi, unique, r, 0);
		return;
	}
	f = malloc(sizeof(*f));
	if (f) {
		*f = (struct fetching){ req, ino, *fi, unique, a };
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &at, fetch_main, f);
		pthread_attr_destroy(&at);
		if (rc == 0)
			return;
		free(f);
	}
	fetch_and_open(req, ino, fi, unique, &a); /* no thread to be had: here, then */
}

/* Reads reach the daemon only without passthrough: from the replica's fd, spliced when libfuse can. */
static void remote_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct replica *r = (struct replica *)(uintptr_t)fi->fh;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void)ino;
	buf.buf[0].fd = r->fd;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/* The replica stays for the next open, until its variable is removed on its node (fs_remote_changed) or the
 * mount ends; an open takes it only when its xxh3 is the one the catalog says now. */
static void remote_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct replica *r = (struct replica *)(uintptr_t)fi->fh;

	fs_pt_release(ino);
	pthread_mutex_lock(&lock);
	r->opens--;
	pthread_mutex_unlock(&lock);
	fuse_reply_err(req, 0);
}

static void remote_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char target[4096];
	struct slot s;
	ssize_t n = slot_of(ino, &s) == 0 && index_of(req)
			    ? remote_string(index_of(req), s.node, s.id, "target", target, sizeof(target) - 1)
			    : -ENOENT;

	if (n < 0) {
		fuse_reply_err(req, n == -ENODATA ? EINVAL : (int)-n);
		return;
	}
	target[n] = '\0';
	fuse_reply_readlink(req, target);
}

#define PREFIX "user.fabric."
static const char *const xattrs[] = { "type", "doc", "xxh3", "node", "locations", "scope", "state", "kind", "refs" };

/* Where a's bytes are: "NODE SHM OFFSET SIZE" of its own node's copy, then a line for each replica here
 * ("THIS-NODE SHM 0 SIZE"), as user.fabric.locations says for this node's own variables. */
static ssize_t locations(fuse_req_t req, const struct remote_attr *a, char *buf, size_t len)
{
	const char *me = store_node_name(((struct fs *)fuse_req_userdata(req))->store);
	struct text t = { 0 };
	ssize_t n;

	if (strcmp(a->kind, "var") != 0 && strcmp(a->kind, "mutable") != 0)
		return -ENODATA;
	text_printf(&t, "%s %s %llu %llu", a->node, a->shm[0] ? a->shm : "-", (unsigned long long)a->offset,
		    (unsigned long long)a->size);
	pthread_mutex_lock(&lock);
	for (struct replica *r = replicas; r; r = r->next)
		if (r->id == a->id && strcmp(r->node, a->node) == 0 && r->fd >= 0)
			text_printf(&t, "\n%s %s 0 %llu", me, r->shm_name, (unsigned long long)r->size);
	pthread_mutex_unlock(&lock);
	n = t.rc ? t.rc : !len ? (ssize_t)t.len : t.len > len ? -ERANGE : (ssize_t)t.len;
	if (n > 0 && len)
		memcpy(buf, t.buf, t.len);
	text_free(&t);
	return n;
}

/* One user.fabric.* value of ino into buf (len 0: its length), as store_getxattr answers. */
static ssize_t value_of(fuse_req_t req, fuse_ino_t ino, const char *name, char *buf, size_t len)
{
	const char *fixed = NULL;
	struct remote_attr a;
	struct slot s;
	int rc = attr_of(req, ino, &s, &a);

	if (rc)
		return rc;
	if (strncmp(name, PREFIX, strlen(PREFIX)) != 0)
		return -ENOTSUP;
	name += strlen(PREFIX);
	if (strcmp(name, "type") == 0 || strcmp(name, "doc") == 0 || strcmp(name, "scope") == 0 ||
	    strcmp(name, "refs") == 0)
		return remote_string(index_of(req), s.node, s.id, name, buf, len);
	if (strcmp(name, "locations") == 0)
		return locations(req, &a, buf, len);
	fixed = strcmp(name, "xxh3") == 0 ? (a.xxh3[0] ? a.xxh3 : NULL) : strcmp(name, "node") == 0 ? a.node
		: strcmp(name, "state") == 0 ? (strcmp(a.kind, "mutable") == 0 ? "mutable" : "sealed")
		: strcmp(name, "kind") == 0 ? a.kind : NULL;
	if (!fixed)
		return -ENODATA;
	if (len && strlen(fixed) > len)
		return -ERANGE;
	if (len)
		memcpy(buf, fixed, strlen(fixed));
	return (ssize_t)strlen(fixed);
}

static void remote_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char buf[65536];
	ssize_t n = value_of(req, ino, name, buf, sizeof(buf));

	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fs_reply_xattr_text(req, size, buf, (size_t)n);
}

static void remote_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char list[512], probe[1];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(xattrs) / sizeof(xattrs[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), PREFIX "%s", xattrs[i]);
		if (value_of(req, ino, name, probe, 0) >= 0)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s", name) + 1;
	}
	fs_reply_xattr_text(req, size, list, n);
}

const struct fs_kind_ops fs_kind_remote = {
	.kind = "remote",
	.lookup = remote_lookup,
	.list = remote_list,
	.create = remote_create,
	.unlink = remote_unlink,
	.rmdir = remote_rmdir,
	.rename = remote_rename,
	.getattr = remote_getattr,
	.name = remote_name,
	.open = remote_open,
	.read = remote_read,
	.release = remote_release,
	.readlink = remote_readlink,
	.getxattr = remote_getxattr,
	.listxattr = remote_listxattr,
};

/* Another node's variable is gone: its replicas go too, once nobody has them open (a replica still open
 * goes at the next drop or at the unmount). */
static void drop_replicas(const char *node, int64_t id)
{
	pthread_mutex_lock(&lock);
	for (struct replica **pp = &replicas; *pp;) {
		struct replica *r = *pp;
		if (r->id == id && strcmp(r->node, node) == 0 && !r->fetching && r->opens == 0) {
			*pp = r->next;
			if (r->fd >= 0)
				close(r->fd);
			shm_remove(r->shm_name);
			if (replica_store)
				store_uncharge(replica_store, &r->charge);
			free(r);
		} else {
			pp = &r->next;
		}
	}
	pthread_mutex_unlock(&lock);
}

void fs_remote_changed(void *arg, const char *node, int64_t id, int64_t parent, const char *name, bool gone)
{
	struct fs *fs = arg;
	uint64_t dir = parent == FS_VARS_INO ? FS_VARS_INO : known_ino(node, parent), self = known_ino(node, id);

	/* a dataset of another node is a name in this node's datasets/ */
	if (!dir && fs && fs->cluster && remote_is_top(cluster_remote(fs->cluster), node, parent, FS_REMOTE_DATASETS))
		dir = store_datasets_id(fs->store);
	if (gone)
		drop_replicas(node, id);
	/* a remote dataset's item (parent), or its directory (a split or merge touches it): its .tree's
	 * pollers, if any (nothing happens for a directory without) */
	if (dir && dir != FS_VARS_INO)
		fs_rtree_changed(dir);
	if (self)
		fs_rtree_changed(self);
	if (!dir)
		return;
	fs_notify_begin(); /* the notifier's thread tells the kernel, never this one */
	fs_notify_name_changed(NULL, dir, name);
	fs_notify_end();
}

void fs_remote_free(void)
{
	pthread_mutex_lock(&lock);
	for (struct replica *r = replicas, *n; r; r = n) {
		n = r->next;
		if (r->fd >= 0)
			close(r->fd);
		shm_remove(r->shm_name);
		if (replica_store)
			store_uncharge(replica_store, &r->charge);
		free(r);
	}
	replicas = NULL;
	free(slots);
	slots = NULL;
	nslots = cap = 0;
	free(where);
	where = NULL;
	nwhere = 0;
	pthread_mutex_unlock(&lock);
}
