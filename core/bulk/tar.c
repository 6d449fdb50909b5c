/* SPDX-License-Identifier: MIT */
/* tar.c -- a tar archive member by member (see tar.h).
 *
 * A member is one or more 512-byte headers, then its data padded to 512 bytes.  The headers before the
 * member's own one carry what its 100-byte fields cannot: a GNU 'L' (long name) or 'K' (long link name)
 * entry, whose data is the name; a pax 'x' entry, whose data is "LEN key=value\n" records.  They apply to
 * the next member only, pax winning over GNU winning over the header (POSIX's order).  A pax 'g' entry
 * applies to the rest of the archive; of its keys this reader would use none, so it is skipped.  The end
 * is a block of zeros (tar writes two; one is enough to tell).  Field layout (POSIX.1-2017, pax):
 *   name 0/100, mode 100/8, uid 108/8, gid 116/8, size 124/12, mtime 136/12, chksum 148/8, typeflag 156,
 *   linkname 157/100, magic 257/6, version 263/2, uname, gname, devmajor, devminor, prefix 345/155.
 * GNU's magic is "ustar  \0" and its bytes at 345 are times, not a prefix. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bulk/tar.h"
#include "core/text/text.h"

#define F_NAME 0
#define F_MODE 100
#define F_SIZE 124
#define F_CHKSUM 148
#define F_TYPE 156
#define F_LINK 157
#define F_MAGIC 257
#define F_PREFIX 345

static bool posix_magic(const unsigned char *b)
{
	return memcmp(b + F_MAGIC, "ustar\0", 6) == 0;
}

static bool gnu_magic(const unsigned char *b)
{
	return memcmp(b + F_MAGIC, "ustar  \0", 8) == 0;
}

/* An octal field: digits, leading blanks, ended by a blank or NUL or the field's end. */
static int octal(const unsigned char *f, size_t n, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (*v >> 61)
			return -EINVAL;
		*v = *v * 8 + (uint64_t)(f[i] - '0');
	}
	return i < n && f[i] != ' ' && f[i] != '\0' ? -EIO : 0;
}

/* A number field: octal, or GNU's base-256 (high bit of the first byte set: the bits after the next,
 * which is the sign, big-endian). */
static int number(const unsigned char *f, size_t n, uint64_t *v)
{
	if (!(f[0] & 0x80))
		return octal(f, n, v);
	if (f[0] & 0x40)
		return -EINVAL; /* negative */
	*v = f[0] & 0x3f;
	for (size_t i = 1; i < n; i++) {
		if (*v >> 55)
			return -EINVAL;
		*v = *v << 8 | f[i];
	}
	return 0;
}

bool tar_is_header(const unsigned char *b)
{
	uint64_t want, sum = 0;
	int64_t ssum = 0;

	if (!posix_magic(b) && !gnu_magic(b))
		return false;
	if (octal(b + F_CHKSUM, 8, &want) != 0)
		return false;
	/* the sum of the header's bytes with the checksum field taken as blanks; old tars summed signed chars */
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		unsigned char c = i >= F_CHKSUM && i < F_CHKSUM + 8 ? ' ' : b[i];
		sum += c;
		ssum += (signed char)c;
	}
	return want == sum || (int64_t)want == ssum;
}

void tar_start(struct tar *t, int fd, uint64_t len)
{
	t->fd = fd;
	t->len = len;
	t->next = 0;
}

