/* SPDX-License-Identifier: MIT */
/* load_tar.c -- `load NAME FILE` where FILE is a tar archive: its members become NAME/'s objects, all or
 * nothing (load_many.h), read with core/bulk/tar.h.
 *
 * Two passes over the headers.  The first makes nothing: it checks every member (its name, its kind, a
 * symbolic link's target) and adds up the bytes, so that an archive with a bad member, or one cut short,
 * is refused before a byte moves, and so that a load that cannot fit is refused up front.  The second
 * makes the objects in the archive's order, reading each file's bytes with io_uring from the archive
 * straight into its variable's block.  The archive is read buffered, not with O_DIRECT: members' data
 * sits at 512-byte offsets, which O_DIRECT does not take on every device, and a read rounded to a block
 * would bring the next header into the variable's last page.
 *
 * Members: files ('0', '\0'; an old-style name ending in '/' is a directory), directories ('5'),
 * symbolic links ('2', only when load_many_link_ok), hard links ('1', to an earlier member: a second
 * name of its object).  Directories the archive does not list but its members' names need are made as
 * mkdir -p would.  A member named "." or "./" is NAME itself.  Refused with EINVAL: any other type, an
 * absolute name, a ".." component, a name the store's rules refuse; an archive cut short or damaged is
 * EIO (tar.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bulk/load_many.h"
#include "core/bulk/tar.h"
#include "core/text/names.h"
#include "core/text/text.h"

struct tarload {
	struct load_many m;
	struct tar t;
	int fd;
	char last_dir[TAR_PATH_MAX + 1]; /* the directory of the previous member, and its id */
	uint64_t last_id;
};

static const char *type_name(char type)
{
	switch (type) {
	case '3': return "character device";
	case '4': return "block device";
	case '6': return "FIFO";
	case '7': return "contiguous file";
	case 'D': return "GNU dump directory";
	case 'M': return "GNU multi-volume continuation";
	case 'N': return "GNU old long name";
	case 'S': return "GNU sparse file";
	case 'V': return "volume label";
	case 'X': return "Solaris extended header";
	default: return "entry of an unknown type";
	}
}

/* raw as a path inside the tree, into out: "." components and a trailing '/' dropped (*dir: there was
 * one), refused when absolute, with a ".." component, or with a component the store's names refuse.
 * what says what raw is, for the sentence.  "" is the tree's top. */
static int tree_path(struct tarload *L, const char *raw, const char *what, char *out, size_t outlen, bool *dir)
{
	struct load_many *m = &L->m;
	size_t n = 0, rawlen = strlen(raw);
	const char *p = raw;

	*dir = rawlen > 0 && raw[rawlen - 1] == '/';
	out[0] = '\0';
	if (raw[0] == '/')
		return text_say(m->why, m->whylen, -EINVAL, "%s, %s '%s': an absolute name; load takes only names "
				"inside the archive (tar -C DIR -cf, or tar --transform)", m->src, what, raw);
	while (*p) {
		size_t k = strcspn(p, "/");
		char leaf[NAMES_LEAF_MAX + 2], why[160];
		int rc;
		if (k == 2 && p[0] == '.' && p[1] == '.')
			return text_say(m->why, m->whylen, -EINVAL, "%s, %s '%s': a '..' component leads out of the "
					"archive's tree; load refuses it", m->src, what, raw);
		if (k > 0 && !(k == 1 && p[0] == '.')) {
			if (k > NAMES_LEAF_MAX)
				return text_say(m->why, m->whylen, -ENAMETOOLONG, "%s, %s '%s': a component is longer "
						"than %d bytes", m->src, what, raw, NAMES_LEAF_MAX);
			memcpy(leaf, p, k);
			leaf[k] = '\0';
			rc = names_check_leaf(leaf, why, sizeof(why));
			if (rc)
				return text_say(m->why, m->whylen, rc, "%s, %s '%s': its name is refused: %s", m->src, what,
						raw, why);
			if (n + k + 2 > outlen || n + k + 1 + strlen(m->name) + 1 > PATH_MAX_LEN)
				return text_say(m->why, m->whylen, -ENAMETOOLONG, "%s, %s '%s': vars/%s/%s would be "
						"longer than %d bytes", m->src, what, raw, m->name, raw, PATH_MAX_LEN);
			if (n)
				out[n++] = '/';
			memcpy(out + n, leaf, k + 1);
			n += k;
		}
		p += k;
		p += *p == '/';
	}
	return 0;
}

