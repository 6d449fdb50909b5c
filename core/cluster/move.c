/* SPDX-License-Identifier: MIT */
/* move.c -- moves of sealed variables between nodes, and the end of the ones a crash cut short (move.h). */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cluster/cluster.h"
#include "core/cluster/busy.h"
#include "core/cluster/move.h"
#include "core/cluster/remote.h"
#include "core/cluster/transfer.h"
#include "core/cluster/tree.h"
#include "core/event/events.h"
#include "core/store/path.h"
#include "core/store/store.h"
#include "meta/yp.h"

#define MOVE_MAX 4096 /* objects one move may reach: a bound on a runaway graph of references */

/* One object the move reaches. */
struct item {
	char name[PATH_MAX_LEN];
	char node[NAMES_NODE_MAX + 1]; /* its owner */
	bool local;
	int64_t id;
	struct store_attr a;   /* local: the store's; remote: what the catalog says */
	bool var_kind;         /* a variable (not a directory, link or mutable object) */
	char xxh3[40], scope[256], type[512];
	char *doc, *refs;      /* malloc'd, NULL when unset */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A user.fabric.* string of a local object, malloc'd, or NULL when unset. */
static char *local_string(struct store *st, uint64_t id, const char *name)
{
	ssize_t n = store_getxattr(st, id, name, NULL, 0);
	char *v = n >= 0 ? malloc((size_t)n + 1) : NULL;

	if (v) {
		n = store_getxattr(st, id, name, v, (size_t)n);
		if (n < 0) {
			free(v);
			return NULL;
		}
		v[n] = '\0';
	}
	return v;
}

static char *remote_str(struct remote_index *x, const char *node, int64_t id, const char *which)
{
	ssize_t n = remote_string(x, node, id, which, NULL, 0);
	char *v = n >= 0 ? malloc((size_t)n + 1) : NULL;

	if (v) {
		n = remote_string(x, node, id, which, v, (size_t)n);
		if (n < 0) {
			free(v);
			return NULL;
		}
		v[n] = '\0';
	}
	return v;
}

static void copy_str(char *dst, size_t len, char *v)
{
	snprintf(dst, len, "%s", v ? v : "");
	free(v);
}

/* Find name, here or in the catalog of the other nodes: 0, or -ENOENT when no node holds it. */
static int find_item(struct cluster *c, struct store *st, const char *name, struct item *it)
{
	struct remote_index *x = cluster_remote(c);
	struct remote_attr ra;
	uint64_t id;

	memset(it, 0, sizeof(*it));
	snprintf(it->name, sizeof(it->name), "%s", name);
	if (path_resolve(st, name, &id, &it->a) == 0) {
		it->local = true;
		it->id = (int64_t)id;
		snprintf(it->node, sizeof(it->node), "%s", store_node_name(st));
		it->var_kind = !it->a.dir && !it->a.link && !it->a.mut;
		copy_str(it->xxh3, sizeof(it->xxh3), local_string(st, id, "user.fabric.xxh3"));
		copy_str(it->scope, sizeof(it->scope), local_string(st, id, "user.fabric.scope"));
		copy_str(it->type, sizeof(it->type), local_string(st, id, "user.fabric.type"));
		it->doc = local_string(st, id, "user.fabric.doc");
		it->refs = local_string(st, id, "user.fabric.refs");
		return 0;
	}
	if (remote_resolve(x, name, &ra) != 0)
		return -ENOENT;
	snprintf(it->node, sizeof(it->node), "%s", ra.node);
	it->id = ra.id;
	it->a = (struct store_attr){ .id = (uint64_t)ra.id, .dir = strcmp(ra.kind, "dir") == 0,
				     .link = strcmp(ra.kind, "link") == 0, .mut = strcmp(ra.kind, "mutable") == 0,
				     .sealed = true, .mode = ra.mode, .uid = ra.uid, .gid = ra.gid, .size = ra.size };
	it->var_kind = strcmp(ra.kind, "var") == 0;
	snprintf(it->xxh3, sizeof(it->xxh3), "%s", ra.xxh3);
	copy_str(it->scope, sizeof(it->scope), remote_str(x, ra.node, ra.id, "scope"));
	it->refs = remote_str(x, ra.node, ra.id, "refs");
	return 0;
}

static void items_free(struct item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].doc);
		free(v[i].refs);
	}
	free(v);
}

