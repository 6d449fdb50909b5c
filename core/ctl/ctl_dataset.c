/* SPDX-License-Identifier: MIT */
/* ctl_dataset.c -- the verb of keyed datasets (core/dataset/dataset.h): dataset make NAME, dataset tree
 * NAME, dataset put NAME DIR|FILE.tar|FILE.tsv, dataset drop NAME.  Making one is open to anyone (it
 * belongs to its caller, as a mkdir in datasets/ does); the tree is shown to whoever may read the
 * dataset's directory; put needs the right to make names in it (core/bulk opens the files as the
 * caller); drop is its owner's or root's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bulk/load.h"
#include "core/cluster/cluster.h"
#include "core/cluster/remote.h"
#include "core/cluster/transfer.h"
#include "core/ctl/ctlInt.h"
#include "core/dataset/dataset.h"
#include "core/os/hash.h"
#include "core/text/names.h"

static int make(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const struct dataset_spec spec = { ctl_opt(cmd, "type"), ctl_opt(cmd, "doc"), ctl_opt(cmd, "limits") };
	struct remote_attr other;
	char why[512] = "";
	uint32_t mode = 0;
	uint64_t id;
	int rc = ctl_new_mode(env, cmd, 0777, &mode, ans);

	if (rc)
		return rc;
	if (env->cluster && remote_child_in(cluster_remote(env->cluster), "datasets", cmd->argv[1], &other) == 0)
		return ctl_fail(ans, -EEXIST, "datasets/%s exists: node %s's", cmd->argv[1], other.node);
	rc = datasets_make(env->datasets, cmd->argv[1], &spec, mode, env->who.uid, env->who.gid, &id, why,
			   sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "%s", why);
	const struct ctl_field f[] = { { "dataset", cmd->argv[1], 0 }, { "id", NULL, id } };
	return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
}

static json_t *node_json(const struct dataset_node *n, const char *node)
{
	char lo[17], hi[17];
	json_t *o = json_object();

	snprintf(lo, sizeof(lo), "%016llx", (unsigned long long)n->lo);
	snprintf(hi, sizeof(hi), "%016llx", (unsigned long long)n->hi);
	if (ctl_jset(o, "id", ctl_jnum((uint64_t)n->id)) || ctl_jset(o, "parent", ctl_jnum((uint64_t)n->parent)) ||
	    ctl_jset(o, "height", json_integer(n->height)) ||
	    ctl_jset(o, "kind", ctl_jstr(n->height < 0 ? "leaf" : "manager")) || ctl_jset(o, "lo", ctl_jstr(lo)) ||
	    ctl_jset(o, "hi", ctl_jstr(hi)) || ctl_jset(o, "kids", ctl_jnum(n->kids)) ||
	    ctl_jset(o, "items", ctl_jnum(n->items)) || ctl_jset(o, "bytes", ctl_jnum(n->bytes)) ||
	    ctl_jset(o, "node", ctl_jstr(node))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The dataset called name: 0 with its directory's attributes, or the answer's refusal. */
static int dataset_of(const struct ctl_env *env, const char *name, struct store_attr *a, struct text *ans)
{
	int rc = store_lookup(env->st, store_datasets_id(env->st), name, a);

	if (rc == 0) {
		store_forget(env->st, a->id, 1);
		if (!store_is_dataset(env->st, a->id, NULL))
			rc = -ENOENT;
	}
	return rc ? ctl_fail(ans, rc, "no dataset %s (datasets/%s)", name, name) : 0;
}

static int put(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const char *given = ctl_opt(cmd, "mode");
	struct load_result res;
	struct store_attr a;
	char why[1024] = "", shown[NAMES_LEAF_MAX + 16];
	uint32_t mode = 0;
	int rc = cmd->argc == 3 ? dataset_of(env, cmd->argv[1], &a, ans)
				: ctl_fail(ans, -EINVAL, "usage: dataset put NAME DIR|FILE.tar|FILE.tsv [doc=D] [mode=M]");

	if (rc == 0 && given)
		rc = ctl_new_mode(env, cmd, 0, &mode, ans);
	if (rc)
		return rc;
	snprintf(shown, sizeof(shown), "datasets/%s", cmd->argv[1]);
	rc = load_into(env->st, &env->who, a.id, shown, cmd->argv[2], ctl_opt(cmd, "doc"), given ? (int)mode : -1, &res,
		       why, sizeof(why));
	if (rc)
		return ctl_fail(ans, rc, "%s", why[0] ? why : strerror(-rc));
	datasets_kick(env->datasets);
	const struct ctl_field f[] = { { "items", NULL, res.count }, { "bytes", NULL, res.bytes } };
	return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
}

