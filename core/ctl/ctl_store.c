/* SPDX-License-Identifier: MIT */
/* ctl_store.c -- the control verbs of the store (core/store/store.h): list, locate, stat, allocate,
 * deallocate, defragment, mutable, shard.
 *
 * Names in commands are paths relative to vars/ ("run1/w"), resolved through the store's public lookups
 * like any FUSE request.  Text answers put one item on a line with tab-separated fields (names may hold
 * blanks but never tabs or newlines). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster/shard.h"
#include "core/ctl/ctlInt.h"
#include "core/store/path.h"
#include "core/text/names.h"
#include "core/text/size.h"

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

struct list_ctx {
	struct store *st;
	struct text *ans;
	json_t *arr; /* the JSON answer's entries; NULL: lines */
	size_t count;
};

/* One entry of a JSON listing: {"name","kind","size","state","type"}. */
static int list_json(json_t *arr, const char *path, const char *kind, unsigned long long size, bool sealed,
		     const char *type)
{
	json_t *o = json_object();

	if (ctl_jset(o, "name", ctl_jstr(path)) || ctl_jset(o, "kind", ctl_jstr(kind)) ||
	    ctl_jset(o, "size", ctl_jnum(size)) || ctl_jset(o, "state", ctl_jstr(sealed ? "sealed" : "writing")) ||
	    ctl_jset(o, "type", *type ? ctl_jstr(type) : json_null())) {
		json_decref(o);
		return -ENOMEM;
	}
	return ctl_jpush(arr, o);
}

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
			const char *kind = a.dir ? "dir" : a.link ? "link" : a.mut ? "mutable" : "var";
			unsigned long long size = a.dir ? 0 : (unsigned long long)a.size;
			if (c->arr) {
				rc = list_json(c->arr, path, kind, size, a.dir || a.sealed, type);
			} else {
				rc = text_printf(c->ans, "%s\t%s\t%llu\t%s\n", path, kind, size, *type ? type : "-");
			}
			c->count++;
		}
		if (rc == 0 && a.dir)
			rc = list_dir(c, a.id, path, filter);
	}
	free(ids);
	return rc;
}

int ctl_run_list(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct list_ctx c = { env->st, ans, cmd->json ? json_array() : NULL, 0 };
	const char *prefix = cmd->argc ? cmd->argv[0] : "";
	int rc = cmd->json && !c.arr ? -ENOMEM : list_dir(&c, STORE_VARS_ID, "", prefix);

	if (!cmd->json)
		return rc;
	if (rc) {
		json_decref(c.arr);
		return rc;
	}
	return ctl_json_done(ans, c.arr);
}

int ctl_run_locate(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct store *st = env->st;
	char loc[1024];
	struct store_attr a;
	uint64_t id;
	ssize_t n;
	int rc = path_resolve(st, cmd->argv[0], &id, &a);

	if (rc)
		return ctl_fail(ans, rc, "no variable '%s' under vars/ (%s); see: list", cmd->argv[0], path_error(rc));
	if (a.dir)
		return ctl_fail(ans, -EISDIR, "'%s' is a directory; locate takes a variable", cmd->argv[0]);
	n = store_getxattr(st, id, "user.fabric.locations", loc, sizeof(loc) - 1);
	if (n < 0)
		return ctl_fail(ans, (int)n, "'%s' has no locations (%s)", cmd->argv[0], strerror((int)-n));
	loc[n] = '\0';
	if (!cmd->json)
		return text_printf(ans, "%s\n", loc);
	json_t *arr = json_array();
	rc = arr ? 0 : -ENOMEM;
	for (char *save = NULL, *l = strtok_r(loc, "\n", &save); rc == 0 && l; l = strtok_r(NULL, "\n", &save)) {
		char node[128], shm[256];
		unsigned long long off, len;
		json_t *o;
		if (sscanf(l, "%127s %255s %llu %llu", node, shm, &off, &len) != 4)
			continue;
		o = json_object();
		if (ctl_jset(o, "node", ctl_jstr(node)) || ctl_jset(o, "shm", ctl_jstr(shm)) ||
		    ctl_jset(o, "offset", ctl_jnum(off)) || ctl_jset(o, "length", ctl_jnum(len))) {
			json_decref(o);
			rc = -ENOMEM;
		} else {
			rc = ctl_jpush(arr, o);
		}
	}
	if (rc) {
		json_decref(arr);
		return rc;
	}
	return ctl_json_done(ans, arr);
}

struct stat_ctx {
	struct text *ans;
	json_t *doc, *slabs; /* the JSON answer and its "slabs" array; NULL: lines */
};