/* The objects a move of r reaches: r's name first, then (recursive) its references, breadth first. */
static int reach(struct cluster *c, struct store *st, const struct move_req *r, struct item **out, size_t *nout,
		 char *why, size_t whylen)
{
	struct item *v = calloc(1, sizeof(*v));
	size_t n = 0, cap = 1;
	int rc;

	if (!v)
		return text_say(why, whylen, -ENOMEM, "out of memory");
	if ((rc = find_item(c, st, r->name, &v[0])) != 0) {
		free(v);
		return text_say(why, whylen, rc, "no node holds '%s' (see: ls vars/)", r->name);
	}
	n = 1;
	for (size_t i = 0; (r->flags & MOVE_RECURSIVE) && !(r->flags & MOVE_ONE) && i < n; i++) {
		for (const char *p = v[i].refs; p && *p;) {
			size_t len = strcspn(p, " ");
			char ref[PATH_MAX_LEN];
			bool seen = false;
			snprintf(ref, sizeof(ref), "%.*s", (int)len, p);
			p += len + (p[len] == ' ');
			for (size_t k = 0; k < n && !seen; k++)
				seen = strcmp(v[k].name, ref) == 0;
			if (seen)
				continue;
			if (n == MOVE_MAX) {
				items_free(v, n);
				return text_say(why, whylen, -E2BIG, "'%s' reaches more than %d objects by its references",
						r->name, MOVE_MAX);
			}
			if (n == cap) {
				struct item *w = realloc(v, 2 * cap * sizeof(*v));
				if (!w) {
					items_free(v, n);
					return text_say(why, whylen, -ENOMEM, "out of memory");
				}
				v = w;
				cap *= 2;
			}
			if ((rc = find_item(c, st, ref, &v[n])) != 0) {
				char from[PATH_MAX_LEN];
				snprintf(from, sizeof(from), "%s", v[i].name);
				items_free(v, n);
				return text_say(why, whylen, -ENOENT, "'%s' refers to '%s', which no node holds: make it, or "
						"take it out of user.fabric.refs", from, ref);
			}
			n++;
		}
	}
	*out = v;
	*nout = n;
	return 0;
}

/* Would it move?  false: it stays (on the target already, or on a third node with remotes=no). */
static bool goes(const struct move_req *r, const struct item *it, bool root)
{
	if (strcmp(it->node, r->node) == 0)
		return false;
	return root || it->local || (r->flags & MOVE_REMOTES);
}

/* May it move, for r?  0, or the refusal with a sentence naming it.  (A directory's contents are checked
 * as its tree is listed: tree_check.) */
static int check(struct cluster *c, const struct move_req *r, const struct item *it, char *why, size_t whylen)
{
	struct cluster_node nd;

	if (strchr(it->name, '/'))
		return text_say(why, whylen, -EXDEV, "'%s' is in a directory, which belongs to its node: move takes names "
				"directly in vars/ (mv it out first, or move the directory)", it->name);
	if (it->a.dir && !(r->flags & (MOVE_RECURSIVE | MOVE_ONE)))
		return text_say(why, whylen, -EISDIR, "'%s' is a directory, which moves with everything in it: say "
				"`recursive`", it->name);
	if (it->a.link)
		return text_say(why, whylen, -EISDIR, "'%s' is a link: move takes variables and directories", it->name);
	if (it->a.mut || (!it->var_kind && !it->a.dir))
		return text_say(why, whylen, -EPERM, "'%s' is a mutable object: pinned to its node, it never moves",
				it->name);
	if (!it->a.dir && !it->a.sealed)
		return text_say(why, whylen, -EBUSY, "'%s' is being written: move it once it is sealed", it->name);
	if (r->uid != 0 && r->uid != it->a.uid)
		return text_say(why, whylen, -EPERM, "'%s' is uid %u's: only its owner or root may move it", it->name,
				it->a.uid);
	if (it->scope[0] && strcmp(it->scope, "any") != 0)
		return text_say(why, whylen, -EACCES, "'%s' is scoped %s: node %s is outside it", it->name, it->scope,
				r->node);
	if (!it->a.dir && !it->xxh3[0])
		return text_say(why, whylen, -EIO, "'%s' has no xxh3", it->name);
	if (it->local && (busy_has(cluster_busy(c), "out", it->name) || busy_has(cluster_busy(c), "in", it->name)))
		return text_say(why, whylen, -EBUSY, "'%s' is moving already", it->name);
	if (!it->local && (cluster_node(c, it->node, &nd) != 0 || !nd.up))
		return text_say(why, whylen, -EHOSTDOWN, "'%s' is on node %s, which is down", it->name, it->node);
	return 0;
}

