/* SPDX-License-Identifier: MIT */
/* store_io.c -- variables' bytes: create, open, read, write, flush, release, and sealing.
 *
 * SEALING
 * RELEASE is the only sign that a writer is done (FLUSH comes at every close of every descriptor, and
 * close(2) does not wait for RELEASE), so:
 *   - every open write handle of a variable is counted (nwriters);
 *   - an open by any other process while nwriters > 0, or while the seal is being taken, waits: the
 *     caller gets STORE_WAITING and a wake() call later (O_NONBLOCK gets -EAGAIN instead);
 *   - the last writer's release hashes the bytes (XXH3-128, outside the lock), commits state 'sealed'
 *     with size and hash in one YP transaction, then wakes the waiting opens.
 * A process that still holds its own write descriptor never waits for itself: its opens go through.
 * A variable is doomed, and dropped instead of sealed, when a write fails (ENOSPC) or when the last close
 * of a writer's open file (the FLUSH just before its RELEASE; FLUSH carries the closing thread's pid) came
 * from a process exiting on a signal or with a non-zero status, read from /proc/PID/stat: a crashed
 * producer leaves no sealed half-variable.  Two processes closing the same open file at the same instant
 * may be seen in either order; that race is accepted.  Opens for writing of a sealed variable get -EROFS.
 *
 * PACKING SMALL VARIABLES (see core/store/slab.h)
 * Every variable is written into a shm block of its own.  At seal, one smaller than st->slab_threshold is
 * moved into a slab when that is safe: it is not unlinked, the releasing writer's handle is its only one
 * (nobody else has the block's fd), and no file of the block is still open for writing anywhere (with
 * passthrough a writer's shared mapping outlives its RELEASE; a read lease, refused exactly when some file
 * of the inode has write access, tells).  Opens that arrive meanwhile wait (o->sealing) and get their
 * handles on the packed copy.  The order makes a crash at any instant harmless:
 *   1. reserve pages in a slab (a new slab is made and charged as a whole when none has room; ENOSPC
 *      there just keeps the variable where it is) and copy the bytes into them: nothing points there yet;
 *   2. one YP transaction seals the variable and moves it: extent repointed to (slab, offset), the own
 *      block's row deleted, the slab's row inserted if it is new;
 *   3. the own block's shm object is removed and its charge given back.
 * A crash before 2 leaves the variable in its own block (the slab pages are free again at start, a new
 * slab without a row is an orphan); after 2 the old shm object is an orphan.  Either copy is whole.
 *
 * DEFRAGMENT
 * store_defragment moves packed variables from the emptiest slabs into holes of fuller ones.  Each move
 * holds the store lock: reserve the new pages, copy, commit the new extent (one transaction per variable,
 * so a crash loses at most the move in flight, which is then simply not done), switch obj->slab/offset
 * under slab_lock taken for writing, and only then give the old pages back.  Readers look the place up
 * under slab_lock at every read (store_read), so a move between two reads is invisible to them. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/text/dtype.h"
#include "core/text/scope.h"
#include "core/os/proc.h"
#include "core/store/storeInt.h"
#include "meta/yp.h"

static pid_t handle_tgid(struct store_handle *h)
{
	if (!h->tgid)
		h->tgid = proc_tgid(h->pid);
	return h->tgid;
}

/* Does pid belong to a process that holds a write handle of o? */
static bool is_writer_process(struct obj *o, pid_t pid)
{
	pid_t tgid = 0;

	for (struct store_handle *h = o->handles; h; h = h->next) {
		if (!h->writer)
			continue;
		if (h->pid == pid)
			return true;
		if (!tgid)
			tgid = proc_tgid(pid);
		if (tgid && handle_tgid(h) == tgid)
			return true;
	}
	return false;
}

/* May thread pid (0: unknown) use o, by o's scope?  The scope names processes by their pid (the thread
 * group) and threads by their id; the FUSE request gives the thread. */
static bool in_scope(struct store *st, struct obj *o, pid_t pid)
{
	struct scope s;

	if (scope_parse(o->scope, &s, NULL, 0) != 0)
		return false;
	return scope_allows(&s, st->node, pid ? proc_tgid(pid) : 0, pid);
}

/* Has every process o's scope names ended?  True only for a scope made of process: and exact: terms of
 * this node (data like a C pointer, meaningless once its process is gone); such a variable is removed
 * when its last handle closes, or when somebody else tries to open it. */
static bool owners_gone(struct store *st, struct obj *o)
{
	struct scope s;

	if (strncmp(o->scope, "process:", 8) != 0 && strncmp(o->scope, "exact:", 6) != 0 &&
	    strncmp(o->scope, "union:", 6) != 0)
		return false;
	if (scope_parse(o->scope, &s, NULL, 0) != 0)
		return false;
	for (unsigned i = 0; i < s.nterms; i++) {
		const struct scope_term *t = &s.terms[i];
		if (t->kind != SCOPE_PROCESS && t->kind != SCOPE_EXACT)
			return false;
		if (strcmp(t->node, st->node) != 0 || kill(t->pid, 0) == 0 || errno != ESRCH)
			return false;
	}
	return true;
}

