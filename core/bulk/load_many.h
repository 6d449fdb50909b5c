/* SPDX-License-Identifier: MIT */
/* load_many.h -- one load request that makes many objects under a new directory vars/NAME, all or nothing:
 * what load_tree.c (a directory from disk) and load_tar.c (a tar archive's members) share.
 *
 * ALL OR NOTHING
 * load_many_begin makes NAME; every object made after it is recorded, in order.  A variable is made,
 * sized (the capacity charged up front), filled with io_uring through one ring kept for the whole request,
 * and released with store_release_async: its seal is queued and committed together with the others by the
 * store's sealer thread (group commit: one YP transaction for up to 256 seals instead of one each).
 * load_many_end waits for them once (store_seal_wait) and answers only when every variable is sealed.
 * A failure anywhere (a file that cannot be read, ENOSPC, a bad member, a seal that failed) removes what
 * the request made, newest first: the variable being filled is unlinked before its release, so it drops
 * instead of sealing, as load_file does; those already released (sealed or still queued), the links and
 * the directories are removed by name, NAME last, each only while its name still gives the object made
 * (something another user put into NAME/ meanwhile is left, and the sentence says NAME could not go).
 * Between the first object and the answer, others can see NAME/ grow (a variable whose seal is queued
 * is a future: opens wait for it); after a failure none of it is left.
 *
 * Sentences: every refusal names the member (its path inside DIR or the archive) and fills why. */
#ifndef FABRIC_CORE_LOAD_MANY_H
#define FABRIC_CORE_LOAD_MANY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bulk/loadInt.h"

struct load_made; /* one object the request made (load_many.c) */

struct load_many {
	struct store *st;
	const struct load_caller *who;
	struct load_creds caller; /* who's identity, read once: files are opened with it (load_many_become) */
	const char *name;         /* NAME under vars/, for sentences */
	const char *src;          /* DIR or the archive, for sentences */
	bool archive;             /* src is an archive (members are named "FILE, member PATH") */
	bool lines;               /* ... or a file of lines (a TSV: "FILE, key K") */
	uint64_t top;             /* the id of vars/NAME, or of the directory loaded into */
	uint64_t into;            /* 0, or the existing directory (a dataset) the objects go into */
	uint32_t mask;            /* 0777 less who's umask, read once */
	const char *doc;          /* every variable's doc, or NULL */
	int mode;                 /* every variable's mode, or -1: each member's own bits & mask */
	struct uring_reader *ring;
	void *bounce;             /* LOAD_BOUNCE bytes for small files (load_fill) */
	struct load_inflight progress; /* one entry, NAME, for the whole request */
	struct load_made *made;
	size_t nmade, cap;
	struct load_result *res;
	char *why;
	size_t whylen;
};

/* A request from src (a directory or archive, absolute) for vars/NAME (or, into not 0, for the existing
 * directory into, which load_many_begin then does not make and undo does not remove; NAME names it in
 * sentences): reads who's umask and groups once,
 * changes nothing, so the source can be checked (load_many_link_ok, load_many_what) before anything is
 * made.  Nothing to free until load_many_begin succeeds. */
void load_many_init(struct load_many *m, struct store *st, const struct load_caller *who, const char *name,
		    uint64_t into, const char *src, bool archive, const char *doc, int mode, struct load_result *res,
		    char *why, size_t whylen);
/* Make vars/NAME (mode top_mode & mask): -EEXIST, -EACCES (who may not create names there), -ENOSPC
 * when the bytes that will need blocks of their own (own_bytes: the variables of STORE_SLAB_THRESHOLD and
 * more, which are never packed, charged as the store charges) do not fit in what is free now, so a load
 * that cannot fit fails before it moves a byte.  total is the bytes of all variables, for the progress
 * entry.  On success load_many_end must follow. */