/* A local directory's tree as TAKETREE's entries, each checked as check() checks a variable. */
struct tree_list {
	const struct move_req *r;
	json_t *entries;
	uint64_t bytes; /* its variables' */
	char *why;
	size_t whylen;
};

static int tree_check(void *arg, const struct tree_ent *e)
{
	struct tree_list *l = arg;
	json_t *o;

	if (e->a.mut)
		return text_say(l->why, l->whylen, -EPERM, "'%s' is a mutable object: pinned to its node, it never moves "
				"(nor its directory)", e->path);
	if (!e->a.dir && !e->a.link && !e->a.sealed)
		return text_say(l->why, l->whylen, -EBUSY, "'%s' is being written: move its directory once it is sealed",
				e->path);
	if (!e->a.dir && !e->a.link && e->a.nlink > 1)
		return text_say(l->why, l->whylen, -EMLINK, "'%s' has %u names (hard links): moving one would split it",
				e->path, e->a.nlink);
	if (l->r->uid != 0 && l->r->uid != e->a.uid)
		return text_say(l->why, l->whylen, -EPERM, "'%s' is uid %u's: only its owner or root may move it", e->path,
				e->a.uid);
	if (e->scope && strcmp(e->scope, "any") != 0)
		return text_say(l->why, l->whylen, -EACCES, "'%s' is scoped %s: node %s is outside it", e->path, e->scope,
				l->r->node);
	o = json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:i, s:I, s:I}", "path", e->path, "kind", e->kind,
		      "id", (json_int_t)e->a.id, "xxh3", e->xxh3[0] ? e->xxh3 : NULL, "type", e->type, "doc", e->doc,
		      "refs", e->refs, "target", e->a.link ? e->target : NULL, "mode", (int)(e->a.mode & 07777), "uid",
		      (json_int_t)e->a.uid, "gid", (json_int_t)e->a.gid);
	if (!o || json_array_append_new(l->entries, o) != 0)
		return text_say(l->why, l->whylen, -ENOMEM, "out of memory");
	if (!e->a.dir && !e->a.link)
		l->bytes += e->a.size;
	return 0;
}

/* The local directory it's tree, checked, as JSON text (malloc'd), its fingerprint and its variables'
 * bytes. */
static int tree_of(struct store *st, const struct move_req *r, const struct item *it, char **entries,
		   char fp[HASH_HEX_LEN + 1], uint64_t *bytes, char *why, size_t whylen)
{
	struct tree_list l = { .r = r, .entries = json_array(), .why = why, .whylen = whylen };
	int rc = l.entries ? tree_walk(st, it->name, tree_check, &l) : -ENOMEM;

	if (rc == 0 && (rc = tree_fingerprint(st, it->name, fp)) != 0)
		text_say(why, whylen, rc, "cannot take the fingerprint of '%s': %s", it->name, strerror(-rc));
	if (rc == 0 && !(*entries = json_dumps(l.entries, JSON_COMPACT)))
		rc = text_say(why, whylen, -ENOMEM, "out of memory");
	else if (rc && !why[0])
		text_say(why, whylen, rc, "cannot list '%s': %s", it->name, strerror(-rc));
	*bytes = l.bytes;
	json_decref(l.entries);
	return rc;
}

/* This node's copy of a moved object goes (if name is still that object), and the record of the move; a
 * directory's new owner is told (it records the move too).  A directory that gained a name meanwhile
 * keeps what it gained, as NAME~NODE: the moved one has the name now. */