/* One block line of `stat`: the variables' own blocks summed, then each slab block. */
static int stat_block(void *arg, const struct store_block_info *b)
{
	struct stat_ctx *c = arg;
	uint64_t free_bytes = b->size > b->used ? b->size - b->used : 0;
	unsigned frag = free_bytes ? (unsigned)(100 - b->largest_free * 100 / free_bytes) : 0;

	if (!c->doc && !b->slab)
		return text_printf(c->ans, "own_blocks\t%llu\t%llu\t%llu\n", (unsigned long long)b->objects,
				   (unsigned long long)b->size, (unsigned long long)b->used);
	if (!c->doc)
		return text_printf(c->ans, "slab\t%llu\t%s\t%llu\t%llu\t%llu\t%llu\t%u%%\n",
					 (unsigned long long)b->id, b->shm_name, (unsigned long long)b->size,
					 (unsigned long long)b->used, (unsigned long long)b->objects,
					 (unsigned long long)b->largest_free, frag);
	if (!b->slab) {
		const struct ctl_field f[] = { { "count", NULL, b->objects }, { "bytes", NULL, b->size },
					       { "charged", NULL, b->used } };
		return ctl_jset(c->doc, "own_blocks", ctl_fields_obj(f, sizeof(f) / sizeof(f[0])));
	}
	const struct ctl_field f[] = { { "block", NULL, b->id }, { "shm", b->shm_name, 0 }, { "size", NULL, b->size },
				       { "used", NULL, b->used }, { "variables", NULL, b->objects },
				       { "largest_free", NULL, b->largest_free }, { "fragmentation", NULL, frag } };
	return ctl_jpush(c->slabs, ctl_fields_obj(f, sizeof(f) / sizeof(f[0])));
}

int ctl_run_stat(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	struct store *st = env->st;
	struct stat_ctx c = { ans, NULL, NULL };
	uint64_t cap, used, objects;
	int rc;

	struct store_counts n;

	store_statfs(st, &cap, &used, &objects);
	store_counts(st, &n);
	const struct ctl_field f[] = { { "node", store_node_name(st), 0 }, { "capacity", NULL, cap },
				       { "used", NULL, used }, { "free", NULL, used > cap ? 0 : cap - used },
				       { "variables", NULL, objects }, { "mutable", NULL, n.mutables },
				       { "replicas", NULL, n.charges }, { "replica_bytes", NULL, n.charged } };
	if (!cmd->json) {
		rc = ctl_fields(ans, false, f, sizeof(f) / sizeof(f[0]));
		return rc ? rc : store_block_stats(st, stat_block, &c);
	}
	c.doc = ctl_fields_obj(f, sizeof(f) / sizeof(f[0]));
	c.slabs = json_array();
	rc = c.doc && c.slabs ? store_block_stats(st, stat_block, &c) : -ENOMEM;
	if (rc) {
		json_decref(c.slabs);
		json_decref(c.doc);
		return rc;
	}
	rc = ctl_jset(c.doc, "slabs", c.slabs); /* after own_blocks, as the lines come */
	if (rc) {
		json_decref(c.doc);
		return rc;
	}
	return ctl_json_done(ans, c.doc);
}

int ctl_run_allocate(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
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
	if (cmd->json) { /* {"capacity":N,"blocks":[{"node":"n1","block":5},...]} */
		const struct ctl_field f[] = { { "capacity", NULL, cap } };
		json_t *doc = ctl_fields_obj(f, 1), *blocks = json_array();
		for (size_t i = 0; rc == 0 && i < n; i++) {
			const struct ctl_field b[] = { { "node", store_node_name(env->st), 0 }, { "block", NULL, ids[i] } };
			rc = ctl_jpush(blocks, ctl_fields_obj(b, 2));
		}
		if (rc == 0)
			rc = ctl_jset(doc, "blocks", blocks);
		else
			json_decref(blocks);
		if (rc) {
			json_decref(doc);
			return ctl_fail(ans, rc, "out of memory");
		}
		return ctl_json_done(ans, doc);
	}
	rc = text_printf(ans, "capacity\t%llu\n", (unsigned long long)cap);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = text_printf(ans, "%s\t%llu\n", store_node_name(env->st), (unsigned long long)ids[i]);
	return rc;
}

int ctl_run_deallocate(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	char why[512] = "";
	uint64_t block, moved = 0;
	bool move = cmd->argc == 3;
	int rc = this_node(env, cmd->argv[0], ans);

	if (rc)
		return rc;
	if (move && strcmp(cmd->argv[2], "move") != 0)
		return ctl_fail(ans, -EINVAL, "the third word may only be `move`; usage: deallocate NODE BLOCK [move]");
	if (ctl_word_u64(cmd->argv[1], &block))
		return ctl_fail(ans, -EINVAL, "BLOCK is a block number as `stat` shows it, not '%s'", cmd->argv[1]);
	rc = store_deallocate(env->st, block, move, &moved, why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "%s", why);
	if (cmd->json) {
		const struct ctl_field f[] = { { "node", store_node_name(env->st), 0 }, { "deallocated", NULL, block },
					       { "bytes_moved", NULL, moved } };
		return ctl_fields(ans, true, f, 3);
	}
	return text_printf(ans, "deallocated\t%s\t%llu\nbytes_moved\t%llu\n", store_node_name(env->st),
				 (unsigned long long)block, (unsigned long long)moved);
}

