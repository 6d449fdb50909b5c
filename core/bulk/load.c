/* SPDX-License-Identifier: MIT */
/* load.c -- load (see load.h): one file into one variable, and the choice load_any makes between that, a
 * directory tree (load_tree.c) and a tar archive (load_tar.c); acting with a caller's credentials, loads
 * in flight and filling a block, which the other files of core/bulk share.
 *
 * CREDENTIALS
 * Files on disk are opened by the worker thread under the caller's fsuid, fsgid and supplementary groups
 * (read from /proc/PID/status), set with raw syscalls, which on Linux change the calling thread only, and
 * put back right after the open.  The bytes are then moved by root's daemon through that fd, as a
 * program that was handed the fd would.
 *
 * A variable is made, filled and sealed with the store's public calls: store_create, store_setattr(size)
 * (which charges the capacity up front, so a load that cannot fit fails before moving a byte), a write
 * mapping of its block filled by io_uring, store_release (which seals and takes the xxh3).  Any failure in
 * between unlinks the name before the release, so nothing half-loaded is ever sealed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/text/dtype.h"
#include "core/bulk/loadInt.h"
#include "core/bulk/tar.h"
#include "core/os/proc.h"
#include "core/text/names.h"
#include "core/store/path.h"
#include "core/os/uring_copy.h"
#include "core/text/text.h"

#define PAGE 4096u

uint32_t load_caller_mode(const struct load_caller *who, uint32_t base)
{
	int mask = who->pid > 0 ? proc_umask(who->pid) : -ESRCH;

	return base & ~(uint32_t)(mask < 0 ? 022 : mask);
}

bool load_caller_may_create(struct store *st, const struct load_caller *who, uint64_t dir)
{
	uint32_t groups[LOAD_NGROUPS];
	size_t n = proc_groups(who->pid, groups, LOAD_NGROUPS);

	return store_may_create(st, dir, who->uid, who->gid, groups, n);
}

/* Take on the caller's file-system identity in this thread; unbecome() gives it back. */
void load_creds_of(const struct load_caller *who, struct load_creds *c)
{
	c->uid = who->uid;
	c->gid = who->gid;
	c->ngroups = (int)proc_groups(who->pid, c->groups, LOAD_NGROUPS);
}

void load_become_as(const struct load_creds *as, struct load_creds *saved)
{
	saved->ngroups = getgroups(LOAD_NGROUPS, (gid_t *)saved->groups);
	/* raw syscalls: glibc's wrappers would change every thread of the daemon */
	syscall(SYS_setgroups, as->ngroups > 0 ? as->ngroups : 0, as->groups);
	saved->gid = (gid_t)setfsgid(as->gid);
	saved->uid = (uid_t)setfsuid(as->uid);
}

void load_become(const struct load_caller *who, struct load_creds *saved)
{
	struct load_creds as;

	load_creds_of(who, &as);
	load_become_as(&as, saved);
}

void load_unbecome(const struct load_creds *saved)
{
	setfsuid(saved->uid);
	setfsgid(saved->gid);
	syscall(SYS_setgroups, saved->ngroups > 0 ? saved->ngroups : 0, saved->groups);
}

static uint64_t page_round(uint64_t n)
{
	return (n + PAGE - 1) / PAGE * PAGE;
}

/* Loads in flight, for `loads` (a progress bar in `fabric put`). */
static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static struct load_inflight *inflight_head;

void load_inflight_begin(struct load_inflight *l, const char *name, uint64_t total)
{
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->base = l->done = 0;
	l->total = total;
	pthread_mutex_lock(&inflight_lock);
	l->next = inflight_head;
	inflight_head = l;
	pthread_mutex_unlock(&inflight_lock);
}

