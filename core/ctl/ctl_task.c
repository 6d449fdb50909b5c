/* SPDX-License-Identifier: MIT */
/* ctl_task.c -- the control verbs of tasks: spawn, kill, forget, tasks (see core/task/task.h).
 *
 * spawn answers the new task's id alone on its first line, so `id=$(fabric spawn ...)` works; everything
 * else about the task is in tasks/ID/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster/shard.h"
#include "core/ctl/ctlInt.h"
#include "core/store/store.h"
#include "core/text/names.h"

static int no_tasks(struct text *ans)
{
	return ctl_fail(ans, -ENOSYS, "this fabric runs no tasks (its daemon was started without them)");
}

static int task_id(const char *word, uint64_t *id, struct text *ans)
{
	if (ctl_word_u64(word, id))
		return ctl_fail(ans, -EINVAL, "'%s' is not a task id (a number, as spawn answered)", word);
	return 0;
}

/* s with every "%n" replaced by node (malloc'd; NULL for NULL). */
static char *with_node(const char *s, const char *node)
{
	struct text x = { 0 };
	char *out = NULL;
	size_t len;

	if (!s)
		return NULL;
	for (const char *p = s; *p; p++)
		if (p[0] == '%' && p[1] == 'n') {
			text_printf(&x, "%s", node);
			p++;
		} else
			text_printf(&x, "%c", *p);
	return text_take(&x, &out, &len) == 0 ? out : NULL;
}

/* The group of each='s n tasks, on this node. */
static int spawn_group(const struct ctl_env *env, const struct task_request *base, const uint64_t *made, size_t n,
		       uint64_t *group, char *why, size_t whylen)
{
	char scope[NAMES_NODE_MAX + 8], *after = NULL;
	struct text x = { 0 };
	size_t len;
	int rc;

	for (size_t i = 0; i < n; i++)
		text_printf(&x, "%s%llu", i ? "," : "", (unsigned long long)made[i]);
	rc = text_take(&x, &after, &len);
	snprintf(scope, sizeof(scope), "node:%s", store_node_name(env->st));
	struct task_request r = { .group = true, .after = after, .scope = env->cluster ? scope : NULL, .uid = base->uid,
				  .gid = base->gid, .pid = base->pid, .out_mode = base->out_mode, .here = true };
	if (rc == 0)
		rc = tasks_spawn(env->tasks, &r, group, why, whylen);
	free(after);
	return rc;
}

/* spawn each=shards/NAME: one task per piece, on the piece's node (scope node:NODE), its piece its first
 * input (FABRIC_PIECE), "%n" in out= its node, and a group on this node after all of them (a task without
 * a program that ends exited once they all exited: after= its id waits for the lot).  The answer: the
 * group's id, then the tasks' ids, one a line, in the pieces' order; all or none:
 * a refusal part way kills the tasks already accepted (a queued one leaves the queue, a running one ends
 * `killed`; their records stay until forgotten) and forgets those that ended. */
static int spawn_each(const struct ctl_env *env, const struct ctl_cmd *cmd, const struct task_request *base,
		      struct text *ans)
{
	const char *each = ctl_opt(cmd, "each"), *shard = each + 7;
	struct text nodes = { 0 }, ids = { 0 };
	char why[1024] = "", *list = NULL, *text = NULL;
	size_t len, done = 0;
	uint64_t *made = NULL, group = 0;
	int rc;

	if (strncmp(each, "shards/", 7) != 0 || !*shard || strchr(shard, '/') || base->scope)
		return ctl_fail(ans, -EINVAL, "each=%s: give each=shards/NAME (a shard; each task's scope is its piece's "
				"node, so no scope= beside it)", each);
	if (!env->cluster) /* one node: the one piece */
		text_printf(&nodes, "%s\n", store_node_name(env->st));
	else if ((rc = shard_pieces(env->cluster, env->st, shard, &nodes)) != 0) {
		text_free(&nodes);
		return ctl_fail(ans, rc, "each=%s: %s", each, rc == -ENOENT ? "no such shard (see: ls shards/)" : strerror(-rc));
	}
	if ((rc = text_take(&nodes, &list, &len)) != 0)
		return ctl_fail(ans, rc, "out of memory");
	made = calloc(len + 1, sizeof(*made));
	for (char *node = list, *nl; rc == 0 && made && (nl = strchr(node, '\n')); node = nl + 1) {
		*nl = '\0';
		struct task_request r = *base;
		char scope[NAMES_NODE_MAX + 8], *in = NULL, *out = with_node(base->outputs, node);
		if (asprintf(&in, "%s/%s%s%s", each, env->cluster ? node : "local", base->inputs ? "," : "",
			     base->inputs ? base->inputs : "") < 0)
			in = NULL;
		snprintf(scope, sizeof(scope), "node:%s", node);
		r.inputs = in;
		r.outputs = out;
		r.scope = env->cluster ? scope : NULL;
		rc = in && (out || !base->outputs) ? tasks_spawn(env->tasks, &r, &made[done], why, sizeof(why)) : -ENOMEM;
		if (rc == 0)
			text_printf(&ids, "%llu\n", (unsigned long long)made[done++]);
		else
			text_say(why + strlen(why), sizeof(why) - strlen(why), 0, " (the piece of node %s)", node);
		free(in);
		free(out);
	}
	if (!made)
		rc = -ENOMEM;
	if (rc == 0 && (rc = spawn_group(env, base, made, done, &group, why, sizeof(why))) != 0)
		text_say(why + strlen(why), sizeof(why) - strlen(why), 0, " (the group of the tasks)");
	for (size_t i = 0; rc && i < done; i++) { /* all or none */
		char w[256];
		tasks_kill(env->tasks, made[i], base->uid, w, sizeof(w));
		tasks_forget(env->tasks, made[i], base->uid, w, sizeof(w));
	}
	free(made);
	free(list);
	if (rc) {
		text_free(&ids);
		return ctl_fail(ans, rc, "spawn refused: %s", why);
	}
	if (text_take(&ids, &text, &len) == 0)
		text_printf(ans, "%llu\n%s", (unsigned long long)group, text);
	free(text);
	return 0;
}

