/* SPDX-License-Identifier: MIT */
/* store_seal.c -- a writer's end: flush (each close) and release (the last reference), and the seal the
 * last writer's release takes: the xxh3, the commit, and packing a small variable into a slab.
 *
 * SEALING
 * RELEASE is the only sign that a writer is done (FLUSH comes at every close of every descriptor, and
 * close(2) does not wait for RELEASE), so:
 *   - every open write handle of a variable is counted (nwriters);
 *   - an open by any other process while nwriters > 0, or while the seal is being taken, waits: the
 *     caller gets STORE_WAITING and a wake() call later (WAITING OPENS in store_open.c);
 *   - the last writer's release hashes the bytes (XXH3-128, outside the lock), commits the variable's
 *     rows (its first: see VARIABLES BEING WRITTEN in store_open.c) with state 'sealed', size and hash in
 *     one YP transaction, then wakes the waiting opens.
 * A variable is doomed, and dropped instead of sealed, when a write fails (ENOSPC) or when the last close
 * of a writer's open file (the FLUSH just before its RELEASE; FLUSH carries the closing thread's pid) came
 * from a process exiting on a signal or with a non-zero status, read from /proc/PID/stat: a crashed
 * producer leaves no sealed half-variable.  Two processes closing the same open file at the same instant
 * may be seen in either order; that race is accepted.
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
 *   2. one YP transaction seals the variable where it now is: its extent is (slab, offset), its own block
 *      never gets a row, the slab's row is inserted if it is new;
 *   3. the own block's shm object is removed and its charge given back.
 * A crash before 2 loses the variable, which was not sealed yet (its own block and a new slab without a
 * row are orphans; the slab pages are free again at start); after 2 the old shm object is an orphan. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* shm_open */
#include <sys/stat.h>
#include <unistd.h>

#include "core/text/dtype.h"
#include "core/os/proc.h"
#include "core/store/storeInt.h"
#include "meta/yp.h"

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

/* A writer's close that leaves an item its dataset's type refuses says EINVAL: cp and dd report it.  Only
 * the close of the last writer counts, and it dooms nothing (another descriptor of the same open file may
 * still write the rest); the seal at the release decides.  Lock held. */
static int item_fits_at_close(struct store *st, const struct store_handle *h)
{
	struct obj *o = h->o;
	char canon[DTYPE_STR_MAX], why[512], path[512];
	int rc;

	if (o->nwriters != 1 || o->owner || o->doomed)
		return 0;
	rc = store_item_type_locked(o->parent, o->type, o->size, canon, why, sizeof(why));
	if (rc >= 0)
		return 0;
	store_path(o, path, sizeof(path));
	store_logf(st, "%s: %s; dropped at its last close unless more bytes come", path, why);
	return rc;
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
		if (rc == 0)
			rc = item_fits_at_close(st, h);
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

/* An item of a typed dataset takes the type its final size gives it, or fails its seal (and is dropped). */
static int item_type_at_seal(struct store *st, struct obj *o)
{
	char canon[DTYPE_STR_MAX], why[512], path[512], *t;
	int rc = store_item_type_locked(o->parent, o->type, o->size, canon, why, sizeof(why));

	if (rc == 0)
		return 0;
	if (rc < 0) {
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: not an item of its dataset: %s", path, why);
		return rc;
	}
	if (o->type && strcmp(o->type, canon) == 0)
		return 0;
	t = strdup(canon);
	if (!t)
		return -ENOMEM;
	free(o->type);
	o->type = t;
	return 0;
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
		rc = yp_begin(st->yp);
		if (rc == 0) {
			rc = store_alias_drop_rows(st, o); /* dropped under every name it has */
			if (rc == 0)
				rc = yp_obj_update(st->yp, &row);
			if (rc == 0)
				rc = yp_commit(st->yp);
			else
				yp_rollback(st->yp);
		}
		if (o->parent)
			o->parent->modified_ns = store_now_ns();
		store_alias_drop(st, o);
		store_mark_unlinked(st, o);
	}
	store_logf(st, "%s: dropped, not sealed%s", path, rc ? " (its row is left for the next start)" : "");
}

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

int store_slab_reserve(struct store *st, uint64_t len, struct slab **out, uint64_t *off)
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