void load_inflight_end(struct load_inflight *l)
{
	struct load_inflight **pp;

	pthread_mutex_lock(&inflight_lock);
	for (pp = &inflight_head; *pp && *pp != l; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = l->next;
	pthread_mutex_unlock(&inflight_lock);
}

static void progress(void *arg, uint64_t done, uint64_t total)
{
	struct load_inflight *l = arg;

	(void)total; /* the file's; l->total is the whole load's */
	pthread_mutex_lock(&inflight_lock);
	l->done = l->base + done;
	pthread_mutex_unlock(&inflight_lock);
}

int load_each_inflight(int (*fn)(void *arg, const char *name, uint64_t done, uint64_t total), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&inflight_lock);
	for (struct load_inflight *l = inflight_head; rc == 0 && l; l = l->next)
		rc = fn(arg, l->name, l->done, l->total);
	pthread_mutex_unlock(&inflight_lock);
	return rc;
}

/* Read len bytes of fd at off into dst (see load_fill). */
static int read_into(struct uring_reader *ring, int fd, uint64_t off, void *dst, uint64_t len,
		     struct load_inflight *l)
{
	if (ring)
		return uring_reader_read(ring, fd, off, dst, len, l ? progress : NULL, l);
	return off ? -EINVAL : uring_read_into(fd, dst, len, l ? progress : NULL, l);
}

bool load_unchanged(int fd, uint64_t size, const struct timespec *mtime)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == size && sb.st_mtim.tv_sec == mtime->tv_sec &&
	       sb.st_mtim.tv_nsec == mtime->tv_nsec;
}

/* len more bytes of the load l are in. */
static void counted(struct load_inflight *l, uint64_t len)
{
	pthread_mutex_lock(&inflight_lock);
	l->base += len;
	l->done = l->base;
	pthread_mutex_unlock(&inflight_lock);
}

int load_fill(struct store_handle *h, struct uring_reader *ring, void *bounce, int fd, uint64_t off, uint64_t len,
	      struct load_inflight *l)
{
	int bfd = store_handle_fd(h), rc;
	void *map;

