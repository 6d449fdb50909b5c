/* SPDX-License-Identifier: MIT */
/* shm.c -- shm blocks (see shm.h).
 *
 * Block names are made from the state dir's node name and a random instance id, so two fabrics with the
 * same node name on one machine (two test runs, say) never sweep each other's blocks as orphans. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/os/shm.h"

int shm_prefix(const char *node, const char *inst, char *buf, size_t len)
{
	int n = snprintf(buf, len, "fabric.%s.%s.", node, inst);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

void shm_new_instance(char inst[9])
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	snprintf(inst, 9, "%08x", r);
}

int shm_block_name(const char *prefix, uint64_t id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%llu", prefix, (unsigned long long)id);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static int open_named(const char *name, int flags, int *fd)
{
	char path[SHM_NAME_MAX + 1];

	snprintf(path, sizeof(path), "/%s", name);
	*fd = shm_open(path, flags | O_CLOEXEC, 0600);
	return *fd < 0 ? -errno : 0;
}

int shm_create(const char *name, int *fd)
{
	return open_named(name, O_RDWR | O_CREAT | O_EXCL, fd);
}

int shm_open_block(const char *name, int *fd)
{
	return open_named(name, O_RDWR, fd);
}

int shm_remove(const char *name)
{
	char path[SHM_NAME_MAX + 1];

	snprintf(path, sizeof(path), "/%s", name);
	if (shm_unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int shm_each(const char *prefix, int (*fn)(void *arg, const char *name), void *arg)
{
	size_t plen = strlen(prefix);
	struct dirent *de;
	DIR *d = opendir(SHM_DIR);
	int rc = 0;

	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, plen) == 0)
			rc = fn(arg, de->d_name);
	closedir(d);
	return rc;
}

int shm_fs_size(uint64_t *bytes)
{
	struct statvfs sv;

	if (statvfs(SHM_DIR, &sv) < 0)
		return -errno;
	*bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	return 0;
}