static uint64_t padded(uint64_t n)
{
	return (n + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

/* Read exactly n bytes at off: 0, or -EIO when the archive is shorter (cut short). */
static int read_at(const struct tar *t, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(t->fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		got += (size_t)k;
	}
	return 0;
}

/* A name field of n bytes, NUL-terminated only when shorter. */
static void field_str(char *dst, const unsigned char *f, size_t n)
{
	size_t len = strnlen((const char *)f, n);

	memcpy(dst, f, len);
	dst[len] = '\0';
}

/* The data of an extended entry (its size bytes at off), NUL-terminated, malloc'd. */
static int entry_data(const struct tar *t, uint64_t off, uint64_t size, uint64_t max, char **out, char *why,
		      size_t whylen)
{
	char *buf;
	int rc;

	if (size > max)
		return text_say(why, whylen, size > TAR_PAX_MAX ? -EINVAL : -ENAMETOOLONG, "the extended header at "
				"offset %llu holds %llu bytes, more than the %llu this load takes",
				(unsigned long long)(off - TAR_BLOCK), (unsigned long long)size, (unsigned long long)max);
	buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	rc = read_at(t, buf, size, off);
	if (rc) {
		free(buf);
		return text_say(why, whylen, rc, "the archive is cut short inside the extended header at offset %llu",
				(unsigned long long)(off - TAR_BLOCK));
	}
	buf[size] = '\0';
	*out = buf;
	return 0;
}

/* What extended headers say about the next member. */
struct ext {
	char *path, *link; /* malloc'd, or NULL */
	bool has_size;
	uint64_t size;
};

static int set_str(char **dst, const char *v, size_t n, uint64_t at, char *why, size_t whylen)
{
	if (n > TAR_PATH_MAX)
		return text_say(why, whylen, -ENAMETOOLONG, "the extended header at offset %llu gives a name of %zu "
				"bytes, more than %d", (unsigned long long)at, n, TAR_PATH_MAX);
	free(*dst);
	*dst = strndup(v, n);
	return *dst ? 0 : -ENOMEM;
}

/* The records "LEN key=value\n" of a pax 'x' header: path, linkpath and size are taken, the rest ignored. */
static int pax_records(const char *d, size_t n, uint64_t at, struct ext *x, char *why, size_t whylen)
{
	size_t i = 0;

	while (i < n) {
		size_t len = 0, j = i;
		const char *key, *eq, *end;
		while (j < n && d[j] >= '0' && d[j] <= '9' && len < n)
			len = len * 10 + (size_t)(d[j++] - '0');
		if (j == i || j >= n || d[j] != ' ' || len <= j - i || len > n - i || d[i + len - 1] != '\n')
			return text_say(why, whylen, -EIO, "the pax header at offset %llu is malformed (a record at byte "
					"%zu)", (unsigned long long)at, i);
		key = d + j + 1;
		end = d + i + len - 1; /* the newline */
		eq = memchr(key, '=', (size_t)(end - key));
		if (!eq)
			return text_say(why, whylen, -EIO, "the pax header at offset %llu is malformed (a record "
					"without '=')", (unsigned long long)at);
		size_t klen = (size_t)(eq - key), vlen = (size_t)(end - eq - 1);
		int rc = 0;
		if (klen == 4 && memcmp(key, "path", 4) == 0) {
			rc = set_str(&x->path, eq + 1, vlen, at, why, whylen);
		} else if (klen == 8 && memcmp(key, "linkpath", 8) == 0) {
			rc = set_str(&x->link, eq + 1, vlen, at, why, whylen);
		} else if (klen == 4 && memcmp(key, "size", 4) == 0) {
			uint64_t v = 0;
			size_t k = 0;
			for (; k < vlen && eq[1 + k] >= '0' && eq[1 + k] <= '9' && !(v >> 59); k++)
				v = v * 10 + (uint64_t)(eq[1 + k] - '0');
			if (k == 0 || k != vlen)
				return text_say(why, whylen, -EIO, "the pax header at offset %llu gives a bad size",
						(unsigned long long)at);
			x->has_size = true;
			x->size = v;
		}
		if (rc)
			return rc;
		i += len;
	}
	return 0;
}

static void ext_free(struct ext *x)
{
	free(x->path);
	free(x->link);
	memset(x, 0, sizeof(*x));
}

static bool zeros(const unsigned char *b)
{
	for (size_t i = 0; i < TAR_BLOCK; i++)
		if (b[i])
			return false;
	return true;
}

int tar_next(struct tar *t, struct tar_member *m, char *why, size_t whylen)
{
	unsigned char b[TAR_BLOCK];
	struct ext x = { 0 };
	uint64_t size, mode, first = t->next;
	int rc;

	for (;;) {
		uint64_t at = t->next;
		char *data = NULL;
		rc = read_at(t, b, TAR_BLOCK, at);
		if (rc) {
			text_say(why, whylen, rc, rc == -EIO ? "the archive is cut short: it ends at byte %llu, where a "
				 "header or its end-of-archive block should be" : "reading the header at offset %llu "
				 "failed", (unsigned long long)(rc == -EIO ? t->len : at));
			break;
		}
		if (zeros(b)) {
			rc = 0; /* the end; whatever follows (the second zero block, the record's padding) is not read */
			break;
		}
		if (!tar_is_header(b)) {
			rc = text_say(why, whylen, -EIO, "the header at offset %llu is damaged (its checksum or magic is "
				      "wrong)", (unsigned long long)at);
			break;
		}
		rc = number(b + F_SIZE, 12, &size);
		if (rc) {
			text_say(why, whylen, rc, "the header at offset %llu gives a %s size", (unsigned long long)at,
				 rc == -EIO ? "malformed" : "negative or too large");
			break;
		}
		char type = (char)b[F_TYPE];
		if (x.has_size && type != 'x' && type != 'g' && type != 'L' && type != 'K')
			size = x.size;
		if (type == '1' || type == '2')
			size = 0; /* POSIX: the size of a link is taken as zero */
		uint64_t data_at = at + TAR_BLOCK;
		if (size > t->len || data_at > t->len - size) {
			field_str(m->path, b + F_NAME, 100);
			rc = text_say(why, whylen, -EIO, "the archive is cut short: member '%s' needs %llu bytes from "
				      "offset %llu, but the archive ends at %llu", x.path ? x.path : m->path,
				      (unsigned long long)size, (unsigned long long)data_at, (unsigned long long)t->len);
			break;
		}
		t->next = data_at + padded(size);
		if (type == 'g')
			continue;
		if (type == 'x' || type == 'L' || type == 'K') {
			rc = entry_data(t, data_at, size, type == 'x' ? TAR_PAX_MAX : TAR_PATH_MAX + 1, &data, why, whylen);
			if (rc == 0 && type == 'x')
				rc = pax_records(data, size, at, &x, why, whylen);
			else if (rc == 0 && !(type == 'L' ? x.path : x.link)) /* pax wins over GNU */
				rc = set_str(type == 'L' ? &x.path : &x.link, data, strlen(data), at, why, whylen);
			free(data);
			if (rc)
				break;
			continue;
		}
		/* the member's own header */
		if (x.path)
			snprintf(m->path, sizeof(m->path), "%s", x.path);
		else if (posix_magic(b) && b[F_PREFIX]) {
			char prefix[156], name[101];
			field_str(prefix, b + F_PREFIX, 155);
			field_str(name, b + F_NAME, 100);
			snprintf(m->path, sizeof(m->path), "%s/%s", prefix, name);
		} else
			field_str(m->path, b + F_NAME, 100);
		if (x.link)
			snprintf(m->link, sizeof(m->link), "%s", x.link);
		else
			field_str(m->link, b + F_LINK, 100);
		rc = octal(b + F_MODE, 8, &mode);
		if (rc) {
			text_say(why, whylen, -EIO, "member '%s': its header's mode is malformed", m->path);
			rc = -EIO;
			break;
		}
		m->type = type;
		m->mode = (uint32_t)(mode & 07777);
		m->size = size;
		m->data = data_at;
		m->header = first;
		rc = 1;
		break;
	}
	ext_free(&x);
	return rc;
}