/* Remove a sealed variable whose owner processes are gone.  Lock held. */
static void drop_orphan(struct store *st, struct obj *o)
{
	char path[512];

	store_path(o, path, sizeof(path));
	if (store_unlink_locked(st, o) == 0)
		store_logf(st, "%s: removed: every process of its scope '%s' has ended", path, o->scope);
}

int store_new_handle(struct obj *o, bool writer, pid_t pid, struct store_handle **out)
{
	struct store_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->o = o;
	h->writer = writer;
	h->pid = pid;
	h->next = o->handles;
	o->handles = h;
	o->nopen++;
	if (writer)
		o->nwriters++;
	*out = h;
	return 0;
}

/* Make variable `name` in dir, being written, in a new block of its own whose fd is left open in o->fd;
 * *out is linked but holds no handle yet.  Lock held. */
int store_make_var_locked(struct store *st, struct obj *dir, const char *name, uint32_t mode, uint32_t uid,
			  uint32_t gid, struct obj **out)
{
	struct yp_obj row;
	struct obj *o;
	char shm_name[SHM_NAME_MAX];
	int64_t now = store_now_ns();
	uint64_t block;
	int fd = -1, rc;

	if (dir->unlinked)
		return -ENOENT;
	if (dir->kind != OBJ_DIR)
		return -ENOTDIR;
	if (dir->id == STORE_ROOT_ID || store_under_shards(st, dir))
		return -EPERM;
	if (ns_child(st, dir, name))
		return -EEXIST;
	block = st->next_block;
	rc = shm_block_name(st->prefix, block, shm_name, sizeof(shm_name));
	if (rc)
		return rc;
	rc = yp_begin(st->yp);
	if (rc)
		return rc;
	row = (struct yp_obj){ .parent = (int64_t)dir->id, .name = name, .kind = "var", .state = "writing",
			       .scope = "any", .node = st->node_id, .mode = mode & STORE_VAR_MODE_BITS, .uid = uid, .gid = gid,
			       .created_ns = now, .modified_ns = now };
	rc = yp_block_insert(st->yp, (int64_t)block, st->node_id, shm_name, 0, "dedicated");
	if (rc == 0)
		rc = yp_obj_insert(st->yp, &row);
	if (rc == 0)
		rc = yp_extent_set(st->yp, row.id, (int64_t)block, 0, 0);
	if (rc == 0)
		rc = shm_create(shm_name, &fd);
	if (rc) {
		yp_rollback(st->yp);
		return rc;
	}
	rc = yp_commit(st->yp);
	if (rc)
		goto out_remove_shm;
	st->next_block++;
	o = ns_new(st, (uint64_t)row.id, OBJ_VAR, name);
	if (!o) {
		rc = -ENOMEM;
		goto out_drop_rows;
	}
	o->state = OBJ_WRITING;
	o->mode = mode & STORE_VAR_MODE_BITS;
	o->uid = uid;
	o->gid = gid;
	o->created_ns = o->modified_ns = now;
	o->block_id = block;
	snprintf(o->shm_name, sizeof(o->shm_name), "%s", shm_name);
	o->fd = fd;
	ns_link(st, dir, o, NULL);
	dir->modified_ns = now;
	*out = o;
	return 0;

out_drop_rows:
	yp_obj_delete(st->yp, row.id);
	yp_block_delete(st->yp, (int64_t)block);
out_remove_shm:
	close(fd);
	shm_remove(shm_name);
	return rc;
}

