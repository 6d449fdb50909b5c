/* SPDX-License-Identifier: MIT */
/* load_tree.c -- `load NAME DIR`: a directory tree from disk becomes NAME/, all or nothing (load_many.h).
 *
 * First the tree is walked, as the caller, and nothing is made: every name is checked against the store's
 * rules, every entry's kind (regular files, directories and symbolic links are taken; FIFOs, devices and
 * sockets are refused, EINVAL), every link's target (load_many_link_ok), and the bytes are added up; the
 * entries of each directory are taken in strcmp order, so two loads of one tree do the same thing in the
 * same order.  Then the objects are made in that order, parents first.  Files that are hard links of each
 * other (one inode under several names) become one variable with several names, as cp -a and tar keep
 * them.
 *
 * A regular file fabric.manifest at the top of DIR is read, not loaded (load_many.h says its lines): each
 * line must name a file of the tree, its type must fit the file's size, its doc STORE_DOC_MAX bytes at
 * most; a second name of a file (a hard link) is the same variable, so one line may describe it.
 *
 * Each file is opened again for its bytes, as the caller, by a reader thread that runs ahead of the
 * store's work (load_ahead.h: it reads small files into buffers meanwhile), with openat2 from DIR's fd,
 * RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS: a directory swapped for a link since the walk cannot lead the open out of DIR;
 * the file must still be the inode the walk saw, with its size, and must not change while it is read
 * (as load_file checks), else the load fails (EIO) and leaves nothing.  Files of LOAD_DIRECT_MIN bytes
 * and more are read with O_DIRECT (disk to shm, no page-cache copy), smaller ones buffered: for them the
 * copy costs less than a read that must go to the disk, and an O_DIRECT open of a file whose pages are
 * still dirty (a tree just written) makes the kernel write them out first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/bulk/load_ahead.h"
#include "core/bulk/load_many.h"
#include "core/text/dtype.h"
#include "core/text/names.h"
#include "core/text/text.h"

#define LOAD_DIRECT_MIN (1u << 20)

struct entry {
	char *path;       /* inside DIR: "a/b" */
	size_t parent;    /* the index of its directory's entry + 1; 0: DIR itself */
	mode_t mode;      /* as lstat says */
	uint64_t size;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	char *target;     /* a symbolic link's */
	size_t same_as;   /* a second name of a file: the index of the inode's first entry + 1; 0: none */
	uint64_t id;      /* once made */
	nlink_t nlink;
	const struct load_note *note; /* its line of fabric.manifest, or NULL */
};

struct tree {
	struct load_many m;
	struct entry *v;
	size_t n, cap;
	uint64_t total, own;
	struct load_note *notes; /* fabric.manifest's lines */
	size_t nnotes;
};

static const char *kind_name(mode_t mode)
{
	return S_ISFIFO(mode) ? "FIFO" : S_ISSOCK(mode) ? "socket" : S_ISCHR(mode) ? "character device"
	       : S_ISBLK(mode) ? "block device" : "file of an unknown kind";
}

