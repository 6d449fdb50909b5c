/* SPDX-License-Identifier: MIT */
/* checkpoint.c -- a node's sealed variables to a directory on disk and back (layout: see checkpoint.h).
 *
 * Checkpoint walks vars/ depth-first, so a directory's line comes before its children's and restore can
 * make them in order.  Data files are named by xxh3: one that is already there with the right size is
 * not written again.  Each data file is written under a temporary name and renamed; the manifest last,
 * the same way, after a syncfs(): a checkpoint on disk is whole or it is the previous one.
 *
 * The data files are written by a uring_batch (core/os/uring_direct.h): up to URING_DIRECT_FILES of them
 * in flight at once while the walk goes on, each with O_DIRECT straight from its block's mapping where
 * the file system allows it.  A data file is renamed in by saved() when its last write completes, and
 * every one has ended (renamed, or removed when it failed) before the manifest is closed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bulk/checkpoint.h"
#include "core/bulk/loadInt.h"
#include "core/text/names.h"
#include "core/store/path.h"
#include "core/os/uring_direct.h"
#include "core/text/text.h"

#define MANIFEST "manifest.tsv"

/* Text fields may hold anything but NUL: escape the separators. */
static void put_escaped(FILE *f, const char *s)
{
	if (!s || !*s) {
		fputc('-', f);
		return;
	}
	if (*s == '-' && !s[1]) {
		fputs("\\-", f);
		return;
	}
	for (; *s; s++) {
		if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\\')
			fputs("\\\\", f);
		else
			fputc(*s, f);
	}
}

/* In place; "-" alone is an empty field. */
static char *unescape(char *s)
{
	char *out = s, *in = s;

	if (strcmp(s, "-") == 0) {
		*s = '\0';
		return s;
	}
	for (; *in; in++) {
		if (*in != '\\' || !in[1]) {
			*out++ = *in;
			continue;
		}
		in++;
		*out++ = *in == 't' ? '\t' : *in == 'n' ? '\n' : *in;
	}
	*out = '\0';
	return s;
}

/* A manifest's path as sentences show it: one from the root ("/datasets/NAME/KEY") without its slash, one
 * under vars/ with it. */
static const char *shown(const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", path[0] == '/' ? "" : "vars/", path[0] == '/' ? path + 1 : path);
	return buf;
}

/* Where a manifest's path starts: "/..." from the mount root, anything else under vars/. */
static uint64_t path_from(const char *path, const char **rel)
{
	*rel = path[0] == '/' ? path + 1 : path;
	return path[0] == '/' ? STORE_ROOT_ID : STORE_VARS_ID;
}

struct ck {
	struct store *st;
	const char *dir;
	FILE *manifest;
	struct load_result *res;
	char *why;
	size_t whylen;
	const struct load_caller *who;
	struct load_creds caller; /* what it may read is what it could cat; its files are written as it */
	struct load_creds daemon; /* the daemon's own identity, to open its shm blocks with */
	struct uring_batch *batch; /* the data files being written */
	struct pending *pending;   /* those of them in flight */
	int rc;                    /* the first data file that failed in flight; why says which */
};

/* A data file in flight: written under tmp, renamed to path when its bytes are all in. */
struct pending {
	struct pending *next;
	struct ck *c;
	struct store_handle *h;
	int fd;
	void *map;  /* the block's mapping, or NULL */
	char *copy; /* or the bytes of a variable packed into a slab, copied out */
	uint64_t size;
	char xxh3[40];
	char var[PATH_MAX_LEN + 1];
	char path[PATH_MAX_LEN + 64], tmp[PATH_MAX_LEN + 80];
};

/* uring_batch's end of one data file (called in this thread, as the caller): rename it in, or remove it. */
static void saved(void *arg, void *cookie, int rc)
{
	struct ck *c = arg;
	struct pending *p = cookie;

	if (close(p->fd) < 0 && rc == 0)
		rc = -errno;
	if (p->map)
		munmap(p->map, p->size);
	free(p->copy);
	store_release(c->st, p->h);
	if (rc == 0 && rename(p->tmp, p->path) < 0)
		rc = -errno;
	if (rc) {
		unlink(p->tmp);
		if (!c->rc) {
			c->rc = rc;
			char w[PATH_MAX_LEN + 8];
			text_say(c->why, c->whylen, 0, "cannot save %s: %s", shown(p->var, w, sizeof(w)),
				 strerror(-rc));
		}
	} else {
		c->res->bytes += p->size;
	}
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
}