int ctl_run_defragment(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	uint64_t moved = 0, freed = 0;
	int rc = this_node(env, ctl_opt(cmd, "node"), ans);

	if (rc)
		return rc;
	rc = store_defragment(env->st, &moved, &freed);
	if (rc)
		return ctl_fail(ans, rc, "defragment failed: %s; see the daemon log", strerror(-rc));
	const struct ctl_field f[] = { { "bytes_moved", NULL, moved }, { "blocks_freed", NULL, freed } };
	return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
}

int ctl_new_mode(const struct ctl_env *env, const struct ctl_cmd *cmd, uint32_t base, uint32_t *mode,
		 struct text *ans)
{
	const char *m = ctl_opt(cmd, "mode");

	if (!m) {
		*mode = load_caller_mode(&env->who, base);
		return 0;
	}
	if (ctl_word_mode(m, mode) != 0)
		return ctl_fail(ans, -EINVAL, "mode=%s: give permission bits in octal, 0 to 0777 (as chmod takes them)",
				m);
	return 0;
}

/* mutable and shard: SIZE, and the mode of what they make (0666 less the caller's umask, or mode=). */
static int size_and_mode(const struct ctl_env *env, const struct ctl_cmd *cmd, uint64_t *size, uint32_t *mode,
			 struct text *ans)
{
	int rc = size_arg(cmd->argv[1], size, ans);

	return rc ? rc : ctl_new_mode(env, cmd, 0666, mode, ans);
}

int ctl_run_mutable(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	char leaf[NAMES_LEAF_MAX + 1], why[512] = "";
	struct store_attr a;
	uint64_t dir, size, id;
	uint32_t mode;
	int rc = size_and_mode(env, cmd, &size, &mode, ans);

	if (rc)
		return rc;
	rc = path_parent(env->st, cmd->argv[0], &dir, leaf, sizeof(leaf));
	if (rc)
		return ctl_fail(ans, rc, "cannot make vars/%s: its directory %s", cmd->argv[0],
			    rc == -ENOENT ? "does not exist; mkdir it first" : path_error(rc));
	if (!load_caller_may_create(env->st, &env->who, dir))
		return ctl_fail(ans, -EACCES, "cannot make vars/%s: uid %u may not create names in its directory",
				cmd->argv[0], env->who.uid);
	rc = store_mutable(env->st, dir, leaf, size, ctl_opt(cmd, "scope"), mode, env->who.uid, env->who.gid, why,
			   sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "cannot make mutable vars/%s: %s", cmd->argv[0], why);
	if (path_resolve(env->st, cmd->argv[0], &id, &a) != 0)
		return ctl_fail(ans, -EIO, "vars/%s vanished right after it was made", cmd->argv[0]);
	return text_printf(ans, "size\t%llu\n", (unsigned long long)a.size);
}

int ctl_run_shard(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const char *nodes = ctl_opt(cmd, "nodes");
	bool extend = strcmp(cmd->argv[1], "extend") == 0;
	char why[512] = "";
	uint64_t size = 0;
	uint32_t mode = 0;
	int rc = extend ? 0 : size_and_mode(env, cmd, &size, &mode, ans);

	if (rc)
		return rc;
	if (env->cluster) {
		struct shard_req r = { .name = cmd->argv[0], .size = size, .nodes = nodes, .extend = extend, .mode = mode,
				       .dir_mode = load_caller_mode(&env->who, 0777), .uid = env->who.uid,
				       .gid = env->who.gid };
		if (names_check_leaf(r.name, why, sizeof(why)) != 0 || strcmp(r.name, "local") == 0)
			return ctl_fail(ans, -EINVAL, "cannot make shard %s: %s", r.name,
					why[0] ? why : "'local' names this node's piece inside a shard");
		rc = shard_make(env->cluster, env->st, &r, ans, why, sizeof(why));
		return rc ? ctl_fail(ans, rc, "cannot %s shard %s: %s", extend ? "extend" : "make", r.name, why) : 0;
	}
	if (extend)
		return ctl_fail(ans, -EINVAL, "this fabric is one node (mounted without --etcd): its shards have their "
				"one piece already");
	if (nodes && strcmp(nodes, store_node_name(env->st)) != 0)
		return ctl_fail(ans, -EINVAL, "nodes=%s: this fabric has one node, '%s' (mount with --etcd for several)",
			    nodes, store_node_name(env->st));
	rc = store_shard(env->st, cmd->argv[0], size, mode, load_caller_mode(&env->who, 0777), env->who.uid, env->who.gid,
			 why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "cannot make shard %s: %s", cmd->argv[0], why);
	return text_printf(ans, "%s\tshards/%s/%s\t%llu\n", store_node_name(env->st), cmd->argv[0],
				 store_node_name(env->st), (unsigned long long)size);
}
