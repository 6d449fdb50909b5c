/* SPDX-License-Identifier: MIT */
/* ctl.c -- the control verbs and their answers (see ctl.h).
 *
 * Each verb is a row of the table below: its arity and options are checked by the parser before its
 * handler runs, so handlers only check what words mean.  Names in commands are paths relative to vars/
 * ("run1/w"), resolved through the store's public lookups like any FUSE request.  Text answers put one
 * item on a line with tab-separated fields (names may hold blanks but never tabs or newlines); JSON answers
 * are one document. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bulk/checkpoint.h"
#include "core/ctl/ctlInt.h"
#include "core/text/names.h"
#include "core/store/path.h"
#include "core/text/size.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static int utf8_len(const unsigned char *p)
{
	int n = *p >= 0xf0 && *p <= 0xf4 ? 4 : *p >= 0xe0 && *p < 0xf0 ? 3 : *p >= 0xc2 && *p < 0xe0 ? 2 : 0;

	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string literal of s.  Names are bytes, not always UTF-8: a byte that starts no valid sequence
 * is written as the code point of the same value (Latin-1), so the document stays valid JSON. */
int ctl_json_str(struct text *ans, const char *s)
{
	int rc = text_printf(ans, "\"");

	for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
		int n;
		if (*p == '"' || *p == '\\')
			rc = text_printf(ans, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			rc = text_printf(ans, "\\u%04x", *p);
		else if (*p < 0x80)
			rc = text_printf(ans, "%c", *p);
		else if ((n = utf8_len(p)) > 0) {
			rc = text_printf(ans, "%.*s", n, (const char *)p);
			p += n - 1;
		} else
			rc = text_printf(ans, "\\u%04x", *p);
	}
	return rc ? rc : text_printf(ans, "\"");
}

int ctl_fail(struct text *ans, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++) /* a word quoted with \n in it: the sentence stays one line */
		if (*p == '\n')
			*p = ' ';
	text_reset(ans);
	text_printf(ans, "%s\n", msg);
	return rc;
}

static int run_help(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans);

static int run_locate(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct store *st = env->st;
	char loc[1024];
	struct store_attr a;
	uint64_t id;
	ssize_t n;
	int rc = path_resolve(st, cmd->argv[0], &id, &a);

	if (rc)
		return ctl_fail(ans, rc, "no variable '%s' under vars/ (%s); see: list", cmd->argv[0], strerror(-rc));
	if (a.dir)
		return ctl_fail(ans, -EISDIR, "'%s' is a directory; locate takes a variable", cmd->argv[0]);
	n = store_getxattr(st, id, "user.fabric.locations", loc, sizeof(loc) - 1);
	if (n < 0)
		return ctl_fail(ans, (int)n, "'%s' has no locations (%s)", cmd->argv[0], strerror((int)-n));
	loc[n] = '\0';
	if (!cmd->json)
		return text_printf(ans, "%s\n", loc);
	rc = text_printf(ans, "[");
	for (char *save = NULL, *l = strtok_r(loc, "\n", &save); rc == 0 && l; l = strtok_r(NULL, "\n", &save)) {
		char node[128], shm[256];
		unsigned long long off, len;
		if (sscanf(l, "%127s %255s %llu %llu", node, shm, &off, &len) != 4)
			continue;
		rc = text_printf(ans, "%s{\"node\":", ans->buf[ans->len - 1] == '[' ? "" : ",");
		if (rc == 0)
			rc = ctl_json_str(ans, node);
		if (rc == 0)
			rc = text_printf(ans, ",\"shm\":");
		if (rc == 0)
			rc = ctl_json_str(ans, shm);
		if (rc == 0)
			rc = text_printf(ans, ",\"offset\":%llu,\"length\":%llu}", off, len);
	}
	return rc ? rc : text_printf(ans, "]\n");
}

struct list_ctx {
	struct store *st;
	struct text *ans;
	bool json;
	size_t count;
};