static void finish(struct cluster *c, struct store *st, const struct yp_move *m)
{
	struct cluster_node nd;
	struct store_attr a = { 0 };
	uint64_t id;
	char why[256];

	cluster_changing(c, true); /* from a ctl request, the resumer or a MOVE: the kernel is told either way */
	if (path_resolve(st, m->name, &id, &a) == 0 && (int64_t)id == m->object) {
		char path[NAMES_LEAF_MAX + 8];
		snprintf(path, sizeof(path), "vars/%s", m->name);
		struct event_access acc = { .uid = a.uid, .gid = a.gid, .mode = a.mode & 07777 };
		struct event_field f[] = { { "from", store_node_name(st), false }, { "to", m->node, false } };
		events_post(store_events(st), EV_MOVED, path, &acc, f, 2); /* before the copy here goes */
		int gone = a.dir ? 0 : store_unlink(st, STORE_VARS_ID, m->name);
		if (gone && gone != -ENOENT) { /* the record stays: the resumer finishes it later */
			cluster_say(c, "move: '%s' is on %s now, but this node's copy cannot go yet: %s; the move stays "
				    "recorded, finished at the next restart or node change", m->name, m->node,
				    strerror(-gone));
			cluster_changing(c, false);
			return;
		}
		if (a.dir && tree_remove(st, m->name, id) != 0 && path_resolve(st, m->name, &id, &a) == 0 &&
		    (int64_t)id == m->object) {
			char left[NAMES_LEAF_MAX + 1];
			int rc = -EEXIST;
			for (int k = 1; k < 100 && rc == -EEXIST; k++) {
				if ((size_t)snprintf(left, sizeof(left), k == 1 ? "%s~%s" : "%s~%s~%d", m->name,
						     store_node_name(st), k) >= sizeof(left))
					break;
				rc = store_rename(st, STORE_VARS_ID, m->name, STORE_VARS_ID, left, 1 /* NOREPLACE */);
			}
			cluster_say(c, "move: '%s' gained names while it moved to %s; what is left of it here is '%s'",
				    m->name, m->node, rc == 0 ? left : "(not renamed)");
		}
	}
	cluster_changing(c, false);
	yp_move_end(store_yp(st), false, m->node, m->name);
	if (cluster_node(c, m->node, &nd) == 0 && nd.up) /* a variable's new owner recorded nothing: a no-op */
		transfer_done(nd.addr, cluster_secret(c), store_node_name(st), m->name, false, why, sizeof(why));
}

/* Settle a move of this node's whose answer did not say it ended: ask its node whether it holds the bytes
 * (a directory: its tree).  true when the move is settled (finished or undone), false when the node cannot
 * tell yet. */
static bool settle(struct cluster *c, struct store *st, const struct yp_move *m)
{
	struct cluster_node nd;
	char why[512];
	int rc;

	if (cluster_node(c, m->node, &nd) != 0) { /* a node the cluster never knew: nothing left there */
		yp_move_end(store_yp(st), false, m->node, m->name);
		return true;
	}
	if (!nd.up)
		return false;
	rc = transfer_has(nd.addr, cluster_secret(c), m->name, m->xxh3, why, sizeof(why));
	if (rc == 0) {
		finish(c, st, m);
		cluster_say(c, "move: '%s' is on %s: the move cut short is finished, this node's copy removed", m->name,
			    m->node);
		return true;
	}
	if (rc == -ENOENT) {
		yp_move_end(store_yp(st), false, m->node, m->name);
		transfer_done(nd.addr, cluster_secret(c), store_node_name(st), m->name, true, why, sizeof(why));
		cluster_say(c, "move: '%s' never reached %s whole: this node keeps it", m->name, m->node);
		return true;
	}
	return false;
}

/* Settle a directory coming in from m->node whose end this node was not told: ask that node. */
static bool settle_in(struct cluster *c, struct store *st, const struct yp_move *m)
{
	struct cluster_node nd;
	struct store_attr a;
	uint64_t id;
	char why[512];
	int rc;

	if (cluster_node(c, m->node, &nd) != 0 || !nd.up)
		return false;
	rc = transfer_moving(nd.addr, cluster_secret(c), store_node_name(st), m->name, why, sizeof(why));
	if (rc == -ENOENT) /* over, and it no longer holds the name: the tree is this node's */
		yp_move_end(store_yp(st), true, m->node, m->name);
	if (rc == -EEXIST) { /* over, and it kept the tree: what came of it here goes */
		cluster_changing(c, true);
		if (path_resolve(st, m->name, &id, &a) == 0 && a.dir)
			tree_remove(st, m->name, id);
		cluster_changing(c, false);
		yp_move_end(store_yp(st), true, m->node, m->name);
		cluster_say(c, "move: %s kept directory '%s': what had come of it here is removed", m->node, m->name);
	}
	return rc == -ENOENT || rc == -EEXIST;
}

/* Move one object of this node's (checked) to node nd: a variable, or a directory with its tree (*bytes:
 * what moved). */
