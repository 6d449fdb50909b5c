/* SPDX-License-Identifier: MIT */
/* ops_xattr.c -- xattrs of stored objects (kind store, kind.c): user.fabric.* are the object's YP entry
 * (core/store/store_xattr.c); the root (kind root) adds user.fabric.datapath and user.fabric.loads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl/ctl.h"
#include "core/bulk/load.h"
#include "fs/fs.h"

/* The root's user.fabric.datapath says how bytes move on this mount; the FUSE layer alone knows.  Its
 * user.fabric.loads lists the loads in flight (NAME<TAB>DONE<TAB>TOTAL lines) for `fabric put`'s
 * progress bar: an xattr, because the kernel runs writes to /fabric/ctl one at a time, so a second
 * command would wait for the load it asks about. */
#define DATAPATH_XATTR "user.fabric.datapath"
#define LOADS_XATTR "user.fabric.loads"

static struct store *store_of(fuse_req_t req)
{
	return ((struct fs *)fuse_req_userdata(req))->store;
}

void fs_store_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	fuse_reply_err(req, -store_setxattr(store_of(req), ino, name, value, size, flags));
}

void fs_root_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	if (strcmp(name, DATAPATH_XATTR) == 0 || strcmp(name, LOADS_XATTR) == 0)
		fuse_reply_err(req, EPERM);
	else
		fs_store_setxattr(req, ino, name, value, size, flags);
}

/* size 0 asks for the length only (fuse_reply_xattr); otherwise the value itself. */
static void reply_sized(fuse_req_t req, size_t size, ssize_t (*get)(struct store *, uint64_t, const char *,
								      char *, size_t),
			fuse_ino_t ino, const char *name)
{
	char *buf = NULL;
	ssize_t n;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = get(store_of(req), ino, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static int loads_line(void *arg, const char *name, uint64_t done, uint64_t total)
{
	return text_printf(arg, "%s\t%llu\t%llu\n", name, (unsigned long long)done, (unsigned long long)total);
}

void fs_reply_xattr_text(fuse_req_t req, size_t size, const char *text, size_t len)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, text, len);
}

void fs_store_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	reply_sized(req, size, store_getxattr, ino, name);
}

void fs_root_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	if (strcmp(name, DATAPATH_XATTR) == 0) {
		const char *dp = fs_pt_datapath();
		fs_reply_xattr_text(req, size, dp, strlen(dp));
		return;
	}
	if (strcmp(name, LOADS_XATTR) == 0) {
		struct text a = { 0 };
		if (load_each_inflight(loads_line, &a) != 0)
			fuse_reply_err(req, ENOMEM);
		else
			fs_reply_xattr_text(req, size, a.buf ? a.buf : "", a.len);
		text_free(&a);
		return;
	}
	fs_store_getxattr(req, ino, name, size);
}

static ssize_t list_adapter(struct store *st, uint64_t id, const char *name, char *buf, size_t size)
{
	(void)name;
	return store_listxattr(st, id, buf, size);
}

void fs_store_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_sized(req, size, list_adapter, ino, NULL);
}

void fs_root_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char list[1024];
	ssize_t n = store_listxattr(store_of(req), ino, list, sizeof(list) - sizeof(DATAPATH_XATTR));

	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	memcpy(list + n, DATAPATH_XATTR, sizeof(DATAPATH_XATTR));
	fs_reply_xattr_text(req, size, list, (size_t)n + sizeof(DATAPATH_XATTR));
}

void fs_store_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, -store_removexattr(store_of(req), ino, name));
}