/* The tree of another node's dataset, asked of that node (DATASET_TREE_VERB): its answer, text or JSON,
 * is this one's; it checks the caller's uid and gid there, as the nodes trust each other's uids. */
static int remote_tree(const struct ctl_env *env, const struct ctl_cmd *cmd, const struct remote_attr *ds,
		       struct text *ans)
{
	struct cluster_node nd;
	char why[512] = "", *reply = NULL, *body;
	size_t len = 0;
	int rc;

	if (cluster_node(env->cluster, ds->node, &nd) != 0 || !nd.up)
		return ctl_fail(ans, -EHOSTDOWN, "datasets/%s is node %s's, which is down", ds->name, ds->node);
	if (!cluster_secret(env->cluster))
		return ctl_fail(ans, -EREMOTE, "datasets/%s is node %s's, and this node was mounted without the "
				"cluster's secret to ask it", ds->name, ds->node);
	json_t *j = json_pack("{s:s, s:I, s:I, s:b}", "name", ds->name, "uid", (json_int_t)env->who.uid, "gid",
			      (json_int_t)env->who.gid, "json", cmd->json);

	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return ctl_fail(ans, -ENOMEM, "out of memory");
	rc = transfer_call(nd.addr, cluster_secret(env->cluster), DATASET_TREE_VERB, body, 30, &reply, &len, why,
			   sizeof(why));
	free(body);
	if (rc)
		return ctl_fail(ans, rc, "%s", why);
	rc = text_printf(ans, "%.*s", (int)len, reply);
	free(reply);
	return rc;
}

static int tree(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const char *name = cmd->argv[1], *node = store_node_name(env->st);
	struct remote_attr other;
	struct store_attr a;
	struct dataset_view v;
	int rc = dataset_of(env, name, &a, ans);

	if (rc == -ENOENT && env->cluster &&
	    remote_child_in(cluster_remote(env->cluster), "datasets", name, &other) == 0) {
		text_reset(ans);
		return remote_tree(env, cmd, &other, ans);
	}
	if (rc)
		return rc;
	if (!store_attr_allows(&a, env->who.uid, env->who.gid, NULL, 0, 04))
		return ctl_fail(ans, -EACCES, "datasets/%s is not readable by uid %u", name, env->who.uid);
	rc = datasets_view(env->datasets, a.id, &v);
	if (rc)
		return ctl_fail(ans, rc, "cannot read the tree of %s: %s", name, strerror(-rc));
	if (!cmd->json) {
		rc = dataset_view_text(&v, name, node, ans);
		dataset_view_free(&v);
		return rc;
	}
	json_t *doc = json_object(), *nodes = json_array();
	rc = ctl_jset(doc, "dataset", ctl_jstr(name));
	if (rc == 0)
		rc = ctl_jset(doc, "limits", ctl_jstr(v.limits));
	if (rc == 0)
		rc = ctl_jset(doc, "height", json_integer(v.height));
	for (size_t i = 0; rc == 0 && i < v.n; i++)
		rc = ctl_jpush(nodes, node_json(&v.v[i], node));
	if (rc == 0)
		rc = ctl_jset(doc, "nodes", nodes);
	else
		json_decref(nodes);
	dataset_view_free(&v);
	if (rc) {
		json_decref(doc);
		return ctl_fail(ans, rc, "out of memory");
	}
	return ctl_json_done(ans, doc);
}

/* dataset drop NAME: the dataset and every item at once, by its owner or root (datasets/ is sticky). */
static int drop(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	const char *name = cmd->argv[1];
	struct store_attr a;
	uint64_t items = 0;
	int rc = dataset_of(env, name, &a, ans);

	if (rc)
		return rc;
	if (env->who.uid != 0 && env->who.uid != a.uid)
		return ctl_fail(ans, -EPERM, "datasets/%s is uid %u's: only its owner or root drops it", name, a.uid);
	rc = store_dataset_drop(env->st, a.id, &items);
	if (rc == -EBUSY)
		return ctl_fail(ans, rc, "datasets/%s holds a task's output being made; nothing dropped", name);
	if (rc)
		return ctl_fail(ans, rc, "cannot drop datasets/%s: %s", name, strerror(-rc));
	const struct ctl_field f[] = { { "dropped", name, 0 }, { "items", NULL, items } };
	return ctl_fields(ans, cmd->json, f, sizeof(f) / sizeof(f[0]));
}

