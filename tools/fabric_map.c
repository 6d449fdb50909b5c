/* SPDX-License-Identifier: MIT */
/* fabric_map.c -- get_ptr for programs (see fabric.h).  No dependency but libc: programs in any language
 * that can call C (Python's ctypes, Julia's ccall) can use it as it is.
 *
 * Only a variable's own block is mapped directly; both that and the file in the mount start at offset 0.
 * fabric_unmap still rounds down to the page of the pointer, so a later mapping at an offset can reuse it. */
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
	/* The shm object itself when it is the variable's own block (offset 0, same size) and we may open it:
	 * its pages live as long as the mapping.  A small variable packed into a slab block is mapped through
	 * the mount instead, because its pages in the slab are reused after it is removed and moved by
	 * defragment. */
	{
		char shmpath[300];
		struct stat sb;
		snprintf(shmpath, sizeof(shmpath), "/dev/shm/%s", shm);
		fd = open(shmpath, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && (off != 0 || fstat(fd, &sb) < 0 || (unsigned long long)sb.st_size != length)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0) {
		p = map_range(fd, 0, (size_t)length);
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
