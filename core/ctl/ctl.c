/* SPDX-License-Identifier: MIT */
/* ctl.c -- the control verbs' table and dispatch: ctl_parse against the table, ctl_run, and help (see
 * ctl.h).
 *
 * Each verb is a row of the table below: its grammar (arity, options, usage) is checked by the parser
 * before its handler runs, so handlers only check what words mean.  The handlers live with what they
 * drive (ctlInt.h); help lives here because it answers from the table itself. */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>

#include "core/ctl/ctlInt.h"
#include "core/os/proc.h"

static ctl_handler run_help;

static const struct ctl_verb verbs[] = {
	{ { "help", 0, 1, "", "help [VERB]" }, "list the verbs, or say what one does", run_help, CTL_ANYONE },
	{ { "list", 0, 1, "", "list [PREFIX]" }, "names under vars/ (path, kind, size, type), tab-separated",
	  ctl_run_list, CTL_ANYONE },
	{ { "locate", 1, 1, "", "locate NAME" },
	  "where a variable's bytes are: NODE SHM-NAME OFFSET LENGTH lines", ctl_run_locate, CTL_ANYONE },
	{ { "stat", 0, 0, "", "stat" },
	  "capacity, used, free; own_blocks COUNT BYTES CHARGED; per slab: block shm size used variables "
	  "largest-free fragmentation", ctl_run_stat, CTL_ANYONE },
	{ { "allocate", 1, 1, "node", "allocate SIZE [node=N]" },
	  "add SIZE to the capacity and make SIZE/4M slab blocks ahead: answers the (node, block) pairs",
	  ctl_run_allocate, CTL_ADMIN },
	{ { "deallocate", 2, 3, "", "deallocate NODE BLOCK [move]" },
	  "remove a slab block (and its size from the capacity); `move` moves its variables out first",
	  ctl_run_deallocate, CTL_ADMIN },
	{ { "defragment", 0, 0, "node", "defragment [node=N]" },
	  "compact the slab blocks that pack small variables: bytes moved, blocks freed", ctl_run_defragment, CTL_ADMIN },
	{ { "mutable", 2, 2, "scope,mode", "mutable NAME SIZE [scope=S] [mode=M]" },
	  "a mutable object: SIZE zero bytes, never sealed, written in place (write or shared mmap) by "
	  "anyone in its scope", ctl_run_mutable, CTL_ANYONE },
	{ { "shard", 2, 2, "nodes,mode", "shard NAME SIZE [nodes=N,...] [mode=M] | shard NAME extend" },
	  "shards/NAME with one mutable piece of SIZE bytes on every node up (or the listed ones; "
	  "shards/NAME/local is this node's); extend: a piece for each node up that has none",
	  ctl_run_shard, CTL_ANYONE },
	{ { "load", 2, 2, "type,doc,mode", "load NAME FILE|DIR|FILE.tar [type=T] [doc=D] [mode=M]" },
	  "a new variable from a file on disk (absolute path), read with io_uring straight into shm; a directory "
	  "or a tar archive becomes the new directory NAME of its files, all or nothing", ctl_run_load, CTL_ANYONE },
	{ { "checkpoint", 0, 1, "", "checkpoint [DIR]" },
	  "write every sealed variable to DIR (default STATE/checkpoint): data named by xxh3 + a manifest",
	  ctl_run_checkpoint, CTL_ANYONE },
	{ { "restore", 0, 1, "", "restore [DIR]" },
	  "bring back the checkpoint's variables that are not in the fabric (verified by xxh3)", ctl_run_restore, CTL_ANYONE },
	{ { "spawn", 0, CTL_ARGS_MAX, "in,out,after,scope,timeout,mode,each",
	    "spawn [in=N,...] [out=N,...] [after=ID,...] [scope=S] [timeout=SECS] [mode=M] [each=shards/NAME] -- "
	    "PROGRAM [ARGS...]" },
	  "run a program next to its inputs with your identity; answers the task id (see tasks/ID/)",
	  ctl_run_spawn, CTL_ANYONE },
	{ { "kill", 1, 1, "", "kill ID" }, "end a task's whole process tree (or take it out of the queue)",
	  ctl_run_kill, CTL_ANYONE },
	{ { "forget", 1, 1, "", "forget ID" }, "remove a finished task's record and output", ctl_run_forget, CTL_ANYONE },
	{ { "tasks", 0, 0, "", "tasks" }, "every task: ID STATE NODE EXIT COMMAND, tab-separated", ctl_run_tasks, CTL_ANYONE },
	{ { "dataset", 2, 3, "type,limits,mode,doc",
	    "dataset make NAME [type=T] [doc=D] [limits=kids:K,items:N,bytes:B,settle:S] [mode=M] | dataset tree NAME | "
	    "dataset put NAME DIR|FILE.tar|FILE.tsv [doc=D] [mode=M] | dataset drop NAME" },
	  "make: datasets/NAME, a keyed dataset (mkdir there makes one untyped with the default limits), "
	  "type=T every item's (T, or N * T; an item's own type narrows T); tree: its "
	  "tree of managers and leaves, one line a node (json: one document); put: every file of a directory "
	  "or member of an archive an item (its name the key), all or nothing; drop: the dataset and its items "
	  "at once", ctl_run_dataset, CTL_ANYONE },
	{ { "move", 2, 3, "remotes", "move NAME NODE [recursive] [remotes=yes|no]" },
	  "move a sealed variable directly in vars/ to NODE of the cluster (verified by xxh3); recursive: with "
	  "what its user.fabric.refs reach (remotes=no: only those on its node)", ctl_run_move, CTL_ANYONE },
	{ { "drain", 1, 1, "", "drain NODE" },
	  "move everything NODE holds in vars/ to the other nodes (the most room first); what cannot go is "
	  "listed", ctl_run_drain, CTL_ADMIN },
};