	if (len == 0)
		return 0;
	if (bfd < 0)
		return -EIO;
	if (bounce && len < LOAD_BOUNCE) {
		/* the block was sized (and charged) by the caller: this write, like a passthrough one, only fills it */
		rc = read_into(ring, fd, off, bounce, len, l);
		if (rc == 0 && pwrite(bfd, bounce, len, 0) != (ssize_t)len)
			rc = -EIO;
	} else {
		map = mmap(NULL, page_round(len), PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
		if (map == MAP_FAILED)
			return -errno;
		rc = read_into(ring, fd, off, map, len, l);
		munmap(map, page_round(len));
	}
	if (rc == 0 && l)
		counted(l, len);
	return rc;
}

/* A few pages with plain pread: one system call, as io_uring takes, without a ring's bookkeeping. */
static int pread_all(int fd, uint64_t off, void *dst, uint64_t len)
{
	for (uint64_t got = 0; got < len;) {
		ssize_t n = pread(fd, (char *)dst + got, (size_t)(len - got), (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* shorter than the walk said */
		got += (uint64_t)n;
	}
	return 0;
}

int load_read(struct uring_reader *ring, int fd, uint64_t off, void *dst, uint64_t len, struct load_inflight *l)
{
	int rc = len <= LOAD_BOUNCE ? pread_all(fd, off, dst, len) : read_into(ring, fd, off, dst, len, l);

	if (rc == 0 && l)
		counted(l, len);
	return rc;
}

int load_file(struct store *st, const struct load_caller *who, const char *name, const char *file,
	      const char *type, const char *doc, int mode, struct load_result *res, char *why, size_t whylen)
{
	return load_file_at(st, who, STORE_VARS_ID, name, file, type, doc, mode, res, why, whylen);
}

int load_file_at(struct store *st, const struct load_caller *who, uint64_t from, const char *name, const char *file,
		 const char *type, const char *doc, int mode, struct load_result *res, char *why, size_t whylen)
{
	const char *top = from == STORE_VARS_ID ? "vars/" : ""; /* what sentences put before name */
	char leaf[NAMES_LEAF_MAX + 1], err[256];
	struct stat before;
	struct store_handle *h;
	struct store_attr a;
	struct load_creds saved;
	struct dtype t;
	uint64_t dir;
	ssize_t n;
	int fd, rc;

	memset(res, 0, sizeof(*res));
	if (file[0] != '/') {
		text_say(why, whylen, 0, "FILE must be an absolute path (the daemon does not know your directory): %s", file);
		return -EINVAL;
	}
	rc = path_parent_at(st, from, name, &dir, leaf, sizeof(leaf));
	if (rc) {
		text_say(why, whylen, 0, "cannot make %s%s: its directory %s", top, name,
		    rc == -ENOENT ? "does not exist; mkdir it first" : path_error(rc));
		return rc;
	}
	if (!load_caller_may_create(st, who, dir)) {
		text_say(why, whylen, 0, "cannot make %s%s: uid %u may not create names in its directory", top, name,
			 who->uid);
		return -EACCES;
	}
	if (type && dtype_parse(type, &t, err, sizeof(err))) {
		text_say(why, whylen, 0, "type '%s' refused: %s", type, err);
		return -EINVAL;
	}
	if (doc && strlen(doc) > STORE_DOC_MAX) {
		text_say(why, whylen, 0, "doc is longer than %d bytes", STORE_DOC_MAX);
		return -E2BIG;
	}
	load_become(who, &saved);
	rc = uring_open_source(file, &fd);
	load_unbecome(&saved);
	if (rc) {
		text_say(why, whylen, 0, "cannot open %s: %s", file, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &before) < 0 || !S_ISREG(before.st_mode)) {
		text_say(why, whylen, 0, "%s is not a regular file", file);
		close(fd);
		return -EINVAL;
	}
	if (type && t.nbytes != (uint64_t)before.st_size) {
		text_say(why, whylen, 0, "type '%s' is %llu bytes but %s has %lld", type, (unsigned long long)t.nbytes, file,
		    (long long)before.st_size);
		close(fd);
		return -EINVAL;
	}
	rc = store_create(st, dir, leaf, mode < 0 ? load_caller_mode(who, before.st_mode & 0777) : (uint32_t)mode, who->uid, who->gid, O_WRONLY, getpid(), &a, &h);
	if (rc) {
		text_say(why, whylen, 0, rc == -EEXIST ? "%s%s exists; remove it first or choose another name%.0s"
					       : "cannot make %s%s: %s", top, name, strerror(-rc));
		close(fd);
		return rc;
	}
	{
		struct store_setattr sa = { .set = STORE_SET_SIZE, .size = (uint64_t)before.st_size };
		struct store_attr ignored;
		rc = store_setattr(st, a.id, &sa, &ignored);
		if (rc == -ENOSPC)
			text_say(why, whylen, 0, "not enough capacity for %lld bytes; see: stat", (long long)before.st_size);
	}
	if (rc == 0) {
		struct load_inflight me;
		load_inflight_begin(&me, name, (uint64_t)before.st_size);
		rc = load_fill(h, NULL, NULL, fd, 0, (uint64_t)before.st_size, &me);
		load_inflight_end(&me);
		if (rc)
			text_say(why, whylen, 0, "reading %s failed: %s", file, strerror(-rc));
	}
	if (rc == 0 && !load_unchanged(fd, (uint64_t)before.st_size, &before.st_mtim)) {
		text_say(why, whylen, 0, "%s changed while it was being loaded; load it again", file);
		rc = -EIO;
	}
	close(fd);
	if (rc == 0 && type && (rc = (int)store_setxattr(st, a.id, "user.fabric.type", type, strlen(type), 0)))
		text_say(why, whylen, 0, "type '%s' refused", type);
	if (rc == 0 && doc && (rc = (int)store_setxattr(st, a.id, "user.fabric.doc", doc, strlen(doc), 0)))
		text_say(why, whylen, 0, "doc refused: %s", strerror(-rc));
	if (rc)
		store_unlink(st, dir, leaf); /* before the release: it drops instead of sealing */
	store_release(st, h);
	if (rc == 0) {
		n = store_getxattr(st, a.id, "user.fabric.xxh3", res->xxh3, sizeof(res->xxh3) - 1);
		if (n < 0) {
			text_say(why, whylen, 0, "%s%s could not be sealed; see the daemon log", top, name);
			rc = -EIO;
		} else {
			res->xxh3[n] = '\0';
			res->size = (uint64_t)before.st_size;
		}
	}
	store_forget(st, a.id, 1);
	return rc;
}

int load_bytes_at(struct store *st, const struct load_caller *who, uint64_t from, const char *name, const void *buf,
		  size_t len, const char *xxh3, uint32_t mode, struct load_result *res, char *why, size_t whylen)
{
	struct store_setattr sa = { .set = STORE_SET_SIZE, .size = len };
	char leaf[NAMES_LEAF_MAX + 1], canon[DTYPE_STR_MAX], twhy[512], sealed[64];
	struct store_attr a, ignored;
	struct store_handle *h;
	uint64_t dir;
	ssize_t n;
	int fd, rc;

	memset(res, 0, sizeof(*res));
	rc = path_parent_at(st, from, name, &dir, leaf, sizeof(leaf));
	if (rc)
		return text_say(why, whylen, rc, "cannot make %s: its directory %s", name, path_error(rc));
	if (!load_caller_may_create(st, who, dir))
		return text_say(why, whylen, -EACCES, "cannot make %s: uid %u may not create names in its directory",
				name, who->uid);
	rc = store_item_type(st, dir, NULL, len, canon, twhy, sizeof(twhy)); /* a dataset's type, if it has one */
	if (rc < 0)
		return text_say(why, whylen, rc, "%s: %s", name, twhy);
	rc = store_create(st, dir, leaf, mode & 07777, who->uid, who->gid, O_WRONLY, getpid(), &a, &h);
	if (rc)
		return text_say(why, whylen, rc, rc == -EEXIST ? "%s exists%.0s" : "cannot make %s: %s", name,
				strerror(-rc));
	rc = store_setattr(st, a.id, &sa, &ignored);
	if (rc)
		text_say(why, whylen, rc, rc == -ENOSPC ? "not enough capacity for %zu bytes; see: stat%.0s"
			 : "cannot size it to %zu bytes: %s", len, strerror(-rc));
	fd = store_handle_fd(h);
	for (size_t done = 0; rc == 0 && done < len;) {
		ssize_t w = fd < 0 ? -1 : pwrite(fd, (const char *)buf + done, len - done, (off_t)done);
		if (w <= 0)
			rc = text_say(why, whylen, w < 0 && fd >= 0 ? -errno : -EIO, "writing %s failed", name);
		else
			done += (size_t)w;
	}
	if (rc)
		store_unlink(st, dir, leaf); /* before the release: it is dropped, not sealed */
	store_release(st, h);
	if (rc == 0) {
		n = store_getxattr(st, a.id, "user.fabric.xxh3", sealed, sizeof(sealed) - 1);
		sealed[n > 0 ? n : 0] = '\0';
		if (n <= 0)
			rc = text_say(why, whylen, -EIO, "%s could not be sealed; see the daemon log", name);
		else if (xxh3 && strcmp(sealed, xxh3) != 0) {
			store_unlink(st, dir, leaf);
			rc = text_say(why, whylen, -EIO, "%s: its bytes came changed (xxh3 %s, not %s)", name, sealed, xxh3);
		} else {
			snprintf(res->xxh3, sizeof(res->xxh3), "%.32s", sealed);
			res->size = len;
			res->count = 1;
			res->id = a.id;
		}
	}
	store_forget(st, a.id, 1);
	return rc;
}

/* Open what `file` names as who: 0 with fd, its stat, and whether it is a directory or a tar archive (by
 * its first header), or -errno with why. */
static int open_source(const struct load_caller *who, const char *file, int *fdp, struct stat *sb, bool *dir,
		       bool *tar, char *why, size_t whylen)
{
	unsigned char block[TAR_BLOCK];
	struct load_creds saved;
	int fd, rc;

	if (file[0] != '/') {
		text_say(why, whylen, 0, "FILE must be an absolute path (the daemon does not know your directory): %s", file);
		return -EINVAL;
	}
	load_become(who, &saved);
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* O_NONBLOCK: a FIFO must not hold up the control file */
	rc = fd < 0 ? -errno : 0;
	load_unbecome(&saved);
	if (rc) {
		text_say(why, whylen, 0, "cannot open %s: %s", file, strerror(-rc));
		return rc;
	}
	/* O_NONBLOCK was for the open only: io_uring would answer EAGAIN for an archive not in the page cache
	 * instead of waiting for the disk */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 || fstat(fd, sb) < 0 ||
	    !(S_ISREG(sb->st_mode) || S_ISDIR(sb->st_mode))) {
		text_say(why, whylen, 0, "%s is not a regular file, a directory or a tar archive", file);
		close(fd);
		return -EINVAL;
	}
	*dir = S_ISDIR(sb->st_mode);
	*tar = !*dir && pread(fd, block, sizeof(block), 0) == (ssize_t)sizeof(block) && tar_is_header(block);
	*fdp = fd;
	return 0;
}

/* The many objects of a directory (dir) or an archive opened at fd, into vars/NAME or the directory into;
 * fd is closed. */
static int load_many_of(struct store *st, const struct load_caller *who, const char *name, uint64_t into,
			const char *file, int fd, const struct stat *sb, bool dir, const char *doc, int mode,
			struct load_result *res, char *why, size_t whylen)
{
	int rc = dir ? load_tree(st, who, name, into, file, fd, sb, doc, mode, res, why, whylen)
		     : load_tar(st, who, name, into, file, fd, sb, doc, mode, res, why, whylen);

	close(fd);
	return rc;
}

int load_any(struct store *st, const struct load_caller *who, const char *name, const char *file,
	     const char *type, const char *doc, int mode, struct load_result *res, char *why, size_t whylen)
{
	struct stat sb;
	bool dir, tar;
	int fd, rc;

	memset(res, 0, sizeof(*res));
	rc = open_source(who, file, &fd, &sb, &dir, &tar, why, whylen);
	if (rc)
		return rc;
	if (!dir && !tar) {
		close(fd);
		return load_file(st, who, name, file, type, doc, mode, res, why, whylen);
	}
	if (type) {
		text_say(why, whylen, 0, "type= is for one file, and %s is %s of many; give each its type after "
			 "the load", file, dir ? "a directory" : "a tar archive");
		close(fd);
		return -EINVAL;
	}
	return load_many_of(st, who, name, 0, file, fd, &sb, dir, doc, mode, res, why, whylen);
}

int load_into(struct store *st, const struct load_caller *who, uint64_t dir_id, const char *shown,
	      const char *file, const char *doc, int mode, struct load_result *res, char *why, size_t whylen)
{
	struct stat sb;
	bool dir, tar;
	int fd, rc;

	memset(res, 0, sizeof(*res));
	rc = open_source(who, file, &fd, &sb, &dir, &tar, why, whylen);
	if (rc)
		return rc;
	size_t n = strlen(file);
	if (!dir && !tar && n > 4 && strcmp(file + n - 4, ".tsv") == 0) { /* known by its name: lines are text */
		rc = load_tsv(st, who, shown, dir_id, file, fd, &sb, doc, mode, res, why, whylen);
		close(fd);
		return rc;
	}
	if (!dir && !tar) {
		close(fd);
		return text_say(why, whylen, -EINVAL, "%s takes a directory of files, a tar archive or a FILE.tsv of "
				"KEY<TAB>VALUE lines, and %s is none of them (write one item with cp)", shown, file);
	}
	return load_many_of(st, who, shown, dir_id, file, fd, &sb, dir, doc, mode, res, why, whylen);
}