static int move_local(struct cluster *c, struct store *st, const struct move_req *r, const struct item *it,
		      const struct cluster_node *nd, uint64_t *bytes, char *why, size_t whylen)
{
	char fp[HASH_HEX_LEN + 1], *entries = NULL;
	struct yp_move m = { .object = it->id, .name = it->name, .node = nd->name, .xxh3 = it->xxh3,
			     .begun_ns = now_ns() };
	int rc = 0;

	*bytes = it->a.size;
	if (!busy_enter(cluster_busy(c), "out", it->name))
		return text_say(why, whylen, -EBUSY, "'%s' is moving already", it->name);
	if (it->a.dir) {
		rc = tree_of(st, r, it, &entries, fp, bytes, why, whylen);
		m.xxh3 = fp;
	}
	if (rc == 0 && (rc = yp_move_begin(store_yp(st), &m)) != 0)
		text_say(why, whylen, rc, "cannot record the move of '%s': %s", it->name, strerror(-rc));
	if (rc) {
		busy_leave(cluster_busy(c), "out", it->name);
		free(entries);
		return rc;
	}
	if (it->a.dir)
		rc = transfer_give_tree(nd->addr, cluster_secret(c), store_node_name(st), cluster_addr(c), it->id, it->name,
					fp, entries, why, whylen);
	else
		rc = transfer_give(nd->addr, cluster_secret(c), cluster_addr(c), it->id, it->name, it->xxh3,
				   it->type[0] ? it->type : NULL, it->doc, it->refs, it->a.mode & 07777, it->a.uid,
				   it->a.gid, why, whylen);
	free(entries);
	if (rc == 0) {
		transfer_test_pause(false, "after a move's answer, before the old copy goes");
		finish(c, st, &m);
	} else if (!settle(c, st, &m)) /* refused, or no answer: which, the target alone knows now */
		text_say(why + strlen(why), whylen - strlen(why), 0, "; node %s does not say whether it has it: this node "
			 "keeps its copy, and asks again when %s is up", nd->name, nd->name);
	busy_leave(cluster_busy(c), "out", it->name);
	return rc;
}

void move_result_free(struct move_result *res)
{
	text_free(&res->moved);
	text_free(&res->stayed);
}

static int add_name(struct text *t, const char *name)
{
	return text_printf(t, "%s%s", t->len ? " " : "", name);
}

int move_run(struct cluster *c, struct store *st, const struct move_req *r, struct move_result *res, char *why,
	     size_t whylen)
{
	struct cluster_node target, owner;
	struct item *v = NULL;
	size_t n = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!cluster_secret(c))
		return text_say(why, whylen, -EINVAL, "this node was mounted without the cluster's secret (--secret): "
				"it cannot move bytes");
	if (cluster_node(c, r->node, &target) != 0)
		return text_say(why, whylen, -ENOENT, "no node %s in cluster %s; see: ls nodes/", r->node, cluster_name(c));
	if (!target.up)
		return text_say(why, whylen, -EHOSTDOWN, "node %s is down", r->node);
	if (!strchr(r->name, '/') && names_check_leaf(r->name, NULL, 0) != 0) /* '/': EXDEV below, said better */
		return text_say(why, whylen, -EINVAL, "'%s' is not a name (see: ls vars/)", r->name);
	if ((rc = reach(c, st, r, &v, &n, why, whylen)) != 0)
		return rc;
	if (!v[0].local && strcmp(v[0].node, r->node) != 0 && r->asked) { /* never passed on twice */
		rc = text_say(why, whylen, -EAGAIN, "'%s' left node %s for %s meanwhile: ask again", r->name,
			      store_node_name(st), v[0].node);
		items_free(v, n);
		return rc;
	}
	if (!v[0].local && strcmp(v[0].node, r->node) != 0) { /* NAME is another node's: it runs the move */
		rc = check(c, r, &v[0], why, whylen);
		if (rc == 0 && cluster_node(c, v[0].node, &owner) == 0)
			rc = transfer_ask_move(owner.addr, cluster_secret(c), r->name, r->node, r->flags, r->uid, &res->bytes,
					       why, whylen);
		if (rc == 0)
			snprintf(res->by, sizeof(res->by), "%s", v[0].node);
		items_free(v, n);
		return rc;
	}
	if (strcmp(v[0].node, r->node) == 0) {
		items_free(v, n);
		return text_say(why, whylen, -EINVAL, "'%s' is on %s already", r->name, r->node);
	}
	for (size_t i = 0; i < n; i++) /* everything checked before anything moves */
		if (goes(r, &v[i], i == 0) && (rc = check(c, r, &v[i], why, whylen)) != 0) {
			items_free(v, n);
			return rc;
		}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!goes(r, &v[i], i == 0)) {
			add_name(&res->stayed, v[i].name);
			continue;
		}
		uint64_t bytes = v[i].a.dir ? 0 : v[i].a.size;
		if (v[i].local)
			rc = move_local(c, st, r, &v[i], &target, &bytes, why, whylen);
		else if ((rc = cluster_node(c, v[i].node, &owner)) == 0)
			rc = transfer_ask_move(owner.addr, cluster_secret(c), v[i].name, r->node, MOVE_ONE, r->uid, &bytes,
					       why, whylen);
		else
			text_say(why, whylen, rc, "node %s of '%s' is gone", v[i].node, v[i].name);
		if (rc == 0) {
			add_name(&res->moved, v[i].name);
			res->bytes += bytes;
			res->count++;
		}
	}
	items_free(v, n);
	return rc;
}