/* Depth-first over a directory's children; prefix is the path of dir ("" for vars/). */
static int list_dir(struct list_ctx *c, uint64_t dir, const char *prefix, const char *filter)
{
	uint64_t *ids;
	size_t n;
	int rc = store_dir_list(c->st, dir, &ids, &n);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		char name[NAMES_LEAF_MAX + 1], path[CTL_LINE_MAX * 2], type[512] = "";
		struct store_attr a;
		ssize_t t;

		if (store_dir_entry(c->st, dir, ids[i], name, sizeof(name), &a, false))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", name);
		if (!a.dir && (t = store_getxattr(c->st, a.id, "user.fabric.type", type, sizeof(type) - 1)) > 0)
			type[t] = '\0';
		if (strncmp(path, filter, strlen(filter)) == 0) {
			const char *kind = a.dir ? "dir" : a.mut ? "mutable" : "var";
			if (c->json) {
				rc = text_printf(c->ans, "%s{\"name\":", c->count ? "," : "");
				if (rc == 0)
					rc = ctl_json_str(c->ans, path);
				if (rc == 0)
					rc = text_printf(c->ans, ",\"kind\":\"%s\",\"size\":%llu,\"state\":\"%s\","
							       "\"type\":", kind, a.dir ? 0ULL : (unsigned long long)a.size,
							       a.dir || a.sealed ? "sealed" : "writing");
				if (rc == 0)
					rc = *type ? ctl_json_str(c->ans, type) : text_printf(c->ans, "null");
				if (rc == 0)
					rc = text_printf(c->ans, "}");
			} else {
				rc = text_printf(c->ans, "%s\t%s\t%llu\t%s\n", path, kind,
						       a.dir ? 0ULL : (unsigned long long)a.size, *type ? type : "-");
			}
			c->count++;
		}
		if (rc == 0 && a.dir)
			rc = list_dir(c, a.id, path, filter);
	}
	free(ids);
	return rc;
}

static int run_list(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct list_ctx c = { env->st, ans, cmd->json, 0 };
	const char *prefix = cmd->argc ? cmd->argv[0] : "";
	int rc = cmd->json ? text_printf(ans, "[") : 0;

	if (rc == 0)
		rc = list_dir(&c, STORE_VARS_ID, "", prefix);
	if (rc == 0 && cmd->json)
		rc = text_printf(ans, "]\n");
	return rc;
}

struct stat_ctx {
	struct text *ans;
	bool json, first;
};

/* One block line of `stat`: the variables' own blocks summed, then each slab block. */
static int stat_block(void *arg, const struct store_block_info *b)
{
	struct stat_ctx *c = arg;
	uint64_t free_bytes = b->size > b->used ? b->size - b->used : 0;
	unsigned frag = free_bytes ? (unsigned)(100 - b->largest_free * 100 / free_bytes) : 0;
	int rc;

	if (!b->slab)
		return c->json ? text_printf(c->ans, ",\"own_blocks\":{\"count\":%llu,\"bytes\":%llu,\"charged\":%llu}"
						   ",\"slabs\":[", (unsigned long long)b->objects,
						   (unsigned long long)b->size, (unsigned long long)b->used)
			       : text_printf(c->ans, "own_blocks\t%llu\t%llu\t%llu\n", (unsigned long long)b->objects,
						   (unsigned long long)b->size, (unsigned long long)b->used);
	if (!c->json)
		return text_printf(c->ans, "slab\t%llu\t%s\t%llu\t%llu\t%llu\t%llu\t%u%%\n",
					 (unsigned long long)b->id, b->shm_name, (unsigned long long)b->size,
					 (unsigned long long)b->used, (unsigned long long)b->objects,
					 (unsigned long long)b->largest_free, frag);
	rc = text_printf(c->ans, "%s{\"block\":%llu,\"shm\":\"%s\",\"size\":%llu,\"used\":%llu,\"variables\":%llu,"
			       "\"largest_free\":%llu,\"fragmentation\":%u}", c->first ? "" : ",",
			       (unsigned long long)b->id, b->shm_name, (unsigned long long)b->size,
			       (unsigned long long)b->used, (unsigned long long)b->objects,
			       (unsigned long long)b->largest_free, frag);
	c->first = false;
	return rc;
}