/* Start writing one sealed variable's bytes to DIR/data/XXH3 unless they are there already, or on their
 * way (a second name of the same bytes in this checkpoint).  The write goes on in the batch; 0 means it
 * started (a failure in flight ends up in c->rc), -errno that this variable could not be started. */
static int save_bytes(struct ck *c, uint64_t id, uint64_t size, const char *xxh3, const char *var)
{
	struct pending *p;
	struct stat sb;
	int rc, bfd;

	for (p = c->pending; p; p = p->next)
		if (strcmp(p->xxh3, xxh3) == 0) {
			c->res->skipped++;
			return 0;
		}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->path, sizeof(p->path), "%s/data/%s", c->dir, xxh3);
	if (stat(p->path, &sb) == 0 && (uint64_t)sb.st_size == size) {
		c->res->skipped++;
		free(p);
		return 0;
	}
	/* the daemon reads its blocks as itself (they are 0600), the caller's files are written as the caller */
	load_unbecome(&c->daemon);
	rc = store_open(c->st, id, O_RDONLY | O_NONBLOCK, getpid(), NULL, NULL, &p->h);
	load_become_as(&c->caller, &c->daemon);
	if (rc) {
		free(p);
		return rc == STORE_WAITING ? -EAGAIN : rc;
	}
	p->c = c;
	p->size = size;
	snprintf(p->xxh3, sizeof(p->xxh3), "%s", xxh3);
	snprintf(p->var, sizeof(p->var), "%s", var);
	snprintf(p->tmp, sizeof(p->tmp), "%s.tmp%d", p->path, (int)getpid());
	p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (p->fd < 0) {
		rc = -errno;
		goto fail;
	}
	bfd = store_handle_fd(p->h);
	if (bfd >= 0 && size) {
		/* page-aligned, so its body can go to the disk with O_DIRECT straight from the shm pages; not
		 * MAP_POPULATE: the writes fault the pages in as they go, while earlier writes are in flight */
		p->map = mmap(NULL, size, PROT_READ, MAP_SHARED, bfd, 0);
		if (p->map == MAP_FAILED) {
			p->map = NULL;
			rc = -errno;
		}
	} else if (size) { /* packed into a slab, whose bytes may move: small, copy them out now */
		ssize_t n;

		p->copy = malloc(size);
		n = p->copy ? store_read(c->st, p->h, p->copy, size, 0) : -ENOMEM;
		rc = n < 0 ? (int)n : (uint64_t)n != size ? -EIO : 0;
	}
	if (rc) {
		close(p->fd);
		unlink(p->tmp);
		goto fail;
	}
	p->next = c->pending;
	c->pending = p;
	uring_batch_add(c->batch, p->fd, p->map ? p->map : p->copy, size, p); /* may end in saved() at once */
	return 0;
fail:
	if (p->map)
		munmap(p->map, size);
	free(p->copy);
	store_release(c->st, p->h);
	free(p);
	return rc;
}

/* Save the variables under dir (path prefix), and name them and their directories in the manifest.  reach:
 * the caller may search every directory down to dir; below a directory it may not read and search, and
 * for a variable it may not read, nothing is saved: they are counted in res->unreadable. */