/* Pass 1 for one member: may it be made?  Adds its bytes to *total and *own. */
static int check(struct tarload *L, const struct tar_member *mem, uint64_t *total, uint64_t *own)
{
	char path[TAR_PATH_MAX + 1], link[TAR_PATH_MAX + 1];
	bool dir;
	int rc = tree_path(L, mem->path, "member", path, sizeof(path), &dir);

	if (rc)
		return rc;
	if (mem->type == '5' || ((mem->type == '0' || mem->type == '\0') && dir))
		return 0;
	if (!*path && (mem->type == '0' || mem->type == '\0' || mem->type == '1' || mem->type == '2'))
		return text_say(L->m.why, L->m.whylen, -EINVAL, "%s, member '%s': named as the archive's top "
				"directory, but not a directory", L->m.src, mem->path);
	switch (mem->type) {
	case '0':
	case '\0':
		*total += mem->size;
		*own += load_many_own(mem->size);
		return 0;
	case '2':
		return load_many_link_ok(&L->m, path, mem->link);
	case '1':
		rc = tree_path(L, mem->link, "hard link target", link, sizeof(link), &dir);
		if (rc == 0 && !*link)
			return text_say(L->m.why, L->m.whylen, -EINVAL, "%s, member %s: a hard link to the archive's top "
					"directory", L->m.src, path);
		return rc;
	default:
		return text_say(L->m.why, L->m.whylen, -EINVAL, "%s, member %s: a %s (type '%c'); load takes files, "
				"directories, symbolic and hard links", L->m.src, mem->path, type_name(mem->type),
				mem->type);
	}
}

/* The id of directory `dir` (a path inside the tree; "" is the top), made with its parents when missing. */
static int dir_id(struct tarload *L, const char *dir, uint64_t *id)
{
	char part[TAR_PATH_MAX + 1];
	uint64_t cur = L->m.top;
	const char *p = dir;
	struct store_attr a;
	int rc = 0;

	if (strcmp(dir, L->last_dir) == 0 && L->last_id) {
		*id = L->last_id;
		return 0;
	}
	while (*p) {
		size_t k = strcspn(p, "/");
		char leaf[NAMES_LEAF_MAX + 1];
		memcpy(leaf, p, k);
		leaf[k] = '\0';
		snprintf(part, sizeof(part), "%.*s", (int)(p + k - dir), dir);
		rc = store_lookup(L->m.st, cur, leaf, &a);
		if (rc == 0) {
			store_forget(L->m.st, a.id, 1);
			if (!a.dir)
				return text_say(L->m.why, L->m.whylen, -EINVAL, "%s, member %s: the archive makes it a "
						"directory, but an earlier member made it something else", L->m.src, part);
			cur = a.id;
		} else if (rc == -ENOENT) {
			rc = load_many_mkdir(&L->m, cur, leaf, load_many_mode(&L->m, 0777, false), part, &cur);
			if (rc)
				return rc;
		} else {
			char w[2 * PATH_MAX_LEN];
			return text_say(L->m.why, L->m.whylen, rc, "%s: %s", load_many_what(&L->m, part, w, sizeof(w)),
					strerror(-rc));
		}
		p += k;
		p += *p == '/';
	}
	snprintf(L->last_dir, sizeof(L->last_dir), "%s", dir);
	L->last_id = cur;
	*id = cur;
	return 0;
}

/* A hard link's target: the object an earlier member made at path. */
static int earlier(struct tarload *L, const char *member, const char *path, uint64_t *id)
{
	char buf[TAR_PATH_MAX + 1], *slash;
	uint64_t dir = L->m.top;
	struct store_attr a;
	int rc = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (slash) {
		*slash = '\0';
		rc = path_resolve_at(L->m.st, L->m.top, buf, &dir, &a);
		if (rc == 0 && !a.dir)
			rc = -ENOTDIR;
	}
	if (rc == 0)
		rc = store_lookup(L->m.st, dir, slash ? slash + 1 : buf, &a);
	if (rc)
		return text_say(L->m.why, L->m.whylen, -EINVAL, "%s, member %s: a hard link to '%s', which no earlier "
				"member of the archive is", L->m.src, member, path);
	store_forget(L->m.st, a.id, 1);
	if (a.dir)
		return text_say(L->m.why, L->m.whylen, -EINVAL, "%s, member %s: a hard link to the directory '%s'",
				L->m.src, member, path);
	*id = a.id;
	return 0;
}