struct names {
	char (*v)[NAMES_LEAF_MAX + 1];
	uint64_t *size;
	size_t n, cap;
};

static int add_top(struct names *l, const char *name, uint64_t size)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		void *v = realloc(l->v, cap * sizeof(*l->v)), *z;
		if (!v)
			return -ENOMEM;
		l->v = v;
		if (!(z = realloc(l->size, cap * sizeof(*l->size))))
			return -ENOMEM;
		l->size = z;
		l->cap = cap;
	}
	snprintf(l->v[l->n], sizeof(l->v[l->n]), "%s", name);
	l->size[l->n++] = size;
	return 0;
}

static int add_remote_top(void *arg, const struct remote_attr *a)
{
	return add_top(arg, a->name, a->size);
}

/* The names directly in node's vars/, here or as the catalog has them. */
static int tops_of(struct cluster *c, struct store *st, const char *node, struct names *l)
{
	char name[NAMES_LEAF_MAX + 1];
	struct store_attr a;
	uint64_t *ids = NULL;
	size_t n = 0;
	int rc;

	if (strcmp(node, store_node_name(st)) != 0)
		return cluster_remote(c) ? remote_children(cluster_remote(c), node, 2, add_remote_top, l) : -ENOENT;
	rc = store_dir_list(st, STORE_VARS_ID, &ids, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (store_dir_entry(st, STORE_VARS_ID, ids[i], name, sizeof(name), &a, false) == 0)
			rc = add_top(l, name, a.dir ? 0 : a.size);
	free(ids);
	return rc;
}

/* The shards node has a piece of (their names), here or as the catalog has them. */
static int shards_of(struct cluster *c, struct store *st, const char *node, struct names *l)
{
	struct remote_index *x = cluster_remote(c);
	struct remote_attr sh;
	struct names all = { 0 };
	int rc;

	if (strcmp(node, store_node_name(st)) == 0) {
		char name[NAMES_LEAF_MAX + 1];
		struct store_attr a, p;
		uint64_t *ids = NULL;
		size_t n = 0;
		rc = store_dir_list(st, store_shards_id(st), &ids, &n);
		for (size_t i = 0; rc == 0 && i < n; i++)
			if (store_dir_entry(st, store_shards_id(st), ids[i], name, sizeof(name), &a, false) == 0 &&
			    store_lookup(st, a.id, node, &p) == 0) {
				store_forget(st, p.id, 1);
				rc = add_top(l, name, p.size);
			}
		free(ids);
		return rc;
	}
	if (!x || remote_child(x, node, 1, "shards", &sh) != 0)
		return 0;
	rc = remote_children(x, node, sh.id, add_remote_top, &all);
	for (size_t i = 0; rc == 0 && i < all.n; i++) {
		struct remote_attr d, p;
		if (remote_child(x, node, sh.id, all.v[i], &d) == 0 && remote_child(x, node, d.id, node, &p) == 0)
			rc = add_top(l, all.v[i], p.size);
	}
	free(all.v);
	free(all.size);
	return rc;
}

/* The datasets node made (their names), here or as the catalog has them. */
static int datasets_of(struct cluster *c, struct store *st, const char *node, struct names *l)
{
	struct remote_index *x = cluster_remote(c);
	char name[NAMES_LEAF_MAX + 1];
	struct remote_attr d;
	uint64_t *ids = NULL;
	size_t n = 0;
	int rc;

	if (strcmp(node, store_node_name(st)) != 0)
		return x && remote_child(x, node, 1, "datasets", &d) == 0 ? remote_children(x, node, d.id, add_remote_top, l)
									   : 0;
	rc = store_datasets(st, &ids, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (store_is_dataset(st, ids[i], name))
			rc = add_top(l, name, 0);
	free(ids);
	return rc;
}

int move_drain(struct cluster *c, struct store *st, const char *node, struct move_result *res, char *why,
	       size_t whylen)
{
	struct cluster_node self, *v = NULL;
	struct names l = { 0 };
	uint64_t *room = NULL;
	size_t n = 0, kept = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (cluster_node(c, node, &self) != 0)
		return text_say(why, whylen, -ENOENT, "no node %s in cluster %s; see: ls nodes/", node, cluster_name(c));
	if (!self.up)
		return text_say(why, whylen, -EHOSTDOWN, "node %s is down: its objects leave only from it", node);
	if ((rc = cluster_nodes(c, &v, &n)) != 0)
		return text_say(why, whylen, rc, "out of memory");
	room = calloc(n ? n : 1, sizeof(*room));
	size_t targets = 0;
	for (size_t i = 0; room && i < n; i++)
		if (v[i].up && strcmp(v[i].name, node) != 0) {
			room[i] = v[i].free;
			targets++;
		}
	if (!room)
		rc = text_say(why, whylen, -ENOMEM, "out of memory");
	else if (!targets)
		rc = text_say(why, whylen, -EINVAL, "no other node of cluster %s is up to take what %s holds",
			      cluster_name(c), node);
	else if ((rc = tops_of(c, st, node, &l)) != 0)
		text_say(why, whylen, rc, "cannot list what %s holds: %s", node, strerror(-rc));
	for (size_t k = 0; rc == 0 && k < l.n; k++) {
		size_t best = n;
		for (size_t i = 0; i < n; i++) /* the most room left, counting what this drain sent there */
			if (v[i].up && strcmp(v[i].name, node) != 0 && (best == n || room[i] > room[best]))
				best = i;
		struct move_req r = { .name = l.v[k], .node = v[best].name, .flags = MOVE_ONE, .uid = 0 };
		struct move_result one;
		char said[512] = "";
		if (move_run(c, st, &r, &one, said, sizeof(said)) == 0) {
			add_name(&res->moved, l.v[k]);
			res->count++;
			res->bytes += one.bytes;
			room[best] = room[best] > l.size[k] ? room[best] - l.size[k] : 0;
		} else {
			text_printf(&res->stayed, "%s%s (%s)", res->stayed.len ? "; " : "", l.v[k], said);
			kept++;
		}
		move_result_free(&one);
	}
	/* a shard's pieces are pinned to their nodes: listed, never moved */
	struct names sh = { 0 };
	if (rc == 0 && shards_of(c, st, node, &sh) == 0)
		for (size_t k = 0; k < sh.n; k++) {
			text_printf(&res->stayed, "%sshards/%s/%s (a shard's piece: pinned to its node)",
				    res->stayed.len ? "; " : "", sh.v[k], node);
			kept++;
		}
	free(sh.v);
	free(sh.size);
	/* nor can a dataset go yet (its items and tree move with it, or nothing: not built): listed */
	struct names ds = { 0 };
	if (rc == 0 && datasets_of(c, st, node, &ds) == 0)
		for (size_t k = 0; k < ds.n; k++) {
			text_printf(&res->stayed, "%sdatasets/%s (a dataset: moving one is not built yet)",
				    res->stayed.len ? "; " : "", ds.v[k]);
			kept++;
		}
	free(ds.v);
	free(ds.size);
	if (rc == 0 && kept)
		rc = text_say(why, whylen, -EBUSY, "node %s still holds %zu name%s that cannot go: %s", node, kept,
			      kept == 1 ? "" : "s", res->stayed.buf);
	free(l.v);
	free(l.size);
	free(room);
	free(v);
	return rc;
}

int move_asked(void *arg, const char *name, const char *node, unsigned flags, uint32_t uid, uint64_t *bytes,
	       char *why, size_t whylen)
{
	struct cluster *c = arg;
	struct move_req r = { .name = name, .node = node, .flags = flags, .uid = uid, .asked = true };
	struct move_result res;
	int rc;

	if (!cluster_store(c))
		return text_say(why, whylen, -EINVAL, "this node has no store");
	rc = move_run(c, cluster_store(c), &r, &res, why, whylen);
	*bytes = res.bytes;
	move_result_free(&res);
	return rc;
}

struct find_row {
	const char *name, *node;
	bool in, found;
};

static int find_row(void *arg, const struct yp_move *m)
{
	struct find_row *f = arg;

	if (m->in == f->in && strcmp(m->name, f->name) == 0 && strcmp(m->node, f->node) == 0)
		f->found = true;
	return 0;
}

/* Is a move of name between this node and node under way this way? */
static bool has_row(struct store *st, bool in, const char *name, const char *node)
{
	struct find_row f = { name, node, in, false };

	yp_each_move(store_yp(st), find_row, &f);
	return f.found;
}

int move_moving(void *arg, const char *name, const char *node)
{
	struct cluster *c = arg;
	struct store *st = cluster_store(c);
	struct store_attr a;
	uint64_t id;

	if (!st)
		return -ENOENT;
	if (has_row(st, false, name, node))
		return 0;
	return path_resolve(st, name, &id, &a) == 0 ? -EEXIST : -ENOENT;
}

void move_done(void *arg, const char *node, const char *name, bool kept)
{
	struct cluster *c = arg;
	struct store *st = cluster_store(c);
	struct store_attr a;
	uint64_t id;

	if (!st || !has_row(st, true, name, node))
		return;
	if (kept && path_resolve(st, name, &id, &a) == 0 && a.dir) {
		cluster_changing(c, true);
		tree_remove(st, name, id);
		cluster_changing(c, false);
		cluster_say(c, "move: %s kept directory '%s': what had come of it here is removed", node, name);
	}
	yp_move_end(store_yp(st), true, node, name);
}

/* ---- the resumer ---------------------------------------------------------------------------------- */

struct move_resumer {
	struct cluster *c;
	struct store *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool due, stop;
};

struct open_move {
	int64_t object;
	char name[NAMES_LEAF_MAX + 1], node[NAMES_NODE_MAX + 1], xxh3[40];
	bool in;
};

struct open_moves {
	struct open_move *v;
	size_t n, cap;
};

/* Copied out of the walk: settling calls the store, which must not be called inside meta's lock. */
static int collect(void *arg, const struct yp_move *m)
{
	struct open_moves *o = arg;

	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 16;
		struct open_move *w = realloc(o->v, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		o->v = w;
		o->cap = cap;
	}
	struct open_move *e = &o->v[o->n++];
	e->object = m->object;
	snprintf(e->name, sizeof(e->name), "%s", m->name);
	snprintf(e->node, sizeof(e->node), "%s", m->node);
	snprintf(e->xxh3, sizeof(e->xxh3), "%s", m->xxh3);
	e->in = m->in;
	return 0;
}

static void resume(struct move_resumer *r)
{
	struct open_moves o = { 0 };

	yp_each_move(store_yp(r->st), collect, &o);
	for (size_t i = 0; i < o.n; i++) {
		struct yp_move m = { .object = o.v[i].object, .name = o.v[i].name, .node = o.v[i].node,
				     .xxh3 = o.v[i].xxh3, .in = o.v[i].in };
		if (busy_has(cluster_busy(r->c), m.in ? "in" : "out", m.name))
			continue; /* slow, not cut short: its own thread ends it */
		if (m.in)
			settle_in(r->c, r->st, &m);
		else
			settle(r->c, r->st, &m);
	}
	free(o.v);
}

static void *resumer_main(void *arg)
{
	struct move_resumer *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		if (!r->due) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		r->due = false;
		pthread_mutex_unlock(&r->lock);
		resume(r);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int move_resumer_start(struct cluster *c, struct store *st, struct move_resumer **out)
{
	struct move_resumer *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->c = c;
	r->st = st;
	r->due = true; /* the moves a crash left, at once */
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	rc = -pthread_create(&r->thread, NULL, resumer_main, r);
	if (rc) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void move_resumer_poke(struct move_resumer *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->due = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void move_resumer_stop(struct move_resumer *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL); /* a settle under way ends within TRANSFER_TIMEOUT_S */
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
