/* SPDX-License-Identifier: MIT */
/* ctl_cluster.c -- the verbs of several nodes: move and drain (core/cluster/move.h does the moving).
 *
 * `move NAME NODE [recursive] [remotes=yes|no]`, from any node: NAME's owner sends it, with what its
 * user.fabric.refs reach when recursive (remotes=no: only those on NAME's node).  Who may: root, or the
 * owner of every object that moves. */
#include <errno.h>
#include <string.h>

#include "core/cluster/move.h"
#include "core/ctl/ctlInt.h"

int ctl_run_move(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const char *remotes = ctl_opt(cmd, "remotes");
	struct move_req r = { .name = cmd->argv[0], .node = cmd->argv[1], .flags = MOVE_REMOTES, .uid = env->who.uid };
	struct move_result res;
	char why[1024] = "";
	int rc;

	if (!env->cluster)
		return ctl_fail(ans, -EINVAL, "this fabric is one node (mounted without --etcd): there is nowhere to move to");
	if (cmd->argc == 3 && strcmp(cmd->argv[2], "recursive") != 0)
		return ctl_fail(ans, -EINVAL, "'%s': the third word of move is `recursive` or nothing", cmd->argv[2]);
	if (cmd->argc == 3)
		r.flags |= MOVE_RECURSIVE;
	if (remotes && strcmp(remotes, "no") == 0)
		r.flags &= ~MOVE_REMOTES;
	else if (remotes && strcmp(remotes, "yes") != 0)
		return ctl_fail(ans, -EINVAL, "remotes=%s: yes or no", remotes);
	if (remotes && !(r.flags & MOVE_RECURSIVE))
		return ctl_fail(ans, -EINVAL, "remotes= says which referents move: it goes with `recursive`");
	rc = move_run(env->cluster, env->st, &r, &res, why, sizeof(why));
	if (rc) {
		if (res.count)
			rc = ctl_fail(ans, rc, "moved %s to %s, then stopped: %s", res.moved.buf, r.node, why);
		else
			rc = ctl_fail(ans, rc, "%s", why);
		move_result_free(&res);
		return rc;
	}
	const struct ctl_field f[] = { { "moved", res.by[0] ? r.name : res.moved.buf ? res.moved.buf : "", 0 },
				       { "to", r.node, 0 },
				       { "bytes", NULL, res.bytes },
				       { "stayed", res.stayed.buf ? res.stayed.buf : "", 0 },
				       { "by", res.by[0] ? res.by : NULL, 0 } };
	rc = ctl_fields(ans, cmd->json, f, res.by[0] ? 5 : 4);
	move_result_free(&res);
	return rc;
}

int ctl_run_drain(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct move_result res;
	char why[4096] = "";
	int rc;

	if (!env->cluster)
		return ctl_fail(ans, -EINVAL, "this fabric is one node (mounted without --etcd): there is nowhere to drain to");
	rc = move_drain(env->cluster, env->st, cmd->argv[0], &res, why, sizeof(why));
	if (rc) {
		if (res.count)
			rc = ctl_fail(ans, rc, "moved %s; %s", res.moved.buf, why);
		else
			rc = ctl_fail(ans, rc, "%s", why);
		move_result_free(&res);
		return rc;
	}
	const struct ctl_field f[] = { { "drained", cmd->argv[0], 0 },
				       { "moved", res.moved.buf ? res.moved.buf : "", 0 },
				       { "objects", NULL, res.count },
				       { "bytes", NULL, res.bytes } };
	rc = ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
	move_result_free(&res);
	return rc;
}
