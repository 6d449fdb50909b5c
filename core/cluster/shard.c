/* SPDX-License-Identifier: MIT */
/* shard.c -- a shard's pieces on the nodes of a cluster (shard.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster/cluster.h"
#include "core/cluster/remote.h"
#include "core/cluster/shard.h"
#include "core/cluster/transfer.h"
#include "core/store/store.h"

/* Node's piece of shard name as the catalog has it: 0 with its attributes, -ENOENT; *dir_seen: the node
 * has the shard's directory. */
static int remote_piece(struct cluster *c, const char *node, const char *name, struct remote_attr *piece,
			bool *dir_seen)
{
	struct remote_index *x = cluster_remote(c);
	struct remote_attr sh, d;

	*dir_seen = false;
	if (!x || remote_child(x, node, 1, "shards", &sh) != 0 || remote_child(x, node, sh.id, name, &d) != 0)
		return -ENOENT;
	*dir_seen = true;
	return remote_child(x, node, d.id, node, piece);
}

/* This node's piece: 0 with its attributes, -ENOENT; *dir_seen as above. */
static int local_piece(struct store *st, const char *name, struct store_attr *piece, bool *dir_seen)
{
	struct store_attr d;
	int rc;

	*dir_seen = false;
	if (store_lookup(st, store_shards_id(st), name, &d) != 0)
		return -ENOENT;
	*dir_seen = true;
	rc = store_lookup(st, d.id, store_node_name(st), piece);
	if (rc == 0)
		store_forget(st, piece->id, 1);
	store_forget(st, d.id, 1);
	return rc;
}

/* Remove this node's piece and the shard's directory here (a piece made before a failure). */
static void drop_local(struct store *st, const char *name)
{
	struct store_attr d;

	if (store_lookup(st, store_shards_id(st), name, &d) != 0)
		return;
	store_unlink(st, d.id, store_node_name(st));
	store_forget(st, d.id, 1);
	store_rmdir(st, store_shards_id(st), name);
}

static bool listed(const char *nodes, const char *node)
{
	size_t len = strlen(node);

	for (const char *p = nodes; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, node, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

int shard_make(struct cluster *c, struct store *st, const struct shard_req *r, struct text *out, char *why,
	       size_t whylen)
{
	struct shard_req q = *r;
	struct cluster_node *v = NULL;
	bool *take = NULL, found = false, dir_seen;
	size_t n = 0, made = 0;
	int rc = cluster_nodes(c, &v, &n);

	if (rc)
		return text_say(why, whylen, rc, "out of memory");
	take = calloc(n ? n : 1, sizeof(*take));
	if (!take) {
		free(v);
		return text_say(why, whylen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; rc == 0 && q.nodes && q.nodes[0]; i++) { /* every node listed is known and up */
		const char *p = q.nodes;
		for (size_t k = 0; k < i && *p; k++)
			p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',');
		if (!*p)
			break;
		char one[NAMES_NODE_MAX + 2];
		snprintf(one, sizeof(one), "%.*s", (int)strcspn(p, ","), p);
		struct cluster_node nd;
		if (cluster_node(c, one, &nd) != 0)
			rc = text_say(why, whylen, -ENOENT, "nodes=%s: no node %s in cluster %s", q.nodes, one, cluster_name(c));
		else if (!nd.up)
			rc = text_say(why, whylen, -EHOSTDOWN, "nodes=%s: node %s is down", q.nodes, one);
	}
	/* where the shard is already: its size, mode and owner for extend; EEXIST for a new one */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct store_attr la;
		struct remote_attr ra;
		bool has = v[i].self ? local_piece(st, q.name, &la, &dir_seen) == 0
				     : remote_piece(c, v[i].name, q.name, &ra, &dir_seen) == 0;
		if (has && !found) {
			found = true;
			q.size = v[i].self ? la.size : ra.size;
			q.mode = (v[i].self ? la.mode : ra.mode) & 07777;
			q.uid = v[i].self ? la.uid : ra.uid;
			q.gid = v[i].self ? la.gid : ra.gid;
		}
		if (dir_seen && !r->extend)
			rc = text_say(why, whylen, -EEXIST, "shards/%s exists (on %s); `shard %s extend` gives a piece to "
				      "the nodes that have none", q.name, v[i].name, q.name);
		take[i] = v[i].up && !dir_seen && (!q.nodes || listed(q.nodes, v[i].name));
	}
	if (rc == 0 && r->extend && !found)
		rc = text_say(why, whylen, -ENOENT, "no shard %s; make it with: shard %s SIZE", q.name, q.name);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!take[i])
			continue;
		if (v[i].self)
			rc = store_shard(st, q.name, q.size, q.mode, q.dir_mode, q.uid, q.gid, why, whylen);
		else
			rc = transfer_shard(v[i].addr, cluster_secret(c), q.name, false, q.size, q.mode, q.dir_mode, q.uid,
					    q.gid, why, whylen);
		if (rc == 0) {
			made++;
			text_printf(out, "%s\tshards/%s/%s\t%llu\n", v[i].name, q.name, v[i].name,
				    (unsigned long long)q.size);
		} else {
			char said[512];
			snprintf(said, sizeof(said), "%s", why);
			text_say(why, whylen, rc, "node %s made no piece of %s: %s", v[i].name, q.name, said);
			for (size_t k = 0; k < i; k++) /* all or nothing */
				if (take[k] && v[k].self)
					drop_local(st, q.name);
				else if (take[k])
					transfer_shard(v[k].addr, cluster_secret(c), q.name, true, 0, 0, 0, 0, 0, said,
						       sizeof(said));
		}
	}
	if (rc == 0 && !made && !r->extend)
		rc = text_say(why, whylen, -EHOSTDOWN, "no node to make a piece of %s on", q.name);
	if (rc)
		text_reset(out);
	free(take);
	free(v);
	return rc;
}

int shard_pieces(struct cluster *c, struct store *st, const char *name, struct text *out)
{
	struct cluster_node *v = NULL;
	struct store_attr p;
	struct remote_attr rp;
	size_t n = 0, found = 0;
	bool dir;
	int rc;

	if (local_piece(st, name, &p, &dir) == 0 && ++found)
		text_printf(out, "%s\n", store_node_name(st));
	if ((rc = cluster_nodes(c, &v, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!v[i].self && remote_piece(c, v[i].name, name, &rp, &dir) == 0 && ++found)
			text_printf(out, "%s\n", v[i].name);
	free(v);
	return found ? 0 : -ENOENT;
}