int load_many_begin(struct load_many *m, uint32_t top_mode, uint64_t total, uint64_t own_bytes);
/* The charge own_bytes counts for a variable of size bytes: 0 for one the store packs into a slab. */
uint64_t load_many_own(uint64_t size);
/* How sentences name member: "DIR/a/b" for a tree, "FILE.tar, member a/b" for an archive. */
const char *load_many_what(const struct load_many *m, const char *member, char *buf, size_t len);
/* The mode of a member whose own permission bits are bits: a variable's is mode= when given. */
uint32_t load_many_mode(const struct load_many *m, uint32_t bits, bool var);

/* Objects made in directory dir (an id the request made, or m->top), named leaf; member is the path
 * inside the source, for sentences and the record.  *id (may be NULL) gets the new object's id. */
int load_many_mkdir(struct load_many *m, uint64_t dir, const char *leaf, uint32_t mode, const char *member,
		    uint64_t *id);
/* A variable of the len bytes of fd from offset off; fd stays the caller's.  type (checked by the caller
 * against len) and doc are its own, or NULL: no type, and the request's doc.  A small one (load_many_small)
 * is read into a buffer and made by load_many_put, which takes bytes already read (a reader ahead of the
 * store, load_tree.c): no block of its own, straight into slab pages (store_put). */
bool load_many_small(const struct load_many *m, uint64_t len);
int load_many_put(struct load_many *m, uint64_t dir, const char *leaf, uint32_t mode, const void *buf, uint64_t len,
		  const char *type, const char *doc, const char *member, uint64_t *id);
int load_many_var(struct load_many *m, uint64_t dir, const char *leaf, uint32_t mode, int fd, uint64_t off,
		  uint64_t len, const char *type, const char *doc, const char *member, uint64_t *id);
/* A symbolic link to target (checked with load_many_link_ok first). */
int load_many_symlink(struct load_many *m, uint64_t dir, const char *leaf, const char *target, const char *member);
/* A second name of object id (a variable or link this request made). */
int load_many_link(struct load_many *m, uint64_t id, uint64_t dir, const char *leaf, const char *member);

/* May a symbolic link at member (a path inside the tree, components separated by single '/', no "." or
 * "..") point to target?  Only when target is relative, its ".." components all come first, and there are
 * no more of them than directories above the link in the tree: then the link, and any chain of links
 * through it (each checked the same way from its own directory), resolves inside the tree whatever the
 * tree holds.  A lexical check alone ("a/b/../c" stays inside) is not enough: "l/.." where l is a link is
 * the parent of l's target, not of l.  0, or -EINVAL with the sentence. */
int load_many_link_ok(struct load_many *m, const char *member, const char *target);

/* fabric.manifest at the top of a DIR (load_manifest.c): a line per file, "PATH<TAB>type=T<TAB>doc=D"
 * (type= and doc= each optional), giving files of the tree their type and doc; the file itself is read,
 * not loaded.  load_manifest_read reads it from fd (opened by the caller) into notes sorted by path (-EINVAL
 * for a malformed line or a path named twice, with the sentence); the caller checks them against the
 * tree. */
#define LOAD_MANIFEST "fabric.manifest"
struct load_note {
	char *path;        /* inside DIR, malloc'd: type and doc are stored after it */
	char *type, *doc;  /* NULL when the line gives none */
	unsigned line;
};
int load_manifest_read(int fd, const char *src, struct load_note **notes, size_t *n, char *why, size_t whylen);
void load_manifest_free(struct load_note *notes, size_t n);

/* Take on the caller's identity for opening a file of the source; load_unbecome(saved) gives it back. */
void load_many_become(struct load_many *m, struct load_creds *saved);

/* End the request: with rc 0, wait for every seal and answer the counts in m->res (-EIO when a seal
 * failed: then everything goes as for a failure); with rc != 0 remove everything made.  Frees what begin
 * took.  Returns the request's result. */
int load_many_end(struct load_many *m, int rc);

#endif