int ctl_run_dataset(const struct ctl_env *env, const struct ctl_cmd *cmd, struct text *ans)
{
	if (!env->datasets)
		return ctl_fail(ans, -ENOTSUP, "this daemon keeps no datasets");
	if (strcmp(cmd->argv[0], "make") == 0 && cmd->argc == 2)
		return make(env, cmd, ans);
	if (strcmp(cmd->argv[0], "put") == 0)
		return put(env, cmd, ans);
	if (cmd->argc != 2)
		return ctl_fail(ans, -EINVAL, "dataset %s NAME takes no more words", cmd->argv[0]);
	if (strcmp(cmd->argv[0], "tree") == 0)
		return tree(env, cmd, ans);
	if (strcmp(cmd->argv[0], "drop") == 0)
		return drop(env, cmd, ans);
	return ctl_fail(ans, -EINVAL, "dataset %s: the subcommands are make, tree, put and drop", cmd->argv[0]);
}

/* DATASET_TREE_VERB from another node: {"name", "uid", "gid", "json"}, answered with `dataset tree NAME`
 * as that uid and gid would get it here. */
static int serve_tree(void *arg, const char *verb, const char *req, size_t len, char **out, size_t *outlen,
		      char *why, size_t whylen)
{
	const struct ctl_env *base = arg;
	struct ctl_env env = *base;
	struct ctl_cmd cmd = { .verb = "dataset", .argc = 2, .dashdash = -1, .argv = { "tree" } };
	struct text ans = { 0 };
	json_int_t uid, gid;
	int json = 0, rc;
	json_t *j = json_loadb(req, len, 0, NULL);

	(void)verb;
	if (!j || json_unpack(j, "{s:s, s:I, s:I, s:b}", "name", &cmd.argv[1], "uid", &uid, "gid", &gid, "json",
			      &json) != 0) {
		json_decref(j);
		return text_say(why, whylen, -EINVAL, "a %s asks {name, uid, gid, json}", DATASET_TREE_VERB);
	}
	cmd.json = json;
	env.who = (struct load_caller){ (uint32_t)uid, (uint32_t)gid, 0 };
	env.cluster = NULL; /* here or nowhere: never asked further */
	rc = tree(&env, &cmd, &ans);
	json_decref(j);
	if (rc) { /* ctl_fail's sentence, without its newline */
		text_say(why, whylen, rc, "%.*s", (int)(ans.len && ans.buf[ans.len - 1] == '\n' ? ans.len - 1 : ans.len),
			 ans.buf ? ans.buf : "");
		text_free(&ans);
		return rc;
	}
	return text_take(&ans, out, outlen);
}

/* DATASET_ITEM_VERB from another node: a line of JSON {"name", "key", "xxh3", "mode", "uid", "gid"}, then
 * the item's bytes: its writer's new item datasets/NAME/KEY, made here as that uid and gid.  Answered with
 * {"id", "xxh3", "size"} once it is sealed. */
static int serve_item(void *arg, const char *verb, const char *req, size_t len, char **out, size_t *outlen,
		      char *why, size_t whylen)
{
	const struct ctl_env *base = arg;
	const char *nl = memchr(req, '\n', len), *name, *key, *xxh3;
	char path[2 * NAMES_LEAF_MAX + 16];
	struct load_result res;
	json_int_t mode, uid, gid;
	json_t *j = nl ? json_loadb(req, (size_t)(nl - req), 0, NULL) : NULL, *a;
	int rc;

	(void)verb;
	if (!j || json_unpack(j, "{s:s, s:s, s:s, s:I, s:I, s:I}", "name", &name, "key", &key, "xxh3", &xxh3, "mode",
			      &mode, "uid", &uid, "gid", &gid) != 0 || strchr(name, '/') || strchr(key, '/')) {
		json_decref(j);
		return text_say(why, whylen, -EPROTO, "a %s asks a line {name, key, xxh3, mode, uid, gid}, then the "
				"bytes", DATASET_ITEM_VERB);
	}
	const struct load_caller who = { (uint32_t)uid, (uint32_t)gid, 0 };
	snprintf(path, sizeof(path), "datasets/%s/%s", name, key);
	struct store_attr d;
	bool here = store_lookup(base->st, store_datasets_id(base->st), name, &d) == 0;

	if (here)
		store_forget(base->st, d.id, 1);
	if (!here || !store_is_dataset(base->st, d.id, NULL))
		rc = text_say(why, whylen, -ENOENT, "no dataset %s on this node", name);
	else
		rc = load_bytes_at(base->st, &who, STORE_ROOT_ID, path, nl + 1, len - (size_t)(nl + 1 - req), xxh3,
				   (uint32_t)mode, &res, why, whylen);
	json_decref(j);
	if (rc)
		return rc;
	datasets_kick(base->datasets);
	a = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)res.id, "xxh3", res.xxh3, "size", (json_int_t)res.size);
	*out = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (!*out)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	*outlen = strlen(*out);
	return 0;
}

