/* SPDX-License-Identifier: MIT */
/* load_manifest.c -- fabric.manifest at the top of a DIR that `load NAME DIR` reads (load_tree.c): the type
 * and doc of its files (see load_many.h).
 *
 * One line per file, fields separated by tabs: its path inside DIR, then type=T and doc=D, each optional,
 * in either order; empty lines and lines starting with '#' are skipped.  A value holds anything but a
 * tab and a newline (no escapes: the doc of a load is one line of text).  The file is read whole, as the
 * caller (load_tree.c opens it during its walk); what it says is checked against the tree by the walk,
 * before anything is made. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bulk/load_many.h"
#include "core/text/text.h"

#define MANIFEST_MAX (16u << 20) /* bytes: far more than types and docs of a million files need */

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct load_note *)a)->path, ((const struct load_note *)b)->path);
}

void load_manifest_free(struct load_note *notes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(notes[i].path);
	free(notes);
}

/* One line (NUL-terminated in place) into *note: 0, or -EINVAL with the sentence. */
static int parse_line(char *line, unsigned lineno, const char *src, struct load_note *note, char *why, size_t whylen)
{
	char *save = NULL, *f = strtok_r(line, "\t", &save);

	memset(note, 0, sizeof(*note));
	note->line = lineno;
	note->path = f;
	for (f = strtok_r(NULL, "\t", &save); f; f = strtok_r(NULL, "\t", &save)) {
		if (strncmp(f, "type=", 5) == 0 && !note->type)
			note->type = f + 5;
		else if (strncmp(f, "doc=", 4) == 0 && !note->doc)
			note->doc = f + 4;
		else
			return text_say(why, whylen, -EINVAL, "%s/" LOAD_MANIFEST " line %u: '%s' is not type=T or doc=D "
					"(each once)", src, lineno, f);
	}
	while (note->path[0] == '.' && note->path[1] == '/')
		note->path += 2; /* "./a" is a */
	return 0;
}

int load_manifest_read(int fd, const char *src, struct load_note **notes, size_t *n, char *why, size_t whylen)
{
	struct load_note *v = NULL;
	size_t len = 0, cap = 0, count = 0, vcap = 0;
	char *buf = NULL, *line, *next;
	unsigned lineno = 0;
	int rc = 0;

	*notes = NULL;
	*n = 0;
	for (;;) { /* the whole file, into one buffer the notes point into */
		if (len == cap) {
			char *b = cap < MANIFEST_MAX ? realloc(buf, (cap = cap ? cap * 2 : 65536) + 1) : NULL;
			if (!b) {
				free(buf);
				return text_say(why, whylen, cap >= MANIFEST_MAX ? -EFBIG : -ENOMEM, "%s/" LOAD_MANIFEST
						" is larger than %u bytes", src, MANIFEST_MAX);
			}
			buf = b;
		}
		ssize_t k = read(fd, buf + len, cap - len);
		if (k < 0) {
			rc = -errno;
			free(buf);
			return text_say(why, whylen, rc, "%s/" LOAD_MANIFEST ": %s", src, strerror(-rc));
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	for (line = buf; rc == 0 && line < buf + len; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : buf + len;
		if (next > line && next[-1] == '\n')
			next[-1] = '\0';
		lineno++;
		if (!*line || *line == '#')
			continue;
		if (count == vcap) {
			struct load_note *w = realloc(v, (vcap += 256) * sizeof(*w));
			if (!w) {
				rc = text_say(why, whylen, -ENOMEM, "out of memory");
				break;
			}
			v = w;
		}
		rc = parse_line(line, lineno, src, &v[count], why, whylen);
		if (rc == 0)
			count++;
	}
	/* the notes point into buf: each path is copied, with its type and doc after it, so buf can go */
	for (size_t i = 0; rc == 0 && i < count; i++) {
		size_t pl = strlen(v[i].path) + 1, tl = v[i].type ? strlen(v[i].type) + 1 : 0;
		size_t dl = v[i].doc ? strlen(v[i].doc) + 1 : 0;
		char *p = malloc(pl + tl + dl);
		if (!p) {
			for (size_t j = 0; j < i; j++)
				free(v[j].path);
			rc = text_say(why, whylen, -ENOMEM, "out of memory");
			break;
		}
		memcpy(p, v[i].path, pl);
		if (tl)
			memcpy(p + pl, v[i].type, tl);
		if (dl)
			memcpy(p + pl + tl, v[i].doc, dl);
		v[i].type = tl ? p + pl : NULL;
		v[i].doc = dl ? p + pl + tl : NULL;
		v[i].path = p;
	}
	free(buf);
	if (rc) {
		free(v);
		return rc;
	}
	if (count > 1)
		qsort(v, count, sizeof(*v), by_path);
	for (size_t i = 1; i < count; i++)
		if (strcmp(v[i - 1].path, v[i].path) == 0) {
			rc = text_say(why, whylen, -EINVAL, "%s/" LOAD_MANIFEST " names %s twice (lines %u and %u)", src,
				      v[i].path, v[i - 1].line, v[i].line);
			load_manifest_free(v, count);
			return rc;
		}
	*notes = v;
	*n = count;
	return 0;
}
