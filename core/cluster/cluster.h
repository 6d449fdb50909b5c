/* SPDX-License-Identifier: MIT */
/* cluster.h -- this node's membership in a cluster of fabric nodes, and what it knows of the others.
 *
 * Several fabric daemons (nodes) form a cluster by sharing an etcd (core/os/etcd.h); a single node needs
 * none of this.  Under /fabric/CLUSTER/nodes/NODE/ each node has two keys, values JSON (jansson):
 *   member  {"node", "addr", "joined_ns"}: written at every join and never removed, so a node that is down
 *           is still known (and listed, as down);
 *   live    {"node", "addr", "capacity", "free", "pid", "up_ns"}: under a lease of CLUSTER_TTL seconds
 *           that the daemon renews every CLUSTER_TTL / 3 s; made with a create-if-absent, so a name is up
 *           once in a cluster.  When the daemon stops renewing (killed, frozen, cut off from etcd) the
 *           lease expires, etcd deletes the key, and every node sees the node down: within CLUSTER_TTL +
 *           CLUSTER_TTL / 3 s of its last renewal (~4 s), up to twice that across an etcd leader change.
 * Every node lists the prefix once at join and then follows it with a watch (never by polling), keeping a
 * table of every node: its address, capacity, free bytes, up or down, since when.
 *
 * Who owns what: struct cluster, from cluster_join to cluster_leave, owns its etcd client, its watch and
 * a thread that renews the lease and refreshes this node's free bytes; the table is behind a mutex, read
 * with cluster_nodes/cluster_node (copies).  The changed callback runs in the watch's thread, with no lock
 * of this module held; it must not call cluster_leave. */
#ifndef FABRIC_CORE_CLUSTER_H
#define FABRIC_CORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cluster/transfer.h"
#include "core/text/names.h"
#include "core/text/text.h"

#define CLUSTER_TTL 3          /* seconds of a node's liveness lease */
#define CLUSTER_NAME_MAX 64    /* a cluster's name: 1-64 of [A-Za-z0-9_-], as a node's */
#define CLUSTER_ADDR_MAX 64    /* "ADDR:PORT" */

struct busy;
struct cluster;
struct store;

struct cluster_config {
	const char *etcd;    /* endpoints: "http://127.0.0.1:2379,http://..." */
	const char *name;    /* the cluster's name */
	const char *node;    /* this node's name */
	const char *addr;    /* where other nodes reach this one: "ADDR:PORT", bound and listened on at join
			      * (nothing is served there yet); port 0 takes a free port */
	/* this node's capacity and free bytes, asked at every renewal (may be NULL: 0 and 0) */
	void (*space)(void *arg, uint64_t *capacity, uint64_t *free);
	void *space_arg;
	/* a node appeared, or went up or down (may be NULL) */
	void (*changed)(void *arg, const char *node);
	void *changed_arg;
	void (*log)(const char *msg); /* may be NULL */
	struct store *st; /* this node's store: its names are published, the others' mirrored (catalog.h) */
	/* the cluster's shared secret (transfer.h): with it this node serves its variables' bytes at addr
	 * and may fetch the others'; NULL: neither */
	const char *secret;
	/* brackets the changes another node asks of this one's store (its rm of our names), so the mount
	 * tells its kernel of them (may be NULL) */
	void (*changing)(bool begin);
	/* catalog.h's changed: another node's name appeared, changed or went (may be NULL) */
	void (*names_changed)(void *arg, const char *node, int64_t id, int64_t parent, const char *name,
			      bool gone);
	void *names_arg;
};

struct cluster_node {
	char name[NAMES_NODE_MAX + 1];
	char addr[CLUSTER_ADDR_MAX + 1];
	uint64_t capacity, free;
	bool up, self;
	int64_t since_ns; /* when it came up (its live key's up_ns), or when it was seen going down */
};

/* Join: the member key, the lease and the live key (waiting up to CLUSTER_TTL + 2 s for a live key of the
 * same name to expire, as a node killed and mounted again finds its own), then the listing and the watch,
 * then the catalog of names (catalog.h) when cfg->st is set.
 * -EEXIST when the name stays up elsewhere; -ECONNREFUSED etc. from etcd; why gets the sentence. */
int cluster_join(const struct cluster_config *cfg, struct cluster **out, char *why, size_t whylen);
/* Leave: the lease revoked (every node sees this one down at once), the threads stopped.  NULL is fine. */
void cluster_leave(struct cluster *c);
const char *cluster_name(const struct cluster *c);
/* The other nodes' objects in memory (core/cluster/remote.h); NULL without cfg->st.  Valid until
 * cluster_leave. */
struct remote_index *cluster_remote(struct cluster *c);
/* The secret given at join, or NULL (no transfers). */
const char *cluster_secret(const struct cluster *c);
/* The address this node listens at, as bound ("127.0.0.1:41234" for a --listen of 127.0.0.1:0). */
const char *cluster_addr(const struct cluster *c);

/* The store given at join (cfg->st), or NULL. */
struct store *cluster_store(struct cluster *c);
/* The etcd endpoints given at join (cfg->etcd), for a module with its own etcd client and watch. */
const char *cluster_etcd_urls(const struct cluster *c);
/* Serve a CALL verb to the other nodes (transfer_handle): -ENOTCONN when this node serves nothing (no
 * secret). */
int cluster_handle(struct cluster *c, const char *verb, transfer_call_fn fn, void *arg);
void cluster_unhandle(struct cluster *c, void *arg); /* transfer_unhandle */
/* Bracket a change of this node's names made outside a request of its mount (cfg->changing): the mount
 * tells its kernel of them. */
void cluster_changing(struct cluster *c, bool begin);
/* The moves under way in this process (busy.h); NULL for NULL. */
struct busy *cluster_busy(struct cluster *c);
/* One line for the daemon's log (cfg->log). */
void cluster_say(struct cluster *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every node the cluster knows, up or down, sorted by name: *v is malloc'd, the caller frees it. */
int cluster_nodes(struct cluster *c, struct cluster_node **v, size_t *n);
/* One node by name: -ENOENT when the cluster knows none. */
int cluster_node(struct cluster *c, const char *name, struct cluster_node *out);
/* A node's description as lines of "key\tvalue" (its nodes/NODE/stat file when it is not this node):
 * node, state, addr, capacity, free, since_ns; appended to out.  0 or -ENOMEM. */
int cluster_node_text(const struct cluster_node *nd, struct text *out);

#endif
