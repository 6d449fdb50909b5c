/* SPDX-License-Identifier: MIT */
/* load_tsv.c -- `dataset put NAME FILE.tsv`: each line KEY<TAB>VALUE of the file an item of the dataset,
 * all or nothing (load_many.h).
 *
 * The format is linear TSV (as PostgreSQL's and MySQL's text dumps write it): a line is two fields
 * separated by one tab; a value holds a tab, a newline, a carriage return or a backslash as \t, \n, \r
 * and \\ (any other backslash is refused: the bytes would be guessed).  An empty line is skipped; the
 * last line needs no newline.  The key is the item's name, so it follows the names' rules (no '/', no
 * control byte, at most 255 bytes, not .tree); a key given twice is refused, naming both lines.
 *
 * Two passes over the file, mapped read-only: the first checks every line and adds up the bytes, so a
 * bad line is refused before anything is made and a put that cannot fit is refused up front; the second
 * makes the items in the file's order: a small value straight into slab pages (load_many_put), a larger
 * one through a memfd holding its decoded bytes (load_many_var reads a file). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/bulk/load_many.h"
#include "core/text/names.h"
#include "core/text/text.h"

struct tsv_line {
	const char *key, *val; /* into the mapping */
	size_t keylen, vallen;  /* vallen: as written, escapes and all */
	uint64_t size;          /* the value's bytes once decoded */
	unsigned no;            /* its line number */
};

/* The decoded length of the value at v (n bytes as written), or -EINVAL with the sentence. */
static int64_t decoded_len(const char *v, size_t n, const char *file, unsigned no, char *why, size_t whylen)
{
	int64_t len = 0;

	for (size_t i = 0; i < n; i++, len++) {
		if (v[i] == '\t')
			return text_say(why, whylen, -EINVAL, "%s, line %u: more than two fields (KEY<TAB>VALUE; write a "
					"tab in a value as \\t)", file, no);
		if (v[i] != '\\')
			continue;
		if (i + 1 == n || !strchr("tnr\\", v[i + 1]))
			return text_say(why, whylen, -EINVAL, "%s, line %u: a backslash must start \\t, \\n, \\r or \\\\ "
					"(write a backslash as \\\\)", file, no);
		i++;
	}
	return len;
}

static void decode(const char *v, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] != '\\') {
			*out++ = v[i];
			continue;
		}
		i++;
		*out++ = v[i] == 't' ? '\t' : v[i] == 'n' ? '\n' : v[i] == 'r' ? '\r' : '\\';
	}
}

static int by_key(const void *a, const void *b)
{
	const struct tsv_line *x = *(const struct tsv_line *const *)a, *y = *(const struct tsv_line *const *)b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->key, y->key, n);

	return c ? c : x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

/* Every line of the n bytes at p into *lines (malloc'd), checked; 0 or -errno with the sentence. */
static int parse(const char *p, size_t n, const char *file, struct tsv_line **lines, size_t *count, char *why,
		 size_t whylen)
{
	struct tsv_line *v = NULL;
	size_t cap = 0, k = 0;
	unsigned no = 0;

	for (size_t at = 0; at < n;) {
		const char *line = p + at, *nl = memchr(line, '\n', n - at);
		size_t len = nl ? (size_t)(nl - line) : n - at;
		at += len + (nl != NULL);
		no++;
		if (len == 0)
			continue;
		const char *tab = memchr(line, '\t', len);
		if (!tab) {
			free(v);
			return text_say(why, whylen, -EINVAL, "%s, line %u: no tab (a line is KEY<TAB>VALUE)", file, no);
		}
		if (k == cap) {
			struct tsv_line *w = realloc(v, (cap = cap ? cap * 2 : 1024) * sizeof(*v));
			if (!w) {
				free(v);
				return text_say(why, whylen, -ENOMEM, "out of memory");
			}
			v = w;
		}
		struct tsv_line *l = &v[k];
		*l = (struct tsv_line){ line, tab + 1, (size_t)(tab - line), len - (size_t)(tab - line) - 1, 0, no };
		char key[NAMES_LEAF_MAX + 2], sentence[256];
		if (l->keylen == 0 || l->keylen > NAMES_LEAF_MAX || memchr(line, '\0', l->keylen)) {
			free(v);
			return text_say(why, whylen, -EINVAL, "%s, line %u: a key is 1 to %d bytes", file, no,
					NAMES_LEAF_MAX);
		}
		memcpy(key, line, l->keylen);
		key[l->keylen] = '\0';
		if (names_check_leaf(key, sentence, sizeof(sentence)) != 0) {
			free(v);
			return text_say(why, whylen, -EINVAL, "%s, line %u: key '%s': %s", file, no, key, sentence);
		}
		int64_t size = decoded_len(l->val, l->vallen, file, no, why, whylen);
		if (size < 0) {
			free(v);
			return (int)size;
		}
		l->size = (uint64_t)size;
		k++;
	}
	*lines = v;
	*count = k;
	return 0;
}

