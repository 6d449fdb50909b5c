/* SPDX-License-Identifier: MIT */
/* passthrough.c -- the zero-copy data path: FUSE passthrough onto each variable's shm block.
 *
 * DESIGN
 * With passthrough (Linux 6.9+), an open file of a FUSE inode is backed by a file the daemon names (a
 * "backing id" made with an ioctl on /dev/fuse), and the kernel sends its read, write, splice and mmap
 * straight to that file: a program that maps /fabric/vars/x maps the shm pages themselves.  Debian's
 * libfuse 3.14 knows nothing of it, so this file works beside libfuse, through fuse_session_custom_io():
 *   - fs_io_read sees every request first: it remembers, per worker thread, the unique id of the request
 *     being handled (fs_pt_current_unique), and notes the kernel's INIT flags;
 *   - fs_io_writev sees every reply last: it sets FUSE_INIT_EXT, FUSE_PASSTHROUGH and max_stack_depth in
 *     the INIT reply, and for an OPEN/CREATE reply whose unique has a registered patch, sets
 *     FOPEN_PASSTHROUGH and the backing id in its fuse_open_out.
 * The INIT reply also takes FUSE_HANDLE_KILLPRIV_V2 (libfuse 3.14 has no name for it): without it the
 * kernel asks the daemon for security.capability (a FUSE round trip) at every write and truncate, to
 * know whether to drop privileges; with it the file system says it does that itself, and the fabric does
 * it by never keeping setuid or setgid bits on a variable (store_create, store_setattr).  Measured: the
 * getxattr round trips were ~8% of a task's cp into the fabric.
 * The kernel's rules, measured here (see DESIGN.md): one backing id per inode, held from the first open
 * until the inode's last release; all open files of an inode agree (passthrough beside a cached open is
 * EIO); no FOPEN_KEEP_CACHE with passthrough.  So each inode with open files has one struct pt_inode:
 * its mode is decided by its first open and followed by the rest until the last release.
 *
 * Modes: PASSTHROUGH (dedicated shm block, passthrough negotiated); DIRECT (--strict-seal writers: every
 * write goes through the daemon, a writer's mmap fails with ENODEV, a sealed variable can never change);
 * CACHED (ordinary FUSE reads from the page cache; packed small objects, or no passthrough). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/fuse_ext.h"

struct pt_inode {
	uint64_t ino;
	enum fs_open_mode mode;
	int32_t backing_id;
	unsigned nopen;
	struct pt_inode *next;
};

struct patch {
	uint64_t unique;
	int32_t backing_id; /* 0: none, only open_flags */
	uint32_t open_flags; /* FOPEN_* libfuse 3.14 cannot set, added to the reply */
};

#define PT_BUCKETS 4096

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int devfd;       /* /dev/fuse when we mounted it ourselves, else -1 */
	bool wanted;     /* not --no-passthrough */
	bool strict;     /* --strict-seal */
	bool init_seen;  /* the INIT reply went out */
	bool kernel_can; /* the kernel offered FUSE_PASSTHROUGH in INIT */
	bool killpriv2;  /* the kernel offered FUSE_HANDLE_KILLPRIV_V2 */
	bool active;     /* negotiated and probed: opens may use it */
	char datapath[256];
	uint64_t init_unique;
	struct patch *patches;
	size_t npatches, cappatches;
	struct pt_inode *inodes[PT_BUCKETS];
} pt = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .devfd = -1 };

static __thread uint64_t current_unique;

uint64_t fs_pt_current_unique(void)
{
	return current_unique;
}

void fs_pt_setup(int devfd, bool wanted, bool strict)
{
	pt.devfd = devfd;
	pt.wanted = wanted;
	pt.strict = strict;
}

ssize_t fs_io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	if (n < (ssize_t)sizeof(*in))
		return n;
	current_unique = in->unique;
	if (in->opcode == FUSE_INIT && n >= (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in))) {
		const struct fuse_init_in *init = (const void *)(in + 1);
		pthread_mutex_lock(&pt.lock);
		pt.init_unique = in->unique;
		pt.kernel_can = (init->flags & FABRIC_FUSE_INIT_EXT) && (init->flags2 & FABRIC_FUSE_PASSTHROUGH2);
		pt.killpriv2 = init->flags & FUSE_HANDLE_KILLPRIV_V2;
		pthread_mutex_unlock(&pt.lock);
	}
	return n;
}

