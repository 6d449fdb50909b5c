/* SPDX-License-Identifier: MIT */
/* tar.h -- reading a tar archive member by member, for `load NAME FILE.tar` (core/bulk/load_tar.c).
 *
 * Formats: POSIX ustar (name and prefix), GNU (long names and link names in 'L' and 'K' entries, sizes in
 * base-256) and pax (extended headers 'x', of which path, linkpath and size are used; global headers 'g'
 * are skipped).  The fabric links no archive library (its libraries are fixed), and a reader of these
 * three is small.  It only reads and parses: which members a load takes, and where they go, is its
 * caller's to decide.  Headers and long names are read with pread; a member's data is left where it is
 * (tar_member.data says where) for the caller to read straight into a variable.
 *
 * Errors: -EIO for an archive that is cut short or damaged (it ends inside a member or without its
 * end-of-archive block, a header's checksum is wrong, a pax record is malformed): the bytes are not what
 * a tar archive holds; -EINVAL and -ENAMETOOLONG for what this reader does not take (a name longer than
 * TAR_PATH_MAX, an extended header of more than TAR_PAX_MAX bytes, a negative size). */
#ifndef FABRIC_CORE_TAR_H
#define FABRIC_CORE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK 512
#define TAR_PATH_MAX 4096        /* bytes in a member's name or link name (PATH_MAX) */
#define TAR_PAX_MAX (1u << 20)   /* bytes in one pax extended header */

struct tar_member {
	char type;                      /* typeflag: '0' (or '\0') file, '1' hard link, '2' symlink, '5' directory, ... */
	char path[TAR_PATH_MAX + 1];    /* as the archive names it (pax path, GNU long name, or prefix/name) */
	char link[TAR_PATH_MAX + 1];    /* hard link: the earlier member's name; symlink: its target */
	uint32_t mode;                  /* permission bits and above, as in the header */
	uint64_t size;                  /* bytes of data (0 for links) */
	uint64_t data;                  /* the archive offset of the data */
	uint64_t header;                /* the archive offset of its first header (extended ones included) */
};

struct tar {
	int fd;
	uint64_t len;  /* the archive's size */
	uint64_t next; /* the offset of the next header */
};

/* Is block (TAR_BLOCK bytes) a tar header: the ustar magic (POSIX or GNU) and a right checksum? */
bool tar_is_header(const unsigned char *block);
/* Read the archive in fd (len bytes) from its start; the fd stays the caller's. */
void tar_start(struct tar *t, int fd, uint64_t len);
/* The next member: 1 with *m filled, 0 at the end of the archive, or -errno (above) with a sentence in
 * why naming the member or the offset. */
int tar_next(struct tar *t, struct tar_member *m, char *why, size_t whylen);

#endif
