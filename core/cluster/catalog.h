/* SPDX-License-Identifier: MIT */
/* catalog.h -- the cluster's names in every node's yellow pages: each node publishes its own objects in
 * etcd, and mirrors every other node's into its YP (table remote; the view vars lists both).
 *
 * Keys: /fabric/CLUSTER/objects/NODE/ID, one per object of NODE (its own YP id), value JSON (jansson):
 * parent (NODE's id; 2 is vars/), name, kind, type, doc, xxh3, scope, size, mode, uid, gid, modified_ns,
 * sealed_ns, target, shm and offset (where its bytes are on NODE).  Directories, sealed variables, mutable objects and links are published; a variable
 * being written is not (another node sees it from its seal on), nor a hard link's second name (yet).
 * The keys are not under a lease: a node that is down keeps its names listed.
 *
 * Publishing: every commit of the node's YP that changes objects' rows tells this module their ids
 * (yp_watch_objects); a thread of its own reads each row again and puts or deletes its key, up to
 * ETCD_TXN_MAX of them in one txn, so a load of many files costs a txn per 128 names, never a request on
 * the path of the change itself.  At start it compares every key it had published with its YP (a
 * fingerprint per key: memory is 16 bytes a name) and puts or deletes what differs, so a node catches up
 * with what changed while it was not in the cluster, or while etcd was out of reach.
 * One name, one object in vars/: when two nodes hold one top-level name (made within the publication
 * window, or while apart), the one that came first keeps it (seal time, then node name: both nodes reach
 * the same answer from the same two keys) and the other renames its own NAME~NODE, logged.
 * Mirroring: the other nodes' keys are listed once (paged, one revision) into the YP, 1000 rows a
 * transaction, then followed with a watch; a compaction that outran the watch makes it list again.
 *
 * Who owns what: struct catalog, from catalog_start to catalog_stop, owns its etcd client, watch and thread;
 * the YP is the store's (store_yp), written through meta's own lock. */
#ifndef FABRIC_CORE_CATALOG_H
#define FABRIC_CORE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct catalog;
struct remote_index;
struct store;

struct catalog_config {
	const char *etcd, *cluster, *node;
	struct store *st;
	void (*log)(const char *msg); /* may be NULL */
	/* another node's object (node, id) appeared or changed under (node, parent) as name, or went (gone):
	 * the mount tells its kernel, and drops a copy of what went (called from the watch's thread, no lock
	 * of this module held; may be NULL) */
	void (*changed)(void *arg, const char *node, int64_t id, int64_t parent, const char *name, bool gone);
	void *changed_arg;
	/* brackets the store changes this module makes itself (the one-winner rule's renames), so the mount
	 * tells its kernel of them (may be NULL) */
	void (*changing)(bool begin);
};

/* Publish this node's objects and mirror the others', from now until catalog_stop: the catch-up, the
 * first listing and the watch are the thread's first round, so a mount does not wait for them (the
 * mirror fills while it is up).  0, or -errno with why. */
int catalog_start(const struct catalog_config *cfg, struct catalog **out, char *why, size_t whylen);
/* The other nodes' objects in memory (remote.h), kept by the watch; valid until catalog_stop. */
struct remote_index *catalog_remote(struct catalog *n);
/* Stop: what is queued is published first (for at most a few seconds when etcd does not answer).  NULL
 * is fine. */
void catalog_stop(struct catalog *n);

#endif
