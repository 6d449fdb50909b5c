/* SPDX-License-Identifier: MIT */
/* ctl_cluster.c -- the verbs of several nodes: move.
 *
 * `move NAME NODE` (on the node that holds NAME): NODE fetches the variable, loads it as its own vars/NAME
 * with the same type, doc, mode and owner, and proves it by its xxh3 (core/cluster/transfer.h, TAKE);
 * only then is this node's copy removed (open readers keep reading it: POSIX).  So at every moment one
 * node at least holds it whole; for the ~tens of milliseconds between the two the cluster's catalog lists
 * both.  Refused with a sentence: a name that is not directly in vars/ (a directory belongs to its node),
 * a directory, a mutable object or shard piece (pinned to its place), a variable being written, one
 * scoped to this node or its processes, an unknown or down node, this node itself, a fabric that is
 * not in a cluster or has no secret.  Who may: root or the variable's owner. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/cluster/cluster.h"
#include "core/cluster/transfer.h"
#include "core/ctl/ctlInt.h"
#include "core/store/path.h"

/* One user.fabric.* string of id, or NULL when unset (into buf). */
static const char *xattr_or_null(struct store *st, uint64_t id, const char *name, char *buf, size_t len)
{
	ssize_t n = store_getxattr(st, id, name, buf, len - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

int ctl_run_move(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const char *name = cmd->argv[0], *node = cmd->argv[1], *slash;
	char xxh3[64], scope[256], type[512], doc[STORE_DOC_MAX + 1], why[600] = "";
	struct cluster_node nd;
	struct store_attr a;
	uint64_t id;
	int rc;

	if (!env->cluster)
		return ctl_fail(ans, -EINVAL, "this fabric is one node (mounted without --etcd): there is nowhere to move to");
	if (!cluster_secret(env->cluster))
		return ctl_fail(ans, -EINVAL, "this node was mounted without the cluster's secret (--secret): it cannot "
				"move bytes");
	rc = path_resolve(env->st, name, &id, &a);
	if (rc)
		return ctl_fail(ans, rc, "no '%s' of this node's under vars/ (%s)", name, path_error(rc));
	if ((slash = strrchr(name, '/')) != NULL && slash[1])
		return ctl_fail(ans, -EXDEV, "'%s' is in a directory, which belongs to its node: move takes a name "
				"directly in vars/ (mv it out first)", name);
	if (a.dir || a.link)
		return ctl_fail(ans, -EISDIR, "'%s' is a %s: move takes a variable", name, a.dir ? "directory" : "link");
	if (a.mut)
		return ctl_fail(ans, -EPERM, "'%s' is a mutable object: pinned to its node, it never moves", name);
	if (!a.sealed)
		return ctl_fail(ans, -EBUSY, "'%s' is being written: move it once it is sealed", name);
	if (env->who.uid != 0 && env->who.uid != a.uid)
		return ctl_fail(ans, -EPERM, "'%s' is uid %u's: only its owner or root may move it", name, a.uid);
	if (xattr_or_null(env->st, id, "user.fabric.scope", scope, sizeof(scope)) && strcmp(scope, "any") != 0)
		return ctl_fail(ans, -EACCES, "'%s' is scoped %s: node %s is outside it", name, scope, node);
	if (strcmp(node, store_node_name(env->st)) == 0)
		return ctl_fail(ans, -EINVAL, "'%s' is on %s already", name, node);
	if (cluster_node(env->cluster, node, &nd) != 0)
		return ctl_fail(ans, -ENOENT, "no node %s in cluster %s; see: ls nodes/", node, cluster_name(env->cluster));
	if (!nd.up)
		return ctl_fail(ans, -EHOSTDOWN, "node %s is down", node);
	if (!xattr_or_null(env->st, id, "user.fabric.xxh3", xxh3, sizeof(xxh3)))
		return ctl_fail(ans, -EIO, "'%s' has no xxh3", name);
	rc = transfer_give(nd.addr, cluster_secret(env->cluster), cluster_addr(env->cluster), (int64_t)id, name,
			   xxh3, xattr_or_null(env->st, id, "user.fabric.type", type, sizeof(type)),
			   xattr_or_null(env->st, id, "user.fabric.doc", doc, sizeof(doc)), a.mode & 07777, a.uid, a.gid,
			   why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "node %s did not take '%s': %s", node, name, why);
	rc = store_unlink(env->st, STORE_VARS_ID, name);
	if (rc)
		return ctl_fail(ans, rc, "'%s' is on %s now, but this node's copy could not be removed (%s): rm it", name,
				node, strerror(-rc));
	const struct ctl_field f[] = { { "moved", name, 0 }, { "to", node, 0 }, { "bytes", NULL, a.size } };
	return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
}