void store_pack_abort(struct store *st, struct pack *p, uint64_t len)
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
	rc = store_slab_reserve(st, len, &p->s, &p->off);
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
		store_pack_abort(st, p, len);
		pthread_mutex_unlock(&st->lock);
		return;
	}
	snprintf(p->old_name, sizeof(p->old_name), "%s", o->shm_name);
}

/* Step 2: the seal's one transaction.  A variable being written has no rows (store_open.c): its object
 * row is inserted here (updated, for one a hard link gave a row while written), with its extent, in a
 * slab when p->s is set, else in its own block, whose row comes too.  Lock held. */
static int seal_rows(struct store *st, struct obj *o, struct pack *p, bool slab_row_done)
{
	struct yp_obj row;
	int rc = yp_begin(st->yp);

	if (rc)
		return rc;
	store_fill_yp(o, &row);
	row.node = st->node_id;
	rc = o->in_yp ? yp_obj_update(st->yp, &row) : yp_obj_insert(st->yp, &row);
	if (rc == 0 && p->s) {
		rc = slab_row_done ? 0 : store_slab_row(st, p->s);
		if (rc == 0)
			rc = yp_extent_set(st->yp, (int64_t)o->id, (int64_t)p->s->id, p->off, o->size);
	} else if (rc == 0) {
		rc = yp_block_insert(st->yp, (int64_t)o->block_id, st->node_id, o->shm_name, o->size, "dedicated");
		if (rc == 0)
			rc = yp_extent_set(st->yp, (int64_t)o->id, (int64_t)o->block_id, 0, o->size);
	}
	if (rc == 0)
		rc = yp_commit(st->yp);
	else
		yp_rollback(st->yp);
	return rc; /* o->in_yp is the caller's to set: inside a batch this commit is not the last word */
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
	if (o->fd >= 0) /* a variable put straight into its slab (store_put.c) never had one */
		close(o->fd);
	o->fd = -1;
	alloc_release(&st->alloc, &o->charge);
}

/* The first half of a seal, called without the lock, o->sealing set: the size, the XXH3-128 (outside the
 * lock), the copy into a slab for a small variable, then, under the lock, size, hash and the last write's
 * time in memory.  The rows and the state come with store_seal_end. */