/* Called with pt.lock held: the patch registered for unique, removed from the list; unique 0 when none. */
static struct patch take_patch(uint64_t unique)
{
	for (size_t i = 0; i < pt.npatches; i++) {
		if (pt.patches[i].unique == unique) {
			struct patch p = pt.patches[i];
			pt.patches[i] = pt.patches[--pt.npatches];
			return p;
		}
	}
	return (struct patch){ 0 };
}

/* Called with pt.lock held: remember p for its reply; false when memory runs out. */
static bool add_patch(struct patch p)
{
	if (pt.npatches == pt.cappatches) {
		size_t cap = pt.cappatches ? pt.cappatches * 2 : 64;
		struct patch *np = realloc(pt.patches, cap * sizeof(*np));
		if (np) {
			pt.patches = np;
			pt.cappatches = cap;
		}
	}
	if (pt.npatches == pt.cappatches)
		return false;
	pt.patches[pt.npatches++] = p;
	return true;
}

void fs_pt_open_flags(uint64_t unique, uint32_t flags)
{
	if (unique == 0) /* mounted without our io (fusermount3's way): no reply passes here to patch */
		return;
	pthread_mutex_lock(&pt.lock);
	add_patch((struct patch){ unique, 0, flags });
	pthread_mutex_unlock(&pt.lock);
}

ssize_t fs_io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_out_header *out = iov[0].iov_base;

	(void)userdata;
	if (count >= 2 && out->error == 0) {
		pthread_mutex_lock(&pt.lock);
		if (out->unique == pt.init_unique && !pt.init_seen &&
		    iov[1].iov_len >= sizeof(struct fabric_init_out)) {
			struct fabric_init_out *init = iov[1].iov_base;
			if (pt.killpriv2)
				init->flags |= FUSE_HANDLE_KILLPRIV_V2;
			if (pt.wanted && pt.kernel_can) {
				init->flags |= FABRIC_FUSE_INIT_EXT;
				init->flags2 |= FABRIC_FUSE_PASSTHROUGH2;
				init->max_stack_depth = 1;
			}
		} else if (pt.npatches && iov[1].iov_len >= sizeof(struct fabric_open_out)) {
			struct patch p = take_patch(out->unique);
			/* OPEN's body is the fuse_open_out; CREATE's ends with it */
			struct fabric_open_out *o = (void *)((char *)iov[1].iov_base + iov[1].iov_len - sizeof(*o));
			if (p.unique && p.backing_id > 0) {
				o->open_flags |= FABRIC_FOPEN_PASSTHROUGH;
				o->backing_id = p.backing_id;
			}
			if (p.unique)
				o->open_flags |= p.open_flags;
		}
		pthread_mutex_unlock(&pt.lock);
	}
	{
		ssize_t n = writev(fd, iov, count);
		if (out->unique == pt.init_unique) {
			pthread_mutex_lock(&pt.lock);
			pt.init_seen = true;
			pthread_cond_broadcast(&pt.cond);
			pthread_mutex_unlock(&pt.lock);
		}
		return n;
	}
}

static int backing_open(int fd, int32_t *id)
{
	struct fabric_backing_map map = { .fd = fd };
	int rc = ioctl(pt.devfd, FABRIC_DEV_IOC_BACKING_OPEN, &map);

	if (rc < 0)
		return -errno;
	*id = rc;
	return 0;
}

static void backing_close(int32_t id)
{
	uint32_t u = (uint32_t)id;

	if (ioctl(pt.devfd, FABRIC_DEV_IOC_BACKING_CLOSE, &u) < 0)
		fprintf(stderr, "fabricd: closing backing id %d: %s\n", id, strerror(errno));
}

