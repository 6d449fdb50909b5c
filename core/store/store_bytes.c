/* SPDX-License-Identifier: MIT */
/* store_bytes.c -- a variable's bytes through a handle: read, write, the block's fd, and truncate.
 *
 * The lock is held to check the variable's state and charge the capacity before a write, and to record
 * its size after; the bytes themselves move outside it (pread/pwrite on the block's fd: an open handle
 * keeps the object and its fd alive, see storeInt.h).  A write that would pass the capacity fails with
 * ENOSPC, and one whose pwrite fails with its errno; either dooms the variable, which its last writer's
 * release then drops instead of sealing (store_seal.c): no variable is sealed with a hole where a write
 * failed.  A mutable object is written in place within its fixed size (EFBIG past it) and never
 * truncated (EPERM).  Writes that bypass the daemon (passthrough, mappings) are charged at close
 * (store_flush). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/store/storeInt.h"

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

bool store_handle_writes(const struct store_handle *h)
{
	return h->writer && !h->o->mut; /* writer is set at open and never changes: no lock needed */
}

int store_handle_hashed(struct store *st, struct store_handle *h, uint64_t len, const char *hex)
{
	struct obj *o = h->o;
	int rc = 0;

	if (strlen(hex) != HASH_HEX_LEN)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	if (!store_handle_writes(h) || o->state != OBJ_WRITING || o->nwriters != 1)
		rc = -EBUSY; /* another writer could change the bytes after the caller hashed them */
	else {
		memcpy(o->given_xxh3, hex, HASH_HEX_LEN + 1);
		o->given_len = len;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
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

/* Truncate a variable being written (SETATTR size, open with O_TRUNC).  Called with the lock held. */
int store_truncate_locked(struct store *st, struct obj *o, uint64_t size)
{
	uint64_t old_charge = o->charge;
	int rc;

	if (o->mut)
		return -EPERM; /* a mutable object's size is fixed at creation */
	if (o->state == OBJ_SEALED || o->sealing)
		return -EROFS;
	if (o->fd < 0)
		return -EBADF;
	rc = alloc_resize(&st->alloc, &o->charge, size);
	if (rc)
		return rc;
	if (ftruncate(o->fd, (off_t)size) < 0) {
		rc = -errno;
		alloc_resize(&st->alloc, &o->charge, old_charge); /* we hold the lock: the pages are still free */
		return rc;
	}
	o->size = size;
	o->modified_ns = store_now_ns();
	return 0;
}
