/* SPDX-License-Identifier: MIT */
/* fabric_map.c -- get_ptr for programs (see fabric.h).  No dependency but libc: programs in any language
 * that can call C (Python's ctypes, Julia's ccall) can use it as it is.
 *
 * A mapping must start on a page boundary; a packed variable starts at a page-aligned offset of its slab
 * (see core/slab), but the code does not rely on it: it maps from the page below the offset and hands out
 * a pointer into the mapping.  fabric_unmap finds the mapping's start again the same way. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tools/fabric.h"

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static char *xattr(const char *path, const char *name)
{
	char buf[8192];
	ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* Map [off, off + len) of fd read-only; the pointer is to byte off. */
static const void *map_range(int fd, uint64_t off, size_t len)
{
	size_t delta = (size_t)(off % page());
	char *m;

	if (len == 0)
		return (const void *)"";
	m = mmap(NULL, len + delta, PROT_READ, MAP_SHARED, fd, (off_t)(off - delta));
	return m == MAP_FAILED ? NULL : m + delta;
}

const void *fabric_map(const char *path_or_name, size_t *len, char **type)
{
	char path[4096], *state, *loc;
	const void *p = NULL;
	unsigned long long off = 0, length = 0;
	char node[128], shm[256];
	int fd, saved;

	if (path_or_name[0] == '/' || path_or_name[0] == '.')
		snprintf(path, sizeof(path), "%s", path_or_name);
	else
		snprintf(path, sizeof(path), "%s/vars/%s", getenv("FABRIC") ? getenv("FABRIC") : "/fabric",
			 path_or_name);
	state = xattr(path, "user.fabric.state");
	if (!state) {
		if (errno == ENODATA)
			errno = ENOTSUP;
		return NULL;
	}
	if (strcmp(state, "sealed") != 0) {
		free(state);
		errno = EAGAIN;
		return NULL;
	}
	free(state);
	loc = xattr(path, "user.fabric.locations");
	if (!loc || sscanf(loc, "%127s %255s %llu %llu", node, shm, &off, &length) != 4) {
		free(loc);
		errno = EIO;
		return NULL;
	}
	free(loc);
	/* the shm object itself, when we may open it; else the file in the mount */
	{
		char shmpath[300];
		snprintf(shmpath, sizeof(shmpath), "/dev/shm/%s", shm);
		fd = open(shmpath, O_RDONLY | O_CLOEXEC);
	}
	if (fd >= 0) {
		p = map_range(fd, off, (size_t)length);
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return NULL;
		p = map_range(fd, 0, (size_t)length);
	}
	saved = errno;
	close(fd);
	if (!p) {
		errno = saved;
		return NULL;
	}
	*len = (size_t)length;
	if (type)
		*type = xattr(path, "user.fabric.type");
	return p;
}

int fabric_unmap(const void *ptr, size_t len)
{
	uintptr_t start = (uintptr_t)ptr / page() * page();

	if (len == 0)
		return 0;
	return munmap((void *)start, len + ((uintptr_t)ptr - start));
}