int fs_pt_wait_ready(double timeout_s, char *why, size_t whylen)
{
	struct timespec until;
	int memfd, rc = 0;
	int32_t id = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)timeout_s;
	pthread_mutex_lock(&pt.lock);
	while (!pt.init_seen && rc == 0)
		rc = pthread_cond_timedwait(&pt.cond, &pt.lock, &until);
	pthread_mutex_unlock(&pt.lock);
	if (!pt.init_seen) {
		snprintf(why, whylen, "the kernel did not send INIT within %.0f s", timeout_s);
		return -ETIMEDOUT;
	}
	/* Probe once with a throwaway file: a kernel that accepted INIT may still refuse backing files. */
	if (!pt.wanted)
		snprintf(pt.datapath, sizeof(pt.datapath), "FUSE read/write (passthrough turned off by --no-passthrough)");
	else if (pt.devfd < 0)
		snprintf(pt.datapath, sizeof(pt.datapath),
			 "FUSE read/write (passthrough needs the daemon to mount /dev/fuse itself, as root)");
	else if (!pt.kernel_can)
		snprintf(pt.datapath, sizeof(pt.datapath),
			 "FUSE read/write (this kernel offers no FUSE passthrough; it needs Linux 6.9+)");
	else if ((memfd = memfd_create("fabric-probe", MFD_CLOEXEC)) < 0)
		snprintf(pt.datapath, sizeof(pt.datapath), "FUSE read/write (memfd_create: %s)", strerror(errno));
	else {
		rc = backing_open(memfd, &id);
		close(memfd);
		if (rc)
			snprintf(pt.datapath, sizeof(pt.datapath),
				 "FUSE read/write (the kernel refused a backing file: %s; passthrough needs "
				 "CAP_SYS_ADMIN)", strerror(-rc));
		else {
			backing_close(id);
			pt.active = true;
			snprintf(pt.datapath, sizeof(pt.datapath), "passthrough%s",
				 pt.strict ? " for readers; writers through the daemon (--strict-seal)"
					   : " (reads, writes and mmap go straight to the shm blocks)");
		}
	}
	return 0;
}

const char *fs_pt_datapath(void)
{
	return pt.datapath[0] ? pt.datapath : "starting";
}

static struct pt_inode **bucket(uint64_t ino)
{
	return &pt.inodes[(ino * 0x9e3779b97f4a7c15ULL) >> 52];
}

enum fs_open_mode fs_pt_open(uint64_t ino, uint64_t unique, int fd, bool writer)
{
	struct pt_inode **b = bucket(ino), *i;
	enum fs_open_mode mode;

	pthread_mutex_lock(&pt.lock);
	for (i = *b; i && i->ino != ino; i = i->next)
		;
	if (!i) {
		i = calloc(1, sizeof(*i));
		if (!i) {
			pthread_mutex_unlock(&pt.lock);
			return FS_OPEN_FAILED;
		}
		i->ino = ino;
		if (writer && pt.strict)
			i->mode = FS_OPEN_DIRECT;
		else if (pt.active && fd >= 0 && backing_open(fd, &i->backing_id) == 0)
			i->mode = FS_OPEN_PASSTHROUGH;
		else
			i->mode = FS_OPEN_CACHED;
		i->next = *b;
		*b = i;
	}
	i->nopen++;
	mode = i->mode;
	if (mode == FS_OPEN_PASSTHROUGH) {
		if (!add_patch((struct patch){ unique, i->backing_id, 0 }))
			mode = FS_OPEN_FAILED; /* cannot patch the reply: it would disagree with the inode */
	}
	if (mode == FS_OPEN_FAILED && --i->nopen == 0) {
		*b = i->next;
		if (i->mode == FS_OPEN_PASSTHROUGH)
			backing_close(i->backing_id);
		free(i);
	}
	pthread_mutex_unlock(&pt.lock);
	return mode;
}

void fs_pt_cancel(uint64_t unique)
{
	pthread_mutex_lock(&pt.lock);
	take_patch(unique);
	pthread_mutex_unlock(&pt.lock);
}

void fs_pt_release(uint64_t ino)
{
	struct pt_inode **pp = bucket(ino), *i;

	pthread_mutex_lock(&pt.lock);
	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	i = *pp;
	if (i && --i->nopen == 0) {
		*pp = i->next;
		if (i->mode == FS_OPEN_PASSTHROUGH)
			backing_close(i->backing_id);
		free(i);
	}
	pthread_mutex_unlock(&pt.lock);
}