static int run_stat(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct store *st = env->st;
	struct stat_ctx c = { ans, cmd->json, true };
	uint64_t cap, used, objects;
	int rc;

	store_statfs(st, &cap, &used, &objects);
	if (cmd->json)
		rc = text_printf(ans, "{\"node\":\"%s\",\"capacity\":%llu,\"used\":%llu,\"free\":%llu,"
				       "\"variables\":%llu", store_node_name(st), (unsigned long long)cap,
				       (unsigned long long)used, (unsigned long long)(used > cap ? 0 : cap - used),
				       (unsigned long long)objects);
	else
		rc = text_printf(ans, "node\t%s\ncapacity\t%llu\nused\t%llu\nfree\t%llu\nvariables\t%llu\n",
				       store_node_name(st), (unsigned long long)cap, (unsigned long long)used,
				       (unsigned long long)(used > cap ? 0 : cap - used), (unsigned long long)objects);
	if (rc == 0)
		rc = store_block_stats(st, stat_block, &c);
	if (rc == 0 && cmd->json)
		rc = text_printf(ans, "]}\n");
	return rc;
}

const char *ctl_opt(const struct ctl_cmd *cmd, const char *key)
{
	for (int i = 0; i < cmd->nopts; i++)
		if (strcmp(cmd->opt_key[i], key) == 0)
			return cmd->opt_val[i];
	return NULL;
}

static int run_load(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char why[1024] = "";
	int rc = load_file(env->st, &env->who, cmd->argv[0], cmd->argv[1], ctl_opt(cmd, "type"), ctl_opt(cmd, "doc"), &res,
			   why, sizeof(why));

	if (rc)
		return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
	if (cmd->json)
		return text_printf(ans, "{\"size\":%llu,\"xxh3\":\"%s\"}\n", (unsigned long long)res.size,
					 res.xxh3);
	return text_printf(ans, "size\t%llu\nxxh3\t%s\n", (unsigned long long)res.size, res.xxh3);
}

/* DIR of checkpoint/restore: the argument, or STATE/checkpoint. */
static void ck_dir(const struct ctl_env *env, const struct ctl_cmd *cmd, char *dir, size_t len)
{
	if (cmd->argc)
		snprintf(dir, len, "%s", cmd->argv[0]);
	else
		snprintf(dir, len, "%s/checkpoint", env->state_dir ? env->state_dir : ".");
}