/* The index's entry for an item just made on its node: its writer reads it back at once; the catalog's
 * word replaces it when it comes. */
static void index_item(struct cluster *c, const struct dataset_item_out *it, int64_t id, const char *xxh3,
		       uint64_t size)
{
	struct remote_attr r = { .id = id, .parent = it->dir, .size = size, .mode = it->mode & ~0222u,
				 .uid = it->uid, .gid = it->gid, .modified_ns = it->made_ns, .when = it->made_ns };
	const char *str[REMOTE_NSTR] = { NULL };
	struct remote_attr known;

	snprintf(r.node, sizeof(r.node), "%s", it->node);
	snprintf(r.name, sizeof(r.name), "%s", it->key);
	snprintf(r.kind, sizeof(r.kind), "var");
	snprintf(r.xxh3, sizeof(r.xxh3), "%s", xxh3);
	if (remote_child(cluster_remote(c), it->node, it->dir, it->key, &known) != 0)
		remote_put(cluster_remote(c), &r, str);
}

int ctl_dataset_send_item(struct cluster *c, const struct dataset_item_out *it, int fd, int64_t *id, char *why,
			  size_t whylen)
{
	enum { ROOM = 4096 }; /* before the bytes: the request's line */
	char hex[HASH_HEX_LEN + 1], *head = NULL, *body = NULL, *ans = NULL;
	size_t hlen = 0, anslen = 0;
	struct cluster_node nd;
	json_int_t got = 0, size = 0;
	const char *x = NULL;
	struct stat sb;
	json_t *j, *a;
	int rc;

	if (!cluster_secret(c))
		return text_say(why, whylen, -EREMOTE, "this node was mounted without the cluster's secret");
	if (cluster_node(c, it->node, &nd) != 0 || !nd.up)
		return text_say(why, whylen, -EHOSTDOWN, "node %s, which holds datasets/%s, is down", it->node,
				it->dataset);
	if (fstat(fd, &sb) < 0)
		return text_say(why, whylen, -errno, "%s", strerror(errno));
	if ((uint64_t)sb.st_size > TRANSFER_CALL_MAX - ROOM)
		return text_say(why, whylen, -EFBIG, "an item written from another node is at most %d bytes; write "
				"it on node %s", TRANSFER_CALL_MAX - ROOM, it->node);
	body = malloc((size_t)sb.st_size + ROOM);
	if (!body)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	rc = pread(fd, body + ROOM, (size_t)sb.st_size, 0) == sb.st_size ? 0 : -EIO;
	if (rc == 0) {
		hash_buf(body + ROOM, (size_t)sb.st_size, hex);
		j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "name", it->dataset, "key", it->key, "xxh3", hex,
			      "mode", (json_int_t)it->mode, "uid", (json_int_t)it->uid, "gid", (json_int_t)it->gid);
		head = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		hlen = head ? strlen(head) : 0;
		rc = head && hlen < ROOM - 1 ? 0 : text_say(why, whylen, -ENOMEM, "out of memory");
	} else {
		text_say(why, whylen, rc, "cannot read its bytes back");
	}
	if (rc == 0) { /* the line, then the bytes, which sit right after it */
		char *start = body + ROOM - hlen - 1;
		memcpy(start, head, hlen);
		start[hlen] = '\n';
		rc = transfer_call_n(nd.addr, cluster_secret(c), DATASET_ITEM_VERB, start, hlen + 1 + (size_t)sb.st_size,
				     60, &ans, &anslen, why, whylen);
	}
	free(head);
	free(body);
	if (rc)
		return rc;
	a = json_loadb(ans, anslen, 0, NULL);
	free(ans);
	if (!a || json_unpack(a, "{s:I, s:s, s:I}", "id", &got, "xxh3", &x, "size", &size) != 0) {
		json_decref(a);
		return text_say(why, whylen, -EPROTO, "node %s answered what this node does not understand", it->node);
	}
	index_item(c, it, got, x, (uint64_t)size);
	*id = got;
	json_decref(a);
	return 0;
}

int ctl_dataset_serve(struct cluster *c, const struct ctl_env *base)
{
	int rc = cluster_handle(c, DATASET_TREE_VERB, serve_tree, (void *)base);

	return rc ? rc : cluster_handle(c, DATASET_ITEM_VERB, serve_item, (void *)base);
}