static int seal_prepare(struct store *st, struct obj *o, struct pack *p)
{
	char hex[HASH_HEX_LEN + 1];
	struct stat sb;
	uint64_t len;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	if (fstat(o->fd, &sb) < 0)
		return -errno;
	len = (uint64_t)sb.st_size;
	if (o->given_xxh3[0] && o->given_len == len) /* its only writer proved these bytes as it wrote them */
		memcpy(hex, o->given_xxh3, sizeof(hex));
	else
		rc = hash_fd(o->fd, 0, len, hex);
	o->given_xxh3[0] = '\0';
	if (rc)
		return rc;
	if (len < st->slab_threshold)
		pack_prepare(st, o, len, p);
	pthread_mutex_lock(&st->lock);
	if (p->s && (o->unlinked || o->nopen != 1)) /* unlinked meanwhile: its bytes go at this release */
		store_pack_abort(st, p, len);
	rc = alloc_resize(&st->alloc, &o->charge, len);
	if (rc == 0) {
		o->size = len;
		memcpy(o->xxh3, hex, sizeof(hex));
		/* the last write's time, or the time a writer set (store_setattr puts it on the block): read
		 * under the lock, so a utimensat that came while the bytes were hashed is not lost; one that comes
		 * later, before the commit, sets o->modified_ns itself */
		if (fstat(o->fd, &sb) == 0)
			o->modified_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	} else {
		store_pack_abort(st, p, len);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

bool store_seal_prepare(struct store *st, struct store_handle *h, struct seal_job *j)
{
	struct obj *o = h->o;
	bool last_writer;

	memset(j, 0, sizeof(*j));
	j->o = o;
	/* a reserved variable is sealed or dropped by its owner's end (store_reserved_end), not by its writers */
	if (h->writer && !o->owner)
		doom_if_bad_closer(st, h);
	last_writer = h->writer && --o->nwriters == 0 && o->state == OBJ_WRITING && !o->owner;
	if (!last_writer)
		return false;
	if (o->doomed) {
		drop_locked(st, o);
		j->ws = store_take_waiters(o, -ENOENT);
		return false;
	}
	o->sealing = true;
	pthread_mutex_unlock(&st->lock);
	j->rc = seal_prepare(st, o, &j->p);
	pthread_mutex_lock(&st->lock);
	if (j->rc == 0)
		j->rc = item_type_at_seal(st, o);
	return true;
}

/* Rows of a job whose bytes are ready, state sealed (inside the caller's transaction).  Lock held. */
static int seal_state(struct store *st, struct seal_job *j)
{
	struct obj *o = j->o;

	o->sealed_ns = store_now_ns();
	check_type_at_seal(st, o);
	o->state = OBJ_SEALED;
	return seal_rows(st, o, &j->p, j->slab_row_done);
}

int store_seal_write(struct store *st, struct seal_job *j)
{
	if (j->rc || j->o->unlinked)
		return 0; /* nothing to write: it fails alone, or it is sealed without rows */
	j->wrote = true;
	return seal_state(st, j);
}

/* The seal's own transaction, when no batch holds it: moved into a slab, or where it is when the move
 * cannot be recorded.  Lock held. */
static int seal_alone(struct store *st, struct seal_job *j)
{
	struct obj *o = j->o;
	char path[512];
	int rc = 0;

	if (o->unlinked) { /* nobody can find it any more: sealed in memory for the opens that wait */
		o->sealed_ns = store_now_ns();
		o->state = OBJ_SEALED;
		return 0;
	}
	rc = seal_state(st, j);
	/* a variable put straight into its slab (store_put.c) has no block of its own to fall back on */
	if (rc && j->p.s && o->shm_name[0]) {
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: could not record its move into slab %s (%s); it keeps its own block", path,
			   j->p.s->shm_name, strerror(-rc));
		store_pack_abort(st, &j->p, o->size);
		rc = seal_state(st, j);
	}
	if (rc == 0)
		o->in_yp = true;
	return rc;
}

void store_seal_end(struct store *st, struct seal_job *j, bool committed)
{
	struct obj *o = j->o;
	char path[512];
	int rc = j->rc;

	if (rc == 0 && committed && j->wrote) {
		o->in_yp = true; /* seal_rows' own commit was the batch's inner level: only now are they in */
	} else if (rc == 0) {
		j->slab_row_done = false; /* alone, the first of a new slab's variables writes its row */
		rc = seal_alone(st, j);
	}
	if (rc) {
		o->state = OBJ_WRITING;
		o->xxh3[0] = '\0';
		store_pack_abort(st, &j->p, o->size);
	} else if (j->p.s) {
		pack_done(st, o, &j->p);
	}
	o->sealing = false;
	o->seal_queued = false;
	if (rc) {
		store_path(o, path, sizeof(path));
		store_logf(st, "%s: sealing failed (%s)", path, strerror(-rc));
		o->doomed = true;
		drop_locked(st, o);
	}
	j->ws = store_take_waiters(o, o->doomed ? -ENOENT : 0);
	if (rc == 0)
		store_event_sealed(st, o);
	if (rc == 0 && j->p.s)
		j->gone = true; /* its own block's shm object goes once the lock is given back */
}

void store_release_tail(struct store *st, struct obj *o, struct store_handle *h, bool answered)
{
	for (struct store_handle **pp = &o->handles; h && *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	free(h);
	if (o->nopen == 1 && o->state == OBJ_SEALED && !o->unlinked && !answered && store_owners_gone(st, o))
		store_drop_orphan(st, o); /* with a handle still counted: the bytes go just below */
	if (--o->nopen == 0) {
		if (o->fd >= 0)
			close(o->fd);
		o->fd = -1;
		if (o->unlinked)
			store_release_data(st, o);
	}
	store_maybe_free(st, o);
}

void store_seal_after(struct seal_job *j)
{
	store_wake_waiters(j->ws);
	j->ws = NULL;
	if (j->gone && j->p.old_name[0])
		shm_remove(j->p.old_name);
}

void store_release(struct store *st, struct store_handle *h)
{
	struct obj *o = h->o;
	struct seal_job j;

	pthread_mutex_lock(&st->lock);
	if (store_seal_prepare(st, h, &j))
		store_seal_end(st, &j, false);
	store_release_tail(st, o, h, j.ws != NULL);
	pthread_mutex_unlock(&st->lock);
	store_seal_after(&j);
}