const struct ctl_verb *ctl_verb_find(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].g.name, name) == 0)
			return &verbs[i];
	return NULL;
}

/* The lookup the parser is handed: what it needs of a row. */
static const struct ctl_grammar *verb_grammar(const char *name)
{
	const struct ctl_verb *v = ctl_verb_find(name);

	return v ? &v->g : NULL;
}

int ctl_parse(const char *line, size_t len, struct ctl_cmd *cmd, char *err, size_t errlen)
{
	return ctl_parse_with(verb_grammar, line, len, cmd, err, errlen);
}

/* One verb's help: a line, or (arr given) an object {"verb","usage","help"} pushed onto arr. */
static int help_line(struct text *ans, const struct ctl_verb *v, json_t *arr)
{
	json_t *o;

	if (!arr)
		return text_printf(ans, "%s\t%s\n", v->g.usage, v->help);
	o = json_object();
	if (ctl_jset(o, "verb", ctl_jstr(v->g.name)) || ctl_jset(o, "usage", ctl_jstr(v->g.usage)) ||
	    ctl_jset(o, "help", ctl_jstr(v->help))) {
		json_decref(o);
		return -ENOMEM;
	}
	return ctl_jpush(arr, o);
}

static int run_help(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	json_t *arr = cmd->json ? json_array() : NULL;
	int rc = cmd->json && !arr ? -ENOMEM : 0;

	(void)env;
	if (rc == 0 && cmd->argc) {
		const struct ctl_verb *v = ctl_verb_find(cmd->argv[0]);
		if (!v) {
			json_decref(arr);
			return ctl_fail(ans, -EINVAL, "unknown verb '%s'; try: help", cmd->argv[0]);
		}
		rc = help_line(ans, v, arr);
	} else {
		for (size_t i = 0; rc == 0 && i < sizeof(verbs) / sizeof(verbs[0]); i++)
			rc = help_line(ans, &verbs[i], arr);
		if (rc == 0 && !cmd->json)
			rc = text_printf(ans, "json VERB ...\tthe same answer as one JSON document\n");
	}
	if (!cmd->json)
		return rc;
	if (rc) {
		json_decref(arr);
		return rc;
	}
	return ctl_json_done(ans, arr);
}

/* Root, or a process holding CAP_SYS_ADMIN: who may change the node itself (README, "Who may do what"). */
static bool caller_is_admin(const struct load_caller *who)
{
	return who->uid == 0 || (who->pid > 0 && proc_has_cap(who->pid, CAP_SYS_ADMIN));
}

int ctl_run(const struct ctl_env *env, const char *line, size_t len, struct text *ans)
{
	const struct ctl_verb *v;
	struct ctl_cmd cmd;
	char err[512];
	int rc;

	text_reset(ans);
	rc = ctl_parse(line, len, &cmd, err, sizeof(err));
	if (rc)
		return ctl_fail(ans, rc, "%s", err);
	v = ctl_verb_find(cmd.verb);
	if (v->right == CTL_ADMIN && !caller_is_admin(&env->who))
		rc = ctl_fail(ans, -EPERM, "%s acts on the whole node: it needs root or CAP_SYS_ADMIN, which uid %u "
			      "does not have", cmd.verb, env->who.uid);
	else
		rc = v->run(env, &cmd, ans);
	ctl_cmd_free(&cmd);
	return rc;
}