/* A key on two lines: refused, naming both. */
static int duplicates(struct tsv_line *v, size_t n, const char *file, char *why, size_t whylen)
{
	struct tsv_line **order = malloc((n ? n : 1) * sizeof(*order));
	int rc = 0;

	if (!order)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		order[i] = &v[i];
	qsort(order, n, sizeof(*order), by_key);
	for (size_t i = 1; i < n && rc == 0; i++)
		if (by_key(&order[i - 1], &order[i]) == 0) {
			unsigned a = order[i - 1]->no, b = order[i]->no;
			rc = text_say(why, whylen, -EINVAL, "%s: key '%.*s' is on line %u and on line %u (an item has one "
				      "value)", file, (int)order[i]->keylen, order[i]->key, a < b ? a : b, a < b ? b : a);
		}
	free(order);
	return rc;
}

/* One item: its decoded bytes into slab pages, or a memfd for a large one. */
static int make(struct load_many *m, const struct tsv_line *l, uint32_t mode)
{
	char key[NAMES_LEAF_MAX + 1];
	char *buf = malloc(l->size ? l->size : 1);
	int rc, fd;

	if (!buf)
		return text_say(m->why, m->whylen, -ENOMEM, "out of memory");
	memcpy(key, l->key, l->keylen);
	key[l->keylen] = '\0';
	decode(l->val, l->vallen, buf);
	if (load_many_small(m, l->size)) {
		rc = load_many_put(m, m->top, key, mode, buf, l->size, NULL, NULL, key, NULL);
		free(buf);
		return rc;
	}
	fd = memfd_create("fabric-tsv", MFD_CLOEXEC);
	rc = fd < 0 ? -errno : 0;
	for (uint64_t done = 0; rc == 0 && done < l->size;) {
		ssize_t w = write(fd, buf + done, l->size - done);
		if (w < 0)
			rc = -errno;
		done += w > 0 ? (uint64_t)w : 0;
	}
	free(buf);
	if (rc)
		rc = text_say(m->why, m->whylen, rc, "%s, line %u (key %s): cannot stage its value: %s", m->src, l->no,
			      key, strerror(-rc));
	else
		rc = load_many_var(m, m->top, key, mode, fd, 0, l->size, NULL, NULL, key, NULL);
	if (fd >= 0)
		close(fd);
	return rc;
}

int load_tsv(struct store *st, const struct load_caller *who, const char *name, uint64_t into, const char *file,
	     int fd, const struct stat *sb, const char *doc, int mode, struct load_result *res, char *why,
	     size_t whylen)
{
	size_t n = (size_t)sb->st_size, count = 0;
	struct tsv_line *lines = NULL;
	uint64_t total = 0, own = 0;
	struct load_many m;
	void *p = NULL;
	int rc;

	if (n && (p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
		return text_say(why, whylen, -errno, "cannot read %s: %s", file, strerror(errno));
	rc = parse(p, n, file, &lines, &count, why, whylen);
	if (rc == 0)
		rc = duplicates(lines, count, file, why, whylen);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		total += lines[i].size;
		own += load_many_own(lines[i].size);
	}
	load_many_init(&m, st, who, name, into, file, true, doc, mode, res, why, whylen);
	m.lines = true;
	if (rc == 0)
		rc = load_many_begin(&m, 0777, total, own);
	if (rc == 0) {
		uint32_t item_mode = load_many_mode(&m, 0666, true);
		for (size_t i = 0; rc == 0 && i < count; i++)
			rc = make(&m, &lines[i], item_mode);
		if (rc == 0 && !load_unchanged(fd, (uint64_t)sb->st_size, &sb->st_mtim))
			rc = text_say(why, whylen, -EIO, "%s changed while it was being put; put it again", file);
		rc = load_many_end(&m, rc);
	}
	free(lines);
	if (p)
		munmap(p, n);
	return rc;
}
