/* SPDX-License-Identifier: MIT */
/* floorfs -- the floor of `make bench` (tests/bench/run.sh): a low-level FUSE filesystem that does
 * nothing but answer, so that the fabric's small-file rate can be put beside what FUSE itself allows on
 * the machine.
 *
 *     floorfs MOUNTPOINT        mount, and serve in the foreground until unmounted (umount, fusermount3
 *                               -u) or signalled; prints nothing; on failure one sentence on stderr, exit 1
 *
 * It keeps nothing.  Inode 1 is the root; mkdir and create answer a fresh number from one counter, with
 * FLOOR_DIR set in a directory's, so that getattr can tell the two apart without a table: directories
 * are 0755 and empty, files 0644 and of size 0, whatever mode was asked for.  lookup always answers "no
 * such name" (every name the bench makes is new); write answers the bytes written and stores none;
 * flush, release, unlink and rmdir succeed; a listing holds "." and ".." alone, which is all `rm -rf`
 * needs to remove a directory of the bench (FUSE leaves emptiness to the filesystem).  Anything else is
 * ENOSYS, libfuse's answer to an operation not given.
 *
 * What stays the fabric's, so that only its own work is measured: the session (mount options
 * default_permissions and allow_other, the capabilities fs/mount.c asks for at INIT, no writeback
 * cache), the multi-threaded loop with its settings (fs/main.c), and the cache lifetimes of fs/fs.h: a
 * file just created is not cached at all (a variable being written), a directory's name for an hour and
 * its attributes for a second, an absent name for a second.  No passthrough: every write reaches the
 * daemon.  Each file of the bench is seven requests here, as many as the fabric answers per file (its
 * replies counted with strace): six round trips (GETATTR of the directory, whose attributes a create
 * invalidates and default_permissions needs; LOOKUP; CREATE; GETATTR of the file at open, for
 * default_permissions; WRITE; FLUSH) and a RELEASE that the close does not wait for.
 *
 * tests/ is in no layer of tools/layers, so it may include FUSE. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* fs/fs.h's FS_TTL_SEALED (a directory's name), FS_TTL_DIR (its attributes), FS_TTL_NEGATIVE. */
#define TTL_DIR_NAME 3600.0
#define TTL_DIR_ATTR 1.0
#define TTL_NEGATIVE 1.0
#define FLOOR_DIR (1ULL << 62) /* in the inode number of a directory */

static uint64_t next_ino = 2;

static fuse_ino_t new_ino(int dir)
{
	return __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED) | (dir ? FLOOR_DIR : 0);
}

static void attr_of(fuse_req_t req, fuse_ino_t ino, struct stat *st)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int dir = ino == FUSE_ROOT_ID || (ino & FLOOR_DIR);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = dir ? 2 : 1;
	st->st_uid = ino == FUSE_ROOT_ID ? getuid() : ctx->uid;
	st->st_gid = ino == FUSE_ROOT_ID ? getgid() : ctx->gid;
	st->st_blksize = 4096;
}

static void floor_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = 0, .entry_timeout = TTL_NEGATIVE };

	(void)parent;
	(void)name;
	fuse_reply_entry(req, &e);
}

static void floor_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void floor_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	attr_of(req, ino, &st);
	fuse_reply_attr(req, &st, S_ISDIR(st.st_mode) ? TTL_DIR_ATTR : 0.0);
}

static void floor_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e = { .ino = new_ino(1), .attr_timeout = TTL_DIR_ATTR,
				      .entry_timeout = TTL_DIR_NAME };

	(void)parent;
	(void)name;
	(void)mode;
	attr_of(req, e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void floor_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct fuse_entry_param e = { .ino = new_ino(0) }; /* timeouts 0: a file being written */

	(void)parent;
	(void)name;
	(void)mode;
	attr_of(req, e.ino, &e.attr);
	fi->fh = 0;
	fuse_reply_create(req, &e, fi);
}

static void floor_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_open(req, fi);
}

static void floor_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, size);
}

/* flush, release, fsync, releasedir; unlink and rmdir */
static void floor_ok_fi(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void floor_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	floor_ok_fi(req, ino, fi);
}

static void floor_ok_name(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, 0);
}

/* "." and ".." at offsets 1 and 2, nothing after; in readdirplus with ino 0 in the entry, which tells
 * the kernel that no lookup reference comes with them (as fs/ops_dir.c does). */
static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	static const char *const names[] = { ".", ".." };
	char buf[256];
	size_t used = 0;

	if (size > sizeof(buf))
		size = sizeof(buf);
	for (off_t i = off; i < 2; i++) {
		struct fuse_entry_param e = { .ino = 0 };
		size_t len;

		attr_of(req, i == 0 ? ino : FUSE_ROOT_ID, &e.attr);
		len = plus ? fuse_add_direntry_plus(req, buf + used, size - used, names[i], &e, i + 1)
			   : fuse_add_direntry(req, buf + used, size - used, names[i], &e.attr, i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
}

static void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, 0);
}

static void floor_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			      struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, 1);
}

static void floor_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_blocks = 1 << 20, .f_bfree = 1 << 20,
			      .f_bavail = 1 << 20, .f_files = 1 << 20, .f_ffree = 1 << 20, .f_favail = 1 << 20,
			      .f_namemax = 255 };

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops floor_ops = {
	.init = floor_init,
	.lookup = floor_lookup,
	.forget = floor_forget,
	.forget_multi = floor_forget_multi,
	.getattr = floor_getattr,
	.mkdir = floor_mkdir,
	.rmdir = floor_ok_name,
	.unlink = floor_ok_name,
	.create = floor_create,
	.open = floor_open,
	.write = floor_write,
	.flush = floor_ok_fi,
	.release = floor_ok_fi,
	.fsync = floor_fsync,
	.opendir = floor_open,
	.readdir = floor_readdir,
	.readdirplus = floor_readdirplus,
	.releasedir = floor_ok_fi,
	.statfs = floor_statfs,
};

static int fail(const char *why, const char *mnt)
{
	fprintf(stderr, "floorfs: %s %s\n", why, mnt);
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	char *args_v[] = { "floorfs", "-o", "default_permissions,allow_other,fsname=floorfs,subtype=floorfs", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, args_v);
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	struct stat sb;
	int rc;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: floorfs MOUNTPOINT (serves in the foreground until unmounted)\n");
		return EXIT_FAILURE;
	}
	if (stat(argv[1], &sb) < 0 || !S_ISDIR(sb.st_mode))
		return fail("found no directory to mount on at", argv[1]);
	se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), NULL);
	fuse_opt_free_args(&args);
	if (!se)
		return fail("could not create a FUSE session for", argv[1]);
	if (fuse_set_signal_handlers(se) != 0) {
		fuse_session_destroy(se);
		return fail("could not set the signal handlers for", argv[1]);
	}
	if (fuse_session_mount(se, argv[1]) != 0) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
		return fail("could not mount on", argv[1]);
	}
	loop = fuse_loop_cfg_create();
	if (!loop) {
		rc = -ENOMEM;
	} else {
		fuse_loop_cfg_set_clone_fd(loop, 0);
		fuse_loop_cfg_set_idle_threads(loop, 8);
		rc = fuse_session_loop_mt(se, loop);
		fuse_loop_cfg_destroy(loop);
	}
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	/* 0 when unmounted; a positive number is the signal that ended the loop, an ending asked for too */
	if (rc < 0)
		return fail("stopped serving, on an error, at", argv[1]);
	return EXIT_SUCCESS;
}