int store_create(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		 uint32_t gid, int flags, pid_t pid, struct store_attr *out, struct store_handle **h)
{
	struct obj *dir, *o;
	char why[128];
	int rc;

	(void)flags;
	rc = names_check_leaf(name, why, sizeof(why));
	if (rc) {
		if (rc == -EINVAL)
			store_logf(st, "refused name \"%.64s\": %s", name, why);
		return rc;
	}
	pthread_mutex_lock(&st->lock);
	dir = ns_by_id(st, parent);
	rc = dir ? store_make_var_locked(st, dir, name, mode, uid, gid, &o) : -ENOENT;
	if (rc == 0) {
		rc = store_new_handle(o, true, pid, h);
		if (rc) /* its name, row and block go as those of an abandoned writer: at once */
			store_unlink_locked(st, o);
	}
	if (rc == 0) {
		o->nlookup++;
		store_attr_of(o, out);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_open(struct store *st, uint64_t id, int flags, pid_t pid,
	       void (*wake)(void *arg, int rc, struct store_handle *h), void *arg, struct store_handle **h)
{
	bool writer = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC), held, member;
	struct waiter *w;
	struct obj *o;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	if (!o || o->data_gone) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (o->kind == OBJ_DIR) {
		rc = -EISDIR;
		goto out_unlock;
	}
	if (strcmp(o->scope, "any") != 0 && !in_scope(st, o, pid)) {
		rc = -EACCES;
		if (o->state == OBJ_SEALED && !o->unlinked && o->nopen == 0 && owners_gone(st, o)) {
			drop_orphan(st, o);
			rc = -ENOENT;
		}
		goto out_unlock;
	}
	held = o->owner && o->state == OBJ_WRITING;
	member = held && st->owner_member && st->owner_member(st->owner_arg, o->owner, pid);
	if (held && writer && !member) {
		rc = -EBUSY; /* reserved: only its owner's processes write it */
		goto out_unlock;
	}
	if (o->sealing || (o->state == OBJ_WRITING && !member && !is_writer_process(o, pid))) {
		if (flags & O_NONBLOCK) {
			rc = -EAGAIN;
			goto out_unlock;
		}
		w = malloc(sizeof(*w));
		if (!w) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		*w = (struct waiter){ .wake = wake, .arg = arg, .flags = flags, .pid = pid, .next = o->waiters };
		o->waiters = w;
		rc = STORE_WAITING;
		goto out_unlock;
	}
	if (writer && o->state == OBJ_SEALED && !o->mut) {
		rc = -EROFS;
		goto out_unlock;
	}
	if (o->fd < 0 && !o->packed) { /* a packed variable is read through its slab's fd */
		rc = shm_open_block(o->shm_name, &o->fd);
		if (rc) {
			store_logf(st, "cannot open block %s of object %llu: %s", o->shm_name,
				   (unsigned long long)o->id, strerror(-rc));
			rc = -EIO;
			goto out_unlock;
		}
	}
	if (writer && (flags & O_TRUNC))
		rc = store_truncate_locked(st, o, 0);
	if (rc == 0)
		rc = store_new_handle(o, writer, pid, h);
	if (rc == 0 && writer && held)
		o->owner_wrote = true;
	if (rc && o->nopen == 0 && o->fd >= 0) {
		close(o->fd);
		o->fd = -1;
	}
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

bool store_cancel_wait(struct store *st, uint64_t id, void *arg)
{
	bool found = false;
	struct obj *o;

	pthread_mutex_lock(&st->lock);
	o = ns_by_id(st, id);
	for (struct waiter **pp = o ? &o->waiters : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->arg == arg) {
			struct waiter *w = *pp;
			*pp = w->next;
			free(w);
			found = true;
			break;
		}
	}
	if (o)
		store_maybe_free(st, o);
	pthread_mutex_unlock(&st->lock);
	return found;
}

/* A packed variable is read from its slab wherever it is at this moment: its place is looked up under
 * slab_lock, which a defragment move takes for writing to change it.  Its size is final (it is sealed). */
ssize_t store_read(struct store *st, struct store_handle *h, void *buf, size_t size, uint64_t off)
{
	struct obj *o = h->o;
	ssize_t n;

	if (o->packed) {
		if (off >= o->size)
			return 0;
		if (size > o->size - off)
			size = (size_t)(o->size - off);
		pthread_rwlock_rdlock(&st->slab_lock);
		n = slab_read(o->slab, buf, size, o->offset + off);
		pthread_rwlock_unlock(&st->slab_lock);
		return n;
	}
	n = pread(o->fd, buf, size, (off_t)off);
	return n < 0 ? -errno : n;
}

int store_handle_fd(const struct store_handle *h)
{
	return h->o->packed ? -1 : h->o->fd;
}

ssize_t store_write(struct store *st, struct store_handle *h, const void *buf, size_t size, uint64_t off)
{
	struct obj *o = h->o;
	char path[512];
	ssize_t n;
	int rc = 0;

	if (!h->writer)
		return -EBADF;
	if (off > (uint64_t)INT64_MAX - size)
		return -EFBIG;
	pthread_mutex_lock(&st->lock);
	if (o->mut)
		rc = off + size > o->size ? -EFBIG : 0; /* written in place, within its fixed size */
	else if (o->state != OBJ_WRITING || o->sealing)
		rc = -EROFS;
	else if (o->doomed)
		rc = -EIO;
	else if (off + size > o->charge)
		rc = alloc_resize(&st->alloc, &o->charge, off + size);
	if (rc == -ENOSPC) {
		o->doomed = true;
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: the fabric's capacity is spent; the variable will be dropped at close", path);
	}
	pthread_mutex_unlock(&st->lock);
	if (rc)
		return rc;
	n = pwrite(o->fd, buf, size, (off_t)off);
	pthread_mutex_lock(&st->lock);
	if (n < 0) {
		rc = -errno;
		o->doomed = true;
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: write failed (%s); the variable will be dropped at close", path, strerror(-rc));
	} else if (off + (uint64_t)n > o->size) {
		o->size = off + (uint64_t)n;
	}
	o->modified_ns = store_now_ns();
	pthread_mutex_unlock(&st->lock);
	return rc ? rc : n;
}

/* Is thread pid exiting with a failure right now?  Field 9 of /proc/PID/stat holds the task flags
 * (PF_EXITING), field 52 the exit code (set before the process's files are closed). */
static bool dying_badly(pid_t pid, int *code)
{
	struct proc_stat ps;

	if (proc_stat(pid, &ps) != 0)
		return false;
	*code = ps.exit_code;
	return (ps.flags & PROC_PF_EXITING) && ps.exit_code != 0;
}

/* Only the last close before RELEASE counts: a child that inherited the descriptor and exits 1 (a grep
 * that found nothing) is not the writer giving up, as long as somebody closes after it.
 * Writes through passthrough never reach the daemon, so each close of a writer is also where the
 * capacity is charged for what the block holds now: close(2) then fails with ENOSPC, which cp and dd
 * report, and the variable is doomed. */
int store_flush(struct store *st, struct store_handle *h, pid_t pid)
{
	struct obj *o = h->o;
	struct stat sb;
	char path[512];
	int code = 0, rc = 0;
	bool bad;

	if (!h->writer)
		return 0;
	bad = pid && dying_badly(pid, &code);
	pthread_mutex_lock(&st->lock);
	h->bad_closer = bad ? pid : 0;
	h->bad_code = code;
	/* writes through passthrough are not seen one by one: a mutable object written past its fixed size
	 * is cut back to it here, and close(2) says EFBIG */
	if (o->mut && fstat(o->fd, &sb) == 0 && (uint64_t)sb.st_size > o->size) {
		rc = ftruncate(o->fd, (off_t)o->size) < 0 ? -errno : -EFBIG;
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: written past its fixed size %llu; cut back", path, (unsigned long long)o->size);
	}
	if (o->state == OBJ_WRITING && !o->sealing && fstat(o->fd, &sb) == 0) {
		if ((uint64_t)sb.st_size > o->charge)
			rc = alloc_resize(&st->alloc, &o->charge, (uint64_t)sb.st_size);
		if (rc == 0 && (uint64_t)sb.st_size > o->size)
			o->size = (uint64_t)sb.st_size;
		if (rc && !o->doomed) {
			o->doomed = true;
			store_path(o, path, sizeof(path));
			store_logf(st, "%s: the fabric's capacity is spent; the variable will be dropped at close",
				   path);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Called with the lock held at a writer's release: did its last close come from a dying process? */
static void doom_if_bad_closer(struct store *st, struct store_handle *h)
{
	struct obj *o = h->o;
	char path[512];

	if (!h->bad_closer || o->state != OBJ_WRITING || o->doomed)
		return;
	o->doomed = true;
	store_path(o, path, sizeof(path));
	if (h->bad_code & 0x7f)
		store_logf(st, "%s: writer pid %d died of signal %d holding it open; dropping it", path,
			   (int)h->bad_closer, h->bad_code & 0x7f);
	else
		store_logf(st, "%s: writer pid %d exited with status %d holding it open; dropping it", path,
			   (int)h->bad_closer, (h->bad_code >> 8) & 0xff);
}

/* The type set while writing must fit the final size; if it does not, the seal goes ahead without it. */
static void check_type_at_seal(struct store *st, struct obj *o)
{
	struct dtype t;
	char path[512];

	if (!o->type)
		return;
	if (dtype_parse(o->type, &t, NULL, 0) == 0 && t.nbytes == o->size)
		return;
	store_path(o, path, sizeof(path));
	store_logf(st, "%s: type '%s' does not fit its %llu bytes; sealed without a type", path, o->type,
		   (unsigned long long)o->size);
	free(o->type);
	o->type = NULL;
}

/* Drop a doomed variable at its last writer's release: name and row go now, bytes at the last close. */
static void drop_locked(struct store *st, struct obj *o)
{
	char path[512];
	int rc = 0;

	store_path(o, path, sizeof(path));
	if (!o->unlinked) {
		struct yp_obj row;
		store_fill_yp(o, &row);
		row.parent = 0;
		row.state = "deleted";
		rc = yp_obj_update(st->yp, &row);
		if (o->parent)
			o->parent->modified_ns = store_now_ns();
		store_mark_unlinked(st, o);
	}
	store_logf(st, "%s: dropped, not sealed%s", path, rc ? " (its row is left for the next start)" : "");
}

/* A move of a small variable into a slab, from its reservation to its commit. */
struct pack {
	struct slab *s; /* NULL: the variable stays in its own block */
	uint64_t off;
	uint64_t old_block;
	char old_name[SHM_NAME_MAX];
};

/* A read-only fd of the block `name` (the lease below needs one). */
static int open_read_only(const char *name, int *fd)
{
	char path[SHM_NAME_MAX + 1];

	snprintf(path, sizeof(path), "/%s", name);
	*fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
	return *fd < 0 ? -errno : 0;
}

/* Is some file of the block behind fd (opened read-only) open for writing?  The kernel grants a read
 * lease only when no open file of the inode has write access, and a shared writable mapping holds its
 * file open.  The lease lives for two fcntl calls; should somebody open the shm object for writing right
 * then (behind the daemon's back: blocks are 0600), the lease break signals the daemon, so the signal is
 * made SIGURG, which is ignored unless a handler is installed.  Returns 0 (nobody), 1 (somebody), or
 * -errno (cannot tell: leases disabled by fs.leases-enable, say).
 * With passthrough the writer's backing file is put by the closing process after the kernel has sent
 * RELEASE, so the probe may see it for a moment: measured here, 55 of 200 `cp`s of 5 KB were refused at
 * once and every one was granted at the first retry, 80-240 us later.  The caller retries for ~1.5 ms. */
static int block_has_writers(int fd)
{
	if (fcntl(fd, F_SETSIG, SIGURG) < 0)
		return -errno;
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		return errno == EAGAIN ? 1 : -errno;
	fcntl(fd, F_SETLEASE, F_UNLCK);
	return 0;
}

/* Pages for len bytes in some slab: the first slab (by id) with room, else a new one, charged to the
 * allocator as a whole (-ENOSPC when that does not fit: the caller keeps the variable where it is).
 * Called with the lock held. */
static int slab_reserve(struct store *st, uint64_t len, struct slab **out, uint64_t *off)
{
	uint32_t need = slab_pages_for(len);
	char name[SHM_NAME_MAX];
	uint64_t charge = 0;
	struct slab *s;
	int rc;

	for (size_t i = 0; i < st->slabs.n; i++) {
		s = st->slabs.v[i];
		if (slab_free_pages(s) >= need && slab_place(s, len, off) == 0) {
			*out = s;
			return 0;
		}
	}
	rc = shm_block_name(st->prefix, st->next_block, name, sizeof(name));
	if (rc)
		return rc;
	rc = alloc_resize(&st->alloc, &charge, SLAB_BLOCK_SIZE);
	if (rc)
		return rc;
	rc = slab_create(&st->slabs, st->next_block, name, &s);
	if (rc) {
		alloc_release(&st->alloc, &charge);
		return rc;
	}
	st->next_block++;
	s->charge = charge;
	rc = slab_place(s, len, off);
	if (rc) { /* cannot happen: len is under the threshold, far below a slab */
		store_slab_maybe_free(st, s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Give back a reservation that was not committed.  Called with the lock held. */
static void pack_abort(struct store *st, struct pack *p, uint64_t len)
{
	if (!p->s)
		return;
	slab_put(p->s, p->off, len);
	store_slab_maybe_free(st, p->s);
	p->s = NULL;
}

/* Step 1 of PACKING: decide, reserve, copy.  Called without the lock, o->sealing set, after the hash;
 * len is the sealed size.  Leaves p->s NULL when the variable stays where it is.  On the way o->fd, the
 * writer's read-write fd, is swapped for a read-only one (a sealed variable needs no more). */
static void pack_prepare(struct store *st, struct obj *o, uint64_t len, struct pack *p)
{
	char path[512];
	int ro, rc;

	memset(p, 0, sizeof(*p));
	pthread_mutex_lock(&st->lock);
	rc = (o->unlinked || o->doomed || o->nopen != 1) ? -EBUSY : 0;
	pthread_mutex_unlock(&st->lock);
	if (rc)
		return;
	rc = open_read_only(o->shm_name, &ro);
	if (rc)
		return;
	pthread_mutex_lock(&st->lock);
	close(o->fd);
	o->fd = ro;
	pthread_mutex_unlock(&st->lock);
	rc = block_has_writers(ro);
	for (unsigned us = 100; rc > 0 && us <= 800; us *= 2) { /* see block_has_writers */
		usleep(us);
		rc = block_has_writers(ro);
	}
	if (rc) {
		pthread_mutex_lock(&st->lock);
		store_path(o, path, sizeof(path));
		if (rc > 0)
			store_logf(st, "%s: still open for writing after its writer's release (a mapping?); it keeps "
				       "its own block", path);
		else if (!st->lease_warned)
			store_logf(st, "cannot tell whether a block is still mapped for writing (%s); small variables "
				       "keep their own blocks", strerror(-rc));
		st->lease_warned |= rc < 0;
		pthread_mutex_unlock(&st->lock);
		return;
	}
	pthread_mutex_lock(&st->lock);
	rc = slab_reserve(st, len, &p->s, &p->off);
	if (rc) {
		p->s = NULL;
		if (rc != -ENOSPC) {
			store_path(o, path, sizeof(path));
			store_logf(st, "%s: no slab for it (%s); it keeps its own block", path, strerror(-rc));
		}
	}
	pthread_mutex_unlock(&st->lock);
	if (!p->s)
		return;
	rc = slab_copy_in(p->s, p->off, ro, 0, len);
	if (rc) {
		pthread_mutex_lock(&st->lock);
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: copy into slab %s failed (%s); it keeps its own block", path, p->s->shm_name,
			   strerror(-rc));
		pack_abort(st, p, len);
		pthread_mutex_unlock(&st->lock);
		return;
	}
	p->old_block = o->block_id;
	snprintf(p->old_name, sizeof(p->old_name), "%s", o->shm_name);
}

/* Step 2's rows, inside the seal's transaction. */
static int pack_rows(struct store *st, struct obj *o, struct pack *p)
{
	int rc = store_slab_row(st, p->s);

	if (rc == 0)
		rc = yp_extent_move(st->yp, (int64_t)o->id, (int64_t)p->s->id, p->off, o->size);
	if (rc == 0)
		rc = yp_block_delete(st->yp, (int64_t)p->old_block);
	return rc;
}

/* Step 2: the seal's one transaction, with the move when p->s is set.  Lock held. */
static int seal_rows(struct store *st, struct obj *o, struct pack *p)
{
	int rc = yp_begin(st->yp);

	if (rc)
		return rc;
	rc = store_persist(st, o);
	if (rc == 0 && p->s) {
		rc = pack_rows(st, o, p);
	} else if (rc == 0) {
		rc = yp_extent_set(st->yp, (int64_t)o->id, (int64_t)o->block_id, 0, o->size);
		if (rc == 0)
			rc = yp_block_set_size(st->yp, (int64_t)o->block_id, o->size);
	}
	if (rc == 0)
		rc = yp_commit(st->yp);
	else
		yp_rollback(st->yp);
	return rc;
}

/* After the commit: o lives in the slab now.  Called with the lock held; the caller removes the old shm
 * object (step 3) after unlocking. */
static void pack_done(struct store *st, struct obj *o, struct pack *p)
{
	p->s->in_yp = true;
	pthread_rwlock_wrlock(&st->slab_lock);
	o->packed = true;
	o->slab = p->s;
	o->offset = p->off;
	pthread_rwlock_unlock(&st->slab_lock);
	o->block_id = p->s->id;
	snprintf(o->shm_name, sizeof(o->shm_name), "%s", p->s->shm_name);
	close(o->fd);
	o->fd = -1;
	alloc_release(&st->alloc, &o->charge);
}

/* Hash and commit the seal, packing a small variable on the way (PACKING above).  Called without the
 * lock; o->sealing keeps everybody else off o's bytes and makes new opens wait. */
static int seal(struct store *st, struct obj *o)
{
	char hex[HASH_HEX_LEN + 1], path[512];
	struct pack p = { 0 };
	struct stat sb;
	uint64_t len;
	int rc;

	if (fstat(o->fd, &sb) < 0)
		return -errno;
	len = (uint64_t)sb.st_size;
	rc = hash_fd(o->fd, 0, len, hex);
	if (rc)
		return rc;
	if (len < st->slab_threshold)
		pack_prepare(st, o, len, &p);
	pthread_mutex_lock(&st->lock);
	if (p.s && (o->unlinked || o->nopen != 1)) /* unlinked meanwhile: its bytes go at this release */
		pack_abort(st, &p, len);
	rc = alloc_resize(&st->alloc, &o->charge, len);
	if (rc == 0) {
		o->size = len;
		memcpy(o->xxh3, hex, sizeof(hex));
		o->sealed_ns = store_now_ns();
		check_type_at_seal(st, o);
		o->state = OBJ_SEALED;
		if (!o->unlinked) {
			rc = seal_rows(st, o, &p);
			if (rc && p.s) { /* the move failed: seal it where it is */
				store_path(o, path, sizeof(path));
				store_logf(st, "%s: could not record its move into slab %s (%s); it keeps its own block",
					   path, p.s->shm_name, strerror(-rc));
				pack_abort(st, &p, len);
				rc = seal_rows(st, o, &p);
			}
		}
		if (rc) {
			o->state = OBJ_WRITING;
			o->xxh3[0] = '\0';
		}
	}
	if (rc == 0 && p.s)
		pack_done(st, o, &p);
	else
		pack_abort(st, &p, len);
	pthread_mutex_unlock(&st->lock);
	if (rc == 0 && p.s)
		shm_remove(p.old_name);
	return rc;
}

/* Answer the opens that waited for o's seal: each gets its own handle, opened here under the lock so
 * that o's bytes cannot go between the seal and their open. */
static struct waiter *take_waiters(struct obj *o, int rc)
{
	struct waiter *ws = o->waiters;

	o->waiters = NULL;
	for (struct waiter *w = ws; w; w = w->next) {
		w->h = NULL;
		if (rc)
			w->rc = rc;
		else if ((w->flags & O_ACCMODE) != O_RDONLY || (w->flags & O_TRUNC))
			w->rc = -EROFS;
		else
			w->rc = store_new_handle(o, false, w->pid, &w->h);
	}
	return ws;
}

void store_release(struct store *st, struct store_handle *h)
{
	struct obj *o = h->o;
	struct waiter *ws = NULL;
	bool last_writer;
	char path[512];
	int rc;

	pthread_mutex_lock(&st->lock);
	/* a reserved variable is sealed or dropped by its owner's end (store_reserved_end), not by its writers */
	if (h->writer && !o->owner)
		doom_if_bad_closer(st, h);
	last_writer = h->writer && --o->nwriters == 0 && o->state == OBJ_WRITING && !o->owner;
	if (last_writer && !o->doomed) {
		o->sealing = true;
		pthread_mutex_unlock(&st->lock);
		rc = seal(st, o);
		pthread_mutex_lock(&st->lock);
		o->sealing = false;
		if (rc) {
			store_path(o, path, sizeof(path));
			store_logf(st, "%s: sealing failed (%s)", path, strerror(-rc));
			o->doomed = true;
		}
	}
	if (last_writer && o->doomed)
		drop_locked(st, o);
	if (last_writer)
		ws = take_waiters(o, o->doomed ? -ENOENT : 0);
	for (struct store_handle **pp = &o->handles; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	free(h);
	if (o->nopen == 1 && o->state == OBJ_SEALED && !o->unlinked && !ws && owners_gone(st, o))
		drop_orphan(st, o); /* with a handle still counted: the bytes go just below */
	if (--o->nopen == 0) {
		if (o->fd >= 0)
			close(o->fd);
		o->fd = -1;
		if (o->unlinked)
			store_release_data(st, o);
	}
	store_maybe_free(st, o);
	pthread_mutex_unlock(&st->lock);

	while (ws) {
		struct waiter *next = ws->next;
		ws->wake(ws->arg, ws->rc, ws->h);
		free(ws);
		ws = next;
	}
}

/* ---- defragment ---- */

struct defrag_obj {
	uint64_t id;
	size_t rank; /* of its slab in the order below */
	uint64_t offset;
};

struct defrag_slab {
	uint64_t id;
	uint32_t used;
};

static int by_used_desc(const void *a, const void *b)
{
	const struct defrag_slab *x = a, *y = b;

	if (x->used != y->used)
		return x->used > y->used ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_rank_desc(const void *a, const void *b)
{
	const struct defrag_obj *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Move packed variable o to pages already reserved at off in d.  Called with the lock held; see
 * DEFRAGMENT above for the order.  On failure the reservation is given back and o stays where it was. */
int store_move_packed(struct store *st, struct obj *o, struct slab *d, uint64_t off)
{
	struct slab *s = o->slab;
	uint64_t soff = o->offset;
	int rc = slab_copy_in(d, off, s->fd, soff, o->size);

	if (rc == 0)
		rc = yp_begin(st->yp);
	if (rc == 0) {
		rc = store_slab_row(st, d);
		if (rc == 0)
			rc = yp_extent_move(st->yp, (int64_t)o->id, (int64_t)d->id, off, o->size);
		if (rc == 0)
			rc = yp_commit(st->yp);
		else
			yp_rollback(st->yp);
	}
	if (rc) {
		slab_put(d, off, o->size);
		return rc;
	}
	d->in_yp = true;
	pthread_rwlock_wrlock(&st->slab_lock);
	o->slab = d;
	o->offset = off;
	pthread_rwlock_unlock(&st->slab_lock);
	o->block_id = d->id;
	snprintf(o->shm_name, sizeof(o->shm_name), "%s", d->shm_name);
	slab_put(s, soff, o->size); /* no reader can be in the old place any more */
	return 0;
}

/* A snapshot of the slabs, fullest first, and of the packed variables, those of the emptiest slab first.
 * Called with the lock held; ids only, since the lock is let go between moves. */
static int defrag_plan(struct store *st, struct defrag_slab **slabs, size_t *nslabs, struct defrag_obj **objs,
		       size_t *nobjs)
{
	size_t ns = st->slabs.n ? st->slabs.n : 1;
	struct defrag_slab *sv = malloc(ns * sizeof(*sv));
	size_t *rank_of = malloc(ns * sizeof(*rank_of)); /* by index in st->slabs (sorted by id) */
	struct defrag_obj *ov = NULL;
	size_t n = 0, cap = 0;

	if (!sv || !rank_of) {
		free(sv);
		free(rank_of);
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->slabs.n; i++)
		sv[i] = (struct defrag_slab){ st->slabs.v[i]->id, st->slabs.v[i]->used };
	qsort(sv, st->slabs.n, sizeof(*sv), by_used_desc);
	for (size_t r = 0; r < st->slabs.n; r++) {
		size_t lo = 0, hi = st->slabs.n;
		while (lo + 1 < hi) { /* the slab with id sv[r].id: it is there */
			size_t mid = lo + (hi - lo) / 2;
			if (st->slabs.v[mid]->id <= sv[r].id)
				lo = mid;
			else
				hi = mid;
		}
		rank_of[lo] = r;
	}
	for (size_t b = 0; b < st->nbuckets; b++) {
		for (struct obj *o = st->by_id[b]; o; o = o->by_id_next) {
			size_t rank, lo = 0, hi = st->slabs.n;
			if (o->kind != OBJ_VAR || !o->packed || !o->slab || o->data_gone)
				continue;
			while (lo + 1 < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (st->slabs.v[mid]->id <= o->slab->id)
					lo = mid;
				else
					hi = mid;
			}
			rank = rank_of[lo];
			if (n == cap) {
				size_t c = cap ? cap * 2 : 256;
				struct defrag_obj *nv = realloc(ov, c * sizeof(*nv));
				if (!nv) {
					free(sv);
					free(rank_of);
					free(ov);
					return -ENOMEM;
				}
				ov = nv;
				cap = c;
			}
			ov[n++] = (struct defrag_obj){ o->id, rank, o->offset };
		}
	}
	free(rank_of);
	if (n)
		qsort(ov, n, sizeof(*ov), by_rank_desc);
	*slabs = sv;
	*nslabs = st->slabs.n;
	*objs = ov;
	*nobjs = n;
	return 0;
}

/* Free pages in the slabs ranked before `rank` (the fuller ones). */
static uint64_t free_before(struct store *st, const struct defrag_slab *sv, size_t rank)
{
	uint64_t total = 0;

	for (size_t j = 0; j < rank; j++) {
		struct slab *d = slab_find(&st->slabs, sv[j].id);
		if (d)
			total += slab_free_pages(d);
	}
	return total;
}

/* One variable of the source slab: into the first fuller slab with a hole for it.  *first is the first
 * rank that may still have a free page (the fullest fill up first; it only moves on).  Lock held. */
static int defrag_one(struct store *st, const struct defrag_slab *sv, const struct defrag_obj *d, size_t *first,
		      bool *moved)
{
	struct obj *o = ns_by_id(st, d->id);
	uint64_t off;

	*moved = false;
	if (!o || o->kind != OBJ_VAR || !o->packed || !o->slab || o->data_gone || o->slab->id != sv[d->rank].id)
		return 0; /* gone or moved since the plan */
	while (*first < d->rank) {
		struct slab *f = slab_find(&st->slabs, sv[*first].id);
		if (f && slab_free_pages(f) > 0)
			break;
		++*first;
	}
	for (size_t j = o->size ? *first : 0; j < d->rank; j++) { /* an empty variable fits anywhere */
		struct slab *dst = slab_find(&st->slabs, sv[j].id);
		if (!dst || slab_free_pages(dst) < slab_pages_for(o->size) || slab_place(dst, o->size, &off))
			continue;
		int rc = store_move_packed(st, o, dst, off);
		if (rc) {
			char path[512];
			store_path(o, path, sizeof(path));
			store_logf(st, "defragment: moving %s into %s failed (%s)", path, dst->shm_name, strerror(-rc));
			return rc;
		}
		*moved = true;
		return 0;
	}
	return 0;
}

/* Remove every empty slab but one (store_slab_maybe_free keeps the last).  Lock held. */
static uint64_t free_empty_slabs(struct store *st)
{
	uint64_t freed = 0;

	for (size_t i = st->slabs.n; i-- > 0;)
		if (i < st->slabs.n && store_slab_maybe_free(st, st->slabs.v[i]))
			freed++;
	return freed;
}

int store_defragment(struct store *st, uint64_t *bytes_moved, uint64_t *blocks_freed)
{
	struct defrag_slab *sv = NULL;
	struct defrag_obj *ov = NULL;
	uint64_t moved_bytes = 0, freed = 0;
	size_t nslabs = 0, nobjs = 0, i = 0, first = 0;
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = defrag_plan(st, &sv, &nslabs, &ov, &nobjs);
	pthread_mutex_unlock(&st->lock);
	/* Sources from the emptiest slab on; the variables of one source are consecutive in ov. */
	while (rc == 0 && i < nobjs) {
		size_t rank = ov[i].rank, end = i;
		struct slab *src;
		while (end < nobjs && ov[end].rank == rank)
			end++;
		if (rank == 0 || rank >= nslabs)
			break; /* the fullest slab is nobody's source; rank nslabs cannot happen */
		pthread_mutex_lock(&st->lock);
		src = slab_find(&st->slabs, sv[rank].id);
		/* Not even the pages add up: no fuller slab can take this one's variables, nor any later's. */
		if (src && free_before(st, sv, rank) < src->used) {
			pthread_mutex_unlock(&st->lock);
			break;
		}
		pthread_mutex_unlock(&st->lock);
		for (; rc == 0 && i < end; i++) {
			bool moved;
			pthread_mutex_lock(&st->lock);
			rc = defrag_one(st, sv, &ov[i], &first, &moved);
			if (moved) {
				struct obj *o = ns_by_id(st, ov[i].id);
				moved_bytes += o ? o->size : 0;
			}
			pthread_mutex_unlock(&st->lock);
		}
	}
	pthread_mutex_lock(&st->lock);
	freed = free_empty_slabs(st);
	pthread_mutex_unlock(&st->lock);
	free(sv);
	free(ov);
	if (bytes_moved)
		*bytes_moved = moved_bytes;
	if (blocks_freed)
		*blocks_freed = freed;
	return rc;
}