static const char *leaf_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The sentence of a refusal about path: the entry's name, then fmt. */
static int say(struct tree *t, int rc, const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int say(struct tree *t, int rc, const char *path, const char *fmt, ...)
{
	char w[2 * PATH_MAX_LEN + 32], rest[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	load_many_what(&t->m, path, w, sizeof(w));
	return text_say(t->m.why, t->m.whylen, rc, "%s%s", w, rest);
}

static int add(struct tree *t, const char *path, size_t parent, const struct stat *sb, size_t *index)
{
	struct entry *e;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct entry *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	e = &t->v[t->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->parent = parent;
	e->mode = sb->st_mode;
	e->size = S_ISREG(sb->st_mode) ? (uint64_t)sb->st_size : 0;
	e->dev = sb->st_dev;
	e->ino = sb->st_ino;
	e->nlink = sb->st_nlink;
	e->mtime = sb->st_mtim;
	*index = t->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd (which this takes over), sorted; *names and each name malloc'd. */
static int names_in(int fd, char ***names, size_t *n)
{
	DIR *d = fdopendir(fd);
	size_t cap = 0;
	struct dirent *de;
	int rc = 0;

	*names = NULL;
	*n = 0;
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	errno = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			char **v = realloc(*names, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			*names = v;
		}
		if (!((*names)[*n] = strdup(de->d_name)))
			rc = -ENOMEM;
		else
			(*n)++;
		errno = 0;
	}
	if (rc == 0 && errno)
		rc = -errno;
	closedir(d);
	if (rc == 0 && *n > 1)
		qsort(*names, *n, sizeof(**names), by_name);
	return rc;
}

/* fabric.manifest in DIR (dfd), as the walk's caller. */
static int read_manifest(struct tree *t, int dfd)
{
	int fd = openat(dfd, LOAD_MANIFEST, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc;

	if (fd < 0)
		return say(t, -errno, LOAD_MANIFEST, ": cannot open it: %s", strerror(errno));
	rc = load_manifest_read(fd, t->m.src, &t->notes, &t->nnotes, t->m.why, t->m.whylen);
	close(fd);
	return rc;
}

/* Walk directory dfd (DIR's entry parent, at path dir: "" for DIR), adding its entries, parents first. */
static int walk(struct tree *t, int dfd, size_t parent, const char *dir)
{
	char **names, path[PATH_MAX_LEN + 1];
	size_t n, i;
	int rc = names_in(dup(dfd), &names, &n);

	if (rc)
		return say(t, rc, dir, ": cannot read the directory: %s", strerror(-rc));
	for (i = 0; rc == 0 && i < n; i++) {
		char why[160];
		struct stat sb;
		size_t index;
		if (snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", names[i]) >= (int)sizeof(path) ||
		    strlen(path) + strlen(t->m.name) + 1 > PATH_MAX_LEN) {
			rc = say(t, -ENAMETOOLONG, dir, ": a path below it is longer than vars/%s/ takes (%d bytes)", t->m.name, PATH_MAX_LEN);
			break;
		}
		rc = names_check_leaf(names[i], why, sizeof(why));
		if (rc) {
			say(t, rc, path, ": its name is refused: %s", why);
			break;
		}
		if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = say(t, -errno, path, ": %s", strerror(errno));
			break;
		}
		if (!parent && S_ISREG(sb.st_mode) && strcmp(names[i], LOAD_MANIFEST) == 0) {
			rc = read_manifest(t, dfd);
			continue;
		}
		if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode) && !S_ISLNK(sb.st_mode)) {
			rc = say(t, -EINVAL, path, " is a %s; load takes regular files, directories and symbolic links",
				 kind_name(sb.st_mode));
			break;
		}
		rc = add(t, path, parent, &sb, &index);
		if (rc) {
			text_say(t->m.why, t->m.whylen, rc, "out of memory");
			break;
		}
		if (S_ISREG(sb.st_mode)) {
			t->total += (uint64_t)sb.st_size;
		} else if (S_ISLNK(sb.st_mode)) {
			char target[STORE_LINK_MAX];
			ssize_t k = readlinkat(dfd, names[i], target, sizeof(target));
			if (k < 0 || k >= (ssize_t)sizeof(target)) {
				rc = say(t, k < 0 ? -errno : -ENAMETOOLONG, path, ": cannot read the link: %s",
					 k < 0 ? strerror(errno) : "its target is too long");
				break;
			}
			target[k] = '\0';
			rc = load_many_link_ok(&t->m, path, target);
			if (rc == 0 && !(t->v[index].target = strdup(target)))
				rc = text_say(t->m.why, t->m.whylen, -ENOMEM, "out of memory");
		} else {
			int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = say(t, -errno, path, ": cannot open the directory: %s", strerror(errno));
				break;
			}
			rc = walk(t, sub, index + 1, path);
			close(sub);
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int by_entry_path(const void *a, const void *b)
{
	return strcmp((*(const struct entry *const *)a)->path, (*(const struct entry *const *)b)->path);
}

/* Each line of fabric.manifest to the variable it names, checked: a file of the tree, a type that fits its
 * size, a doc that is not too long, one line per variable. */
static int apply_manifest(struct tree *t)
{
	struct entry **v = malloc((t->n ? t->n : 1) * sizeof(*v)), key, *kp = &key;
	char m[2 * PATH_MAX_LEN + 64];
	int rc = 0;

	if (!v)
		return text_say(t->m.why, t->m.whylen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < t->n; i++)
		v[i] = &t->v[i];
	if (t->n > 1)
		qsort(v, t->n, sizeof(*v), by_entry_path);
	for (size_t i = 0; rc == 0 && i < t->nnotes; i++) {
		const struct load_note *note = &t->notes[i];
		struct entry **found, *e;
		char err[256];
		struct dtype d;
		snprintf(m, sizeof(m), "%s/" LOAD_MANIFEST " line %u", t->m.src, note->line);
		key.path = note->path;
		found = t->n ? bsearch(&kp, v, t->n, sizeof(*v), by_entry_path) : NULL;
		e = found ? *found : NULL;
		if (e && e->same_as)
			e = &t->v[e->same_as - 1]; /* a second name: the variable is the first name's */
		if (!e)
			rc = text_say(t->m.why, t->m.whylen, -EINVAL, "%s: %s is no file of %s", m, note->path, t->m.src);
		else if (!S_ISREG(e->mode))
			rc = text_say(t->m.why, t->m.whylen, -EINVAL, "%s: %s is a %s; the manifest gives types and docs "
				      "of files", m, note->path, S_ISDIR(e->mode) ? "directory" : "symbolic link");
		else if (e->note)
			rc = text_say(t->m.why, t->m.whylen, -EINVAL, "%s: %s is the file line %u describes already", m,
				      note->path, e->note->line);
		else if (note->type && dtype_parse(note->type, &d, err, sizeof(err)))
			rc = text_say(t->m.why, t->m.whylen, -EINVAL, "%s: type '%s' refused: %s", m, note->type, err);
		else if (note->type && d.nbytes != e->size)
			rc = text_say(t->m.why, t->m.whylen, -EINVAL, "%s: type '%s' is %llu bytes, but %s has %llu", m,
				      note->type, (unsigned long long)d.nbytes, note->path, (unsigned long long)e->size);
		else if (note->doc && strlen(note->doc) > STORE_DOC_MAX)
			rc = text_say(t->m.why, t->m.whylen, -E2BIG, "%s: the doc is longer than %d bytes", m, STORE_DOC_MAX);
		else
			e->note = note;
	}
	free(v);
	return rc;
}

static int by_inode(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x < y ? -1 : x > y; /* the first in walk order first */
}

/* Files with more than one name in the tree: every name after the first becomes a second name of the
 * first's variable; their bytes are counted once.  Then the bytes of the variables of their own blocks. */
static int hard_links(struct tree *t)
{
	struct entry **v = malloc((t->n ? t->n : 1) * sizeof(*v));
	size_t k = 0;

	if (!v)
		return text_say(t->m.why, t->m.whylen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < t->n; i++)
		if (S_ISREG(t->v[i].mode) && t->v[i].nlink > 1)
			v[k++] = &t->v[i];
	if (k > 1)
		qsort(v, k, sizeof(*v), by_inode);
	for (size_t i = 1; i < k; i++) {
		struct entry *first = v[i - 1]->same_as ? &t->v[v[i - 1]->same_as - 1] : v[i - 1];
		if (v[i]->dev == first->dev && v[i]->ino == first->ino) {
			v[i]->same_as = (size_t)(first - t->v) + 1;
			t->total -= v[i]->size;
		}
	}
	free(v);
	for (size_t i = 0; i < t->n; i++)
		if (S_ISREG(t->v[i].mode) && !t->v[i].same_as)
			t->own += load_many_own(t->v[i].size);
	return 0;
}

/* Does entry e take a file of its own to be read (not a directory, link, or second name)? */
static bool has_bytes(const struct entry *e)
{
	return !S_ISDIR(e->mode) && !S_ISLNK(e->mode) && !e->same_as;
}

/* The sentence for entry e's file, which the reader could not give (load_ahead_next's rc and step). */
static int unread(struct tree *t, const struct entry *e, int rc, enum load_ahead_step step)
{
	switch (step) {
	case LOAD_AHEAD_OPEN:
		return say(t, rc, e->path, ": cannot open it: %s", rc == -ELOOP || rc == -EXDEV
			   ? "it, or a directory above it, was replaced since the walk" : strerror(-rc));
	case LOAD_AHEAD_CHANGED:
		return say(t, -EIO, e->path, " changed since the walk; load it again");
	case LOAD_AHEAD_READ:
		return say(t, rc, e->path, ": reading it failed: %s", strerror(-rc));
	case LOAD_AHEAD_CHANGING:
		break;
	}
	return say(t, -EIO, e->path, " changed while it was being loaded; load it again");
}

/* Make entry e; a file's bytes come from the reader (load_ahead.h), in entry order. */
static int make(struct tree *t, struct entry *e, struct load_ahead *ahead)
{
	struct load_many *m = &t->m;
	uint64_t dir = e->parent ? t->v[e->parent - 1].id : m->top;
	const char *leaf = leaf_of(e->path);
	const char *type = e->note ? e->note->type : NULL, *doc = e->note ? e->note->doc : NULL;
	uint32_t mode = load_many_mode(m, e->mode & 0777, !S_ISDIR(e->mode));
	enum load_ahead_step step;
	const void *buf;
	int fd, rc;

	if (S_ISDIR(e->mode))
		return load_many_mkdir(m, dir, leaf, mode, e->path, &e->id);
	if (S_ISLNK(e->mode))
		return load_many_symlink(m, dir, leaf, e->target, e->path);
	if (e->same_as)
		return load_many_link(m, t->v[e->same_as - 1].id, dir, leaf, e->path);
	rc = load_ahead_next(ahead, &buf, &fd, &step);
	if (rc)
		return unread(t, e, rc, step);
	if (buf) /* a small file, read and checked by the reader */
		return load_many_put(m, dir, leaf, mode, buf, e->size, type, doc, e->path, &e->id);
	rc = load_many_var(m, dir, leaf, mode, fd, 0, e->size, type, doc, e->path, &e->id);
	if (rc == 0 && !load_unchanged(fd, e->size, &e->mtime))
		rc = say(t, -EIO, e->path, " changed while it was being loaded; load it again");
	close(fd);
	return rc;
}

/* Make every entry, in order, with the reader ahead of it; the first failure stops both. */
static int make_all(struct tree *t, int root)
{
	struct load_ahead_file *files = calloc(t->n ? t->n : 1, sizeof(*files));
	struct load_ahead *ahead = NULL;
	size_t n = 0;
	int rc;

	if (!files)
		return text_say(t->m.why, t->m.whylen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < t->n; i++) {
		const struct entry *e = &t->v[i];
		if (has_bytes(e))
			files[n++] = (struct load_ahead_file){ .path = e->path, .size = e->size, .dev = e->dev,
							       .ino = e->ino, .mtime = e->mtime,
							       .direct = e->size >= LOAD_DIRECT_MIN };
	}
	rc = load_ahead_start(&t->m, root, files, n, &ahead);
	if (rc)
		text_say(t->m.why, t->m.whylen, rc, "cannot start reading %s: %s", t->m.src, strerror(-rc));
	for (size_t i = 0; rc == 0 && i < t->n; i++)
		rc = make(t, &t->v[i], ahead);
	load_ahead_stop(ahead);
	free(files);
	return rc;
}

int load_tree(struct store *st, const struct load_caller *who, const char *name, uint64_t into, const char *dir,
	      int fd, const struct stat *sb, const char *doc, int mode, struct load_result *res, char *why,
	      size_t whylen)
{
	struct tree *t = calloc(1, sizeof(*t));
	struct load_creds saved;
	int rc;

	if (!t)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	load_many_init(&t->m, st, who, name, into, dir, false, doc, mode, res, why, whylen);
	/* the walk only reads the source: it runs as the caller throughout, and makes nothing in the store */
	load_many_become(&t->m, &saved);
	rc = walk(t, fd, 0, "");
	load_unbecome(&saved);
	if (rc == 0)
		rc = hard_links(t);
	if (rc == 0)
		rc = apply_manifest(t);
	if (rc == 0)
		rc = load_many_begin(&t->m, sb->st_mode & 0777, t->total, t->own);
	if (rc == 0)
		rc = load_many_end(&t->m, make_all(t, fd));
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].path);
		free(t->v[i].target);
	}
	free(t->v);
	load_manifest_free(t->notes, t->nnotes);
	free(t);
	return rc;
}