static int walk(struct ck *c, uint64_t dir, const char *prefix, bool reach)
{
	char dsdoc[STORE_DOC_MAX + 1] = "";
	uint64_t *ids;
	size_t n;
	int rc = store_dir_list(c->st, dir, &ids, &n);
	ssize_t k;

	/* an item without a doc shows its dataset's: that one is the dataset's line's, not the item's */
	if (store_is_dataset(c->st, dir, NULL) &&
	    (k = store_getxattr(c->st, dir, "user.fabric.doc", dsdoc, sizeof(dsdoc) - 1)) > 0)
		dsdoc[k] = '\0';

	for (size_t i = 0; rc == 0 && i < n; i++) {
		char name[NAMES_LEAF_MAX + 1], path[PATH_MAX_LEN + 1], xxh3[40] = "", type[512] = "",
			doc[STORE_DOC_MAX + 1] = "";
		struct store_attr a;

		if (store_dir_entry(c->st, dir, ids[i], name, sizeof(name), &a, false))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", name);
		if (a.link || (!a.dir && (!a.sealed || a.mut))) {
			/* being written: not a variable yet; mutable: its bytes have no moment to be saved at; a
			 * link: no bytes, and restore makes variables and directories only */
			c->res->skipped += a.mut || a.link;
			continue;
		}
		if (!reach || !store_attr_allows(&a, c->caller.uid, c->caller.gid, c->caller.groups,
						 (size_t)c->caller.ngroups, a.dir ? 05 : 04)) {
			if (!a.dir)
				c->res->unreadable++;
			else if ((rc = walk(c, a.id, path, false)) != 0)
				break;
			continue;
		}
		if ((k = store_getxattr(c->st, a.id, "user.fabric.xxh3", xxh3, sizeof(xxh3) - 1)) > 0)
			xxh3[k] = '\0';
		if ((k = store_getxattr(c->st, a.id, "user.fabric.type", type, sizeof(type) - 1)) > 0)
			type[k] = '\0';
		if ((k = store_getxattr(c->st, a.id, "user.fabric.doc", doc, sizeof(doc) - 1)) > 0)
			doc[k] = '\0';
		if (dsdoc[0] && strcmp(doc, dsdoc) == 0)
			doc[0] = '\0';
		if (!a.dir) {
			rc = save_bytes(c, a.id, a.size, xxh3, path);
			if (rc == -EACCES) { /* scoped to a process or another node: its bytes mean nothing
					      * elsewhere, so they are not checkpointed */
				rc = 0;
				c->res->skipped++;
				continue;
			}
			if (rc) {
				char w[PATH_MAX_LEN + 8];
				text_say(c->why, c->whylen, 0, "cannot save %s: %s", shown(path, w, sizeof(w)),
					 strerror(-rc));
				break;
			}
			if ((rc = c->rc) != 0) /* an earlier one failed in flight; why names it */
				break;
			c->res->count++;
		}
		bool ds = a.dir && store_is_dataset(c->st, a.id, NULL);
		char limits[256] = "-";
		if (ds && (rc = store_dataset_limits(c->st, a.id, limits, sizeof(limits))) != 0) {
			text_say(c->why, c->whylen, 0, "cannot read the limits of datasets/%s: %s", name, strerror(-rc));
			break;
		}
		put_escaped(c->manifest, path);
		fprintf(c->manifest, "\t%s\t%llu\t%s\t", ds ? "dataset" : a.dir ? "dir" : "var",
			a.dir ? 0ULL : (unsigned long long)a.size, ds ? limits : a.dir ? "-" : xxh3);
		put_escaped(c->manifest, type);
		fputc('\t', c->manifest);
		put_escaped(c->manifest, doc);
		fprintf(c->manifest, "\t%o\t%u\t%u\n", a.mode & 07777, a.uid, a.gid);
		if (a.dir)
			rc = walk(c, a.id, path, true);
	}
	free(ids);
	return rc;
}

