/* SPDX-License-Identifier: MIT */
/* mount.c -- the mount point: clearing a dead one, creating the session with the fabric's options, and
 * mounting and unmounting it.
 *
 * Options: default_permissions (the kernel checks modes, so the daemon need not), allow_other (the
 * fabric is for every program on the node), fsname "fabric:STATE" (so `fabric umount`, and anyone
 * reading /proc/mounts, can find the state dir and its daemon), type fuse.fabric.  Always nosuid and
 * nodev (shared memory that anyone may write is no place for either); noexec when asked (--noexec, or
 * -o noexec in fstab).
 *
 * As root the daemon opens /dev/fuse and calls mount(2) itself, then hands the fd to libfuse with
 * fuse_session_custom_io(): passthrough needs both the fd (for its ioctls) and a look at the raw INIT
 * and OPEN replies (passthrough.c).  Without the privilege it falls back to fuse_session_mount. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fs/fs.h"

/* statfs, not stat: the kernel may answer stat from cached attributes, statfs always asks the daemon. */
int fs_clear_dead_mount(const char *mountpoint)
{
	struct statfs sf;

	if (statfs(mountpoint, &sf) == 0)
		return 0;
	if (errno != ENOTCONN)
		return -errno;
	fprintf(stderr, "fabricd: %s was left by a daemon that died; detaching it\n", mountpoint);
	if (umount2(mountpoint, MNT_DETACH) < 0)
		return -errno;
	return statfs(mountpoint, &sf) < 0 ? -errno : 0;
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives inside OPEN, where a sealed variable can refuse it whole. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Every write must reach the daemon (capacity, sealing): no writeback cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Read replies are spliced from the shm block when the kernel allows. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.mkdir = fs_op_mkdir,
	.rmdir = fs_op_rmdir,
	.mknod = fs_op_mknod,
	.symlink = fs_op_symlink,
	.link = fs_op_link,
	.readlink = fs_op_readlink,
	.unlink = fs_op_unlink,
	.rename = fs_op_rename,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.statfs = fs_op_statfs,
	.poll = fs_op_poll,
	.create = fs_op_create,
	.open = fs_op_open,
	.read = fs_op_read,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.release = fs_op_release,
	.fsync = fs_op_fsync,
	.setxattr = fs_op_setxattr,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
	.removexattr = fs_op_removexattr,
};

/* mount(2) on a /dev/fuse fd of our own, so that its ioctls (backing files) are ours to make.
 * Returns the fd, or -errno (-EPERM without CAP_SYS_ADMIN). */
static int mount_own(const char *mountpoint, const char *fsname, bool noexec)
{
	char data[256];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(data, sizeof(data), "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions,allow_other",
		 fd, (unsigned)getuid(), (unsigned)getgid());
	if (mount(fsname, mountpoint, "fuse.fabric", MS_NOSUID | MS_NODEV | (noexec ? MS_NOEXEC : 0), data) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int fs_mount(struct fs *fs, const char *mountpoint, const char *fsname, bool passthrough, bool strict,
	     bool noexec)
{
	static const struct fuse_custom_io io = { .read = fs_io_read, .writev = fs_io_writev };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char *opt = strdup(noexec ? "default_permissions,allow_other,subtype=fabric,noexec" :
				    "default_permissions,allow_other,subtype=fabric"), *name = NULL;
	int rc = -ENOMEM, devfd;

	if (!opt || asprintf(&name, "fsname=%s", fsname) < 0) {
		name = NULL;
		goto out;
	}
	/* escaped: a state dir's path may hold commas */
	if (fuse_opt_add_opt_escaped(&opt, name) || fuse_opt_add_arg(&args, "fabricd") ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, opt))
		goto out;
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!fs->se) {
		rc = -EINVAL;
		goto out;
	}
	devfd = mount_own(mountpoint, fsname, noexec);
	if (devfd >= 0) {
		rc = fuse_session_custom_io(fs->se, &io, devfd);
		if (rc) {
			umount2(mountpoint, MNT_DETACH);
			close(devfd);
			goto out_destroy;
		}
		fs->own_mount = true;
		fs_pt_setup(devfd, passthrough, strict);
	} else {
		fprintf(stderr, "fabricd: mount(2) of /dev/fuse: %s; mounting through fusermount3, without "
				"passthrough\n", strerror(-devfd));
		if (fuse_session_mount(fs->se, mountpoint) != 0) {
			rc = -EIO;
			goto out_destroy;
		}
		fs_pt_setup(-1, passthrough, strict);
	}
	fs->mountpoint = mountpoint;
	rc = 0;
	goto out;
out_destroy:
	fuse_session_destroy(fs->se);
	fs->se = NULL;
out:
	free(name);
	free(opt);
	fuse_opt_free_args(&args);
	return rc;
}

/* With our own mount(2), libfuse's unmount does nothing: detach it ourselves (it may be gone already,
 * when `fabric umount` is what ended the loop). */
void fs_unmount(struct fs *fs)
{
	if (!fs->se)
		return;
	if (fs->own_mount)
		umount2(fs->mountpoint, MNT_DETACH);
	else
		fuse_session_unmount(fs->se);
	fuse_session_destroy(fs->se);
	fs->se = NULL;
}