int ctl_run_spawn(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct task_request r;
	char why[1024] = "";
	uint32_t out_mode;
	uint64_t id;
	int rc;

	if (!env->tasks)
		return no_tasks(ans);
	if (cmd->dashdash < 0)
		return ctl_fail(ans, -EINVAL, "spawn needs '--' before the program: spawn [in=N,...] [out=N,...] "
				"[after=ID,...] [scope=S] [timeout=SECS] -- PROGRAM [ARGS...]");
	if (cmd->dashdash > 0)
		return ctl_fail(ans, -EINVAL, "'%s' before '--' is not an option of spawn (it takes in=, out=, "
				"after=, scope=, timeout=)", cmd->argv[0]);
	rc = ctl_new_mode(env, cmd, 0666, &out_mode, ans);
	if (rc)
		return rc;
	r = (struct task_request){ .argv = cmd->argv, .argc = (size_t)cmd->argc, .inputs = ctl_opt(cmd, "in"),
				   .outputs = ctl_opt(cmd, "out"), .after = ctl_opt(cmd, "after"),
				   .scope = ctl_opt(cmd, "scope"), .timeout = ctl_opt(cmd, "timeout"),
				   .uid = env->who.uid, .gid = env->who.gid, .pid = env->who.pid,
				   .out_mode = out_mode };
	if (ctl_opt(cmd, "each"))
		return spawn_each(env, cmd, &r, ans);
	rc = tasks_spawn(env->tasks, &r, &id, why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "spawn refused: %s", why);
	if (cmd->json)
		return text_printf(ans, "{\"task\":%llu}\n", (unsigned long long)id);
	return text_printf(ans, "%llu\n", (unsigned long long)id);
}

/* kill ID and forget ID: the same shape around a different call. */
static int on_task(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans,
		   int (*fn)(struct tasks *t, uint64_t id, uint32_t uid, char *why, size_t whylen))
{
	char why[512] = "";
	uint64_t id;
	int rc;

	if (!env->tasks)
		return no_tasks(ans);
	rc = task_id(cmd->argv[0], &id, ans);
	if (rc == 0)
		rc = fn(env->tasks, id, env->who.uid, why, sizeof(why));
	if (rc)
		return *why ? ctl_fail(ans, rc, "%s", why) : rc;
	return 0;
}

int ctl_run_kill(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	return on_task(env, cmd, ans, tasks_kill);
}

int ctl_run_forget(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	return on_task(env, cmd, ans, tasks_forget);
}

int ctl_run_tasks(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	char *text;
	size_t len;
	int rc;

	if (!env->tasks)
		return no_tasks(ans);
	rc = tasks_table(env->tasks, &text, &len);
	if (rc)
		return ctl_fail(ans, rc, "cannot list the tasks: %s", strerror(-rc));
	if (!cmd->json) {
		rc = text_printf(ans, "%.*s", (int)len, text);
		free(text);
		return rc;
	}
	/* the same table as an array of objects: the text's fields never hold a tab or a newline; id and exit
	 * are numbers (exit null while there is none: "-") */
	static const char *const keys[] = { "id", "state", "node", "exit", "command" };
	json_t *arr = json_array();
	rc = arr ? 0 : -ENOMEM;
	for (char *line = text, *next; rc == 0 && *line; line = next) {
		json_t *o = json_object();
		next = strchr(line, '\n');
		*next++ = '\0';
		for (int f = 0; rc == 0 && f < 5; f++) {
			char *tab = f < 4 ? strchr(line, '\t') : NULL;
			if (tab)
				*tab = '\0';
			if (f == 0 || f == 3)
				rc = ctl_jset(o, keys[f], strcmp(line, "-") == 0 ? json_null()
							  : json_integer((json_int_t)strtoll(line, NULL, 10)));
			else
				rc = ctl_jset(o, keys[f], ctl_jstr(line));
			line = tab ? tab + 1 : line + strlen(line);
		}
		rc = rc ? (json_decref(o), rc) : ctl_jpush(arr, o);
	}
	free(text);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	return ctl_json_done(ans, arr);
}