int load_checkpoint(struct store *st, const struct load_caller *who, const char *dir, struct load_result *res,
		    char *why, size_t whylen)
{
	char path[PATH_MAX_LEN + 64], tmp[PATH_MAX_LEN + 80];
	struct ck c = { .st = st, .dir = dir, .res = res, .why = why, .whylen = whylen, .who = who };
	struct uring_batch_stats stats;
	int rc = 0, dfd;

	memset(res, 0, sizeof(*res));
	if (dir[0] != '/') {
		text_say(why, whylen, 0, "DIR must be an absolute path: %s", dir);
		return -EINVAL;
	}
	load_creds_of(who, &c.caller);
	load_become_as(&c.caller, &c.daemon);
	snprintf(path, sizeof(path), "%s/data", dir);
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(path, 0755) < 0 && errno != EEXIST)) {
		rc = -errno;
		text_say(why, whylen, 0, "cannot make %s: %s", path, strerror(errno));
		goto out;
	}
	rc = uring_batch_open(&c.batch, saved, &c);
	if (rc) {
		text_say(why, whylen, 0, "cannot start io_uring: %s", strerror(-rc));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/" MANIFEST, dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	c.manifest = fopen(tmp, "we");
	if (!c.manifest) {
		rc = -errno;
		text_say(why, whylen, 0, "cannot write %s: %s", tmp, strerror(errno));
		uring_batch_close(c.batch, NULL);
		goto out;
	}
	fprintf(c.manifest, "# fabric checkpoint of node %s: path kind size xxh3 type doc mode uid gid (a path from "
		"the mount root starts with /; a dataset's line has its limits for xxh3)\n", store_node_name(st));
	store_seal_wait(st); /* a variable whose writer has closed it is in, even if its seal was queued */
	rc = walk(&c, STORE_VARS_ID, "", true);
	if (rc == 0) /* then every dataset, each line before its items */
		rc = walk(&c, store_datasets_id(st), "/datasets", true);
	/* the data files still in flight end here, each renamed in or removed */
	uring_batch_close(c.batch, &stats);
	if (rc == 0)
		rc = c.rc;
	fprintf(stderr,
		"fabricd: checkpoint to %s: %llu data file(s) written, %llu with O_DIRECT; %llu bytes with O_DIRECT, "
		"%llu buffered%s\n",
		dir, (unsigned long long)(stats.direct_files + stats.buffered_files),
		(unsigned long long)stats.direct_files, (unsigned long long)stats.direct_bytes,
		(unsigned long long)stats.buffered_bytes, rc ? " (failed)" : "");
	if (fclose(c.manifest) != 0 && rc == 0) {
		rc = -errno;
		text_say(why, whylen, 0, "cannot write %s: %s", tmp, strerror(errno));
	}
	/* Everything on disk before the manifest names it.  The O_DIRECT writes have put the data files'
	 * bytes on the device, but not their metadata (the size and the extents fallocate made, which the
	 * writes turn from unwritten to written in the journal), nor their names (the renames), and the
	 * device may still hold the bytes in its volatile cache: one syncfs commits the journal and flushes
	 * the cache for all of them, the buffered tails, small files and the manifest too.  fdatasync of each
	 * file would wait for one journal commit and cache flush per file and still need an fsync of data/
	 * for the renames; syncfs also writes back whatever else is dirty on that file system, a cost that
	 * cp -r + sync -f pays the same way. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rc == 0 && (dfd < 0 || syncfs(dfd) < 0))
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (rc) {
		unlink(tmp);
		if (!why[0])
			text_say(why, whylen, 0, "checkpoint to %s failed: %s", dir, strerror(-rc));
	}
out:
	load_unbecome(&c.daemon);
	return rc;
}

static void report_line(char *report, size_t reportlen, const char *fmt, const char *a, const char *b)
{
	size_t at = report ? strlen(report) : 0;

	if (report && at < reportlen)
		snprintf(report + at, reportlen - at, fmt, a, b);
}

static bool wanted(const char *path, const char *const *paths, size_t n, bool *seen)
{
	if (!paths)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(paths[i], path) == 0) {
			seen[i] = true;
			return true;
		}
	return false;
}

static int restore(struct store *st, const struct load_caller *who, const char *dir, const char *const *paths,
		   size_t npaths, load_make_dataset *make_ds, void *make_arg, struct load_result *res, char *report,
		   size_t reportlen, char *why, size_t whylen)
{
	char path[PATH_MAX_LEN + 64], line[PATH_MAX_LEN * 2 + STORE_DOC_MAX * 2 + 256], gone[PATH_MAX_LEN + 1] = "";
	bool *seen;
	struct load_creds saved;
	uint32_t mode;
	FILE *f;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (report && reportlen)
		report[0] = '\0';
	if (dir[0] != '/') {
		text_say(why, whylen, 0, "DIR must be an absolute path: %s", dir);
		return -EINVAL;
	}
	seen = calloc(npaths ? npaths : 1, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/" MANIFEST, dir);
	load_become(who, &saved);
	f = fopen(path, "re");
	load_unbecome(&saved);
	if (!f) {
		rc = -errno;
		text_say(why, whylen, 0, "no checkpoint in %s (%s)", dir, strerror(errno));
		free(seen);
		return rc;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *field[9], *save = NULL, data[PATH_MAX_LEN + 64], leaf[NAMES_LEAF_MAX + 1], w[PATH_MAX_LEN + 8];
		struct load_result one;
		struct store_attr a;
		uint64_t id, parent, from;
		const char *rel;
		int nf = 0;

		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (char *t = strtok_r(line, "\t", &save); t && nf < 9; t = strtok_r(NULL, "\t", &save))
			field[nf++] = t;
		if (nf != 9) {
			text_say(why, whylen, 0, "%s is damaged: a line has %d fields, not 9", path, nf);
			rc = -EINVAL;
			break;
		}
		for (int i = 0; i < 9; i++)
			unescape(field[i]);
		bool is_dir = strcmp(field[1], "dir") == 0, is_ds = strcmp(field[1], "dataset") == 0;
		if (gone[0] && strncmp(field[0], gone, strlen(gone)) == 0 && field[0][strlen(gone)] == '/') {
			res->skipped++; /* an item of a dataset that could not be made again */
			continue;
		}
		if (!is_dir && !is_ds && !wanted(field[0], paths, npaths, seen))
			continue;
		from = path_from(field[0], &rel);
		if (path_resolve_at(st, from, rel, &id, &a) == 0) {
			char x[40] = "";
			ssize_t k = store_getxattr(st, id, "user.fabric.xxh3", x, sizeof(x) - 1);
			if (k > 0)
				x[k] = '\0';
			if (!a.dir && strcmp(x, field[3]) != 0)
				report_line(report, reportlen, "skipped\t%s\t%s\n", shown(field[0], w, sizeof(w)),
					    "the name holds other bytes now");
			res->skipped += !a.dir;
			continue;
		}
		uint32_t uid = who->uid ? who->uid : (uint32_t)strtoul(field[7], NULL, 10);
		uint32_t gid = who->uid ? who->gid : (uint32_t)strtoul(field[8], NULL, 10);
		if (is_ds && (strncmp(field[0], "/datasets/", 10) != 0 || strchr(field[0] + 10, '/'))) {
			text_say(why, whylen, 0, "%s is damaged: a dataset's path is /datasets/NAME, not %s", path, field[0]);
			rc = -EINVAL;
			break;
		}
		if (is_ds) {
			char err[512] = "the restore of lost variables makes no dataset";
			const char *name = field[0] + 10; /* its path is /datasets/NAME */
			const struct load_dataset d = { name, *field[4] ? field[4] : NULL, *field[5] ? field[5] : NULL,
							*field[3] ? field[3] : NULL, (uint32_t)strtoul(field[6], NULL, 8),
							uid, gid };
			if (!make_ds || make_ds(make_arg, &d, err, sizeof(err)) != 0) {
				report_line(report, reportlen, "skipped\t%s\t%s\n", shown(field[0], w, sizeof(w)), err);
				snprintf(gone, sizeof(gone), "%s", field[0]);
			}
			continue;
		}
		if (is_dir) {
			struct store_attr made;
			rc = path_parent_at(st, from, rel, &parent, leaf, sizeof(leaf));
			if (rc == 0)
				rc = store_mkdir(st, parent, leaf, (uint32_t)strtoul(field[6], NULL, 8), uid, gid, &made);
			if (rc == 0)
				store_forget(st, made.id, 1);
			else
				text_say(why, whylen, 0, "cannot make %s: %s", shown(field[0], w, sizeof(w)), strerror(-rc));
			continue;
		}
		snprintf(data, sizeof(data), "%s/data/%s", dir, field[3]);
		mode = (uint32_t)strtoul(field[6], NULL, 8) & 0777;
		/* root restores the manifest's mode (and owner, below); anyone else gets it less their umask */
		rc = load_file_at(st, who, from, rel, data, *field[4] ? field[4] : NULL, *field[5] ? field[5] : NULL,
				  (int)(who->uid ? load_caller_mode(who, mode) : mode), &one, why, whylen);
		if (rc)
			break;
		if (strcmp(one.xxh3, field[3]) != 0) {
			if (path_parent_at(st, from, rel, &parent, leaf, sizeof(leaf)) == 0)
				store_unlink(st, parent, leaf);
			report_line(report, reportlen, "dropped\t%s\t%s\n", shown(field[0], w, sizeof(w)),
				    "its bytes on disk no longer match the manifest's xxh3");
			continue;
		}
		if (who->uid == 0 && path_resolve_at(st, from, rel, &id, &a) == 0) {
			struct store_setattr sa = { .set = STORE_SET_UID | STORE_SET_GID | STORE_SET_MODE,
						    .uid = (uint32_t)strtoul(field[7], NULL, 10),
						    .gid = (uint32_t)strtoul(field[8], NULL, 10),
						    .mode = (uint32_t)strtoul(field[6], NULL, 8) };
			store_setattr(st, id, &sa, &a);
		}
		res->count++;
		res->bytes += one.size;
	}
	fclose(f);
	for (size_t i = 0; paths && i < npaths; i++) {
		if (seen[i])
			continue;
		res->skipped++;
		char w[PATH_MAX_LEN + 8];
		report_line(report, reportlen, "missing\t%s\t%s\n", shown(paths[i], w, sizeof(w)),
			    "the checkpoint does not hold it");
	}
	free(seen);
	return rc;
}

int load_restore(struct store *st, const struct load_caller *who, const char *dir, load_make_dataset *make_ds,
		 void *make_arg, struct load_result *res, char *report, size_t reportlen, char *why, size_t whylen)
{
	return restore(st, who, dir, NULL, 0, make_ds, make_arg, res, report, reportlen, why, whylen);
}

int load_restore_only(struct store *st, const struct load_caller *who, const char *dir, const char *const *paths,
		      size_t n, struct load_result *res, char *report, size_t reportlen, char *why, size_t whylen)
{
	return restore(st, who, dir, paths, n, NULL, NULL, res, report, reportlen, why, whylen);
}