/* The next member, with the archive named in tar.h's sentences. */
static int next(struct tarload *L, struct tar_member *mem)
{
	char said[1024];
	int rc = tar_next(&L->t, mem, said, sizeof(said));

	if (rc < 0)
		text_say(L->m.why, L->m.whylen, rc, "%s: %s", L->m.src, said);
	return rc;
}

/* Pass 2 for one member (checked in pass 1). */
static int make(struct tarload *L, const struct tar_member *mem)
{
	char path[TAR_PATH_MAX + 1], target[TAR_PATH_MAX + 1], parent[TAR_PATH_MAX + 1];
	struct load_many *m = &L->m;
	const char *leaf;
	uint64_t dir = 0, id = 0;
	struct store_attr a;
	bool slash, ignored;
	int rc = tree_path(L, mem->path, "member", path, sizeof(path), &slash);
	bool is_dir = mem->type == '5' || ((mem->type == '0' || mem->type == '\0') && slash);

	if (rc)
		return rc;
	if (!*path)
		return 0; /* "./": NAME itself, made already */
	leaf = strrchr(path, '/');
	snprintf(parent, sizeof(parent), "%.*s", leaf ? (int)(leaf - path) : 0, path);
	leaf = leaf ? leaf + 1 : path;
	rc = dir_id(L, parent, &dir);
	if (rc)
		return rc;
	if (is_dir) {
		rc = store_lookup(m->st, dir, leaf, &a);
		if (rc == 0) { /* made already, for an earlier member's name */
			store_forget(m->st, a.id, 1);
			return a.dir ? 0 : text_say(m->why, m->whylen, -EEXIST, "%s, member %s: a directory, but an "
						    "earlier member made it something else", m->src, path);
		}
		return load_many_mkdir(m, dir, leaf, load_many_mode(m, mem->mode, false), path, NULL);
	}
	switch (mem->type) {
	case '2':
		return load_many_symlink(m, dir, leaf, mem->link, path);
	case '1':
		rc = tree_path(L, mem->link, "hard link target", target, sizeof(target), &ignored);
		if (rc == 0)
			rc = earlier(L, path, target, &id);
		return rc ? rc : load_many_link(m, id, dir, leaf, path);
	default:
		return load_many_var(m, dir, leaf, load_many_mode(m, mem->mode, true), L->fd, mem->data, mem->size,
				     NULL, NULL, path, NULL);
	}
}

int load_tar(struct store *st, const struct load_caller *who, const char *name, uint64_t into, const char *file,
	     int fd, const struct stat *sb, const char *doc, int mode, struct load_result *res, char *why,
	     size_t whylen)
{
	struct tarload *L = calloc(1, sizeof(*L));
	struct tar_member *mem = malloc(sizeof(*mem));
	uint64_t total = 0, own = 0;
	int rc;

	if (!L || !mem) {
		free(L);
		free(mem);
		return text_say(why, whylen, -ENOMEM, "out of memory");
	}
	load_many_init(&L->m, st, who, name, into, file, true, doc, mode, res, why, whylen);
	L->fd = fd;
	tar_start(&L->t, fd, (uint64_t)sb->st_size);
	while ((rc = next(L, mem)) > 0 && (rc = check(L, mem, &total, &own)) == 0)
		;
	if (rc == 0)
		rc = load_many_begin(&L->m, 0777, total, own);
	if (rc) {
		free(L);
		free(mem);
		return rc;
	}
	tar_start(&L->t, fd, (uint64_t)sb->st_size);
	while ((rc = next(L, mem)) > 0 && (rc = make(L, mem)) == 0)
		;
	if (rc == 0 && !load_unchanged(fd, (uint64_t)sb->st_size, &sb->st_mtim))
		rc = text_say(why, whylen, -EIO, "%s changed while it was being loaded; load it again", file);
	rc = load_many_end(&L->m, rc < 0 ? rc : 0);
	free(L);
	free(mem);
	return rc;
}