static int run_checkpoint(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char dir[PATH_MAX_LEN + 1], why[1024] = "";
	int rc;

	ck_dir(env, cmd, dir, sizeof(dir));
	rc = load_checkpoint(env->st, &env->who, dir, &res, why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
	if (cmd->json) {
		rc = text_printf(ans, "{\"dir\":");
		if (rc == 0)
			rc = ctl_json_str(ans, dir);
		return rc ? rc : text_printf(ans, ",\"variables\":%llu,\"bytes_written\":%llu,\"unchanged\":%llu}\n",
						   (unsigned long long)res.count, (unsigned long long)res.bytes,
						   (unsigned long long)res.skipped);
	}
	return text_printf(ans, "dir\t%s\nvariables\t%llu\nbytes_written\t%llu\nunchanged\t%llu\n", dir,
				 (unsigned long long)res.count, (unsigned long long)res.bytes,
				 (unsigned long long)res.skipped);
}

static int run_restore(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct load_result res;
	char dir[PATH_MAX_LEN + 1], why[1024] = "", report[8192];
	int rc;

	ck_dir(env, cmd, dir, sizeof(dir));
	rc = load_restore(env->st, &env->who, dir, &res, report, sizeof(report), why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
	if (cmd->json) {
		char *save = NULL, *first = strtok_r(report, "\n", &save);
		rc = text_printf(ans, "{\"dir\":");
		if (rc == 0)
			rc = ctl_json_str(ans, dir);
		if (rc == 0)
			rc = text_printf(ans, ",\"restored\":%llu,\"bytes\":%llu,\"present\":%llu,\"problems\":[",
					       (unsigned long long)res.count, (unsigned long long)res.bytes,
					       (unsigned long long)res.skipped);
		/* the report's lines are "what<TAB>name<TAB>why" */
		for (char *l = first; rc == 0 && l; l = strtok_r(NULL, "\n", &save)) {
			rc = text_printf(ans, "%s", l == first ? "" : ",");
			if (rc == 0)
				rc = ctl_json_str(ans, l);
		}
		return rc ? rc : text_printf(ans, "]}\n");
	}
	return text_printf(ans, "dir\t%s\nrestored\t%llu\nbytes\t%llu\npresent\t%llu\n%s", dir,
				 (unsigned long long)res.count, (unsigned long long)res.bytes,
				 (unsigned long long)res.skipped, report);
}

/* A SIZE argument: 4096, 512M, 2G; zero, signs, fractions and overflow refused with a sentence. */
static int size_arg(const char *word, uint64_t *size, struct text *ans)
{
	int rc = size_parse(word, size);

	if (rc || *size == 0)
		return ctl_fail(ans, rc == -EOVERFLOW ? -EOVERFLOW : -EINVAL,
			    "'%s' is not a size; write 4096, 512M, 2G (no sign, no fraction)", word);
	return 0;
}

static int this_node(const struct ctl_env *env, const char *node, struct text *ans)
{
	if (node && strcmp(node, store_node_name(env->st)) != 0)
		return ctl_fail(ans, -EINVAL, "node '%s' is not this node ('%s'); several nodes are not done yet", node,
			    store_node_name(env->st));
	return 0;
}

static int run_defragment(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	uint64_t moved = 0, freed = 0;
	int rc = this_node(env, ctl_opt(cmd, "node"), ans);

	if (rc)
		return rc;
	rc = store_defragment(env->st, &moved, &freed);
	if (rc)
		return ctl_fail(ans, rc, "defragment failed: %s; see the daemon log", strerror(-rc));
	if (cmd->json)
		return text_printf(ans, "{\"bytes_moved\":%llu,\"blocks_freed\":%llu}\n",
					 (unsigned long long)moved, (unsigned long long)freed);
	return text_printf(ans, "bytes_moved\t%llu\nblocks_freed\t%llu\n", (unsigned long long)moved,
				 (unsigned long long)freed);
}

static int run_allocate(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	uint64_t size, ids[256], cap, used, objects;
	size_t n = 0;
	int rc = this_node(env, ctl_opt(cmd, "node"), ans);

	if (rc)
		return rc;
	rc = size_arg(cmd->argv[0], &size, ans);
	if (rc)
		return rc;
	rc = store_allocate(env->st, size, ids, sizeof(ids) / sizeof(ids[0]), &n);
	if (rc)
		return ctl_fail(ans, rc, "allocate: %s; see the daemon log", strerror(-rc));
	store_statfs(env->st, &cap, &used, &objects);
	rc = text_printf(ans, "capacity\t%llu\n", (unsigned long long)cap);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = text_printf(ans, "%s\t%llu\n", store_node_name(env->st), (unsigned long long)ids[i]);
	return rc;
}

static int run_deallocate(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	char why[512] = "", *end;
	uint64_t block, moved = 0;
	bool move = cmd->argc == 3;
	int rc = this_node(env, cmd->argv[0], ans);

	if (rc)
		return rc;
	if (move && strcmp(cmd->argv[2], "move") != 0)
		return ctl_fail(ans, -EINVAL, "the third word may only be `move`; usage: deallocate NODE BLOCK [move]");
	block = strtoull(cmd->argv[1], &end, 10);
	if (!*cmd->argv[1] || *end || cmd->argv[1][0] == '-')
		return ctl_fail(ans, -EINVAL, "BLOCK is a block number as `stat` shows it, not '%s'", cmd->argv[1]);
	rc = store_deallocate(env->st, block, move, &moved, why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "%s", why);
	return text_printf(ans, "deallocated\t%s\t%llu\nbytes_moved\t%llu\n", store_node_name(env->st),
				 (unsigned long long)block, (unsigned long long)moved);
}

static int run_mutable(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	char leaf[NAMES_LEAF_MAX + 1], why[512] = "";
	struct store_attr a;
	uint64_t dir, size, id;
	int rc = size_arg(cmd->argv[1], &size, ans);

	if (rc)
		return rc;
	rc = path_parent(env->st, cmd->argv[0], &dir, leaf, sizeof(leaf));
	if (rc)
		return ctl_fail(ans, rc, "cannot make vars/%s: its directory %s", cmd->argv[0],
			    rc == -ENOENT ? "does not exist; mkdir it first" : strerror(-rc));
	if (!load_caller_may_create(env->st, &env->who, dir))
		return ctl_fail(ans, -EACCES, "cannot make vars/%s: uid %u may not create names in its directory",
				cmd->argv[0], env->who.uid);
	rc = store_mutable(env->st, dir, leaf, size, ctl_opt(cmd, "scope"), 0666, env->who.uid, env->who.gid, why,
			   sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "cannot make mutable vars/%s: %s", cmd->argv[0], why);
	if (path_resolve(env->st, cmd->argv[0], &id, &a) != 0)
		return ctl_fail(ans, -EIO, "vars/%s vanished right after it was made", cmd->argv[0]);
	return text_printf(ans, "size\t%llu\n", (unsigned long long)a.size);
}

static int run_shard(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const char *nodes = ctl_opt(cmd, "nodes");
	char why[512] = "";
	uint64_t size;
	int rc = size_arg(cmd->argv[1], &size, ans);

	if (rc)
		return rc;
	if (nodes && strcmp(nodes, store_node_name(env->st)) != 0)
		return ctl_fail(ans, -EINVAL, "nodes=%s: this fabric has one node, '%s'; several nodes are not done yet",
			    nodes, store_node_name(env->st));
	rc = store_shard(env->st, cmd->argv[0], size, env->who.uid, env->who.gid, why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "cannot make shard %s: %s", cmd->argv[0], why);
	return text_printf(ans, "%s\tshards/%s/%s\t%llu\n", store_node_name(env->st), cmd->argv[0],
				 store_node_name(env->st), (unsigned long long)size);
}

static const struct ctl_verb verbs[] = {
	{ "help", 0, 1, "", "help [VERB]", "list the verbs, or say what one does", run_help },
	{ "list", 0, 1, "", "list [PREFIX]", "names under vars/ (path, kind, size, type), tab-separated",
	  run_list },
	{ "locate", 1, 1, "", "locate NAME", "where a variable's bytes are: NODE SHM-NAME OFFSET LENGTH lines",
	  run_locate },
	{ "stat", 0, 0, "", "stat",
	  "capacity, used, free; own_blocks COUNT BYTES CHARGED; per slab: block shm size used variables "
	  "largest-free fragmentation", run_stat },
	{ "allocate", 1, 1, "node", "allocate SIZE [node=N]",
	  "add SIZE to the capacity and make SIZE/4M slab blocks ahead: answers the (node, block) pairs",
	  run_allocate },
	{ "deallocate", 2, 3, "", "deallocate NODE BLOCK [move]",
	  "remove a slab block (and its size from the capacity); `move` moves its variables out first",
	  run_deallocate },
	{ "defragment", 0, 0, "node", "defragment [node=N]",
	  "compact the slab blocks that pack small variables: bytes moved, blocks freed", run_defragment },
	{ "mutable", 2, 2, "scope", "mutable NAME SIZE [scope=S]",
	  "a mutable object: SIZE zero bytes, never sealed, written in place (write or shared mmap) by "
	  "anyone in its scope", run_mutable },
	{ "shard", 2, 2, "nodes", "shard NAME SIZE [nodes=N,...]",
	  "shards/NAME with one mutable piece of SIZE bytes per node (shards/NAME/local is this node's)",
	  run_shard },
	{ "load", 2, 2, "type,doc", "load NAME FILE [type=T] [doc=D]",
	  "a new variable from a file on disk (absolute path), read with io_uring straight into shm", run_load },
	{ "checkpoint", 0, 1, "", "checkpoint [DIR]",
	  "write every sealed variable to DIR (default STATE/checkpoint): data named by xxh3 + a manifest",
	  run_checkpoint },
	{ "restore", 0, 1, "", "restore [DIR]",
	  "bring back the checkpoint's variables that are not in the fabric (verified by xxh3)", run_restore },
	{ "spawn", 0, CTL_ARGS_MAX, "in,out,after,scope,timeout",
	  "spawn [in=N,...] [out=N,...] [after=ID,...] [scope=S] [timeout=SECS] -- PROGRAM [ARGS...]",
	  "run a program next to its inputs with your identity; answers the task id (see tasks/ID/)",
	  ctl_run_spawn },
	{ "kill", 1, 1, "", "kill ID", "end a task's whole process tree (or take it out of the queue)",
	  ctl_run_kill },
	{ "forget", 1, 1, "", "forget ID", "remove a finished task's record and output", ctl_run_forget },
	{ "tasks", 0, 0, "", "tasks", "every task: ID STATE NODE EXIT COMMAND, tab-separated", ctl_run_tasks },
};

const struct ctl_verb *ctl_verb_find(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

bool ctl_verb_takes(const struct ctl_verb *v, const char *key, size_t keylen)
{
	for (const char *p = v->opts; *p;) {
		size_t n = strcspn(p, ",");
		if (n == keylen && strncmp(p, key, keylen) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

static int help_line(struct text *ans, const struct ctl_verb *v, bool json, bool first)
{
	int rc;

	if (!json)
		return text_printf(ans, "%s\t%s\n", v->usage, v->help);
	rc = text_printf(ans, "%s{\"verb\":\"%s\",\"usage\":", first ? "" : ",", v->name);
	if (rc == 0)
		rc = ctl_json_str(ans, v->usage);
	if (rc == 0)
		rc = text_printf(ans, ",\"help\":");
	if (rc == 0)
		rc = ctl_json_str(ans, v->help);
	return rc ? rc : text_printf(ans, "}");
}

static int run_help(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	int rc = cmd->json ? text_printf(ans, "[") : 0;

	(void)env;
	if (cmd->argc) {
		const struct ctl_verb *v = ctl_verb_find(cmd->argv[0]);
		if (!v)
			return ctl_fail(ans, -EINVAL, "unknown verb '%s'; try: help", cmd->argv[0]);
		rc = rc ? rc : help_line(ans, v, cmd->json, true);
	} else {
		for (size_t i = 0; rc == 0 && i < sizeof(verbs) / sizeof(verbs[0]); i++)
			rc = help_line(ans, &verbs[i], cmd->json, i == 0);
		if (rc == 0 && !cmd->json)
			rc = text_printf(ans, "json VERB ...\tthe same answer as one JSON document\n");
	}
	return rc ? rc : cmd->json ? text_printf(ans, "]\n") : 0;
}

int ctl_run(const struct ctl_env *env, const char *line, size_t len, struct text *ans)
{
	struct ctl_cmd cmd;
	char err[512];
	int rc;

	text_reset(ans);
	rc = ctl_parse(line, len, &cmd, err, sizeof(err));
	if (rc)
		return ctl_fail(ans, rc, "%s", err);
	rc = ctl_verb_find(cmd.verb)->run(env, &cmd, ans);
	ctl_cmd_free(&cmd);
	return rc;
}
