/* SPDX-License-Identifier: MIT */
/* remote.h -- the other nodes' objects in memory, as the catalog hears of them (catalog.h), for the mount
 * to show them beside this node's own (fs/ops_remote.c): lookups and listings never reach SQLite or etcd.
 *
 * An object is known by its node and its id there; its parent is an id of the same node (2: that node's
 * vars/).  What a lookup needs is indexed: (node, id), (node, parent, name), and each (node, parent)'s
 * children, so a child heard of before its directory (etcd lists keys in text order) is found all the
 * same.  Who owns what: the index owns every entry and its strings; callers get copies (struct
 * remote_attr, or a string into their buffer).  Every call takes the index's mutex (a leaf). */
#ifndef FABRIC_CORE_REMOTE_H
#define FABRIC_CORE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/text/names.h"

struct remote_index;

/* What a stat of a remote object says. */
struct remote_attr {
	char node[NAMES_NODE_MAX + 1];
	int64_t id, parent;
	char name[NAMES_LEAF_MAX + 1];
	char kind[12];  /* "dir" | "var" | "mutable" | "link" */
	char xxh3[40];  /* "" when none */
	char shm[128];  /* its bytes' shm object on its node ("" for none) and where in it */
	uint64_t offset;
	uint64_t size;
	uint32_t mode, uid, gid;
	int64_t modified_ns;
	int64_t when; /* its seal's time (its last change's for one never sealed): the one-winner rule's */
};

int remote_index_new(struct remote_index **out);
void remote_index_free(struct remote_index *x);

/* An object's strings, by name ("type", "doc", "scope", "target", "refs"); NULL when unset. */
enum { REMOTE_TYPE, REMOTE_DOC, REMOTE_SCOPE, REMOTE_TARGET, REMOTE_REFS, REMOTE_NSTR };
extern const char *const remote_str_names[REMOTE_NSTR];

/* Put (insert or replace) or remove one object; clear empties the index.  str[REMOTE_...] may be NULL.
 * 0 or -ENOMEM. */
int remote_put(struct remote_index *x, const struct remote_attr *a, const char *const str[REMOTE_NSTR]);
void remote_remove(struct remote_index *x, const char *node, int64_t id);
/* Give (node, id) a new parent and name (a rename this node asked of its node, ahead of the catalog). */
int remote_move(struct remote_index *x, const char *node, int64_t id, int64_t parent, const char *name);
void remote_clear(struct remote_index *x);
/* A relisting: mark every entry stale (a put makes one fresh again), then sweep the ones still stale out,
 * their attributes into *gone (malloc'd, *n of them; NULL and 0 on ENOMEM, when they stay). */
void remote_mark_stale(struct remote_index *x);
void remote_sweep(struct remote_index *x, struct remote_attr **gone, size_t *n);

/* One object by node and id; -ENOENT. */
int remote_get(struct remote_index *x, const char *node, int64_t id, struct remote_attr *out);
/* The child called name of (node, parent); node NULL with parent 2: of any node's vars/ (the first node
 * by name when several hold it).  -ENOENT. */
int remote_child(struct remote_index *x, const char *node, int64_t parent, const char *name,
		 struct remote_attr *out);
/* The object at path (relative to vars/: "a/b"), walked from any node's vars/ (the first part picks the
 * node): 0, -ENOENT (also for "" and for parts too long). */
int remote_resolve(struct remote_index *x, const char *path, struct remote_attr *out);
/* Every child of (node, parent) (node NULL with parent 2: of every node's vars/), fn called with the
 * mutex held (fn must not call the index); a non-zero return stops it and is returned. */
int remote_children(struct remote_index *x, const char *node, int64_t parent,
		    int (*fn)(void *arg, const struct remote_attr *a), void *arg);
/* The same for the children of every node's top-level directory called top ("datasets": the cluster's
 * datasets, each in the node that made it), first by node name.  remote_is_top: is (node, id) that
 * node's top? */
#define REMOTE_ROOT_ID 1
int remote_child_in(struct remote_index *x, const char *top, const char *name, struct remote_attr *out);
int remote_children_in(struct remote_index *x, const char *top, int (*fn)(void *arg, const struct remote_attr *a),
		       void *arg);
bool remote_is_top(struct remote_index *x, const char *node, int64_t id, const char *top);
/* A string attribute (one of remote_str_names) into buf: its length, -ENODATA when unset,
 * -ERANGE when len is too small (len 0: only the length), -ENOENT for no such object. */
ssize_t remote_string(struct remote_index *x, const char *node, int64_t id, const char *which, char *buf,
		      size_t len);

#endif
