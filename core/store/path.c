/* SPDX-License-Identifier: MIT */
/* path.c -- paths under vars/ to store ids (see path.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/text/names.h"
#include "core/store/path.h"

int path_resolve(struct store *st, const char *path, uint64_t *id, struct store_attr *attr)
{
	return path_resolve_at(st, STORE_VARS_ID, path, id, attr);
}

int path_resolve_at(struct store *st, uint64_t from, const char *path, uint64_t *id, struct store_attr *attr)
{
	char buf[PATH_MAX_LEN + 1], *save = NULL, *part;
	uint64_t cur = from;
	int rc;

	if (strlen(path) > PATH_MAX_LEN)
		return -ENAMETOOLONG;
	snprintf(buf, sizeof(buf), "%s", path);
	rc = store_getattr(st, cur, attr);
	for (part = strtok_r(buf, "/", &save); rc == 0 && part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (!attr->dir)
			return -ENOTDIR;
		rc = store_lookup(st, cur, part, attr);
		if (rc == 0) {
			/* give the reference back at once: callers use the id only through store calls that
			 * check it again */
			store_forget(st, attr->id, 1);
			cur = attr->id;
			/* the daemon acts for a caller with its own rights: following a link would let the
			 * caller's text pick what it reads or writes, so a link is refused as O_NOFOLLOW does */
			if (attr->link)
				rc = -ELOOP;
		}
	}
	if (rc == 0)
		*id = cur;
	return rc;
}

const char *path_error(int rc)
{
	return rc == -ELOOP ? "it is, or goes through, a symbolic link, and the fabric does not follow links"
			    : strerror(-rc);
}

int path_parent(struct store *st, const char *path, uint64_t *dir, char *leaf, size_t leaflen)
{
	return path_parent_at(st, STORE_VARS_ID, path, dir, leaf, leaflen);
}

int path_parent_at(struct store *st, uint64_t from, const char *path, uint64_t *dir, char *leaf, size_t leaflen)
{
	char buf[PATH_MAX_LEN + 1], *slash;
	struct store_attr a;
	size_t len = strlen(path);
	int rc;

	if (len > PATH_MAX_LEN)
		return -ENAMETOOLONG;
	snprintf(buf, sizeof(buf), "%s", path);
	while (len > 0 && buf[len - 1] == '/')
		buf[--len] = '\0';
	slash = strrchr(buf, '/');
	if (strlen(slash ? slash + 1 : buf) == 0)
		return -EINVAL;
	if (strlen(slash ? slash + 1 : buf) >= leaflen)
		return -ENAMETOOLONG;
	snprintf(leaf, leaflen, "%s", slash ? slash + 1 : buf);
	if (slash)
		*slash = '\0';
	rc = path_resolve_at(st, from, slash ? buf : "", dir, &a);
	if (rc == 0 && !a.dir)
		rc = -ENOTDIR;
	return rc;
}
