/* SPDX-License-Identifier: MIT */
/* store_helpers.h -- small steps the store's unit tests share: make a sealed variable, read an xattr as a
 * string.  A failure counts as a failed check (tests/check.h). */
#ifndef FABRIC_TESTS_STORE_HELPERS_H
#define FABRIC_TESTS_STORE_HELPERS_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "core/store/store.h"
#include "tests/check.h"

/* A sealed variable dir/name holding len bytes of data; its id, or 0 on failure. */
static uint64_t mkvar(struct store *st, uint64_t dir, const char *name, const void *data, size_t len)
{
	struct store_handle *h = NULL;
	struct store_attr a;
	int rc = store_create(st, dir, name, 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a, &h);

	if (rc) {
		fprintf(stderr, "store_create %s: %d\n", name, rc);
		check_failures++;
		return 0;
	}
	if (len && store_write(st, h, data, len, 0) != (ssize_t)len) {
		fprintf(stderr, "store_write %s failed\n", name);
		check_failures++;
	}
	store_release(st, h);
	return a.id;
}

/* getxattr into buf as a NUL-terminated string; its length or -errno. */
static ssize_t xget(struct store *st, uint64_t id, const char *name, char *buf, size_t len)
{
	ssize_t n = store_getxattr(st, id, name, buf, len - 1);

	buf[n >= 0 ? n : 0] = '\0';
	return n;
}

#endif
